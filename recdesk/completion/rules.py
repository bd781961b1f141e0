"""Chart completion (RULES.md §11, C1–C6): what an encounter's chart must hold and when, judged without a database.

The checklists live in data/checklists.toml and the deficiency kinds in data/deficiency_types.toml; a site replaces
either with its own copy in <home>/data/. Every function here is pure: callers pass the encounter's facts, the
documents filed to it and the moment to judge at (`at`), and all datetimes share one convention (naive or aware).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from recdesk import reference
from recdesk.errors import DeskError

ENCOUNTER_KINDS = ("inpatient", "outpatient", "ed", "surgery")
ANCHORS = ("admit", "discharge", "surgery", "surgery_end")
CHART_RULES = ("", "C1", "C2", "C3", "C4", "C5", "C6")
COMPLETE_STATES = ("present", "late", "not_applicable")  # a late entry is on file: nothing is left to complete
AGING_BUCKETS = {"0-7": 7, "8-14": 14, "15-30": 30, "31-60": 60, "60+": math.inf}  # band -> oldest age in it
CODE_MAX = 40  # AssemblyItem.item and Deficiency.kind are 40 characters


@dataclass(frozen=True)
class EncounterFacts:
    """What the checklist needs to know about one encounter."""

    kind: str  # inpatient | outpatient | ed | surgery
    admit_at: dt.datetime
    discharge_at: dt.datetime | None = None
    surgery_at: dt.datetime | None = None
    surgery_end_at: dt.datetime | None = None
    medicare: bool = False


@dataclass(frozen=True)
class FiledDoc:
    """A document filed to the encounter; signed_at is when it was authenticated (None: not signed)."""

    id: str
    doc_type: str
    signed_at: dt.datetime | None
    title: str = ""


@dataclass(frozen=True)
class ItemState:
    """Where one checklist item stands, and one line telling the clerk what to do about it."""

    code: str
    label: str
    state: str  # present | missing | late | deficient | pending | not_applicable
    document_ids: tuple[str, ...]
    rule: str
    message: str
    deficiency: str = ""  # the deficiency type to open, "" when there is none


@dataclass(frozen=True)
class ChecklistItem:
    """One document an encounter's chart must hold, and the window its signature must fall in (data/checklists.toml)."""

    code: str
    label: str
    doc_types: tuple[str, ...]
    anchor: str
    rule: str
    order: int
    deficiency: str
    from_hours: float | None = None
    from_days: int | None = None
    to_hours: float | None = None
    to_days: int | None = None
    before_surgery: bool = False
    medicare_only: bool = False
    required: bool = True
    update_doc_types: tuple[str, ...] = ()
    late_deficiency: str = ""
    unsigned_deficiency: str = "missing_signature"
    update_deficiency: str = ""


@dataclass(frozen=True)
class DeficiencyType:
    code: str
    label: str
    rule: str


# --- reference data --------------------------------------------------------------------------------------------

# What each field of a checklist item must hold, as the clerk's error message words it.
_TEXT, _CODES, _WHOLE, _HOURS, _FLAG = "text", "a list of codes", "a whole number", "a number of hours", "true or false"
_FIELDS = {"code": _TEXT, "label": _TEXT, "doc_types": _CODES, "anchor": _TEXT, "rule": _TEXT, "order": _WHOLE,
           "deficiency": _TEXT, "from_hours": _HOURS, "from_days": _WHOLE, "to_hours": _HOURS, "to_days": _WHOLE,
           "before_surgery": _FLAG, "medicare_only": _FLAG, "required": _FLAG, "update_doc_types": _CODES,
           "late_deficiency": _TEXT, "unsigned_deficiency": _TEXT, "update_deficiency": _TEXT}
