"""What a new clerk meets at the command line: private files, the SSH host key's fingerprint at start, key counts in
the user list, and messages that say what to do."""

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recdesk.config import parse
from recdesk.desk import Desk
from recdesk.errors import DeskError
from recdesk.patients import registry
from recdesk.serve.terminal import PtyProcess
from recdesk.vault.models import Patient
from tests.conftest import run_cli


@pytest.fixture
def loose_umask():
    """The shell's usual umask (022): without the CLI's own, files would be made 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _loose(home: Path) -> list[str]:
    return [f"{p.relative_to(home)} {oct(p.stat().st_mode & 0o777)}" for p in sorted(home.rglob("*"))
            if not p.is_symlink() and p.stat().st_mode & 0o077]


def test_every_file_the_cli_writes_is_private_to_its_owner(tmp_path, loose_umask):
    home = tmp_path / "demo"
    run_cli("demo", "--patients", "3", "--seed", "2", "--build-only", home=home, check=True)
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    with PtyProcess([sys.executable, "-m", "recdesk.cli", "--home", str(home), "desk"], env=env) as tui:
        tui.read_until(b"\x1b]2;recdesk: Patient search\x07", timeout=120)  # signed on, the search screen drawn
        deadline = time.monotonic() + 60  # the session holds the database open: its WAL and SHM come (a condition)
        while not ((home / "recdesk.db-wal").exists() and (home / "recdesk.db-shm").exists()):
            assert time.monotonic() < deadline, "the open session's WAL never appeared"
            tui.read(0.05)
        modes = {name: stat.S_IMODE((home / name).stat().st_mode)
                 for name in ("recdesk.db", "recdesk.db-wal", "recdesk.db-shm", "config.toml")}
        tui.write("\x1b[21~")  # F10: sign off
        assert tui.wait(timeout=20) == 0
    assert modes == dict.fromkeys(modes, 0o600)
    run_cli("search", "smith", home=home, check=True)
    assert _loose(home) == []  # the store, the inbox's scans, the audit head and its lock, logs
    with Desk.open(home) as desk:
        mrn = registry.decrypt(desk, Patient.select().first()).mrn
    cover = tmp_path / "cover.pdf"
    run_cli("intake", "coversheet", mrn, "-o", str(cover), home=home, check=True)
    assert stat.S_IMODE(cover.stat().st_mode) == 0o600


def test_a_real_desk_is_made_private_too(tmp_path, loose_umask):
    home = tmp_path / "desk"
    run_cli("init", "--key-file", str(tmp_path / "k"), "--manager", "boss", home=home, check=True)
    run_cli("user", "add", "ann", "--role", "clerk", home=home, check=True)
    assert stat.S_IMODE((home / "recdesk.db").stat().st_mode) == 0o600
    assert _loose(home) == []


def test_serve_says_its_host_key_fingerprint_when_it_starts(tmp_path):
    from recdesk.serve import door

    home = tmp_path / "desk"
    run_cli("init", "--key-file", str(tmp_path / "k"), "--manager", "boss", home=home, check=True)
    server = subprocess.Popen([sys.executable, "-m", "recdesk.cli", "--home", str(home), "serve", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first, second = server.stdout.readline(), server.stdout.readline()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert "serving the desk" in first, server.stderr.read()
    fingerprint = door.load_host_key(home).get_fingerprint("sha256")
    assert fingerprint.startswith("SHA256:")
    assert second.startswith(f"recdesk: host key {fingerprint} ")


def test_the_user_list_shows_how_many_ssh_keys_each_user_has(tmp_path):
    home = tmp_path / "desk"
    run_cli("init", "--key-file", str(tmp_path / "k"), "--manager", "boss", home=home, check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "ann")], check=True)
    run_cli("user", "add", "ann", "--role", "clerk", "--ssh-key-file", str(tmp_path / "ann.pub"), home=home,
            check=True)
    lines = run_cli("user", "list", home=home, check=True).stdout.splitlines()
    assert [line.split()[:4] for line in lines] == [["ann", "clerk", "active", "1"], ["boss", "manager", "active", "0"]]
    assert all("key(s)" in line for line in lines)


def test_no_message_tells_a_clerk_to_fix_the_code(tmp_path):
    with pytest.raises(DeskError) as caught:
        parse(tmp_path, '[desk]\nid = "0123456789abcdef"\n[roi]\nstate = "ZZ"\n')
    assert str(caught.value).endswith("or correct the state in config.toml")
    root = Path(__file__).resolve().parent.parent
    said = [str(p.relative_to(root)) for folder in ("recdesk", "screens") for p in (root / folder).rglob("*.py")
            if "fix the code" in p.read_text(encoding="utf-8")]
    assert said == []
