"""The audit chain: every view and change of PHI appends an event whose hash chains over the one before."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from recdesk import crypto
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


def append(desk, actor, action: str, *, object: str = "", patient: str = "", details: dict | None = None) -> int:
    """Write one chained event inside the caller's transaction (or its own for a read-only session)."""
    db = desk.audit_db
    with db.atomic():
        query = AuditHead.select()
        if desk.is_postgres:
            query = query.for_update()  # the head row lock serialises appends across sessions
        head = query.execute(db)[0]
        seq = head.seq + 1
        payload = None
        if details is not None:
            text = json.dumps(details, sort_keys=True, default=str)
            payload = crypto.seal(desk.master.sub("audit-data"), "audit_event", "details", str(seq), text)
        ev = {
            "seq": seq, "at": now(), "user_name": actor.user_name, "session": actor.session,
            "action": action, "object": object, "patient": patient, "details_enc": payload,
        }
        ev["prev_hash"] = head.hash
        ev["hash"] = _digest(desk.master.sub("audit-mac"), head.hash, ev)
        AuditEvent.insert(**ev).execute(db)
        AuditHead.update(seq=seq, hash=ev["hash"]).execute(db)
    return seq


def start_chain(db) -> None:
    AuditHead.insert(seq=0, hash=GENESIS).execute(db)


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
    prev_hash, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    fields = [AuditEvent.seq, AuditEvent.at, AuditEvent.user_name, AuditEvent.session, AuditEvent.action,
              AuditEvent.object, AuditEvent.patient, AuditEvent.details_enc, AuditEvent.prev_hash, AuditEvent.hash]
    while True:
        rows = list(
            AuditEvent.select(*fields).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq)
            .limit(batch).dicts()
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
    head = AuditHead.get()
    if head.seq != count or head.hash != prev_hash:
        return ChainReport(count, count + 1, f"the chain ends at {count} but the head says {head.seq} "
                           "(events deleted from the end)")
    return ChainReport(count, None, "intact")


def details(desk, event: AuditEvent) -> dict | None:
    """The decrypted details of one event (for the review screen and exports)."""
    text = crypto.open_text(desk.master.sub("audit-data"), "audit_event", "details", str(event.seq),
                            event.details_enc)
    return json.loads(text) if text is not None else None
