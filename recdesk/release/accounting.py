"""Disclosures and the accounting of disclosures (D1–D5): what left the building, logged once, and the
patient's accounting of it, with the suspensions an agency may ask for."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from recdesk import clock
from recdesk.desk import Desk
from recdesk.errors import DeskError
from recdesk.patients.registry import decrypt, find_by_mrn
from recdesk.release import log, rules
from recdesk.retention import register
from recdesk.roles import CHANGERS
from recdesk.vault import audit, crypto, seals
from recdesk.vault.models import AccountingSuspension, AuditEvent, Disclosure, Patient, Release

# Bases a disclosure made outside the packet flow can rest on (a public-health report, a disclosure by a business
# associate reported to us, an impermissible disclosure found later): each with whether it is accountable.
RECORDED_BASES = {name: b["accountable"] for name, b in rules.BASES.items() if name != "none"} | {
    "impermissible": True}


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


def row_of(d: Disclosure, recipient: str, address: str, description: str) -> DisclosureRow:
    """The disclosure as the accounting lists it (its text fields already decrypted or just written)."""
    return DisclosureRow(d.uuid, d.disclosed_on, recipient, address, description, d.purpose, d.basis,
                         d.accountable, d.packet_sha256 or "")


def write_disclosure(desk: Desk, patient: Patient, *, disclosed_on: datetime.date, recipient: str, address: str,
                     description: str, purpose: str, basis: str, accountable: bool, release: Release | None = None,
                     packet_sha256: str | None = None) -> Disclosure:
    """The one writer of a disclosure (a released packet, or one recorded by hand): the recipient, address and
    description sealed under the patient's key, the row sealed. Call inside a write."""
    d = Disclosure(patient=patient, release=release, disclosed_on=disclosed_on, purpose=purpose, basis=basis,
                   accountable=accountable, packet_sha256=packet_sha256)
    dek = desk.dek(patient)
    d.recipient_enc = crypto.seal(dek, "disclosure", "recipient", d.uuid, recipient)
    d.recipient_address_enc = crypto.seal(dek, "disclosure", "recipient_address", d.uuid, address)
    d.description_enc = crypto.seal(dek, "disclosure", "description", d.uuid, description)
    d.save()
    seals.reseal(desk, Disclosure, Disclosure.id == d.id)
    return d


def sealing_key(desk: Desk, patient: Patient) -> bytes:
    """The key a patient's disclosures and accounting suspensions are sealed under: the patient's own while the
    record lives; the desk key once it has been destroyed, since they outlive it (164.528, 164.530(j))."""
    return desk.desk_key if patient.dek_wrapped is None else desk.dek(patient)


def keep_after_destruction(desk: Desk, patient: Patient) -> None:
    """Before a record is destroyed: its disclosures and suspensions are sealed again under the desk key and let go
    of the releases that go with the record, so that its accounting can still be given. Call in the destruction's
    transaction, while the patient's key is still there."""
    dek, k = desk.dek(patient), desk.desk_key
    for d in Disclosure.select().where(Disclosure.patient == patient.id):
        Disclosure.update(release=None, **{
            f"{name}_enc": crypto.seal(k, "disclosure", name, d.uuid,
                                       crypto.open_text(dek, "disclosure", name, d.uuid, getattr(d, f"{name}_enc")))
            for name in ("recipient", "recipient_address", "description")}).where(Disclosure.id == d.id).execute()
    for s in AccountingSuspension.select().where(AccountingSuspension.patient == patient.id):
        agency = crypto.open_text(dek, "accounting_suspension", "agency", s.uuid, s.agency_enc)
        AccountingSuspension.update(agency_enc=crypto.seal(k, "accounting_suspension", "agency", s.uuid, agency)
                                    ).where(AccountingSuspension.id == s.id).execute()
    seals.reseal(desk, Disclosure, Disclosure.patient == patient.id)
    seals.reseal(desk, AccountingSuspension, AccountingSuspension.patient == patient.id)


