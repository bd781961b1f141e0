"""Chart assembly and deficiency analysis (RULES.md §11, C1–C6): the desk's encounters and filed documents judged
by the pure rules in completion.py, deficiencies assigned to providers, their aging, letters, and the printed chart.

Choices the rules leave to the desk:

- **The chart of an encounter** holds the patient's filed documents that are filed to it, those a clerk attached to
  one of its checklist items, and those filed to no encounter whose date of service lies between 30 days before
  admission and 30 days after discharge (or after today, before discharge). A document filed to another encounter
  counts only once a clerk attaches it; attaching files it to the encounter when it was filed to none.
- **When a document was signed.** A scan carries a date of service but seldom a time, so the date stands in for the
  signature, and each item is judged at the most favourable minute of that day (its first and its last): a date alone
  never makes a violation the clerk cannot see on the page. An entry without a time is itself a deficiency the clerk
  records (missing_date_time, C2). A document without a date of service counts as signed when it was filed (UTC).
- **Surgery.** An encounter's operating times (`surgery_at`, `surgery_end_at`) anchor its surgical items, on any
  kind of encounter: an inpatient stay with a surgery recorded owes its operative report and post-anesthesia
  evaluation (C3) after the surgery ends. Where no start is recorded, a same-day surgery encounter's admission is
  taken as the start of its surgery, so its surgical items still apply; another encounter with neither time has no
  surgery, and its surgical items are not applicable. Without an end, the start stands in for it (completion.py);
  an end recorded before its start is ignored; on an encounter other than same-day surgery, an end recorded
  without a start stands in for the start too (the items due before surgery then get the most room).
- **Medicare** (C5): a payer on file whose name contains "Medicare".
- **Open deficiencies overlay the checklist**: one recorded on a checklist item (`Deficiency.item`) marks that item
  and no other, whatever its state. One recorded on none (as every one was before schema 6), or on an item no longer
  on the checklist, marks the items its document serves when it is tied to one; else, being of a kind an item opens,
  that item while it is still owed (kinds such as missing_document are shared: every owed item of that kind is
  marked). Any other open deficiency is listed apart. A chart is complete when no item is owed and no deficiency is
  open.
- **Delinquency** (C4): a record is delinquent once `[completion] delinquent_days` (default 30) have run from
  discharge while it is incomplete; for a deficiency, while it is open. Aging counts whole days from discharge.
- **Delinquency rate** (C6): discharged records of the kinds that go through deficiency analysis (`[completion]
  kinds`, default inpatient and surgery; the discharges worklist shows the same kinds) with an open deficiency past
  the delinquency date, over the average monthly discharges of those kinds in the last three calendar months.
  Deficiency analysis opens a deficiency for what a record lacks, so an open deficiency is what makes a record
  incomplete here; `[completion] delinquency_threshold` (default 0.5, the legacy TJC line) is the line to stay under.

Every view of patient data is audited (a worklist's names, a chart assembled, a deficiency list, a letter, a print);
every change runs in one transaction with its audit event; supervisors change nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field, replace

import peewee

from recdesk import reference
from recdesk.completion import rules as completion
from recdesk.desk import Desk
from recdesk.errors import DeskError
from recdesk.patients.chart import check_access
from recdesk.patients.registry import PatientDetails, decrypt
from recdesk.roles import CHANGERS
from recdesk.vault import audit, crypto
from recdesk.vault.models import (
    AssemblyItem,
    Deficiency,
    Document,
    Encounter,
    Insurance,
    Patient,
    Provider,
    User,
    new_uuid,
    now,
)

WORKLISTS = ("admissions", "clinics", "discharges")
WORKLIST_KINDS = {"admissions": ("inpatient", "surgery"), "clinics": ("outpatient",)}
STATUSES = ("open", "closed", "all")
WINDOW_DAYS = 30  # documents filed to no encounter count for it within this many days of its stay
NOTE_MAX = 500
_RANK = {"present": 0, "not_applicable": 1, "late": 2, "pending": 3, "deficient": 4, "missing": 5}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DAY_START, _DAY_END = dt.time(0, 0), dt.time(23, 59)
_DAY_ONLY = re.compile(r"([Ss]igned \d{4}-\d{2}-\d{2}) (?:00:00|23:59)\b")  # a date of service has no time to show


# --- settings ------------------------------------------------------------------------------------------------------


def delinquent_days(desk: Desk) -> int:
    """C4: days after discharge at which an incomplete record is delinquent ([completion] delinquent_days, 30)."""
    return desk.config.completion.delinquent_days


def discharge_days(desk: Desk) -> int:
    """How far back the discharges worklist looks ([completion] worklist_days, 45)."""
    return desk.config.completion.worklist_days


def analysed_kinds(desk: Desk) -> tuple[str, ...]:
    """The encounter kinds whose records go through deficiency analysis after discharge: the discharges worklist
    and the C6 rate ([completion] kinds, default inpatient and surgery)."""
    return desk.config.completion.kinds


def threshold(desk: Desk) -> float:
    return desk.config.completion.delinquency_threshold


def _now() -> dt.datetime:
    """Clinical times (admission, discharge) are the facility's local wall-clock times, naive."""
    return dt.datetime.now().replace(second=0, microsecond=0)


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
    """An encounter's chart as assembled at `as_of`."""

    encounter_uuid: str
    patient: PatientDetails
    kind: str
    admit_at: dt.datetime
    discharge_at: dt.datetime | None
    service: str
    attending: str
    attending_id: int | None
    medicare: bool
    as_of: dt.datetime
    delinquent_days: int = 30
    items: list[ItemRow] = field(default_factory=list)
    other: list[DeficiencyRow] = field(default_factory=list)  # open deficiencies that mark no item
    deficiencies: list[DeficiencyRow] = field(default_factory=list)  # every one on the encounter, open first
    documents: list[DocRow] = field(default_factory=list)  # the patient's filed documents, newest first

    @property
    def complete(self) -> bool:
        return completion.is_complete(self.items) and not self.other

    @property
    def age_days(self) -> int:
        return completion.deficiency_age_days(self.discharge_at, self.as_of) if self.discharge_at else 0

    @property
    def delinquent(self) -> bool:
        """C4: still incomplete at discharge + delinquent_days."""
        return not self.complete and completion.delinquent(self.discharge_at, self.as_of, self.delinquent_days)

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
    """C6 at `as_of`: delinquent records over average monthly discharges (last three months ÷ 3)."""

    as_of: dt.datetime
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
        return (f"C6 delinquency rate {rate} (line {self.threshold:.2f}): {self.delinquent} delinquent / "
                f"{self.discharges} discharges in 3 months")


