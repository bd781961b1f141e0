"""Paper chart tracking: file rooms and borrowers, chart volumes, charge-out, check-in, transfer, missing charts.

A chart volume is homed in a file room and filed there at its shelf address (terminal-digit by default, F1).
Every move writes a ChartMovement and an audit event in one transaction, and applies only to the volume as
it was read: two clerks moving one chart never both win (the second is told to look again).

Where a chart is (ChartVolume.current) always names a location: a missing chart keeps its last known one.
The free-text note of a missing flag lives only in the audit trail (encrypted); history() shows it.

A screen holds plain views, never rows: a chart is a ChartStatus (or its volume's uuid) and a location a
Location. The moves take the ChartStatus the clerk was shown and refuse it when the chart moved since.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import peewee

from recdesk.desk import Desk
from recdesk.display import cleaned
from recdesk.errors import DeskError
from recdesk.paper import shelf
from recdesk.patients.registry import by_mrn, decrypt, mrn_of
from recdesk.roles import CHANGERS
from recdesk.vault import audit
from recdesk.vault.blindindex import mrn_key
from recdesk.vault.models import (
    Appointment,
    AuditEvent,
    ChartLocation,
    ChartMovement,
    ChartVolume,
    Patient,
    Release,
    User,
)

DEFAULT_FILE_ROOM = ("MAIN", "Main file room")
LOCATION_KINDS = ("file_room", "clinic", "department", "person")
CLOSED_RELEASES = ("released", "denied", "withdrawn")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")


def _clean(text: str, what: str, limit: int) -> str:
    text = cleaned(text)
    if len(text) > limit:
        raise DeskError(f"{what} is at most {limit} characters")
    return text


# --- locations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """A file room, clinic, department or person, as a screen shows it."""

    code: str
    name: str
    kind: str  # one of LOCATION_KINDS


def find_location(code_or_name: str) -> ChartLocation | None:
    """A location by its code (any case) or its exact name (any case)."""
    text = (code_or_name or "").strip()
    if not text:
        return None
    found = ChartLocation.get_or_none(ChartLocation.code == text.upper())
    if found is None:
        found = ChartLocation.get_or_none(peewee.fn.LOWER(ChartLocation.name) == text.lower())
    return found


def _location(where: ChartLocation | Location | str) -> ChartLocation:
    if isinstance(where, ChartLocation):
        return where
    found = find_location(where.code if isinstance(where, Location) else where)
    if found is None:
        raise DeskError(f"no location {where!r}: add it first (a file room, clinic, department or person)")
    return found


def _add_location(desk: Desk, actor, code: str, name: str, kind: str) -> ChartLocation:
    """Create a location in the caller's transaction (audited)."""
    loc = ChartLocation.create(code=code, name=name, kind=kind)
    audit.append(desk, actor, "chart_location.add", object=f"chart_location:{code}",
                 details={"name": name, "kind": kind})
    return loc


def ensure_location(desk: Desk, actor, code: str, name: str = "", kind: str = "clinic") -> ChartLocation:
    """The location with this code, created if it is not there yet (an existing one is returned as it is)."""
    actor.require(*CHANGERS)
    code = _clean(code, "a location code", 32).upper()
    if not _CODE.match(code):
        raise DeskError(f"location code {code!r}: 1-32 letters, digits, - or _ (e.g. MAIN, CARD, ED)")
    if kind not in LOCATION_KINDS:
        raise DeskError(f"location kind {kind!r} must be one of {', '.join(LOCATION_KINDS)}")
    name = _clean(name, "a location name", 100) or code
    existing = ChartLocation.get_or_none(ChartLocation.code == code)
    if existing is not None:
        return existing
    with desk.write():
        return _add_location(desk, actor, code, name, kind)


def locations(desk: Desk, kind: str | None = None) -> list[Location]:
    """File rooms, clinics, departments and people, by kind then code."""
    query = ChartLocation.select()
    if kind:
        query = query.where(ChartLocation.kind == kind)
    return [Location(loc.code, loc.name, loc.kind) for loc in query.order_by(ChartLocation.kind, ChartLocation.code)]


