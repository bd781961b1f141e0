"""Paper chart tracking: moves with history and audit, check-in warnings, appointment import, pick mode, reports."""

import ast
import dataclasses
import datetime
import inspect
from pathlib import Path

import peewee
import pytest

from recdesk import users
from recdesk.desk import Desk
from recdesk.errors import AccessDenied, DeskError
from recdesk.paper import appointments, pulllist, reports, tracking
from recdesk.patients import registry
from recdesk.patients.registry import PatientDetails, register
from recdesk.vault import audit
from recdesk.vault.models import (
    Appointment,
    AuditEvent,
    ChartLocation,
    ChartMovement,
    ChartVolume,
    Patient,
    PullItem,
    Release,
    ReleaseRequest,
)
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
TODAY = datetime.date.today()
TOMORROW = TODAY + datetime.timedelta(days=1)
# MRN -> shelf address (terminal digit): 123456 56-34-12, 72248 48-22-07, 993412 12-34-99, 660034 34-00-66
MRNS = ("123456", "72248", "993412", "660034")


@pytest.fixture
def desk_room(desk_and_manager):
    """A desk with a clerk, a supervisor, four patients, the MAIN and OFFSITE file rooms and two clinics."""
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    users.add(desk, manager, "sue", "supervisor")
    ids = {mrn: register(desk, manager, PatientDetails(mrn=mrn, last=f"Doe{n}", first="Jo",
                                                       dob=datetime.date(1970, 1, 1 + n)))
           for n, mrn in enumerate(MRNS)}
    ann = desk.sign_on("ann")
    tracking.default_file_room(desk)
    tracking.ensure_location(desk, ann, "OFFSITE", "Off-site storage", "file_room")
    tracking.ensure_location(desk, ann, "CARD", "Cardiology Clinic", "clinic")
    tracking.ensure_location(desk, ann, "ortho", "Orthopedics Clinic", "clinic")
    return desk, ann, desk.sign_on("sue"), ids


def actions(since: int) -> list[str]:
    return [e.action for e in AuditEvent.select().where(AuditEvent.seq > since).order_by(AuditEvent.seq)]


def head() -> int:
    return AuditEvent.select().count()


# --- moves ----------------------------------------------------------------------------------------


def test_locations_and_a_first_volume_homed_in_main(desk_room):
    desk, ann, _, ids = desk_room
    assert [(loc.code, loc.kind) for loc in tracking.locations(desk, "file_room")] == [("MAIN", "file_room"),
                                                                                      ("OFFSITE", "file_room")]
    assert tracking.ensure_location(desk, ann, "card").name == "Cardiology Clinic"  # there already: as it is
    with pytest.raises(DeskError, match="kind"):
        tracking.ensure_location(desk, ann, "LAB", "Lab", "closet")
    assert tracking.volume_for(desk, ids["123456"], create=False) is None
    before = head()
    volume = tracking.volume_for(desk, ids["123456"], actor=ann)
    assert (volume.volume_no, volume.home.code, volume.current.code, volume.status) == (1, "MAIN", "MAIN", "in")
    assert tracking.volume_for(desk, ids["123456"]).id == volume.id
    assert tracking.label(desk, volume) == "56-34-12"
    assert actions(before) == ["chart.volume_add"]


def test_charge_out_transfer_check_in_and_missing_with_history_and_audit(desk_room):
    desk, ann, sue, ids = desk_room
    due = TODAY + datetime.timedelta(days=3)
    before = head()
    none = tracking.chart_status(desk, ids["123456"])  # no paper chart yet: the charge-out opens volume 1
    assert (none.volume_uuid, none.status) == (None, "none")
    chart = tracking.charge_out(desk, ann, none, "Cardiology Clinic", due, person="Dr. Patel")
    assert (chart.status, chart.location, chart.borrower, chart.due_back_on, chart.volume_no) == (
        "out", "CARD", "Dr. Patel", due, 1)
    with pytest.raises(DeskError, match=r"^chart 56-34-12 is already out to CARD \(Dr. Patel\), due back"):
        tracking.charge_out(desk, ann, chart, "ORTHO", due)
    chart = tracking.transfer(desk, ann, chart, "ORTHO", "Nurse Kim")
    assert (chart.status, chart.location, chart.borrower, chart.due_back_on) == ("out", "ORTHO", "Nurse Kim", due)
    with pytest.raises(DeskError, match="check it in to MAIN instead"):
        tracking.transfer(desk, ann, chart, "MAIN")
    result = tracking.check_in(desk, ann, chart)
    assert (result.chart.status, result.location, result.warnings) == ("in", "MAIN", ())
    assert result.chart.borrower == "" and result.chart.due_back_on is None
    with pytest.raises(DeskError, match=r"^chart 56-34-12 is already in MAIN$"):
        tracking.check_in(desk, ann, result.chart)
    chart = tracking.transfer(desk, ann, result.chart, "OFFSITE")  # a filed chart goes to off-site storage
    assert (chart.status, chart.location) == ("in", "OFFSITE")
    with pytest.raises(DeskError, match="where you looked"):
        tracking.mark_missing(desk, ann, chart, "  ")
    chart = tracking.mark_missing(desk, ann, chart, "not on shelf 56-34, not in the sort bins")
    assert (chart.status, chart.location) == ("missing", "OFFSITE")  # last known place kept
    with pytest.raises(DeskError, match="already flagged missing"):
        tracking.mark_missing(desk, ann, chart, "again")
    with pytest.raises(DeskError, match="flagged missing: check it in when it is found"):
        tracking.charge_out(desk, ann, chart, "CARD", due)
    found = tracking.check_in(desk, ann, chart.volume_uuid)  # by the volume's uuid works too
    assert found.chart.status == "in" and found.warnings == ("chart 56-34-12 was flagged missing: it is found now",)
    volume = ChartVolume.get(ChartVolume.uuid == found.chart.volume_uuid)

    rows = tracking.history(desk, sue, found.chart)  # a supervisor may look
    assert [(m.kind, m.from_location, m.to_location, m.borrower, m.by) for m in rows] == [
        ("charge_out", "MAIN", "CARD", "Dr. Patel", "ann"), ("transfer", "CARD", "ORTHO", "Nurse Kim", "ann"),
        ("check_in", "ORTHO", "MAIN", "", "ann"), ("transfer", "MAIN", "OFFSITE", "", "ann"),
        ("missing", "OFFSITE", "", "", "ann"), ("found", "OFFSITE", "MAIN", "", "ann")]
    assert rows[0].due_back_on == due and rows[4].note == "not on shelf 56-34, not in the sort bins"
    assert actions(before) == ["chart.volume_add", "chart.charge_out", "chart.transfer", "chart.check_in",
                               "chart.transfer", "chart.missing", "chart.found", "chart.history"]
    events = list(AuditEvent.select().where(AuditEvent.seq > before))
    assert {e.patient for e in events} == {Patient.get_by_id(ids["123456"]).uuid}
    assert {e.object for e in events} == {f"chart_volume:{volume.uuid}"}
    assert audit.details(desk, events[1])["movement"] == ChartMovement.select().order_by(ChartMovement.id).first().id
    assert audit.verify(desk).intact


