"""Purge batches (RULES.md T1–T4): two people and nothing half-done, from the retention worklist to the certificate.

A clerk or manager prepares a batch from the eligible charts (an as-of date, optionally a terminal-digit range or
a list of MRNs, a size limit); a manager who did not prepare it approves it, and every patient is checked again
then. Where the schedule says so (a rule's `archive = true`, or the site's), the batch is archived and the archive
verified before anything is destroyed. The run crypto-shreds one patient per transaction, checking each patient once
more inside that transaction: a hold placed or a request logged since the approval keeps that patient out, and the
certificate says so. A run killed at any moment is finished by running it again. The paper volumes are listed
before the electronic destruction (which deletes their rows) and each is confirmed shredded with a witness, or
reported not found. The certificate of destruction is a desk document (no patient's), kept permanently.

Status: prepared -> approved [-> archived] -> destroyed [-> paper_confirmed], or cancelled before the run starts. A
batch with no paper volumes ends at destroyed. Nothing identifying is kept in the batch's own rows in the clear: the
reasons, the volume labels (a terminal-digit shelf address spells the MRN) and the cancel reason are under the desk
key, and the destroyed patients' names come from the destruction register.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import peewee

from recdesk import clock
from recdesk.display import FORBIDDEN
from recdesk.errors import AccessDenied, DeskError, TamperError
from recdesk.paper import shelf
from recdesk.patients.registry import decrypt
from recdesk.retention import archive as archiving
from recdesk.retention import certificate as cert
from recdesk.retention import register, schedule, shredding, worklist
from recdesk.retention.register import Destroyed
from recdesk.roles import CHANGERS, MANAGERS
from recdesk.vault import audit, crypto, seals
from recdesk.vault.blindindex import mrn_key
from recdesk.vault.models import (
    AuditEvent,
    ChartLocation,
    ChartVolume,
    Document,
    Encounter,
    Patient,
    PurgeBatch,
    PurgeItem,
    PurgeVolume,
    User,
    by_short_id,
    new_uuid,
    now,
)

STATUSES = ("prepared", "approved", "archived", "destroyed", "paper_confirmed", "cancelled")
OPEN = ("prepared", "approved", "archived")  # a patient in one of these is not put in another batch
SHORT = 8  # a batch's id as people type it: at least its first 8 characters
NUMBER = re.compile(r"CD-(\d{4})-(\d{4,})", re.IGNORECASE)
TEXT_LIMIT = 200
REASON_LIMIT = 500
DESCRIPTION = ("Patient health records (scanned and generated documents, encounters, demographics, release and "
               "chart-tracking records) past their retention period")
CERTIFICATE_TYPE = "certificate_of_destruction"
_CHUNK = 500
# A range of terminal digits (the MRN's last two), as `--digits 00-19` writes it
_DIGITS = re.compile(r"\s*(\d{1,2})\s*-\s*(\d{1,2})\s*")


@dataclass(frozen=True)
class BatchView:
    """A batch as the purge screen and `recdesk purge list` show it: counts only, no patient named."""

    id: str
    number: str
    status: str
    as_of: datetime.date | None
    prepared_by: str
    prepared_at: datetime.datetime
    approved_by: str
    approved_at: datetime.datetime | None
    destroyed_at: datetime.datetime | None
    patients: int  # in the batch (not excluded)
    documents: int
    pages: int
    volumes: int  # paper chart volumes
    first_service: datetime.date | None
    last_service: datetime.date | None
    excluded: int  # taken out at approval or execution
    done: int  # patients destroyed so far
    archive: bool  # the schedule says archive before destruction
    # beyond the contract
    selection: str = ""
    archived_at: datetime.datetime | None = None
    archive_path: str = ""
    ran_by: str = ""
    witness: str = ""
    cancelled_at: datetime.datetime | None = None
    volumes_done: int = 0  # paper volumes confirmed shredded or reported not found
    certificate: bool = False  # a certificate has been issued

    @property
    def next_step(self) -> str:
        """What the batch waits for, in words."""
        if self.status == "prepared":
            return "approval by a manager who did not prepare it"
        if self.status == "approved":
            return "the archive (the schedule says archive first)" if self.archive else "the run"
        if self.status == "archived":
            return "the run"
        if self.status == "destroyed" and self.volumes_done < self.volumes:
            return f"paper: {self.volumes - self.volumes_done} volume(s) to confirm shredded or report not found"
        return "nothing"

    def as_row(self) -> dict:
        """The row `recdesk purge list --json` prints."""
        row = asdict(self)
        for key, value in row.items():
            if isinstance(value, datetime.datetime):
                row[key] = value.isoformat(timespec="seconds")
            elif isinstance(value, datetime.date):
                row[key] = value.isoformat()
        row["next_step"] = self.next_step
        return row


@dataclass(frozen=True)
class Item:
    """One patient of a batch (a PHI view: `show` audits it)."""

    mrn: str
    name: str
    dob: datetime.date | None
    last_encounter: datetime.date | None
    retain_until: datetime.date | None
    rule: str
    outcome: str  # pending | destroyed | skipped
    why: str = ""  # why it was skipped

    def as_row(self) -> dict:
        return {"mrn": self.mrn, "name": self.name, "dob": _iso(self.dob), "last_encounter": _iso(self.last_encounter),
                "retain_until": _iso(self.retain_until), "rule": self.rule, "outcome": self.outcome,
                "why": self.why or None}


@dataclass(frozen=True)
class BatchDetail(BatchView):
    """A batch with its patients."""

    items: tuple[Item, ...] = field(default=())

    def as_row(self) -> dict:
        row = super().as_row()
        row["items"] = [i.as_row() for i in self.items]
        return row


@dataclass(frozen=True)
class PaperVolume:
    """A paper chart volume on the batch's destruction pull list."""

    volume_uuid: str
    mrn: str
    name: str
    volume_no: int
    shelf: str  # the shelf address in the site's filing order
    status: str  # pending | shredded | not_found
    home: str = ""  # the file room it lives in
    by: str = ""  # who shredded it or reported it
    witness: str = ""
    at: datetime.datetime | None = None
    note: str = ""

    def as_row(self) -> dict:
        row = asdict(self)
        row["at"] = self.at.isoformat(timespec="seconds") if self.at else None
        return row


class _Kept(DeskError):
    """A patient kept out of the batch at execution (raised inside the shred's transaction: nothing was done)."""


def _iso(day) -> str | None:
    return day.isoformat() if day else None


