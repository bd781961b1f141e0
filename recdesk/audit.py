"""The audit chain: every view and change of PHI appends an event whose hash chains over the one before."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from recdesk import crypto
from recdesk.db import bulk_insert
from recdesk.errors import AccessDenied
from recdesk.models import AuditEvent, AuditHead, now

GENESIS = "0" * 64


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
    with db.atomic():
        query = AuditHead.select()
        if desk.is_postgres:
            query = query.for_update()  # the head row lock serialises appends across sessions
        head = query.execute(db)[0]
        seq, at = head.seq, now()
        last = AuditEvent.select(AuditEvent.hash).where(AuditEvent.seq == seq).execute(db)
        prev = last[0].hash if seq else GENESIS
        rows = []
        for event in events:
            seq += 1
            payload = None
            if event.details is not None:
                text = json.dumps(event.details, sort_keys=True, default=str)
                payload = crypto.seal(data_key, "audit_event", "details", str(seq), text)
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
    mac_key = desk.master.sub("audit-mac")
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


def details(desk, event: AuditEvent) -> dict | None:
    """The decrypted details of one event (for the review screen and exports)."""
    text = crypto.open_text(desk.master.sub("audit-data"), "audit_event", "details", str(event.seq),
                            event.details_enc)
    return json.loads(text) if text is not None else None
