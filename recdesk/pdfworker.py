"""PDF parsing in a separate, resource-limited process, so a hostile file cannot take the desk down."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

MEMORY_LIMIT = 1 << 30  # bytes of address space for the parser process
TIME_LIMIT = 30.0  # wall seconds for one file


@dataclass(frozen=True)
class Parsed:
    """What the desk learns from a PDF: its pages and the text of the first ones (for suggestions)."""

    pages: int
    text: str


class Rejected(Exception):
    """The file cannot be filed: the reason says why, in words a clerk can act on."""


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


def _parse(data: bytes, max_pages: int, text_pages: int) -> Parsed | str:
    """Runs in the worker. Returns Parsed, or a reason string for a file that must be quarantined."""
    import logging

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        return "not a PDF (no %PDF- header)"
    if b"%%EOF" not in data[-2048:]:
        return "truncated: the file ends before the PDF does (rescan or ask for it again)"
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    return "password-protected: ask the sender for an unprotected copy"
            except (FileNotDecryptedError, NotImplementedError):
                return "password-protected: ask the sender for an unprotected copy"
        pages = len(reader.pages)
        if pages == 0:
            return "has no pages"
        if pages > max_pages:
            return f"has {pages} pages, more than the limit of {max_pages}: split it or raise [intake] max_pages"
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
    except RecursionError:
        return "hostile or broken PDF: objects nested too deeply"
    except (MemoryError, LimitReachedError):
        return "hostile PDF: it needs more memory than any real document (decompression bomb?)"
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        return f"damaged or truncated PDF ({type(exc).__name__}: {str(exc)[:80]})"
    except Exception as exc:  # noqa: BLE001 - any parser failure is a reason to quarantine, never a crash
        return f"unreadable PDF ({type(exc).__name__}: {str(exc)[:80]})"


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
            raise Rejected(f"parsing took longer than {timeout:.0f} s: hostile or broken PDF") from None
        except BrokenProcessPool:
            self._restart()
            raise Rejected("the parser ran out of memory or was killed: hostile PDF (decompression bomb?)") from None

    def parse(self, data: bytes, *, max_pages: int = 2000, text_pages: int = 0) -> Parsed:
        result = self._call(_parse, data, max_pages, text_pages)
        if isinstance(result, str):
            raise Rejected(result)
        return result

    def parse_many(self, datas: list[bytes], *, max_pages: int = 2000) -> list[Parsed | Rejected]:
        """Parse several files, queued to the worker at once so the caller's work overlaps the parsing.

        A file that hangs or kills the worker is rejected alone: the worker restarts and the files
        after it are queued again.
        """
        results: list[Parsed | Rejected] = []
        while len(results) < len(datas):
            start = len(results)
            futures = [self._executor().submit(_parse, data, max_pages, 0) for data in datas[start:]]
            for future in futures:
                try:
                    result = future.result(timeout=TIME_LIMIT)
                except FutureTimeout:
                    results.append(Rejected(f"parsing took longer than {TIME_LIMIT:.0f} s: hostile or broken PDF"))
                except BrokenProcessPool:
                    results.append(Rejected("the parser ran out of memory or was killed: hostile PDF "
                                            "(decompression bomb?)"))
                else:
                    results.append(Rejected(result) if isinstance(result, str) else result)
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
