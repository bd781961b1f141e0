"""Row seals: a MAC over the columns of a row that decide who may do what, so that a person who can write the
database but holds no master key cannot grant access, lift a restriction or move a release along.

A seal covers the row's id, the columns named in SEALED, and the natural key (uuid or user name) of each row it
belongs to, so a row cannot be copied to another id, re-pointed at another parent, or swapped whole with another.
Every change to a sealed row is followed by `reseal` in the same transaction; code that acts on a sealed row
checks it first (`check`, `check_where`), and `recdesk doctor` checks them all (`broken`).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field

import peewee

from recdesk.errors import TamperError
from recdesk.vault.models import (
    AccountingSuspension,
    Authorization,
    Disclosure,
    Document,
    DoNotPurge,
    HeldPatient,
    LegalHold,
    Patient,
    PatientAssignment,
    PurgeBatch,
    PurgeItem,
    PurgeVolume,
    Release,
    ReleaseRequest,
    SshKey,
    User,
)

VERSION = "v1"
KEY_LABEL = "row-seal"


@dataclass(frozen=True)
class Sealed:
    """What a table's seal covers: its own columns, and for each foreign key the parent's natural key."""

    columns: tuple[str, ...]
    parents: dict[str, str] = field(default_factory=dict)  # foreign-key field -> the parent's natural-key field


SEALED: dict[type[peewee.Model], Sealed] = {
    User: Sealed(("name", "role", "os_user", "disabled")),
    SshKey: Sealed(("public_key", "fingerprint"), {"user": "name"}),
    Patient: Sealed(("uuid", "sensitive", "status")),
    PatientAssignment: Sealed(("uuid", "ended_at"),
                              {"user": "name", "patient": "uuid", "granted_by": "name", "ended_by": "name"}),
    Document: Sealed(("uuid", "doc_type", "sensitive_tags", "status", "qa_state", "blob", "sha256"),
                     {"patient": "uuid"}),
    ReleaseRequest: Sealed(("uuid", "requester_type", "received_on", "purpose", "delivery", "legal_type")),
    Release: Sealed(("uuid", "status", "hold_reason", "due_on", "extended_due_on", "extension_notice_on"),
                    {"request": "uuid", "patient": "uuid", "packet": "uuid"}),
    Authorization: Sealed(("uuid", "kind", "signed_on", "expires_on", "revoked_on"),
                          {"patient": "uuid", "release": "uuid", "scan": "uuid"}),
    Disclosure: Sealed(("uuid", "disclosed_on", "purpose", "basis", "accountable", "packet_sha256"),
                       {"patient": "uuid", "release": "uuid"}),
    AccountingSuspension: Sealed(("uuid", "starts_on", "ends_on", "written"), {"patient": "uuid"}),
    LegalHold: Sealed(("uuid", "basis", "starts_on", "until_on", "lifted_at"),
                      {"placed_by": "name", "lifted_by": "name"}),
    HeldPatient: Sealed(("uuid",), {"hold": "uuid", "patient": "uuid"}),  # after LegalHold: it points there
    DoNotPurge: Sealed(("uuid", "cleared_at"), {"patient": "uuid", "set_by": "name", "cleared_by": "name"}),
    PurgeBatch: Sealed(("uuid", "status", "number", "as_of", "archive_required", "archive_path", "archive_sha256"),
                       {"created_by": "name", "approved_by": "name", "run_by": "name", "certificate": "uuid"}),
    PurgeItem: Sealed(("patient_uuid", "outcome"), {"batch": "uuid"}),  # after PurgeBatch: they point there
    PurgeVolume: Sealed(("uuid", "patient_uuid", "volume_uuid", "status", "witness"),
                        {"batch": "uuid", "by_user": "name"}),
}


def _text(value) -> str:
    if value is None:
        return "\x00"  # absent is not the same as empty
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return str(value)


def _query(model: type[peewee.Model]) -> peewee.ModelSelect:
    """The row's sealed values and its parents' natural keys, one query (LEFT JOINs keep orphans visible)."""
    spec = SEALED[model]
    query = model.select(model.id, model.seal, *(getattr(model, c) for c in spec.columns))
    for fk_name, key in spec.parents.items():
        fk = model._meta.fields[fk_name]
        parent = fk.rel_model.alias()
        query = (query.join_from(model, parent, peewee.JOIN.LEFT_OUTER, on=(fk == parent.id))
                 .select_extend(getattr(parent, key).alias(f"parent_{fk_name}")))
    return query


def _digest(key: bytes, model: type[peewee.Model], row: dict) -> str:
    spec = SEALED[model]
    parts = [VERSION, model._meta.table_name, str(row["id"])]
    parts += [f"{c}={_text(row[c])}" for c in spec.columns]
    # A NULL foreign key and a parent that is gone both read as absent: a dangling link is caught by the FK.
    parts += [f"{p}->{_text(row[f'parent_{p}'])}" for p in spec.parents]
    return hmac.new(key, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()


def _key(desk) -> bytes:
    return desk.master.sub(KEY_LABEL)


def reseal(desk, model: type[peewee.Model], where: peewee.Expression) -> int:
    """Seal the rows `where` selects as they now are; call in the transaction that changed them."""
    return _reseal(_key(desk), model, where)


def _reseal(key: bytes, model: type[peewee.Model], where: peewee.Expression) -> int:
    rows = list(_query(model).where(where).dicts())
    db = model._meta.database
    table, pk = model._meta.table_name, model._meta.primary_key.column_name
    values = [(_digest(key, model, row), row["id"]) for row in rows]
    if values:
        cursor = db.cursor()
        try:  # one prepared statement for the lot (a desk upgrade seals every row)
            cursor.executemany(f'UPDATE "{table}" SET "seal" = {db.param} WHERE "{pk}" = {db.param}', values)
        finally:
            cursor.close()
    return len(values)


def reseal_all(master, model: type[peewee.Model], batch: int = 5000) -> int:
    """Seal every row of a table with the desk's master key (the upgrade that brings seals); batched."""
    key = master.sub(KEY_LABEL)
    count, last = 0, 0
    while True:
        ids = [r for (r,) in model.select(model.id).where(model.id > last).order_by(model.id).limit(batch).tuples()]
        if not ids:
            return count
        count += _reseal(key, model, model.id.in_(ids))
        last = ids[-1]


