"""`recdesk serve`: an SSH front door that offers the desk and nothing else (in the style of Charm's Wish).

Clerks authenticate with their own SSH key, which maps to their desk user. Each session gets its own
`recdesk desk` process on its own pty, signed on through an unforgeable ticket. No shell, no commands,
no SFTP, no forwarding of any kind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import resource
import secrets
import signal
import stat
import sys
import time
from collections import Counter, OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from recdesk import config as config_mod
from recdesk import users
from recdesk.desk import HOST_KEY_NAME, Actor, Desk, write_host_key
from recdesk.errors import DeskError, TamperError
from recdesk.serve import tickets
from recdesk.serve.terminal import PtyProcess
from recdesk.vault import audit

LOGIN_TIMEOUT = 30
KEEPALIVE_INTERVAL = 30
KEEPALIVE_COUNT_MAX = 3
# Failed sign-on attempts. Only a refusal is ever held back, never a key that verifies. Failures recorded
# in the last FAILURE_WINDOW seconds beyond a free allowance slow the next refusal for the same address,
# desk user name or key; an address gets the most slack because many thin clients may share it (NAT).
FAILURE_WINDOW = 600.0
FREE_FAILURES = {"address": 10, "user": 5, "key": 3}
FIRST_DELAY = 0.25
MAX_DELAY = 4.0
# What one connection can be held back in all: a clerk whose agent offers other keys before theirs still
# signs on well inside the login timeout, whatever anyone else failed from their address.
CONNECTION_HOLD = 6.0
MAX_REFUSALS_PER_CONNECTION = 10  # then the connection is cut, as OpenSSH's MaxAuthTries does
FAILURE_ENTRIES = 4096  # per table: sprayed addresses, names and keys evict the oldest, memory stays bounded
FAILURE_MEMORY = 32  # timestamps kept per address, name or key
NAME_CHARS = 64  # a user name offered by a client is kept (in memory and audit) at most this long
# One session process: no core dumps (they would hold PHI), bounded memory and open files.
SESSION_LIMITS = {
    resource.RLIMIT_CORE: (0, 0),
    resource.RLIMIT_AS: (2 << 30, 2 << 30),
    resource.RLIMIT_NOFILE: (256, 256),
}


class FailureLog:
    """Recent failed sign-on attempts by address, desk user name and key fingerprint, in bounded memory."""

    def __init__(self, entries: int = FAILURE_ENTRIES) -> None:
        self.entries = entries
        self.tables: dict[str, OrderedDict[str, deque[float]]] = {kind: OrderedDict() for kind in FREE_FAILURES}

    def add(self, address: str, user: str, key: str) -> None:
        now = time.monotonic()
        for kind, value in (("address", address), ("user", user), ("key", key)):
            table = self.tables[kind]
            times = table.pop(value, None) or deque(maxlen=FAILURE_MEMORY)
            times.append(now)
            table[value] = times  # the most recently failing last, so the oldest is evicted first
            while len(table) > self.entries:
                table.popitem(last=False)

    def count(self, kind: str, value: str) -> int:
        times = self.tables[kind].get(value)
        if not times:
            return 0
        cutoff = time.monotonic() - FAILURE_WINDOW
        while times and times[0] < cutoff:
            times.popleft()
        return len(times)

    def delay(self, address: str, user: str, key: str, earlier: int = 0) -> float:
        """How long to hold back a refusal; `earlier` counts this connection's refusals not yet recorded."""
        excess = max(self.count("address", address) + earlier - FREE_FAILURES["address"],
                     self.count("user", user) - FREE_FAILURES["user"],
                     self.count("key", key) - FREE_FAILURES["key"])
        return 0.0 if excess < 0 else min(FIRST_DELAY * 2.0**excess, MAX_DELAY)


