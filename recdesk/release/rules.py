"""The release-of-information validator: one request and its authorization in, a verdict with RULES.md IDs out.

One function, `check`, serves the request-log screen, `recdesk roi check`, `recdesk roi import` and the packet
builder. It reads no database: what it needs comes in the request (the JSON form documented in the README).
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import asdict, dataclass, field
from pathlib import Path

from recdesk import reference
from recdesk.errors import DeskError
from recdesk.shapes import Choice, Day, Flag, Items, Record, Text, known_keys_only

REQUESTER_TYPES = (
    "patient", "personal_representative", "provider", "health_plan", "insurer", "employer", "attorney", "court",
    "law_enforcement", "public_health", "government_oversight", "researcher", "other",
)
PURPOSES = (
    "individual_access", "treatment", "payment", "operations", "legal", "underwriting", "employment", "research",
    "public_health", "oversight", "required_by_law", "other",
    "accounting",  # a request for an accounting of disclosures (D3); not in the JSON contract's list, accepted
)
CATEGORIES = ("psychotherapy_notes", "sud_part2", "hiv", "mental_health", "genetic", "reproductive")
LEGAL_TYPES = ("court_order", "tribunal_order", "subpoena_no_order", "discovery", "grand_jury", "admin_request")
ASSURANCES = ("notice", "protective_order")
DELIVERIES = ("paper", "electronic", "portal")

# Document tags (documents.sensitive_tags) -> the request's category names.
TAG_CATEGORY = {"psychotherapy": "psychotherapy_notes", "part2": "sud_part2", "hiv": "hiv",
                "mental_health": "mental_health", "genetic": "genetic", "reproductive": "reproductive"}

# Bases a disclosure can rest on, and what follows from each (A0, D1, M1).
#   accountable: appears in the patient's accounting (164.528(a)(1) exempts TPO, the individual, authorizations)
#   minimum_necessary: 164.502(b)(2) exempts treatment, the individual, authorizations, required by law
BASES = {
    "individual": {"accountable": False, "minimum_necessary": False, "label": "the individual's right of access"},
    "treatment": {"accountable": False, "minimum_necessary": False, "label": "treatment (164.506)"},
    "payment_operations": {"accountable": False, "minimum_necessary": True, "label": "payment or operations (164.506)"},
    "authorization": {"accountable": False, "minimum_necessary": False, "label": "the patient's authorization"},
    "court_order": {"accountable": True, "minimum_necessary": False, "label": "a court or tribunal order (164.512(e))"},
    "legal_assurance": {"accountable": True, "minimum_necessary": True,
                        "label": "a subpoena with satisfactory assurance (164.512(e)(1)(ii))"},
    "law_enforcement": {"accountable": True, "minimum_necessary": True, "label": "law enforcement (164.512(f))"},
    "required_by_law": {"accountable": True, "minimum_necessary": False, "label": "required by law (164.512(a))"},
    "public_health": {"accountable": True, "minimum_necessary": True, "label": "public health (164.512(b))"},
    "oversight": {"accountable": True, "minimum_necessary": True, "label": "health oversight (164.512(d))"},
    "research_waiver": {"accountable": True, "minimum_necessary": True,
                        "label": "research under an IRB/privacy board waiver (164.512(i))"},
    "none": {"accountable": False, "minimum_necessary": True, "label": "no basis"},
}


@dataclass
class Problem:
    code: str
    field: str
    message: str


@dataclass
class Verdict:
    releasable: bool
    problems: list[Problem]
    warnings: list[Problem]
    authorization_required: bool
    accountable: bool
    minimum_necessary: bool
    due: datetime.date
    basis: str = "none"
    extended: bool = False

    def as_json(self) -> dict:
        """The `roi check` contract's output."""
        return {
            "releasable": self.releasable,
            "problems": [asdict(p) for p in self.problems],
            "warnings": [asdict(w) for w in self.warnings],
            "authorization_required": self.authorization_required,
            "accountable": self.accountable,
            "minimum_necessary": self.minimum_necessary,
            "due": self.due.isoformat(),
        }

    def codes(self) -> list[str]:
        return [p.code for p in self.problems]


# --- reading the request ----------------------------------------------------------------------------


