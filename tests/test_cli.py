"""The CLI as a person runs it: one-line errors, non-zero exits, nothing touched on a refused key."""

import base64
import hashlib
import json
import os

import pytest

from recdesk.errors import DeskError
from tests.conftest import run_cli


def _digest(home):
    out = {}
    for path in sorted(home.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(home))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "desk"
    run_cli("init", "--key-file", str(tmp_path / "master.key"), "--manager", "boss", home=home, check=True)
    return home


def test_init_then_user_commands(home, tmp_path):
    assert run_cli("user", "add", "ann", "--role", "clerk", "--full-name", "Ann Clerk", home=home).returncode == 0
    run_cli("user", "add", "sue", "--role", "supervisor", home=home, check=True)
    listed = json.loads(run_cli("user", "list", "--json", home=home, check=True).stdout)
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [
        ("ann", "clerk", False), ("boss", "manager", False), ("sue", "supervisor", False)]
    run_cli("user", "disable", "ann", home=home, check=True)
    listed = json.loads(run_cli("user", "list", "--json", home=home, check=True).stdout)
    assert listed[0]["disabled"] is True
    assert run_cli("audit", "verify", home=home).returncode == 0


def test_init_refuses_a_second_desk_in_the_same_home(home, tmp_path):
    result = run_cli("init", "--key-file", str(tmp_path / "other.key"), home=home)
    assert result.returncode == 2
    assert "already exists" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "other.key").exists()


def test_init_with_the_default_keyring_on_a_machine_without_one_says_what_to_configure(tmp_path):
    result = run_cli("init", home=tmp_path / "d", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert result.returncode == 2
    assert "key file" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "d" / "recdesk.db").exists()


@pytest.mark.parametrize("fault", ["wrong_key", "missing_key", "loose_permissions"])
def test_key_faults_give_one_line_and_leave_the_desk_byte_for_byte(home, tmp_path, fault):
    key = tmp_path / "master.key"
    before = _digest(home)
    if fault == "wrong_key":
        key.write_bytes(base64.b64encode(os.urandom(32)))
    elif fault == "missing_key":
        key.unlink()
    else:
        key.chmod(0o644)
    for args in (["search", "smith"], ["doctor"], ["audit", "verify"], ["user", "list"]):
        result = run_cli(*args, home=home)
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr + result.stdout
        message = (result.stderr or result.stdout).strip()
        expected = {"wrong_key": "wrong master key", "missing_key": "does not exist", "loose_permissions": "chmod 600"}
        assert expected[fault] in message
    assert _digest(home) == before


def test_no_desk_in_home_says_how_to_make_one(tmp_path):
    result = run_cli("search", "smith", home=tmp_path / "empty")
    assert result.returncode == 2
    assert "recdesk init" in result.stderr


def test_bad_search_input_gets_a_one_line_message(home):
    result = run_cli("search", "s", home=home)
    assert result.returncode == 2
    assert "two letters" in result.stderr and result.stderr.count("\n") == 1


def test_audit_verify_exits_1_naming_the_broken_seq(home, tmp_path):
    from recdesk.desk import Desk
    from recdesk.vault.models import AuditEvent

    run_cli("user", "add", "ann", "--role", "clerk", home=home, check=True)
    with Desk.open(home):
        AuditEvent.update(action="user.remove").where(AuditEvent.seq == 2).execute()
    result = run_cli("audit", "verify", home=home)
    assert result.returncode == 1
    assert "broken at seq 2" in result.stdout


def test_doctor_reports_a_flipped_byte_without_a_traceback(home):
    run_cli("user", "add", "ann", "--role", "clerk", home=home, check=True)
    db = home / "recdesk.db"
    raw = bytearray(db.read_bytes())
    assert len(raw) > 4096 * 4
    raw[4096 * 3 + 100] ^= 0xFF  # a byte inside the fourth page
    db.write_bytes(bytes(raw))
    result = run_cli("doctor", home=home)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "FAIL" in result.stdout
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert any("database" in line or "open" in line for line in fails)


