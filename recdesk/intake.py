"""Document intake: the scan inbox, quarantine, indexing to a patient, QA, and misfile correction.

A file leaves the inbox only after its document is committed: it is first claimed (renamed into
inbox/.claimed), then stored and recorded, then removed. A scan killed at any point is put right by
the next scan: a claimed file whose bytes are on record is removed, any other goes back to the inbox.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from recdesk import audit, crypto, reference
from recdesk.desk import Desk
from recdesk.documents import type_tags
from recdesk.errors import AccessDenied, DeskError
from recdesk.models import Document, DocumentMove, Encounter, Patient, User, new_uuid, now
from recdesk.pdfworker import PdfWorker, Rejected

CLAIMED = ".claimed"
UNCLASSIFIED = "unclassified"
QA_FAIL_REASONS = ("illegible", "wrong patient", "wrong document type", "wrong date of service", "pages missing")


def inbox(desk: Desk) -> Path:
    return desk.config.home / desk.config.intake.inbox


def quarantine_dir(desk: Desk) -> Path:
    return desk.config.home / "quarantine"


def max_pages(desk: Desk) -> int:
    return desk.config.intake.max_pages


def qa_by_other_clerk(desk: Desk) -> bool:
    return desk.config.intake.qa_by_other_clerk


def document_types(desk: Desk) -> dict[str, str]:
    return {t["code"]: t["label"] for t in reference.load("document_types", desk.config.home)["type"]}


@dataclass
class ScanReport:
    received: list[str] = field(default_factory=list)  # uuids of new unfiled documents
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (uuid, reason)
    duplicates: int = 0
    returned: int = 0  # claimed files of a killed scan put back in the inbox


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _free_name(directory: Path, name: str) -> Path:
    target = directory / name
    n = 1
    while target.exists():
        target = directory / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return target


def recover(desk: Desk, box: Path | None = None) -> int:
    """Finish what a killed scan left in <box>/.claimed; returns how many files went back to the box."""
    box = box or inbox(desk)
    claimed = box / CLAIMED
    if not claimed.is_dir():
        return 0
    with _scan_lock(box):
        return _recover(box)


def _recover(box: Path) -> int:
    returned = 0
    for path in sorted(p for p in (box / CLAIMED).iterdir() if p.is_file() and not p.name.startswith(".")):
        if Document.select().where(Document.sha256 == _sha256(path)).exists():
            path.unlink()  # committed before the kill: the document has it
        else:
            os.replace(path, _free_name(box, path.name))
            returned += 1
    return returned


@contextlib.contextmanager
def _scan_lock(box: Path):
    """One scan of a folder at a time, across processes (the lock goes with the process if it dies)."""
    (box / CLAIMED).mkdir(exist_ok=True)
    with open(box / CLAIMED / ".lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DeskError(f"another scan of {box} is running: wait for it to finish") from None
        yield


BATCH = 50  # files committed together: one disk flush and one transaction per batch


def scan(desk: Desk, actor, directory: Path | None = None, *, worker: PdfWorker | None = None,
         progress: Callable[[int, int], None] | None = None) -> ScanReport:
    """Take every file in the inbox (or `directory`) in as an unfiled or quarantined document."""
    actor.require("clerk", "manager")
    box = directory or inbox(desk)
    if not box.is_dir():
        raise DeskError(f"inbox {box} does not exist: create it or set [intake] inbox in config.toml")
    claimed_dir = box / CLAIMED
    own_worker = worker is None
    worker = worker or PdfWorker()
    try:
        with _scan_lock(box), desk.store.writing():
            report = ScanReport(returned=_recover(box))
            files = sorted(p for p in box.iterdir() if p.is_file() and not p.name.startswith("."))
            for start in range(0, len(files), BATCH):
                batch = files[start : start + BATCH]
                claimed = []
                for path in batch:
                    target = _free_name(claimed_dir, path.name)
                    os.replace(path, target)
                    claimed.append((target, path.name))
                _take_in(desk, actor, claimed, worker, report)
                if progress:
                    progress(start + len(batch), len(files))
    finally:
        if own_worker:
            worker.close()
    return report


def _take_in(desk: Desk, actor, claimed: list[tuple[Path, str]], worker: PdfWorker, report: ScanReport) -> None:
    """Store and record one batch of claimed files (path, name as received), then (and only then) remove them."""
    datas = [path.read_bytes() for path, _ in claimed]
    shas = [hashlib.sha256(data).hexdigest() for data in datas]
    on_record = {d.sha256: d for d in Document.select().where(Document.sha256.in_(shas))}
    fresh = [i for i, sha in enumerate(shas) if sha not in on_record and sha not in shas[:i]]
    parsed = dict(zip(fresh, worker.parse_many([datas[i] for i in fresh], max_pages=max_pages(desk)), strict=True))
    stored: dict[int, tuple[str, object]] = {}
    quarantined: list[tuple[str, str]] = []
    try:
        for i in fresh:
            uid = new_uuid()
            stored[i] = (uid, desk.store.put(desk.desk_key, uid, datas[i], sync=False))
        desk.store.sync()  # every file is on disk before any row says it is
        events = []
        with desk.write():
            for i, sha in enumerate(shas):
                if i not in stored:
                    existing = on_record.get(sha)
                    events.append(audit.Event("intake.duplicate", f"document:{existing.uuid}" if existing else "",
                                              existing.patient.uuid if existing and existing.patient_id else ""))
                    report.duplicates += 1
                    continue
                uid, blob = stored[i]
                result = parsed[i]
                reason = str(result) if isinstance(result, Rejected) else ""
                pages = 0 if reason else result.pages
                Document.create(
                    uuid=uid, doc_type=UNCLASSIFIED, pages=pages, size=blob.size, sha256=blob.sha256,
                    blob=blob.blob, source="scan", status="quarantined" if reason else "unfiled",
                    qa_state="pending", received_at=now(), quarantine_reason=reason[:200],
                    name_enc=crypto.seal(desk.desk_key, "document", "name", uid, claimed[i][1]),
                )
                events.append(audit.Event("intake.quarantine" if reason else "intake.receive", f"document:{uid}",
                                          details={"pages": pages, "reason": reason} if reason else {"pages": pages}))
                if reason:
                    quarantined.append((uid, reason))
                else:
                    report.received.append(uid)
            audit.append_many(desk, actor, events)
    except BaseException:
        for _, blob in stored.values():
            desk.store.delete(blob.blob)
        raise
    for uid, reason in quarantined:
        _write_reason(desk, uid, reason)
    report.quarantined += quarantined
    for path, _ in claimed:
        path.unlink()


def _write_reason(desk: Desk, uid: str, reason: str) -> None:
    quarantine_dir(desk).mkdir(exist_ok=True)
    # The reason, not the bytes: those stay encrypted in the store (the file name may hold PHI too).
    (quarantine_dir(desk) / f"{uid}.reason").write_text(
        f"document {uid}\nreceived {now().isoformat(timespec='seconds')} UTC\nreason: {reason}\n"
        f"recover the original with: recdesk intake export {uid} -o FILE\n")


# --- reading a document back ----------------------------------------------------------------------


def _key(desk: Desk, doc: Document) -> bytes:
    return desk.dek(doc.patient) if doc.patient_id else desk.desk_key


def document_bytes(desk: Desk, actor, doc_uuid: str) -> bytes:
    """The decrypted bytes of a document (hash-checked); the view is audited."""
    doc = _get(doc_uuid)
    data = desk.store.read(_key(desk, doc), doc.uuid, doc.blob, doc.sha256)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "document.view", object=f"document:{doc.uuid}",
                     patient=doc.patient.uuid if doc.patient_id else "")
    return data


def original_name(desk: Desk, doc: Document) -> str:
    return crypto.open_text(desk.desk_key, "document", "name", doc.uuid, doc.name_enc) or ""


_MRN = re.compile(r"\bMRN[\s:#.]*0*(\d{4,10})\b", re.IGNORECASE)
_DOB = re.compile(r"\b(?:DOB|D\.O\.B\.|Date of birth)[\s:]*(\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2})", re.IGNORECASE)


def suggested_mrn(text: str) -> str | None:
    """An MRN printed on the page (a cover sheet prints `MRN: 12345678`), never filed automatically."""
    match = _MRN.search(text)
    return match.group(1) if match else None


def suggested_query(text: str) -> str | None:
    """What to search for the page's patient: its MRN, else its date of birth (the clerk then picks the name)."""
    mrn = suggested_mrn(text)
    if mrn:
        return mrn
    match = _DOB.search(text)
    return match.group(1) if match else None


