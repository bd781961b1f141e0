"""Document intake: the scan inbox, quarantine, indexing to a patient, QA, and misfile correction.

A file leaves the inbox only after its document is committed: it is first claimed (renamed into
inbox/.claimed), then stored and recorded, then removed. A scan killed at any point is put right by
the next scan: a claimed file whose bytes are on record is removed, any other goes back to the inbox.
The inbox is a folder others write into: only plain files of the desk's own OS user are taken in, each
opened without following a link and checked on the open file; anything else is refused and left there.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from recdesk.config import check_scan_folder
from recdesk.desk import Desk
from recdesk.display import echoed, shown
from recdesk.documents.filing import type_labels, type_tags
from recdesk.documents.pdfworker import (
    CANNOT_BE_PARSED,
    DECOMPRESSION_BOMB,
    NESTED_TOO_DEEPLY,
    NO_PAGES,
    NOT_PDF,
    PASSWORD_PROTECTED,
    REASONS,
    TOO_MANY_PAGES,
    TOO_SLOW,
    TRUNCATED,
    FileRef,
    PdfWorker,
    Rejected,
)
from recdesk.errors import AccessDenied, DeskError
from recdesk.patients.registry import decrypt
from recdesk.retention import holds
from recdesk.roles import CHANGERS
from recdesk.vault import audit, crypto, seals
from recdesk.vault.models import Document, DocumentMove, Encounter, Patient, User, new_uuid, now
from recdesk.vault.store import CHUNK, StoredBlob

CLAIMED = ".claimed"
UNCLASSIFIED = "unclassified"
QA_FAIL_REASONS = ("illegible", "wrong patient", "wrong document type", "wrong date of service", "pages missing")
TOO_LARGE = "too large: split it or raise [intake] max_bytes"
QUARANTINE_REASONS = (*REASONS, TOO_LARGE)

# Why a file in the inbox is refused (not taken in, left where it is): a fixed phrase each.
SYMLINK = "a symbolic link"
FOLDER = "a folder, not a file"
NOT_A_FILE = "not a plain file (a pipe, socket or device)"
OTHER_OWNER = "owned by another OS user, not the desk's"
HARD_LINKED = "has other hard links (the same file is elsewhere too)"
CHANGED = "changed while it was being taken in"
REFUSED_ADVICE = "left in the inbox: put a plain copy of it there (as the desk's OS user) to take it in"

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # never a link; never wait on a pipe
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


# Older desks wrote the parser's own words (which can quote the file) as the reason; each maps to its phrase.
_OLD_REASONS = (
    ("not a PDF", NOT_PDF), ("truncated", TRUNCATED), ("password-protected", PASSWORD_PROTECTED),
    ("has no pages", NO_PAGES), ("has ", TOO_MANY_PAGES), ("hostile PDF: it needs more memory", DECOMPRESSION_BOMB),
    ("the parser ran out of memory", DECOMPRESSION_BOMB), ("hostile or broken PDF: objects nested", NESTED_TOO_DEEPLY),
    ("parsing took longer", TOO_SLOW),
)


def shown_reason(reason: str) -> str:
    """A quarantine reason as a fixed phrase, whatever an older desk stored."""
    if reason in QUARANTINE_REASONS:
        return reason
    return next((phrase for start, phrase in _OLD_REASONS if reason.startswith(start)), CANNOT_BE_PARSED)




def shown_name(name: str) -> str:
    """A file name from the inbox as one safe line (the desk's one rule for showing text from outside)."""
    return shown(name)[:200]


@dataclass
class ScanReport:
    received: list[str] = field(default_factory=list)  # uuids of new unfiled documents
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (uuid, reason)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name in the inbox, why): left there
    duplicates: int = 0
    returned: int = 0  # claimed files of a killed scan put back in the inbox


@dataclass
class _Claimed:
    """A file taken from the inbox: its name there, its name in .claimed, and the checked open file."""

    name: str
    claimed: str
    fd: int
    stat: os.stat_result