NAME, LONG_TEXT, CODE = 200, 2000, 64  # a person's or firm's name; free text; a code or an id
# The `roi check` contract (README): every field, its type and its bounds. `roi import` adds its own fields.
AUTHORIZATION = Record(fields={
    "description": Text(LONG_TEXT, lines=True),
    "discloser": Text(NAME),
    "recipient": Text(NAME),
    "purposes": Items(Text(500), most=20),
    "expiration": Record(fields={"date": Day(), "event": Text(500), "occurred": Flag(), "none": Flag()}),
    "is_research": Flag(),
    "signed_on": Day(),
    "signature": Text(NAME),
    "signer": Choice(("patient", "representative"), default="patient"),
    "representative_authority": Text(LONG_TEXT, lines=True),
    "statements": Record(fields={k: Flag() for k in ("revocation", "conditioning", "redisclosure",
                                                     "remuneration")}, defaults=True),
    "categories": Items(Choice(CATEGORIES), most=len(CATEGORIES)),
    "combined_with_other": Flag(),
    "conditioned": Flag(),
    "revoked_on": Day(),
    "part2_consent": Flag(),
})
REQUEST = Record(required=True, fields={
    "received": Day(required=True),
    "requester_type": Choice(REQUESTER_TYPES, default="other"),
    "requester_name": Text(NAME),
    "purpose": Choice(PURPOSES, default="other"),
    "scope": Record(defaults=True, fields={
        "from": Day(), "to": Day(), "doc_types": Items(Text(CODE)),
        "categories": Items(Choice(CATEGORIES), most=len(CATEGORIES))}),
    "legal_process": Record(fields={
        "type": Text(CODE), "assurance": Choice(ASSURANCES), "criminal": Flag(), "case": Text(500),
        "case_number": Text(CODE), "dated": Day()}),
    "third_party": Record(fields={"recipient": Text(NAME), "destination": Text(500, lines=True),
                                  "written": Flag(), "signed": Flag()}),
    "extension_notice_sent": Day(),
    "irb_waiver": Flag(),
    "state": Text(2, pattern="[A-Za-z]{2}", hint="a two-letter state code such as CA"),
})
CONTRACT = Record(required=True, fields={"as_of": Day(required=True), "request": REQUEST,
                                         "authorization": AUTHORIZATION})


@dataclass
class Expiration:
    date: datetime.date | None = None
    event: str = ""
    occurred: bool = False
    none: bool = False
    malformed: bool = False


@dataclass
class Authorization:
    description: str = ""
    discloser: str = ""
    recipient: str = ""
    purposes: list[str] = field(default_factory=list)
    expiration: Expiration | None = None
    is_research: bool = False
    signed_on: datetime.date | None = None
    signature: str = ""
    signer: str = "patient"
    representative_authority: str = ""
    statements: dict[str, bool] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    combined_with_other: bool = False
    conditioned: bool = False
    revoked_on: datetime.date | None = None
    part2_consent: bool = False


@dataclass
class Request:
    received: datetime.date
    requester_type: str
    requester_name: str
    purpose: str
    scope_from: datetime.date | None = None
    scope_to: datetime.date | None = None
    doc_types: list[str] | None = None
    categories: list[str] = field(default_factory=list)
    legal_type: str | None = None
    assurance: str | None = None
    third_party: dict | None = None
    extension_notice_sent: datetime.date | None = None
    irb_waiver: bool = False
    state: str = ""
    criminal: bool = False
    case: str = ""  # the legal process's case, number and date, as the certification names them (L5)
    case_number: str = ""
    dated: datetime.date | None = None


def authorization_from(a: dict | None) -> Authorization | None:
    """An authorization already read by AUTHORIZATION -> the validator's view of it."""
    if a is None:
        return None
    expiration = None
    if a["expiration"] is not None:
        exp = a["expiration"]
        kinds = [k for k in ("date", "event", "none") if exp[k]]
        if len(kinds) != 1:
            expiration = Expiration(malformed=True)
        elif kinds[0] == "date":
            expiration = Expiration(date=exp["date"])
        elif kinds[0] == "event":
            expiration = Expiration(event=exp["event"], occurred=exp["occurred"])
        else:
            expiration = Expiration(none=True)
    return Authorization(
        description=a["description"], discloser=a["discloser"], recipient=a["recipient"],
        purposes=[p for p in a["purposes"] if p], expiration=expiration, is_research=a["is_research"],
        signed_on=a["signed_on"], signature=a["signature"], signer=a["signer"],
        representative_authority=a["representative_authority"], statements=a["statements"],
        categories=a["categories"], combined_with_other=a["combined_with_other"], conditioned=a["conditioned"],
        revoked_on=a["revoked_on"], part2_consent=a["part2_consent"],
    )


def request_from(r: dict) -> Request:
    """A request already read by REQUEST -> the validator's view of it."""
    scope, legal = r["scope"], r["legal_process"]
    return Request(
        received=r["received"], requester_type=r["requester_type"], requester_name=r["requester_name"],
        purpose=r["purpose"], scope_from=scope["from"], scope_to=scope["to"], doc_types=scope["doc_types"],
        categories=scope["categories"], legal_type=None if legal is None else legal["type"],
        assurance=None if legal is None else legal["assurance"], third_party=r["third_party"],
        extension_notice_sent=r["extension_notice_sent"], irb_waiver=r["irb_waiver"], state=r["state"].upper(),
        criminal=False if legal is None else legal["criminal"],
        case="" if legal is None else legal["case"], case_number="" if legal is None else legal["case_number"],
        dated=None if legal is None else legal["dated"],
    )


