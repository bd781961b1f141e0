"""The release validator, rule by rule (RULES.md §1–6): each ID has a case that passes and one that fails."""

import copy
import datetime
import json

import pytest

from recdesk.release import rules
from recdesk.release.rules import FeeLine, Suspension
from recdesk.shapes import InputError
from tests.conftest import run_cli

D = datetime.date.fromisoformat
AS_OF = "2026-11-26"


def valid_authorization(**changes) -> dict:
    auth = {
        "description": "Discharge summaries and lab results, 2025", "discloser": "General Hospital HIM",
        "recipient": "Dewey & Cheatham LLP", "purposes": ["personal injury claim (legal)"],
        "expiration": {"date": "2027-06-30"}, "is_research": False, "signed_on": "2026-10-20",
        "signature": "/s/ Jane Doe", "signer": "patient", "representative_authority": None,
        "statements": {"revocation": True, "conditioning": True, "redisclosure": True},
        "categories": [], "combined_with_other": False, "conditioned": False, "revoked_on": None,
        "part2_consent": False,
    }
    auth.update(changes)
    return auth


def attorney_request(**changes) -> dict:
    doc = {
        "as_of": AS_OF,
        "request": {"received": "2026-11-02", "requester_type": "attorney", "requester_name": "Dewey & Cheatham LLP",
                    "purpose": "legal", "scope": {"from": "2025-01-01", "to": "2025-12-31",
                                                  "doc_types": ["discharge_summary"], "categories": []}},
        "authorization": valid_authorization(),
    }
    for path, value in changes.items():
        target = doc
        *parents, last = path.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    return doc


def patient_access(**changes) -> dict:
    doc = {"as_of": AS_OF, "request": {"received": "2026-11-02", "requester_type": "patient",
                                       "requester_name": "Jane Doe", "purpose": "individual_access"},
           "authorization": None}
    doc["request"].update(changes)
    return doc


def verdict(doc: dict, **kw) -> dict:
    return rules.check_json(copy.deepcopy(doc), **kw)


def codes(v: dict) -> list[str]:
    return [p["code"] for p in v["problems"]]


def warning_codes(v: dict) -> list[str]:
    return [w["code"] for w in v["warnings"]]


def test_a_complete_authorization_for_an_attorney_is_releasable():
    v = verdict(attorney_request())
    assert v == {**v, "releasable": True, "problems": [], "authorization_required": True, "accountable": False,
                 "minimum_necessary": False, "due": "2026-12-02"}


