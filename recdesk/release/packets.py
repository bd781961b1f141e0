"""The release packet: the patient's documents a release may carry (flagged when out of scope or sensitive), the
packet built from the chosen ones, its QA, and releasing it (which writes the disclosure from the packet)."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from recdesk import clock, reference
from recdesk.desk import Desk
from recdesk.documents import filing
from recdesk.errors import DeskError
from recdesk.release import accounting, letters, log, rules, stamping
from recdesk.roles import CHANGERS
from recdesk.vault import audit, crypto, seals
from recdesk.vault.models import Document, Release, now


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
    release = log.release_row(release_uuid)
    v = log.view(desk, release)
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
                             rules.out_of_scope(v.asked, d.doc_type, d.service_date, tags, v.authorization,
                                                v.verdict.basis),
                             tuple(tags)))
    with desk.audit_db.atomic():
        audit.append(desk, actor, "roi.candidates.view", object=f"release:{release.uuid}", patient=v.patient_uuid,
                     details={"documents": len(out)})
        log.restricted_view(desk, actor, release.patient)
    return out


@dataclass(frozen=True)
class Built:
    """A packet just built: its document, pages and SHA-256 (what the clerk is told; QA and release read it)."""

    uuid: str
    pages: int
    sha256: str


def build_packet(desk: Desk, actor, release_uuid: str, selected: list[str], *, confirmed_flags: list[str] = (),
                 pages: dict[str, list[int]] | None = None, as_of: datetime.date | None = None) -> Built:
    """Merge the selected documents into one stamped packet, cover letter first, certification for legal
    requests, redisclosure notices last; encrypt it for electronic delivery; the release goes to QA.

    A flagged document goes in only when its uuid is in `confirmed_flags` (the clerk looked and confirmed);
    the confirmation is audited. The packet's description (what the disclosure will say went out) is kept
    with the release, sealed under the desk key and bound to this packet."""
    actor.require(*CHANGERS)
    release = log.release_row(release_uuid)
    log.check_sealed(desk, release)
    if release.status != "in_progress":
        raise DeskError(f"a packet is built for a release in progress; this one is {release.status.replace('_', ' ')}")
    if not selected:
        raise DeskError("select at least one document for the packet")
    v = log.view(desk, release, as_of)
    if not v.verdict.releasable:
        raise DeskError("the validator finds problems: " + "; ".join(f"{p.code} {p.message}"
                                                                     for p in v.verdict.problems[:2]))
    if (v.verdict.basis == "individual" and v.asked.purpose != "accounting" and not release.fee_json
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
        parts.append(stamping.Part(document_id=u, title=by_uuid[u].title, pdf=data, pages=(pages or {}).get(u)))
    req = v.asked
    front = [cover_letter(desk, v, parts)]
    if req.legal_type is not None:
        front.append(certification(desk, actor, v, parts))
    notices = ["general"]
    # The notices follow what is in the packet, not only what the request named.
    cats = set(req.categories) | {rules.TAG_CATEGORY.get(t, t) for u in selected for t in by_uuid[u].tags}
    if "sud_part2" in cats:
        notices.append("part2")
    if "hiv" in cats:
        notices.append("hiv_ny")
    back = stamping.redisclosure_notices(notices, desk.config.home)
    if "sud_part2" in cats and v.verdict.basis != "individual":  # S2: a copy of the consent goes with Part 2
        consent = log.authorization_row(release)
        if consent is None or consent.scan_id is None:
            raise DeskError("Part 2 records go out with a copy of the patient's consent (42 CFR 2.32): file the "
                            "signed consent and link it to this request (A, scanned copy)")
        scan = Document.get_by_id(consent.scan_id)
        back.append(desk.store.read(desk.dek(scan.patient), scan.uuid, scan.blob, scan.sha256))
    prefix = desk.config.roi.bates_prefix + release.uuid[:6].upper() + "-"
    built = stamping.build(parts, bates_prefix=prefix, front=front, back=back)
    pdf = built.pdf
    password = None
    if v.delivery in ("electronic", "portal"):
        password = stamping.new_password()
        pdf = stamping.encrypt(pdf, password)
    description = describe(built)
    with desk.write():
        doc = filing.file_document(desk, actor, release.patient, pdf, doc_type="release_packet",
                                   title=f"Release packet {built.bates_first}-{built.bates_last}",
                                   pages=built.pages, service_date=clock.today(), source="generated",
                                   qa_state="pending")
        k = desk.desk_key
        changes = {"packet": doc.id,
                   "packet_password_enc": (crypto.seal(k, "release", "packet_password", release.uuid, password)
                                           if password else None),
                   "packet_description_enc": crypto.seal(k, "release", "packet_description", doc.uuid, description)}
        seals.check(desk, release)
        Release.update(**changes).where(Release.id == release.id).execute()
        seals.reseal(desk, Release, Release.id == release.id)
        release.packet = doc
        log.set_status(desk, actor, release, "qa", f"packet built: {description}", document=doc)
        audit.append(desk, actor, "roi.packet.build", object=f"document:{doc.uuid}", patient=v.patient_uuid,
                     details={"release": release.uuid, "pages": built.pages, "sha256": doc.sha256,
                              "confirmed_flags": [u for u in selected if by_uuid[u].flags],
                              "encrypted": password is not None,
                              "ranges": [(r.document_id, r.source_pages, r.bates_first, r.bates_last)
                                         for r in built.ranges]})
    return Built(doc.uuid, doc.pages, doc.sha256)


def describe(built: stamping.Packet) -> str:
    """The disclosure's description, from the packet itself (never retyped): documents, pages, Bates range."""
    parts = [f"{r.title} (document {r.document_id[:8]}, pages {r.source_pages}, {r.bates_first}-{r.bates_last})"
             for r in built.ranges]
    return f"{built.pages} pages, {built.bates_first}-{built.bates_last}: " + "; ".join(parts)


