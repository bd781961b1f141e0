"""Chart completion rules (RULES.md §11, C1–C6): checklists, windows, delinquency, rate and aging — no database."""

import math
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from recdesk.completion import rules as completion
from recdesk.completion.rules import EncounterFacts, FiledDoc
from recdesk.errors import DeskError

ADMIT = datetime(2025, 3, 3, 10, 0)  # a Monday morning
DISCHARGE = datetime(2025, 3, 10, 14, 0)
SURGERY = datetime(2025, 3, 4, 8, 0)
SURGERY_END = datetime(2025, 3, 4, 11, 0)
LATER = datetime(2025, 6, 1, 9, 0)  # long after everything was due
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def stay(kind="inpatient", **facts) -> EncounterFacts:
    base = {"admit_at": ADMIT, "discharge_at": DISCHARGE, "medicare": True}
    return EncounterFacts(kind=kind, **base | facts)


def doc(doc_type, signed_at, id=None) -> FiledDoc:
    return FiledDoc(id=id or doc_type, doc_type=doc_type, signed_at=signed_at, title=doc_type.replace("_", " "))


def item(encounter, docs, code, at=LATER, attached=None):
    states = completion.evaluate(encounter, docs, attached, at)
    return next(s for s in states if s.code == code)


# --- checklists ------------------------------------------------------------------------------------------------

CHECKLISTS = {
    "inpatient": ["face_sheet", "discharge_summary", "final_diagnosis", "history_and_physical", "operative_report",
                  "anesthesia_note", "post_anesthesia_evaluation", "verbal_orders", "consent_to_treat",
                  "procedure_consent", "npp_acknowledgment", "patient_rights_notice", "advance_directive",
                  "financial_responsibility", "im_admission", "im_followup"],
    "outpatient": ["face_sheet", "visit_note", "consent_to_treat", "npp_acknowledgment"],
    "ed": ["face_sheet", "ed_record", "verbal_orders", "consent_to_treat", "npp_acknowledgment"],
    "surgery": ["face_sheet", "history_and_physical", "operative_report", "anesthesia_note",
                "post_anesthesia_evaluation", "verbal_orders", "consent_to_treat", "procedure_consent",
                "npp_acknowledgment"],
}


@pytest.mark.parametrize("kind,codes", CHECKLISTS.items())
def test_each_encounter_kind_has_its_checklist_in_chart_order(kind, codes):
    items = completion.checklist(kind)
    assert [i.code for i in items] == codes
    assert [i.order for i in items] == sorted(i.order for i in items)


def test_inpatient_checklist_carries_the_rules():
    rules = {i.code: i.rule for i in completion.checklist("inpatient")}
    assert rules["history_and_physical"] == "C1"
    assert rules["operative_report"] == rules["post_anesthesia_evaluation"] == "C3"
    assert rules["discharge_summary"] == rules["final_diagnosis"] == "C4"
    assert rules["im_admission"] == rules["im_followup"] == "C5"
    medicare_only = {i.code for i in completion.checklist("inpatient") if i.medicare_only}
    assert medicare_only == {"im_admission", "im_followup"}


# A complete chart for each kind: every required document signed inside its window.
COMPLETE = {
    "inpatient": [
        doc("face_sheet", ADMIT), doc("consent", ADMIT), doc("npp_acknowledgment", ADMIT),
        doc("patient_rights_notice", ADMIT), doc("advance_directive", ADMIT + HOUR),
        doc("financial_responsibility", ADMIT), doc("important_message_medicare", ADMIT + HOUR, "im-1"),
        doc("history_and_physical", ADMIT + 2 * HOUR), doc("anesthesia_note", SURGERY - 12 * HOUR),
        doc("procedure_consent", SURGERY - 10 * HOUR), doc("operative_report", SURGERY_END + HOUR),
        doc("post_anesthesia_evaluation", SURGERY_END + 20 * HOUR), doc("verbal_order", ADMIT + 5 * HOUR),
        doc("important_message_medicare", DISCHARGE - DAY, "im-2"), doc("discharge_summary", DISCHARGE + 3 * DAY),
    ],
    "outpatient": [doc("face_sheet", ADMIT), doc("consent", ADMIT), doc("npp_acknowledgment", ADMIT),
                   doc("progress_note", ADMIT + 2 * DAY)],
    "ed": [doc("face_sheet", ADMIT), doc("consent", ADMIT), doc("npp_acknowledgment", DISCHARGE - HOUR),
           doc("ed_record", DISCHARGE + DAY)],
    "surgery": [doc("face_sheet", ADMIT), doc("consent", ADMIT), doc("npp_acknowledgment", ADMIT),
                doc("history_and_physical", ADMIT - 10 * DAY), doc("hp_update", ADMIT + HOUR),
                doc("anesthesia_note", SURGERY - 12 * HOUR), doc("procedure_consent", SURGERY - 10 * HOUR),
                doc("operative_report", SURGERY_END), doc("post_anesthesia_evaluation", SURGERY_END + 48 * HOUR)],
}


