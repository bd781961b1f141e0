"""PDF parsing in a separate, resource-limited process, so a hostile file cannot take the desk down."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import resource
import stat
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

MEMORY_LIMIT = 1 << 30  # bytes of address space for the parser process
TIME_LIMIT = 30.0  # wall seconds for one file
_KILLED = "the parser ran out of memory or was killed"


@dataclass(frozen=True)
class Parsed:
    """What the desk learns from a PDF: its pages and the text of the first ones (for suggestions)."""

    pages: int
    text: str


# Why a file is quarantined: a closed set of fixed phrases, kept in a plaintext column and shown to
# clerks. What the parser said (which can quote the file's bytes) is only ever the sealed detail.
NOT_PDF = "not a PDF"
TRUNCATED = "truncated: rescan it or ask the sender for it again"
PASSWORD_PROTECTED = "password-protected: ask the sender for an unprotected copy"
NO_PAGES = "no pages"
TOO_MANY_PAGES = "too many pages: split it or raise [intake] max_pages"
DECOMPRESSION_BOMB = "decompression bomb: a hostile PDF"
NESTED_TOO_DEEPLY = "nested too deeply: a hostile or broken PDF"
TOO_SLOW = "took too long to parse: a hostile or broken PDF"
CANNOT_BE_PARSED = "cannot be parsed: a damaged PDF, rescan it or ask the sender for it again"
REASONS = (NOT_PDF, TRUNCATED, PASSWORD_PROTECTED, NO_PAGES, TOO_MANY_PAGES, DECOMPRESSION_BOMB, NESTED_TOO_DEEPLY,
           TOO_SLOW, CANNOT_BE_PARSED)


class Rejected(Exception):
    """The file cannot be filed: `reason` is one of REASONS; `detail` is what the parser said (may quote the file)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class FileRef:
    """A file the worker opens itself, so its bytes never pass through the desk process whole;
    device and inode name the very file the desk checked (a file swapped in under its name is refused)."""

    path: str
    device: int
    inode: int


def _limit_worker() -> None:
    # Die with the desk process: a killed scan or session must not leave a parser behind (Linux).
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        os._exit(1)
    # The parser must never write into the clerk's terminal (pypdf warns on stderr).
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


HEAD_BYTES = 1024  # a PDF header may follow some junk (as readers allow), not a whole file of it
TAIL_BYTES = 2048  # where %%EOF must be


