"""`recdesk doctor`: every check a desk's owner needs before trusting it, one line per check or failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import peewee

from recdesk import audit
from recdesk.db import DATABASE_ERRORS
from recdesk.errors import DeskError, TamperError


@dataclass
class Report:
    lines: list[tuple[bool, str]] = field(default_factory=list)

    def ok(self, text: str) -> None:
        self.lines.append((True, text))

    def fail(self, text: str) -> None:
        self.lines.append((False, text))

    @property
    def passed(self) -> bool:
        return all(ok for ok, _ in self.lines)

    def render(self) -> str:
        return "\n".join(f"{'ok  ' if ok else 'FAIL'} {text}" for ok, text in self.lines)


def _errors(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def run(home: Path) -> Report:
    from recdesk.desk import Desk

    report = Report()
    try:
        desk = Desk.open(home)
    except (DeskError, *DATABASE_ERRORS) as exc:
        report.fail(f"open: {_errors(exc)}")
        return report
    with desk:
        report.ok(f"key: master key from {desk.master.source}")
        from recdesk.blindindex import INDEX_VERSION

        if desk.index_version < INDEX_VERSION:
            report.ok(f"index: search tokens at version {desk.index_version} of {INDEX_VERSION}: run `recdesk reindex` "
                      "(search works meanwhile, broad name searches more slowly)")
        _check_database(desk, report)
        _check_fields(desk, report)
        _check_blobs(desk, report)
        try:
            chain = audit.verify(desk)
            if chain.intact:
                report.ok(f"audit: chain of {chain.events:,} events verifies")
            else:
                report.fail(f"audit: chain broken at seq {chain.broken_seq}: {chain.reason}")
        except (TamperError, *DATABASE_ERRORS) as exc:
            report.fail(f"audit: cannot read the chain: {_errors(exc)}")
    return report


def _check_database(desk, report: Report) -> None:
    db = desk.db
    try:
        if desk.is_postgres:
            db.execute_sql("SELECT count(*) FROM patient").fetchone()
            report.ok(f"database: PostgreSQL {db.server_version} reachable, schema readable")
            return
        bad = [row[0] for row in db.execute_sql("PRAGMA cipher_integrity_check").fetchall()]
        for line in bad[:20]:
            report.fail(f"database: {line}")
        if not bad:
            report.ok("database: SQLCipher page authentication (cipher_integrity_check) passes")
        result = [row[0] for row in db.execute_sql("PRAGMA integrity_check").fetchall()]
        if result == ["ok"]:
            report.ok("database: SQLite integrity_check ok")
        else:
            for line in result[:20]:
                report.fail(f"database: {line}")
    except DATABASE_ERRORS as exc:
        report.fail(f"database: corrupt or unreadable: {_errors(exc)}")


def _check_fields(desk, report: Report) -> None:
    from recdesk.models import Insurance, Patient
    from recdesk.patients import decrypt, decrypt_insurance

    count, failures = 0, 0
    live = Patient.dek_wrapped.is_null(False)
    try:
        # Insurance rows in patient order alongside the patients: one pass over each table, no N+1.
        insurance = iter(Insurance.select().join(Patient).where(live).order_by(Insurance.patient).iterator())
        pending = next(insurance, None)
        for row in Patient.select().where(live).order_by(Patient.id).iterator():
            try:
                decrypt(desk, row)
                while pending is not None and pending.patient_id <= row.id:
                    if pending.patient_id == row.id:
                        decrypt_insurance(desk, row, pending)
                    pending = next(insurance, None)
                count += 1
            except TamperError as exc:
                failures += 1
                if failures <= 20:
                    report.fail(f"fields: {exc}")
            desk.forget_dek(row.id)
    except DATABASE_ERRORS as exc:
        report.fail(f"fields: cannot read patients: {_errors(exc)}")
        return
    if not failures:
        report.ok(f"fields: {count:,} patients' encrypted fields authenticate")


def _check_blobs(desk, report: Report) -> None:
    from recdesk.models import Document, Patient

    count, failures = 0, 0
    try:
        rows = (Document.select(Document, Patient).join(Patient, peewee.JOIN.LEFT_OUTER)
                .where(Document.status != "purged").iterator())
        known = set()
        for doc in rows:
            known.add(doc.blob)
            try:
                key = desk.dek(doc.patient) if doc.patient_id else desk.desk_key
                desk.store.verify(key, doc.uuid, doc.blob, doc.sha256)
                count += 1
            except (TamperError, DeskError) as exc:
                failures += 1
                report.fail(f"store: document {doc.uuid}: {exc}")
    except DATABASE_ERRORS as exc:
        report.fail(f"store: cannot read documents: {_errors(exc)}")
        return
    if not failures:
        report.ok(f"store: {count:,} stored files decrypt and match their SHA-256")
    orphans = desk.store.blob_ids() - known
    parts = desk.store.stale_parts()
    if orphans or parts:
        report.ok(f"store: {len(orphans)} files without a record and {len(parts)} unfinished writes "
                  "(left by an interrupted write; ciphertext only, never shown; `recdesk demo` tidies them)")