def _date(value) -> datetime.date | None:
    """A date from an aggregate: a date, a datetime, or SQLite's text."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


MAX_BATCH = 100_000  # patients in one batch: a day's purge on a big site; more is several batches


def _line(text: str | None, what: str, limit: int) -> str:
    text = (text or "").strip()
    if not text:
        raise DeskError(f"give {what}")
    if len(text) > limit or FORBIDDEN.search(text):
        raise DeskError(f"{what} must be one line of at most {limit} characters")
    return text


def _chunks(values: list, size: int = _CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- finding a batch ------------------------------------------------------------------------------------------------


def find(batch_id: str) -> PurgeBatch:
    """A batch by its certificate number (CD-2026-0001) or the first 8 or more characters of its id."""
    typed = (batch_id or "").strip()
    if NUMBER.fullmatch(typed):
        row = PurgeBatch.get_or_none(PurgeBatch.number == typed.upper())
        if row is None:
            raise DeskError(f"no purge batch {typed.upper()}: see `recdesk purge list`")
        return row
    if not re.fullmatch(r"[0-9a-fA-F]+", typed):
        raise DeskError(f"purge batch {batch_id[:40]!r}: give its number (CD-2026-0001) or the id `recdesk purge "
                        f"list` shows (at least {SHORT} characters)")
    return by_short_id(PurgeBatch, typed, what="purge batch", listing="recdesk purge list", least=SHORT)


def _checked(desk, batch_id: str) -> PurgeBatch:
    """The batch, its seal and its items' and volumes' seals checked: a status or outcome written into the database
    by hand is refused, not acted on."""
    row = find(batch_id)
    seals.check(desk, row)
    seals.check_where(desk, PurgeItem, PurgeItem.batch == row.id)
    seals.check_where(desk, PurgeVolume, PurgeVolume.batch == row.id)
    return PurgeBatch.get_by_id(row.id)


def _reseal(desk, batch: PurgeBatch) -> None:
    seals.reseal(desk, PurgeBatch, PurgeBatch.id == batch.id)


def _set_status(desk, batch: PurgeBatch, status: str, expected: tuple[str, ...], **values) -> None:
    """Move the batch to `status` inside the caller's transaction, only from one of `expected` (another session may
    have moved it a moment ago)."""
    changed = (PurgeBatch.update(status=status, **values)
               .where((PurgeBatch.id == batch.id) & PurgeBatch.status.in_(expected)).execute())
    if changed != 1:
        raise DeskError(f"someone changed batch {batch.number} just now: look at it again")
    _reseal(desk, batch)


# --- views ------------------------------------------------------------------------------------------------------------


def _names() -> dict[int, str]:
    return dict(User.select(User.id, User.name).tuples())


def _person(user_id: int | None) -> str:
    """A desk user as a certificate names them: full name, desk user name and role."""
    if user_id is None:
        return ""
    user = User.get_by_id(user_id)
    return (f"{user.full_name} ({user.role}, desk user {user.name})" if user.full_name
            else f"desk user {user.name} ({user.role})")


def _stats(batch_ids: list[int]) -> dict[int, dict]:
    out: dict[int, dict] = {i: {"patients": 0, "documents": 0, "pages": 0, "volumes": 0, "first": None, "last": None,
                                "excluded": 0, "done": 0, "volumes_done": 0} for i in batch_ids}
    for ids in _chunks(batch_ids):
        query = (PurgeItem.select(PurgeItem.batch, PurgeItem.outcome, peewee.fn.COUNT(PurgeItem.id),
                                  peewee.fn.SUM(PurgeItem.documents), peewee.fn.SUM(PurgeItem.pages),
                                  peewee.fn.SUM(PurgeItem.volumes), peewee.fn.MIN(PurgeItem.first_service),
                                  peewee.fn.MAX(PurgeItem.last_service))
                 .where(PurgeItem.batch.in_(ids)).group_by(PurgeItem.batch, PurgeItem.outcome))
        for bid, outcome, n, docs, pages, volumes, first, last in query.tuples():
            s = out[bid]
            if outcome == "skipped":
                s["excluded"] += n
                continue
            s["done"] += n if outcome == "destroyed" else 0
            s["patients"] += n
            s["documents"] += docs or 0
            s["pages"] += pages or 0
            s["volumes"] += volumes or 0
            first, last = _date(first), _date(last)
            s["first"] = min(d for d in (s["first"], first) if d) if (s["first"] or first) else None
            s["last"] = max(d for d in (s["last"], last) if d) if (s["last"] or last) else None
        decided = (PurgeVolume.select(PurgeVolume.batch, peewee.fn.COUNT(PurgeVolume.id))
                   .where(PurgeVolume.batch.in_(ids) & (PurgeVolume.status != "pending")).group_by(PurgeVolume.batch))
        for bid, n in decided.tuples():
            out[bid]["volumes_done"] = n
    return out


def _view(batch: PurgeBatch, stats: dict, names: dict[int, str]) -> BatchView:
    return BatchView(
        id=batch.uuid, number=batch.number or "", status=batch.status, as_of=batch.as_of,
        prepared_by=names.get(batch.created_by_id, ""), prepared_at=batch.created_at,
        approved_by=names.get(batch.approved_by_id, "") if batch.approved_by_id else "",
        approved_at=batch.approved_at, destroyed_at=batch.executed_at, patients=stats["patients"],
        documents=stats["documents"], pages=stats["pages"], volumes=stats["volumes"],
        first_service=stats["first"], last_service=stats["last"], excluded=stats["excluded"], done=stats["done"],
        archive=bool(batch.archive_required), selection=batch.selection, archived_at=batch.archived_at,
        archive_path=batch.archive_path, ran_by=names.get(batch.run_by_id, "") if batch.run_by_id else "",
        witness=batch.witness, cancelled_at=batch.cancelled_at, volumes_done=stats["volumes_done"],
        certificate=batch.certificate_id is not None)


def view(batch: PurgeBatch) -> BatchView:
    """One batch's counts, read fresh."""
    batch = PurgeBatch.get_by_id(batch.id)
    return _view(batch, _stats([batch.id])[batch.id], _names())


def batches(desk, actor) -> list[BatchView]:
    """Every batch, newest first (counts only: no patient is named, so the list is not a PHI view)."""
    actor.require(*CHANGERS, "supervisor")
    seals.check_where(desk, PurgeBatch, PurgeBatch.id > 0)
    rows = list(PurgeBatch.select().order_by(PurgeBatch.created_at.desc(), PurgeBatch.id.desc()))
    stats = _stats([b.id for b in rows])
    names = _names()
    return [_view(b, stats[b.id], names) for b in rows]


def _who(desk, patient_uuid: str) -> tuple[str, str, datetime.date | None]:
    """(MRN, name, DOB) of a batch's patient: from the register once destroyed, else from the live record."""
    entry = register.entry_of(desk, patient_uuid)
    if entry is not None:
        return entry.mrn, entry.display_name, entry.dob
    row = Patient.get_or_none(Patient.uuid == patient_uuid)
    if row is None or row.dek_wrapped is None:
        return "", "(not on the desk)", None
    p = decrypt(desk, row)
    return p.mrn, p.display_name, p.dob


