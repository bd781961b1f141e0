"""A process on its own pseudo-terminal: spawned as its session leader with the pty as controlling terminal."""

from __future__ import annotations

import fcntl
import os
import resource
import select
import signal
import struct
import termios
import time
from collections.abc import Mapping, Sequence


class PtyProcess:
    """A child on a pty: write keys to it, read what it draws, resize it, end it."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, rows: int = 24,
                 cols: int = 80, cwd: str | None = None,
                 limits: Mapping[int, tuple[int, int]] | None = None) -> None:
        master, slave = os.openpty()
        _set_size(slave, rows, cols)
        pid = os.fork()
        if pid == 0:  # the child: new session, the pty as controlling terminal, then exec
            try:
                os.close(master)
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                if slave > 2:
                    os.close(slave)
                if cwd:
                    os.chdir(cwd)
                for which, (soft, hard) in (limits or {}).items():
                    resource.setrlimit(which, (soft, hard))
                os.execvpe(argv[0], list(argv), dict(env if env is not None else os.environ))
            finally:
                os._exit(127)
        os.close(slave)
        self.pid = pid
        self.fd = master
        self.output = bytearray()
        self.returncode: int | None = None

    def write(self, data: bytes | str) -> None:
        os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def read(self, timeout: float) -> bytes:
        """Whatever the child writes within `timeout` seconds of silence (b'' if nothing)."""
        chunks = []
        while True:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                break
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # the child closed the pty
                break
            if not data:
                break
            chunks.append(data)
            timeout = min(timeout, 0.05)
        out = b"".join(chunks)
        self.output += out
        return out

    def read_some(self, timeout: float) -> bytes:
        """One read of whatever is there within `timeout` s (b'' if nothing came); EOFError once the child is gone."""
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return b""
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            data = b""
        if not data:
            raise EOFError(f"the process ended; last output: {bytes(self.output[-300:])!r}")
        self.output += data
        return data

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        """Read until `marker` appears in the output since this call began; raise TimeoutError if it never does."""
        start = len(self.output)
        deadline = time.monotonic() + timeout
        while marker not in self.output[start:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{marker!r} did not appear within {timeout} s")
            self.read_some(left)
        return bytes(self.output[start:])

    def resize(self, rows: int, cols: int) -> None:
        _set_size(self.fd, rows, cols)
        os.kill(self.pid, signal.SIGWINCH)

    def poll(self) -> int | None:
        """The exit code if the child has ended (reaping it), else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"process {self.pid} still running after {timeout} s")
            self.read(0.05)  # keep draining so the child never blocks on a full pty
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait()

    def close(self) -> None:
        self.kill()
        try:
            os.close(self.fd)
        except OSError:
            pass

    def __enter__(self) -> PtyProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
