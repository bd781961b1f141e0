"""The pull list (F7) and paper charts (F8) at 80x24, keyboard and barcode wand only (Textual run_test + Pilot)."""

import datetime

import pytest

from recdesk import users
from recdesk.paper import appointments, tracking
from recdesk.patients.registry import PatientDetails, register
from recdesk.vault import audit
from recdesk.vault.models import AuditEvent, ChartMovement, ChartVolume, PullItem, Release, ReleaseRequest
from screens.base import action_name
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.help import HelpScreen
from screens.dialogs.history import HistoryDialog
from screens.dialogs.stop import StopDialog
from screens.dialogs.text import TextDialog
from screens.pulllist import PullListScreen
from screens.search import SearchScreen
from screens.tracking import TrackingScreen
from tests.test_ui import SIZE, app_for, settle

TODAY = datetime.date.today()
TOMORROW = TODAY + datetime.timedelta(days=1)
# MRN -> terminal-digit shelf address: 123456 56-34-12, 72248 48-22-07, 993412 12-34-99, 660034 34-00-66
MRNS = ("123456", "72248", "993412", "660034")
QUIET = "994945"  # 45-49-99: a chart no appointment wants


@pytest.fixture
def backend():
    return "sqlite"  # the screens are backend-blind; the services are tested on both


@pytest.fixture
def desk(desk_and_manager):
    """Four patients with appointments tomorrow, three paper charts in MAIN, a clerk and a supervisor."""
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    users.add(desk, manager, "sue", "supervisor")
    ids = {mrn: register(desk, manager, PatientDetails(mrn=mrn, last=f"Doe{n}", first="Jo",
                                                       dob=datetime.date(1970, 1, 1 + n)))
           for n, mrn in enumerate((*MRNS, QUIET))}
    ann = desk.sign_on("ann")
    tracking.default_file_room(desk)
    tracking.ensure_location(desk, ann, "OFFSITE", "Off-site storage", "file_room")
    tracking.ensure_location(desk, ann, "CARD", "Cardiology Clinic", "clinic")
    tracking.ensure_location(desk, ann, "ORTHO", "Orthopedics Clinic", "clinic")
    day = TOMORROW.isoformat()
    report = appointments.import_csv(desk, ann, "\n".join([
        "appointment_id,mrn,clinic,date,time,provider,status",
        f"P1,123456,Cardiology Clinic,{day},09:00,,",
        f"P2,72248,Cardiology Clinic,{day},10:00,,",
        f"P3,993412,Orthopedics Clinic,{day},08:00,,",
        f"P4,660034,Cardiology Clinic,{day},11:00,,",
    ]) + "\n")
    assert report.ok
    for mrn in (*MRNS[:3], QUIET):  # 660034 has no paper chart yet: picking it opens volume 1
        tracking.volume_for(desk, ids[mrn], actor=ann)
    desk.ids = ids
    return desk


async def press(app, pilot, *keys):
    await pilot.press(*keys)
    await settle(app, pilot)


def text(app, selector) -> str:
    return str(app.screen.query_one(selector).render())


def column(app, key) -> list[str]:
    table = app.screen.query_one("#pl-table")
    return [str(table.get_cell(row.key, key)) for row in table.ordered_rows]