def _why(desk, batch: PurgeBatch, item: PurgeItem) -> str:
    return crypto.open_text(desk.desk_key, "purge_item", "why", f"{batch.uuid}:{item.patient_uuid}",
                            item.why_enc) or ""


def _order_key(desk, mrn: str) -> tuple:
    try:
        return (0, *shelf.sort_key(mrn, desk.config.filing.order))
    except DeskError:
        return (1,)


def show(desk, actor, batch_id: str) -> BatchDetail:
    """The batch with each patient (MRN, name, DOB, dates, rule, outcome and why), in shelf order; audited."""
    actor.require(*CHANGERS, "supervisor")
    batch = _checked(desk, batch_id)
    items = []
    uuids = []
    for row in PurgeItem.select().where(PurgeItem.batch == batch.id).order_by(PurgeItem.id):
        mrn, name, dob = _who(desk, row.patient_uuid)
        uuids.append(row.patient_uuid)
        items.append(Item(mrn, name, dob, row.last_encounter_on, row.retain_until, row.rule, row.outcome,
                          _why(desk, batch, row)))
    items.sort(key=lambda i: _order_key(desk, i.mrn))
    base = view(batch)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "purge.show", object=f"purge:{batch.uuid}",
                     details={"number": batch.number, "patients": uuids})
    return BatchDetail(**{f: getattr(base, f) for f in BatchView.__dataclass_fields__}, items=tuple(items))


# --- prepare ----------------------------------------------------------------------------------------------------------


def _next_number(today: datetime.date) -> str:
    prefix = f"CD-{today.year}-"
    taken = [n for (n,) in PurgeBatch.select(PurgeBatch.number).where(PurgeBatch.number.startswith(prefix)).tuples()]
    last = max((int(m.group(2)) for m in (NUMBER.fullmatch(n or "") for n in taken) if m), default=0)
    return f"{prefix}{last + 1:04d}"


def parse_digits(text: str) -> tuple[int, int]:
    """A terminal-digit range as typed: '00-19' (the primary pair, the last two digits of the MRN)."""
    m = _DIGITS.fullmatch(text or "")
    if m is None:
        raise DeskError(f"terminal digits {text[:20]!r}: give a range of the last two digits, such as 00-19")
    return int(m.group(1)), int(m.group(2))


def _facts_of(patient_ids: list[int]) -> dict[int, dict]:
    """Per patient: documents, pages, first and last dates of service (documents and encounters)."""
    out: dict[int, dict] = {}

    def slot(pid: int) -> dict:
        return out.setdefault(pid, {"documents": 0, "pages": 0, "first": None, "last": None})

    def widen(s: dict, *days) -> None:
        for d in (_date(x) for x in days):
            if d is not None:
                s["first"] = d if s["first"] is None or d < s["first"] else s["first"]
                s["last"] = d if s["last"] is None or d > s["last"] else s["last"]

    for ids in _chunks(patient_ids):
        for pid, n, pages, first, last in (
                Document.select(Document.patient, peewee.fn.COUNT(Document.id), peewee.fn.SUM(Document.pages),
                                peewee.fn.MIN(Document.service_date), peewee.fn.MAX(Document.service_date))
                .where(Document.patient.in_(ids)).group_by(Document.patient).tuples()):
            s = slot(pid)
            s["documents"], s["pages"] = n, pages or 0
            widen(s, first, last)
        for pid, first, last in (
                Encounter.select(Encounter.patient, peewee.fn.MIN(Encounter.admit_at),
                                 peewee.fn.MAX(peewee.fn.COALESCE(Encounter.discharge_at, Encounter.admit_at)))
                .where(Encounter.patient.in_(ids)).group_by(Encounter.patient).tuples()):
            widen(slot(pid), first, last)
    return out


def _list_volumes(desk, batch: PurgeBatch, patients: list[Patient], known: dict[int, tuple[str, str]]) -> int:
    """Write the batch's rows for these patients' paper volumes not listed yet (inside the caller's transaction);
    `known` gives each patient's (MRN, display name). Returns how many were added."""
    ids = [p.id for p in patients]
    uuid_of = {p.id: p.uuid for p in patients}
    listed = {u for (u,) in PurgeVolume.select(PurgeVolume.volume_uuid).where(
        (PurgeVolume.batch == batch.id) & PurgeVolume.patient_uuid.in_(list(uuid_of.values()))).tuples()}
    added = []
    for chunk in _chunks(ids):
        rows = (ChartVolume.select(ChartVolume.patient, ChartVolume.uuid, ChartVolume.volume_no, ChartLocation.code)
                .join(ChartLocation, on=(ChartVolume.home == ChartLocation.id))
                .where(ChartVolume.patient.in_(chunk)).order_by(ChartVolume.patient, ChartVolume.volume_no))
        for pid, vuid, number, home in rows.tuples():
            if vuid in listed:
                continue
            mrn, name = known[pid]
            try:
                address = shelf.address(mrn, desk.config.filing.order)
            except DeskError:
                address = "(no numeric MRN)"
            row = PurgeVolume(batch=batch.id, patient_uuid=uuid_of[pid], volume_uuid=vuid, volume_no=number)
            row.label_enc = crypto.seal(desk.desk_key, "purge_volume", "label", row.uuid, json.dumps(
                {"mrn": mrn, "name": name, "shelf": address, "home": home}))
            added.append(row)
    for row in added:
        row.save(force_insert=True)
    if added:
        seals.reseal(desk, PurgeVolume, PurgeVolume.uuid.in_([r.uuid for r in added]))
    return len(added)


def _in_open_batches(patient_uuids: list[str]) -> dict[str, str]:
    """Patients (uuids) still pending in an open batch -> that batch's number."""
    out: dict[str, str] = {}
    for chunk in _chunks(patient_uuids):
        for uid, number in (PurgeItem.select(PurgeItem.patient_uuid, PurgeBatch.number).join(PurgeBatch)
                            .where(PurgeItem.patient_uuid.in_(chunk) & (PurgeItem.outcome == "pending")
                                   & PurgeBatch.status.in_(OPEN)).tuples()):
            out[uid] = number
    return out


