"""Purge batches at the service level, on both backends: prepare, the two-person rule, the checks at approval and at
execution, archive first, the run, paper, the certificate, and search showing what was destroyed."""

from __future__ import annotations

import dataclasses
import datetime
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from recdesk import clock, doctor, users
from recdesk.config import Retention
from recdesk.desk import Desk
from recdesk.documents import filing
from recdesk.errors import AccessDenied, DeskError, TamperError
from recdesk.paper import tracking
from recdesk.patients import chart, search
from recdesk.patients.registry import PatientDetails, register
from recdesk.release import accounting, requests
from recdesk.retention import archive, batches, holds, keep
from recdesk.retention import register as destruction
from recdesk.vault import audit
from recdesk.vault.models import (
    AuditEvent,
    ChartVolume,
    Document,
    DoNotPurge,
    Encounter,
    Patient,
    PurgeBatch,
    PurgeItem,
    PurgeVolume,
    Release,
)
from tests.conftest import ROOT
from tests.test_certificate import text_of
from tests.test_shredding import pdf

TODAY = datetime.date.today()


@dataclasses.dataclass(frozen=True)
class Person:
    mrn: str
    last: str
    first: str
    dob: datetime.date


# Names nothing else on a desk would hold, so a byte search for them finds only what they left behind.
PEOPLE = [
    Person("734521", "Quillfeather", "Zanzibara", datetime.date(1931, 7, 19)),
    Person("845632", "Brightwaterly", "Orsolya", datetime.date(1942, 11, 3)),
    Person("956743", "Calloway-Vantz", "Perpetua", datetime.date(1950, 5, 23)),
    Person("167854", "Dunsmoreland", "Ignatius", datetime.date(1938, 2, 14)),
    Person("278965", "Everhartington", "Philippa", datetime.date(1945, 9, 30)),
]


def old_chart(desk, manager, clerk, p: Person, *, volumes: int = 1, year: int = 2012) -> Patient:
    """A chart last seen in `year`: a stay, two documents (2 and 3 pages), paper volumes in the file room, and a
    recent disclosure (which only warns: it outlives the purge)."""
    row = Patient.get_by_id(register(desk, manager, PatientDetails(
        mrn=p.mrn, last=p.last, first=p.first, dob=p.dob, phone="(512) 555-0100", ssn_last4=p.mrn[-4:])))
    with desk.write():
        stay = Encounter.create(patient=row, kind="inpatient", admit_at=datetime.datetime(year, 3, 4, 9),
                                discharge_at=datetime.datetime(year, 3, 9, 12), service="Hospital Medicine")
        filing.file_document(desk, clerk, row, pdf(f"Discharge summary of {p.last}, {p.first}"),
                             doc_type="discharge_summary", title=f"Summary {p.last}", pages=2,
                             service_date=datetime.date(year, 3, 9), qa_state="passed", encounter=stay)
        filing.file_document(desk, clerk, row, pdf(f"Lab of {p.last}", 3), doc_type="lab_result",
                             title=f"Labs {p.last}", pages=3, service_date=datetime.date(year - 1, 6, 1),
                             qa_state="passed")
    first = tracking.volume_for(desk, row, actor=clerk)
    with desk.write():
        for n in range(2, volumes + 1):
            ChartVolume.create(patient=row.id, volume_no=n, home=first.home_id, current=first.home_id, status="in")
    accounting.record_disclosure(desk, clerk, row.uuid, disclosed_on=TODAY - datetime.timedelta(days=40),
                                 recipient="State Health Dept", description=f"Case report on {p.last}",
                                 purpose="public_health", basis="public_health")
    return Patient.get_by_id(row.id)


@pytest.fixture
def ward(desk_and_manager):
    """A desk with a second manager, a clerk and five charts long past the Medicare floor (the second with two
    paper volumes)."""
    desk, boss = desk_and_manager
    users.add(desk, boss, "ann", "clerk", full_name="Ann Clerk")
    users.add(desk, boss, "grace", "manager", full_name="Grace Hopper")
    clerk, grace = desk.sign_on("ann"), desk.sign_on("grace")
    patients = [old_chart(desk, boss, clerk, p, volumes=2 if n == 1 else 1) for n, p in enumerate(PEOPLE)]
    return desk, boss, grace, clerk, patients