def test_impossible_moves_are_refused_with_one_line(desk_room):
    desk, ann, _, ids = desk_room
    tracking.volume_for(desk, ids["72248"])
    chart = tracking.chart_status(desk, ids["72248"])
    with pytest.raises(DeskError, match="MAIN is a file room: charge charts out to a clinic"):
        tracking.charge_out(desk, ann, chart, "MAIN", TOMORROW)
    with pytest.raises(DeskError, match="is before today"):
        tracking.charge_out(desk, ann, chart, "CARD", TODAY - datetime.timedelta(days=1))
    with pytest.raises(DeskError, match="no location 'NOWHERE'"):
        tracking.charge_out(desk, ann, chart, "NOWHERE", TOMORROW)
    with pytest.raises(DeskError, match="charge it out to CARD"):
        tracking.transfer(desk, ann, chart, "CARD")
    with pytest.raises(DeskError, match="CARD is a clinic: charts are checked in to a file room"):
        tracking.check_in(desk, ann, chart, "CARD")
    chart = tracking.charge_out(desk, ann, chart, "CARD", TOMORROW)
    with pytest.raises(DeskError, match=r"^chart 48-22-07 is already out to CARD, due back"):
        tracking.transfer(desk, ann, chart, "CARD")
    assert ChartMovement.select().count() == 1
    for move in (lambda: tracking.check_in(desk, ann, "no-such-volume"),
                 lambda: tracking.mark_missing(desk, ann, "no-such-volume", "looked"),
                 lambda: tracking.history(desk, ann, "no-such-volume")):
        with pytest.raises(DeskError, match=r"^no chart volume 'no-such-volume': look it up again$"):
            move()
    with pytest.raises(DeskError, match=r"^MRN 123456 has no paper chart on record$"):
        tracking.check_in(desk, ann, tracking.chart_status(desk, ids["123456"]))


def test_a_stale_chart_is_never_moved_twice(desk_room):
    desk, ann, _, ids = desk_room
    tracking.ensure_location(desk, ann, "ED", "Emergency Department", "department")
    tracking.volume_for(desk, ids["993412"])
    as_read = tracking.chart_status(desk, ids["993412"])  # what this clerk's screen shows
    tracking.charge_out(desk, ann, as_read, "ED", TOMORROW)  # another clerk was quicker
    with pytest.raises(DeskError, match="someone else moved chart 12-34-99 just now"):
        tracking.mark_missing(desk, ann, as_read, "looked everywhere")
    assert ChartVolume.get(ChartVolume.uuid == as_read.volume_uuid).status == "out"
    assert ChartMovement.select().count() == 1
    assert actions(0).count("chart.missing") == 0


# --- check-in warnings ----------------------------------------------------------------------------


def _out(desk, ann, pid, due=TOMORROW):
    return tracking.charge_out(desk, ann, tracking.chart_status(desk, pid), "CARD", due)


def test_check_in_warns_of_a_chart_in_the_wrong_file_room(desk_room):
    desk, ann, _, ids = desk_room
    result = tracking.check_in(desk, ann, _out(desk, ann, ids["123456"]), "offsite")
    assert result.warnings == ("chart 56-34-12 belongs in MAIN (Main file room), not OFFSITE: send it home",)
    assert (result.chart.status, result.chart.location) == ("in", "OFFSITE")
    assert tracking.check_in(desk, ann, result.chart).warnings == ()  # home again, nothing to say