def default_file_room(desk: Desk) -> ChartLocation:
    """The file room new chart volumes are homed in ([tracking] default_file_room, MAIN), created if missing."""
    code = desk.config.tracking.default_file_room
    room = ChartLocation.get_or_none(ChartLocation.code == code)
    if room is None:
        with desk.write():
            room, _ = ChartLocation.get_or_create(
                code=code, defaults={"name": DEFAULT_FILE_ROOM[1] if code == DEFAULT_FILE_ROOM[0] else code,
                                     "kind": "file_room"})
    return room


def _code_for(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name.upper())
    base = "-".join(words)[:32].strip("-") or "CLINIC"
    code, n = base, 2
    while ChartLocation.select().where(ChartLocation.code == code).exists():
        suffix = f"-{n}"
        code, n = base[: 32 - len(suffix)] + suffix, n + 1
    return code


def clinic_location(desk: Desk, actor, clinic: str) -> ChartLocation:
    """The location for an appointment's clinic name, added as a clinic in the caller's transaction if new."""
    found = find_location(clinic)
    if found is not None:
        return found
    name = _clean(clinic, "a clinic name", 100)
    if not name:
        raise DeskError("the appointment names no clinic: mark it not fillable")
    return _add_location(desk, actor, _code_for(name), name, "clinic")


# --- volumes --------------------------------------------------------------------------------------


def _patient_row(patient) -> Patient:
    if isinstance(patient, Patient):
        return patient
    if isinstance(patient, int):
        row = Patient.get_or_none(Patient.id == patient)
    elif isinstance(patient, str):
        row = Patient.get_or_none(Patient.uuid == patient)
    else:  # PatientDetails and the like: anything with the row id
        row = Patient.get_or_none(Patient.id == patient.id)
    if row is None:
        raise DeskError("that patient is not on the desk")
    return row


def volume_for(desk: Desk, patient, create: bool = True, *, actor=None) -> ChartVolume | None:
    """The patient's paper chart (volume 1, the lowest volume on record), or None.

    With create=True a patient without one gets volume 1 homed in the default file room and filed there.
    It runs in the caller's transaction if there is one; pass `actor` to audit the new volume on its own.
    """
    row = _patient_row(patient)
    volume = _first_volume(row.id)
    if volume is not None or not create:
        return volume
    if actor is not None:
        actor.require(*CHANGERS)
    if row.status != "active":
        raise DeskError(f"that patient is {row.status}: no paper chart is opened for them")
    room = default_file_room(desk)
    with desk.write():
        if desk.is_postgres:  # lock the patient so two clerks cannot both open volume 1
            Patient.select(Patient.id).where(Patient.id == row.id).for_update().execute()
        volume = _first_volume(row.id)
        if volume is None:
            volume = ChartVolume.create(patient=row.id, volume_no=1, home=room.id, current=room.id, status="in")
            if actor is not None:
                audit.append(desk, actor, "chart.volume_add", object=f"chart_volume:{volume.uuid}",
                             patient=row.uuid, details={"volume": 1, "home": room.code})
    return volume


def _first_volume(patient_id: int) -> ChartVolume | None:
    return (ChartVolume.select().where(ChartVolume.patient == patient_id)
            .order_by(ChartVolume.volume_no).first())


def label(desk: Desk, volume: ChartVolume, patient: Patient | None = None) -> str:
    """The chart's shelf address as the clerk reads it on the folder: '56-34-12', or '56-34-12 vol 2'."""
    patient = patient or Patient.get_by_id(volume.patient_id)
    try:
        text = shelf.address(mrn_of(desk, patient), desk.config.filing.order)
    except DeskError:
        text = f"#{volume.id}"
    return text if volume.volume_no == 1 else f"{text} vol {volume.volume_no}"


def location_by_id(loc_id: int) -> ChartLocation:
    return ChartLocation.get_by_id(loc_id)


def _unchanged(volume: ChartVolume):
    due = (ChartVolume.due_back_on.is_null() if volume.due_back_on is None
           else ChartVolume.due_back_on == volume.due_back_on)
    return ((ChartVolume.id == volume.id) & (ChartVolume.status == volume.status)
            & (ChartVolume.current == volume.current_id) & (ChartVolume.borrower == volume.borrower) & due)