def prepare(desk, actor, *, as_of: datetime.date, mrns: list[str] | None = None,
            terminal_digits: tuple[int, int] | None = None, limit: int | None = None) -> BatchView:
    """A new batch of the charts eligible for destruction on `as_of` (not after today): all of them, or those of
    `mrns` (each must be eligible), or those whose terminal digits (the MRN's last two) fall in the range; at most
    `limit`, the longest overdue first. Clerks and managers; audited with every patient it names."""
    actor.require(*CHANGERS)
    today = clock.today()
    if as_of > today:
        raise DeskError(f"a batch destroys records now: its as-of date cannot be after today ({today.isoformat()}); "
                        "`recdesk retention candidates --as-of` looks ahead")
    if terminal_digits is not None:
        low, high = terminal_digits
        if not (0 <= low <= high <= 99):
            raise DeskError(f"terminal digits {low:02}-{high:02}: give a range from 00 to 99, low first (00-19)")
    if limit is not None and not 1 <= limit <= MAX_BATCH:
        raise DeskError(f"a batch's size limit is from 1 to {MAX_BATCH:,} patients")
    if mrns and len(mrns) > MAX_BATCH:
        raise DeskError(f"a batch names at most {MAX_BATCH:,} MRNs: prepare several batches")
    named = list(dict.fromkeys(m.strip() for m in mrns)) if mrns else None
    found = worklist.candidates(desk, actor, as_of=as_of, include_blocked=named is not None, mrns=named)
    if named is not None:
        for mrn in named:
            if not any(same_mrn(c.mrn, mrn) for c in found):
                raise DeskError(f"MRN {mrn} is not past its retention period on {as_of.isoformat()}: it cannot be "
                                "purged yet")
        blocked = next((c for c in found if not c.eligible), None)
        if blocked is not None:
            b = blocked.blocked_by[0]
            raise DeskError(f"MRN {blocked.mrn} is not eligible: {b.code} {b.words}")
    chosen = found
    if terminal_digits is not None:
        low, high = terminal_digits
        chosen = [c for c in chosen if _terminal(c.mrn) is not None and low <= _terminal(c.mrn) <= high]
    busy = _in_open_batches([c.patient_uuid for c in chosen])
    if named is not None and busy:
        c = next(c for c in chosen if c.patient_uuid in busy)
        raise DeskError(f"MRN {c.mrn} is in purge batch {busy[c.patient_uuid]} already: cancel that one or leave "
                        "it out")
    chosen = [c for c in chosen if c.patient_uuid not in busy]
    if limit is not None:
        chosen = chosen[:limit]
    if not chosen:
        raise DeskError(f"no chart is eligible for destruction on {as_of.isoformat()} with that selection"
                        + (f" ({len(busy)} are in open batches already)" if busy else "")
                        + ": see `recdesk retention candidates --all`")
    rules = schedule.site_rules(desk.config)
    to_archive = any(schedule.archive_first(rules, c.rule, desk.config.retention.archive) for c in chosen)
    patients = {p.uuid: p for chunk in _chunks([c.patient_uuid for c in chosen])
                for p in Patient.select().where(Patient.uuid.in_(chunk))}
    facts = _facts_of([p.id for p in patients.values()])
    said = [f"as of {as_of.isoformat()}"]
    if named is not None:
        said.append(f"{len(named)} MRN(s) named")
    if terminal_digits is not None:
        said.append(f"terminal digits {terminal_digits[0]:02}-{terminal_digits[1]:02}")
    if limit is not None:
        said.append(f"limit {limit}")
    for attempt in range(3):
        try:
            with desk.write():
                batch = PurgeBatch(status="prepared", created_by=actor.user_id, number=_next_number(today),
                                   as_of=as_of, selection=", ".join(said), archive_required=to_archive)
                batch.save(force_insert=True)
                items = []
                for c in chosen:
                    row = patients[c.patient_uuid]
                    f = facts.get(row.id, {"documents": 0, "pages": 0, "first": None, "last": None})
                    items.append({"batch": batch.id, "patient": row.id, "patient_uuid": row.uuid,
                                  "last_encounter_on": c.last_encounter, "retain_until": c.retain_until,
                                  "eligible_on": c.retain_until + datetime.timedelta(days=1), "rule": c.rule,
                                  "documents": f["documents"], "pages": f["pages"], "first_service": f["first"],
                                  "last_service": f["last"], "outcome": "pending"})
                for chunk in _chunks(items, 200):
                    PurgeItem.insert_many(chunk).execute()
                known = {patients[c.patient_uuid].id: (c.mrn, f"{c.last.upper()}, {c.first}") for c in chosen}
                _list_volumes(desk, batch, list(patients.values()), known)
                _count_volumes(batch)
                seals.reseal(desk, PurgeItem, PurgeItem.batch == batch.id)
                _reseal(desk, batch)
                audit.append(desk, actor, "purge.prepare", object=f"purge:{batch.uuid}", details={
                    "number": batch.number, "selection": batch.selection, "archive": to_archive,
                    "patients": [c.patient_uuid for c in chosen]})
            break
        except peewee.IntegrityError:
            if attempt == 2:  # another session took the same number three times running
                raise DeskError("another batch was being prepared at the same moment: prepare this one "
                                "again") from None
    return view(batch)


def same_mrn(a: str, b: str) -> bool:
    """The same chart number, leading zeros aside."""
    return mrn_key(a) == mrn_key(b)


def _terminal(mrn: str) -> int | None:
    try:
        return shelf.terminal_digit_key(mrn)[0]
    except DeskError:
        return None


def _count_volumes(batch: PurgeBatch) -> None:
    """Each item's paper volume count from the batch's volume list (inside the caller's transaction)."""
    counts = dict(PurgeVolume.select(PurgeVolume.patient_uuid, peewee.fn.COUNT(PurgeVolume.id))
                  .where(PurgeVolume.batch == batch.id).group_by(PurgeVolume.patient_uuid).tuples())
    for uid, n in counts.items():
        PurgeItem.update(volumes=n).where((PurgeItem.batch == batch.id) & (PurgeItem.patient_uuid == uid)).execute()


# --- approve ----------------------------------------------------------------------------------------------------------


def _blocked_words(stops: list[worklist.Blocker]) -> str:
    return "; ".join(f"{b.code} {b.words}" for b in stops)


def _skip(desk, batch: PurgeBatch, item: PurgeItem, why: str) -> None:
    """Take a patient out of the batch with the reason (inside the caller's transaction); their volumes leave the
    paper list."""
    PurgeItem.update(outcome="skipped", decided_at=now(), why_enc=crypto.seal(
        desk.desk_key, "purge_item", "why", f"{batch.uuid}:{item.patient_uuid}", why)).where(
        (PurgeItem.id == item.id) & (PurgeItem.outcome == "pending")).execute()
    seals.reseal(desk, PurgeItem, PurgeItem.id == item.id)
    PurgeVolume.delete().where((PurgeVolume.batch == batch.id) & (PurgeVolume.patient_uuid == item.patient_uuid)
                               & (PurgeVolume.status == "pending")).execute()


def _pending(batch: PurgeBatch) -> list[PurgeItem]:
    return list(PurgeItem.select().where((PurgeItem.batch == batch.id) & (PurgeItem.outcome == "pending"))
                .order_by(PurgeItem.id))


