"""Registration throughput: the demo build's patient path against plaintext SQLite inserts of the same rows.

Run:  .venv/bin/python benchmarks/demo_build.py [--patients N]

The floor is what a desk with no encryption at all would cost: the same synthetic patients written as
plaintext columns plus a plain (last, first) and MRN index into an ordinary SQLite file, in the same
batches. recdesk's path adds per-patient keys, AES-GCM fields, blind-index tokens and the audit chain,
inside SQLCipher. Both sides exclude PDF rendering. Generating the patients (and their documents' text) is timed
on its own line first: it is the same for both, and it is what reads the demo's tables.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from recdesk.config import Config
from recdesk.demo import synthetic
from recdesk.demo.builder import patient_details
from recdesk.desk import Desk
from recdesk.patients.registry import register_many

BATCH = 1000


def floor(people: list[synthetic.SyntheticPatient], path: Path) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("""
        PRAGMA journal_mode=wal; PRAGMA synchronous=full;
        CREATE TABLE patient (id INTEGER PRIMARY KEY, mrn TEXT, last TEXT, first TEXT, middle TEXT, dob TEXT,
                              sex TEXT, ssn_last4 TEXT, phone TEXT, address TEXT);
        CREATE INDEX patient_name ON patient (last, first);
        CREATE UNIQUE INDEX patient_mrn ON patient (mrn);
    """)
    started = time.perf_counter()
    for start in range(0, len(people), BATCH):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO patient (mrn, last, first, middle, dob, sex, ssn_last4, phone, address) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [(p.mrn, p.last, p.first, p.middle, p.dob.isoformat(), p.sex, p.ssn_last4, p.phone, str(p.address))
             for p in people[start : start + BATCH]],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def recdesk_path(people: list[synthetic.SyntheticPatient], home: Path) -> tuple[float, int]:
    desk, actor = Desk.create(Config(home=home, key_source="file", key_file=home.parent / "bench.key"), "bench")
    started = time.perf_counter()
    for start in range(0, len(people), BATCH):
        with desk.write():
            register_many(desk, actor, [patient_details(p, False) for p in people[start : start + BATCH]])
    elapsed = time.perf_counter() - started
    desk.close()
    size = sum(f.stat().st_size for f in home.glob("recdesk.db*"))
    return elapsed, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    args = parser.parse_args()
    started = time.perf_counter()
    people = [synthetic.patient(1, i) for i in range(args.patients)]
    made = time.perf_counter() - started
    documents = sum(len(synthetic.documents(1, i, p)) for i, p in enumerate(people))
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        plain = floor(people, tmp_path / "plain.db")
        plain_size = sum(f.stat().st_size for f in tmp_path.glob("plain.db*"))
        ours, size = recdesk_path(people, tmp_path / "desk")
    n = args.patients
    print(f"registration of {n:,} synthetic patients, batches of {BATCH:,} ({os.cpu_count()} cores)")
    print(f"generation: {n:,} patients in {made:.2f} s ({n / made:,.0f}/s); with their {documents:,} documents' "
          f"text {generated:.2f} s")
    print(f"{'path':<44} {'seconds':>8} {'patients/s':>11} {'bytes/patient':>14}")
    print(f"{'floor: plaintext SQLite, 2 indexes':<44} {plain:>8.2f} {n / plain:>11,.0f} {plain_size / n:>14,.0f}")
    print(f"{'recdesk: SQLCipher + fields + tokens + audit':<44} {ours:>8.2f} {n / ours:>11,.0f} {size / n:>14,.0f}")
    print(f"recdesk / floor: {ours / plain:.1f}x the time")


if __name__ == "__main__":
    main()