@pytest.mark.parametrize("kind", CHECKLISTS)
def test_a_complete_chart_of_each_kind_has_every_item_present(kind):
    surgery = {"surgery_at": SURGERY, "surgery_end_at": SURGERY_END} if kind in ("inpatient", "surgery") else {}
    states = completion.evaluate(stay(kind, **surgery), COMPLETE[kind], None, LATER)
    assert {s.code: s.state for s in states if s.state != "present"} == (
        {} if kind == "inpatient" else {"verbal_orders": "not_applicable"} if kind in ("ed", "surgery") else {})
    assert completion.is_complete(states)
    assert all(s.message and "\n" not in s.message for s in states)


# An empty chart long after discharge: what is missing, and what does not apply, for each kind.
EMPTY = {
    "inpatient": {"operative_report": "not_applicable", "anesthesia_note": "not_applicable",
                  "post_anesthesia_evaluation": "not_applicable", "procedure_consent": "not_applicable",
                  "verbal_orders": "not_applicable"},
    "outpatient": {},
    "ed": {"verbal_orders": "not_applicable"},
    "surgery": {"verbal_orders": "not_applicable"},
}


@pytest.mark.parametrize("kind", CHECKLISTS)
def test_an_empty_chart_is_missing_everything_it_needs(kind):
    surgery = {"surgery_at": SURGERY, "surgery_end_at": SURGERY_END} if kind == "surgery" else {}
    states = completion.evaluate(stay(kind, **surgery), [], None, LATER)
    expected = {code: EMPTY[kind].get(code, "missing") for code in CHECKLISTS[kind]}
    assert {s.code: s.state for s in states} == expected
    assert all(s.deficiency for s in states if s.state == "missing")
    assert not completion.is_complete(states)


def test_an_inpatient_chart_on_admission_day_is_pending_not_missing():
    in_house = stay(discharge_at=None)
    states = {s.code: s for s in completion.evaluate(in_house, [doc("face_sheet", ADMIT)], None, ADMIT + 2 * HOUR)}
    assert states["face_sheet"].state == "present"
    assert states["consent_to_treat"].state == "missing"  # due on admission
    assert states["history_and_physical"].state == "pending"
    assert states["history_and_physical"].message == "Due by 2025-03-04 10:00: nothing to do yet"
    assert states["im_admission"].state == "pending"
    assert states["discharge_summary"].state == states["im_followup"].state == "pending"
    assert states["discharge_summary"].message == "Due after discharge: nothing to do yet"


def test_an_attached_document_counts_for_its_item_whatever_its_type():
    outside_hp = doc("outside_records", ADMIT - 3 * DAY, "scan-7")
    update = doc("hp_update", ADMIT + HOUR, "scan-8")
    state = item(stay(), [outside_hp, update], "history_and_physical",
                 attached={"history_and_physical": ["scan-7", "gone-1"]})  # gone-1: moved off the encounter
    assert (state.state, state.document_ids) == ("present", ("scan-7", "scan-8"))
    assert item(stay(), [outside_hp, update], "history_and_physical").state == "missing"


# --- C1: H&P window --------------------------------------------------------------------------------------------