# --- indexing, QA and moves ----------------------------------------------------------------------


def _get(doc_uuid: str) -> Document:
    doc = Document.get_or_none(Document.uuid == doc_uuid)
    if doc is None:
        raise DeskError(f"no document {doc_uuid}")
    return doc


def _patient(patient_uuid: str) -> Patient:
    patient = Patient.get_or_none((Patient.uuid == patient_uuid) & (Patient.status == "active"))
    if patient is None:
        raise DeskError("that patient is not on the desk (purged or merged)")
    return patient


@contextlib.contextmanager
def _stored_for(desk: Desk, doc: Document, patient: Patient):
    """The document's bytes under `patient`'s key for the block (re-encrypted if it belongs to someone else).

    The old file is removed only after the block commits; if the block fails, the new one is removed.
    """
    old = doc.blob
    new = old
    if doc.patient_id != patient.id:
        data = desk.store.read(_key(desk, doc), doc.uuid, doc.blob, doc.sha256)
        new = desk.store.put(desk.dek(patient), doc.uuid, data).blob
    try:
        yield new
    except BaseException:
        if new != old:
            desk.store.delete(new)
        raise
    if new != old:
        desk.store.delete(old)


def _check_type(desk: Desk, doc_type: str) -> None:
    types = document_types(desk)
    if doc_type not in types:
        raise DeskError(f"document type {doc_type!r} is not on the list: one of {', '.join(sorted(types))}")


