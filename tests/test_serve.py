"""The SSH front door with the system's OpenSSH client: the desk and nothing else."""

import datetime
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from recdesk import users
from recdesk.desk import Desk
from recdesk.models import AuditEvent
from recdesk.patients import PatientDetails, register
from recdesk.terminal import PtyProcess

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="the OpenSSH client (ssh) is not installed")
F10 = "\x1b[21~"


@pytest.fixture
def backend():
    return "sqlite"


def _keypair(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@pytest.fixture
def door(desk_and_manager, tmp_path, request):
    desk, manager = desk_and_manager
    keys = {name: _keypair(tmp_path / name) for name in ("ann", "dan", "eve")}
    users.add(desk, manager, "ann", "clerk", ssh_keys=[(tmp_path / "ann.pub").read_text()])
    users.add(desk, manager, "dan", "clerk", ssh_keys=[(tmp_path / "dan.pub").read_text()])
    users.disable(desk, manager, "dan")
    register(desk, manager, PatientDetails(mrn="100234", last="Whitfield", first="Ada",
                                           dob=datetime.date(1962, 3, 4), sex="F"))
    home = desk.config.home
    with open(home / "config.toml", "a") as f:
        f.write(f"\n[serve]\nmax_sessions_per_user = {getattr(request, 'param', 25)}\n")
    server = subprocess.Popen([sys.executable, "-m", "recdesk.cli", "--home", str(home), "serve", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    assert "serving the desk" in line, server.stderr.read()
    port = int(line.rsplit(":", 1)[1].split()[0])
    yield {"home": home, "port": port, "keys": keys}
    server.terminate()
    server.wait(timeout=10)


def ssh_args(door, user="ann", key="ann", *extra):
    return ["ssh", "-p", str(door["port"]), "-i", str(door["keys"][key]), "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "BatchMode=yes", *extra, f"{user}@127.0.0.1"]


def ssh_run(door, *args, user="ann", key="ann", extra=()):
    return subprocess.run(ssh_args(door, user, key, *extra) + list(args), capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def desk_processes(home):
    out = subprocess.run(["pgrep", "-f", f"recdesk.cli --home {home} desk"], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


def audit_actions(home):
    with Desk.open(home):
        return [(e.user_name, e.action) for e in AuditEvent.select().order_by(AuditEvent.seq)]


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_a_clerks_key_reaches_the_search_screen_and_finds_a_patient(door):
    env = {**os.environ, "TERM": "xterm-256color"}
    with PtyProcess(ssh_args(door), env=env) as ssh:
        ssh.read_until(b"Patient search", timeout=60)
        assert b"ann (clerk)" in ssh.output
        ssh.write("whitf")
        ssh.read_until(b"WHITFIELD", timeout=20)
        ssh.write(F10)
        assert ssh.wait(timeout=30) == 0
    actions = audit_actions(door["home"])
    assert ("ann", "session.sign_on") in actions and ("ann", "session.sign_off") in actions


@pytest.mark.parametrize("user,key", [("ann", "eve"), ("dan", "dan"), ("ann", "dan"), ("mallory", "ann")])
def test_unknown_keys_disabled_users_and_borrowed_keys_are_refused(door, user, key):
    result = ssh_run(door, user=user, key=key)
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr
    assert ("sshd", "session.refused") in audit_actions(door["home"])


def test_commands_shells_and_file_transfer_are_refused(door):
    result = ssh_run(door, "ls", "/")
    assert result.returncode == 1 and "no commands" in result.stderr
    result = ssh_run(door)  # no terminal requested
    assert result.returncode == 1 and "needs a terminal" in result.stderr
    sftp = subprocess.run(["sftp", "-b", "-", "-P", str(door["port"]), "-i", str(door["keys"]["ann"]),
                           "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
                           "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "ann@127.0.0.1"],
                          input="ls\n", capture_output=True, text=True, timeout=60) if shutil.which("sftp") else None
    if sftp is not None:
        assert sftp.returncode != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_forwarding_of_every_kind_is_refused(door):
    stdio = ssh_run(door, extra=("-W", "127.0.0.1:22"))
    assert stdio.returncode != 0
    port = _free_port()
    tunnel = subprocess.Popen(ssh_args(door, "ann", "ann", "-N", "-L", f"{port}:127.0.0.1:{door['port']}"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening)  # the client's end of -L is up; the server must refuse what comes through it
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.settimeout(10)
            assert s.recv(100) == b""  # closed at once: no SSH banner from the server behind the tunnel
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=10)
    remote = ssh_run(door, extra=("-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:22"))
    assert remote.returncode != 0 and "forwarding failed" in remote.stderr


def test_a_resize_reaches_the_desk(door):
    with PtyProcess(ssh_args(door), env={**os.environ, "TERM": "xterm-256color"}) as ssh:
        ssh.read_until(b"Patient search", timeout=60)
        ssh.resize(30, 100)
        ssh.read_until(b"\x1b[30;", timeout=20)  # the desk now draws on row 30
        ssh.write(F10)
        assert ssh.wait(timeout=30) == 0


def test_twenty_concurrent_sessions_work(door):
    clients = [PtyProcess(ssh_args(door), env={**os.environ, "TERM": "xterm-256color"}) for _ in range(20)]
    try:
        for ssh in clients:
            ssh.read_until(b"Patient search", timeout=180)
        assert len(desk_processes(door["home"])) == 20
        for ssh in clients:
            ssh.write(F10)
        assert [ssh.wait(timeout=60) for ssh in clients] == [0] * 20
    finally:
        for ssh in clients:
            ssh.close()
    wait_for(lambda: desk_processes(door["home"]) == [])


def test_a_killed_session_process_or_client_leaves_no_orphan(door):
    with PtyProcess(ssh_args(door), env={**os.environ, "TERM": "xterm-256color"}) as ssh:
        ssh.read_until(b"Patient search", timeout=60)
        (pid,) = desk_processes(door["home"])
        os.kill(pid, 9)
        assert ssh.wait(timeout=30) != 0
    wait_for(lambda: desk_processes(door["home"]) == [])
    with PtyProcess(ssh_args(door), env={**os.environ, "TERM": "xterm-256color"}) as ssh:
        ssh.read_until(b"Patient search", timeout=60)
        assert len(desk_processes(door["home"])) == 1
        ssh.kill()  # the clerk's thin client dies
    wait_for(lambda: desk_processes(door["home"]) == [])

    def server_signed_both_off():
        return [a for a in audit_actions(door["home"]) if a[1] == "session.sign_off"] == [
            ("sshd", "session.sign_off"), ("sshd", "session.sign_off")]

    wait_for(server_signed_both_off)  # the server writes it just after the process is gone


@pytest.mark.parametrize("door", [1], indirect=True)
def test_sessions_beyond_the_per_user_cap_are_refused(door):
    env = {**os.environ, "TERM": "xterm-256color"}
    with PtyProcess(ssh_args(door), env=env) as first:
        first.read_until(b"Patient search", timeout=60)
        with PtyProcess(ssh_args(door), env=env) as second:
            second.read_until(b"too many sessions", timeout=30)
            assert second.wait(timeout=30) == 1
        first.write(F10)
        assert first.wait(timeout=30) == 0
