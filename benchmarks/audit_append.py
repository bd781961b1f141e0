"""Audit append rate: events per second through `audit.append`, each in its own transaction, as a desk writes them.

Run:  .venv/bin/python benchmarks/audit_append.py [--events 2000] [--patients 200] [--rounds 3]

Times, on a new SQLCipher desk in a temporary home:
- desk events (no patient) with details;
- patient events with details, one patient over and over (its audit key cached after the first);
- patient events with details across N patients, on a desk opened afresh (the first event of each patient finds
  and unwraps its key; later ones use the cache);
- the same three again as one `audit.append_many` of all the events in one transaction, which leaves out the commit
  (an fsync, which dominates the rows above on a busy disk) and so shows what sealing an event costs.
The floor is each group's first row: the same chain, transaction and encryption without a patient key.
Uses only calls every recdesk version has, so it runs on an older checkout as well (to compare).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import tempfile
import time
from pathlib import Path

from recdesk.config import Config
from recdesk.desk import Desk
from recdesk.patients.registry import PatientDetails, register_many
from recdesk.vault import audit

DETAILS = {"purpose": "treatment", "reason": "ED called: patient unresponsive", "hours": 4}


def _rate(desk: Desk, actor, patients: list[str], events: int, batched: bool = False) -> float:
    start = time.perf_counter()
    if batched:
        with desk.write():
            audit.append_many(desk, actor, [
                audit.Event("bench.event", f"patient:{patients[n % len(patients)]}" if patients else "bench",
                            patients[n % len(patients)] if patients else "", DETAILS) for n in range(events)])
        return events / (time.perf_counter() - start)
    for n in range(events):
        uuid = patients[n % len(patients)] if patients else ""
        with desk.write():
            audit.append(desk, actor, "bench.event", object=f"patient:{uuid}" if uuid else "bench",
                         patient=uuid, details=DETAILS)
    return events / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(home=Path(tmp) / "desk", key_source="file", key_file=Path(tmp) / "desk.key")
        desk, actor = Desk.create(config, "boss")
        with desk.write():
            ids = register_many(desk, actor, [
                PatientDetails(mrn=f"{700000 + n}", last=f"Benchmark{n}", first="Pat", dob=datetime.date(1950, 1, 1))
                for n in range(args.patients)])
        from recdesk.vault.models import Patient

        uuids = [p.uuid for p in Patient.select(Patient.uuid).where(Patient.id.in_(ids))]
        desk.close()
        cases = [("desk events (no patient)", []), ("one patient, repeated", uuids[:1]),
                 (f"{args.patients} patients, fresh desk", uuids)]
        rows: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for batched in (False, True):
                for label, patients in cases:
                    with Desk.open(config.home) as desk:
                        rate = _rate(desk, desk.sign_on("boss"), patients, args.events, batched)
                    rows.setdefault(label + (", one transaction" if batched else ""), []).append(rate)
    print(f"audit append, {args.events} events per run, best of {args.rounds}; {platform.processor() or 'cpu'}, "
          f"Python {platform.python_version()}")
    print(f"{'what':<50}{'events/s (best)':>16}{'median':>10}")
    for label, rates in rows.items():
        rates.sort()
        print(f"{label:<50}{rates[-1]:>16,.0f}{rates[len(rates) // 2]:>10,.0f}")


if __name__ == "__main__":
    main()