def _text(name: str) -> str:
    # A name that is not UTF-8 (its bytes came through as surrogates) is kept with U+FFFD in their place.
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _refusal(st: os.stat_result) -> str | None:
    """Why a file cannot be taken in, or None for a plain file of the desk's OS user with no other links."""
    if stat.S_ISLNK(st.st_mode):
        return SYMLINK
    if stat.S_ISDIR(st.st_mode):
        return FOLDER
    if not stat.S_ISREG(st.st_mode):
        return NOT_A_FILE
    if st.st_uid != os.geteuid():
        return OTHER_OWNER
    if st.st_nlink != 1:
        return HARD_LINKED
    return None


def _open_checked(dir_fd: int, name: str) -> tuple[int, os.stat_result] | None:
    """Open a plain file of ours in a folder without following a link; None if it is not one."""
    try:
        fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    st = os.fstat(fd)
    if _refusal(st) is not None:
        os.close(fd)
        return None
    return fd, st


def _chunks(fd: int) -> Iterator[bytes]:
    """A file's bytes from the start, a store chunk at a time (never the whole file in memory)."""
    os.lseek(fd, 0, os.SEEK_SET)
    while block := os.read(fd, CHUNK):
        yield block


def _sha256(fd: int) -> str:
    digest = hashlib.sha256()
    for block in _chunks(fd):
        digest.update(block)
    return digest.hexdigest()


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _free_name(dir_fd: int, name: str) -> str:
    stem, suffix = os.path.splitext(name)
    target, n = name, 1
    while _exists(dir_fd, target):
        target = f"{stem}.{n}{suffix}"
        n += 1
    return target