# (case, request document, the rule ID that must appear among the problems)
FAILING = [
    ("A0 attorney without authorization", attorney_request(authorization=None), "A0"),
    ("A0 employer without authorization", attorney_request(**{"authorization": None,
                                                             "request.requester_type": "employer",
                                                             "request.purpose": "employment"}), "A0"),
    ("A1 unsigned", attorney_request(**{"authorization.signature": ""}), "A1"),
    ("A1 no description", attorney_request(**{"authorization.description": None}), "A1"),
    ("A1 no recipient", attorney_request(**{"authorization.recipient": " "}), "A1"),
    ("A1 no purpose", attorney_request(**{"authorization.purposes": []}), "A1"),
    ("A1 no expiration", attorney_request(**{"authorization.expiration": None}), "A1"),
    ("A1 undated", attorney_request(**{"authorization.signed_on": None}), "A1"),
    ("A2 expired", attorney_request(**{"authorization.expiration": {"date": "2026-11-01"}}), "A2"),
    ("A2 expires on the release day", attorney_request(**{"authorization.expiration": {"date": AS_OF}}), "A2"),
    ("A2 event occurred", attorney_request(**{"authorization.expiration": {"event": "end of claim",
                                                                           "occurred": True}}), "A2"),
    ("A2 'none' outside research", attorney_request(**{"authorization.expiration": {"none": True}}), "A2"),
    ("A2 date and event", attorney_request(**{"authorization.expiration": {"date": "2027-01-01",
                                                                           "event": "x"}}), "A2"),
    ("A3 signed in the future", attorney_request(**{"authorization.signed_on": "2026-12-01"}), "A3"),
    ("A3 signed after receipt", attorney_request(**{"authorization.signed_on": "2026-11-10"}), "A3"),
    ("A4 representative without authority", attorney_request(**{"authorization.signer": "representative"}), "A4"),
    ("A5 no revocation statement", attorney_request(**{"authorization.statements": {
        "revocation": False, "conditioning": True, "redisclosure": True}}), "A5"),
    ("A5 no redisclosure statement", attorney_request(**{"authorization.statements": {
        "revocation": True, "conditioning": True}}), "A5"),
    ("A6 revoked", attorney_request(**{"authorization.revoked_on": "2026-11-20"}), "A6"),
    ("A6 revoked on the release day", attorney_request(**{"authorization.revoked_on": AS_OF}), "A6"),
    ("A7 psychotherapy combined", attorney_request(**{
        "request.scope.categories": ["psychotherapy_notes"], "authorization.categories": ["psychotherapy_notes"],
        "authorization.combined_with_other": True}), "A7"),
    ("A7 compound with a conditioned part", attorney_request(**{"authorization.combined_with_other": True,
                                                                "authorization.conditioned": True}), "A7"),
    ("A7 conditioned care", attorney_request(**{"authorization.conditioned": True}), "A7"),
    ("A8 scope dates reversed", attorney_request(**{"request.scope.from": "2026-01-01",
                                                    "request.scope.to": "2025-01-01"}), "A8"),
    ("A9 psychotherapy notes, general authorization", attorney_request(**{
        "request.scope.categories": ["psychotherapy_notes"]}), "A9"),
    ("A9 psychotherapy notes to a treating provider", {
        "as_of": AS_OF, "request": {"received": "2026-11-20", "requester_type": "provider", "purpose": "treatment",
                                    "scope": {"categories": ["psychotherapy_notes"]}}}, "A9"),
    ("R4 third-party directive unsigned", patient_access(third_party={
        "recipient": "Dr. Lee", "destination": "fax 555-0100", "written": True, "signed": False}), "R4"),
    ("R4 third-party directive without destination", patient_access(third_party={
        "recipient": "Dr. Lee", "destination": None, "written": True, "signed": True}), "R4"),
    ("L1 unknown legal process", attorney_request(**{"request.legal_process": {"type": "letter_from_lawyer"}}), "L1"),
    ("L3 subpoena without assurance", attorney_request(**{
        "authorization": None, "request.legal_process": {"type": "subpoena_no_order", "assurance": None}}), "L3"),
    ("L3 discovery request without assurance", attorney_request(**{
        "authorization": None, "request.legal_process": {"type": "discovery"}}), "L3"),
    ("L4 Part 2 under a subpoena", attorney_request(**{
        "authorization": None, "request.scope.categories": ["sud_part2"],
        "request.legal_process": {"type": "subpoena_no_order", "assurance": "protective_order"}}), "L4"),
    ("L4 Part 2 under a plain court order", attorney_request(**{
        "authorization": None, "request.requester_type": "court", "request.scope.categories": ["sud_part2"],
        "request.legal_process": {"type": "court_order"}}), "L4"),
    ("S1 mental health not named", attorney_request(**{"request.scope.categories": ["mental_health"]}), "S1"),
    ("S1 genetic information for underwriting", attorney_request(**{
        "request.requester_type": "insurer", "request.purpose": "underwriting",
        "authorization.purposes": ["life insurance underwriting"], "request.scope.categories": ["genetic"],
        "authorization.categories": ["genetic"]}), "S1"),
    ("S2 Part 2 with a general release", attorney_request(**{"request.scope.categories": ["sud_part2"]}), "S2"),
    ("S2 Part 2 consent not naming SUD", attorney_request(**{"request.scope.categories": ["sud_part2"],
                                                             "authorization.part2_consent": True}), "S2"),
    ("S3 HIV with a general release", attorney_request(**{"request.scope.categories": ["hiv"]}), "S3"),
    ("research without waiver or authorization", {
        "as_of": AS_OF, "request": {"received": "2026-11-20", "requester_type": "researcher",
                                    "purpose": "research", "irb_waiver": False}}, "A0"),
]


