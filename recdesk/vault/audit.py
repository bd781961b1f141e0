"""The audit chain: every view and change of PHI appends an event whose hash chains over the one before.

Whose key an event's details are sealed under. An event about a patient (its `patient` set, the patient on the
desk with a data key) has its details sealed under that patient's audit key: an HKDF sub-key of the patient's DEK
(`patient_key`, its own info label, so it is never the DEK itself and no ciphertext under the one opens under the
other). Crypto-shredding the patient deletes the wrapped DEK, and with it the only way to that key: the purposes,
break-glass reasons, notes and descriptions typed about them become unreadable, while the event itself (who, when,
what action on which object, about which patient uuid) stays in the chain, which covers the sealed bytes and so
still verifies. Deriving the key, rather than wrapping a second random one in a new column, keeps it alive exactly
as long as the DEK with nothing more for a shred to delete, and any desk that can unwrap the DEK can read it: a
supervisor's read-only desk too. A desk finds and derives each patient's key once and keeps it beside the DEK
(desk.audit_keys), so an append does no look-up or unwrap for a patient it has seen; like the DEK, a key cached by a
session stays in that session's memory until it ends, even if another session shreds the patient meanwhile.

Every other event (no patient, or a patient already destroyed, such as the shred's own record) is sealed under the
desk-wide audit key, as every event was before per-patient keys. Which key a blob is under is its first byte, which
the chain covers: PATIENT_SEALED, then a crypto.seal blob under the patient's key bound to the event's seq and
patient; anything else is a crypto.seal blob under the desk key (its version byte, 1). Events written before
per-patient keys are all of that second kind and read as they always did: their bytes are chained, so they cannot
be sealed again.

Search events keep their typed query under the desk key on purpose: a search is about no patient (it may find
none, or several), and misuse review needs what was typed. A query that named a purged patient stays readable to
the desk; what it found is a list of patient uuids that open nothing any more.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recdesk.errors import AccessDenied, DeskError
from recdesk.roles import MANAGERS
from recdesk.vault import crypto
from recdesk.vault.db import bulk_insert
from recdesk.vault.models import AuditEvent, AuditHead, AuditStray, now

GENESIS = "0" * 64
WATERMARK_NAME = "audit-head"
PATIENT_SEALED = ord("p")  # first byte of details sealed under the patient's audit key (desk-key blobs start with 1)
_PATIENT_KEY_INFO = b"recdesk/v1 audit-details|"


def patient_key(dek: bytes, patient_uuid: str) -> bytes:
    """The key a patient's audit details are sealed under: an HKDF sub-key of their data key, so it dies with it."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_PATIENT_KEY_INFO + patient_uuid.encode()).derive(dek)


def _seal_details(desk_key: bytes, patients_key: bytes | None, seq: int, patient: str, text: str) -> bytes:
    if patients_key is None:
        return crypto.seal(desk_key, "audit_event", "details", str(seq), text)
    return bytes([PATIENT_SEALED]) + crypto.seal(patients_key, "audit_event", "patient_details", f"{seq}|{patient}",
                                                 text)