HP_CASES = [
    # (H&P signed, update signed, surgery, as of, state, deficiency)
    (ADMIT - 30 * DAY, ADMIT + HOUR, None, LATER, "present", ""),  # exactly 30 days before, updated
    (ADMIT - 30 * DAY - MINUTE, ADMIT + HOUR, None, LATER, "deficient", "missing_hp"),  # too old to count
    (ADMIT + 24 * HOUR, None, None, LATER, "present", ""),
    (ADMIT + 24 * HOUR + MINUTE, None, None, LATER, "late", "late_hp"),
    (ADMIT, None, None, LATER, "present", ""),  # at admission: not pre-admission, needs no update
    (ADMIT - 2 * DAY, None, None, LATER, "deficient", "stale_hp"),  # pre-admission, never updated
    (ADMIT - 2 * DAY, None, None, ADMIT + 23 * HOUR, "pending", ""),  # the update still has time
    (ADMIT - 2 * DAY, ADMIT + 24 * HOUR, None, LATER, "present", ""),
    (ADMIT - 2 * DAY, ADMIT + 24 * HOUR + MINUTE, None, LATER, "late", "late_hp"),
    (ADMIT - 2 * DAY, ADMIT + 4 * HOUR, ADMIT + 3 * HOUR, LATER, "deficient", "stale_hp"),  # update after surgery
    (ADMIT - 2 * DAY, ADMIT + 2 * HOUR, ADMIT + 3 * HOUR, LATER, "present", ""),
    (ADMIT + 2 * HOUR, None, ADMIT + 3 * HOUR, LATER, "present", ""),
    (ADMIT + 4 * HOUR, None, ADMIT + 3 * HOUR, LATER, "deficient", "missing_hp"),  # H&P after surgery
    (None, None, None, ADMIT + 24 * HOUR - MINUTE, "pending", ""),
    (None, None, None, ADMIT + 24 * HOUR, "missing", "missing_hp"),
    (None, None, ADMIT + 3 * HOUR, ADMIT + 3 * HOUR, "missing", "missing_hp"),  # none before surgery
]


@pytest.mark.parametrize("hp_at,update_at,surgery_at,at,state,deficiency", HP_CASES)
def test_c1_history_and_physical_window(hp_at, update_at, surgery_at, at, state, deficiency):
    docs = [doc("history_and_physical", hp_at)] if hp_at else []
    docs += [doc("hp_update", update_at)] if update_at else []
    found = item(stay(surgery_at=surgery_at), docs, "history_and_physical", at)
    assert (found.state, found.deficiency, found.rule) == (state, deficiency, "C1")


def test_c1_unsigned_history_and_physical_is_a_signature_deficiency():
    found = item(stay(), [doc("history_and_physical", None)], "history_and_physical")
    assert (found.state, found.deficiency) == ("deficient", "missing_signature")
    assert found.document_ids == ("history_and_physical",)
    assert found.message == "Filed unsigned: send it to its author to sign, date and time"


def test_c1_messages_say_what_happened():
    old = item(stay(), [doc("history_and_physical", ADMIT - 2 * DAY)], "history_and_physical")
    assert old.message == ("Signed 2025-03-01 10:00, before admission. Update: None on file, due 2025-03-04 10:00: "
                           "get it from its author and file it")
    late = item(stay(), [doc("history_and_physical", ADMIT + 30 * HOUR)], "history_and_physical")
    assert late.message == "Signed 2025-03-04 16:00, after it was due 2025-03-04 10:00: note the late entry for review"


# --- C5: Important Message from Medicare -----------------------------------------------------------------------

IM_CASES = [
    # (item, IM signed, state): admitted Monday 10:00, discharged the next Monday 14:00
    ("im_admission", ADMIT, "present"),
    ("im_admission", datetime(2025, 3, 5, 23, 59), "present"),  # 2 calendar days after admission
    ("im_admission", datetime(2025, 3, 6, 0, 0), "late"),  # the 3rd day
    ("im_followup", DISCHARGE - 2 * DAY, "present"),  # exactly 2 days before
    ("im_followup", datetime(2025, 3, 8, 0, 0), "present"),  # 2 calendar days: 62 hours, still that date
    ("im_followup", datetime(2025, 3, 7, 23, 59), "deficient"),  # 3 calendar days before
    ("im_followup", DISCHARGE, "present"),
    ("im_followup", DISCHARGE + MINUTE, "late"),  # after the patient left
]


@pytest.mark.parametrize("code,signed_at,state", IM_CASES)
def test_c5_important_message_windows(code, signed_at, state):
    found = item(stay(), [doc("important_message_medicare", signed_at)], code)
    assert (found.state, found.rule) == (state, "C5")