def approved(desk, clerk, grace, **kwargs) -> batches.BatchView:
    batch = batches.prepare(desk, clerk, as_of=TODAY, **kwargs)
    return batches.approve(desk, grace, batch.id)


def test_prepare_counts_patients_documents_pages_volumes_and_dates(ward):
    desk, boss, grace, clerk, patients = ward
    batch = batches.prepare(desk, clerk, as_of=TODAY)
    assert batch.status == "prepared" and batch.number == f"CD-{TODAY.year}-0001"
    assert (batch.patients, batch.documents, batch.pages, batch.volumes) == (5, 10, 25, 6)
    assert (batch.first_service, batch.last_service) == (datetime.date(2011, 6, 1), datetime.date(2012, 3, 9))
    assert (batch.prepared_by, batch.excluded, batch.done, batch.archive) == ("ann", 0, 0, False)
    # A second batch finds nothing left: every eligible chart is in the open one.
    with pytest.raises(DeskError, match="5 are in open batches already"):
        batches.prepare(desk, clerk, as_of=TODAY)
    batches.cancel(desk, clerk, batch.id, reason="wrong selection")
    # By terminal digits (the MRN's last two) with a limit; by MRN; the number goes on.
    some = batches.prepare(desk, clerk, as_of=TODAY, terminal_digits=(21, 43), limit=2)
    assert some.number == f"CD-{TODAY.year}-0002" and some.patients == 2
    shown = batches.show(desk, clerk, some.number)
    assert [i.mrn for i in shown.items] == ["734521", "845632"]  # 21-45-73 files before 32-56-84
    assert shown.items[0].name == "QUILLFEATHER, Zanzibara" and shown.items[0].rule == "US-MEDICARE"
    assert AuditEvent.select().where(AuditEvent.action == "purge.show").count() == 1
    batches.cancel(desk, boss, some.id[:8], reason="again")
    one = batches.prepare(desk, clerk, as_of=TODAY, mrns=["167854"])
    assert (one.patients, one.volumes) == (1, 1)
    assert [b.number for b in batches.batches(desk, clerk)] == [one.number, some.number, batch.number]


def test_prepare_refuses_what_cannot_be_purged(ward):
    desk, boss, grace, clerk, patients = ward
    with pytest.raises(DeskError, match="after today"):
        batches.prepare(desk, clerk, as_of=TODAY + datetime.timedelta(days=1))
    holds.place(desk, boss, matter="Doe v. General", patients=[patients[0].uuid])
    with pytest.raises(DeskError, match="MRN 734521 is not eligible: T2-HOLD"):
        batches.prepare(desk, clerk, as_of=TODAY, mrns=["734521"])
    with pytest.raises(DeskError, match="not past its retention period"):
        batches.prepare(desk, clerk, as_of=datetime.date(2013, 1, 1), mrns=["845632"])
    with pytest.raises(DeskError, match="no chart is eligible"):
        batches.prepare(desk, clerk, as_of=TODAY, terminal_digits=(0, 5))
    with pytest.raises(DeskError, match="00 to 99"):
        batches.prepare(desk, clerk, as_of=TODAY, terminal_digits=(40, 20))
    with pytest.raises(DeskError, match="size limit is from 1 to 100,000"):
        batches.prepare(desk, clerk, as_of=TODAY, limit=10**23)
    with pytest.raises(DeskError, match="at most 100,000 MRNs"):
        batches.prepare(desk, clerk, as_of=TODAY, mrns=[str(n) for n in range(100_001)])
    with pytest.raises(DeskError) as pasted:
        batches.prepare(desk, clerk, as_of=TODAY, mrns=["9" * 5000])
    assert len(str(pasted.value)) < 200, str(pasted.value)  # one line to read, not the page pasted
    assert batches.parse_digits("00-19") == (0, 19)
    sup = users.add(desk, boss, "sue", "supervisor")
    with pytest.raises(AccessDenied):
        batches.prepare(desk, desk.sign_on(sup.name), as_of=TODAY)
    assert PurgeBatch.select().count() == 0


