"""Properties of the date-of-birth reading: any accepted spelling finds the patient; no parsed DOB is in the future."""

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recdesk import clock
from recdesk.errors import DeskError
from recdesk.patients import search
from recdesk.patients.registry import PatientDetails, register

MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December"]


def four_digit_spellings(d: datetime.date) -> list[str]:
    name = MONTH_NAMES[d.month - 1]
    return [
        d.isoformat(), f"{d.year}/{d.month:02}/{d.day:02}", f"{d.year}-{d.month}-{d.day}",
        f"{d.month:02}/{d.day:02}/{d.year}", f"{d.month}/{d.day}/{d.year}", f"{d.month:02}-{d.day:02}-{d.year}",
        f"{d.month:02}{d.day:02}{d.year}", f"{d.year}{d.month:02}{d.day:02}",
        f"{name[:3]} {d.day} {d.year}", f"{d.day} {name[:3]} {d.year}", f"{name} {d.day}, {d.year}",
        f"{d.day}-{name[:3].upper()}-{d.year}", f"{name.lower()} {d.day} {d.year}",
    ]


def two_digit_spellings(d: datetime.date) -> list[str]:
    yy = f"{d.year % 100:02}"
    return [f"{d.month}/{d.day}/{yy}", f"{d.month:02}/{d.day:02}/{yy}", f"{MONTH_NAMES[d.month - 1][:3]} {d.day} {yy}",
            f"{d.day} {MONTH_NAMES[d.month - 1]} {yy}"]


def spellings(d: datetime.date) -> list[str]:
    return four_digit_spellings(d) + two_digit_spellings(d)


todays = st.dates(min_value=datetime.date(1990, 1, 1), max_value=datetime.date(2090, 12, 31))


@given(today=todays, data=st.data())
def test_every_spelling_of_a_past_day_reads_back_to_that_day(today, data):
    dob = data.draw(st.dates(min_value=datetime.date(search.EARLIEST_BIRTH_YEAR, 1, 1), max_value=today))
    for text in four_digit_spellings(dob):
        assert search.parse_date(text, today) == dob, text
    # a two-digit year is the latest such year not after today: the day itself when it is under 100 years old
    for text in two_digit_spellings(dob):
        read = search.parse_date(text, today)
        assert read is not None and read <= today and (read.month, read.day, read.year % 100) == (
            dob.month, dob.day, dob.year % 100), text
        try:  # the latest: the same day a century on would be after today (or no day at all: Feb 29)
            assert datetime.date(read.year + 100, read.month, read.day) > today, text
        except ValueError:
            pass
        if dob > today - datetime.timedelta(days=99 * 365):
            assert read == dob, text


@given(today=todays, day=st.dates(min_value=datetime.date(1000, 1, 1), max_value=datetime.date(2999, 12, 31)))
def test_no_parsed_date_of_birth_is_in_the_future(today, day):
    for text in spellings(day):
        try:
            read = search.parse_date(text, today)
        except DeskError as exc:
            assert day > today and "after today" in str(exc) and "\n" not in str(exc), text
        else:
            assert read is None or read <= today, text


@given(text=st.text(alphabet="0123456789/- ,FebMayJunOct", max_size=14))
def test_any_text_parses_to_a_past_date_none_or_one_line(text):
    today = datetime.date(2026, 3, 1)
    try:
        read = search.parse_date(text, today)
    except DeskError as exc:
        assert "\n" not in str(exc) and "type month/day/year" in str(exc)
    else:
        assert read is None or read <= today


@pytest.fixture
def backend():
    return "sqlite"  # one registration per example: the service is the same on both backends


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dob=st.dates(min_value=clock.today() - datetime.timedelta(days=99 * 365), max_value=clock.today()))
def test_any_spelling_of_a_patients_dob_finds_the_patient(desk_and_manager, dob):
    desk, manager = desk_and_manager
    mrn = str(700000 + dob.toordinal() % 100000)
    register(desk, manager, PatientDetails(mrn=mrn, last="Birthday", first="Bea", dob=dob))
    for text in spellings(dob):
        assert mrn in [h.patient.mrn for h in search.find(desk, text, limit=1000, complete=True)], text
