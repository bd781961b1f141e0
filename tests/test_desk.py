"""The desk on both backends: registering, searching, auditing, read-only supervisors, migrations, tampering."""

import datetime
import signal
import subprocess
import sys
import textwrap

import peewee
import pytest

from recdesk import users
from recdesk.desk import Desk
from recdesk.errors import AccessDenied, DeskError, TamperError
from recdesk.patients import registry, search
from recdesk.vault import audit, crypto, migrations
from recdesk.vault.models import AuditEvent, Deficiency, Encounter, Patient, PatientToken, User
from tests.conftest import run_cli

ROSTER = [
    ("100234", "Smith", "John", "1962-03-04", "1234"),
    ("100235", "Smith", "Joanna", "1970-11-02", "5678"),
    ("100236", "Smyth", "Jonas", "1981-01-30", "1111"),
    ("72248", "O'Brien", "Siobhán", "1990-07-15", "2222"),
    ("100238", "García-López", "José", "1955-05-05", "3333"),
    ("100239", "Nguyễn", "Thị", "2010-09-09", ""),
]


def _register(desk, actor):
    for mrn, last, first, dob, last4 in ROSTER:
        registry.register(desk, actor, registry.PatientDetails(
            mrn=mrn, last=last, first=first, dob=datetime.date.fromisoformat(dob), sex="F", ssn_last4=last4,
            phone="(555) 010-" + mrn[-4:], address={"street": "1 Main St", "city": "Austin"},
        ))


def names(hits):
    return [(h.patient.last, h.patient.first, h.match) for h in hits]


@pytest.fixture
def roster(desk_and_manager):
    desk, actor = desk_and_manager
    _register(desk, actor)
    return desk, actor


@pytest.mark.parametrize("query,expected", [
    ("smith", [("Smith", "Joanna", "exact"), ("Smith", "John", "exact"), ("Smyth", "Jonas", "phonetic")]),
    ("smith,jo", [("Smith", "Joanna", "exact"), ("Smith", "John", "exact"), ("Smyth", "Jonas", "phonetic")]),
    ("smith,joh", [("Smith", "John", "exact")]),
    ("sm", [("Smith", "Joanna", "prefix"), ("Smith", "John", "prefix"), ("Smyth", "Jonas", "prefix")]),
    ("o'brien", [("O'Brien", "Siobhán", "exact")]),
    ("obrien,siobhan", [("O'Brien", "Siobhán", "exact")]),
    ("garcia", [("García-López", "José", "exact")]),
    ("lopez,jose", [("García-López", "José", "exact")]),
    ("nguyen", [("Nguyễn", "Thị", "exact")]),
    ("100234", [("Smith", "John", "exact")]),
    ("0072248", [("O'Brien", "Siobhán", "exact")]),
    ("zzz", []),
])
def test_search_by_name_and_mrn(roster, query, expected):
    desk, actor = roster
    assert names(search.search(desk, actor, query)) == expected


def test_search_json_row_contract(roster):
    desk, actor = roster
    (hit,) = search.search(desk, actor, "100234")
    assert hit.as_row() == {"mrn": "100234", "last": "Smith", "first": "John", "middle": "", "dob": "1962-03-04",
                            "sex": "F", "ssn_last4": "1234", "flags": []}


def test_search_is_audited_with_the_query_encrypted(roster):
    desk, actor = roster
    search.search(desk, actor, "smith,jo")
    event = AuditEvent.select().order_by(AuditEvent.seq.desc()).get()
    assert event.action == "patient.search" and event.user_name == "boss"
    assert b"smith" not in bytes(event.details_enc)
    assert audit.details(desk, event)["query"] == "smith,jo"


def test_no_identifier_is_stored_in_plaintext(roster):
    desk, _ = roster
    row = Patient.select().first()
    stored = b"".join(bytes(getattr(row, f)) for f in ("mrn_enc", "last_enc", "first_enc", "dob_enc"))
    for mrn, last, first, dob, _ in ROSTER:
        for value in (mrn, last, first, dob):
            assert value.encode() not in stored
    assert PatientToken.select().count() > 6 * 10