def _move(desk: Desk, actor, volume: ChartVolume, patient: Patient, kind: str, *, to: ChartLocation | None,
          status: str, borrower: str = "", due_back: datetime.date | None = None,
          details: dict | None = None) -> ChartMovement:
    """In the caller's transaction: the volume moves (if still as read), with its movement row and audit event."""
    changes = {"status": status, "borrower": borrower, "due_back_on": due_back}
    if to is not None:
        changes["current"] = to.id
    if ChartVolume.update(**changes).where(_unchanged(volume)).execute() != 1:
        raise DeskError(f"someone else moved chart {label(desk, volume, patient)} just now: "
                        "look at it again and redo your change")
    movement = ChartMovement.create(volume=volume.id, kind=kind, from_location=volume.current_id,
                                    to_location=to.id if to is not None else None, borrower=borrower,
                                    due_back_on=due_back, by_user=actor.user_id)
    from_code = location_by_id(volume.current_id).code
    audit.append(desk, actor, f"chart.{kind}", object=f"chart_volume:{volume.uuid}", patient=patient.uuid,
                 details={"movement": movement.id, "volume": volume.volume_no, "from": from_code,
                          "to": to.code if to is not None else "", "borrower": borrower, "due_back": due_back,
                          **(details or {})})
    return movement


def _is_file_room(loc: ChartLocation) -> bool:
    return loc.kind == "file_room"


def describe(volume: ChartVolume) -> str:
    where = location_by_id(volume.current_id).code
    if volume.status == "out":
        who = f" ({volume.borrower})" if volume.borrower else ""
        due = f", due back {volume.due_back_on.isoformat()}" if volume.due_back_on else ""
        return f"out to {where}{who}{due}"
    if volume.status == "missing":
        return f"flagged missing (last seen in {where})"
    return f"in {where}"


# --- looking a chart up -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartStatus:
    """Where one patient's paper chart (volume 1) is, in plain values a screen can show without the database."""

    patient_uuid: str
    mrn: str
    volume_uuid: str | None  # None: no paper chart on record yet (a charge-out opens volume 1)
    shelf: str
    volume_no: int = 0
    home: str = ""
    home_name: str = ""
    location: str = ""
    location_name: str = ""
    location_kind: str = ""
    status: str = "none"  # in | out | missing | none
    borrower: str = ""
    due_back_on: datetime.date | None = None
    description: str = "no paper chart on record"
    name: str = ""  # the patient's name as on the folder label (LAST, First), to check the label against


def chart_status(desk: Desk, patient) -> ChartStatus:
    """The paper chart (volume 1) of a patient (row, id or uuid) as it is now; no audit (find_chart audits it)."""
    row = _patient_row(patient)
    return _status(desk, _first_volume(row.id), row)


def _status(desk: Desk, volume: ChartVolume | None, patient: Patient) -> ChartStatus:
    """One volume (None: the patient has none yet) as a ChartStatus, read again from the database.

    It carries the patient's name: every caller that hands one to a screen audits the look or the move."""
    details = decrypt(desk, patient)
    mrn, name = details.mrn, details.display_name
    if volume is None:
        try:
            address = shelf.address(mrn, desk.config.filing.order)
        except DeskError:
            address = "?"
        return ChartStatus(patient.uuid, mrn, None, address, name=name)
    volume = ChartVolume.get_by_id(volume.id)
    home, where = location_by_id(volume.home_id), location_by_id(volume.current_id)
    return ChartStatus(patient.uuid, mrn, volume.uuid, label(desk, volume, patient), volume.volume_no, home.code,
                       home.name, where.code, where.name, where.kind, volume.status, volume.borrower,
                       volume.due_back_on, describe(volume), name)


def _as_shown(volume: ChartVolume) -> tuple:
    return volume.status, location_by_id(volume.current_id).code, volume.borrower, volume.due_back_on


