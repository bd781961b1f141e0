"""The desk as a thin client sees it: start-up, bytes on the wire, keystroke latency, idle cost and memory.

Run:  .venv/bin/python benchmarks/tui.py [--home DIR | --patients N] [--queries Q] [--runs R]

It drives the real desk (`python -m recdesk.cli --home HOME`, signed on as the demo clerk) on its own
pseudo-terminal of 80x24 with TERM=xterm-256color through recdesk.serve.terminal.PtyProcess, the way an SSH
session would, and measures:

1. start-up: from spawning the process until the last byte of its first paint (the search prompt is on
   screen and the output has then been quiet for 100 ms), median of R runs, against a minimal Textual
   app (an Input and a Footer, `run(mouse=False)`) started the same way by the same Python. Budget:
   recdesk <= 1.5x the minimal app. One uncounted warm-up run of each comes first; runs alternate.
2. bytes per typed character: three `last,first` names of demo patients typed one key at a time on the
   search screen; after each key it reads until the status line shows the outcome of that key's search
   ("17 matches. ...", "No patient matches ...", ...) and the output has been quiet for 100 ms. Budget:
   the worst key <= 3 KB (3,000 bytes).
3. keystroke-to-results latency: for Q demo patients (random.Random(42), after 3 uncounted warm-ups) it
   types the MRN but its last digit (an MRN of 7 digits matches nobody), waits for "No patient matches"
   and quiet, then times from writing the last digit until that patient's row (`<sex>  <MRN>`) arrives
   (and, for diagnosis, until the prompt echoes the whole MRN).
   Escape clears the prompt between queries. Budget: p95 <= 50 ms.
4. idle: 10 s without input right after the first paint: bytes written (budget 0) and the child's CPU
   (utime + stime from /proc/PID/stat; budget <= 0.5 %).
5. peak RSS: VmHWM of the desk process just before sign-off. Budget <= 60 MB (10^6 bytes).

The minimal app's last run also stays idle for the same time, so its idle CPU and peak RSS are shown beside
the desk's (no budget): what Textual itself costs on this machine.

Then it signs off with F10 and checks that the desk exits 0. Without --home it builds (or resumes, or
reuses) a demo desk of N patients (default 10,000, seed 1) in bench-data/desk-<N>; --home uses an
existing demo desk as it is. The report exits 0 whether budgets pass or not; 2 if the harness failed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import os
import platform
import random
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from recdesk import config as config_mod
from recdesk.demo import builder, synthetic
from recdesk.desk import Desk
from recdesk.serve.terminal import PtyProcess
from recdesk.vault.models import DeskInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import label, say  # noqa: E402 - one naming of bench desks for every benchmark

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA = ROOT / "bench-data"
SEED = 1
ROWS, COLS = 24, 80
QUIET = 0.1  # seconds of silence that end a paint
# The search screen's status line after every key: the results (or why there are none) have been shown.
STATUS_MARKERS = (b", rows ", b", row ", b"No patient matches", b"results share", b"type at least",
                  b"type the last name", b"nothing to search for", b"is not a date")
TIMEOUT = 60.0  # no single wait may take longer than this
WARMUP = 3
F10 = "\x1b[21~"
ESCAPE = "\x1b"

STARTUP_RATIO_BUDGET = 1.5
BYTES_PER_CHAR_BUDGET = 3000
LATENCY_P95_BUDGET_MS = 50.0
IDLE_BYTES_BUDGET = 0
IDLE_CPU_BUDGET_PCT = 0.5
RSS_BUDGET_MB = 60.0

MINIMAL_APP = """
from textual.app import App
from textual.binding import Binding
from textual.widgets import Footer, Input


class Minimal(App):
    BINDINGS = [Binding("f10", "quit", "Sign off")]

    def compose(self):
        prompt = Input(placeholder="name (smith,jo)  MRN  DOB  last 4  S1234  phone")
        prompt.cursor_blink = False
        yield prompt
        yield Footer()


