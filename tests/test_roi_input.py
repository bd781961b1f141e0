"""What `roi check` and `roi import` read: every field typed, bounded and free of control characters, refused with
its path (exit 2), never coerced into a verdict."""

import copy
import datetime
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recdesk.release import requests, rules
from recdesk.shapes import InputError
from tests.conftest import run_cli

TODAY = datetime.date.today().isoformat()


def full_contract() -> dict:
    """A releasable request with every field of the contract given (README, `recdesk roi check`)."""
    return {
        "as_of": "2026-11-26",
        "request": {
            "received": "2026-11-02", "requester_type": "attorney", "requester_name": "Dewey LLP", "purpose": "legal",
            "scope": {"from": "2025-01-01", "to": "2025-12-31", "doc_types": ["discharge_summary"],
                      "categories": ["mental_health"]},
            "legal_process": {"type": "subpoena_no_order", "assurance": "notice", "criminal": False,
                              "case": "Doe v. Roe", "case_number": "CV-2026-1", "dated": "2026-10-30"},
            "third_party": {"recipient": "Dr. Lee", "destination": "1 Main St\nAustin TX", "written": True,
                            "signed": True},
            "extension_notice_sent": None, "irb_waiver": False, "state": "TX",
        },
        "authorization": {
            "description": "Discharge summaries 2025", "discloser": "General Hospital", "recipient": "Dewey LLP",
            "purposes": ["legal claim"], "expiration": {"date": "2027-06-30"}, "is_research": False,
            "signed_on": "2026-10-20", "signature": "/s/ Jane Doe", "signer": "patient",
            "representative_authority": "", "categories": ["mental_health"], "combined_with_other": False,
            "conditioned": False, "revoked_on": None, "part2_consent": False,
            "statements": {"revocation": True, "conditioning": True, "redisclosure": True, "remuneration": False},
        },
    }


def full_import() -> dict:
    doc = full_contract()
    del doc["as_of"]
    auth = doc["authorization"]
    return {**doc, "patients": ["100234", "200345"], "authorizations": {"200345": copy.deepcopy(auth)},
            "requester_address": "1 Court St\nAustin TX 78701", "delivery": "paper",
            "authorization_scan": "0" * 32}


def leaves(value, path: str = ""):
    """(path, value) of every scalar and container in a document, in the validator's path spelling."""
    if path:
        yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for n, v in enumerate(value):
            yield from leaves(v, f"{path}[{n}]")


def set_at(doc: dict, path: str, value) -> dict:
    doc = copy.deepcopy(doc)
    target, parts = doc, path.replace("[", ".[").split(".")
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    last = parts[-1]
    if last.startswith("["):
        target[int(last[1:-1])] = value
    else:
        target[last] = value
    return doc


def wrong_values(value) -> list:
    """Values of another JSON type than `value` (null aside: it means absent)."""
    by_type = {bool: ["false", "true", 0, 1, "", []], str: [5, 0, True, False, 1.5, ["x"], {"x": 1}],
               list: ["x", {"a": 1}, True, 3], dict: ["x", [1], False, 2]}
    return by_type[type(value)]


def mutations(doc: dict):
    return st.sampled_from([(p, w) for p, v in leaves(doc) if v is not None for w in wrong_values(v)])


def test_both_documents_are_valid_as_given():
    assert rules.check_json(full_contract())["releasable"] is True
    form = requests.RequestForm.from_json(full_import())
    assert form.patients == ["100234", "200345"] and form.delivery == "paper"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations(full_contract()))
def test_roi_check_refuses_a_wrong_type_anywhere_by_its_path(mutation):
    path, wrong = mutation
    with pytest.raises(InputError) as caught:
        rules.check_json(set_at(full_contract(), path, wrong))
    assert caught.value.path == path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations(full_import()))
def test_roi_import_refuses_a_wrong_type_anywhere_by_its_path(mutation):
    path, wrong = mutation
    with pytest.raises(InputError) as caught:
        requests.RequestForm.from_json(set_at(full_import(), path, wrong))
    assert caught.value.path == path


def _strings(doc: dict) -> list[str]:
    return [p for p, v in leaves(doc) if isinstance(v, str)]


# Control characters, DEL, C1, bidi overrides and isolates, a lone surrogate.
FORBIDDEN = ["\x00", "\x07", "\x1b", "\t", "\r", "\x7f", "\x85", "\x9b", "\u202e", "\u2066", "\ud800"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_strings(full_contract())), st.sampled_from(FORBIDDEN), st.integers(0, 3))
def test_a_control_character_in_any_string_is_refused_by_its_path(path, char, at):
    doc = full_contract()
    value = dict(leaves(doc))[path]
    with pytest.raises(InputError) as caught:
        rules.check_json(set_at(doc, path, value[:at] + char + value[at:]))
    assert caught.value.path == path


@pytest.mark.parametrize("path", ["request.third_party.destination", "requester_address",
                                  "authorization.description"])
def test_free_text_over_several_lines_keeps_its_newlines_and_nothing_else(path):
    doc = set_at(full_import(), path, "1 Court St\nAustin TX")
    requests.RequestForm.from_json(doc)
    with pytest.raises(InputError, match=f"^{path}: contains the control character U\\+0009"):
        requests.RequestForm.from_json(set_at(full_import(), path, "1 Court St\n\tAustin TX"))


