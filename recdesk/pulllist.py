"""Pull lists: the paper charts to fetch for upcoming appointments, in shelf order."""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass

from recdesk import audit, filing
from recdesk.desk import Desk
from recdesk.models import Appointment, ChartVolume, Patient
from recdesk.patients import decrypt


@dataclass(frozen=True)
class PullItem:
    mrn: str
    shelf: str
    clinic: str
    time: str  # ISO date and time of the appointment
    status: str  # the chart volume's state: in | out | missing | none (no paper chart)
    name: str

    def as_row(self) -> dict:
        """The row the CLI prints as JSON (the contract: mrn, shelf, clinic, time, status)."""
        row = asdict(self)
        row.pop("name")
        return row


def filing_order(desk: Desk) -> str:
    return str(desk.config.extra.get("filing", {}).get("order", "terminal"))


def build(desk: Desk, actor, start: datetime.date, days: int = 1) -> list[PullItem]:
    """Charts for booked appointments from `start` for `days` days (cancelled ones drop off), in shelf order."""
    order = filing_order(desk)
    first = datetime.datetime.combine(start, datetime.time.min)
    until = first + datetime.timedelta(days=days)
    appointments = list(
        Appointment.select(Appointment, Patient).join(Patient)
        .where((Appointment.at >= first) & (Appointment.at < until) & (Appointment.status == "booked")
               & (Patient.status == "active"))
    )
    volumes = {v.patient_id: v.status for v in ChartVolume.select().where(
        ChartVolume.patient.in_([a.patient_id for a in appointments]) & (ChartVolume.volume_no == 1))}
    items = []
    for a in appointments:
        p = decrypt(desk, a.patient)
        items.append(PullItem(p.mrn, filing.shelf(p.mrn, order), a.clinic, a.at.isoformat(timespec="minutes"),
                              volumes.get(a.patient_id, "none"), p.display_name))
    items.sort(key=lambda i: (filing.sort_key(i.mrn, order), i.time))
    with desk.audit_db.atomic():
        audit.append(desk, actor, "pull_list.print", object="pull_list",
                     details={"from": start.isoformat(), "days": days, "charts": len(items)})
    return items
