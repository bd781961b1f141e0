"""Chart assembly and deficiencies (RULES.md §11, C1–C6) over a desk, on both backends."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import pytest
from pypdf import PdfReader

from recdesk import users
from recdesk.completion import assembly, deficiencies, printouts, rules
from recdesk.config import Completion
from recdesk.documents.filing import file_document
from recdesk.errors import AccessDenied, DeskError
from recdesk.patients import chart
from recdesk.patients.chart import BreakGlassRequired, PurposeRequired
from recdesk.patients.registry import PatientDetails, register
from recdesk.vault import crypto
from recdesk.vault.models import AssemblyItem, AuditEvent, Deficiency, Document, Encounter, Patient, Provider

TODAY = dt.date.today()
TOMORROW = TODAY + dt.timedelta(days=1)
ADMIT = dt.datetime(2026, 10, 5, 10, 0)
DISCHARGE = dt.datetime(2026, 10, 9, 14, 0)
LATER = dt.datetime(2026, 12, 20, 9, 0)  # long after everything was due
DAY = dt.timedelta(days=1)


@dataclass
class Ward:
    desk: object
    ann: object  # a clerk
    sue: object  # a supervisor
    patients: dict  # MRN -> Patient
    ada: Provider
    ben: Provider


def pdf(label: str, pages: int = 1) -> bytes:
    from fpdf import FPDF

    doc = FPDF()
    doc.set_creation_date(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    for n in range(pages):
        doc.add_page()
        doc.set_font("Helvetica", size=12)
        doc.cell(0, 10, f"DOC {label} page {n + 1}")
    return bytes(doc.output())


@pytest.fixture
def ward(desk_and_manager) -> Ward:
    return make_ward(*desk_and_manager)


def make_ward(desk, manager) -> Ward:
    """Four patients (one restricted), a clerk, a supervisor and two providers."""
    users.add(desk, manager, "ann", "clerk", full_name="Ann Clerk")
    users.add(desk, manager, "sue", "supervisor")
    people = [
        PatientDetails(mrn="500100", last="Moreno", first="Rosa", dob=dt.date(1950, 2, 3), sex="F",
                       insurance=[{"payer": "Medicare", "member_id": "1EG4TE5MK73", "group": ""}]),
        PatientDetails(mrn="500200", last="Tanaka", first="Ken", dob=dt.date(1981, 7, 8), sex="M",
                       insurance=[{"payer": "Aetna", "member_id": "W123456789", "group": "4455"}]),
        PatientDetails(mrn="500300", last="Okafor", first="Ada", dob=dt.date(1975, 1, 1), sex="F"),
        PatientDetails(mrn="500400", last="Lind", first="Siv", dob=dt.date(1990, 4, 4), sex="F", sensitive=True),
    ]
    patients = {p.mrn: Patient.get_by_id(register(desk, manager, p)) for p in people}
    with desk.write():
        ada = Provider.create(name="Dr. Ada Byron", service="Hospital Medicine", npi="1234567890")
        ben = Provider.create(name="Dr. Ben Casey", service="General Surgery")
    return Ward(desk, desk.sign_on("ann"), desk.sign_on("sue"), patients, ada, ben)


def visit(w: Ward, mrn: str, kind: str = "inpatient", admit: dt.datetime = ADMIT,
          discharge: dt.datetime | None = DISCHARGE, attending: Provider | None = None,
          surgery: tuple[dt.datetime | None, dt.datetime | None] = (None, None)) -> Encounter:
    with w.desk.write():
        return Encounter.create(patient=w.patients[mrn], kind=kind, admit_at=admit, discharge_at=discharge,
                                service="Hospital Medicine", attending=attending or w.ada,
                                surgery_at=surgery[0], surgery_end_at=surgery[1])


def filed(w: Ward, mrn: str, doc_type: str, day: dt.date | None, pages: int = 1,
          encounter: Encounter | None = None) -> Document:
    with w.desk.write():
        return file_document(w.desk, w.ann, w.patients[mrn], pdf(doc_type, pages), doc_type=doc_type,
                             title=doc_type.replace("_", " ").title(), pages=pages, service_date=day,
                             encounter=encounter, qa_state="passed")


def states(a: assembly.Assembly) -> dict[str, str]:
    return {i.code: i.state for i in a.items}


def actions(since: int) -> list[str]:
    return [e.action for e in AuditEvent.select().where(AuditEvent.seq > since).order_by(AuditEvent.seq)]


def head() -> int:
    return AuditEvent.select().count()


# --- worklists -----------------------------------------------------------------------------------------------------


def test_worklist_for_tomorrow_lists_admissions_and_clinics_and_audits_the_names(ward):
    w = ward
    at = dt.datetime.combine(TOMORROW, dt.time(8, 0))
    first = visit(w, "500100", admit=at, discharge=None)
    second = visit(w, "500200", "surgery", admit=at + dt.timedelta(hours=2), discharge=None, attending=w.ben)
    clinic = visit(w, "500300", "outpatient", admit=at + dt.timedelta(hours=1), discharge=None)
    visit(w, "500300", admit=dt.datetime.combine(TODAY, dt.time(9)), discharge=None)  # today: not tomorrow's
    filed(w, "500100", "face_sheet", TODAY, encounter=first)
    before = head()
    rows = assembly.worklist(w.desk, w.ann, TOMORROW, "admissions")
    assert [r.encounter_uuid for r in rows] == [first.uuid, second.uuid]
    r = rows[0]
    assert (r.mrn, r.name, r.kind, r.attending, r.admit_at) == ("500100", "MORENO, Rosa", "inpatient",
                                                                 "Dr. Ada Byron", at)
    assert r.present == 1 and r.missing == 0 and r.deficient == 0 and not r.complete  # the rest is not due yet
    assert rows[1].attending == "Dr. Ben Casey"
    assert [r.encounter_uuid for r in assembly.worklist(w.desk, w.ann, TOMORROW, "clinics")] == [clinic.uuid]
    assert actions(before) == ["assembly.worklist", "assembly.worklist"]
    event = AuditEvent.select().where(AuditEvent.action == "assembly.worklist").order_by(AuditEvent.seq).first()
    from recdesk.vault import audit

    assert audit.details(w.desk, event)["patients"] == [w.patients["500100"].uuid, w.patients["500200"].uuid]
    with pytest.raises(DeskError, match="one of admissions"):
        assembly.worklist(w.desk, w.ann, TOMORROW, "wards")


def test_discharges_worklist_lists_incomplete_charts_only(ward):
    w = ward
    at = dt.datetime.combine(TODAY, dt.time(12))
    out_at = at - 3 * DAY
    done = visit(w, "500300", "outpatient", admit=out_at, discharge=out_at + dt.timedelta(hours=1))
    for doc_type in ("face_sheet", "progress_note", "consent", "npp_acknowledgment"):
        filed(w, "500300", doc_type, out_at.date(), encounter=done)
    owed = visit(w, "500200", admit=at - 9 * DAY, discharge=at - 5 * DAY)
    clinic = visit(w, "500200", "outpatient", admit=at - 2 * DAY, discharge=at - 2 * DAY)  # not analysed
    visit(w, "500100", admit=at - 90 * DAY, discharge=at - 80 * DAY)  # outside the 45-day look-back
    rows = assembly.worklist(w.desk, w.ann, TODAY, "discharges", at=at)
    assert [r.encounter_uuid for r in rows] == [owed.uuid]
    assert rows[0].missing > 0 and rows[0].age_days == 5 and not rows[0].delinquent
    w.desk.config.completion = Completion(kinds=("inpatient", "outpatient"))
    rows = assembly.worklist(w.desk, w.ann, TODAY, "discharges", at=at)
    assert [r.encounter_uuid for r in rows] == [owed.uuid, clinic.uuid]  # the complete visit is not listed


# --- one chart -----------------------------------------------------------------------------------------------------


def test_assembly_judges_filed_and_attached_documents(ward):
    w = ward
    enc = visit(w, "500200")
    face = filed(w, "500200", "face_sheet", ADMIT.date(), encounter=enc)
    hp = filed(w, "500200", "history_and_physical", ADMIT.date() + DAY)  # no encounter, dated inside the stay
    consult = filed(w, "500200", "consult_report", ADMIT.date())
    old = filed(w, "500200", "discharge_summary", dt.date(2024, 1, 5))  # another stay long ago: not this chart
    assembly.attach(w.desk, w.ann, enc.uuid, "consent_to_treat", consult.uuid)  # any type counts once attached
    before = head()
    a = assembly.assemble(w.desk, w.ann, enc.uuid, LATER)
    s = states(a)
    assert s["face_sheet"] == "present" and s["history_and_physical"] == "present"
    assert s["consent_to_treat"] == "present"
    assert s["discharge_summary"] == "missing" and s["final_diagnosis"] == "missing"
    assert s["operative_report"] == "not_applicable"  # no surgery recorded on this stay
    assert s["im_admission"] == "not_applicable"  # not a Medicare patient
    items = {i.code: i for i in a.items}
    assert [d.uuid for d in items["face_sheet"].documents] == [face.uuid]
    assert [d.uuid for d in items["history_and_physical"].documents] == [hp.uuid]
    assert items["consent_to_treat"].attached == (consult.uuid,)
    assert items["discharge_summary"].suggested == "missing_discharge_summary"
    assert old.uuid not in {d.uuid for i in a.items for d in i.documents}
    assert old.uuid in {d.uuid for d in a.documents}  # still offered for attaching
    assert not a.complete and a.count("missing") >= 2
    assert (a.patient.mrn, a.attending, a.medicare) == ("500200", "Dr. Ada Byron", False)
    assert actions(before) == ["chart.assemble"]


def test_a_date_without_a_time_is_judged_at_its_best_minute_and_late_is_late(ward):
    w = ward
    enc = visit(w, "500100")  # Medicare
    filed(w, "500100", "history_and_physical", ADMIT.date() + 2 * DAY, encounter=enc)  # 2 days after admit: late
    filed(w, "500100", "important_message_medicare", DISCHARGE.date(), encounter=enc)  # the day of discharge
    s = states(assembly.assemble(w.desk, w.ann, enc.uuid, LATER))
    assert s["history_and_physical"] == "late"
    assert s["im_followup"] == "present"  # its first minute is before the patient left
    assert s["im_admission"] == "late"  # the discharge-day copy was signed 4 days after admission (C5)


def test_surgery_encounter_counts_its_admission_as_the_start_of_surgery(ward):
    w = ward
    at = dt.datetime(2026, 10, 6, 7, 30)
    enc = visit(w, "500200", "surgery", admit=at, discharge=at + dt.timedelta(hours=6), attending=w.ben)
    filed(w, "500200", "operative_report", at.date(), encounter=enc)
    filed(w, "500200", "anesthesia_note", at.date(), encounter=enc)
    s = states(assembly.assemble(w.desk, w.ann, enc.uuid, LATER))
    assert s["operative_report"] == "present" and s["anesthesia_note"] == "present"
    assert s["post_anesthesia_evaluation"] == "missing"


def test_surgery_times_drive_the_operative_report_and_post_anesthesia_windows_of_an_inpatient_stay(ward):
    w = ward
    start, end = dt.datetime(2026, 10, 7, 8, 0), dt.datetime(2026, 10, 7, 11, 30)
    enc = visit(w, "500200", surgery=(start, end))
    plain = visit(w, "500200", admit=ADMIT + DAY, discharge=DISCHARGE + DAY)  # the same kind of stay, no surgery
    assert states(assembly.assemble(w.desk, w.ann, plain.uuid, LATER))["operative_report"] == "not_applicable"

    def item(code: str, at: dt.datetime) -> assembly.ItemRow:
        return next(i for i in assembly.assemble(w.desk, w.ann, enc.uuid, at).items if i.code == code)

    # C3: due 24 and 48 hours after the surgery ends, not after it starts (that would be 10-08 08:00)
    assert item("operative_report", end + dt.timedelta(hours=21)).state == "pending"
    assert "Due by 2026-10-08 11:30" in item("operative_report", end).message
    assert "Due by 2026-10-09 11:30" in item("post_anesthesia_evaluation", end).message
    assert item("operative_report", end + dt.timedelta(hours=24, minutes=1)).state == "missing"
    assert "Due by 2026-10-07 08:00" in item("procedure_consent", start - DAY).message  # before it starts
    filed(w, "500200", "operative_report", end.date(), encounter=enc)
    filed(w, "500200", "post_anesthesia_evaluation", end.date() + 3 * DAY, encounter=enc)  # 10-10: too late
    filed(w, "500200", "anesthesia_note", start.date() - DAY, encounter=enc)
    a = assembly.assemble(w.desk, w.ann, enc.uuid, LATER)
    s = states(a)
    assert s["operative_report"] == "present" and s["anesthesia_note"] == "present"
    assert s["post_anesthesia_evaluation"] == "late" and s["procedure_consent"] == "missing"
    (row,) = [r for r in assembly.worklist(w.desk, w.ann, ADMIT.date(), "admissions", at=LATER)
              if r.encounter_uuid == enc.uuid]
    assert (row.missing, row.required) == (a.count("missing"), sum(i.state != "not_applicable" for i in a.items))
    # a same-day surgery with its times recorded: the operation, not the admission, starts the surgical items
    at = dt.datetime(2026, 10, 6, 7, 30)
    day_case = visit(w, "500300", "surgery", admit=at, discharge=at + 8 * dt.timedelta(hours=1), attending=w.ben,
                     surgery=(at.replace(hour=12), at.replace(hour=14)))
    s = states(assembly.assemble(w.desk, w.ann, day_case.uuid, at.replace(hour=11)))
    assert s["procedure_consent"] == "pending" and s["operative_report"] == "pending"
    assert assembly.surgery_times(Encounter.get_by_id(day_case.id)) == (at.replace(hour=12), at.replace(hour=14))


def test_attach_checks_patient_item_and_files_the_document_to_the_encounter(ward):
    w = ward
    enc = visit(w, "500200")
    other_visit = visit(w, "500200", "outpatient", admit=ADMIT - 20 * DAY, discharge=ADMIT - 20 * DAY)
    mine = filed(w, "500200", "consent", ADMIT.date())
    elsewhere = filed(w, "500200", "npp_acknowledgment", ADMIT.date(), encounter=other_visit)
    theirs = filed(w, "500300", "consent", ADMIT.date())
    before = head()
    with pytest.raises(DeskError, match="another patient"):
        assembly.attach(w.desk, w.ann, enc.uuid, "consent_to_treat", theirs.uuid)
    with pytest.raises(DeskError, match="not on the inpatient checklist"):
        assembly.attach(w.desk, w.ann, enc.uuid, "visit_note", mine.uuid)
    assert actions(before) == [] and AssemblyItem.select().count() == 0
    assembly.attach(w.desk, w.ann, enc.uuid, "consent_to_treat", mine.uuid)
    assembly.attach(w.desk, w.ann, enc.uuid, "npp_acknowledgment", elsewhere.uuid)
    assert Document.get_by_id(mine.id).encounter_id == enc.id  # it was filed to no encounter
    assert Document.get_by_id(elsewhere.id).encounter_id == other_visit.id  # kept where it was
    with pytest.raises(DeskError, match="already attached"):
        assembly.attach(w.desk, w.ann, enc.uuid, "consent_to_treat", mine.uuid)
    assert actions(before) == ["assembly.attach", "assembly.attach"]
    s = states(assembly.assemble(w.desk, w.ann, enc.uuid, LATER))
    assert s["npp_acknowledgment"] == "present"
    assembly.detach(w.desk, w.ann, enc.uuid, "npp_acknowledgment", elsewhere.uuid)
    assert states(assembly.assemble(w.desk, w.ann, enc.uuid, LATER))["npp_acknowledgment"] == "missing"
    with pytest.raises(DeskError, match="not attached"):
        assembly.detach(w.desk, w.ann, enc.uuid, "npp_acknowledgment", elsewhere.uuid)


# --- deficiencies --------------------------------------------------------------------------------------------------


def test_record_and_close_a_deficiency_with_audit_and_an_encrypted_note(ward):
    w = ward
    enc = visit(w, "500200")
    before = head()
    uid = deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_discharge_summary", "dr. ada byron",
                                     note="Dictated, not signed; call pager 4471")
    d = Deficiency.get(Deficiency.uuid == uid)
    assert (d.kind, d.provider_id, d.status, d.opened_by_id, d.encounter_id) == (
        "missing_discharge_summary", w.ada.id, "open", w.ann.user_id, enc.id)
    assert b"pager" not in bytes(d.note_enc)
    patient = w.patients["500200"]
    assert crypto.open_text(w.desk.dek(patient), "deficiency", "note", uid, d.note_enc).endswith("pager 4471")
    assert actions(before) == ["deficiency.record"]
    a = assembly.assemble(w.desk, w.ann, enc.uuid, LATER)
    item = next(i for i in a.items if i.code == "discharge_summary")
    assert item.state == "deficient" and [m.uuid for m in item.deficiencies] == [uid]
    assert "Dr. Ada Byron" in item.message
    assert a.deficiencies[0].note.endswith("pager 4471") and a.deficiencies[0].item == "discharge_summary"
    with pytest.raises(DeskError, match="already open"):
        deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_discharge_summary", w.ada.id)
    with pytest.raises(DeskError, match="not in deficiency_types"):
        deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_lunch", w.ada.id)
    with pytest.raises(DeskError, match="no provider"):
        deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_hp", "Dr. Nobody")
    other = deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_consult", w.ben.name)
    a = assembly.assemble(w.desk, w.ann, enc.uuid, LATER)
    assert [o.uuid for o in a.other] == [other]  # marks no checklist item: listed apart
    before = head()
    deficiencies.close_deficiency(w.desk, w.ann, uid)
    d = Deficiency.get(Deficiency.uuid == uid)
    assert (d.status, d.closed_by_id) == ("closed", w.ann.user_id) and d.closed_at is not None
    assert actions(before) == ["deficiency.close"]
    with pytest.raises(DeskError, match="already closed"):
        deficiencies.close_deficiency(w.desk, w.ann, uid)
    assert states(assembly.assemble(w.desk, w.ann, enc.uuid, LATER))["discharge_summary"] == "missing"


def test_a_deficiency_recorded_on_one_item_marks_only_that_item_even_of_a_shared_kind(ward):
    w = ward
    enc = visit(w, "500200")
    shared = {"face_sheet", "patient_rights_notice", "advance_directive", "financial_responsibility"}
    assert {i.code for i in rules.checklist("inpatient") if i.deficiency == "missing_document"} == shared
    before = head()
    uid = deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_document", w.ada.id,
                                         item="advance_directive")
    assert Deficiency.get(Deficiency.uuid == uid).item == "advance_directive"
    assert actions(before) == ["deficiency.record"]
    a = assembly.assemble(w.desk, w.ann, enc.uuid, LATER)
    s = states(a)
    assert s["advance_directive"] == "deficient"
    assert {code: s[code] for code in shared - {"advance_directive"}} == dict.fromkeys(
        shared - {"advance_directive"}, "missing")
    (row,) = a.deficiencies
    assert (row.item, row.recorded_item) == ("advance_directive", "advance_directive") and not a.other
    (work,) = assembly.worklist(w.desk, w.ann, ADMIT.date(), "admissions", at=LATER)
    assert work.deficient == 1
    # the same kind on another item is another deficiency; on the same item it is already open
    deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_document", w.ada.id, item="face_sheet")
    with pytest.raises(DeskError, match="already open"):
        deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_document", w.ada.id, item="face_sheet")
    s = states(assembly.assemble(w.desk, w.ann, enc.uuid, LATER))
    assert [c for c in sorted(shared) if s[c] == "deficient"] == ["advance_directive", "face_sheet"]
    # recorded on no item, a deficiency of a shared kind still marks every owed item of that kind
    deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_document", w.ben.id)
    assert all(states(assembly.assemble(w.desk, w.ann, enc.uuid, LATER))[c] == "deficient" for c in shared)
    # the item is exact even where the document serves two items
    summary = filed(w, "500200", "discharge_summary", DISCHARGE.date(), encounter=enc)
    deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_signature", w.ada.id, document_uuid=summary.uuid,
                               item="final_diagnosis")
    s = states(assembly.assemble(w.desk, w.ann, enc.uuid, LATER))
    assert (s["final_diagnosis"], s["discharge_summary"]) == ("deficient", "present")


def test_an_unknown_checklist_item_is_refused_in_one_line(ward):
    w = ward
    enc = visit(w, "500200")
    before = head()
    for code in ("visit_note", "no_such_item"):  # an outpatient item, and none at all
        with pytest.raises(DeskError, match=f"'{code}' is not on the inpatient checklist") as caught:
            deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_document", w.ada.id, item=code)
        assert "\n" not in str(caught.value)
    assert Deficiency.select().count() == 0 and actions(before) == []


def test_a_deficiency_on_a_document_marks_the_item_it_serves(ward):
    w = ward
    enc = visit(w, "500200")
    hp = filed(w, "500200", "history_and_physical", ADMIT.date(), encounter=enc)
    deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_signature", w.ada.id, document_uuid=hp.uuid)
    assert states(assembly.assemble(w.desk, w.ann, enc.uuid, LATER))["history_and_physical"] == "deficient"
    theirs = filed(w, "500300", "history_and_physical", ADMIT.date())
    with pytest.raises(DeskError, match="another patient"):
        deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_signature", w.ada.id,
                                       document_uuid=theirs.uuid)


def test_delinquent_at_exactly_the_configured_days_after_discharge(ward):
    w = ward
    enc = visit(w, "500200")
    deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_discharge_summary", w.ada.id)
    due = DISCHARGE + 30 * DAY

    def row(at):
        (r,) = deficiencies.deficiencies(w.desk, w.ann, at=at)
        return r.age_days, r.delinquent

    assert row(due - dt.timedelta(minutes=1)) == (29, False)
    assert row(due) == (30, True)
    w.desk.config.completion = Completion(delinquent_days=14)
    assert row(DISCHARGE + 14 * DAY - dt.timedelta(minutes=1)) == (13, False)
    assert row(DISCHARGE + 14 * DAY) == (14, True)
    assert assembly.worklist(w.desk, w.ann, (DISCHARGE + 14 * DAY).date(), "discharges",
                             at=DISCHARGE + 14 * DAY)[0].delinquent


def test_deficiency_list_by_provider_and_status_is_an_audited_view(ward):
    w = ward
    a = visit(w, "500200")
    b = visit(w, "500100", admit=ADMIT + DAY, discharge=DISCHARGE + DAY, attending=w.ben)
    one = deficiencies.record_deficiency(w.desk, w.ann, a.uuid, "missing_hp", w.ada.id)
    two = deficiencies.record_deficiency(w.desk, w.ann, b.uuid, "missing_op_report", w.ben.id)
    deficiencies.close_deficiency(w.desk, w.ann, two)
    before = head()
    rows = deficiencies.deficiencies(w.desk, w.ann, provider="Dr. Ada Byron", at=LATER)
    assert [(r.uuid, r.mrn, r.name, r.provider, r.label) for r in rows] == [
        (one, "500200", "TANAKA, Ken", "Dr. Ada Byron", "H&P missing or not done before surgery")]
    assert [r.uuid for r in deficiencies.deficiencies(w.desk, w.ann, status="closed", at=LATER)] == [two]
    assert len(deficiencies.deficiencies(w.desk, w.ann, status="all", at=LATER)) == 2
    assert actions(before) == ["deficiency.list"] * 3


def test_provider_queue_counts_open_deficiencies_per_provider(ward):
    w = ward
    at = DISCHARGE + 40 * DAY
    old = visit(w, "500200")  # 40 days since discharge: delinquent
    new = visit(w, "500100", admit=at - 6 * DAY, discharge=at - 2 * DAY)
    deficiencies.record_deficiency(w.desk, w.ann, old.uuid, "missing_discharge_summary", w.ada.id)
    deficiencies.record_deficiency(w.desk, w.ann, old.uuid, "missing_hp", w.ada.id)
    deficiencies.record_deficiency(w.desk, w.ann, new.uuid, "missing_hp", w.ada.id)
    closed = deficiencies.record_deficiency(w.desk, w.ann, new.uuid, "missing_consent", w.ben.id)
    deficiencies.record_deficiency(w.desk, w.ann, new.uuid, "missing_im", w.ben.id)
    deficiencies.close_deficiency(w.desk, w.ann, closed)
    queue = deficiencies.provider_queue(w.desk, w.ann, at)
    assert [(r.provider, r.open, r.charts, r.delinquent, r.oldest_days) for r in queue] == [
        ("Dr. Ada Byron", 3, 2, 1, 40), ("Dr. Ben Casey", 1, 1, 0, 2)]  # delinquent: charts, not deficiencies


def test_delinquency_rate_over_three_months_of_discharges(ward):
    w = ward
    at = dt.datetime(2026, 11, 26, 12, 0)
    stays = [visit(w, "500200", admit=at - (n + 4) * DAY, discharge=at - n * DAY)
             for n in (5, 20, 35, 50, 70, 88)]  # six inpatient discharges since Aug 26
    visit(w, "500200", admit=at - 100 * DAY, discharge=at - 95 * DAY)  # before the three months
    clinic = visit(w, "500300", "outpatient", admit=at - 60 * DAY, discharge=at - 60 * DAY)
    for enc, kind in ((stays[2], "missing_hp"), (stays[2], "missing_consent"), (stays[4], "missing_hp"),
                      (stays[0], "missing_hp"), (clinic, "missing_consent")):
        deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, kind, w.ada.id)
    # two delinquent inpatient records (35 and 70 days); the 5-day one is not due; outpatient is not counted
    closed = deficiencies.record_deficiency(w.desk, w.ann, stays[3].uuid, "missing_hp", w.ada.id)
    deficiencies.close_deficiency(w.desk, w.ann, closed)
    rate = deficiencies.delinquency_rate(w.desk, at)
    assert (rate.delinquent, rate.discharges) == (2, 6)
    assert rate.rate == pytest.approx(1.0) and rate.over and rate.since == dt.datetime(2026, 8, 26, 12, 0)
    assert rate.rate == rules.delinquency_rate(2, 6)
    assert "2 charts delinquent / 6 discharges" in rate.text
    w.desk.config.completion = Completion(kinds=("inpatient", "outpatient"), delinquency_threshold=2)
    rate = deficiencies.delinquency_rate(w.desk, at)
    assert (rate.delinquent, rate.discharges, rate.over) == (3, 7, False)


def delinquent_ward(w: Ward) -> dict[str, Encounter]:
    """A demo-like desk where the old ways of counting disagree: two charts are delinquent (a deficiency open 30+
    days after discharge); a checklist-incomplete chart without a deficiency, an outpatient visit, a chart not due yet
    and one whose deficiency was closed are not. (Counting deficiencies gives 4; counting incomplete checklists 3.)"""
    now = rules_now()
    with w.desk.write():
        lee = Patient.get_by_id(register(w.desk, w.desk.sign_on("boss"), PatientDetails(
            mrn="500500", last="Lee", first="Ana", dob=dt.date(1970, 3, 3), sex="F")))
    w.patients["500500"] = lee
    charts = {
        "two_providers": visit(w, "500100", admit=now - 44 * DAY, discharge=now - 40 * DAY),
        "surgery": visit(w, "500200", "surgery", admit=now - 37 * DAY, discharge=now - 35 * DAY, attending=w.ben),
        "outpatient": visit(w, "500300", "outpatient", admit=now - 60 * DAY, discharge=now - 60 * DAY),
        "no_deficiency": visit(w, "500500", admit=now - 41 * DAY, discharge=now - 38 * DAY),
        "not_due": visit(w, "500300", admit=now - 8 * DAY, discharge=now - 5 * DAY),
        "closed": visit(w, "500500", admit=now - 55 * DAY, discharge=now - 50 * DAY),
    }
    for name, kind, who in (("two_providers", "missing_discharge_summary", w.ada), ("two_providers", "missing_hp",
                             w.ben), ("surgery", "missing_op_report", w.ben), ("outpatient", "missing_consent", w.ada),
                             ("not_due", "missing_hp", w.ada)):
        deficiencies.record_deficiency(w.desk, w.ann, charts[name].uuid, kind, who.id)
    done = deficiencies.record_deficiency(w.desk, w.ann, charts["closed"].uuid, "missing_hp", w.ada.id)
    deficiencies.close_deficiency(w.desk, w.ann, done)
    return charts


def rules_now() -> dt.datetime:
    from recdesk.completion.rows import wall_clock

    return wall_clock()


def test_one_delinquency_figure_for_f6_its_queue_the_review_and_the_cli(ward):
    """C4 defined once: F6's discharges (D), its provider queue and rate (Q), the F9 review and `recdesk review`
    give one number, and moving the bylaws' days moves them all."""
    from recdesk import review
    from recdesk.desk import os_user_name

    w = ward
    charts = delinquent_ward(w)
    late = {charts["two_providers"].uuid, charts["surgery"].uuid}
    figure = deficiencies.delinquency(w.desk)
    assert figure.charts == 2
    assert figure.text == "2 charts delinquent (deficiency open 30+ days after discharge)"
    # F6 D: the discharges worklist flags exactly those charts (the checklist-incomplete one is not delinquent)
    rows = assembly.worklist(w.desk, w.ann, TODAY, "discharges")
    assert charts["no_deficiency"].uuid in {r.encounter_uuid for r in rows}
    assert {r.encounter_uuid for r in rows if r.delinquent} == late
    assert assembly.assemble(w.desk, w.ann, charts["two_providers"].uuid).delinquent
    assert not assembly.assemble(w.desk, w.ann, charts["no_deficiency"].uuid).delinquent
    # F6 Q: the rate counts the same charts; a provider's column counts their charts among them
    rate = deficiencies.delinquency_rate(w.desk)
    assert rate.delinquent == 2 and "2 charts delinquent / " in rate.text
    assert {r.provider: r.delinquent for r in deficiencies.provider_queue(w.desk, w.ann)} == {
        "Dr. Ada Byron": 1, "Dr. Ben Casey": 2}
    assert {r.uuid for r in deficiencies.deficiencies(w.desk, w.ann) if r.delinquent} == {
        d.uuid for d in Deficiency.select().where(Deficiency.encounter.in_(
            [charts["two_providers"].id, charts["surgery"].id]))}
    # F9 and `recdesk review queues`
    queues = dict(review.section(w.desk, w.sue, "queues").rows)
    assert queues["Charts delinquent (C4: a deficiency open 30+ days after discharge)"] == "2"
    if not w.desk.is_postgres:
        from tests.conftest import run_cli

        users.add(w.desk, w.desk.sign_on("boss"), "rev", "supervisor", os_user=os_user_name())
        result = run_cli("review", "queues", "--json", home=w.desk.config.home)
        assert result.returncode == 0, result.stderr
        import json

        assert ["Charts delinquent (C4: a deficiency open 30+ days after discharge)", "2"] in json.loads(
            result.stdout)["rows"]
    # One rule: with 36 days allowed, the 35-day surgery is not delinquent yet, everywhere.
    w.desk.config.completion = Completion(delinquent_days=36)
    assert deficiencies.delinquency(w.desk).charts == 1
    assert deficiencies.delinquency_rate(w.desk).delinquent == 1
    assert {r.encounter_uuid for r in assembly.worklist(w.desk, w.ann, TODAY, "discharges") if r.delinquent} == {
        charts["two_providers"].uuid}
    assert dict(review.section(w.desk, w.sue, "queues").rows)[
        "Charts delinquent (C4: a deficiency open 36+ days after discharge)"] == "1"


