"""Crypto-shredding one patient at the service level, on both backends: what goes, what stays, what still works."""

from __future__ import annotations

import datetime
import io
import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass

import peewee
import pytest
from fpdf import FPDF
from pypdf import PdfReader

from recdesk import doctor, users
from recdesk.completion import assembly, deficiencies
from recdesk.desk import Desk
from recdesk.documents import filing
from recdesk.errors import AccessDenied, DeskError, TamperError
from recdesk.paper import appointments, tracking
from recdesk.patients import chart, search
from recdesk.patients.registry import PatientDetails, register
from recdesk.release import accounting, requests
from recdesk.retention import holds, keep, shredding
from recdesk.retention import register as destruction
from recdesk.vault import audit, crypto
from recdesk.vault.models import (
    MODELS,
    AccountingSuspension,
    Appointment,
    AuditEvent,
    ChartVolume,
    Deficiency,
    DestructionEntry,
    Disclosure,
    Document,
    DoNotPurge,
    Encounter,
    Insurance,
    Patient,
    PatientToken,
    Provider,
    Release,
    ReleaseRequest,
)
from tests.conftest import ROOT

TODAY = datetime.date.today()


@dataclass(frozen=True)
class Person:
    mrn: str
    last: str
    first: str
    dob: datetime.date
    phone: str


# Names nothing else on a desk would hold, so a byte search for them finds only what they left behind.
PEOPLE = [
    Person("734521", "Quillfeather", "Zanzibara", datetime.date(1931, 7, 19), "(512) 555-0143"),
    Person("845632", "Brightwaterly", "Orsolya", datetime.date(1942, 11, 3), "(512) 555-0187"),
    Person("956743", "Calloway-Vantz", "Perpetua", datetime.date(1950, 5, 23), "(512) 555-0199"),
    Person("167854", "Dunsmoreland", "Ignatius", datetime.date(1938, 2, 14), "(512) 555-0121"),
]


def pdf(label: str, pages: int = 2) -> bytes:
    doc = FPDF()
    doc.set_font("Helvetica", size=14)
    for n in range(1, pages + 1):
        doc.add_page()
        doc.cell(0, 10, f"{label} page {n}")
    return bytes(doc.output())


def authorization() -> dict:
    return {"description": "Discharge summaries", "discloser": "General Hospital", "recipient": "Dewey LLP",
            "purposes": ["legal claim"], "expiration": {"date": (TODAY + datetime.timedelta(days=200)).isoformat()},
            "signed_on": (TODAY - datetime.timedelta(days=10)).isoformat(), "signature": "/s/ patient",
            "signer": "patient", "statements": {"revocation": True, "conditioning": True, "redisclosure": True}}


