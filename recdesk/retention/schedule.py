"""Retention schedules as data (data/retention.toml) and the date each chart is kept until (RULES.md §8, T1).

A rule keeps one record class (adult, minor, deceased) of one jurisdiction for `years` after the last encounter
or discharge; a minor's rule keeps the chart until the later of that and the day the patient turns `until_age`
plus `years_after_age`. The site names its jurisdictions in config.toml ([retention] jurisdictions); Medicare's
US rule applies everywhere as the floor, an optional site policy ([retention] policy_years) adds a period of its
own, and the longest applicable period wins. Not legal advice: the shipped presets are examples a site checks
against its own counsel, and a site copy in <home>/data/retention.toml replaces them whole.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from recdesk import reference
from recdesk.errors import DeskError

CLASSES = ("adult", "minor", "deceased")
FLOOR = "US"  # Medicare hospitals, 42 CFR 482.24(b)(1): applies whatever the site names
SITE = "SITE"  # the jurisdiction of the site's own policy period ([retention] policy_years)
SITE_POLICY = "SITE-POLICY"
MAJORITY = 18
CODE_MAX = 32
TEXT_MAX = 300
_KEYS = ("code", "jurisdiction", "class", "years", "minor_under", "until_age", "years_after_age", "archive",
         "basis", "description")
_MINOR_KEYS = ("minor_under", "until_age", "years_after_age")


@dataclass(frozen=True)
class Rule:
    """One retention rule: a jurisdiction's period for one record class, with the law or guidance it rests on."""

    code: str
    jurisdiction: str
    record_class: str  # adult | minor | deceased
    years: int  # after the last encounter or discharge
    basis: str
    description: str = ""
    archive: bool = False  # archive the chart before destroying it
    minor_under: int = MAJORITY  # a minor rule: the patient was younger than this at the last encounter
    until_age: int | None = None  # a minor rule: kept at least until this birthday ...
    years_after_age: int = 0  # ... plus these years


@dataclass(frozen=True)
class Facts:
    """What a chart's retention depends on: date of birth, last encounter or discharge, and death."""

    dob: datetime.date | None
    last_encounter: datetime.date | None
    deceased: bool = False


class Retention(NamedTuple):
    """The day a chart is kept until (inclusive) and the code of the rule that decided it."""

    until: datetime.date
    rule: str


def source(home: Path | None) -> Path:
    """The schedule file in use: the site's copy when it has one, else the shipped one."""
    site = home / "data" / "retention.toml" if home else None
    return site if site is not None and site.exists() else reference.data_dir() / "retention.toml"


def load(home: Path | None = None) -> tuple[Rule, ...]:
    """Every rule of the schedule in use, checked whole: a bad one is one line naming the file, rule and field."""
    path = source(home)
    rows = reference.load("retention", home).get("rule")
    if not isinstance(rows, list) or not rows:
        raise DeskError(f"{path} lists no retention rules: add [[rule]] entries (code, jurisdiction, class, years, "
                        "basis)")
    rules, seen, pairs = [], set(), set()
    for n, row in enumerate(rows, 1):
        rule = _rule(row, f"{path}: [[rule]] {n}")
        if rule.code in seen:
            raise DeskError(f"{path}: [[rule]] {n} ({rule.code}): code is used twice: give each rule its own code")
        if (rule.jurisdiction, rule.record_class) in pairs:
            raise DeskError(f"{path}: [[rule]] {n} ({rule.code}): a second {rule.record_class} rule for "
                            f"{rule.jurisdiction}: keep one rule per jurisdiction and class")
        seen.add(rule.code)
        pairs.add((rule.jurisdiction, rule.record_class))
        rules.append(rule)
    if not any(r.jurisdiction == FLOOR and r.record_class == "adult" for r in rules):
        raise DeskError(f"{path} has no adult rule for {FLOOR} (the Medicare floor, 42 CFR 482.24(b)(1)): add it")
    return tuple(rules)


def _whole(row: dict, key: str, where: str, least: int, most: int = 150) -> int:
    value = row[key]
    if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= most:
        raise DeskError(f"{where}: {key} must be a whole number of years from {least} to {most}, not {value!r}")
    return value


def _text(row: dict, key: str, where: str, *, needed: bool, limit: int = TEXT_MAX) -> str:
    value = row.get(key, "")
    if not isinstance(value, str) or len(value) > limit or "\n" in value or (needed and not value.strip()):
        raise DeskError(f"{where}: {key} must be {'a' if needed else 'one line of'} text of at most {limit} "
                        f"characters{' (say which law or guidance the rule rests on)' if key == 'basis' else ''}")
    return value.strip()