def _digest(mac_key: bytes, prev_hash: str, ev: dict) -> str:
    details = ev["details_enc"]
    fields = [
        prev_hash, str(ev["seq"]), ev["at"].isoformat(), ev["user_name"], ev["session"], ev["action"],
        ev["object"], ev["patient"], bytes(details).hex() if details is not None else "",
    ]
    # Unit separators keep ("ab","c") and ("a","bc") apart.
    return hmac.new(mac_key, "\x1f".join(fields).encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Event:
    """What happened: an action on an object, about a patient (uuid) if any, with optional details."""

    action: str
    object: str = ""
    patient: str = ""
    details: dict | None = None


def append(desk, actor, action: str, *, object: str = "", patient: str = "", details: dict | None = None) -> int:
    """Write one chained event inside the caller's transaction (or its own for a read-only session)."""
    return append_many(desk, actor, [Event(action, object, patient, details)])


def refusal(desk, exc: AccessDenied) -> None:
    """Record a role refusal (who tried which action, with what role) in its own transaction.

    Called where refusals reach the person (the CLI, the desk's screens), not at each check."""
    if exc.actor is None:
        return
    with desk.audit_db.atomic():
        append(desk, exc.actor, "access.denied", object=f"action:{exc.attempted}",
               details={"role": exc.actor.role, "needs": list(exc.needs)})


def append_many(desk, actor, events: list[Event]) -> int:
    """Chain and write several events at once (bulk registrations); returns the last seq."""
    db = desk.audit_db
    data_key, mac_key = desk.master.sub("audit-data"), desk.master.sub("audit-mac")
    # Found before the head's lock is taken: one look-up for the patients this desk has not seen (it caches them).
    # A schema upgrade's own events are about no patient (its _Chain has no keys to give).
    about = [e.patient for e in events if e.patient and e.details is not None]
    keys = desk.audit_keys(about) if about else {}
    with db.atomic():
        query = AuditHead.select()
        if desk.is_postgres:
            query = query.for_update()  # the head row lock serialises appends across sessions
        head = query.execute(db)[0]
        _set_aside_strays(desk, db, head.seq)
        seq, at = head.seq, now()
        last = AuditEvent.select(AuditEvent.hash).where(AuditEvent.seq == seq).execute(db)
        prev = last[0].hash if seq else GENESIS
        rows = []
        for event in events:
            seq += 1
            payload = None
            if event.details is not None:
                text = json.dumps(event.details, sort_keys=True, default=str)
                payload = _seal_details(data_key, keys.get(event.patient), seq, event.patient, text)
            row = {
                "seq": seq, "at": at, "user_name": actor.user_name, "session": actor.session,
                "action": event.action, "object": event.object, "patient": event.patient, "details_enc": payload,
                "prev_hash": prev,
            }
            row["hash"] = prev = _digest(mac_key, prev, row)
            rows.append(row)
        bulk_insert(AuditEvent, rows, db)
        AuditHead.update(seq=seq, hash=_head_seal(mac_key, seq, prev)).execute(db)
    return seq


@dataclass(frozen=True)
class _Chain:
    """What append_many needs of a desk, where none is open yet (a schema upgrade)."""

    audit_db: object
    master: object
    is_postgres: bool
    readonly: bool = False


@dataclass(frozen=True)
class _System:
    user_name: str = "recdesk"
    session: str = "upgrade"


def append_system(db, master, action: str, object: str = "") -> int:
    """An event recdesk itself writes during a schema upgrade, in the upgrade's transaction."""
    import peewee

    chain = _Chain(db, master, isinstance(db, peewee.PostgresqlDatabase))
    return append_many(chain, _System(), [Event(action, object)])


def _set_aside_strays(desk, db, head_seq: int) -> None:
    """Events numbered past the sealed head cannot be appends in flight (we hold the head's lock): someone wrote
    them outside recdesk. They are moved to audit_stray, as found, so that the desk goes on working and doctor
    names them; left in place they would block every append on its seq."""
    strays = list(AuditEvent.select().where(AuditEvent.seq > head_seq).order_by(AuditEvent.seq).execute(db))
    if not strays:
        return
    if desk.readonly:
        raise AccessDenied(f"the audit trail holds {len(strays)} event(s) past its sealed head, written outside "
                           "recdesk: a clerk or manager session sets them aside; run `recdesk doctor`")
    AuditStray.insert_many([
        {"seq": e.seq, "at": str(e.at), "user_name": e.user_name, "action": e.action, "object": e.object,
         "patient": e.patient, "hash": e.hash} for e in strays
    ]).execute(db)
    AuditEvent.delete().where(AuditEvent.seq > head_seq).execute(db)


def strays(desk) -> tuple[int, int]:
    """(events past the sealed head now, events set aside earlier), for verify and doctor. Read under the
    head's lock on PostgreSQL, so an append in flight is never taken for a stray."""
    db = desk.audit_db
    with db.atomic():
        query = AuditHead.select()
        if desk.is_postgres:
            query = query.for_update()
        head = query.execute(db)[0]
        past = AuditEvent.select().where(AuditEvent.seq > head.seq).count(db)
    return past, AuditStray.select().count(db)


def _head_seal(mac_key: bytes, seq: int, last_hash: str) -> str:
    # The head is sealed with the key, not a copy of the last hash: cutting events off the end and
    # pointing the head at an earlier event (whose hash is in the table for anyone to read) is detected.
    return hmac.new(mac_key, f"head\x1f{seq}\x1f{last_hash}".encode(), hashlib.sha256).hexdigest()


def start_chain(db, mac_key: bytes) -> None:
    AuditHead.insert(seq=0, hash=_head_seal(mac_key, 0, GENESIS)).execute(db)


@dataclass(frozen=True)
class ChainReport:
    events: int
    broken_seq: int | None
    reason: str

    @property
    def intact(self) -> bool:
        return self.broken_seq is None


def verify(desk, batch: int = 5000) -> ChainReport:
    """Recompute the chain; the first event whose seq, link or hash is wrong is named."""
    report = walk(desk.master.sub("audit-mac"), batch)
    if not report.intact:
        return report
    count = report.events
    past, _ = strays(desk)
    if past:
        return ChainReport(count, count + 1, f"{past} event(s) numbered past the sealed head were written outside "
                           "recdesk (the next append sets them aside)")
    problem = rollback_problem(desk)
    if problem:
        return ChainReport(count, count + 1, problem)
    remember_head(desk)
    return report


def walk(mac_key: bytes, batch: int = 5000) -> ChainReport:
    """The chain itself, event by event up to the sealed head (also for an upgrade, which has no desk yet)."""
    # The head first: every event up to its seq was committed with it; later appends are not ours to judge.
    head = AuditHead.get()
    outside = AuditEvent.select(AuditEvent.seq).where(AuditEvent.seq < 1).order_by(AuditEvent.seq).first()
    if outside is not None:
        return ChainReport(0, outside.seq, "an event numbered outside the chain was inserted")
    prev_hash, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    fields = [AuditEvent.seq, AuditEvent.at, AuditEvent.user_name, AuditEvent.session, AuditEvent.action,
              AuditEvent.object, AuditEvent.patient, AuditEvent.details_enc, AuditEvent.prev_hash, AuditEvent.hash]
    while True:
        rows = list(
            AuditEvent.select(*fields).where((AuditEvent.seq > last_seq) & (AuditEvent.seq <= head.seq))
            .order_by(AuditEvent.seq).limit(batch).dicts()
        )
        if not rows:
            break
        for ev in rows:
            if ev["seq"] != expected_seq:
                return ChainReport(count, expected_seq, f"event {expected_seq} is missing (next is {ev['seq']})")
            if ev["prev_hash"] != prev_hash:
                return ChainReport(count, ev["seq"], "its link to the previous event is broken")
            if _digest(mac_key, prev_hash, ev) != ev["hash"]:
                return ChainReport(count, ev["seq"], "its contents do not match its hash (altered)")
            prev_hash, expected_seq, count = ev["hash"], expected_seq + 1, count + 1
        last_seq = rows[-1]["seq"]
    if head.seq != count:
        return ChainReport(count, count + 1, f"the chain ends at {count} but the head says {head.seq} "
                           "(events deleted from the end)")
    if not hmac.compare_digest(head.hash, _head_seal(mac_key, head.seq, prev_hash)):
        return ChainReport(count, count + 1, "the head does not seal the last event: events were cut off the end "
                           "and the head rewritten")
    return ChainReport(count, None, "intact")


def recorded(desk, action: str, object: str) -> bool:
    """Whether the trail holds an event of this action on this object (the action index finds it)."""
    return AuditEvent.select().where((AuditEvent.action == action) & (AuditEvent.object == object)).exists()


def authentic(desk, event: AuditEvent) -> bool:
    """Whether this one event is as recdesk wrote it (its hash recomputed under the audit key): an event that
    grants something (break-glass access) is trusted only then, without walking the whole chain."""
    row = {"seq": event.seq, "at": event.at, "user_name": event.user_name, "session": event.session,
           "action": event.action, "object": event.object, "patient": event.patient, "details_enc": event.details_enc}
    return hmac.compare_digest(_digest(desk.master.sub("audit-mac"), event.prev_hash, row), event.hash)


def details(desk, event: AuditEvent) -> dict | None:
    """The decrypted details of one event (for the review screen and exports); None when it has none, or when they
    were sealed under the key of a patient since destroyed (`destroyed` tells the two apart). Altered bytes raise
    TamperError, as before."""
    blob = event.details_enc
    if blob is None:
        return None
    blob = bytes(blob)
    if blob[:1] == bytes([PATIENT_SEALED]):
        key = desk.audit_key(event.patient)
        if key is None:
            return None
        text = crypto.open_text(key, "audit_event", "patient_details", f"{event.seq}|{event.patient}", blob[1:])
    else:
        text = crypto.open_text(desk.master.sub("audit-data"), "audit_event", "details", str(event.seq), blob)
    return json.loads(text) if text is not None else None


def destroyed(desk, event: AuditEvent) -> bool:
    """Whether this event's details went with its patient's key (a purge): the event stays, what it said does not."""
    blob = event.details_enc
    return blob is not None and bytes(blob)[:1] == bytes([PATIENT_SEALED]) and desk.audit_key(event.patient) is None


# --- the watermark: the head as this host last saw it, kept outside the database -----------------------------
# A database rolled back to an older copy carries a chain that verifies on its own; only something kept
# elsewhere can tell. Each desk home keeps the highest sealed head it has seen, MACed with the audit key.


def _watermark_path(desk) -> Path:
    return desk.config.home / WATERMARK_NAME


def _watermark_mac(desk, seq: int, last_hash: str) -> str:
    text = f"watermark\x1f{desk.config.desk_id}\x1f{seq}\x1f{last_hash}"
    return hmac.new(desk.master.sub("audit-mac"), text.encode(), hashlib.sha256).hexdigest()


def _read_watermark(desk) -> dict | None:
    try:
        data = json.loads(_watermark_path(desk).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"unreadable": True}
    if not isinstance(data, dict) or not isinstance(data.get("seq"), int) or not isinstance(data.get("hash"), str):
        return {"unreadable": True}
    return data


def _last(desk) -> tuple[int, str]:
    head = AuditHead.select().execute(desk.audit_db)[0]
    row = AuditEvent.select(AuditEvent.hash).where(AuditEvent.seq == head.seq).execute(desk.audit_db)
    return head.seq, (row[0].hash if head.seq and row else GENESIS)


def remember_head(desk, *, force: bool = False) -> None:
    """Record the current head in the home, if it is newer than the one recorded (or `force`: a restore
    accepted on purpose). Best effort: a home that cannot be written must not stop a sign-off."""
    try:
        path = _watermark_path(desk)
        with open(path.with_name(WATERMARK_NAME + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two sessions ending at once never write an older head last
            seq, last_hash = _last(desk)
            known = _read_watermark(desk)
            if not force and known and not known.get("unreadable") and known["seq"] >= seq:
                return
            if not force and rollback_problem(desk):
                return  # the evidence stays until a manager accepts the restore
            tmp = path.with_name(f".{WATERMARK_NAME}.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"seq": seq, "hash": last_hash, "mac": _watermark_mac(desk, seq, last_hash)}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
    except OSError:
        return


def rollback_problem(desk) -> str | None:
    """Why the database looks older than (or different from) the head this home last recorded, or None."""
    known = _read_watermark(desk)
    if known is None:
        return None
    if known.get("unreadable") or not hmac.compare_digest(
            str(known.get("mac", "")), _watermark_mac(desk, known["seq"], known["hash"])):
        return f"{_watermark_path(desk)} is unreadable or was altered: the database cannot be checked for a rollback"
    seq, _ = _last(desk)
    hint = ("rolled back or restored from a backup; if a manager restored it on purpose, run "
            "`recdesk audit accept-restore`")
    if seq < known["seq"]:
        return f"the audit head is at {seq:,} but this home saw {known['seq']:,}: the database was {hint}"
    if known["seq"]:
        row = AuditEvent.select(AuditEvent.hash).where(AuditEvent.seq == known["seq"]).execute(desk.audit_db)
        if not row or row[0].hash != known["hash"]:
            return f"audit event {known['seq']:,} is not the one this home saw: the database was {hint}"
    return None


def accept_restore(desk, actor) -> int:
    """A manager says the database was restored on purpose: the restore is audited and this home's watermark
    moves to the restored head. Returns the head it now trusts."""
    actor.require(*MANAGERS)
    problem = rollback_problem(desk)
    if problem is None:
        raise DeskError("the database is not older than this home last saw it: there is no restore to accept")
    with desk.write():
        append(desk, actor, "audit.restore_accepted", object=f"desk:{desk.config.desk_id}",
               details={"problem": problem})
    remember_head(desk, force=True)
    return _last(desk)[0]