def test_check_in_warns_of_an_open_release_request(desk_room):
    desk, ann, _, ids = desk_room
    request = ReleaseRequest.create(requester_type="attorney", received_on=TODAY, purpose="legal")
    release = Release.create(request=request, patient=ids["123456"], due_on=TODAY + datetime.timedelta(days=30),
                             status="in_progress")
    result = tracking.check_in(desk, ann, _out(desk, ann, ids["123456"]))
    assert result.warnings == (f"a release-of-information request is open for this patient (in_progress, due "
                               f"{release.due_on.isoformat()}): take the chart to ROI",)
    Release.update(status="released").execute()
    assert tracking.check_in(desk, ann, _out(desk, ann, ids["123456"])).warnings == ()


def test_check_in_warns_of_an_overdue_chart(desk_room):
    desk, ann, _, ids = desk_room
    volume = _out(desk, ann, ids["123456"])
    late = datetime.datetime.combine(TOMORROW + datetime.timedelta(days=3), datetime.time(10))
    result = tracking.check_in(desk, ann, volume, at=late)
    assert result.warnings == (f"it came back late from CARD: due back on {TOMORROW.isoformat()} (3 days overdue)",)


def test_check_in_warns_when_an_upcoming_appointment_wants_the_chart(desk_room):
    desk, ann, _, ids = desk_room
    at = datetime.datetime.combine(TOMORROW, datetime.time(9, 30))
    Appointment.create(patient=ids["123456"], clinic="Oncology Clinic", at=at)
    Appointment.create(patient=ids["123456"], clinic="Neurology Clinic", at=at, status="cancelled")
    Appointment.create(patient=ids["123456"], clinic="Far Clinic", at=at + datetime.timedelta(days=60))
    result = tracking.check_in(desk, ann, _out(desk, ann, ids["123456"]))
    assert result.warnings == (f"wanted for Oncology Clinic on {TOMORROW.isoformat()} 09:30: "
                               "put it with that pull, not on the shelf",)
    assert result.chart.status == "in"  # warned, and still checked in


# --- appointment import ---------------------------------------------------------------------------


def _csv(*lines: str) -> str:
    return "\n".join(["appointment_id,mrn,clinic,date,time,provider,status", *lines]) + "\n"


def test_import_adds_cancels_and_reschedules_and_the_pull_list_follows(desk_room):
    desk, ann, _, _ = desk_room
    day, later = TOMORROW.isoformat(), (TOMORROW + datetime.timedelta(days=2)).isoformat()
    before = head()
    report = appointments.import_csv(desk, ann, _csv(
        f"A1,123456,Cardiology Clinic,{day},09:00,Dr. Patel,booked",
        f"A2,0072248,Cardiology Clinic,{day},10:00,,",
        f"A3,993412,Orthopedics Clinic,{day},08:00,Dr. Lee,BOOKED",
        f"A4,660034,Cardiology Clinic,{day},11:00,,booked",
    ))
    assert (report.added, report.rejects, report.ok) == (4, [], True)
    assert [i.mrn for i in pulllist.build(desk, ann, TOMORROW)] == ["993412", "660034", "72248", "123456"]
    assert Appointment.get(Appointment.external_id == "A1").provider.name == "Dr. Patel"

    again = appointments.import_csv(desk, ann, _csv(
        f"A1,123456,Cardiology Clinic,{day},09:00,Dr. Patel,cancelled",
        f"A2,72248,Cardiology Clinic,{later},14:30,,rescheduled",
        f"A3,993412,Orthopedics Clinic,{day},08:45,Dr. Lee,rescheduled",
        f"A4,660034,Cardiology Clinic,{day},11:00,,booked",
    ))
    assert (again.cancelled, again.rescheduled, again.unchanged, again.added) == (1, 2, 1, 0)
    assert again.summary() == "4 lines: 0 added, 2 rescheduled, 1 cancelled, 0 updated, 1 unchanged, 0 rejected"
    assert [(i.mrn, i.time[11:]) for i in pulllist.build(desk, ann, TOMORROW)] == [("993412", "08:45"),
                                                                                ("660034", "11:00")]
    moved = pulllist.build(desk, ann, TOMORROW + datetime.timedelta(days=2))
    assert [(i.mrn, i.time) for i in moved] == [("72248", f"{later}T14:30")]
    assert Appointment.get(Appointment.external_id == "A2").status == "booked"  # rescheduled = booked, new time
    assert Appointment.get(Appointment.external_id == "A1").status == "cancelled"

    events = [e for e in AuditEvent.select().where(AuditEvent.seq > before) if e.action == "appointments.import"]
    assert len(events) == 2 and all(e.patient == "" for e in events)
    assert audit.details(desk, events[1]) == {"rows": 4, "added": 0, "rescheduled": 2, "cancelled": 1,
                                              "updated": 0, "unchanged": 1, "rejected": 0}