Minimal().run(mouse=False)
"""
MINIMAL_MARKER = b"Sign off"  # the Footer's F10 binding
DESK_MARKER = b"Patient search"  # the desk's header on the search screen




# --- the pty -------------------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    return {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS)}


def drain(p: PtyProcess, quiet: float = QUIET, timeout: float = TIMEOUT) -> tuple[int, float | None]:
    """Read until the child has written nothing for `quiet` s: (bytes read, perf_counter of the last byte)."""
    got, last = 0, None
    deadline = time.perf_counter() + timeout
    mark = time.perf_counter()
    while (left := mark + quiet - time.perf_counter()) > 0:
        if time.perf_counter() >= deadline:
            raise TimeoutError(f"still writing after {timeout} s")
        data = p.read_some(min(left, deadline - time.perf_counter()))
        if data:
            got += len(data)
            last = mark = time.perf_counter()
    return got, last


def read_for(p: PtyProcess, seconds: float) -> int:
    """Read whatever arrives during exactly `seconds` s; the bytes read."""
    got = 0
    deadline = time.perf_counter() + seconds
    while (left := deadline - time.perf_counter()) > 0:
        got += len(p.read_some(left))
    return got


def read_until_any(p: PtyProcess, markers: Sequence[bytes], timeout: float = TIMEOUT) -> bytes:
    """Read until one of `markers` appears in the output written since this call began; that marker."""
    start = len(p.output)
    deadline = time.perf_counter() + timeout
    while True:
        seen = bytes(p.output[start:])
        for marker in markers:
            if marker in seen:
                return marker
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError(f"none of {list(markers)!r} appeared within {timeout} s; "
                               f"last output: {seen[-300:]!r}")
        p.read_some(left)


def times_until(p: PtyProcess, first: bytes, then: bytes, timeout: float = TIMEOUT) -> tuple[float, float]:
    """Read until both markers have appeared since this call began; when each first appeared (perf_counter)."""
    start = len(p.output)
    deadline = time.perf_counter() + timeout
    seen: dict[bytes, float] = {}
    while True:
        now = time.perf_counter()
        for marker in (first, then):
            if marker not in seen and marker in p.output[start:]:
                seen[marker] = now
        if len(seen) == 2:
            return seen[first], seen[then]
        if now >= deadline:
            raise TimeoutError(f"{[m for m in (first, then) if m not in seen]!r} did not appear within {timeout} s")
        p.read_some(deadline - now)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for process {pid}")


def sign_off(p: PtyProcess) -> int:
    p.write(F10)
    return p.wait(timeout=TIMEOUT)


def first_paint(p: PtyProcess, started: float, marker: bytes) -> tuple[float, int]:
    """Seconds from spawn to the last byte of the first paint, and the bytes of that paint."""
    p.read_until(marker, timeout=TIMEOUT)
    _, last = drain(p)
    return (last or time.perf_counter()) - started, len(p.output)


# --- the measurements ----------------------------------------------------------------------------------


class Session:
    """What one run measured after its first paint."""

    def __init__(self) -> None:
        self.idle_bytes = 0
        self.idle_cpu_pct = 0.0
        self.per_char: list[int] = []
        self.typed: list[str] = []
        self.latencies_ms: list[float] = []
        self.echo_ms: list[float] = []
        self.rss_mb = 0.0


def measure_idle(p: PtyProcess, session: Session, seconds: float) -> None:
    cpu0, t0 = cpu_seconds(p.pid), time.perf_counter()
    session.idle_bytes = read_for(p, seconds)
    cpu1, t1 = cpu_seconds(p.pid), time.perf_counter()
    session.idle_cpu_pct = 100 * (cpu1 - cpu0) / (t1 - t0)


def clear_prompt(p: PtyProcess) -> None:
    p.write(ESCAPE)
    read_until_any(p, [b"Type to search"])
    drain(p)


def measure_typing(p: PtyProcess, session: Session, people: list[synthetic.SyntheticPatient]) -> None:
    for person in people:
        query = f"{person.last},{person.first}"
        session.typed.append(query)
        for ch in query:
            start = len(p.output)
            p.write(ch)
            read_until_any(p, STATUS_MARKERS)  # the echo comes first, the results after the search
            drain(p)
            session.per_char.append(len(p.output) - start)
        clear_prompt(p)


def measure_latency(p: PtyProcess, session: Session, people: list[synthetic.SyntheticPatient]) -> None:
    for n, person in enumerate(people):
        mrn = person.mrn
        row = f"{person.sex} {mrn:>9}".encode()  # in the result row only: the prompt echoes the bare digits
        p.write(mrn[:-1])
        read_until_any(p, [b"No patient matches", b", rows ", b", row "])
        drain(p)
        started = time.perf_counter()
        p.write(mrn[-1])
        echoed, shown = times_until(p, mrn.encode(), row)
        if n >= WARMUP:
            session.latencies_ms.append(1000 * (shown - started))
            session.echo_ms.append(1000 * (echoed - started))
        drain(p)
        clear_prompt(p)


def desk_session(p: PtyProcess, args, typing_people, latency_people) -> Session:
    session = Session()
    say(f"  idle {args.idle:g} s ...")
    measure_idle(p, session, args.idle)
    say(f"  typing {len(typing_people)} names key by key ...")
    measure_typing(p, session, typing_people)
    say(f"  {len(latency_people)} MRN searches ({WARMUP} warm-up) ...")
    measure_latency(p, session, latency_people)
    session.rss_mb = peak_rss_kib(p.pid) * 1024 / 1e6
    return session


def minimal_session(p: PtyProcess, args) -> Session:
    """The minimal app's idle cost and memory, for comparison (no budget)."""
    session = Session()
    say(f"  idle {args.idle:g} s ...")
    measure_idle(p, session, args.idle)
    session.rss_mb = peak_rss_kib(p.pid) * 1024 / 1e6
    return session