# --- letters and printing ------------------------------------------------------------------------------------------


def _text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_provider_letter_names_the_provider_and_the_mrns(ward):
    w = ward
    at = DISCHARGE + 40 * DAY
    a = visit(w, "500200")
    b = visit(w, "500100", admit=at - 6 * DAY, discharge=at - 2 * DAY)
    deficiencies.record_deficiency(w.desk, w.ann, a.uuid, "missing_discharge_summary", w.ada.id)
    deficiencies.record_deficiency(w.desk, w.ann, b.uuid, "missing_hp", w.ada.id)
    deficiencies.record_deficiency(w.desk, w.ann, b.uuid, "missing_op_report", w.ben.id)
    before = head()
    letter = printouts.provider_letter(w.desk, w.ann, w.ada.id, at)
    text = " ".join(_text(letter))
    assert "Dr. Ada Byron" in text and "500200" in text and "500100" in text
    assert "DELINQUENT" in text and "Tanaka" not in text  # MRNs only: the minimum necessary
    assert actions(before) == ["deficiency.letter"]
    with pytest.raises(AccessDenied):
        printouts.provider_letter(w.desk, w.sue, w.ada.id, at)
    with Provider._meta.database.atomic():
        idle = Provider.create(name="Dr. Idle")
    with pytest.raises(DeskError, match="no open deficiencies"):
        printouts.provider_letter(w.desk, w.ann, idle.id, at)