def _volume(desk: Desk, chart: ChartStatus | str, *, create: bool = False, actor=None) -> ChartVolume:
    """The row of a chart a screen names: by its volume uuid, or the ChartStatus the clerk was shown (refused when
    the chart moved since). create=True opens volume 1 for a ChartStatus without one (a charge-out)."""
    if isinstance(chart, ChartStatus):
        if chart.volume_uuid is None:
            volume = volume_for(desk, chart.patient_uuid, create=create, actor=actor)
            if volume is None:
                raise DeskError(f"MRN {chart.mrn} has no paper chart on record")
            return volume
        uuid = chart.volume_uuid
    elif isinstance(chart, str):
        uuid = chart
    else:
        raise DeskError("name a chart by its look-up (or its volume's uuid)")
    volume = ChartVolume.get_or_none(ChartVolume.uuid == uuid)
    if volume is None:
        raise DeskError(f"no chart volume {cleaned(uuid)[:36]!r}: look it up again")
    if isinstance(chart, ChartStatus) and _as_shown(volume) != (chart.status, chart.location, chart.borrower,
                                                                chart.due_back_on):
        raise DeskError(f"someone else moved chart {chart.shelf} just now: look at it again and redo your change")
    return volume


def _now(desk: Desk, volume: ChartVolume) -> ChartStatus:
    return _status(desk, volume, Patient.get_by_id(volume.patient_id))


def find_chart(desk: Desk, actor, typed: str) -> ChartStatus:
    """The chart whose MRN a wand scanned or a clerk typed ('0072248', '*MRN72248*'); the look-up is audited."""
    mrn = shelf.read_wand(typed)
    if mrn is None:
        shown = cleaned(typed)[:20]
        raise DeskError(f"{shown!r} is not an MRN: scan the chart label again or type its digits")
    patient = by_mrn(desk, [mrn]).get(mrn_key(mrn))
    if patient is None:
        raise DeskError(f"no active patient has MRN {mrn}: check the label")
    found = chart_status(desk, patient)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "chart.look", object=f"chart_volume:{found.volume_uuid}" if found.volume_uuid else
                     f"patient:{patient.uuid}", patient=patient.uuid, details={"status": found.status})
    return found


# --- moving charts --------------------------------------------------------------------------------


def charge_out(desk: Desk, actor, chart: ChartStatus | str, borrower: Location | str, due_back: datetime.date,
               person: str = "", *, as_of: datetime.date | None = None) -> ChartStatus:
    """Lend a chart that is in a file room to a clinic, department or person until `due_back`.

    A ChartStatus of a patient with no paper chart yet opens volume 1 and charges it out."""
    actor.require(*CHANGERS)
    with desk.write():
        volume = _volume(desk, chart, create=True, actor=actor)
        record_charge_out(desk, actor, volume, borrower, due_back, person, as_of=as_of)
    return _now(desk, volume)


def record_charge_out(desk: Desk, actor, volume: ChartVolume, borrower: ChartLocation | Location | str,
                      due_back: datetime.date, person: str = "", *, as_of: datetime.date | None = None,
                      details: dict | None = None) -> ChartMovement:
    """A charge-out in the caller's transaction (charge_out's own, or a pull-list pick's)."""
    patient = Patient.get_by_id(volume.patient_id)
    chart = label(desk, volume, patient)
    to = _location(borrower)
    person = _clean(person, "a borrower's name", 100)
    as_of = as_of or datetime.date.today()
    if volume.status == "missing":
        raise DeskError(f"chart {chart} is flagged missing: check it in when it is found")
    if volume.status == "out":
        raise DeskError(f"chart {chart} is already {describe(volume)}: check it in or transfer it")
    if _is_file_room(to):
        raise DeskError(f"{to.code} is a file room: charge charts out to a clinic, department or person "
                        "(transfer moves a chart between file rooms)")
    if not isinstance(due_back, datetime.date):
        raise DeskError("a charge-out needs a due-back date (YYYY-MM-DD)")
    if due_back < as_of:
        raise DeskError(f"due-back date {due_back.isoformat()} is before today: check the date")
    return _move(desk, actor, volume, patient, "charge_out", to=to, status="out", borrower=person,
                 due_back=due_back, details=details)


@dataclass(frozen=True)
class CheckIn:
    """A chart back in a file room (as it is now), with what the clerk must know about it right now."""

    chart: ChartStatus
    location: str  # the file room's code
    warnings: tuple[str, ...] = ()


