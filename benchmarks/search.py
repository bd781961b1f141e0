"""Search latency: recdesk.patients.search.find on a 1,000,000-patient demo desk against plaintext SQLite
on the same rows.

Run:  .venv/bin/python benchmarks/search.py [--patients N] [--home DIR] [--queries Q]

It builds (or resumes, or reuses) a demo desk of N synthetic patients (seed 1; the default million took
34 minutes at ~500 patients/s on a shared 2-core machine) and the floor beside it: an ordinary, unencrypted
SQLite file holding the same rows in plaintext columns with an index suited to each query. Both live under
bench-data/ (gitignored).

Then, for each query form a clerk types (name prefix `smi`, `last,first`, MRN, DOB `YYYY-MM-DD`, SSN last 4
`1234`, initial + last 4 `S1234`, phone), it draws Q queries from the synthetic patients with
random.Random(42), warms up, and times every query with time.perf_counter: recdesk's search (blind-index
candidate fetch, per-patient key unwrap, field decryption and false-positive filtering, inside SQLCipher)
against the floor's one indexed SELECT ... LIMIT 50. The budget is p95 <= 25 ms per form; the report
exits 0 either way.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from recdesk import config as config_mod
from recdesk.demo import builder, synthetic
from recdesk.desk import Desk
from recdesk.patients import search
from recdesk.vault.blindindex import digits, name_key
from recdesk.vault.models import DeskInfo, Patient

BENCH_DATA = Path(__file__).resolve().parent.parent / "bench-data"
SEED = 1
LIMIT = 50
BUDGET_MS = 25.0
WARMUP = 5
FLOOR_BATCH = 10_000
COLUMNS = "id, mrn, last, first, middle, dob, sex, ssn_last4"


@dataclass(frozen=True)
class Sample:
    query: str  # what the clerk types into recdesk
    params: tuple[str, ...]  # the floor's SQL parameters for the same search


@dataclass(frozen=True)
class Form:
    name: str
    sql: str  # the floor's query, LIMIT 50
    make: Callable[[sqlite3.Row], Sample | None]  # a query from one patient row; None if the row has no such value


def _next_prefix(text: str) -> str:
    """The smallest string above every string starting with text, for an index range scan."""
    return text[:-1] + chr(ord(text[-1]) + 1)


def _name_prefix(row: sqlite3.Row) -> Sample | None:
    prefix = row["last_key"][:3]
    return Sample(prefix, (prefix, _next_prefix(prefix))) if len(prefix) == 3 else None


def _full_name(row: sqlite3.Row) -> Sample:
    first = row["first_key"]
    return Sample(f"{row['last']},{row['first']}", (row["last_key"], first, _next_prefix(first)))


def _last4(row: sqlite3.Row) -> Sample | None:
    return Sample(row["ssn_last4"], (row["ssn_last4"],)) if row["ssn_last4"] else None


def _initial_last4(row: sqlite3.Row) -> Sample | None:
    if not row["ssn_last4"]:
        return None
    initial = row["last_key"][0]
    return Sample(f"{initial.upper()}{row['ssn_last4']}", (row["ssn_last4"], initial, _next_prefix(initial)))


FORMS = [
    Form("name prefix (smi)", f"SELECT {COLUMNS} FROM patient WHERE last_key >= ? AND last_key < ? "
         "ORDER BY last_key, first_key LIMIT 50", _name_prefix),
    Form("last,first", f"SELECT {COLUMNS} FROM patient WHERE last_key = ? AND first_key >= ? AND first_key < ? "
         "ORDER BY first_key LIMIT 50", _full_name),
    Form("MRN", f"SELECT {COLUMNS} FROM patient WHERE mrn = ? LIMIT 50",
         lambda row: Sample(row["mrn"], (row["mrn"],))),
    Form("DOB (YYYY-MM-DD)", f"SELECT {COLUMNS} FROM patient WHERE dob = ? LIMIT 50",
         lambda row: Sample(row["dob"], (row["dob"],))),
    Form("last 4 (1234)", f"SELECT {COLUMNS} FROM patient WHERE ssn_last4 = ? LIMIT 50", _last4),
    Form("initial+last 4 (S1234)", f"SELECT {COLUMNS} FROM patient WHERE ssn_last4 = ? AND last_key >= ? "
         "AND last_key < ? LIMIT 50", _initial_last4),
    Form("phone", f"SELECT {COLUMNS} FROM patient WHERE phone_digits = ? LIMIT 50",
         lambda row: Sample(row["phone"], (row["phone_digits"],))),
]


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def label(patients: int) -> str:
    """1m, 250k or 1234: names the desk and floor files after their size."""
    if patients % 1_000_000 == 0:
        return f"{patients // 1_000_000}m"
    if patients % 1000 == 0:
        return f"{patients // 1000}k"
    return str(patients)


def build_desk(home: Path, patients: int) -> float | None:
    """Build or resume the demo desk; the seconds it took, or None when it was already complete."""
    already = 0
    if (home / config_mod.CONFIG_NAME).exists():
        with Desk.open(home):
            already = DeskInfo.get().demo_built or 0
    if already >= patients:
        say(f"desk: reusing {home} ({already:,} patients built)")
        return None
    say(f"desk: building {home} from {already:,} to {patients:,} patients")
    started = time.perf_counter()
    builder.build(home, patients, seed=SEED, progress=builder.Rate(say, already)).close()
    return time.perf_counter() - started


def synthetic_rows(patients: int) -> Iterator[synthetic.SyntheticPatient]:
    """The demo desk's patients in slot order, near-duplicates placed exactly as demo._build_batch places them."""
    previous = None
    for index in range(patients):
        # A batch's first slot is never a duplicate: _build_batch only looks back within its batch.
        if index % builder.BATCH and synthetic.is_near_duplicate_index(SEED, index):
            person = synthetic.near_duplicate(SEED, index, previous)
        else:
            person = synthetic.patient(SEED, index)
        previous = person
        yield person