# --- the desk ------------------------------------------------------------------------------------------


def prepare_desk(args) -> tuple[Path, int, int]:
    """The desk's home, its patient count and its seed (building the default desk if needed)."""
    if args.home:
        home = Path(args.home).expanduser().resolve()
        if not (home / config_mod.CONFIG_NAME).exists():
            raise SystemExit(f"tui.py: no desk in {home}")
    else:
        home = BENCH_DATA / f"desk-{label(args.patients)}"
        already = 0
        if (home / config_mod.CONFIG_NAME).exists():
            with Desk.open(home):
                already = DeskInfo.get().demo_built or 0
        if already < args.patients:
            say(f"desk: building {home} from {already:,} to {args.patients:,} patients")
            builder.build(home, args.patients, seed=SEED, progress=builder.Rate(say, already)).close()
    with Desk.open(home, readonly=True):
        info = DeskInfo.get()
        built, seed = info.demo_built or 0, info.demo_seed
    if seed is None or built < 1:
        raise SystemExit(f"tui.py: {home} is not a built demo desk (its patients are needed for the queries)")
    say(f"desk: {home} ({built:,} patients, seed {seed})")
    return home, built, seed


def sample_people(built: int, seed: int, count: int) -> list[synthetic.SyntheticPatient]:
    """`count` distinct demo patients as the desk holds them (slots holding near-duplicates skipped)."""
    rng = random.Random(42)
    picked: list[synthetic.SyntheticPatient] = []
    seen: set[int] = set()
    for _ in range(100 * count):
        if len(picked) == count or len(seen) == built:
            break
        index = rng.randrange(built)
        if index in seen:
            continue
        seen.add(index)
        if index % builder.BATCH and synthetic.is_near_duplicate_index(seed, index):
            continue
        picked.append(synthetic.patient(seed, index))
    if len(picked) < count:
        raise SystemExit(f"tui.py: could not pick {count} patients from {built:,}")
    return picked


# --- the report ----------------------------------------------------------------------------------------


