"""Patient search over the blind indexes: one prompt that takes a name, MRN, DOB, SSN last 4, S1234 or phone."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

from recdesk.display import cleaned
from recdesk.errors import DeskError
from recdesk.patients.registry import PatientDetails, decrypt
from recdesk.vault import audit
from recdesk.vault.blindindex import (
    INDEX_VERSION,
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

    def as_row(self) -> dict:
        """The row the CLI prints and the JSON contract names."""
        p = self.patient
        return {
            "mrn": p.mrn, "last": p.last, "first": p.first, "middle": p.middle,
            "dob": p.dob.isoformat() if p.dob else None, "sex": p.sex, "ssn_last4": p.ssn_last4,
            "flags": p.flags,
        }


@dataclass(frozen=True)
class Step:
    """One way to read the query: which index terms give candidates and how a true match is recognised."""

    match: str
    terms: list[Term]
    accept: Callable[[PatientDetails], bool]
    whole_name: str = ""  # the typed last name: a patient whose whole last name it is sorts first


def parse_date(text: str) -> datetime.date | None:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%m%d%Y", "%m/%d/%y"):
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


MAX_QUERY = 80


def clean(query: str) -> str:
    """What a clerk meant to type: control characters (pasted or from a bad terminal) removed."""
    return cleaned(query)


def plan(query: str, index_version: int = INDEX_VERSION) -> list[Step]:
    """The readings of a query, most exact first (using the index kinds the desk's tokens have)."""
    q = clean(query)
    if not q:
        raise DeskError("type a name (smith,jo), an MRN, a DOB, SSN last 4, S1234 or a phone number")
    if len(q) > MAX_QUERY:
        raise DeskError(f"a search is at most {MAX_QUERY} characters: type a name, MRN, DOB or number")
    steps: list[Step] = []
    date = parse_date(q)
    if date:
        iso = date.isoformat()
        steps.append(Step("exact", [Term("dob", iso)], lambda p, d=date: p.dob == d))
    if re.fullmatch(r"[A-Za-z]\d{4}", q):
        initial, last4 = q[0].lower(), q[1:]
        steps.append(Step("exact", [Term("initial_ssn4", initial + last4)],
                          lambda p: p.ssn_last4 == last4 and name_key(p.last)[:1] == initial))
        return steps
    if re.fullmatch(r"[\d\s()+.\-]+", q):
        number = digits(q)
        if len(number) == 4:
            steps.append(Step("exact", [Term("ssn4", number)], lambda p: p.ssn_last4 == number))
        if len(number) >= 3 and number == q.replace(" ", ""):
            key = mrn_key(number)
            steps.append(Step("exact", [Term("mrn", key)], lambda p: mrn_key(p.mrn) == key))
        if len(number) >= 7:
            tail = number[-10:]
            steps.append(Step("exact", [Term("phone", tail)], lambda p: digits(p.phone)[-10:] == tail))
        return steps
    if date:
        return steps
    last_text, _, first_text = q.partition(",")
    last, first = name_key(last_text), name_key(first_text)
    if len(last) < MIN_PREFIX and not first:
        raise DeskError("type at least two letters of the last name (or last,first)")
    if not last:
        raise DeskError("type the last name before the comma: smith,jo")

    def first_ok(p: PatientDetails) -> bool:
        return not first or name_key(p.first).startswith(first)

    def last_exact(p: PatientDetails) -> bool:
        return last in name_parts(p.last)

    if first:
        steps.append(Step("exact", [Term("last_first", f"{last}|{first[:12]}")],
                          lambda p: last_exact(p) and first_ok(p), last))
    else:
        steps.append(Step("exact", [Term("last", last)], last_exact, last))
    if len(last) >= MIN_PREFIX:
        prefix_term = (Term("last_prefix_first", f"{last[:12]}|{first[0]}") if first and index_version >= 2
                       else Term("last_prefix", last[:12]))
        steps.append(Step("prefix", [prefix_term],
                          lambda p: any(part.startswith(last) for part in name_parts(p.last)) and first_ok(p), last))
    code = soundex(last)
    if first:
        phonetic_terms = [Term("last_phonetic", f"{code}|{first[0]}")]
    else:
        phonetic_terms = [Term("last_phonetic", f"{code}|{c}") for c in "abcdefghijklmnopqrstuvwxyz"]
    steps.append(Step("phonetic", phonetic_terms,
                      lambda p: any(soundex(part) == code for part in name_parts(p.last)) and first_ok(p)))
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


def search(desk, actor, query: str, limit: int = 50, *, complete: bool = False) -> list[Hit]:
    """Find patients and audit what was shown."""
    hits = find(desk, query, limit, complete=complete)
    audit_view(desk, actor, query, hits)
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
