"""Pull lists: the paper charts to fetch for upcoming appointments, in shelf order, and pick mode.

Pick mode walks the list in shelf order: one keystroke (or a barcode wand typing the MRN) per chart marks
it pulled and charges it out to the clinic, due back some days after the appointment ([pull_list]
due_back_days, default 1); a chart that cannot be found is marked not fillable with a reason. The pick state
of each appointment is kept in the pull_item table, so a list reopened later (or by another clerk) shows it.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import asdict, dataclass

import peewee

from recdesk.desk import Desk
from recdesk.display import cleaned
from recdesk.errors import AccessDenied, DeskError
from recdesk.paper import shelf, tracking
from recdesk.patients.registry import decrypt
from recdesk.roles import CHANGERS
from recdesk.vault import audit, models
from recdesk.vault.blindindex import digits, mrn_key
from recdesk.vault.models import Appointment, AuditEvent, ChartVolume, Patient

PICK_STATES = ("pending", "pulled", "not_fillable")
NOT_FILLABLE_REASONS = ("not on the shelf", "flagged missing", "out to another borrower", "with release of information",
                        "no paper chart", "in use elsewhere in HIM")
OTHER = "other"  # the clerk typed the reason: the code is kept, the words only in the (encrypted) audit details
REASON_LIMIT = 100
MAX_DAYS = 366  # a pull list of more than a year is a mistyped --days
FIRST_DAY, LAST_DAY = datetime.date(1900, 1, 1), datetime.date(2199, 12, 31)


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


def check_span(start: datetime.date, days: int) -> None:
    """A pull list covers 1 to MAX_DAYS days starting between FIRST_DAY and LAST_DAY (the calendar ends at 9999)."""
    if not 1 <= days <= MAX_DAYS:
        raise DeskError(f"a pull list covers 1 to {MAX_DAYS} days, not {days}")
    if not FIRST_DAY <= start <= LAST_DAY:
        raise DeskError(f"a pull list starts between {FIRST_DAY} and {LAST_DAY}, not on {start}")


def _appointments(start: datetime.date, days: int, statuses: tuple[str, ...] = ("booked",)) -> list[Appointment]:
    check_span(start, days)
    first = datetime.datetime.combine(start, datetime.time.min)
    until = first + datetime.timedelta(days=days)
    return list(
        Appointment.select(Appointment, Patient).join(Patient)
        .where((Appointment.at >= first) & (Appointment.at < until) & Appointment.status.in_(statuses)
               & (Patient.status == "active"))
    )


def _volumes(appointments: list[Appointment]) -> dict[int, ChartVolume]:
    volumes: dict[int, ChartVolume] = {}
    ids = list({a.patient_id for a in appointments})
    for start in range(0, len(ids), 500):
        for v in (ChartVolume.select().where(ChartVolume.patient.in_(ids[start : start + 500]))
                  .order_by(ChartVolume.volume_no.desc())):
            volumes[v.patient_id] = v  # the lowest volume wins: volume 1, as tracking.volume_for
    return volumes


def build(desk: Desk, actor, start: datetime.date, days: int = 1) -> list[PullItem]:
    """Charts for booked appointments from `start` for `days` days (cancelled ones drop off), in shelf order."""
    order = desk.config.filing.order
    appointments = _appointments(start, days)
    volumes = _volumes(appointments)
    items = []
    for a in appointments:
        p = decrypt(desk, a.patient)
        v = volumes.get(a.patient_id)
        items.append(PullItem(p.mrn, shelf.address(p.mrn, order), a.clinic, a.at.isoformat(timespec="minutes"),
                              v.status if v else "none", p.display_name))
    items.sort(key=lambda i: (shelf.sort_key(i.mrn, order), i.time))
    with desk.audit_db.atomic():
        audit.append(desk, actor, "pull_list.print", object="pull_list",
                     details={"from": start.isoformat(), "days": days, "charts": len(items),
                              "patients": sorted({a.patient.uuid for a in appointments})})
    return items


# --- pick mode ------------------------------------------------------------------------------------


@dataclass
class PickItem:
    """One appointment's chart on a pick list, with its pick state (pending | pulled | not_fillable)."""

    appointment_id: int
    external_id: str | None
    patient_id: int
    patient_uuid: str
    mrn: str
    shelf: str
    clinic: str
    at: datetime.datetime
    chart: str  # the chart volume's state when last seen: in | out | missing | none
    state: str = "pending"
    reason: str = ""  # a code: one of NOT_FILLABLE_REASONS, or OTHER
    name: str = ""
    note: str = ""  # after a pick: "already with CARD", "goes on from CARD" (not kept)
    typed: str = ""  # for OTHER, the clerk's own words, read back from the audit details (never a plain column)

    @property
    def reason_shown(self) -> str:
        """The reason for the clerk: the typed words for OTHER when known, else the code."""
        return self.typed if self.reason == OTHER and self.typed else self.reason

    @property
    def time(self) -> str:
        return self.at.isoformat(timespec="minutes")