def read_authorization(raw, path: str = "authorization") -> Authorization | None:
    """The contract's authorization object (or null); InputError names the first field that cannot be read."""
    return authorization_from(AUTHORIZATION.read(raw, path))


def read_request(raw) -> Request:
    """The contract's request object; InputError names the first field that cannot be read."""
    return request_from(REQUEST.read(raw, "request"))


def read(document) -> tuple[datetime.date, Request, Authorization | None]:
    """The contract's JSON object -> (as_of, request, authorization); InputError names what cannot be read."""
    doc = CONTRACT.read(document, "")
    return doc["as_of"], request_from(doc["request"]), authorization_from(doc["authorization"])


# --- clocks -------------------------------------------------------------------------------------------


def clocks(home: Path | None = None, state: str = "") -> dict:
    """The federal clock and fee numbers with a state's stricter ones laid over them (R5)."""
    return dict(_rules(home, state))


@functools.lru_cache(maxsize=16)
def _rules(home: Path | None, state: str) -> dict:
    # Read once per desk and state: the request form checks on every keystroke.
    data = reference.load("roi_rules", home)
    merged = dict(data.get("federal", {}))
    if state:
        states = data.get("state", {})
        if state not in states:
            raise DeskError(f"no release rules for state {state!r} in roi_rules.toml: add a [state.{state}] section")
        merged.update(states[state])
    return merged


@dataclass(frozen=True)
class Due:
    due: datetime.date
    extended: bool
    problem: Problem | None = None


def due_date(req: Request, numbers: dict) -> Due:
    """R1 (access), D3 (accounting), L5 (California subpoena) and the desk's own clock for everything else."""
    if req.purpose == "accounting":
        days, extra, code = numbers["accounting_days"], numbers["accounting_extension_days"], "D3"
    elif req.purpose == "individual_access" and req.requester_type in ("patient", "personal_representative"):
        days, extra, code = numbers["access_days"], numbers["access_extension_days"], "R1"
    elif req.legal_type in ("subpoena_no_order", "discovery") and "subpoena_civil_days" in numbers:
        key = "subpoena_criminal_days" if req.criminal else "subpoena_civil_days"
        return Due(req.received + datetime.timedelta(days=numbers[key]), False)
    else:
        return Due(req.received + datetime.timedelta(days=numbers["other_days"]), False)
    first = req.received + datetime.timedelta(days=days)
    sent = req.extension_notice_sent
    if sent is None:
        return Due(first, False)
    if not extra:
        return Due(first, False, Problem(code, "request.extension_notice_sent",
                                         f"state law allows no extension here: the request stays due "
                                         f"{first.isoformat()}"))
    if sent < req.received or sent > first:
        return Due(first, False, Problem(code, "request.extension_notice_sent",
                                         f"the extension notice went out on {sent.isoformat()}, outside the first "
                                         f"{days} days: it does not extend the deadline, which stays "
                                         f"{first.isoformat()}"))
    # One extension only, counted from the original deadline (164.524(b)(2)(ii), 164.528(c)(2)).
    return Due(first + datetime.timedelta(days=extra), True)


# --- the verdict ---------------------------------------------------------------------------------------


def _basis(req: Request, auth: Authorization | None) -> tuple[str, list[Problem]]:
    """What the disclosure may rest on without an authorization; 'authorization' when it needs one."""
    notes: list[Problem] = []
    who, why = req.requester_type, req.purpose
    if who in ("patient", "personal_representative"):
        return "individual", notes  # the right of access does not depend on what the records are for
    if req.legal_type is not None:
        legal = req.legal_type
        if legal not in LEGAL_TYPES:
            notes.append(Problem("L1", "request.legal_process.type",
                                 f"legal process type {legal!r} is not one of {', '.join(LEGAL_TYPES)}: "
                                 "record what the document is"))
            return "authorization", notes
        if legal in ("court_order", "tribunal_order"):
            return "court_order", notes
        if legal in ("subpoena_no_order", "discovery"):
            if req.assurance:
                return "legal_assurance", notes
            if auth is None:
                notes.append(Problem("L3", "request.legal_process.assurance",
                                     "a subpoena without a court order needs satisfactory assurance (notice to the "
                                     "patient or a qualified protective order) or the patient's authorization: "
                                     "hold it and ask the requester"))
            return "authorization", notes
        return ("required_by_law" if legal == "grand_jury" else "law_enforcement"), notes
    if why == "treatment" and who == "provider":
        return "treatment", notes
    if why in ("payment", "operations") and who in ("provider", "health_plan"):
        return "payment_operations", notes
    if why == "public_health" and who in ("public_health", "government_oversight"):
        return "public_health", notes
    if why == "oversight" and who == "government_oversight":
        return "oversight", notes
    if why == "required_by_law" and who in ("court", "government_oversight", "law_enforcement", "public_health"):
        return "required_by_law", notes
    if why == "research" and req.irb_waiver:
        return "research_waiver", notes
    return "authorization", notes


