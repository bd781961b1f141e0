"""Desk sessions: signing on and off (audited), and recalling the patient a user last opened."""

from __future__ import annotations

from recdesk import audit
from recdesk.desk import Actor, Desk
from recdesk.models import AuditEvent

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
    row = (AuditEvent.select(AuditEvent.patient)
           .where((AuditEvent.user_name == actor.user_name) & AuditEvent.action.in_(CHART_OPENS))
           .order_by(AuditEvent.seq.desc()).first())
    return row.patient if row else None
