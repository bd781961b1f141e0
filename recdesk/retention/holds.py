"""Legal holds: a manager places one per matter over the charts it covers and lifts it with a reason; while it
lasts those charts are not destroyed (T2) and their documents are neither moved nor merged (P4).

A hold lasts from the day it is placed until it is lifted, or until its `until` day when the matter gives one.
Each covered patient's audit trail records the hold (`hold.cover`), so a hold row deleted outside recdesk still
keeps the chart (`held_patient_ids`) and `recdesk doctor` names the row that is gone.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

import peewee

from recdesk import clock
from recdesk.display import FORBIDDEN
from recdesk.errors import DeskError
from recdesk.patients.registry import find_by_mrn, mrn_of
from recdesk.roles import MANAGERS
from recdesk.vault import audit, crypto, seals
from recdesk.vault.models import AuditEvent, HeldPatient, LegalHold, Patient, User, by_short_id, now

BASES = ("litigation", "investigation", "audit", "government_request")
MATTER_LIMIT = 200
REASON_LIMIT = 500
COVER = "hold.cover"  # the audit action that records one patient under one hold
HELD_PREFIX = "held:"
SHORT = 8  # the length of a hold's id as people type it


@dataclass(frozen=True)
class Hold:
    """A legal hold as a manager sees it (its text decrypted, its patients by MRN)."""

    uuid: str
    matter: str
    basis: str
    starts_on: datetime.date
    until_on: datetime.date | None
    placed_by: str
    placed_at: datetime.datetime
    lifted_at: datetime.datetime | None
    lifted_by: str
    lift_reason: str
    mrns: tuple[str, ...]
    active: bool

    def as_row(self) -> dict:
        """The row `recdesk hold list --json` prints."""
        return {"id": self.uuid, "matter": self.matter, "basis": self.basis, "from": self.starts_on.isoformat(),
                "until": self.until_on.isoformat() if self.until_on else None, "placed_by": self.placed_by,
                "placed_at": self.placed_at.isoformat(timespec="seconds"), "active": self.active,
                "lifted_at": self.lifted_at.isoformat(timespec="seconds") if self.lifted_at else None,
                "lifted_by": self.lifted_by or None, "lift_reason": self.lift_reason or None, "mrns": list(self.mrns)}


def _line(text: str, what: str, limit: int) -> str:
    text = (text or "").strip()
    if not text:
        raise DeskError(f"a legal hold needs {what}")
    if len(text) > limit or FORBIDDEN.search(text):
        raise DeskError(f"{what} must be one line of at most {limit} characters")
    return text


def active_where(as_of: datetime.date) -> peewee.Expression:
    """Holds in force on `as_of`: not lifted, and not past their `until` day."""
    return LegalHold.lifted_at.is_null() & (LegalHold.until_on.is_null() | (LegalHold.until_on >= as_of))


def matter_of(desk, hold: LegalHold) -> str:
    return crypto.open_text(desk.desk_key, "legal_hold", "matter", hold.uuid, hold.matter_enc) or ""


def place(desk, actor, *, matter: str, patients: Iterable[str] = (), mrns: Iterable[str] = (),
          basis: str = "litigation", starts_on: datetime.date | None = None,
          until_on: datetime.date | None = None) -> str:
    """Place a hold over the charts of `patients` (uuids) and of `mrns` (as typed); returns the hold's id.
    Managers only; audited on the hold and on each patient's trail."""
    actor.require(*MANAGERS)
    patients = [*patients, *(find_by_mrn(desk, mrn).uuid for mrn in mrns)]
    matter = _line(matter, "a matter (the case, investigation or audit it is for)", MATTER_LIMIT)
    if basis not in BASES:
        raise DeskError(f"basis {basis!r}: one of {', '.join(BASES)}")
    today = clock.today()
    starts_on = starts_on or today
    if starts_on > today:
        raise DeskError(f"from {starts_on.isoformat()} is after today: a hold is placed when the duty to preserve "
                        "has begun (give today or the day it began)")
    if until_on is not None and until_on < today:
        raise DeskError(f"until {until_on.isoformat()} is past: a hold placed now would hold nothing (leave --until "
                        "out, or give today or later)")
    uuids = list(dict.fromkeys(patients))
    if not uuids:
        raise DeskError("a legal hold covers at least one patient: name them by MRN")
    rows = {p.uuid: p for p in Patient.select().where(Patient.uuid.in_(uuids) & (Patient.status == "active"))}
    missing = [u for u in uuids if u not in rows]
    if missing:
        raise DeskError(f"patient {missing[0]} is not on the desk (purged or merged): a hold covers active charts")
    with desk.write():
        hold = LegalHold(basis=basis, starts_on=starts_on, until_on=until_on, placed_by=actor.user_id)
        hold.matter_enc = crypto.seal(desk.desk_key, "legal_hold", "matter", hold.uuid, matter)
        hold.save()
        seals.reseal(desk, LegalHold, LegalHold.id == hold.id)
        covered = [HeldPatient(hold=hold.id, patient=rows[u].id) for u in uuids]
        for row in covered:
            row.save()
        seals.reseal(desk, HeldPatient, HeldPatient.hold == hold.id)
        audit.append_many(desk, actor, [
            audit.Event("hold.place", f"hold:{hold.uuid}", details={
                "matter": matter, "basis": basis, "from": starts_on, "until": until_on, "patients": uuids}),
            *(audit.Event(COVER, f"{HELD_PREFIX}{row.uuid}", u, {"hold": hold.uuid})
              for row, u in zip(covered, uuids, strict=True)),
        ])
    return hold.uuid


