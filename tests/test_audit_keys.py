"""Per-patient audit keys, on both backends: what is typed about a patient dies with them when they are shredded, the
chain still verifies, events of other patients and events from before per-patient keys still read, and a supervisor's
read-only desk reads them for review."""

from __future__ import annotations

import datetime

import pytest

from recdesk import doctor, review, users
from recdesk.desk import Desk
from recdesk.errors import TamperError
from recdesk.patients import chart, search
from recdesk.patients.registry import PatientDetails, register
from recdesk.retention import shredding
from recdesk.vault import audit, crypto
from recdesk.vault.models import AuditEvent, Patient
from tests.test_shredding import _whole_database_text

# Words nothing else on a desk holds, so a byte search finds only what they left behind.
REASON_A = "Zephyrine overdose callback from Quorlington ED"
REASON_B = "Bramblewick transfer paperwork from Ostvale"
NOTE_A = "Checked with Quorlington nurse Hallveig"


@pytest.fixture
def ward(desk_and_manager):
    """Two restricted patients; ann (a clerk, no standing need) breaks the glass on both and opens them, boss (a
    manager: a standing need by role) opens A with a purpose."""
    desk, boss = desk_and_manager
    users.add(desk, boss, "ann", "clerk")
    users.add(desk, boss, "sue", "supervisor")
    ann = desk.sign_on("ann")
    rows = []
    for mrn, last in (("610021", "Aldervane"), ("610032", "Birchcombe")):
        pid = register(desk, boss, PatientDetails(mrn=mrn, last=last, first="Pat", dob=datetime.date(1950, 1, 2),
                                                  sensitive=True))
        rows.append(Patient.get_by_id(pid))
    a, b = rows
    chart.break_glass(desk, ann, a.uuid, "treatment", REASON_A)
    chart.break_glass(desk, ann, b.uuid, "treatment", REASON_B)
    chart.open_chart(desk, ann, a.uuid)
    chart.open_chart(desk, ann, b.uuid)
    chart.open_chart(desk, boss, a.uuid, purpose="legal")
    return desk, boss, ann, a, b


def events_of(patient: Patient) -> list[AuditEvent]:
    return list(AuditEvent.select().where(AuditEvent.patient == patient.uuid).order_by(AuditEvent.seq))


def grant_of(patient: Patient) -> AuditEvent:
    return AuditEvent.get((AuditEvent.action == chart.BREAK_GLASS) & (AuditEvent.patient == patient.uuid))


def shred(desk, boss, patient: Patient) -> None:
    shredding.shred(desk, boss, patient.uuid, batch_uuid="b" * 32, certificate_no="CD-2026-001")


def test_a_patients_event_is_sealed_under_their_own_key_not_the_desks(ward):
    desk, _, _, a, b = ward
    grant = grant_of(a)
    blob = bytes(grant.details_enc)
    assert blob[0] == audit.PATIENT_SEALED
    with pytest.raises(TamperError):  # the desk-wide audit key does not open it
        crypto.open_bytes(desk.master.sub("audit-data"), "audit_event", "details", str(grant.seq), blob[1:])
    key = desk.audit_key(a.uuid)
    assert key not in (desk.dek(a), desk.audit_key(b.uuid))  # a key of its own, not the DEK itself
    assert audit.details(desk, grant) == {"purpose": "treatment", "reason": REASON_A, "hours": 4}
    # An event about no patient stays under the desk key.
    sign = AuditEvent.get(AuditEvent.action == "desk.init")
    assert bytes(sign.details_enc)[0] == crypto.VERSION and audit.details(desk, sign)["backend"]


