"""What the machine under a desk did wrong (a read-only, full or forbidden disk), named for whoever can fix it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from recdesk.errors import DeskError

# SQLite's primary result codes (extended codes keep them in the low byte) for the disk, not the data.
_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 3, 8, 10, 13, 14
_SQLITE_DISK = {_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN}
_SQLITE_WORDS = ("attempt to write a readonly database", "database or disk is full", "disk i/o error",
                 "unable to open database file")
_PG_DISK_FULL = "53100"  # psycopg's DiskFull: the server could not extend a file
_PG_OUT_OF_MEMORY = ("53200", "53000")


def _chain(exc: BaseException):
    """The error and every error it was raised from or while handling (a failed rollback hides the real one)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _folder(path: Path) -> Path:
    """The nearest folder of `path` that exists, where the disk can be asked about."""
    path = Path(path)
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def probe(path: Path) -> DeskError | None:
    """What is wrong with the disk holding `path` right now: read-only, full or not writable; None if nothing."""
    folder = _folder(path)
    try:
        disk = os.statvfs(folder)
    except OSError:
        return None
    if disk.f_flag & os.ST_RDONLY:
        return read_only(path)
    if disk.f_bavail == 0 or (disk.f_files and disk.f_favail == 0):
        return full(path)
    for target in (folder, Path(path)):
        if target.exists() and not os.access(target, os.R_OK | os.W_OK):
            return forbidden(target)
    return None


def read_only(path: Path) -> DeskError:
    return DeskError(f"the desk's home {_folder(path)} is on a read-only disk: remount it read-write (or restore "
                     "the desk's write access) and retry")


def full(path: Path) -> DeskError:
    return DeskError(f"the disk holding {_folder(path)} is full (or over its quota): free space and retry")


def forbidden(path: Path) -> DeskError:
    return DeskError(f"recdesk may not read and write {path} (permission denied): give the desk's service account "
                     "access to it and retry")


def cause(exc: BaseException, path: Path) -> DeskError | None:
    """The environmental cause behind an error raised while working in `path` (the desk's home), or None.

    Looks through the whole chain: SQLite rolls a transaction back itself when the disk fills, so what
    reaches the desk is often "cannot rollback - no transaction is active", raised while handling the real one.
    """
    for err in _chain(exc):
        if isinstance(err, OSError) and err.errno is not None:
            where = Path(err.filename) if err.filename else path
            if err.errno == errno.EROFS:
                return read_only(where)
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                return full(where)
            if err.errno in (errno.EACCES, errno.EPERM):
                return probe(where) or forbidden(where)
            if err.errno == errno.EIO:
                return DeskError(f"the disk holding {_folder(where)} reports an I/O error: check the disk, then run "
                                 "`recdesk doctor`")
        code = getattr(err, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        words = str(err).lower()
        if primary in _SQLITE_DISK or any(w in words for w in _SQLITE_WORDS):
            if primary == _SQLITE_FULL or "disk is full" in words:
                return probe(path) or full(path)
            if primary == _SQLITE_READONLY or "readonly database" in words:
                return probe(path) or read_only(path)
            return probe(path) or DeskError(f"the database in {_folder(path)} cannot be opened or written "
                                            f"({words}): check the disk and the file's permissions, then run "
                                            "`recdesk doctor`")
        sqlstate = getattr(err, "sqlstate", None)
        if sqlstate == _PG_DISK_FULL:
            return DeskError("the PostgreSQL server's disk is full (could not extend a file): free space on the "
                             "database server and retry (nothing was half-written)")
        if sqlstate in _PG_OUT_OF_MEMORY:
            return DeskError("the PostgreSQL server is out of memory or resources: ask its administrator, then retry")
    return None


def explained(home: Path, fn, *args, **kwargs):
    """Call `fn`; an error whose cause is the disk under `home` is raised as that cause's one line."""
    try:
        return fn(*args, **kwargs)
    except DeskError:
        raise
    except Exception as exc:
        problem = cause(exc, home)
        if problem is None:
            raise
        raise problem from exc