def _open_source(source: bytes | FileRef):
    """The file to parse: bytes in memory, or the desk's checked file opened without following a link."""
    if isinstance(source, bytes):
        return io.BytesIO(source)
    fd = os.open(source.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (source.device, source.inode):
        os.close(fd)
        raise OSError("the file changed after the desk checked it")
    return os.fdopen(fd, "rb")


def _parse(source: bytes | FileRef, max_pages: int, text_pages: int) -> Parsed | tuple[str, str]:
    """Runs in the worker. Returns Parsed, or (reason, detail) for a file that must be quarantined."""
    import logging

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    try:
        with _open_source(source) as f:
            return _parse_file(f, max_pages, text_pages)
    except RecursionError:
        return NESTED_TOO_DEEPLY, "RecursionError"
    except MemoryError:
        return DECOMPRESSION_BOMB, "MemoryError"
    except Exception as exc:  # noqa: BLE001 - any parser failure is a reason to quarantine, never a crash
        return CANNOT_BE_PARSED, f"{type(exc).__name__}: {str(exc)[:200]}"


def _parse_file(f, max_pages: int, text_pages: int) -> Parsed | tuple[str, str]:
    if not f.read(HEAD_BYTES).lstrip()[:5].startswith(b"%PDF-"):
        return NOT_PDF, "no %PDF- header"
    size = f.seek(0, io.SEEK_END)
    f.seek(max(0, size - TAIL_BYTES))
    if b"%%EOF" not in f.read():
        return TRUNCATED, "no %%EOF near the end: the file ends before the PDF does"
    f.seek(0)
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, LimitReachedError

    try:
        reader = PdfReader(f, strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    return PASSWORD_PROTECTED, "needs a user password"
            except (FileNotDecryptedError, NotImplementedError) as exc:
                return PASSWORD_PROTECTED, f"{type(exc).__name__}: {str(exc)[:200]}"
        pages = len(reader.pages)
        if pages == 0:
            return NO_PAGES, "the page tree is empty"
        if pages > max_pages:
            return TOO_MANY_PAGES, f"{pages} pages, more than the limit of {max_pages}"
        # Resolve every object and inflate every page's content: nesting and bombs show here, in the
        # limited worker, not later in the desk (pypdf's text extraction would hide them).
        for generation in reader.xref.values():
            for number in list(generation):
                reader.get_object(number)
        for page in reader.pages:
            contents = page.get_contents()
            if contents is not None:
                contents.get_data()
        texts = [page.extract_text() or "" for page in list(reader.pages)[:text_pages]]
        return Parsed(pages, "\f".join(texts))
    except LimitReachedError as exc:
        return DECOMPRESSION_BOMB, f"LimitReachedError: {str(exc)[:200]}"


def _page_text(data: bytes, index: int) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        reader.decrypt("")
    return reader.pages[index].extract_text() or ""


@contextlib.contextmanager
def _real_stdio():
    """Starting a process needs stdio with file descriptors; a running TUI has replaced them with captures."""
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.__stdout__ or open(os.devnull, "w")  # noqa: SIM115 - restored below
    sys.stderr = sys.__stderr__ or open(os.devnull, "w")  # noqa: SIM115
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


class PdfWorker:
    """Parser processes (one per core, at most two), restarted after a file kills one or runs out of time."""

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or min(2, os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            with _real_stdio():
                pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_limit_worker)
                # Start every process now, while stdio are real file descriptors: a pool spawns another
                # process whenever none is idle, so each of these keeps one busy until all have started.
                for future in [pool.submit(time.sleep, 0.2) for _ in range(self.processes)]:
                    future.result()
            self._pool = pool
        return self._pool

    def _restart(self) -> None:
        if self._pool is not None:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.kill()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _call(self, fn, *args, timeout: float = TIME_LIMIT):
        future = self._executor().submit(fn, *args)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            self._restart()
            raise Rejected(TOO_SLOW, f"more than {timeout:.0f} s") from None
        except BrokenProcessPool:
            self._restart()
            raise Rejected(DECOMPRESSION_BOMB, _KILLED) from None

    def parse(self, source: bytes | FileRef, *, max_pages: int = 2000, text_pages: int = 0) -> Parsed:
        result = self._call(_parse, source, max_pages, text_pages)
        if isinstance(result, tuple):
            raise Rejected(*result)
        return result

    def parse_many(self, sources: list[bytes | FileRef], *, max_pages: int = 2000) -> list[Parsed | Rejected]:
        """Parse several files, queued to the worker at once so the caller's work overlaps the parsing.

        A file that hangs or kills the worker is rejected alone: the worker restarts and the files
        after it are queued again.
        """
        results: list[Parsed | Rejected] = []
        while len(results) < len(sources):
            start = len(results)
            futures = [self._executor().submit(_parse, source, max_pages, 0) for source in sources[start:]]
            for future in futures:
                try:
                    result = future.result(timeout=TIME_LIMIT)
                except FutureTimeout:
                    results.append(Rejected(TOO_SLOW, f"more than {TIME_LIMIT:.0f} s"))
                except BrokenProcessPool:
                    results.append(Rejected(DECOMPRESSION_BOMB, _KILLED))
                else:
                    results.append(Rejected(*result) if isinstance(result, tuple) else result)
                    continue
                for rest in futures:
                    rest.cancel()
                self._restart()
                break
        return results

    def page_text(self, data: bytes, index: int) -> str:
        return self._call(_page_text, data, index)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> PdfWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