def test_c5_admission_copy_within_two_days_of_discharge_is_also_the_follow_up():
    short_stay = stay(discharge_at=ADMIT + DAY)
    states = completion.evaluate(short_stay, [doc("important_message_medicare", ADMIT + HOUR)], None, LATER)
    assert {s.code: s.state for s in states if s.code.startswith("im_")} == {"im_admission": "present",
                                                                             "im_followup": "present"}


def test_c5_admission_copy_alone_does_not_serve_a_long_stay():
    found = item(stay(), [doc("important_message_medicare", ADMIT + HOUR)], "im_followup")
    assert (found.state, found.deficiency) == ("deficient", "missing_im")


def test_c5_first_copy_pending_until_the_third_day_then_missing():
    assert item(stay(), [], "im_admission", datetime(2025, 3, 5, 23, 59)).state == "pending"
    assert item(stay(), [], "im_admission", datetime(2025, 3, 6, 0, 0)).state == "missing"


@pytest.mark.parametrize("code", ["im_admission", "im_followup"])
def test_c5_important_message_is_not_required_without_medicare(code):
    found = item(stay(medicare=False), [], code)
    assert found.state == "not_applicable"
    assert found.message == "Not required: the patient is not a Medicare beneficiary"


# --- C3: operative report and post-anesthesia evaluation -------------------------------------------------------

SURGERY_CASES = [
    # (item, signed, state)
    ("operative_report", SURGERY_END, "present"),
    ("operative_report", SURGERY_END + 24 * HOUR, "present"),
    ("operative_report", SURGERY_END + 24 * HOUR + MINUTE, "late"),
    ("post_anesthesia_evaluation", SURGERY_END + 48 * HOUR, "present"),
    ("post_anesthesia_evaluation", SURGERY_END + 48 * HOUR + MINUTE, "late"),
    ("anesthesia_note", SURGERY - 48 * HOUR, "present"),
    ("anesthesia_note", SURGERY - 48 * HOUR - MINUTE, "deficient"),
    ("anesthesia_note", SURGERY + MINUTE, "deficient"),
    ("procedure_consent", SURGERY - MINUTE, "present"),
    ("procedure_consent", SURGERY + HOUR, "deficient"),
]
DOC_TYPE = {"operative_report": "operative_report", "post_anesthesia_evaluation": "post_anesthesia_evaluation",
            "anesthesia_note": "anesthesia_note", "procedure_consent": "procedure_consent"}


@pytest.mark.parametrize("kind", ["inpatient", "surgery"])
@pytest.mark.parametrize("code,signed_at,state", SURGERY_CASES)
def test_c3_surgery_documents(kind, code, signed_at, state):
    surgery = stay(kind, surgery_at=SURGERY, surgery_end_at=SURGERY_END)
    assert item(surgery, [doc(DOC_TYPE[code], signed_at)], code).state == state


@pytest.mark.parametrize("code,deficiency", [("operative_report", "missing_op_report"),
                                             ("post_anesthesia_evaluation", "missing_post_anesthesia"),
                                             ("anesthesia_note", "missing_anesthesia_note"),
                                             ("procedure_consent", "missing_consent")])
def test_c3_surgery_documents_missing_and_not_applicable(code, deficiency):
    found = item(stay(surgery_at=SURGERY, surgery_end_at=SURGERY_END), [], code)
    assert (found.state, found.deficiency) == ("missing", deficiency)
    assert item(stay(), [], code).message == "Not required: no surgery on this encounter"


def test_c3_without_a_recorded_end_the_window_runs_from_the_start():
    no_end = stay(surgery_at=SURGERY)
    assert item(no_end, [doc("operative_report", SURGERY + 24 * HOUR)], "operative_report").state == "present"
    assert item(no_end, [doc("operative_report", SURGERY + 25 * HOUR)], "operative_report").state == "late"
    assert item(no_end, [], "operative_report", SURGERY + 23 * HOUR).state == "pending"


# --- C2: verbal orders -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("signatures,state,deficiency", [
    ([], "not_applicable", ""),
    ([ADMIT, ADMIT + HOUR], "present", ""),
    ([ADMIT, None], "deficient", "unsigned_verbal_order"),
])
def test_c2_every_verbal_order_filed_is_signed(signatures, state, deficiency):
    orders = [doc("verbal_order", at, f"vo-{n}") for n, at in enumerate(signatures)]
    found = item(stay(), orders, "verbal_orders")
    assert (found.state, found.deficiency) == (state, deficiency)
    if state == "deficient":
        assert found.document_ids == ("vo-1",)