def fill(desk: Desk, manager, clerk, p: Person) -> Patient:
    """A patient with something in every table a record spreads over."""
    row = Patient.get_by_id(register(desk, manager, PatientDetails(
        mrn=p.mrn, last=p.last, first=p.first, dob=p.dob, phone=p.phone, ssn_last4=p.mrn[-4:],
        address={"line1": f"{p.mrn[:3]} {p.last} Lane"}, insurance=[{"payer": "Aetna", "member_id": f"W{p.mrn}"}])))
    with desk.write():
        stay = Encounter.create(patient=row, kind="inpatient", admit_at=datetime.datetime(2012, 3, 4, 9),
                                discharge_at=datetime.datetime(2012, 3, 9, 12), service="Hospital Medicine")
        summary = filing.file_document(desk, clerk, row, pdf(f"Discharge summary of {p.last}, {p.first}"),
                                       doc_type="discharge_summary", title=f"Summary {p.last}", pages=2,
                                       service_date=datetime.date(2012, 3, 9), qa_state="passed", encounter=stay)
        filing.file_document(desk, clerk, row, pdf(f"Lab of {p.last}"), doc_type="lab_result",
                             title=f"Labs {p.last}", pages=2, service_date=datetime.date(2011, 6, 1), qa_state="passed")
    provider = Provider.get_or_none(Provider.name == "Dr. Ada Byron")
    if provider is None:
        with desk.write():
            provider = Provider.create(name="Dr. Ada Byron", service="Hospital Medicine")
    deficiencies.record_deficiency(desk, clerk, stay.uuid, "missing_signature", provider.id,
                                   note=f"{p.last} signature", document_uuid=summary.uuid)
    assembly.attach(desk, clerk, stay.uuid, "discharge_summary", summary.uuid)
    appointments.import_csv(desk, clerk, f"appointment_id,mrn,clinic,date,time\n"
                                         f"A{p.mrn},{p.mrn},Cardiology,{TODAY + datetime.timedelta(days=3)},09:00\n")
    tracking.ensure_location(desk, clerk, "CARD", "Cardiology", "clinic")
    tracking.charge_out(desk, clerk, tracking.chart_status(desk, row), "CARD",
                        TODAY + datetime.timedelta(days=5))
    form = requests.RequestForm(
        request={"received": (TODAY - datetime.timedelta(days=3)).isoformat(), "requester_type": "attorney",
                 "requester_name": f"Counsel for {p.last}", "purpose": "legal",
                 "scope": {"from": "2011-01-01", "to": "2012-12-31", "doc_types": None, "categories": []}},
        authorization=authorization(), patients=[p.mrn], requester_address="1 Court St\nAustin TX 78701")
    requests.log_request(desk, clerk, form)
    accounting.record_disclosure(desk, clerk, row.uuid, disclosed_on=TODAY - datetime.timedelta(days=40),
                                 recipient="State Health Dept", description=f"Case report on {p.last}",
                                 purpose="public_health", basis="public_health", address="100 Capitol Ave")
    accounting.suspend_accounting(desk, clerk, row.uuid, agency="Office of Inspector General",
                                  starts_on=TODAY - datetime.timedelta(days=400), written=True,
                                  ends_on=TODAY - datetime.timedelta(days=300))
    return Patient.get_by_id(row.id)