@dataclass(frozen=True)
class Tally:
    pulled: int
    not_fillable: int
    pending: int
    total: int

    @property
    def fill_rate(self) -> float | None:
        """Charts pulled out of charts wanted (None for an empty list)."""
        return self.pulled / self.total if self.total else None

    def __str__(self) -> str:
        rate = f"{self.fill_rate:.0%}" if self.fill_rate is not None else "-"
        return (f"{self.pulled} pulled, {self.not_fillable} not fillable, {self.pending} to go "
                f"of {self.total} ({rate} filled)")


@dataclass
class PickList:
    """The charts for booked appointments from `start` for `days` days, in shelf order, with pick states."""

    start: datetime.date
    days: int
    items: list[PickItem]

    def tally(self) -> Tally:
        counts = {s: 0 for s in PICK_STATES}
        for item in self.items:
            counts[item.state] += 1
        return Tally(counts["pulled"], counts["not_fillable"], counts["pending"], len(self.items))

    @property
    def fill_rate(self) -> float | None:
        return self.tally().fill_rate

    def next_pending(self, after: PickItem | None = None) -> PickItem | None:
        """The next chart still to pull in shelf order (after `after`, wrapping round), or None when done."""
        start = self.items.index(after) + 1 if after is not None and after in self.items else 0
        for item in self.items[start:] + self.items[:start]:
            if item.state == "pending":
                return item
        return None

    def for_mrn(self, mrn: str) -> list[PickItem]:
        key = mrn_key(mrn)
        return [i for i in self.items if mrn_key(i.mrn) == key]


def pick_list(desk: Desk, actor, start: datetime.date, days: int = 1) -> PickList:
    """The pick list for a day (or `days` days) with the pick state kept so far; the view is audited."""
    order = desk.config.filing.order
    appointments = _appointments(start, days)
    volumes = _volumes(appointments)
    states = {}
    ids = [a.id for a in appointments]
    for first in range(0, len(ids), 500):
        for row in models.PullItem.select().where(models.PullItem.appointment.in_(ids[first : first + 500])):
            states[row.appointment_id] = row
    items = []
    for a in appointments:
        p = decrypt(desk, a.patient)
        v, s = volumes.get(a.patient_id), states.get(a.id)
        items.append(PickItem(a.id, a.external_id, a.patient_id, a.patient.uuid, p.mrn, shelf.address(p.mrn, order),
                              a.clinic, a.at, v.status if v else "none", s.status if s else "pending",
                              s.reason if s else "", p.display_name))
    items.sort(key=lambda i: (shelf.sort_key(i.mrn, order), i.at, i.appointment_id))
    typed = _typed_reasons(desk, [i.appointment_id for i in items if i.state == "not_fillable" and i.reason == OTHER])
    for item in items:
        item.typed = typed.get(item.appointment_id, "")
    with desk.audit_db.atomic():
        audit.append(desk, actor, "pull_list.open", object="pull_list",
                     details={"from": start.isoformat(), "days": days, "charts": len(items),
                              "patients": sorted({i.patient_uuid for i in items})})
    return PickList(start, days, items)


def _typed_reasons(desk: Desk, appointment_ids: list[int]) -> dict[int, str]:
    """The words typed for an OTHER reason, by appointment: the latest not-fillable event's encrypted details."""
    typed: dict[int, str] = {}
    objects = [f"appointment:{i}" for i in appointment_ids]
    for first in range(0, len(objects), 500):
        for event in (AuditEvent.select().where((AuditEvent.action == "pull_list.not_fillable")
                                                & AuditEvent.object.in_(objects[first : first + 500]))
                      .order_by(AuditEvent.seq)):
            typed[int(event.object.split(":", 1)[1])] = str((audit.details(desk, event) or {}).get("text", ""))
    return typed


def _appointment_as_listed(item: PickItem) -> Appointment:
    a = Appointment.get_or_none(Appointment.id == item.appointment_id)
    if a is None or a.status != "booked" or a.at != item.at:
        what = "cancelled" if a is None or a.status == "cancelled" else "changed"
        raise DeskError(f"the appointment for {item.shelf} was {what} since the list was opened: reopen the list")
    return a


