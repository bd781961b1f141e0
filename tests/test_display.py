"""Strings from outside reach the clerk's terminal shown, never obeyed: the core rule and every CLI listing."""

import datetime
import json
import re
import sys
import unicodedata

import pytest

from recdesk import users
from recdesk.display import CONTROLS, FORBIDDEN, FORBIDDEN_IN_LINES, cleaned, shown
from recdesk.patients.registry import PatientDetails, register
from recdesk.vault import crypto
from recdesk.vault.models import Appointment, ChartLocation, ChartVolume, Patient, Provider, ReleaseRequest, User
from tests.conftest import run_cli
from tests.test_roi import form, log_request

# What an attacker with database access (or an old row, or a fax server's file name) can put in a field:
# clear the screen, set the window title, a C1 CSI, a right-to-left override and a bidi isolate.
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eEvil\u2066"
HOSTILE_SHOWN = "^[[2J^[]0;pwned^G<U+009B>31m<U+202E>Evil<U+2066>"
SHOWN_HEAD = "^[[2J^[]0;"  # what survives a listing's column cut (and a last name's upper-casing)
# Nothing a terminal would obey or that reorders text: C0 (tab and newline are checked per line), DEL, C1, bidi.
OBEYED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def test_escapes_show_in_caret_notation_and_other_controls_as_code_points():
    assert shown(HOSTILE) == HOSTILE_SHOWN
    assert shown("a\x7fb\x00c") == "a^?b^@c"
    assert shown("zero\u200bwidth\ufeff") == "zero<U+200B>width<U+FEFF>"
    assert shown("lone \udc80 surrogate") == "lone <U+DC80> surrogate"  # printable and encodable as UTF-8


def test_line_breaks_are_a_space_in_one_line_and_kept_in_lines():
    assert shown("Smith\tJo\nSecond\r\nThird\u2028x\x85y") == "Smith Jo Second  Third x y"
    assert shown("page one\r\npage\ttwo\x1b[H", lines=True) == "page one\npage two^[[H"


def test_plain_text_passes_unchanged_and_showing_twice_changes_nothing():
    for text in ("O'Brien-Núñez, José", "李 小龍", "Ærø Clinic ½ #3 [bold]x[/]", "e\u0301"):
        assert shown(text) == text
    assert shown(shown(HOSTILE)) == shown(HOSTILE)
    assert shown(42) == "42"


