"""The desk at 80x24 with the keyboard only (Textual run_test + Pilot)."""

import datetime

import pytest
from textual.screen import ModalScreen

from recdesk import users
from recdesk.errors import AccessDenied
from recdesk.patients.registry import PatientDetails, register
from recdesk.serve import sessions
from recdesk.vault import audit
from recdesk.vault.models import AuditEvent, User
from screens.app import RecdeskApp
from screens.base import ASK
from screens.chart import ChartScreen
from screens.dialogs.breakglass import BreakGlassDialog
from screens.dialogs.help import HelpScreen
from screens.dialogs.patient import PatientPicker
from screens.dialogs.purpose import PurposeDialog
from screens.search import SearchScreen

SIZE = (80, 24)


@pytest.fixture
def backend():
    return "sqlite"  # the screens are backend-blind; the services are tested on both


@pytest.fixture
def clinic(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    users.add(desk, manager, "sue", "supervisor")
    for p in [
        PatientDetails(mrn="100234", last="Smith", first="John", dob=datetime.date(1962, 3, 4), sex="M",
                       ssn_last4="1234"),
        PatientDetails(mrn="100299", last="Smith", first="Jon", dob=datetime.date(1971, 5, 6), sex="M",
                       ssn_last4="1234"),
        PatientDetails(mrn="300400", last="O'Brien", first="Siobhán", dob=datetime.date(2015, 6, 30), sex="F",
                       sensitive=True),
    ]:
        register(desk, manager, p)
    return desk


def app_for(desk, user="ann", **kwargs):
    return RecdeskApp(desk, sessions.sign_on(desk, user), **kwargs)


DIALOG_GROUPS = {"chart", ASK}


async def settle(app, pilot):
    """Wait until no worker is running or about to run but those waiting for the clerk to answer a dialog.

    A worker just started is pending until its task first runs: it counts as busy (missing it let a test read the
    screen before a check-in was done, on a busy machine). The bound is only a guard against a hang, far above
    anything a loaded machine needs; reaching it fails the test rather than going on as if all were done."""
    for _ in range(10_000):
        # A screen someone awaits (push_screen_wait) is waiting for the clerk, like a dialog.
        waiting = isinstance(app.screen, ModalScreen | PatientPicker) or any(
            callback.future is not None for callback in app.screen._result_callbacks)
        busy = [w for w in app.workers if not w.is_finished and not (waiting and w.group in DIALOG_GROUPS)]
        if not busy:
            break
        await pilot.pause(0.01)
    else:
        raise AssertionError(f"the desk never settled: still running {busy}")
    await pilot.pause()


async def until(pilot, condition, what: str) -> None:
    """Wait on a condition the screen reaches in its own time (a worker's reload), never on a clock."""
    for _ in range(2000):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never happened: {what}")


async def type_query(app, pilot, text):
    await pilot.press(*text)
    await settle(app, pilot)
    return app.screen.query_one("#results")


async def test_type_a_name_see_the_patient_and_open_the_chart(clinic):
    app = app_for(clinic)
    async with app.run_test(size=SIZE) as pilot:
        results = await type_query(app, pilot, "smith,joh")
        assert [h.patient.mrn for h in results.hits] == ["100234"]
        assert "SMITH, John" in results.render_line(0).text
        assert "1962-03-04" in results.render_line(0).text
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ChartScreen)
        assert app.screen.chart.patient.mrn == "100234"
        await pilot.press("3")
        assert app.screen.query_one("#sections").active == "documents"
        await pilot.press("escape")
        assert isinstance(app.screen, SearchScreen)
    assert AuditEvent.select().where(AuditEvent.action == "chart.open").count() == 1
    assert AuditEvent.select().where(AuditEvent.action == "patient.search").count() >= 1


async def test_arrows_pick_a_row_and_shared_last4_is_warned(clinic):
    app = app_for(clinic)
    async with app.run_test(size=SIZE) as pilot:
        results = await type_query(app, pilot, "smith")
        assert "share last name and SSN last 4" in str(app.screen.query_one("#status").render())
        assert results.render_line(0).text.startswith("!")
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert app.screen.chart.patient.first == "Jon"


