"""Patients: registering them (encrypted fields plus blind-index tokens) and reading them back."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from recdesk.display import echoed
from recdesk.errors import DeskError
from recdesk.roles import CHANGERS, MANAGERS
from recdesk.vault import audit, crypto, seals
from recdesk.vault.blindindex import INDEX_VERSION, KINDS_SINCE, Term, digits, mrn_key, patient_terms
from recdesk.vault.db import bulk_insert
from recdesk.vault.models import DeskInfo, Insurance, Patient, PatientToken, new_uuid, now

_FIELDS = ("mrn", "last", "first", "middle", "dob", "sex", "ssn_last4", "phone")


@dataclass
class PatientDetails:
    """A patient as a clerk sees them, decrypted."""

    mrn: str
    last: str
    first: str
    middle: str = ""
    dob: datetime.date | None = None
    sex: str = "U"
    ssn_last4: str = ""
    phone: str = ""
    address: dict = field(default_factory=dict)
    insurance: list[dict] = field(default_factory=list)
    sensitive: bool = False
    deceased: bool = False
    possible_duplicate: bool = False
    uuid: str = ""
    id: int = 0

    @property
    def flags(self) -> list[str]:
        return [name for name in ("sensitive", "deceased", "possible_duplicate") if getattr(self, name)]

    @property
    def display_name(self) -> str:
        first = f"{self.first} {self.middle}".strip()
        return f"{self.last.upper()}, {first}"


def _validate(p: PatientDetails) -> None:
    if not p.last.strip() or not p.first.strip():
        raise DeskError("a patient needs a last and a first name")
    if not p.mrn.strip() or not p.mrn.strip().isdigit():
        raise DeskError(f"MRN {p.mrn!r} must be digits only")
    if p.dob is None:
        raise DeskError("a patient needs a date of birth (YYYY-MM-DD)")
    if p.ssn_last4 and not (len(p.ssn_last4) == 4 and p.ssn_last4.isdigit()):
        raise DeskError(f"SSN last 4 {p.ssn_last4!r} must be exactly four digits")
    if p.sex not in ("F", "M", "U", "X"):
        raise DeskError(f"sex {p.sex!r} must be F, M, X or U")


def register_many(desk, actor, patients: Iterable[PatientDetails]) -> list[int]:
    """Register patients in the caller's transaction: each gets a DEK, ciphertexts, tokens and an audit event."""
    actor.require(*CHANGERS)
    wrap_key = desk.master.sub("dek-wrap")
    rows, insurance, terms_by_uuid = [], [], {}
    stamp = now()
    for p in patients:
        _validate(p)
        uid = p.uuid or new_uuid()
        dek = crypto.new_key()
        values = {
            "mrn": p.mrn.strip(), "last": p.last.strip(), "first": p.first.strip(), "middle": p.middle.strip(),
            "dob": p.dob.isoformat(), "sex": p.sex, "ssn_last4": p.ssn_last4, "phone": p.phone,
        }
        row = {f"{name}_enc": crypto.seal(dek, "patient", name, uid, values[name]) for name in _FIELDS}
        row.update(
            uuid=uid, dek_wrapped=crypto.wrap_dek(wrap_key, uid, dek), sensitive=p.sensitive, deceased=p.deceased,
            possible_duplicate=p.possible_duplicate, status="active", created_at=stamp, updated_at=stamp,
            address_enc=crypto.seal(dek, "patient", "address", uid, json.dumps(p.address, sort_keys=True)),
        )
        rows.append(row)
        for rank, ins in enumerate(p.insurance, start=1):
            iuid = new_uuid()
            insurance.append({
                "uuid": iuid, "patient": uid, "rank": rank, "created_at": stamp,
                "payer_enc": crypto.seal(dek, "insurance", "payer", iuid, ins.get("payer", "")),
                "member_id_enc": crypto.seal(dek, "insurance", "member_id", iuid, ins.get("member_id", "")),
                "group_enc": crypto.seal(dek, "insurance", "group", iuid, ins.get("group", "")),
            })
        terms_by_uuid[uid] = patient_terms(values["mrn"], values["last"], values["first"], values["dob"],
                                           values["ssn_last4"], values["phone"])
    if not rows:
        return []
    bulk_insert(Patient, rows)
    ids = dict(Patient.select(Patient.uuid, Patient.id).where(Patient.uuid.in_(list(terms_by_uuid))).tuples())
    seals.reseal(desk, Patient, Patient.id.in_(list(ids.values())))
    for ins in insurance:
        ins["patient"] = ids[ins["patient"]]
    bulk_insert(Insurance, insurance)
    tokens = [
        {"kind": kind, "token": token, "patient": ids[uid]}
        for uid, terms in terms_by_uuid.items()
        for kind, token in {desk.blind.token(t) for t in terms}
    ]
    bulk_insert(PatientToken, tokens)
    audit.append_many(desk, actor, [audit.Event("patient.register", f"patient:{uid}", uid) for uid in terms_by_uuid])
    return [ids[row["uuid"]] for row in rows]