def build_floor(path: Path, patients: int) -> float | None:
    """Write the plaintext floor (atomically, via a .part file); the seconds it took, or None if reused."""
    if path.exists():
        say(f"floor: reusing {path}")
        return None
    part = path.with_name(path.name + ".part")
    part.unlink(missing_ok=True)
    say(f"floor: building {path} ({patients:,} plaintext rows)")
    started = time.perf_counter()
    conn = sqlite3.connect(part, isolation_level=None)
    conn.executescript("""
        PRAGMA journal_mode=off; PRAGMA synchronous=off;
        CREATE TABLE patient (id INTEGER PRIMARY KEY, mrn TEXT, last TEXT, first TEXT, middle TEXT, dob TEXT,
                              sex TEXT, ssn_last4 TEXT, phone TEXT, last_key TEXT, first_key TEXT,
                              phone_digits TEXT);
    """)
    batch: list[tuple] = []
    for index, p in enumerate(synthetic_rows(patients)):
        batch.append((index + 1, p.mrn, p.last, p.first, p.middle, p.dob.isoformat(), p.sex, p.ssn_last4, p.phone,
                      name_key(p.last), name_key(p.first), digits(p.phone)[-10:]))
        if len(batch) == FLOOR_BATCH or index + 1 == patients:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO patient VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", batch)
            conn.execute("COMMIT")
            batch.clear()
            if (index + 1) % 100_000 == 0 or index + 1 == patients:
                say(f"floor: {index + 1:,} / {patients:,} rows")
    say("floor: indexing")
    conn.executescript("""
        CREATE INDEX patient_name ON patient (last_key, first_key);
        CREATE INDEX patient_mrn ON patient (mrn);
        CREATE INDEX patient_dob ON patient (dob);
        CREATE INDEX patient_ssn4_name ON patient (ssn_last4, last_key);
        CREATE INDEX patient_phone ON patient (phone_digits);
        ANALYZE;
    """)
    conn.close()
    part.rename(path)
    return time.perf_counter() - started