def disclosures(desk: Desk, patient: Patient, since: datetime.date | None = None,
                until: datetime.date | None = None, *, accountable_only: bool = False) -> list[DisclosureRow]:
    q = Disclosure.select().where(Disclosure.patient == patient.id)
    if since:
        q = q.where(Disclosure.disclosed_on >= since)
    if until:
        q = q.where(Disclosure.disclosed_on <= until)
    if accountable_only:
        q = q.where(Disclosure.accountable == True)  # noqa: E712
    dek = sealing_key(desk, patient)
    # An accountable flag or date changed by hand would hide a disclosure from the patient's accounting.
    seals.check_where(desk, Disclosure, Disclosure.patient == patient.id)
    rows = []
    for d in q.order_by(Disclosure.disclosed_on, Disclosure.id):
        recipient, address, description = (
            crypto.open_text(dek, "disclosure", name, d.uuid, getattr(d, f"{name}_enc")) or ""
            for name in ("recipient", "recipient_address", "description"))
        rows.append(row_of(d, recipient, address, description))
    return rows


def record_disclosure(desk: Desk, actor, patient_uuid: str, *, disclosed_on: datetime.date, recipient: str,
                      description: str, purpose: str, basis: str, address: str = "") -> DisclosureRow:
    """Log a disclosure that did not go out as a packet from this desk (D1): a report made by phone or portal, a
    business associate's disclosure, an impermissible one. Accountable follows from the basis."""
    actor.require(*CHANGERS)
    if basis not in RECORDED_BASES:
        raise DeskError(f"basis {basis!r} must be one of {', '.join(RECORDED_BASES)}")
    if purpose not in rules.PURPOSES:  # a plain column: a code from the list, never typed text
        raise DeskError(f"purpose {purpose!r} must be one of {', '.join(rules.PURPOSES)}")
    if not recipient.strip() or not description.strip():
        raise DeskError("a disclosure names its recipient and describes what was disclosed (D1): fill both in")
    if disclosed_on > clock.today():
        raise DeskError(f"{disclosed_on} is in the future: enter the day it was disclosed")
    patient = log.patient_row(patient_uuid)
    with desk.write():
        d = write_disclosure(desk, patient, disclosed_on=disclosed_on, recipient=recipient.strip(),
                             address=address.strip(), description=description.strip(), purpose=purpose[:40],
                             basis=basis, accountable=RECORDED_BASES[basis])
        audit.append(desk, actor, "roi.disclosure.record", object=f"disclosure:{d.uuid}", patient=patient.uuid,
                     details={"basis": basis, "accountable": d.accountable, "on": disclosed_on.isoformat()})
    return row_of(d, recipient.strip(), address.strip(), description.strip())


def suspend_accounting(desk: Desk, actor, patient_uuid: str, *, agency: str, starts_on: datetime.date,
                       written: bool, ends_on: datetime.date | None = None) -> None:
    """D5: record an agency's statement that the patient's accounting must leave out its disclosures for a time —
    written: for the period it states; oral: at most 30 days unless a written statement follows."""
    actor.require(*CHANGERS)
    if not agency.strip():
        raise DeskError("name the agency or official who asked for the suspension")
    s = rules.Suspension(starts=starts_on, written=written, ends=ends_on)
    if rules.suspension_end(s) < starts_on:
        raise DeskError("the suspension ends before it starts: check the dates")
    patient = log.patient_row(patient_uuid)
    with desk.write():
        row = AccountingSuspension(patient=patient, starts_on=starts_on, ends_on=ends_on, written=written,
                                   by_user=actor.user_id)
        row.agency_enc = crypto.seal(desk.dek(patient), "accounting_suspension", "agency", row.uuid, agency.strip())
        row.save()
        seals.reseal(desk, AccountingSuspension, AccountingSuspension.id == row.id)
        audit.append(desk, actor, "roi.accounting.suspend", object=f"suspension:{row.uuid}", patient=patient.uuid,
                     details={"written": written, "until": rules.suspension_end(s).isoformat()})


def suspensions(desk: Desk, patient: Patient) -> dict[str, list[rules.Suspension]]:
    """The patient's accounting suspensions by agency (case-folded), their rows checked against their seals."""
    out: dict[str, list[rules.Suspension]] = {}
    dek = sealing_key(desk, patient)
    seals.check_where(desk, AccountingSuspension, AccountingSuspension.patient == patient.id)
    for row in AccountingSuspension.select().where(AccountingSuspension.patient == patient.id):
        agency = crypto.open_text(dek, "accounting_suspension", "agency", row.uuid, row.agency_enc) or ""
        out.setdefault(agency.casefold(), []).append(
            rules.Suspension(starts=row.starts_on, written=row.written, ends=row.ends_on))
    return out


@dataclass(frozen=True)
class Accounting:
    patient_name: str
    mrn: str
    window: tuple[datetime.date, datetime.date]
    rows: list[DisclosureRow]
    free: bool
    withheld: int = 0  # disclosures left out while an agency's suspension lasts (D5); never shown to the patient