def _check_date(service_date: datetime.date | None) -> None:
    if service_date is not None and service_date > datetime.date.today():
        raise DeskError(f"date of service {service_date.isoformat()} is in the future: check the page")


def file_to_patient(desk: Desk, actor, doc_uuid: str, patient_uuid: str, doc_type: str,
                    service_date: datetime.date | None, encounter_uuid: str | None = None) -> Document:
    """Index an unfiled document: patient, type, date of service, encounter. It then waits for QA."""
    actor.require("clerk", "manager")
    _check_type(desk, doc_type)
    _check_date(service_date)
    doc = _get(doc_uuid)
    if doc.status != "unfiled":
        raise DeskError(f"document {doc_uuid} is {doc.status}, not waiting to be filed")
    patient = _patient(patient_uuid)
    encounter = None
    if encounter_uuid:
        encounter = Encounter.get_or_none((Encounter.uuid == encounter_uuid) & (Encounter.patient == patient.id))
        if encounter is None:
            raise DeskError("that encounter is not one of this patient's")
    with _stored_for(desk, doc, patient) as blob, desk.write():
        _update_unchanged(doc, patient=patient.id, encounter=encounter.id if encounter else None, doc_type=doc_type,
                          sensitive_tags=_merge_tags(doc.sensitive_tags, type_tags(desk, doc_type)),
                          service_date=service_date, blob=blob, status="filed", qa_state="pending",
                          filed_by=actor.user_id, filed_at=now(), qa_by=None, qa_at=None)
        audit.append(desk, actor, "document.file", object=f"document:{doc.uuid}", patient=patient.uuid,
                     details={"doc_type": doc_type, "service_date": service_date, "pages": doc.pages})
    return _get(doc_uuid)


def record_qa(desk: Desk, actor, doc_uuid: str, *, passed: bool, legible: bool = True, reason: str = "") -> None:
    """QA of a filed document: pass clears its paper for shredding; fail sends it back to its indexer."""
    actor.require("clerk", "manager")
    doc = _get(doc_uuid)
    if doc.status != "filed" or doc.qa_state != "pending":
        raise DeskError(f"document {doc_uuid} is not waiting for QA")
    if qa_by_other_clerk(desk) and doc.filed_by_id == actor.user_id:
        raise AccessDenied("QA must be done by a clerk other than the one who indexed it")
    if passed and not legible:
        raise DeskError("an illegible document cannot pass QA: fail it as illegible")
    if not passed and not reason.strip():
        raise DeskError("say why it fails QA (illegible, wrong patient, wrong type, wrong date, ...)")
    with desk.write():
        _update_unchanged(doc, qa_state="passed" if passed else "failed", qa_by=actor.user_id, qa_at=now(),
                          legible=legible, qa_reason=reason.strip()[:200], status="filed" if passed else "unfiled")
        audit.append(desk, actor, "document.qa_pass" if passed else "document.qa_fail", object=f"document:{doc.uuid}",
                     patient=doc.patient.uuid if doc.patient_id else "",
                     details={"legible": legible, "reason": reason.strip()})