@pytest.mark.parametrize("case,doc,code", FAILING, ids=[c[0] for c in FAILING])
def test_each_rule_blocks_what_it_should(case, doc, code):
    v = verdict(doc)
    assert code in codes(v), v
    assert v["releasable"] is False
    problem = next(p for p in v["problems"] if p["code"] == code)
    assert problem["field"] and problem["message"] and "\n" not in problem["message"]


PASSING = [
    ("A0 right of access needs no authorization", patient_access(), "A0"),
    ("A0 provider for treatment needs none", {"as_of": AS_OF, "request": {
        "received": "2026-11-20", "requester_type": "provider", "purpose": "treatment"}}, "A0"),
    ("A0 health plan for payment needs none", {"as_of": AS_OF, "request": {
        "received": "2026-11-20", "requester_type": "health_plan", "purpose": "payment"}}, "A0"),
    ("A1 complete", attorney_request(), "A1"),
    ("A2 event not occurred", attorney_request(**{"authorization.expiration": {"event": "end of claim",
                                                                               "occurred": False}}), "A2"),
    ("A2 'none' for research", attorney_request(**{"request.requester_type": "researcher",
                                                   "request.purpose": "research",
                                                   "authorization.purposes": ["research study 42"],
                                                   "authorization.is_research": True,
                                                   "authorization.expiration": {"none": True}}), "A2"),
    ("A2 expires the day after release", attorney_request(**{"authorization.expiration": {"date": "2026-11-27"}}),
     "A2"),
    ("A3 signed the day it was received", attorney_request(**{"authorization.signed_on": "2026-11-02"}), "A3"),
    ("A4 representative with authority", attorney_request(**{
        "authorization.signer": "representative",
        "authorization.representative_authority": "guardian, Probate Ct. order 2024-118"}), "A4"),
    ("A5 all statements", attorney_request(), "A5"),
    ("A6 revocation takes effect later", attorney_request(**{"authorization.revoked_on": "2026-12-15"}), "A6"),
    ("A7 psychotherapy alone", attorney_request(**{
        "request.scope.categories": ["psychotherapy_notes"], "authorization.categories": ["psychotherapy_notes"]}),
     "A7"),
    ("A7 conditioned research", attorney_request(**{
        "request.requester_type": "researcher", "request.purpose": "research",
        "authorization.purposes": ["research study 42"], "authorization.is_research": True,
        "authorization.conditioned": True, "authorization.combined_with_other": True}), "A7"),
    ("A8 scope in order", attorney_request(), "A8"),
    ("A9 authorization naming psychotherapy notes", attorney_request(**{
        "request.scope.categories": ["psychotherapy_notes"], "authorization.categories": ["psychotherapy_notes"]}),
     "A9"),
    ("R4 complete directive", patient_access(third_party={
        "recipient": "Dr. Lee", "destination": "fax 555-0100", "written": True, "signed": True}), "R4"),
    ("L1 known type", attorney_request(**{"authorization": None, "request.requester_type": "court",
                                          "request.legal_process": {"type": "court_order"}}), "L1"),
    ("L3 subpoena with notice assurance", attorney_request(**{
        "authorization": None, "request.legal_process": {"type": "subpoena_no_order", "assurance": "notice"}}), "L3"),
    ("L3 subpoena with a protective order", attorney_request(**{
        "authorization": None, "request.legal_process": {"type": "subpoena_no_order",
                                                         "assurance": "protective_order"}}), "L3"),
    ("L3 subpoena with the patient's authorization", attorney_request(**{
        "request.legal_process": {"type": "subpoena_no_order"}}), "L3"),
    ("L4 Part 2 with consent", attorney_request(**{
        "request.scope.categories": ["sud_part2"], "authorization.categories": ["sud_part2"],
        "authorization.part2_consent": True, "request.legal_process": {"type": "subpoena_no_order"}}), "L4"),
    ("S1 mental health named", attorney_request(**{"request.scope.categories": ["mental_health"],
                                                   "authorization.categories": ["mental_health"]}), "S1"),
    ("S1 mental health to a treating provider", {"as_of": AS_OF, "request": {
        "received": "2026-11-20", "requester_type": "provider", "purpose": "treatment",
        "scope": {"categories": ["mental_health"]}}}, "S1"),
    ("S2 Part 2 consent naming SUD", attorney_request(**{
        "request.scope.categories": ["sud_part2"], "authorization.categories": ["sud_part2"],
        "authorization.part2_consent": True}), "S2"),
    ("S3 HIV-specific release", attorney_request(**{"request.scope.categories": ["hiv"],
                                                    "authorization.categories": ["hiv"]}), "S3"),
    ("research under an IRB waiver", {"as_of": AS_OF, "request": {
        "received": "2026-11-20", "requester_type": "researcher", "purpose": "research", "irb_waiver": True}}, "A0"),
]