def test_print_chart_is_face_sheet_labels_then_documents_in_chart_order(ward):
    w = ward
    enc = visit(w, "500100")
    # filed out of chart order on purpose
    consent = filed(w, "500100", "consent", ADMIT.date(), pages=2, encounter=enc)
    hp = filed(w, "500100", "history_and_physical", ADMIT.date(), pages=3, encounter=enc)
    summary = filed(w, "500100", "discharge_summary", DISCHARGE.date(), pages=2, encounter=enc)
    lab = filed(w, "500100", "lab_result", ADMIT.date() + DAY, encounter=enc)  # on no checklist: printed last
    face = filed(w, "500100", "face_sheet", ADMIT.date())
    before = head()
    data = assembly.print_chart(w.desk, w.ann, enc.uuid, at=LATER)
    pages = _text(data)
    assert len(pages) == 1 + 1 + 1 + 3 + 2 + 2 + 1
    assert "FACE SHEET" in pages[0] and "500100" in pages[0] and "Medicare" in pages[0]
    assert "Dr. Ada Byron" in pages[0]
    assert pages[1].count("MRN 500100") == printouts.LABEL_COLUMNS * printouts.LABEL_ROWS
    order = [p.split()[1] for p in pages[2:]]
    assert order == ["face_sheet", "discharge_summary", "discharge_summary", "history_and_physical",
                     "history_and_physical", "history_and_physical", "consent", "consent", "lab_result"]
    assert [d.uuid for d in printouts.chart_order(assembly.assemble(w.desk, w.ann, enc.uuid, LATER))] == [
        face.uuid, summary.uuid, hp.uuid, consent.uuid, lab.uuid]
    assert actions(before)[0] == "chart.print"
    event = AuditEvent.get(AuditEvent.action == "chart.print")
    from recdesk.vault import audit

    assert audit.details(w.desk, event)["pages"] == len(pages) == 11
    assert event.patient == w.patients["500100"].uuid