def _expiration_problems(auth: Authorization, as_of: datetime.date, out: list[Problem]) -> None:
    exp = auth.expiration
    where = "authorization.expiration"
    if exp is None:
        return  # A1 names it as missing
    if exp.malformed:
        out.append(Problem("A2", where, "the expiration must be one date or one event, not both or neither: "
                                        "correct the authorization"))
    elif exp.date is not None:
        if exp.date <= as_of:
            out.append(Problem("A2", where, f"the authorization expired on {exp.date.isoformat()}: "
                                            "ask the patient for a new one"))
        elif auth.signed_on and exp.date < auth.signed_on:
            out.append(Problem("A2", where, "the expiration date is before the signature date: "
                                            "the authorization is defective"))
    elif exp.none:
        if not auth.is_research:
            out.append(Problem("A2", where, "'no expiration' is allowed only for research: "
                                            "ask for an authorization with an expiration date or event"))
    elif exp.event:
        if "research" in exp.event.casefold() and not auth.is_research:
            out.append(Problem("A2", where, "'end of the research study' is an expiration only for research: "
                                            "ask for a date or an event about the patient or purpose"))
        if exp.occurred:
            out.append(Problem("A2", where, f"the expiration event ({exp.event}) has occurred: "
                                            "the authorization is no longer valid"))
    else:
        out.append(Problem("A2", where, "the expiration event is blank: correct the authorization"))


def check_authorization(auth: Authorization, req: Request, as_of: datetime.date,
                        problems: list[Problem], warnings: list[Problem]) -> None:
    """164.508 element by element (A1–A7); each defect names the field a clerk must have fixed."""
    required = (("description", "a description of the information"), ("discloser", "who may disclose"),
                ("recipient", "who receives it"), ("signature", "the signature"))
    for name, words in required:
        if not getattr(auth, name):
            problems.append(Problem("A1", f"authorization.{name}",
                                    f"the authorization is missing {words}: it must be completed before release"))
    if not auth.purposes:
        problems.append(Problem("A1", "authorization.purposes",
                                "the authorization states no purpose: 'at the request of the individual' will do "
                                "when the patient initiates"))
    if auth.expiration is None:
        problems.append(Problem("A1", "authorization.expiration",
                                "the authorization has no expiration date or event: it must be completed"))
    if auth.signed_on is None:
        problems.append(Problem("A1", "authorization.signed_on", "the authorization is not dated: it must be dated"))
    if "any and all" in auth.description.casefold():
        warnings.append(Problem("A1", "authorization.description",
                                "'any and all records' is not a specific description: confirm with the patient"))
    _expiration_problems(auth, as_of, problems)
    signed = auth.signed_on
    if signed is not None:
        if signed > as_of:
            problems.append(Problem("A3", "authorization.signed_on",
                                    f"the authorization is dated in the future ({signed.isoformat()}): check the date"))
        elif signed > req.received:
            problems.append(Problem("A3", "authorization.signed_on",
                                    f"the authorization is dated {signed.isoformat()}, after the request was "
                                    f"received ({req.received.isoformat()}): check both dates"))
    if auth.signer == "representative" and not auth.representative_authority:
        problems.append(Problem("A4", "authorization.representative_authority",
                                "a representative signed without describing their authority: ask for it and "
                                "proof (guardianship, power of attorney, executor)"))
    names = {"revocation": "of the right to revoke in writing",
             "conditioning": "that treatment is not conditioned on signing",
             "redisclosure": "that the recipient may redisclose"}
    for key, words in names.items():
        if not auth.statements.get(key):
            problems.append(Problem("A5", f"authorization.statements.{key}",
                                    f"the authorization lacks the statement {words}: use a compliant form"))
    if any(w in " ".join(auth.purposes).casefold() for w in ("marketing", "sale")) \
            and not auth.statements.get("remuneration"):
        problems.append(Problem("A5", "authorization.statements.remuneration",
                                "marketing or sale of PHI: the authorization must state that remuneration is "
                                "involved (164.508(a)(3)-(4))"))
    if auth.revoked_on is not None:
        if auth.revoked_on <= as_of:
            problems.append(Problem("A6", "authorization.revoked_on",
                                    f"the patient revoked this authorization on {auth.revoked_on.isoformat()}: "
                                    "do not release under it"))
        else:
            warnings.append(Problem("A6", "authorization.revoked_on",
                                    f"revocation takes effect {auth.revoked_on.isoformat()}"))
    if "psychotherapy_notes" in auth.categories and len(set(auth.categories)) > 1:
        problems.append(Problem("A7", "authorization.categories",
                                "a psychotherapy-notes authorization covers psychotherapy notes only: the other "
                                "records need an authorization of their own"))
    if auth.combined_with_other and "psychotherapy_notes" in auth.categories:
        problems.append(Problem("A7", "authorization.combined_with_other",
                                "a psychotherapy-notes authorization may be combined only with another for "
                                "psychotherapy notes: ask for a separate authorization"))
    if auth.combined_with_other and auth.conditioned and not auth.is_research:
        problems.append(Problem("A7", "authorization.conditioned",
                                "a compound authorization may not include a conditioned part: ask for separate "
                                "authorizations"))
    if auth.conditioned and not _conditioning_allowed(auth, req):
        problems.append(Problem("A7", "authorization.conditioned",
                                "care or enrollment may not be conditioned on this authorization (164.508(b)(4)): "
                                "it is defective"))
    if auth.purposes and not _purpose_covered(auth, req):
        warnings.append(Problem("A8", "authorization.purposes",
                                f"the authorization's purposes ({'; '.join(auth.purposes)}) may not cover "
                                f"'{req.purpose}': confirm before release"))
    if auth.recipient and req.requester_name and not _same_party(auth.recipient, req.requester_name):
        warnings.append(Problem("A8", "authorization.recipient",
                                f"the authorization names '{auth.recipient}' as recipient, the request comes from "
                                f"'{req.requester_name}': release only to the named recipient"))


