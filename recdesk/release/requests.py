"""The request log: release-of-information requests logged, read back, queued by age, and moved on by hand.

A request (who asks, for what, under which legal process) may cover several patients; each patient gets a
Release with its own authorization, clock, packet and disclosure. Every decision goes through
`rules.check`, the same validator `recdesk roi check` runs. Requester details are sealed under the desk key;
authorizations under the patient's key. The packet is in packets.py, letters in letters.py, fees in fees.py,
disclosures and the accounting in accounting.py; the rows as read back in log.py.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path

import peewee

from recdesk import clock
from recdesk.desk import Desk
from recdesk.errors import DeskError
from recdesk.patients import registry
from recdesk.release import letters, log, rules

# Re-exported for the screens (screens/requests.py, packet.py, accounting.py), demo/builder.py and cli.py until they
# import the modules that now hold these names; nothing else imports them from here.
from recdesk.roles import CHANGERS
from recdesk.shapes import Choice, Day, InputError, Items, Mapping, Record, Text, UnknownKey, known_keys_only, read_json
from recdesk.vault import audit, crypto, seals
from recdesk.vault.models import (
    AuditEvent,
    Authorization,
    Document,
    Patient,
    Release,
    ReleaseRequest,
)

# status -> the statuses a clerk may move it to by hand (building a packet and releasing have their own calls)
MOVES = {
    "received": ("validating",),
    "validating": ("on_hold", "in_progress"),
    "on_hold": ("in_progress", "denied", "withdrawn"),
    "in_progress": ("on_hold", "qa", "denied", "withdrawn"),
    "qa": ("in_progress", "released", "withdrawn"),
}
MANUAL_HOLD = "held by a clerk: the reason is in the history"  # typed reasons are sealed in the history


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
        """The import form (IMPORT) read and checked whole before anything is written; InputError names the path
        (and every key the form does not have: leave those out first with shapes.known_keys_only(lenient=True))."""
        doc, _ = known_keys_only(IMPORT, doc)
        form = IMPORT.read(doc, "")
        if form["as_of"] is not None and form["as_of"] != clock.today():
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


def get(desk: Desk, actor, release_uuid: str) -> log.ReleaseView:
    """One release read back; the view is audited."""
    v = log.view(desk, log.release_row(release_uuid))
    with desk.audit_db.atomic():
        audit.append(desk, actor, "roi.view", object=f"release:{v.uuid}", patient=v.patient_uuid)
    return v


def queue(desk: Desk, actor, *, include_closed: bool = False, limit: int = 500) -> list[log.ReleaseView]:
    """Open releases, the most urgent first (due date), with their aging; the view is audited."""
    q = (Release.select(Release, ReleaseRequest, Document).join(ReleaseRequest).switch(Release)
         .join(Document, peewee.JOIN.LEFT_OUTER, on=(Release.packet == Document.id)))
    if not include_closed:
        q = q.where(Release.status.in_(log.OPEN))
    rows = list(q.order_by(Release.due_on, Release.id).limit(limit))
    pairs = sorted(((r, log.view(desk, r)) for r in rows), key=lambda rv: (rv[1].status in log.CLOSED, rv[1].due,
                                                                           rv[0].id))
    views = [v for _, v in pairs]
    with desk.audit_db.atomic():
        audit.append_many(desk, actor, [audit.Event("roi.queue.view", object=f"release:{v.uuid}",
                                                    patient=v.patient_uuid) for v in views] or
                          [audit.Event("roi.queue.view", object="release_queue")])
    return views


def aging(desk: Desk, as_of: datetime.date | None = None) -> dict[str, int]:
    """Open releases per aging bucket and how many are past due: counts only, no PHI (the review screen)."""
    as_of = as_of or clock.today()
    out = {label: 0 for _, _, label in log.AGING} | {"past due": 0}
    for r in Release.select(Release, ReleaseRequest).join(ReleaseRequest).where(Release.status.in_(log.OPEN)):
        out[log.aging_bucket((as_of - r.request.received_on).days)] += 1
        if (r.extended_due_on or r.due_on) < as_of:
            out["past due"] += 1
    return out


# --- logging a request ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedRelease:
    """One release a request was logged as, in plain values: which, for whom, and where validation left it."""

    uuid: str
    patient_uuid: str
    status: str


def _logged(rows: list[Release]) -> list[LoggedRelease]:
    return [LoggedRelease(r.uuid, r.patient.uuid, r.status) for r in rows]


@dataclass(frozen=True)
class Logged:
    """What logging a request did: its releases, and whether an earlier run had already logged it (a rerun)."""

    releases: list[LoggedRelease]
    before: bool = False
    unknown: tuple[UnknownKey, ...] = ()  # keys of the file left out (`roi import --lenient`), to warn about


class _LoggedBefore(Exception):
    """Rolls a rerun's writes back: the request under its key is on the desk already."""

    def __init__(self, request_uuid: str):
        super().__init__(request_uuid)
        self.request_uuid = request_uuid