async def test_enter_on_an_empty_prompt_reopens_the_last_patient(clinic):
    app = app_for(clinic)
    async with app.run_test(size=SIZE) as pilot:
        await type_query(app, pilot, "100299")
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("escape", "escape")  # back to search, clear the prompt
    again = app_for(clinic)  # a new session remembers too
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        await pilot.press("enter")
        await settle(again, pilot)
        assert isinstance(again.screen, ChartScreen)
        assert again.screen.chart.patient.mrn == "100299"


async def test_a_restricted_record_asks_a_manager_a_purpose_and_shows_the_banner(clinic):
    app = app_for(clinic, "boss")  # managers have a standing need ([restricted] roles)
    async with app.run_test(size=SIZE) as pilot:
        await type_query(app, pilot, "obrien")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, PurposeDialog)
        await pilot.press("enter")  # the default: No, go back
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen)
        assert not AuditEvent.select().where(AuditEvent.action == "chart.open.sensitive").exists()
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("down", "down", "enter")  # Release of information request
        await settle(app, pilot)
        assert isinstance(app.screen, ChartScreen)
        banner = str(app.screen.query_one("#restricted-banner").render())
        assert banner.startswith(" RESTRICTED RECORD · by your role · purpose: release")
        assert len(banner) <= 80
    from recdesk.patients.chart import restricted_openings

    (opening,) = restricted_openings(clinic)
    assert (opening.user, opening.purpose, opening.need) == ("boss", "release", "role")


async def test_a_clerk_with_no_need_breaks_the_glass_and_sees_the_expiry(clinic):
    app = app_for(clinic)
    app.desk.config.timezone = "Pacific/Kiritimati"  # UTC+14: a time shown in UTC would read a day off
    async with app.run_test(size=SIZE) as pilot:
        await type_query(app, pilot, "obrien")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, BreakGlassDialog)
        await pilot.press("enter")  # the default: No, go back
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("down", "enter")  # Treatment or continuity of care
        await pilot.press("enter")  # no reason: refused at the field, in one line
        assert "reason: it is required" in str(app.screen.query_one("#break-glass-problem").render())
        await pilot.press(*"ED called", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ChartScreen)
        opened = app.screen.chart.opened
        banner = str(app.screen.query_one("#restricted-banner").render())
        local = opened.expires.replace(tzinfo=datetime.UTC).astimezone(app.desk.config.zone)  # the desk's zone
        assert banner.startswith(f" BREAK-GLASS until {local:%Y-%m-%d %H:%M} ·")
        assert len(banner) <= 80
    from recdesk.patients.chart import review_queue

    (queued,) = review_queue(clinic)
    assert (queued.user, queued.purpose, queued.reason, queued.need) == ("ann", "treatment", "ED called",
                                                                         "break_glass")


async def test_no_match_says_what_to_try(clinic):
    app = app_for(clinic)
    async with app.run_test(size=SIZE) as pilot:
        await type_query(app, pilot, "zzzz")
        status = str(app.screen.query_one("#status").render())
        assert "No patient matches" in status and "last,first" in status


async def test_idle_logoff_clears_phi_and_ends_the_session(clinic):
    app = app_for(clinic, idle_timeout=1.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"100234", "enter")  # a chart on screen, then no more keys
        for _ in range(500):  # wait for the logoff itself, not for a fixed time
            if app.return_value is not None:
                break
            await pilot.pause(0.02)
        assert app.return_value == "idle"
        assert app.sign_off_reason == "idle"
        assert not any(isinstance(s, ChartScreen | SearchScreen) for s in app.screen_stack)