def test_after_a_shred_the_patients_details_are_gone_and_the_others_still_read(ward):
    desk, boss, ann, a, b = ward
    assert audit.details(desk, grant_of(a))["reason"] == REASON_A
    shred(desk, boss, a)

    gone = [e for e in events_of(a) if e.details_enc is not None and bytes(e.details_enc)[0] == audit.PATIENT_SEALED]
    assert {e.action for e in gone} == {chart.BREAK_GLASS, chart.OPENED}
    for e in gone:
        assert audit.details(desk, e) is None and audit.destroyed(desk, e)
    assert audit.details(desk, grant_of(b)) == {"purpose": "treatment", "reason": REASON_B, "hours": 4}
    assert not audit.destroyed(desk, grant_of(b))
    # The shred's own record is about the destroyed patient, under the desk key: the certificate stays readable.
    (shredded,) = [e for e in events_of(a) if e.action == shredding.SHREDDED]
    assert audit.details(desk, shredded)["certificate"] == "CD-2026-001"
    # Nothing any desk can still read says what was typed about A.
    readable = [audit.details(desk, e) for e in AuditEvent.select()]
    assert not any(REASON_A in str(d) for d in readable)
    assert any(REASON_B in str(d) for d in readable)


def test_no_byte_of_the_database_holds_what_was_typed_about_a_shredded_patient(ward):
    desk, boss, ann, a, b = ward
    sue = desk.sign_on("sue")
    (a_use,) = [o for o in chart.review_queue(desk) if o.patient == a.uuid]
    chart.mark_reviewed(desk, sue, a_use.seq, NOTE_A)
    shred(desk, boss, a)
    if desk.is_postgres:
        data = _whole_database_text(desk)
    else:
        wal = desk.config.home / "recdesk.db-wal"
        data = b"".join(f.read_bytes() for f in (desk.config.sqlite_path, wal) if f.exists())
    for typed in (REASON_A, NOTE_A):
        assert typed.encode() not in data
    # The note a supervisor typed about A went with A's key too; the mark itself (who reviewed it) stays.
    mark = AuditEvent.get(AuditEvent.action == chart.REVIEWED)
    assert audit.details(desk, mark) is None
    done = next(o for o in chart.restricted_openings(desk) if o.seq == a_use.seq)
    assert (done.destroyed, done.reviewed_by, done.note, done.open) == (True, "sue", "", False)


def test_the_chain_verifies_and_doctor_passes_after_a_shred(ward):
    desk, boss, _, a, _ = ward
    shred(desk, boss, a)
    report = audit.verify(desk)
    assert report.intact and report.events == AuditEvent.select().count()
    desk.config.save()
    result = doctor.run(desk.config.home)
    assert result.passed, result.render()


def test_an_unreviewed_break_glass_use_stays_queued_after_the_shred_and_a_standing_need_does_not(ward):
    desk, boss, ann, a, b = ward
    shred(desk, boss, a)
    openings = {(o.user, o.patient): o for o in chart.restricted_openings(desk)}
    glass, role = openings["ann", a.uuid], openings["boss", a.uuid]
    assert (glass.destroyed, glass.need, glass.how, glass.open, glass.purpose, glass.reason) == (
        True, "break_glass", "break-glass", True, "", "")
    assert (role.destroyed, role.queued, role.how) == (True, False, "destroyed")
    assert openings["ann", b.uuid].reason == REASON_B and not openings["ann", b.uuid].destroyed
    table = review.section(desk, desk.sign_on("sue"), "access")
    row = table.rows[table.refs.index(glass.seq)]
    assert row[0].startswith("OPEN") and row[4] == "(no longer on the desk)"
    assert row[-1] == "(destroyed with the record)"
    # A supervisor still closes it; the note, typed after the purge, is under the desk key and reads.
    chart.mark_reviewed(desk, desk.sign_on("sue"), glass.seq, "User interviewed: emergency confirmed")
    assert [o.patient for o in chart.review_queue(desk)] == [b.uuid]
    mark = AuditEvent.select().where(AuditEvent.action == chart.REVIEWED).order_by(AuditEvent.seq.desc()).first()
    assert audit.details(desk, mark) == {"note": "User interviewed: emergency confirmed"}


