"""What chart completion shows, as plain values (worklist, checklist, deficiency and provider rows, the assembled
chart, the C6 rate), and reading them from the desk: an encounter, a checklist item or a document of its chart,
deficiencies as rows with their aging (C4). Nothing here is audited: the callers that show rows audit the view."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from recdesk.completion import rules as completion
from recdesk.desk import Desk
from recdesk.errors import DeskError
from recdesk.patients.registry import PatientDetails, decrypt
from recdesk.vault import crypto
from recdesk.vault.models import Document, Encounter, Patient, Provider, User


def wall_clock() -> dt.datetime:
    """Clinical times (admission, discharge) are the facility's local wall-clock times, naive."""
    return dt.datetime.now().replace(second=0, microsecond=0)


def chart_delinquent(desk: Desk, kind: str, discharge_at: dt.datetime | None, open_deficiencies: int,
                     at: dt.datetime) -> bool:
    """C4, the desk's one definition of a delinquent chart: an encounter of the kinds that go through deficiency
    analysis ([completion] kinds) with a deficiency still open once [completion] delinquent_days have run from its
    discharge. Every count, flag and rate of delinquency on the desk comes from here (deficiency analysis opens a
    deficiency for what a record lacks, so an open deficiency is what makes a record incomplete)."""
    rules = desk.config.completion
    return (open_deficiencies > 0 and kind in rules.kinds
            and completion.delinquent(discharge_at, at, rules.delinquent_days))


# --- rows ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkRow:
    """One encounter on a worklist."""

    encounter_uuid: str
    patient_uuid: str
    mrn: str
    name: str
    sensitive: bool
    kind: str
    admit_at: dt.datetime
    discharge_at: dt.datetime | None
    service: str
    attending: str
    missing: int
    deficient: int
    pending: int
    present: int
    required: int  # items that apply (not "not applicable")
    complete: bool
    age_days: int  # days since discharge, 0 before it
    delinquent: bool


@dataclass(frozen=True)
class DocRow:
    """A filed document of the patient, as the assembly screen lists it."""

    uuid: str
    doc_type: str
    type_label: str
    service_date: dt.date | None
    pages: int
    title: str
    where: str  # this | other | "" (filed to this encounter, another one, or none)

    @property
    def label(self) -> str:
        date = self.service_date.isoformat() if self.service_date else "no date"
        visit = {"this": "", "other": ", other visit"}.get(self.where, ", no visit")
        return f"{date} {self.type_label} ({self.pages} p{visit})"


@dataclass(frozen=True)
class DeficiencyRow:
    uuid: str
    kind: str
    label: str
    rule: str
    status: str
    provider: str
    provider_id: int | None
    note: str
    document_uuid: str
    opened_at: dt.datetime
    opened_by: str
    closed_at: dt.datetime | None
    closed_by: str
    encounter_uuid: str
    encounter_kind: str
    patient_uuid: str
    mrn: str
    name: str
    discharge_at: dt.datetime | None
    age_days: int
    delinquent: bool
    item: str = ""  # the checklist item it marks in an assembly ("" when it marks none)
    recorded_item: str = ""  # the checklist item code it was recorded on (Deficiency.item; "" when none)


@dataclass(frozen=True)
class ItemRow:
    """One checklist item with its documents and the open deficiencies that mark it."""

    code: str
    label: str
    state: str  # present | missing | late | deficient | pending | not_applicable
    rule: str
    message: str
    documents: tuple[DocRow, ...]
    attached: tuple[str, ...]  # uuids a clerk attached to this item
    suggested: str  # the deficiency type to open for it ("" when none)
    deficiencies: tuple[DeficiencyRow, ...] = ()


@dataclass
class Assembly:
    """An encounter's chart as assembled at the moment `at`."""

    encounter_uuid: str
    patient: PatientDetails
    kind: str
    admit_at: dt.datetime
    discharge_at: dt.datetime | None
    service: str
    attending: str
    attending_id: int | None
    medicare: bool
    at: dt.datetime
    delinquent_days: int = 30
    delinquent: bool = False  # C4, as chart_delinquent says
    items: list[ItemRow] = field(default_factory=list)
    other: list[DeficiencyRow] = field(default_factory=list)  # open deficiencies that mark no item
    deficiencies: list[DeficiencyRow] = field(default_factory=list)  # every one on the encounter, open first
    documents: list[DocRow] = field(default_factory=list)  # the patient's filed documents, newest first

    @property
    def complete(self) -> bool:
        return completion.is_complete(self.items) and not self.other

    @property
    def age_days(self) -> int:
        return completion.deficiency_age_days(self.discharge_at, self.at) if self.discharge_at else 0

    def count(self, state: str) -> int:
        return sum(1 for i in self.items if i.state == state) + (len(self.other) if state == "deficient" else 0)


@dataclass(frozen=True)
class ProviderRow:
    provider_id: int | None
    provider: str
    service: str
    open: int
    charts: int
    delinquent: int
    oldest_days: int


