"""Chart assembly (RULES.md §11, C1–C6): the worklists, an encounter's chart judged by the pure rules in
completion/rules.py with its open deficiencies overlaid, documents attached to its checklist, and the chart printed.
Deficiencies themselves are in completion/deficiencies.py, letters and printed pages in completion/printouts.py; the
rows both show are in completion/rows.py. Their names are imported here too, so one module serves the F6 screen.

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

Every view of patient data is audited (a worklist's names, a chart assembled, a deficiency list, a letter, a print);
every change runs in one transaction with its audit event; supervisors change nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import replace

import peewee

from recdesk.completion import printouts
from recdesk.completion import rules as completion

# The F6 screen reads chart completion through this one module: what it uses of deficiencies.py and printouts.py,
# and the rows it shows, are named here for it (noqa: F401).
from recdesk.completion.deficiencies import (  # noqa: F401
    NOTE_MAX,
    close_deficiency,
    deficiencies,
    delinquency,
    delinquency_rate,
    provider_choices,
    provider_queue,
    providers,
    record_deficiency,
)
from recdesk.completion.printouts import provider_letter  # noqa: F401
from recdesk.completion.rows import (  # noqa: F401
    Assembly,
    DeficiencyRow,
    Delinquency,
    DocRow,
    ItemRow,
    ProviderRow,
    Rate,
    WorkRow,
    chart_delinquent,
    chart_document,
    checklist_item,
    deficiency_rows,
    deficiency_types,
    encounter,
    wall_clock,
)
from recdesk.desk import Desk
from recdesk.documents.filing import type_labels
from recdesk.errors import DeskError
from recdesk.patients.chart import Access, check_access, record_use
from recdesk.patients.registry import PatientDetails, decrypt, decrypt_insurance
from recdesk.roles import CHANGERS
from recdesk.vault import audit, crypto
from recdesk.vault.models import AssemblyItem, Deficiency, Document, Encounter, Insurance, Patient, Provider

WORKLISTS = ("admissions", "clinics", "discharges")
WORKLIST_KINDS = {"admissions": ("inpatient", "surgery"), "clinics": ("outpatient",)}
WINDOW_DAYS = 30  # documents filed to no encounter count for it within this many days of its stay
_RANK = {"present": 0, "not_applicable": 1, "late": 2, "pending": 3, "deficient": 4, "missing": 5}
_DAY_START, _DAY_END = dt.time(0, 0), dt.time(23, 59)
_DAY_ONLY = re.compile(r"([Ss]igned \d{4}-\d{2}-\d{2}) (?:00:00|23:59)\b")  # a date of service has no time to show


# --- reading the desk ----------------------------------------------------------------------------------------------


def _medicare(payers: Iterable[dict]) -> bool:
    """C5 (the module's **Medicare**): a payer on file whose name contains "Medicare"."""
    return any("medicare" in (payer.get("payer") or "").lower() for payer in payers)


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


def _window(enc: Encounter, at: dt.datetime) -> tuple[dt.date, dt.date]:
    last = enc.discharge_at or max(enc.admit_at, at)
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
              at: dt.datetime, labels: dict[str, str]) -> list[completion.ItemState]:
    """The checklist judged at the first and at the last minute of each document's date; the better state wins."""
    home = desk.config.home
    early = completion.evaluate(facts, [_filed(d, _DAY_START, labels.get(d.doc_type, d.doc_type)) for d in docs],
                                attached, at, home)
    best = early
    if docs and not all(s.state in ("present", "not_applicable") for s in early):
        late = completion.evaluate(facts, [_filed(d, _DAY_END, labels.get(d.doc_type, d.doc_type)) for d in docs],
                                   attached, at, home)
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


def _chart_documents(enc: Encounter, at: dt.datetime, attached_ids: set[int]) -> list[Document]:
    window = _window(enc, at)
    query = Document.select().where((Document.patient == enc.patient_id) & (Document.status == "filed"))
    return [d for d in query.order_by(Document.service_date, Document.id) if _belongs(d, enc, window, attached_ids)]


def _view_event(desk: Desk, actor, row: Patient, action: str, obj: str, access: Access,
                details: dict | None = None) -> None:
    """Audit a view of one patient's chart; a restricted record's view is recorded as a use of it too."""
    details = dict(details or {}) | ({"purpose": access.purpose} if access.purpose else {})
    with desk.audit_db.atomic():
        if access.restricted:
            record_use(desk, actor, row, access, via=action)
        audit.append(desk, actor, action, object=obj, patient=row.uuid, details=details or None)


# --- worklists -----------------------------------------------------------------------------------------------------


