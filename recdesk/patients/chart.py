"""The patient chart: everything the desk holds on one patient, gathered for one audited view."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from peewee import JOIN, fn

from recdesk import clock
from recdesk.desk import Desk
from recdesk.display import FORBIDDEN, invisible, when
from recdesk.documents.filing import type_labels
from recdesk.errors import DeskError
from recdesk.patients.registry import PatientDetails, decrypt
from recdesk.roles import MANAGERS
from recdesk.serve.sessions import CHART_OPENS
from recdesk.vault import audit, crypto, seals
from recdesk.vault.models import (
    AuditEvent,
    ChartLocation,
    ChartVolume,
    Deficiency,
    Disclosure,
    Document,
    Encounter,
    Patient,
    PatientAssignment,
    Provider,
    Release,
    ReleaseRequest,
    User,
    now,
)

ACCESS_PURPOSES = (
    ("treatment", "Treatment or continuity of care"),
    ("release", "Release of information request"),
    ("filing", "Filing, indexing or QA of documents"),
    ("chart_completion", "Chart assembly or deficiency work"),
    ("legal", "Legal, compliance or audit"),
    ("patient_request", "The patient's own request"),
)


REASON_LIMIT = 200  # a break-glass reason: one line a supervisor reads in the review queue
NOTE_LIMIT = 200  # a reviewer's note on one opening
BREAK_GLASS = "restricted.break_glass"  # the audit event that grants a user time-limited access to one patient
REVIEWED = "restricted.reviewed"  # the audit event that marks one restricted opening reviewed
OPENED = "chart.open.sensitive"  # each use of a restricted record (chart, document, assembly, print)
NEEDS = ("role", "assigned")  # a standing need: uses are recorded, not queued for review
HOW = {"role": "role", "assigned": "assigned", "break_glass": "break-glass"}


class RestrictedRecord(DeskError):
    """A restricted record was not opened: the person must say more first (a purpose, or break the glass)."""


class PurposeRequired(RestrictedRecord):
    """A user with a need opens a restricted record only with a stated purpose of access."""


class BreakGlassRequired(RestrictedRecord):
    """A user with no need for a restricted record (role or assignment) opens it only by breaking the glass."""

    def __init__(self, message: str, *, patient_uuid: str, hours: int, ended: datetime.datetime | None) -> None:
        super().__init__(message)
        self.patient_uuid = patient_uuid
        self.hours = hours
        self.ended = ended  # when this user's last break-glass access to the patient ended, if they had one


@dataclass(frozen=True)
class Access:
    """How the actor may open this record now: need "" (not restricted), "role", "assigned" or "break_glass"."""

    need: str
    purpose: str | None = None
    grant: int | None = None  # the seq of the break-glass event that grants it
    expires: datetime.datetime | None = None
    reason: str = ""

    @property
    def restricted(self) -> bool:
        return bool(self.need)


@dataclass
class Chart:
    patient: PatientDetails
    encounters: list[dict] = field(default_factory=list)
    documents: list[dict] = field(default_factory=list)
    releases: list[dict] = field(default_factory=list)
    disclosures: list[dict] = field(default_factory=list)
    volumes: list[dict] = field(default_factory=list)
    deficiencies: list[dict] = field(default_factory=list)
    access: list[dict] = field(default_factory=list)
    opened: Access = field(default_factory=lambda: Access(""))  # how it was opened: the chart's banner says so


def _purpose(purpose: str | None) -> str:
    if purpose not in dict(ACCESS_PURPOSES):
        raise DeskError(f"purpose {purpose!r} is not one of: {', '.join(dict(ACCESS_PURPOSES))}")
    return purpose


def standing_need(desk: Desk, actor, row: Patient) -> str:
    """The actor's standing need for this patient's restricted record: "role" ([restricted] roles), "assigned" (a
    manager's assignment, its seal checked), or "" (none: break the glass)."""
    if actor.role in desk.config.restricted.roles:
        return "role"
    where = ((PatientAssignment.user == actor.user_id) & (PatientAssignment.patient == row.id)
             & PatientAssignment.ended_at.is_null())
    if PatientAssignment.select().where(where).exists():
        seals.check_where(desk, PatientAssignment, where)  # a row written by hand grants nothing
        return "assigned"
    return ""


def _latest_grant(desk: Desk, actor, row: Patient) -> tuple[AuditEvent, dict] | None:
    """The actor's latest break-glass event for this patient, if recdesk wrote it (one index probe)."""
    event = (AuditEvent.select().where((AuditEvent.user_name == actor.user_name) & (AuditEvent.action == BREAK_GLASS)
                                       & (AuditEvent.patient == row.uuid))
             .order_by(AuditEvent.seq.desc()).first())
    if event is None or not audit.authentic(desk, event):
        return None
    return event, audit.details(desk, event) or {}


def _expiry(event: AuditEvent, details: dict) -> datetime.datetime:
    return event.at + datetime.timedelta(hours=float(details.get("hours", 0)))


def check_access(desk: Desk, actor, row: Patient, purpose: str | None = None) -> Access:
    """May the actor open this patient's record now, and how (X3)? Its restricted flag must be the one recdesk
    wrote. A restricted record opens for a standing need with a stated purpose (PurposeRequired otherwise), or
    within a break-glass grant still running on the desk clock (BreakGlassRequired otherwise). Every service that
    shows a restricted record's chart, documents or print asks this on each call, so a grant that has run out
    opens nothing, whatever a screen still shows."""
    seals.check(desk, row)
    if not row.sensitive:
        return Access("")
    need = standing_need(desk, actor, row)
    if need:
        if purpose is None:
            raise PurposeRequired("this is a restricted record: state your purpose of access to open it")
        return Access(need, _purpose(purpose))
    hours = desk.config.restricted.break_glass_hours
    latest = _latest_grant(desk, actor, row)
    ended = None
    if latest is not None:
        event, details = latest
        expires = _expiry(event, details)
        if clock.now() < expires:
            return Access("break_glass", details.get("purpose"), event.seq, expires, details.get("reason", ""))
        ended = expires
    said = f"your break-glass access ended {when(ended, desk.config.zone)}; " if ended else ""
    raise BreakGlassRequired(
        f"restricted record: {said}you have no need on file for it (your role, or a manager's assignment): break "
        f"the glass on the desk (purpose and reason, {hours} h, reviewed by a supervisor) or ask a manager to "
        "assign you", patient_uuid=row.uuid, hours=hours, ended=ended)


def use_details(access: Access, **extra) -> dict:
    """What the audit event of one use of a restricted record says: purpose, need and any break-glass grant."""
    details = {"purpose": access.purpose, "need": access.need, **extra}
    if access.need == "break_glass":
        details |= {"grant": access.grant, "expires": access.expires.isoformat()}
    return details


def record_use(desk: Desk, actor, row: Patient, access: Access, **extra) -> int:
    """Audit one use of a restricted record (inside the caller's audit transaction); a use under break-glass
    goes to the supervisor's review queue."""
    return audit.append(desk, actor, OPENED, object=f"patient:{row.uuid}", patient=row.uuid,
                        details=use_details(access, **extra))


def check_reason(text: str) -> str | None:
    """What is wrong with a break-glass reason or a review note (None: nothing), in one line."""
    if not text.strip():
        return "Type the reason: it is required, and a supervisor reads it."
    if FORBIDDEN.search(text):
        return "The reason holds a control character: type it again as plain text."
    hidden = invisible(text)
    if hidden is not None:
        return f"The reason holds an invisible character (U+{ord(hidden):04X}): type it again as plain text."
    if not any(c.isalnum() for c in text):
        return "Type the reason in words: it is required, and a supervisor reads it."
    if len(text) > REASON_LIMIT:
        return f"The reason is {len(text)} characters: keep it to {REASON_LIMIT}."
    return None


def break_glass(desk: Desk, actor, patient_uuid: str, purpose: str, reason: str) -> datetime.datetime:
    """Emergency access (HIPAA 164.312(a)(2)(ii), X3) for a user with no standing need: a purpose and a reason give
    them this patient's restricted record for [restricted] break_glass_hours. The grant is an event in the audit
    chain (a supervisor's session can write only there); each use under it is queued for review. Returns when
    it ends."""
    row = _patient(patient_uuid)
    seals.check(desk, row)
    if not row.sensitive:
        raise DeskError("this record is not restricted: open it as any other")
    if standing_need(desk, actor, row):
        raise DeskError("you have a need on file for this record: open it with your purpose, no glass to break")
    problem = check_reason(reason)
    if problem:
        raise DeskError(problem)
    hours = desk.config.restricted.break_glass_hours
    with desk.audit_db.atomic():
        seq = audit.append(desk, actor, BREAK_GLASS, object=f"patient:{row.uuid}", patient=row.uuid,
                           details={"purpose": _purpose(purpose), "reason": reason.strip(), "hours": hours})
    return _expiry(AuditEvent.get_by_id(seq), {"hours": hours})


def _patient(patient_uuid: str) -> Patient:
    row = Patient.get_or_none(Patient.uuid == patient_uuid)
    if row is None or row.status == "purged" or row.dek_wrapped is None:
        raise DeskError("that patient is no longer on the desk (purged or merged)")
    return row


# --- assignments: a manager gives a user a standing need for one patient ---------------------------------------------


def assign(desk: Desk, actor, user_name: str, patient_uuid: str) -> None:
    """A manager assigns a desk user to a patient: a standing need to open their restricted record (audited)."""
    actor.require(*MANAGERS)
    user = User.get_or_none(User.name == user_name)
    if user is None:
        raise DeskError(f"{user_name!r} is not a desk user")
    row = _patient(patient_uuid)
    with desk.write():
        seals.check(desk, user)
        if PatientAssignment.select().where((PatientAssignment.user == user.id) & (PatientAssignment.patient == row.id)
                                            & PatientAssignment.ended_at.is_null()).exists():
            raise DeskError(f"{user_name} is assigned to this patient already")
        a = PatientAssignment.create(user=user, patient=row, granted_by=actor.user_id)
        seals.reseal(desk, PatientAssignment, PatientAssignment.id == a.id)
        audit.append(desk, actor, "restricted.assign", object=f"user:{user.name}", patient=row.uuid)


def unassign(desk: Desk, actor, user_name: str, patient_uuid: str) -> None:
    """A manager ends a user's assignment to a patient (the row stays, ended, for the record)."""
    actor.require(*MANAGERS)
    row = _patient(patient_uuid)
    a = (PatientAssignment.select().join(User, on=(PatientAssignment.user == User.id))
         .where((User.name == user_name) & (PatientAssignment.patient == row.id)
                & PatientAssignment.ended_at.is_null()).first())
    if a is None:
        raise DeskError(f"{user_name} is not assigned to this patient")
    with desk.write():
        seals.check(desk, a)
        PatientAssignment.update(ended_at=now(), ended_by=actor.user_id).where(PatientAssignment.id == a.id).execute()
        seals.reseal(desk, PatientAssignment, PatientAssignment.id == a.id)
        audit.append(desk, actor, "restricted.unassign", object=f"user:{user_name}", patient=row.uuid)


def open_chart(desk: Desk, actor, patient_uuid: str, *, purpose: str | None = None) -> Chart:
    """Gather one patient's chart and audit the view; a restricted record needs a need and a purpose, or a
    break-glass grant still running (check_access)."""
    row = _patient(patient_uuid)
    opened = check_access(desk, actor, row, purpose)
    chart = Chart(decrypt(desk, row, with_insurance=True), opened=opened)
    dek = desk.dek(row)
    chart.encounters = [
        {"kind": e.kind, "admit": e.admit_at, "discharge": e.discharge_at, "service": e.service,
         "attending": e.attending.name if e.attending_id else ""}
        for e in Encounter.select(Encounter, Provider).join(Provider, JOIN.LEFT_OUTER)
        .where(Encounter.patient == row.id).order_by(Encounter.admit_at.desc())
    ]
    labels = type_labels(desk)
    chart.documents = [
        {"uuid": d.uuid, "type": labels.get(d.doc_type, d.doc_type), "date": d.service_date, "pages": d.pages,
         "qa": d.qa_state, "title": crypto.open_text(dek, "document", "title", d.uuid, d.title_enc) or ""}
        for d in Document.select().where(Document.patient == row.id).order_by(Document.service_date.desc())
    ]
    chart.releases = [
        {"received": r.request.received_on, "requester": r.request.requester_type, "purpose": r.request.purpose,
         "status": r.status, "due": r.extended_due_on or r.due_on}
        for r in Release.select(Release, ReleaseRequest).join(ReleaseRequest)
        .where(Release.patient == row.id).order_by(ReleaseRequest.received_on.desc())
    ]
    chart.disclosures = [
        {"date": d.disclosed_on, "recipient": crypto.open_text(dek, "disclosure", "recipient", d.uuid, d.recipient_enc),
         "purpose": d.purpose, "accountable": d.accountable}
        for d in Disclosure.select().where(Disclosure.patient == row.id).order_by(Disclosure.disclosed_on.desc())
    ]
    locations = {loc.id: loc.name for loc in ChartLocation.select()}
    chart.volumes = [
        {"volume": v.volume_no, "home": locations.get(v.home_id, ""), "current": locations.get(v.current_id, ""),
         "status": v.status, "borrower": v.borrower, "due_back": v.due_back_on}
        for v in ChartVolume.select().where(ChartVolume.patient == row.id).order_by(ChartVolume.volume_no)
    ]
    chart.deficiencies = [
        {"kind": d.kind, "provider": d.provider.name if d.provider_id else "", "status": d.status,
         "opened": d.created_at}
        for d in Deficiency.select().where(Deficiency.patient == row.id).order_by(Deficiency.created_at.desc())
    ]
    chart.access = [
        {"at": e.at, "user": e.user_name, "sensitive": e.action == OPENED}
        for e in AuditEvent.select(AuditEvent.at, AuditEvent.user_name, AuditEvent.action)
        .where((AuditEvent.patient == row.uuid) & AuditEvent.action.in_(CHART_OPENS))
        .order_by(AuditEvent.seq.desc()).limit(200)
    ]
    with desk.audit_db.atomic():
        if opened.restricted:
            seq = record_use(desk, actor, row, opened, via="chart")
        else:
            seq = audit.append(desk, actor, "chart.open", object=f"patient:{row.uuid}", patient=row.uuid)
    chart.access.insert(0, {"at": AuditEvent.get_by_id(seq).at, "user": actor.user_name, "sensitive": row.sensitive})
    return chart


# --- the supervisor's review of restricted openings ------------------------------------------------------------


@dataclass(frozen=True)
class Opening:
    """One use of a restricted record as the review sees it. `queued`: it waits for (or had) a supervisor's review:
    every use under break-glass, and any opening recorded without a need (before needs, or by the release work)."""

    seq: int
    at: datetime.datetime
    user: str
    patient: str  # uuid
    purpose: str
    need: str  # "role", "assigned", "break_glass", or "" (recorded without one)
    via: str
    reason: str
    expires: datetime.datetime | None
    reviewed_by: str = ""
    reviewed_at: datetime.datetime | None = None
    note: str = ""
    destroyed: bool = False  # its details went with the patient's key (a purge): purpose, need and reason unknown

    @property
    def queued(self) -> bool:
        if self.destroyed:  # need is only what the chain's plain columns still tell (restricted_openings)
            return self.need == "break_glass"
        return self.need not in NEEDS

    @property
    def open(self) -> bool:
        """Queued and not yet reviewed."""
        return self.queued and not self.reviewed_by

    @property
    def how(self) -> str:
        if self.destroyed and not self.need:
            return "destroyed"
        return HOW.get(self.need, "purpose only")


def _reviews(desk: Desk) -> dict[int, tuple[AuditEvent, dict]]:
    marks: dict[int, tuple[AuditEvent, dict]] = {}
    for e in AuditEvent.select().where(AuditEvent.action == REVIEWED).order_by(AuditEvent.seq):
        if e.object.startswith("audit:") and e.object[6:].isdigit() and audit.authentic(desk, e):
            marks.setdefault(int(e.object[6:]), (e, audit.details(desk, e) or {}))
    return marks


def restricted_openings(desk: Desk, since: datetime.datetime | None = None) -> list[Opening]:
    """Every use of a restricted record, newest first, with its need, purpose, any break-glass reason, and its
    review if it had one."""
    query = AuditEvent.select().where(AuditEvent.action == OPENED)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    reviews = _reviews(desk)
    reasons: dict[int, str] = {}
    glass: dict[tuple[str, str], int] | None = None
    out = []
    for e in query.order_by(AuditEvent.seq.desc()):
        d = audit.details(desk, e) or {}
        if not d and audit.destroyed(desk, e):
            glass = _first_glass() if glass is None else glass
            out.append(_destroyed_opening(e, glass, reviews))
            continue
        grant = d.get("grant")
        if isinstance(grant, int) and grant not in reasons:
            granted = AuditEvent.get_or_none(AuditEvent.seq == grant)
            reasons[grant] = ((audit.details(desk, granted) or {}).get("reason", "")
                              if granted is not None and granted.action == BREAK_GLASS else "")
        mark, note = reviews.get(e.seq, (None, {}))
        out.append(Opening(
            seq=e.seq, at=e.at, user=e.user_name, patient=e.patient, purpose=str(d.get("purpose") or ""),
            need=str(d.get("need") or ""), via=str(d.get("via") or ("document" if d.get("document") else "")),
            reason=reasons.get(grant, "") if isinstance(grant, int) else "",
            expires=datetime.datetime.fromisoformat(d["expires"]) if d.get("expires") else None,
            reviewed_by=mark.user_name if mark else "", reviewed_at=mark.at if mark else None,
            note=str(note.get("note", ""))))
    return out


def _first_glass() -> dict[tuple[str, str], int]:
    """(user, patient uuid) -> the seq of their first break-glass event: plain columns, readable after a purge."""
    query = (AuditEvent.select(AuditEvent.user_name, AuditEvent.patient, fn.MIN(AuditEvent.seq))
             .where(AuditEvent.action == BREAK_GLASS).group_by(AuditEvent.user_name, AuditEvent.patient))
    return {(user, patient): seq for user, patient, seq in query.tuples()}


def _destroyed_opening(e: AuditEvent, glass: dict[tuple[str, str], int],
                       reviews: dict[int, tuple[AuditEvent, dict]]) -> Opening:
    """An opening of a record since purged: its purpose, need and reason went with the patient's key. The chain still
    says who opened which record when; an opening by someone who had broken the glass on that record before stays
    queued (it may have been under the glass), so a purge never takes a use waiting for review off the queue."""
    first = glass.get((e.user_name, e.patient))
    mark, note = reviews.get(e.seq, (None, {}))
    return Opening(seq=e.seq, at=e.at, user=e.user_name, patient=e.patient, purpose="",
                   need="break_glass" if first is not None and first < e.seq else "", via="", reason="",
                   expires=None, reviewed_by=mark.user_name if mark else "", reviewed_at=mark.at if mark else None,
                   note=str(note.get("note", "")), destroyed=True)


def review_queue(desk: Desk) -> list[Opening]:
    """The openings that wait for a supervisor's review, oldest first (the longest waiting on top)."""
    return sorted((o for o in restricted_openings(desk) if o.open), key=lambda o: o.seq)


def age(since: datetime.datetime, now_: datetime.datetime | None = None) -> str:
    """How long ago, as a queue says it: "40 min", "5 h", "2 d 3 h"."""
    minutes = max(0, int(((now_ or clock.now()) - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 24 else f"{hours // 24} d {hours % 24} h"


def mark_reviewed(desk: Desk, actor, seq: int, note: str) -> int:
    """A supervisor marks one queued opening reviewed, with a note: the one write a supervisor makes, an append to
    the audit chain (their database connection refuses every other write). Never one's own opening, never twice."""
    actor.require("supervisor")
    event = AuditEvent.get_or_none(AuditEvent.seq == seq)
    if event is None or event.action != OPENED or not audit.authentic(desk, event):
        raise DeskError(f"audit event {seq} is not an opening of a restricted record")
    if (audit.details(desk, event) or {}).get("need") in NEEDS:
        raise DeskError("that opening was by a standing need: it is not queued for review")
    if event.user_name == actor.user_name:
        raise DeskError("that opening is your own: another supervisor reviews it")
    done = _reviews(desk).get(seq)
    if done is not None:
        raise DeskError(f"already reviewed by {done[0].user_name} on {when(done[0].at, desk.config.zone)}")
    problem = check_reason(note)
    if problem:
        raise DeskError(problem.replace("reason", "note"))
    with desk.audit_db.atomic():
        return audit.append(desk, actor, REVIEWED, object=f"audit:{seq}", patient=event.patient,
                            details={"note": note.strip()})
