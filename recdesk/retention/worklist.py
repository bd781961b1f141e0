"""The retention worklist: which charts have passed their retention period, the rule that decided it, and what
still keeps each one from destruction (RULES.md §8, T1, T2).

The last encounter of a chart is the latest of: an encounter's discharge (its admission when it has none), an
appointment that was kept or is still booked (a booked one in the future keeps the chart), and a filed document's
date of service (outside records scanned in count as care); a chart with none of these counts from the day the
patient was registered. A patient younger than a rule's minor age on that day is a minor for that rule. The
chart is kept until `retain_until` inclusive and is due the day after.

A due chart is still not eligible while any blocker holds; each has a stable code (RULES.md IDs where one fits):
  T2-HOLD        a legal hold is in force (or the trail records one the desk lost)
  T2-REQUEST     a release-of-information request for the patient is open
  C4             a deficiency is open: the chart is not complete
  PAPER-OUT      a paper chart volume is charged out
  PAPER-MISSING  a paper chart volume is flagged missing
  KEEP           a manager marked the chart "do not purge", with the reason
and one warning, which does not block (the disclosures outlive the purge, re-sealed under the desk key):
  D2             an accountable disclosure younger than six years: the accounting keeps it (164.528, 164.530(j))
`blockers` (for approval and execution) also gives T1 while the retention period has not passed.
Amendments (AM1–AM6): this desk records no amendment requests yet, so there is no open amendment to check.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

import peewee

from recdesk.display import echoed
from recdesk.errors import DeskError
from recdesk.patients.registry import by_mrn
from recdesk.release.log import OPEN
from recdesk.retention import holds, keep, schedule
from recdesk.retention.schedule import Facts
from recdesk.vault import audit, crypto, seals
from recdesk.vault.blindindex import mrn_key
from recdesk.vault.models import (
    Appointment,
    AuditEvent,
    ChartLocation,
    ChartVolume,
    Deficiency,
    Disclosure,
    Document,
    DoNotPurge,
    Encounter,
    Patient,
    Release,
    ReleaseRequest,
)

DISCLOSURE_YEARS = 6
KEPT_APPOINTMENTS = ("booked", "done")
CODES = {
    "T1": "the retention period has not passed",
    "T2-HOLD": "under a legal hold",
    "T2-REQUEST": "a release request is open",
    "C4": "a deficiency is open",
    "PAPER-OUT": "a paper chart volume is charged out",
    "PAPER-MISSING": "a paper chart volume is missing",
    "KEEP": "marked do not purge",
    "D2": "an accountable disclosure younger than six years (warning: it survives the purge)",
}


@dataclass(frozen=True)
class Blocker:
    """Why a chart is not destroyed now (or, as a warning, what to know first): a stable code and words."""

    code: str
    words: str

    def as_row(self) -> dict:
        return {"code": self.code, "words": self.words}


@dataclass(frozen=True)
class Candidate:
    """A chart past its retention period, with what still keeps it (eligible only when nothing does)."""

    patient_uuid: str
    mrn: str
    last: str
    first: str
    dob: datetime.date | None
    last_encounter: datetime.date
    retain_until: datetime.date
    rule: str
    eligible: bool
    blocked_by: tuple[Blocker, ...]
    warnings: tuple[Blocker, ...]

    def as_row(self) -> dict:
        """The row `recdesk retention candidates --json` prints."""
        return {"mrn": self.mrn, "last": self.last, "first": self.first,
                "dob": self.dob.isoformat() if self.dob else None, "last_encounter": self.last_encounter.isoformat(),
                "retain_until": self.retain_until.isoformat(), "rule": self.rule, "eligible": self.eligible,
                "blocked_by": [b.as_row() for b in self.blocked_by], "warnings": [w.as_row() for w in self.warnings]}


def _day(value) -> datetime.date | None:
    """A date from what an aggregate hands back: a date, a datetime, or SQLite's text."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def _latest(found: dict[int, datetime.date], query: peewee.Query) -> None:
    for pid, value in query.tuples():
        day = _day(value)
        if day is not None and (pid not in found or day > found[pid]):
            found[pid] = day


def last_encounters(patient_ids: Iterable[int] | None = None) -> dict[int, datetime.date]:
    """Each patient's last encounter (module doc), three grouped queries; patients with none are left out."""
    ids = list(patient_ids) if patient_ids is not None else None
    found: dict[int, datetime.date] = {}
    sources = (
        (Encounter.patient, peewee.fn.MAX(peewee.fn.COALESCE(Encounter.discharge_at, Encounter.admit_at)), None),
        (Appointment.patient, peewee.fn.MAX(Appointment.at), Appointment.status.in_(KEPT_APPOINTMENTS)),
        (Document.patient, peewee.fn.MAX(Document.service_date),
         Document.patient.is_null(False) & (Document.status == "filed")),
    )
    for column, latest, where in sources:
        query = column.model.select(column, latest).group_by(column)
        if where is not None:
            query = query.where(where)
        if ids is not None:
            query = query.where(column.in_(ids))
        _latest(found, query)
    return found


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# --- blockers: one query per kind, for every patient or the few named -------------------------------------------------