def test_import_rejects_bad_lines_by_number_and_writes_only_the_good_ones(desk_room, tmp_path):
    desk, ann, _, _ = desk_room
    day = TOMORROW.isoformat()
    path = tmp_path / "feed.csv"
    path.write_bytes(("\ufeff" + _csv(
        f"B1,123456,Cardiology Clinic,{day},09:00,,",
        f"B2,555555,Cardiology Clinic,{day},09:15,,",  # nobody has this MRN
        "B3,72248,Cardiology Clinic,27/11/2026,09:30,,",
        f"B4,72248,Cardiology Clinic,{day},9.30,,",
        f"B5,72248,Cardiology Clinic,{day},09:45,,maybe",
        f"B6,72248,,{day},09:45,,",
        "",
        f"B7,ABC,Cardiology Clinic,{day},10:00,,",
        f"B8,993412,Cardiology Clinic,{day},10:15",
        f"B9,993412,Cardiology Clinic,{day},10:30,,booked",
    )).encode())
    report = appointments.import_csv(desk, ann, path)
    assert [str(r) for r in report.rejects] == [
        "line 3: no patient with MRN 555555 on this desk",
        'line 4: date: expected a date as "YYYY-MM-DD", got "27/11/2026"',
        'line 5: time: "9.30" is not a time HH:MM (24-hour)',
        'line 6: status: "maybe" is not one of booked, cancelled, rescheduled, done',
        "line 7: clinic: missing: give the clinic's name",
        'line 9: mrn: "ABC" is not an MRN (digits only)',
        "line 10: 5 fields, the header has 7",
    ]
    assert (report.rows, report.added) == (9, 2)
    assert sorted(a.external_id for a in Appointment.select()) == ["B1", "B9"]


def test_import_refuses_control_characters_and_implausible_years_by_line(desk_room, tmp_path):
    desk, ann, _, _ = desk_room
    day = TOMORROW.isoformat()
    path = tmp_path / "feed.csv"
    path.write_text(_csv(
        f"E1,123456,\x1b[2J\x1b]0;pwned\x07Clinic,{day},09:00,,",  # clears the screen, sets the window title
        f"E2,123456,Cardiology Clinic,{day},09:15,Dr. \x00Lee,",
        f"E3\u202e,123456,Cardiology Clinic,{day},09:30,,",
        f"E4,123456,Cardio\x7fClinic,{day},09:45,,",
        f"E5,123456,Cardio\x9bClinic,{day},09:45,,",
        "E6,123456,Cardiology Clinic,0001-01-01,10:00,,",
        "E7,123456,Cardiology Clinic,9999-12-31,10:15,,",
        f"E8,123456,Cardiology Clinic,{day},10:30,{'x' * 30_000},",
        f"E9,123456,Cardiology Clinic,{day},10:45,Dr. Lee,",
    ), encoding="utf-8")
    report = appointments.import_csv(desk, ann, path)
    assert [str(r) for r in report.rejects] == [
        "line 2: clinic: contains the control character U+001B at position 0: remove it",
        "line 3: provider: contains the control character U+0000 at position 4: remove it",
        "line 4: appointment_id: contains the control character U+202E at position 2: remove it",
        "line 5: clinic: contains the control character U+007F at position 6: remove it",
        "line 6: clinic: contains the control character U+009B at position 6: remove it",
        'line 7: date: "0001-01-01" is not between 1900-01-01 and 2100-12-31: check the year',
        'line 8: date: "9999-12-31" is not between 1900-01-01 and 2100-12-31: check the year',
        "line 9: provider: 30,000 characters, at most 200 allowed: shorten it",
    ]
    assert [a.external_id for a in Appointment.select()] == ["E9"]
    assert [i.mrn for i in pulllist.pick_list(desk, ann, TOMORROW).items] == ["123456"]
    result = run_cli("appointments", "import", str(path), home=desk.config.home)
    assert result.returncode == 1 and "line 2: clinic: contains the control character U+001B" in result.stderr
    assert not any(c in result.stderr + result.stdout for c in "\x1b\x00\x07\u202e\x7f\x9b")


def test_a_bad_header_imports_nothing(desk_room):
    desk, ann, _, _ = desk_room
    report = appointments.import_csv(desk, ann, f"appointment_id,mrn,clinic,date,tme,statsu\n"
                                                f"C1,123456,Cardiology Clinic,{TOMORROW.isoformat()},09:00,booked\n")
    assert len(report.rejects) == 1 and report.rejects[0].line == 1
    assert "missing time" in report.rejects[0].reason and "unknown tme, statsu" in report.rejects[0].reason
    assert Appointment.select().count() == 0
    empty = appointments.import_csv(desk, ann, "\n\n,\n")
    assert [r.line for r in empty.rejects] == [1] and "empty" in empty.rejects[0].reason
    with pytest.raises(DeskError, match="no file"):
        appointments.import_csv(desk, ann, "missing.csv")


def test_patients_are_found_by_exact_mrn_through_the_blind_index(desk_room):
    desk, _, _, ids = desk_room
    found = registry.by_mrn(desk, ["0072248", "123456", "12345", "999999"])
    assert {k: p.id for k, p in found.items()} == {"72248": ids["72248"], "123456": ids["123456"]}


# --- pick mode ------------------------------------------------------------------------------------