def test_every_control_and_format_character_of_unicode_is_made_visible():
    """The hand-kept class in CONTROLS is exactly Unicode's Cc, Cf, Cs, Zl and Zp (and unassigned code points)."""
    missed, extra = [], []
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        category = unicodedata.category(c)
        matched = CONTROLS.fullmatch(c) is not None
        if category in HIDDEN_CATEGORIES and not matched:
            missed.append(f"U+{code:04X}")
        elif matched and category not in HIDDEN_CATEGORIES | {"Cn"}:
            extra.append(f"U+{code:04X}")
    assert not missed and not extra
    for code in (*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        assert not OBEYED.search(shown(chr(code))), hex(code)


# --- the CLI over rows written straight into the database (no import validation on the way) ---------------


def seal_patient_field(desk, patient_id: int, column: str, value: str) -> None:
    p = Patient.get_by_id(patient_id)
    setattr(p, f"{column}_enc", crypto.seal(desk.dek(p), "patient", column, p.uuid, value))
    p.save()


@pytest.fixture
def hostile_desk(desk_and_manager):
    """A desk whose clinic, provider, patient, requester and user names all carry terminal escapes."""
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk", full_name="Ann Clerk")
    pid = register(desk, manager, PatientDetails(mrn="100234", last="Avery", first="Ann",
                                                 dob=datetime.date(1960, 1, 1)))
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    main = ChartLocation.create(code="MAIN", name="Main file room", kind="file_room")
    ward = ChartLocation.create(code="WARD", name=f"{HOSTILE}Ward", kind="department")
    ChartVolume.create(patient=pid, home=main, current=ward, status="out", borrower=f"{HOSTILE}Nurse",
                       due_back_on=datetime.date.today() - datetime.timedelta(days=3))
    provider = Provider.create(name=f"Dr {HOSTILE}")
    Appointment.create(patient=pid, clinic=f"{HOSTILE}Clinic", provider=provider,
                       at=datetime.datetime.combine(tomorrow, datetime.time(9)))
    ann = desk.sign_on("ann")
    (release,) = log_request(desk, ann, form())
    request = ReleaseRequest.get_by_id(release.request_id)
    request.requester_name_enc = crypto.seal(desk.desk_key, "release_request", "requester_name", request.uuid,
                                             f"{HOSTILE}Dewey LLP")
    request.save()
    seal_patient_field(desk, pid, "last", f"{HOSTILE}Avery")
    User.update(full_name=f"{HOSTILE}Ann").where(User.name == "ann").execute()
    desk.config.save()
    return desk, tomorrow


def _assert_shown_not_obeyed(result, *, expect_visible: bool = True) -> None:
    for stream in (result.stdout, result.stderr):
        assert not OBEYED.search(stream), repr(OBEYED.search(stream))
    if expect_visible:
        assert SHOWN_HEAD in result.stdout


@pytest.mark.parametrize("command", [
    ("pull-list", "--date", "{tomorrow}"),
    ("roi", "list"),
    ("search", "100234"),
    ("user", "list"),
])
def test_cli_listings_show_escapes_from_the_database_without_obeying_them(hostile_desk, command):
    desk, tomorrow = hostile_desk
    args = [a.format(tomorrow=tomorrow.isoformat()) for a in command]
    result = run_cli(*args, home=desk.config.home, check=True)
    _assert_shown_not_obeyed(result)


@pytest.mark.parametrize("section", ["charts", "borrowers"])
def test_cli_review_tables_show_escapes_without_obeying_them(hostile_desk, section):
    desk, _ = hostile_desk
    _assert_shown_not_obeyed(run_cli("review", section, home=desk.config.home, check=True))


@pytest.mark.parametrize("command,field", [
    (("pull-list", "--date", "{tomorrow}", "--json"), "clinic"),
    (("search", "100234", "--json"), "last"),
    (("user", "list", "--json"), "full_name"),
])
def test_cli_json_is_ascii_with_escapes_that_decode_to_the_stored_text(hostile_desk, command, field):
    desk, tomorrow = hostile_desk
    result = run_cli(*[a.format(tomorrow=tomorrow.isoformat()) for a in command], home=desk.config.home, check=True)
    assert result.stdout.isascii() and not OBEYED.search(result.stdout)
    assert any(HOSTILE in row[field] for row in json.loads(result.stdout))


def test_cli_errors_and_scan_reports_echo_names_made_visible(hostile_desk):
    desk, _ = hostile_desk
    inbox = desk.config.home / "inbox"
    inbox.mkdir(exist_ok=True)
    (inbox / f"fax{HOSTILE}.pdf").write_bytes(b"not a pdf at all")
    _assert_shown_not_obeyed(run_cli("intake", "scan", home=desk.config.home), expect_visible=False)
    bad = run_cli("pull-list", "--date", HOSTILE, home=desk.config.home)
    assert bad.returncode == 2
    _assert_shown_not_obeyed(bad, expect_visible=False)
    missing = run_cli("appointments", "import", f"{HOSTILE}.csv", home=desk.config.home)
    assert missing.returncode == 2 and f"cannot read {HOSTILE_SHOWN}.csv" in missing.stderr
    _assert_shown_not_obeyed(missing, expect_visible=False)


def test_what_input_may_not_hold_is_shown_when_met_and_only_newlines_survive_in_lines():
    """FORBIDDEN (shapes, config.toml, a typed search, a wand scan) is C0, DEL, C1, bidi embeddings, overrides and
    isolates, and lone surrogates: every one of them CONTROLS would show, and a joiner a name may need is not one."""
    forbidden = [chr(c) for c in range(sys.maxunicode + 1) if FORBIDDEN.fullmatch(chr(c))]
    assert forbidden == [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F),
                                          *range(0x2066, 0x206A), *range(0xD800, 0xE000))]
    assert all(CONTROLS.fullmatch(c) for c in forbidden)
    assert [c for c in forbidden if not FORBIDDEN_IN_LINES.fullmatch(c)] == ["\n"]
    assert not FORBIDDEN.search("Khosravi\u200cNejad \u200d")  # ZWNJ and ZWJ belong in some names
    assert cleaned(" \x1b[2JMRN 0072248\u202e\r\n") == "[2JMRN 0072248" and cleaned(None) == ""