def test_doctor_passes_on_a_healthy_desk(home):
    result = run_cli("doctor", home=home)
    assert result.returncode == 0, result.stdout
    assert "FAIL" not in result.stdout
    assert "cipher_integrity_check" in result.stdout


def test_doctor_fails_a_deleted_host_key(home):
    (home / "ssh_host_ed25519_key").unlink()
    result = run_cli("doctor", home=home)
    assert result.returncode == 1
    assert any(line.startswith("FAIL ssh:") and "host key" in line for line in result.stdout.splitlines())


def test_init_on_postgresql(tmp_path, pg_url):
    home = tmp_path / "pgdesk"
    run_cli("init", "--key-file", str(tmp_path / "pg.key"), "--manager", "boss", "--database", pg_url,
            home=home, check=True)
    assert not (home / "recdesk.db").exists()
    run_cli("user", "add", "ann", "--role", "clerk", home=home, check=True)
    result = run_cli("doctor", home=home)
    assert result.returncode == 0, result.stdout
    assert "PostgreSQL" in result.stdout


def test_the_desk_user_comes_from_the_os_account_not_the_environment(home):
    from recdesk.desk import Desk
    from recdesk.vault.models import AuditEvent

    run_cli("user", "add", "ann", "--role", "clerk", "--os-user", "ann", home=home, check=True)
    result = run_cli("search", "smith", home=home, env={"LOGNAME": "ann", "USER": "ann", "LNAME": "ann"})
    assert result.returncode == 0
    with Desk.open(home):
        last = AuditEvent.select().order_by(AuditEvent.seq.desc()).get()
    assert (last.action, last.user_name) == ("patient.search", "boss")


def test_a_forged_session_ticket_is_refused_in_one_line(home):
    result = run_cli("desk", home=home, env={"RECDESK_TICKET": "abc.é"})
    assert result.returncode == 2
    assert "session ticket is not valid" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["pull-list", "--date", "9999-12-31"], "--date: must be a date YYYY-MM-DD from 1900-01-01 to 2199-12-31"),
    (["pull-list", "--date", "31/12/2026"], "--date: must be a date YYYY-MM-DD"),
    (["pull-list", "--days", "100000000"], "a pull list covers 1 to 366 days, not 100000000"),
    (["pull-list", "--days", "0"], "--days: must be a whole number of at least 1, not '0'"),
    (["search", "smith", "--limit", "0"], "--limit: must be a whole number from 1 to 1,000"),
    (["search", "smith", "--limit", "9" * 5000], "--limit: must be a whole number from 1 to 1,000"),
    (["serve", "--port", "70000"], "--port: must be a whole number from 0 to 65,535, not '70000'"),
    (["demo", "--patients", "-5"], "--patients: must be a whole number from 1 to 2,000,000"),
    (["demo", "--patients", "lots"], "--patients: must be a whole number from 1 to 2,000,000, not 'lots'"),
    (["demo", "--seed", "1e9"], "--seed: must be a whole number from 0 to 999,999,999, not '1e9'"),
])
def test_every_cli_value_is_checked_with_one_line(home, args, message):
    result = run_cli(*args, home=home)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "unexpected" not in result.stderr and "Traceback" not in result.stderr