@pytest.fixture
def ward(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    clerk = desk.sign_on("ann")
    patients = [fill(desk, manager, clerk, p) for p in PEOPLE[:3]]
    return desk, manager, clerk, patients


def shred(desk, manager, patient: Patient, n: int = 1) -> destruction.Destroyed:
    return shredding.shred(desk, manager, patient.uuid, batch_uuid=f"batch{n:027d}", certificate_no=f"CD-2026-{n:03d}")


def needles(p: Person) -> set[bytes]:
    values = {p.mrn, p.last, p.first, p.last.upper(), p.first.upper(), p.dob.isoformat(), p.dob.strftime("%m/%d/%Y"),
              "".join(c for c in p.phone if c.isdigit())}
    out = set()
    for v in values:
        out |= {v.encode("utf-8"), v.encode("utf-16-le"), v.encode("utf-16-be")}
    return out


def _whole_database_text(desk: Desk) -> bytes:
    """PostgreSQL keeps its files out of our reach: every row of every table, as the server gives it, instead."""
    out = []
    for table in desk.db.get_tables():
        for (row,) in desk.db.execute_sql(f'SELECT row_to_json(t)::text FROM "{table}" t').fetchall():
            out.append(row.encode())
    return b"\n".join(out)


def test_shredding_one_patient_leaves_no_plaintext_and_the_others_open(ward):
    desk, manager, clerk, patients = ward
    gone, *kept = patients
    blobs = [d.blob for d in Document.select().where(Document.patient == gone.id)]
    assert blobs and all(desk.store.path(b).exists() for b in blobs)

    entry = shred(desk, manager, gone)

    assert (entry.mrn, entry.last, entry.first, entry.dob) == (PEOPLE[0].mrn, PEOPLE[0].last, PEOPLE[0].first,
                                                               PEOPLE[0].dob)
    assert (entry.first_service, entry.last_service) == (datetime.date(2011, 6, 1), datetime.date(2012, 3, 9))
    assert (entry.documents, entry.pages, entry.encounters, entry.volumes) == (2, 4, 1, 1)
    assert "key absent" in entry.verification and "failed" in entry.verification
    assert not any(desk.store.path(b).exists() for b in blobs)
    stub = Patient.get_by_id(gone.id)
    assert stub.dek_wrapped is None and stub.status == "purged"
    assert all(getattr(stub, f) is None for f in Patient._meta.fields if f.endswith("_enc"))
    with pytest.raises(DeskError, match="purged"):
        desk.dek(stub)

    # No byte of the database, its WAL or the store holds the purged patient's name, MRN, DOB or phone.
    if desk.is_postgres:
        files = {"database rows": _whole_database_text(desk)}
    else:
        wal = desk.config.home / "recdesk.db-wal"
        files = {str(f): f.read_bytes() for f in (desk.config.sqlite_path, wal) if f.exists()}
    files |= {str(f): f.read_bytes() for f in desk.store.root.rglob("*") if f.is_file()}
    found = [(name, n) for name, data in files.items() for n in needles(PEOPLE[0]) if n in data]
    assert found == []

    # The others open whole: chart, documents, search.
    for p, row in zip(PEOPLE[1:], kept, strict=False):
        c = chart.open_chart(desk, clerk, row.uuid)
        assert c.patient.mrn == p.mrn and len(c.documents) == 2 and len(c.encounters) == 1
        for d in Document.select().where(Document.patient == row.id):
            assert filing.read_document(desk, clerk, d).startswith(b"%PDF")
        assert [h.patient.mrn for h in search.search(desk, clerk, p.mrn)] == [p.mrn]
    assert [h.destroyed for h in search.search(desk, clerk, PEOPLE[0].mrn)] == [entry]  # shown as destroyed
    with pytest.raises(DeskError, match="no longer on the desk"):
        chart.open_chart(desk, clerk, gone.uuid)

    # The register answers, the audit chain verifies, doctor passes.
    found = destruction.find(desk, clerk, PEOPLE[0].mrn)
    assert found == entry and found.certificate_no == "CD-2026-001"
    assert destruction.find(desk, clerk, PEOPLE[1].mrn) is None
    assert audit.verify(desk).intact
    desk.config.save()
    report = doctor.run(desk.config.home)
    assert report.passed, report.render()


def test_every_row_keyed_to_the_purged_patient_goes_and_what_must_stay_stays(ward):
    desk, manager, clerk, patients = ward
    gone = patients[0]
    requests_before = ReleaseRequest.select().count()
    shred(desk, manager, gone)
    for model in MODELS:
        for f in model._meta.sorted_fields:
            if isinstance(f, peewee.ForeignKeyField) and f.rel_model is Patient and model not in (
                    Disclosure, AccountingSuspension, Patient):
                assert model.select().where(f == gone.id).count() == 0, (model.__name__, f.name)
    assert ReleaseRequest.select().count() == requests_before - 1  # its request covered only this patient
    assert PatientToken.select().where(PatientToken.patient == gone.id).count() == 0
    assert Insurance.select().where(Insurance.patient == gone.id).count() == 0
    # Kept on purpose: the disclosure and suspension (under the desk key), the audit trail.
    (d,) = Disclosure.select().where(Disclosure.patient == gone.id)
    assert d.release_id is None
    assert crypto.open_text(desk.desk_key, "disclosure", "recipient", d.uuid, d.recipient_enc) == "State Health Dept"
    (s,) = AccountingSuspension.select().where(AccountingSuspension.patient == gone.id)
    assert crypto.open_text(desk.desk_key, "accounting_suspension", "agency", s.uuid, s.agency_enc).startswith("Office")
    assert AuditEvent.select().where(AuditEvent.patient == gone.uuid).count() > 10
    # The others keep every row of theirs.
    for other in patients[1:]:
        assert Document.select().where(Document.patient == other.id).count() == 2
        assert Release.select().where(Release.patient == other.id).count() == 1
        assert ChartVolume.select().where(ChartVolume.patient == other.id).count() == 1
        assert Appointment.select().where(Appointment.patient == other.id).count() == 1
        assert Deficiency.select().where(Deficiency.patient == other.id).count() == 1


def _patient_keyed() -> set[type]:
    """Models with a foreign key to Patient or a patient uuid column, and, in turn, those keyed to them."""
    keyed = {m for m in MODELS if any(
        (isinstance(f, peewee.ForeignKeyField) and f.rel_model is Patient)
        or (f.name in ("patient", "patient_uuid") and not isinstance(f, peewee.ForeignKeyField))
        for f in m._meta.sorted_fields)} | {Patient}
    while True:
        more = {m for m in MODELS if m not in keyed and any(
            isinstance(f, peewee.ForeignKeyField) and f.rel_model in keyed for f in m._meta.sorted_fields)}
        if not more:
            return keyed
        keyed |= more


def test_every_patient_keyed_model_is_decided_by_the_shred():
    missing = sorted(m.__name__ for m in _patient_keyed() if m not in shredding.PURGED)
    assert missing == [], f"decide what a shred does with {missing}: add them to shredding.PURGED and to _destroy"
    assert ReleaseRequest in shredding.PURGED  # keyed through its releases, which point at it


def test_the_model_walk_catches_a_new_patient_keyed_table():
    class Amendment(peewee.Model):
        patient = peewee.ForeignKeyField(Patient)

    MODELS.append(Amendment)
    try:
        assert Amendment in _patient_keyed() and Amendment not in shredding.PURGED
    finally:
        MODELS.remove(Amendment)


def test_a_second_shred_is_a_no_op_that_returns_the_register_entry(ward):
    desk, manager, _, patients = ward
    first = shred(desk, manager, patients[0])
    events = AuditEvent.select().count()
    assert shred(desk, manager, patients[0], n=2) == first  # another batch's call changes nothing
    assert AuditEvent.select().count() == events
    assert DestructionEntry.select().count() == 1


def test_only_a_manager_shreds_and_a_held_record_is_refused(ward):
    desk, manager, clerk, patients = ward
    with pytest.raises(AccessDenied):
        shred(desk, clerk, patients[0])
    hold = holds.place(desk, manager, matter="Doe v. General", patients=[patients[1].uuid], basis="litigation")
    with pytest.raises(DeskError, match="legal hold"):
        shred(desk, manager, patients[1])
    assert Patient.get_by_id(patients[1].id).dek_wrapped is not None
    keep.mark(desk, manager, patients[2].uuid, reason="research cohort")
    with pytest.raises(DeskError, match="do not purge"):
        shred(desk, manager, patients[2])
    assert Patient.get_by_id(patients[2].id).dek_wrapped is not None
    keep.clear(desk, manager, patients[2].uuid)
    holds.lift(desk, manager, hold, reason="settled")
    shred(desk, manager, patients[2])
    assert not DoNotPurge.select().where(DoNotPurge.patient == patients[2].id).exists()  # its reason had no key left
    DestructionEntry.delete().execute()  # the count below is of refused shreds only
    assert DestructionEntry.select().count() == 0
    with pytest.raises(DeskError, match="no patient"):
        shredding.shred(desk, manager, "f" * 32, batch_uuid="b", certificate_no="c")


def test_a_failure_inside_the_shred_leaves_the_patient_untouched(ward, monkeypatch):
    desk, manager, clerk, patients = ward
    gone = patients[0]

    def broken(*args):
        raise TamperError("the erase could not be verified")

    monkeypatch.setattr(shredding, "_verify", broken)
    with pytest.raises(TamperError):
        shred(desk, manager, gone)
    assert Patient.get_by_id(gone.id).dek_wrapped is not None and DestructionEntry.select().count() == 0
    assert chart.open_chart(desk, clerk, gone.uuid).patient.mrn == PEOPLE[0].mrn
    assert all(desk.store.path(d.blob).exists() for d in Document.select().where(Document.patient == gone.id))


def test_the_purged_patients_disclosures_stay_in_their_accounting_by_mrn(ward):
    desk, manager, clerk, patients = ward
    gone = patients[0]
    before = accounting.accounting(desk, clerk, gone.uuid)
    shred(desk, manager, gone)
    after = accounting.accounting_for_mrn(desk, clerk, PEOPLE[0].mrn)
    assert (after.patient_name, after.mrn) == ("QUILLFEATHER, Zanzibara", PEOPLE[0].mrn)
    assert [r.recipient for r in after.rows] == [r.recipient for r in before.rows] == ["State Health Dept"]
    assert after.rows[0].description == "Case report on Quillfeather"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(
        accounting.accounting_pdf(desk, clerk, gone.uuid))).pages)
    assert "State Health Dept" in text and PEOPLE[0].mrn in text
    # A live MRN is answered from the patient, an unknown one says so.
    assert accounting.accounting_for_mrn(desk, clerk, PEOPLE[1].mrn).mrn == PEOPLE[1].mrn
    with pytest.raises(DeskError, match="no patient with MRN 999999"):
        accounting.accounting_for_mrn(desk, clerk, "999999")