def approve(desk, actor, batch_id: str) -> BatchView:
    """Approve a prepared batch: a manager who did not prepare it (the two-person rule). Every patient is checked
    again; one now blocked (a hold, a request, a deficiency ...) is taken out with the reason."""
    actor.require(*MANAGERS)
    batch = _checked(desk, batch_id)
    if batch.status != "prepared":
        raise DeskError(f"batch {batch.number} is {batch.status.replace('_', ' ')}, not prepared: nothing to approve")
    if batch.created_by_id == actor.user_id:
        raise AccessDenied(f"two-person rule: {actor.user_name} prepared batch {batch.number}; another manager "
                           "approves it", actor=actor, attempted="retention.batches.approve_own", needs=MANAGERS)
    today = clock.today()
    items = _pending(batch)
    kept = {}
    for item in items:
        try:
            stops = worklist.blockers(desk, item.patient_uuid, as_of=today)
        except DeskError as exc:  # merged or destroyed since it was prepared
            kept[item.id] = f"at approval: {exc}"
            continue
        if stops:
            kept[item.id] = f"at approval: {_blocked_words(stops)}"
    if len(kept) == len(items):
        raise DeskError(f"no patient of batch {batch.number} may be destroyed now (each is blocked): cancel it")
    with desk.write():
        for item in items:
            if item.id in kept:
                _skip(desk, batch, item, kept[item.id])
        _count_volumes(batch)
        _set_status(desk, batch, "approved", ("prepared",), approved_by=actor.user_id, approved_at=now())
        audit.append(desk, actor, "purge.approve", object=f"purge:{batch.uuid}", details={
            "number": batch.number, "excluded": [i.patient_uuid for i in items if i.id in kept]})
    return view(batch)


# --- archive ----------------------------------------------------------------------------------------------------------


def archive_key_path(desk, key_file: str | Path | None = None) -> Path:
    """The archive key file: the one named, else [retention] archive_key_file (relative to the home)."""
    named = str(key_file) if key_file else desk.config.retention.archive_key_file
    if not named:
        raise DeskError("no archive key: set [retention] archive_key_file in config.toml (a key made with "
                        "`recdesk purge archive-key FILE`, kept apart from the master key) or give --key-file")
    path = Path(named).expanduser()
    return path if path.is_absolute() else desk.config.home / path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _contents(patient_uuids: list[str]) -> dict[str, str]:
    """A digest per patient of what their archive holds: each document (uuid and SHA-256), each encounter and the
    demographics' last change. Recorded when the batch is archived, compared before each patient is destroyed: a
    chart that changed since (a document filed, a stay added) is never destroyed unarchived."""
    rows = {p.id: p for p in Patient.select(Patient.id, Patient.uuid, Patient.updated_at)
            .where(Patient.uuid.in_(patient_uuids))}
    parts: dict[int, dict] = {pid: {"docs": [], "stays": [], "changed": str(p.updated_at)} for pid, p in rows.items()}
    for d in Document.select(Document.patient, Document.uuid, Document.sha256).where(Document.patient.in_(list(rows))):
        parts[d.patient_id]["docs"].append([d.uuid, d.sha256])
    for e in Encounter.select(Encounter.patient, Encounter.uuid).where(Encounter.patient.in_(list(rows))):
        parts[e.patient_id]["stays"].append(e.uuid)
    return {rows[pid].uuid: hashlib.sha256(json.dumps({k: sorted(v) if isinstance(v, list) else v
                                                        for k, v in part.items()}).encode()).hexdigest()
            for pid, part in parts.items()}


def _archived_contents(desk, batch: PurgeBatch) -> dict[str, str]:
    """The per-patient digests recorded by the batch's archive (its purge.archive event, whose hash must check)."""
    event = (AuditEvent.select().where((AuditEvent.action == "purge.archive")
                                       & (AuditEvent.object == f"purge:{batch.uuid}"))
             .order_by(AuditEvent.seq.desc()).first())
    if event is None or not audit.authentic(desk, event):
        raise TamperError(f"batch {batch.number} is archived but its archive record is missing or altered: "
                          "run `recdesk doctor`")
    return (audit.details(desk, event) or {}).get("contents") or {}


def archive(desk, actor, batch_id: str, *, path: str | Path | None = None, key_file: str | Path | None = None,
            progress: Callable[[int, int, str], None] | None = None) -> BatchView:
    """Write the approved batch's archive (each patient's documents as PDFs, demographics and encounters as JSON,
    AES-256-GCM under the site's archive key), then decrypt it whole and check every document's SHA-256; only a
    verified archive moves the batch to archived. Managers."""
    actor.require(*MANAGERS)
    batch = _checked(desk, batch_id)
    if batch.status != "approved":
        raise DeskError(f"batch {batch.number} is {batch.status.replace('_', ' ')}: an archive is written for an "
                        "approved batch, before its run")
    key = archiving.read_key_file(desk, archive_key_path(desk, key_file))
    uuids = [i.patient_uuid for i in _pending(batch)]
    target = Path(path).expanduser() if path else desk.config.home / "archives" / f"{batch.number}.rda"
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if progress:
        progress(0, len(uuids), "")
    contents = _contents(uuids)
    written = archiving.write_archive(desk, actor, uuids, target, archive_key=key)
    if _contents(uuids) != contents:  # a chart changed while it was written: the archive may not hold it all
        target.unlink(missing_ok=True)
        raise DeskError(f"a chart of batch {batch.number} changed while it was archived: archive it again")
    try:
        checked = archiving.verify_archive(target, key)
    except DeskError:
        target.unlink(missing_ok=True)  # an archive that does not verify is no archive: write it again
        raise
    if checked.sha256 != written.sha256 or sorted(checked.patients) != sorted(uuids):
        target.unlink(missing_ok=True)
        raise TamperError(f"the archive of batch {batch.number} did not read back as written: write it again")
    with desk.write():
        _set_status(desk, batch, "archived", ("approved",), archive_path=str(target.resolve()),
                    archive_sha256=written.sha256, archived_at=now(), archived_by=actor.user_id)
        audit.append(desk, actor, "purge.archive", object=f"purge:{batch.uuid}", details={
            "number": batch.number, "sha256": written.sha256, "documents": written.documents, "patients": uuids,
            "contents": contents})
    if progress:
        progress(len(uuids), len(uuids), "")
    return view(batch)


def verify_file(desk, actor, path: str | Path, *, key_file: str | Path | None = None) -> archiving.ArchiveSummary:
    """Decrypt an archive whole and check every document's SHA-256 (`recdesk purge archive-verify`); audited."""
    actor.require(*CHANGERS, "supervisor")
    key = archiving.read_key_file(desk, archive_key_path(desk, key_file))
    summary = archiving.verify_archive(Path(path), key)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "purge.archive_verify", object="archive", details={
            "sha256": summary.sha256, "documents": summary.documents, "patients": list(summary.patients)})
    return summary