def _conditioning_allowed(auth: Authorization, req: Request) -> bool:
    if "psychotherapy_notes" in auth.categories:
        return False
    if auth.is_research:
        return True  # research-related treatment
    if req.requester_type == "health_plan":
        return True  # enrollment or eligibility
    return req.purpose == "employment"  # care solely to create PHI for a third party (pre-employment exam)


def _purpose_covered(auth: Authorization, req: Request) -> bool:
    text = " ".join(auth.purposes).casefold()
    if "request of the" in text:  # "at the request of the individual/patient"
        return True
    words = {req.purpose, req.purpose.replace("_", " ")}
    if req.purpose == "legal":
        words |= {"litigation", "legal", "attorney", "lawsuit", "claim"}
    if req.purpose == "employment":
        words |= {"employ"}
    if req.purpose == "underwriting":
        words |= {"insurance", "underwrit"}
    return any(w in text for w in words)


def _same_party(a: str, b: str) -> bool:
    a, b = a.casefold(), b.casefold()
    return a in b or b in a


def _category_problems(req: Request, auth: Authorization | None, basis: str, as_of: datetime.date,
                       problems: list[Problem], warnings: list[Problem]) -> bool:
    """Specially protected information (A9, S1–S3, L4); True when a category itself needs an authorization."""
    needs = False
    named = set(auth.categories) if auth else set()
    cats = set(req.categories)
    if "psychotherapy_notes" in cats and "psychotherapy_notes" not in named:
        if basis == "individual":
            # Not a reason to hold the patient's request: the notes are withheld (each one is flagged and cannot
            # go into the packet) and everything else is released (164.524(d)(2)).
            warnings.append(Problem("A9", "request.scope.categories",
                                    "psychotherapy notes are excluded from the right of access (164.524(a)(1)): "
                                    "they stay out of the packet; release the rest and say so in the letter"))
        else:
            needs = True
            if basis in ("required_by_law", "oversight", "court_order"):
                message = ("psychotherapy notes go out without an authorization only under a 164.508(a)(2) "
                           "exception: a supervisor must record the exception and the reason")
            else:
                message = "psychotherapy notes need an authorization that names them: hold and ask the patient"
            problems.append(Problem("A9", "request.scope.categories", message))
    elif "psychotherapy_notes" in cats:
        needs = True
    if "sud_part2" in cats and basis == "individual":
        pass  # a patient sees their own Part 2 records without a consent (42 CFR 2.23)
    elif "sud_part2" in cats:
        needs = True
        if not (auth and auth.part2_consent and "sud_part2" in named):
            if req.legal_type is not None:
                problems.append(Problem("L4", "request.scope.categories",
                                        "Part 2 (substance use treatment) records need the patient's Part 2 "
                                        "consent or a court order under 42 CFR 2.64/2.65: a subpoena or general "
                                        "order is not enough"))
            else:
                problems.append(Problem("S2", "authorization.part2_consent",
                                        "Part 2 records need a written consent meeting 42 CFR 2.31 that names "
                                        "substance use disorder information: a general release is not enough"))
        else:
            warnings.append(Problem("S2", "request.scope.categories",
                                    "the packet carries the 42 CFR 2.32 notice and a copy of the consent"))
    if "hiv" in cats:
        if basis == "authorization" and "hiv" not in named and req.requester_type not in ("insurer", "health_plan"):
            problems.append(Problem("S3", "authorization.categories",
                                    "HIV information needs an HIV-specific release (NY PHL 2782): a general "
                                    "authorization is not enough"))
        warnings.append(Problem("S3", "request.scope.categories",
                                "the packet carries the NY 10 NYCRR 63.5(b) redisclosure statement"))
    for cat in sorted(cats & {"mental_health", "genetic", "reproductive"}):
        if basis == "authorization" and cat not in named:
            problems.append(Problem("S1", "authorization.categories",
                                    f"{cat.replace('_', ' ')} records are withheld unless the authorization names "
                                    "them: release the rest or ask for one that does"))
    if basis not in ("authorization", "individual", "treatment"):
        for cat in sorted(cats & {"hiv", "mental_health", "genetic", "reproductive"}):
            warnings.append(Problem("S3" if cat == "hiv" else "S1", "request.scope.categories",
                                    f"{cat.replace('_', ' ')} records under {BASES[basis]['label']}: state law may "
                                    "ask more (NY HIV needs a court order under PHL 2785): check before release"))
    if "genetic" in cats and req.purpose == "underwriting":
        problems.append(Problem("S1", "request.scope.categories",
                                "genetic information may not be used for underwriting (GINA, "
                                "164.502(a)(5)(i)): leave it out"))
    return needs