@pytest.mark.parametrize("case,doc,code", PASSING, ids=[c[0] for c in PASSING])
def test_each_rule_lets_through_what_it_should(case, doc, code):
    v = verdict(doc)
    assert code not in codes(v), v
    assert v["releasable"] is True, v


def test_right_of_access_is_due_in_30_days_unaccountable_and_not_minimum_necessary():  # R1, D1, M1
    v = verdict(patient_access())
    assert v["authorization_required"] is False and v["accountable"] is False
    assert v["minimum_necessary"] is False and v["due"] == "2026-12-02"


def test_one_extension_inside_the_first_30_days_moves_the_due_date_to_60():  # R1
    v = verdict(patient_access(extension_notice_sent="2026-12-02"))
    assert v["due"] == "2027-01-01" and "R1" not in warning_codes(v)


def test_an_extension_noticed_after_day_30_does_not_extend():  # R1
    v = verdict(patient_access(extension_notice_sent="2026-12-03"))
    assert v["due"] == "2026-12-02"
    assert "R1" in warning_codes(v)


def test_a_late_access_request_is_flagged():  # R1
    v = verdict({**patient_access(), "as_of": "2026-12-03"})
    assert any(w["code"] == "R1" and "late" in w["message"] for w in v["warnings"])


def test_an_accounting_request_is_due_in_60_days_and_extends_once_by_30():  # D3
    doc = patient_access(purpose="accounting")
    assert verdict(doc)["due"] == "2027-01-01"
    assert verdict(patient_access(purpose="accounting", extension_notice_sent="2026-12-20"))["due"] == "2027-01-31"
    late = verdict(patient_access(purpose="accounting", extension_notice_sent="2027-01-05"))
    assert late["due"] == "2027-01-01" and "D3" in warning_codes(late)


def test_california_access_is_due_in_15_days():  # R5
    assert verdict(patient_access(), state="CA")["due"] == "2026-11-17"
    assert verdict(patient_access(state="CA"))["due"] == "2026-11-17"


def test_california_civil_subpoena_is_due_in_15_days_criminal_in_5():  # L5
    doc = attorney_request(**{"request.legal_process": {"type": "subpoena_no_order", "assurance": "notice"}})
    assert verdict(doc, state="CA")["due"] == "2026-11-17"
    doc["request"]["legal_process"]["criminal"] = True
    assert verdict(doc, state="CA")["due"] == "2026-11-07"
    assert verdict(doc)["due"] == "2026-12-02"
    assert "L5" in warning_codes(verdict(doc))


