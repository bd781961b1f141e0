"""Attacks by someone who can write the desk's database but holds no master key: each is refused where the row
is used and named by `recdesk doctor` (issue 11: rows that grant access are authenticated)."""

import datetime
import shutil

import pytest

from recdesk import doctor, users
from recdesk.documents import filing
from recdesk.errors import DeskError, TamperError
from recdesk.patients import chart
from recdesk.patients.chart import PurposeRequired
from recdesk.patients.registry import PatientDetails, register
from recdesk.release import accounting, packets, requests
from recdesk.vault import audit, seals
from recdesk.vault.models import (
    AuditEvent,
    AuditHead,
    AuditStray,
    Authorization,
    Document,
    Patient,
    Release,
    SshKey,
    User,
)
from tests.conftest import run_cli
from tests.test_roi import form, log_request, pdf

KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGc5ZsOnc1IT3d7bpcSzv8Z8nUuXnhFBdl6kBd+jN8Ro ann@thin"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBhO8Z56W6XwH35e2/uKjg2vPJ7xVx0FJbUKZSVSTQcN eve@laptop"


@pytest.fixture
def office(desk_and_manager):
    desk, boss = desk_and_manager
    users.add(desk, boss, "ann", "clerk", ssh_keys=[KEY_A])
    a = register(desk, boss, PatientDetails(mrn="100234", last="Avery", first="Ann", dob=datetime.date(1960, 1, 1)))
    b = register(desk, boss, PatientDetails(mrn="200345", last="Baker", first="Bo", dob=datetime.date(1970, 2, 2),
                                            sensitive=True))
    return desk, boss, desk.sign_on("ann"), Patient.get_by_id(a), Patient.get_by_id(b)


def failures(desk_or_home) -> list[str]:
    home = getattr(getattr(desk_or_home, "config", None), "home", desk_or_home)
    report = doctor.run(home)
    return [text for ok, text in report.lines if not ok]


def sql(desk, statement: str, *params) -> None:
    """A write made straight to the database, as an attacker (or a careless DBA) would, without recdesk."""
    desk.db.execute_sql(statement.replace("?", desk.db.param), params)


def test_a_healthy_desk_has_every_sealed_row_sealed(office):
    desk, *_ = office
    assert failures(desk) == []
    checked, failing, _ = seals.broken(desk)
    assert checked >= 5 and failing == 0


def test_a_role_raised_in_the_database_is_refused_at_sign_on_and_named_by_doctor(office):
    desk, *_ = office
    sql(desk, 'UPDATE "user" SET role = ? WHERE name = ?', "manager", "ann")
    with pytest.raises(TamperError, match="user ann fails its integrity seal"):
        desk.sign_on("ann")
    assert any("seals: user ann was changed outside recdesk" in line for line in failures(desk))


def test_a_disabled_user_enabled_in_the_database_stays_out(office):
    desk, boss, *_ = office
    users.disable(desk, boss, "ann")
    sql(desk, 'UPDATE "user" SET disabled = ? WHERE name = ?', False, "ann")
    with pytest.raises(TamperError):
        desk.sign_on("ann")


def test_a_disabled_user_put_back_with_the_old_row_and_seal_stays_out(office):
    desk, boss, *_ = office
    before = User.get(User.name == "ann")
    users.disable(desk, boss, "ann")
    sql(desk, 'UPDATE "user" SET disabled = ?, disabled_at = NULL, seal = ? WHERE name = ?', False, before.seal,
        "ann")
    seals.check(desk, User.get(User.name == "ann"))  # a replayed seal authenticates: the trail keeps her out
    with pytest.raises(DeskError, match="disabled"):
        desk.sign_on("ann")


def test_an_ssh_key_inserted_for_the_manager_does_not_sign_on(office):
    desk, boss, *_ = office
    fingerprint = users.fingerprint(KEY_B)
    boss_id = User.get(User.name == "boss").id
    # Unsealed, and then with a seal copied from a genuine key row: both refused.
    sql(desk, "INSERT INTO ssh_key (user_id, public_key, fingerprint, added_at) VALUES (?, ?, ?, ?)",
        boss_id, KEY_B, fingerprint, datetime.datetime(2026, 1, 1))
    with pytest.raises(TamperError, match="ssh_key"):
        users.key_owner(desk, fingerprint)
    genuine = SshKey.get(SshKey.fingerprint == users.fingerprint(KEY_A))
    sql(desk, "UPDATE ssh_key SET seal = ? WHERE fingerprint = ?", genuine.seal, fingerprint)
    with pytest.raises(TamperError, match="ssh_key"):
        users.key_owner(desk, fingerprint)
    # Moving ann's own key onto the manager is refused too (the seal binds a key to its user's name).
    sql(desk, "DELETE FROM ssh_key WHERE fingerprint = ?", fingerprint)
    sql(desk, "UPDATE ssh_key SET user_id = ? WHERE id = ?", boss_id, genuine.id)
    with pytest.raises(TamperError):
        users.key_owner(desk, genuine.fingerprint)
    assert any(line.startswith("seals: ssh_key") for line in failures(desk))