def accounting(desk: Desk, actor, patient_uuid: str, *, as_of: datetime.date | None = None,
               since: datetime.date | None = None) -> Accounting:
    """The accounting of disclosures over six years before `as_of` (the day it is asked for; today), or less if
    asked: accountable disclosures only — those to the patient, for treatment, payment, operations and under an
    authorization are exempt (D1, D2). Audited."""
    as_of = as_of or clock.today()
    patient = log.patient_row(patient_uuid)
    name, mrn = _who(desk, patient)
    window = rules.accounting_window(as_of, since)
    rows = disclosures(desk, patient, *window, accountable_only=True)
    by_agency = suspensions(desk, patient)
    shown = [r for r in rows if not rules.withheld_by_suspension(r.recipient.casefold(), as_of, by_agency)]
    earlier = [e.at.date() for e in audit_events(patient, "roi.accounting.print")]
    free = rules.accounting_is_free(as_of, earlier)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "roi.accounting.view", object=f"patient:{patient.uuid}", patient=patient.uuid,
                     details={"from": window[0].isoformat(), "to": window[1].isoformat(), "rows": len(rows)})
        log.restricted_view(desk, actor, patient)
    return Accounting(name, mrn, window, shown, free, len(rows) - len(shown))


def _who(desk: Desk, patient: Patient) -> tuple[str, str]:
    """The name and MRN an accounting is headed with: the patient's, or the destruction register's once the record
    was destroyed."""
    if patient.dek_wrapped is None:
        entry = register.entry_of(desk, patient.uuid)
        if entry is None:
            raise DeskError(f"patient {patient.uuid} has no key and no entry in the destruction register: "
                            "run `recdesk doctor`")
        return entry.display_name, entry.mrn
    details = decrypt(desk, patient)
    return details.display_name, details.mrn


def accounting_for_mrn(desk: Desk, actor, mrn: str, *, as_of: datetime.date | None = None,
                       since: datetime.date | None = None) -> Accounting:
    """The accounting for the patient with this MRN, whose record may since have been destroyed: its disclosures
    are kept six years after each and still accounted for (164.528)."""
    try:
        patient_uuid = find_by_mrn(desk, mrn).uuid
    except DeskError:
        entry = register.find(desk, actor, mrn)
        if entry is None:
            raise
        patient_uuid = entry.patient_uuid
    return accounting(desk, actor, patient_uuid, as_of=as_of, since=since)


def audit_events(patient: Patient, action: str):
    return AuditEvent.select().where((AuditEvent.patient == patient.uuid) & (AuditEvent.action == action))


def accounting_pdf(desk: Desk, actor, patient_uuid: str, *, as_of: datetime.date | None = None,
                   since: datetime.date | None = None) -> bytes:
    """The accounting as a PDF for the patient; printing it counts as delivering one (D4), so it is a clerk's or
    manager's act: a supervisor's print would use up the patient's free accounting for the year."""
    from recdesk.pdf import layout

    actor.require(*CHANGERS)
    a = accounting(desk, actor, patient_uuid, as_of=as_of, since=since)
    rows = [[r.disclosed_on.isoformat(), "\n".join(x for x in (r.recipient, r.address) if x), r.description,
             f"{r.purpose.replace('_', ' ')} ({rules.BASES.get(r.basis, {}).get('label', r.basis)})"]
            for r in a.rows]
    pdf = layout.table_report(
        title="Accounting of disclosures",
        subtitle_lines=[log.facility(desk), f"Patient: {a.patient_name}   MRN: {a.mrn}",
                        f"Period: {a.window[0].isoformat()} to {a.window[1].isoformat()}",
                        "Disclosures for treatment, payment, health care operations, to you, or under your "
                        "authorization are not listed (45 CFR 164.528(a)(1))."],
        columns=["Date", "Recipient", "What was disclosed", "Purpose"], rows=rows or [["", "None", "", ""]],
        widths=[22, 45, 80, 45],
        footer_lines=[f"Prepared {clock.today().isoformat()}. " + (
            "No fee: first accounting in 12 months." if a.free else "A cost-based fee applies (notified in advance).")])
    patient = log.patient_row(patient_uuid)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "roi.accounting.print", object=f"patient:{patient.uuid}", patient=patient.uuid,
                     details={"rows": len(a.rows), "free": a.free})
    return pdf