def _describe(model: type[peewee.Model], row: dict) -> str:
    name = row.get("uuid") or row.get("name") or row.get("fingerprint") or row["id"]
    return f"{model._meta.table_name} {name}"


def _failures(desk, model: type[peewee.Model], query: peewee.ModelSelect) -> Iterator[str]:
    key = _key(desk)
    for row in query.dicts().iterator():
        seal = row["seal"]
        if seal is None or not hmac.compare_digest(seal, _digest(key, model, row)):
            yield _describe(model, row)


def check_where(desk, model: type[peewee.Model], where: peewee.Expression) -> None:
    """Refuse to go on when any row `where` selects was changed outside recdesk."""
    for bad in _failures(desk, model, _query(model).where(where)):
        raise TamperError(f"{bad} fails its integrity seal (changed outside recdesk): nothing was done; "
                          "run `recdesk doctor` and restore the row from a backup")


def check(desk, row: peewee.Model) -> None:
    """Refuse to go on when this row was changed outside recdesk (it is re-read, not trusted as given)."""
    model = type(row)
    check_where(desk, model, model.id == row.id)


def broken(desk, limit: int = 20) -> tuple[int, int, list[str]]:
    """For doctor: (rows checked, rows failing, the first `limit` failures named)."""
    checked, failing, named = 0, 0, []
    for model in SEALED:
        checked += model.select().count()
        for bad in _failures(desk, model, _query(model)):
            failing += 1
            if len(named) < limit:
                named.append(bad)
    return checked, failing, named