@dataclass
class FrontDoor:
    """The server's state: the desk it serves, who is connected, and recent failures."""

    home: Path
    desk: Desk
    max_sessions: int = config_mod.Serve.max_sessions
    max_sessions_per_user: int = config_mod.Serve.max_sessions_per_user
    max_unauthenticated: int = config_mod.Serve.max_unauthenticated
    max_output_buffer: int = config_mod.Serve.max_output_buffer
    sessions: Counter = field(default_factory=Counter)
    unauthenticated: int = 0
    waiting: dict = field(default_factory=dict)  # address -> its connections not yet signed on, oldest first
    failures: FailureLog = field(default_factory=FailureLog)
    pending: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.actor = Actor(0, "sshd", "system", secrets.token_hex(8))
        # Audit writes wait for the database's write lock: on their own thread, never on the event loop
        # that carries every clerk's keystrokes.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serve-audit")

    def _record(self, action: str, details: dict) -> None:
        with self.desk.write():
            audit.append(self.desk, self.actor, action, object="ssh", details=details)

    async def record(self, action: str, **details) -> None:
        await asyncio.get_running_loop().run_in_executor(self.writer, self._record, action, details)

    def record_soon(self, action: str, **details) -> None:
        """Audit from a callback that cannot wait; `serve` lets these finish before it closes the desk."""
        task = asyncio.ensure_future(self.record(action, **details))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    def refusal(self, username: str, fingerprint: str) -> str | None:
        """Why this key may not sign on as this desk user, or None when it may."""
        try:
            found = users.key_owner(self.desk, fingerprint)
        except TamperError:
            return "key or desk user fails its integrity seal (changed outside recdesk)"
        if found is None:
            return "unknown key"
        _, user = found
        if user.name != username:
            return "key belongs to another desk user"
        if self.desk.is_disabled(user):
            return "desk user disabled"
        return None


class DeskSSHServer(asyncssh.SSHServer):
    """One connection: public-key authentication against desk users' keys, nothing else."""

    def __init__(self, door: FrontDoor) -> None:
        self.door = door
        self.conn: asyncssh.SSHServerConnection | None = None
        self.address = ""
        self.user: str | None = None
        self.fingerprint = ""
        self.signed_on = False
        self.waiting = False  # counted among the door's unauthenticated connections
        self.refusals: list[dict] = []  # recorded as failures and audited once, when the outcome is known
        self.held = 0.0  # seconds this connection's refusals have been held back

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        peer = conn.get_extra_info("peername") or ("?", 0)
        self.address = str(peer[0])
        if self.door.unauthenticated >= self.door.max_unauthenticated and not self._make_room():
            # Refused before key exchange: not audited, since a flood of these would flood the audit chain.
            asyncio.get_running_loop().call_soon(
                conn.disconnect, asyncssh.DISC_TOO_MANY_CONNECTIONS,
                "too many connections are signing on at once: try again in a moment")
            return
        self.door.unauthenticated += 1
        self.waiting = True
        self.door.waiting.setdefault(self.address, []).append(self)

    def _make_room(self) -> bool:
        """When every pre-auth slot is taken, an address holding more of them than this one gives up its oldest:
        one address that opens connections and never signs on cannot keep every other thin client out."""
        crowded = max(self.door.waiting, key=lambda a: len(self.door.waiting[a]), default=None)
        if crowded is None or len(self.door.waiting[crowded]) <= len(self.door.waiting.get(self.address, ())) + 1:
            return False
        oldest = self.door.waiting[crowded][0]
        oldest._stop_waiting()
        asyncio.get_running_loop().call_soon(
            oldest.conn.disconnect, asyncssh.DISC_TOO_MANY_CONNECTIONS,
            "too many connections from your address are signing on at once: try again in a moment")
        return True

    def _stop_waiting(self) -> None:
        if self.waiting:
            self.waiting = False
            self.door.unauthenticated -= 1
            mine = self.door.waiting.get(self.address, [])
            if self in mine:
                mine.remove(self)
            if not mine:
                self.door.waiting.pop(self.address, None)

    def _record_refusals(self, refusals: list[dict], **details) -> None:
        for refusal in refusals:
            self.door.failures.add(self.address, refusal["username"], refusal["key"])
        self.door.record_soon("session.refused", username=refusals[-1]["username"], address=self.address,
                              key=refusals[-1]["key"], reason=refusals[-1]["reason"], attempts=refusals,
                              **details)

    def auth_completed(self) -> None:
        self.signed_on = True
        self._stop_waiting()
        # Keys an agent offered before the clerk's own are not failures; a borrowed key or a disabled user is.
        notable = [r for r in self.refusals if r["reason"] != "unknown key"]
        if notable:
            self._record_refusals(notable, signed_on_as=self.user)
        self.refusals = []

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        if not self.signed_on and self.refusals:
            self._record_refusals(self.refusals)
            self.refusals = []

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # Asked for a bare probe and again for the signed request; asyncssh checks the signature after a True.
        fingerprint = key.get_fingerprint("sha256")
        reason = self.door.refusal(username, fingerprint)
        if reason is None:
            self.user, self.fingerprint = username, fingerprint
            return True  # never held back, whatever failed before from this address, name or key
        name = username[:NAME_CHARS]
        self.refusals.append({"username": name, "key": fingerprint, "reason": reason})
        if len(self.refusals) > MAX_REFUSALS_PER_CONNECTION:
            raise asyncssh.PermissionDenied("too many keys refused on one connection: connect with your own key")
        delay = min(self.door.failures.delay(self.address, name, fingerprint, len(self.refusals) - 1),
                    CONNECTION_HOLD - self.held)
        if delay > 0:
            self.held += delay
            await asyncio.sleep(delay)
        return False

    def connection_requested(self, *args) -> bool:
        return False  # no port forwarding

    def server_requested(self, *args) -> bool:
        return False  # no remote forwarding

    def unix_connection_requested(self, *args) -> bool:
        return False

    def unix_server_requested(self, *args) -> bool:
        return False