def find(hold_id: str) -> LegalHold:
    """A hold by its id, or by the first 8 or more characters of it as printed."""
    return by_short_id(LegalHold, hold_id, what="legal hold", listing="recdesk hold list", least=SHORT)


def lift(desk, actor, hold_id: str, *, reason: str) -> None:
    """Lift a hold (managers only), with the reason: the matter settled, the audit closed, counsel released it."""
    actor.require(*MANAGERS)
    reason = _line(reason, "a reason to lift it (settled, closed, released by counsel ...)", REASON_LIMIT)
    hold = find(hold_id)
    seals.check(desk, hold)
    if hold.lifted_at is not None:
        raise DeskError(f"legal hold {hold.uuid[:SHORT]} was lifted already, on {hold.lifted_at:%Y-%m-%d}")
    patients = [u for (u,) in Patient.select(Patient.uuid).join(HeldPatient).where(HeldPatient.hold == hold.id)
                .tuples()]
    with desk.write():
        changed = (LegalHold.update(lifted_at=now(), lifted_by=actor.user_id,
                                    lift_reason_enc=crypto.seal(desk.desk_key, "legal_hold", "lift_reason",
                                                                hold.uuid, reason))
                   .where((LegalHold.id == hold.id) & LegalHold.lifted_at.is_null()).execute())
        if changed != 1:
            raise DeskError("someone lifted this hold just now: look at the list again")
        seals.reseal(desk, LegalHold, LegalHold.id == hold.id)
        audit.append(desk, actor, "hold.lift", object=f"hold:{hold.uuid}",
                     details={"reason": reason, "patients": patients})