def test_supervisor_views_but_changes_nothing(ward):
    w = ward
    enc = visit(w, "500200")
    doc = filed(w, "500200", "consent", ADMIT.date())
    uid = deficiencies.record_deficiency(w.desk, w.ann, enc.uuid, "missing_hp", w.ada.id)
    for change in (lambda: assembly.attach(w.desk, w.sue, enc.uuid, "consent_to_treat", doc.uuid),
                   lambda: assembly.detach(w.desk, w.sue, enc.uuid, "consent_to_treat", doc.uuid),
                   lambda: deficiencies.record_deficiency(w.desk, w.sue, enc.uuid, "missing_consent", w.ada.id),
                   lambda: deficiencies.close_deficiency(w.desk, w.sue, uid),
                   lambda: printouts.provider_letter(w.desk, w.sue, w.ada.id, LATER)):
        with pytest.raises(AccessDenied, match="supervisor"):
            change()
    assert Deficiency.select().count() == 1 and Deficiency.get().status == "open"
    assert AssemblyItem.select().count() == 0
    assert states(assembly.assemble(w.desk, w.sue, enc.uuid, LATER))["history_and_physical"] == "deficient"
    assert deficiencies.provider_queue(w.desk, w.sue, LATER)[0].open == 1


def test_a_restricted_record_is_assembled_only_with_a_need_and_a_purpose(ward):
    w = ward
    enc = visit(w, "500400")
    with pytest.raises(BreakGlassRequired):  # a clerk with no need: a purpose alone opens nothing
        assembly.assemble(w.desk, w.ann, enc.uuid, LATER, purpose="chart_completion")
    chart.assign(w.desk, w.desk.sign_on("boss"), "ann", w.patients["500400"].uuid)
    with pytest.raises(PurposeRequired):
        assembly.assemble(w.desk, w.ann, enc.uuid, LATER)
    with pytest.raises(PurposeRequired):
        assembly.print_chart(w.desk, w.ann, enc.uuid, at=LATER)
    a = assembly.assemble(w.desk, w.ann, enc.uuid, LATER, purpose="chart_completion")
    assert a.patient.mrn == "500400"
    (opening,) = chart.restricted_openings(w.desk)
    assert (opening.user, opening.purpose, opening.need, opening.via) == ("ann", "chart_completion", "assigned",
                                                                          "chart.assemble")


