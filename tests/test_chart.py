"""Opening a chart: everything on one patient, audited; restricted records need a need and a purpose (more in
test_restricted.py); last-patient recall."""

import datetime

import pytest

from recdesk.documents.filing import file_document
from recdesk.errors import AccessDenied
from recdesk.patients import chart
from recdesk.patients.registry import PatientDetails, register
from recdesk.serve import sessions
from recdesk.vault.models import AuditEvent, Encounter, Patient


@pytest.fixture
def two_patients(desk_and_manager):
    desk, actor = desk_and_manager
    plain = register(desk, actor, PatientDetails(mrn="111111", last="Lee", first="Min", dob=datetime.date(1970, 1, 2),
                                                 insurance=[{"payer": "Medicare", "member_id": "1EG4TE5MK72"}]))
    restricted = register(desk, actor, PatientDetails(mrn="222222", last="Roe", first="Jan",
                                                      dob=datetime.date(1980, 5, 6), sensitive=True))
    with desk.write():
        p = Patient.get_by_id(plain)
        Encounter.create(patient=p, kind="inpatient", admit_at=datetime.datetime(2026, 1, 2, 8),
                         discharge_at=datetime.datetime(2026, 1, 5, 12), service="Cardiology")
        file_document(desk, actor, p, b"%PDF-1.7 test", doc_type="discharge_summary", title="Discharge summary",
                      pages=2, service_date=datetime.date(2026, 1, 5))
    return desk, actor, Patient.get_by_id(plain).uuid, Patient.get_by_id(restricted).uuid


def test_opening_a_chart_gathers_the_record_and_is_audited(two_patients):
    desk, actor, plain, _ = two_patients
    c = chart.open_chart(desk, actor, plain)
    assert c.patient.mrn == "111111"
    assert c.patient.insurance == [{"payer": "Medicare", "member_id": "1EG4TE5MK72", "group": ""}]
    assert [e["service"] for e in c.encounters] == ["Cardiology"]
    assert [(d["type"], d["pages"], d["qa"]) for d in c.documents] == [("Discharge summary", 2, "pending")]
    assert c.access[0]["user"] == "boss"
    last = AuditEvent.select().order_by(AuditEvent.seq.desc()).get()
    assert (last.action, last.patient, last.user_name) == ("chart.open", plain, "boss")


def test_a_restricted_record_needs_a_purpose_from_a_manager_which_is_audited(two_patients):
    desk, actor, _, restricted = two_patients
    before = AuditEvent.select().count()
    with pytest.raises(chart.PurposeRequired):
        chart.open_chart(desk, actor, restricted)
    assert AuditEvent.select().count() == before
    c = chart.open_chart(desk, actor, restricted, purpose="release")
    assert c.patient.sensitive and c.opened.need == "role"
    (opening,) = chart.restricted_openings(desk)
    assert (opening.user, opening.patient, opening.purpose) == ("boss", restricted, "release")


def test_enter_on_an_empty_prompt_recalls_the_last_patient_across_sessions(two_patients):
    desk, actor, plain, restricted = two_patients
    assert sessions.last_patient(desk, actor) is None
    chart.open_chart(desk, actor, restricted, purpose="treatment")
    chart.open_chart(desk, actor, plain)
    again = sessions.sign_on(desk, "boss")
    assert sessions.last_patient(desk, again) == plain


def test_sign_on_and_off_are_audited_and_refusals_are_clear(two_patients):
    desk, actor, _, _ = two_patients
    s = sessions.sign_on(desk, "boss", via="ssh", address="10.0.0.7", key_fingerprint="SHA256:abc")
    sessions.sign_off(desk, s, "idle")
    on, off = list(AuditEvent.select().order_by(AuditEvent.seq.desc()).limit(2))[::-1]
    assert (on.action, off.action) == ("session.sign_on", "session.sign_off")
    assert on.session == off.session
    from recdesk.vault import audit

    assert audit.details(desk, off) == {"reason": "idle"}
    assert audit.details(desk, on)["address"] == "10.0.0.7"
    with pytest.raises(AccessDenied, match="not a desk user"):
        sessions.sign_on(desk, "mallory")