def machine() -> list[str]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"machine: {os.cpu_count()} CPUs, {model}; {platform.system()} {platform.release()}; load average {load}",
        f"python {platform.python_version()}, textual {importlib.metadata.version('textual')}, "
        f"terminal {COLS}x{ROWS} TERM=xterm-256color",
    ]


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q / 100) - 1)]


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def report(desk_runs: list[tuple[float, int]], minimal_runs: list[tuple[float, int]], session: Session,
           minimal: Session, exit_codes: list[int], args, home: Path, built: int) -> None:
    desk_s = statistics.median(t for t, _ in desk_runs)
    minimal_s = statistics.median(t for t, _ in minimal_runs)
    ratio = desk_s / minimal_s
    mean_bpc = statistics.fmean(session.per_char)
    max_bpc = max(session.per_char)
    p50 = nearest_rank(session.latencies_ms, 50)
    p95 = nearest_rank(session.latencies_ms, 95)
    rows = [
        ("start-up to search prompt, recdesk (median)", f"{desk_s * 1000:,.0f} ms", "", ""),
        ("start-up, minimal Textual app (median)", f"{minimal_s * 1000:,.0f} ms", "", ""),
        ("start-up ratio recdesk / minimal", f"{ratio:.2f}x", f"<= {STARTUP_RATIO_BUDGET}x",
         verdict(ratio <= STARTUP_RATIO_BUDGET)),
        ("bytes per typed char, mean", f"{mean_bpc:,.0f} B", "", ""),
        ("bytes per typed char, max", f"{max_bpc:,} B", f"<= {BYTES_PER_CHAR_BUDGET:,} B",
         verdict(max_bpc <= BYTES_PER_CHAR_BUDGET)),
        (f"keystroke to results, p50 (n={len(session.latencies_ms)})", f"{p50:.1f} ms", "", ""),
        (f"keystroke to results, p95 (n={len(session.latencies_ms)})", f"{p95:.1f} ms",
         f"<= {LATENCY_P95_BUDGET_MS:g} ms", verdict(p95 <= LATENCY_P95_BUDGET_MS)),
        ("  of which keystroke to echo, p50 / p95 (no budget)",
         f"{nearest_rank(session.echo_ms, 50):.1f} / {nearest_rank(session.echo_ms, 95):.1f} ms", "", ""),
        (f"idle {args.idle:g} s: bytes written", f"{session.idle_bytes:,} B", f"= {IDLE_BYTES_BUDGET}",
         verdict(session.idle_bytes <= IDLE_BYTES_BUDGET)),
        (f"idle {args.idle:g} s: CPU of the desk", f"{session.idle_cpu_pct:.2f} %", f"<= {IDLE_CPU_BUDGET_PCT} %",
         verdict(session.idle_cpu_pct <= IDLE_CPU_BUDGET_PCT)),
        ("  minimal app idle: bytes / CPU (no budget)", f"{minimal.idle_bytes:,} B / {minimal.idle_cpu_pct:.2f} %", "",
         ""),
        ("peak RSS of the desk (VmHWM)", f"{session.rss_mb:.1f} MB", f"<= {RSS_BUDGET_MB:g} MB",
         verdict(session.rss_mb <= RSS_BUDGET_MB)),
        ("  minimal app peak RSS (no budget)", f"{minimal.rss_mb:.1f} MB", "", ""),
        ("exit code after F10 (every run)", ",".join(map(str, exit_codes)), "0",
         verdict(all(code == 0 for code in exit_codes))),
    ]
    print()
    for line in machine():
        print(line)
    print(f"desk: {home} ({built:,} patients)")
    print(f"start-up runs (ms): recdesk {', '.join(f'{t * 1000:.0f}' for t, _ in desk_runs)}; "
          f"minimal {', '.join(f'{t * 1000:.0f}' for t, _ in minimal_runs)}")
    print(f"first paint bytes: recdesk {statistics.median(b for _, b in desk_runs):,.0f}, "
          f"minimal {statistics.median(b for _, b in minimal_runs):,.0f}")
    print(f"typed: {', '.join(repr(q) for q in session.typed)} ({len(session.per_char)} keys; "
          f"bytes per key {', '.join(map(str, session.per_char))})")
    print()
    widths = [max(len(r[i]) for r in rows + [("measure", "value", "budget", "result")]) for i in range(4)]
    header = ("measure", "value", "budget", "result")
    print(f"{header[0]:<{widths[0]}}  {header[1]:>{widths[1]}}  {header[2]:<{widths[2]}}  {header[3]}")
    print(f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * widths[2]}  {'-' * widths[3]}")
    for name, value, budget, result in rows:
        print(f"{name:<{widths[0]}}  {value:>{widths[1]}}  {budget:<{widths[2]}}  {result}")