def test_a_restricted_chart_printed_under_break_glass_is_queued_and_refused_after_expiry(ward, monkeypatch):
    from recdesk import clock

    w = ward
    enc = visit(w, "500400")
    chart.break_glass(w.desk, w.ann, w.patients["500400"].uuid, "chart_completion", "Dr. Casey signs today")
    assert assembly.print_chart(w.desk, w.ann, enc.uuid, at=LATER).startswith(b"%PDF")
    assert [o.via for o in chart.review_queue(w.desk)] == ["chart.print"]
    moved = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=5)
    monkeypatch.setattr(clock, "now", lambda: moved)
    with pytest.raises(BreakGlassRequired):
        assembly.print_chart(w.desk, w.ann, enc.uuid, at=LATER)


# --- the demo desk -------------------------------------------------------------------------------------------------


def test_the_demo_desk_has_tomorrows_admissions_recent_discharges_and_deficiencies(tmp_path):
    from recdesk.demo import builder
    from recdesk.vault.models import Provider as P

    desk = builder.build(tmp_path / "demo", 150, 7)
    try:
        clerk = desk.sign_on("demo")
        admissions = assembly.worklist(desk, clerk, TOMORROW, "admissions")
        clinics = assembly.worklist(desk, clerk, TOMORROW, "clinics")
        assert len(admissions) >= 6 and len(clinics) >= 4
        assert sum(r.present for r in admissions) > 0  # paperwork filed ahead of admission
        discharges = assembly.worklist(desk, clerk, TODAY, "discharges")
        assert len(discharges) >= 8 and any(r.delinquent for r in discharges)
        assert any(r.present and r.missing for r in discharges)  # some filed, some missing
        queue = deficiencies.provider_queue(desk, clerk)
        assert queue and any(r.delinquent for r in queue) and P.select().count() > 20
        assert deficiencies.deficiencies(desk, clerk, status="closed")
        recorded = Deficiency.select().where(Deficiency.kind != "missing_consult")  # the consult is on no checklist
        assert recorded.count() and all(d.item for d in recorded)
        operations = list(Encounter.select().where((Encounter.kind == "surgery")
                                                   & Encounter.discharge_at.is_null(False)))
        assert operations
        for e in operations:
            assert e.admit_at < e.surgery_at < e.surgery_end_at < e.discharge_at
        before = Encounter.select().count()
        providers = {p.name: p.id for p in P.select()}
        builder._assembly_work(desk, clerk, 7, 150, providers)  # the same day again: nothing new
        assert Encounter.select().count() == before
        builder._assembly_work(desk, clerk, 7, 150, providers, today=TOMORROW)  # the next day: its tomorrow
        assert len(assembly.worklist(desk, clerk, TOMORROW + DAY, "admissions")) >= 6
        assert len(assembly.worklist(desk, clerk, TODAY, "discharges")) == len(discharges)  # stays once
    finally:
        desk.close()
