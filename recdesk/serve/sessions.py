"""Desk sessions: signing on and off (audited), and recalling the patient a user last opened."""

from __future__ import annotations

from recdesk.desk import Actor, Desk
from recdesk.vault import audit
from recdesk.vault.models import AuditEvent

CHART_OPENS = ("chart.open", "chart.open.sensitive")


def sign_on(desk: Desk, user_name: str, *, via: str = "local", address: str = "", key_fingerprint: str = "",
            session: str | None = None) -> Actor:
    """Sign a desk user on (refusing unknown and disabled users) and audit it."""
    actor = desk.sign_on(user_name, session)
    details = {"via": via, "role": actor.role}
    if address:
        details["address"] = address
    if key_fingerprint:
        details["key"] = key_fingerprint
    with desk.audit_db.atomic():
        audit.append(desk, actor, "session.sign_on", object=f"user:{actor.user_name}", details=details)
    return actor


def sign_off(desk: Desk, actor: Actor, reason: str) -> None:
    """Audit the end of a session: quit, idle (automatic logoff), or disconnect."""
    with desk.audit_db.atomic():
        audit.append(desk, actor, "session.sign_off", object=f"user:{actor.user_name}", details={"reason": reason})


def last_patient(desk: Desk, actor: Actor) -> str | None:
    """The uuid of the patient whose chart this user opened most recently, in any session."""
    # One index probe per kind of opening, (user, action, seq): instant however long the trail is.
    latest = [
        row for action in CHART_OPENS
        for row in AuditEvent.select(AuditEvent.seq, AuditEvent.patient)
        .where((AuditEvent.user_name == actor.user_name) & (AuditEvent.action == action))
        .order_by(AuditEvent.seq.desc()).limit(1)
    ]
    return max(latest, key=lambda row: row.seq).patient if latest else None