def _rule(row: object, where: str) -> Rule:
    if not isinstance(row, dict):
        raise DeskError(f"{where} is not a table: write it as a [[rule]] entry")
    if isinstance(row.get("code"), str) and row["code"]:
        where = f"{where} ({row['code']})"
    for key in row:
        if key not in _KEYS:
            raise DeskError(f"{where}: there is no field {key!r} (fields: {', '.join(_KEYS)}): fix or remove it")
    for key in ("code", "jurisdiction", "class", "years", "basis"):
        if key not in row:
            raise DeskError(f"{where} has no {key}: add it")
    code = _text(row, "code", where, needed=True, limit=CODE_MAX)
    jurisdiction = _text(row, "jurisdiction", where, needed=True, limit=16)
    if jurisdiction != jurisdiction.upper() or " " in jurisdiction:
        raise DeskError(f"{where}: jurisdiction {jurisdiction!r} must be a code in capitals, such as \"TX\"")
    record_class = row["class"]
    if record_class not in CLASSES:
        raise DeskError(f"{where}: class {record_class!r} must be one of {', '.join(CLASSES)}")
    if record_class != "minor" and any(k in row for k in _MINOR_KEYS):
        extra = next(k for k in _MINOR_KEYS if k in row)
        raise DeskError(f"{where}: {extra} belongs to a minor rule, not a {record_class} one: remove it")
    archive = row.get("archive", False)
    if not isinstance(archive, bool):
        raise DeskError(f"{where}: archive must be true or false, not {archive!r}")
    until_age = _whole(row, "until_age", where, 1) if "until_age" in row else None
    after = _whole(row, "years_after_age", where, 0) if "years_after_age" in row else 0
    if after and until_age is None:
        raise DeskError(f"{where}: years_after_age needs until_age (the birthday it counts from): add it")
    return Rule(code=code, jurisdiction=jurisdiction, record_class=record_class,
                years=_whole(row, "years", where, 1), basis=_text(row, "basis", where, needed=True),
                description=_text(row, "description", where, needed=False), archive=archive,
                minor_under=_whole(row, "minor_under", where, 1, 30) if "minor_under" in row else MAJORITY,
                until_age=until_age, years_after_age=after)


def site_rules(config) -> tuple[Rule, ...]:
    """The rules that apply at this site: its jurisdictions' rules, the Medicare floor and its own policy."""
    rules = load(config.home)
    settings = config.retention
    have = {r.jurisdiction for r in rules}
    for code in settings.jurisdictions:
        if code not in have:
            raise DeskError(f"config.toml: [retention] jurisdictions names {code!r}, which has no rules in "
                            f"{source(config.home)}: add [[rule]] entries for it or take it out of jurisdictions")
    wanted = [*dict.fromkeys([*settings.jurisdictions, FLOOR])]
    chosen = [r for j in wanted for r in rules if r.jurisdiction == j]
    if settings.policy_years:
        chosen += [Rule(code=f"{SITE_POLICY}-{c.upper()}" if c != "adult" else SITE_POLICY, jurisdiction=SITE,
                        record_class=c, years=settings.policy_years,
                        basis="the site's own retention policy (config.toml [retention] policy_years)",
                        archive=settings.archive) for c in CLASSES]
    return tuple(chosen)


def add_years(day: datetime.date, years: int) -> datetime.date:
    """The same day `years` later; 29 February becomes 1 March (the later day keeps the chart longer)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return datetime.date(day.year + years, 3, 1)


def age_on(dob: datetime.date, day: datetime.date) -> int:
    """Whole years of age on `day`."""
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def _until(rule: Rule, facts: Facts, last: datetime.date) -> datetime.date | None:
    """The day this rule keeps the chart until, or None when the rule does not fit the patient."""
    if rule.record_class == "minor":
        if facts.dob is None or age_on(facts.dob, last) >= rule.minor_under:
            return None
        until = add_years(last, rule.years)
        if rule.until_age is not None:
            until = max(until, add_years(facts.dob, rule.until_age + rule.years_after_age))
        return until
    if rule.record_class == "deceased" and not facts.deceased:
        return None
    return add_years(last, rule.years)


def retain_until(facts: Facts, rules: Sequence[Rule], as_of: datetime.date) -> Retention:
    """The day the chart is kept until and the rule that decided it: the longest period of the rules that apply.

    Per jurisdiction, a minor's chart (younger than the rule's `minor_under` at the last encounter) follows the
    minor rule and any other chart the adult rule; a deceased patient's chart also follows the deceased rule, and
    the longer one wins (no statute named in RULES.md shortens a period at death). A jurisdiction with no rule for
    a class uses its adult rule. A chart with no last encounter on record counts as seen on `as_of`. Ties go to
    the rule listed first (the site's jurisdictions in its order, then the Medicare floor, then the site policy).
    """
    last = facts.last_encounter or as_of
    best: Retention | None = None
    jurisdictions = dict.fromkeys(r.jurisdiction for r in rules)
    for jurisdiction in jurisdictions:
        own = [r for r in rules if r.jurisdiction == jurisdiction]
        minor = next((r for r in own if r.record_class == "minor" and _until(r, facts, last)), None)
        adult = next((r for r in own if r.record_class == "adult"), None)
        living = minor or adult
        fitting = [r for r in (living, *(r for r in own if r.record_class == "deceased")) if r is not None]
        for rule in fitting:
            until = _until(rule, facts, last)
            if until is not None and (best is None or until > best.until):
                best = Retention(until, rule.code)
    if best is None:
        raise DeskError("no retention rule applies: the schedule needs an adult rule for each jurisdiction")
    return best


def archive_first(rules: Sequence[Rule], code: str, site_archive: bool = False) -> bool:
    """Whether a chart kept by rule `code` is archived before it is destroyed (the rule's flag, or the site's)."""
    return site_archive or any(r.code == code and r.archive for r in rules)