def test_the_two_person_rule(ward):
    desk, boss, grace, clerk, patients = ward
    mine = batches.prepare(desk, boss, as_of=TODAY, limit=2)
    with pytest.raises(AccessDenied, match="two-person rule: boss prepared batch"):
        batches.approve(desk, boss, mine.id)
    with pytest.raises(AccessDenied):
        batches.approve(desk, clerk, mine.id)
    assert batches.view(PurgeBatch.get()).status == "prepared"
    done = batches.approve(desk, grace, mine.number)
    assert (done.status, done.approved_by) == ("approved", "grace")
    with pytest.raises(DeskError, match="not prepared"):
        batches.approve(desk, grace, mine.number)
    with pytest.raises(AccessDenied):
        batches.run(desk, clerk, mine.number)


def test_a_blocker_undone_behind_the_desk_after_approval_still_keeps_the_chart(ward):
    """A request "closed" and a do-not-purge mark deleted by writing the database between approval and the run:
    the release's seal and the audit trail's record of the mark keep both charts out (an attack review found the
    run destroyed them)."""
    desk, boss, grace, clerk, patients = ward
    batch = approved(desk, clerk, grace, mrns=[p.mrn for p in PEOPLE[:3]])
    (release,) = requests.log_request(desk, clerk, requests.RequestForm(
        request={"received": TODAY.isoformat(), "requester_type": "patient", "requester_name": "the patient",
                 "purpose": "individual_access"}, patients=[PEOPLE[0].mrn]))
    keep.mark(desk, boss, patients[1].uuid, reason="research cohort")
    with desk.write():  # raw writes, no seal: what someone with the database but not the desk could do
        Release.update(status="closed").where(Release.uuid == release.uuid).execute()
        DoNotPurge.delete().where(DoNotPurge.patient == patients[1].id).execute()
    done = batches.run(desk, boss, batch.id, witness="Dan Okoye")
    assert (done.done, done.excluded) == (1, 2)
    assert Patient.get_by_id(patients[0].id).dek_wrapped is not None
    assert Patient.get_by_id(patients[1].id).dek_wrapped is not None
    assert Patient.get_by_id(patients[2].id).dek_wrapped is None
    why = {i.mrn: i.why for i in batches.show(desk, boss, batch.id).items if i.outcome == "skipped"}
    assert "do not purge" in why[PEOPLE[1].mrn] and "gone from the desk" in why[PEOPLE[1].mrn]
    assert PEOPLE[0].mrn in why