def check_in(desk: Desk, actor, chart: ChartStatus | str, at_location: Location | str | None = None, *,
             at: datetime.datetime | None = None) -> CheckIn:
    """Put a chart back in a file room (its home unless named). A missing chart checked in is found.

    The check-in happens, and `warnings` say what matters now: it was missing, it belongs in another
    file room, a release-of-information request is open for the patient, it came back late, or an
    upcoming appointment wants it.
    """
    actor.require(*CHANGERS)
    at = at or datetime.datetime.now()
    volume = _volume(desk, chart)
    patient = Patient.get_by_id(volume.patient_id)
    folder = label(desk, volume, patient)
    home = location_by_id(volume.home_id)
    to = home if at_location is None else _location(at_location)
    if not _is_file_room(to):
        raise DeskError(f"{to.code} is a {to.kind.replace('_', ' ')}: charts are checked in to a file room "
                        "(transfer moves a chart between borrowers)")
    if volume.status == "in" and volume.current_id == to.id:
        raise DeskError(f"chart {folder} is already in {to.code}")
    warnings = []
    was_missing = volume.status == "missing"
    if was_missing:
        warnings.append(f"chart {folder} was flagged missing: it is found now")
    warnings += _wanted(desk, patient, at)
    warnings += _open_releases(patient)
    if to.id != home.id:
        warnings.append(f"chart {folder} belongs in {home.code} ({home.name}), not {to.code}: send it home")
    if volume.status == "out" and volume.due_back_on and volume.due_back_on < at.date():
        days = (at.date() - volume.due_back_on).days
        warnings.append(f"it came back late from {location_by_id(volume.current_id).code}: due back on "
                        f"{volume.due_back_on.isoformat()} ({days} day{'s' if days != 1 else ''} overdue)")
    with desk.write():
        _move(desk, actor, volume, patient, "found" if was_missing else "check_in", to=to, status="in",
              details={"warnings": len(warnings)})
    return CheckIn(_now(desk, volume), to.code, tuple(warnings))


def scan_in(desk: Desk, actor, typed: str, at_location: Location | str | None = None) -> CheckIn:
    """Check-in mode: find the chart a wand scanned (or a clerk typed) and check it in at once."""
    actor.require(*CHANGERS)
    found = find_chart(desk, actor, typed)
    if found.volume_uuid is None:
        raise DeskError(f"MRN {found.mrn} has no paper chart on record: nothing to check in")
    return check_in(desk, actor, found, at_location)


def _wanted(desk: Desk, patient: Patient, at: datetime.datetime) -> list[str]:
    until = datetime.datetime.combine(at.date() + datetime.timedelta(days=desk.config.tracking.pull_ahead_days + 1),
                                      datetime.time.min)
    appointments = (Appointment.select().where((Appointment.patient == patient.id) & (Appointment.status == "booked")
                                               & (Appointment.at >= at) & (Appointment.at < until))
                    .order_by(Appointment.at).limit(3))
    return [f"wanted for {a.clinic} on {a.at:%Y-%m-%d %H:%M}: put it with that pull, not on the shelf"
            for a in appointments]


def _open_releases(patient: Patient) -> list[str]:
    releases = list(Release.select().where((Release.patient == patient.id) & Release.status.not_in(CLOSED_RELEASES))
                    .order_by(Release.due_on))
    if not releases:
        return []
    first = releases[0]
    due = first.extended_due_on or first.due_on
    many = f"{len(releases)} release-of-information requests are" if len(releases) > 1 else \
        "a release-of-information request is"
    return [f"{many} open for this patient ({first.status}, due {due.isoformat()}): take the chart to ROI"]