def test_disclosures_of_a_destroyed_record_go_six_years_after_each(ward):
    desk, manager, clerk, patients = ward
    gone = patients[0]
    shred(desk, manager, gone)
    (d,) = Disclosure.select().where(Disclosure.patient == gone.id)
    kept_until = d.disclosed_on.replace(year=d.disclosed_on.year + 6)
    assert destruction.expired_disclosures(desk, kept_until) == []  # kept through the sixth anniversary
    (due,) = destruction.expired_disclosures(desk, kept_until + datetime.timedelta(days=1))
    assert (due.uuid, due.kept_until) == (d.uuid, kept_until)
    with pytest.raises(AccessDenied):
        destruction.remove_expired_disclosures(desk, clerk, kept_until + datetime.timedelta(days=1))
    assert destruction.remove_expired_disclosures(desk, manager, kept_until + datetime.timedelta(days=1)) == 1
    assert Disclosure.select().where(Disclosure.patient == gone.id).count() == 0
    assert AccountingSuspension.select().where(AccountingSuspension.patient == gone.id).count() == 0
    # A living patient's old disclosures are never the register's to remove.
    assert Disclosure.select().where(Disclosure.patient == patients[1].id).count() == 1
    assert destruction.find(desk, clerk, PEOPLE[0].mrn) is not None  # the register itself is permanent
    desk.config.save()
    report = doctor.run(desk.config.home)
    assert report.passed, report.render()