def test_a_hold_or_a_request_after_approval_keeps_that_patient_out_and_the_certificate_says_so(ward):
    desk, boss, grace, clerk, patients = ward
    keep.mark(desk, boss, patients[4].uuid, reason="research cohort")  # blocked before approval: out at approval
    batch = batches.prepare(desk, clerk, as_of=TODAY, mrns=[p.mrn for p in PEOPLE[:4]])
    keep.clear(desk, boss, patients[4].uuid)
    holds.place(desk, boss, matter="Doe v. General", patients=[patients[3].uuid])  # before approval
    batch = batches.approve(desk, grace, batch.id)
    assert (batch.patients, batch.excluded) == (3, 1)
    holds.place(desk, boss, matter="Roe v. General", patients=[patients[0].uuid])  # after approval
    requests.log_request(desk, clerk, requests.RequestForm(
        request={"received": TODAY.isoformat(), "requester_type": "patient", "requester_name": "the patient",
                 "purpose": "individual_access"}, patients=[PEOPLE[1].mrn]))
    seen = []
    done = batches.run(desk, boss, batch.id, witness="Dan Okoye, Privacy Officer",
                       progress=lambda d, t, m: seen.append((d, t, m)))
    assert (done.status, done.done, done.excluded, done.patients) == ("destroyed", 1, 3, 1)
    assert seen[-1] == (1, 1, PEOPLE[2].mrn)
    for n in (0, 1, 3):
        assert Patient.get_by_id(patients[n].id).dek_wrapped is not None
    assert Patient.get_by_id(patients[2].id).dek_wrapped is None
    items = {i.mrn: i for i in batches.show(desk, boss, batch.id).items}
    assert items[PEOPLE[3].mrn].why.startswith("at approval: T2-HOLD")
    assert items[PEOPLE[0].mrn].why.startswith("at execution: T2-HOLD") and "Roe v. General" in items[
        PEOPLE[0].mrn].why
    assert items[PEOPLE[1].mrn].why.startswith("at execution: T2-REQUEST")
    assert items[PEOPLE[2].mrn].outcome == "destroyed" and items[PEOPLE[2].mrn].name == "CALLOWAY-VANTZ, Perpetua"
    text = text_of(batches.certificate(desk, boss, batch.number))
    for expected in (batch.number, "Riverside General Hospital", "at execution: T2-HOLD", "at execution: T2-REQUEST",
                     "at approval: T2-HOLD", PEOPLE[2].mrn, "Witness: Dan Okoye, Privacy Officer",
                     "Department manager: Grace Hopper (manager, desk user grace)",
                     "Destroyed by: desk user boss (manager)",
                     "Result: verified for every record", "US-MEDICARE"):
        assert expected in text, expected
    assert audit.verify(desk).intact


def test_archive_first_when_the_schedule_says_so_and_a_tampered_archive_stops_the_run(ward, tmp_path):
    desk, boss, grace, clerk, patients = ward
    desk.config.retention = Retention(archive=True)  # the site archives everything first
    batch = approved(desk, clerk, grace, limit=2)
    assert batch.archive
    with pytest.raises(DeskError, match="must be archived first"):
        batches.run(desk, boss, batch.id)
    with pytest.raises(DeskError, match="no archive key"):
        batches.archive(desk, boss, batch.id)
    key = tmp_path / "archive.key"
    archive.create_key_file(key)
    with pytest.raises(AccessDenied):
        batches.archive(desk, clerk, batch.id, key_file=key)
    done = batches.archive(desk, boss, batch.id, key_file=key)
    assert done.status == "archived" and Path(done.archive_path).is_file()
    summary = batches.verify_file(desk, clerk, done.archive_path, key_file=key)
    assert summary.documents == 4 and len(summary.patients) == 2
    # One byte changed: the run refuses to start, nothing is destroyed, the batch can run once it is restored.
    data = bytearray(Path(done.archive_path).read_bytes())
    data[-5] ^= 1
    Path(done.archive_path).write_bytes(bytes(data))
    with pytest.raises(TamperError, match="changed since it verified"):
        batches.run(desk, boss, batch.id)
    assert all(Patient.get_by_id(p.id).dek_wrapped is not None for p in patients)
    with pytest.raises(TamperError):
        batches.verify_file(desk, clerk, done.archive_path, key_file=key)
    data[-5] ^= 1
    Path(done.archive_path).write_bytes(bytes(data))
    assert batches.run(desk, boss, batch.id).status == "destroyed"


def test_a_chart_changed_after_the_archive_is_kept_out_never_destroyed_unarchived(ward, tmp_path):
    """A stay (or a document) added to a chart after its batch was archived is in no archive: that patient is
    kept out of the run, with why, and the others go."""
    desk, boss, grace, clerk, patients = ward
    desk.config.retention = Retention(archive=True)
    batch = approved(desk, clerk, grace, limit=2)
    key = tmp_path / "archive.key"
    archive.create_key_file(key)
    batches.archive(desk, boss, batch.id, key_file=key)
    items = list(PurgeItem.select().join(PurgeBatch).where(PurgeBatch.uuid == batch.id).order_by(PurgeItem.id))
    changed, unchanged = (Patient.get(Patient.uuid == i.patient_uuid) for i in items)
    with desk.write():
        Encounter.create(patient=changed, kind="outpatient", admit_at=datetime.datetime(2009, 1, 5, 9))
    done = batches.run(desk, boss, batch.id)
    assert done.done == 1 and done.excluded == 1
    assert Patient.get_by_id(changed.id).dek_wrapped is not None  # kept, whole
    assert Patient.get_by_id(unchanged.id).dek_wrapped is None
    why = [i.why for i in batches.show(desk, boss, batch.id).items if i.outcome == "skipped"]
    assert len(why) == 1 and "changed after the batch was archived" in why[0]