# --- reading the desk ----------------------------------------------------------------------------------------------


def _encounter(encounter_uuid: str) -> Encounter:
    enc = Encounter.get_or_none(Encounter.uuid == encounter_uuid)
    if enc is None:
        raise DeskError(f"no encounter {encounter_uuid}: it may have been removed; reload the list")
    patient = enc.patient
    if patient.status != "active" or patient.dek_wrapped is None:
        raise DeskError(f"that patient is {patient.status}: their charts are not assembled")
    return enc


def _labels(desk: Desk) -> tuple[dict[str, str], dict[str, completion.DeficiencyType]]:
    """Document type labels and deficiency types, by code."""
    types = {t["code"]: t["label"] for t in reference.load("document_types", desk.config.home)["type"]}
    return types, {t.code: t for t in completion.deficiency_types(desk.config.home)}


def _medicare(desk: Desk, patient: Patient, policies: list[Insurance]) -> bool:
    from recdesk.patients.registry import decrypt_insurance

    return any("medicare" in (decrypt_insurance(desk, patient, p)["payer"] or "").lower() for p in policies)


def surgery_times(enc: Encounter) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The start and end of the encounter's surgery as the checklist reads them (the module's **Surgery**): the
    recorded times; without a start, a same-day surgery encounter's admission, or on another encounter a recorded
    end; (None, None) when the encounter has no surgery."""
    start, end = enc.surgery_at, enc.surgery_end_at
    if start is None:
        start = enc.admit_at if enc.kind == "surgery" else end
    if start is not None and end is not None and end < start:
        end = None
    return start, end


def _facts(enc: Encounter, medicare: bool) -> completion.EncounterFacts:
    start, end = surgery_times(enc)
    return completion.EncounterFacts(kind=enc.kind, admit_at=enc.admit_at, discharge_at=enc.discharge_at,
                                      surgery_at=start, surgery_end_at=end, medicare=medicare)


def _window(enc: Encounter, as_of: dt.datetime) -> tuple[dt.date, dt.date]:
    last = enc.discharge_at or max(enc.admit_at, as_of)
    return enc.admit_at.date() - dt.timedelta(days=WINDOW_DAYS), last.date() + dt.timedelta(days=WINDOW_DAYS)


def _belongs(doc: Document, enc: Encounter, window: tuple[dt.date, dt.date], attached: set[int]) -> bool:
    if doc.id in attached or doc.encounter_id == enc.id:
        return True
    return doc.encounter_id is None and doc.service_date is not None and window[0] <= doc.service_date <= window[1]


def _filed(doc: Document, moment: dt.time, label: str) -> completion.FiledDoc:
    if doc.service_date is not None:
        signed = dt.datetime.combine(doc.service_date, moment)
    else:
        signed = doc.filed_at or doc.created_at
    return completion.FiledDoc(doc.uuid, doc.doc_type, signed, label)


def _evaluate(desk: Desk, facts: completion.EncounterFacts, docs: list[Document], attached: dict[str, list[str]],
              as_of: dt.datetime, labels: dict[str, str]) -> list[completion.ItemState]:
    """The checklist judged at the first and at the last minute of each document's date; the better state wins."""
    home = desk.config.home
    early = completion.evaluate(facts, [_filed(d, _DAY_START, labels.get(d.doc_type, d.doc_type)) for d in docs],
                                attached, as_of, home)
    best = early
    if docs and not all(s.state in ("present", "not_applicable") for s in early):
        late = completion.evaluate(facts, [_filed(d, _DAY_END, labels.get(d.doc_type, d.doc_type)) for d in docs],
                                   attached, as_of, home)
        best = [a if _RANK[a.state] <= _RANK[b.state] else b for a, b in zip(early, late, strict=True)]
    return [replace(s, message=_DAY_ONLY.sub(r"\1", s.message)) for s in best]


def _rules(desk: Desk, kind: str, cache: dict | None = None) -> dict[str, completion.ChecklistItem]:
    """The checklist of an encounter kind by item code (read once per kind when given a cache)."""
    cache = {} if cache is None else cache
    if kind not in cache:
        cache[kind] = {i.code: i for i in completion.checklist(kind, desk.config.home)}
    return cache[kind]