def _refuse(process: asyncssh.SSHServerProcess, message: str) -> None:
    process.stderr.write(f"recdesk: {message}\r\n".encode())
    process.exit(1)


async def run_session(door: FrontDoor, process: asyncssh.SSHServerProcess) -> None:
    """Give one SSH session its own desk process on its own pty, and pass bytes both ways."""
    server: DeskSSHServer = process.get_extra_info("connection").get_owner()
    user = server.user
    if process.command is not None or process.subsystem is not None:
        what = f"command {process.command!r}" if process.command is not None else f"subsystem {process.subsystem}"
        await door.record("session.refused", username=user, address=server.address, reason=f"asked for {what}")
        return _refuse(process, "this server offers the desk only: no commands, shells or file transfer")
    term = process.get_terminal_type()
    if term is None:
        await door.record("session.refused", username=user, address=server.address, reason="no terminal requested")
        return _refuse(process, "the desk needs a terminal: connect with plain `ssh` (or `ssh -t`)")
    if sum(door.sessions.values()) >= door.max_sessions or door.sessions[user] >= door.max_sessions_per_user:
        await door.record("session.refused", username=user, address=server.address, reason="too many sessions")
        return _refuse(process, "too many sessions open: close one and try again")
    cols, rows, _, _ = process.get_terminal_size()
    session = secrets.token_hex(8)
    ticket = tickets.mint(door.desk.master, user, session, server.address, server.fingerprint)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
        "LANG": "C.UTF-8", "TERM": term, "RECDESK_TICKET": ticket,
    }
    for name in ("RECDESK_DB", "PYTHONPATH", "NO_COLOR"):
        if name in os.environ:
            env[name] = os.environ[name]
    child = PtyProcess([sys.executable, "-m", "recdesk.cli", "--home", str(door.home), "desk"], env=env,
                       rows=rows or 24, cols=cols or 80, limits=SESSION_LIMITS)
    door.sessions[user] += 1
    loop = asyncio.get_running_loop()
    ended = asyncio.Event()

    os.set_blocking(child.fd, False)  # a desk that stops reading must not stall the server's loop
    dropped = False

    def from_desk() -> None:
        nonlocal dropped
        try:
            data = os.read(child.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            process.stdout.write(data)
            if process.channel.get_write_buffer_size() <= door.max_output_buffer:
                return
            # The client stopped reading: keep no more of the desk's output, free what is held, say why.
            dropped = True
            process.get_extra_info("connection").disconnect(
                asyncssh.DISC_BY_APPLICATION,
                "recdesk: your terminal stopped reading the desk's output, so the session was ended")
        loop.remove_reader(child.fd)
        ended.set()

    loop.add_reader(child.fd, from_desk)

    async def from_client() -> None:
        while True:
            try:
                data = await process.stdin.read(65536)
            except asyncssh.TerminalSizeChanged as change:
                child.resize(change.height, change.width)
                continue
            except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                continue
            if not data:
                return
            await _write_all(loop, child.fd, data)

    reader = asyncio.ensure_future(from_client())
    try:
        await asyncio.wait([reader, asyncio.ensure_future(ended.wait())], return_when=asyncio.FIRST_COMPLETED)
    except asyncssh.Error:
        pass
    finally:
        reader.cancel()
        loop.remove_reader(child.fd)
        code = await _end(child)
        door.sessions[user] -= 1
    if dropped:
        await door.record("session.sign_off", username=user, session=session,
                          reason=f"output buffer over {door.max_output_buffer} bytes: the client stopped reading")
        return
    if code != 0:
        # The desk process did not sign itself off: the client went away or the process was killed.
        await door.record("session.sign_off", username=user, session=session, reason=f"disconnect (exit {code})")
    process.exit(0 if code == 0 else 1)


async def _write_all(loop: asyncio.AbstractEventLoop, fd: int, data: bytes) -> None:
    """Write to the desk's pty without blocking: wait for room when the desk is slow to read."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            room = loop.create_future()
            loop.add_writer(fd, room.set_result, None)
            try:
                await room
            finally:
                loop.remove_writer(fd)


async def _end(child: PtyProcess) -> int:
    """Let a finished desk process go, or end one whose client left: SIGHUP, then SIGKILL."""
    for sig, grace in ((None, 1.0), (signal.SIGHUP, 2.0), (signal.SIGKILL, 5.0)):
        if sig is not None and child.poll() is None:
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while child.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if child.returncode is not None:
            break
    try:
        os.close(child.fd)
    except OSError:
        pass
    return child.returncode if child.returncode is not None else -9


def load_host_key(home: Path) -> asyncssh.SSHKey:
    """The desk's SSH host key, refused when missing, a link, not a regular file or readable by others."""
    path = home / HOST_KEY_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise DeskError(f"no SSH host key at {path}: clients know the desk by it, so restore it from backup, "
                        "or make a new one on purpose with `recdesk serve --new-host-key`") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DeskError(f"the SSH host key {path} is a symbolic link: put the key file itself there") from None
        raise DeskError(f"cannot read the SSH host key {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DeskError(f"the SSH host key {path} is not a regular file: restore the key file there")
        if st.st_nlink != 1:
            raise DeskError(f"the SSH host key {path} has {st.st_nlink} hard links: keep one copy, not linked")
        if st.st_uid != os.getuid():
            raise DeskError(f"the SSH host key {path} belongs to uid {st.st_uid}, not to the account serving the desk")
        if st.st_mode & 0o077:
            raise DeskError(f"the SSH host key {path} has permissions {oct(st.st_mode & 0o777)}: "
                            f"run `chmod 600 {path}`")
        data = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    try:
        return asyncssh.import_private_key(data)
    except (asyncssh.KeyImportError, ValueError):
        raise DeskError(f"{path} is not an SSH private key: restore the host key from backup") from None


def host_key_problem(home: Path) -> str | None:
    """What is wrong with the desk's SSH host key, in one line, or None when `serve` can use it (for doctor)."""
    try:
        load_host_key(home)
    except DeskError as exc:
        return str(exc)
    return None


def new_host_key(home: Path) -> str:
    """Make the desk's SSH host key on purpose (never over an existing one); its SHA256 fingerprint."""
    config_mod.load(home)  # only for a desk
    write_host_key(home / HOST_KEY_NAME)
    return load_host_key(home).get_fingerprint("sha256")


async def serve(home: Path, host: str, port: int, *, ready=None) -> None:
    """Run the front door until cancelled; `ready(port)` is called once it listens."""
    desk = Desk.open(home)
    try:
        key = load_host_key(home)
    except BaseException:
        desk.close()
        raise
    door = FrontDoor(home, desk, **dataclasses.asdict(desk.config.serve))  # [serve], checked when config loads
    server = await asyncssh.create_server(
        lambda: DeskSSHServer(door), host, port, server_host_keys=[key],
        process_factory=lambda process: run_session(door, process), encoding=None,
        line_editor=False, agent_forwarding=False, x11_forwarding=False, allow_scp=False,
        login_timeout=LOGIN_TIMEOUT, keepalive_interval=KEEPALIVE_INTERVAL,
        keepalive_count_max=KEEPALIVE_COUNT_MAX,
    )
    listening = server.sockets[0].getsockname()[1]
    await door.record("serve.start", host=host, port=listening)
    if ready:
        ready(listening)
    try:
        await asyncio.Event().wait()
    finally:
        server.close()
        await asyncio.gather(*door.pending, return_exceptions=True)
        await door.record("serve.stop", host=host, port=listening)
        desk.close()