def screen_lines(app) -> list[str]:
    """What the clerk sees, line by line (the compositor's own render of the screen)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def volume(desk, mrn):
    return tracking.volume_for(desk, desk.ids[mrn], create=False)


def offered(app):
    return {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}


# --- F7: the pull list and pick mode ------------------------------------------------------------


async def test_f7_shows_the_list_in_terminal_digit_order_and_space_pulls_with_a_running_tally(desk):
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "f7")
        assert isinstance(app.screen, PullListScreen)
        assert f"Tomorrow {TOMORROW:%a %Y-%m-%d} · 1 day" in text(app, "#pl-when")
        assert column(app, "shelf") == ["12-34-99", "34-00-66", "48-22-07", "56-34-12"]
        assert column(app, "mrn") == ["993412", "660034", "72248", "123456"]
        assert column(app, "time") == ["08:00", "11:00", "10:00", "09:00"]
        assert text(app, "#pl-tally") == "0 pulled · 0 not fillable · 4 to go of 4 (0%)"
        assert app.screen.focused is app.screen.query_one("#pl-scan")  # the wand's line keeps the focus

        await press(app, pilot, "space")
        assert column(app, "state")[0] == "PULLED"
        assert text(app, "#pl-tally") == "1 pulled · 0 not fillable · 3 to go of 4 (25%)"
        assert "12-34-99 pulled for Orthopedics Clinic 08:00" in text(app, "#pl-message")
        assert app.screen.query_one("#pl-table").cursor_row == 1  # on to the next chart to pull
        await press(app, pilot, "enter")  # Enter on an empty scan line pulls the highlighted chart too
        assert column(app, "state")[:2] == ["PULLED", "PULLED"]
        assert app.screen.query_one("#pl-table").cursor_row == 2
        # Space typed faster than the desk answers: both keys are in before the first pick is done, and each
        # pulls the next chart (none is lost to "already pulled").
        app.screen.action_pick()
        app.screen.action_pick()
        await press(app, pilot)
        assert column(app, "state") == ["PULLED"] * 4
    v = volume(desk, "993412")
    assert (v.status, v.current.code, v.due_back_on) == ("out", "ORTHO", TOMORROW + datetime.timedelta(days=1))
    assert volume(desk, "660034").current.code == "CARD"  # a first volume, opened and charged out
    assert PullItem.select().where(PullItem.status == "pulled").count() == 4


async def test_a_wand_typing_fast_pulls_several_charts_and_a_wrong_mrn_changes_nothing(desk):
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "f7")
        # Three labels scanned one after another, the first with leading zeros, no pause between them.
        await press(app, pilot, *"0072248", "enter", *"123456", "enter", *"660034", "enter")
        assert column(app, "state") == ["to pull", "PULLED", "PULLED", "PULLED"]
        assert text(app, "#pl-tally") == "3 pulled · 0 not fillable · 1 to go of 4 (75%)"
        assert "34-00-66 (MRN 660034) pulled for Cardiology Clinic 11:00" in text(app, "#pl-message")
        assert app.screen.query_one("#pl-scan").value == ""
        assert app.screen.query_one("#pl-table").cursor_row == 0  # the one chart left to pull

        before = (AuditEvent.select().count(), ChartMovement.select().count(), PullItem.select().count())
        await press(app, pilot, *"555555", "enter")
        assert text(app, "#pl-message") == ("MRN 555555 is not on this pull list: check the label, "
                                            "put the chart aside")
        assert app.screen.query_one("#pl-message").has_class("warning")
        assert app.screen.query_one("#pl-scan").value == ""
        await press(app, pilot, *"72248", "enter")  # scanned twice
        assert "48-22-07 is already pulled for Cardiology Clinic" in text(app, "#pl-message")
        assert text(app, "#pl-tally") == "3 pulled · 0 not fillable · 1 to go of 4 (75%)"
        assert (AuditEvent.select().count(), ChartMovement.select().count(), PullItem.select().count()) == before
    for mrn in ("72248", "123456", "660034"):
        assert (volume(desk, mrn).status, volume(desk, mrn).current.code) == ("out", "CARD")
    assert volume(desk, "993412").status == "in"


async def test_letters_typed_mid_scan_go_to_the_scan_line_not_the_keys(desk):
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "f7")
        await press(app, pilot, *"12", "escape")  # Esc clears a half scan
        assert app.screen.query_one("#pl-scan").value == ""
        await press(app, pilot, *"*MRN993412*")  # a cover-sheet barcode: N and the rest are typed, not keys
        assert app.screen.query_one("#pl-scan").value == "*MRN993412*"
        assert not isinstance(app.screen, ChoiceDialog)
        await press(app, pilot, "enter")
        assert column(app, "state")[0] == "PULLED"


async def test_n_marks_a_chart_not_fillable_with_a_listed_or_typed_reason(desk):
    tracking.charge_out(desk, desk.sign_on("ann"), volume(desk, "72248").uuid, "ORTHO", TOMORROW)
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "f7")
        assert column(app, "state")[2] == "to pull (chart out)"
        await press(app, pilot, "down", "down", "space")  # out to another clinic: it cannot be pulled
        assert "chart 48-22-07 is out to ORTHO" in text(app, "#pl-message")
        assert column(app, "state")[2] == "to pull (chart out)"
        await press(app, pilot, "n")
        assert isinstance(app.screen, ChoiceDialog)
        await press(app, pilot, "down", "down", "enter")  # out to another borrower
        assert isinstance(app.screen, PullListScreen)
        assert column(app, "state")[2] == "NOT FILLABLE: out to another borrower"
        assert text(app, "#pl-tally") == "0 pulled · 1 not fillable · 3 to go of 4 (0%)"
        assert app.screen.query_one("#pl-table").cursor_row == 3  # on to the next chart to pull

        await press(app, pilot, "n")
        await press(app, pilot, *["down"] * 6, "enter")  # other: type the reason
        assert isinstance(app.screen, TextDialog)
        await press(app, pilot, *"with the coder", "enter")
        assert column(app, "state")[3] == "NOT FILLABLE: with the coder"
        assert "56-34-12 not fillable: with the coder." in text(app, "#pl-message")
        await press(app, pilot, "right_square_bracket", "left_square_bracket")  # the list read afresh
        assert column(app, "state")[2:] == ["NOT FILLABLE: out to another borrower", "NOT FILLABLE: with the coder"]
    # The typed words may name people: the plain column keeps only "other", the words go to the (encrypted) audit.
    rows = {r.appointment.external_id: (r.status, r.reason) for r in PullItem.select()}
    assert rows == {"P2": ("not_fillable", "out to another borrower"), "P1": ("not_fillable", "other")}
    events = AuditEvent.select().where(AuditEvent.action == "pull_list.not_fillable").order_by(AuditEvent.seq)
    assert [audit.details(desk, e) for e in events] == [{"reason": "out to another borrower"},
                                                        {"reason": "other", "text": "with the coder"}]


async def test_days_print_and_import_with_keys(desk, tmp_path):
    later = TOMORROW + datetime.timedelta(days=1)
    feed = tmp_path / "feed.csv"
    feed.write_text(f"appointment_id,mrn,clinic,date,time\nQ1,993412,Cardiology Clinic,{later.isoformat()},13:30\n"
                    f"Q2,555555,Cardiology Clinic,{later.isoformat()},14:00\n")
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "f7", "right_square_bracket")
        assert f"{later:%a %Y-%m-%d} · 1 day" in text(app, "#pl-when")
        assert column(app, "shelf") == [] and "No booked appointments" in text(app, "#pl-message")
        await press(app, pilot, "i")
        assert isinstance(app.screen, TextDialog)
        await press(app, pilot, *str(feed), "enter")
        assert column(app, "shelf") == ["12-34-99"]
        assert "1 added" in text(app, "#pl-message") and "1 rejected" in text(app, "#pl-message")
        await press(app, pilot, "left_square_bracket", "plus")
        assert "2 days" in text(app, "#pl-when")
        assert column(app, "shelf") == ["12-34-99", "12-34-99", "34-00-66", "48-22-07", "56-34-12"]
        assert column(app, "time")[:2] == [f"{TOMORROW:%m-%d} 08:00", f"{later:%m-%d} 13:30"]
        await press(app, pilot, "minus")
        assert len(column(app, "shelf")) == 4
        await press(app, pilot, "p")
        (printed,) = (desk.config.home / "printouts").iterdir()
        assert printed.read_bytes().startswith(b"%PDF") and printed.stat().st_mode & 0o777 == 0o600
        assert "Pull list saved as" in text(app, "#pl-message")
    (event,) = AuditEvent.select().where(AuditEvent.action == "pull_list.print")
    assert event.user_name == "ann"


async def test_f1_explains_both_screens_and_lists_their_keys(desk):
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "f7", "f1")
        assert isinstance(app.screen, HelpScreen)
        help_text = text(app, "#help-text")
        assert "terminal digit" in help_text and "wand" in help_text
        for description in ("Space         Pull", "Not fillable", "Print", "Import CSV", "[             Day back",
                            "More days"):
            assert description in help_text
        await press(app, pilot, "escape", "f8", "f1")
        help_text = text(app, "#help-text")
        assert "check-in mode" in help_text and "until you press Enter" in help_text
        for description in ("Check in", "Charge out", "Transfer", "Missing", "History", "Check-in mode", "File room"):
            assert description in help_text


async def test_f7_and_f8_rows_show_the_name_beside_the_whole_mrn_at_80_columns(desk):
    """A clerk checks the folder label: the name is on the row, cut to fit; the MRN is never cut."""
    manager = desk.sign_on("boss")
    register(desk, manager, PatientDetails(mrn="13860540", last="Montgomery-Fitzwilliam", first="Alexandrina",
                                           dob=datetime.date(1950, 5, 6)))
    assert appointments.import_csv(desk, manager, "appointment_id,mrn,clinic,date,time\n"
                                   f"L1,13860540,Cardiology Clinic,{TOMORROW.isoformat()},15:00\n").ok
    tracking.charge_out(desk, desk.sign_on("ann"), volume(desk, "72248").uuid, "CARD", TOMORROW)
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "f7")
        long = column(app, "mrn").index("13860540")
        assert column(app, "name")[long].startswith("MONTGOMERY-F") and column(app, "name")[long].endswith("…")
        lines = screen_lines(app)
        (row,) = [line for line in lines if "13860540" in line]  # the MRN whole, on one line
        assert "MONTGOMERY-" in row and "…" in row  # the long name is the one cut
        assert "to pull" in row  # and the state still shows
        (row,) = [line for line in lines if "123456" in line]
        assert "DOE0, Jo" in row
        assert all(len(line) <= SIZE[0] for line in lines)

        await press(app, pilot, "f8", *"13860540", "enter")
        chart = text(app, "#tr-chart")
        assert "(MRN 13860540" in chart and "MONTGOMERY-FITZWILLIAM, Alex" in chart
        assert "DOE" not in chart
        await press(app, pilot, "c", *"0072248", "enter")
        assert isinstance(app.screen, StopDialog)  # tomorrow's pull wants it
        await press(app, pilot, "enter")
        log = app.screen.query_one("#tr-log")
        assert [str(c) for c in log.get_row_at(0)[:3]] == ["48-22-07", "72248", "DOE1, Jo"]
        (row,) = [line for line in screen_lines(app) if "checked in to MAIN" in line and "72248" in line]
        assert "48-22-07" in row and "72248" in row and "DOE1, Jo" in row
    # Both screens are views of PHI: the list's opening and the chart's look-up name the patients.
    opened = AuditEvent.select().where(AuditEvent.action == "pull_list.open").get()
    assert len(audit.details(desk, opened)["patients"]) == 5
    assert AuditEvent.select().where(AuditEvent.action == "chart.look").count() == 2


# --- F8: paper charts -----------------------------------------------------------------------------


async def test_check_in_mode_stops_on_a_chart_that_was_flagged_missing(desk):
    ann = desk.sign_on("ann")
    tracking.charge_out(desk, ann, volume(desk, QUIET).uuid, "CARD", TOMORROW)
    tracking.mark_missing(desk, ann, volume(desk, "72248").uuid, "not on shelf 48-22, not in the sort bins")
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "f8")
        assert isinstance(app.screen, TrackingScreen)
        await press(app, pilot, "c")
        assert "CHECK-IN MODE" in text(app, "#tr-mode")
        await press(app, pilot, *QUIET, "enter")  # nothing to say: checked in, the desk goes on
        assert isinstance(app.screen, TrackingScreen)
        assert "Chart 45-49-99 checked in to MAIN." == text(app, "#tr-message")
        await press(app, pilot, *"0072248", "enter")
        assert isinstance(app.screen, StopDialog)
        warnings = text(app, "#stop-warnings")
        assert "chart 48-22-07 was flagged missing: it is found now" in warnings
        assert "wanted for Cardiology Clinic" in warnings  # tomorrow's pull wants it
        await press(app, pilot, *"123456", "enter")  # the next scan does not get past the warning
        assert isinstance(app.screen, StopDialog)
        assert "A scan came in" in text(app, "#stop-hint")
        await press(app, pilot, "enter")
        assert isinstance(app.screen, TrackingScreen)
        assert "IN: in MAIN" in text(app, "#tr-chart")
        log = app.screen.query_one("#tr-log")
        assert [str(log.get_row_at(n)[3]) for n in range(log.row_count)] == ["checked in to MAIN"] * 2
        await press(app, pilot, "escape")
        assert "CHECK-IN MODE" not in text(app, "#tr-mode")
    assert volume(desk, "72248").status == "in" and volume(desk, QUIET).status == "in"
    assert volume(desk, "123456").status == "in" and not ChartMovement.select().where(
        ChartMovement.volume == volume(desk, "123456").id).exists()


async def test_check_in_warns_of_an_open_release_request(desk):
    tracking.charge_out(desk, desk.sign_on("ann"), volume(desk, "123456").uuid, "CARD", TOMORROW, person="Dr. Patel")
    request = ReleaseRequest.create(requester_type="attorney", received_on=TODAY, purpose="legal")
    Release.create(request=request, patient=desk.ids["123456"], due_on=TODAY + datetime.timedelta(days=30),
                   status="in_progress")
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "f8", *"123456", "enter")  # a look-up first
        chart = text(app, "#tr-chart")
        assert "56-34-12" in chart and "Now at    CARD" in chart and "Dr. Patel" in chart
        assert f"Due back  {TOMORROW.isoformat()}" in chart
        await press(app, pilot, "i")
        assert isinstance(app.screen, StopDialog)
        warnings = text(app, "#stop-warnings")
        assert "a release-of-information request is open for this patient" in warnings
        assert "wanted for Cardiology Clinic" in warnings  # tomorrow's appointment wants it too
        await press(app, pilot, "enter")
        assert isinstance(app.screen, TrackingScreen)
    assert volume(desk, "123456").status == "in"
    assert AuditEvent.select().where(AuditEvent.action == "chart.look").count() == 1


async def test_charge_out_transfer_missing_and_history_with_keys(desk):
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "f8", *"993412", "enter", "o")
        assert isinstance(app.screen, ChoiceDialog)  # CARD, ORTHO, a person
        await press(app, pilot, "down", "down", "enter")
        assert isinstance(app.screen, TextDialog)
        await press(app, pilot, *"Nurse Kim", "enter")
        await press(app, pilot, "enter")  # at CARD
        await press(app, pilot, "enter")  # due back: the date offered
        assert isinstance(app.screen, TrackingScreen)
        assert "OUT: out to CARD (Nurse Kim)" in text(app, "#tr-chart")
        await press(app, pilot, "t", "down", "enter")  # hand it on to ORTHO, due date kept
        assert "OUT: out to ORTHO" in text(app, "#tr-chart")
        await press(app, pilot, "m", *"ortho desk, not there", "enter")
        assert "MISSING: flagged missing (last seen in ORTHO)" in text(app, "#tr-chart")
        await press(app, pilot, "o")  # a missing chart is not charged out
        assert isinstance(app.screen, TrackingScreen) and "check it in first" in text(app, "#tr-message")
        await press(app, pilot, "h")
        assert isinstance(app.screen, HistoryDialog)
        table = app.screen.query_one("#history-table")
        assert [str(table.get_row_at(n)[1]) for n in range(table.row_count)] == ["charge out", "transfer", "missing"]
        assert str(table.get_row_at(2)[4]) == "ortho desk, not there"
        await press(app, pilot, "escape")
        assert isinstance(app.screen, TrackingScreen)
        await press(app, pilot, *"555555", "enter")
        assert "no active patient has MRN 555555" in text(app, "#tr-message")
        assert "12-34-99" in text(app, "#tr-chart")  # the chart shown before stays
    v = volume(desk, "993412")
    assert (v.status, v.current.code, v.borrower) == ("missing", "ORTHO", "")  # handed on to the clinic
    assert v.due_back_on == TODAY + datetime.timedelta(days=3)


async def test_a_chart_checked_in_to_the_wrong_file_room_warns(desk):
    tracking.charge_out(desk, desk.sign_on("ann"), tracking.chart_status(desk, desk.ids["660034"]), "CARD",
                        TOMORROW)
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await press(app, pilot, "f8", "r", "down", "enter")  # this desk is at OFFSITE
        assert "I checks in to OFFSITE" in text(app, "#tr-mode")
        await press(app, pilot, *"660034", "enter", "i")
        assert isinstance(app.screen, StopDialog)
        assert "belongs in MAIN (Main file room), not OFFSITE: send it home" in text(app, "#stop-warnings")
        await press(app, pilot, "enter")
    assert volume(desk, "660034").current.code == "OFFSITE"


# --- a supervisor looks and changes nothing ------------------------------------------------------------


async def test_a_supervisor_gets_no_changing_keys(desk):
    app = app_for(desk, user="sue")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await press(app, pilot, "f7", "f8")  # not their screens
        assert isinstance(app.screen, SearchScreen)
        await app.push_screen(PullListScreen())
        await settle(app, pilot)
        assert len(column(app, "shelf")) == 4  # they may look
        assert not {action_name(a) for a in offered(app)} & app.screen.CHANGING
        assert {"print", "day(1)", "days(1)", "step(1)"} <= offered(app)
        for action in ("pick", "not_fillable", "import_appointments"):
            assert app.screen.check_action(action, ()) is False
        await press(app, pilot, "space", "n", "i", *"993412", "enter")
        assert column(app, "state") == ["to pull", "to pull (new chart)", "to pull", "to pull"]
        assert isinstance(app.screen, PullListScreen)

        await app.push_screen(TrackingScreen())
        await settle(app, pilot)
        assert not {action_name(a) for a in offered(app)} & app.screen.CHANGING
        assert "check_in_mode" not in offered(app) and "history" in offered(app)
        for action in ("check_in", "charge_out", "transfer", "mark_missing", "check_in_mode"):
            assert app.screen.check_action(action, ()) is False
        await press(app, pilot, "c", *"993412", "enter", "i", "o", "m")
        assert isinstance(app.screen, TrackingScreen)
        assert "CHECK-IN MODE" not in text(app, "#tr-mode")
        assert "12-34-99" in text(app, "#tr-chart")
    assert PullItem.select().count() == 0
    assert ChartMovement.select().count() == 0
    assert {v.status for v in ChartVolume.select()} == {"in"}