def test_a_rule_with_archive_true_needs_the_archive(ward):
    desk, boss, grace, clerk, patients = ward
    site = desk.config.home / "data"
    site.mkdir(exist_ok=True)
    from recdesk import reference

    text = (reference.data_dir() / "retention.toml").read_text()
    marker = 'code = "US-MEDICARE"\n'
    (site / "retention.toml").write_text(text.replace(marker, marker + "archive = true\n", 1))
    batch = approved(desk, clerk, grace, limit=1)
    assert batch.archive
    with pytest.raises(DeskError, match="must be archived first"):
        batches.run(desk, boss, batch.id)


def needles(p: Person) -> set[bytes]:
    values = {p.mrn, p.last, p.first, p.last.upper(), p.first.upper(), p.dob.isoformat(), p.dob.strftime("%m/%d/%Y")}
    out = set()
    for v in values:
        out |= {v.encode("utf-8"), v.encode("utf-16-le"), v.encode("utf-16-be")}
    return out


def raw_bytes(desk) -> dict[str, bytes]:
    """Every byte of the database, its WAL and the store (PostgreSQL: every row of every table, as the server
    gives it: its files are out of our reach)."""
    if desk.is_postgres:
        rows = []
        for table in desk.db.get_tables():
            rows += [r.encode() for (r,) in desk.db.execute_sql(f'SELECT row_to_json(t)::text FROM "{table}" t')]
        files = {"database rows": b"\n".join(rows)}
    else:
        home = desk.config.home
        files = {str(f): f.read_bytes() for f in (desk.config.sqlite_path, home / "recdesk.db-wal") if f.exists()}
    return files | {str(f): f.read_bytes() for f in desk.store.root.rglob("*") if f.is_file()}


def test_after_the_run_nothing_of_the_purged_is_left_the_others_open_and_search_says_destroyed(ward):
    desk, boss, grace, clerk, patients = ward
    batch = approved(desk, clerk, grace, mrns=[PEOPLE[0].mrn, PEOPLE[1].mrn])
    done = batches.run(desk, boss, batch.id, witness="Dan Okoye")
    assert (done.status, done.done, done.destroyed_at is not None) == ("destroyed", 2, True)
    assert PurgeVolume.select().where(PurgeVolume.batch == PurgeBatch.get().id).count() == 3  # survived the shred
    found = [(name, n) for name, data in raw_bytes(desk).items() for p in PEOPLE[:2] for n in needles(p)
             if n in data]
    assert found == []
    for p, row in zip(PEOPLE[2:], patients[2:], strict=True):
        c = chart.open_chart(desk, clerk, row.uuid)
        assert c.patient.mrn == p.mrn and len(c.documents) == 2
    (hit,) = search.search(desk, clerk, PEOPLE[0].mrn)
    assert hit.destroyed is not None and hit.destroyed.certificate_no == batch.number
    assert hit.as_row()["destroyed"] == {"on": TODAY.isoformat(), "certificate": batch.number}
    assert search.search(desk, clerk, "quillfeather") == []  # only an exact MRN asks the register
    assert search.search(desk, clerk, "999999") == []
    after = accounting.accounting_for_mrn(desk, clerk, PEOPLE[0].mrn)
    assert [r.recipient for r in after.rows] == ["State Health Dept"]
    assert audit.verify(desk).intact
    desk.config.save()
    report = doctor.run(desk.config.home)
    assert report.passed, report.render()