def description(desk: Desk, release: Release) -> str:
    """The description recorded when the release's packet was built (what its disclosure will say went out)."""
    packet = Document.get_by_id(release.packet_id)
    text = crypto.open_text(desk.desk_key, "release", "packet_description", packet.uuid,
                            release.packet_description_enc)
    if text is None:
        raise DeskError("this packet's description is missing (changed outside recdesk?): fail its QA (Q, N), "
                        "then build it again (B)")
    return text


def packet_password(desk: Desk, actor, release_uuid: str) -> str:
    """The packet's password, to be given to the requester apart from the packet (by phone); audited."""
    release = log.release_row(release_uuid)
    if release.packet_password_enc is None:
        raise DeskError("this release's packet is not encrypted (paper delivery)")
    with desk.audit_db.atomic():
        audit.append(desk, actor, "roi.packet.password", object=f"release:{release.uuid}",
                     patient=release.patient.uuid)
    return crypto.open_text(desk.desk_key, "release", "packet_password", release.uuid, release.packet_password_enc)


def packet_pdf(desk: Desk, actor, release_uuid: str) -> bytes:
    """The release's packet as filed (to print it); reading it is audited as any document read."""
    release = log.release_row(release_uuid)
    if release.packet_id is None:
        raise DeskError("This request has no packet yet: B builds it.")
    return filing.read_document(desk, actor, Document.get_by_id(release.packet_id))


def cover_letter(desk: Desk, v: log.ReleaseView, parts: list[stamping.Part]) -> bytes:
    from recdesk.pdf import layout

    lines = [f"- {p.title}" for p in parts]
    return layout.letter(
        facility=log.facility(desk), date=clock.today(), to_lines=[v.requester_name, *v.requester_address.splitlines()],
        subject=f"Records of {v.patient_name} (MRN {v.mrn}) - reference {v.uuid[:8].upper()}",
        paragraphs=["In response to your request received on "
                    f"{v.received_on.isoformat()}, we enclose the following records:", *lines,
                    "Each page carries a Bates number. These records are confidential; the notices at the end of "
                    "this packet govern their further disclosure."],
        signature_lines=["Release of Information", log.facility(desk)])