@pytest.mark.parametrize("doc,accountable", [
    (patient_access(), False),
    (attorney_request(), False),  # per authorization: exempt
    ({"as_of": AS_OF, "request": {"received": "2026-11-20", "requester_type": "provider", "purpose": "treatment"}},
     False),
    ({"as_of": AS_OF, "request": {"received": "2026-11-20", "requester_type": "public_health",
                                  "purpose": "public_health"}}, True),
    ({"as_of": AS_OF, "request": {"received": "2026-11-20", "requester_type": "government_oversight",
                                  "purpose": "oversight"}}, True),
    (attorney_request(**{"authorization": None, "request.requester_type": "court",
                         "request.legal_process": {"type": "court_order"}}), True),
    (attorney_request(**{"authorization": None, "request.legal_process": {"type": "subpoena_no_order",
                                                                          "assurance": "notice"}}), True),
    ({"as_of": AS_OF, "request": {"received": "2026-11-20", "requester_type": "researcher", "purpose": "research",
                                  "irb_waiver": True}}, True),
], ids=["access", "authorization", "treatment", "public health", "oversight", "court order", "subpoena", "waiver"])
def test_accountable_follows_the_basis(doc, accountable):  # D1
    assert verdict(doc)["accountable"] is accountable


def test_court_order_limits_release_to_the_named_items():  # L2
    v = verdict(attorney_request(**{"authorization": None, "request.requester_type": "court",
                                    "request.legal_process": {"type": "court_order"}}))
    assert v["releasable"] and "L2" in warning_codes(v)
    assert "L2" not in warning_codes(verdict(attorney_request()))


def test_minimum_necessary_applies_to_payment_and_subpoenas_not_treatment():  # M1
    pay = verdict({"as_of": AS_OF, "request": {"received": "2026-11-20", "requester_type": "health_plan",
                                               "purpose": "payment"}})
    assert pay["minimum_necessary"] is True
    assert any(w["code"] == "M1" and "justification" in w["message"] for w in pay["warnings"])
    treat = verdict({"as_of": AS_OF, "request": {"received": "2026-11-20", "requester_type": "provider",
                                                 "purpose": "treatment"}})
    assert treat["minimum_necessary"] is False and "M1" not in warning_codes(treat)


def test_a_representative_asking_for_access_must_be_verified():  # A4 (164.514(h))
    v = verdict(patient_access(requester_type="personal_representative"))
    assert v["releasable"] and "A4" in warning_codes(v)


def test_any_and_all_records_is_a_warning():  # A1
    v = verdict(attorney_request(**{"authorization.description": "Any and all records"}))
    assert v["releasable"] and "A1" in warning_codes(v)


def test_a_recipient_other_than_the_requester_is_a_warning():  # A8
    v = verdict(attorney_request(**{"authorization.recipient": "Acme Insurance"}))
    assert "A8" in warning_codes(v)


def test_every_missing_element_is_named_once():
    doc = attorney_request(authorization={"purposes": []})
    fields = [p["field"] for p in verdict(doc)["problems"] if p["code"] in ("A1", "A5")]
    assert fields == ["authorization.description", "authorization.discloser", "authorization.recipient",
                      "authorization.signature", "authorization.purposes", "authorization.expiration",
                      "authorization.signed_on", "authorization.statements.revocation",
                      "authorization.statements.conditioning", "authorization.statements.redisclosure"]


