"""The destruction register (T3): what a purge destroyed, kept permanently so that "was this record destroyed, and
when?" can still be answered (AHIMA keeps the master patient index for good), and the disclosures that outlive it.

Each entry holds the record's MRN, name, DOB, first and last dates of service, the date it was destroyed, the batch
and the certificate of destruction; it is sealed under the desk key (the patient's own key is gone with the record)
and found by a blind-index token of the MRN, never by the MRN in the clear.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict, dataclass

import peewee

from recdesk.errors import DeskError, TamperError
from recdesk.roles import MANAGERS
from recdesk.vault import audit, crypto
from recdesk.vault.blindindex import Term, digits, mrn_key
from recdesk.vault.models import AccountingSuspension, DestructionEntry, Disclosure, Patient

DESTROYED = "retention.destroy"  # the audit action of each recorded row a purge deletes (doctor reads it)
DISCLOSURE_YEARS = 6  # 164.528 / 164.530(j): a disclosure stays in the accounting six years after it was made


@dataclass(frozen=True)
class Destroyed:
    """One entry of the register, as read back (plain values)."""

    patient_uuid: str
    mrn: str
    last: str
    first: str
    middle: str
    dob: datetime.date | None
    first_service: datetime.date | None
    last_service: datetime.date | None
    destroyed_on: datetime.date
    batch_uuid: str
    certificate_no: str
    documents: int = 0
    pages: int = 0
    encounters: int = 0
    volumes: int = 0
    verification: str = ""  # how the erase was verified (the certificate's sanitization record)

    @property
    def display_name(self) -> str:
        first = f"{self.first} {self.middle}".strip()
        return f"{self.last.upper()}, {first}"


_DATES = ("dob", "first_service", "last_service", "destroyed_on")


def _sealed(desk, row_uuid: str, entry: Destroyed) -> bytes:
    values = {k: (v.isoformat() if isinstance(v, datetime.date) else v) for k, v in asdict(entry).items()}
    return crypto.seal(desk.desk_key, "destruction_entry", "entry", row_uuid, json.dumps(values, sort_keys=True))


def write(desk, entry: Destroyed, *, pending_blobs: list[str]) -> DestructionEntry:
    """Add the entry for a record being destroyed; call inside the destruction's transaction."""
    row = DestructionEntry(patient_uuid=entry.patient_uuid, mrn_token=_token(desk, entry.mrn),
                           destroyed_on=entry.destroyed_on, batch_uuid=entry.batch_uuid,
                           certificate_no=entry.certificate_no, pending_blobs=" ".join(pending_blobs))
    row.entry_enc = _sealed(desk, row.uuid, entry)
    row.save(force_insert=True)
    return row


def rewrite(desk, row: DestructionEntry, entry: Destroyed) -> None:
    """Seal the entry again with what the destruction found out (its verification); inside its transaction."""
    DestructionEntry.update(entry_enc=_sealed(desk, row.uuid, entry)).where(DestructionEntry.id == row.id).execute()


def read(desk, row: DestructionEntry) -> Destroyed:
    """An entry's sealed values; the plain columns beside them must say the same (else it was altered)."""
    text = crypto.open_text(desk.desk_key, "destruction_entry", "entry", row.uuid, row.entry_enc)
    if text is None:
        raise TamperError(f"destruction register entry {row.uuid} has no sealed values: restore it from a backup")
    values = json.loads(text)
    for name in _DATES:
        values[name] = datetime.date.fromisoformat(values[name]) if values.get(name) else None
    entry = Destroyed(**values)
    plain = (row.patient_uuid, row.destroyed_on, row.batch_uuid, row.certificate_no)
    if plain != (entry.patient_uuid, entry.destroyed_on, entry.batch_uuid, entry.certificate_no):
        raise TamperError(f"destruction register entry {row.uuid} was changed outside recdesk (its plain columns "
                          "disagree with its sealed values): restore it from a backup")
    return entry