def _archive_still_verified(batch: PurgeBatch) -> None:
    """The archive on file is the one that verified (its SHA-256 as recorded): else no destruction starts."""
    path = Path(batch.archive_path)
    if not path.is_file():
        raise DeskError(f"the archive of batch {batch.number} is not at {path} any more: restore it there before "
                        "the run (nothing was destroyed)")
    if _sha256(path) != batch.archive_sha256:
        raise TamperError(f"the archive of batch {batch.number} ({path}) changed since it verified: nothing was "
                          "destroyed; restore the archive, or cancel the batch and prepare it again")


# --- run --------------------------------------------------------------------------------------------------------------


def run(desk, actor, batch_id: str, *, progress: Callable[[int, int, str], None] | None = None,
        witness: str = "") -> BatchView:
    """Destroy the batch's patients by cryptographic erase, one transaction each, checking each again inside its
    own transaction (a hold placed or a request logged since the approval keeps them out). Killed at any moment,
    running it again finishes the batch. When every patient is decided the batch is destroyed and its certificate
    issued. Managers. `progress(done, total, mrn)` after each patient."""
    actor.require(*MANAGERS)
    batch = _checked(desk, batch_id)
    if batch.status in ("destroyed", "paper_confirmed"):
        return view(batch)
    if batch.status == "prepared":
        raise DeskError(f"batch {batch.number} is not approved yet: a manager who did not prepare it approves it")
    if batch.status == "cancelled":
        raise DeskError(f"batch {batch.number} was cancelled: prepare a new one")
    if batch.archive_required and batch.status != "archived":
        raise DeskError(f"batch {batch.number} must be archived first (its schedule says archive before "
                        f"destruction): `recdesk purge archive {batch.number}`")
    if batch.status == "archived":
        _archive_still_verified(batch)
    witness = (witness or "").strip()
    if witness:
        witness = _line(witness, "the witness's name", TEXT_LIMIT)
    if batch.run_by_id is None or (witness and witness != batch.witness):
        with desk.write():
            PurgeBatch.update(run_by=batch.run_by_id or actor.user_id, witness=witness or batch.witness).where(
                PurgeBatch.id == batch.id).execute()
            _reseal(desk, batch)
        batch = PurgeBatch.get_by_id(batch.id)
    items = list(PurgeItem.select().where((PurgeItem.batch == batch.id) & (PurgeItem.outcome != "skipped"))
                 .order_by(PurgeItem.id))
    total = len(items)
    done = sum(i.outcome == "destroyed" for i in items)
    if progress:
        progress(done, total, "")
    for item in items:
        if item.outcome != "pending":
            continue
        mrn = _shred_one(desk, actor, batch, item)
        done = PurgeItem.select().where((PurgeItem.batch == batch.id) & (PurgeItem.outcome == "destroyed")).count()
        total = PurgeItem.select().where((PurgeItem.batch == batch.id) & (PurgeItem.outcome != "skipped")).count()
        if progress:
            progress(done, total, mrn)
    with desk.write():
        if PurgeItem.select().where((PurgeItem.batch == batch.id) & (PurgeItem.outcome == "pending")).exists():
            raise DeskError(f"batch {batch.number} still has patients to destroy: run it again")
        fresh = PurgeBatch.get_by_id(batch.id)
        if fresh.status not in ("destroyed", "paper_confirmed"):
            _count_volumes(batch)
            _set_status(desk, batch, "destroyed", ("approved", "archived"), executed_at=now())
            _issue_certificate(desk, actor, PurgeBatch.get_by_id(batch.id))
            audit.append(desk, actor, "purge.run", object=f"purge:{batch.uuid}", details={
                "number": batch.number, "destroyed": done, "witness": fresh.witness})
    return view(batch)


def _shred_one(desk, actor, batch: PurgeBatch, item: PurgeItem) -> str:
    """Destroy one patient of the batch, or take them out with the reason; returns their MRN (for progress)."""
    entry = register.entry_of(desk, item.patient_uuid)
    if entry is not None:  # destroyed already: by this batch's killed run (then recorded), or by another batch
        with desk.write():
            if entry.batch_uuid == batch.uuid:
                _mark_destroyed(desk, item, entry)
            else:
                _skip(desk, batch, item, f"at execution: destroyed already by batch {entry.certificate_no}")
        return entry.mrn
    patient = Patient.get_or_none(Patient.uuid == item.patient_uuid)
    mrn = decrypt(desk, patient).mrn if patient is not None and patient.dek_wrapped is not None else ""

    def before() -> None:
        try:
            stops = worklist.blockers(desk, item.patient_uuid, as_of=clock.today())
        except DeskError as exc:
            raise _Kept(f"at execution: {exc}") from None
        if stops:
            raise _Kept(f"at execution: {_blocked_words(stops)}")
        if batch.archive_required and _contents([item.patient_uuid]) != {
                item.patient_uuid: _archived_contents(desk, batch).get(item.patient_uuid)}:
            raise _Kept("at execution: the chart changed after the batch was archived (a document, a stay or the "
                        "demographics): it is not destroyed unarchived; put it in a new batch")
        # What the paper step needs after the ChartVolume rows go, in the destruction's own transaction.
        p = decrypt(desk, patient)
        _list_volumes(desk, batch, [patient], {patient.id: (p.mrn, p.display_name)})

    def after(destroyed: Destroyed) -> None:
        _mark_destroyed(desk, item, destroyed)

    try:
        shredding.shred(desk, actor, item.patient_uuid, batch_uuid=batch.uuid, certificate_no=batch.number,
                        before=before, after=after)
    except _Kept as kept:
        with desk.write():
            _skip(desk, batch, item, str(kept))
            audit.append(desk, actor, "purge.exclude", object=f"purge:{batch.uuid}", patient=item.patient_uuid,
                         details={"number": batch.number, "why": str(kept)})
        return mrn
    entry = register.entry_of(desk, item.patient_uuid)
    if entry is not None and PurgeItem.get_by_id(item.id).outcome == "pending":  # another session destroyed it
        with desk.write():
            if entry.batch_uuid == batch.uuid:
                _mark_destroyed(desk, item, entry)
            else:
                _skip(desk, batch, item, f"at execution: destroyed already by batch {entry.certificate_no}")
    return mrn


def _mark_destroyed(desk, item: PurgeItem, entry: Destroyed) -> None:
    PurgeItem.update(outcome="destroyed", decided_at=now(), documents=entry.documents, pages=entry.pages,
                     volumes=entry.volumes, first_service=entry.first_service, last_service=entry.last_service).where(
        (PurgeItem.id == item.id) & (PurgeItem.outcome == "pending")).execute()
    seals.reseal(desk, PurgeItem, PurgeItem.id == item.id)


