"""Appointments from the scheduling system: a CSV feed imported (and re-imported) into the desk.

Columns: appointment_id, mrn, clinic, date (YYYY-MM-DD), time (HH:MM), and optionally provider and
status (booked | cancelled | rescheduled | done; booked when blank). The appointment_id is the scheduling
system's id: importing it again updates that appointment, so a later feed carries cancellations and moves.

- cancelled: the appointment is kept, marked cancelled, and drops off the pull list.
- rescheduled: the row carries the new date and time; the appointment is stored *booked at that time*
  (the old time is not kept: the pull list only needs where it is now). A booked row with a new time
  does the same. When the date moves, a "not fillable" pick is cleared so the chart is looked for again;
  a chart already pulled stays pulled (it is with the clinic).
- done: the visit happened; it leaves the pull list and still counts in the fill rate.

Every line is checked first; the good ones are written in one transaction and the bad ones are listed
with their line number and one reason. Patients are found by exact MRN through the blind index.
"""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass, field
from pathlib import Path

from recdesk.desk import Desk
from recdesk.errors import DeskError
from recdesk.patients.registry import by_mrn
from recdesk.roles import CHANGERS
from recdesk.shapes import Choice, Day, InputError, Record, Text
from recdesk.vault import audit, models
from recdesk.vault.blindindex import mrn_key
from recdesk.vault.models import Appointment, Patient, Provider

REQUIRED = ("appointment_id", "mrn", "clinic", "date", "time")
OPTIONAL = ("provider", "status")
STATUSES = ("booked", "cancelled", "rescheduled", "done")
_CHUNK = 500


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    rows: int = 0  # data lines read
    added: int = 0
    rescheduled: int = 0  # moved to another date or time
    cancelled: int = 0
    updated: int = 0  # other changes: clinic, provider, booked again, done
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.added + self.rescheduled + self.cancelled + self.updated + self.unchanged

    @property
    def ok(self) -> bool:
        return not self.rejects

    def summary(self) -> str:
        return (f"{self.rows} lines: {self.added} added, {self.rescheduled} rescheduled, {self.cancelled} cancelled, "
                f"{self.updated} updated, {self.unchanged} unchanged, {len(self.rejects)} rejected")

    def counts(self) -> dict:
        return {"rows": self.rows, "added": self.added, "rescheduled": self.rescheduled, "cancelled": self.cancelled,
                "updated": self.updated, "unchanged": self.unchanged, "rejected": len(self.rejects)}


@dataclass(frozen=True)
class _Row:
    line: int
    external_id: str
    mrn: str
    clinic: str
    at: datetime.datetime
    provider: str
    status: str


def _read(path_or_text: str | Path) -> str:
    if isinstance(path_or_text, Path) or ("\n" not in path_or_text and "," not in path_or_text):
        path = Path(path_or_text)
        if not path.is_file():
            raise DeskError(f"no file {path}: give the appointments CSV exported by the scheduling system")
        data = path.read_bytes()
    else:
        return path_or_text.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DeskError(f"{path} is not UTF-8 text: export the CSV as UTF-8") from None


# One line of the feed: each column's type and bounds (an empty cell is an absent value).
LINE = Record(fields={
    "appointment_id": Text(64, required=True, hint="the scheduling system's appointment id"),
    "mrn": Text(32, required=True, pattern="[0-9]+", hint="an MRN (digits only)"),
    "clinic": Text(100, required=True, hint="the clinic's name"),
    "date": Day(required=True),
    "time": Text(5, required=True, pattern="([01]?[0-9]|2[0-3]):[0-5][0-9]", hint="a time HH:MM (24-hour)"),
    "provider": Text(200),
    "status": Choice(STATUSES, default="booked"),
})


def _parse(line: int, values: dict[str, str]) -> _Row:
    """One data line, checked; an InputError names the first column wrong with it."""
    cells = {k: (v.lower() if k == "status" else v) if v.strip() else None for k, v in values.items()}
    row = LINE.read(cells, "")
    hours, minutes = row["time"].split(":")
    at = datetime.datetime.combine(row["date"], datetime.time(int(hours), int(minutes)))
    return _Row(line, row["appointment_id"], row["mrn"], row["clinic"], at, row["provider"], row["status"])



