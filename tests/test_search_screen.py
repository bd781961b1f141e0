"""The search screen's status at 80x24 (counts in words, guesses said to be guesses, a bad date in one line),
the status after a resize, and the same wording from `recdesk search`."""

import datetime

import pytest

from recdesk import users
from recdesk.patients.registry import PatientDetails, register, register_many
from recdesk.serve import sessions
from screens.app import RecdeskApp
from tests.conftest import run_cli

SIZE = (80, 24)


@pytest.fixture
def backend():
    return "sqlite"  # the screens are backend-blind; the services are tested on both


@pytest.fixture
def desk(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    register(desk, manager, PatientDetails(mrn="100234", last="Smith", first="John", middle="A",
                                           dob=datetime.date(1936, 2, 16), sex="M", phone="(512) 555-0164"))
    register(desk, manager, PatientDetails(mrn="200400", last="Xu", first="Pat", dob=datetime.date(1980, 1, 2)))
    with desk.write():
        register_many(desk, manager, [
            PatientDetails(mrn=str(500000 + i), last="Nguyen", first=f"Anh{chr(97 + i)}",
                           dob=datetime.date(1970, 1, 1 + i)) for i in range(25)])
    return desk


async def until(pilot, condition, what: str) -> None:
    """Wait on a condition the screen reaches in its own time (a worker's lookup), never on a clock."""
    for _ in range(2000):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never happened: {what}")


def status(app) -> str:
    return str(app.screen.query_one("#status").render())


async def search_for(app, pilot, text: str, expect: str) -> str:
    await pilot.press("escape", *text)  # Esc clears the prompt; then the query is typed key by key
    await until(pilot, lambda: expect in status(app), f"the status says {expect!r} for {text!r}")
    return status(app)


async def test_the_status_counts_in_words_and_says_guesses_are_guesses(desk):
    app = RecdeskApp(desk, sessions.sign_on(desk, "ann"))
    async with app.run_test(size=SIZE) as pilot:
        said = await search_for(app, pilot, "100234", "1 match, row 1.")
        assert "matches" not in said
        said = await search_for(app, pilot, "smith john a", "1 match, row 1.")
        assert app.screen.results.hits[0].patient.mrn == "100234"
        said = await search_for(app, pilot, "2/16/36", "1 match, row 1.")  # 1936, never 2036
        said = await search_for(app, pilot, "555-0164", "1 match, row 1.")
        said = await search_for(app, pilot, "xqzzy!!##", "no exact match; 1 sound-alike guess (~), row 1.")
        assert app.screen.query_one("#status").has_class("warning")
        said = await search_for(app, pilot, "13/45/2025", "13/45/2025 is not a date: type month/day/year")
        assert "two letters" not in said
        said = await search_for(app, pilot, "!!##", "nothing to search for in '!!##': type a name")
        said = await search_for(app, pilot, "nguyen", "25 matches, rows 1-18.")


async def test_the_status_follows_the_visible_rows_after_a_resize(desk):
    app = RecdeskApp(desk, sessions.sign_on(desk, "ann"))
    async with app.run_test(size=SIZE) as pilot:
        await search_for(app, pilot, "nguyen", "25 matches, rows 1-18.")
        results = app.screen.results
        assert results.size.height == 18
        await pilot.resize_terminal(60, 20)
        await until(pilot, lambda: results.size.height == 14, "the list is 14 rows high")
        await until(pilot, lambda: "rows 1-14." in status(app), "the status follows the resize")
        await pilot.press(*["down"] * 20)  # the highlight on row 21: the window is rows 8-21
        assert "rows 8-21." in status(app)
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: "rows 8-25." in status(app), "the status follows the resize back")
        assert results.highlighted == 20 and results.top == 7
        await pilot.resize_terminal(60, 14)  # 8 rows: the highlight stays on screen
        await until(pilot, lambda: results.size.height == 8, "the list is 8 rows high")
        await until(pilot, lambda: "rows 14-21." in status(app), "the highlight stays in the window")


def test_cli_search_counts_in_words(desk):
    home = desk.config.home
    one = run_cli("search", "smith john a", home=home, check=True)
    assert one.stdout.splitlines()[-1] == "1 match"
    many = run_cli("search", "nguyen", home=home, check=True)
    assert many.stdout.splitlines()[-1] == "25 matches"
    cut = run_cli("search", "nguyen", "--limit", "10", home=home, check=True)
    assert cut.stdout.splitlines()[-1] == "10 matches (--limit 10: there may be more)"
    guesses = run_cli("search", "xqzzy!!##", home=home, check=True)
    assert guesses.stdout.splitlines()[-1] == "no exact match; 1 sound-alike guess (marked phonetic)"
    bad = run_cli("search", "13/45/2025", home=home)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "13/45/2025 is not a date: type month/day/year" in bad.stderr
    born = run_cli("search", "2/16/36", home=home, check=True)
    assert "100234" in born.stdout and born.stdout.splitlines()[-1] == "1 match"
