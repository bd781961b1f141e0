"""Paper chart reports: overdue charts, missing charts, charts by borrower, pull-list fill rate.

Rows are plain dicts. Overdue and missing charts carry the MRN and shelf address (what a clerk chases a
chart by, never a name); reading them is audited as a view of those patients. The other two are counts.
"""

from __future__ import annotations

import datetime

from recdesk.desk import Desk
from recdesk.errors import DeskError
from recdesk.paper import pulllist, shelf, tracking
from recdesk.patients.registry import mrn_of
from recdesk.vault import audit
from recdesk.vault.models import ChartLocation, ChartMovement, ChartVolume, Patient


def _audit_view(desk: Desk, actor, report: str, patients: list[str], **details) -> None:
    with desk.audit_db.atomic():
        audit.append(desk, actor, "chart.report", object=f"report:{report}",
                     details={"report": report, "rows": len(patients), "patients": patients, **details})


def _chart_row(desk: Desk, volume: ChartVolume, patient: Patient, codes: dict[int, ChartLocation]) -> dict:
    mrn = mrn_of(desk, patient)
    return {
        "mrn": mrn, "shelf": tracking.label(desk, volume, patient), "volume": volume.volume_no,
        "home": codes[volume.home_id].code, "location": codes[volume.current_id].code,
        "location_name": codes[volume.current_id].name, "borrower": volume.borrower,
        "due_back_on": volume.due_back_on, "patient_uuid": patient.uuid,
    }


def _shelf_key(mrn: str, order: str) -> tuple:
    try:
        return shelf.sort_key(mrn, order)
    except DeskError:
        return (10**12,)


def overdue(desk: Desk, actor, as_of: datetime.date | None = None) -> list[dict]:
    """Charts out past their due-back date, most overdue first, then in shelf order."""
    as_of = as_of or datetime.date.today()
    codes = {loc.id: loc for loc in ChartLocation.select()}
    query = (ChartVolume.select(ChartVolume, Patient).join(Patient)
             .where((ChartVolume.status == "out") & (ChartVolume.due_back_on < as_of))
             )
    order = desk.config.filing.order
    rows = []
    for v in query:
        row = _chart_row(desk, v, v.patient, codes)
        row["days_overdue"] = (as_of - v.due_back_on).days
        rows.append(row)
    rows.sort(key=lambda r: (r["due_back_on"], _shelf_key(r["mrn"], order), r["volume"]))
    _audit_view(desk, actor, "overdue", [r["patient_uuid"] for r in rows], today=as_of)
    return rows


def missing(desk: Desk, actor) -> list[dict]:
    """Charts flagged missing, longest missing first, with where they were last known to be."""
    codes = {loc.id: loc for loc in ChartLocation.select()}
    volumes = list(ChartVolume.select(ChartVolume, Patient).join(Patient).where(ChartVolume.status == "missing"))
    since: dict[int, datetime.datetime] = {}
    ids = [v.id for v in volumes]
    for first in range(0, len(ids), 500):
        for m in (ChartMovement.select(ChartMovement.volume, ChartMovement.at)
                  .where(ChartMovement.volume.in_(ids[first : first + 500]) & (ChartMovement.kind == "missing"))):
            since[m.volume_id] = max(since.get(m.volume_id, m.at), m.at)
    rows = []
    for v in volumes:
        row = _chart_row(desk, v, v.patient, codes)
        row["missing_since"] = since.get(v.id)
        rows.append(row)
    order = desk.config.filing.order
    rows.sort(key=lambda r: (r["missing_since"] or datetime.datetime.min, _shelf_key(r["mrn"], order)))
    _audit_view(desk, actor, "missing", [r["patient_uuid"] for r in rows])
    return rows


def by_borrower(desk: Desk, actor, as_of: datetime.date | None = None) -> list[dict]:
    """How many charts each borrower (location, and person if named) holds, and how many of them are overdue."""
    as_of = as_of or datetime.date.today()
    codes = {loc.id: loc for loc in ChartLocation.select()}
    groups: dict[tuple[int, str], dict] = {}
    query = (ChartVolume.select(ChartVolume.current, ChartVolume.borrower, ChartVolume.due_back_on)
             .where(ChartVolume.status == "out"))
    for v in query:
        loc = codes[v.current_id]
        row = groups.setdefault((loc.id, v.borrower), {"location": loc.code, "name": loc.name, "kind": loc.kind,
                                                        "person": v.borrower, "charts": 0, "overdue": 0})
        row["charts"] += 1
        row["overdue"] += bool(v.due_back_on and v.due_back_on < as_of)
    return sorted(groups.values(), key=lambda r: (-r["charts"], r["location"], r["person"]))


def fill_rate(desk: Desk, actor, start: datetime.date, end: datetime.date) -> dict:
    """Pull-list fill rate from `start` to `end`: per-day rows and the total (pulled / charts wanted)."""
    if end < start:
        raise DeskError(f"the range ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    days = pulllist.fill_rate(desk, start, end)
    total = {k: sum(d[k] for d in days) for k in ("wanted", "pulled", "not_fillable", "pending")}
    total["fill_rate"] = total["pulled"] / total["wanted"] if total["wanted"] else None
    return {"from": start, "to": end, "days": days, "total": total}