@pytest.mark.parametrize("path,value,message", [
    ("request.irb_waiver", "false", 'expected true or false, got "false": write it without quotes'),
    ("authorization.statements.revocation", "false", "expected true or false"),
    ("request.state", 5, "expected text in quotes, got 5"),
    ("request.state", "C4", '"C4" is not a two-letter state code'),
    ("request.requester_name", "x" * 201, "201 characters, at most 200 allowed"),
    ("request.requester_name", "\x1b[2J\x1b]0;pwned\x07Dewey", "contains the control character U\\+001B"),
    ("request.received", "9999-12-31", '"9999-12-31" is not between 1900-01-01 and 2100-12-31'),
    ("request.scope.from", "0001-01-01", "is not between"),
    ("request.irb_waivr", True, None),
])
def test_each_bad_value_is_named_with_what_is_allowed(path, value, message):
    with pytest.raises(InputError) as caught:
        rules.check_json(set_at(full_contract(), path, value))
    if message is None:  # an unknown key: named by its path, with the field it is closest to
        assert str(caught.value) == ("request.irb_waivr: unknown key (did you mean irb_waiver?): fix the key, "
                                     "or remove it")
        assert caught.value.path == path
    else:
        assert str(caught.value).startswith(f"{path}: ") and caught.value.path == path
        assert re.search(message, str(caught.value))


def test_an_irb_waiver_of_false_in_quotes_never_makes_research_releasable():
    doc = {"as_of": "2026-11-26", "request": {"received": "2026-11-02", "requester_type": "researcher",
                                              "purpose": "research", "irb_waiver": "false"}}
    with pytest.raises(InputError, match="^request.irb_waiver: "):
        rules.check_json(doc)
    doc["request"]["irb_waiver"] = False
    assert rules.check_json(doc)["releasable"] is False  # no waiver, no authorization: A0


def test_a_state_of_5_is_refused_alike_by_check_and_import():
    with pytest.raises(InputError) as check:
        rules.check_json(set_at(full_contract(), "request.state", 5))
    with pytest.raises(InputError) as imported:
        requests.RequestForm.from_json(set_at(full_import(), "request.state", 5))
    assert str(check.value) == str(imported.value) == "request.state: expected text in quotes, got 5"


def test_import_refuses_as_of_other_than_today_and_accepts_today():
    requests.RequestForm.from_json({**full_import(), "as_of": TODAY})
    with pytest.raises(InputError, match="^as_of: 2026-01-01 is not today: a request is checked on the day"):
        requests.RequestForm.from_json({**full_import(), "as_of": "2026-01-01"})


def test_import_refuses_an_authorization_for_a_patient_not_listed():
    doc = full_import()
    doc["authorizations"]["999999"] = doc["authorization"]
    with pytest.raises(InputError, match="^authorizations.999999: is not one of the patients listed"):
        requests.RequestForm.from_json(doc)


# --- the JSON itself, through the command line (one line on stderr, exit 2, nothing on stdout) -----------------------

BAD_JSON = {
    "5,000-deep": "[" * 5000 + "]" * 5000,
    "lone surrogate": json.dumps(set_at(full_contract(), "request.requester_name", "\ud800")),
    "5,000-digit integer": '{"as_of": ' + "9" * 5000 + "}",
    "key given twice": '{"as_of": "2026-11-26", "as_of": "2026-11-27"}',
    "NaN": '{"as_of": NaN}',
    "irb_waiver in quotes": json.dumps(set_at(full_contract(), "request.irb_waiver", "false")),
    "statements in quotes": json.dumps(set_at(full_contract(), "authorization.statements",
                                              {"revocation": "false", "conditioning": "false",
                                               "redisclosure": "false"})),
    "30 MB requester name": json.dumps(set_at(full_contract(), "request.requester_name", "x" * 30_000_000)),
}
MESSAGES = {
    "5,000-deep": "nested too deeply",
    "lone surrogate": "request.requester_name: contains the control character U+D800",
    "5,000-digit integer": "a number of 5,000 digits", "key given twice": 'the key "as_of" is given twice',
    "NaN": "NaN is not a JSON value", "irb_waiver in quotes": "request.irb_waiver: expected true or false",
    "statements in quotes": "authorization.statements.revocation: expected true or false",
    "30 MB requester name": "is larger than 1,000,000 bytes",
}


@pytest.mark.parametrize("case", list(BAD_JSON))
def test_roi_check_answers_bad_json_in_one_line_with_exit_2(case, tmp_path):
    path = tmp_path / "request.json"
    path.write_text(BAD_JSON[case], encoding="utf-8", errors="surrogatepass")
    result = run_cli("roi", "check", str(path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("recdesk: ") and result.stderr.count("\n") == 1, result.stderr
    assert MESSAGES[case] in result.stderr and "unexpected" not in result.stderr


def test_roi_check_exit_codes_stay_as_documented():
    ok = run_cli("roi", "check", "-", input=json.dumps(full_contract()))
    held = run_cli("roi", "check", "-", input=json.dumps(set_at(full_contract(), "request.scope.from", "2026-01-01")))
    bad = run_cli("roi", "check", "-", input=json.dumps(set_at(full_contract(), "request.irb_waiver", 0)))
    assert (ok.returncode, json.loads(ok.stdout)["releasable"]) == (0, True)
    assert (held.returncode, json.loads(held.stdout)["releasable"]) == (0, False)  # it ran: the verdict says no
    assert (bad.returncode, bad.stdout) == (2, "")