def test_an_event_written_before_per_patient_keys_still_reads(ward, monkeypatch):
    desk, boss, ann, a, _ = ward
    # recdesk before per-patient keys sealed every event under the desk key: a desk with no patient keys does so.
    with monkeypatch.context() as m:
        m.setattr(Desk, "audit_keys", lambda self, uuids: {})
        with desk.audit_db.atomic():
            seq = audit.append(desk, ann, "chart.print", object=f"patient:{a.uuid}", patient=a.uuid,
                               details={"copies": 2, "printer": "HIM-2"})
    old = AuditEvent.get_by_id(seq)
    assert bytes(old.details_enc)[0] == crypto.VERSION
    assert audit.details(desk, old) == {"copies": 2, "printer": "HIM-2"}
    # Its bytes are chained, so it cannot be sealed again: it stays readable after the shred (said in audit.py).
    shred(desk, boss, a)
    assert audit.details(desk, old) == {"copies": 2, "printer": "HIM-2"} and not audit.destroyed(desk, old)
    assert audit.verify(desk).intact


def test_a_supervisors_read_only_desk_reads_a_patients_details_and_seals_its_own_under_the_patients_key(ward):
    desk, _, _, a, b = ward
    home = desk.config.home
    desk.close()
    with Desk.open(home, readonly=True) as ro:
        sue = ro.sign_on("sue")
        assert audit.details(ro, grant_of(a))["reason"] == REASON_A
        assert {o.reason for o in chart.review_queue(ro)} == {REASON_A, REASON_B}
        chart.break_glass(ro, sue, b.uuid, "legal", "Privacy complaint 4471")
        own = AuditEvent.select().where(AuditEvent.user_name == "sue").order_by(AuditEvent.seq.desc()).first()
        assert bytes(own.details_enc)[0] == audit.PATIENT_SEALED
        assert audit.details(ro, own)["reason"] == "Privacy complaint 4471"
        assert audit.verify(ro).intact
    with Desk.open(home) as again:
        assert audit.details(again, own)["reason"] == "Privacy complaint 4471"


def test_a_patients_key_is_unwrapped_once_per_desk_and_forgotten_with_their_data_key(ward, monkeypatch):
    desk, boss, ann, a, b = ward
    home = desk.config.home
    desk.close()
    unwraps = []
    real = crypto.unwrap_dek
    monkeypatch.setattr(crypto, "unwrap_dek", lambda *args: unwraps.append(args[1]) or real(*args))
    with Desk.open(home) as fresh:
        clerk = fresh.sign_on("ann")
        for n in range(20):
            with fresh.write():
                audit.append(fresh, clerk, "chart.print", object=f"patient:{a.uuid}", patient=a.uuid,
                             details={"copy": n})
        assert unwraps == [a.uuid]
        fresh.forget_dek(Patient.get(Patient.uuid == a.uuid).id)
        assert fresh.audit_key(a.uuid) is not None and unwraps == [a.uuid, a.uuid]


def test_a_patients_sealed_details_are_bound_to_their_event(ward):
    desk, _, _, a, _ = ward
    first, second = [e for e in events_of(a) if e.details_enc is not None][:2]
    # A blob copied onto another event of the same patient fails to open (and the chain names the event altered).
    AuditEvent.update(details_enc=first.details_enc).where(AuditEvent.seq == second.seq).execute()
    with pytest.raises(TamperError, match="failed authentication"):
        audit.details(desk, AuditEvent.get_by_id(second.seq))
    assert audit.verify(desk).broken_seq == second.seq


def test_a_search_query_stays_under_the_desk_key_and_reads_after_the_shred(ward):
    desk, boss, ann, a, _ = ward
    search.search(desk, ann, "610021")
    shred(desk, boss, a)
    (event,) = AuditEvent.select().where(AuditEvent.action == "patient.search")
    # A search is about no one patient; misuse review needs what was typed (see audit.py): it is kept, on purpose.
    assert event.patient == "" and audit.details(desk, event)["query"] == "610021"