def test_every_registration_is_audited_and_the_chain_verifies(roster):
    desk, _ = roster
    assert AuditEvent.select().where(AuditEvent.action == "patient.register").count() == len(ROSTER)
    assert audit.verify(desk).intact


def test_ciphertext_copied_onto_another_row_is_reported_as_tampering(roster):
    desk, _ = roster
    a, b = list(Patient.select().order_by(Patient.id).limit(2))
    Patient.update(last_enc=a.last_enc).where(Patient.id == b.id).execute()
    with pytest.raises(TamperError, match="tampering"):
        registry.decrypt(desk, Patient.get_by_id(b.id))


@pytest.mark.parametrize("how", ["alter", "delete_middle", "delete_last", "cut_and_repoint_head", "insert_outside"])
def test_audit_verify_names_the_first_broken_link(roster, how):
    from recdesk.vault.models import AuditHead

    desk, _ = roster
    events = list(AuditEvent.select().order_by(AuditEvent.seq))
    target = events[3]
    if how == "cut_and_repoint_head":  # no key needed: the earlier event's hash is in the table
        AuditEvent.delete().where(AuditEvent.seq == events[-1].seq).execute()
        AuditHead.update(seq=events[-2].seq, hash=events[-2].hash).execute()
        expected = events[-1].seq
    elif how == "insert_outside":
        AuditEvent.insert(seq=0, at=events[0].at, user_name="mallory", session="x", action="chart.open.sensitive",
                          object="", patient="", prev_hash="", hash="").execute()
        expected = 0
    elif how == "alter":
        AuditEvent.update(user_name="mallory").where(AuditEvent.seq == target.seq).execute()
        expected = target.seq
    elif how == "delete_middle":
        AuditEvent.delete().where(AuditEvent.seq == target.seq).execute()
        expected = target.seq
    else:
        AuditEvent.delete().where(AuditEvent.seq == events[-1].seq).execute()
        expected = events[-1].seq
    report = audit.verify(desk)
    assert not report.intact
    assert report.broken_seq == expected


def test_supervisor_session_cannot_write_even_bypassing_the_services(make_config):
    desk, actor = Desk.create(make_config(), "boss")
    _register(desk, actor)
    users.add(desk, actor, "sue", "supervisor")
    home = desk.config.home
    desk.config.save()
    desk.close()
    with Desk.open(home, readonly=True) as ro:
        sup = ro.sign_on("sue")
        with pytest.raises(peewee.DatabaseError, match="(?i)read.?only"):
            with ro.db.atomic():
                Patient.update(deceased=True).execute()
        with pytest.raises(AccessDenied):
            ro.write()
        # The supervisor's views are still audited, through a connection that can only append to the chain.
        hits = search.search(ro, sup, "smith")
        assert hits
        if not ro.is_postgres:
            with pytest.raises(peewee.DatabaseError):
                Patient.update(deceased=True).execute(ro.audit_db)
        assert audit.verify(ro).intact
        assert AuditEvent.select().order_by(AuditEvent.seq.desc()).get().user_name == "sue"
    with Desk.open(home):
        assert not Patient.select().where(Patient.deceased).exists()


def test_read_only_session_refuses_non_supervisors(make_config):
    desk, _ = Desk.create(make_config(), "boss")
    home = desk.config.home
    desk.close()
    with Desk.open(home, readonly=True) as ro, pytest.raises(AccessDenied):
        ro.sign_on("boss")


def test_disabled_and_unknown_users_are_refused(desk_and_manager):
    desk, actor = desk_and_manager
    users.add(desk, actor, "ann", "clerk")
    users.disable(desk, actor, "ann")
    with pytest.raises(AccessDenied, match="disabled"):
        desk.sign_on("ann")
    with pytest.raises(AccessDenied, match="not a desk user"):
        desk.sign_on("nobody")


def test_clerks_cannot_manage_users(desk_and_manager):
    desk, actor = desk_and_manager
    users.add(desk, actor, "ann", "clerk")
    with pytest.raises(AccessDenied):
        users.add(desk, desk.sign_on("ann"), "bob", "clerk")
    assert not User.select().where(User.name == "bob").exists()