def log_request(desk: Desk, actor, form: RequestForm) -> list[LoggedRelease]:
    """Record the request and one release per patient, validate each, and hold those that cannot go out
    (drafting the deficiency letter). All or nothing: one unknown MRN and nothing is written."""
    return _log(desk, actor, form).releases


def _log(desk: Desk, actor, form: RequestForm, key: str = "") -> Logged:
    """log_request in one transaction, so a kill leaves no release unvalidated; with a request key, a request
    logged before under that key is found and not logged twice."""
    actor.require(*CHANGERS)
    req, auths = form.read()
    patients = [(mrn, registry.find_by_mrn(desk, mrn)) for mrn in form.patients]
    if len({p.id for _, p in patients}) != len(patients):
        raise DeskError("the same patient is listed twice on this request: list each MRN once")
    scan = None
    if form.authorization_scan:
        scan = Document.get_or_none((Document.uuid == form.authorization_scan) & (Document.status == "filed"))
        if scan is None:
            raise DeskError(f"no filed document {form.authorization_scan} for the authorization's scanned copy")
    numbers = rules.clocks(desk.config.home, log.state_of(desk, req))
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
                log.record_event(desk, actor, release, "status", "request logged")
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
    return Logged(_logged([Release.get_by_id(r.id) for r in releases]))


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
    return Logged(_logged(releases), before=True)


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


def import_file(desk: Desk, actor, path: Path | str, *, lenient: bool = False) -> Logged:
    """`recdesk roi import FILE`: one request (JSON, the `roi check` form plus patients) into the log, once: a rerun
    of the same file (after a kill, or by mistake) finds the request it logged and logs nothing new. A key the form
    does not have is refused, or, `lenient`, left out and handed back in `unknown`."""
    doc, unknown = known_keys_only(IMPORT, read_json(path), lenient=lenient)
    form = RequestForm.from_json(doc)
    return dataclasses.replace(_log(desk, actor, form, request_key(desk, doc)), unknown=tuple(unknown))


# --- the workflow: validate, authorization, hold, extend, deny, withdraw -----------------------------------------


def validate(desk: Desk, actor, release: Release | str, as_of: datetime.date | None = None) -> rules.Verdict:
    """Run the validator on `as_of` (today); hold the release (with a drafted deficiency letter) or let it go on.
    `release` is its uuid (or, inside the service, its row)."""
    actor.require(*CHANGERS)
    release = log.release_row(release) if isinstance(release, str) else Release.get_by_id(release.id)
    log.check_sealed(desk, release)
    v = log.view(desk, release, as_of)
    with desk.write():
        if release.status == "received":
            log.set_status(desk, actor, release, "validating", "validator run")
        if release.status not in ("validating", "on_hold", "in_progress"):
            return v.verdict
        if release.status == "on_hold" and release.hold_reason == MANUAL_HOLD:
            return v.verdict  # a clerk's hold (identity not verified, ...) is lifted by a clerk, not the validator
        if v.verdict.releasable:
            if release.status != "in_progress":
                log.set_status(desk, actor, release, "in_progress", "the validator passed it")
        else:
            reason = "; ".join(f"{p.code} {p.field}" for p in v.verdict.problems)
            if release.status != "on_hold" or release.hold_reason != reason[:200]:
                log.set_status(desk, actor, release, "on_hold", "the validator found problems", hold_reason=reason)
                letters.draft(desk, actor, release, v, "deficiency")  # once per new set of problems, not per check
    return v.verdict


def update_authorization(desk: Desk, actor, release_uuid: str, raw: dict | None) -> rules.Verdict:
    """A corrected or newly received authorization replaces the one on file; the release is re-validated."""
    actor.require(*CHANGERS)
    parsed = rules.read_authorization(raw)
    release = log.release_row(release_uuid)
    if release.status in log.CLOSED:
        raise DeskError(f"this release is {release.status}: the authorization can no longer change")
    with desk.write():
        if release.status == "qa":  # e.g. a revocation arrives while the packet waits: it is not sent as built
            log.set_status(desk, actor, release, "in_progress", "authorization changed: rebuild the packet")
        old = log.authorization_row(release)
        if raw is not None:
            _save_authorization(desk, release, release.patient, raw, parsed, old.scan if old else None)
        if old is not None:
            seals.check(desk, old)  # never re-seal a row that was changed by hand
            old.release = None  # kept (A10) but no longer the one this release rests on
            old.save()
            seals.reseal(desk, Authorization, Authorization.id == old.id)
        log.record_event(desk, actor, release, "note", "authorization updated")
        audit.append(desk, actor, "roi.authorization.update", object=f"release:{release.uuid}",
                     patient=release.patient.uuid)
    return validate(desk, actor, release)