@pytest.fixture
def clinic_tomorrow(desk_room):
    desk, ann, sue, ids = desk_room
    day = TOMORROW.isoformat()
    appointments.import_csv(desk, ann, _csv(
        f"P1,123456,Cardiology Clinic,{day},09:00,,",
        f"P2,72248,Cardiology Clinic,{day},10:00,,",
        f"P3,993412,Dermatology Clinic,{day},08:00,,",
        f"P4,660034,Cardiology Clinic,{day},11:00,,",
        f"P5,660034,Cardiology Clinic,{TODAY.isoformat()},07:00,,",  # today: not on tomorrow's list
    ))
    for mrn in MRNS[:3]:  # 660034 has no paper chart on record yet
        tracking.volume_for(desk, ids[mrn])
    return desk, ann, sue, ids


def test_pick_walks_the_list_in_shelf_order_and_charges_charts_out(clinic_tomorrow):
    desk, ann, _, ids = clinic_tomorrow
    picks = pulllist.pick_list(desk, ann, TOMORROW)
    assert [(i.shelf, i.external_id, i.state, i.chart) for i in picks.items] == [
        ("12-34-99", "P3", "pending", "in"), ("34-00-66", "P4", "pending", "none"),
        ("48-22-07", "P2", "pending", "in"), ("56-34-12", "P1", "pending", "in")]
    first = picks.next_pending()
    pulllist.pick(desk, ann, first)  # one keystroke
    assert (first.state, picks.next_pending().shelf) == ("pulled", "34-00-66")
    volume = tracking.volume_for(desk, ids["993412"])
    due = TOMORROW + datetime.timedelta(days=desk.config.pull_list.due_back_days)
    assert (volume.status, volume.current.name, volume.current.kind, volume.due_back_on) == (
        "out", "Dermatology Clinic", "clinic", due)  # a clinic new to the desk is added as a location
    pulllist.pick(desk, ann, picks.next_pending())  # no paper chart on record: volume 1 is opened and charged out
    assert tracking.volume_for(desk, ids["660034"], create=False).current.code == "CARD"
    with pytest.raises(DeskError, match="already pulled"):
        pulllist.pick(desk, ann, first)
    assert str(picks.tally()) == "2 pulled, 0 not fillable, 2 to go of 4 (50% filled)"
    reopened = pulllist.pick_list(desk, ann, TOMORROW)  # the state is kept
    assert [i.state for i in reopened.items] == ["pulled", "pulled", "pending", "pending"]
    assert PullItem.select().count() == 2


def test_a_barcode_wand_picks_several_charts_in_a_row(clinic_tomorrow):
    desk, ann, _, _ = clinic_tomorrow
    picks = pulllist.pick_list(desk, ann, TOMORROW)
    before = (head(), ChartMovement.select().count())
    wrong = pulllist.pick_by_mrn(desk, ann, picks, "555555\n")
    assert not wrong.ok and wrong.message == "MRN 555555 is not on this pull list: check the label, put the chart aside"
    garbage = pulllist.pick_by_mrn(desk, ann, picks, "12AB\n")
    assert not garbage.ok and "is not an MRN" in garbage.message
    assert (head(), ChartMovement.select().count()) == before  # nothing changed
    results = [pulllist.pick_by_mrn(desk, ann, picks, typed)
               for typed in ("0072248\n", " 123456 \r\n", "*MRN993412*")]
    assert [r.ok for r in results] == [True, True, True]
    assert results[0].message == ("48-22-07 pulled for Cardiology Clinic 10:00 "
                                  "(1 pulled, 0 not fillable, 3 to go of 4 (25% filled))")
    again = pulllist.pick_by_mrn(desk, ann, picks, "72248")
    assert not again.ok and again.message == "48-22-07 is already pulled for Cardiology Clinic"
    burst = pulllist.pick_scanned(desk, ann, picks, "660034\n\n555555\n")
    assert [r.ok for r in burst] == [True, False]
    assert picks.tally() == pulllist.Tally(pulled=4, not_fillable=0, pending=0, total=4)
    assert picks.fill_rate == 1.0 and picks.next_pending() is None
    assert ChartVolume.select().where(ChartVolume.status == "out").count() == 4


def test_two_visits_in_a_day_share_one_pulled_chart(clinic_tomorrow):
    desk, ann, _, _ = clinic_tomorrow
    appointments.import_csv(desk, ann, _csv(f"P6,123456,Orthopedics Clinic,{TOMORROW.isoformat()},14:00,,"))
    picks = pulllist.pick_list(desk, ann, TOMORROW)
    assert [(i.shelf, i.time[11:]) for i in picks.for_mrn("123456")] == [("56-34-12", "09:00"), ("56-34-12", "14:00")]
    first, second = (pulllist.pick_by_mrn(desk, ann, picks, "123456\n") for _ in range(2))
    assert first.ok and first.item.external_id == "P1"
    assert second.ok and second.item.external_id == "P6" and ", goes on from CARD (" in second.message
    assert ChartMovement.select().count() == 1 and PullItem.select().count() == 2
    assert not pulllist.pick_by_mrn(desk, ann, picks, "123456").ok  # both pulled now