def _move(src_fd: int, name: str, dst_fd: int, wanted: str) -> str:
    """Rename an entry (a link moves as itself, never its target) to a free name in another folder."""
    target = _free_name(dst_fd, wanted)
    os.rename(name, target, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
    return target


@contextlib.contextmanager
def _folders(box: Path, *, create: bool = True) -> Iterator[tuple[int, int] | None]:
    """The inbox and its .claimed folder, opened without following links; None if there is no .claimed."""
    try:
        box_fd = os.open(box, _DIR_FLAGS)
    except FileNotFoundError:
        raise DeskError(f"inbox {box} does not exist: create it or set [intake] inbox in config.toml") from None
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise DeskError(f"cannot open inbox {box}: {exc.strerror}") from None
        what = "a symbolic link" if box.is_symlink() else "not a folder"
        raise DeskError(f"inbox {box} is {what}: set [intake] inbox to the real folder") from None
    try:
        if create:
            try:
                os.mkdir(CLAIMED, 0o700, dir_fd=box_fd)
            except FileExistsError:
                pass
            except OSError as exc:
                raise DeskError(f"cannot create {box / CLAIMED} ({exc.strerror}): let the desk's OS user write "
                                "to the inbox") from None
        try:
            claimed_fd = os.open(CLAIMED, _DIR_FLAGS, dir_fd=box_fd)
        except FileNotFoundError:
            if create:
                raise
            yield None
            return
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            raise DeskError(f"{box / CLAIMED} is not the desk's own folder (a link or a file): remove it, "
                            "then scan again") from None
        try:
            if os.fstat(claimed_fd).st_uid != os.geteuid():
                raise DeskError(f"{box / CLAIMED} belongs to another OS user: remove it, then scan again")
            os.fchmod(claimed_fd, 0o700)  # what is claimed is the desk's alone until it is on record
            yield box_fd, claimed_fd
        finally:
            os.close(claimed_fd)
    finally:
        os.close(box_fd)


def recover(desk: Desk, box: Path | None = None) -> int:
    """Finish what a killed scan left in <box>/.claimed; returns how many files went back to the box."""
    with _scan_lock(box or desk.config.inbox_path, create=False) as fds:
        return _recover(*fds) if fds else 0


def _recover(box_fd: int, claimed_fd: int) -> int:
    returned = 0
    for name in sorted(os.listdir(claimed_fd)):
        if name.startswith("."):
            continue
        opened = _open_checked(claimed_fd, name)
        if opened is not None:
            fd, _ = opened
            try:
                on_record = Document.select().where(Document.sha256 == _sha256(fd)).exists()
            finally:
                os.close(fd)
            if on_record:
                os.unlink(name, dir_fd=claimed_fd)  # committed before the kill: the document has it
                continue
        _move(claimed_fd, name, box_fd, name)  # anything else goes back, untouched, to be taken or refused
        returned += 1
    return returned


@contextlib.contextmanager
def _scan_lock(box: Path, *, create: bool = True) -> Iterator[tuple[int, int] | None]:
    """One scan of a folder at a time, across processes (the lock goes with the process if it dies)."""
    with _folders(box, create=create) as fds:
        if fds is None:
            yield None
            return
        try:
            lock = os.open(".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=fds[1])
        except OSError as exc:
            raise DeskError(f"cannot lock {box / CLAIMED / '.lock'} ({exc.strerror}): remove it, then scan again") \
                from None
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DeskError(f"another scan of {box} is running: wait for it to finish") from None
            yield fds
        finally:
            os.close(lock)


def _claim(box_fd: int, claimed_fd: int, name: str) -> _Claimed | str | None:
    """Take one inbox entry into .claimed and open it; the reason it is refused (left in the inbox); None if gone."""
    try:
        before = os.stat(name, dir_fd=box_fd, follow_symlinks=False)
        refusal = _refusal(before)
        if refusal is not None:
            return refusal
        target = _move(box_fd, name, claimed_fd, name)
    except FileNotFoundError:
        return None  # removed since the folder was listed
    opened = _open_checked(claimed_fd, target)
    if opened is None or (opened[1].st_dev, opened[1].st_ino) != (before.st_dev, before.st_ino):
        # Swapped for something else between the check and the claim: whatever it is goes back as it is.
        if opened is not None:
            os.close(opened[0])
        _move(claimed_fd, target, box_fd, name)
        return CHANGED
    return _Claimed(name, target, *opened)


def settle_old_reasons(desk: Desk) -> None:
    """Put right what older desks left: free-text reasons in the column become their fixed phrases, and
    the world-readable <home>/quarantine/<id>.reason files (which could quote a file's bytes) go."""
    old = [d for d in Document.select(Document.id, Document.quarantine_reason)
           .where((Document.status == "quarantined") & Document.quarantine_reason.not_in(QUARANTINE_REASONS))]
    if old:
        with desk.write():
            for doc in old:
                Document.update(quarantine_reason=shown_reason(doc.quarantine_reason)).where(
                    Document.id == doc.id).execute()
    folder = desk.config.home / "quarantine"
    if folder.is_dir() and not folder.is_symlink():
        for path in folder.glob("*.reason"):
            path.unlink()  # unlink never follows a link
        with contextlib.suppress(OSError):
            folder.rmdir()


BATCH = 50  # files committed together: one disk flush and one transaction per batch


def scan(desk: Desk, actor, directory: Path | None = None, *, worker: PdfWorker | None = None,
         progress: Callable[[int, int], None] | None = None) -> ScanReport:
    """Take every file in the inbox (or `directory`) in as an unfiled or quarantined document."""
    actor.require(*CHANGERS)
    if directory is not None:
        check_scan_folder(desk.config.home, directory)
    box = (directory or desk.config.inbox_path).absolute()  # the parser process opens claimed files by this path
    limits = desk.config.intake.max_pages, desk.config.intake.max_bytes
    own_worker = worker is None
    worker = worker or PdfWorker()
    try:
        with _scan_lock(box) as (box_fd, claimed_fd), desk.store.writing():
            settle_old_reasons(desk)
            report = ScanReport(returned=_recover(box_fd, claimed_fd))
            names = sorted(n for n in os.listdir(box_fd) if not n.startswith("."))
            for start in range(0, len(names), BATCH):
                claimed: list[_Claimed] = []
                refused: list[tuple[str, str]] = []
                try:
                    for name in names[start : start + BATCH]:
                        taken = _claim(box_fd, claimed_fd, name)
                        if isinstance(taken, _Claimed):
                            claimed.append(taken)
                        elif taken is not None:
                            refused.append((name, taken))
                    _take_in(desk, actor, box / CLAIMED, claimed_fd, claimed, refused, worker, report, limits)
                finally:
                    for c in claimed:
                        os.close(c.fd)
                if progress:
                    progress(min(start + BATCH, len(names)), len(names))
    finally:
        if own_worker:
            worker.close()
    return report


def _take_in(desk: Desk, actor, claimed_dir: Path, claimed_fd: int, claimed: list[_Claimed],
             refused: list[tuple[str, str]], worker: PdfWorker, report: ScanReport, limits: tuple[int, int]) -> None:
    """Store and record one batch of claimed files, then (and only then) remove them from .claimed.

    Each file is streamed from its checked descriptor into the store (hashed on the way); the parser
    opens it itself, by its device and inode, so no file is ever held whole in the desk's memory.
    """
    page_limit, byte_limit = limits
    stored: list[tuple[str, StoredBlob]] = []
    try:
        for c in claimed:
            uid = new_uuid()
            stored.append((uid, desk.store.put(desk.desk_key, uid, _chunks(c.fd), sync=False)))
        shas = [blob.sha256 for _, blob in stored]
        on_record = {d.sha256: d for d in Document.select().where(Document.sha256.in_(shas))} if shas else {}
        fresh = [i for i, sha in enumerate(shas) if sha not in on_record and sha not in shas[:i]]
        for i in set(range(len(stored))) - set(fresh):
            desk.store.delete(stored[i][1].blob)  # a duplicate: its bytes are on the desk already
        to_parse = [i for i in fresh if claimed[i].stat.st_size <= byte_limit]
        sources = [FileRef(str(claimed_dir / claimed[i].claimed), claimed[i].stat.st_dev, claimed[i].stat.st_ino)
                   for i in to_parse]
        parsed = dict(zip(to_parse, worker.parse_many(sources, max_pages=page_limit), strict=True))
        desk.store.sync()  # every file is on disk before any row says it is
        events = [audit.Event("intake.refuse", details={"name": name, "why": why}) for name, why in refused]
        with desk.write():
            for i, sha in enumerate(shas):
                if i not in fresh:
                    existing = on_record.get(sha)
                    events.append(audit.Event("intake.duplicate", f"document:{existing.uuid}" if existing else "",
                                              existing.patient.uuid if existing and existing.patient_id else ""))
                    report.duplicates += 1
                    continue
                uid, blob = stored[i]
                result = parsed.get(i, Rejected(TOO_LARGE, f"{claimed[i].stat.st_size} bytes, more than the "
                                                           f"limit of {byte_limit}"))
                rejected = isinstance(result, Rejected)
                pages = 0 if rejected else result.pages
                # Only the fixed phrase goes in the row, in this transaction; the parser's words are sealed.
                Document.create(
                    uuid=uid, doc_type=UNCLASSIFIED, pages=pages, size=blob.size, sha256=blob.sha256,
                    blob=blob.blob, source="scan", status="quarantined" if rejected else "unfiled",
                    qa_state="pending", received_at=now(), quarantine_reason=result.reason if rejected else "",
                    name_enc=crypto.seal(desk.desk_key, "document", "name", uid, _text(claimed[i].name)),
                )
                details = {"pages": pages, "reason": result.reason, "detail": result.detail} if rejected else {
                    "pages": pages}
                events.append(audit.Event("intake.quarantine" if rejected else "intake.receive", f"document:{uid}",
                                          details=details))
                if rejected:
                    report.quarantined.append((uid, result.reason))
                else:
                    report.received.append(uid)
            seals.reseal(desk, Document, Document.uuid.in_([uid for uid, _ in stored]))
            audit.append_many(desk, actor, events)
    except BaseException:
        for _, blob in stored:
            desk.store.delete(blob.blob)
        raise
    report.refused += refused
    for c in claimed:
        os.unlink(c.claimed, dir_fd=claimed_fd)


# --- reading a document back ----------------------------------------------------------------------


def _key(desk: Desk, doc: Document) -> bytes:
    return desk.dek(doc.patient) if doc.patient_id else desk.desk_key


def document_bytes(desk: Desk, actor, doc_uuid: str, *, purpose: str | None = None) -> bytes:
    """The decrypted bytes of a document (hash-checked); the view is audited. A document filed to a restricted
    record opens as its chart does (chart.check_access: a need and a purpose, or break-glass still running), and
    its view is recorded as a use of the restricted record."""
    from recdesk.patients.chart import check_access, record_use

    doc = _get(doc_uuid)
    seals.check(desk, doc)
    access = check_access(desk, actor, doc.patient, purpose) if doc.patient_id else None
    data = desk.store.read(_key(desk, doc), doc.uuid, doc.blob, doc.sha256)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "document.view", object=f"document:{doc.uuid}",
                     patient=doc.patient.uuid if doc.patient_id else "")
        if access is not None and access.restricted:
            record_use(desk, actor, doc.patient, access, document=doc.uuid, via="document")
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


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_A_DATE = re.compile(r"\b(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/-]\d{1,2}[/-]\d{4}|" + _MONTH + r" \d{1,2},? \d{4}|\d{1,2} "
                     + _MONTH + r",? \d{4})(?!\d)", re.IGNORECASE)
_SERVICE_LABEL = re.compile(r"(?:date of service|service date|\bDOS|admission date|date of admission|admit date|"
                            r"admitted(?: on)?)[\s:#.-]*$", re.IGNORECASE)
_BIRTH_LABEL = re.compile(r"(?:\bDOB|D\.O\.B\.?|date of birth|birth ?date|\bborn(?: on)?)[\s:#.-]*$", re.IGNORECASE)
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%b %d %Y", "%B %d %Y", "%d %b %Y", "%d %B %Y")


def _read_date(text: str) -> datetime.date | None:
    text = " ".join(text.replace(",", " ").replace(".", " ").split())
    text = re.sub(r"\bsept\b", "sep", text, flags=re.IGNORECASE)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def suggested_service_date(text: str) -> datetime.date | None:
    """The date of service printed on a page (its first page, as the pdf worker extracts it): a date labelled
    "Date of service", "DOS", "Service date" or "Admission date", else the first date on the page that is not a date
    of birth. Never in the future; a suggestion the clerk confirms or changes, never filed by itself."""
    first = None
    for match in _A_DATE.finditer(text):
        date = _read_date(match.group(1))
        if date is None or date > datetime.date.today():
            continue
        before = text[text.rfind("\n", 0, match.start()) + 1:match.start()][-40:]
        if _SERVICE_LABEL.search(before):
            return date
        if first is None and not _BIRTH_LABEL.search(before):
            first = date
    return first


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


def _title_for(desk: Desk, doc: Document, patient: Patient) -> bytes | None:
    """The document's title sealed under `patient`'s key (a title moves with its document, like the bytes)."""
    if doc.title_enc is None or doc.patient_id == patient.id:
        return doc.title_enc
    title = crypto.open_text(desk.dek(doc.patient), "document", "title", doc.uuid, doc.title_enc)
    return crypto.seal(desk.dek(patient), "document", "title", doc.uuid, title)


def _check_type(desk: Desk, doc_type: str) -> None:
    types = type_labels(desk)
    if doc_type not in types:
        raise DeskError(f"document type {doc_type!r} is not on the list: one of {', '.join(sorted(types))}")


def _check_date(desk: Desk, service_date: datetime.date | None, patient: Patient) -> None:
    """A date of service is never in the future, nor before the patient was born."""
    if service_date is None:
        return
    if service_date > datetime.date.today():
        raise DeskError(f"date of service {service_date.isoformat()} is in the future: check the page")
    born = decrypt(desk, patient).dob
    if born is not None and service_date < born:
        raise DeskError(f"date of service {service_date.isoformat()} is before the patient's birth "
                        f"({born.isoformat()}): check the page and the patient")


def file_to_patient(desk: Desk, actor, doc_uuid: str, patient_uuid: str, doc_type: str,
                    service_date: datetime.date | None, encounter_uuid: str | None = None) -> Document:
    """Index an unfiled document: patient, type, date of service, encounter. It then waits for QA."""
    actor.require(*CHANGERS)
    _check_type(desk, doc_type)
    doc = _get(doc_uuid)
    if doc.status != "unfiled":
        raise DeskError(f"document {doc_uuid} is {doc.status}, not waiting to be filed")
    patient = _patient(patient_uuid)
    _check_date(desk, service_date, patient)
    encounter = None
    if encounter_uuid:
        encounter = Encounter.get_or_none((Encounter.uuid == encounter_uuid) & (Encounter.patient == patient.id))
        if encounter is None:
            raise DeskError("that encounter is not one of this patient's")
    with _stored_for(desk, doc, patient) as blob, desk.write():
        _update_unchanged(desk, doc, patient=patient.id, encounter=encounter.id if encounter else None,
                          doc_type=doc_type, sensitive_tags=_merge_tags(doc.sensitive_tags, type_tags(desk, doc_type)),
                          service_date=service_date, blob=blob, status="filed", qa_state="pending",
                          filed_by=actor.user_id, filed_at=now(), qa_by=None, qa_at=None)
        audit.append(desk, actor, "document.file", object=f"document:{doc.uuid}", patient=patient.uuid,
                     details={"doc_type": doc_type, "service_date": service_date, "pages": doc.pages})
    return _get(doc_uuid)


def record_qa(desk: Desk, actor, doc_uuid: str, *, passed: bool, legible: bool = True, reason: str = "") -> None:
    """QA of a filed document: pass clears its paper for shredding; fail sends it back to its indexer."""
    actor.require(*CHANGERS)
    doc = _get(doc_uuid)
    if doc.status != "filed" or doc.qa_state != "pending":
        raise DeskError(f"document {doc_uuid} is not waiting for QA")
    if desk.config.intake.qa_by_other_clerk and doc.filed_by_id == actor.user_id:
        raise AccessDenied("QA must be done by a clerk other than the one who indexed it")
    if passed and not legible:
        raise DeskError("an illegible document cannot pass QA: fail it as illegible")
    if not passed and not reason.strip():
        raise DeskError("say why it fails QA (illegible, wrong patient, wrong type, wrong date, ...)")
    with desk.write():
        _update_unchanged(desk, doc, qa_state="passed" if passed else "failed", qa_by=actor.user_id, qa_at=now(),
                          legible=legible, qa_reason=reason.strip()[:200], status="filed" if passed else "unfiled")
        audit.append(desk, actor, "document.qa_pass" if passed else "document.qa_fail", object=f"document:{doc.uuid}",
                     patient=doc.patient.uuid if doc.patient_id else "",
                     details={"legible": legible, "reason": reason.strip()})


def _update_unchanged(desk: Desk, doc: Document, **changes) -> None:
    """Apply changes only if the document is still as it was read: two clerks on one document never
    both win (the second is told to look again), and a row never points at a file a move removed."""
    seals.check(desk, doc)
    unchanged = ((Document.id == doc.id) & (Document.blob == doc.blob) & (Document.status == doc.status)
                 & (Document.qa_state == doc.qa_state))
    if Document.update(**changes).where(unchanged).execute() != 1:
        raise DeskError("someone else changed this document just now: look at it again and redo your change")
    seals.reseal(desk, Document, Document.id == doc.id)


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
    actor.require(*CHANGERS)
    if not reason.strip():
        raise DeskError("a misfile correction needs a reason (it is kept in the document's history)")
    doc = _get(doc_uuid)
    if doc.status != "filed":
        raise DeskError(f"document {doc_uuid} is {doc.status}: only a filed document can be moved")
    target = _patient(patient_uuid) if patient_uuid else doc.patient
    sides = [("its chart", doc.patient)]
    if target.id != doc.patient_id:
        sides.append(("the chart it would go to", target))
    for side, patient in sides:
        held = holds.why_held(desk, patient.uuid)
        if held:  # a held record is preserved as it stands (T2, P4): nothing moves out of it or into it
            raise DeskError(f"{side} is {held}: its documents cannot be moved until a manager lifts the hold")
    new_type = doc_type or doc.doc_type
    new_date = service_date if service_date is not None else doc.service_date
    _check_type(desk, new_type)
    _check_date(desk, new_date, target)
    if target.id == doc.patient_id and new_type == doc.doc_type and new_date == doc.service_date:
        raise DeskError("nothing to change: pick another patient, type or date")
    stamp = now()
    with _stored_for(desk, doc, target) as blob, desk.write():
        DocumentMove.create(
            document=doc.id, at=stamp, by_user=actor.user_id, from_patient=doc.patient_id, to_patient=target.id,
            from_type=doc.doc_type, to_type=new_type, from_date=doc.service_date, to_date=new_date,
            reason_enc=crypto.seal(desk.desk_key, "document_move", "reason", move_ref(doc, stamp), reason),
        )
        _update_unchanged(desk, doc, patient=target.id, doc_type=new_type, service_date=new_date, blob=blob,
                          sensitive_tags=_merge_tags(doc.sensitive_tags, type_tags(desk, new_type)),
                          encounter=None if target.id != doc.patient_id else doc.encounter_id,
                          qa_state="pending", qa_by=None, qa_at=None, title_enc=_title_for(desk, doc, target))
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
    if desk.config.intake.qa_by_other_clerk:
        query = query.where((Document.filed_by.is_null()) | (Document.filed_by != actor.user_id))
    return list(query.order_by(Document.filed_at, Document.id))


def quarantine(desk: Desk) -> list[Document]:
    return list(Document.select().where(Document.status == "quarantined").order_by(Document.received_at.desc()))


@dataclass(frozen=True)
class IntakeRow:
    """A document waiting at intake, in plain values a screen shows: unfiled (perhaps sent back by QA) or
    quarantined."""

    uuid: str
    pages: int
    received_at: datetime.datetime | None
    quarantined: str  # why it is quarantined, as a clerk reads it; "" when it is not
    qa_failed: str  # why QA sent it back; "" when it did not


def intake_rows(desk: Desk, actor) -> list[IntakeRow]:
    """The intake screen's queue: the unfiled documents (index_queue's order), then the quarantined ones."""
    return [IntakeRow(d.uuid, d.pages, d.received_at,
                      shown_reason(d.quarantine_reason) if d.status == "quarantined" else "",
                      d.qa_reason if d.status != "quarantined" and d.qa_state == "failed" else "")
            for d in index_queue(desk, actor) + quarantine(desk)]


@dataclass(frozen=True)
class QARow:
    """A filed document waiting for QA, in plain values a screen shows."""

    uuid: str
    pages: int
    type_label: str
    service_date: str
    patient: str  # "name MRN nnn"
    filed_by: str
    name: str = ""  # the patient's name and MRN apart, for a list that cuts the name and never the MRN
    mrn: str = ""


def qa_rows(desk: Desk, actor) -> list[QARow]:
    """The QA screen's queue (qa_queue), each document with its patient's name and MRN decrypted."""
    from recdesk.patients.registry import decrypt

    types = type_labels(desk)
    rows = []
    for doc in qa_queue(desk, actor):
        patient = decrypt(desk, doc.patient)
        rows.append(QARow(doc.uuid, doc.pages, types.get(doc.doc_type, doc.doc_type),
                          doc.service_date.isoformat() if doc.service_date else "",
                          f"{patient.display_name} MRN {patient.mrn}", doc.filed_by.name if doc.filed_by_id else "",
                          patient.display_name, patient.mrn))
    return rows


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


def move_ref(doc: Document, at: datetime.datetime) -> str:
    # A move's reason is bound to its document and moment (the row has no uuid of its own).
    return f"{doc.uuid}@{at.isoformat()}"


def history(desk: Desk, doc_uuid: str) -> list[dict]:
    """Every correction of a document, oldest first, with its reason."""
    doc = _get(doc_uuid)
    return [
        {"at": m.at, "by": m.by_user.name, "from_patient": m.from_patient_id, "to_patient": m.to_patient_id,
         "from_type": m.from_type, "to_type": m.to_type, "from_date": m.from_date, "to_date": m.to_date,
         "reason": crypto.open_text(desk.desk_key, "document_move", "reason", move_ref(doc, m.at), m.reason_enc)}
        for m in DocumentMove.select().where(DocumentMove.document == doc.id).order_by(DocumentMove.at)
    ]


# --- cover sheets ---------------------------------------------------------------------------------


def coversheet(desk: Desk, actor, mrn: str) -> bytes:
    """A PDF cover sheet with the patient's MRN and name as text: a batch scanned behind it is suggested to them."""
    from recdesk.patients.registry import decrypt
    from recdesk.patients.search import find

    hits = [h for h in find(desk, mrn, limit=5) if h.match == "exact" and h.patient.mrn == mrn.strip()]
    if not hits:
        raise DeskError(f"no patient with MRN {echoed(mrn)}")
    patient = decrypt(desk, Patient.get_by_id(hits[0].patient.id))
    from recdesk.pdf.fonts import latin1
    from recdesk.pdf.layout import document

    pdf = document("Cover sheet", margins=None)
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