def _update_unchanged(doc: Document, **changes) -> None:
    """Apply changes only if the document is still as it was read: two clerks on one document never
    both win (the second is told to look again), and a row never points at a file a move removed."""
    unchanged = ((Document.id == doc.id) & (Document.blob == doc.blob) & (Document.status == doc.status)
                 & (Document.qa_state == doc.qa_state))
    if Document.update(**changes).where(unchanged).execute() != 1:
        raise DeskError("someone else changed this document just now: look at it again and redo your change")


def _merge_tags(*tag_lists: str) -> str:
    return ",".join(sorted({t for tags in tag_lists for t in tags.split(",") if t}))


def encounters_of(desk: Desk, patient_uuid: str) -> list[tuple[str, str]]:
    """A patient's encounters, newest first, as (uuid, label) for the indexer to choose from."""
    patient = _patient(patient_uuid)
    return [
        (e.uuid, f"{e.kind} {e.admit_at:%Y-%m-%d}" + (f" to {e.discharge_at:%Y-%m-%d}" if e.discharge_at else "")
         + (f", {e.service}" if e.service else ""))
        for e in Encounter.select().where(Encounter.patient == patient.id).order_by(Encounter.admit_at.desc())
    ]


def cleared_for_shredding(doc: Document) -> bool:
    """The paper may be shredded only once its scan is filed and has passed QA."""
    return doc.status == "filed" and doc.qa_state == "passed"


def move(desk: Desk, actor, doc_uuid: str, *, reason: str, patient_uuid: str | None = None,
         doc_type: str | None = None, service_date: datetime.date | None = None) -> Document:
    """Correct a misfile: another patient, type or date, with a reason; history kept, bytes re-keyed, QA again."""
    actor.require("clerk", "manager")
    if not reason.strip():
        raise DeskError("a misfile correction needs a reason (it is kept in the document's history)")
    doc = _get(doc_uuid)
    if doc.status != "filed":
        raise DeskError(f"document {doc_uuid} is {doc.status}: only a filed document can be moved")
    target = _patient(patient_uuid) if patient_uuid else doc.patient
    new_type = doc_type or doc.doc_type
    new_date = service_date if service_date is not None else doc.service_date
    _check_type(desk, new_type)
    _check_date(new_date)
    if target.id == doc.patient_id and new_type == doc.doc_type and new_date == doc.service_date:
        raise DeskError("nothing to change: pick another patient, type or date")
    stamp = now()
    with _stored_for(desk, doc, target) as blob, desk.write():
        DocumentMove.create(
            document=doc.id, at=stamp, by_user=actor.user_id, from_patient=doc.patient_id, to_patient=target.id,
            from_type=doc.doc_type, to_type=new_type, from_date=doc.service_date, to_date=new_date,
            reason_enc=crypto.seal(desk.desk_key, "document_move", "reason", _move_ref(doc, stamp), reason),
        )
        _update_unchanged(doc, patient=target.id, doc_type=new_type, service_date=new_date, blob=blob,
                          sensitive_tags=_merge_tags(doc.sensitive_tags, type_tags(desk, new_type)),
                          encounter=None if target.id != doc.patient_id else doc.encounter_id,
                          qa_state="pending", qa_by=None, qa_at=None)
        details = {"reason": reason, "from_type": doc.doc_type, "to_type": new_type,
                   "from_date": doc.service_date, "to_date": new_date}
        audit.append(desk, actor, "document.move_out", object=f"document:{doc.uuid}", patient=doc.patient.uuid,
                     details={**details, "to_patient": target.uuid})
        if target.id != doc.patient_id:
            audit.append(desk, actor, "document.move_in", object=f"document:{doc.uuid}", patient=target.uuid,
                         details={**details, "from_patient": doc.patient.uuid})
    return _get(doc_uuid)


# --- queues ---------------------------------------------------------------------------------------


def index_queue(desk: Desk, actor) -> list[Document]:
    """Unfiled documents, oldest first; those QA sent back to this clerk come first."""
    docs = list(Document.select().where(Document.status == "unfiled").order_by(Document.received_at, Document.id))
    return sorted(docs, key=lambda d: (not (d.qa_state == "failed" and d.filed_by_id == actor.user_id),))


