"""Schema versions: a new desk is created at the latest version; an older one is upgraded step by step on open."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:  # playhouse.migrate loads only when a desk is upgraded, not at every start
    from playhouse.migrate import SchemaMigrator

    from recdesk.vault.keys import MasterKey

from recdesk.errors import DeskError, TamperError

BASE_VERSION = 1
# version -> (what it changes, step). A step gets the migrator and the database and runs inside one
# transaction with the version bump, so a desk is never left between two versions. Steps check before
# they change, so a step meeting a table that already has its change does nothing.
# Steps that must write under the desk's key (seals) get the master key as a third argument.
Step = Callable[["SchemaMigrator", peewee.Database, "MasterKey"], None]


def _audit_by_user(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    from playhouse.migrate import migrate

    if not any(i.columns == ["user_name", "action", "seq"] for i in db.get_indexes("audit_event")):
        migrate(migrator.add_index("audit_event", ("user_name", "action", "seq"), False))


def _add_columns(migrator: SchemaMigrator, db: peewee.Database, model, names: tuple[str, ...]) -> None:
    """Add the model's named fields its table lacks (a step run twice adds nothing)."""
    from playhouse.migrate import migrate

    table = model._meta.table_name
    have = {c.name for c in db.get_columns(table)}
    for name in names:
        field = model._meta.fields[name]
        if field.column_name not in have:
            migrate(migrator.add_column(table, field.column_name, field))