def _overlay(items: dict[str, completion.ChecklistItem], states: list[completion.ItemState],
             open_rows: list[DeficiencyRow]) -> tuple[list[tuple[completion.ItemState, list[DeficiencyRow]]],
                                                      list[DeficiencyRow]]:
    """Each item with the open deficiencies that mark it, and the open deficiencies that mark none. A deficiency
    recorded on an item marks that item alone; the document and kind rules are for those recorded on none."""
    marks: dict[str, list[DeficiencyRow]] = {s.code: [] for s in states}
    other = []
    for row in open_rows:
        hit = [s for s in states if row.recorded_item and s.code == row.recorded_item]
        if not hit:
            hit = [s for s in states if row.document_uuid and row.document_uuid in s.document_ids]
        if not hit:
            hit = [s for s in states if s.state not in completion.COMPLETE_STATES and row.kind in {
                items[s.code].deficiency, items[s.code].late_deficiency, items[s.code].unsigned_deficiency,
                items[s.code].update_deficiency}]
        for s in hit:
            marks[s.code].append(row)
        if not hit:
            other.append(row)
    return [(s, marks[s.code]) for s in states], other


def _deficiency_rows(desk: Desk, query, as_of: dt.datetime, types: dict[str, completion.DeficiencyType], *,
                     patients: dict[int, PatientDetails] | None = None, notes: bool = True) -> list[DeficiencyRow]:
    """Deficiencies as rows: decrypted MRN, name and note under each patient's key; aging from discharge."""
    days = delinquent_days(desk)
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
        age = completion.deficiency_age_days(discharge, as_of) if discharge else 0
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
            delinquent=d.status == "open" and completion.delinquent(discharge, as_of, days), recorded_item=d.item))
    return rows


def _doc_rows(desk: Desk, patient: Patient, enc: Encounter, labels: dict[str, str]) -> list[DocRow]:
    dek = desk.dek(patient)
    query = (Document.select().where((Document.patient == patient.id) & (Document.status == "filed"))
             .order_by(Document.service_date.desc(nulls="LAST"), Document.id.desc()))
    return [DocRow(d.uuid, d.doc_type, labels.get(d.doc_type, d.doc_type), d.service_date, d.pages,
                   crypto.open_text(dek, "document", "title", d.uuid, d.title_enc) or "",
                   "this" if d.encounter_id == enc.id else "other" if d.encounter_id else "")
            for d in query]


def _attached(enc: Encounter) -> tuple[dict[str, list[str]], set[int]]:
    """The clerk's attachments: item code -> document uuids (in the order attached), and the documents' ids."""
    by_item: dict[str, list[str]] = {}
    ids = set()
    for a in (AssemblyItem.select(AssemblyItem, Document).join(Document)
              .where(AssemblyItem.encounter == enc.id).order_by(AssemblyItem.at, AssemblyItem.id)):
        if a.document.patient_id == enc.patient_id and a.document.status == "filed":
            by_item.setdefault(a.item, []).append(a.document.uuid)
            ids.add(a.document_id)
    return by_item, ids


def _chart_documents(enc: Encounter, as_of: dt.datetime, attached_ids: set[int]) -> list[Document]:
    window = _window(enc, as_of)
    query = Document.select().where((Document.patient == enc.patient_id) & (Document.status == "filed"))
    return [d for d in query.order_by(Document.service_date, Document.id) if _belongs(d, enc, window, attached_ids)]



def _view_event(desk: Desk, actor, row: Patient, action: str, obj: str, purpose: str | None,
                details: dict | None = None) -> None:
    """Audit a view of one patient's chart; a restricted record's view also goes to the supervisor's queue."""
    details = dict(details or {}) | ({"purpose": purpose} if purpose else {})
    with desk.audit_db.atomic():
        if row.sensitive:
            audit.append(desk, actor, "chart.open.sensitive", object=f"patient:{row.uuid}", patient=row.uuid,
                         details={"purpose": purpose, "via": action})
        audit.append(desk, actor, action, object=obj, patient=row.uuid, details=details or None)


# --- worklists -----------------------------------------------------------------------------------------------------


