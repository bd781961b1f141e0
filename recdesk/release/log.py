"""The request log as stored: a release read back whole, its history, and the one guarded way its status moves.

A release is read once (`view`): its request and authorization are decrypted and read by the validator's
contract here and nowhere else, so every job on top (requests, letters, fees, packets) works from the same
reading. `set_status` is the only writer of a release's status; `record_event` adds a line to its history.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from recdesk import clock
from recdesk.desk import Desk
from recdesk.errors import DeskError
from recdesk.patients.registry import decrypt
from recdesk.release import rules
from recdesk.vault import audit, crypto, seals
from recdesk.vault.models import (
    Authorization,
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
AGING = ((0, 10, "0-10 days"), (11, 20, "11-20 days"), (21, 30, "21-30 days"), (31, 10_000, "over 30 days"))


def state_of(desk: Desk, asked: rules.Request) -> str:
    """The jurisdiction whose clocks apply: the request's own (`"state": "CA"`), else the site's [roi] state."""
    return asked.state or desk.config.roi.state


def facility(desk: Desk) -> str:
    return desk.config.roi.facility


def aging_bucket(days: int) -> str:
    for low, high, label in AGING:
        if low <= days <= high:
            return label
    return AGING[0][2]


# --- reading back ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseView:
    """One release as the request log shows it, in plain values (decrypted; callers audit the view)."""

    uuid: str
    status: str
    hold_reason: str
    due: datetime.date
    extended: bool  # the one extension (R1/D3) was noticed
    received_on: datetime.date
    delivery: str
    packet_uuid: str | None  # the packet built for it, if any
    packet_encrypted: bool  # its packet has a password to give by phone
    patient_uuid: str
    mrn: str
    patient_name: str
    requester_name: str
    requester_address: str
    request_json: dict  # the request as entered (the form's JSON)
    authorization_json: dict | None
    asked: rules.Request  # the request as the validator reads it, with this release's extension notice
    authorization: rules.Authorization | None  # the authorization on file, as the validator reads it
    verdict: rules.Verdict

    @property
    def days_open(self) -> int:
        return (clock.today() - self.received_on).days

    @property
    def bucket(self) -> str:
        return aging_bucket(self.days_open)


def request_fields(desk: Desk, r: ReleaseRequest) -> tuple[str, str, dict]:
    """(requester name, requester address, the request's JSON) decrypted from the request row."""
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


def authorization_row(release: Release) -> Authorization | None:
    """The authorization this release rests on (the latest entered)."""
    return (Authorization.select().where(Authorization.release == release.id)
            .order_by(Authorization.id.desc()).first())


def authorization_json(desk: Desk, release: Release) -> dict | None:
    row = authorization_row(release)
    if row is None:
        return None
    text = crypto.open_text(desk.dek(release.patient), "authorization", "elements", row.uuid, row.elements_enc)
    return json.loads(text) if text else None


def read_request(request_json: dict, extension_notice_on: datetime.date | None) -> rules.Request:
    """The one reader of a stored request: its JSON as the validator reads it, with the release's extension."""
    return rules.read_request({**request_json, "extension_notice_sent": (
        extension_notice_on.isoformat() if extension_notice_on else None)})


def judge(desk: Desk, asked: rules.Request, authorization: rules.Authorization | None,
          as_of: datetime.date | None = None) -> rules.Verdict:
    """The validator's verdict on a release's request and authorization, on the day `as_of` (today)."""
    return rules.check(as_of or clock.today(), asked, authorization, home=desk.config.home,
                       state=state_of(desk, asked))


def check_sealed(desk: Desk, release: Release) -> None:
    """The rows the validator's verdict rests on are as recdesk wrote them (a purpose, date or revocation
    changed by hand in the database would change what may be released)."""
    seals.check(desk, release)
    seals.check_where(desk, ReleaseRequest, ReleaseRequest.id == release.request_id)
    seals.check_where(desk, Authorization, Authorization.release == release.id)
    seals.check_where(desk, Patient, Patient.id == release.patient_id)


def view(desk: Desk, release: Release, as_of: datetime.date | None = None) -> ReleaseView:
    """The release read whole, its verdict judged on `as_of` (today). Not audited: callers audit the view."""
    request = release.request
    name, address, details = request_fields(desk, request)
    auth_json = authorization_json(desk, release)
    patient = decrypt(desk, release.patient)
    asked = read_request(details, release.extension_notice_on)
    auth = rules.read_authorization(auth_json)
    packet = release.packet.uuid if release.packet_id is not None else None  # joined in by the queue
    return ReleaseView(
        uuid=release.uuid, status=release.status,
        hold_reason=release.hold_reason, due=release.extended_due_on or release.due_on,
        extended=release.extended_due_on is not None, received_on=request.received_on, delivery=request.delivery,
        packet_uuid=packet, packet_encrypted=release.packet_password_enc is not None,
        patient_uuid=patient.uuid, mrn=patient.mrn, patient_name=patient.display_name, requester_name=name,
        requester_address=address, request_json=details, authorization_json=auth_json, asked=asked,
        authorization=auth, verdict=judge(desk, asked, auth, as_of))


def release_row(release_uuid: str) -> Release:
    """The release by its uuid, or a one-line reason it is not there."""
    release = Release.get_or_none(Release.uuid == release_uuid)
    if release is None:
        raise DeskError(f"no release {release_uuid}: it may have been withdrawn; reopen the request log")
    return release


def patient_row(patient_uuid: str) -> Patient:
    """The patient by their uuid, or a one-line reason they are not there."""
    patient = Patient.get_or_none(Patient.uuid == patient_uuid)
    if patient is None:
        raise DeskError(f"no patient {patient_uuid}: look the patient up again")
    return patient


def history(desk: Desk, release: Release | str) -> list[dict]:
    """The release's history (status changes, letters, estimates, notes), oldest first; `release` is its uuid
    (or, inside the service, its row)."""
    row = release_row(release) if isinstance(release, str) else release
    k = desk.desk_key
    return [{"at": e.at, "kind": e.kind, "status": e.status, "by": e.by_user.name if e.by_user_id else "",
             "document": e.document.uuid if e.document_id else "",
             "note": crypto.open_text(k, "release_event", "note", event_ref(e), e.note_enc) or ""}
            for e in ReleaseEvent.select().where(ReleaseEvent.release == row.id).order_by(ReleaseEvent.id)]


def event_ref(e: ReleaseEvent) -> str:
    return e.ref()


# --- writing -------------------------------------------------------------------------------------------------------


def record_event(desk: Desk, actor, release: Release, kind: str, note: str = "",
                 document: Document | None = None) -> None:
    """A line in the release's history: `kind` is status, letter, fee, note or packet; the note is sealed."""
    e = ReleaseEvent(release=release, at=now(), kind=kind, status=release.status, by_user=actor.user_id,
                     document=document)
    e.note_enc = crypto.seal(desk.desk_key, "release_event", "note", event_ref(e), note) if note else None
    e.save()


def set_status(desk: Desk, actor, release: Release, status: str, note: str = "", *, hold_reason: str = "",
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
    record_event(desk, actor, release, "status", note, document)
    audit.append(desk, actor, f"roi.status.{status}", object=f"release:{release.uuid}",
                 patient=release.patient.uuid, details={"from": before, "note": note[:200]})


def restricted_view(desk: Desk, actor, patient: Patient) -> None:
    """A restricted record's documents or disclosures shown for a release: queued for the supervisor's review like
    any restricted chart opening (purpose: release of information). Call inside an audit transaction."""
    if patient.sensitive:
        audit.append(desk, actor, "chart.open.sensitive", object=f"patient:{patient.uuid}", patient=patient.uuid,
                     details={"purpose": "release"})