# --- main ----------------------------------------------------------------------------------------------


def run_once(argv: list[str], marker: bytes, what: str, *, then=None) -> tuple[float, int, int, object]:
    """Spawn, time the first paint, optionally run `then(p)`, sign off: (seconds, paint bytes, exit, result)."""
    started = time.perf_counter()
    with PtyProcess(argv, env=child_env(), rows=ROWS, cols=COLS, cwd=str(ROOT)) as p:
        seconds, paint = first_paint(p, started, marker)
        say(f"{what}: first paint {seconds * 1000:.0f} ms, {paint:,} bytes")
        result = then(p) if then else None
        code = sign_off(p)
    return seconds, paint, code, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="an existing demo desk (default: build or reuse bench-data/desk-<N>)")
    ap.add_argument("--patients", type=int, default=10_000, help="patients in the default desk (default 10,000)")
    ap.add_argument("--queries", type=int, default=40, help="timed MRN searches (default 40, at least 40)")
    ap.add_argument("--runs", type=int, default=5, help="start-up runs of each app (default 5)")
    ap.add_argument("--idle", type=float, default=10.0, help="idle seconds measured (default 10)")
    args = ap.parse_args(argv)
    if args.queries < 40:
        ap.error("--queries must be at least 40")
    if args.runs < 1 or args.idle <= 0:
        ap.error("--runs must be at least 1 and --idle positive")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so every child is killed

    home, built, seed = prepare_desk(args)
    people = sample_people(built, seed, args.queries + WARMUP + 3)
    typing_people, latency_people = people[:3], people[3:]
    desk_argv = [sys.executable, "-m", "recdesk.cli", "--home", str(home)]
    minimal_argv = [sys.executable, "-c", MINIMAL_APP]

    try:
        say("warm-up (not counted)")
        run_once(minimal_argv, MINIMAL_MARKER, "minimal warm-up")
        run_once(desk_argv, DESK_MARKER, "recdesk warm-up")
        desk_runs: list[tuple[float, int]] = []
        minimal_runs: list[tuple[float, int]] = []
        exit_codes: list[int] = []
        session = minimal = None
        for run in range(1, args.runs + 1):
            last = run == args.runs
            then = (lambda p: minimal_session(p, args)) if last else None
            seconds, paint, code, result = run_once(minimal_argv, MINIMAL_MARKER, f"minimal run {run}", then=then)
            minimal_runs.append((seconds, paint))
            if code:
                say(f"minimal app exited {code}")
            if last:
                minimal = result
            then = (lambda p: desk_session(p, args, typing_people, latency_people)) if last else None
            seconds, paint, code, result = run_once(desk_argv, DESK_MARKER, f"recdesk run {run}", then=then)
            desk_runs.append((seconds, paint))
            exit_codes.append(code)
            if last:
                session = result
    except (TimeoutError, EOFError, OSError) as exc:
        say(f"tui.py: {type(exc).__name__}: {exc}")
        return 2
    assert isinstance(session, Session) and isinstance(minimal, Session)
    report(desk_runs, minimal_runs, session, minimal, exit_codes, args, home, built)
    return 0


if __name__ == "__main__":
    sys.exit(main())