@pytest.mark.parametrize("doc,message", [
    ([], "^expected an object"),
    ({"request": {"received": "2026-01-01"}}, "^as_of: missing: give a date"),
    ({"as_of": "26/11/2026", "request": {}}, '^as_of: expected a date as "YYYY-MM-DD", got "26/11/2026"'),
    ({"as_of": AS_OF, "request": {"requester_type": "patient"}}, "^request.received: missing"),
    ({"as_of": AS_OF, "request": {"received": "2026-01-01", "requester_type": "alien"}},
     '^request.requester_type: "alien" is not one of patient, '),
    ({"as_of": AS_OF, "request": {"received": "2026-01-01", "scope": {"categories": ["gossip"]}}},
     '^request.scope.categories\\[0\\]: "gossip" is not one of'),
    ({"as_of": AS_OF, "request": {"received": "2026-01-01"}, "authorization": "yes"},
     '^authorization: expected an object'),
])
def test_unreadable_requests_name_the_field(doc, message):
    with pytest.raises(InputError, match=message):
        rules.check_json(doc)


# --- the black-box contract --------------------------------------------------------------------------------


def test_roi_check_reads_a_file_and_prints_the_verdict(tmp_path):
    path = tmp_path / "req.json"
    path.write_text(json.dumps(attorney_request(**{"authorization.expiration": {"date": "2026-01-01"}})))
    result = run_cli("roi", "check", str(path))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"releasable", "problems", "warnings", "authorization_required", "accountable",
                        "minimum_necessary", "due"}
    assert out["releasable"] is False
    assert {"code": "A2", "field": "authorization.expiration"}.items() <= out["problems"][0].items()


def test_roi_check_reads_stdin_and_absent_keys_mean_null():
    doc = {"as_of": AS_OF, "request": {"received": "2026-11-02", "requester_type": "patient",
                                       "purpose": "individual_access"}}
    result = run_cli("roi", "check", "-", input=json.dumps(doc))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["due"] == "2026-12-02"


@pytest.mark.parametrize("text", ["not json", "[1,2]", '{"as_of": "2026-02-30", "request": {"received": "x"}}'])
def test_roi_check_exits_2_on_unreadable_input(text):
    result = run_cli("roi", "check", "-", input=text)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("recdesk: ") and result.stderr.count("\n") == 1


def test_roi_check_on_a_missing_file(tmp_path):
    result = run_cli("roi", "check", str(tmp_path / "nope.json"))
    assert result.returncode == 2 and "cannot read" in result.stderr


# --- denial, fees, accounting, retention ---------------------------------------------------------------------


def test_denial_basis_must_come_from_the_lists():  # R2
    assert rules.check_denial("psychotherapy_notes", denied_by="kim") == []
    assert [p.code for p in rules.check_denial("we are busy", denied_by="kim")] == ["R2"]
    assert rules.check_denial("endanger", denied_by="kim", determined_by="Dr. Ruiz", reviewer="Dr. Chen") == []
    assert [p.field for p in rules.check_denial("endanger", denied_by="kim")] == ["denial.determined_by"]
    same = rules.check_denial("endanger", denied_by="kim", determined_by="Dr. Ruiz", reviewer="dr. ruiz")
    assert [p.field for p in same] == ["denial.reviewer"]


def test_access_fees_allow_cost_lines_and_refuse_search_and_retrieval():  # R3
    ok = [FeeLine("labor", "copying 20 pages", 400), FeeLine("supplies", "paper", 100), FeeLine("postage", "", 120)]
    assert rules.check_fees(ok, access=True, electronic=False, pages=20) == []
    bad = [*ok, FeeLine("search", "search and retrieval", 2500)]
    assert [p.code for p in rules.check_fees(bad, access=True, electronic=False)] == ["R3"]
    assert rules.check_fees(bad, access=False, electronic=False) == []  # HIPAA limits only the patient's copy


def test_the_flat_fee_is_for_electronic_copies_and_at_most_650():  # R3
    assert rules.check_fees([FeeLine("flat", "electronic copy", 650)], access=True, electronic=True) == []
    assert rules.check_fees([FeeLine("flat", "", 700)], access=True, electronic=True)[0].code == "R3"
    assert rules.check_fees([FeeLine("flat", "", 650)], access=True, electronic=False)[0].code == "R3"
    mixed = [FeeLine("flat", "", 650), FeeLine("postage", "", 100)]
    assert rules.check_fees(mixed, access=True, electronic=True)[0].code == "R3"