def _intake(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    from recdesk.vault.models import Document, DocumentMove

    _add_columns(migrator, db, Document,
                 ("name_enc", "received_at", "quarantine_reason", "qa_by", "qa_at", "qa_reason", "legible"))
    db.create_tables([DocumentMove], safe=True)


def _index_version(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    from recdesk.vault.models import DeskInfo

    _add_columns(migrator, db, DeskInfo, ("index_version",))


def _workflows(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    from recdesk.vault.models import AssemblyItem, Deficiency, PullItem, Release, ReleaseEvent

    _add_columns(migrator, db, Release, ("extension_notice_on", "fee_json", "packet_password_enc", "closed_by"))
    _add_columns(migrator, db, Deficiency, ("closed_by",))
    db.create_tables([ReleaseEvent, PullItem, AssemblyItem], safe=True)


def _surgery_and_items(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    from recdesk.vault.models import Deficiency, Encounter

    _add_columns(migrator, db, Encounter, ("surgery_at", "surgery_end_at"))
    _add_columns(migrator, db, Deficiency, ("item",))


def _suspensions(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    from recdesk.vault.models import AccountingSuspension

    db.create_tables([AccountingSuspension], safe=True)


SEALED_MARK = "desk.seals"  # the audit event that says this desk's rows were sealed


def _seals(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    from recdesk.vault import audit, seals
    from recdesk.vault.models import AuditEvent, AuditStray

    # This step seals every row as it finds it, so it must run once in a desk's life and on an intact trail:
    # someone who lowered the schema version to have tampered rows sealed afresh is refused here.
    chain = audit.walk(master.sub("audit-mac"))
    if not chain.intact:
        raise DeskError(f"cannot bring in row seals: the audit chain is broken at seq {chain.broken_seq} "
                        f"({chain.reason}); restore the database from a backup")
    if AuditEvent.select().where(AuditEvent.action == SEALED_MARK).exists():
        raise DeskError("this desk's rows were sealed before, yet its schema says version 7: the database was "
                        "altered outside recdesk; restore it from a backup")
    for model in seals.SEALED:
        db.create_tables([model], safe=True)  # LegalHold and PurgeBatch may predate any row
        # A seal covers columns a later step brings (schema 13's purge batches): they come here, where they are sealed.
        spec = seals.SEALED[model]
        _add_columns(migrator, db, model, ("seal", *spec.columns, *spec.parents))
    db.create_tables([AuditStray], safe=True)
    for model in seals.SEALED:
        seals.reseal_all(master, model)
    audit.append_system(db, master, SEALED_MARK, "desk")


PACKET_BUILT = "packet built: "  # how the history note of a packet's building began, before its own column


def _packet_descriptions(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    """The packet's description gets its own column; a packet built before has it copied from the history note
    that carried it ("packet built: ..."), so releasing it writes the same disclosure."""
    from recdesk.vault import crypto
    from recdesk.vault.models import Document, Release, ReleaseEvent

    _add_columns(migrator, db, Release, ("packet_description_enc",))
    key = master.sub("desk-fields")  # the desk key (Desk.desk_key) that sealed the notes and seals the column
    packets = (Release.select(Release.id, Document.id.alias("packet_id"), Document.uuid.alias("packet_uuid"))
               .join(Document, on=(Release.packet == Document.id))
               .where(Release.packet_description_enc.is_null()).dicts())
    for row in list(packets):
        built = (ReleaseEvent.select().where((ReleaseEvent.release == row["id"]) & (ReleaseEvent.kind == "status")
                                             & (ReleaseEvent.status == "qa")
                                             & (ReleaseEvent.document == row["packet_id"]))
                 .order_by(ReleaseEvent.id.desc()).first())
        try:
            note = crypto.open_text(key, "release_event", "note", built.ref(), built.note_enc) if built else None
        except TamperError:
            note = None  # one bad note must not lock the office out: doctor names the note and the packet
        if not note or not note.startswith(PACKET_BUILT):
            continue  # no description was ever recorded: releasing it asks for the packet to be rebuilt
        description = crypto.seal(key, "release", "packet_description", row["packet_uuid"],
                                  note.removeprefix(PACKET_BUILT))
        Release.update(packet_description_enc=description).where(Release.id == row["id"]).execute()


def _holds(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    """Legal holds become one hold per matter covering several patients (tables hold and held_patient), and charts
    get "do not purge" marks. A hold in the schema-1 legal_hold table (one patient a row) is carried over as it
    was, placed, lifted or not, so that no held chart loses its hold; then that table goes."""
    import datetime

    from recdesk.vault import crypto, seals
    from recdesk.vault.models import DoNotPurge, HeldPatient, LegalHold

    db.create_tables([LegalHold, HeldPatient, DoNotPurge], safe=True)
    if "legal_hold" not in db.get_tables():
        return
    rows = db.execute_sql("SELECT uuid, created_at, patient_id, placed_by_id, released_at, released_by_id "
                          "FROM legal_hold ORDER BY id").fetchall()
    key = master.sub("desk-fields")
    for uid, created, patient_id, placed_by, released_at, released_by in rows:
        created = created if isinstance(created, datetime.datetime) else datetime.datetime.fromisoformat(created)
        if isinstance(released_at, str):
            released_at = datetime.datetime.fromisoformat(released_at)
        hold = LegalHold.create(uuid=uid, created_at=created, basis="litigation", starts_on=created.date(),
                                placed_by=placed_by, lifted_at=released_at, lifted_by=released_by,
                                matter_enc=crypto.seal(key, "legal_hold", "matter", uid,
                                                       "legal hold placed before schema 10 (matter not recorded)"))
        HeldPatient.create(hold=hold.id, patient=patient_id, created_at=created)
    for model in (LegalHold, HeldPatient):
        seals.reseal_all(master, model)
    db.execute_sql('DROP TABLE "legal_hold"')


def _destruction_register(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    from recdesk.vault.models import DestructionEntry

    db.create_tables([DestructionEntry], safe=True)


def _assignments(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    from recdesk.vault.models import PatientAssignment

    db.create_tables([PatientAssignment], safe=True)  # step 8 made it already on a desk sealed by this recdesk


PURGE_BATCH_COLUMNS = ("number", "as_of", "selection", "archive_required", "archive_path", "archive_sha256",
                       "archived_at", "archived_by", "run_by", "witness", "cancelled_at", "cancelled_by",
                       "cancel_reason_enc", "paper_confirmed_at")
PURGE_ITEM_COLUMNS = ("rule", "retain_until", "documents", "pages", "volumes", "first_service", "last_service",
                      "why_enc", "decided_at", "seal")


def _purge_batches(migrator: SchemaMigrator, db: peewee.Database, master: MasterKey) -> None:
    """Purge batches as retention/batches.py keeps them: the certificate number, the archive, who ran it and the
    witness, cancelling; each patient's outcome sealed; the paper volumes listed before the electronic destruction.
    No batch was ever made before this step (nothing wrote the schema-1 tables), so its statuses map one to one."""
    from playhouse.migrate import migrate

    from recdesk.vault import seals
    from recdesk.vault.models import PurgeBatch, PurgeItem, PurgeVolume

    _add_columns(migrator, db, PurgeBatch, PURGE_BATCH_COLUMNS)
    _add_columns(migrator, db, PurgeItem, PURGE_ITEM_COLUMNS)
    if not any(i.columns == ["batch_id", "patient_uuid"] for i in db.get_indexes("purge_item")):
        migrate(migrator.add_index("purge_item", ("batch_id", "patient_uuid"), True))
    db.create_tables([PurgeVolume], safe=True)
    PurgeBatch.update(status="prepared").where(PurgeBatch.status == "draft").execute()
    PurgeBatch.update(status="destroyed").where(PurgeBatch.status == "executed").execute()
    for model in (PurgeBatch, PurgeItem):
        seals.reseal_all(master, model)


MIGRATIONS: dict[int, tuple[str, Step]] = {
    2: ("index the audit trail by user, for last-patient recall and review", _audit_by_user),
    3: ("document intake: file names, receipt, quarantine, QA; misfile history", _intake),
    4: ("record the blind-index version (new kinds need `recdesk reindex`)", _index_version),
    5: ("release workflow history and fees; pull-list picking; chart assembly", _workflows),
    6: ("operating times on encounters; the checklist item a deficiency marks", _surgery_and_items),
    7: ("accounting suspensions asked by oversight agencies and law enforcement (D5)", _suspensions),
    8: ("integrity seals on the rows that grant access or hold a restriction; stray audit events set aside",
        _seals),
    9: ("the release packet's description in its own column, copied from the history of packets built before",
        _packet_descriptions),
    10: ("legal holds by matter over several patients (basis, dates, lifting with a reason); do-not-purge marks",
         _holds),
    11: ("the destruction register: what a purge destroyed, when, by which batch and certificate",
         _destruction_register),
    12: ("assignments of desk users to restricted patients (a standing need to open them, X3)", _assignments),
    13: ("purge batches: certificate numbers, archives, runs and witnesses, sealed outcomes, paper volumes to shred",
         _purge_batches),
}


def latest() -> int:
    return max([BASE_VERSION, *MIGRATIONS])


def _tables(db: peewee.Database) -> dict[str, str]:
    return dict(db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())


def _broken_foreign_keys(db: peewee.Database, before: dict[str, str]) -> bool:
    """Check the foreign keys of the tables a step rebuilt and of those that point at them, not all of them:
    on a desk of a million patients a whole-database check takes minutes."""
    after = _tables(db)
    changed = {name for name, sql in after.items() if before.get(name) != sql}
    if not changed:
        return False
    pointing = {name for name in after
                if any(row[2] in changed for row in db.execute_sql(f'PRAGMA foreign_key_list("{name}")').fetchall())}
    return any(db.execute_sql(f'PRAGMA foreign_key_check("{name}")').fetchall() for name in changed | pointing)


def upgrade(db: peewee.Database, current: int, master: MasterKey) -> list[str]:
    """Bring a desk from `current` to the latest version; returns what was applied."""
    from recdesk.vault.models import DeskInfo

    target = latest()
    if current > target:
        raise DeskError(
            f"this desk's schema is version {current}, newer than this recdesk ({target}): upgrade recdesk"
        )
    applied = []
    from playhouse.migrate import SchemaMigrator

    migrator = SchemaMigrator.from_database(db)
    sqlite = isinstance(db, peewee.SqliteDatabase)
    if sqlite:
        # SQLite rebuilds a table to change a column; with foreign keys on, dropping the old copy would
        # cascade-delete every child row. Off for the rebuild, then checked before commit.
        db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        for version in range(current + 1, target + 1):
            description, step = MIGRATIONS[version]
            with db.atomic():
                before = _tables(db) if sqlite else {}
                step(migrator, db, master)
                if sqlite and _broken_foreign_keys(db, before):
                    raise DeskError(f"schema step {version} ({description}) broke foreign keys: not applied")
                DeskInfo.update(schema_version=version).execute()
            applied.append(f"{version}: {description}")
    finally:
        if sqlite:
            db.execute_sql("PRAGMA foreign_keys = ON")
    return applied