def test_ssh_key_is_stored_with_its_fingerprint(desk_and_manager):
    desk, actor = desk_and_manager
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    line = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    users.add(desk, actor, "ann", "clerk", ssh_keys=[line + " ann@thin-client"])
    (row,) = [r for r in users.listing(desk, actor) if r["name"] == "ann"]
    assert row["ssh_keys"] == [users.fingerprint(line)]
    assert row["ssh_keys"][0].startswith("SHA256:")
    with pytest.raises(DeskError, match="another desk user"):
        users.add(desk, actor, "bob", "clerk", ssh_keys=[line])
    with pytest.raises(DeskError, match="SSH public key"):
        users.add(desk, actor, "cat", "clerk", ssh_keys=["ssh-ed25519 not-base64!"])


def test_bad_patient_input_is_refused_and_nothing_is_written(desk_and_manager):
    desk, actor = desk_and_manager
    before = AuditEvent.select().count()
    with pytest.raises(DeskError, match="digits"):
        registry.register(desk, actor, registry.PatientDetails(mrn="12A", last="X", first="Y",
                                                               dob=datetime.date(2000, 1, 1)))
    assert Patient.select().count() == 0
    assert AuditEvent.select().count() == before


def test_a_desk_created_today_opens_after_tomorrows_schema_change(make_config, monkeypatch):
    desk, actor = Desk.create(make_config(), "boss")
    _register(desk, actor)
    home = desk.config.home
    desk.config.save()
    desk.close()

    def add_preferred_language(migrator, db, master):
        from playhouse.migrate import migrate

        migrate(migrator.add_column("patient", "preferred_language", peewee.CharField(default="")))

    monkeypatch.setitem(migrations.MIGRATIONS, migrations.latest() + 1,
                        ("patients' preferred language", add_preferred_language))
    with pytest.raises(DeskError, match=f"schema {migrations.latest() - 1}"):
        Desk.open(home, readonly=True)
    with Desk.open(home) as upgraded:
        columns = [c.name for c in upgraded.db.get_columns("patient")]
        assert "preferred_language" in columns
        version = upgraded.db.execute_sql("SELECT schema_version FROM desk_info").fetchone()[0]
        assert version == migrations.latest()
        assert names(search.search(upgraded, upgraded.sign_on("boss"), "100234")) == [("Smith", "John", "exact")]


def test_wrong_master_key_is_refused(make_config, tmp_path):
    config = make_config()
    desk, _ = Desk.create(config, "boss")
    desk.close()
    import base64
    import os

    config.key_file.chmod(0o600)
    config.key_file.write_bytes(base64.b64encode(os.urandom(32)))
    with pytest.raises(DeskError, match="wrong master key"):
        Desk.open(config.home)


def test_field_cipher_uses_the_patients_own_key(roster):
    desk, _ = roster
    a, b = list(Patient.select().order_by(Patient.id).limit(2))
    assert desk.dek(a) != desk.dek(b)
    with pytest.raises(TamperError):
        crypto.open_text(desk.dek(b), "patient", "last", a.uuid, a.last_enc)


def test_doctor_reports_a_moved_ciphertext_as_tampering(roster):
    from recdesk import doctor

    desk, _ = roster
    a, b = list(Patient.select().order_by(Patient.id).limit(2))
    Patient.update(first_enc=a.first_enc).where(Patient.id == b.id).execute()
    desk.config.save()
    report = doctor.run(desk.config.home)
    assert not report.passed
    (line,) = [text for ok, text in report.lines if not ok]
    assert line.startswith("fields: patient.first of row " + b.uuid) and "tampering" in line


INTAKE_COLUMNS = ["name_enc", "received_at", "quarantine_reason", "qa_by_id", "qa_at", "qa_reason", "legible"]