_FITS = {
    _TEXT: lambda v: isinstance(v, str),
    _CODES: lambda v: isinstance(v, list) and all(isinstance(c, str) and c for c in v),
    _WHOLE: lambda v: isinstance(v, int) and not isinstance(v, bool),
    _HOURS: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    _FLAG: lambda v: isinstance(v, bool),
}
_NEEDED = ("code", "label", "doc_types", "anchor", "rule", "order", "deficiency")
_WINDOW = ("from_hours", "from_days", "to_hours", "to_days")


def _source(name: str, home: Path | None) -> Path:
    """The file reference.load reads for `name`: the site's copy when it has one, else the shipped one."""
    site = home / "data" / f"{name}.toml" if home else None
    return site if site is not None and site.exists() else reference.data_dir() / f"{name}.toml"


def deficiency_types(home: Path | None = None) -> list[DeficiencyType]:
    """The deficiency kinds a clerk opens, in file order (data/deficiency_types.toml)."""
    path = _source("deficiency_types", home)
    rows = reference.load("deficiency_types", home).get("type")
    if not isinstance(rows, list) or not rows:
        raise DeskError(f"{path} lists no deficiency types: add [[type]] entries with code, label and rule")
    kinds, seen = [], set()
    for n, row in enumerate(rows, 1):
        fields = row if isinstance(row, dict) else {}
        code, label, rule = (fields.get(k) for k in ("code", "label", "rule"))
        where = f"{path}: [[type]] {n}"
        if not all(isinstance(v, str) for v in (code, label, rule)) or not code or not label:
            raise DeskError(f"{where} needs text code, label and rule (rule may be \"\")")
        if code in seen or len(code) > CODE_MAX:
            raise DeskError(f"{where}: code {code!r} is repeated or over {CODE_MAX} characters: give it a unique one")
        if rule not in CHART_RULES:
            raise DeskError(f"{where} ({code}): rule {rule!r} is not one of {', '.join(CHART_RULES[1:])} or \"\"")
        seen.add(code)
        kinds.append(DeficiencyType(code, label, rule))
    return kinds


def checklist(kind: str, home: Path | None = None) -> list[ChecklistItem]:
    """The checklist for one encounter kind, in the site's chart order. The whole file is checked on every load."""
    if kind not in ENCOUNTER_KINDS:
        raise DeskError(f"unknown encounter kind {kind!r}: use one of {', '.join(ENCOUNTER_KINDS)}")
    path = _source("checklists", home)
    data = reference.load("checklists", home)
    known = {t.code for t in deficiency_types(home)}
    lists = {}
    for name, rows in data.items():
        if name not in ENCOUNTER_KINDS:
            raise DeskError(f"{path}: [[{name}]] is not an encounter kind: use one of {', '.join(ENCOUNTER_KINDS)}")
        if not isinstance(rows, list):
            raise DeskError(f"{path}: {name} must be a list of [[{name}]] items")
        lists[name] = _items(rows, f"{path}: [[{name}]]", known)
    if kind not in lists:
        raise DeskError(f"{path} has no checklist for {kind} encounters: add [[{kind}]] items")
    return lists[kind]


def _items(rows: list, where: str, known_deficiencies: set[str]) -> list[ChecklistItem]:
    items, codes = [], set()
    for n, row in enumerate(rows, 1):
        item = _item(row, f"{where} item {n}", known_deficiencies)
        if item.code in codes:
            raise DeskError(f"{where} item {n}: code {item.code!r} is used twice: give each item its own code")
        codes.add(item.code)
        items.append(item)
    return sorted(items, key=lambda i: i.order)