def check(as_of: datetime.date, req: Request, auth: Authorization | None, *, home: Path | None = None,
          state: str = "") -> Verdict:
    """The verdict on releasing under this request on `as_of`."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    basis, notes = _basis(req, auth)
    problems += notes
    category_needs_auth = _category_problems(req, auth, basis, as_of, problems, warnings)
    authorization_required = basis == "authorization" or category_needs_auth
    if basis == "authorization":
        if auth is None:
            if not any(p.code == "L3" for p in problems):
                problems.append(Problem("A0", "authorization",
                                        f"a {req.requester_type.replace('_', ' ')} asking for "
                                        f"{req.purpose.replace('_', ' ')} needs the patient's signed authorization: "
                                        "hold the request and send the deficiency letter"))
        else:
            check_authorization(auth, req, as_of, problems, warnings)
    elif auth is not None and category_needs_auth:
        check_authorization(auth, req, as_of, problems, warnings)
    if req.received > as_of:
        problems.append(Problem("A3", "request.received",
                                f"the request is dated as received on {req.received.isoformat()}, after the release "
                                "date: check the date"))
    if basis == "individual" and req.requester_type == "personal_representative":
        warnings.append(Problem("A4", "request.requester_type",
                                "verify the personal representative's identity and authority (164.514(h))"))
    if req.third_party is not None:
        _directive(req.third_party, problems)
    if req.legal_type in ("court_order", "tribunal_order"):
        warnings.append(Problem("L2", "request.legal_process",
                                "release only the records the order expressly names"))
    if req.legal_type is not None and req.legal_type in LEGAL_TYPES:
        warnings.append(Problem("L5", "request.legal_process",
                                "certify the records with the jurisdiction's template; the certified page count "
                                "must equal the pages produced"))
    effective = "authorization" if basis == "authorization" else basis
    minimum_necessary = BASES[effective]["minimum_necessary"]
    if minimum_necessary:
        message = "minimum necessary applies: release only what the purpose needs"
        if not req.doc_types and req.scope_from is None and req.scope_to is None:
            message = "minimum necessary applies and the whole record is asked for: record a written justification"
        warnings.append(Problem("M1", "request.scope", message))
    state = req.state or state  # the request's own jurisdiction (a California subpoena) before the site's
    numbers = clocks(home, state)
    due = due_date(req, numbers)
    if due.problem:
        warnings.append(due.problem)
    if as_of > due.due and req.purpose in ("individual_access", "accounting"):
        warnings.append(Problem("D3" if req.purpose == "accounting" else "R1", "request.received",
                                f"this request was due on {due.due.isoformat()}: it is late"))
    if req.scope_from and req.scope_to and req.scope_from > req.scope_to:
        problems.append(Problem("A8", "request.scope", "the scope's start date is after its end date: correct it"))
    return Verdict(
        releasable=not problems, problems=problems, warnings=warnings,
        authorization_required=authorization_required,
        accountable=BASES[effective]["accountable"],
        minimum_necessary=minimum_necessary, due=due.due, basis=effective, extended=due.extended,
    )


def _directive(third: dict, problems: list[Problem]) -> None:
    """R4: a patient's direction to send their copy to someone else: written, signed, recipient and destination."""
    if not third["written"]:
        problems.append(Problem("R4", "request.third_party.written",
                                "a direction to send records to a third party must be in writing"))
    if not third["signed"]:
        problems.append(Problem("R4", "request.third_party.signed",
                                "the patient must sign the direction to send records to a third party"))
    if not third["recipient"]:
        problems.append(Problem("R4", "request.third_party.recipient",
                                "the direction must name who receives the records"))
    if not third["destination"]:
        problems.append(Problem("R4", "request.third_party.destination",
                                "the direction must say where to send the records (address, fax or portal)"))