# --- C4: discharge summary, final diagnosis and delinquency ----------------------------------------------------

@pytest.mark.parametrize("at,state", [
    (DISCHARGE + 30 * DAY - MINUTE, "pending"),
    (DISCHARGE + 30 * DAY, "missing"),
])
def test_c4_discharge_summary_and_final_diagnosis_are_due_30_days_after_discharge(at, state):
    states = {s.code: s for s in completion.evaluate(stay(), [], None, at)}
    assert states["discharge_summary"].state == states["final_diagnosis"].state == state


def test_c4_discharge_summary_also_carries_the_final_diagnosis():
    states = {s.code: s.state for s in completion.evaluate(stay(), [doc("discharge_summary", DISCHARGE)], None, LATER)}
    assert states["discharge_summary"] == states["final_diagnosis"] == "present"


@pytest.mark.parametrize("at,days,expected", [
    (DISCHARGE + 30 * DAY - MINUTE, 30, False),
    (DISCHARGE + 30 * DAY, 30, True),  # the 30 days have run out: delinquent at the instant itself
    (DISCHARGE + 30 * DAY + MINUTE, 30, True),
    (DISCHARGE - DAY, 30, False),
    (DISCHARGE + 14 * DAY, 14, True),  # a stricter medical-staff rule
])
def test_c4_delinquent_from_exactly_30_days_after_discharge(at, days, expected):
    assert completion.delinquent(DISCHARGE, at, days) is expected
    assert (completion.deficiency_age_days(DISCHARGE, at) >= days) is expected


def test_c4_a_patient_still_in_house_is_never_delinquent():
    assert completion.delinquent(None, LATER) is False


@pytest.mark.parametrize("at,age", [
    (DISCHARGE - HOUR, 0), (DISCHARGE, 0), (DISCHARGE + DAY - MINUTE, 0), (DISCHARGE + DAY, 1),
    (DISCHARGE + 30 * DAY, 30), (DISCHARGE + 61 * DAY + HOUR, 61),
])
def test_deficiency_age_is_whole_days_since_discharge(at, age):
    assert completion.deficiency_age_days(DISCHARGE, at) == age


# --- C6: delinquency rate; aging -------------------------------------------------------------------------------

@pytest.mark.parametrize("delinquent,discharges,rate", [
    (10, 60, 0.5),  # 60 discharges in 3 months = 20 a month; 10 delinquent = 50%, the legacy TJC line
    (1, 300, 0.01),
    (25, 150, 0.5),
    (0, 90, 0.0),
    (0, 0, 0.0),
    (3, 0, math.inf),  # delinquent records and no discharges: over any threshold, never a reassuring zero
])
def test_c6_delinquency_rate_against_average_monthly_discharges(delinquent, discharges, rate):
    assert completion.delinquency_rate(delinquent, discharges) == pytest.approx(rate)


def test_c6_negative_counts_are_refused():
    with pytest.raises(ValueError):
        completion.delinquency_rate(-1, 10)


def test_aging_buckets_put_each_age_in_one_band():
    ages = [0, 7, 8, 14, 15, 30, 31, 60, 61, 400]
    assert completion.aging_buckets(ages) == {"0-7": 2, "8-14": 2, "15-30": 2, "31-60": 2, "60+": 2}
    assert completion.aging_buckets([]) == {"0-7": 0, "8-14": 0, "15-30": 0, "31-60": 0, "60+": 0}
    with pytest.raises(ValueError):
        completion.aging_buckets([-1])


# --- reference data: shipped, site override, broken -------------------------------------------------------------

def test_deficiency_types_cover_the_rules_list():
    kinds = {t.code: t.rule for t in completion.deficiency_types()}
    expected = {"missing_signature": "C2", "missing_date_time": "C2", "unsigned_verbal_order": "C2",
                "missing_hp": "C1", "late_hp": "C1", "stale_hp": "C1", "missing_op_report": "C3",
                "missing_anesthesia_note": "", "missing_post_anesthesia": "C3", "missing_consent": "",
                "missing_consult": "", "missing_discharge_summary": "C4", "missing_final_diagnosis": "C4",
                "missing_im": "C5", "missing_npp_acknowledgment": ""}
    assert expected.items() <= kinds.items()