def test_the_six_years_of_a_leap_day_disclosure_end_on_the_28th():
    assert destruction._shift(datetime.date(2024, 2, 29), 6) == datetime.date(2030, 2, 28)


def test_a_changed_register_entry_is_named_as_tampering(ward):
    desk, manager, clerk, patients = ward
    shred(desk, manager, patients[0])
    DestructionEntry.update(certificate_no="CD-FORGED").execute()
    with pytest.raises(TamperError, match="changed outside recdesk"):
        destruction.find(desk, clerk, PEOPLE[0].mrn)


def test_a_register_look_up_is_audited_and_refuses_a_non_mrn(ward):
    desk, manager, clerk, patients = ward
    shred(desk, manager, patients[0])
    destruction.find(desk, clerk, "0" + PEOPLE[0].mrn)  # leading zeros are the same chart
    (event,) = AuditEvent.select().where(AuditEvent.action == "retention.register.find")
    assert event.patient == patients[0].uuid and event.user_name == "ann"
    assert PEOPLE[0].mrn not in json.dumps(audit.details(desk, event))
    with pytest.raises(DeskError, match="digits only"):
        destruction.find(desk, clerk, "smith")


def test_files_a_killed_run_left_are_named_by_doctor_and_removed_by_the_next_run(ward, monkeypatch):
    desk, manager, _, patients = ward
    blobs = [d.blob for d in Document.select().where(Document.patient == patients[0].id)]
    monkeypatch.setattr(shredding, "finish", lambda desk: True)  # the process died right after the commit
    shred(desk, manager, patients[0])
    monkeypatch.undo()
    assert all(desk.store.path(b).exists() for b in blobs) and shredding.pending_blobs(desk) == set(blobs)
    desk.config.save()
    report = doctor.run(desk.config.home)
    assert report.passed, report.render()
    assert any("2 files of destroyed records are still to be removed" in text for _, text in report.lines)
    with Desk.open(desk.config.home) as again:  # doctor opened the desk on its own: open it again, as a rerun would
        shred(again, again.sign_on("boss"), patients[1], n=2)  # the next run finishes the last one's removal
        assert not any(again.store.path(b).exists() for b in blobs) and shredding.pending_blobs(again) == set()


def test_a_pending_blob_id_a_document_still_uses_is_never_removed(ward):
    desk, manager, _, patients = ward
    shred(desk, manager, patients[0])
    live = Document.select().where(Document.patient == patients[1].id).first()
    DestructionEntry.update(pending_blobs=live.blob).execute()  # someone wrote a live file's id into the list
    shredding.finish(desk)
    assert desk.store.path(live.blob).exists()