def test_california_caps_copies_at_25_cents_a_page():  # R5
    numbers = rules.clocks(state="CA")
    assert rules.check_fees([FeeLine("labor", "", 250)], access=True, electronic=False, pages=10,
                               numbers=numbers) == []
    assert [p.code for p in rules.check_fees([FeeLine("labor", "", 251)], access=True, electronic=False,
                                                pages=10, numbers=numbers)] == ["R5"]


def test_an_unknown_state_is_a_clear_error():
    with pytest.raises(rules.DeskError, match=r"\[state.ZZ\]"):
        rules.clocks(state="ZZ")


def test_accounting_window_is_six_years_or_shorter():  # D2
    assert rules.accounting_window(D("2026-11-26")) == (D("2020-11-26"), D("2026-11-26"))
    assert rules.accounting_window(D("2026-11-26"), since=D("2025-01-01")) == (D("2025-01-01"), D("2026-11-26"))
    assert rules.accounting_window(D("2026-11-26"), since=D("2001-01-01"))[0] == D("2020-11-26")
    assert rules.accounting_window(D("2028-02-29"))[0] == D("2022-02-28")


def test_the_first_accounting_in_12_months_is_free():  # D4
    assert rules.accounting_is_free(D("2026-11-26"), [])
    assert rules.accounting_is_free(D("2026-11-26"), [D("2025-11-26")])
    assert not rules.accounting_is_free(D("2026-11-26"), [D("2025-11-27")])


def test_suspensions_hold_disclosures_back_for_their_period():  # D5
    written = Suspension(starts=D("2026-11-01"), written=True, ends=D("2027-03-01"))
    oral = Suspension(starts=D("2026-11-01"), written=False)
    s = {"FBI field office": [written], "State AG": [oral]}
    assert rules.withheld_by_suspension("FBI field office", D("2027-03-01"), s)
    assert not rules.withheld_by_suspension("FBI field office", D("2027-03-02"), s)
    assert rules.withheld_by_suspension("State AG", D("2026-12-01"), s)  # 30 days
    assert not rules.withheld_by_suspension("State AG", D("2026-12-02"), s)
    assert not rules.withheld_by_suspension("County health", D("2026-12-01"), s)
    with pytest.raises(rules.DeskError, match="end date"):
        rules.suspension_end(Suspension(starts=D("2026-11-01"), written=True))


def test_authorizations_are_kept_six_years_after_their_last_effective_date():  # A10
    assert rules.retain_until(D("2026-10-20"), D("2027-06-30"), D("2026-11-02")) == D("2033-06-30")
    assert rules.retain_until(D("2026-10-20"), None, D("2026-11-02")) == D("2032-11-02")


@pytest.mark.parametrize("doc_type,service_date,tags,expected", [
    ("discharge_summary", "2025-03-01", [], []),
    ("lab_result", "2025-03-01", [], [("A8", False)]),
    ("discharge_summary", "2024-12-31", [], [("A8", False)]),
    ("discharge_summary", "2025-03-01", ["psychotherapy"], [("A9", True)]),
    ("discharge_summary", "2025-03-01", ["part2"], [("S2", True)]),
    ("discharge_summary", "2025-03-01", ["hiv"], [("S3", True)]),
    ("discharge_summary", "2025-03-01", ["mental_health"], [("S1", True)]),
])
def test_documents_outside_the_scope_are_flagged(doc_type, service_date, tags, expected):  # A8, A9, S1-S3
    as_of, req, auth = rules.read(attorney_request())
    flags = rules.out_of_scope(req, doc_type, D(service_date), tags, auth)
    assert [(f.code, f.blocking) for f in flags] == expected