def _set_state(actor, item: PickItem, status: str, reason: str = "") -> None:
    """Record the pick state, only over the state the list showed (two clerks never both pick one chart)."""
    row = {"status": status, "reason": reason, "by_user": actor.user_id, "at": models.now()}
    if item.state == "pending":
        try:
            with models.database.atomic():
                models.PullItem.create(appointment=item.appointment_id, **row)
            return
        except peewee.IntegrityError:
            pass
    elif models.PullItem.update(**row).where((models.PullItem.appointment == item.appointment_id)
                                             & (models.PullItem.status == item.state)).execute() == 1:
        return
    raise DeskError(f"someone else picked {item.shelf} just now: reopen the list")


def pick(desk: Desk, actor, item: PickItem, borrower: str | None = None) -> PickItem:
    """Mark the chart pulled and charge it out to the clinic (or `borrower`), due back after the appointment."""
    actor.require(*CHANGERS)
    if item.state == "pulled":
        raise DeskError(f"{item.shelf} is already pulled for {item.clinic}")
    due = max(item.at.date() + datetime.timedelta(days=desk.config.pull_list.due_back_days), datetime.date.today())
    with desk.write():
        _appointment_as_listed(item)
        volume = tracking.volume_for(desk, item.patient_id, create=True, actor=actor)
        to = tracking.clinic_location(desk, actor, borrower or item.clinic)
        chart = tracking.label(desk, volume)
        note = ""
        if volume.status == "out":
            holder = tracking.location_by_id(volume.current_id)
            if holder.id == to.id:
                note = f"already with {holder.code}"
            elif _pulled_same_day(item):
                note = f"goes on from {holder.code}"  # two visits in a day: the first clinic passes it on
            else:
                raise DeskError(f"chart {chart} is {tracking.describe(volume)}: get it back or mark it not "
                                "fillable")
        if volume.status == "missing":
            raise DeskError(f"chart {chart} is flagged missing: check it in if you hold it, else mark it not "
                            "fillable")
        if not note:
            tracking.record_charge_out(desk, actor, volume, to, due, details={"appointment": item.appointment_id})
        _set_state(actor, item, "pulled")
        audit.append(desk, actor, "pull_list.pick", object=f"appointment:{item.appointment_id}",
                     patient=item.patient_uuid, details={"clinic": item.clinic, "to": to.code, "note": note})
    item.state, item.reason, item.typed, item.chart, item.note = "pulled", "", "", "out", note
    return item


def _pulled_same_day(item: PickItem) -> bool:
    """Is the chart out because it was pulled for this patient's other appointment that day?"""
    first = datetime.datetime.combine(item.at.date(), datetime.time.min)
    return (models.PullItem.select().join(Appointment)
            .where((Appointment.patient == item.patient_id) & (Appointment.id != item.appointment_id)
                   & (Appointment.at >= first) & (Appointment.at < first + datetime.timedelta(days=1))
                   & (Appointment.status == "booked") & (models.PullItem.status == "pulled")).exists())


def not_fillable(desk: Desk, actor, item: PickItem, reason: str, text: str = "") -> PickItem:
    """The chart cannot be pulled: say why, with one of NOT_FILLABLE_REASONS, or OTHER and your own words in
    `text` (a reason that is not on the list counts as OTHER with those words).

    Only the code goes in the pull_item row, whose columns are not encrypted; typed words may name people, so
    they are kept only in the audit event's details, which are.
    """
    actor.require(*CHANGERS)
    reason, text = _clean(reason), _clean(text)
    if reason not in NOT_FILLABLE_REASONS and reason != OTHER:
        reason, text = OTHER, reason
    if reason != OTHER:
        text = ""
    elif not text:
        raise DeskError("say why it cannot be pulled: " + ", ".join(NOT_FILLABLE_REASONS) + ", or type it")
    if len(text) > REASON_LIMIT:
        raise DeskError(f"a reason is at most {REASON_LIMIT} characters")
    if item.state == "pulled":
        raise DeskError(f"{item.shelf} is already pulled: check the chart in if it came back")
    if item.state == "not_fillable" and item.reason == reason and item.typed == text:
        raise DeskError(f"{item.shelf} is already marked not fillable ({text or reason})")
    with desk.write():
        _appointment_as_listed(item)
        _set_state(actor, item, "not_fillable", reason)
        audit.append(desk, actor, "pull_list.not_fillable", object=f"appointment:{item.appointment_id}",
                     patient=item.patient_uuid, details={"reason": reason, **({"text": text} if text else {})})
    item.state, item.reason, item.typed = "not_fillable", reason, text
    return item


def _clean(typed: str) -> str:
    return cleaned(typed)


