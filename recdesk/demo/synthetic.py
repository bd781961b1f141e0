"""Deterministic synthetic patients and their clinical-document PDFs, for the demo desk.

The words and frequencies they are drawn from (names, places, payers, services, clinical text) are data, in
tables/*.toml beside this module, read once on first use."""

from __future__ import annotations

import bisect
import datetime
import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import Any, Generic, TypeVar

from recdesk.pdf.fonts import latin1
from recdesk.vault.blindindex import FOLD_TABLE

_T = TypeVar("_T")

# The demo desk's "today": all history is before it, all appointments after it.
_TODAY = datetime.date(2026, 11, 26)
_TODAY_ORD = _TODAY.toordinal()
_NOW = datetime.datetime(2026, 11, 26, 12, 0)
_DAY = datetime.timedelta(days=1)
_MINUTE = datetime.timedelta(minutes=1)
_YEAR_DAYS = 365.2425

# MRNs: an affine bijection on [0, 10**7) (step coprime to 10**7), so indexes never collide.
_MRN_SPAN = 10**7
_MRN_BASE = 10**7
_MRN_STEP = 3_141_593
# Near-duplicate MRNs are 9 digits starting with 9, disjoint from the 8-digit patient MRNs.
_DUP_MRN_SPAN = 10**8
_DUP_MRN_BASE = 9 * 10**8
_DUP_MRN_STEP = 27_182_819
_SEED_SPREAD = 2_654_435_761


class _Weighted(Generic[_T]):
    """Items with relative weights, sampled by bisecting cumulative weights built once."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, pairs: Sequence[tuple[_T, float]]) -> None:
        self.items = tuple(item for item, _ in pairs)
        self.cum = list(accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> _T:
        return self.items[bisect.bisect(self.cum, rng.random() * self.total)]


def _names(spec: str, default: int = 2) -> _Weighted[str]:
    """Parse "Smith 80, de la Cruz 3, Okafor" (a trailing integer is the weight) into a sampler."""
    pairs: list[tuple[str, float]] = []
    for raw in spec.split(","):
        entry = " ".join(raw.split())
        if not entry:
            continue
        name, _, weight = entry.rpartition(" ")
        pairs.append((name, int(weight)) if weight.isdigit() else (entry, default))
    return _Weighted(pairs)


@dataclass(frozen=True, slots=True)
class _Origin:
    last: _Weighted[str]
    female: _Weighted[str]
    male: _Weighted[str]


_Plan = tuple[str, str, int, bool]  # (payer, member-id prefix, digits, has a group number)
_City = tuple[str, str, str, tuple[str, ...]]  # (city, state, zip prefix, area codes)
_Analyte = tuple[str, str, float, float, int]  # (name, unit, low, high, decimals)


@dataclass(frozen=True, slots=True)
class _Tables:
    """The demo's words and frequencies, from tables/*.toml: names, places, payers, services, clinical text."""

    origins: _Weighted[_Origin]
    anglo: _Origin
    nicknames: dict[str, str]
    name_particles: frozenset[str]
    local_cities: tuple[_City, ...]
    far_cities: tuple[_City, ...]
    streets: tuple[str, ...]
    street_suffixes: tuple[str, ...]
    commercial: _Weighted[_Plan]
    medicaid: _Plan
    medigap: _Weighted[_Plan]
    inpatient_services: _Weighted[str]
    outpatient_services: _Weighted[str]
    surgical_services: _Weighted[str]
    encounter_types: _Weighted[str]
    encounter_counts: _Weighted[int]
    appointment_counts: _Weighted[int]
    document_counts: _Weighted[int]
    age_bands: _Weighted[tuple[int, int]]  # (youngest, oldest) in days
    visit_hours: dict[str, tuple[float, float]]
    problems: dict[str, tuple[tuple[str, str, str], ...]]  # per service: (diagnosis, complaint, what was done)
    procedures: dict[str, tuple[str, ...]]
    bedside_procedures: tuple[str, ...]
    comorbidities: tuple[str, ...]
    child_comorbidities: tuple[str, ...]
    medications: tuple[str, ...]
    child_medications: tuple[str, ...]
    filler: tuple[str, ...]
    allergies: _Weighted[str]
    lab_panels: tuple[tuple[str, tuple[_Analyte, ...]], ...]
    imaging: tuple[tuple[str, str, str], ...]  # (exam, normal finding, abnormal finding)
    doc_types: dict[str | None, _Weighted[str]]  # None: a patient with no encounters
    page_ranges: dict[str, tuple[int, int]]
    forms: dict[str, tuple[str, str]]  # (title, text)
    roster: dict[str, tuple[str, ...]]  # per service, its attendings: drawn once, after the rest


def _weighted(table: dict[str, float]) -> _Weighted[str]:
    return _Weighted(list(table.items()))


@cache
def _tables() -> _Tables:
    """The tables, read on first use (so importing this module reads no files)."""
    import tomllib  # ~10 ms to import, so only when the tables are read

    tables = Path(__file__).with_name("tables")
    names, places, hospital, clinical = (tomllib.loads((tables / f"{part}.toml").read_text(encoding="utf-8"))
                                         for part in ("names", "places", "encounters", "clinical"))
    origins = [(_Origin(_names(o["last"]), _names(o["female"]), _names(o["male"])), o["weight"])
               for o in names["origin"]]
    counts = hospital["counts"]
    problems: dict[str, list[tuple[str, str, str]]] = {}
    for p in clinical["problem"]:
        problems.setdefault(p["service"], []).append((p["diagnosis"], p["complaint"], p["course"]))
    lists = {key: tuple(value) for key, value in clinical["lists"].items()}
    t = _Tables(
        origins=_Weighted(origins),
        anglo=origins[0][0],
        nicknames=names["nicknames"],
        name_particles=frozenset(names["name_particles"]),
        local_cities=tuple((*c[:3], tuple(c[3])) for c in places["local_cities"]),
        far_cities=tuple((*c[:3], tuple(c[3])) for c in places["far_cities"]),
        streets=tuple(places["streets"]),
        street_suffixes=tuple(places["street_suffixes"]),
        commercial=_Weighted([(tuple(plan), weight) for plan, weight in places["commercial"]]),
        medicaid=tuple(places["medicaid"]),
        medigap=_Weighted([(tuple(plan), weight) for plan, weight in places["medigap"]]),
        inpatient_services=_weighted(hospital["inpatient_services"]),
        outpatient_services=_weighted(hospital["outpatient_services"]),
        surgical_services=_weighted(hospital["surgical_services"]),
        encounter_types=_weighted(hospital["encounter_types"]),
        encounter_counts=_Weighted([tuple(pair) for pair in counts["encounters"]]),
        appointment_counts=_Weighted([tuple(pair) for pair in counts["appointments"]]),
        document_counts=_Weighted([tuple(pair) for pair in counts["documents"]]),
        age_bands=_Weighted([((lo * 365, int((hi + 1) * _YEAR_DAYS) - 2), weight)
                             for lo, hi, weight in hospital["patients"]["age_bands"]]),
        visit_hours={kind: tuple(hours) for kind, hours in hospital["visit_hours"].items()},
        problems={service: tuple(found) for service, found in problems.items()},
        procedures={service: tuple(found) for service, found in clinical["procedures"].items()},
        bedside_procedures=lists["bedside_procedures"],
        comorbidities=lists["comorbidities"],
        child_comorbidities=lists["child_comorbidities"],
        medications=lists["medications"],
        child_medications=lists["child_medications"],
        filler=lists["filler"],
        allergies=_weighted(clinical["allergies"]),
        lab_panels=tuple((panel["panel"], tuple(tuple(analyte) for analyte in panel["analytes"]))
                         for panel in clinical["lab_panel"]),
        imaging=tuple((i["exam"], i["normal"], i["abnormal"]) for i in clinical["imaging"]),
        doc_types={None if kind == "none" else kind: _weighted(table)
                   for kind, table in clinical["documents_of"].items()},
        page_ranges={kind: tuple(pages) for kind, pages in clinical["pages"].items()},
        forms={kind: (form["title"], form["text"]) for kind, form in clinical["forms"].items()},
        roster={},
    )
    t.roster.update(_build_roster(t, hospital["staff"]["other_services"]))
    return t