def test_a_version_1_desk_is_upgraded_step_by_step(make_config, monkeypatch):
    monkeypatch.setattr(migrations, "SEALED_MARK", "desk.note")  # an old desk: its rows were never sealed
    desk, actor = Desk.create(make_config(), "boss")
    monkeypatch.undo()
    _register(desk, actor)
    home = desk.config.home
    # Take the desk back to schema 1: no audit index by user, no intake columns, no move history.
    (index,) = [i for i in desk.db.get_indexes("audit_event") if i.columns == ["user_name", "action", "seq"]]
    desk.db.execute_sql(f'DROP INDEX "{index.name}"')
    for column in INTAKE_COLUMNS:
        if column != "qa_by_id" or desk.is_postgres:  # SQLite cannot drop a foreign-key column
            desk.db.execute_sql(f'ALTER TABLE "document" DROP COLUMN "{column}"')
    desk.db.execute_sql('DROP TABLE "document_move"')
    desk.db.execute_sql('ALTER TABLE "desk_info" DROP COLUMN "index_version"')
    for table in ("release_event", "pull_item", "assembly_item", "accounting_suspension"):
        desk.db.execute_sql(f'DROP TABLE "{table}"')
    for column in ("extension_notice_on", "fee_json", "packet_password_enc", "packet_description_enc"):
        desk.db.execute_sql(f'ALTER TABLE "release" DROP COLUMN "{column}"')
    # a stay and its deficiency from before schema 6: no operating times, no checklist item
    with desk.write():
        patient = Patient.select().order_by(Patient.id).first()
        stay = Encounter.create(patient=patient, kind="inpatient", admit_at=datetime.datetime(2026, 10, 5, 10))
        Deficiency.create(patient=patient, encounter=stay, kind="missing_hp")
    for column in ("surgery_at", "surgery_end_at"):
        desk.db.execute_sql(f'ALTER TABLE "encounter" DROP COLUMN "{column}"')
    desk.db.execute_sql('ALTER TABLE "deficiency" DROP COLUMN "item"')
    desk.db.execute_sql("UPDATE desk_info SET schema_version = 1")
    desk.close()
    with Desk.open(home) as upgraded:
        indexes = [i.columns for i in upgraded.db.get_indexes("audit_event")]
        assert ["user_name", "action", "seq"] in indexes
        assert set(INTAKE_COLUMNS) <= {c.name for c in upgraded.db.get_columns("document")}
        assert {"document_move", "release_event", "pull_item", "assembly_item",
                "accounting_suspension"} <= set(upgraded.db.get_tables())
        assert {"fee_json", "packet_description_enc"} <= {c.name for c in upgraded.db.get_columns("release")}
        assert {"surgery_at", "surgery_end_at"} <= {c.name for c in upgraded.db.get_columns("encounter")}
        assert "item" in {c.name for c in upgraded.db.get_columns("deficiency")}
        (old_stay,) = Encounter.select()
        assert (old_stay.surgery_at, old_stay.surgery_end_at) == (None, None)
        assert [(d.kind, d.item) for d in Deficiency.select()] == [("missing_hp", "")]  # backfilled: none
        assert upgraded.db.execute_sql("SELECT schema_version FROM desk_info").fetchone()[0] == migrations.latest()
        assert names(search.search(upgraded, upgraded.sign_on("boss"), "100234")) == [("Smith", "John", "exact")]


def test_reindex_brings_an_older_search_index_up_to_date(roster):
    from recdesk.vault.blindindex import INDEX_VERSION, KINDS
    from recdesk.vault.models import DeskInfo

    desk, actor = roster
    kind = KINDS["last_prefix_first"][0]
    expected = names(search.find(desk, "smi,jo"))
    # A desk from before this kind existed: its tokens lack it, and the desk says so.
    PatientToken.delete().where(PatientToken.kind == kind).execute()
    DeskInfo.update(index_version=1).execute()
    desk.index_version = 1
    assert names(search.find(desk, "smi,jo")) == expected  # the older reading still finds them
    assert registry.reindex(desk, actor) == len(ROSTER)
    assert desk.index_version == INDEX_VERSION == DeskInfo.get().index_version
    assert PatientToken.select().where(PatientToken.kind == kind).count() >= len(ROSTER) - 1
    assert names(search.find(desk, "smi,jo")) == expected
    assert registry.reindex(desk, actor) == 0  # nothing left to add


# --- init after a kill -------------------------------------------------------------------------------------------