def test_a_pull_list_at_the_end_of_the_calendar_is_refused_by_the_service_too(home):
    import datetime

    from recdesk.desk import Desk
    from recdesk.errors import DeskError
    from recdesk.paper import pulllist

    with Desk.open(home) as desk:
        with pytest.raises(DeskError, match="starts between 1900-01-01 and 2199-12-31"):
            pulllist.build(desk, desk.local_actor(), datetime.date(9999, 12, 31), 1)
        with pytest.raises(DeskError, match="covers 1 to 366 days"):
            pulllist.build(desk, desk.local_actor(), datetime.date(2026, 1, 1), 100_000_000)


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MiB filesystem (tmpfs) that a test may fill or remount read-only; skipped where mounts are refused."""
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8M,mode=0700", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): needs root and CAP_SYS_ADMIN")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def _remount(disk, mode):
    import subprocess

    subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], check=True)


def test_a_read_only_home_is_named_not_taken_for_a_wrong_key(small_disk):
    home = small_disk / "desk"
    run_cli("init", "--key-file", str(small_disk / "master.key"), "--manager", "boss", home=home, check=True)
    _remount(small_disk, "ro")
    for args in (["search", "smith"], ["user", "add", "ann", "--role", "clerk"], ["audit", "verify"], ["doctor"]):
        result = run_cli(*args, home=home)
        out = result.stderr + result.stdout
        assert result.returncode != 0, args
        assert f"the desk's home {home} is on a read-only disk: remount it read-write" in out, args
        assert "wrong master key" not in out and "unexpected" not in out and "Traceback" not in out
    _remount(small_disk, "rw")
    assert run_cli("user", "add", "ann", "--role", "clerk", home=home).returncode == 0


def _fill(disk):
    with open(disk / "filler", "wb") as f:
        try:
            for _ in range(64):  # bounded: 8 MiB of tmpfs fills long before 64 MiB
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError as exc:
            assert exc.errno == 28  # ENOSPC
            return
    pytest.fail("the small disk never filled")


def test_a_full_disk_is_named_and_nothing_is_half_written(small_disk):
    home = small_disk / "desk"
    run_cli("init", "--key-file", str(small_disk / "master.key"), "--manager", "boss", home=home, check=True)
    _fill(small_disk)
    for args in (["user", "add", "ann", "--role", "clerk", "--full-name", "A" * 100], ["search", "smith"]):
        result = run_cli(*args, home=home)
        assert result.returncode == 2, args
        assert f"the disk holding {home} is full (or over its quota): free space and retry" in result.stderr
        assert "unexpected" not in result.stderr and "cannot rollback" not in result.stderr
        assert result.stderr.count("\n") == 1
    (small_disk / "filler").unlink()
    assert run_cli("audit", "verify", home=home).returncode == 0
    listed = json.loads(run_cli("user", "list", "--json", home=home, check=True).stdout)
    assert [u["name"] for u in listed] == ["boss"]


def test_a_disk_that_fills_under_an_open_desk_names_the_disk(small_disk):
    from recdesk import users
    from recdesk.desk import Desk
    from recdesk.vault import environment

    home = small_disk / "desk"
    run_cli("init", "--key-file", str(small_disk / "master.key"), "--manager", "boss", home=home, check=True)
    with Desk.open(home) as desk:
        _fill(small_disk)
        with pytest.raises(Exception) as caught:  # the driver's error, whatever it is called
            for n in range(200):
                users.add(desk, desk.local_actor(), f"u{n:03}", "clerk", full_name="x" * 3000)
        assert "full" in str(environment.cause(caught.value, home))
        with pytest.raises(DeskError, match="is full"):
            environment.explained(home, users.add, desk, desk.local_actor(), "zed", "clerk", full_name="x" * 3000)


def test_a_clerk_refused_manager_commands_is_audited_for_each(tmp_path):
    home = tmp_path / "demo"
    run_cli("demo", "--patients", "3", "--seed", "2", "--build-only", home=home, check=True)  # the CLI acts as a clerk
    tried = {("user", "add", "zed", "--role", "manager"): "users.add", ("user", "disable", "mgr2"): "users.disable",
             ("reindex",): "patients.registry.reindex", ("user", "list"): "users.listing"}
    for args in tried:
        result = run_cli(*args, home=home)
        assert result.returncode == 2 and "demo is a clerk" in result.stderr, args
        assert "could not be recorded" not in result.stderr
    from recdesk.desk import Desk
    from recdesk.vault import audit
    from recdesk.vault.models import AuditEvent

    with Desk.open(home) as desk:
        events = list(AuditEvent.select().where(AuditEvent.action == "access.denied").order_by(AuditEvent.seq))
        assert [(e.user_name, e.object) for e in events] == [("demo", f"action:{a}") for a in tried.values()]
        assert audit.verify(desk).intact


def test_appointments_import_of_a_folder_says_it_is_a_folder(home, tmp_path):
    result = run_cli("appointments", "import", str(tmp_path), home=home)
    assert result.returncode == 2
    assert f"{tmp_path} is a folder, not a CSV file" in result.stderr