def worklist(desk: Desk, actor, day: dt.date, kind: str = "admissions", *,
             as_of: dt.datetime | None = None) -> list[WorkRow]:
    """Encounters to assemble: `admissions` (inpatient and surgery) or `clinics` (outpatient visits) on `day` —
    tomorrow's is day = today + 1 — or `discharges`: encounters of the analysed kinds discharged in the
    [completion] worklist_days up to `day` whose charts are still incomplete, oldest discharge first. Showing
    their names is an audited view."""
    if kind not in WORKLISTS:
        raise DeskError(f"worklist {kind!r}: one of {', '.join(WORKLISTS)}")
    as_of = as_of or _now()
    start = dt.datetime.combine(day, dt.time.min)
    end = start + dt.timedelta(days=1)
    kinds = analysed_kinds(desk) if kind == "discharges" else WORKLIST_KINDS[kind]
    query = (Encounter.select(Encounter, Patient).join(Patient)
             .where(Encounter.kind.in_(kinds) & (Patient.status == "active")
                    & Patient.dek_wrapped.is_null(False)))
    if kind == "discharges":
        query = query.where((Encounter.discharge_at >= end - dt.timedelta(days=discharge_days(desk)))
                            & (Encounter.discharge_at < end)).order_by(Encounter.discharge_at, Encounter.id)
    else:
        query = query.where((Encounter.admit_at >= start) & (Encounter.admit_at < end)).order_by(Encounter.admit_at,
                                                                                                 Encounter.id)
    encounters = list(query)
    labels, _ = _labels(desk)
    days = delinquent_days(desk)
    providers = {p.id: p.name for p in Provider.select(Provider.id, Provider.name)}
    patient_ids = list({e.patient_id for e in encounters})
    docs: dict[int, list[Document]] = {}
    policies: dict[int, list[Insurance]] = {}
    open_by_encounter: dict[int, list] = {}
    attached_rows: dict[int, list[AssemblyItem]] = {}
    for chunk in range(0, len(patient_ids), 500):
        ids = patient_ids[chunk: chunk + 500]
        for d in (Document.select().where(Document.patient.in_(ids) & (Document.status == "filed"))
                  .order_by(Document.service_date, Document.id)):
            docs.setdefault(d.patient_id, []).append(d)
        for p in Insurance.select().where(Insurance.patient.in_(ids)).order_by(Insurance.rank):
            policies.setdefault(p.patient_id, []).append(p)
    encounter_ids = [e.id for e in encounters]
    for chunk in range(0, len(encounter_ids), 500):
        ids = encounter_ids[chunk: chunk + 500]
        for d in Deficiency.select().where(Deficiency.encounter.in_(ids) & (Deficiency.status == "open")):
            open_by_encounter.setdefault(d.encounter_id, []).append(d)
        for a in AssemblyItem.select().where(AssemblyItem.encounter.in_(ids)).order_by(AssemblyItem.at,
                                                                                       AssemblyItem.id):
            attached_rows.setdefault(a.encounter_id, []).append(a)
    details: dict[int, PatientDetails] = {}
    checklists: dict[str, dict] = {}
    rows = []
    for enc in encounters:
        patient = enc.patient
        if patient.id not in details:
            details[patient.id] = decrypt(desk, patient)
        p = details[patient.id]
        mine = {d.id: d for d in docs.get(patient.id, [])}
        attached: dict[str, list[str]] = {}
        attached_ids = set()
        for a in attached_rows.get(enc.id, []):
            if a.document_id in mine:
                attached.setdefault(a.item, []).append(mine[a.document_id].uuid)
                attached_ids.add(a.document_id)
        window = _window(enc, as_of)
        chart_docs = [d for d in mine.values() if _belongs(d, enc, window, attached_ids)]
        facts = _facts(enc, _medicare(desk, patient, policies.get(patient.id, [])))
        states = _evaluate(desk, facts, chart_docs, attached, as_of, labels)
        uuids = {d.id: d.uuid for d in chart_docs}
        open_rows = [_light_row(d, uuids.get(d.document_id, "")) for d in open_by_encounter.get(enc.id, [])]
        marked, other = _overlay(_rules(desk, enc.kind, checklists), states, open_rows)
        final = [("deficient" if marks else s.state) for s, marks in marked]
        complete = all(s in completion.COMPLETE_STATES for s in final) and not other
        if kind == "discharges" and complete:
            continue
        rows.append(WorkRow(
            encounter_uuid=enc.uuid, patient_uuid=patient.uuid, mrn=p.mrn, name=p.display_name,
            sensitive=patient.sensitive, kind=enc.kind, admit_at=enc.admit_at, discharge_at=enc.discharge_at,
            service=enc.service, attending=providers.get(enc.attending_id, ""), missing=final.count("missing"),
            deficient=final.count("deficient") + len(other), pending=final.count("pending"),
            present=final.count("present") + final.count("late"),
            required=sum(1 for s in final if s != "not_applicable"), complete=complete,
            age_days=completion.deficiency_age_days(enc.discharge_at, as_of) if enc.discharge_at else 0,
            delinquent=not complete and completion.delinquent(enc.discharge_at, as_of, days)))
    with desk.audit_db.atomic():
        audit.append(desk, actor, "assembly.worklist", object=f"worklist:{kind}",
                     details={"kind": kind, "day": day.isoformat(), "rows": len(rows),
                              "patients": list(dict.fromkeys(r.patient_uuid for r in rows))})
    return rows


def _light_row(d: Deficiency, document_uuid: str) -> DeficiencyRow:
    """An open deficiency with only what the overlay needs (the worklist decrypts nothing more)."""
    return DeficiencyRow(d.uuid, d.kind, d.kind, "", d.status, "", d.provider_id, "", document_uuid, d.created_at,
                         "", None, "", "", "", "", "", "", None, 0, False, recorded_item=d.item)


# --- one chart -----------------------------------------------------------------------------------------------------


def assemble(desk: Desk, actor, encounter_uuid: str, as_of: dt.datetime | None = None, *,
             purpose: str | None = None) -> Assembly:
    """The encounter's chart: each checklist item present (with its documents), missing, late, pending, not
    applicable, or deficient (by the rules or by an open deficiency). An audited view of the chart; a restricted
    record needs a purpose of access (chart.PurposeRequired otherwise)."""
    as_of = as_of or _now()
    enc = _encounter(encounter_uuid)
    row = enc.patient
    check_access(desk, row, purpose)
    result = _assemble(desk, enc, as_of)
    _view_event(desk, actor, row, "chart.assemble", f"encounter:{enc.uuid}", purpose)
    return result