def test_a_genuine_key_still_signs_on(office):
    desk, *_ = office
    key, user = users.key_owner(desk, users.fingerprint(KEY_A))
    assert user.name == "ann" and key.public_key == KEY_A


def test_a_restricted_flag_cleared_in_the_database_does_not_open_the_chart_without_a_purpose(office):
    desk, _, ann, _, restricted = office
    with pytest.raises(chart.BreakGlassRequired):
        chart.open_chart(desk, ann, restricted.uuid)
    sql(desk, "UPDATE patient SET sensitive = ? WHERE id = ?", False, restricted.id)
    with pytest.raises(TamperError, match=f"patient {restricted.uuid}"):
        chart.open_chart(desk, ann, restricted.uuid)
    assert any(f"patient {restricted.uuid}" in line for line in failures(desk))


def test_two_patients_swapped_whole_are_found(office):
    desk, _, _, a, b = office
    columns = [c.name for c in desk.db.get_columns("patient") if c.name != "id"]
    rows = {r.id: r for r in Patient.select().where(Patient.id.in_([a.id, b.id]))}

    def put(row_id, source):
        sets = ", ".join(f'"{c}" = ?' for c in columns)
        values = [getattr(source, Patient._meta.columns[c].name) for c in columns]
        sql(desk, f"UPDATE patient SET {sets} WHERE id = ?", *values, row_id)

    sql(desk, "UPDATE patient SET uuid = ? WHERE id = ?", "swap" + a.uuid[4:], a.id)  # out of the way of UNIQUE
    put(b.id, rows[a.id])
    put(a.id, rows[b.id])
    found = failures(desk)
    assert any(line.startswith("seals: patient") for line in found)


def test_a_sensitive_document_retyped_in_the_database_is_not_offered_for_release(office):
    desk, _, ann, patient, _ = office
    with desk.write():
        note = filing.file_document(desk, ann, patient, pdf(1, "Session notes"), doc_type="psychotherapy_note",
                                       title="Session", pages=1, service_date=datetime.date(2025, 4, 1),
                                       qa_state="passed")
    (release,) = log_request(desk, ann, form())
    flagged = {c.uuid: c for c in packets.candidates(desk, ann, release.uuid)}[note.uuid]
    assert flagged.flags  # psychotherapy notes are flagged for the clerk
    sql(desk, "UPDATE document SET doc_type = ?, sensitive_tags = ? WHERE id = ?", "lab_result", "", note.id)
    with pytest.raises(TamperError, match=f"document {note.uuid}"):
        packets.candidates(desk, ann, release.uuid)
    assert any(f"seals: document {note.uuid}" in line for line in failures(desk))


def test_a_release_moved_straight_to_qa_in_the_database_goes_nowhere(office):
    desk, _, ann, patient, _ = office
    (release,) = log_request(desk, ann, form())
    with desk.write():
        fake = filing.file_document(desk, ann, patient, pdf(1, "Not a packet"), doc_type="release_packet",
                                       title="packet", pages=1, service_date=datetime.date(2026, 1, 1),
                                       source="generated", qa_state="passed")
    sql(desk, "UPDATE release SET status = ?, packet_id = ? WHERE id = ?", "qa", fake.id, release.id)
    with pytest.raises(TamperError, match=f"release {release.uuid}"):
        packets.release_packet(desk, ann, release.uuid)
    with pytest.raises(TamperError):
        packets.qa_packet(desk, ann, release.uuid, True)
    assert Release.get(Release.uuid == release.uuid).status == "qa"  # nothing moved it on
    assert any(f"seals: release {release.uuid}" in line for line in failures(desk))


def test_a_revocation_cleared_in_the_database_is_refused_by_the_validator(office):
    desk, _, ann, *_ = office
    (release,) = log_request(desk, ann, form())
    auth = Authorization.get(Authorization.release == release.id)
    sql(desk, 'UPDATE "authorization" SET expires_on = ? WHERE id = ?', datetime.date(2099, 1, 1), auth.id)
    with pytest.raises(TamperError, match=f"authorization {auth.uuid}"):
        requests.validate(desk, ann, release)