def entry_of(desk, patient_uuid: str) -> Destroyed | None:
    """The register's entry for a patient, if their record was destroyed (not audited: callers audit the view)."""
    row = DestructionEntry.get_or_none(DestructionEntry.patient_uuid == patient_uuid)
    return read(desk, row) if row is not None else None


def _token(desk, mrn: str) -> int:
    return desk.blind.token(Term("mrn", mrn_key(mrn)))[1]


def find(desk, actor, mrn: str) -> Destroyed | None:
    """Was the record with this MRN destroyed, and when? The register's entry, or None. Audited as a view."""
    mrn = mrn.strip()
    if not mrn or digits(mrn) != mrn:
        raise DeskError(f"MRN {mrn!r} must be digits only")
    found = None
    # The token is truncated (some false positives occur): each candidate is opened and its MRN compared.
    for row in DestructionEntry.select().where(DestructionEntry.mrn_token == _token(desk, mrn)):
        entry = read(desk, row)
        if mrn_key(entry.mrn) == mrn_key(mrn):
            found = entry
            break
    with desk.audit_db.atomic():
        audit.append(desk, actor, "retention.register.find", object="destruction_register",
                     patient=found.patient_uuid if found else "", details={"found": found is not None})
    return found


# --- the disclosures of destroyed records: kept six years after each, then removed ------------------------------


def _shift(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, in a year without one, is 28 February
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class ExpiredDisclosure:
    uuid: str
    patient_uuid: str
    disclosed_on: datetime.date
    kept_until: datetime.date


def expired_disclosures(desk, as_of: datetime.date) -> list[ExpiredDisclosure]:
    """The disclosures of destroyed records whose six years (164.528, 164.530(j)) ended before `as_of`: each is kept
    through the day six years after it was made."""
    rows = (Disclosure.select(Disclosure.uuid, Disclosure.disclosed_on, Patient.uuid.alias("patient_uuid"))
            .join(Patient, on=(Disclosure.patient == Patient.id))
            .join(DestructionEntry, on=(DestructionEntry.patient_uuid == Patient.uuid))
            .where(Patient.dek_wrapped.is_null() & (Disclosure.disclosed_on <= _shift(as_of, -DISCLOSURE_YEARS)))
            .order_by(Disclosure.disclosed_on, Disclosure.id).dicts())
    out = [ExpiredDisclosure(r["uuid"], r["patient_uuid"], r["disclosed_on"],
                             _shift(r["disclosed_on"], DISCLOSURE_YEARS)) for r in rows]
    return [d for d in out if d.kept_until < as_of]


def remove_expired_disclosures(desk, actor, as_of: datetime.date) -> int:
    """Remove the disclosures of destroyed records past their six years, and the accounting suspensions of a
    destroyed record once none of its disclosures is left; each removal is audited. Returns disclosures removed."""
    actor.require(*MANAGERS)
    expired = expired_disclosures(desk, as_of)
    if not expired:
        return 0
    with desk.write():
        Disclosure.delete().where(Disclosure.uuid.in_([d.uuid for d in expired])).execute()
        events = [audit.Event(DESTROYED, f"disclosure:{d.uuid}", d.patient_uuid,
                              {"disclosed_on": d.disclosed_on.isoformat(), "kept_until": d.kept_until.isoformat()})
                  for d in expired]
        has_disclosure = peewee.fn.EXISTS(Disclosure.select(Disclosure.id).where(Disclosure.patient == Patient.id))
        emptied = Patient.select(Patient.id, Patient.uuid).where(
            Patient.uuid.in_(list({d.patient_uuid for d in expired})) & ~has_disclosure)
        for p in list(emptied):
            theirs = AccountingSuspension.patient == p.id
            events += [audit.Event(DESTROYED, f"suspension:{s.uuid}", p.uuid)
                       for s in AccountingSuspension.select(AccountingSuspension.uuid).where(theirs)]
            AccountingSuspension.delete().where(theirs).execute()
        audit.append_many(desk, actor, events)
    return len(expired)