SITE_CHECKLIST = """
[[inpatient]]
code = "face_sheet"
label = "Face sheet (site)"
doc_types = ["face_sheet"]
anchor = "admit"
rule = ""
order = 1
deficiency = "missing_document"
"""


def write_site_file(home, name, text):
    (home / "data").mkdir(parents=True, exist_ok=True)
    (home / "data" / f"{name}.toml").write_text(text, encoding="utf-8")


def test_a_site_checklist_replaces_the_shipped_one(tmp_path):
    write_site_file(tmp_path, "checklists", SITE_CHECKLIST)
    site = completion.checklist("inpatient", tmp_path)
    assert [(i.code, i.label) for i in site] == [("face_sheet", "Face sheet (site)")]
    states = completion.evaluate(stay(), [], None, LATER, home=tmp_path)
    assert [(s.code, s.state) for s in states] == [("face_sheet", "missing")]
    with pytest.raises(DeskError, match=r"checklists\.toml has no checklist for ed encounters: add \[\[ed\]\] items"):
        completion.checklist("ed", tmp_path)
    assert len(completion.checklist("inpatient", tmp_path / "elsewhere")) == len(CHECKLISTS["inpatient"])


def test_a_site_deficiency_list_must_still_hold_the_checklists_codes(tmp_path):
    write_site_file(tmp_path, "deficiency_types", '[[type]]\ncode = "missing_hp"\nlabel = "H&P missing"\nrule = "C1"\n')
    with pytest.raises(DeskError, match="'missing_document' is not in deficiency_types.toml"):
        completion.checklist("outpatient", tmp_path)


def test_a_broken_toml_file_names_itself(tmp_path):
    write_site_file(tmp_path, "checklists", "[[inpatient]\ncode = ")
    with pytest.raises(DeskError, match=r"checklists\.toml is not valid TOML .*: fix it"):
        completion.checklist("inpatient", tmp_path)


@pytest.mark.parametrize("change,message", [
    ('anchor = "admission"', "anchor 'admission' is not one of admit, discharge, surgery, surgery_end"),
    ('rule = "C9"', "rule 'C9' is not one of"),
    ("to_hour = 24", "unknown key 'to_hour'"),
    ('order = "first"', "order = 'first' should be a whole number"),
    ("from_hours = -1\nfrom_days = -1", "gives both from_hours and from_days: keep one"),
    ("from_hours = 48\nto_hours = 24", "from_hours 48 is after to_hours 24: swap them"),
    ('deficiency = "lost"', "deficiency 'lost' is not in deficiency_types.toml"),
    ('doc_types = []', "needs a label and at least one document type"),
    ('update_doc_types = ["hp_update"]', "has update_doc_types but no update_deficiency"),
])
def test_an_invalid_checklist_says_which_item_and_what_to_fix(tmp_path, change, message):
    key = change.split(" ")[0]
    lines = [line for line in SITE_CHECKLIST.splitlines() if not line.startswith(key + " ")]
    write_site_file(tmp_path, "checklists", "\n".join(lines) + "\n" + change + "\n")
    with pytest.raises(DeskError, match="checklists.toml: \\[\\[inpatient\\]\\] item 1 \\(face_sheet\\)") as err:
        completion.checklist("inpatient", tmp_path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_an_unknown_kind_in_the_file_or_the_call_is_refused(tmp_path):
    with pytest.raises(DeskError, match="unknown encounter kind 'clinic'"):
        completion.checklist("clinic")
    write_site_file(tmp_path, "checklists", SITE_CHECKLIST.replace("[[inpatient]]", "[[inpatiant]]"))
    with pytest.raises(DeskError, match=r"\[\[inpatiant\]\] is not an encounter kind"):
        completion.checklist("inpatient", tmp_path)


def test_completion_leaves_the_database_and_the_ui_unimported():
    code = "import sys, recdesk.completion.rules; print(sorted(m for m in ('textual', 'peewee') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_checklist_document_type_is_one_a_clerk_can_file():
    import tomllib

    from recdesk.reference import data_dir

    known = {t["code"] for t in tomllib.loads((data_dir() / "document_types.toml").read_text())["type"]}
    for kind in ("inpatient", "outpatient", "ed", "surgery"):
        for item in completion.checklist(kind):
            assert set(item.doc_types) <= known, (kind, item.code)
