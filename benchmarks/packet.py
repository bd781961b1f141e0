"""Release packet build time: `packets.build_packet` against a plain pypdf merge of the same pages.

Run:  .venv/bin/python benchmarks/packet.py [--documents 40] [--pages 25]

Files N documents of P text pages each to one patient, logs an authorized request for them, then times:
- the floor: read the N PDFs, merge every page with pypdf, write the result (no stamps, no encryption);
- recdesk: `packets.build_packet` for electronic delivery — decrypt each document from the store, merge, cover
  letter and notices, stamp a Bates number and CONFIDENTIAL on every page, write, re-read, encrypt with
  AES-256, store the packet encrypted, record it with its audit event.
No fixed budget in DESIGN.md; the table shows the ratio so a regression is visible.
"""

from __future__ import annotations

import argparse
import datetime
import io
import platform
import tempfile
import time
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from recdesk.config import Config
from recdesk.desk import Desk
from recdesk.documents import filing
from recdesk.patients.registry import PatientDetails, register
from recdesk.release import packets, requests
from recdesk.vault.models import Patient


def make_pdf(n: int, pages: int) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for p in range(pages):
        pdf.add_page()
        for line in range(40):
            pdf.text(15, 20 + line * 6, f"Document {n} page {p + 1} line {line}: vital signs stable, plan unchanged.")
    return bytes(pdf.output())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--documents", type=int, default=40)
    ap.add_argument("--pages", type=int, default=25)
    args = ap.parse_args()
    sources = [make_pdf(n, args.pages) for n in range(args.documents)]
    today = datetime.date.today()
    with tempfile.TemporaryDirectory() as tmp:
        desk, boss = Desk.create(Config(home=Path(tmp) / "desk", key_source="file", key_file=Path(tmp) / "k"), "boss")
        patient = Patient.get_by_id(register(desk, boss, PatientDetails(mrn="100234", last="Avery", first="Ann",
                                                                               dob=datetime.date(1960, 1, 1))))
        with desk.write():
            uuids = [filing.file_document(desk, boss, patient, data, doc_type="discharge_summary",
                                             title=f"Document {n}", pages=args.pages, qa_state="passed").uuid
                     for n, data in enumerate(sources)]
        auth = {"description": "all discharge summaries", "discloser": "General Hospital", "recipient": "Dewey LLP",
                "purposes": ["legal claim"], "expiration": {"date": (today.replace(year=today.year + 1)).isoformat()},
                "signed_on": today.isoformat(), "signature": "/s/", "statements": {
                    "revocation": True, "conditioning": True, "redisclosure": True}}
        (release,) = requests.log_request(desk, boss, requests.RequestForm(
            request={"received": today.isoformat(), "requester_type": "attorney", "requester_name": "Dewey LLP",
                     "purpose": "legal"}, authorization=auth, patients=["100234"], delivery="electronic"))

        started = time.perf_counter()
        writer = PdfWriter()
        for data in sources:
            for page in PdfReader(io.BytesIO(data)).pages:
                writer.add_page(page)
        out = io.BytesIO()
        writer.write(out)
        floor = time.perf_counter() - started

        started = time.perf_counter()
        packet = packets.build_packet(desk, boss, release.uuid, uuids)
        took = time.perf_counter() - started
        desk.close()

    pages = args.documents * args.pages
    print(f"packet build, {args.documents} documents x {args.pages} pages = {pages} record pages "
          f"({packet.pages} in the packet)")
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{'':<34}{'seconds':>10}{'pages/s':>10}")
    print(f"{'floor: pypdf merge, no stamps':<34}{floor:>10.2f}{pages / floor:>10.0f}")
    print(f"{'recdesk: stamped, encrypted, stored':<34}{took:>10.2f}{packet.pages / took:>10.0f}")
    print(f"ratio {took / floor:.1f}x the floor")


if __name__ == "__main__":
    main()
