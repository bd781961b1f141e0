"""Purge time: a batch of N patients past retention prepared, approved and run (crypto-shredding each patient in its
own transaction), against a floor from the same run: opening each of those patients' charts once.

Run:  .venv/bin/python benchmarks/purge.py [--patients 1000] [--postgres URL]

Builds a desk of N patients last seen in 2010 (one stay, one 2-page document and one paper volume each), then times:
- the floor: `chart.open_chart` for every patient (decrypt the record, gather its parts, audit the view);
- prepare: the retention worklist over the desk and the batch's rows and paper volume list;
- approve: every patient's blockers checked again (T1, holds, requests, deficiencies, paper, marks);
- run: per patient, in its own transaction: the check again, the paper volumes listed, the register entry, the rows
  deleted, the erase verified, the audit events; then the stored files removed and (SQLite) the WAL checkpointed;
  at the end the certificate of destruction issued.
No fixed budget in DESIGN.md; the table shows the ratio so a regression is visible.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import tempfile
import time
from pathlib import Path

from fpdf import FPDF

from recdesk import users
from recdesk.config import Config
from recdesk.desk import Desk
from recdesk.paper import tracking
from recdesk.patients import chart
from recdesk.patients.registry import PatientDetails, register_many
from recdesk.retention import batches
from recdesk.vault import crypto, seals
from recdesk.vault.db import bulk_insert
from recdesk.vault.models import ChartVolume, Document, Encounter, Patient, new_uuid, now

LAST_SEEN = datetime.datetime(2010, 5, 4, 9, 30)


def make_pdf() -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for page in range(2):
        pdf.add_page()
        pdf.text(15, 20, f"Discharge summary page {page + 1}: vital signs stable, plan unchanged.")
    return bytes(pdf.output())


def build(desk: Desk, boss, n: int) -> list[str]:
    """N patients last seen in 2010, each with a stay, a 2-page filed document and a paper volume; their uuids."""
    data = make_pdf()
    room = tracking.default_file_room(desk)
    uuids = []
    for start in range(0, n, 500):
        with desk.write():
            ids = register_many(desk, boss, [
                PatientDetails(mrn=str(400000 + i), last=f"Purgeson{i:05d}", first="Pat",
                               dob=datetime.date(1940, 1, 1) + datetime.timedelta(days=i))
                for i in range(start, min(start + 500, n))])
            rows = list(Patient.select().where(Patient.id.in_(ids)))
            bulk_insert(Encounter, [{"uuid": new_uuid(), "patient": r.id, "kind": "inpatient", "admit_at": LAST_SEEN,
                                     "discharge_at": LAST_SEEN + datetime.timedelta(days=3), "service": "Medicine"}
                                    for r in rows])
            bulk_insert(ChartVolume, [{"uuid": new_uuid(), "patient": r.id, "home": room.id, "current": room.id}
                                      for r in rows])
            docs = []
            for r in rows:
                uid = new_uuid()
                dek = desk.dek(r)
                stored = desk.store.put(dek, uid, data, sync=False)
                docs.append({"uuid": uid, "patient": r.id, "doc_type": "discharge_summary", "pages": 2,
                             "service_date": LAST_SEEN.date(), "size": stored.size, "sha256": stored.sha256,
                             "blob": stored.blob, "title_enc": crypto.seal(dek, "document", "title", uid, "Summary"),
                             "source": "scan", "status": "filed", "qa_state": "passed", "filed_by": boss.user_id,
                             "filed_at": now()})
                uuids.append(r.uuid)
            bulk_insert(Document, docs)
            seals.reseal(desk, Document, Document.patient.in_(ids))
        desk.store.sync()
    return uuids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--postgres", default="", help="a postgresql:// URL of an empty database (default: SQLCipher)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(home=Path(tmp) / "desk", key_source="file", key_file=Path(tmp) / "k",
                        database_url=args.postgres)
        desk, boss = Desk.create(config, "boss")
        users.add(desk, boss, "ann", "clerk")
        users.add(desk, boss, "grace", "manager")
        clerk, grace = desk.sign_on("ann"), desk.sign_on("grace")
        started = time.perf_counter()
        uuids = build(desk, boss, args.patients)
        built = time.perf_counter() - started

        started = time.perf_counter()
        for uid in uuids:
            chart.open_chart(desk, clerk, uid)
        floor = time.perf_counter() - started

        today = datetime.date.today()
        started = time.perf_counter()
        batch = batches.prepare(desk, clerk, as_of=today)
        prepared = time.perf_counter() - started
        started = time.perf_counter()
        batches.approve(desk, grace, batch.id)
        approved = time.perf_counter() - started
        started = time.perf_counter()
        done = batches.run(desk, boss, batch.id, witness="Dan Okoye")
        ran = time.perf_counter() - started
        desk.close()

    n = done.done
    backend = "PostgreSQL" if args.postgres else "SQLCipher"
    print(f"purge of {n:,} patients ({done.documents:,} documents, {done.volumes:,} paper volumes), {backend}; "
          f"desk built in {built:.1f} s")
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{'':<44}{'seconds':>10}{'ms/patient':>12}")
    rows = [("floor: open each chart once", floor), ("prepare (worklist, batch, paper list)", prepared),
            ("approve (every patient checked again)", approved), ("run (crypto-shred each, certificate)", ran),
            ("prepare + approve + run", prepared + approved + ran)]
    for label, seconds in rows:
        print(f"{label:<44}{seconds:>10.2f}{1000 * seconds / n:>12.1f}")
    print(f"ratio: the run is {ran / floor:.1f}x the floor; the whole purge {(prepared + approved + ran) / floor:.1f}x")


if __name__ == "__main__":
    main()