def _assemble(desk: Desk, enc: Encounter, as_of: dt.datetime) -> Assembly:
    row = enc.patient
    labels, types = _labels(desk)
    patient = decrypt(desk, row, with_insurance=True)
    attached, attached_ids = _attached(enc)
    chart_docs = _chart_documents(enc, as_of, attached_ids)
    medicare = any("medicare" in (i.get("payer") or "").lower() for i in patient.insurance)
    states = _evaluate(desk, _facts(enc, medicare), chart_docs, attached, as_of, labels)
    all_docs = _doc_rows(desk, row, enc, labels)
    by_uuid = {d.uuid: d for d in all_docs}
    every = _deficiency_rows(desk, Deficiency.select().where(Deficiency.encounter == enc.id)
                             .order_by(Deficiency.status.desc(), Deficiency.created_at, Deficiency.id),
                             as_of, types, patients={row.id: patient})
    open_rows = [d for d in every if d.status == "open"]
    rules = _rules(desk, enc.kind)
    marked, other = _overlay(rules, states, open_rows)
    items = []
    marks_of: dict[str, str] = {}
    for state, marks in marked:
        message = state.message
        if marks:
            opened = "; ".join(f"{m.label} ({m.provider or 'no provider'})" for m in marks)
            message = f"Open deficiency: {opened}. {message}"
            for m in marks:
                marks_of.setdefault(m.uuid, state.code)
        items.append(ItemRow(state.code, state.label, "deficient" if marks else state.state, state.rule, message,
                             tuple(by_uuid[i] for i in state.document_ids if i in by_uuid),
                             tuple(attached.get(state.code, ())), _suggested(state, rules[state.code]),
                             tuple(marks)))
    every = [_with_item(d, marks_of.get(d.uuid, "")) for d in every]
    attending = enc.attending
    return Assembly(encounter_uuid=enc.uuid, patient=patient, kind=enc.kind, admit_at=enc.admit_at,
                    discharge_at=enc.discharge_at, service=enc.service, attending=attending.name if attending else "",
                    attending_id=enc.attending_id, medicare=medicare, as_of=as_of,
                    delinquent_days=delinquent_days(desk), items=items, other=other,
                    deficiencies=every, documents=all_docs)


def _suggested(state: completion.ItemState, item: completion.ChecklistItem) -> str:
    """The deficiency type a clerk most likely opens for the item: the rules' own, else the item's for a document
    still owed, or its unsigned one for a document on file."""
    if state.deficiency:
        return state.deficiency
    if state.state in ("present", "late"):
        return item.unsigned_deficiency
    return "" if state.state == "not_applicable" else item.deficiency


def _with_item(row: DeficiencyRow, item: str) -> DeficiencyRow:
    return replace(row, item=item) if item else row


# --- changes -------------------------------------------------------------------------------------------------------


def _document(doc_uuid: str, enc: Encounter) -> Document:
    doc = Document.get_or_none(Document.uuid == doc_uuid)
    if doc is None:
        raise DeskError(f"no document {doc_uuid}")
    if doc.patient_id != enc.patient_id:
        raise DeskError("that document is filed to another patient: only this patient's documents go in the chart")
    if doc.status != "filed":
        raise DeskError(f"that document is {doc.status}: only filed documents go in a chart")
    return doc


def _item(desk: Desk, enc: Encounter, item_code: str) -> completion.ChecklistItem:
    items = {i.code: i for i in completion.checklist(enc.kind, desk.config.home)}
    if item_code not in items:
        raise DeskError(f"{item_code!r} is not on the {enc.kind} checklist: one of {', '.join(items)}")
    return items[item_code]


def attach(desk: Desk, actor, encounter_uuid: str, item_code: str, document_uuid: str) -> None:
    """Attach one of the patient's filed documents to a checklist item; it is filed to the encounter if it was
    filed to none."""
    actor.require(*CHANGERS)
    enc = _encounter(encounter_uuid)
    item = _item(desk, enc, item_code)
    with desk.write():
        doc = _document(document_uuid, enc)  # read in the transaction: a move just now is seen
        if AssemblyItem.select().where((AssemblyItem.encounter == enc.id) & (AssemblyItem.item == item.code)
                                       & (AssemblyItem.document == doc.id)).exists():
            raise DeskError(f"that document is already attached to {item.label}")
        try:
            with desk.db.atomic():
                AssemblyItem.create(encounter=enc.id, item=item.code, document=doc.id, by_user=actor.user_id)
        except peewee.IntegrityError:
            raise DeskError(f"someone attached that document to {item.label} just now") from None
        filed_here = Document.update(encounter=enc.id).where(
            (Document.id == doc.id) & Document.encounter.is_null()).execute() == 1
        audit.append(desk, actor, "assembly.attach", object=f"encounter:{enc.uuid}", patient=enc.patient.uuid,
                     details={"item": item.code, "document": doc.uuid, "doc_type": doc.doc_type,
                              "filed_to_encounter": filed_here})


def detach(desk: Desk, actor, encounter_uuid: str, item_code: str, document_uuid: str) -> None:
    """Undo an attachment (the document stays filed where it is)."""
    actor.require(*CHANGERS)
    enc = _encounter(encounter_uuid)
    doc = Document.get_or_none(Document.uuid == document_uuid)
    with desk.write():
        gone = 0 if doc is None else AssemblyItem.delete().where(
            (AssemblyItem.encounter == enc.id) & (AssemblyItem.item == item_code)
            & (AssemblyItem.document == doc.id)).execute()
        if not gone:
            raise DeskError(f"that document is not attached to {item_code}: reload the checklist")
        audit.append(desk, actor, "assembly.detach", object=f"encounter:{enc.uuid}", patient=enc.patient.uuid,
                     details={"item": item_code, "document": document_uuid})


def find_provider(provider: int | str | Provider) -> Provider:
    """A provider by id, or by name (any case)."""
    if isinstance(provider, Provider):
        return provider
    found = None
    if isinstance(provider, int) or (isinstance(provider, str) and provider.strip().isdigit()):
        found = Provider.get_or_none(Provider.id == int(provider))
    if found is None and isinstance(provider, str) and provider.strip():
        found = Provider.get_or_none(peewee.fn.LOWER(Provider.name) == provider.strip().lower())
    if found is None:
        raise DeskError(f"no provider {provider!r}: pick one of the desk's providers by name")
    return found


def providers(desk: Desk) -> list[Provider]:
    return list(Provider.select().order_by(Provider.name))


def provider_choices(desk: Desk) -> list[tuple[int, str, str]]:
    """(id, name, service) of every provider, by name: whom a deficiency may be assigned to, in plain values."""
    return [(p.id, p.name, p.service) for p in providers(desk)]