def _item(row: object, where: str, known_deficiencies: set[str]) -> ChecklistItem:
    if not isinstance(row, dict):
        raise DeskError(f"{where} is not a table: write it as a [[kind]] entry")
    if isinstance(row.get("code"), str):
        where = f"{where} ({row['code']})"
    for key in _NEEDED:
        if key not in row:
            raise DeskError(f"{where} has no {key}: add it")
    item = ChecklistItem(**{key: _value(key, value, where) for key, value in row.items()})
    if not item.code or len(item.code) > CODE_MAX:
        raise DeskError(f"{where}: code must be 1 to {CODE_MAX} characters")
    if not item.label or not item.doc_types:
        raise DeskError(f"{where} needs a label and at least one document type in doc_types")
    if item.anchor not in ANCHORS:
        raise DeskError(f"{where}: anchor {item.anchor!r} is not one of {', '.join(ANCHORS)}")
    if item.rule not in CHART_RULES:
        raise DeskError(f"{where}: rule {item.rule!r} is not one of {', '.join(CHART_RULES[1:])} or \"\"")
    for side in ("from", "to"):
        if f"{side}_hours" in row and f"{side}_days" in row:
            raise DeskError(f"{where} gives both {side}_hours and {side}_days: keep one")
    for unit in ("hours", "days"):
        start, end = row.get(f"from_{unit}"), row.get(f"to_{unit}")
        if start is not None and end is not None and start > end:
            raise DeskError(f"{where}: from_{unit} {start} is after to_{unit} {end}: swap them")
    if not item.required and (item.update_doc_types or any(k in row for k in _WINDOW)):
        raise DeskError(f"{where}: an item with required = false has no window or update: remove them")
    if item.update_doc_types and not item.update_deficiency:
        raise DeskError(f"{where} has update_doc_types but no update_deficiency: add one")
    for key in ("deficiency", "late_deficiency", "unsigned_deficiency", "update_deficiency"):
        code = getattr(item, key)
        if code and code not in known_deficiencies:
            raise DeskError(f"{where}: {key} {code!r} is not in deficiency_types.toml: add that deficiency type "
                            f"there, or spell {key} as one of its codes")
    return item


def _value(key: str, value: object, where: str) -> object:
    """One checklist field, type-checked; text is trimmed and lists become tuples so items stay immutable."""
    wanted = _FIELDS.get(key)
    if wanted is None:
        raise DeskError(f"{where} has unknown key {key!r}: see the field list at the top of checklists.toml")
    if not _FITS[wanted](value):
        raise DeskError(f"{where}: {key} = {value!r} should be {wanted}")
    return tuple(value) if isinstance(value, list) else value.strip() if isinstance(value, str) else value


# --- judging a chart -------------------------------------------------------------------------------------------


def evaluate(encounter: EncounterFacts, docs: Iterable[FiledDoc], attached: dict[str, list[str]] | None,
             at: dt.datetime, home: Path | None = None) -> list[ItemState]:
    """Each checklist item of the encounter's kind, in chart order, judged at the moment `at`.

    An item is satisfied by documents of its types and by any document the clerk attached to it, whatever its
    type; attached ids that are not among `docs` (moved off the encounter since) are ignored. A document may
    satisfy more than one item: an admission IM signed within 2 days of discharge is also the follow-up copy.
    """
    docs = list(docs)
    by_id = {d.id: d for d in docs}
    attached = attached or {}
    states = []
    for item in checklist(encounter.kind, home):
        chosen = [by_id[i] for i in dict.fromkeys(attached.get(item.code, ())) if i in by_id]
        chosen += [d for d in docs if d.doc_type in item.doc_types + item.update_doc_types and d not in chosen]
        states.append(_assess(item, encounter, chosen, at))
    return states


def is_complete(states: Iterable[ItemState]) -> bool:
    """True when nothing on the checklist is still owed (missing, deficient or pending)."""
    return all(s.state in COMPLETE_STATES for s in states)


