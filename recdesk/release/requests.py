"""The request log: release-of-information requests from intake to released packet and logged disclosure.

A request (who asks, for what, under which legal process) may cover several patients; each patient gets a
Release with its own authorization, clock, packet and disclosure. Every decision goes through
`rules.check`, the same validator `recdesk roi check` runs. Requester details are sealed under the desk key;
authorizations and disclosures under the patient's key.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path

from recdesk import reference
from recdesk.desk import Desk
from recdesk.documents import filing
from recdesk.errors import DeskError
from recdesk.patients import registry
from recdesk.patients.registry import decrypt
from recdesk.release import rules
from recdesk.shapes import Choice, Day, InputError, Items, Mapping, Record, Text, read_json
from recdesk.vault import audit, crypto, seals
from recdesk.vault.models import (
    AuditEvent,
    Authorization,
    Disclosure,
    Document,
    Patient,
    Release,
    ReleaseEvent,
    ReleaseRequest,
    now,
)

STATUSES = ("received", "validating", "on_hold", "in_progress", "qa", "released", "denied", "withdrawn")
OPEN = ("received", "validating", "on_hold", "in_progress", "qa")
CLOSED = ("released", "denied", "withdrawn")
# status -> the statuses a clerk may move it to by hand (building a packet and releasing have their own calls)
MOVES = {
    "received": ("validating",),
    "validating": ("on_hold", "in_progress"),
    "on_hold": ("in_progress", "denied", "withdrawn"),
    "in_progress": ("on_hold", "qa", "denied", "withdrawn"),
    "qa": ("in_progress", "released", "withdrawn"),
}
MANUAL_HOLD = "held by a clerk: the reason is in the history"  # typed reasons are sealed in the history
AGING = ((0, 10, "0-10 days"), (11, 20, "11-20 days"), (21, 30, "21-30 days"), (31, 10_000, "over 30 days"))
LETTER_KINDS = ("acknowledgement", "extension_notice", "deficiency", "denial", "fee_estimate")


def today() -> datetime.date:
    return datetime.date.today()


def state_of(desk: Desk, request_json: dict | None = None) -> str:
    """The jurisdiction whose clocks apply: the request's own (`"state": "CA"`), else the site's [roi] state."""
    own = str((request_json or {}).get("state") or "").strip().upper()
    return own or desk.config.roi.state


def facility(desk: Desk) -> str:
    return desk.config.roi.facility


# --- the request as entered ----------------------------------------------------------------------------------

MRN = Text(32, required=True, pattern="[0-9A-Za-z-]+", hint="an MRN (digits, letters or hyphens)")
# `roi import`'s file: the `roi check` contract (as_of may only be today) plus who the release is for and where.
IMPORT = Record(required=True, fields={
    **rules.CONTRACT.fields,
    "as_of": Day(),
    "authorizations": Mapping(key=MRN, value=rules.AUTHORIZATION),
    "patients": Items(MRN, required=True),
    "requester_address": Text(1000, lines=True),
    "delivery": Choice(rules.DELIVERIES, default="paper"),
    "authorization_scan": Text(32, pattern="[0-9a-f]{32}", hint="a filed document's id (32 hex digits)"),
})


@dataclass
class RequestForm:
    """What a clerk enters (the screen) or a file holds (`roi import`): the `roi check` JSON plus who and where."""

    request: dict  # the contract's "request" object
    authorization: dict | None = None  # the contract's "authorization" object (for every patient unless below)
    authorizations: dict[str, dict | None] = field(default_factory=dict)  # MRN -> that patient's authorization
    patients: list[str] = field(default_factory=list)  # MRNs
    requester_address: str = ""
    delivery: str = "paper"
    authorization_scan: str = ""  # uuid of the scanned authorization (a filed document)

    @classmethod
    def from_json(cls, doc) -> RequestForm:
        """The import form (IMPORT) read and checked whole before anything is written; InputError names the path."""
        form = IMPORT.read(doc, "")
        if form["as_of"] is not None and form["as_of"] != today():
            # The hold decision is taken on the day the request is logged, and the log re-checks it every day
            # after: a verdict for another day would hold (or pass) a release on a date that is not the release's.
            raise InputError("as_of", f"{form['as_of']} is not today: a request is checked on the day it is logged; "
                                      "remove as_of (use `recdesk roi check` for a verdict on another day)")
        patients = form["patients"]
        if len(set(patients)) != len(patients):
            raise InputError("patients", "an MRN is listed twice: list each patient once")
        for mrn in form["authorizations"]:
            if mrn not in patients:
                raise InputError(f"authorizations.{mrn}", "is not one of the patients listed: add the MRN to "
                                                          "patients or remove its authorization")
        return cls(request=doc["request"], authorization=doc.get("authorization"),
                   authorizations=doc.get("authorizations") or {}, patients=patients,
                   requester_address=form["requester_address"], delivery=form["delivery"],
                   authorization_scan=form["authorization_scan"])

    def read(self) -> tuple[rules.Request, dict[str, rules.Authorization | None]]:
        req = rules.read_request(self.request)
        auths = {mrn: rules.read_authorization(self.authorization_for(mrn), "authorization" if mrn not in
                                                  self.authorizations else f"authorizations.{mrn}")
                 for mrn in self.patients}
        return req, auths

    def authorization_for(self, mrn: str) -> dict | None:
        return self.authorizations.get(mrn, self.authorization)



# --- reading back ------------------------------------------------------------------------------------------------


@dataclass
class ReleaseView:
    """One release as the request log shows it (decrypted; callers audit the view)."""

    release: Release
    request: ReleaseRequest
    patient_uuid: str
    mrn: str
    patient_name: str
    requester_name: str
    requester_address: str
    request_json: dict
    authorization_json: dict | None
    status: str
    due: datetime.date
    verdict: rules.Verdict

    @property
    def days_open(self) -> int:
        return (today() - self.request.received_on).days

    @property
    def bucket(self) -> str:
        return aging_bucket(self.days_open)


def aging_bucket(days: int) -> str:
    for low, high, label in AGING:
        if low <= days <= high:
            return label
    return AGING[0][2]


def _request_fields(desk: Desk, r: ReleaseRequest) -> tuple[str, str, dict]:
    k = desk.desk_key
    name = crypto.open_text(k, "release_request", "requester_name", r.uuid, r.requester_name_enc) or ""
    address = crypto.open_text(k, "release_request", "requester_address", r.uuid, r.requester_address_enc) or ""
    details = json.loads(crypto.open_text(k, "release_request", "details", r.uuid, r.details_enc) or "{}")
    # The row's own columns say who asked, when and why, so a request logged with sparse details still reads.
    base = {"received": r.received_on.isoformat(), "requester_type": r.requester_type, "purpose": r.purpose,
            "requester_name": name}
    if r.legal_type and not details.get("legal_process"):
        base["legal_process"] = {"type": r.legal_type}
    return name, address, base | details


def _authorization(desk: Desk, release: Release) -> Authorization | None:
    return (Authorization.select().where(Authorization.release == release.id)
            .order_by(Authorization.id.desc()).first())


def _authorization_json(desk: Desk, release: Release) -> dict | None:
    row = _authorization(desk, release)
    if row is None:
        return None
    text = crypto.open_text(desk.dek(release.patient), "authorization", "elements", row.uuid, row.elements_enc)
    return json.loads(text) if text else None


def verdict_of(desk: Desk, request_json: dict, authorization_json: dict | None, release: Release,
               as_of: datetime.date | None = None) -> rules.Verdict:
    req = rules.read_request({**request_json, "extension_notice_sent": (
        release.extension_notice_on.isoformat() if release.extension_notice_on else None)})
    auth = rules.read_authorization(authorization_json)
    return rules.check(as_of or today(), req, auth, home=desk.config.home, state=state_of(desk, request_json))


def _check_sealed(desk: Desk, release: Release) -> None:
    """The rows the validator's verdict rests on are as recdesk wrote them (a purpose, date or revocation
    changed by hand in the database would change what may be released)."""
    seals.check(desk, release)
    seals.check_where(desk, ReleaseRequest, ReleaseRequest.id == release.request_id)
    seals.check_where(desk, Authorization, Authorization.release == release.id)
    seals.check_where(desk, Patient, Patient.id == release.patient_id)


def view(desk: Desk, release: Release, as_of: datetime.date | None = None) -> ReleaseView:
    request = release.request
    name, address, details = _request_fields(desk, request)
    auth = _authorization_json(desk, release)
    patient = decrypt(desk, release.patient)
    verdict = verdict_of(desk, details, auth, release, as_of)
    return ReleaseView(release, request, patient.uuid, patient.mrn, patient.display_name, name, address, details,
                       auth, release.status, release.extended_due_on or release.due_on, verdict)


def get(desk: Desk, actor, release_uuid: str) -> ReleaseView:
    release = Release.get_or_none(Release.uuid == release_uuid)
    if release is None:
        raise DeskError(f"no release {release_uuid}: it may have been withdrawn; reopen the request log")
    v = view(desk, release)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "roi.view", object=f"release:{release.uuid}", patient=v.patient_uuid)
    return v


def queue(desk: Desk, actor, *, include_closed: bool = False, limit: int = 500) -> list[ReleaseView]:
    """Open releases, the most urgent first (due date), with their aging; the view is audited."""
    q = Release.select(Release, ReleaseRequest).join(ReleaseRequest)
    if not include_closed:
        q = q.where(Release.status.in_(OPEN))
    rows = list(q.order_by(Release.due_on, Release.id).limit(limit))
    views = [view(desk, r) for r in rows]
    views.sort(key=lambda v: (v.status in CLOSED, v.due, v.release.id))
    with desk.audit_db.atomic():
        audit.append_many(desk, actor, [audit.Event("roi.queue.view", object=f"release:{v.release.uuid}",
                                                    patient=v.patient_uuid) for v in views] or
                          [audit.Event("roi.queue.view", object="release_queue")])
    return views


def aging(desk: Desk, as_of: datetime.date | None = None) -> dict[str, int]:
    """Open releases per aging bucket and how many are past due: counts only, no PHI (the review screen)."""
    as_of = as_of or today()
    out = {label: 0 for _, _, label in AGING} | {"past due": 0}
    for r in Release.select(Release, ReleaseRequest).join(ReleaseRequest).where(Release.status.in_(OPEN)):
        out[aging_bucket((as_of - r.request.received_on).days)] += 1
        if (r.extended_due_on or r.due_on) < as_of:
            out["past due"] += 1
    return out


def history(desk: Desk, release: Release) -> list[dict]:
    k = desk.desk_key
    return [{"at": e.at, "kind": e.kind, "status": e.status, "by": e.by_user.name if e.by_user_id else "",
             "document": e.document.uuid if e.document_id else "",
             "note": crypto.open_text(k, "release_event", "note", event_ref(e), e.note_enc) or ""}
            for e in ReleaseEvent.select().where(ReleaseEvent.release == release.id).order_by(ReleaseEvent.id)]


def event_ref(e: ReleaseEvent) -> str:
    return f"{e.release_id}:{e.at.isoformat()}:{e.kind}"


@dataclass(frozen=True)
class ReleaseFacts:
    """What the request log shows of a release beside its ReleaseView, in plain values (no rows for a screen)."""

    uuid: str
    received_on: datetime.date
    delivery: str
    extended: bool
    hold_reason: str
    has_packet: bool
    packet_encrypted: bool  # a packet password is on file (electronic delivery)


def facts(v: ReleaseView) -> ReleaseFacts:
    r = v.release
    return ReleaseFacts(r.uuid, v.request.received_on, v.request.delivery, r.extended_due_on is not None,
                        r.hold_reason or "", r.packet_id is not None, r.packet_password_enc is not None)


def _release(release_uuid: str) -> Release:
    release = Release.get_or_none(Release.uuid == release_uuid)
    if release is None:
        raise DeskError(f"no release {release_uuid}: it may have been withdrawn; reopen the request log")
    return release


def check_again(desk: Desk, actor, release_uuid: str) -> rules.Verdict:
    """validate(), for a release named by its uuid (the request log's V)."""
    return validate(desk, actor, _release(release_uuid))


def history_of(desk: Desk, actor, release_uuid: str) -> list[dict]:
    """history(), for a release named by its uuid."""
    return history(desk, _release(release_uuid))


def packet_pdf(desk: Desk, actor, release_uuid: str) -> bytes:
    """The release's built packet, to print; the view is audited (filing.read_document)."""
    release = _release(release_uuid)
    if release.packet_id is None:
        raise DeskError("this request has no packet yet: B builds it")
    return filing.read_document(desk, actor, Document.get_by_id(release.packet_id))


def letter_pdf(desk: Desk, actor, release_uuid: str, document_uuid: str) -> bytes:
    """One of the letters drafted for this release, to print; the view is audited (filing.read_document)."""
    release = _release(release_uuid)
    doc = (Document.select().join(ReleaseEvent, on=ReleaseEvent.document == Document.id)
           .where((ReleaseEvent.release == release.id) & (Document.uuid == document_uuid)).first())
    if doc is None:
        raise DeskError(f"document {document_uuid} is not a letter of this request")
    return filing.read_document(desk, actor, doc)


def _event(desk: Desk, actor, release: Release, kind: str, note: str = "", document: Document | None = None) -> None:
    at = now()
    e = ReleaseEvent(release=release, at=at, kind=kind, status=release.status, by_user=actor.user_id,
                     document=document)
    e.note_enc = crypto.seal(desk.desk_key, "release_event", "note", event_ref(e), note) if note else None
    e.save()


# --- logging a request ------------------------------------------------------------------------------------------


@dataclass
class Logged:
    """What logging a request did: its releases, and whether an earlier run had already logged it (a rerun)."""

    releases: list[Release]
    before: bool = False


class _LoggedBefore(Exception):
    """Rolls a rerun's writes back: the request under its key is on the desk already."""

    def __init__(self, request_uuid: str):
        super().__init__(request_uuid)
        self.request_uuid = request_uuid


def log_request(desk: Desk, actor, form: RequestForm) -> list[Release]:
    """Record the request and one release per patient, validate each, and hold those that cannot go out
    (drafting the deficiency letter). All or nothing: one unknown MRN and nothing is written."""
    return _log(desk, actor, form).releases


def _log(desk: Desk, actor, form: RequestForm, key: str = "") -> Logged:
    """log_request in one transaction, so a kill leaves no release unvalidated; with a request key, a request
    logged before under that key is found and not logged twice."""
    actor.require("clerk", "manager")
    req, auths = form.read()
    patients = [(mrn, registry.find_by_mrn(desk, mrn)) for mrn in form.patients]
    if len({p.id for _, p in patients}) != len(patients):
        raise DeskError("the same patient is listed twice on this request: list each MRN once")
    scan = None
    if form.authorization_scan:
        scan = Document.get_or_none((Document.uuid == form.authorization_scan) & (Document.status == "filed"))
        if scan is None:
            raise DeskError(f"no filed document {form.authorization_scan} for the authorization's scanned copy")
    numbers = rules.clocks(desk.config.home, state_of(desk, form.request))
    due = rules.due_date(req, numbers).due
    releases = []
    r = ReleaseRequest(requester_type=req.requester_type, received_on=req.received, purpose=req.purpose,
                       delivery=form.delivery, legal_type=req.legal_type, entered_by=actor.user_id)
    try:
        with desk.write():
            if key:
                _claim(desk, actor, key, r.uuid)
            k = desk.desk_key
            r.requester_name_enc = crypto.seal(k, "release_request", "requester_name", r.uuid, req.requester_name)
            r.requester_address_enc = crypto.seal(k, "release_request", "requester_address", r.uuid,
                                                  form.requester_address)
            r.details_enc = crypto.seal(k, "release_request", "details", r.uuid, json.dumps(form.request))
            r.save()
            seals.reseal(desk, ReleaseRequest, ReleaseRequest.id == r.id)
            for mrn, patient in patients:
                release = Release.create(request=r, patient=patient, status="received", due_on=due)
                seals.reseal(desk, Release, Release.id == release.id)
                _event(desk, actor, release, "status", "request logged")
                auth = form.authorization_for(mrn)
                if auth is not None:  # the scanned copy is linked to its own patient's authorization only
                    _save_authorization(desk, release, patient, auth, auths[mrn],
                                        scan if scan is not None and scan.patient_id == patient.id else None)
                audit.append(desk, actor, "roi.request.log", object=f"release:{release.uuid}", patient=patient.uuid,
                             details={"purpose": req.purpose, "requester_type": req.requester_type,
                                      "due": due.isoformat()})
                releases.append(release)
            for release in releases:
                validate(desk, actor, release)
    except _LoggedBefore as before:
        return _logged_before(desk, actor, before.request_uuid)
    return Logged([Release.get_by_id(r.id) for r in releases])


def request_key(desk: Desk, doc: dict) -> str:
    """The import key of a request file: an HMAC of its canonical JSON (as_of aside) under a desk sub-key, so
    the same request is recognised whatever its spacing or key order, and the key says nothing about it."""
    canonical = json.dumps({k: v for k, v in doc.items() if k != "as_of"}, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=True)
    return hmac.new(desk.master.sub("roi-import"), canonical.encode(), hashlib.sha256).hexdigest()


def _claim(desk: Desk, actor, key: str, request_uuid: str) -> None:
    """Claim the key in the audit chain inside the import's transaction; an earlier claim means the request is
    logged already. The append takes the chain's lock first, so two runs of one file never both pass."""
    where = f"roi.import:{key}"
    seq = audit.append(desk, actor, "roi.import", object=where, details={"request": request_uuid})
    earlier = (AuditEvent.select().where((AuditEvent.action == "roi.import") & (AuditEvent.object == where)
                                         & (AuditEvent.seq < seq)).order_by(AuditEvent.seq).first())
    if earlier is not None:
        raise _LoggedBefore((audit.details(desk, earlier) or {})["request"])


def _logged_before(desk: Desk, actor, request_uuid: str) -> Logged:
    r = ReleaseRequest.get(ReleaseRequest.uuid == request_uuid)
    releases = list(Release.select().where(Release.request == r.id).order_by(Release.id))
    with desk.write():
        audit.append(desk, actor, "roi.import.again", object=f"release_request:{r.uuid}")
    return Logged(releases, before=True)


def _save_authorization(desk: Desk, release: Release, patient: Patient, raw: dict,
                        parsed: rules.Authorization | None, scan: Document | None) -> Authorization:
    a = Authorization(patient=patient, release=release, kind=_auth_kind(parsed), scan=scan,
                      signed_on=parsed.signed_on if parsed else None,
                      expires_on=parsed.expiration.date if parsed and parsed.expiration else None,
                      revoked_on=parsed.revoked_on if parsed else None)
    dek = desk.dek(patient)
    a.elements_enc = crypto.seal(dek, "authorization", "elements", a.uuid, json.dumps(raw))
    if parsed and parsed.expiration and parsed.expiration.event:
        a.expiration_event_enc = crypto.seal(dek, "authorization", "expiration_event", a.uuid,
                                             parsed.expiration.event)
    a.save()
    seals.reseal(desk, Authorization, Authorization.id == a.id)
    return a


def _auth_kind(parsed: rules.Authorization | None) -> str:
    if parsed is None:
        return "hipaa"
    if parsed.part2_consent:
        return "part2"
    if "psychotherapy_notes" in parsed.categories:
        return "psychotherapy"
    if "hiv" in parsed.categories:
        return "hiv_ny"
    return "hipaa"


def _set_status(desk: Desk, actor, release: Release, status: str, note: str = "", *, hold_reason: str = "",
                document: Document | None = None) -> None:
    """Move a release on, only from the status it was read in (two clerks never both move it)."""
    changes = {"status": status, "hold_reason": hold_reason[:200]}
    if status in CLOSED:
        changes |= {"closed_at": now(), "closed_by": actor.user_id}
    seals.check(desk, release)  # a status written into the database by hand moves nothing on
    moved = Release.update(**changes).where((Release.id == release.id) & (Release.status == release.status)).execute()
    if moved != 1:
        raise DeskError("someone else changed this release just now: reopen it and look again")
    seals.reseal(desk, Release, Release.id == release.id)
    before = release.status
    release.status, release.hold_reason = status, changes["hold_reason"]
    _event(desk, actor, release, "status", note, document)
    audit.append(desk, actor, f"roi.status.{status}", object=f"release:{release.uuid}",
                 patient=release.patient.uuid, details={"from": before, "note": note[:200]})


def validate(desk: Desk, actor, release: Release, as_of: datetime.date | None = None) -> rules.Verdict:
    """Run the validator; hold the release (with a drafted deficiency letter) or let it go on."""
    actor.require("clerk", "manager")
    release = Release.get_by_id(release.id)
    _check_sealed(desk, release)
    v = view(desk, release, as_of)
    with desk.write():
        if release.status == "received":
            _set_status(desk, actor, release, "validating", "validator run")
        if release.status not in ("validating", "on_hold", "in_progress"):
            return v.verdict
        if release.status == "on_hold" and release.hold_reason == MANUAL_HOLD:
            return v.verdict  # a clerk's hold (identity not verified, ...) is lifted by a clerk, not the validator
        if v.verdict.releasable:
            if release.status != "in_progress":
                _set_status(desk, actor, release, "in_progress", "the validator passed it")
        else:
            reason = "; ".join(f"{p.code} {p.field}" for p in v.verdict.problems)
            if release.status != "on_hold" or release.hold_reason != reason[:200]:
                _set_status(desk, actor, release, "on_hold", "the validator found problems", hold_reason=reason)
                _letter(desk, actor, release, v, "deficiency")  # once per new set of problems, not per check
    return v.verdict


def update_authorization(desk: Desk, actor, release_uuid: str, raw: dict | None) -> rules.Verdict:
    """A corrected or newly received authorization replaces the one on file; the release is re-validated."""
    actor.require("clerk", "manager")
    parsed = rules.read_authorization(raw)
    release = Release.get(Release.uuid == release_uuid)
    if release.status in CLOSED:
        raise DeskError(f"this release is {release.status}: the authorization can no longer change")
    with desk.write():
        if release.status == "qa":  # e.g. a revocation arrives while the packet waits: it is not sent as built
            _set_status(desk, actor, release, "in_progress", "authorization changed: rebuild the packet")
        old = _authorization(desk, release)
        if raw is not None:
            _save_authorization(desk, release, release.patient, raw, parsed, old.scan if old else None)
        if old is not None:
            seals.check(desk, old)  # never re-seal a row that was changed by hand
            old.release = None  # kept (A10) but no longer the one this release rests on
            old.save()
            seals.reseal(desk, Authorization, Authorization.id == old.id)
        _event(desk, actor, release, "note", "authorization updated")
        audit.append(desk, actor, "roi.authorization.update", object=f"release:{release.uuid}",
                     patient=release.patient.uuid)
    return validate(desk, actor, release)


def link_scan(desk: Desk, actor, release_uuid: str, document_uuid: str) -> None:
    """Link the scanned, signed authorization (a document filed to the same patient) to the one on file."""
    actor.require("clerk", "manager")
    release = Release.get(Release.uuid == release_uuid)
    auth = _authorization(desk, release)
    if auth is None:
        raise DeskError("no authorization is on file for this request: enter it first (A)")
    doc = Document.get_or_none((Document.uuid == document_uuid) & (Document.status == "filed"))
    if doc is None or doc.patient_id != release.patient_id:
        raise DeskError("the scanned authorization must be a document filed to this patient")
    with desk.write():
        seals.check(desk, auth)
        Authorization.update(scan=doc.id).where(Authorization.id == auth.id).execute()
        seals.reseal(desk, Authorization, Authorization.id == auth.id)
        _event(desk, actor, release, "note", "scanned authorization linked", doc)
        audit.append(desk, actor, "roi.authorization.scan", object=f"release:{release.uuid}",
                     patient=release.patient.uuid, details={"document": doc.uuid})


def move(desk: Desk, actor, release_uuid: str, status: str, note: str = "") -> None:
    """A clerk's hand move (hold with a reason, take off hold, withdraw)."""
    actor.require("clerk", "manager")
    release = Release.get(Release.uuid == release_uuid)
    _check_sealed(desk, release)  # the verdict that takes it off hold rests on these rows
    if status not in MOVES.get(release.status, ()):
        raise DeskError(f"a release that is {release.status.replace('_', ' ')} cannot be made "
                        f"{status.replace('_', ' ')}")
    if status == "on_hold" and not note.strip():
        raise DeskError("say why the release is on hold (the requester's letter names it)")
    if status == "in_progress":
        v = view(desk, release)
        if not v.verdict.releasable:
            raise DeskError("the validator still finds problems: " + "; ".join(
                f"{p.code} {p.message}" for p in v.verdict.problems[:2]))
    with desk.write():
        _set_status(desk, actor, release, status, note, hold_reason=MANUAL_HOLD if status == "on_hold" else "")


def extend(desk: Desk, actor, release_uuid: str, reason: str, on: datetime.date | None = None) -> datetime.date:
    """The one extension (R1/D3): an extension notice inside the first period; returns the new due date."""
    actor.require("clerk", "manager")
    on = on or today()
    release = Release.get(Release.uuid == release_uuid)
    if release.status in CLOSED:
        raise DeskError(f"this request is {release.status}: it has no clock to extend")
    if release.extension_notice_on is not None:
        raise DeskError(f"this request was already extended on {release.extension_notice_on}: only one extension "
                        "is allowed")
    if not reason.strip():
        raise DeskError("an extension notice states the reasons for the delay: enter them")
    v = view(desk, release)
    req = rules.read_request({**v.request_json, "extension_notice_sent": on.isoformat()})
    due = rules.due_date(req, rules.clocks(desk.config.home, state_of(desk, v.request_json)))
    if req.purpose not in ("individual_access", "accounting"):
        raise DeskError("only access and accounting requests have a legal extension: agree a new date with the "
                        "requester instead")
    if not due.extended:
        raise DeskError(due.problem.message if due.problem else "this request cannot be extended")
    with desk.write():
        seals.check(desk, release)
        changed = (Release.update(extension_notice_on=on, extended_due_on=due.due)
                   .where((Release.id == release.id) & Release.extension_notice_on.is_null()
                          & Release.status.in_(OPEN)).execute())
        if changed != 1:
            raise DeskError("this request was just extended or closed by someone else: reopen it and look again")
        seals.reseal(desk, Release, Release.id == release.id)
        release.extension_notice_on, release.extended_due_on = on, due.due
        _event(desk, actor, release, "note", f"extended to {due.due}: {reason}")
        audit.append(desk, actor, "roi.extend", object=f"release:{release.uuid}", patient=release.patient.uuid,
                     details={"due": due.due.isoformat()})
        _letter(desk, actor, release, view(desk, release), "extension_notice",
                {"reasons": reason, "new_due": due.due})
    return due.due


def deny(desk: Desk, actor, release_uuid: str, basis: str, *, determined_by: str = "", reviewer: str = "",
         denied: str = "") -> None:
    """Deny access (R2): a listed basis, a professional's determination when reviewable, a denial letter."""
    actor.require("clerk", "manager")
    release = Release.get(Release.uuid == release_uuid)
    problems = rules.check_denial(basis, denied_by=actor.user_name, determined_by=determined_by, reviewer=reviewer)
    if problems:
        raise DeskError(f"{problems[0].code}: {problems[0].message}")
    if "denied" not in MOVES.get(release.status, ()):
        raise DeskError(f"a release that is {release.status.replace('_', ' ')} cannot be denied")
    words = rules.UNREVIEWABLE.get(basis) or rules.REVIEWABLE[basis]
    review = "reviewable" if basis in rules.REVIEWABLE else "unreviewable"
    with desk.write():
        _letter(desk, actor, release, view(desk, release), "denial", {
            "basis": words, "review": review, "denied": denied or "the records described in your request",
            "released": "We will send you the rest of the records you asked for." if denied else ""})
        _set_status(desk, actor, release, "denied", f"denied: {basis}")


# --- letters -------------------------------------------------------------------------------------------------------


def site_fields(desk: Desk, actor) -> dict:
    """What every letter and certification says about the facility and who signs ([roi] in config.toml)."""
    s = desk.config.roi
    from recdesk.vault.models import User

    user = User.get_or_none(User.id == actor.user_id)
    signer = (user.full_name or user.name) if user else actor.user_name
    return {
        "facility": s.facility, "phone": s.phone or "the number on our letterhead", "signer": signer,
        "signer_title": s.signer_title, "complaint_contact": s.privacy_officer,
        "complaint_address": s.address or s.facility, "complaint_phone": s.phone or "our main number",
        "review_contact": s.privacy_officer, "review_address": s.address or s.facility,
        "custodian": s.custodian or signer, "custodian_title": s.custodian_title, "place": s.city,
        "preparation": s.preparation,
    }


def _letter(desk: Desk, actor, release: Release, v: ReleaseView, kind: str, extra: dict | None = None) -> Document:
    """Draft a letter to the requester as a PDF, filed in the patient's record and linked to the release."""
    from recdesk.pdf import letters

    req = rules.read_request(v.request_json)
    scope = ", ".join(req.doc_types or []) or "the records described in the request"
    if req.scope_from or req.scope_to:
        scope += f" ({req.scope_from or 'the start'} to {req.scope_to or 'date'})"
    fields = site_fields(desk, actor) | {
        "date": today(), "to": [x for x in (v.requester_name, *v.requester_address.splitlines()) if x],
        "requester": v.requester_name or "Requester", "recipient": v.requester_name or "the requester",
        "patient": v.patient_name, "mrn": v.mrn, "received": v.request.received_on, "due": v.due,
        "problems": [f"{p.message} ({p.code})" for p in v.verdict.problems] or ["(none)"],
        "reference": v.release.uuid[:8].upper(), "records": scope,
        "how_to_proceed": "reply to this letter or call us.",
    } | (extra or {})
    pdf = letters.render(kind, fields, desk.config.home)
    title = f"{kind.replace('_', ' ').capitalize()} letter to {fields['requester']}"
    doc = filing.file_document(desk, actor, release.patient, pdf, doc_type="letter", title=title,
                                  pages=_page_count(pdf), service_date=today(), source="generated",
                                  qa_state="passed")
    _event(desk, actor, release, "letter", kind, doc)
    return doc


def letter(desk: Desk, actor, release_uuid: str, kind: str, extra: dict | None = None) -> Document:
    actor.require("clerk", "manager")
    if kind not in LETTER_KINDS:
        raise DeskError(f"no letter {kind!r}: pick one of {', '.join(LETTER_KINDS)}")
    release = Release.get(Release.uuid == release_uuid)
    with desk.write():
        return _letter(desk, actor, release, view(desk, release), kind, extra)


def _page_count(pdf: bytes) -> int:
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


# --- fees (R3) -------------------------------------------------------------------------------------------------------


def fee_estimate(desk: Desk, actor, release_uuid: str, pages: int, *, flat: bool = False,
                 mailed: bool = True) -> tuple[list[rules.FeeLine], int]:
    """The fee lines for this release from the schedule in data/fees.toml, checked (R3, R5) and recorded before
    fulfilment, with a fee-estimate letter."""
    actor.require("clerk", "manager")
    release = Release.get(Release.uuid == release_uuid)
    if release.status in CLOSED:
        raise DeskError(f"this request is {release.status}: no fee to estimate")
    v = view(desk, release)
    schedule = reference.load("fees", desk.config.home)
    access = v.verdict.basis == "individual"
    electronic = release.request.delivery in ("electronic", "portal")
    numbers = rules.clocks(desk.config.home, state_of(desk, v.request_json))
    lines = _fee_lines(schedule, access=access, electronic=electronic, pages=pages, flat=flat,
                       mailed=mailed and not electronic, numbers=numbers)
    problems = rules.check_fees(lines, access=access, electronic=electronic, pages=pages, numbers=numbers)
    if problems:
        raise DeskError(f"{problems[0].code}: {problems[0].message}")
    total = sum(line.cents for line in lines)
    record = {"lines": [line.__dict__ for line in lines], "total_cents": total, "estimated_on": today().isoformat(),
              "pages": pages}
    with desk.write():
        Release.update(fee_json=json.dumps(record)).where(Release.id == release.id).execute()
        _event(desk, actor, release, "fee", f"estimate ${total / 100:.2f} for {pages} pages")
        audit.append(desk, actor, "roi.fee.estimate", object=f"release:{release.uuid}", patient=v.patient_uuid,
                     details={"total_cents": total})
        _letter(desk, actor, release, v, "fee_estimate",
                {"fee_lines": [f"{line.description}: ${line.cents / 100:.2f}" for line in lines],
                 "total": f"${total / 100:.2f}", "pages": str(pages)})
    return lines, total


def _fee_lines(schedule: dict, *, access: bool, electronic: bool, pages: int, flat: bool, mailed: bool,
               numbers: dict) -> list[rules.FeeLine]:
    Line = rules.FeeLine
    if access:
        s = schedule["access"]
        if flat:
            if not electronic:
                raise DeskError("the flat fee is only for electronic copies: choose the cost-based schedule")
            return [Line("flat", "electronic copy, all-inclusive flat fee", int(numbers["flat_fee_cents"]))]
        if electronic:
            lines = [Line("labor", "preparing the electronic copy", int(s["electronic_labor_cents"]))]
        else:
            per_page = int(s["labor_per_page_cents"])
            cap = int(numbers.get("per_page_cap_cents") or 0)
            supplies = int(s["supplies_per_page_cents"])
            if cap and per_page + supplies > cap:  # R5: a state's page cap covers copying and paper together
                per_page, supplies = max(cap - supplies, 0), min(supplies, cap)
            lines = [Line("labor", f"copying {pages} pages", per_page * pages),
                     Line("supplies", f"paper for {pages} pages", supplies * pages)]
    else:
        s = schedule["other"]
        lines = [Line("retrieval", "search and retrieval", int(s["retrieval_cents"])),
                 Line("labor", f"copying {pages} pages", int(s["per_page_cents"]) * pages)]
    if mailed:
        lines.append(Line("postage", "first-class postage", int(schedule["postage_cents"])))
    return lines


# --- packets --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A filed document of the patient, and why it should not simply go out (A8, A9, S1, S2)."""

    uuid: str
    doc_type: str
    title: str
    service_date: datetime.date | None
    pages: int
    flags: list[rules.Flag]
    tags: tuple[str, ...] = ()

    @property
    def blocked(self) -> rules.Flag | None:
        return next((f for f in self.flags if f.blocking), None)


def candidates(desk: Desk, actor, release_uuid: str) -> list[Candidate]:
    """The patient's filed documents, each flagged when out of scope or sensitive; the listing is audited."""
    release = Release.get(Release.uuid == release_uuid)
    v = view(desk, release)
    req = rules.read_request(v.request_json)
    auth = rules.read_authorization(v.authorization_json)
    dek = desk.dek(release.patient)
    out = []
    where = ((Document.patient == release.patient_id) & (Document.status == "filed")
             & (Document.source != "generated"))
    # A type or sensitive tag changed by hand in the database would slip a Part 2 note past its flag.
    seals.check(desk, release.patient)
    seals.check_where(desk, Document, where)
    docs = Document.select().where(where).order_by(Document.service_date, Document.id)
    for d in docs:
        tags = sorted({t for t in (d.sensitive_tags + "," + filing.type_tags(desk, d.doc_type)).split(",") if t})
        title = crypto.open_text(dek, "document", "title", d.uuid, d.title_enc) or d.doc_type
        out.append(Candidate(d.uuid, d.doc_type, title, d.service_date, d.pages,
                             rules.out_of_scope(req, d.doc_type, d.service_date, tags, auth, v.verdict.basis),
                             tuple(tags)))
    with desk.audit_db.atomic():
        audit.append(desk, actor, "roi.candidates.view", object=f"release:{release.uuid}", patient=v.patient_uuid,
                     details={"documents": len(out)})
        _restricted_view(desk, actor, release.patient)
    return out


def _restricted_view(desk: Desk, actor, patient: Patient) -> None:
    """A restricted record's documents or disclosures shown for a release: queued for the supervisor's review like
    any restricted chart opening (purpose: release of information). Call inside an audit transaction."""
    if patient.sensitive:
        audit.append(desk, actor, "chart.open.sensitive", object=f"patient:{patient.uuid}", patient=patient.uuid,
                     details={"purpose": "release"})


def build_packet(desk: Desk, actor, release_uuid: str, selected: list[str], *, confirmed_flags: list[str] = (),
                 pages: dict[str, list[int]] | None = None, as_of: datetime.date | None = None) -> Document:
    """Merge the selected documents into one stamped packet, cover letter first, certification for legal
    requests, redisclosure notices last; encrypt it for electronic delivery; the release goes to QA.

    A flagged document goes in only when its uuid is in `confirmed_flags` (the clerk looked and confirmed);
    the confirmation is audited."""
    from recdesk.release import packets

    actor.require("clerk", "manager")
    release = Release.get(Release.uuid == release_uuid)
    _check_sealed(desk, release)
    if release.status != "in_progress":
        raise DeskError(f"a packet is built for a release in progress; this one is {release.status.replace('_', ' ')}")
    if not selected:
        raise DeskError("select at least one document for the packet")
    v = view(desk, release, as_of)
    if not v.verdict.releasable:
        raise DeskError("the validator finds problems: " + "; ".join(f"{p.code} {p.message}"
                                                                     for p in v.verdict.problems[:2]))
    if (v.verdict.basis == "individual" and v.request_json.get("purpose") != "accounting" and not release.fee_json
            and desk.config.roi.fees):
        raise DeskError("tell the patient the approximate fee before the copy is made (R3): F records the estimate")
    by_uuid = {c.uuid: c for c in candidates(desk, actor, release_uuid)}
    unknown = [u for u in selected if u not in by_uuid]
    if unknown:
        raise DeskError(f"document {unknown[0]} is not a filed document of this patient")
    blocked = [by_uuid[u] for u in selected if by_uuid[u].blocked]
    if blocked:
        c = blocked[0]
        raise DeskError(f"{c.title} cannot go out under this request ({c.blocked.code}: {c.blocked.message}): "
                        "leave it out")
    flagged = [by_uuid[u] for u in selected if by_uuid[u].flags and u not in confirmed_flags]
    if flagged:
        f = flagged[0]
        raise DeskError(f"{f.title} is flagged ({f.flags[0].code}: {f.flags[0].message}): confirm it or leave it out")
    dek = desk.dek(release.patient)
    parts = []
    for u in selected:
        doc = Document.get(Document.uuid == u)
        data = desk.store.read(dek, doc.uuid, doc.blob, doc.sha256)
        parts.append(packets.Part(document_id=u, title=by_uuid[u].title, pdf=data,
                                  pages=(pages or {}).get(u)))
    req = rules.read_request(v.request_json)
    front = [_cover_letter(desk, v, parts)]
    if req.legal_type is not None:
        front.append(_certification(desk, actor, v, parts))
    notices = ["general"]
    # The notices follow what is in the packet, not only what the request named.
    cats = set(req.categories) | {rules.TAG_CATEGORY.get(t, t) for u in selected for t in by_uuid[u].tags}
    if "sud_part2" in cats:
        notices.append("part2")
    if "hiv" in cats:
        notices.append("hiv_ny")
    back = packets.redisclosure_notices(notices, desk.config.home)
    if "sud_part2" in cats and v.verdict.basis != "individual":  # S2: a copy of the consent goes with Part 2
        consent = _authorization(desk, release)
        if consent is None or consent.scan_id is None:
            raise DeskError("Part 2 records go out with a copy of the patient's consent (42 CFR 2.32): file the "
                            "signed consent and link it to this request (A, scanned copy)")
        scan = Document.get_by_id(consent.scan_id)
        back.append(desk.store.read(desk.dek(scan.patient), scan.uuid, scan.blob, scan.sha256))
    prefix = desk.config.roi.bates_prefix + release.uuid[:6].upper() + "-"
    built = packets.build(parts, bates_prefix=prefix, front=front, back=back)
    pdf = built.pdf
    password = None
    if release.request.delivery in ("electronic", "portal"):
        password = packets.new_password()
        pdf = packets.encrypt(pdf, password)
    description = describe(built)
    with desk.write():
        doc = filing.file_document(desk, actor, release.patient, pdf, doc_type="release_packet",
                                      title=f"Release packet {built.bates_first}-{built.bates_last}",
                                      pages=built.pages, service_date=today(), source="generated",
                                      qa_state="pending")
        changes = {"packet": doc.id, "packet_password_enc": (
            crypto.seal(desk.desk_key, "release", "packet_password", release.uuid, password) if password else None)}
        seals.check(desk, release)
        Release.update(**changes).where(Release.id == release.id).execute()
        seals.reseal(desk, Release, Release.id == release.id)
        release.packet = doc
        _set_status(desk, actor, release, "qa", f"packet built: {description}", document=doc)
        audit.append(desk, actor, "roi.packet.build", object=f"document:{doc.uuid}", patient=v.patient_uuid,
                     details={"release": release.uuid, "pages": built.pages, "sha256": doc.sha256,
                              "confirmed_flags": [u for u in selected if by_uuid[u].flags],
                              "encrypted": password is not None,
                              "ranges": [(r.document_id, r.source_pages, r.bates_first, r.bates_last)
                                         for r in built.ranges]})
    return doc


def describe(built) -> str:
    """The disclosure's description, from the packet itself (never retyped): documents, pages, Bates range."""
    parts = [f"{r.title} (document {r.document_id[:8]}, pages {r.source_pages}, {r.bates_first}-{r.bates_last})"
             for r in built.ranges]
    return f"{built.pages} pages, {built.bates_first}-{built.bates_last}: " + "; ".join(parts)


def packet_password(desk: Desk, actor, release_uuid: str) -> str:
    """The packet's password, to be given to the requester apart from the packet (by phone); audited."""
    release = Release.get(Release.uuid == release_uuid)
    if release.packet_password_enc is None:
        raise DeskError("this release's packet is not encrypted (paper delivery)")
    with desk.audit_db.atomic():
        audit.append(desk, actor, "roi.packet.password", object=f"release:{release.uuid}",
                     patient=release.patient.uuid)
    return crypto.open_text(desk.desk_key, "release", "packet_password", release.uuid, release.packet_password_enc)


def _cover_letter(desk: Desk, v: ReleaseView, parts) -> bytes:
    from recdesk.pdf import layout

    lines = [f"- {p.title}" for p in parts]
    return layout.letter(
        facility=facility(desk), date=today(), to_lines=[v.requester_name, *v.requester_address.splitlines()],
        subject=f"Records of {v.patient_name} (MRN {v.mrn}) - reference {v.release.uuid[:8].upper()}",
        paragraphs=["In response to your request received on "
                    f"{v.request.received_on.isoformat()}, we enclose the following records:", *lines,
                    "Each page carries a Bates number. These records are confidential; the notices at the end of "
                    "this packet govern their further disclosure."],
        signature_lines=["Release of Information", facility(desk)])


def _certification(desk: Desk, actor, v: ReleaseView, parts) -> bytes:
    """L5: the custodian's certification from the jurisdiction's template, certifying the record pages produced."""
    from recdesk.release import packets

    state = state_of(desk, v.request_json)
    templates = reference.load("certifications", desk.config.home)
    code = rules.clocks(desk.config.home, state).get("certification", "fre_902_11") if state else "fre_902_11"
    template = templates.get(code)
    if template is None:
        raise DeskError(f"certification template {code!r} is missing from certifications.toml: add it")
    legal = rules.REQUEST.read(v.request_json, "request")["legal_process"] or {}
    return packets.certification(template, site_fields(desk, actor) | {
        "pages": packets.count_pages(parts), "patient": v.patient_name,
        "records": "; ".join(p.title for p in parts), "date": today(),
        "case": legal.get("case") or "In the matter stated in the subpoena",
        "case_number": legal.get("case_number") or "as stated in the subpoena",
        "subpoena_date": legal.get("dated") or "as stated in the subpoena",
        "completeness": "all",
    })


def qa_packet(desk: Desk, actor, release_uuid: str, passed: bool, reason: str = "") -> None:
    """A second look at the packet before it goes: pass leaves it ready to release, fail sends it back."""
    actor.require("clerk", "manager")
    release = Release.get(Release.uuid == release_uuid)
    if release.status != "qa" or release.packet_id is None:
        raise DeskError("this release has no packet waiting for QA")
    if not passed and not reason.strip():
        raise DeskError("say what is wrong with the packet so it can be rebuilt")
    with desk.write():
        _check_sealed(desk, release)
        seals.check_where(desk, Document, Document.id == release.packet_id)
        Document.update(qa_state="passed" if passed else "failed", qa_by=actor.user_id, qa_at=now(),
                        qa_reason="" if passed else "packet QA failed: see the request's history"
                        ).where(Document.id == release.packet_id).execute()
        seals.reseal(desk, Document, Document.id == release.packet_id)
        _event(desk, actor, release, "packet", "QA passed" if passed else f"QA failed: {reason}")
        audit.append(desk, actor, "roi.packet.qa", object=f"release:{release.uuid}", patient=release.patient.uuid,
                     details={"passed": passed})
        if not passed:
            _set_status(desk, actor, release, "in_progress", f"packet QA failed: {reason}")


def release_packet(desk: Desk, actor, release_uuid: str, on: datetime.date | None = None) -> Disclosure:
    """Send it: the disclosure is written from the packet itself (date, recipient, description with document ids
    and page ranges, purpose, basis, packet SHA-256), then the release is closed."""
    actor.require("clerk", "manager")
    on = on or today()
    release = Release.get(Release.uuid == release_uuid)
    if release.status != "qa" or release.packet_id is None:
        raise DeskError("build the packet and have it checked before releasing")
    packet_doc = Document.get_by_id(release.packet_id)
    _check_sealed(desk, release)
    seals.check(desk, packet_doc)
    if packet_doc.qa_state != "passed":
        raise DeskError("the packet has not passed QA: check it (Q) before releasing")
    v = view(desk, release, on)
    if not v.verdict.releasable:  # an authorization can expire or be revoked while the packet waits
        raise DeskError("the validator now finds problems: " + "; ".join(f"{p.code} {p.message}"
                                                                         for p in v.verdict.problems[:2]))
    data = desk.store.read(desk.dek(release.patient), packet_doc.uuid, packet_doc.blob, packet_doc.sha256)
    sha = hashlib.sha256(data).hexdigest()
    description = _packet_description(desk, release)
    req = rules.read_request(v.request_json)
    recipient, address = v.requester_name, v.requester_address
    if req.third_party:  # R4: the patient directed the copy elsewhere
        recipient = req.third_party["recipient"] or recipient
        address = req.third_party["destination"] or address
    with desk.write():
        d = Disclosure(patient=release.patient, release=release, disclosed_on=on, purpose=req.purpose,
                       basis=v.verdict.basis, accountable=v.verdict.accountable, packet_sha256=sha)
        dek = desk.dek(release.patient)
        d.recipient_enc = crypto.seal(dek, "disclosure", "recipient", d.uuid, recipient)
        d.recipient_address_enc = crypto.seal(dek, "disclosure", "recipient_address", d.uuid, address)
        d.description_enc = crypto.seal(dek, "disclosure", "description", d.uuid, description)
        d.save()
        seals.reseal(desk, Disclosure, Disclosure.id == d.id)
        _set_status(desk, actor, release, "released", f"released to {recipient}", document=packet_doc)
        audit.append(desk, actor, "roi.release", object=f"disclosure:{d.uuid}", patient=release.patient.uuid,
                     details={"release": release.uuid, "sha256": sha, "accountable": d.accountable,
                              "basis": d.basis})
    return d


def _packet_description(desk: Desk, release: Release) -> str:
    """The description recorded when the packet was built (the audit event carries its ranges)."""
    e = (ReleaseEvent.select().where((ReleaseEvent.release == release.id) & (ReleaseEvent.kind == "status")
                                     & (ReleaseEvent.status == "qa") & (ReleaseEvent.document == release.packet_id))
         .order_by(ReleaseEvent.id.desc()).first())
    note = crypto.open_text(desk.desk_key, "release_event", "note", event_ref(e), e.note_enc) if e else ""
    return (note or "").removeprefix("packet built: ")


# --- disclosures and the accounting (D1–D5) ---------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureRow:
    uuid: str
    disclosed_on: datetime.date
    recipient: str
    address: str
    description: str
    purpose: str
    basis: str
    accountable: bool
    packet_sha256: str


def disclosures(desk: Desk, patient: Patient, since: datetime.date | None = None,
                until: datetime.date | None = None, *, accountable_only: bool = False) -> list[DisclosureRow]:
    q = Disclosure.select().where(Disclosure.patient == patient.id)
    if since:
        q = q.where(Disclosure.disclosed_on >= since)
    if until:
        q = q.where(Disclosure.disclosed_on <= until)
    if accountable_only:
        q = q.where(Disclosure.accountable == True)  # noqa: E712
    dek = desk.dek(patient)
    # An accountable flag or date changed by hand would hide a disclosure from the patient's accounting.
    seals.check_where(desk, Disclosure, Disclosure.patient == patient.id)
    rows = []
    for d in q.order_by(Disclosure.disclosed_on, Disclosure.id):
        recipient, address, description = (
            crypto.open_text(dek, "disclosure", name, d.uuid, getattr(d, f"{name}_enc")) or ""
            for name in ("recipient", "recipient_address", "description"))
        rows.append(DisclosureRow(d.uuid, d.disclosed_on, recipient, address, description, d.purpose, d.basis,
                                  d.accountable, d.packet_sha256 or ""))
    return rows


# Bases a disclosure made outside the packet flow can rest on (a public-health report, a disclosure by a business
# associate reported to us, an impermissible disclosure found later): each with whether it is accountable.
RECORDED_BASES = {name: b["accountable"] for name, b in rules.BASES.items() if name != "none"} | {
    "impermissible": True}


def record_disclosure(desk: Desk, actor, patient_uuid: str, *, disclosed_on: datetime.date, recipient: str,
                      description: str, purpose: str, basis: str, address: str = "") -> Disclosure:
    """Log a disclosure that did not go out as a packet from this desk (D1): a report made by phone or portal, a
    business associate's disclosure, an impermissible one. Accountable follows from the basis."""
    actor.require("clerk", "manager")
    if basis not in RECORDED_BASES:
        raise DeskError(f"basis {basis!r} must be one of {', '.join(RECORDED_BASES)}")
    if purpose not in rules.PURPOSES:  # a plain column: a code from the list, never typed text
        raise DeskError(f"purpose {purpose!r} must be one of {', '.join(rules.PURPOSES)}")
    if not recipient.strip() or not description.strip():
        raise DeskError("a disclosure names its recipient and describes what was disclosed (D1): fill both in")
    if disclosed_on > today():
        raise DeskError(f"{disclosed_on} is in the future: enter the day it was disclosed")
    patient = Patient.get_or_none(Patient.uuid == patient_uuid)
    if patient is None:
        raise DeskError("no such patient: pick the patient again")
    with desk.write():
        d = Disclosure(patient=patient, disclosed_on=disclosed_on, purpose=purpose[:40], basis=basis,
                       accountable=RECORDED_BASES[basis])
        dek = desk.dek(patient)
        d.recipient_enc = crypto.seal(dek, "disclosure", "recipient", d.uuid, recipient.strip())
        d.recipient_address_enc = crypto.seal(dek, "disclosure", "recipient_address", d.uuid, address.strip())
        d.description_enc = crypto.seal(dek, "disclosure", "description", d.uuid, description.strip())
        d.save()
        seals.reseal(desk, Disclosure, Disclosure.id == d.id)
        audit.append(desk, actor, "roi.disclosure.record", object=f"disclosure:{d.uuid}", patient=patient.uuid,
                     details={"basis": basis, "accountable": d.accountable, "on": disclosed_on.isoformat()})
    return d


def suspend_accounting(desk: Desk, actor, patient_uuid: str, *, agency: str, starts_on: datetime.date,
                       written: bool, ends_on: datetime.date | None = None) -> None:
    """D5: record an agency's statement that the patient's accounting must leave out its disclosures for a time —
    written: for the period it states; oral: at most 30 days unless a written statement follows."""
    actor.require("clerk", "manager")
    if not agency.strip():
        raise DeskError("name the agency or official who asked for the suspension")
    s = rules.Suspension(starts=starts_on, written=written, ends=ends_on)
    if rules.suspension_end(s) < starts_on:
        raise DeskError("the suspension ends before it starts: check the dates")
    patient = Patient.get(Patient.uuid == patient_uuid)
    from recdesk.vault.models import AccountingSuspension

    with desk.write():
        row = AccountingSuspension(patient=patient, starts_on=starts_on, ends_on=ends_on, written=written,
                                   by_user=actor.user_id)
        row.agency_enc = crypto.seal(desk.dek(patient), "accounting_suspension", "agency", row.uuid, agency.strip())
        row.save()
        seals.reseal(desk, AccountingSuspension, AccountingSuspension.id == row.id)
        audit.append(desk, actor, "roi.accounting.suspend", object=f"suspension:{row.uuid}", patient=patient.uuid,
                     details={"written": written, "until": rules.suspension_end(s).isoformat()})


def _suspensions(desk: Desk, patient: Patient) -> dict[str, list[rules.Suspension]]:
    from recdesk.vault.models import AccountingSuspension

    out: dict[str, list[rules.Suspension]] = {}
    dek = desk.dek(patient)
    seals.check_where(desk, AccountingSuspension, AccountingSuspension.patient == patient.id)
    for row in AccountingSuspension.select().where(AccountingSuspension.patient == patient.id):
        agency = crypto.open_text(dek, "accounting_suspension", "agency", row.uuid, row.agency_enc) or ""
        out.setdefault(agency.casefold(), []).append(
            rules.Suspension(starts=row.starts_on, written=row.written, ends=row.ends_on))
    return out


@dataclass
class Accounting:
    patient_name: str
    mrn: str
    window: tuple[datetime.date, datetime.date]
    rows: list[DisclosureRow]
    free: bool
    withheld: int = 0  # disclosures left out while an agency's suspension lasts (D5); never shown to the patient


def accounting(desk: Desk, actor, patient_uuid: str, *, requested_on: datetime.date | None = None,
               since: datetime.date | None = None) -> Accounting:
    """The accounting of disclosures over six years (or less if asked): accountable disclosures only — those to
    the patient, for treatment, payment, operations and under an authorization are exempt (D1, D2). Audited."""
    requested_on = requested_on or today()
    patient = Patient.get(Patient.uuid == patient_uuid)
    details = decrypt(desk, patient)
    window = rules.accounting_window(requested_on, since)
    rows = disclosures(desk, patient, *window, accountable_only=True)
    suspensions = _suspensions(desk, patient)
    shown = [r for r in rows if not rules.withheld_by_suspension(r.recipient.casefold(), requested_on,
                                                                     suspensions)]
    earlier = [e.at.date() for e in audit_events(patient, "roi.accounting.print")]
    free = rules.accounting_is_free(requested_on, earlier)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "roi.accounting.view", object=f"patient:{patient.uuid}", patient=patient.uuid,
                     details={"from": window[0].isoformat(), "to": window[1].isoformat(), "rows": len(rows)})
        _restricted_view(desk, actor, patient)
    return Accounting(details.display_name, details.mrn, window, shown, free, len(rows) - len(shown))


