"""The destruction register's table arrives by schema upgrade on a desk made before it (both backends)."""

import datetime

from recdesk.desk import Desk
from recdesk.patients.registry import PatientDetails, register
from recdesk.retention import register as destruction
from recdesk.retention import shredding
from recdesk.vault import audit, migrations
from recdesk.vault.models import DestructionEntry, Patient


def test_a_schema_9_desk_gets_the_destruction_register_on_open(make_config):
    desk, manager = Desk.create(make_config(), "boss")
    uid = Patient.get_by_id(register(desk, manager, PatientDetails(
        mrn="424242", last="Upgradeson", first="Ola", dob=datetime.date(1944, 4, 4)))).uuid
    # Back to schema 9: no register table.
    desk.db.execute_sql('DROP TABLE "destruction_entry"')
    desk.db.execute_sql("UPDATE desk_info SET schema_version = 9")
    home = desk.config.home
    desk.config.save()
    desk.close()
    with Desk.open(home) as upgraded:
        assert upgraded.db.execute_sql("SELECT schema_version FROM desk_info").fetchone()[0] == migrations.latest()
        assert "destruction_entry" in upgraded.db.get_tables()
        assert {"patient_uuid", "mrn_token", "entry_enc", "destroyed_on", "batch_uuid", "certificate_no",
                "pending_blobs"} <= {c.name for c in upgraded.db.get_columns("destruction_entry")}
        boss = upgraded.sign_on("boss")
        shredding.shred(upgraded, boss, uid, batch_uuid="b" * 32, certificate_no="CD-1")
        assert destruction.find(upgraded, boss, "424242").last == "Upgradeson"
        assert DestructionEntry.select().count() == 1 and audit.verify(upgraded).intact


def test_the_register_step_run_twice_changes_nothing(desk_and_manager):
    desk, _ = desk_and_manager
    _, step = migrations.MIGRATIONS[10]
    from playhouse.migrate import SchemaMigrator

    with desk.db.atomic():
        step(SchemaMigrator.from_database(desk.db), desk.db, desk.master)
    assert "destruction_entry" in desk.db.get_tables()