def _hold_blockers(desk, as_of: datetime.date, ids: list[int] | None, uuids: dict[int, str]) -> dict[int, list]:
    out: dict[int, list[Blocker]] = {}
    for pid, found in holds.held(desk, as_of, ids).items():
        for h in found:
            until = f", until {h.until_on.isoformat()}" if h.until_on else ""
            out.setdefault(pid, []).append(Blocker("T2-HOLD", f"under legal hold {h.uuid[:holds.SHORT]} "
                                                   f"({h.basis.replace('_', ' ')}: {holds.matter_of(desk, h)}"
                                                   f"{until}): a manager lifts it when the matter ends"))
    lost = holds.vanished([uuids[i] for i in ids] if ids is not None else None)
    for pid, uid in uuids.items():
        if uid in lost and pid not in out:
            out[pid] = [Blocker("T2-HOLD", "under a legal hold the audit trail records and the desk lost "
                                           "(deleted outside recdesk): run `recdesk doctor`")]
    return out


def _request_blockers(ids: list[int] | None) -> dict[int, list]:
    query = (Release.select(Release.patient, Release.uuid, Release.status, ReleaseRequest.received_on)
             .join(ReleaseRequest).where(Release.status.in_(OPEN)).order_by(ReleaseRequest.received_on))
    if ids is not None:
        query = query.where(Release.patient.in_(ids))
    out: dict[int, list[Blocker]] = {}
    for pid, uid, status, received in query.tuples():
        out.setdefault(pid, []).append(Blocker(
            "T2-REQUEST", f"release request {uid[:8].upper()} is open ({status.replace('_', ' ')}, received "
                          f"{_day(received).isoformat()}): finish or close it first"))
    return out


def _deficiency_blockers(ids: list[int] | None) -> dict[int, list]:
    query = (Deficiency.select(Deficiency.patient, peewee.fn.COUNT(Deficiency.id))
             .where(Deficiency.status == "open").group_by(Deficiency.patient))
    if ids is not None:
        query = query.where(Deficiency.patient.in_(ids))
    return {pid: [Blocker("C4", f"{_plural(n, 'deficiency is', 'deficiencies are')} open: the chart is not "
                                "complete (F6 closes them)")]
            for pid, n in query.tuples()}


def _paper_blockers(ids: list[int] | None) -> dict[int, list]:
    query = (ChartVolume.select(ChartVolume.patient, ChartVolume.volume_no, ChartVolume.status, ChartVolume.borrower,
                                ChartVolume.due_back_on, ChartLocation.name)
             .join(ChartLocation, on=(ChartVolume.current == ChartLocation.id))
             .where(ChartVolume.status.in_(("out", "missing"))).order_by(ChartVolume.volume_no))
    if ids is not None:
        query = query.where(ChartVolume.patient.in_(ids))
    out: dict[int, list[Blocker]] = {}
    for pid, number, status, borrower, due, where in query.tuples():
        if status == "missing":
            blocker = Blocker("PAPER-MISSING", f"paper chart volume {number} is flagged missing: find it first "
                                               "(its shredding must be confirmed)")
        else:
            to = f" to {where}" + (f" ({borrower})" if borrower else "")
            back = f", due back {_day(due).isoformat()}" if due else ""
            blocker = Blocker("PAPER-OUT", f"paper chart volume {number} is charged out{to}{back}: check it in first")
        out.setdefault(pid, []).append(blocker)
    return out


def _keep_blockers(desk, ids: list[int] | None) -> dict[int, list]:
    return {pid: [Blocker("KEEP", f"do not purge: {m.reason} (marked by {m.set_by} on {m.set_on.isoformat()})")]
            for pid, m in keep.marks(desk, ids).items()}


def _disclosure_warnings(as_of: datetime.date, ids: list[int] | None) -> dict[int, list]:
    since = schedule.add_years(as_of, -DISCLOSURE_YEARS)
    query = (Disclosure.select(Disclosure.patient, peewee.fn.MAX(Disclosure.disclosed_on))
             .where((Disclosure.disclosed_on > since) & (Disclosure.accountable == True))  # noqa: E712
             .group_by(Disclosure.patient))
    if ids is not None:
        query = query.where(Disclosure.patient.in_(ids))
    out = {}
    for pid, latest in query.tuples():
        day = _day(latest)
        out[pid] = [Blocker("D2", f"disclosed on {day.isoformat()}: the accounting keeps that disclosure until "
                                  f"{schedule.add_years(day, DISCLOSURE_YEARS).isoformat()} (it survives the purge)")]
    return out


def _all_blockers(desk, as_of: datetime.date, ids: list[int] | None, uuids: dict[int, str]):
    """(blockers, warnings) by patient row id."""
    kinds = (_hold_blockers(desk, as_of, ids, uuids), _request_blockers(ids), _deficiency_blockers(ids),
             _paper_blockers(ids), _keep_blockers(desk, ids))
    blocked: dict[int, list[Blocker]] = {}
    for kind in kinds:
        for pid, found in kind.items():
            blocked.setdefault(pid, []).extend(found)
    return blocked, _disclosure_warnings(as_of, ids)