def test_paper_volumes_confirmed_shredded_or_not_found_then_paper_confirmed(ward):
    desk, boss, grace, clerk, patients = ward
    batch = approved(desk, clerk, grace, mrns=[PEOPLE[0].mrn, PEOPLE[1].mrn])
    pull = batches.paper_list(desk, clerk, batch.id)
    assert [(v.mrn, v.volume_no, v.shelf) for v in pull] == [
        ("734521", 1, "21-45-73"), ("845632", 1, "32-56-84"), ("845632", 2, "32-56-84 vol 2")]
    with pytest.raises(DeskError, match="after the electronic records are destroyed"):
        batches.confirm_shredded(desk, clerk, batch.id, "734521", witness="Dan Okoye")
    batches.run(desk, boss, batch.id, witness="Dan Okoye")
    with pytest.raises(DeskError, match="witness"):
        batches.confirm_shredded(desk, clerk, batch.id, "734521", witness="")
    with pytest.raises(DeskError, match="someone other"):
        batches.confirm_shredded(desk, clerk, batch.id, "734521", witness="Ann Clerk")
    v = batches.confirm_shredded(desk, clerk, batch.id, "*MRN734521*", witness="Dan Okoye")
    assert (v.status, v.by, v.witness) == ("shredded", "ann", "Dan Okoye")
    with pytest.raises(DeskError, match="confirmed shredded already by ann"):
        batches.confirm_shredded(desk, clerk, batch.id, pull[0].volume_uuid[:8], witness="Dan Okoye")
    batches.confirm_shredded(desk, clerk, batch.id, "845632 vol 2", witness="Dan Okoye")
    assert batches.view(PurgeBatch.get()).status == "destroyed"
    lost = batches.not_found(desk, clerk, batch.id, "0845632", note="not on its shelf")
    assert (lost.status, lost.volume_no) == ("not_found", 1)
    final = batches.view(PurgeBatch.get())
    assert (final.status, final.volumes_done, final.volumes) == ("paper_confirmed", 3, 3)
    text = text_of(batches.certificate(desk, clerk, batch.number))
    assert "2 shredded, 1 not found" in text and "not on its shelf" in text and "32-56-84" in text
    # Both issues of the certificate are desk documents, no patient's.
    certificates = Document.select().where(Document.doc_type == batches.CERTIFICATE_TYPE)
    assert certificates.count() == 2 and all(d.patient_id is None for d in certificates)
    with pytest.raises(DeskError, match="confirmed or reported already"):
        batches.not_found(desk, clerk, batch.id, "734521")
    desk.config.save()
    report = doctor.run(desk.config.home)
    assert report.passed, report.render()


def test_the_certificate_carries_the_ahima_fields(ward):
    desk, boss, grace, clerk, patients = ward
    batch = approved(desk, clerk, grace, mrns=[PEOPLE[2].mrn])
    with pytest.raises(DeskError, match="no certificate yet"):
        batches.certificate(desk, boss, batch.id)
    batches.run(desk, boss, batch.id, witness="Dan Okoye, Privacy Officer")
    text = text_of(batches.certificate(desk, boss, batch.id))
    expected = [
        "Certificate of Destruction", "Facility: Riverside General Hospital", f"Certificate number: {batch.number}",
        batch.id, f"Date of destruction: {TODAY.isoformat()}", "normal course of business pursuant to a proper "
        "retention schedule", "Patient health records", "Inclusive dates: 2011-06-01 to 2012-03-09",
        "Documents (pages): 2 (5 pages)", "Cryptographic erase (NIST SP 800-88 Rev. 1, Purge)", "Sanitization "
        "category: Purge", "SQLCipher database" if not desk.is_postgres else "PostgreSQL database",
        "Destroyed by: desk user boss (manager)", "Witness: Dan Okoye, Privacy Officer",
        "Department manager: Grace Hopper (manager, desk user grace)", PEOPLE[2].mrn,
        "Result: verified for every record",
    ]
    assert [e for e in expected if e not in text] == [], text
    assert PEOPLE[2].last not in text  # the certificate names records by MRN only