# --- cancel -----------------------------------------------------------------------------------------------------------


def cancel(desk, actor, batch_id: str, *, reason: str) -> BatchView:
    """Cancel a batch before its run starts, with the reason: its preparer while it is prepared, or a manager
    until the run. A batch whose run has destroyed anyone is finished, never cancelled (nothing half-done)."""
    actor.require(*CHANGERS)
    reason = _line(reason, "a reason to cancel it", REASON_LIMIT)
    batch = _checked(desk, batch_id)
    if batch.status not in OPEN:
        raise DeskError(f"batch {batch.number} is {batch.status.replace('_', ' ')}: only a batch not yet run can be "
                        "cancelled")
    if actor.role not in MANAGERS and (batch.status != "prepared" or batch.created_by_id != actor.user_id):
        raise AccessDenied(f"{actor.user_name} is a {actor.role}; cancelling this batch needs its preparer (while "
                           "it is prepared) or a manager", actor=actor, attempted="retention.batches.cancel",
                           needs=MANAGERS)
    if PurgeItem.select().where((PurgeItem.batch == batch.id) & (PurgeItem.outcome == "destroyed")).exists():
        raise DeskError(f"batch {batch.number} has destroyed records already: finish it with `recdesk purge run "
                        f"{batch.number}`")
    with desk.write():
        _set_status(desk, batch, "cancelled", OPEN, cancelled_at=now(), cancelled_by=actor.user_id,
                    cancel_reason_enc=crypto.seal(desk.desk_key, "purge_batch", "cancel_reason", batch.uuid, reason))
        PurgeVolume.delete().where(PurgeVolume.batch == batch.id).execute()
        audit.append(desk, actor, "purge.cancel", object=f"purge:{batch.uuid}",
                     details={"number": batch.number, "reason": reason})
    return view(batch)


# --- paper ------------------------------------------------------------------------------------------------------------


def _label(desk, row: PurgeVolume) -> dict:
    text = crypto.open_text(desk.desk_key, "purge_volume", "label", row.uuid, row.label_enc)
    if text is None:
        raise TamperError(f"paper volume {row.uuid} of a purge batch has no label: restore it from a backup")
    return json.loads(text)


def _paper(desk, row: PurgeVolume, names: dict[int, str]) -> PaperVolume:
    label = _label(desk, row)
    return PaperVolume(volume_uuid=row.volume_uuid, mrn=label["mrn"], name=label["name"], volume_no=row.volume_no,
                       shelf=label["shelf"] if row.volume_no == 1 else f"{label['shelf']} vol {row.volume_no}",
                       status=row.status, home=label.get("home", ""),
                       by=names.get(row.by_user_id, "") if row.by_user_id else "", witness=row.witness, at=row.at,
                       note=crypto.open_text(desk.desk_key, "purge_volume", "note", row.uuid, row.note_enc) or "")


def _volumes(desk, batch: PurgeBatch) -> list[tuple[PurgeVolume, PaperVolume]]:
    names = _names()
    rows = [(r, _paper(desk, r, names)) for r in PurgeVolume.select().where(PurgeVolume.batch == batch.id)]
    rows.sort(key=lambda pair: (_order_key(desk, pair[1].mrn), pair[1].volume_no))
    return rows


def paper_list(desk, actor, batch_id: str) -> list[PaperVolume]:
    """The batch's paper volumes as a destruction pull list, in the site's filing order (terminal digit by
    default); audited."""
    actor.require(*CHANGERS, "supervisor")
    batch = _checked(desk, batch_id)
    out = [v for _, v in _volumes(desk, batch)]
    with desk.audit_db.atomic():
        audit.append(desk, actor, "purge.paper", object=f"purge:{batch.uuid}",
                     details={"number": batch.number, "volumes": [v.volume_uuid for v in out]})
    return out


_VOLUME_NO = re.compile(r"^(.*?)\s*(?:vol(?:ume)?\.?\s*|/)(\d{1,3})$", re.IGNORECASE)