def test_a_chart_that_cannot_be_found_is_not_fillable_with_a_reason(clinic_tomorrow):
    desk, ann, _, ids = clinic_tomorrow
    tracking.charge_out(desk, ann, tracking.chart_status(desk, ids["72248"]), "ORTHO", TOMORROW)
    picks = pulllist.pick_list(desk, ann, TOMORROW)
    item = picks.for_mrn("72248")[0]
    refused = pulllist.pick_by_mrn(desk, ann, picks, "72248")
    assert not refused.ok and refused.message.startswith("chart 48-22-07 is out to ORTHO")
    assert item.state == "pending" and PullItem.select().count() == 0
    with pytest.raises(DeskError, match="say why"):
        pulllist.not_fillable(desk, ann, item, " ")
    pulllist.not_fillable(desk, ann, item, "out to another borrower")
    row = PullItem.get()
    assert (row.status, row.reason, row.by_user.name) == ("not_fillable", "out to another borrower", "ann")
    assert picks.tally() == pulllist.Tally(pulled=0, not_fillable=1, pending=3, total=4)
    tracking.check_in(desk, ann, tracking.chart_status(desk, ids["72248"]))  # it came back after all
    pulllist.pick(desk, ann, item)
    assert PullItem.get().status == "pulled" and picks.tally().not_fillable == 0
    with pytest.raises(DeskError, match="already pulled"):
        pulllist.not_fillable(desk, ann, item, "not on the shelf")



def test_a_typed_reason_goes_only_to_the_encrypted_audit_details_never_a_plain_column(clinic_tomorrow):
    desk, ann, _, ids = clinic_tomorrow
    picks = pulllist.pick_list(desk, ann, TOMORROW)
    typed = "Doe0 took it home, see Dr. Patel"  # a clerk's own words may name people
    with pytest.raises(DeskError, match="say why"):
        pulllist.not_fillable(desk, ann, picks.for_mrn("123456")[0], "other", " ")
    item = pulllist.not_fillable(desk, ann, picks.for_mrn("123456")[0], "other", typed)
    assert (item.state, item.reason, item.reason_shown) == ("not_fillable", "other", typed)
    pulllist.not_fillable(desk, ann, picks.for_mrn("72248")[0], "not on the shelf")
    pulllist.not_fillable(desk, ann, picks.for_mrn("993412")[0], "in the coder's tray")  # free text alone: other
    rows = {r.appointment.external_id: r.reason for r in PullItem.select()}
    assert rows == {"P1": "other", "P2": "not on the shelf", "P3": "other"}
    plain = [str(v) for r in PullItem.select().dicts() for v in r.values()]
    assert not any("Patel" in v or "coder" in v for v in plain)
    events = AuditEvent.select().where(AuditEvent.action == "pull_list.not_fillable").order_by(AuditEvent.seq)
    assert [audit.details(desk, e) for e in events] == [
        {"reason": "other", "text": typed}, {"reason": "not on the shelf"},
        {"reason": "other", "text": "in the coder's tray"}]
    assert not any("Patel" in f"{e.object} {e.patient}" for e in events)
    reopened = pulllist.pick_list(desk, ann, TOMORROW)  # the typed words come back from the audit trail
    assert {i.external_id: (i.reason, i.reason_shown) for i in reopened.items if i.state == "not_fillable"} == {
        "P1": ("other", typed), "P2": ("not on the shelf", "not on the shelf"), "P3": ("other", "in the coder's tray")}
    with pytest.raises(DeskError, match="already marked not fillable"):
        pulllist.not_fillable(desk, ann, reopened.for_mrn("123456")[0], "other", typed)
    pulllist.not_fillable(desk, ann, reopened.for_mrn("123456")[0], "other", "in the scanner queue")
    assert pulllist.pick_list(desk, ann, TOMORROW).for_mrn("123456")[0].reason_shown == "in the scanner queue"


def test_the_printed_pull_list_names_its_patients_in_the_audit_trail_like_the_pick_list(clinic_tomorrow):
    desk, ann, _, ids = clinic_tomorrow
    items = pulllist.build(desk, ann, TOMORROW)  # the CLI's `pull-list` prints this
    (printed,) = AuditEvent.select().where(AuditEvent.action == "pull_list.print")
    uuids = sorted(Patient.get_by_id(ids[m]).uuid for m in MRNS)
    assert len(items) == 4
    assert audit.details(desk, printed) == {"from": TOMORROW.isoformat(), "days": 1, "charts": 4, "patients": uuids}
    pulllist.pick_list(desk, ann, TOMORROW)
    (opened,) = AuditEvent.select().where(AuditEvent.action == "pull_list.open")
    assert audit.details(desk, opened)["patients"] == uuids


def test_pull_list_and_chart_rows_carry_the_patients_name_and_each_view_of_it_is_audited(clinic_tomorrow):
    """A clerk checks the folder label against the name: the rows carry it, decrypted, and the view is audited."""
    desk, ann, _, ids = clinic_tomorrow
    picks = pulllist.pick_list(desk, ann, TOMORROW)
    assert {i.mrn: i.name for i in picks.items} == {"993412": "DOE2, Jo", "660034": "DOE3, Jo", "72248": "DOE1, Jo",
                                                    "123456": "DOE0, Jo"}
    assert [i.name for i in pulllist.build(desk, ann, TOMORROW)] == ["DOE2, Jo", "DOE3, Jo", "DOE1, Jo", "DOE0, Jo"]
    (opened,) = AuditEvent.select().where(AuditEvent.action == "pull_list.open")
    assert Patient.get_by_id(ids["72248"]).uuid in audit.details(desk, opened)["patients"]

    before = head()
    looked = tracking.find_chart(desk, ann, "0072248")
    assert (looked.mrn, looked.name) == ("72248", "DOE1, Jo")
    assert actions(before) == ["chart.look"]
    (look,) = AuditEvent.select().where(AuditEvent.seq > before)
    assert look.patient == Patient.get_by_id(ids["72248"]).uuid
    before = head()
    moved = tracking.charge_out(desk, ann, looked, "CARD", TOMORROW)
    assert moved.name == "DOE1, Jo" and actions(before) == ["chart.charge_out"]
    before = head()
    assert tracking.scan_in(desk, ann, "72248").chart.name == "DOE1, Jo"
    assert actions(before) == ["chart.look", "chart.check_in"]
    assert tracking.find_chart(desk, ann, "660034").name == "DOE3, Jo"  # no paper chart yet: the name all the same