def _build_roster(t: _Tables, other_services: list[str]) -> dict[str, tuple[str, ...]]:
    """A fixed set of attendings per service, the same every run."""
    rng = random.Random("recdesk-staff-roster")
    services = [*t.inpatient_services.items, *t.outpatient_services.items, *t.surgical_services.items,
                *other_services]
    roster: dict[str, tuple[str, ...]] = {}
    for service in dict.fromkeys(services):
        doctors = []
        for _ in range(4):
            first, _middle, last = _pick_name(rng, "F" if rng.random() < 0.5 else "M", t)
            doctors.append(f"Dr. {first} {last}")
        roster[service] = tuple(doctors)
    return roster


def _pick_name(rng: random.Random, sex: str, t: _Tables | None = None) -> tuple[str, str, str]:
    """(first, middle, last): given names mostly share the surname's origin, as in real families."""
    t = t if t is not None else _tables()
    r = rng.random
    origin = t.origins.pick(rng)
    last = origin.last.pick(rng)
    if r() < 0.03:
        other = origin.last.pick(rng) if r() < 0.6 else t.origins.pick(rng).last.pick(rng)
        if other != last:
            last = f"{last}-{other}"
    given = origin if r() < 0.7 else t.anglo
    if sex == "F" or (sex == "U" and r() < 0.5):
        pool = given.female
    else:
        pool = given.male
    first = pool.pick(rng)
    middle = "" if r() < 0.3 else pool.pick(rng)
    return first, ("" if middle == first else middle), last


_MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
_MBI_ALNUM = "0123456789" + _MBI_LETTERS


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randrange(10**n)).zfill(n)


def _mbi(rng: random.Random) -> str:
    """A string shaped like a Medicare Beneficiary Identifier (CMS digit/letter layout)."""
    c = rng.choice
    return "".join(
        (
            c("123456789"), c(_MBI_LETTERS), c(_MBI_ALNUM), c("0123456789"),
            c(_MBI_LETTERS), c(_MBI_ALNUM), c("0123456789"), c(_MBI_LETTERS),
            c(_MBI_LETTERS), c("0123456789"), c("0123456789"),
        )
    )  # fmt: skip


def _policy(rng: random.Random, plan: _Plan) -> dict[str, str]:
    payer, prefix, digits, has_group = plan
    group = f"{rng.randrange(10000, 999999)}" if has_group else ""
    return {"payer": payer, "member_id": prefix + _digits(rng, digits), "group": group}


def _insurance(rng: random.Random, age: float) -> list[dict[str, str]]:
    t = _tables()
    r = rng.random()
    if age >= 65:
        if r < 0.04:
            return [_policy(rng, t.commercial.pick(rng))]
        plans = [{"payer": "Medicare", "member_id": _mbi(rng), "group": ""}]
        if rng.random() < 0.45:
            plans.append(_policy(rng, t.medigap.pick(rng)))
        return plans
    if age < 19:
        if r < 0.05:
            return []
        return [_policy(rng, t.medicaid if r < 0.48 else t.commercial.pick(rng))]
    if r < 0.11:
        return []
    if r < 0.29:
        return [_policy(rng, t.medicaid)]
    plans = [_policy(rng, t.commercial.pick(rng))]
    if rng.random() < 0.08:
        plans.append(_policy(rng, t.commercial.pick(rng)))
    return plans


def _address(rng: random.Random) -> tuple[dict[str, str], tuple[str, ...]]:
    """An address plus the area codes that go with it."""
    t = _tables()
    cities = t.local_cities if rng.random() < 0.9 else t.far_cities
    city, state, zip_prefix, area_codes = cities[int(rng.random() * len(cities))]
    street = (
        f"{rng.randrange(100, 9999)} {t.streets[int(rng.random() * len(t.streets))]} "
        f"{t.street_suffixes[int(rng.random() * len(t.street_suffixes))]}"
    )
    if rng.random() < 0.15:
        street += f" Apt {rng.randrange(1, 40)}{'ABCD'[int(rng.random() * 4)]}"
    zip_code = f"{zip_prefix}{rng.randrange(100):02d}"
    return {"street": street, "city": city, "state": state, "zip": zip_code}, area_codes


def _phone(rng: random.Random, area_codes: tuple[str, ...]) -> str:
    # 555-0100..0199 is reserved for fiction, so no real subscriber is ever shown.
    return f"({area_codes[int(rng.random() * len(area_codes))]}) 555-01{rng.randrange(100):02d}"


def _pick_from(rng: random.Random, items: Sequence[_T]) -> _T:
    return items[int(rng.random() * len(items))]