def test_cancel_before_the_run_only(ward):
    desk, boss, grace, clerk, patients = ward
    users.add(desk, boss, "bob", "clerk")
    batch = batches.prepare(desk, clerk, as_of=TODAY, limit=1)
    with pytest.raises(AccessDenied):
        batches.cancel(desk, desk.sign_on("bob"), batch.id, reason="not mine")
    with pytest.raises(DeskError, match="reason"):
        batches.cancel(desk, clerk, batch.id, reason=" ")
    batches.approve(desk, grace, batch.id)
    with pytest.raises(AccessDenied):
        batches.cancel(desk, clerk, batch.id, reason="changed my mind")  # approved: a manager's call now
    assert batches.cancel(desk, grace, batch.id, reason="the matter reopened").status == "cancelled"
    assert PurgeVolume.select().count() == 0
    with pytest.raises(DeskError, match="cancelled"):
        batches.run(desk, boss, batch.id)
    other = approved(desk, clerk, grace, limit=1)
    batches.run(desk, boss, other.id)
    with pytest.raises(DeskError, match="only a batch not yet run"):
        batches.cancel(desk, boss, other.id, reason="too late")


def test_a_status_or_outcome_written_by_hand_is_refused(ward):
    desk, boss, grace, clerk, patients = ward
    batch = batches.prepare(desk, clerk, as_of=TODAY, limit=2)
    PurgeBatch.update(status="approved").execute()  # approval without a second person
    with pytest.raises(TamperError, match="fails its integrity seal"):
        batches.run(desk, boss, batch.id)
    PurgeBatch.update(status="prepared").execute()
    batches.approve(desk, grace, batch.id)
    PurgeItem.update(outcome="skipped").where(PurgeItem.id == PurgeItem.select().first().id).execute()
    with pytest.raises(TamperError):
        batches.run(desk, boss, batch.id)


def test_ids_are_the_number_or_eight_characters(ward):
    desk, boss, grace, clerk, patients = ward
    batch = batches.prepare(desk, clerk, as_of=TODAY, limit=1)
    assert batches.find(batch.number.lower()).uuid == batch.id
    assert batches.find(batch.id[:8]).uuid == batch.id
    with pytest.raises(DeskError, match="at least 8"):
        batches.find("abc")
    with pytest.raises(DeskError, match="no purge batch CD-1999-0001"):
        batches.find("CD-1999-0001")


def test_a_desk_at_schema_12_is_upgraded_to_purge_batches(desk_and_manager):
    desk, boss = desk_and_manager
    home = desk.config.home
    desk.db.execute_sql('DROP TABLE "purge_volume"')
    desk.db.execute_sql('DROP TABLE "purge_item"')
    desk.db.execute_sql('CREATE TABLE "purge_item" ("id" INTEGER PRIMARY KEY, "batch_id" INTEGER NOT NULL, '
                        '"patient_id" INTEGER, "patient_uuid" VARCHAR(32) NOT NULL, "last_encounter_on" DATE, '
                        '"eligible_on" DATE NOT NULL, "outcome" VARCHAR(16) NOT NULL)'
                        if not desk.is_postgres else
                        'CREATE TABLE "purge_item" ("id" SERIAL PRIMARY KEY, "batch_id" INTEGER NOT NULL, '
                        '"patient_id" INTEGER, "patient_uuid" VARCHAR(32) NOT NULL, "last_encounter_on" DATE, '
                        '"eligible_on" DATE NOT NULL, "outcome" VARCHAR(16) NOT NULL)')
    for column in ("selection", "archive_path", "witness", "paper_confirmed_at"):
        desk.db.execute_sql(f'ALTER TABLE "purge_batch" DROP COLUMN "{column}"')
    desk.db.execute_sql("UPDATE desk_info SET schema_version = 12")
    desk.close()
    with Desk.open(home) as upgraded:
        assert "purge_volume" in upgraded.db.get_tables()
        assert {"selection", "witness"} <= {c.name for c in upgraded.db.get_columns("purge_batch")}
        assert {"why_enc", "seal"} <= {c.name for c in upgraded.db.get_columns("purge_item")}
        assert upgraded.db.execute_sql("SELECT schema_version FROM desk_info").fetchone()[0] == 13
        assert batches.batches(upgraded, upgraded.sign_on("boss")) == []


