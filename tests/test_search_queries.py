"""The query forms of issue 13: dates of birth in a clerk's spellings, last first without the comma, a middle
initial, a phone without its area code (a new blind-index kind, backfilled by reindex), and counts in words."""

import datetime

import pytest

from recdesk import clock
from recdesk.errors import DeskError
from recdesk.patients import registry, search
from recdesk.patients.registry import PatientDetails, register
from recdesk.vault.blindindex import INDEX_VERSION, KINDS
from recdesk.vault.models import DeskInfo, PatientToken

TODAY = datetime.date(2026, 3, 1)

PEOPLE = [
    PatientDetails(mrn="100234", last="Smith", first="John", dob=datetime.date(1962, 3, 4), sex="M",
                   ssn_last4="1234", phone="(512) 555-0142"),
    PatientDetails(mrn="100235", last="Smith", first="John", middle="Allen", dob=datetime.date(1936, 2, 16),
                   sex="M", ssn_last4="5678", phone="(512) 555-0164"),
    PatientDetails(mrn="100236", last="Smith", first="John", middle="Bruce", dob=datetime.date(1990, 7, 8),
                   sex="M", ssn_last4="9012", phone="512-555-0199"),
    PatientDetails(mrn="100237", last="Smith", first="Mary Ann", dob=datetime.date(1955, 5, 5), sex="F"),
    PatientDetails(mrn="13860540", last="de la Cruz", first="María", dob=datetime.date(2026, 2, 16), sex="F",
                   phone="555-0177"),
    PatientDetails(mrn="200400", last="Xu", first="Pat", dob=datetime.date(1980, 1, 2), sex="X"),
]


@pytest.fixture
def desk(desk_and_manager, monkeypatch):
    desk, actor = desk_and_manager
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    for p in PEOPLE:
        register(desk, actor, p)
    return desk


def mrns(desk, query):
    return [h.patient.mrn for h in search.find(desk, query)]


@pytest.mark.parametrize("query", ["2/16/36", "02/16/1936", "Feb 16 1936", "16 Feb 1936", "February 16, 1936",
                                   "feb 16, 36", "16-Feb-1936", "1936/02/16", "1936-02-16", "02-16-1936",
                                   "02161936", "19360216", " 2/16/36 "])
def test_every_spelling_of_a_1936_birthday_finds_the_patient(desk, query):
    assert mrns(desk, query) == ["100235"]


def test_a_two_digit_year_is_the_latest_year_not_after_today(desk):
    assert mrns(desk, "2/16/26") == ["13860540"]  # born a fortnight ago: 2026
    assert search.parse_date("2/16/36", TODAY) == datetime.date(1936, 2, 16)  # never 2036
    assert search.parse_date("3/1/26", TODAY) == datetime.date(2026, 3, 1)  # born today
    assert search.parse_date("3/2/26", TODAY) == datetime.date(1926, 3, 2)  # tomorrow's would be the future


@pytest.mark.parametrize("query,said", [
    ("13/45/2025", "13/45/2025 is not a date: type month/day/year"),
    ("Feb 30 1936", "Feb 30 1936 is not a date"),
    ("2/29/25", "2/29/25 is not a date"),
    ("1936-13-01", "1936-13-01 is not a date"),
    ("Smarch 3 1999", "no month is called 'Smarch'"),
    ("1/1/2030", "1/1/2030 is after today"),
    ("2/16/193", "2/16/193 is not a date"),  # half typed: never "nothing to search" or "two letters"
    ("12/34", "12/34 is not a date"),
])
def test_a_date_that_is_no_date_of_birth_says_what_to_type(desk, query, said):
    with pytest.raises(DeskError) as caught:
        search.find(desk, query)
    message = str(caught.value)
    assert said in message and "\n" not in message and "two letters" not in message


@pytest.mark.parametrize("query,expected", [
    ("13860540", ["13860540"]),  # eight digits that are no date: the MRN, never "not a date"
    ("100235", ["100235"]),
    ("5678", ["100235"]),
    ("S5678", ["100235"]),
    ("X5678", []),
    ("(512) 555-0164", ["100235"]),
    ("5125550164", ["100235"]),
    ("12-34-56", []),  # a terminal-digit MRN as written on a folder is a number, not a bad date
])
def test_the_other_query_kinds_still_read_as_before(desk, query, expected):
    assert mrns(desk, query) == expected