def test_sqlite_wal_is_truncated_after_a_shred(ward):
    desk, manager, _, patients = ward
    if desk.is_postgres:
        pytest.skip("a PostgreSQL desk has no WAL file of ours: VACUUM is the site's")
    shred(desk, manager, patients[0])
    assert desk.db.execute_sql("PRAGMA secure_delete").fetchone()[0] == 1
    wal = desk.config.home / "recdesk.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


# --- kill -9 at random points of a run of shreds, then resume ------------------------------------------------

_RUNNER = """
import sys
from pathlib import Path
from recdesk.desk import Desk
from recdesk.retention import shredding
desk = Desk.open(Path(sys.argv[1]))
manager = desk.sign_on("boss")
print("ready", flush=True)
for n, uuid in enumerate(sys.argv[2:], 1):
    shredding.shred(desk, manager, uuid, batch_uuid="b" * 32, certificate_no=f"CD-{n}")
print("done", flush=True)
"""


def _state(patient_id: int) -> str:
    """'purged' or 'untouched' when the patient is wholly one or the other; anything else names what is half-done."""
    p = Patient.get_by_id(patient_id)
    counts = (Document.select().where(Document.patient == patient_id).count(),
              Encounter.select().where(Encounter.patient == patient_id).count(),
              PatientToken.select().where(PatientToken.patient == patient_id).count() > 0,
              Release.select().where(Release.patient == patient_id).count(),
              ChartVolume.select().where(ChartVolume.patient == patient_id).count(),
              DestructionEntry.select().where(DestructionEntry.patient_uuid == p.uuid).count())
    if p.dek_wrapped is None and p.status == "purged" and counts == (0, 0, False, 0, 0, 1):
        return "purged"
    if p.dek_wrapped is not None and p.status == "active" and counts == (2, 1, True, 1, 1, 0):
        return "untouched"
    return f"half-done: {p.status} {counts}"


def test_kill_9_at_random_points_of_a_shred_run_leaves_each_patient_whole_and_a_rerun_finishes(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    clerk = desk.sign_on("ann")
    people = [Person(str(310000 + 1111 * n), f"Runner{'abcdefghijkl'[n]}son", "Kit", datetime.date(1940, 1, 1 + n),
                     f"(512) 555-{1000 + n}") for n in range(12)]
    patients = [fill(desk, manager, clerk, p) for p in people]
    ids, uuids = [p.id for p in patients], [p.uuid for p in patients]
    home = desk.config.home
    desk.config.save()
    desk.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    cmd = [sys.executable, "-c", _RUNNER, str(home), *uuids]
    for _ in range(5):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        try:
            # The random kill point: a shred takes ~30 ms here, so the kills land anywhere in a few of them.
            proc.wait(timeout=rng.uniform(0.0, 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        with Desk.open(home) as d:
            states = [_state(i) for i in ids]
            assert all(s in ("purged", "untouched") for s in states), (seed, states)
            assert audit.verify(d).intact, seed
        report = doctor.run(home)
        assert report.passed, (seed, report.render())
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout.split() == ["ready", "done"], done.stderr
    with Desk.open(home) as d:
        assert [_state(i) for i in ids] == ["purged"] * len(ids)
        assert shredding.pending_blobs(d) == set()
        assert d.store.blob_ids() == set(b for (b,) in Document.select(Document.blob).tuples())
        assert audit.verify(d).intact
        assert {e.mrn for e in (destruction.entry_of(d, u) for u in uuids)} == {p.mrn for p in people}
    report = doctor.run(home)
    assert report.passed, report.render()


def test_doctor_checks_what_outlives_a_destroyed_record_under_the_desk_key(ward):
    desk, manager, _, patients = ward
    shred(desk, manager, patients[0])
    (d,) = Disclosure.select().where(Disclosure.patient == patients[0].id)
    Disclosure.update(recipient_enc=d.description_enc).where(Disclosure.id == d.id).execute()
    row = DestructionEntry.get()
    DestructionEntry.update(entry_enc=bytes(row.entry_enc)[:-1] + bytes([row.entry_enc[-1] ^ 1])).execute()
    desk.config.save()
    failed = [text for ok, text in doctor.run(desk.config.home).lines if not ok]
    assert any("disclosure.recipient of row " + d.uuid in line for line in failed), failed
    assert any("destruction_entry.entry of row " + row.uuid in line for line in failed), failed