@dataclass(frozen=True)
class Rate:
    """C6 at the moment `at`: delinquent records over average monthly discharges (last three months ÷ 3)."""

    at: dt.datetime
    since: dt.datetime
    delinquent: int
    discharges: int
    rate: float
    threshold: float

    @property
    def over(self) -> bool:
        return self.rate > self.threshold

    @property
    def text(self) -> str:
        rate = "no discharges" if self.rate == float("inf") else f"{self.rate:.2f}"
        return (f"C6 rate {rate} (line {self.threshold:.2f}): {charts(self.delinquent)} delinquent / "
                f"{self.discharges} discharges, 3 months")


def charts(n: int) -> str:
    return f"{n} chart{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class Delinquency:
    """How many charts are delinquent at the moment `at` (chart_delinquent), the one figure every screen shows."""

    at: dt.datetime
    charts: int
    days: int  # [completion] delinquent_days

    @property
    def text(self) -> str:
        """The figure and what it counts: '3 charts delinquent (deficiency open 30+ days after discharge)'."""
        return f"{charts(self.charts)} delinquent (deficiency open {self.days}+ days after discharge)"


# --- reading the desk ----------------------------------------------------------------------------------------------


def encounter(encounter_uuid: str) -> Encounter:
    enc = Encounter.get_or_none(Encounter.uuid == encounter_uuid)
    if enc is None:
        raise DeskError(f"no encounter {encounter_uuid}: it may have been removed; reload the list")
    patient = enc.patient
    if patient.status != "active" or patient.dek_wrapped is None:
        raise DeskError(f"that patient is {patient.status}: their charts are not assembled")
    return enc


def chart_document(doc_uuid: str, enc: Encounter) -> Document:
    doc = Document.get_or_none(Document.uuid == doc_uuid)
    if doc is None:
        raise DeskError(f"no document {doc_uuid}")
    if doc.patient_id != enc.patient_id:
        raise DeskError("that document is filed to another patient: only this patient's documents go in the chart")
    if doc.status != "filed":
        raise DeskError(f"that document is {doc.status}: only filed documents go in a chart")
    return doc


def checklist_item(desk: Desk, enc: Encounter, item_code: str) -> completion.ChecklistItem:
    items = {i.code: i for i in completion.checklist(enc.kind, desk.config.home)}
    if item_code not in items:
        raise DeskError(f"{item_code!r} is not on the {enc.kind} checklist: one of {', '.join(items)}")
    return items[item_code]


def deficiency_types(desk: Desk) -> dict[str, completion.DeficiencyType]:
    """The desk's deficiency types by code (deficiency_types.toml)."""
    return {t.code: t for t in completion.deficiency_types(desk.config.home)}


def deficiency_rows(desk: Desk, query, at: dt.datetime, types: dict[str, completion.DeficiencyType], *,
                     patients: dict[int, PatientDetails] | None = None, notes: bool = True) -> list[DeficiencyRow]:
    """Deficiencies as rows: decrypted MRN, name and note under each patient's key; aging from discharge."""
    users = {u.id: u.name for u in User.select(User.id, User.name)}
    providers = {p.id: p for p in Provider.select()}
    encounters: dict[int, Encounter] = {}
    patients = dict(patients or {})
    patient_rows: dict[int, Patient] = {}
    rows = []
    for d in query:
        if d.patient_id not in patient_rows:
            patient_rows[d.patient_id] = Patient.get_by_id(d.patient_id)
        row = patient_rows[d.patient_id]
        if row.dek_wrapped is None:
            continue  # purged: nothing of it can be read
        if d.patient_id not in patients:
            patients[d.patient_id] = decrypt(desk, row)
        p = patients[d.patient_id]
        enc = None
        if d.encounter_id is not None:
            enc = encounters.get(d.encounter_id) or Encounter.get_by_id(d.encounter_id)
            encounters[d.encounter_id] = enc
        discharge = enc.discharge_at if enc else None
        age = completion.deficiency_age_days(discharge, at) if discharge else 0
        note = ""
        if notes and d.note_enc is not None:
            note = crypto.open_text(desk.dek(row), "deficiency", "note", d.uuid, d.note_enc) or ""
        kind = types.get(d.kind)
        provider = providers.get(d.provider_id)
        rows.append(DeficiencyRow(
            uuid=d.uuid, kind=d.kind, label=kind.label if kind else d.kind, rule=kind.rule if kind else "",
            status=d.status, provider=provider.name if provider else "", provider_id=d.provider_id, note=note,
            document_uuid=d.document.uuid if d.document_id else "", opened_at=d.created_at,
            opened_by=users.get(d.opened_by_id, ""), closed_at=d.closed_at, closed_by=users.get(d.closed_by_id, ""),
            encounter_uuid=enc.uuid if enc else "", encounter_kind=enc.kind if enc else "", patient_uuid=p.uuid,
            mrn=p.mrn, name=p.display_name, discharge_at=discharge, age_days=age,
            delinquent=chart_delinquent(desk, enc.kind if enc else "", discharge, d.status == "open", at),
            recorded_item=d.item))
    return rows