def worklist(desk: Desk, actor, day: dt.date, kind: str = "admissions", *,
             at: dt.datetime | None = None) -> list[WorkRow]:
    """Encounters to assemble: `admissions` (inpatient and surgery) or `clinics` (outpatient visits) on `day` —
    tomorrow's is day = today + 1 — or `discharges`: encounters of the analysed kinds discharged in the
    [completion] worklist_days up to `day` whose charts are still incomplete, oldest discharge first. Showing
    their names is an audited view."""
    if kind not in WORKLISTS:
        raise DeskError(f"worklist {kind!r}: one of {', '.join(WORKLISTS)}")
    at = at or wall_clock()
    start = dt.datetime.combine(day, dt.time.min)
    end = start + dt.timedelta(days=1)
    kinds = desk.config.completion.kinds if kind == "discharges" else WORKLIST_KINDS[kind]
    query = (Encounter.select(Encounter, Patient).join(Patient)
             .where(Encounter.kind.in_(kinds) & (Patient.status == "active")
                    & Patient.dek_wrapped.is_null(False)))
    if kind == "discharges":
        query = query.where((Encounter.discharge_at >= end - dt.timedelta(days=desk.config.completion.worklist_days))
                            & (Encounter.discharge_at < end)).order_by(Encounter.discharge_at, Encounter.id)
    else:
        query = query.where((Encounter.admit_at >= start) & (Encounter.admit_at < end)).order_by(Encounter.admit_at,
                                                                                                 Encounter.id)
    encounters = list(query)
    labels = type_labels(desk)
    attendings = {p.id: p.name for p in Provider.select(Provider.id, Provider.name)}
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
        window = _window(enc, at)
        chart_docs = [d for d in mine.values() if _belongs(d, enc, window, attached_ids)]
        payers = (decrypt_insurance(desk, patient, policy) for policy in policies.get(patient.id, []))
        facts = _facts(enc, _medicare(payers))
        states = _evaluate(desk, facts, chart_docs, attached, at, labels)
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
            service=enc.service, attending=attendings.get(enc.attending_id, ""), missing=final.count("missing"),
            deficient=final.count("deficient") + len(other), pending=final.count("pending"),
            present=final.count("present") + final.count("late"),
            required=sum(1 for s in final if s != "not_applicable"), complete=complete,
            age_days=completion.deficiency_age_days(enc.discharge_at, at) if enc.discharge_at else 0,
            delinquent=chart_delinquent(desk, enc.kind, enc.discharge_at, len(open_rows), at)))
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


def assemble(desk: Desk, actor, encounter_uuid: str, at: dt.datetime | None = None, *,
             purpose: str | None = None) -> Assembly:
    """The encounter's chart: each checklist item present (with its documents), missing, late, pending, not
    applicable, or deficient (by the rules or by an open deficiency). An audited view of the chart; a restricted
    record opens as its chart does (chart.check_access)."""
    at = at or wall_clock()
    enc = encounter(encounter_uuid)
    row = enc.patient
    access = check_access(desk, actor, row, purpose)
    result = _assemble(desk, enc, at)
    _view_event(desk, actor, row, "chart.assemble", f"encounter:{enc.uuid}", access)
    return result


def _assemble(desk: Desk, enc: Encounter, at: dt.datetime) -> Assembly:
    row = enc.patient
    labels, types = type_labels(desk), deficiency_types(desk)
    patient = decrypt(desk, row, with_insurance=True)
    attached, attached_ids = _attached(enc)
    chart_docs = _chart_documents(enc, at, attached_ids)
    medicare = _medicare(patient.insurance)
    states = _evaluate(desk, _facts(enc, medicare), chart_docs, attached, at, labels)
    all_docs = _doc_rows(desk, row, enc, labels)
    by_uuid = {d.uuid: d for d in all_docs}
    every = deficiency_rows(desk, Deficiency.select().where(Deficiency.encounter == enc.id)
                             .order_by(Deficiency.status.desc(), Deficiency.created_at, Deficiency.id),
                             at, types, patients={row.id: patient})
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
                    attending_id=enc.attending_id, medicare=medicare, at=at,
                    delinquent_days=desk.config.completion.delinquent_days,
                    delinquent=chart_delinquent(desk, enc.kind, enc.discharge_at, len(open_rows), at),
                    items=items, other=other,
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


def attach(desk: Desk, actor, encounter_uuid: str, item_code: str, document_uuid: str) -> None:
    """Attach one of the patient's filed documents to a checklist item; it is filed to the encounter if it was
    filed to none."""
    actor.require(*CHANGERS)
    enc = encounter(encounter_uuid)
    item = checklist_item(desk, enc, item_code)
    with desk.write():
        doc = chart_document(document_uuid, enc)  # read in the transaction: a move just now is seen
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
    enc = encounter(encounter_uuid)
    doc = Document.get_or_none(Document.uuid == document_uuid)
    with desk.write():
        gone = 0 if doc is None else AssemblyItem.delete().where(
            (AssemblyItem.encounter == enc.id) & (AssemblyItem.item == item_code)
            & (AssemblyItem.document == doc.id)).execute()
        if not gone:
            raise DeskError(f"that document is not attached to {item_code}: reload the checklist")
        audit.append(desk, actor, "assembly.detach", object=f"encounter:{enc.uuid}", patient=enc.patient.uuid,
                     details={"item": item_code, "document": document_uuid})


# --- printing ------------------------------------------------------------------------------------------------------


def print_chart(desk: Desk, actor, encounter_uuid: str, *, purpose: str | None = None,
                at: dt.datetime | None = None) -> bytes:
    """The assembled chart as one PDF: a face sheet, a sheet of ID labels, then its documents in chart order
    (no Bates numbers: this is the chart, not a release). Audited as a print."""
    at = at or wall_clock()
    enc = encounter(encounter_uuid)
    row = enc.patient
    access = check_access(desk, actor, row, purpose)
    pdf, pages, order = printouts.chart_pdf(desk, row, _assemble(desk, enc, at))
    _view_event(desk, actor, row, "chart.print", f"encounter:{enc.uuid}", access,
                {"pages": pages, "documents": [d.uuid for d in order]})
    return pdf
