"""Letters to the requester: acknowledgement, deficiency, extension notice, denial, fee estimate.

Each is drafted from its template (data/letters.toml) as a PDF, filed in the patient's record and linked to the
release in its history.
"""

from __future__ import annotations

import io

from recdesk import clock
from recdesk.desk import Desk
from recdesk.documents import filing
from recdesk.errors import DeskError
from recdesk.release import log
from recdesk.roles import CHANGERS
from recdesk.vault.models import Document, Release, ReleaseEvent, User

LETTER_KINDS = ("acknowledgement", "extension_notice", "deficiency", "denial", "fee_estimate")


def site_fields(desk: Desk, actor) -> dict:
    """What every letter and certification says about the facility and who signs ([roi] in config.toml)."""
    s = desk.config.roi
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


def draft(desk: Desk, actor, release: Release, v: log.ReleaseView, kind: str, extra: dict | None = None) -> Document:
    """Draft a letter to the requester as a PDF, filed in the patient's record and linked to the release.
    Call inside the write that decided it."""
    from recdesk.pdf import letters as templates

    req = v.asked
    scope = ", ".join(req.doc_types or []) or "the records described in the request"
    if req.scope_from or req.scope_to:
        scope += f" ({req.scope_from or 'the start'} to {req.scope_to or 'date'})"
    fields = site_fields(desk, actor) | {
        "date": clock.today(), "to": [x for x in (v.requester_name, *v.requester_address.splitlines()) if x],
        "requester": v.requester_name or "Requester", "recipient": v.requester_name or "the requester",
        "patient": v.patient_name, "mrn": v.mrn, "received": v.received_on, "due": v.due,
        "problems": [f"{p.message} ({p.code})" for p in v.verdict.problems] or ["(none)"],
        "reference": v.uuid[:8].upper(), "records": scope,
        "how_to_proceed": "reply to this letter or call us.",
    } | (extra or {})
    pdf = templates.render(kind, fields, desk.config.home)
    title = f"{kind.replace('_', ' ').capitalize()} letter to {fields['requester']}"
    doc = filing.file_document(desk, actor, release.patient, pdf, doc_type="letter", title=title,
                               pages=page_count(pdf), service_date=clock.today(), source="generated",
                               qa_state="passed")
    log.record_event(desk, actor, release, "letter", kind, doc)
    return doc


def letter(desk: Desk, actor, release_uuid: str, kind: str, extra: dict | None = None) -> Document:
    """A letter a clerk asks for by hand (L): one of LETTER_KINDS."""
    actor.require(*CHANGERS)
    if kind not in LETTER_KINDS:
        raise DeskError(f"no letter {kind!r}: pick one of {', '.join(LETTER_KINDS)}")
    release = log.release_row(release_uuid)
    with desk.write():
        return draft(desk, actor, release, log.view(desk, release), kind, extra)


def page_count(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def letter_pdf(desk: Desk, actor, release_uuid: str, document_uuid: str) -> bytes:
    """One of the letters drafted for this release, to print; reading it is audited as any document read."""
    release = log.release_row(release_uuid)
    doc = (Document.select().join(ReleaseEvent, on=ReleaseEvent.document == Document.id)
           .where((ReleaseEvent.release == release.id) & (ReleaseEvent.kind == "letter")
                  & (Document.uuid == document_uuid)).first())
    if doc is None:
        raise DeskError(f"document {document_uuid} is not a letter of this request")
    return filing.read_document(desk, actor, doc)