def _surgery_times(rng: random.Random, admit: datetime.datetime,
                   discharge: datetime.datetime) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """When a surgery encounter's operation began and ended: after an hour or more of pre-op, finished at least half
    an hour before discharge (a short visit is operated in its middle). Times after the desk's "now" are not recorded
    yet: an operation still under way has no end, one still to come no start."""
    start = admit + (60 + 15 * int(rng.random() * 7)) * _MINUTE  # 1 to 2.5 hours of pre-op
    length = (35 + int(rng.random() * 206)) * _MINUTE  # 35 minutes to 4 hours
    if start + length > discharge - 30 * _MINUTE:
        minutes = (discharge - admit) // _MINUTE
        start = admit + minutes // 4 * _MINUTE
        length = min(length, max(minutes // 2, 1) * _MINUTE)
    end = start + length
    return (start if start <= _NOW else None), (end if end <= _NOW else None)


def _encounter(rng: random.Random, dob_ord: int, last_ord: int, sex: str, stream: str) -> dict[str, Any]:
    """One encounter from the patient's stream `rng`; a surgery encounter's operating times come from a stream of
    their own (`stream`: the encounter's key) so that they change nothing else about the patient."""
    t = _tables()
    r = rng.random
    kind = t.encounter_types.pick(rng)
    # Most activity is recent (the last 8 years); the rest is spread over the whole lifetime.
    lo = dob_ord if r() < 0.2 else max(dob_ord, last_ord - 8 * 365)
    day = lo + int(r() * (last_ord - lo + 1))
    age = (day - dob_ord) / _YEAR_DAYS
    if kind == "ed":
        service = "Emergency Medicine"
        minute = int(r() * 1440)
    elif kind == "surgery":
        service = "Pediatric Surgery" if age < 16 else t.surgical_services.pick(rng)
        if service == "Gynecology" and sex != "F":
            service = "General Surgery"
        minute = 360 + 15 * int(r() * 37)
    elif kind == "inpatient":
        if age < 28 / 365:
            service = "Neonatology"
        elif age < 18:
            service = "Pediatrics"
        elif sex == "F" and 16 <= age <= 45 and r() < 0.3:
            service = "Obstetrics"
        else:
            service = t.inpatient_services.pick(rng)
        minute = int(r() * 1440)
    else:
        service = "Pediatrics" if age < 18 else t.outpatient_services.pick(rng)
        minute = 450 + 15 * int(r() * 37)
    midnight = datetime.datetime.fromordinal(day)
    admit = midnight + minute * _MINUTE
    # A visit on the desk's own day must have started by its "now" (noon).
    if admit > _NOW:
        admit -= 12 * 60 * _MINUTE
    if kind == "inpatient" or (kind == "surgery" and r() < 0.3):
        stay = 1 + int(r() * (14 if kind == "inpatient" else 5))
        discharge = admit.replace(hour=0, minute=0) + stay * _DAY + (600 + int(r() * 420)) * _MINUTE
    else:
        shortest, longest = t.visit_hours[kind]
        minutes = int((shortest + r() * (longest - shortest)) * 60)
        # Same-day visits that would run past midnight end at a random earlier time instead.
        left_today = int((midnight + _DAY - admit) / _MINUTE) - 1
        discharge = admit + (minutes if minutes <= left_today else int(r() * left_today)) * _MINUTE
    surgery_at = surgery_end_at = None
    if kind == "surgery":
        surgery_at, surgery_end_at = _surgery_times(random.Random(f"{stream}:surgery"), admit, discharge)
    return {
        "type": kind,
        "admit": admit,
        "discharge": None if discharge > _NOW else discharge,
        "service": service,
        "attending": _pick_from(rng, t.roster[service]),
        "surgery_at": surgery_at,
        "surgery_end_at": surgery_end_at,
    }


_APPOINTMENT_SLOTS = tuple(
    datetime.datetime.combine(day, datetime.time(8 + q // 4, 15 * (q % 4)))
    for day in (_TODAY + n * _DAY for n in range(1, 15))
    if day.weekday() < 5
    for q in range(35)
)


def _appointments(rng: random.Random, count: int, age: float) -> list[dict[str, Any]]:
    t = _tables()
    appointments = []
    for slot in sorted(rng.sample(range(len(_APPOINTMENT_SLOTS)), count)):
        service = "Pediatrics" if age < 18 else t.outpatient_services.pick(rng)
        appointments.append(
            {
                "clinic": f"{service} Clinic",
                "at": _APPOINTMENT_SLOTS[slot],
                "provider": _pick_from(rng, t.roster[service]),
            }
        )
    return appointments


@dataclass(frozen=True)
class SyntheticPatient:
    """One fictional person as registered at the demo desk."""

    mrn: str
    last: str
    first: str
    middle: str
    dob: datetime.date
    sex: str
    ssn_last4: str
    phone: str
    address: dict[str, str]
    insurance: list[dict[str, str]]
    sensitive: bool
    deceased: bool
    encounters: list[dict[str, Any]]
    appointments: list[dict[str, Any]]


def _patient_mrn(seed: int, index: int) -> str:
    if not 0 <= index < _MRN_SPAN:
        raise ValueError(f"index must be in [0, {_MRN_SPAN}), got {index}")
    return str(_MRN_BASE + (index * _MRN_STEP + seed * _SEED_SPREAD) % _MRN_SPAN)


def patient(seed: int, index: int) -> SyntheticPatient:
    """The index-th demo patient for a seed, for 0 <= index < 10**7.

    Each (seed, index) has its own random stream, so a patient never depends on which other
    indexes were generated and a build can resume at any index.
    """
    t = _tables()
    mrn = _patient_mrn(seed, index)
    rng = random.Random(f"{seed}:{index}")
    r = rng.random
    sex = "U" if r() < 0.01 else ("F" if r() < 0.51 else "M")
    lo_days, hi_days = t.age_bands.pick(rng)
    age_days = lo_days + int(r() * (hi_days - lo_days + 1))
    dob_ord = _TODAY_ORD - age_days
    age = age_days / _YEAR_DAYS
    first, middle, last = _pick_name(rng, sex)
    ssn_last4 = "" if r() < 0.05 else f"{rng.randrange(1, 10000):04d}"
    address, area_codes = _address(rng)
    # Mobile numbers often keep an old area code, so a fifth come from anywhere.
    phone = _phone(rng, area_codes if r() < 0.8 else _pick_from(rng, t.far_cities)[3])
    insurance = _insurance(rng, age)
    sensitive = r() < 0.01
    death_risk = 0.0 if age < 18 else 0.004 if age < 50 else 0.025 if age < 70 else 0.06
    deceased = r() < death_risk
    # A death happened sometime in the last 3 years; nothing can be recorded after it.
    last_ord = _TODAY_ORD - 15 - int(r() * 3 * 365) if deceased else _TODAY_ORD
    count = t.encounter_counts.pick(rng)
    encounters = [_encounter(rng, dob_ord, last_ord, sex, f"{seed}:{index}:{n}") for n in range(count)]
    encounters.sort(key=itemgetter("admit"))
    appointments = [] if deceased else _appointments(rng, t.appointment_counts.pick(rng), age)
    made = SyntheticPatient(
        mrn=mrn,
        last=last,
        first=first,
        middle=middle,
        dob=datetime.date.fromordinal(dob_ord),
        sex=sex,
        ssn_last4=ssn_last4,
        phone=phone,
        address=address,
        insurance=insurance,
        sensitive=sensitive,
        deceased=deceased,
        encounters=encounters,
        appointments=appointments,
    )
    role = RETENTION_SLOTS.get(index)
    return _past_retention(seed, index, made, role) if role else made


# Desk slots whose patients were last seen long ago, for the retention worklist: each with the part it plays
# (the builder adds the hold, request, deficiency, paper chart or mark). Dates count back from the desk's day.
RETENTION_SLOTS = {
    30: "due", 31: "due", 32: "minor_due", 33: "minor_kept", 34: "held", 35: "requested", 36: "deficient",
    37: "charged_out", 38: "missing", 39: "do_not_purge", 40: "disclosed",
}
# role -> (years before the desk's day of the last visit, age then, in years)
_RETENTION_SHAPES = {"minor_due": (23, 3), "minor_kept": (13, 3)}


def _past_retention(seed: int, index: int, p: SyntheticPatient, role: str) -> SyntheticPatient:
    """Patient `p` as last seen 12 to 16 years ago (a minor as a toddler), with nothing booked since."""
    rng = random.Random(f"{seed}:{index}:retention")
    years, age = _RETENTION_SHAPES.get(role, (12 + int(rng.random() * 5), 35 + int(rng.random() * 40)))
    last = _TODAY - int(years * _YEAR_DAYS + 30 + rng.random() * 200) * _DAY
    dob = last - int(age * _YEAR_DAYS + rng.random() * 300) * _DAY
    admit = datetime.datetime.combine(last, datetime.time(9, 30))
    service = "Pediatrics" if age < 18 else "Family Medicine"
    t = _tables()
    visit = {"type": "outpatient", "admit": admit, "discharge": admit + 40 * _MINUTE, "service": service,
             "attending": _pick_from(rng, t.roster[service]), "surgery_at": None, "surgery_end_at": None}
    return replace(p, dob=dob, deceased=False, sensitive=False, encounters=[visit], appointments=[])


def is_near_duplicate_index(seed: int, index: int) -> bool:
    """Whether desk slot `index` holds a duplicate registration (~0.5%); never slot 0 nor a retention slot."""
    if index in RETENTION_SLOTS or index == 0:
        return False
    return random.Random(f"{seed}:{index}:near-duplicate").random() < 0.005


# The blind index's letters that Unicode decomposition leaves whole ('ø', 'ł', 'ß'), with their capitals: the
# index folds lower-cased text, a second registration keeps a name's capitals.
_FOLD = {**FOLD_TABLE,
         **{ord(chr(c).upper()): plain.upper() for c, plain in FOLD_TABLE.items() if len(chr(c).upper()) == 1}}


def _fold(text: str) -> str:
    """Plain-ASCII spelling, as typed on a keyboard without accents ('Øvrebø' -> 'Ovrebo')."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _typo(rng: random.Random, name: str) -> str:
    """One keying error: adjacent letters swapped, a letter dropped, or a letter doubled."""
    # Only lowercase pairs, so a swap never moves a capital ('aGry', 'MCcarthy').
    swaps = [
        i
        for i in range(1, len(name) - 1)
        if name[i].islower() and name[i + 1].islower() and name[i] != name[i + 1]
    ]
    kind = rng.random()
    if swaps and kind < 0.4:
        i = _pick_from(rng, swaps)
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    # Registrars mistype letters, not the spaces, hyphens and apostrophes they look for.
    i = _pick_from(rng, [i for i in range(1, len(name)) if name[i].isalpha()] or [len(name) - 1])
    if len(name) >= 4 and kind < 0.7:
        return name[:i] + name[i + 1 :]
    return name[:i] + name[i] + name[i:]


_Variant = Callable[[random.Random], tuple[str, str, str]]


def _name_variants(first: str, middle: str, last: str) -> list[_Variant]:
    """The realistic ways a second registration could spell this (first, middle, last)."""
    t = _tables()
    variants: list[_Variant] = [
        lambda rng: (first, middle, _typo(rng, last)),
        lambda rng: (_typo(rng, first), middle, last),
    ]
    if not (first + middle + last).isascii():
        variants.append(lambda rng: (_fold(first), _fold(middle), _fold(last)))
    if first in t.nicknames:
        variants.append(lambda rng: (t.nicknames[first], middle, last))
    if middle and middle != first:
        variants.append(lambda rng: (middle, first, last))
    parts = last.split("-")
    if len(parts) == 2 and parts[0] not in t.name_particles:
        variants.append(lambda rng: (first, middle, _pick_from(rng, parts)))
    elif any(c in last for c in " '-"):
        squeezed = last.replace(" ", "").replace("'", "").replace("-", "")
        variants.append(lambda rng: (first, middle, squeezed[0].upper() + squeezed[1:]))
    return variants


def near_duplicate(seed: int, index: int, original: SyntheticPatient) -> SyntheticPatient:
    """A second registration of the same person as `original`, for desk slot `index` (< 10**8).

    It gets a 9-digit MRN starting with 9 (patient() MRNs have 8 digits, so they never collide),
    keeps dob, sex and ssn_last4, and spells the name differently in one realistic way: a typo,
    dropped accents, a nickname, first and middle swapped, one half of a hyphenated surname, or
    a surname with its spaces and apostrophes squeezed out.
    """
    if not 0 <= index < _DUP_MRN_SPAN:
        raise ValueError(f"index must be in [0, {_DUP_MRN_SPAN}), got {index}")
    mrn = str(_DUP_MRN_BASE + (index * _DUP_MRN_STEP + seed * _SEED_SPREAD) % _DUP_MRN_SPAN)
    rng = random.Random(f"{seed}:{index}:near-duplicate-of:{original.mrn}")
    variants = _name_variants(original.first, original.middle, original.last)
    first, middle, last = _pick_from(rng, variants)(rng)
    age = (_TODAY_ORD - original.dob.toordinal()) / _YEAR_DAYS
    # The duplicate was typically made at an ED or phone registration, so its own history is thin.
    address, area_codes = _address(rng) if rng.random() < 0.3 else (dict(original.address), ())
    phone = _phone(rng, area_codes) if area_codes else original.phone
    # A deceased original's death date is unknown here, so its duplicate gets no visits to misdate.
    has_visit = rng.random() < 0.7 and not original.deceased
    encounters = (
        [_encounter(rng, original.dob.toordinal(), _TODAY_ORD, original.sex, f"{seed}:{index}:near-duplicate:0")]
        if has_visit
        else []
    )
    return SyntheticPatient(
        mrn=mrn,
        last=last,
        first=first,
        middle=middle,
        dob=original.dob,
        sex=original.sex,
        ssn_last4=original.ssn_last4,
        phone=phone,
        address=address,
        insurance=[dict(plan) for plan in original.insurance] if rng.random() < 0.5 else [],
        sensitive=False,
        deceased=False,
        encounters=encounters,
        appointments=[] if original.deceased else _appointments(rng, int(rng.random() < 0.2), age),
    )


@dataclass(frozen=True)
class SyntheticDocument:
    """One scanned-style clinical document belonging to a synthetic patient."""

    doc_type: str
    service_date: datetime.date
    title: str
    pages: int
    body: list[str]


@dataclass(frozen=True, slots=True)
class _Context:
    """What the text templates say about one patient at one encounter."""

    name: str
    formal: str
    age: str
    noun: str
    they: str
    child: bool
    service: str
    attending: str
    start: datetime.date
    end: datetime.date


def _age_phrase(dob: datetime.date, on: datetime.date) -> tuple[str, int]:
    years = on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))
    if years >= 2:
        return f"{years}-year-old", years
    months = (on.year - dob.year) * 12 + on.month - dob.month - (on.day < dob.day)
    if months >= 1:
        return f"{months}-month-old", years
    return f"{(on - dob).days}-day-old", years


def _context(
    p: SyntheticPatient, service: str, attending: str, start: datetime.date, end: datetime.date
) -> _Context:
    age, years = _age_phrase(p.dob, start)
    child = years < 18
    noun, they, title = {
        "F": ("girl" if child else "woman", "she", "Ms."),
        "M": ("boy" if child else "man", "he", "Mr."),
    }.get(p.sex, ("patient", "they", "Mx."))
    formal = p.first if child else f"{title} {p.last}"
    return _Context(
        f"{p.first} {p.last}", formal, age, noun, they, child, service, attending, start, end
    )


def _problem(rng: random.Random, c: _Context, service: str = "") -> tuple[str, str, str]:
    t = _tables()
    service = service or c.service
    # Children get pediatric problems whichever adult-named service saw them.
    if c.child and service not in ("Neonatology", "Emergency Medicine"):
        service = "Pediatrics"
    return _pick_from(rng, t.problems.get(service, t.problems["Hospital Medicine"]))


def _history(rng: random.Random, c: _Context) -> str:
    t = _tables()
    if not c.child:
        return ", ".join(rng.sample(t.comorbidities, 1 + int(rng.random() * 3)))
    if rng.random() < 0.6:
        return "no significant past medical history"
    return _pick_from(rng, t.child_comorbidities)


def _medications(rng: random.Random, c: _Context) -> str:
    t = _tables()
    pool = t.child_medications if c.child else t.medications
    return "; ".join(rng.sample(pool, 1 + int(rng.random() * 4)))


def _vitals(rng: random.Random) -> str:
    return (
        f"Temperature {36.4 + rng.random() * 2:.1f} C, heart rate {rng.randrange(62, 112)}, "
        f"blood pressure {rng.randrange(102, 162)}/{rng.randrange(58, 96)}, respiratory rate "
        f"{rng.randrange(12, 23)}, oxygen saturation {rng.randrange(92, 101)}% on room air."
    )


def _discharge_summary(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    diagnosis, complaint, course = _problem(rng, c)
    disposition = _pick_from(rng, ("Home", "Home with home health", "Skilled nursing facility"))
    return "Discharge Summary", [
        f"ADMISSION DATE: {c.start:%m/%d/%Y}. DISCHARGE DATE: {c.end:%m/%d/%Y}. "
        f"SERVICE: {c.service}. ATTENDING: {c.attending}.",
        f"PRINCIPAL DIAGNOSIS: {diagnosis.capitalize()}.",
        f"HOSPITAL COURSE: {c.name} is a {c.age} {c.noun} with {_history(rng, c)} who presented "
        f"with {complaint}. {c.they.capitalize()} {course}. {c.they.capitalize()} improved "
        "steadily and at discharge was tolerating a regular diet.",
        f"DISCHARGE MEDICATIONS: {_medications(rng, c)}.",
        f"CONDITION AT DISCHARGE: Stable. DISPOSITION: {disposition}.",
        f"FOLLOW-UP: {c.service} clinic in {rng.randrange(1, 5)} weeks. Return precautions were "
        f"reviewed with {c.formal} and family, who verbalized understanding.",
    ]


def _history_and_physical(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    t = _tables()
    diagnosis, complaint, course = _problem(rng, c)
    household = _pick_from(rng, ("with family", "alone", "with a spouse"))
    smoking = _pick_from(rng, ("Never smoker.", "Former smoker.", "Current smoker."))
    return "History and Physical", [
        f"DATE OF ADMISSION: {c.start:%m/%d/%Y}. SERVICE: {c.service}. ATTENDING: {c.attending}.",
        f"CHIEF COMPLAINT: {complaint.capitalize()}.",
        f"HISTORY OF PRESENT ILLNESS: {c.name} is a {c.age} {c.noun} with {_history(rng, c)} "
        f"who reports {complaint}. Symptoms began {rng.randrange(1, 8)} days ago and have "
        "progressively worsened. There has been no recent travel or sick contact.",
        f"MEDICATIONS: {_medications(rng, c)}. ALLERGIES: {t.allergies.pick(rng)}",
        f"SOCIAL HISTORY: Lives {household}. {'' if c.child else smoking}",
        f"PHYSICAL EXAMINATION: {_vitals(rng)} General: alert and in no acute distress. Lungs: "
        "clear bilaterally. Heart: regular rate and rhythm without murmur. Abdomen: soft.",
        f"ASSESSMENT AND PLAN: Working diagnosis of {diagnosis}. The expected course is that "
        f"the patient {course.split(',')[0]}. Plan discussed with {c.formal}, who agrees.",
    ]


def _lab_result(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    t = _tables()
    panel, analytes = _pick_from(rng, t.lab_panels)
    verifier = _pick_from(rng, t.roster["Pathology"])
    lines = [
        f"COLLECTED: {c.start:%m/%d/%Y} {rng.randrange(5, 10):02d}:{15 * rng.randrange(4):02d}. "
        f"SPECIMEN: Venous blood. ORDERING PROVIDER: {c.attending}.",
    ]
    for name, unit, low, high, decimals in analytes:
        # Most results are normal; about one in six lands anywhere near the range, flagged.
        spread = rng.random() * 1.6 - 0.3 if rng.random() < 0.17 else rng.random()
        value = low + (high - low) * spread
        flag = " H" if value > high else " L" if value < low else ""
        lines.append(f"{name}: {value:.{decimals}f} {unit}{flag} (reference {low}-{high})")
    lines.append(f"Results reviewed and electronically verified by {verifier}.")
    return f"Laboratory Report: {panel}", lines


def _consult_report(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    t = _tables()
    consultant = t.outpatient_services.pick(rng)
    diagnosis, complaint, course = _problem(rng, c, consultant)
    doctor = _pick_from(rng, t.roster[consultant])
    return f"Consultation Report: {consultant}", [
        f"DATE OF CONSULTATION: {c.start:%m/%d/%Y}. REQUESTED BY: {c.attending} ({c.service}). "
        f"CONSULTANT: {doctor}.",
        f"REASON FOR CONSULTATION: Evaluation of {complaint}.",
        f"HISTORY: {c.name} is a {c.age} {c.noun} with {_history(rng, c)}. Current medications: "
        f"{_medications(rng, c)}. Allergies: {t.allergies.pick(rng)}",
        f"EXAMINATION: {_vitals(rng)} The examination is otherwise notable only for findings "
        "consistent with the presenting complaint.",
        f"IMPRESSION: {diagnosis.capitalize()}.",
        f"RECOMMENDATIONS: 1. The patient {course.split(',')[0]}. 2. Repeat laboratory studies "
        f"in the morning. 3. {consultant} will follow and arrange clinic follow-up. Thank you "
        "for this consultation.",
    ]


def _operative_report(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    t = _tables()
    procedure = _pick_from(rng, t.procedures.get(c.service, t.procedures["General Surgery"]))
    anesthesia = _pick_from(rng, ("General endotracheal", "Monitored anesthesia care", "Spinal"))
    return f"Operative Report: {procedure.capitalize()}", [
        f"DATE OF SURGERY: {c.start:%m/%d/%Y}. SURGEON: {c.attending}. ANESTHESIA: {anesthesia}.",
        f"PROCEDURE: {procedure.capitalize()}. PREOPERATIVE AND POSTOPERATIVE DIAGNOSIS: "
        f"Indication for {procedure}, confirmed at surgery.",
        f"INDICATIONS: {c.name} is a {c.age} {c.noun} with {_history(rng, c)} who elected to "
        "proceed after a discussion of risks, benefits and alternatives. Consent is on file.",
        "DESCRIPTION OF PROCEDURE: The patient was identified in the preoperative area and "
        "brought to the operating room. A time-out confirmed patient, procedure and site. The "
        f"field was prepped and draped in sterile fashion. The {procedure} was performed "
        "without difficulty. Hemostasis was confirmed and the wound was closed in layers.",
        "FINDINGS: As expected from preoperative imaging. ESTIMATED BLOOD LOSS: "
        f"{rng.randrange(5, 300)} mL. OPERATIVE TIME: {rng.randrange(35, 240)} minutes. "
        "SPECIMENS: Sent to pathology.",
        "COMPLICATIONS: None. DISPOSITION: To the post-anesthesia care unit in stable condition.",
    ]


def _radiology_report(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    t = _tables()
    exam, normal, abnormal = _pick_from(rng, t.imaging)
    is_normal = rng.random() < 0.6
    comparison = _pick_from(rng, ("None available.", "Prior study from last year."))
    return f"Radiology Report: {exam}", [
        f"EXAM: {exam}. DATE: {c.start:%m/%d/%Y}. ORDERING PROVIDER: {c.attending}.",
        f"CLINICAL INDICATION: {c.age.capitalize()} {c.noun} with {_problem(rng, c)[1]}.",
        f"TECHNIQUE: Standard departmental protocol. COMPARISON: {comparison}",
        f"FINDINGS: {normal if is_normal else abnormal}",
        f"IMPRESSION: {'No acute abnormality.' if is_normal else abnormal}",
        f"Electronically signed by {_pick_from(rng, t.roster['Radiology'])}.",
    ]


def _consent(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    t = _tables()
    procedure = _pick_from(rng, t.procedures.get(c.service, t.bedside_procedures))
    signer = "parent or legal guardian" if c.child else "patient"
    return f"Informed Consent: {procedure.capitalize()}", [
        f"I, the {signer} of {c.name}, consent to {procedure}, to be performed by {c.attending} "
        f"and associates on or about {c.start:%m/%d/%Y}.",
        "The nature and purpose of the procedure, its expected benefits, and its risks, including "
        "bleeding, infection, injury to nearby structures, and reactions to medication, have been "
        "explained to me. Alternatives, including no treatment, were discussed.",
        "I understand that no guarantee has been made about the outcome, and that additional "
        "procedures may be needed if unexpected conditions are found.",
        "I have had the opportunity to ask questions and all of my questions have been answered.",
        f"Signature of {signer}: ______________________   Date: ____________",
        f"Witness: ______________________   Interpreter used: {_pick_from(rng, ('No', 'Yes'))}",
    ]


def _correspondence(rng: random.Random, c: _Context) -> tuple[str, list[str]]:
    t = _tables()
    diagnosis, complaint, course = _problem(rng, c)
    signature = f"Sincerely, {c.attending}, {c.service}"
    if rng.random() < 0.5:
        return "Results Letter", [
            f"{c.end:%B %d, %Y}",
            f"Dear {c.formal},",
            f"Thank you for visiting {c.service} on {c.start:%m/%d/%Y}. Your recent test results "
            "have been reviewed and are enclosed with this letter.",
            f"Based on these results, we will continue your current plan for {diagnosis}. Please "
            "keep your scheduled follow-up appointment and call the clinic with any questions.",
            signature,
        ]
    return "Referral Letter", [
        f"{c.end:%B %d, %Y}",
        f"Dear {_pick_from(rng, t.roster['Family Medicine'])},",
        f"I saw your patient {c.name}, a {c.age} {c.noun}, on {c.start:%m/%d/%Y} for {complaint}.",
        f"My assessment is {diagnosis}. The patient {course.split(',')[0]}. Current medications: "
        f"{_medications(rng, c)}.",
        "I would be grateful if you would continue routine monitoring. Please do not hesitate to "
        "contact me with any questions.",
        signature,
    ]


_BUILDERS: dict[str, Callable[[random.Random, _Context], tuple[str, list[str]]]] = {
    "discharge_summary": _discharge_summary,
    "history_and_physical": _history_and_physical,
    "lab_result": _lab_result,
    "consult_report": _consult_report,
    "operative_report": _operative_report,
    "radiology_report": _radiology_report,
    "consent": _consent,
    "correspondence": _correspondence,
}


def _document(
    rng: random.Random, p: SyntheticPatient, encounter: dict[str, Any] | None, doc_type: str
) -> SyntheticDocument:
    t = _tables()
    if encounter is None:
        # Deceased patients' paperwork predates their death; everyone else's is recent.
        back = 3 * 365 + int(rng.random() * 365) if p.deceased else int(rng.random() * 120)
        start = end = max(p.dob, _TODAY - back * _DAY)
        service = "Pediatrics" if (_TODAY - p.dob).days < 18 * 365 else "Family Medicine"
        attending = _pick_from(rng, t.roster[service])
    else:
        start = encounter["admit"].date()
        end = (encounter["discharge"] or encounter["admit"]).date()
        service, attending = encounter["service"], encounter["attending"]
    if doc_type == "correspondence":
        end = min(_TODAY, end + int(rng.random() * 8) * _DAY)
    title, sections = _BUILDERS[doc_type](rng, _context(p, service, attending, start, end))
    low, high = t.page_ranges[doc_type]
    pages = low + int(rng.random() * (high - low + 1))
    name = f"{p.last.upper()}, {p.first}{' ' + p.middle if p.middle else ''}"
    body = [
        f"PATIENT: {name}    MRN: {p.mrn}    DOB: {p.dob:%m/%d/%Y}    SEX: {p.sex}",
        "SYNTHETIC DEMONSTRATION RECORD - fictional patient, not for clinical use.",
        *sections,
    ]
    # Multi-page documents carry interval notes so that every page has text on it.
    heading = "PROGRESS NOTE" if doc_type == "discharge_summary" else "ADDITIONAL NOTE"
    for k in range(1, 5 * pages - len(body) + 1):
        body.append(f"{heading} {k}: " + " ".join(rng.sample(t.filler, 3)))
    service_date = end if doc_type in ("discharge_summary", "correspondence") else start
    return SyntheticDocument(doc_type, service_date, title, pages, body)


def documents(seed: int, index: int, p: SyntheticPatient) -> list[SyntheticDocument]:
    """1-3 documents for patient `p` at desk slot `index`, from recent encounters, by date."""
    t = _tables()
    rng = random.Random(f"{seed}:{index}:documents")
    recent: list[dict[str, Any] | None] = [*p.encounters[-3:]] or [None]
    made: set[tuple[int, str]] = set()
    docs = []
    for _ in range(t.document_counts.pick(rng)):
        slot = int(rng.random() * len(recent))
        encounter = recent[slot]
        doc_type = t.doc_types[encounter and encounter["type"]].pick(rng)
        if doc_type == "discharge_summary" and encounter and encounter["discharge"] is None:
            doc_type = "history_and_physical"  # still in house, so not discharged yet
        if (slot, doc_type) not in made:
            made.add((slot, doc_type))
            docs.append(_document(rng, p, encounter, doc_type))
    docs.sort(key=lambda d: d.service_date)
    return docs


# US Letter in millimetres; body text wraps between the margins and stops above the footer.
_PAGE_WIDTH, _MARGIN = 215.9, 16.0
_BODY_TOP, _BODY_BOTTOM = 47.0, 264.0
_BODY_PT, _LINE_MM, _GAP_MM = 10.0, 4.6, 2.2
_PT_MM = 25.4 / 72


def _wrap(text: str, widths: dict[str, int], limit_mm: float) -> list[str]:
    """Greedy word wrap on core-font metrics: fpdf2's multi_cell is ~20x slower at this."""
    scale = _BODY_PT * _PT_MM / 1000
    space = widths[" "] * scale
    lines: list[str] = []
    words: list[str] = []
    width = 0.0
    for word in text.split():
        word_width = sum(widths[ch] for ch in word) * scale
        if words and width + space + word_width > limit_mm:
            lines.append(" ".join(words))
            words, width = [word], word_width
        else:
            width += space + word_width if words else word_width
            words.append(word)
    lines.append(" ".join(words))
    return lines


def render_pdf(
    doc: SyntheticDocument, p: SyntheticPatient, facility: str = "Riverside General Hospital"
) -> bytes:
    """The document as a PDF of exactly doc.pages pages, each headed by facility, patient and page.

    fpdf2 bundles no Unicode font, so this uses core Helvetica and folds text outside latin-1 to
    its base letters ('Nguyễn' -> 'Nguyen'). Raises ValueError if the body cannot fit the pages.
    """
    # fpdf2 takes ~0.3 s to import and only rendering needs it.
    from fpdf import FPDF
    from fpdf.fonts import CORE_FONTS_CHARWIDTHS

    widths = CORE_FONTS_CHARWIDTHS["helvetica"]
    right = _PAGE_WIDTH - _MARGIN
    paragraphs = [_wrap(latin1(text), widths, right - _MARGIN) for text in doc.body]
    # Balance pages by line count: each paragraph goes to the page holding its midpoint.
    total = sum(len(lines) for lines in paragraphs) or 1
    per_page: list[list[list[str]]] = [[] for _ in range(doc.pages)]
    before = 0
    for lines in paragraphs:
        page = int((before + len(lines) / 2) * doc.pages / total)
        per_page[min(doc.pages - 1, page)].append(lines)
        before += len(lines)
    for number, chunk in enumerate(per_page, 1):
        height = sum(len(lines) * _LINE_MM + _GAP_MM for lines in chunk) - _GAP_MM
        if _BODY_TOP + height - _LINE_MM > _BODY_BOTTOM:
            raise ValueError(f"{doc.title!r}: body overflows page {number} of {doc.pages}")

    pdf = FPDF(unit="mm", format="letter")
    pdf.set_auto_page_break(False)
    pdf.set_title(latin1(doc.title))
    pdf.set_creator("recdesk synthetic demo data")
    # A fixed creation date makes the bytes, and fpdf2's content-hash file ID, reproducible.
    created = datetime.datetime.combine(doc.service_date, datetime.time(17), datetime.UTC)
    pdf.set_creation_date(created)
    name = latin1(f"{p.last.upper()}, {p.first}{' ' + p.middle if p.middle else ''}")
    patient_line = f"Patient: {name}   MRN: {p.mrn}   DOB: {p.dob:%m/%d/%Y}   Sex: {p.sex}"
    service_line = f"Date of service: {doc.service_date:%m/%d/%Y}"
    footer = "Synthetic demonstration document generated by recdesk - not a real patient record."
    for number, chunk in enumerate(per_page, 1):
        pdf.add_page()
        pdf.set_font("helvetica", "B", 13)
        pdf.text(_MARGIN, 17, latin1(facility))
        pdf.set_font("helvetica", "", 9)
        page_line = f"Page {number} of {doc.pages}"
        pdf.text(right - pdf.get_string_width(page_line), 17, page_line)
        pdf.text(_MARGIN, 30.5, patient_line)
        pdf.text(_MARGIN, 35.5, service_line)
        pdf.set_font("helvetica", "B", 11)
        pdf.text(_MARGIN, 24, latin1(doc.title))
        if p.sensitive:
            pdf.set_font("helvetica", "B", 9)
            pdf.set_text_color(170, 0, 0)
            pdf.text(right - pdf.get_string_width("RESTRICTED RECORD"), 35.5, "RESTRICTED RECORD")
            pdf.set_text_color(0)
        pdf.line(_MARGIN, 38, right, 38)
        pdf.set_font("helvetica", "", _BODY_PT)
        y = _BODY_TOP
        for lines in chunk:
            for line in lines:
                pdf.text(_MARGIN, y, line)
                y += _LINE_MM
            y += _GAP_MM
        pdf.set_font("helvetica", "I", 7.5)
        pdf.set_text_color(110)
        pdf.text(_MARGIN, 272, footer)
        pdf.set_text_color(0)
    return bytes(pdf.output())


# --- chart assembly work ---------------------------------------------------------------------------------------------
# Encounters dated relative to the day the demo runs (not the fixed _TODAY above), so that a demo desk always has
# tomorrow's admissions to assemble and recent discharges to analyse.

_SIGNED = "Signed: ______________________   Date: ____________   Time: ________"


def _form(rng: random.Random, p: SyntheticPatient, doc_type: str, day: datetime.date, service: str,
          attending: str) -> SyntheticDocument:
    """A one-page registration or consent form, or a clinical document from the existing builders."""
    t = _tables()
    if doc_type in t.forms:
        title, text = t.forms[doc_type]
        sections, pages = [f"SERVICE: {service}. ATTENDING: {attending}. DATE: {day:%m/%d/%Y}.", text, _SIGNED], 1
    else:
        title, sections = _BUILDERS[doc_type](rng, _context(p, service, attending, day, day))
        low, high = t.page_ranges[doc_type]
        pages = low + int(rng.random() * (high - low + 1))
    name = f"{p.last.upper()}, {p.first}{' ' + p.middle if p.middle else ''}"
    body = [f"PATIENT: {name}    MRN: {p.mrn}    DOB: {p.dob:%m/%d/%Y}    SEX: {p.sex}",
            "SYNTHETIC DEMONSTRATION RECORD - fictional patient, not for clinical use.", *sections]
    for k in range(1, 5 * pages - len(body) + 1):
        body.append(f"ADDITIONAL NOTE {k}: " + " ".join(rng.sample(t.filler, 3)))
    return SyntheticDocument(doc_type, day, title, pages, body)


def assembly_candidates(seed: int, patients: int) -> list[int]:
    """Desk slots whose patients suit assembly work: living, not restricted, not a duplicate registration."""
    out = []
    for index in range(min(patients, 400)):
        if is_near_duplicate_index(seed, index) or is_near_duplicate_index(seed, index + 1) or index in RETENTION_SLOTS:
            continue
        p = patient(seed, index)
        if not p.deceased and not p.sensitive and (_TODAY - p.dob).days >= 18 * 365:
            out.append(index)
    return out


def scheduled_visit(seed: int, index: int, p: SyntheticPatient, day: datetime.date, slot: int,
                    kind: str) -> tuple[dict[str, Any], list[SyntheticDocument]]:
    """An encounter booked for `day` — an inpatient admission or a clinic visit — and the paperwork filed ahead of
    it (dated `day` - 1 or earlier): some of the registration forms, sometimes a pre-admission H&P."""
    t = _tables()
    rng = random.Random(f"{seed}:{index}:scheduled:{day.isoformat()}:{kind}")
    inpatient = kind == "inpatient"
    service = (t.inpatient_services if inpatient else t.outpatient_services).pick(rng)
    attending = _pick_from(rng, t.roster[service])
    minute = (6 * 60 + 30 + 40 * slot) if inpatient else (8 * 60 + 30 * slot)
    admit = datetime.datetime.combine(day, datetime.time.min) + minute * _MINUTE
    before = day - _DAY
    wanted = (["face_sheet", "consent", "financial_responsibility", "npp_acknowledgment", "history_and_physical"]
              if inpatient else ["face_sheet", "consent", "npp_acknowledgment"])
    docs = []
    for doc_type in wanted:
        if rng.random() < (0.45 if doc_type == "history_and_physical" else 0.6):
            when = before - int(rng.random() * 6) * _DAY if doc_type == "history_and_physical" else before
            docs.append(_form(rng, p, doc_type, when, service, attending))
    encounter = {"type": kind, "admit": admit, "discharge": None, "service": service, "attending": attending,
                 "surgery_at": None, "surgery_end_at": None}
    return encounter, docs


# The inpatient checklist item (data/checklists.toml) each document of a recent stay serves; the IM's is its
# admission copy, the one a stay without any is first missing.
STAY_ITEMS = {"face_sheet": "face_sheet", "consent": "consent_to_treat", "npp_acknowledgment": "npp_acknowledgment",
              "history_and_physical": "history_and_physical", "financial_responsibility": "financial_responsibility",
              "patient_rights_notice": "patient_rights_notice", "advance_directive": "advance_directive",
              "discharge_summary": "discharge_summary", "important_message_medicare": "im_admission"}


def recent_stay(seed: int, index: int, p: SyntheticPatient, today: datetime.date,
                days_ago: int) -> tuple[dict[str, Any], list[SyntheticDocument], list[tuple[str, str, str]]]:
    """An inpatient stay discharged `days_ago` days before `today` with some checklist documents filed, dated
    inside their windows, and some missing; plus the deficiencies the analyst opened for it, as
    (kind, filed document type it concerns or "", checklist item it marks). The stay has no surgery."""
    t = _tables()
    rng = random.Random(f"{seed}:{index}:stay:{days_ago}")
    service = t.inpatient_services.pick(rng)
    attending = _pick_from(rng, t.roster[service])
    discharge_day = today - days_ago * _DAY
    admit = datetime.datetime.combine(discharge_day - (2 + int(rng.random() * 5)) * _DAY,
                                      datetime.time(int(rng.random() * 24), 15))
    discharge = datetime.datetime.combine(discharge_day, datetime.time(10 + int(rng.random() * 7), 30))
    medicare = any(i.get("payer") == "Medicare" for i in p.insurance)
    plan = [("face_sheet", 0.95), ("consent", 0.9), ("npp_acknowledgment", 0.8), ("history_and_physical", 0.8),
            ("financial_responsibility", 0.7), ("patient_rights_notice", 0.6), ("advance_directive", 0.5),
            ("discharge_summary", 0.55 if days_ago < 30 else 0.15)]  # the old ones are the delinquent ones
    if medicare:
        plan.append(("important_message_medicare", 0.85))
    docs, deficiencies = [], []
    for doc_type, odds in plan:
        if rng.random() >= odds:
            if doc_type == "discharge_summary":
                deficiencies.append(("missing_discharge_summary", "", STAY_ITEMS[doc_type]))
            elif doc_type == "history_and_physical":
                deficiencies.append(("missing_hp", "", STAY_ITEMS[doc_type]))
            elif rng.random() < 0.3:
                deficiencies.append(("missing_document", "", STAY_ITEMS[doc_type]))
            continue
        day = discharge_day if doc_type == "discharge_summary" else admit.date()
        docs.append(_form(rng, p, doc_type, day, service, attending))
        if doc_type == "important_message_medicare" and discharge_day > admit.date() + _DAY:
            docs.append(_form(rng, p, doc_type, discharge_day - _DAY, service, attending))  # the follow-up copy
    if any(d.doc_type == "history_and_physical" for d in docs) and rng.random() < 0.3:
        deficiencies.append(("missing_signature", "history_and_physical", STAY_ITEMS["history_and_physical"]))
    encounter = {"type": "inpatient", "admit": admit, "discharge": discharge, "service": service,
                 "attending": attending, "surgery_at": None, "surgery_end_at": None}
    return encounter, docs, list(dict.fromkeys(deficiencies))  # one deficiency of a kind per item
