"""Intake throughput: documents per second through `intake.scan`, against a plain pypdf read + file copy.

Run:  .venv/bin/python benchmarks/intake.py [--documents 1000]

Makes N PDFs of 1-20 text pages (fpdf2, deterministic), then times:
- the floor: for each file, read it, open it with pypdf and count its pages, copy it to another folder;
- recdesk: `recdesk.documents.intake.scan` of the same files from an inbox: claim, hash, parse in the limited
  worker process (every object resolved, every page inflated, first pages' text), encrypt into the
  store, record with an audit event, remove from the inbox — each file committed on its own.
Budget: recdesk within 3x the floor.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import shutil
import tempfile
import time
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader

from recdesk.config import Config
from recdesk.desk import Desk
from recdesk.documents import intake

BUDGET = 3.0


def make_pdfs(folder: Path, count: int) -> int:
    rng = random.Random(7)
    total_pages = 0
    for n in range(count):
        pages = rng.randint(1, 20)
        total_pages += pages
        pdf = FPDF()
        pdf.set_font("Helvetica", size=11)
        for p in range(pages):
            pdf.add_page()
            for line in range(30):
                pdf.text(15, 20 + line * 8, f"Outside record {n} page {p + 1} line {line}: "
                                            f"{rng.getrandbits(64):x} results within normal limits.")
        (folder / f"scan{n:05}.pdf").write_bytes(bytes(pdf.output()))
    return total_pages


def floor(source: Path, target: Path) -> float:
    target.mkdir()
    started = time.perf_counter()
    for path in sorted(source.iterdir()):
        data = path.read_bytes()
        len(PdfReader(io.BytesIO(data)).pages)
        shutil.copyfile(path, target / path.name)
    return time.perf_counter() - started


def ours(source: Path, home: Path) -> float:
    desk, manager = Desk.create(Config(home=home, key_source="file", key_file=home.parent / "bench.key"), "bench")
    inbox = home / "inbox"
    shutil.copytree(source, inbox)
    started = time.perf_counter()
    report = intake.scan(desk, manager)
    elapsed = time.perf_counter() - started
    assert len(report.received) == len(list(source.iterdir())), report.quarantined[:3]
    desk.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        source = tmp_path / "pdfs"
        source.mkdir()
        pages = make_pdfs(source, args.documents)
        size = sum(p.stat().st_size for p in source.iterdir())
        plain = floor(source, tmp_path / "copy")
        desk_time = ours(source, tmp_path / "desk")
    n = args.documents
    print(f"intake of {n:,} PDFs, {pages:,} pages, {size / 1e6:.1f} MB "
          f"({os.cpu_count()} cores, {platform.processor() or platform.machine()})")
    print(f"{'path':<46} {'seconds':>8} {'docs/s':>8} {'pages/s':>8}")
    print(f"{'floor: read + pypdf page count + file copy':<46} {plain:>8.2f} {n / plain:>8.1f} {pages / plain:>8.0f}")
    print(f"{'recdesk: intake.scan (worker, encrypt, commit)':<46} {desk_time:>8.2f} {n / desk_time:>8.1f} "
          f"{pages / desk_time:>8.0f}")
    ratio = desk_time / plain
    print(f"recdesk / floor: {ratio:.2f}x (budget {BUDGET:.0f}x): {'PASS' if ratio <= BUDGET else 'MISS'}")


if __name__ == "__main__":
    main()