KILLED_INIT = textwrap.dedent("""
    import os, signal, sys
    from recdesk import cli, config, desk
    from recdesk.vault import keys

    point = sys.argv[1]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def after(module, name):
        original = getattr(module, name)

        def wrapped(*args, **kwargs):
            result = original(*args, **kwargs)
            die()
            return result
        setattr(module, name, wrapped)

    if point == "settings":
        after(config.Config, "save")
    elif point == "key":
        after(keys, "create")
    elif point == "database":  # committed, the store made; no host key, no config.toml
        desk.write_host_key = lambda path: die()
    else:  # everything but the rename of config.toml.creating
        after(desk, "write_host_key")
    sys.exit(cli.main(sys.argv[2:]))
""")


@pytest.mark.parametrize("point", ["settings", "key", "database", "host_key"])
def test_init_killed_at_any_point_is_finished_by_running_it_again(tmp_path, backend, request, point):
    home, key = tmp_path / "desk", tmp_path / "master.key"
    args = ["--home", str(home), "init", "--key-file", str(key), "--manager", "boss"]
    if backend == "postgres":
        args += ["--database", request.getfixturevalue("pg_url")]
    killed = subprocess.run([sys.executable, "-c", KILLED_INIT, point, *args], capture_output=True, text=True,
                            timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (home / "config.toml").exists()
    stuck = run_cli("search", "smith", home=home)
    assert stuck.returncode == 2 and "run the same `recdesk init` again to finish it" in stuck.stderr
    again = run_cli(*args[2:], home=home)
    assert again.returncode == 0, again.stderr
    assert "finished" in again.stdout
    assert run_cli("doctor", home=home).returncode == 0
    assert run_cli("audit", "verify", home=home).returncode == 0
    with Desk.open(home) as desk:
        assert [u.name for u in User.select()] == ["boss"]
        assert AuditEvent.select().where(AuditEvent.action == "desk.init").count() == 1
        assert desk.local_actor().user_name == "boss"
    assert not (home / "config.toml.creating").exists()


def test_a_failed_init_leaves_nothing_so_a_corrected_rerun_starts_clean(tmp_path, pg_url):
    import psycopg

    home, key = tmp_path / "desk", tmp_path / "master.key"
    run_cli("init", "--key-file", str(tmp_path / "other.key"), "--database", pg_url, home=tmp_path / "first",
            check=True)
    taken = run_cli("init", "--key-file", str(key), "--database", pg_url, home=home)
    assert taken.returncode == 2 and "already holds a desk" in taken.stderr
    assert not key.exists() and not (home / "config.toml.creating").exists()
    schema = pg_url.rsplit("%3D", 1)[1]
    with psycopg.connect(pg_url.split("?")[0], autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}_2")
    try:
        other = pg_url.replace(f"%3D{schema}", f"%3D{schema}_2")
        assert run_cli("init", "--key-file", str(key), "--database", other, home=home).returncode == 0
    finally:
        with psycopg.connect(pg_url.split("?")[0], autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema}_2 CASCADE")


def test_user_list_is_for_managers_and_supervisors_see_no_key_fingerprints(desk_and_manager):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    desk, manager = desk_and_manager
    line = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    users.add(desk, manager, "ann", "clerk", ssh_keys=[line])
    users.add(desk, manager, "sue", "supervisor")
    with pytest.raises(AccessDenied):
        users.listing(desk, desk.sign_on("ann"))
    seen = {r["name"]: r for r in users.listing(desk, desk.sign_on("sue"))}
    assert (seen["ann"]["role"], seen["ann"]["keys"]) == ("clerk", 1) and "ssh_keys" not in seen["ann"]
    assert users.fingerprint(line) not in str(seen)
    assert {r["name"]: r for r in users.listing(desk, manager)}["ann"]["ssh_keys"] == [users.fingerprint(line)]


def test_a_role_refusal_names_who_tried_which_action_and_is_recorded(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    ann = desk.sign_on("ann")
    with pytest.raises(AccessDenied) as caught:
        users.disable(desk, ann, "boss")
    assert (caught.value.actor, caught.value.attempted, caught.value.needs) == (ann, "users.disable", ("manager",))
    audit.refusal(desk, caught.value)
    (event,) = AuditEvent.select().where(AuditEvent.action == "access.denied")
    assert (event.user_name, event.object) == ("ann", "action:users.disable")
    assert audit.details(desk, event) == {"role": "clerk", "needs": ["manager"]}
    assert audit.verify(desk).intact
