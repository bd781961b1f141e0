"""Process hardening for every process that holds a desk's master key: no core dumps, no same-user ptrace."""

from __future__ import annotations

import ctypes
import resource
import sys
from functools import cache

_PR_GET_DUMPABLE = 3
_PR_SET_DUMPABLE = 4


@cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def protect_key_holder() -> None:
    """Forbid core dumps (soft and hard limit 0) and, on Linux, mark the process not dumpable.

    A core file or a peer's ptrace would put the master key on disk or in another process; not dumpable
    also makes /proc/<pid>/mem and environ unreadable to other processes of the same account.
    """
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def is_dumpable() -> bool:
    """Whether this process could still dump core or be traced by its account's other processes (Linux)."""
    if not sys.platform.startswith("linux"):
        return resource.getrlimit(resource.RLIMIT_CORE) != (0, 0)
    return bool(_libc().prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0))