def check_json(document, *, home: Path | None = None, state: str = "") -> dict:
    """The contract in one call: JSON object in, verdict JSON out (shapes.InputError when it cannot be read, or
    when it has a key the contract does not: leave those out first with shapes.known_keys_only(lenient=True))."""
    document, _ = known_keys_only(CONTRACT, document)
    as_of, req, auth = read(document)
    return check(as_of, req, auth, home=home, state=state).as_json()


# --- scope, denial, fees, retention ------------------------------------------------------------------------


@dataclass
class Flag:
    """Why one document should not simply go into a packet. A clerk may confirm a flag that is a judgement (A8:
    outside the requested dates or types; a sensitive category the request did not name); a blocking flag is the
    law (A9, S1-S3, L4: no authorization or consent that names the category) and no confirmation lifts it."""

    code: str
    field: str
    message: str
    blocking: bool = False


def out_of_scope(req: Request, doc_type: str, service_date: datetime.date | None, tags: list[str],
                 auth: Authorization | None, basis: str = "authorization") -> list[Flag]:
    """A8/A9/S1-S3/L4 for one document about to go into a packet: it is flagged, never silently included."""
    flags = []
    if req.doc_types and doc_type not in req.doc_types:
        flags.append(Flag("A8", "document.doc_type", f"{doc_type} is not among the requested document types"))
    if service_date is not None:
        if req.scope_from and service_date < req.scope_from or req.scope_to and service_date > req.scope_to:
            flags.append(Flag("A8", "document.service_date",
                              f"dated {service_date.isoformat()}, outside the requested dates"))
    authorized = set(auth.categories) if auth else set()
    for tag in tags:
        category = TAG_CATEGORY.get(tag, tag)
        words = category.replace("_", " ")
        if category == "psychotherapy_notes":
            if category not in authorized:
                flags.append(Flag("A9", "document.sensitive_tags", "psychotherapy notes: they go out only under an "
                                  "authorization that names them (and never as part of the right of access)",
                                  blocking=True))
            continue
        if category == "sud_part2":
            if basis != "individual" and not (auth and auth.part2_consent and category in authorized):
                flags.append(Flag("L4" if req.legal_type else "S2", "document.sensitive_tags",
                                  "Part 2 records: they go out only under a 42 CFR 2.31 consent that names them "
                                  "(or a 2.64 court order)", blocking=True))
            continue
        if basis == "authorization" and category not in authorized:
            flags.append(Flag("S3" if category == "hiv" else "S1", "document.sensitive_tags",
                              f"{words} records: the authorization does not name them", blocking=True))
        elif category not in req.categories and category not in authorized:
            flags.append(Flag("S1", "document.sensitive_tags", f"tagged {words}, which the request does not name"))
    return flags


UNREVIEWABLE = {
    "psychotherapy_notes": "psychotherapy notes (164.524(a)(1)(i))",
    "litigation": "information compiled for a legal proceeding (164.524(a)(1)(ii))",
    "inmate": "an inmate's request that would endanger safety (164.524(a)(2)(ii))",
    "research": "research with treatment in progress, agreed at consent (164.524(a)(2)(iii))",
    "privacy_act": "records under the Privacy Act (164.524(a)(2)(iv))",
    "confidential_source": "would reveal a source promised confidentiality (164.524(a)(2)(v))",
}
REVIEWABLE = {
    "endanger": "likely to endanger the life or physical safety of the patient or another (164.524(a)(3)(i))",
    "harm_other": "likely to cause substantial harm to a person referenced (164.524(a)(3)(ii))",
    "harm_by_representative": "a representative's access likely to cause substantial harm (164.524(a)(3)(iii))",
}