async def test_f1_shows_help_with_the_keys_of_this_screen(clinic):
    app = app_for(clinic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        assert "S1234" in text and "Open chart" in text and "Sign off" in text
        await pilot.press("escape")
        assert isinstance(app.screen, SearchScreen)


async def test_keymap_in_config_remaps_a_binding_by_id(clinic):
    clinic.config.keymap = {"sign_off": "ctrl+o"}  # f9 would collide with the review screen (test_ui_keymap)
    app = app_for(clinic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
    assert app.return_value == "quit"


async def test_palette_offers_screens_for_this_role(clinic):
    app = app_for(clinic)
    async with app.run_test(size=SIZE):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Patient search" in titles and "Sign off" in titles


def offered(app):
    return {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}


async def test_supervisor_session_offers_no_changing_action(clinic):
    clerk, supervisor = app_for(clinic), app_for(clinic, user="sue")
    async with clerk.run_test(size=SIZE) as pilot:
        assert {"intake", "qa"} <= offered(clerk)
        await type_query(clerk, pilot, "100234")
        await pilot.press("enter")
        await settle(clerk, pilot)
        assert "move" in offered(clerk)
    async with supervisor.run_test(size=SIZE) as pilot:
        await settle(supervisor, pilot)
        assert not {"intake", "qa"} & offered(supervisor)
        assert "sign_off" in offered(supervisor)
        titles = [c.title for c in supervisor.get_system_commands(supervisor.screen)]
        assert "Intake" not in titles and "QA" not in titles
        await pilot.press("f3", "f4")  # the keys do nothing for a supervisor
        assert isinstance(supervisor.screen, SearchScreen)
        await type_query(supervisor, pilot, "100234")
        await pilot.press("enter")
        await settle(supervisor, pilot)
        assert isinstance(supervisor.screen, ChartScreen)
        assert "move" not in offered(supervisor)


async def test_a_clerk_clears_the_inbox_qa_passes_and_a_misfile_is_fixed_with_keys_only(clinic):
    from recdesk.documents import intake
    from recdesk.vault.models import Document

    users.add(clinic, clinic.sign_on("boss"), "bob", "clerk")
    inbox = clinic.config.home / "inbox"
    inbox.mkdir()
    (inbox / "batch.pdf").write_bytes(intake.coversheet(clinic, clinic.sign_on("boss"), "100234"))
    ann = app_for(clinic)
    async with ann.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await settle(ann, pilot)
        await pilot.press("s")  # scan the inbox
        await settle(ann, pilot)
        assert "suggests 100234" in str(ann.screen.query_one("#choice").render())
        await pilot.press("p")  # the picker opens with the suggested MRN typed
        await settle(ann, pilot)
        await pilot.press("enter")
        await settle(ann, pilot)
        await pilot.press("t", "down", "down", "enter")  # third type on the list: Consent
        await settle(ann, pilot)
        await pilot.press("d", *"11/20/2026", "enter")
        await settle(ann, pilot)
        await pilot.press("e", "enter")  # no encounter: this outside record is not tied to a visit
        await settle(ann, pilot)
        assert "Encounter: No encounter" in str(ann.screen.query_one("#choice").render())
        await pilot.press("f")
        await settle(ann, pilot)
    (doc,) = Document.select()
    assert (doc.status, doc.doc_type, doc.service_date.isoformat()) == ("filed", "consent", "2026-11-20")

    bob = app_for(clinic, user="bob")
    async with bob.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await settle(bob, pilot)
        await pilot.press("a")
        await settle(bob, pilot)
    assert intake.cleared_for_shredding(Document.get_by_id(doc.id))

    fixer = app_for(clinic)
    async with fixer.run_test(size=SIZE) as pilot:
        await type_query(fixer, pilot, "100234")
        await pilot.press("enter")
        await settle(fixer, pilot)
        await pilot.press("c")  # print a cover sheet for the next batch (no printer set: the print folder)
        await settle(fixer, pilot)
        (printed,) = (clinic.config.home / "printouts").iterdir()
        assert printed.read_bytes().startswith(b"%PDF") and printed.stat().st_mode & 0o777 == 0o600
        assert printed.name.endswith("-coversheet.pdf") and "100234" not in printed.name  # no MRN in a file name
        await pilot.press("3", "m")
        await settle(fixer, pilot)
        await pilot.press("enter")  # move it to another patient
        await settle(fixer, pilot)
        await pilot.press(*"100299")
        await settle(fixer, pilot)
        await pilot.press("enter")
        await settle(fixer, pilot)
        await pilot.press(*"wrong patient", "enter")
        await settle(fixer, pilot)
    moved = Document.get_by_id(doc.id)
    assert moved.patient.id != doc.patient.id and moved.qa_state == "pending"
    assert len(intake.history(clinic, doc.uuid)) == 1


async def test_a_refused_manager_action_on_the_desk_is_in_the_audit_trail(clinic):
    app = app_for(clinic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        with pytest.raises(AccessDenied):
            await app.desk_call(users.add, clinic, app.actor, "zed", "manager")
    (event,) = AuditEvent.select().where(AuditEvent.action == "access.denied")
    assert (event.user_name, event.object) == ("ann", "action:users.add")
    assert not User.select().where(User.name == "zed").exists()
    assert audit.verify(clinic).intact
