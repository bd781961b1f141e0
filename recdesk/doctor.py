"""`recdesk doctor`: every check a desk's owner needs before trusting it, one line per check or failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import peewee

from recdesk.errors import DeskError, TamperError
from recdesk.vault import audit
from recdesk.vault.db import DATABASE_ERRORS


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
        from recdesk.vault.blindindex import INDEX_VERSION

        if desk.index_version < INDEX_VERSION:
            report.ok(f"index: search tokens at version {desk.index_version} of {INDEX_VERSION}: run `recdesk reindex` "
                      "(search works meanwhile, broad name searches more slowly)")
        for check in (_check_database, _check_fields, _check_other_fields, _check_packets, _check_seals,
                      _check_deleted, _check_blobs):
            try:
                check(desk, report)
            except DATABASE_ERRORS as exc:  # a damaged page stops that check only: the others still report
                report.fail(f"{check.__name__.removeprefix('_check_')}: the database cannot be read: {_errors(exc)}")
        _check_host_key(home, report)
        try:
            chain = audit.verify(desk)
            if chain.intact:
                report.ok(f"audit: chain of {chain.events:,} events verifies")
            else:
                report.fail(f"audit: chain broken at seq {chain.broken_seq}: {chain.reason}")
        except (TamperError, *DATABASE_ERRORS) as exc:
            report.fail(f"audit: cannot read the chain: {_errors(exc)}")
        _check_strays(desk, report)
    return report


def _check_host_key(home: Path, report: Report) -> None:
    from recdesk.serve.door import host_key_problem

    problem = host_key_problem(home)
    if problem:
        report.fail(f"ssh: {problem}")
    else:
        report.ok("ssh: host key present, the desk's own, 0600")


def _check_seals(desk, report: Report) -> None:
    from recdesk.vault import seals

    try:
        checked, failing, named = seals.broken(desk)
    except DATABASE_ERRORS as exc:
        report.fail(f"seals: cannot read the sealed tables: {_errors(exc)}")
        return
    for bad in named:
        report.fail(f"seals: {bad} was changed outside recdesk (its integrity seal fails)")
    if failing > len(named):
        report.fail(f"seals: {failing - len(named):,} more rows fail their seals")
    if not failing:
        report.ok(f"seals: {checked:,} rows that grant access or hold a restriction are as recdesk wrote them")


def _other_ciphertexts(desk):
    """(key, table, column, ref, ciphertext) for every encrypted field outside patient and insurance."""
    from recdesk.documents.intake import move_ref
    from recdesk.release.log import event_ref
    from recdesk.vault.models import (
        AccountingSuspension,
        Authorization,
        Deficiency,
        Disclosure,
        Document,
        DocumentMove,
        DoNotPurge,
        LegalHold,
        Patient,
        Release,
        ReleaseEvent,
        ReleaseRequest,
    )

    k = desk.desk_key
    for r in ReleaseRequest.select().iterator():
        for column in ("requester_name", "requester_address", "details"):
            yield k, "release_request", column, r.uuid, getattr(r, f"{column}_enc")
    for r in Release.select(Release.uuid, Release.packet_password_enc).iterator():
        yield k, "release", "packet_password", r.uuid, r.packet_password_enc
    described = (Release.select(Release.uuid, Release.packet_description_enc, Document.uuid)
                 .join(Document, on=(Release.packet == Document.id))
                 .where(Release.packet_description_enc.is_null(False)))
    for r in described.iterator():  # bound to the packet's uuid; named by the release, which a clerk can find
        yield k, "release", "packet_description", r.packet.uuid, r.packet_description_enc, f"release {r.uuid}"
    for e in ReleaseEvent.select().where(ReleaseEvent.note_enc.is_null(False)).iterator():
        yield k, "release_event", "note", event_ref(e), e.note_enc
    for m in DocumentMove.select(DocumentMove, Document).join(Document).iterator():
        yield k, "document_move", "reason", move_ref(m.document, m.at), m.reason_enc
    for d in Document.select(Document.uuid, Document.name_enc).where(Document.name_enc.is_null(False)).iterator():
        yield k, "document", "name", d.uuid, d.name_enc
    for h in LegalHold.select(LegalHold.uuid, LegalHold.matter_enc, LegalHold.lift_reason_enc).iterator():
        yield k, "legal_hold", "matter", h.uuid, h.matter_enc
        yield k, "legal_hold", "lift_reason", h.uuid, h.lift_reason_enc
    # Patient-keyed rows, in patient order so each data key is unwrapped once.
    patient_keyed = [
        (Authorization, ("elements", "expiration_event")), (Disclosure, ("recipient", "recipient_address",
                                                                          "description")),
        (Deficiency, ("note",)), (AccountingSuspension, ("agency",)), (Document, ("title",)),
        (DoNotPurge, ("reason",)),
    ]
    # What outlives a destroyed record is sealed under the desk key: its register entry, disclosures, suspensions.
    from recdesk.vault.models import DestructionEntry

    for e in DestructionEntry.select(DestructionEntry.uuid, DestructionEntry.entry_enc).iterator():
        yield k, "destruction_entry", "entry", e.uuid, e.entry_enc
    destroyed = Patient.dek_wrapped.is_null()
    kept = [(m, c) for m, c in patient_keyed if m in (Disclosure, AccountingSuspension)]
    for model, columns in kept:
        table = model._meta.table_name
        for row in model.select(model).join(Patient, on=(model.patient == Patient.id)).where(destroyed).iterator():
            for column in columns:
                yield k, table, column, row.uuid, getattr(row, f"{column}_enc")
    live = Patient.dek_wrapped.is_null(False)
    for model, columns in patient_keyed:
        table = model._meta.table_name
        for row in (model.select(model, Patient).join(Patient, on=(model.patient == Patient.id)).where(live)
                    .order_by(model.patient).iterator()):
            for column in columns:
                yield desk.dek(row.patient), table, column, row.uuid, getattr(row, f"{column}_enc")


def _check_packets(desk, report: Report) -> None:
    """A built packet waiting to go out must say what it holds: its disclosure is written from that."""
    from recdesk.release.log import OPEN
    from recdesk.vault.models import Release

    waiting = (Release.select(Release.uuid).where(Release.packet.is_null(False) & Release.status.in_(OPEN)
                                                  & Release.packet_description_enc.is_null()))
    try:
        missing = [r.uuid for r in waiting]
    except DATABASE_ERRORS as exc:
        report.fail(f"packets: cannot read the releases: {_errors(exc)}")
        return
    if missing:
        report.fail(f"packets: {len(missing)} built packet(s) with no description (release {', '.join(missing[:5])}): "
                    "fail the packet's QA (Q, N) and build it again (B)")


def _check_other_fields(desk, report: Report) -> None:
    from recdesk.vault import crypto

    count, failures = 0, 0
    try:
        for key, table, column, ref, blob, *where in _other_ciphertexts(desk):
            if blob is None:
                continue
            try:
                crypto.open_bytes(key, table, column, ref, bytes(blob))
                count += 1
            except TamperError as exc:
                failures += 1
                if failures <= 20:
                    report.fail(f"fields: {exc}" + (f" ({where[0]})" if where else ""))
    except DATABASE_ERRORS as exc:
        report.fail(f"fields: cannot read requests, authorizations and notes: {_errors(exc)}")
        return
    if not failures:
        report.ok(f"fields: {count:,} encrypted fields of requests, authorizations, disclosures and notes "
                  "authenticate")


# Rows recdesk never deletes, each recorded in the (verified) audit trail when it was made: a row that the
# trail says was made and that is gone was deleted outside recdesk. (table, key column, actions, object prefix)
_RECORDED = [
    ("patient", "uuid", ("patient.register",), None),
    ("document", "uuid", ("document.file", "intake.receive", "intake.quarantine"), "document:"),
    ("release", "uuid", ("roi.request.log",), "release:"),
    ("user", "name", ("user.add",), "user:"),
    ("disclosure", "uuid", ("roi.release", "roi.disclosure.record"), "disclosure:"),
    ("accounting_suspension", "uuid", ("roi.accounting.suspend",), "suspension:"),
    ("hold", "uuid", ("hold.place",), "hold:"),
    ("held_patient", "uuid", ("hold.cover",), "held:"),
    ("do_not_purge", "uuid", ("retention.keep",), "keep:"),
]


def _check_deleted(desk, report: Report) -> None:
    from recdesk.retention.register import DESTROYED

    db = desk.db
    missing = 0
    try:
        for table, column, actions, prefix in _RECORDED:
            marks = ", ".join([db.param] * len(actions))
            ref = "a.patient" if prefix is None else f"substr(a.object, {len(prefix) + 1})"
            # A row a purge destroyed has its own event in the (verified) trail: gone on purpose.
            sql = (f'SELECT count(*), min({ref}) FROM audit_event a WHERE a.action IN ({marks}) '
                   f'AND NOT EXISTS (SELECT 1 FROM "{table}" t WHERE t."{column}" = {ref}) '
                   f'AND a.object NOT IN (SELECT g.object FROM audit_event g WHERE g.action = {db.param})')
            count, first = db.execute_sql(sql, (*actions, DESTROYED)).fetchone()
            if count:
                missing += count
                report.fail(f"rows: {count:,} {table} row(s) the audit trail records were deleted outside recdesk "
                            f"(first: {first}): restore them from a backup")
    except DATABASE_ERRORS as exc:
        report.fail(f"rows: cannot compare rows with the audit trail: {_errors(exc)}")
        return
    if not missing:
        report.ok("rows: every patient, document, release and user the audit trail records is on the desk")


def _check_strays(desk, report: Report) -> None:
    from recdesk.vault.models import AuditStray

    try:
        rows = list(AuditStray.select().order_by(AuditStray.seq).limit(5))
        total = AuditStray.select().count()
    except DATABASE_ERRORS as exc:
        report.fail(f"audit: cannot read set-aside events: {_errors(exc)}")
        return
    if total:
        seqs = ", ".join(str(r.seq) for r in rows)
        report.fail(f"audit: {total} event(s) written outside recdesk past the sealed head were set aside "
                    f"(seq {seqs}; set aside {rows[0].set_aside_at:%Y-%m-%d %H:%M}): investigate who wrote them")


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
    from recdesk.patients.registry import decrypt, decrypt_insurance
    from recdesk.vault.models import Insurance, Patient

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
    from recdesk.vault.models import Document, Patient

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
    from recdesk.retention.shredding import pending_blobs

    orphans = desk.store.blob_ids() - known
    destroyed = orphans & pending_blobs(desk)
    if destroyed:
        orphans -= destroyed
        report.ok(f"store: {len(destroyed)} files of destroyed records are still to be removed (a purge was "
                  "interrupted after its commit; ciphertext without a key; the next purge run removes them)")
    parts = desk.store.stale_parts()
    if orphans or parts:
        report.ok(f"store: {len(orphans)} files without a record and {len(parts)} unfinished writes "
                  "(left by an interrupted write; ciphertext only, never shown; `recdesk demo` tidies them)")