def draw_samples(floor: sqlite3.Connection, patients: int, count: int) -> dict[str, list[Sample]]:
    """`count` queries per form, from patients drawn with random.Random(42)."""
    rng = random.Random(42)
    samples: dict[str, list[Sample]] = {}
    for form in FORMS:
        chosen: list[Sample] = []
        while len(chosen) < count:
            row = floor.execute("SELECT * FROM patient WHERE id = ?", (rng.randrange(patients) + 1,)).fetchone()
            sample = form.make(row)
            if sample is not None:
                chosen.append(sample)
        samples[form.name] = chosen
    return samples


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    cuts = statistics.quantiles(seconds, n=20, method="inclusive")
    return cuts[9] * 1000, cuts[18] * 1000


def time_each(run: Callable[[Sample], int], samples: list[Sample]) -> tuple[list[float], float]:
    """Per-query seconds and the mean number of results."""
    for sample in samples[:WARMUP]:
        run(sample)
    seconds, results = [], 0
    for sample in samples:
        started = time.perf_counter()
        results += run(sample)
        seconds.append(time.perf_counter() - started)
    return seconds, results / len(samples)


def machine() -> str:
    model = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return (f"machine: {os.cpu_count()} cores, {model or 'unknown CPU'}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000, help="desk size (default 1,000,000)")
    parser.add_argument("--home", type=Path, help="the demo desk's home (default bench-data/desk-<size>)")
    parser.add_argument("--queries", type=int, default=200, help="queries per form (default 200)")
    args = parser.parse_args()
    home: Path = args.home or BENCH_DATA / f"desk-{label(args.patients)}"
    floor_path = home.parent / f"plain-{label(args.patients)}.db"
    home.parent.mkdir(parents=True, exist_ok=True)

    floor_seconds = build_floor(floor_path, args.patients)
    desk_seconds = build_desk(home, args.patients)

    floor = sqlite3.connect(floor_path)
    floor.row_factory = sqlite3.Row
    samples = draw_samples(floor, args.patients, args.queries)
    floor.row_factory = None
    desk = Desk.open(home)
    desk_patients = Patient.select().count()
    say("timing")

    def ours(sample: Sample) -> int:
        return len(search.find(desk, sample.query, limit=LIMIT))

    rows = []
    for form in FORMS:
        def plain(sample: Sample, sql: str = form.sql) -> int:
            return len(floor.execute(sql, sample.params).fetchall())

        our_times, our_mean = time_each(ours, samples[form.name])
        floor_times, floor_mean = time_each(plain, samples[form.name])
        rows.append((form.name, *percentiles(our_times), *percentiles(floor_times), our_mean, floor_mean))
        say(f"timed {form.name}")
    desk.close()
    floor.close()

    desk_size = sum(f.stat().st_size for f in home.glob("recdesk.db*"))
    floor_size = floor_path.stat().st_size
    print(f"search latency, {args.queries} queries per form after {WARMUP} warm-up queries, limit {LIMIT}")
    print(machine())
    built = f"built in {desk_seconds:,.0f} s this run" if desk_seconds is not None else "reused"
    print(f"desk: {home}, {desk_patients:,} patients, database {desk_size / 1e9:.2f} GB ({built})")
    floor_built = f"built in {floor_seconds:.0f} s this run" if floor_seconds is not None else "reused"
    print(f"floor: {floor_path}, plaintext SQLite, {floor_size / 1e9:.2f} GB ({floor_built})")
    header = (f"{'form':<24} | {'recdesk p50 ms':>14} | {'recdesk p95 ms':>14} | {'floor p50 ms':>12} | "
              f"{'floor p95 ms':>12} | {'budget (p95)':>12} | {'pass/fail':>9} | {'mean results recdesk/floor':>26}")
    print(header)
    print("-" * len(header))
    for name, p50, p95, f50, f95, our_mean, floor_mean in rows:
        verdict = "pass" if p95 <= BUDGET_MS else "FAIL"
        means = f"{our_mean:.1f} / {floor_mean:.1f}"
        print(f"{name:<24} | {p50:>14.2f} | {p95:>14.2f} | {f50:>12.3f} | {f95:>12.3f} | "
              f"{f'<= {BUDGET_MS:g} ms':>12} | {verdict:>9} | {means:>26}")

if __name__ == "__main__":
    main()