def record_deficiency(desk: Desk, actor, encounter_uuid: str, kind: str, provider_name_or_id: int | str,
                      note: str = "", document_uuid: str | None = None, *, item: str | None = None) -> str:
    """Open a deficiency of a kind from deficiency_types on the encounter, assigned to a provider; returns its uuid.
    `item`, a code from the encounter's checklist, is the item it marks (and no other); without one, the kind and
    the document say which items it marks. The note is encrypted under the patient's key."""
    actor.require(*CHANGERS)
    types = {t.code: t for t in completion.deficiency_types(desk.config.home)}
    if kind not in types:
        raise DeskError(f"deficiency type {kind!r} is not in deficiency_types.toml: one of {', '.join(types)}")
    note = _CONTROL.sub(" ", note or "").strip()
    if len(note) > NOTE_MAX:
        raise DeskError(f"a deficiency note is at most {NOTE_MAX} characters")
    if item is not None and not isinstance(item, str):
        raise DeskError(f"checklist item {item!r} is not an item code")
    enc = _encounter(encounter_uuid)
    code = _item(desk, enc, item.strip()).code if item and item.strip() else ""
    provider = find_provider(provider_name_or_id)
    patient = enc.patient
    uid = new_uuid()
    with desk.write():
        doc = _document(document_uuid, enc) if document_uuid else None
        same = Deficiency.select().where(
            (Deficiency.encounter == enc.id) & (Deficiency.kind == kind) & (Deficiency.status == "open")
            & (Deficiency.provider == provider.id) & (Deficiency.item == code)
            & (Deficiency.document == doc.id if doc else Deficiency.document.is_null()))
        if same.exists():
            raise DeskError(f"{types[kind].label} is already open for {provider.name} on this chart"
                            + (f" ({code})" if code else ""))
        Deficiency.create(uuid=uid, patient=patient.id, encounter=enc.id, document=doc.id if doc else None,
                          kind=kind, provider=provider.id, status="open", opened_by=actor.user_id, item=code,
                          note_enc=crypto.seal(desk.dek(patient), "deficiency", "note", uid, note) if note else None)
        audit.append(desk, actor, "deficiency.record", object=f"deficiency:{uid}", patient=patient.uuid,
                     details={"encounter": enc.uuid, "kind": kind, "rule": types[kind].rule,
                              "provider": provider.name, "document": doc.uuid if doc else "", "item": code})
    return uid


def close_deficiency(desk: Desk, actor, deficiency_uuid: str) -> None:
    """Close an open deficiency (the provider completed it)."""
    actor.require(*CHANGERS)
    d = Deficiency.get_or_none(Deficiency.uuid == deficiency_uuid)
    if d is None:
        raise DeskError(f"no deficiency {deficiency_uuid}")
    if d.status != "open":
        raise DeskError("that deficiency is already closed")
    stamp = now()
    with desk.write():
        if Deficiency.update(status="closed", closed_at=stamp, closed_by=actor.user_id).where(
                (Deficiency.id == d.id) & (Deficiency.status == "open")).execute() != 1:
            raise DeskError("someone closed that deficiency just now: reload the list")
        enc = Encounter.get_or_none(Encounter.id == d.encounter_id) if d.encounter_id else None
        audit.append(desk, actor, "deficiency.close", object=f"deficiency:{d.uuid}", patient=d.patient.uuid,
                     details={"encounter": enc.uuid if enc else "", "kind": d.kind,
                              "provider": d.provider.name if d.provider_id else "",
                              "open_days": (stamp - d.created_at).days})


# --- deficiency queues ---------------------------------------------------------------------------------------------


def deficiencies(desk: Desk, actor, *, provider: int | str | Provider | None = None, status: str = "open",
                 as_of: dt.datetime | None = None, encounter_uuid: str | None = None) -> list[DeficiencyRow]:
    """Deficiencies with aging from discharge and the delinquent flag (C4), oldest discharge first; optionally one
    provider's or one encounter's. Reading them (MRNs, names, notes) is an audited view."""
    if status not in STATUSES:
        raise DeskError(f"status {status!r}: one of {', '.join(STATUSES)}")
    as_of = as_of or _now()
    _, types = _labels(desk)
    query = (Deficiency.select(Deficiency).join(Encounter, peewee.JOIN.LEFT_OUTER, on=(Deficiency.encounter
                                                                                          == Encounter.id)))
    if status != "all":
        query = query.where(Deficiency.status == status)
    who = None
    if provider is not None:
        who = find_provider(provider)
        query = query.where(Deficiency.provider == who.id)
    if encounter_uuid:
        query = query.where(Encounter.uuid == encounter_uuid)
    query = query.order_by(Encounter.discharge_at.asc(nulls="LAST"), Deficiency.created_at, Deficiency.id)
    rows = _deficiency_rows(desk, query, as_of, types)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "deficiency.list", object=f"provider:{who.id}" if who else "deficiencies",
                     details={"status": status, "provider": who.name if who else "", "rows": len(rows),
                              "patients": list(dict.fromkeys(r.patient_uuid for r in rows))})
    return rows