def _assess(item: ChecklistItem, enc: EncounterFacts, docs: list[FiledDoc], at: dt.datetime) -> ItemState:
    if item.medicare_only and not enc.medicare:
        return _state(item, "not_applicable", "Not required: the patient is not a Medicare beneficiary")
    if item.anchor in ("surgery", "surgery_end") and enc.surgery_at is None:
        return _state(item, "not_applicable", "Not required: no surgery on this encounter")
    if not item.required:
        return _each_signed(item, docs)
    anchor = _anchor(item.anchor, enc)
    if anchor is None:
        return _state(item, "pending", "Due after discharge: nothing to do yet")
    updates = [d for d in docs if d.doc_type in item.update_doc_types]
    found = _judge(item, anchor, [d for d in docs if d not in updates], enc, at)
    fitting = [d for d in docs if d.id in found.document_ids]
    if not item.update_doc_types or found.state != "present" or any(d.signed_at >= anchor for d in fitting):
        return found
    # C1: signed before admission, so it counts only with an update signed after admission, inside the window
    update_item = dataclasses.replace(item, doc_types=item.update_doc_types, update_doc_types=(), from_hours=0,
                                      from_days=None, deficiency=item.update_deficiency)
    update = _judge(update_item, anchor, updates, enc, at)
    signed = min(d.signed_at for d in fitting)
    return dataclasses.replace(update, state="deficient" if update.state == "missing" else update.state,
                               document_ids=found.document_ids + update.document_ids,
                               message=f"Signed {_at(signed)}, before admission. Update: {update.message}")


def _judge(item: ChecklistItem, anchor: dt.datetime, docs: list[FiledDoc], enc: EncounterFacts,
           at: dt.datetime) -> ItemState:
    """One item against its window: a signature inside it wins; otherwise, once due, say what went wrong."""
    surgery = enc.surgery_at if item.before_surgery else None
    signed = [d for d in docs if d.signed_at is not None]
    fits = [d for d in signed if not _too_early(item, anchor, d.signed_at) and not _too_late(item, anchor, d.signed_at)
            and (surgery is None or d.signed_at < surgery)]
    if fits:
        return _state(item, "present", f"On file, signed {_at(fits[0].signed_at)}", fits)
    unsigned = [d for d in docs if d.signed_at is None]
    if unsigned:
        return _state(item, "deficient", "Filed unsigned: send it to its author to sign, date and time", unsigned,
                      item.unsigned_deficiency)
    due = _due(item, anchor, enc)
    if at < due:
        return _state(item, "pending", f"Due by {_at(due)}: nothing to do yet")
    after_surgery = [d for d in signed if surgery is not None and d.signed_at >= surgery]
    if after_surgery:
        return _state(item, "deficient", f"Signed {_at(after_surgery[0].signed_at)}, after surgery began "
                      f"{_at(surgery)}: it must precede surgery; tell the author", after_surgery, item.deficiency)
    late = [d for d in signed if _too_late(item, anchor, d.signed_at)]
    if late:
        return _state(item, "late", f"Signed {_at(late[0].signed_at)}, after it was due {_at(due)}: "
                      "note the late entry for review", late, item.late_deficiency)
    if signed:  # every one of them too early: too old to count
        return _state(item, "deficient", f"Signed {_at(signed[-1].signed_at)}, before its window opened "
                      f"{_at(_opens(item, anchor))}: a current one is needed", signed, item.deficiency)
    return _state(item, "missing", f"None on file, due {_at(due)}: get it from its author and file it",
                  deficiency=item.deficiency)


def _each_signed(item: ChecklistItem, docs: list[FiledDoc]) -> ItemState:
    """An item none of which need be filed (verbal orders): each one that is filed must be signed."""
    if not docs:
        return _state(item, "not_applicable", "None filed")
    unsigned = [d for d in docs if d.signed_at is None]
    if unsigned:
        return _state(item, "deficient", f"{len(unsigned)} of {len(docs)} unsigned: send them to their authors to sign",
                      unsigned, item.unsigned_deficiency)
    return _state(item, "present", f"All {len(docs)} signed", docs)


def _state(item: ChecklistItem, state: str, message: str, docs: Iterable[FiledDoc] = (),
           deficiency: str = "") -> ItemState:
    return ItemState(item.code, item.label, state, tuple(d.id for d in docs), item.rule, message, deficiency)


def _anchor(anchor: str, enc: EncounterFacts) -> dt.datetime | None:
    if anchor == "admit":
        return enc.admit_at
    if anchor == "discharge":
        return enc.discharge_at
    if anchor == "surgery_end" and enc.surgery_end_at is not None:
        return enc.surgery_end_at
    return enc.surgery_at