def link_scan(desk: Desk, actor, release_uuid: str, document_uuid: str) -> None:
    """Link the scanned, signed authorization (a document filed to the same patient) to the one on file."""
    actor.require(*CHANGERS)
    release = log.release_row(release_uuid)
    auth = log.authorization_row(release)
    if auth is None:
        raise DeskError("no authorization is on file for this request: enter it first (A)")
    doc = Document.get_or_none((Document.uuid == document_uuid) & (Document.status == "filed"))
    if doc is None or doc.patient_id != release.patient_id:
        raise DeskError("the scanned authorization must be a document filed to this patient")
    with desk.write():
        seals.check(desk, auth)
        Authorization.update(scan=doc.id).where(Authorization.id == auth.id).execute()
        seals.reseal(desk, Authorization, Authorization.id == auth.id)
        log.record_event(desk, actor, release, "note", "scanned authorization linked", doc)
        audit.append(desk, actor, "roi.authorization.scan", object=f"release:{release.uuid}",
                     patient=release.patient.uuid, details={"document": doc.uuid})


def move(desk: Desk, actor, release_uuid: str, status: str, note: str = "") -> None:
    """A clerk's hand move (hold with a reason, take off hold, withdraw)."""
    actor.require(*CHANGERS)
    release = log.release_row(release_uuid)
    log.check_sealed(desk, release)  # the verdict that takes it off hold rests on these rows
    if status not in MOVES.get(release.status, ()):
        raise DeskError(f"a release that is {release.status.replace('_', ' ')} cannot be made "
                        f"{status.replace('_', ' ')}")
    if status == "on_hold" and not note.strip():
        raise DeskError("say why the release is on hold (the requester's letter names it)")
    if status == "in_progress":
        v = log.view(desk, release)
        if not v.verdict.releasable:
            raise DeskError("the validator still finds problems: " + "; ".join(
                f"{p.code} {p.message}" for p in v.verdict.problems[:2]))
    with desk.write():
        log.set_status(desk, actor, release, status, note, hold_reason=MANUAL_HOLD if status == "on_hold" else "")


def extend(desk: Desk, actor, release_uuid: str, reason: str, as_of: datetime.date | None = None) -> datetime.date:
    """The one extension (R1/D3): an extension notice sent on `as_of` (today), inside the first period; returns
    the new due date."""
    actor.require(*CHANGERS)
    as_of = as_of or clock.today()
    release = log.release_row(release_uuid)
    if release.status in log.CLOSED:
        raise DeskError(f"this request is {release.status}: it has no clock to extend")
    if release.extension_notice_on is not None:
        raise DeskError(f"this request was already extended on {release.extension_notice_on}: only one extension "
                        "is allowed")
    if not reason.strip():
        raise DeskError("an extension notice states the reasons for the delay: enter them")
    v = log.view(desk, release)
    req = dataclasses.replace(v.asked, extension_notice_sent=as_of)
    due = rules.due_date(req, rules.clocks(desk.config.home, log.state_of(desk, req)))
    if req.purpose not in ("individual_access", "accounting"):
        raise DeskError("only access and accounting requests have a legal extension: agree a new date with the "
                        "requester instead")
    if not due.extended:
        raise DeskError(due.problem.message if due.problem else "this request cannot be extended")
    with desk.write():
        seals.check(desk, release)
        changed = (Release.update(extension_notice_on=as_of, extended_due_on=due.due)
                   .where((Release.id == release.id) & Release.extension_notice_on.is_null()
                          & Release.status.in_(log.OPEN)).execute())
        if changed != 1:
            raise DeskError("this request was just extended or closed by someone else: reopen it and look again")
        seals.reseal(desk, Release, Release.id == release.id)
        release.extension_notice_on, release.extended_due_on = as_of, due.due
        log.record_event(desk, actor, release, "note", f"extended to {due.due}: {reason}")
        audit.append(desk, actor, "roi.extend", object=f"release:{release.uuid}", patient=release.patient.uuid,
                     details={"due": due.due.isoformat()})
        letters.draft(desk, actor, release, log.view(desk, release), "extension_notice",
                      {"reasons": reason, "new_due": due.due})
    return due.due


def deny(desk: Desk, actor, release_uuid: str, basis: str, *, determined_by: str = "", reviewer: str = "",
         denied: str = "") -> None:
    """Deny access (R2): a listed basis, a professional's determination when reviewable, a denial letter."""
    actor.require(*CHANGERS)
    release = log.release_row(release_uuid)
    problems = rules.check_denial(basis, denied_by=actor.user_name, determined_by=determined_by, reviewer=reviewer)
    if problems:
        raise DeskError(f"{problems[0].code}: {problems[0].message}")
    if "denied" not in MOVES.get(release.status, ()):
        raise DeskError(f"a release that is {release.status.replace('_', ' ')} cannot be denied")
    words = rules.UNREVIEWABLE.get(basis) or rules.REVIEWABLE[basis]
    review = "reviewable" if basis in rules.REVIEWABLE else "unreviewable"
    with desk.write():
        letters.draft(desk, actor, release, log.view(desk, release), "denial", {
            "basis": words, "review": review, "denied": denied or "the records described in your request",
            "released": "We will send you the rest of the records you asked for." if denied else ""})
        log.set_status(desk, actor, release, "denied", f"denied: {basis}")