def check_denial(basis: str, denied_by: str, determined_by: str = "", reviewer: str = "") -> list[Problem]:
    """R2: the denial basis comes from the lists; a reviewable one needs a professional's determination, and the
    reviewer is someone who did not take part in the denial."""
    out = []
    if basis not in UNREVIEWABLE and basis not in REVIEWABLE:
        out.append(Problem("R2", "denial.basis", f"{basis!r} is not a basis for denying access: pick one of "
                                                 f"{', '.join([*UNREVIEWABLE, *REVIEWABLE])}"))
        return out
    if basis in REVIEWABLE and not determined_by.strip():
        out.append(Problem("R2", "denial.determined_by",
                           "a licensed health care professional must make this determination: record who"))
    if reviewer and reviewer.strip().casefold() in {denied_by.strip().casefold(), determined_by.strip().casefold()}:
        out.append(Problem("R2", "denial.reviewer",
                           "the reviewing professional must not have taken part in the denial: pick another"))
    return out


@dataclass(frozen=True)
class FeeLine:
    kind: str  # labor | supplies | postage | summary | media | search | retrieval | flat
    description: str
    cents: int


ACCESS_FEE_KINDS = ("labor", "supplies", "postage", "summary", "media", "flat")


def check_fees(lines: list[FeeLine], *, access: bool, electronic: bool, pages: int = 0,
               numbers: dict | None = None) -> list[Problem]:
    """R3/R5 on fee lines for a request."""
    numbers = numbers or clocks()
    out = []
    if not access:
        return out
    for line in lines:
        if line.kind not in ACCESS_FEE_KINDS:
            out.append(Problem("R3", "fees", f"{line.kind} fees may not be charged to a patient for access: "
                                             "only labor for copying, supplies, postage and an agreed summary"))
        if line.cents < 0:
            out.append(Problem("R3", "fees", "a fee line cannot be negative"))
    flat = [line for line in lines if line.kind == "flat"]
    if flat:
        if not electronic:
            out.append(Problem("R3", "fees", "the flat fee option is only for electronic copies of electronic PHI"))
        if sum(f.cents for f in flat) > numbers["flat_fee_cents"] or len(lines) > len(flat):
            out.append(Problem("R3", "fees", f"the flat fee is all-inclusive and at most "
                                             f"${numbers['flat_fee_cents'] / 100:.2f}"))
    cap = numbers.get("per_page_cap_cents", 0)
    copy_cents = sum(line.cents for line in lines if line.kind in ("labor", "supplies", "flat"))
    if cap and pages and copy_cents > cap * pages:
        out.append(Problem("R5", "fees", f"state law caps copies at ${cap / 100:.2f} per page "
                                         f"(${cap * pages / 100:.2f} for {pages} pages)"))
    return out


def retain_until(signed_on: datetime.date | None, expires_on: datetime.date | None,
                 created: datetime.date) -> datetime.date:
    """A10: keep an authorization 6 years after the later of its signature, expiration and creation."""
    last = max(d for d in (signed_on, expires_on, created) if d is not None)
    try:
        return last.replace(year=last.year + 6)
    except ValueError:  # 29 February
        return last.replace(year=last.year + 6, day=28)


# --- accounting of disclosures (D2, D4, D5) ---------------------------------------------------------------


def accounting_window(as_of: datetime.date, since: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """D2: [as_of - 6 years, as_of] (as_of: the day it is asked for), or shorter when the patient asks for less."""
    try:
        start = as_of.replace(year=as_of.year - 6)
    except ValueError:
        start = as_of.replace(year=as_of.year - 6, day=28)
    if since is not None and since > start:
        start = since
    return start, as_of


def accounting_is_free(as_of: datetime.date, delivered_before: list[datetime.date]) -> bool:
    """D4: the first accounting in any 12 months is free; later ones may carry a cost-based fee after notice."""
    year_ago = as_of - datetime.timedelta(days=365)
    return not any(year_ago < d <= as_of for d in delivered_before)


@dataclass(frozen=True)
class Suspension:
    """D5: an oversight agency's or law enforcement's statement that an accounting would impede its work."""

    starts: datetime.date
    written: bool
    ends: datetime.date | None = None  # the period a written statement gives


def suspension_end(s: Suspension) -> datetime.date:
    if s.written:
        if s.ends is None:
            raise DeskError("a written suspension states its period: enter the end date it gives")
        return s.ends
    limit = s.starts + datetime.timedelta(days=30)  # oral: at most 30 days unless a written statement follows
    return min(s.ends, limit) if s.ends else limit


def withheld_by_suspension(disclosed_to: str, as_of: datetime.date,
                           suspensions: dict[str, list[Suspension]]) -> bool:
    """A disclosure to an agency that suspended accounting stays out of the report while the suspension lasts."""
    return any(s.starts <= as_of <= suspension_end(s) for s in suspensions.get(disclosed_to, []))
