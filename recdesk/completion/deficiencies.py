"""Deficiencies (RULES.md §11, C4–C6): opened on an encounter for a provider, closed when the provider completes
them, listed with their aging, counted by provider, and the delinquency rate.

- **Delinquency** (C4), defined once (rows.chart_delinquent): a chart — an encounter of the kinds that go through
  deficiency analysis (`[completion] kinds`, default inpatient and surgery; the discharges worklist shows the same
  kinds) — is delinquent once `[completion] delinquent_days` (default 30) have run from discharge while a deficiency
  is open on it. Deficiency analysis opens a deficiency for what a record lacks, so an open deficiency is what makes
  a record incomplete here. delinquency() counts those charts: F6, its provider queue (Q), the F9 review and
  `recdesk review` all show that one figure. Aging counts whole days from discharge.
- **Delinquency rate** (C6): those delinquent charts over the average monthly discharges of the same kinds in the
  last three calendar months; `[completion] delinquency_threshold` (default 0.5, the legacy TJC line) is the line
  to stay under.

Every change runs in one transaction with its audit event; supervisors change nothing; a list naming patients is an
audited view.
"""

from __future__ import annotations

import datetime as dt

import peewee

from recdesk.completion import rules as completion
from recdesk.completion.rows import (
    DeficiencyRow,
    Delinquency,
    ProviderRow,
    Rate,
    chart_delinquent,
    chart_document,
    checklist_item,
    deficiency_rows,
    deficiency_types,
    encounter,
    wall_clock,
)
from recdesk.desk import Desk
from recdesk.display import FORBIDDEN
from recdesk.errors import DeskError
from recdesk.roles import CHANGERS
from recdesk.vault import audit, crypto
from recdesk.vault.models import Deficiency, Encounter, Provider, new_uuid, now

STATUSES = ("open", "closed", "all")
NOTE_MAX = 500


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


def provider_choices(desk) -> list[tuple[int, str, str]]:
    """(id, name, service) of every provider, by name: whom a deficiency may be assigned to, in plain values."""
    return [(p.id, p.name, p.service) for p in providers(desk)]


# --- changes -------------------------------------------------------------------------------------------------------


def record_deficiency(desk: Desk, actor, encounter_uuid: str, kind: str, provider_name_or_id: int | str,
                      note: str = "", document_uuid: str | None = None, *, item: str | None = None) -> str:
    """Open a deficiency of a kind from deficiency_types on the encounter, assigned to a provider; returns its uuid.
    `item`, a code from the encounter's checklist, is the item it marks (and no other); without one, the kind and
    the document say which items it marks. The note is encrypted under the patient's key."""
    actor.require(*CHANGERS)
    types = deficiency_types(desk)
    if kind not in types:
        raise DeskError(f"deficiency type {kind!r} is not in deficiency_types.toml: one of {', '.join(types)}")
    note = FORBIDDEN.sub(" ", note or "").strip()
    if len(note) > NOTE_MAX:
        raise DeskError(f"a deficiency note is at most {NOTE_MAX} characters")
    if item is not None and not isinstance(item, str):
        raise DeskError(f"checklist item {item!r} is not an item code")
    enc = encounter(encounter_uuid)
    code = checklist_item(desk, enc, item.strip()).code if item and item.strip() else ""
    provider = find_provider(provider_name_or_id)
    patient = enc.patient
    uid = new_uuid()
    with desk.write():
        doc = chart_document(document_uuid, enc) if document_uuid else None
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
                 at: dt.datetime | None = None, encounter_uuid: str | None = None) -> list[DeficiencyRow]:
    """Deficiencies with aging from discharge and the delinquent flag (C4), oldest discharge first; optionally one
    provider's or one encounter's. Reading them (MRNs, names, notes) is an audited view."""
    if status not in STATUSES:
        raise DeskError(f"status {status!r}: one of {', '.join(STATUSES)}")
    at = at or wall_clock()
    types = deficiency_types(desk)
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
    rows = deficiency_rows(desk, query, at, types)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "deficiency.list", object=f"provider:{who.id}" if who else "deficiencies",
                     details={"status": status, "provider": who.name if who else "", "rows": len(rows),
                              "patients": list(dict.fromkeys(r.patient_uuid for r in rows))})
    return rows


def provider_queue(desk: Desk, actor, at: dt.datetime | None = None) -> list[ProviderRow]:
    """Open deficiencies by provider: how many, on how many charts, how many of those charts are delinquent
    (chart_delinquent), the oldest age in days. Most delinquent first. Counts only: no patient is named, so nothing
    is decrypted."""
    at = at or wall_clock()
    query = (Deficiency.select(Deficiency.provider, Deficiency.encounter, Encounter.kind, Encounter.discharge_at)
             .join(Encounter, peewee.JOIN.LEFT_OUTER, on=(Deficiency.encounter == Encounter.id))
             .where(Deficiency.status == "open").tuples())
    tally: dict[int | None, dict] = {}
    for provider_id, encounter_id, kind, discharge in query:
        t = tally.setdefault(provider_id, {"open": 0, "charts": set(), "delinquent": set(), "oldest": 0})
        t["open"] += 1
        t["charts"].add(encounter_id)
        if chart_delinquent(desk, kind or "", discharge, 1, at):
            t["delinquent"].add(encounter_id)
        t["oldest"] = max(t["oldest"], completion.deficiency_age_days(discharge, at) if discharge else 0)
    names = {p.id: p for p in Provider.select().where(Provider.id.in_([k for k in tally if k is not None]))}
    rows = [ProviderRow(pid, names[pid].name if pid in names else "(no provider)",
                        names[pid].service if pid in names else "", t["open"], len(t["charts"]),
                        len(t["delinquent"]), t["oldest"]) for pid, t in tally.items()]
    return sorted(rows, key=lambda r: (-r.delinquent, -r.oldest_days, r.provider))


def delinquency(desk: Desk, at: dt.datetime | None = None) -> Delinquency:
    """C4 at the moment `at`: how many charts are delinquent (chart_delinquent), the figure every screen and report
    shows. Counts only: no PHI."""
    at = at or wall_clock()
    rules = desk.config.completion
    # The charts with an open deficiency, discharged: chart_delinquent decides each (one rule, not a second in SQL).
    candidates = (Encounter.select(Encounter.id, Encounter.kind, Encounter.discharge_at)
                  .join(Deficiency, on=(Deficiency.encounter == Encounter.id))
                  .where((Deficiency.status == "open") & Encounter.kind.in_(rules.kinds)
                         & Encounter.discharge_at.is_null(False)).distinct().tuples())
    count = sum(1 for _, kind, discharge in candidates if chart_delinquent(desk, kind, discharge, 1, at))
    return Delinquency(at, count, rules.delinquent_days)


def _months_back(moment: dt.datetime, months: int) -> dt.datetime:
    import calendar

    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def delinquency_rate(desk: Desk, at: dt.datetime | None = None) -> Rate:
    """C6 at the moment `at`: delinquent charts (delinquency) ÷ (discharges in the last three calendar months ÷ 3).
    No PHI."""
    at = at or wall_clock()
    kinds = desk.config.completion.kinds
    since = _months_back(at, 3)
    discharges = Encounter.select().where(Encounter.kind.in_(kinds) & (Encounter.discharge_at >= since)
                                          & (Encounter.discharge_at < at)).count()
    delinquent = delinquency(desk, at).charts
    return Rate(at, since, delinquent, discharges, completion.delinquency_rate(delinquent, discharges),
                desk.config.completion.delinquency_threshold)