def certification(desk: Desk, actor, v: log.ReleaseView, parts: list[stamping.Part]) -> bytes:
    """L5: the custodian's certification from the jurisdiction's template, certifying the record pages produced."""
    state = log.state_of(desk, v.asked)
    templates = reference.load("certifications", desk.config.home)
    code = rules.clocks(desk.config.home, state).get("certification", "fre_902_11") if state else "fre_902_11"
    template = templates.get(code)
    if template is None:
        raise DeskError(f"certification template {code!r} is missing from certifications.toml: add it")
    return stamping.certification(template, letters.site_fields(desk, actor) | {
        "pages": stamping.count_pages(parts), "patient": v.patient_name,
        "records": "; ".join(p.title for p in parts), "date": clock.today(),
        "case": v.asked.case or "In the matter stated in the subpoena",
        "case_number": v.asked.case_number or "as stated in the subpoena",
        "subpoena_date": v.asked.dated or "as stated in the subpoena",
        "completeness": "all",
    })


def qa_packet(desk: Desk, actor, release_uuid: str, passed: bool, reason: str = "") -> None:
    """A second look at the packet before it goes: pass leaves it ready to release, fail sends it back."""
    actor.require(*CHANGERS)
    release = log.release_row(release_uuid)
    if release.status != "qa" or release.packet_id is None:
        raise DeskError("this release has no packet waiting for QA")
    if not passed and not reason.strip():
        raise DeskError("say what is wrong with the packet so it can be rebuilt")
    with desk.write():
        log.check_sealed(desk, release)
        seals.check_where(desk, Document, Document.id == release.packet_id)
        Document.update(qa_state="passed" if passed else "failed", qa_by=actor.user_id, qa_at=now(),
                        qa_reason="" if passed else "packet QA failed: see the request's history"
                        ).where(Document.id == release.packet_id).execute()
        seals.reseal(desk, Document, Document.id == release.packet_id)
        log.record_event(desk, actor, release, "packet", "QA passed" if passed else f"QA failed: {reason}")
        audit.append(desk, actor, "roi.packet.qa", object=f"release:{release.uuid}", patient=release.patient.uuid,
                     details={"passed": passed})
        if not passed:
            log.set_status(desk, actor, release, "in_progress", f"packet QA failed: {reason}")


def release_packet(desk: Desk, actor, release_uuid: str, as_of: datetime.date | None = None
                   ) -> accounting.DisclosureRow:
    """Send it on `as_of` (today): the disclosure is written from the packet itself (date, recipient, description
    with document ids and page ranges, purpose, basis, packet SHA-256), then the release is closed."""
    actor.require(*CHANGERS)
    as_of = as_of or clock.today()
    release = log.release_row(release_uuid)
    if release.status != "qa" or release.packet_id is None:
        raise DeskError("build the packet and have it checked before releasing")
    packet_doc = Document.get_by_id(release.packet_id)
    log.check_sealed(desk, release)
    seals.check(desk, packet_doc)
    if packet_doc.qa_state != "passed":
        raise DeskError("the packet has not passed QA: check it (Q) before releasing")
    v = log.view(desk, release, as_of)
    if not v.verdict.releasable:  # an authorization can expire or be revoked while the packet waits
        raise DeskError("the validator now finds problems: " + "; ".join(f"{p.code} {p.message}"
                                                                         for p in v.verdict.problems[:2]))
    data = desk.store.read(desk.dek(release.patient), packet_doc.uuid, packet_doc.blob, packet_doc.sha256)
    sha = hashlib.sha256(data).hexdigest()
    what = description(desk, release)
    recipient, address = v.requester_name, v.requester_address
    if v.asked.third_party:  # R4: the patient directed the copy elsewhere
        recipient = v.asked.third_party["recipient"] or recipient
        address = v.asked.third_party["destination"] or address
    with desk.write():
        d = accounting.write_disclosure(desk, release.patient, release=release, disclosed_on=as_of,
                                        recipient=recipient, address=address, description=what,
                                        purpose=v.asked.purpose, basis=v.verdict.basis,
                                        accountable=v.verdict.accountable, packet_sha256=sha)
        log.set_status(desk, actor, release, "released", f"released to {recipient}", document=packet_doc)
        audit.append(desk, actor, "roi.release", object=f"disclosure:{d.uuid}", patient=release.patient.uuid,
                     details={"release": release.uuid, "sha256": sha, "accountable": d.accountable,
                              "basis": d.basis})
    return accounting.row_of(d, recipient, address, what)