def holds(desk, actor, *, include_lifted: bool = True, as_of: datetime.date | None = None) -> list[Hold]:
    """Every hold, newest first, with the MRNs it covers; the view of those MRNs is audited."""
    as_of = as_of or clock.today()
    seals.check_where(desk, LegalHold, LegalHold.id > 0)
    query = LegalHold.select().order_by(LegalHold.created_at.desc(), LegalHold.id.desc())
    if not include_lifted:
        query = query.where(active_where(as_of))
    rows = list(query)
    names = dict(User.select(User.id, User.name).tuples())
    covered: dict[int, list[Patient]] = {}
    ids = [h.id for h in rows]
    for start in range(0, len(ids), 500):
        for link in (HeldPatient.select(HeldPatient, Patient).join(Patient)
                     .where(HeldPatient.hold.in_(ids[start : start + 500])).order_by(HeldPatient.id)):
            covered.setdefault(link.hold_id, []).append(link.patient)
    out, shown = [], []
    for h in rows:
        patients = covered.get(h.id, [])
        shown += [p.uuid for p in patients]
        out.append(Hold(
            uuid=h.uuid, matter=matter_of(desk, h), basis=h.basis, starts_on=h.starts_on, until_on=h.until_on,
            placed_by=names.get(h.placed_by_id, ""), placed_at=h.created_at, lifted_at=h.lifted_at,
            lifted_by=names.get(h.lifted_by_id, "") if h.lifted_by_id else "",
            lift_reason=crypto.open_text(desk.desk_key, "legal_hold", "lift_reason", h.uuid, h.lift_reason_enc) or "",
            mrns=tuple(mrn_of(desk, p) if p.dek_wrapped is not None else "(purged)" for p in patients),
            active=h.lifted_at is None and (h.until_on is None or h.until_on >= as_of)))
    with desk.audit_db.atomic():
        audit.append(desk, actor, "hold.list", object="holds",
                     details={"holds": len(out), "patients": sorted(set(shown))})
    return out


def held(desk, as_of: datetime.date, patient_ids: Iterable[int] | None = None) -> dict[int, list[LegalHold]]:
    """The holds in force on `as_of` for each patient (by row id), every patient or those named: one query. The
    seals of all their holds are checked, lifted ones too: a hold lifted by writing the database is refused."""
    query = (LegalHold.select(LegalHold, HeldPatient.patient.alias("held_patient_id"))
             .join(HeldPatient, on=(HeldPatient.hold == LegalHold.id)))
    if patient_ids is not None:
        query = query.where(HeldPatient.patient.in_(list(patient_ids)))
    rows = list(query.objects())
    if rows:
        ids = list({h.id for h in rows})
        seals.check_where(desk, LegalHold, LegalHold.id.in_(ids))
        seals.check_where(desk, HeldPatient, HeldPatient.hold.in_(ids))
    found: dict[int, list[LegalHold]] = {}
    for hold in rows:
        if hold.lifted_at is None and (hold.until_on is None or hold.until_on >= as_of):
            found.setdefault(hold.held_patient_id, []).append(hold)
    return found


def vanished(patient_uuids: Iterable[str] | None = None) -> set[str]:
    """Patients (uuids) the audit trail records under a hold whose row is gone from the desk: deleted outside
    recdesk. They stay held: nobody can tell whether that hold was lifted."""
    query = (AuditEvent.select(AuditEvent.patient).where(
        (AuditEvent.action == COVER)
        & ~peewee.fn.EXISTS(HeldPatient.select(HeldPatient.id).where(
            HeldPatient.uuid == peewee.fn.SUBSTR(AuditEvent.object, len(HELD_PREFIX) + 1)))))
    if patient_uuids is not None:
        query = query.where(AuditEvent.patient.in_(list(patient_uuids)))
    return {p for (p,) in query.tuples()}


def is_held(desk, patient_uuid: str, as_of: datetime.date | None = None) -> bool:
    """Whether a hold is in force on this patient's chart (for moves and merges: no change while it is)."""
    return bool(why_held(desk, patient_uuid, as_of))


def why_held(desk, patient_uuid: str, as_of: datetime.date | None = None) -> str:
    """One line naming the hold on a chart ("" when none), for a refusal."""
    patient = Patient.get_or_none(Patient.uuid == patient_uuid)
    if patient is None:
        return ""
    found = held(desk, as_of or clock.today(), [patient.id]).get(patient.id)
    if found:
        h = found[0]
        return f"under legal hold {h.uuid[:SHORT]} ({h.basis.replace('_', ' ')}: {matter_of(desk, h)})"
    if vanished([patient_uuid]):
        return "under a legal hold the audit trail records and the desk lost (run `recdesk doctor`)"
    return ""
