"""Patient search over the blind indexes: one prompt that takes a name, MRN, DOB, SSN last 4, S1234 or phone."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

from recdesk import clock
from recdesk.display import cleaned
from recdesk.errors import DeskError
from recdesk.patients.registry import PatientDetails, decrypt
from recdesk.retention import register
from recdesk.retention.register import Destroyed
from recdesk.vault import audit
from recdesk.vault.blindindex import (
    INDEX_VERSION,
    LOCAL_PHONE,
    MIN_PREFIX,
    Term,
    digits,
    fold,
    mrn_key,
    name_key,
    name_parts,
    soundex,
)
from recdesk.vault.models import Patient, PatientToken

MATCH_ORDER = ("exact", "prefix", "phonetic")


@dataclass(frozen=True)
class Hit:
    patient: PatientDetails
    match: str  # exact | prefix | phonetic
    destroyed: Destroyed | None = None  # a record destroyed by a purge: its register entry (nothing opens)

    def as_row(self) -> dict:
        """The row the CLI prints and the JSON contract names (a destroyed record adds `destroyed`)."""
        p = self.patient
        row = {
            "mrn": p.mrn, "last": p.last, "first": p.first, "middle": p.middle,
            "dob": p.dob.isoformat() if p.dob else None, "sex": p.sex, "ssn_last4": p.ssn_last4,
            "flags": p.flags,
        }
        if self.destroyed is not None:
            row["destroyed"] = {"on": self.destroyed.destroyed_on.isoformat(),
                                "certificate": self.destroyed.certificate_no}
        return row

    @property
    def destroyed_label(self) -> str:
        """'DESTROYED 2026-12-01 CD-2026-0001' for a destroyed record, else ''."""
        d = self.destroyed
        return f"DESTROYED {d.destroyed_on.isoformat()} {d.certificate_no}" if d is not None else ""

    @property
    def destroyed_line(self) -> str:
        """What Enter on a destroyed record says, in one line (it opens nothing)."""
        d = self.destroyed
        if d is None:
            return ""
        return (f"MRN {self.patient.mrn} ({self.patient.display_name}) was destroyed on {d.destroyed_on.isoformat()} "
                f"under certificate {d.certificate_no}: nothing is left to open")


@dataclass(frozen=True)
class Step:
    """One way to read the query: which index terms give candidates and how a true match is recognised."""

    match: str
    terms: list[Term]
    accept: Callable[[PatientDetails], bool]
    whole_name: str = ""  # the typed last name: a patient whose whole last name it is sorts first


MONTHS = {name: n for n, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
    ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
    ("dec", "december")), start=1) for name in names}
_MONTH = r"([A-Za-z]{3,9})\.?"
_NUMERIC_DATES = (  # (pattern, order of the groups): each is read as a date, or refused as "not a date"
    (re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})"), "ymd"),       # 1936-02-16  1936/02/16
    (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})"), "mdy"),       # 02/16/1936  2/16/36
    (re.compile(r"(\d{1,2})-(\d{1,2})-(\d{4})"), "mdy"),              # 02-16-1936
)
_WORD_DATES = (
    (re.compile(_MONTH + r"[\s-]+(\d{1,2})(?:st|nd|rd|th)?,?[\s-]+(\d{4}|\d{2})"), "Mdy"),  # Feb 16, 1936
    (re.compile(r"(\d{1,2})[\s-]+" + _MONTH + r",?[\s-]+(\d{4}|\d{2})"), "dMy"),  # 16-Feb-36
)
EARLIEST_BIRTH_YEAR = 1850  # eight bare digits are read as a date of birth from this year on
DATE_FORMATS = "month/day/year (2/16/1936), year-month-day (1936-02-16) or Feb 16 1936"


def _full_year(text: str, month: int, day: int, today: datetime.date) -> int:
    """A four-digit year as typed; a two-digit year is the latest year ending so whose date is not after today
    (a date of birth is never in the future: on 2026-03-01, 2/16/36 is 1936 and 2/16/26 is 2026)."""
    if len(text) == 4:
        return int(text)
    year = today.year - today.year % 100 + int(text)
    later = (year, month, day) > (today.year, today.month, today.day)  # compared as numbers: 2/29 of any year
    return year - 100 if later else year


def parse_date(text: str, today: datetime.date | None = None) -> datetime.date | None:
    """The date of birth a query spells, or None when it spells none.

    Accepted: 1936-02-16, 1936/02/16, 02/16/1936, 2/16/36, 02-16-1936, 02161936 (MMDDYYYY), 19360216,
    Feb 16 1936, February 16, 1936 and 16 Feb 1936. A query in one of the date shapes that is no real day
    (13/45/2025, Feb 30 1936) or lies after today raises a DeskError saying what to type. Bare digits are a
    date only when they make a real past day (otherwise they are an MRN or a phone number, never refused),
    and dashes with a two-digit year (12-34-56) are left to be a number: a terminal-digit MRN is written so.
    """
    text = " ".join(text.split())
    today = today or clock.today()
    parts: tuple[str, str, str] | None = None
    for pattern, order in _NUMERIC_DATES + _WORD_DATES:
        m = pattern.fullmatch(text)
        if m:
            named = dict(zip(order.lower(), m.groups(), strict=True))
            parts = (named["y"], named["m"], named["d"])
            break
    if parts is None:
        if re.fullmatch(r"\d{8}", text):  # 02161936 or 19360216, or else an MRN or phone
            for y, mo, d in ((text[4:], text[:2], text[2:4]), (text[:4], text[4:6], text[6:])):
                try:
                    date = datetime.date(int(y), int(mo), int(d))
                except ValueError:
                    continue
                if EARLIEST_BIRTH_YEAR <= date.year and date <= today:  # one reading at most: MM is 01-12
                    return date
        return None
    year_text, month_text, day_text = parts
    if month_text.isdigit():
        month = int(month_text)
    else:
        month = MONTHS.get(month_text.lower())
        if month is None:
            raise DeskError(f"{text} is not a date: no month is called {month_text!r}; type {DATE_FORMATS}")
    day = int(day_text)
    try:
        date = datetime.date(_full_year(year_text, month, day, today) if 1 <= month <= 12 else 1, month, day)
    except ValueError:
        raise DeskError(f"{text} is not a date: type {DATE_FORMATS}") from None
    if date > today:
        raise DeskError(f"{text} is after today, and a date of birth never is: type {DATE_FORMATS}")
    return date


def plural(n: int, one: str, many: str | None = None, *, more: bool = False) -> str:
    """'1 match', '2 matches', '40+ matches' (more: there may be others not fetched yet)."""
    word = one if n == 1 and not more else (many or one + "s")
    return f"{n:,}{'+' if more else ''} {word}"


def summary(hits: list[Hit], *, exhausted: bool = True, guess_mark: str = "~") -> str:
    """How many matches a search shows, in words; sound-alike (phonetic) hits are said to be guesses.

    "1 match", "40+ matches", "2 matches and 3 sound-alike guesses (~)", "no exact match; 12 sound-alike
    guesses (~)". `exhausted=False` adds the + of a list that fetches more as the clerk scrolls.
    """
    guesses = sum(h.match == "phonetic" for h in hits)
    found = len(hits) - guesses
    more = not exhausted
    if not hits:
        return "no match"
    if not guesses:
        return plural(found, "match", "matches", more=more)
    said = f"{plural(guesses, 'sound-alike guess', 'sound-alike guesses', more=more)} ({guess_mark})"
    return f"no exact match; {said}" if not found else f"{plural(found, 'match', 'matches')} and {said}"


MAX_QUERY = 80


def clean(query: str) -> str:
    """What a clerk meant to type: control characters (pasted or from a bad terminal) removed."""
    return cleaned(query)


WHAT_TO_TYPE = "type a name (smith,jo), an MRN, a DOB, SSN last 4, S1234 or a phone number"


def plan(query: str, index_version: int = INDEX_VERSION, today: datetime.date | None = None) -> list[Step]:
    """The readings of a query, most exact first (using the index kinds the desk's tokens have)."""
    q = clean(query)
    if not q:
        raise DeskError(WHAT_TO_TYPE)
    if len(q) > MAX_QUERY:
        raise DeskError(f"a search is at most {MAX_QUERY} characters: type a name, MRN, DOB or number")
    steps: list[Step] = []
    date = parse_date(q, today)  # a date-shaped query that is no date of birth is refused here, in one line
    if date:
        iso = date.isoformat()
        steps.append(Step("exact", [Term("dob", iso)], lambda p, d=date: p.dob == d))
    if re.fullmatch(r"[A-Za-z]\d{4}", q):
        initial, last4 = q[0].lower(), q[1:]
        steps.append(Step("exact", [Term("initial_ssn4", initial + last4)],
                          lambda p: p.ssn_last4 == last4 and name_key(p.last)[:1] == initial))
        return steps
    if date and not q.isdigit():
        return steps  # 02-16-1936 or Feb 16 1936: only a date (bare digits may be an MRN or phone too)
    if re.fullmatch(r"[\d\s()+.\-]+", q):
        return steps + _number_steps(q, index_version)
    if re.fullmatch(r"[\d/]*/[\d/]*", q):  # 2/16/193 or 12/34: a date begun, not finished
        raise DeskError(f"{q} is not a date: type {DATE_FORMATS}")
    if not re.search(r"[^\W\d_]", q):  # no letter: a name cannot be meant
        raise DeskError(f"nothing to search for in {q!r}: {WHAT_TO_TYPE}")
    for reading in _name_readings(q):
        for step in _name_steps(*reading, index_version=index_version):
            steps.append(step)
    order = {m: i for i, m in enumerate(MATCH_ORDER)}
    return sorted(steps, key=lambda step: order[step.match])  # stable: each reading's exact before any prefix


def _number_steps(q: str, index_version: int) -> list[Step]:
    """A query of digits (spaces, dashes, brackets): SSN last 4, MRN, a whole phone number or its local 7."""
    steps: list[Step] = []
    number = digits(q)
    if len(number) == 4:
        steps.append(Step("exact", [Term("ssn4", number)], lambda p: p.ssn_last4 == number))
    if len(number) >= 3 and number == q.replace(" ", ""):
        key = mrn_key(number)
        steps.append(Step("exact", [Term("mrn", key)], lambda p: mrn_key(p.mrn) == key))
    if len(number) == LOCAL_PHONE:
        # 555-0164: the number without its area code. A desk whose tokens predate the phone_local kind finds
        # only phones stored as 7 digits until `recdesk reindex` adds it.
        kind = "phone_local" if index_version >= 3 else "phone"
        steps.append(Step("exact", [Term(kind, number)], lambda p: digits(p.phone)[-LOCAL_PHONE:] == number))
    elif len(number) > LOCAL_PHONE:
        tail = number[-10:]
        steps.append(Step("exact", [Term("phone", tail)], lambda p: digits(p.phone)[-10:] == tail))
    return steps


def _name_readings(q: str) -> list[tuple[str, str, str, bool]]:
    """(last, first, middle, phonetic) keys a name query may mean.

    `smith,john a` and `smith john a` are last, first and middle initial: a space between words means last
    first, like the comma. Without a comma the words may also be one last name (`de la cruz`, `van dyke`):
    that whole-name reading is searched too, exactly and by prefix but not by sound, after the last-first
    reading's exact step.
    """
    if "," in q:
        last_text, _, rest = q.partition(",")
        if not name_key(last_text):
            raise DeskError("type the last name before the comma: smith,jo")
        words = [name_key(w) for w in rest.split() if name_key(w)]
        return [(name_key(last_text), words[0] if words else "", "".join(words[1:]), True)]
    words = [name_key(w) for w in q.split() if name_key(w)]
    whole = "".join(words)
    if len(words) < 2:
        if len(whole) < MIN_PREFIX:
            raise DeskError("type at least two letters of the last name (or last,first)")
        return [(whole, "", "", True)]
    readings = [(words[0], words[1], "".join(words[2:]), True)] if len(words) <= 3 else []
    return readings + [(whole, "", "", not readings)]


def _name_steps(last: str, first: str, middle: str, phonetic: bool, *, index_version: int) -> list[Step]:
    if len(last) < MIN_PREFIX and not first:
        raise DeskError("type at least two letters of the last name (or last,first)")

    def first_ok(p: PatientDetails) -> bool:
        return not first or name_key(p.first).startswith(first)

    # The middle name narrows only where it is known. A typed middle (initial) finds patients whose middle
    # name starts with it, or whose first name on file runs on into it (`smith,mary ann` finds first name
    # "Mary Ann"); those sort first. A patient with no middle name on file is still found, in a step after
    # them: many registrations never took the middle name, and hiding the right chart because a clerk typed
    # the initial from a form is worse than one more row to check. Only a different middle name on file
    # excludes.
    def middle_fits(p: PatientDetails) -> bool:
        return (not middle or name_key(p.middle).startswith(middle)
                or name_key(p.first).startswith(first + middle))

    def middle_unknown(p: PatientDetails) -> bool:
        return not name_key(p.middle)

    def middle_ok(p: PatientDetails) -> bool:
        return middle_fits(p) or middle_unknown(p)

    def last_exact(p: PatientDetails) -> bool:
        return last in name_parts(p.last)

    steps: list[Step] = []
    exact_terms = [Term("last_first", f"{last}|{first[:12]}")] if first else [Term("last", last)]
    steps.append(Step("exact", exact_terms, lambda p: last_exact(p) and first_ok(p) and middle_fits(p), last))
    if middle:
        steps.append(Step("exact", exact_terms, lambda p: last_exact(p) and first_ok(p) and middle_unknown(p),
                          last))
    if len(last) >= MIN_PREFIX:
        prefix_term = (Term("last_prefix_first", f"{last[:12]}|{first[0]}") if first and index_version >= 2
                       else Term("last_prefix", last[:12]))
        steps.append(Step("prefix", [prefix_term],
                          lambda p: any(part.startswith(last) for part in name_parts(p.last)) and first_ok(p)
                          and middle_ok(p), last))
    if not phonetic:
        return steps
    code = soundex(last)
    if first:
        phonetic_terms = [Term("last_phonetic", f"{code}|{first[0]}")]
    else:
        phonetic_terms = [Term("last_phonetic", f"{code}|{c}") for c in "abcdefghijklmnopqrstuvwxyz"]
    steps.append(Step("phonetic", phonetic_terms,
                      lambda p: any(soundex(part) == code for part in name_parts(p.last)) and first_ok(p)
                      and middle_ok(p)))
    return steps


def _candidates(desk, terms: list[Term], after: int, limit: int) -> list[int]:
    keys = [desk.blind.token(t) for t in terms]
    cond = None
    for kind, token in keys:
        c = (PatientToken.kind == kind) & (PatientToken.token == token)
        cond = c if cond is None else (cond | c)
    query = (PatientToken.select(PatientToken.patient).where(cond & (PatientToken.patient > after))
             .order_by(PatientToken.patient).limit(limit).distinct())
    return [row.patient_id for row in query]


CANDIDATE_BUDGET = 160  # candidates decrypted per page at most: about 20 ms on a 2-core machine


class SearchResults:
    """The matches for one query, fetched a page at a time in rank order (exact, prefix, phonetic).

    Candidates come from the blind index in patient-id order; each page is decrypted, false positives
    are dropped, and the page is sorted by name and DOB. A list that shows only what is on screen asks
    for the next page when the clerk scrolls to it.
    """

    def __init__(self, desk, query: str) -> None:
        self.desk = desk
        self.query = query
        self.steps = plan(query, desk.index_version)
        self.hits: list[Hit] = []
        self._step = 0
        self._after = 0
        self._seen: set[int] = set()

    @property
    def exhausted(self) -> bool:
        return self._step >= len(self.steps)

    def more(self, n: int, budget: int = CANDIDATE_BUDGET) -> list[Hit]:
        """Up to n more hits, appended to self.hits.

        At most `budget` candidates are decrypted per call, so a broad query (`smith,j` on a big desk,
        where most prefix candidates fail the first-name test) answers in milliseconds with what it
        has found; the rest comes when the clerk scrolls (exhausted stays False until then).
        """
        found: list[Hit] = []
        examined = 0
        while len(found) < n and not self.exhausted and examined < budget:
            step = self.steps[self._step]
            want = min(max(2 * (n - len(found)), 40), budget - examined)
            ids = _candidates(self.desk, step.terms, self._after, want)
            if not ids:
                self._step, self._after = self._step + 1, 0
                continue
            self._after = ids[-1]
            fresh = [i for i in ids if i not in self._seen]
            examined += len(fresh)
            page: list[Hit] = []
            if fresh:
                for row in Patient.select().where(Patient.id.in_(fresh) & (Patient.status == "active")):
                    details = decrypt(self.desk, row)
                    if step.accept(details):
                        page.append(Hit(details, step.match))
                        self._seen.add(row.id)
            page.sort(key=lambda h: (not name_key(h.patient.last).startswith(step.whole_name),
                                     fold(h.patient.last), fold(h.patient.first), h.patient.dob or datetime.date.min))
            found += page
        self.hits += found
        return found


def find(desk, query: str, limit: int = 50, *, complete: bool = False) -> list[Hit]:
    """The first page of matches for a query, best first (up to `limit`); false positives are dropped.

    complete=True keeps going past the per-page budget until `limit` hits or none are left.
    """
    if limit < 1:
        raise DeskError("--limit must be at least 1")
    results = SearchResults(desk, query)
    results.more(limit)
    while complete and len(results.hits) < limit and not results.exhausted:
        results.more(limit - len(results.hits))
    return results.hits[:limit]


def audit_view(desk, actor, query: str, hits: list[Hit]) -> None:
    """Record that these patients were shown to the actor (the query itself is PHI, so it is encrypted)."""
    with desk.audit_db.atomic():
        audit.append(desk, actor, "patient.search", object="patients",
                     details={"query": query, "results": len(hits), "patients": [h.patient.uuid for h in hits]})


def is_mrn(query: str) -> bool:
    """Whether the query is an MRN and nothing else (digits only, at least 3)."""
    q = clean(query)
    return len(q) >= 3 and q.isascii() and q.isdigit()


def destroyed_hit(desk, actor, query: str) -> Hit | None:
    """For an exact MRN that no live patient has: the destruction register's entry as a hit marked destroyed, or
    None. The look-up is audited (register.find)."""
    if not is_mrn(query):
        return None
    entry = register.find(desk, actor, clean(query))
    if entry is None:
        return None
    stub = Patient.select(Patient.id).where(Patient.uuid == entry.patient_uuid).scalar() or 0
    return Hit(PatientDetails(mrn=entry.mrn, last=entry.last, first=entry.first, middle=entry.middle, dob=entry.dob,
                              uuid=entry.patient_uuid, id=stub), "exact", entry)


def search(desk, actor, query: str, limit: int = 50, *, complete: bool = False) -> list[Hit]:
    """Find patients and audit what was shown; an MRN no live patient has is looked up in the destruction
    register (a purged record shows as destroyed, and opens nothing)."""
    hits = find(desk, query, limit, complete=complete)
    audit_view(desk, actor, query, hits)
    if not hits:
        hit = destroyed_hit(desk, actor, query)
        if hit is not None:
            return [hit]
    return hits


@dataclass(frozen=True)
class IdentityWarning:
    """Two or more results that could be the same person registered twice, or two people easily confused."""

    message: str
    patient_ids: frozenset[int]


def identity_warnings(hits: list[Hit]) -> list[IdentityWarning]:
    """Results that share last name and SSN last 4, or whole name and DOB: the clerk must look twice."""
    groups: dict[tuple, list[Hit]] = {}
    for hit in hits:
        p = hit.patient
        if p.ssn_last4:
            groups.setdefault(("last4", name_key(p.last), p.ssn_last4), []).append(hit)
        if p.dob:
            groups.setdefault(("dob", name_key(p.last), name_key(p.first), p.dob), []).append(hit)
    warnings = []
    for key, group in groups.items():
        if len(group) < 2:
            continue
        p = group[0].patient
        what = (f"last name and SSN last 4 ({p.last.upper()} …{p.ssn_last4})" if key[0] == "last4"
                else f"name and DOB ({p.display_name}, {p.dob.isoformat()})")
        warnings.append(IdentityWarning(f"{len(group)} results share {what}: check MRNs before opening",
                                frozenset(h.patient.id for h in group)))
    return warnings


def age(dob: datetime.date | None, as_of: datetime.date | None = None) -> int | None:
    if dob is None:
        return None
    as_of = as_of or datetime.date.today()
    return as_of.year - dob.year - ((as_of.month, as_of.day) < (dob.month, dob.day))


NO_MATCH_HINT = "try last,first (smith,jo), an MRN, a DOB (1962-03-04), last 4 (1234), S1234 or a phone number"
