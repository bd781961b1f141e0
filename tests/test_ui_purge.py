"""The purge screen at 80x24 with the keyboard only: Ctrl+R from anywhere, the worklist with why each chart is due or
kept, legal holds placed and lifted by a manager, a supervisor refused every change in one line, and a purge batch
from preparation (a clerk) through approval and the run (a manager, asked twice, No by default) to the paper and the
certificate."""

import datetime

import pytest

from recdesk import users
from recdesk.config import Retention
from recdesk.paper import tracking
from recdesk.patients.registry import PatientDetails, mrn_of, register
from recdesk.retention import archive, batches, holds
from recdesk.vault.models import AuditEvent, Encounter, LegalHold, Patient, Provider, PurgeBatch, PurgeVolume
from screens.base import REFUSED
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.help import HelpScreen
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
    for mrn in ("100001", "100007"):  # a paper chart each, in the file room
        tracking.volume_for(desk, Patient.get(Patient.id == patient_id(desk, mrn)), actor=desk.sign_on("ann"))
    return desk


def patient_id(desk, mrn: str) -> int:
    return next(p.id for p in Patient.select() if mrn_of(desk, p) == mrn)


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
        assert "Purge" in [c.title for c in app.get_system_commands(app.screen)]  # the palette lists it
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help opens")
        everywhere = app.screen.body().plain.split("Keys everywhere:")[1]
        assert "Ctrl+R" in everywhere and "Purge" in everywhere
        await pilot.press("escape")
        await settle(app, pilot)
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
        # the reason is painted whole at 80x24 (the detail grows to hold it), never cut after two lines
        assert "a manager lifts it when the matter ends" in " ".join(screen_text.split())
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


@pytest.fixture
def destroyed(office):
    """The office with a batch of the two due charts prepared by ann, approved by meg and run by boss."""
    desk = office
    batch = batches.prepare(desk, desk.sign_on("ann"), as_of=datetime.date.today())
    batches.approve(desk, desk.sign_on("meg"), batch.id)
    batches.run(desk, desk.sign_on("boss"), batch.id, witness="Pat Jones")
    return desk


CHANGING_KEYS = ["n", "a", "r", "v", "c", "h", "l", "s", "x"]


async def test_a_supervisor_sees_everything_and_is_refused_each_change_in_one_line(destroyed):
    desk = destroyed
    app = app_for(desk, user="sue")
    before = (LegalHold.select().count(), PurgeBatch.get().status, PurgeVolume.select().where(
        PurgeVolume.status == "pending").count())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purge(app, pilot)
        assert [r[0] for r in cells(screen, "wl-table")] == ["100004"]  # the others are destroyed
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
        assert [r[1] for r in cells(screen, "pp-table")] == ["100001", "100007"]  # the paper, to look at
        await pilot.press("enter")  # confirming a volume shredded is a change too
        await settle(app, pilot)
        assert text_of(screen, "pg-message") == f"Confirm shredded: {REFUSED}." and app.screen is screen
        footer = [item.label for item in screen.query_one(DeskFooter).shown()]
        assert "New batch" not in footer and "Approve" not in footer and "Certificate" in footer
        await pilot.press("3", "enter")  # a batch's patients: looking is everyone's
        await until(pilot, lambda: screen.items, "the batch's patients are shown")
        assert {r[0]: r[4] for r in cells(screen, "it-table")} == {"100001": "DESTROYED", "100007": "DESTROYED"}
    assert (LegalHold.select().count(), PurgeBatch.get().status, PurgeVolume.select().where(
        PurgeVolume.status == "pending").count()) == before