def provider_queue(desk: Desk, actor, as_of: dt.datetime | None = None) -> list[ProviderRow]:
    """Open deficiencies by provider: how many, on how many charts, how many delinquent, the oldest age in days.
    Most delinquent first. Counts only: no patient is named, so nothing is decrypted."""
    as_of = as_of or _now()
    days = delinquent_days(desk)
    query = (Deficiency.select(Deficiency.provider, Deficiency.encounter, Encounter.discharge_at)
             .join(Encounter, peewee.JOIN.LEFT_OUTER, on=(Deficiency.encounter == Encounter.id))
             .where(Deficiency.status == "open").tuples())
    tally: dict[int | None, dict] = {}
    for provider_id, encounter_id, discharge in query:
        t = tally.setdefault(provider_id, {"open": 0, "charts": set(), "delinquent": 0, "oldest": 0})
        t["open"] += 1
        t["charts"].add(encounter_id)
        t["delinquent"] += completion.delinquent(discharge, as_of, days)
        t["oldest"] = max(t["oldest"], completion.deficiency_age_days(discharge, as_of) if discharge else 0)
    names = {p.id: p for p in Provider.select().where(Provider.id.in_([k for k in tally if k is not None]))}
    rows = [ProviderRow(pid, names[pid].name if pid in names else "(no provider)",
                        names[pid].service if pid in names else "", t["open"], len(t["charts"]), t["delinquent"],
                        t["oldest"]) for pid, t in tally.items()]
    return sorted(rows, key=lambda r: (-r.delinquent, -r.oldest_days, r.provider))


def _months_back(moment: dt.datetime, months: int) -> dt.datetime:
    import calendar

    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def delinquency_rate(desk: Desk, as_of: dt.datetime | None = None) -> Rate:
    """C6 at `as_of`: delinquent records ÷ (discharges in the last three calendar months ÷ 3). No PHI."""
    as_of = as_of or _now()
    kinds = analysed_kinds(desk)
    since = _months_back(as_of, 3)
    discharges = Encounter.select().where(Encounter.kind.in_(kinds) & (Encounter.discharge_at >= since)
                                          & (Encounter.discharge_at < as_of)).count()
    due_by = as_of - dt.timedelta(days=delinquent_days(desk))
    delinquent = (Encounter.select(Encounter.id).join(Deficiency, on=(Deficiency.encounter == Encounter.id))
                  .where(Encounter.kind.in_(kinds) & (Deficiency.status == "open")
                         & (Encounter.discharge_at <= due_by)).distinct().count())
    return Rate(as_of, since, delinquent, discharges, completion.delinquency_rate(delinquent, discharges),
                threshold(desk))


# --- letters and printing ------------------------------------------------------------------------------------------


def provider_letter(desk: Desk, actor, provider: int | str | Provider, as_of: dt.datetime | None = None) -> bytes:
    """A letter to the provider listing their open deficiencies by MRN (minimum necessary: no names), as a PDF.
    Audited with the patients it names."""
    from recdesk.pdf import letters

    actor.require(*CHANGERS)
    as_of = as_of or _now()
    who = find_provider(provider)
    _, types = _labels(desk)
    query = (Deficiency.select(Deficiency).join(Encounter, peewee.JOIN.LEFT_OUTER,
                                                on=(Deficiency.encounter == Encounter.id))
             .where((Deficiency.status == "open") & (Deficiency.provider == who.id))
             .order_by(Encounter.discharge_at.asc(nulls="LAST"), Deficiency.created_at, Deficiency.id))
    rows = _deficiency_rows(desk, query, as_of, types, notes=False)
    if not rows:
        raise DeskError(f"{who.name} has no open deficiencies: there is nothing to write about")
    days = delinquent_days(desk)
    lines, coming = [], []
    for r in rows:
        if r.discharge_at is None:
            when = "not yet discharged"
        else:
            due = r.discharge_at + dt.timedelta(days=days)
            when = f"discharged {r.discharge_at:%m/%d/%Y}, {r.age_days} days ago, " + (
                "DELINQUENT" if r.delinquent else f"delinquent on {due:%m/%d/%Y}")
            if not r.delinquent:
                coming.append(due.date())
        lines.append(f"MRN {r.mrn} ({r.encounter_kind or 'no encounter'}): {r.label}; {when}")
    s = desk.config.completion
    user = User.get_or_none(User.id == actor.user_id)
    signer = (user.full_name or user.name) if user else actor.user_name
    due = min([as_of.date() + dt.timedelta(days=s.letter_due_days)] + coming)
    fields = {
        "facility": desk.config.facility, "date": as_of.date(), "as_of": as_of.date(), "due": due,
        "to": [who.name, *([who.service] if who.service else []), "Medical Staff", desk.config.facility],
        "provider": who.name, "deficiencies": lines, "delinquent_days": days,
        "where": s.where, "phone": s.phone or desk.config.roi.phone or "the number on our letterhead",
        "signer": signer, "signer_title": s.signer_title,
    }
    try:
        pdf = letters.render("provider_deficiency", fields, desk.config.home)
    except ValueError as exc:
        raise DeskError(f"the provider letter template cannot be filled: {exc}") from None
    patients = list(dict.fromkeys(r.patient_uuid for r in rows))
    with desk.audit_db.atomic():
        audit.append(desk, actor, "deficiency.letter", object=f"provider:{who.id}",
                     details={"provider": who.name, "deficiencies": len(rows),
                              "delinquent": sum(r.delinquent for r in rows), "patients": patients})
    return pdf