def test_a_cancellation_after_the_list_was_opened_is_caught(clinic_tomorrow):
    desk, ann, _, _ = clinic_tomorrow
    picks = pulllist.pick_list(desk, ann, TOMORROW)
    appointments.import_csv(desk, ann, _csv(f"P1,123456,Cardiology Clinic,{TOMORROW.isoformat()},09:00,,cancelled"))
    with pytest.raises(DeskError, match="was cancelled since the list was opened"):
        pulllist.pick(desk, ann, picks.for_mrn("123456")[0])
    assert ChartMovement.select().count() == 0 and PullItem.select().count() == 0
    assert [i.mrn for i in pulllist.pick_list(desk, ann, TOMORROW).items] == ["993412", "660034", "72248"]


def test_supervisors_change_nothing(clinic_tomorrow):
    desk, ann, sue, ids = clinic_tomorrow
    chart = tracking.chart_status(desk, ids["123456"])
    picks = pulllist.pick_list(desk, sue, TOMORROW)  # a supervisor may look at the list
    before = (head(), ChartMovement.select().count(), PullItem.select().count(), Appointment.select().count())
    for attempt in (
        lambda: tracking.charge_out(desk, sue, chart, "CARD", TOMORROW),
        lambda: tracking.transfer(desk, sue, chart, "OFFSITE"),
        lambda: tracking.mark_missing(desk, sue, chart, "gone"),
        lambda: tracking.volume_for(desk, ids["660034"], actor=sue),
        lambda: tracking.ensure_location(desk, sue, "NEW", "New clinic"),
        lambda: appointments.import_csv(desk, sue, _csv(f"S1,123456,Cardiology Clinic,{TOMORROW},09:00,,")),
        lambda: pulllist.pick(desk, sue, picks.items[0]),
        lambda: pulllist.pick_by_mrn(desk, sue, picks, "123456"),
        lambda: pulllist.not_fillable(desk, sue, picks.items[0], "not on the shelf"),
    ):
        with pytest.raises(AccessDenied, match="sue is a supervisor"):
            attempt()
    assert (head(), ChartMovement.select().count(), PullItem.select().count(), Appointment.select().count()) == before
    chart = tracking.charge_out(desk, ann, chart, "CARD", TOMORROW)
    with pytest.raises(AccessDenied, match="sue is a supervisor"):
        tracking.check_in(desk, sue, chart)
    assert tracking.chart_status(desk, ids["123456"]).status == "out"
    assert [i.state for i in picks.items] == ["pending"] * 4


def test_a_read_only_supervisor_session_looks_and_is_audited(clinic_tomorrow):
    desk, ann, _, ids = clinic_tomorrow
    volume = tracking.charge_out(desk, ann, tracking.chart_status(desk, ids["123456"]), "CARD", TOMORROW)
    home = desk.config.home
    desk.close()
    with Desk.open(home, readonly=True) as ro:
        sue = ro.sign_on("sue")
        before = head()
        assert len(pulllist.pick_list(ro, sue, TOMORROW).items) == 4
        assert [m.kind for m in tracking.history(ro, sue, volume.volume_uuid)] == ["charge_out"]
        assert reports.overdue(ro, sue, as_of=TOMORROW + datetime.timedelta(days=1))[0]["shelf"] == "56-34-12"
        with pytest.raises(AccessDenied):
            tracking.check_in(ro, ro.sign_on("sue"), volume)
        assert [e.user_name for e in AuditEvent.select().where(AuditEvent.seq > before)] == ["sue"] * 3
        assert audit.verify(ro).intact


# --- reports --------------------------------------------------------------------------------------


