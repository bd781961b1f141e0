"""A purged patient's MRN on the search screen (80x24): one row marked DESTROYED with the date and certificate,
and Enter says so in one line, opening nothing."""

import datetime

import pytest

from recdesk import users
from recdesk.retention import batches
from recdesk.serve import sessions
from screens.app import RecdeskApp
from screens.widgets.results import row_text
from tests.test_batches import PEOPLE, TODAY, old_chart
from tests.test_search_screen import SIZE, status, until


@pytest.fixture
def backend():
    return "sqlite"  # the screens are backend-blind; the services are tested on both


@pytest.fixture
def purged(desk_and_manager):
    desk, boss = desk_and_manager
    users.add(desk, boss, "ann", "clerk")
    users.add(desk, boss, "grace", "manager")
    clerk = desk.sign_on("ann")
    old_chart(desk, boss, clerk, PEOPLE[0])
    old_chart(desk, boss, clerk, PEOPLE[1])
    batch = batches.prepare(desk, clerk, as_of=TODAY, mrns=[PEOPLE[0].mrn])
    batches.approve(desk, desk.sign_on("grace"), batch.id)
    batches.run(desk, boss, batch.id, witness="Dan Okoye")
    return desk, batch.number


async def test_a_destroyed_mrn_shows_destroyed_and_opens_nothing(purged):
    desk, number = purged
    app = RecdeskApp(desk, sessions.sign_on(desk, "ann"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*PEOPLE[0].mrn)
        await until(pilot, lambda: "was destroyed on" in status(app), "the status says the record was destroyed")
        assert f"under certificate {number}: nothing is left to open" in status(app)
        (hit,) = app.screen.results.hits
        row = row_text(hit, False, datetime.date.today())
        assert f"DESTROYED {TODAY.isoformat()} {number}" in row and len(row) <= 80
        assert "QUILLFEATHER" in row and PEOPLE[0].mrn in row
        screens = len(app.screen_stack)
        await pilot.press("enter")
        await pilot.pause()
        assert len(app.screen_stack) == screens  # no chart was opened
        assert "was destroyed on" in status(app)
        # A live MRN still opens as before; a name never asks the register.
        await pilot.press("escape", *PEOPLE[1].mrn)
        await until(pilot, lambda: "1 match, row 1." in status(app), "the live patient is found")
        assert app.screen.results.hits[0].destroyed is None
