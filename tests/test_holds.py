"""Legal holds: managers place and lift them (with a reason), clerks are refused, every step is audited, a held
chart's documents do not move, and a hold lifted or deleted behind the desk's back still holds."""

import datetime

import pytest

from recdesk import clock, doctor, users
from recdesk.documents import intake
from recdesk.documents.filing import file_document
from recdesk.errors import AccessDenied, DeskError, TamperError
from recdesk.patients.registry import PatientDetails, register
from recdesk.retention import holds, worklist
from recdesk.vault import audit
from recdesk.vault.models import AuditEvent, Document, Encounter, HeldPatient, LegalHold, Patient

AS_OF = datetime.date(2026, 6, 1)
TODAY = datetime.date.today()


@pytest.fixture
def office(desk_and_manager):
    """A manager (boss), a clerk (ann), three patients last seen in 2010, and a filed document of the first."""
    desk, boss = desk_and_manager
    users.add(desk, boss, "ann", "clerk")
    ann = desk.sign_on("ann")
    uuids = []
    for n, (last, first) in enumerate((("Avery", "Ann"), ("Baker", "Bo"), ("Cole", "Cy"))):
        pid = register(desk, boss, PatientDetails(mrn=f"10023{n}", last=last, first=first,
                                                  dob=datetime.date(1950, 1, 1 + n)))
        with desk.write():
            Encounter.create(patient=pid, kind="outpatient", admit_at=datetime.datetime(2010, 3, 1, 9))
        uuids.append(Patient.get_by_id(pid).uuid)
    with desk.write():
        doc = file_document(desk, ann, Patient.get(Patient.uuid == uuids[0]), b"%PDF-1.4 discharge summary",
                            doc_type="discharge_summary", title="Discharge summary", pages=1,
                            service_date=datetime.date(2010, 3, 1), qa_state="passed")
    return desk, boss, ann, uuids, doc.uuid


def test_a_manager_places_a_hold_over_several_patients_and_lifts_it_with_a_reason(office):
    desk, boss, ann, (a, b, c), _ = office
    hold = holds.place(desk, boss, matter="Avery v. Riverside General", patients=[a, b], basis="litigation",
                       starts_on=datetime.date(2026, 1, 5))
    assert holds.is_held(desk, a) and holds.is_held(desk, b) and not holds.is_held(desk, c)
    (shown,) = holds.holds(desk, ann)
    assert (shown.uuid, shown.matter, shown.basis, shown.starts_on, shown.until_on, shown.placed_by, shown.active,
            shown.mrns) == (hold, "Avery v. Riverside General", "litigation", datetime.date(2026, 1, 5), None,
                            "boss", True, ("100230", "100231"))
    placed = [e for e in AuditEvent.select().order_by(AuditEvent.seq) if e.action.startswith("hold.")]
    assert [e.action for e in placed] == ["hold.place", "hold.cover", "hold.cover", "hold.list"]
    assert [e.patient for e in placed[1:3]] == [a, b]  # each patient's own trail records the hold
    assert audit.details(desk, placed[0])["matter"] == "Avery v. Riverside General"
    assert audit.details(desk, placed[3])["patients"] == sorted([a, b])  # the list view of MRNs is audited

    with pytest.raises(DeskError, match="reason to lift"):
        holds.lift(desk, boss, hold, reason="  ")
    assert holds.is_held(desk, a)
    holds.lift(desk, boss, hold[:8], reason="settled out of court")
    assert not holds.is_held(desk, a) and not holds.is_held(desk, b)
    (shown,) = holds.holds(desk, boss)
    assert (shown.active, shown.lifted_by, shown.lift_reason) == (False, "boss", "settled out of court")
    assert holds.holds(desk, boss, include_lifted=False) == []
    with pytest.raises(DeskError, match="lifted already"):
        holds.lift(desk, boss, hold, reason="again")
    lifted = AuditEvent.select().where(AuditEvent.action == "hold.lift").get()
    assert audit.details(desk, lifted) == {"reason": "settled out of court", "patients": [a, b]}


def test_clerks_may_neither_place_nor_lift_a_hold(office):
    desk, boss, ann, (a, _, _), _ = office
    with pytest.raises(AccessDenied, match="needs a manager"):
        holds.place(desk, ann, matter="State audit", patients=[a], basis="audit")
    assert LegalHold.select().count() == 0
    hold = holds.place(desk, boss, matter="State audit", patients=[a], basis="audit")
    with pytest.raises(AccessDenied, match="needs a manager"):
        holds.lift(desk, ann, hold, reason="done")
    assert holds.is_held(desk, a)


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"matter": " "}, "needs a matter"),
    ({"basis": "curiosity"}, "basis 'curiosity': one of litigation, investigation, audit, government_request"),
    ({"patients": []}, "at least one patient"),
    ({"patients": ["f" * 32]}, "not on the desk"),
    ({"until_on": datetime.date(2025, 1, 1)}, r"until 2025-01-01 is past: a hold placed now would hold nothing"),
    ({"starts_on": datetime.date(2199, 12, 31)}, r"from 2199-12-31 is after today"),
    ({"matter": "two\nlines"}, "one line"),
])
def test_a_bad_hold_is_refused_in_one_line(office, kwargs, error):
    desk, boss, _, (a, _, _), _ = office
    args = {"matter": "Avery v. Riverside", "patients": [a], **kwargs}
    with pytest.raises(DeskError, match=error):
        holds.place(desk, boss, **args)
    assert LegalHold.select().count() == 0 and HeldPatient.select().count() == 0


