"""Patient search over the blind indexes: one prompt that takes a name, MRN, DOB, SSN last 4, S1234 or phone."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

from recdesk import audit
from recdesk.blindindex import MIN_PREFIX, Term, digits, fold, mrn_key, name_key, name_parts, soundex
from recdesk.errors import DeskError
from recdesk.models import Patient, PatientToken
from recdesk.patients import PatientDetails, decrypt

MATCH_ORDER = ("exact", "prefix", "phonetic")
_CANDIDATE_PAGE = 200


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


def _parse_date(text: str) -> datetime.date | None:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%m%d%Y", "%m/%d/%y"):
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def plan(query: str) -> list[Step]:
    """The readings of a query, most exact first."""
    q = query.strip()
    if not q:
        raise DeskError("type a name (smith,jo), an MRN, a DOB, SSN last 4, S1234 or a phone number")
    steps: list[Step] = []
    date = _parse_date(q)
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
        steps.append(Step("prefix", [Term("last_prefix", last[:12])],
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


def find(desk, query: str, limit: int = 50) -> list[Hit]:
    """Matches for a query, exact first, then prefix, then phonetic; false positives dropped after decryption."""
    if limit < 1:
        raise DeskError("--limit must be at least 1")
    hits: dict[int, Hit] = {}
    for step in plan(query):
        found: list[Hit] = []
        after = 0
        while len(hits) + len(found) < limit:
            ids = _candidates(desk, step.terms, after, _CANDIDATE_PAGE)
            if not ids:
                break
            after = ids[-1]
            fresh = [i for i in ids if i not in hits]
            rows = Patient.select().where(Patient.id.in_(fresh) & (Patient.status == "active")) if fresh else []
            for row in rows:
                details = decrypt(desk, row)
                if step.accept(details):
                    found.append(Hit(details, step.match))
        found.sort(key=lambda h: (not name_key(h.patient.last).startswith(step.whole_name), fold(h.patient.last),
                                  fold(h.patient.first), h.patient.dob or datetime.date.min))
        for hit in found:
            if len(hits) >= limit:
                break
            hits.setdefault(hit.patient.id, hit)
    return list(hits.values())


def search(desk, actor, query: str, limit: int = 50) -> list[Hit]:
    """Find patients and audit the search (the query itself is PHI, so it is kept encrypted)."""
    hits = find(desk, query, limit)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "patient.search", object="patients",
                     details={"query": query, "results": len(hits), "patients": [h.patient.uuid for h in hits]})
    return hits