async def test_shred_mode_confirms_each_volume_the_wand_scans_and_a_wrong_one_changes_nothing(destroyed):
    app = app_for(destroyed, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purge(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        await until(pilot, lambda: screen.paper, "the paper list is read")
        await pilot.press("s")
        await answer(app, pilot, TextDialog, *"ann", "enter")  # the clerk who shreds is not the witness
        assert "SHRED MODE" in text_of(screen, "pg-mode")
        await pilot.press(*"*MRN100007*", "enter")
        await settle(app, pilot)
        assert "witness is someone other" in text_of(screen, "pg-message")
        assert [v.status for v in screen.paper] == ["pending", "pending"]
        await pilot.press("w")
        await answer(app, pilot, TextDialog, *["backspace"] * 3, *"Pat Jones", "enter")
        await pilot.press(*"*MRN100007*", "enter")
        await until(pilot, lambda: screen.paper[1].status == "shredded", "the scanned volume is shredded")
        await pilot.press(*"999999", "enter")  # not on this list
        await settle(app, pilot)
        assert "MRN 999999 has no paper volume in batch" in text_of(screen, "pg-message")
        await pilot.press(*"0100001", "enter")  # the wand's leading zero
        await until(pilot, lambda: screen.paper[0].status == "shredded", "the other volume is shredded")
        assert screen.section == "paper"  # the digits went to the scan, not to the section keys
        assert PurgeBatch.get().status == "paper_confirmed"
        await pilot.press("escape")
        assert not screen.shredding and "S shred mode" in text_of(screen, "pg-mode")


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


async def answer(app, pilot, dialog_type, *keys: str) -> None:
    """Wait for a dialog of this type, then press the keys."""
    await until(pilot, lambda: isinstance(app.screen, dialog_type), f"{dialog_type.__name__} opens")
    await pilot.press(*keys)
    await settle(app, pilot)


def status() -> str:
    return PurgeBatch.get().status


async def test_a_clerk_prepares_a_manager_approves_and_runs_asked_twice_then_paper_and_certificate(office):
    desk = office
    # ann (a clerk) prepares a batch of every chart due today
    app = app_for(desk, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purge(app, pilot)
        await pilot.press("n")
        await answer(app, pilot, TextDialog, "enter")  # as of today
        await answer(app, pilot, TextDialog, "enter")  # every due chart
        await answer(app, pilot, TextDialog, "enter")  # no limit
        await until(pilot, lambda: screen.batches, "the batch is listed")
        assert screen.section == "batches"
        number = screen.batches[0].number
        assert cells(screen, "bt-table")[0][:6] == [number, "prepared", "2", "0", "0", "2"]
        assert f"Batch {number} prepared: 2 patients" in text_of(screen, "pg-message")
        await pilot.press("a")  # approving is a manager's
        await settle(app, pilot)
        assert app.screen is screen and "Approve: a manager does this" in text_of(screen, "pg-message")
    assert status() == "prepared"

    # boss (a manager who did not prepare it) approves it: Enter on the first question is No
    app = app_for(desk, user="boss")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purge(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        await until(pilot, lambda: screen.batches, "the batches are read")
        await pilot.press("a")
        await answer(app, pilot, ChoiceDialog, "enter")
        assert app.screen is screen and status() == "prepared" and "Nothing changed" in text_of(screen, "pg-message")
        await pilot.press("a")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the second question")
        assert "destroys these records for good" in app.screen.question
        await answer(app, pilot, ChoiceDialog, "enter")  # No again, on the second question
        assert status() == "prepared"
        await pilot.press("a")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await until(pilot, lambda: status() == "approved", "the batch is approved")
        await until(pilot, lambda: screen.batch.status == "approved", "the list shows it approved")
        assert cells(screen, "bt-table")[0][1] == "approved"
        # Enter shows its patients, Esc goes back
        await pilot.press("enter")
        await until(pilot, lambda: screen.items, "the batch's patients are shown")
        assert {r[0]: r[4] for r in cells(screen, "it-table")} == {"100001": "to destroy", "100007": "to destroy"}
        await pilot.press("escape")
        await settle(app, pilot)
        assert screen.query_one("#bt-table").display and app.screen is screen

        # the run: asked twice, No by default; then a witness, and a progress bar while it runs
        await pilot.press("r")
        await answer(app, pilot, ChoiceDialog, "enter")
        assert status() == "approved"
        seen = []
        shown = screen.show_progress

        def watch(*args):
            bar = screen.query("#pg-bar")
            seen.append((bool(bar), str(screen.query_one("#pg-progress-words").render()) if bar else ""))
            shown(*args)

        screen.show_progress = watch
        await pilot.press("r")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await answer(app, pilot, TextDialog, *"Pat Jones", "enter")
        await until(pilot, lambda: status() == "destroyed", "the batch is destroyed")
        await settle(app, pilot)
        await until(pilot, lambda: screen.batch.status == "destroyed", "the list shows it destroyed")
        assert seen and all(bar for bar, _ in seen), seen  # each step of the run was shown on a bar
        assert len(seen) >= 3 and "Destroying batch" in seen[-1][1]
        assert not screen.query("#pg-bar")  # gone once done: nothing left ticking
        assert cells(screen, "bt-table")[0][1] == "destroyed"
        assert f"Batch {number} destroyed: 2 patients" in text_of(screen, "pg-message")
        await pilot.press("r")  # nothing left to run
        await settle(app, pilot)
        assert app.screen is screen and "destroyed" in text_of(screen, "pg-message")

        # the paper in terminal-digit order: Enter on a volume confirms it shredded (asked, No first), with a
        # witness; X reports one
        # not found (asked once, No by default)
        await pilot.press("4")
        await settle(app, pilot)
        await until(pilot, lambda: screen.paper, "the paper list is read")
        assert [(r[0], r[1]) for r in cells(screen, "pp-table")] == [("01-00-10", "100001"), ("07-00-10", "100007")]
        await pilot.press("enter")
        await answer(app, pilot, ChoiceDialog, "enter")  # a stray Enter: asked, No by default, nothing recorded
        assert screen.paper[0].status == "pending" and app.screen is screen
        await pilot.press("enter")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await answer(app, pilot, TextDialog, *"Pat Jones", "enter")
        await until(pilot, lambda: screen.paper[0].status == "shredded", "the volume is confirmed shredded")
        assert cells(screen, "pp-table")[0][4] == "SHREDDED" and "1 to shred, 1 shredded" in text_of(screen, "pg-mode")
        assert "witness Pat Jones" in text_of(screen, "pg-mode") and "1 to go" in text_of(screen, "pg-message")
        assert screen.volume.mrn == "100007"  # the highlight went on down the list
        await pilot.press("x")
        await answer(app, pilot, ChoiceDialog, "enter")
        assert screen.paper[1].status == "pending"
        await pilot.press("x")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await until(pilot, lambda: screen.paper[1].status == "not_found", "the volume is reported not found")
        assert cells(screen, "pp-table")[1][4] == "NOT FOUND"
        assert "reported not found: the certificate lists it" in text_of(screen, "pg-message")
        assert status() == "paper_confirmed"

        # P prints the certificate to the desk's print folder
        await pilot.press("p")
        await settle(app, pilot)
        await until(pilot, lambda: "Certificate" in text_of(screen, "pg-message"), "the certificate is printed")
    printed = list((desk.config.home / "printouts").glob("*-certificate.pdf"))
    assert len(printed) == 1 and printed[0].read_bytes().startswith(b"%PDF")


async def test_the_preparer_cancels_asked_twice_with_the_reason(office):
    desk = office
    batches.prepare(desk, desk.sign_on("ann"), as_of=datetime.date.today())
    app = app_for(desk, user="ann")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purge(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        await until(pilot, lambda: screen.batches, "the batches are read")
        await pilot.press("c")
        await answer(app, pilot, ChoiceDialog, "enter")  # No
        assert status() == "prepared"
        await pilot.press("c")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await answer(app, pilot, ChoiceDialog, "escape")  # Esc on the second question is No too
        assert status() == "prepared"
        await pilot.press("c")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await answer(app, pilot, TextDialog, *"counsel asked to wait", "enter")
        await until(pilot, lambda: status() == "cancelled", "the batch is cancelled")
        await until(pilot, lambda: screen.batch.status == "cancelled", "the list shows it cancelled")
        assert "Cancelled: nothing was destroyed" in text_of(screen, "bt-detail")


async def test_run_archives_first_where_the_schedule_says_so_with_its_progress(office, tmp_path):
    desk = office
    key = tmp_path / "archive.key"
    archive.create_key_file(key)
    desk.config.retention = Retention(jurisdictions=("TX",), archive=True, archive_key_file=str(key))
    batch = batches.prepare(desk, desk.sign_on("ann"), as_of=datetime.date.today())
    batches.approve(desk, desk.sign_on("meg"), batch.id)
    app = app_for(desk, user="boss")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purge(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        await until(pilot, lambda: screen.batches, "the batches are read")
        assert "archive first" in text_of(screen, "bt-detail")
        steps = []
        shown = screen.show_progress
        screen.show_progress = lambda doing, *rest: (steps.append(doing), shown(doing, *rest))
        await pilot.press("r")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the second question")
        assert "the archive keeps them" in app.screen.question
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await answer(app, pilot, TextDialog, "enter")  # no witness named
        await until(pilot, lambda: status() == "destroyed", "the batch is archived, then destroyed")
        await until(pilot, lambda: screen.batch.status == "destroyed", "the list shows it destroyed")
    assert steps[0] == "Archiving" and steps[-1] == "Destroying"
    assert (desk.config.home / "archives" / f"{batch.number}.rda").is_file()


async def test_the_manager_who_prepared_a_batch_is_refused_its_approval_in_one_line(office):
    app = app_for(office, user="boss")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_purge(app, pilot)
        await pilot.press("n")
        for _ in range(3):
            await answer(app, pilot, TextDialog, "enter")
        await until(pilot, lambda: screen.batches, "the batch is listed")
        await pilot.press("a")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await answer(app, pilot, ChoiceDialog, "down", "enter")
        await until(pilot, lambda: "two-person rule" in text_of(screen, "pg-message"), "the refusal is said")
        said = text_of(screen, "pg-message")
        assert said.startswith("two-person rule: boss prepared batch CD-") and "\n" not in said
    assert status() == "prepared"
    assert AuditEvent.select().where(AuditEvent.action == "access.denied").count() == 1