def test_a_hold_with_an_until_day_ends_by_itself(office):
    desk, boss, ann, (a, _, _), _ = office
    today, day = clock.today(), datetime.timedelta(days=1)
    holds.place(desk, boss, matter="OIG request", patients=[a], basis="government_request",
                starts_on=today - 30 * day, until_on=today + 10 * day)
    assert holds.is_held(desk, a, today + 10 * day)
    assert not holds.is_held(desk, a, today + 11 * day)
    assert [b.code for b in worklist.blockers(desk, a, as_of=today + 9 * day)] == ["T2-HOLD"]
    assert worklist.blockers(desk, a, as_of=today + 11 * day) == []


def test_a_held_patients_document_is_not_moved(office):
    desk, boss, ann, (a, b, _), doc = office
    hold = holds.place(desk, boss, matter="Avery v. Riverside General", patients=[a])
    with pytest.raises(DeskError, match=r"its chart is under legal hold .* \(litigation: Avery v. Riverside General\)"):
        intake.move(desk, ann, doc, patient_uuid=b, reason="wrong patient")
    with pytest.raises(DeskError, match="cannot be moved until a manager lifts the hold"):
        intake.move(desk, ann, doc, doc_type="consult_report", reason="wrong type")
    assert Document.get(Document.uuid == doc).patient.uuid == a
    # nor into a held chart
    hold_b = holds.place(desk, boss, matter="Baker audit", patients=[b], basis="audit")
    holds.lift(desk, boss, hold, reason="settled")
    with pytest.raises(DeskError, match="the chart it would go to is under legal hold"):
        intake.move(desk, ann, doc, patient_uuid=b, reason="wrong patient")
    holds.lift(desk, boss, hold_b, reason="audit closed")
    moved = intake.move(desk, ann, doc, patient_uuid=b, reason="wrong patient")
    assert moved.patient.uuid == b


def test_a_hold_lifted_by_writing_the_database_is_refused(office):
    desk, boss, ann, (a, _, _), doc = office
    holds.place(desk, boss, matter="Avery v. Riverside", patients=[a])
    LegalHold.update(lifted_at=datetime.datetime(2026, 1, 1)).execute()
    with pytest.raises(TamperError, match="hold"):
        holds.is_held(desk, a)
    with pytest.raises(TamperError):
        worklist.candidates(desk, ann, as_of=AS_OF, include_blocked=True)
    with pytest.raises(TamperError):
        intake.move(desk, ann, doc, doc_type="consult_report", reason="wrong type")


def test_a_hold_row_deleted_behind_the_desk_still_holds_and_doctor_names_it(office):
    desk, boss, ann, (a, b, _), _ = office
    holds.place(desk, boss, matter="Avery v. Riverside", patients=[a, b])
    HeldPatient.delete().where(HeldPatient.patient == Patient.get(Patient.uuid == a).id).execute()
    assert holds.is_held(desk, a) and holds.is_held(desk, b)
    (row,) = [c for c in worklist.candidates(desk, ann, as_of=AS_OF, include_blocked=True) if c.patient_uuid == a]
    assert [x.code for x in row.blocked_by] == ["T2-HOLD"] and "desk lost" in row.blocked_by[0].words
    desk.config.save()
    failed = [text for ok, text in doctor.run(desk.config.home).lines if not ok]
    assert any("held_patient row(s) the audit trail records were deleted" in line for line in failed), failed


def test_is_held_of_a_patient_not_on_the_desk_is_false(office):
    desk, *_ = office
    assert holds.is_held(desk, "0" * 32) is False


def test_a_short_or_unknown_hold_id_is_refused(office):
    desk, boss, _, (a, _, _), _ = office
    holds.place(desk, boss, matter="Avery v. Riverside", patients=[a])
    with pytest.raises(DeskError, match="at least 8 characters"):
        holds.lift(desk, boss, "abc", reason="x")
    with pytest.raises(DeskError, match="no legal hold"):
        holds.lift(desk, boss, "0" * 32, reason="x")


def test_doctor_checks_the_holds_and_marks_encrypted_fields(office):
    from recdesk.retention import keep

    desk, boss, _, (a, b, _), _ = office
    first = holds.place(desk, boss, matter="Avery v. Riverside", patients=[a])
    holds.place(desk, boss, matter="Baker audit", patients=[b], basis="audit")
    keep.mark(desk, boss, b, reason="research")
    desk.config.save()
    assert doctor.run(desk.config.home).passed
    moved = LegalHold.get(LegalHold.uuid == first).matter_enc
    LegalHold.update(matter_enc=moved).where(LegalHold.uuid != first).execute()
    failed = [text for ok, text in doctor.run(desk.config.home).lines if not ok]
    assert any("legal_hold.matter" in line for line in failed), failed


def test_a_hold_names_its_patients_by_mrn_too_and_a_clerk_is_refused_before_any_look_up(office):
    desk, boss, ann, (a, b, _), _ = office
    hold = holds.place(desk, boss, matter="Avery v. Riverside", mrns=["100230"], patients=[b])
    assert [sorted(h.mrns) for h in holds.holds(desk, boss) if h.uuid == hold] == [["100230", "100231"]]
    with pytest.raises(DeskError, match="no patient with MRN 999999"):
        holds.place(desk, boss, matter="Avery v. Riverside", mrns=["999999"])
    with pytest.raises(AccessDenied):
        holds.place(desk, ann, matter="Avery v. Riverside", mrns=["999999"])