def test_the_accounting_cannot_be_rewritten_in_the_database(office):
    from recdesk.vault.models import AccountingSuspension, Disclosure

    desk, _, ann, patient, _ = office
    d = accounting.record_disclosure(desk, ann, patient.uuid, disclosed_on=datetime.date(2026, 11, 2),
                              recipient="County Health Dept", address="1 Main St", description="TB report",
                              purpose="public_health", basis="public_health")
    accounting.suspend_accounting(desk, ann, patient.uuid, agency="State AG", starts_on=datetime.date(2026, 11, 1),
                           written=True, ends_on=datetime.date(2027, 6, 1))
    sql(desk, "UPDATE disclosure SET accountable = ? WHERE uuid = ?", False, d.uuid)
    with pytest.raises(TamperError, match=f"disclosure {d.uuid}"):
        accounting.accounting(desk, ann, patient.uuid)
    sql(desk, "DELETE FROM accounting_suspension")
    found = failures(desk)
    assert any(f"seals: disclosure {d.uuid}" in line for line in found)
    assert any(line.startswith("rows: 1 accounting_suspension row(s)") for line in found)
    assert AccountingSuspension.select().count() == 0 and Disclosure.select().count() == 1


def test_doctor_checks_request_and_authorization_ciphertexts(office):
    desk, _, ann, *_ = office
    first, second = log_request(desk, ann, form()), log_request(desk, ann, form())
    a = Authorization.get(Authorization.release == first[0].id)
    b = Authorization.get(Authorization.release == second[0].id)
    sql(desk, 'UPDATE "authorization" SET elements_enc = ? WHERE id = ?', bytes(a.elements_enc), b.id)
    sql(desk, "UPDATE release_request SET requester_name_enc = ? WHERE id = ?",
        bytes(first[0].request.requester_address_enc), second[0].request_id)
    found = failures(desk)
    assert any(f"authorization.elements of row {b.uuid}" in line for line in found)
    assert any("release_request.requester_name" in line for line in found)


def test_rows_deleted_behind_the_audit_trail_are_found(office):
    desk, _, ann, patient, other = office
    with desk.write():
        doc = filing.file_document(desk, ann, patient, pdf(1, "x"), doc_type="lab_result", title="x", pages=1,
                                      service_date=datetime.date(2025, 1, 1))
    sql(desk, "DELETE FROM document WHERE id = ?", doc.id)
    sql(desk, "DELETE FROM patient_token WHERE patient_id = ?", other.id)
    sql(desk, "DELETE FROM patient WHERE id = ?", other.id)
    found = failures(desk)
    assert any(line.startswith("rows: 1 document row(s)") and doc.uuid in line for line in found)
    assert any(line.startswith("rows: 1 patient row(s)") and other.uuid in line for line in found)


def test_an_audit_row_past_the_head_is_reported_and_set_aside_and_work_goes_on(office):
    desk, boss, ann, patient, _ = office
    head = AuditHead.get().seq
    sql(desk, "INSERT INTO audit_event (seq, at, user_name, session, action, object, patient, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", head + 1, datetime.datetime(2026, 1, 1), "mallory", "x", "junk", "",
        "", "0" * 64, "0" * 64)
    report = audit.verify(desk)
    assert not report.intact and "past the sealed head" in report.reason
    assert any("past the sealed head" in line for line in failures(desk))
    # The next audited action works (before: UNIQUE constraint failed, for everyone).
    chart.open_chart(desk, ann, patient.uuid)
    assert AuditEvent.get_by_id(head + 1).action != "junk"
    assert [s.action for s in AuditStray.select()] == ["junk"]
    assert audit.verify(desk).intact
    (line,) = [f for f in failures(desk) if f.startswith("audit:")]
    assert "1 event(s) written outside recdesk" in line and f"seq {head + 1}" in line


def test_a_database_rolled_back_to_an_older_copy_is_found(make_config, backend):
    if backend == "postgres":
        pytest.skip("a PostgreSQL rollback is a restore of a dump: the file copy below is the SQLite case")
    from recdesk.desk import Desk

    desk, boss = Desk.create(make_config(), "boss")
    register(desk, boss, PatientDetails(mrn="100234", last="Avery", first="Ann", dob=datetime.date(1960, 1, 1)))
    home = desk.config.home
    desk.close()
    shutil.copy(home / "recdesk.db", home / "old.db")
    with Desk.open(home) as desk:
        users.add(desk, desk.sign_on("boss"), "eve", "clerk")  # audited after the copy was taken
    (home / "recdesk.db").unlink()
    shutil.move(home / "old.db", home / "recdesk.db")
    lines = failures(home)
    assert any("audit: chain broken" in line and "rolled back" in line for line in lines), lines
    with Desk.open(home) as desk:  # more work on the old copy does not wash the evidence away
        register(desk, desk.sign_on("boss"), PatientDetails(mrn="200345", last="B", first="C",
                                                            dob=datetime.date(1970, 1, 1)))
    result = run_cli("audit", "verify", home=home)
    assert result.returncode == 1 and "rolled back" in result.stdout
    accepted = run_cli("audit", "accept-restore", home=home)
    assert accepted.returncode == 0, accepted.stderr
    assert run_cli("audit", "verify", home=home).returncode == 0
    with Desk.open(home) as desk:
        assert AuditEvent.select().where(AuditEvent.action == "audit.restore_accepted").count() == 1