@pytest.mark.parametrize("query", ["555-0164", "5550164", "555 0164", "555.0164"])
def test_a_phone_without_its_area_code_finds_by_the_local_number(desk, query):
    assert mrns(desk, query) == ["100235"]


def test_a_phone_stored_without_area_code_is_found_either_way(desk):
    assert mrns(desk, "555-0177") == ["13860540"]


def test_a_space_between_two_words_means_last_first(desk):
    assert mrns(desk, "smith john") == mrns(desk, "smith,john")
    assert set(mrns(desk, "smith john")) == {"100234", "100235", "100236"}
    assert {h.match for h in search.find(desk, "smith john")} == {"exact"}
    assert mrns(desk, "SMITH   JO") == mrns(desk, "smith,jo")


@pytest.mark.parametrize("query", ["smith,john a", "smith john a", "Smith, John A.", "smith john allen"])
def test_a_middle_initial_narrows_where_the_middle_name_is_known(desk, query):
    # John Allen Smith first; John Smith with no middle name on file still found (after him); John Bruce
    # Smith, whose middle name on file is another, is not.
    assert mrns(desk, query) == ["100235", "100234"]


def test_a_first_name_with_a_space_is_not_taken_for_a_middle_name(desk):
    assert mrns(desk, "smith,mary ann") == ["100237"]
    assert mrns(desk, "smith mary ann") == ["100237"]


def test_several_words_may_be_one_last_name(desk):
    assert mrns(desk, "de la cruz") == ["13860540"]
    assert mrns(desk, "de la cruz,maria") == ["13860540"]
    assert mrns(desk, "de la cr") == ["13860540"]


def test_nonsense_is_searched_only_where_letters_are_and_said_to_be_guesses(desk):
    hits = search.find(desk, "xqzzy!!##")
    assert [(h.patient.last, h.match) for h in hits] == [("Xu", "phonetic")]
    assert search.summary(hits) == "no exact match; 1 sound-alike guess (~)"


@pytest.mark.parametrize("query", ["!!##", "😀", "()!", "#"])
def test_a_query_with_nothing_to_search_says_what_to_type(desk, query):
    with pytest.raises(DeskError) as caught:
        search.find(desk, query)
    assert "type a name (smith,jo)" in str(caught.value)


def test_counts_are_said_in_words(desk):
    assert search.summary([]) == "no match"
    assert search.summary(search.find(desk, "100234")) == "1 match"
    assert search.summary(search.find(desk, "smith,john")) == "3 matches"
    assert search.summary(search.find(desk, "100234"), exhausted=False) == "1+ matches"
    mixed = search.find(desk, "smith,john") + search.find(desk, "xqzzy")
    assert search.summary(mixed) == "3 matches and 1 sound-alike guess (~)"
    assert search.summary(mixed + search.find(desk, "xqzzy")) == "3 matches and 2 sound-alike guesses (~)"


def test_register_writes_the_local_phone_kind(desk):
    kind = KINDS["phone_local"][0]
    with_phone = sum(1 for p in PEOPLE if p.phone)
    assert PatientToken.select().where(PatientToken.kind == kind).count() == with_phone


def test_reindex_backfills_the_local_phone_kind_on_an_older_desk(desk_and_manager, desk):
    _, manager = desk_and_manager
    kind = KINDS["phone_local"][0]
    # A desk from before the kind: its tokens lack it and the desk says it is at version 2.
    PatientToken.delete().where(PatientToken.kind == kind).execute()
    DeskInfo.update(index_version=2).execute()
    desk.index_version = 2
    assert mrns(desk, "555-0177") == ["13860540"]  # stored as 7 digits: the old phone kind still finds it
    assert mrns(desk, "555-0164") == []  # stored with its area code: needs the new kind
    assert registry.reindex(desk, manager) == len(PEOPLE)
    assert desk.index_version == INDEX_VERSION == DeskInfo.get().index_version == 3
    assert PatientToken.select().where(PatientToken.kind == kind).count() == sum(1 for p in PEOPLE if p.phone)
    assert mrns(desk, "555-0164") == ["100235"]
    assert registry.reindex(desk, manager) == 0  # nothing left to add