def test_a_named_category_lets_its_documents_through():
    doc = attorney_request(**{"request.scope.categories": ["sud_part2", "hiv"], "authorization.part2_consent": True,
                              "authorization.categories": ["sud_part2", "hiv"]})
    as_of, req, auth = rules.read(doc)
    assert rules.out_of_scope(req, "discharge_summary", D("2025-03-01"), ["part2", "hiv"], auth) == []
    # Naming a category in the request is not enough: the authorization must (the clerk cannot confirm it in).
    as_of, req, auth = rules.read(attorney_request(**{"request.scope.categories": ["psychotherapy_notes"]}))
    assert [f.blocking for f in rules.out_of_scope(req, "discharge_summary", None, ["psychotherapy"], auth)] \
        == [True]


def test_a_patients_own_request_is_access_whatever_its_purpose():  # A0
    v = verdict(patient_access(purpose="legal"))
    assert v["releasable"] and not v["authorization_required"] and v["due"] == "2026-12-02"


def test_psychotherapy_notes_in_a_patients_own_request_are_withheld_not_the_request():  # A9, 164.524(d)(2)
    v = verdict(patient_access(scope={"categories": ["psychotherapy_notes"]}))
    assert v["releasable"] and "A9" in warning_codes(v)
    as_of, req, auth = rules.read(patient_access(scope={"categories": ["psychotherapy_notes"]}))
    flags = rules.out_of_scope(req, "psychotherapy_note", None, ["psychotherapy"], auth, basis="individual")
    assert [(f.code, f.blocking) for f in flags] == [("A9", True)]


def test_a_patient_sees_their_own_part2_records_without_a_consent():  # 42 CFR 2.23
    v = verdict(patient_access(scope={"categories": ["sud_part2"]}))
    assert v["releasable"], v


@pytest.mark.parametrize("changes,code", [
    ({"authorization.categories": ["psychotherapy_notes", "mental_health"],
      "request.scope.categories": ["psychotherapy_notes"]}, "A7"),
    ({"authorization.purposes": ["marketing"]}, "A5"),
    ({"authorization.expiration": {"event": "end of the research study", "occurred": False}}, "A2"),
])
def test_more_defective_authorizations(changes, code):  # A7 (b)(3), A5 remuneration, A2 research-only expiry
    v = verdict(attorney_request(**changes))
    assert code in codes(v), v


def test_a_marketing_authorization_stating_remuneration_passes_a5():
    doc = attorney_request(**{"authorization.purposes": ["marketing"], "authorization.statements": {
        "revocation": True, "conditioning": True, "redisclosure": True, "remuneration": True}})
    assert "A5" not in codes(verdict(doc))


def test_sensitive_categories_under_legal_process_are_warned():  # S1, S3
    doc = attorney_request(**{"authorization": None, "request.scope.categories": ["hiv", "mental_health"],
                              "request.legal_process": {"type": "subpoena_no_order", "assurance": "notice"}})
    assert {"S1", "S3"} <= set(warning_codes(verdict(doc)))


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01"])
def test_implausible_years_are_named_not_crashed_on(value):
    with pytest.raises(InputError, match=f'^request.received: "{value}" is not between 1900-01-01 and 2100-12-31'):
        rules.check_json(patient_access(received=value))


def test_unknown_authorization_categories_are_named():
    with pytest.raises(InputError, match='^authorization.categories\\[0\\]: "HIV" is not one of'):
        rules.check_json(attorney_request(**{"authorization.categories": ["HIV"]}))


def test_californias_page_cap_applies_to_the_flat_fee_too():  # R5 over R3
    numbers = rules.clocks(state="CA")
    flat = [FeeLine("flat", "electronic copy", 650)]
    assert [p.code for p in rules.check_fees(flat, access=True, electronic=True, pages=5, numbers=numbers)] \
        == ["R5"]
    assert rules.check_fees(flat, access=True, electronic=True, pages=40, numbers=numbers) == []