# --- the worklist --------------------------------------------------------------------------------------------------


def _text(desk, row: Patient, name: str) -> str:
    return crypto.open_text(desk.dek(row), "patient", name, row.uuid, getattr(row, f"{name}_enc")) or ""


def _facts(desk, row: Patient, last: datetime.date) -> Facts:
    dob = _text(desk, row, "dob")
    return Facts(datetime.date.fromisoformat(dob) if dob else None, last, bool(row.deceased))


def candidates(desk, actor, *, as_of: datetime.date, include_blocked: bool = False,
               mrns: list[str] | None = None) -> list[Candidate]:
    """Charts past their retention period on `as_of`, eligible ones only unless `include_blocked`, optionally
    only those of `mrns`; by retention date, then MRN. Names are decrypted, so the view is audited (one event
    naming every patient shown)."""
    rules = schedule.site_rules(desk.config)
    shortest = min(r.years for r in rules)
    query = Patient.select().where((Patient.status == "active") & Patient.dek_wrapped.is_null(False))
    if mrns is not None:
        found = by_mrn(desk, mrns)
        unknown = [m for m in mrns if mrn_key(m) not in found]
        if unknown:
            raise DeskError(f"no patient with MRN {echoed(unknown[0])}: check the number")
        query = query.where(Patient.id.in_([p.id for p in found.values()]))
    rows = list(query.order_by(Patient.id))
    ids = [r.id for r in rows] if mrns is not None else None
    lasts = last_encounters(ids)
    due: list[tuple[Patient, datetime.date, schedule.Retention]] = []
    for row in rows:
        last = lasts.get(row.id) or row.created_at.date()
        if schedule.add_years(last, shortest) >= as_of:
            continue  # no rule can have passed yet: the date of birth need not be decrypted
        kept = schedule.retain_until(_facts(desk, row, last), rules, as_of)
        if kept.until < as_of:
            due.append((row, last, kept))
    blocked, warned = _all_blockers(desk, as_of, ids, {r.id: r.uuid for r in rows})
    out = []
    for row, last, kept in due:
        stops = tuple(blocked.get(row.id, ()))
        if stops and not include_blocked:
            continue
        dob = _text(desk, row, "dob")
        out.append(Candidate(row.uuid, _text(desk, row, "mrn"), _text(desk, row, "last"), _text(desk, row, "first"),
                             datetime.date.fromisoformat(dob) if dob else None, last, kept.until, kept.rule,
                             not stops, stops, tuple(warned.get(row.id, ()))))
    out.sort(key=lambda c: (c.retain_until, c.mrn))
    with desk.audit_db.atomic():
        audit.append(desk, actor, "retention.worklist", object="retention:candidates",
                     details={"as_of": as_of, "include_blocked": include_blocked, "mrns": len(mrns or ()),
                              "shown": len(out), "patients": [c.patient_uuid for c in out]})
    return out


def blockers(desk, patient_uuid: str, *, as_of: datetime.date) -> list[Blocker]:
    """Everything that keeps this chart from destruction on `as_of`, the retention period (T1) included: the
    check a purge runs again at approval and at execution. Empty means it may go."""
    row = Patient.get_or_none(Patient.uuid == patient_uuid)
    if row is None or row.status != "active" or row.dek_wrapped is None:
        raise DeskError(f"patient {patient_uuid} is not on the desk (purged or merged)")
    rules = schedule.site_rules(desk.config)
    last = last_encounters([row.id]).get(row.id) or row.created_at.date()
    kept = schedule.retain_until(_facts(desk, row, last), rules, as_of)
    out = []
    if kept.until >= as_of:
        out.append(Blocker("T1", f"kept until {kept.until.isoformat()} by {kept.rule} (last encounter "
                                 f"{last.isoformat()})"))
    blocked, _ = _all_blockers(desk, as_of, [row.id], {row.id: row.uuid})
    out += blocked.get(row.id, [])
    # What a purge relies on may be written behind the desk's back. A release's status is sealed: checked here, a
    # request "closed" in the database is refused (TamperError), not believed. A do-not-purge mark the audit trail
    # records stays in force when its row is gone (as a hold does: holds.vanished).
    seals.check_where(desk, Release, Release.patient == row.id)
    last_said: dict[str, str] = {}
    for obj, action in (AuditEvent.select(AuditEvent.object, AuditEvent.action)
                        .where((AuditEvent.patient == row.uuid) & AuditEvent.action.in_((keep.MARKED, keep.CLEARED)))
                        .order_by(AuditEvent.seq).tuples()):
        last_said[obj] = action
    present = {f"keep:{u}" for (u,) in DoNotPurge.select(DoNotPurge.uuid).where(DoNotPurge.patient == row.id).tuples()}
    if any(a == keep.MARKED and obj not in present for obj, a in last_said.items()):
        if not any(b.code == "KEEP" for b in out):
            out.append(Blocker("KEEP", "do not purge: the audit trail records a mark whose row is gone from the desk "
                                       "(deleted outside recdesk): run `recdesk doctor`"))
    return out
