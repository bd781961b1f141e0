"""The patient chart: everything the desk holds on one patient, gathered for one audited view."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from peewee import JOIN

from recdesk.desk import Desk
from recdesk.documents.filing import type_labels
from recdesk.errors import DeskError
from recdesk.patients.registry import PatientDetails, decrypt
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
    Provider,
    Release,
    ReleaseRequest,
)

ACCESS_PURPOSES = (
    ("treatment", "Treatment or continuity of care"),
    ("release", "Release of information request"),
    ("filing", "Filing, indexing or QA of documents"),
    ("chart_completion", "Chart assembly or deficiency work"),
    ("legal", "Legal, compliance or audit"),
    ("patient_request", "The patient's own request"),
)


class PurposeRequired(DeskError):
    """A restricted record is opened only with a stated purpose of access."""


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


def check_access(desk: Desk, row: Patient, purpose: str | None) -> None:
    """A restricted record opens only with a stated purpose; its flag must be the one recdesk wrote (a flag
    cleared by hand in the database would open it without one)."""
    seals.check(desk, row)
    if row.sensitive:
        if purpose is None:
            raise PurposeRequired("this is a restricted record: state your purpose of access to open it")
        if purpose not in dict(ACCESS_PURPOSES):
            raise DeskError(f"purpose {purpose!r} is not one of: {', '.join(dict(ACCESS_PURPOSES))}")


def open_chart(desk: Desk, actor, patient_uuid: str, *, purpose: str | None = None) -> Chart:
    """Gather one patient's chart and audit the view; a restricted record needs a purpose of access."""
    row = Patient.get_or_none(Patient.uuid == patient_uuid)
    if row is None or row.status == "purged" or row.dek_wrapped is None:
        raise DeskError("that patient is no longer on the desk (purged or merged)")
    check_access(desk, row, purpose)
    chart = Chart(decrypt(desk, row, with_insurance=True))
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
        {"at": e.at, "user": e.user_name, "sensitive": e.action == "chart.open.sensitive"}
        for e in AuditEvent.select(AuditEvent.at, AuditEvent.user_name, AuditEvent.action)
        .where((AuditEvent.patient == row.uuid) & AuditEvent.action.in_(CHART_OPENS))
        .order_by(AuditEvent.seq.desc()).limit(200)
    ]
    action = "chart.open.sensitive" if row.sensitive else "chart.open"
    with desk.audit_db.atomic():
        seq = audit.append(desk, actor, action, object=f"patient:{row.uuid}", patient=row.uuid,
                           details={"purpose": purpose} if purpose else None)
    chart.access.insert(0, {"at": AuditEvent.get_by_id(seq).at, "user": actor.user_name, "sensitive": row.sensitive})
    return chart


def sensitive_access_queue(desk: Desk, since: datetime.datetime | None = None) -> list[dict]:
    """Restricted-record openings with their stated purpose, newest first: the supervisor's review queue."""
    query = AuditEvent.select().where(AuditEvent.action == "chart.open.sensitive")
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return [
        {"seq": e.seq, "at": e.at, "user": e.user_name, "patient": e.patient,
         "purpose": (audit.details(desk, e) or {}).get("purpose")}
        for e in query.order_by(AuditEvent.seq.desc())
    ]