def transfer(desk: Desk, actor, chart: ChartStatus | str, to_location: Location | str, person: str = "", *,
             due_back: datetime.date | None = None) -> ChartStatus:
    """Hand a chart that is out to another borrower (due date kept unless given), or move a filed chart to
    another file room (off-site storage, a satellite room)."""
    actor.require(*CHANGERS)
    volume = _volume(desk, chart)
    patient = Patient.get_by_id(volume.patient_id)
    folder = label(desk, volume, patient)
    to = _location(to_location)
    person = _clean(person, "a borrower's name", 100)
    if volume.status == "missing":
        raise DeskError(f"chart {folder} is flagged missing: check it in when it is found")
    if volume.status == "in":
        if not _is_file_room(to):
            raise DeskError(f"chart {folder} is in {location_by_id(volume.current_id).code}: charge it out to "
                            f"{to.code} (a charge-out sets the due-back date)")
        if volume.current_id == to.id:
            raise DeskError(f"chart {folder} is already in {to.code}")
        with desk.write():
            _move(desk, actor, volume, patient, "transfer", to=to, status="in")
        return _now(desk, volume)
    if _is_file_room(to):
        raise DeskError(f"chart {folder} is out to {location_by_id(volume.current_id).code}: check it in to "
                        f"{to.code} instead of transferring it")
    if volume.current_id == to.id and volume.borrower == person and due_back in (None, volume.due_back_on):
        raise DeskError(f"chart {folder} is already {describe(volume)}")
    if due_back is not None and due_back < datetime.date.today():
        raise DeskError(f"due-back date {due_back.isoformat()} is before today: check the date")
    with desk.write():
        _move(desk, actor, volume, patient, "transfer", to=to, status="out", borrower=person,
              due_back=due_back or volume.due_back_on)
    return _now(desk, volume)


def mark_missing(desk: Desk, actor, chart: ChartStatus | str, note: str) -> ChartStatus:
    """Flag a chart missing after a search; the note (where you looked) is kept in the audit trail."""
    actor.require(*CHANGERS)
    volume = _volume(desk, chart)
    patient = Patient.get_by_id(volume.patient_id)
    folder = label(desk, volume, patient)
    note = _clean(note, "a note", 500)
    if not note:
        raise DeskError("say where you looked for it (the note is kept with the chart's history)")
    if volume.status == "missing":
        raise DeskError(f"chart {folder} is already flagged missing")
    with desk.write():
        # It stays where it was last known to be, so a search starts there.
        _move(desk, actor, volume, patient, "missing", to=None, status="missing", borrower=volume.borrower,
              due_back=volume.due_back_on, details={"note": note})
    return _now(desk, volume)


# --- history --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    at: datetime.datetime  # UTC
    kind: str  # charge_out | check_in | transfer | missing | found
    from_location: str
    to_location: str
    borrower: str
    due_back_on: datetime.date | None
    by: str
    note: str = ""


def history(desk: Desk, actor, chart: ChartStatus | str) -> list[Movement]:
    """Every move of one chart volume, oldest first (the view is audited)."""
    if isinstance(chart, ChartStatus) and chart.volume_uuid:
        chart = chart.volume_uuid  # a look, not a move: the chart may have moved since it was shown
    volume = _volume(desk, chart)
    patient = Patient.get_by_id(volume.patient_id)
    codes = {loc.id: loc.code for loc in ChartLocation.select()}
    users = {u.id: u.name for u in User.select(User.id, User.name)}
    notes = _missing_notes(desk, volume)
    rows = [
        Movement(m.at, m.kind, codes.get(m.from_location_id, ""), codes.get(m.to_location_id, ""), m.borrower,
                 m.due_back_on, users.get(m.by_user_id, ""), notes.get(m.id, ""))
        for m in ChartMovement.select().where(ChartMovement.volume == volume.id)
        .order_by(ChartMovement.at, ChartMovement.id)
    ]
    with desk.audit_db.atomic():
        audit.append(desk, actor, "chart.history", object=f"chart_volume:{volume.uuid}", patient=patient.uuid,
                     details={"movements": len(rows)})
    return rows


def _missing_notes(desk: Desk, volume: ChartVolume) -> dict[int, str]:
    notes = {}
    for event in AuditEvent.select().where((AuditEvent.object == f"chart_volume:{volume.uuid}")
                                           & (AuditEvent.action == "chart.missing")):
        details = audit.details(desk, event) or {}
        if "movement" in details:
            notes[int(details["movement"])] = str(details.get("note", ""))
    return notes
