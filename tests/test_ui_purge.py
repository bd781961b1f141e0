"""The purge screen at 80x24 with the keyboard only: Ctrl+R from anywhere, the worklist with why each chart is due or
kept, legal holds placed and lifted by a manager, a supervisor refused every change in one line, and a purge batch
from preparation (a clerk) through approval and the run (a manager, asked twice, No by default) to the paper and the
certificate."""

import datetime

import pytest

from recdesk import users
from recdesk.config import Retention
from recdesk.patients.registry import PatientDetails, register
from recdesk.retention import holds
from recdesk.vault.models import AuditEvent, Encounter, LegalHold, Patient, Provider
from screens.base import REFUSED
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.text import TextDialog
from screens.purge import PurgeScreen
from screens.search import SearchScreen
from screens.widgets.footer import DeskFooter
from tests.test_ui import SIZE, app_for, backend, settle, until  # noqa: F401 (fixtures)

OLD = datetime.datetime(2010, 3, 1, 9, 0)
PEOPLE = {  # mrn -> (last, first, dob, last encounter)
    "100001": ("Dueson", "Adam", datetime.date(1950, 1, 1), OLD),
    "100004": ("Heldman", "Hal", datetime.date(1950, 2, 2), OLD),
    "100007": ("Duerr", "Bea", datetime.date(1951, 3, 3), OLD),
    "100002": ("Recent", "Rita", datetime.date(1960, 1, 1), datetime.datetime(2024, 1, 1, 9)),
}


@pytest.fixture
def office(desk_and_manager):
    """A Texas desk: ann (clerk), sue (supervisor), boss and meg (managers); two charts due, one held, one recent."""
    desk, boss = desk_and_manager
    desk.config.retention = Retention(jurisdictions=("TX",))
    users.add(desk, boss, "ann", "clerk")
    users.add(desk, boss, "sue", "supervisor")
    users.add(desk, boss, "meg", "manager")
    with desk.write():
        doctor = Provider.create(name="Dr. Rivera")
    for mrn, (last, first, dob, seen) in PEOPLE.items():
        pid = register(desk, boss, PatientDetails(mrn=mrn, last=last, first=first, dob=dob))
        with desk.write():
            Encounter.create(patient=pid, kind="inpatient", admit_at=seen - datetime.timedelta(days=3),
                             discharge_at=seen, attending=doctor)
    holds.place(desk, boss, matter="Heldman v. Riverside", mrns=["100004"])
    return desk


def text_of(screen, widget_id: str) -> str:
    return str(screen.query_one(f"#{widget_id}").render())


def cells(screen, table_id: str) -> list[list[str]]:
    table = screen.query_one(f"#{table_id}")
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


def painted(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def open_purge(app, pilot) -> PurgeScreen:
    await settle(app, pilot)
    await pilot.press("ctrl+r")
    await until(pilot, lambda: isinstance(app.screen, PurgeScreen), "the purge screen opens")
    await settle(app, pilot)
    await until(pilot, lambda: app.screen.candidates, "the worklist is read")
    return app.screen


async def test_ctrl_r_opens_the_purge_screen_from_the_search_and_from_another_screen(office):
    app = app_for(office, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert "Ctrl+R Purge" in painted(app).splitlines()[0]  # the hub's footer is full: the header says it
        screen = await open_purge(app, pilot)
        await pilot.press("f5")  # the request log, then Ctrl+R again
        await settle(app, pilot)
        assert type(app.screen).__name__ == "RequestsScreen"
        first, *_, last = painted(app).splitlines()
        assert "Ctrl+R Purge" in first + last
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, PurgeScreen), "Ctrl+R opens it from the request log")
        assert app.screen is not screen and len(app.screen_stack) == 3  # search, purge: one screen deep
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen)


async def test_the_worklist_shows_the_due_chart_and_the_held_one_with_its_reason(office):
    app = app_for(office, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purge(app, pilot)
        rows = {r[0]: r for r in cells(screen, "wl-table")}
        assert set(rows) == {"100001", "100004", "100007"}  # the recent chart is not past retention
        assert rows["100001"][1:] == ["DUESON, Adam", "2020-03-01", "TX-HOSPITAL", "DUE"]
        assert rows["100004"][4] == "KEPT T2-HOLD"
        assert f"As of {datetime.date.today().isoformat()} (today): 3 charts past retention: 2 due, 1 kept" in \
            text_of(screen, "wl-note")
        order = [r[0] for r in cells(screen, "wl-table")]
        await pilot.press(*["down"] * order.index("100004"))
        detail = text_of(screen, "wl-detail")
        assert "MRN 100004 HELDMAN, Hal" in detail
        assert "T2-HOLD: under legal hold" in detail and "Heldman v. Riverside" in detail
        screen_text = painted(app)
        assert "100004" in screen_text and "KEPT T2-HOLD" in screen_text
        # another as-of date: in 2015 nothing was past its ten years yet
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, TextDialog), "the date is asked")
        await pilot.press(*["backspace"] * 10, *"2015-01-01", "enter")
        await settle(app, pilot)
        await until(pilot, lambda: "As of 2015-01-01" in text_of(screen, "wl-note"), "the worklist is read again")
        assert "0 charts past retention" in text_of(screen, "wl-note")
    assert AuditEvent.select().where(AuditEvent.action == "retention.worklist").count() == 2