def qa_queue(desk: Desk, actor) -> list[Document]:
    query = Document.select().where((Document.status == "filed") & (Document.qa_state == "pending"))
    if qa_by_other_clerk(desk):
        query = query.where((Document.filed_by.is_null()) | (Document.filed_by != actor.user_id))
    return list(query.order_by(Document.filed_at, Document.id))


def quarantine(desk: Desk) -> list[Document]:
    return list(Document.select().where(Document.status == "quarantined").order_by(Document.received_at.desc()))


def counts(desk: Desk) -> dict:
    """Queue sizes and each clerk's indexed / QA'd / failed counts, for the supervisor's review screen."""
    per_user: dict[str, dict[str, int]] = {}
    for user in User.select():
        per_user[user.name] = {
            "indexed": Document.select().where(Document.filed_by == user.id).count(),
            "qa_done": Document.select().where(Document.qa_by == user.id).count(),
            "qa_failed": Document.select().where((Document.qa_by == user.id) & (Document.qa_state == "failed")).count(),
        }
    return {
        "unfiled": Document.select().where(Document.status == "unfiled").count(),
        "qa_pending": Document.select().where((Document.status == "filed") & (Document.qa_state == "pending")).count(),
        "quarantined": Document.select().where(Document.status == "quarantined").count(),
        "clerks": {name: c for name, c in per_user.items() if any(c.values())},
    }


def _move_ref(doc: Document, at: datetime.datetime) -> str:
    # A move's reason is bound to its document and moment (the row has no uuid of its own).
    return f"{doc.uuid}@{at.isoformat()}"


def history(desk: Desk, doc_uuid: str) -> list[dict]:
    """Every correction of a document, oldest first, with its reason."""
    doc = _get(doc_uuid)
    return [
        {"at": m.at, "by": m.by_user.name, "from_patient": m.from_patient_id, "to_patient": m.to_patient_id,
         "from_type": m.from_type, "to_type": m.to_type, "from_date": m.from_date, "to_date": m.to_date,
         "reason": crypto.open_text(desk.desk_key, "document_move", "reason", _move_ref(doc, m.at), m.reason_enc)}
        for m in DocumentMove.select().where(DocumentMove.document == doc.id).order_by(DocumentMove.at)
    ]


# --- cover sheets ---------------------------------------------------------------------------------


def coversheet(desk: Desk, actor, mrn: str) -> bytes:
    """A PDF cover sheet with the patient's MRN and name as text: a batch scanned behind it is suggested to them."""
    from recdesk.patients import decrypt
    from recdesk.search import find

    hits = [h for h in find(desk, mrn, limit=5) if h.match == "exact" and h.patient.mrn == mrn.strip()]
    if not hits:
        raise DeskError(f"no patient with MRN {mrn}")
    patient = decrypt(desk, Patient.get_by_id(hits[0].patient.id))
    from fpdf import FPDF

    from recdesk.pdftext import latin1

    pdf = FPDF(format="letter")
    pdf.set_creation_date(datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 28)
    pdf.cell(0, 20, "RECDESK COVER SHEET", new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("Helvetica", "", 18)
    pdf.cell(0, 14, desk.config.facility, new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.ln(10)
    pdf.set_font("Helvetica", "B", 36)
    pdf.cell(0, 24, f"MRN: {patient.mrn}", new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("Courier", "B", 30)
    pdf.cell(0, 20, f"*MRN{patient.mrn}*", new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("Helvetica", "", 22)
    pdf.cell(0, 16, latin1(patient.display_name), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.cell(0, 14, f"DOB {patient.dob.isoformat() if patient.dob else ''}", new_x="LMARGIN", new_y="NEXT",
             align="C")
    pdf.ln(20)
    pdf.set_font("Helvetica", "", 12)
    pdf.multi_cell(0, 7, "Place this sheet on top of the pages for this patient and scan them as one batch. "
                         "The desk suggests this patient for the batch; a clerk confirms it when indexing.")
    with desk.audit_db.atomic():
        audit.append(desk, actor, "patient.coversheet", object=f"patient:{patient.uuid}", patient=patient.uuid)
    return bytes(pdf.output())
