"""Terminal-digit filing (RULES F1) and pull lists in shelf order."""

import datetime
import json

import pytest

from recdesk.errors import DeskError
from recdesk.paper import pulllist, shelf
from recdesk.patients.registry import PatientDetails, register
from recdesk.vault.models import Appointment, ChartLocation, ChartVolume, Patient
from tests.conftest import run_cli


@pytest.mark.parametrize("mrn,key,address", [
    ("123456", (56, 34, 12), "56-34-12"),
    ("72248", (48, 22, 7), "48-22-07"),  # left-padded to 072248
    ("5", (5, 0, 0), "05-00-00"),
    ("12345678", (78, 56, 1234), "78-56-1234"),  # extra leading digits join the tertiary group
    ("00123456", (56, 34, 12), "56-34-0012"),
])
def test_terminal_digit_keys_and_shelf_addresses(mrn, key, address):
    assert shelf.terminal_digit_key(mrn) == key
    assert shelf.address(mrn) == address


def test_terminal_digit_order_is_the_rules_example():
    written = ["45-49-99", "60-49-99", "44-50-99", "45-50-99", "44-51-99"]  # TT-SS-PP, in filing order
    mrns = [w.replace("-", "") for w in written]
    assert sorted(reversed(mrns), key=shelf.terminal_digit_key) == mrns


def test_middle_digit_and_straight_numeric():
    assert shelf.middle_digit_key("123456") == (34, 12, 56)
    assert shelf.address("123456", "middle") == "34-12-56"
    straight = sorted(["200001", "100002", "99"], key=lambda m: shelf.sort_key(m, "straight"))
    assert straight == ["99", "100002", "200001"]
    with pytest.raises(DeskError, match="numeric"):
        shelf.address("ABC")


@pytest.fixture
def clinic_day(desk_and_manager):
    desk, manager = desk_and_manager
    day = datetime.date(2026, 11, 27)
    main = ChartLocation.create(code="MAIN", name="Main file room", kind="file_room")
    for n, (mrn, hour, status) in enumerate([("123456", 9, "booked"), ("72248", 10, "booked"),
                                             ("660034", 11, "cancelled"), ("993412", 8, "booked")]):
        pid = register(desk, manager, PatientDetails(mrn=mrn, last=f"Doe{chr(97 + n)}", first="Jo",
                                                     dob=datetime.date(1970, 1, 1)))
        Appointment.create(patient=pid, clinic="Cardiology Clinic", status=status,
                           at=datetime.datetime.combine(day, datetime.time(hour)))
        ChartVolume.create(patient=pid, home=main, current=main, status="out" if mrn == "72248" else "in")
    Appointment.create(patient=Patient.get().id, clinic="Ortho", at=datetime.datetime(2026, 11, 30, 9))
    return desk, manager, day


def test_pull_list_is_in_shelf_order_and_follows_cancellations(clinic_day):
    desk, manager, day = clinic_day
    items = pulllist.build(desk, manager, day)
    assert [(i.mrn, i.shelf, i.status) for i in items] == [
        ("993412", "12-34-99", "in"), ("72248", "48-22-07", "out"), ("123456", "56-34-12", "in")]
    assert items[0].as_row() == {"mrn": "993412", "shelf": "12-34-99", "clinic": "Cardiology Clinic",
                                 "time": "2026-11-27T08:00", "status": "in"}
    assert len(pulllist.build(desk, manager, day, days=4)) == 4


def test_pull_list_cli_contract(clinic_day):
    desk, _, day = clinic_day
    desk.config.save()
    rows = json.loads(run_cli("pull-list", "--date", day.isoformat(), "--json", home=desk.config.home,
                              check=True).stdout)
    assert [r["shelf"] for r in rows] == ["12-34-99", "48-22-07", "56-34-12"]
    assert set(rows[0]) == {"mrn", "shelf", "clinic", "time", "status"}
    bad = run_cli("pull-list", "--date", "27/11/2026", home=desk.config.home)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


@pytest.mark.parametrize("typed, mrn", [
    ("0072248\n", "72248"), (" 72248 ", "72248"), ("*MRN72248*", "72248"), ("mrn: 72248", "72248"),
    ("\u0667\u0662\u0662\u0664\u0668", None),  # Arabic-Indic digits: not what a wand types
    ("\uff17\uff12\uff12\uff14\uff18", None),  # fullwidth digits
    ("7" * 21, None),  # longer than any MRN: refused before it is echoed back whole
    ("", None), ("ABC", None),
])
def test_wand_input_is_ascii_digits_of_mrn_length(typed, mrn):
    assert shelf.read_wand(typed) == mrn