def import_csv(desk: Desk, actor, path_or_text: str | Path) -> ImportReport:
    """Import (or re-import) a scheduling CSV; good lines commit together, bad ones are reported by line."""
    actor.require(*CHANGERS)
    text = _read(path_or_text)
    report = ImportReport()
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    parsed: list[_Row] = []
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if header is None:
                header = [v.strip().lower() for v in values]
                problem = _header_problem(header)
                if problem:
                    report.rejects.append(Reject(line, problem))
                    break
                continue
            report.rows += 1
            if len(values) != len(header):
                report.rejects.append(Reject(line, f"{len(values)} fields, the header has {len(header)}"))
                continue
            try:
                parsed.append(_parse(line, dict(zip(header, values, strict=True))))
            except InputError as exc:
                report.rejects.append(Reject(line, str(exc)))
    except csv.Error as exc:
        report.rejects.append(Reject(reader.line_num, f"not readable as CSV ({exc})"))
        parsed = []  # a broken file is not half-read: fix it and import it again
    if header is None:
        report.rejects.append(Reject(1, "the file is empty: the first line must name the columns "
                                        + ",".join(REQUIRED)))
    patients = by_mrn(desk, [r.mrn for r in parsed])
    good = []
    for row in parsed:
        if mrn_key(row.mrn) not in patients:
            report.rejects.append(Reject(row.line, f"no patient with MRN {row.mrn} on this desk"))
        else:
            good.append(row)
    with desk.write():
        _apply(good, patients, report)
        audit.append(desk, actor, "appointments.import", object="appointments", details=report.counts())
    report.rejects.sort(key=lambda r: r.line)
    return report


def _header_problem(header: list[str]) -> str:
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or repeated:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
                ([f"unknown {', '.join(unknown)}"] if unknown else []) + \
                ([f"repeated {', '.join(repeated)}"] if repeated else [])
        return (f"bad header ({'; '.join(parts)}): the columns are {','.join(REQUIRED)} "
                f"and optionally {','.join(OPTIONAL)}; nothing was imported")
    return ""


def _apply(rows: list[_Row], patients: dict[str, Patient], report: ImportReport) -> None:
    """Write the checked rows in the caller's transaction, in file order (a later line wins)."""
    ids = list({r.external_id for r in rows})
    existing: dict[str, Appointment] = {}
    for start in range(0, len(ids), _CHUNK):
        for a in Appointment.select().where(Appointment.external_id.in_(ids[start : start + _CHUNK])):
            existing[a.external_id] = a
    providers: dict[str, int] = {}
    for row in rows:
        patient = patients[mrn_key(row.mrn)]
        status = "booked" if row.status == "rescheduled" else row.status
        provider = None
        if row.provider:
            if row.provider not in providers:
                providers[row.provider] = Provider.get_or_create(name=row.provider)[0].id
            provider = providers[row.provider]
        current = existing.get(row.external_id)
        if current is None:
            existing[row.external_id] = Appointment.create(
                patient=patient.id, clinic=row.clinic, at=row.at, provider=provider, status=status,
                external_id=row.external_id)
            report.added += 1
            continue
        if current.patient_id != patient.id:
            report.rejects.append(Reject(row.line, f"appointment {row.external_id} is booked for another patient: "
                                                   "correct the MRN in the scheduling system"))
            continue
        changes = {k: v for k, v in {"clinic": row.clinic, "at": row.at, "status": status,
                                     "provider": provider if row.provider else current.provider_id}.items()
                   if v != (current.provider_id if k == "provider" else getattr(current, k))}
        if not changes:
            report.unchanged += 1
            continue
        Appointment.update(**changes).where(Appointment.id == current.id).execute()
        if status == "cancelled" and current.status != "cancelled":
            report.cancelled += 1
        elif "at" in changes and status == "booked":
            report.rescheduled += 1
            if row.at.date() != current.at.date():  # look for the chart again on the new day
                models.PullItem.delete().where((models.PullItem.appointment == current.id)
                                               & (models.PullItem.status == "not_fillable")).execute()
        else:
            report.updated += 1
        existing[row.external_id] = Appointment.get_by_id(current.id)
