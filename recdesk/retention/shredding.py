"""Crypto-shredding one patient: NIST SP 800-88 "purge" by cryptographic erase, in one transaction.

The patient's data key (the only key their ciphertexts open under) is deleted with every row keyed to them, the
blind-index tokens that made them findable, and the stored files of their documents. What is left on purpose is the
destruction register entry, the disclosures (re-sealed under the desk key, kept six years after each), the patient
row as a keyless stub that those point at, and the audit trail, which is never deleted and still verifies.

A shred is one transaction: a run killed at any moment leaves the patient wholly destroyed or untouched. The stored
files are deleted after the commit; their blob ids are recorded in the register entry in the same transaction, so a
run killed before they are gone leaves files that `doctor` names and the next shred (`finish`) removes.

On SQLite/SQLCipher the connection runs with `secure_delete` on, so freed pages are zeroed, and the WAL is
checkpointed with TRUNCATE afterwards. On PostgreSQL the same rows are deleted in the same transaction; old row
versions stay in dead tuples until VACUUM reclaims them, but what they hold is ciphertext under a key that no longer
exists anywhere. Running VACUUM (autovacuum does, in time) is the site's job; recdesk does not run it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import replace

import peewee

from recdesk import clock
from recdesk.errors import DeskError, TamperError
from recdesk.patients.registry import decrypt
from recdesk.release import accounting
from recdesk.retention import holds, register
from recdesk.retention.register import Destroyed
from recdesk.roles import MANAGERS
from recdesk.vault import audit, crypto, seals
from recdesk.vault.models import (
    AccountingSuspension,
    Appointment,
    AssemblyItem,
    AuditEvent,
    AuditStray,
    Authorization,
    ChartMovement,
    ChartVolume,
    Deficiency,
    DestructionEntry,
    Disclosure,
    Document,
    DocumentMove,
    DoNotPurge,
    Encounter,
    HeldPatient,
    Insurance,
    LegalHold,
    Patient,
    PatientAssignment,
    PatientToken,
    PullItem,
    PurgeBatch,
    PurgeItem,
    PurgeVolume,
    Release,
    ReleaseEvent,
    ReleaseRequest,
    now,
)

# Every table keyed to a patient (directly, or through a row that is), and what a shred does with its rows. A test
# walks the models and fails on a patient-keyed table missing here: a new one must be decided, not forgotten.
PURGED: dict[type[peewee.Model], str] = {
    Patient: "kept as a stub (uuid, status purged): key, identifiers and flags removed",
    PatientToken: "deleted (the blind-index tokens)",
    Insurance: "deleted",
    Encounter: "deleted",
    Appointment: "deleted",
    PullItem: "deleted with the appointments",
    Document: "deleted, and the stored files after the commit",
    DocumentMove: "deleted with the documents; a move of another patient's document keeps its history",
    AssemblyItem: "deleted with the encounters and documents",
    Deficiency: "deleted",
    Release: "deleted",
    ReleaseEvent: "deleted with the releases",
    ReleaseRequest: "deleted once none of its releases is left",
    Authorization: "deleted",
    ChartVolume: "deleted (the paper volumes are listed for the paper destruction first)",
    ChartMovement: "deleted with the volumes",
    Disclosure: "kept, re-sealed under the desk key, until six years after each (register.remove_expired_disclosures)",
    AccountingSuspension: "kept, re-sealed under the desk key, while the record's disclosures are",
    PatientAssignment: "deleted (who had a standing need to open the record: nothing is left to open)",
    LegalHold: "kept: a hold is a matter's record (under the desk key); one in force refuses the shred",
    HeldPatient: "kept: which holds covered the chart (no identifier: the patient row is a stub)",
    DoNotPurge: "a mark in force refuses the shred; cleared marks are deleted (reason under the patient key)",
    PurgeBatch: "kept: a batch's certificate is a desk document, never the patient's",
    PurgeItem: "kept: the batch's record of what it destroyed",
    PurgeVolume: "kept: the paper volumes to shred, listed before the ChartVolume rows go (label under the desk key)",
    DestructionEntry: "written: the register entry, permanent",
    AuditEvent: "kept: never deleted; the purged patient's events stay in the chain",
    AuditStray: "kept: events written outside recdesk, evidence for whoever investigates",
}

METHOD = "cryptographic erase (NIST SP 800-88 Rev. 1, Purge)"
SHREDDED = "retention.shred"


def shred(desk, actor, patient_uuid: str, *, batch_uuid: str, certificate_no: str,
          before: Callable[[], None] | None = None, after: Callable[[Destroyed], None] | None = None) -> Destroyed:
    """Destroy one patient's record by cryptographic erase; returns its register entry. A patient already destroyed
    is not touched again: its entry is returned (and files a killed run left are removed).

    `before` and `after` run inside the destruction's own transaction (a purge batch checks the patient again there,
    and records the outcome): whatever `before` raises undoes nothing, because nothing was done yet."""
    actor.require(*MANAGERS)
    done = register.entry_of(desk, patient_uuid)
    if done is None:
        _secure_delete(desk)
        with desk.write():
            # Read again inside the transaction: another session may have destroyed it a moment ago.
            done = register.entry_of(desk, patient_uuid)
            if done is None:
                if before is not None:
                    before()
                done = _destroy(desk, actor, _patient(patient_uuid), batch_uuid, certificate_no)
                if after is not None:
                    after(done)
    finish(desk)
    return done


def _patient(patient_uuid: str) -> Patient:
    row = Patient.get_or_none(Patient.uuid == patient_uuid)
    if row is None:
        raise DeskError(f"no patient {patient_uuid} on this desk: check the batch")
    return row


def _secure_delete(desk) -> None:
    if not desk.is_postgres:  # db.py turns it on for every connection; said again here, where it matters most
        desk.db.execute_sql("PRAGMA secure_delete = ON")


def _ids(query) -> list[int]:
    return [r for (r,) in query.tuples()]


def _destroy(desk, actor, patient: Patient, batch_uuid: str, certificate_no: str) -> Destroyed:
    seals.check(desk, patient)
    if patient.dek_wrapped is None:
        raise DeskError(f"patient {patient.uuid} has no key but no entry in the destruction register: "
                        "run `recdesk doctor`")
    if holds.is_held(desk, patient.uuid):
        raise DeskError(f"patient {patient.uuid} is under a legal hold: their record cannot be destroyed")
    if DoNotPurge.select().where((DoNotPurge.patient == patient.id) & DoNotPurge.cleared_at.is_null()).exists():
        raise DeskError(f"patient {patient.uuid} is marked \"do not purge\": a manager clears the mark first")
    who = decrypt(desk, patient)
    pid = patient.id
    encounters = _ids(Encounter.select(Encounter.id).where(Encounter.patient == pid))
    documents = list(Document.select(Document.id, Document.uuid, Document.blob, Document.pages, Document.service_date)
                     .where(Document.patient == pid))
    doc_ids = [d.id for d in documents]
    if PurgeBatch.select().where(PurgeBatch.certificate.in_(doc_ids)).exists():
        raise DeskError("a purge batch's certificate is filed to this patient: certificates are filed to no patient")
    releases = list(Release.select(Release.id, Release.uuid, Release.request).where(Release.patient == pid))
    release_ids = [r.id for r in releases]
    appointments = _ids(Appointment.select(Appointment.id).where(Appointment.patient == pid))
    volumes = _ids(ChartVolume.select(ChartVolume.id).where(ChartVolume.patient == pid))
    first, last = _dates_of_service(encounters, documents)
    entry = Destroyed(
        patient_uuid=patient.uuid, mrn=who.mrn, last=who.last, first=who.first, middle=who.middle, dob=who.dob,
        first_service=first, last_service=last, destroyed_on=clock.today(), batch_uuid=batch_uuid,
        certificate_no=certificate_no, documents=len(documents), pages=sum(d.pages for d in documents),
        encounters=len(encounters), volumes=len(volumes), verification="pending")
    # First what must outlive the record: its register entry, and its disclosures under the desk key.
    row = register.write(desk, entry, pending_blobs=[d.blob for d in documents])
    accounting.keep_after_destruction(desk, patient)

    # Rows of other patients that point at a document going away let go of it (and are sealed as they now are).
    for model, fk in ((Release, Release.packet), (Authorization, Authorization.scan)):
        others = _ids(model.select(model.id).where(fk.in_(doc_ids) & (model.patient != pid)))
        if others:
            model.update({fk: None}).where(model.id.in_(others)).execute()
            seals.reseal(desk, model, model.id.in_(others))
    for model, fk in ((Deficiency, Deficiency.document), (ReleaseEvent, ReleaseEvent.document)):
        model.update({fk: None}).where(fk.in_(doc_ids)).execute()
    Document.update(encounter=None).where(Document.encounter.in_(encounters)).execute()
    Deficiency.update(encounter=None).where(Deficiency.encounter.in_(encounters)).execute()

    AssemblyItem.delete().where(AssemblyItem.encounter.in_(encounters) | AssemblyItem.document.in_(doc_ids)).execute()
    Deficiency.delete().where(Deficiency.patient == pid).execute()
    PatientAssignment.delete().where(PatientAssignment.patient == pid).execute()
    DocumentMove.delete().where(DocumentMove.document.in_(doc_ids)).execute()
    ReleaseEvent.delete().where(ReleaseEvent.release.in_(release_ids)).execute()
    Authorization.delete().where((Authorization.patient == pid) | Authorization.release.in_(release_ids)).execute()
    Release.delete().where(Release.id.in_(release_ids)).execute()
    requests = {r.request_id for r in releases}
    emptied = _ids(ReleaseRequest.select(ReleaseRequest.id).where(
        ReleaseRequest.id.in_(list(requests))
        & ~peewee.fn.EXISTS(Release.select(Release.id).where(Release.request == ReleaseRequest.id))))
    ReleaseRequest.delete().where(ReleaseRequest.id.in_(emptied)).execute()
    Document.delete().where(Document.id.in_(doc_ids)).execute()
    PullItem.delete().where(PullItem.appointment.in_(appointments)).execute()
    Appointment.delete().where(Appointment.id.in_(appointments)).execute()
    ChartMovement.delete().where(ChartMovement.volume.in_(volumes)).execute()
    ChartVolume.delete().where(ChartVolume.id.in_(volumes)).execute()
    Encounter.delete().where(Encounter.id.in_(encounters)).execute()
    Insurance.delete().where(Insurance.patient == pid).execute()
    PatientToken.delete().where(PatientToken.patient == pid).execute()
    DoNotPurge.delete().where(DoNotPurge.patient == pid).execute()
    erased = patient.mrn_enc
    blank = {f: None for f in Patient._meta.fields if f.endswith("_enc")}
    Patient.update(dek_wrapped=None, status="purged", possible_duplicate=False, updated_at=now(), **blank).where(
        Patient.id == pid).execute()
    seals.reseal(desk, Patient, Patient.id == pid)
    desk.forget_dek(pid)

    entry = replace(entry, verification=_verify(desk, patient.uuid, erased))
    register.rewrite(desk, row, entry)
    events = [audit.Event(SHREDDED, f"patient:{patient.uuid}", patient.uuid, {
        "batch": batch_uuid, "certificate": certificate_no, "method": METHOD, "documents": entry.documents,
        "pages": entry.pages, "encounters": entry.encounters, "volumes": entry.volumes,
        "releases": len(releases), "verified": entry.verification})]
    events += [audit.Event(register.DESTROYED, f"document:{d.uuid}", patient.uuid) for d in documents]
    events += [audit.Event(register.DESTROYED, f"release:{r.uuid}", patient.uuid) for r in releases]
    audit.append_many(desk, actor, events)
    return entry


def _dates_of_service(encounters: list[int], documents: list[Document]
                      ) -> tuple[datetime.date | None, datetime.date | None]:
    days = [d.service_date for d in documents if d.service_date]
    for admit, discharge in Encounter.select(Encounter.admit_at, Encounter.discharge_at).where(
            Encounter.id.in_(encounters)).tuples():
        days += [t.date() for t in (admit, discharge) if t]
    return (min(days), max(days)) if days else (None, None)


def _verify(desk, patient_uuid: str, erased: bytes | None) -> str:
    """The sanitization's verification (SP 800-88 §4.7): the wrapped key is gone, the desk has no key that reads the
    patient's data, and a decrypt of one of their ciphertexts under every key the desk still holds fails. Raises
    (and so undoes the shred) if any of that does not hold."""
    row = Patient.get(Patient.uuid == patient_uuid)
    if row.dek_wrapped is not None:
        raise DeskError(f"patient {patient_uuid}: the data key is still there after the erase: nothing was destroyed")
    try:
        desk.dek(row)
    except DeskError:
        pass  # what must happen: the desk has no key for them any more
    else:
        raise DeskError(f"patient {patient_uuid}: a data key still opens after the erase: nothing was destroyed")
    if erased is not None:
        for key in (desk.desk_key, desk.master.sub("dek-wrap")):
            try:
                crypto.open_bytes(key, "patient", "mrn", patient_uuid, bytes(erased))
            except TamperError:
                continue
            raise DeskError(f"patient {patient_uuid}: their MRN still decrypts after the erase: nothing was destroyed")
    return ("wrapped data key absent; a decrypt of the patient's MRN ciphertext under every key the desk holds failed"
            if erased is not None else "wrapped data key absent; the patient had no MRN ciphertext to try")


# --- after the commit: the stored files, and the database's free pages ------------------------------------------


def pending_blobs(desk) -> set[str]:
    """Stored files of destroyed documents not yet removed (a run was killed after its commit)."""
    out: set[str] = set()
    for (text,) in DestructionEntry.select(DestructionEntry.pending_blobs).where(
            DestructionEntry.pending_blobs != "").tuples():
        out |= set(text.split())
    return out


def finish(desk) -> bool:
    """Remove the stored files destructions left to remove, then (SQLite) checkpoint the WAL with TRUNCATE so no
    copy of a freed page stays in it. Safe to run at any time; returns whether the checkpoint completed (another
    session reading holds it back: the next one completes it)."""
    rows = list(DestructionEntry.select(DestructionEntry.id, DestructionEntry.pending_blobs)
                .where(DestructionEntry.pending_blobs != ""))
    for row in rows:
        blobs = row.pending_blobs.split()
        # A blob id that a document still points at is never removed (a changed column must not destroy a record).
        live = {b for (b,) in Document.select(Document.blob).where(Document.blob.in_(blobs)).tuples()}
        for blob in blobs:
            if blob not in live:
                desk.store.delete(blob)
        with desk.write():
            DestructionEntry.update(pending_blobs="").where(DestructionEntry.id == row.id).execute()
    if desk.is_postgres:
        return True
    _secure_delete(desk)
    busy, _, _ = desk.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0