# --- kill -9 at random points of `purge run`, then run it again ------------------------------------------------------

_RUNNER = """
import sys
from pathlib import Path
from recdesk.desk import Desk
from recdesk.retention import batches
desk = Desk.open(Path(sys.argv[1]))
boss = desk.sign_on("boss")
print("ready", flush=True)
batches.run(desk, boss, sys.argv[2], witness="Dan Okoye")
print("done", flush=True)
"""


def _state(patient_id: int, batch_id: int) -> str:
    """'purged' or 'untouched' when the patient and their item agree and are whole; else what is half-done."""
    p = Patient.get_by_id(patient_id)
    item = PurgeItem.get((PurgeItem.batch == batch_id) & (PurgeItem.patient == patient_id))
    counts = (Document.select().where(Document.patient == patient_id).count(),
              ChartVolume.select().where(ChartVolume.patient == patient_id).count(),
              PurgeVolume.select().where((PurgeVolume.batch == batch_id)
                                         & (PurgeVolume.patient_uuid == p.uuid)).count())
    if p.dek_wrapped is None and item.outcome == "destroyed" and counts == (0, 0, 1):
        return "purged"
    if p.dek_wrapped is not None and item.outcome == "pending" and counts == (2, 1, 1):
        return "untouched"
    return f"half-done: {p.status} {item.outcome} {counts}"


def test_kill_9_at_random_points_of_a_purge_run_then_running_it_again_finishes(desk_and_manager):
    desk, boss = desk_and_manager
    users.add(desk, boss, "ann", "clerk")
    users.add(desk, boss, "grace", "manager")
    clerk, grace = desk.sign_on("ann"), desk.sign_on("grace")
    people = [Person(str(310000 + 1111 * n), f"Runner{'abcdefghijkl'[n]}son", "Kit", datetime.date(1940, 1, 1 + n))
              for n in range(10)]
    patients = [old_chart(desk, boss, clerk, p) for p in people]
    batch = approved(desk, clerk, grace)
    row = PurgeBatch.get()
    home = desk.config.home
    desk.config.save()
    desk.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    cmd = [sys.executable, "-c", _RUNNER, str(home), batch.number]
    for _ in range(4):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        try:
            proc.wait(timeout=rng.uniform(0.0, 0.25))  # a shred takes ~30 ms: the kills land anywhere in the run
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        with Desk.open(home) as d:
            states = [_state(p.id, row.id) for p in patients]
            assert all(s in ("purged", "untouched") for s in states), (seed, states)
            assert audit.verify(d).intact, seed
        report = doctor.run(home)
        assert report.passed, (seed, report.render())
    finished = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert finished.returncode == 0 and finished.stdout.split() == ["ready", "done"], finished.stderr
    with Desk.open(home) as d:
        assert [_state(p.id, row.id) for p in patients] == ["purged"] * len(patients)
        view = batches.view(row)
        assert (view.status, view.done, view.volumes) == ("destroyed", 10, 10)
        assert Document.select().where(Document.doc_type == batches.CERTIFICATE_TYPE).count() == 1
        assert audit.verify(d).intact
        assert {destruction.entry_of(d, p.uuid).certificate_no for p in patients} == {batch.number}
    report = doctor.run(home)
    assert report.passed, report.render()


def test_clock_is_the_desks(monkeypatch, ward):
    """Approval and execution judge retention on the desk's clock, not on the batch's as-of date."""
    desk, boss, grace, clerk, patients = ward
    batch = batches.prepare(desk, clerk, as_of=TODAY, mrns=[PEOPLE[0].mrn])
    monkeypatch.setattr(clock, "today", lambda: datetime.date(2015, 1, 1))  # a desk whose clock went back
    with pytest.raises(DeskError, match="each is blocked"):
        batches.approve(desk, grace, batch.id)