@dataclass(frozen=True)
class PickResult:
    """What one wand scan (or typed MRN) did: ok with the item pulled, or a message and nothing changed."""

    ok: bool
    message: str
    item: PickItem | None = None


def pick_by_mrn(desk: Desk, actor, picklist: PickList, typed: str) -> PickResult:
    """Pull the chart whose MRN was typed or scanned: the first item still to pull for it, in shelf order."""
    actor.require(*CHANGERS)
    mrn = shelf.read_wand(typed)
    shown = cleaned(typed)[:20]
    if mrn is None:
        return PickResult(False, f"{shown!r} is not an MRN: scan the chart label again or type its digits")
    items = picklist.for_mrn(mrn)
    if not items:
        return PickResult(False, f"MRN {digits(shown)} is not on this pull list: check the label, put the chart aside")
    pending = [i for i in items if i.state != "pulled"]
    if not pending:
        return PickResult(False, f"{items[0].shelf} is already pulled for {items[0].clinic}", items[0])
    item = pending[0]
    try:
        pick(desk, actor, item)
    except AccessDenied:
        raise
    except DeskError as exc:
        return PickResult(False, str(exc), item)
    note = f", {item.note}" if item.note else ""
    return PickResult(True, f"{item.shelf} pulled for {item.clinic} {item.at:%H:%M}{note} ({picklist.tally()})", item)


def pick_scanned(desk: Desk, actor, picklist: PickList, text: str) -> list[PickResult]:
    """Several scans that arrived together (a wand is faster than the screen): one result per line."""
    return [pick_by_mrn(desk, actor, picklist, line) for line in re.split(r"[\r\n]+", text or "") if line.strip()]


def printout(desk: Desk, actor, picklist: PickList) -> bytes:
    """The pick list as a PDF in shelf order, with each chart's pick state (printing is audited)."""
    from recdesk.pdf import layout

    first = picklist.start
    last = first + datetime.timedelta(days=picklist.days - 1)
    when = f"{first:%a %Y-%m-%d}" + (f" to {last:%a %Y-%m-%d}" if picklist.days > 1 else "")
    states = {"pending": "", "pulled": "pulled"}
    rows = [(i.shelf, i.mrn, i.name, i.clinic, f"{i.at:%m-%d %H:%M}" if picklist.days > 1 else f"{i.at:%H:%M}",
             states.get(i.state, f"not fillable: {i.reason_shown}")) for i in picklist.items]
    order = {"terminal": "terminal-digit", "middle": "middle-digit"}.get(desk.config.filing.order, "numeric")
    pdf = layout.table_report(
        title="Pull list", subtitle_lines=[f"{when}, {order} order", f"{picklist.tally()}",
                                           f"Printed by {actor.user_name} on {datetime.datetime.now():%Y-%m-%d %H:%M}"],
        columns=["Shelf", "MRN", "Patient", "Clinic", "Time", "Pulled"],
        rows=rows or [("", "", "(no charts)", "", "", "")], widths=[14, 12, 30, 26, 12, 18])
    with desk.audit_db.atomic():
        audit.append(desk, actor, "pull_list.print", object="pull_list",
                     details={"from": first.isoformat(), "days": picklist.days, "charts": len(rows),
                              "patients": sorted({i.patient_uuid for i in picklist.items})})
    return pdf


# --- fill rate ------------------------------------------------------------------------------------


def fill_rate(desk: Desk, start: datetime.date, end: datetime.date) -> list[dict]:
    """Per day from `start` to `end` (inclusive): charts wanted, pulled, not fillable, still pending, fill rate.

    Wanted = booked or done appointments of active patients (cancelled ones never count); the rate is
    pulled / wanted. Counts only: no patient data.
    """
    if end < start:
        raise DeskError(f"the range ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    appointments = _appointments(start, (end - start).days + 1, ("booked", "done"))
    states = dict(models.PullItem.select(models.PullItem.appointment, models.PullItem.status)
                  .join(Appointment).where((Appointment.at >= datetime.datetime.combine(start, datetime.time.min))
                                           & (Appointment.at < datetime.datetime.combine(
                                               end + datetime.timedelta(days=1), datetime.time.min))).tuples())
    days: dict[datetime.date, dict] = {}
    for a in appointments:
        day = days.setdefault(a.at.date(), {"date": a.at.date(), "wanted": 0, "pulled": 0, "not_fillable": 0,
                                            "pending": 0})
        day["wanted"] += 1
        day[states.get(a.id, "pending")] += 1
    rows = [days[d] for d in sorted(days)]
    for row in rows:
        row["fill_rate"] = row["pulled"] / row["wanted"] if row["wanted"] else None
    return rows