def audit_events(patient: Patient, action: str):
    from recdesk.vault.models import AuditEvent

    return AuditEvent.select().where((AuditEvent.patient == patient.uuid) & (AuditEvent.action == action))


def accounting_pdf(desk: Desk, actor, patient_uuid: str, *, requested_on: datetime.date | None = None,
                   since: datetime.date | None = None) -> bytes:
    """The accounting as a PDF for the patient; printing it counts as delivering one (D4)."""
    from recdesk.pdf import layout

    a = accounting(desk, actor, patient_uuid, requested_on=requested_on, since=since)
    rows = [[r.disclosed_on.isoformat(), "\n".join(x for x in (r.recipient, r.address) if x), r.description,
             f"{r.purpose.replace('_', ' ')} ({rules.BASES.get(r.basis, {}).get('label', r.basis)})"]
            for r in a.rows]
    pdf = layout.table_report(
        title="Accounting of disclosures",
        subtitle_lines=[facility(desk), f"Patient: {a.patient_name}   MRN: {a.mrn}",
                        f"Period: {a.window[0].isoformat()} to {a.window[1].isoformat()}",
                        "Disclosures for treatment, payment, health care operations, to you, or under your "
                        "authorization are not listed (45 CFR 164.528(a)(1))."],
        columns=["Date", "Recipient", "What was disclosed", "Purpose"], rows=rows or [["", "None", "", ""]],
        widths=[22, 45, 80, 45],
        footer_lines=[f"Prepared {today().isoformat()}. " + (
            "No fee: first accounting in 12 months." if a.free else "A cost-based fee applies (notified in advance).")])
    patient = Patient.get(Patient.uuid == patient_uuid)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "roi.accounting.print", object=f"patient:{patient.uuid}", patient=patient.uuid,
                     details={"rows": len(a.rows), "free": a.free})
    return pdf


# --- import ---------------------------------------------------------------------------------------------------------


def import_file(desk: Desk, actor, path: Path | str) -> Logged:
    """`recdesk roi import FILE`: one request (JSON, the `roi check` form plus patients) into the log, once: a rerun
    of the same file (after a kill, or by mistake) finds the request it logged and logs nothing new."""
    doc = read_json(path)
    form = RequestForm.from_json(doc)
    return _log(desk, actor, form, request_key(desk, doc))
