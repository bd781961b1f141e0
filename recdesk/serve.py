"""`recdesk serve`: an SSH front door that offers the desk and nothing else (in the style of Charm's Wish).

Clerks authenticate with their own SSH key, which maps to their desk user. Each session gets its own
`recdesk desk` process on its own pty, signed on through an unforgeable ticket. No shell, no commands,
no SFTP, no forwarding of any kind.
"""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import signal
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from recdesk import audit, tickets
from recdesk.desk import HOST_KEY_NAME, Actor, Desk
from recdesk.models import SshKey, User
from recdesk.terminal import PtyProcess

LOGIN_TIMEOUT = 30
KEEPALIVE_INTERVAL = 30
KEEPALIVE_COUNT_MAX = 3
FAILURES_BEFORE_DELAY = 3
MAX_DELAY = 10.0
# One session process: no core dumps (they would hold PHI), bounded memory and open files.
SESSION_LIMITS = {
    resource.RLIMIT_CORE: (0, 0),
    resource.RLIMIT_AS: (2 << 30, 2 << 30),
    resource.RLIMIT_NOFILE: (256, 256),
}


@dataclass
class FrontDoor:
    """The server's state: the desk it serves, who is connected, and recent failures by address."""

    home: Path
    desk: Desk
    max_sessions: int = 50
    max_sessions_per_user: int = 3
    sessions: Counter = field(default_factory=Counter)
    failures: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

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

    def failure_delay(self, address: str) -> float:
        recent = [t for t in self.failures[address] if t > time.monotonic() - 600]
        self.failures[address] = recent
        excess = len(recent) - FAILURES_BEFORE_DELAY
        return 0.0 if excess < 0 else min(2.0**excess, MAX_DELAY)


class DeskSSHServer(asyncssh.SSHServer):
    """One connection: public-key authentication against desk users' keys, nothing else."""

    def __init__(self, door: FrontDoor) -> None:
        self.door = door
        self.address = ""
        self.user: str | None = None
        self.fingerprint = ""

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername") or ("?", 0)
        self.address = str(peer[0])

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        delay = self.door.failure_delay(self.address)
        if delay:
            await asyncio.sleep(delay)  # repeated failures from one address are slowed down
        fingerprint = key.get_fingerprint("sha256")
        row = (SshKey.select(SshKey, User).join(User)
               .where(SshKey.fingerprint == fingerprint).first())
        reason = None
        if row is None:
            reason = "unknown key"
        elif row.user.name != username:
            reason = "key belongs to another desk user"
        elif row.user.disabled:
            reason = "desk user disabled"
        if reason:
            self.door.failures[self.address].append(time.monotonic())
            await self.door.record("session.refused", username=username, address=self.address, key=fingerprint,
                             reason=reason)
            return False
        self.user, self.fingerprint = username, fingerprint
        return True

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

    def from_desk() -> None:
        try:
            data = os.read(child.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            process.stdout.write(data)
        else:
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


def host_key(home: Path) -> asyncssh.SSHKey:
    path = home / HOST_KEY_NAME
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.export_private_key())
    return asyncssh.read_private_key(str(path))


async def serve(home: Path, host: str, port: int, *, ready=None) -> None:
    """Run the front door until cancelled; `ready(port)` is called once it listens."""
    desk = Desk.open(home)
    door = FrontDoor(home, desk)
    door.max_sessions = desk.config.serve.max_sessions
    door.max_sessions_per_user = desk.config.serve.max_sessions_per_user
    server = await asyncssh.create_server(
        lambda: DeskSSHServer(door), host, port, server_host_keys=[host_key(home)],
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
        await door.record("serve.stop", host=host, port=listening)
        desk.close()