def register(desk, actor, patient: PatientDetails) -> int:
    with desk.write():
        return register_many(desk, actor, [patient])[0]


def decrypt(desk, row: Patient, *, with_insurance: bool = False) -> PatientDetails:
    """The plaintext of one patient row (no audit: callers audit the view they make of it)."""
    dek = desk.dek(row)
    uid = row.uuid
    v = {name: crypto.open_text(dek, "patient", name, uid, getattr(row, f"{name}_enc")) or "" for name in _FIELDS}
    details = PatientDetails(
        mrn=v["mrn"], last=v["last"], first=v["first"], middle=v["middle"],
        dob=datetime.date.fromisoformat(v["dob"]) if v["dob"] else None, sex=v["sex"] or "U",
        ssn_last4=v["ssn_last4"], phone=v["phone"],
        address=json.loads(crypto.open_text(dek, "patient", "address", uid, row.address_enc) or "{}"),
        sensitive=row.sensitive, deceased=row.deceased, possible_duplicate=row.possible_duplicate,
        uuid=uid, id=row.id,
    )
    if with_insurance:
        details.insurance = [decrypt_insurance(desk, row, i) for i in row.insurance.order_by(Insurance.rank)]
    return details


def decrypt_insurance(desk, patient: Patient, policy: Insurance) -> dict:
    dek = desk.dek(patient)
    return {
        name: crypto.open_text(dek, "insurance", name, policy.uuid, getattr(policy, f"{name}_enc"))
        for name in ("payer", "member_id", "group")
    }


def reindex(desk, actor, progress=None) -> int:
    """Add the blind-index kinds this recdesk has and the desk's tokens lack; returns patients indexed.

    Safe to interrupt and run again: batches commit on their own and tokens already there are kept.
    """
    actor.require(*MANAGERS)
    kinds = {k for v in range(desk.index_version + 1, INDEX_VERSION + 1) for k in KINDS_SINCE.get(v, ())}
    done = 0
    if kinds:
        total = Patient.select().where(Patient.dek_wrapped.is_null(False)).count()
        last_id = 0
        while True:
            rows = list(Patient.select().where((Patient.id > last_id) & Patient.dek_wrapped.is_null(False))
                        .order_by(Patient.id).limit(1000))
            if not rows:
                break
            tokens = []
            for row in rows:
                p = decrypt(desk, row)
                terms = patient_terms(p.mrn, p.last, p.first, p.dob.isoformat() if p.dob else "", p.ssn_last4,
                                      p.phone)
                tokens += [{"kind": kind, "token": token, "patient": row.id}
                           for kind, token in {desk.blind.token(t) for t in terms if t.kind in kinds}]
                desk.forget_dek(row.id)
            with desk.write():
                bulk_insert(PatientToken, tokens, skip_existing=True)
            last_id, done = rows[-1].id, done + len(rows)
            if progress:
                progress(done, total)
    with desk.write():
        DeskInfo.update(index_version=INDEX_VERSION).execute()
        audit.append(desk, actor, "desk.reindex", object="patients",
                     details={"kinds": sorted(kinds), "patients": done, "index_version": INDEX_VERSION})
    desk.index_version = INDEX_VERSION
    return done

def mrn_of(desk, patient: Patient) -> str:
    """Only the MRN of a patient (what a chart label carries), decrypted under their key."""
    return crypto.open_text(desk.dek(patient), "patient", "mrn", patient.uuid, patient.mrn_enc) or ""


_MRN_CHUNK = 500


def by_mrn(desk, mrns: Iterable[str]) -> dict[str, Patient]:
    """Active patients by exact MRN (keyed by blindindex.mrn_key), found through the blind index.

    Only the candidates the index gives are decrypted, and only their MRN, to drop false positives.
    """
    keys = {mrn_key(m) for m in mrns if digits(m)}
    by_token: dict[tuple[int, int], set[str]] = {}
    for key in keys:
        by_token.setdefault(desk.blind.token(Term("mrn", key)), set()).add(key)
    found: dict[str, Patient] = {}
    tokens = list(by_token)
    kind = tokens[0][0] if tokens else 0
    for start in range(0, len(tokens), _MRN_CHUNK):
        chunk = [t for _, t in tokens[start : start + _MRN_CHUNK]]
        ids = {r.patient_id for r in PatientToken.select(PatientToken.patient)
               .where((PatientToken.kind == kind) & PatientToken.token.in_(chunk))}
        if not ids:
            continue
        for row in Patient.select().where(Patient.id.in_(list(ids)) & (Patient.status == "active")):
            key = mrn_key(mrn_of(desk, row))
            if key in keys:
                found[key] = row
    return found


def find_by_mrn(desk, mrn: str) -> Patient:
    """The active patient whose MRN is exactly `mrn` as written on a request, or a DeskError saying to check it."""
    mrn = mrn.strip()
    row = by_mrn(desk, [mrn]).get(mrn_key(mrn)) if digits(mrn) else None
    if row is None or mrn_of(desk, row) != mrn:
        raise DeskError(f"no patient with MRN {echoed(mrn)}: check the number on the request")
    return row