def _find_volume(desk, batch: PurgeBatch, typed: str) -> tuple[PurgeVolume, PaperVolume]:
    """A volume of the batch by its uuid (8+ characters), or by what a wand scanned or a clerk typed: the MRN
    ('*MRN72248*', '0072248'), optionally with its volume ('72248 vol 2'); the first volume not yet decided."""
    text = (typed or "").strip()
    rows = _volumes(desk, batch)
    low = text.lower()
    if len(low) >= SHORT and all(c in "0123456789abcdef" for c in low) and not low.isdigit():
        hits = [pair for pair in rows if pair[0].volume_uuid.startswith(low)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise DeskError(f"volume id {low} fits more than one volume: type more of it")
    number = None
    m = _VOLUME_NO.match(text)
    if m:
        text, number = m.group(1), int(m.group(2))
    mrn = shelf.read_wand(text)
    if mrn is None:
        raise DeskError(f"{text[:20]!r} is not a volume of batch {batch.number}: scan the chart label again or "
                        "type its MRN (and `vol N`)")
    hits = [pair for pair in rows if same_mrn(pair[1].mrn, mrn) and (number is None or
                                                                               pair[1].volume_no == number)]
    if not hits:
        raise DeskError(f"MRN {mrn}{f' volume {number}' if number else ''} has no paper volume in batch "
                        f"{batch.number}: check the label (see `recdesk purge paper {batch.number}`)")
    pending = [pair for pair in hits if pair[0].status == "pending"]
    return (pending or hits)[0]


def _decide_volume(desk, actor, batch_id: str, volume: str, status: str, *, witness: str = "",
                   note: str = "") -> PaperVolume:
    actor.require(*CHANGERS)
    batch = _checked(desk, batch_id)
    if batch.status == "paper_confirmed":
        raise DeskError(f"every paper volume of batch {batch.number} is confirmed or reported already")
    if batch.status != "destroyed":
        raise DeskError(f"batch {batch.number} is {batch.status.replace('_', ' ')}: paper volumes are shredded after "
                        "the electronic records are destroyed (`recdesk purge run`), never before")
    row, shown = _find_volume(desk, batch, volume)
    if row.status != "pending":
        said = "confirmed shredded" if row.status == "shredded" else "reported not found"
        raise DeskError(f"MRN {shown.mrn} volume {row.volume_no} was {said} already by {shown.by} "
                        f"on {shown.at:%Y-%m-%d}")
    values: dict = {"status": status, "by_user": actor.user_id, "at": now()}
    if status == "shredded":
        witness = _line(witness, "the witness's name (who saw it shredded)", TEXT_LIMIT)
        full = User.get_by_id(actor.user_id).full_name
        if witness.casefold() in {actor.user_name.casefold(), full.casefold()}:
            raise DeskError("the witness is someone other than the person who shreds the volume")
        values["witness"] = witness
    if note:
        values["note_enc"] = crypto.seal(desk.desk_key, "purge_volume", "note", row.uuid,
                                         _line(note, "the note", REASON_LIMIT))
    with desk.write():
        changed = PurgeVolume.update(**values).where((PurgeVolume.id == row.id)
                                                     & (PurgeVolume.status == "pending")).execute()
        if changed != 1:
            raise DeskError("someone recorded this volume just now: look at the list again")
        seals.reseal(desk, PurgeVolume, PurgeVolume.id == row.id)
        audit.append(desk, actor, "purge.paper_shredded" if status == "shredded" else "purge.paper_not_found",
                     object=f"purge_volume:{row.uuid}", patient=row.patient_uuid,
                     details={"number": batch.number, "volume": row.volume_no, "witness": values.get("witness", ""),
                              "note": note})
        if not PurgeVolume.select().where((PurgeVolume.batch == batch.id)
                                          & (PurgeVolume.status == "pending")).exists():
            _set_status(desk, batch, "paper_confirmed", ("destroyed",), paper_confirmed_at=now())
            _issue_certificate(desk, actor, PurgeBatch.get_by_id(batch.id))
    return _paper(desk, PurgeVolume.get_by_id(row.id), _names())


def confirm_shredded(desk, actor, batch_id: str, volume: str, *, witness: str) -> PaperVolume:
    """Record that a paper volume of a destroyed batch was shredded, by the acting user before a witness."""
    return _decide_volume(desk, actor, batch_id, volume, "shredded", witness=witness)


def not_found(desk, actor, batch_id: str, volume: str, *, note: str = "") -> PaperVolume:
    """Report a paper volume of a destroyed batch that could not be found to be shredded (the certificate lists it)."""
    return _decide_volume(desk, actor, batch_id, volume, "not_found", note=note)


# --- the certificate --------------------------------------------------------------------------------------------------


def _location(desk) -> str:
    url = desk.config.effective_database_url
    if url:
        parts = urlsplit(url)
        where = f"PostgreSQL database {parts.hostname or 'localhost'}{parts.path or ''}"  # never the credentials
    else:
        where = f"SQLCipher database {desk.config.sqlite_path}"
    return f"desk host {socket.gethostname()}: {where}; document store {desk.config.store_path}"


def _schedule_text(desk, codes: list[str]) -> str:
    rules = {r.code: r for r in schedule.site_rules(desk.config)}
    out = []
    for code in dict.fromkeys(codes):
        rule = rules.get(code)
        out.append(f"{code} ({rule.description}; {rule.basis})" if rule and rule.description
                   else f"{code} ({rule.basis})" if rule else code)
    return "; ".join(out) or "-"


def facts(desk, batch: PurgeBatch) -> cert.BatchFacts:
    """What the certificate of a batch says, gathered from its items, the register and its paper volumes."""
    records, excluded, codes, days = [], [], [], []
    for item in PurgeItem.select().where(PurgeItem.batch == batch.id).order_by(PurgeItem.id):
        if item.outcome == "destroyed":
            entry = register.entry_of(desk, item.patient_uuid)
            if entry is None:
                raise TamperError(f"batch {batch.number} says patient {item.patient_uuid} was destroyed, and the "
                                  "register has no entry: run `recdesk doctor`")
            records.append(cert.DestroyedRecord.of(entry))
            codes.append(item.rule)
            days.append(entry.destroyed_on)
        elif item.outcome == "skipped":
            excluded.append(cert.Excluded(_who(desk, item.patient_uuid)[0], _why(desk, batch, item)))
    records.sort(key=lambda r: _order_key(desk, r.mrn))
    volumes = [v for _, v in _volumes(desk, batch)]
    return cert.BatchFacts(
        certificate_no=batch.number, batch_uuid=batch.uuid, facility=desk.config.facility,
        destroyed_on=max(days) if days else clock.today(), description=DESCRIPTION,
        schedule=_schedule_text(desk, codes), records=tuple(records), destroyed_by=_person(batch.run_by_id),
        witness=batch.witness or "(not recorded)", approver=_person(batch.approved_by_id),
        paper_volumes=sum(v.status == "shredded" for v in volumes), excluded=tuple(excluded),
        volumes_not_found=tuple(cert.VolumeNotFound(v.mrn, v.volume_no, v.shelf, v.note)
                                for v in volumes if v.status == "not_found"),
        location=_location(desk))


def _pages(pdf: bytes) -> int:
    return max(1, len(re.findall(rb"/Type\s*/Page[^s]", pdf)))


def _issue_certificate(desk, actor, batch: PurgeBatch) -> Document:
    """Make the certificate as the batch now stands and file it as a desk document (no patient's: never purged);
    inside the caller's transaction, which points the batch at it. An earlier issue stays on file."""
    pdf = cert.certificate_pdf(facts(desk, batch))
    uid = new_uuid()
    stored = desk.store.put(desk.desk_key, uid, pdf)
    try:
        doc = Document.create(
            uuid=uid, patient=None, doc_type=CERTIFICATE_TYPE, service_date=clock.today(), pages=_pages(pdf),
            size=stored.size, sha256=stored.sha256, blob=stored.blob, source="generated", status="filed",
            qa_state="passed", filed_by=actor.user_id, filed_at=now(),
            title_enc=crypto.seal(desk.desk_key, "document", "title", uid,
                                  f"Certificate of destruction {batch.number}"))
        seals.reseal(desk, Document, Document.id == doc.id)
        PurgeBatch.update(certificate=doc.id).where(PurgeBatch.id == batch.id).execute()
        _reseal(desk, batch)
        audit.append(desk, actor, "purge.certificate_issue", object=f"document:{uid}",
                     details={"number": batch.number, "batch": batch.uuid, "status": batch.status})
    except BaseException:
        desk.store.delete(stored.blob)
        raise
    return doc


def certificate(desk, actor, batch_id: str) -> bytes:
    """The batch's certificate of destruction (PDF) as last issued; the view is audited."""
    actor.require(*CHANGERS, "supervisor")
    batch = _checked(desk, batch_id)
    if batch.certificate_id is None:
        raise DeskError(f"batch {batch.number} has no certificate yet: it is issued when the batch is destroyed "
                        f"(`recdesk purge run {batch.number}`)")
    doc = Document.get_by_id(batch.certificate_id)
    seals.check(desk, doc)
    data = desk.store.read(desk.desk_key, doc.uuid, doc.blob, doc.sha256)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "purge.certificate", object=f"document:{doc.uuid}",
                     details={"number": batch.number})
    return data