def test_accept_restore_is_refused_when_nothing_was_restored(office):
    desk, boss, *_ = office
    with pytest.raises(DeskError, match="no restore to accept"):
        audit.accept_restore(desk, boss)


def test_lowering_the_schema_version_does_not_get_tampered_rows_sealed_afresh(office):
    from recdesk.desk import Desk

    desk, *_ = office
    home = desk.config.home
    sql(desk, 'UPDATE "user" SET role = ? WHERE name = ?', "manager", "ann")
    sql(desk, "UPDATE desk_info SET schema_version = 7")
    desk.config.save()
    desk.close()
    with pytest.raises(DeskError, match="sealed before"):
        Desk.open(home)
    found = failures(home)
    assert any(line.startswith("open:") and "sealed before" in line for line in found)


@pytest.fixture
def office_of_schema_7(make_config, monkeypatch):
    """A desk as schema 7 made it: no seals, no stray table, and no mark that its rows were ever sealed."""
    from recdesk.desk import Desk
    from recdesk.vault import migrations

    monkeypatch.setattr(migrations, "SEALED_MARK", "desk.note")  # the desk is made without the mark
    desk, boss = Desk.create(make_config(), "boss")
    monkeypatch.undo()
    users.add(desk, boss, "ann", "clerk", ssh_keys=[KEY_A])
    register(desk, boss, PatientDetails(mrn="100234", last="Avery", first="Ann", dob=datetime.date(1960, 1, 1)))
    yield desk, boss, desk.sign_on("ann")
    desk.close()


def test_an_upgrade_seals_every_existing_row(office_of_schema_7):
    from recdesk.desk import Desk
    from recdesk.vault import migrations

    desk, _, ann = office_of_schema_7
    log_request(desk, ann, form())
    home = desk.config.home
    # Back to schema 7: no seals anywhere, no stray table.
    for model in seals.SEALED:
        sql(desk, f'ALTER TABLE "{model._meta.table_name}" DROP COLUMN "seal"')
    sql(desk, 'DROP TABLE "audit_stray"')
    sql(desk, "UPDATE desk_info SET schema_version = 7")
    desk.config.save()
    desk.close()
    with Desk.open(home) as upgraded:
        assert upgraded.db.execute_sql("SELECT schema_version FROM desk_info").fetchone()[0] == migrations.latest()
        checked, failing, _ = seals.broken(upgraded)
        assert failing == 0 and checked >= 6
        assert Document.select().where(Document.seal.is_null()).count() == 0
        assert failures(upgraded) == []
        upgraded.sign_on("ann")


def test_a_restricted_records_document_is_not_exported_or_read_without_a_purpose(office):
    from recdesk.documents import intake

    desk, _, ann, _, restricted = office
    with desk.write():
        doc = filing.file_document(desk, ann, restricted, pdf(1, "Psychiatry note"), doc_type="progress_note",
                                      title="note", pages=1, service_date=datetime.date(2025, 1, 1))
    with pytest.raises(chart.BreakGlassRequired):
        intake.document_bytes(desk, ann, doc.uuid, purpose="filing")  # a clerk with no need
    chart.assign(desk, desk.sign_on("boss"), "ann", restricted.uuid)
    with pytest.raises(PurposeRequired):
        intake.document_bytes(desk, ann, doc.uuid)
    before = AuditEvent.select().where(AuditEvent.action == "chart.open.sensitive").count()
    assert intake.document_bytes(desk, ann, doc.uuid, purpose="filing").startswith(b"%PDF")
    queued = AuditEvent.select().where(AuditEvent.action == "chart.open.sensitive").count()
    assert queued == before + 1  # the view is recorded as a use of the restricted record
    desk.config.save()
    refused = run_cli("intake", "export", doc.uuid, "-o", "-", home=desk.config.home)
    assert refused.returncode == 2 and "--purpose" in refused.stderr and not refused.stdout