def _pdf(title: str):
    from fpdf import FPDF

    from recdesk.pdf import layout

    pdf = FPDF(unit="mm", format="letter")
    pdf.set_title(layout.text(title))
    pdf.set_creator("recdesk")
    pdf.set_creation_date(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    return pdf


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%m/%d/%Y %H:%M") if moment else ""


def face_sheet(desk: Desk, a: Assembly) -> bytes:
    """One page: facility, patient demographics, the encounter and the payers on file."""
    from recdesk.pdf.layout import text

    p = a.patient
    pdf = _pdf("Face sheet")
    pdf.set_margins(19, 19, 19)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 8, text(desk.config.facility), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 7, "FACE SHEET", new_x="LMARGIN", new_y="NEXT")
    pdf.line(19, pdf.get_y() + 1, pdf.w - 19, pdf.get_y() + 1)
    pdf.ln(4)

    def section(title: str, pairs: list[tuple[str, str]]) -> None:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
        for label, value in pairs:
            pdf.set_font("Helvetica", "", 10)
            pdf.cell(45, 6, text(label))
            pdf.set_font("Helvetica", "B", 10)
            pdf.multi_cell(0, 6, text(value), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    addr = p.address or {}
    street = ", ".join(x for x in (addr.get("street", ""), addr.get("city", "")) if x)
    section("Patient", [
        ("Name", p.display_name), ("MRN", p.mrn), ("Date of birth", p.dob.strftime("%m/%d/%Y") if p.dob else ""),
        ("Sex", p.sex), ("Address", f"{street} {addr.get('state', '')} {addr.get('zip', '')}".strip()),
        ("Phone", p.phone), ("Flags", ", ".join(p.flags) or "none"),
    ])
    section("Encounter", [
        ("Type", a.kind), ("Admitted", _when(a.admit_at)), ("Discharged", _when(a.discharge_at) or "in house"),
        ("Service", a.service), ("Attending", a.attending), ("Encounter", a.encounter_uuid[:8].upper()),
        ("Admitting diagnosis", "_" * 40),
    ])
    payers = [(f"Payer {n}", f"{i.get('payer') or ''}   member {i.get('member_id') or ''}"
               + (f"   group {i['group']}" if i.get("group") else "")) for n, i in enumerate(p.insurance, 1)]
    section("Payers", payers or [("Payer", "none on file (self-pay)")])
    pdf.set_font("Helvetica", "I", 8)
    pdf.cell(0, 5, text(f"Chart assembled {a.as_of:%m/%d/%Y %H:%M}; printed by recdesk."), new_x="LMARGIN",
             new_y="NEXT")
    return bytes(pdf.output())


LABEL_COLUMNS, LABEL_ROWS = 3, 10  # Avery 5160 / 8160: 1" x 2-5/8", 30 to a letter sheet
_LABEL_W, _LABEL_H, _LABEL_LEFT, _LABEL_TOP, _LABEL_PITCH = 66.675, 25.4, 4.7625, 12.7, 69.85


def id_labels(a: Assembly) -> bytes:
    """One sheet of 30 patient ID labels: name, MRN, DOB and sex, the encounter."""
    from recdesk.pdf.layout import text

    p = a.patient
    pdf = _pdf("ID labels")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.add_page()
    lines = [
        ("B", 10, p.display_name[:30]),
        ("", 9, f"MRN {p.mrn}   DOB {p.dob.strftime('%m/%d/%Y') if p.dob else ''}   {p.sex}"),
        ("", 8, f"{a.kind} {a.admit_at:%m/%d/%Y}  enc {a.encounter_uuid[:8].upper()}"),
        ("", 8, (a.attending or "")[:34]),
    ]
    for row in range(LABEL_ROWS):
        for col in range(LABEL_COLUMNS):
            x, y = _LABEL_LEFT + col * _LABEL_PITCH + 3, _LABEL_TOP + row * _LABEL_H + 3
            for style, size, line in lines:
                pdf.set_font("Helvetica", style, size)
                pdf.set_xy(x, y)
                pdf.cell(_LABEL_W - 6, 4.6, text(line))
                y += 4.6
    return bytes(pdf.output())


def chart_order(a: Assembly) -> list[DocRow]:
    """The documents to print: those serving each item, in the site's chart order, then the encounter's other
    documents by date; each once."""
    seen: dict[str, DocRow] = {}
    for item in a.items:
        for doc in item.documents:
            seen.setdefault(doc.uuid, doc)
    rest = sorted((d for d in a.documents if d.where == "this" and d.uuid not in seen),
                  key=lambda d: (d.service_date or dt.date.min, d.uuid))
    return list(seen.values()) + rest


def print_chart(desk: Desk, actor, encounter_uuid: str, *, purpose: str | None = None,
                as_of: dt.datetime | None = None) -> bytes:
    """The assembled chart as one PDF: a face sheet, a sheet of ID labels, then its documents in chart order
    (no Bates numbers: this is the chart, not a release). Audited as a print."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PdfReadError

    as_of = as_of or _now()
    enc = _encounter(encounter_uuid)
    row = enc.patient
    check_access(desk, row, purpose)
    a = _assemble(desk, enc, as_of)
    writer = PdfWriter()
    for part in (face_sheet(desk, a), id_labels(a)):
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    dek = desk.dek(row)
    order = chart_order(a)
    outline = []
    for doc_row in order:
        doc = Document.get(Document.uuid == doc_row.uuid)
        data = desk.store.read(dek, doc.uuid, doc.blob, doc.sha256)
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise DeskError(f"{doc_row.label} is password-protected: it cannot be printed in the chart")
            outline.append((doc_row.type_label, len(writer.pages)))
            for page in reader.pages:
                writer.add_page(page)
        except PdfReadError as exc:
            raise DeskError(f"{doc_row.label} is not a readable PDF ({exc}): correct it before printing") from None
    for title, index in [("Face sheet", 0), ("ID labels", 1), *outline]:
        writer.add_outline_item(title=title, page_number=index)
    writer.add_metadata({"/Title": f"Chart {a.patient.mrn} {a.kind} {a.admit_at:%Y-%m-%d}", "/Producer": "recdesk"})
    out = io.BytesIO()
    writer.write(out)
    _view_event(desk, actor, row, "chart.print", f"encounter:{enc.uuid}", purpose,
                {"pages": len(writer.pages), "documents": [d.uuid for d in order]})
    return out.getvalue()