def test_reports_overdue_missing_by_borrower_and_fill_rate(clinic_tomorrow):
    desk, ann, sue, ids = clinic_tomorrow
    picks = pulllist.pick_list(desk, ann, TOMORROW)
    pulllist.pick_by_mrn(desk, ann, picks, "993412")
    pulllist.pick_by_mrn(desk, ann, picks, "123456")
    pulllist.not_fillable(desk, ann, picks.for_mrn("72248")[0], "not on the shelf")
    tracking.mark_missing(desk, ann, tracking.chart_status(desk, ids["72248"]), "searched the file room")
    later = TOMORROW + datetime.timedelta(days=5)

    before = head()
    overdue = reports.overdue(desk, sue, as_of=later)
    assert [(r["shelf"], r["location"], r["days_overdue"]) for r in overdue] == [
        ("12-34-99", "DERMATOLOGY-CLINIC", 4), ("56-34-12", "CARD", 4)]
    assert reports.overdue(desk, sue) == []
    missing = reports.missing(desk, sue)
    assert [(r["mrn"], r["shelf"], r["location"]) for r in missing] == [("72248", "48-22-07", "MAIN")]
    assert "name" not in missing[0] and "last" not in missing[0]
    report_events = list(AuditEvent.select().where((AuditEvent.seq > before) & (AuditEvent.action == "chart.report")))
    assert len(report_events) == 3 and report_events[0].user_name == "sue"
    assert set(audit.details(desk, report_events[0])["patients"]) == {Patient.get_by_id(ids[m]).uuid
                                                                      for m in ("993412", "123456")}
    assert reports.by_borrower(desk, sue, as_of=later) == [
        {"location": "CARD", "name": "Cardiology Clinic", "kind": "clinic", "person": "", "charts": 1, "overdue": 1},
        {"location": "DERMATOLOGY-CLINIC", "name": "Dermatology Clinic", "kind": "clinic", "person": "",
         "charts": 1, "overdue": 1}]
    rate = reports.fill_rate(desk, sue, TODAY, TOMORROW)
    assert rate["days"] == [
        {"date": TODAY, "wanted": 1, "pulled": 0, "not_fillable": 0, "pending": 1, "fill_rate": 0.0},
        {"date": TOMORROW, "wanted": 4, "pulled": 2, "not_fillable": 1, "pending": 1, "fill_rate": 0.5}]
    assert rate["total"] == {"wanted": 5, "pulled": 2, "not_fillable": 1, "pending": 2, "fill_rate": 0.4}
    with pytest.raises(DeskError, match="before it starts"):
        reports.fill_rate(desk, sue, TOMORROW, TODAY)
    assert ChartLocation.get(ChartLocation.code == "DERMATOLOGY-CLINIC").kind == "clinic"




# --- what screens are handed ----------------------------------------------------------------------

PAPER_SCREENS = ("screens/tracking.py", "screens/pulllist.py", "screens/dialogs/stop.py", "screens/dialogs/history.py")


def _screen_calls() -> set[str]:
    """The paper service functions the paper screens call (tracking.x, pulllist.x, appointments.x)."""
    modules = {"tracking": tracking, "pulllist": pulllist, "appointments": appointments}
    used = set()
    for path in PAPER_SCREENS:
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                    and inspect.isfunction(getattr(modules[node.value.id], node.attr, None))):
                used.add(f"{node.value.id}.{node.attr}")
    return used


def _rows_in(value, path: str) -> list[str]:
    """Where an ORM row sits in a service's result: dataclass fields, recdesk objects, lists, tuples and dicts."""
    if isinstance(value, peewee.Model):
        return [f"{path}: a {type(value).__name__} row"]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif type(value).__module__.startswith("recdesk.") and hasattr(value, "__dict__"):
        parts = vars(value)
    elif isinstance(value, dict):
        parts = {repr(k): v for k, v in value.items()}
    elif isinstance(value, (list, tuple, set, frozenset)):
        parts = {str(n): v for n, v in enumerate(value)}
    else:
        return []
    return [row for name, part in parts.items() for row in _rows_in(part, f"{path}.{name}")]


def test_paper_screens_are_handed_plain_views_never_orm_rows(clinic_tomorrow):
    desk, ann, _, ids = clinic_tomorrow
    assert _rows_in({"x": [tracking.volume_for(desk, ids["123456"])]}, "probe") == ["probe.'x'.0: a ChartVolume row"]
    got: dict[str, object] = {}
    got["appointments.import_csv"] = appointments.import_csv(
        desk, ann, _csv(f"P7,123456,Orthopedics Clinic,{TOMORROW.isoformat()},15:00,,"))
    picks = got["pulllist.pick_list"] = pulllist.pick_list(desk, ann, TOMORROW)
    got["pulllist.pick"] = pulllist.pick(desk, ann, picks.for_mrn("993412")[0])
    got["pulllist.pick_by_mrn"] = pulllist.pick_by_mrn(desk, ann, picks, "660034")  # opens volume 1
    got["pulllist.not_fillable"] = pulllist.not_fillable(desk, ann, picks.for_mrn("72248")[0], "not on the shelf")
    got["pulllist.printout"] = pulllist.printout(desk, ann, picks)
    got["tracking.locations"] = tracking.locations(desk)
    chart = got["tracking.find_chart"] = tracking.find_chart(desk, ann, "123456")
    chart = got["tracking.charge_out"] = tracking.charge_out(desk, ann, chart, "CARD", TOMORROW, "Dr. Patel")
    chart = got["tracking.transfer"] = tracking.transfer(desk, ann, chart, "ORTHO")
    done = got["tracking.check_in"] = tracking.check_in(desk, ann, chart, at=datetime.datetime.now())
    chart = got["tracking.mark_missing"] = tracking.mark_missing(desk, ann, done.chart, "not on shelf 56-34")
    got["tracking.scan_in"] = tracking.scan_in(desk, ann, "*MRN123456*", "MAIN")
    got["tracking.history"] = tracking.history(desk, ann, chart)
    assert set(got) == _screen_calls()  # a new call from a paper screen is checked here too
    assert [row for name, value in got.items() for row in _rows_in(value, name)] == []
    assert done.warnings and got["tracking.history"]  # the views carry what the screens show
