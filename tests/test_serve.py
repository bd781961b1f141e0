"""The SSH front door with the system's OpenSSH client: the desk and nothing else."""

import asyncio
import datetime
import os
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pytest

from recdesk import users
from recdesk.desk import HOST_KEY_NAME, Desk
from recdesk.patients.registry import PatientDetails, register
from recdesk.serve.door import FAILURE_MEMORY, FailureLog, host_key_problem
from recdesk.serve.terminal import PtyProcess
from recdesk.vault import audit
from recdesk.vault.models import AuditEvent, User
from tests.conftest import run_cli

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="the OpenSSH client (ssh) is not installed")
F10 = "\x1b[21~"


@pytest.fixture
def backend():
    return "sqlite"


def _keypair(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def start_server(home):
    """`recdesk serve` on a free loopback port: (process, port), or (process, None) with its error once it exits."""
    server = subprocess.Popen([sys.executable, "-m", "recdesk.cli", "--home", str(home), "serve", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if "serving the desk" not in line:
        server.wait(timeout=30)
        return server, None
    return server, int(line.rsplit(":", 1)[1].split()[0])


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
    settings = {"max_sessions_per_user": 25, **getattr(request, "param", {})}
    with open(home / "config.toml", "a") as f:
        f.write("\n[serve]\n" + "".join(f"{name} = {value}\n" for name, value in settings.items()))
    server, port = start_server(home)
    assert port, server.stderr.read()
    yield {"home": home, "port": port, "keys": keys, "pid": server.pid}
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


def audit_details(home, action):
    with Desk.open(home) as desk:
        return [audit.details(desk, e) for e in AuditEvent.select().where(AuditEvent.action == action)]


def wait_for(predicate, timeout=60.0):  # a bound for a loaded machine: the wait ends when the condition holds
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
    wait_for(lambda: ("sshd", "session.refused") in audit_actions(door["home"]))  # audited as the connection ends


def test_a_key_or_role_written_into_the_database_does_not_sign_on_over_ssh(door, desk_and_manager):
    desk, _ = desk_and_manager
    eve = door["keys"]["eve"]
    public = (eve.parent / "eve.pub").read_text().strip()
    boss = User.get(User.name == "boss").id
    desk.db.execute_sql("INSERT INTO ssh_key (user_id, public_key, fingerprint, added_at) VALUES (?, ?, ?, ?)",
                        (boss, public, users.fingerprint(public), datetime.datetime(2026, 1, 1)))
    result = ssh_run(door, user="boss", key="eve")  # before seals: in as the manager
    assert result.returncode == 255 and "Permission denied (publickey)" in result.stderr
    desk.db.execute_sql('UPDATE "user" SET role = ? WHERE name = ?', ("manager", "ann"))
    result = ssh_run(door, user="ann", key="ann")
    assert result.returncode == 255 and "Permission denied (publickey)" in result.stderr

    def sealed_refusals():
        with Desk.open(door["home"]) as d:
            return [audit.details(d, e) for e in AuditEvent.select().where(AuditEvent.action == "session.refused")]
    wait_for(lambda: sum("integrity seal" in str(r) for r in sealed_refusals()) >= 2)


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
        try:
            tunnel.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a client still mid key exchange on a busy machine ignores TERM a while
            tunnel.kill()
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


@pytest.mark.parametrize("door", [{"max_sessions_per_user": 1}], indirect=True)
def test_sessions_beyond_the_per_user_cap_are_refused(door):
    env = {**os.environ, "TERM": "xterm-256color"}
    with PtyProcess(ssh_args(door), env=env) as first:
        first.read_until(b"Patient search", timeout=60)
        with PtyProcess(ssh_args(door), env=env) as second:
            second.read_until(b"too many sessions", timeout=30)
            assert second.wait(timeout=30) == 1
        first.write(F10)
        assert first.wait(timeout=30) == 0


# --- failed sign-ons: slowed, never a key that verifies ----------------------------------------------


async def _sign_on(port, user, keys, source="127.0.0.1"):
    """One asyncssh sign-on attempt offering `keys` in order: (signed on?, seconds it took)."""
    started = time.monotonic()
    try:
        conn = await asyncssh.connect("127.0.0.1", port, username=user, client_keys=keys, known_hosts=None,
                                      agent_path=None, config=None, local_addr=(source, 0),
                                      preferred_auth="publickey", login_timeout=60)
    except asyncssh.PermissionDenied:
        return False, time.monotonic() - started
    elapsed = time.monotonic() - started
    conn.close()
    await conn.wait_closed()
    return True, elapsed


def _random_keys(n):
    return [asyncssh.generate_private_key("ssh-ed25519") for _ in range(n)]


def refused_count(home):
    return sum(1 for _, action in audit_actions(home) if action == "session.refused")


def _fail_many(door, n, source="127.0.0.1"):
    """n failed connections from `source` at once, each with its own unknown key; waits until all are recorded."""
    async def many():
        return await asyncio.gather(*(_sign_on(door["port"], "mallory", [key], source) for key in _random_keys(n)))

    before = refused_count(door["home"])
    assert not any(ok for ok, _ in asyncio.run(many()))
    wait_for(lambda: refused_count(door["home"]) >= before + n)


def test_a_valid_key_signs_on_at_once_after_many_failures_from_its_address(door):
    _fail_many(door, 15)
    ann = asyncssh.read_private_key(str(door["keys"]["ann"]))
    ok, elapsed = asyncio.run(_sign_on(door["port"], "ann", [ann]))
    assert ok and elapsed < 5  # the old door held every key from this address back 10 s


def test_a_client_offering_five_wrong_keys_then_its_own_gets_in(door):
    ann = asyncssh.read_private_key(str(door["keys"]["ann"]))
    ok, _ = asyncio.run(_sign_on(door["port"], "ann", [*_random_keys(5), ann]))
    assert ok
    _fail_many(door, 15)  # now the same behind an address that an attacker made fail
    ok, elapsed = asyncio.run(_sign_on(door["port"], "ann", [*_random_keys(5), ann]))
    assert ok and elapsed < 20  # well inside the 30 s login timeout


def test_repeated_failures_for_one_key_or_user_are_slowed(door):
    eve = asyncssh.read_private_key(str(door["keys"]["eve"]))
    for n in range(6):  # eve's key, refused as ann six times from one address
        assert asyncio.run(_sign_on(door["port"], "ann", [eve], "127.0.0.2"))[0] is False
        wait_for(lambda n=n: refused_count(door["home"]) == n + 1)
    ok, elapsed = asyncio.run(_sign_on(door["port"], "ann", [eve], "127.0.0.3"))  # a fresh address, same key
    assert not ok and elapsed >= 1.5
    ok, elapsed = asyncio.run(_sign_on(door["port"], "ann", _random_keys(1), "127.0.0.4"))  # fresh key, same user
    assert not ok and elapsed >= 0.9
    ann = asyncssh.read_private_key(str(door["keys"]["ann"]))
    ok, elapsed = asyncio.run(_sign_on(door["port"], "ann", [ann], "127.0.0.3"))
    assert ok and elapsed < 5


def test_a_connection_offering_endless_keys_is_cut(door):
    async def offer_many():
        with pytest.raises(asyncssh.PermissionDenied) as refused:
            await asyncssh.connect("127.0.0.1", door["port"], username="ann", client_keys=_random_keys(30),
                                   known_hosts=None, agent_path=None, config=None, login_timeout=60)
        return refused.value.reason

    assert "too many keys refused" in asyncio.run(offer_many())


def test_the_failure_tables_stay_bounded_under_a_spray():
    log = FailureLog(entries=100)
    for n in range(5000):
        log.add(f"10.0.{n // 256}.{n % 256}", f"user{n}", f"SHA256:{n}")
        log.add("192.0.2.1", "ann", "SHA256:same")
    assert all(len(table) <= 100 for table in log.tables.values())
    assert log.count("address", "192.0.2.1") == FAILURE_MEMORY  # what keeps failing is still known
    assert log.delay("192.0.2.1", "ann", "SHA256:same") > 0


# --- bounded buffers and pre-auth connections -------------------------------------------------------


async def _desk_session(port, key_path, *, window=None):
    ann = asyncssh.read_private_key(str(key_path))
    conn = await asyncssh.connect("127.0.0.1", port, username="ann", client_keys=[ann], known_hosts=None,
                                  agent_path=None, config=None)
    extra = {"window": window} if window else {}
    process = await conn.create_process(term_type="xterm-256color", term_size=(200, 60), encoding=None, **extra)
    return conn, process


async def _read_until(process, marker, timeout=60):
    seen = b""
    async with asyncio.timeout(timeout):
        while marker not in seen:
            chunk = await process.stdout.read(65536)
            assert chunk, f"the session ended before {marker!r}"
            seen = seen[-1000:] + chunk


async def _repaint_until_closed(conn, process, rounds):
    """Make the desk redraw a 200x60 screen again and again; True once the server has closed the connection."""
    for n in range(rounds):
        process.change_terminal_size(200 - n % 2, 60)
        try:
            await asyncio.wait_for(conn.wait_closed(), 0.3)
            return True
        except TimeoutError:
            continue
    return False


def server_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.parametrize("door", [{"max_output_buffer": 65536}], indirect=True)
def test_a_client_that_stops_reading_is_dropped_and_one_that_reads_is_not(door):
    async def stops_reading():
        conn, process = await _desk_session(door["port"], door["keys"]["ann"], window=32768)
        await _read_until(process, b"Patient search")  # then never reads again
        return await _repaint_until_closed(conn, process, 200)

    async def keeps_reading():
        conn, process = await _desk_session(door["port"], door["keys"]["ann"], window=32768)
        await _read_until(process, b"Patient search")
        reader = asyncio.ensure_future(process.stdout.read())  # everything, until the session ends
        closed = await _repaint_until_closed(conn, process, 40)
        process.stdin.write(F10.encode())
        async with asyncio.timeout(30):
            await reader
            await process.wait_closed()
        conn.close()
        return closed, process.exit_status

    rss = server_rss_kb(door["pid"])
    assert asyncio.run(stops_reading())
    assert server_rss_kb(door["pid"]) < rss + 20_000  # the old door had buffered 81 MB after 90 s
    wait_for(lambda: [d["reason"] for d in audit_details(door["home"], "session.sign_off")]
             == ["output buffer over 65536 bytes: the client stopped reading"])
    wait_for(lambda: desk_processes(door["home"]) == [])
    assert asyncio.run(keeps_reading()) == (False, 0)


@pytest.mark.parametrize("door", [{"max_unauthenticated": 3}], indirect=True)
def test_connections_beyond_the_unauthenticated_cap_are_refused(door):
    def connect():
        s = socket.create_connection(("127.0.0.1", door["port"]), timeout=20)
        banner = b""
        while b"\r\n" not in banner:
            chunk = s.recv(256)
            assert chunk, "closed before the SSH banner"
            banner += chunk
        return s, banner

    waiting = [connect() for _ in range(3)]  # three that never sign on
    try:
        extra, rest = connect()  # the refusal may come in the same read as the banner
        with extra:
            while chunk := extra.recv(4096):  # the server closes it: no key exchange for a fourth
                rest += chunk
            assert b"too many connections" in rest
        for s, _ in waiting:
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(1)  # the first three are still open, waiting
    finally:
        for s, _ in waiting:
            s.close()
    wait_for(lambda: ssh_run(door, "ls").returncode == 1)  # once they are gone, a clerk's key signs on again


@pytest.mark.parametrize("door", [{"max_unauthenticated": 3}], indirect=True)
def test_one_address_holding_every_pre_auth_slot_does_not_keep_clerks_out(door):
    def hold():
        s = socket.create_connection(("127.0.0.1", door["port"]), timeout=20, source_address=("127.0.0.2", 0))
        banner = b""
        while b"\r\n" not in banner:
            chunk = s.recv(256)
            assert chunk, "closed before the SSH banner"
            banner += chunk
        return s

    held = [hold() for _ in range(3)]  # every slot, from one address that never signs on
    try:
        result = ssh_run(door, "ls")  # a clerk from another address
        assert result.returncode == 1 and "no commands" in result.stderr, result.stderr  # signed on, then refused
    finally:
        for s in held:
            s.close()


# --- no core dumps from a process that holds the key -------------------------------------------------


def core_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        line = next(line for line in f if line.startswith("Max core file size"))
    return line.split()[4:6]


def test_serve_and_its_session_processes_keep_core_dumps_off(door):
    assert core_limit(door["pid"]) == ["0", "0"]
    with PtyProcess(ssh_args(door), env={**os.environ, "TERM": "xterm-256color"}) as ssh:
        ssh.read_until(b"Patient search", timeout=60)
        (pid,) = desk_processes(door["home"])
        assert core_limit(pid) == ["0", "0"]
        ssh.write(F10)
        assert ssh.wait(timeout=30) == 0


def _crash(argv, cwd, **kwargs):
    """Start `argv` with core dumps allowed as far as this process may, crash it with SIGSEGV once it is ready."""
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                               preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (hard, hard)), **kwargs)
    ready = process.stdout.readline()
    os.kill(process.pid, signal.SIGSEGV)
    assert process.wait(timeout=60) == -signal.SIGSEGV
    return ready, [p.name for p in Path(cwd).iterdir()]


def test_a_crash_of_serve_under_ulimit_unlimited_writes_no_core(tmp_path):
    with open("/proc/sys/kernel/core_pattern") as f:
        if f.read().startswith("|"):
            pytest.skip("cores go to a crash handler here, not to a file this test can look for")
    control, victim = tmp_path / "control", tmp_path / "serve"
    control.mkdir()
    victim.mkdir()
    # The control: a process that holds no key does dump core here, so the attack is real in this run.
    _, files = _crash([sys.executable, "-c", "print('ready', flush=True); import time; time.sleep(60)"], control)
    if not files:
        pytest.skip("this test process already forbids core dumps (it held a desk key): run this test on its own")
    home = tmp_path / "desk"
    run_cli("init", "--key-file", str(tmp_path / "master.key"), "--manager", "boss", home=home, check=True)
    ready, files = _crash([sys.executable, "-m", "recdesk.cli", "--home", str(home), "serve", "--port", "0"], victim)
    assert "serving the desk" in ready
    assert files == []  # the old door wrote a core (and the master key in it) here


def test_a_cli_process_that_opens_a_desk_is_not_dumpable(desk_and_manager):
    desk, _ = desk_and_manager
    probe = ("import resource, sys; from pathlib import Path; from recdesk.vault import hardening; "
             "from recdesk.desk import Desk; before = hardening.is_dumpable(); d = Desk.open(Path(sys.argv[1])); "
             "print(before, hardening.is_dumpable(), resource.getrlimit(resource.RLIMIT_CORE)); d.close()")
    out = subprocess.run([sys.executable, "-c", probe, str(desk.config.home)], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.split(maxsplit=1) == ["True", "False (0, 0)\n"]


# --- the host key: never made silently, checked before serving ---------------------------------------


@pytest.fixture
def desk_home(desk_and_manager):
    return desk_and_manager[0].config.home


def test_serve_refuses_a_missing_host_key_and_says_how_to_make_one(desk_home):
    (desk_home / HOST_KEY_NAME).unlink()
    assert "no SSH host key" in host_key_problem(desk_home)
    server, port = start_server(desk_home)
    assert port is None and server.returncode == 2
    message = server.stderr.read()
    assert message.count("\n") == 1 and "recdesk serve --new-host-key" in message
    assert not (desk_home / HOST_KEY_NAME).exists()  # the old door made a new one, silently


def test_new_host_key_makes_one_on_purpose_and_never_replaces_one(desk_home):
    path = desk_home / HOST_KEY_NAME
    before = path.read_bytes()
    refused = run_cli("serve", "--new-host-key", home=desk_home)
    assert refused.returncode == 2 and "already exists" in refused.stderr and path.read_bytes() == before
    path.unlink()
    made = run_cli("serve", "--new-host-key", home=desk_home)
    assert made.returncode == 0, made.stderr
    fingerprint = subprocess.run(["ssh-keygen", "-lf", str(path)], capture_output=True, text=True).stdout.split()[1]
    assert fingerprint in made.stdout and path.read_bytes() != before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and host_key_problem(desk_home) is None
    server, port = start_server(desk_home)
    try:
        assert port, server.stderr.read()
    finally:
        server.terminate()
        server.wait(timeout=10)


def _link(path, tmp):
    outside = tmp / "elsewhere"
    path.rename(outside)
    path.symlink_to(outside)


def _hard_link(path, tmp):
    os.link(path, tmp / "second-name")


@pytest.mark.parametrize("spoil,complaint", [
    (_link, "symbolic link"),
    (_hard_link, "hard links"),
    (lambda path, tmp: path.chmod(0o644), "chmod 600"),
    (lambda path, tmp: (path.unlink(), path.mkdir()), "not a regular file"),
    (lambda path, tmp: path.write_bytes(b"not a key"), "not an SSH private key"),
])
def test_serve_refuses_a_host_key_that_is_not_safe(desk_home, tmp_path, spoil, complaint):
    spoil(desk_home / HOST_KEY_NAME, tmp_path)
    assert complaint in host_key_problem(desk_home)
    server, port = start_server(desk_home)
    assert port is None and server.returncode == 2
    message = server.stderr.read()
    assert complaint in message and message.count("\n") == 1


@pytest.mark.parametrize("line,named", [('max_output_buffer = "abc"', "max_output_buffer"),
                                        ("max_unauthenticated = 0", "max_unauthenticated"),
                                        ("max_sessions = true", "max_sessions")])
def test_serve_settings_of_the_wrong_type_or_range_are_one_line_errors(desk_home, line, named):
    with open(desk_home / "config.toml", "a") as f:
        f.write(f"\n[serve]\n{line}\n")
    server, port = start_server(desk_home)
    message = server.stderr.read()
    assert port is None and server.returncode == 2 and message.count("\n") == 1
    assert message.startswith("recdesk: ") and f"[serve] {named} " in message