async def test_a_manager_places_and_lifts_a_hold(office):
    app = app_for(office, user="meg")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purge(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        assert screen.section == "holds" and [h.matter for h in screen.holds] == ["Heldman v. Riverside"]
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, TextDialog), "the matter is asked")
        await pilot.press(*"State audit 2026", "enter")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the basis is asked")
        await pilot.press("down", "down", "enter")  # audit
        await until(pilot, lambda: isinstance(app.screen, TextDialog), "the MRNs are asked")
        await pilot.press(*"100001 100007", "enter")
        await until(pilot, lambda: isinstance(app.screen, TextDialog) and "Until" in app.screen.question,
                    "until is asked")
        await pilot.press("enter")  # until lifted
        await settle(app, pilot)
        await until(pilot, lambda: len(screen.holds) == 2, "the new hold is listed")
        new = screen.holds[0]
        assert (new.matter, new.basis, set(new.mrns), new.active) == ("State audit 2026", "audit",
                                                                      {"100001", "100007"}, True)
        assert "Legal hold" in text_of(screen, "pg-message") and "placed on 2 charts" in text_of(screen, "pg-message")
        assert "2 legal holds in force" in text_of(screen, "hd-note")
        # lifting needs a reason: an empty answer is refused in the dialog, then the reason lifts it
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, TextDialog), "the reason is asked")
        await pilot.press("enter")
        assert isinstance(app.screen, TextDialog) and "Type an answer" in str(app.screen.query_one("#problem").render())
        await pilot.press(*"audit closed", "enter")
        await settle(app, pilot)
        await until(pilot, lambda: not screen.hold.active, "the hold shows lifted (and stays highlighted)")
        assert screen.hold.matter == "State audit 2026"
        assert [r[4] for r in cells(screen, "hd-table")] == ["ACTIVE", "lifted"]  # in force first
        assert "Lifted by meg" in text_of(screen, "hd-detail") and "audit closed" in text_of(screen, "hd-detail")
        # the worklist follows: the charts are due again, the first hold still keeps its chart
        await pilot.press("1")
        await settle(app, pilot)
        rows = {r[0]: r[4] for r in cells(screen, "wl-table")}
        assert rows == {"100001": "DUE", "100004": "KEPT T2-HOLD", "100007": "DUE"}
    lifted = LegalHold.select().where(LegalHold.lifted_at.is_null(False)).get()
    assert lifted.lifted_by.name == "meg"


async def test_a_clerk_may_not_place_a_hold_and_is_told_why(office):
    app = app_for(office, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purge(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        await pilot.press("h")
        await settle(app, pilot)
        assert app.screen is screen
        assert "Place hold: a manager does this" in text_of(screen, "pg-message")
    assert LegalHold.select().count() == 1


CHANGING_KEYS = ["n", "a", "r", "v", "c", "h", "l", "s", "x"]


async def test_a_supervisor_sees_everything_and_is_refused_each_change_in_one_line(office):
    app = app_for(office, user="sue")
    before = (LegalHold.select().count(), Patient.select().count())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purge(app, pilot)
        assert {r[0] for r in cells(screen, "wl-table")} == {"100001", "100004", "100007"}
        for tab in ("1", "2", "3", "4"):
            await pilot.press(tab)
            await settle(app, pilot)
            for key in CHANGING_KEYS:
                screen.query_one("#pg-message").update("")
                await pilot.press(key)
                await settle(app, pilot)
                assert app.screen is screen, f"{key} opened {app.screen!r} for a supervisor"
                said = text_of(screen, "pg-message")
                assert said.endswith(f": {REFUSED}.") and "\n" not in said, (tab, key, said)
        footer = [item.label for item in screen.query_one(DeskFooter).shown()]
        assert "New batch" not in footer and "Approve" not in footer and "Certificate" in footer
    assert (LegalHold.select().count(), Patient.select().count()) == before


async def test_a_header_too_full_for_ctrl_r_leaves_it_to_the_footer(office):
    desk = office
    boss = desk.sign_on("boss")
    pid = register(desk, boss, PatientDetails(mrn="10000042", last="Montgomery-Fitzwilliams",
                                              first="Alexandrina", dob=datetime.date(1980, 1, 1)))
    app = app_for(desk, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.request_chart(Patient.get_by_id(pid).uuid)
        await until(pilot, lambda: type(app.screen).__name__ == "ChartScreen", "the chart opens")
        await settle(app, pilot)
        header, *_, footer = painted(app).splitlines()
        assert "10000042" in header and "Ctrl+R" not in header  # the MRN is whole; no room for the hint
        assert "Ctrl+R Purge" in footer and footer.rstrip().endswith("F10 Sign off")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, PurgeScreen), "Ctrl+R opens the purge screen")
