""""Do not purge" marks: a manager keeps a chart past its retention for a reason of the site's own (research,
a pending claim, a famous patient's chart the archive wants: VistA's "reason not to retire"), and clears it."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from recdesk.display import FORBIDDEN
from recdesk.errors import DeskError
from recdesk.roles import MANAGERS
from recdesk.vault import audit, crypto, seals
from recdesk.vault.models import DoNotPurge, Patient, User, now

REASON_LIMIT = 200


@dataclass(frozen=True)
class Mark:
    patient_id: int
    reason: str
    set_by: str
    set_on: datetime.date


MARKED = "retention.keep"  # the audit actions of a mark: the trail says which marks stand (worklist.blockers)
CLEARED = "retention.keep_clear"


def _patient(patient_uuid: str) -> Patient:
    patient = Patient.get_or_none((Patient.uuid == patient_uuid) & (Patient.status == "active"))
    if patient is None:
        raise DeskError("that patient is not on the desk (purged or merged)")
    return patient


def mark(desk, actor, patient_uuid: str, *, reason: str) -> str:
    """Mark a chart "do not purge" with the reason (managers); returns the mark's id. One mark at a time."""
    actor.require(*MANAGERS)
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_LIMIT or FORBIDDEN.search(reason):
        raise DeskError(f"a \"do not purge\" mark needs its reason, one line of at most {REASON_LIMIT} characters")
    patient = _patient(patient_uuid)
    with desk.write():
        if DoNotPurge.select().where((DoNotPurge.patient == patient.id) & DoNotPurge.cleared_at.is_null()).exists():
            raise DeskError("this chart is marked \"do not purge\" already: clear that mark first to change it")
        row = DoNotPurge(patient=patient.id, set_by=actor.user_id)
        row.reason_enc = crypto.seal(desk.dek(patient), "do_not_purge", "reason", row.uuid, reason)
        row.save()
        seals.reseal(desk, DoNotPurge, DoNotPurge.id == row.id)
        audit.append(desk, actor, MARKED, object=f"keep:{row.uuid}", patient=patient.uuid,
                     details={"reason": reason})
    return row.uuid


def clear(desk, actor, patient_uuid: str) -> None:
    """Clear a chart's "do not purge" mark (managers): its retention schedule decides again."""
    actor.require(*MANAGERS)
    patient = _patient(patient_uuid)
    with desk.write():
        row = DoNotPurge.get_or_none((DoNotPurge.patient == patient.id) & DoNotPurge.cleared_at.is_null())
        if row is None:
            raise DeskError("this chart has no \"do not purge\" mark to clear")
        seals.check(desk, row)
        DoNotPurge.update(cleared_at=now(), cleared_by=actor.user_id).where(DoNotPurge.id == row.id).execute()
        seals.reseal(desk, DoNotPurge, DoNotPurge.id == row.id)
        audit.append(desk, actor, CLEARED, object=f"keep:{row.uuid}", patient=patient.uuid)


def marks(desk, patient_ids: Iterable[int] | None = None) -> dict[int, Mark]:
    """The standing marks by patient row id (every patient, or those named): one query, seals checked, the
    reasons decrypted under each patient's key."""
    query = (DoNotPurge.select(DoNotPurge, Patient).join(Patient, on=(DoNotPurge.patient == Patient.id))
             .where(Patient.dek_wrapped.is_null(False)))
    if patient_ids is not None:
        query = query.where(DoNotPurge.patient.in_(list(patient_ids)))
    rows = list(query)
    if rows:  # cleared ones too: a mark cleared by writing the database is refused, not believed
        seals.check_where(desk, DoNotPurge, DoNotPurge.id.in_([r.id for r in rows]))
    rows = [r for r in rows if r.cleared_at is None]
    names = dict(User.select(User.id, User.name).tuples()) if rows else {}
    return {r.patient_id: Mark(r.patient_id,
                               crypto.open_text(desk.dek(r.patient), "do_not_purge", "reason", r.uuid, r.reason_enc)
                               or "", names.get(r.set_by_id, ""), r.created_at.date())
            for r in rows}