def _midnight(day: dt.date, like: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=like.tzinfo)


def _opens(item: ChecklistItem, anchor: dt.datetime) -> dt.datetime | None:
    """The earliest acceptable signature; calendar days open at midnight."""
    if item.from_hours is not None:
        return anchor + dt.timedelta(hours=item.from_hours)
    if item.from_days is not None:
        return _midnight(anchor.date() + dt.timedelta(days=item.from_days), anchor)
    return None


def _too_early(item: ChecklistItem, anchor: dt.datetime, signed: dt.datetime) -> bool:
    opens = _opens(item, anchor)
    return opens is not None and signed < opens


def _too_late(item: ChecklistItem, anchor: dt.datetime, signed: dt.datetime) -> bool:
    """A signature at the very limit still counts (24 h after admission is on time)."""
    if item.to_hours is not None:
        return signed > anchor + dt.timedelta(hours=item.to_hours)
    if item.to_days is not None:
        return signed.date() > anchor.date() + dt.timedelta(days=item.to_days)
    return False


def _due(item: ChecklistItem, anchor: dt.datetime, enc: EncounterFacts) -> dt.datetime:
    """The instant from which an absent document is overdue: the end of its window (the midnight after its last
    calendar day), or its anchor when it has none; surgery comes first when it must precede surgery."""
    if item.to_hours is not None:
        due = anchor + dt.timedelta(hours=item.to_hours)
    elif item.to_days is not None:
        due = _midnight(anchor.date() + dt.timedelta(days=item.to_days + 1), anchor)
    else:
        due = anchor
    if item.before_surgery and enc.surgery_at is not None:
        due = min(due, enc.surgery_at)
    return due


def _at(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "?"


# --- delinquency (C4, C6) --------------------------------------------------------------------------------------


def deficiency_age_days(discharge_at: dt.datetime, at: dt.datetime) -> int:
    """Whole days since discharge (0 before it). Elapsed days, not date differences, so that a record of age 30
    is exactly the one `delinquent` calls delinquent at 30 days."""
    return max((at - discharge_at).days, 0)


def delinquent(discharge_at: dt.datetime | None, at: dt.datetime, days: int = 30) -> bool:
    """C4: whether a record that is still incomplete at `at` is delinquent (the caller checks incompleteness).

    The record is due at discharge + `days`, and that instant itself is delinquent: C4 reads "incomplete at
    discharge + 30d ⇒ delinquent" — the 30 days have run out, so one minute before is the last moment to finish.
    A patient not yet discharged is never delinquent. Medical-staff rules may set fewer days.
    """
    return discharge_at is not None and at - discharge_at >= dt.timedelta(days=days)


def delinquency_rate(delinquent_count: int, discharges_last_3_months: int) -> float:
    """C6: delinquent records ÷ average monthly discharges (last 3 months ÷ 3); 0.5 is the legacy TJC 50% line.

    With no discharges there is no average to measure against: no delinquent records is 0.0, and any is infinite
    (over every threshold) rather than a reassuring zero.
    """
    if delinquent_count < 0 or discharges_last_3_months < 0:
        raise ValueError("counts of records cannot be negative")
    if discharges_last_3_months == 0:
        return 0.0 if delinquent_count == 0 else math.inf
    return delinquent_count * 3 / discharges_last_3_months


def aging_buckets(ages: Iterable[int]) -> dict[str, int]:
    """How many deficiencies fall in each age band, in days: 0-7, 8-14, 15-30, 31-60 and 60+ (61 and older)."""
    counts = dict.fromkeys(AGING_BUCKETS, 0)
    for age in ages:
        if age < 0:
            raise ValueError(f"a deficiency cannot be {age} days old")
        counts[next(band for band, oldest in AGING_BUCKETS.items() if age <= oldest)] += 1
    return counts
