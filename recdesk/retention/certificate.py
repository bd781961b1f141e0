"""The certificate of destruction (T3, T4): the PDF a purge batch leaves behind for good, with AHIMA's fields and the
NIST SP 800-88 sanitization record of the electronic records.

It is made from plain facts (`BatchFacts`), so whatever gathers a batch's facts — the batch, its register entries,
the paper confirmations — hands them over and this module only lays them out.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import recdesk
from recdesk.pdf import layout
from recdesk.retention.register import Destroyed

STATEMENT = ("The records described below were destroyed in the normal course of business pursuant to a proper "
             "retention schedule and destruction policies and procedures. No record was destroyed while a legal "
             "hold, investigation, audit or request was pending against it.")
ELECTRONIC_METHOD = "Cryptographic erase (NIST SP 800-88 Rev. 1, Purge)"
SANITIZATION_VERIFICATION = ("for each patient, after the erase and before it was committed: the wrapped data key is "
                             "absent, and a decrypt of the patient's ciphertext under every key the desk holds fails")


@dataclass(frozen=True)
class DestroyedRecord:
    """One patient's record as the certificate lists it (no name: the MRN identifies it to the register)."""

    mrn: str
    first_service: datetime.date | None
    last_service: datetime.date | None
    documents: int
    pages: int
    volumes: int
    verification: str

    @classmethod
    def of(cls, entry: Destroyed) -> DestroyedRecord:
        return cls(entry.mrn, entry.first_service, entry.last_service, entry.documents, entry.pages, entry.volumes,
                   entry.verification)


@dataclass(frozen=True)
class Excluded:
    """A patient taken out of the batch at approval or execution, and why (a hold placed, a request logged...)."""

    mrn: str
    reason: str


@dataclass(frozen=True)
class VolumeNotFound:
    """A paper volume on the destruction pull list that could not be found to be shredded."""

    mrn: str
    volume_no: int
    shelf: str
    note: str = ""


@dataclass(frozen=True)
class BatchFacts:
    """Everything a certificate says about one purge batch."""

    certificate_no: str
    batch_uuid: str
    facility: str
    destroyed_on: datetime.date
    description: str  # what the records were, e.g. "Inpatient and outpatient health records past retention"
    schedule: str  # the retention schedule applied, e.g. "TX adult 10 years after last encounter (Tex. HSC 241.103)"
    records: tuple[DestroyedRecord, ...]
    destroyed_by: str  # name and title of who ran the destruction
    witness: str  # name and title of the witness (the sanitization's verifier)
    approver: str  # the department manager who approved the batch
    paper_method: str = "Cross-cut shredding by the site's document destruction vendor"
    paper_volumes: int = 0  # volumes confirmed shredded
    excluded: tuple[Excluded, ...] = ()
    volumes_not_found: tuple[VolumeNotFound, ...] = ()
    location: str = ""  # where the electronic media are (the desk's host or database)
    tool: str = f"recdesk {recdesk.__version__}"

    @property
    def inclusive_dates(self) -> tuple[datetime.date | None, datetime.date | None]:
        firsts = [r.first_service for r in self.records if r.first_service]
        lasts = [r.last_service for r in self.records if r.last_service]
        return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def _day(value: datetime.date | None) -> str:
    return value.isoformat() if value else "-"


def certificate_pdf(facts: BatchFacts) -> bytes:
    """The certificate as PDF bytes (the same facts give the same bytes)."""
    pdf = layout.document(f"Certificate of destruction {facts.certificate_no}", made=facts.destroyed_on)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def heading(text: str) -> None:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 11)
        pdf.multi_cell(0, 6, layout.text(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)

    def field(label: str, value: str) -> None:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(width * 0.32, 5.5, layout.text(f"{label}:"))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5.5, layout.text(value or "-"), new_x="LMARGIN", new_y="NEXT")

    def table(columns: list[str], rows: list[list[str]], widths: tuple[float, ...]) -> None:
        pdf.set_font("Helvetica", "", 8.5)
        with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.4, padding=1, repeat_headings=1) as t:
            t.row([layout.text(c) for c in columns])
            for row in rows:
                t.row([layout.text(c) for c in row])
        pdf.set_font("Helvetica", "", 10)

    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, "Certificate of Destruction", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    field("Facility", facts.facility)
    field("Certificate number", facts.certificate_no)
    field("Purge batch", facts.batch_uuid)
    field("Date of destruction", _day(facts.destroyed_on))
    pdf.ln(2)
    pdf.multi_cell(0, 5.5, layout.text(STATEMENT), new_x="LMARGIN", new_y="NEXT")

    heading("Records destroyed")
    first, last = facts.inclusive_dates
    field("Description of the records", facts.description)
    field("Retention schedule", facts.schedule)
    field("Inclusive dates", f"{_day(first)} to {_day(last)}")
    field("Patients' records", f"{len(facts.records)}")
    field("Documents (pages)", f"{sum(r.documents for r in facts.records)} "
                               f"({sum(r.pages for r in facts.records)} pages)")
    field("Paper chart volumes", f"{facts.paper_volumes} shredded, {len(facts.volumes_not_found)} not found")

    heading("Method of destruction")
    field("Electronic records", ELECTRONIC_METHOD)
    field("Paper records", facts.paper_method)

    heading("Sanitization record for electronic media (NIST SP 800-88 Rev. 1)")
    field("Media", "database rows and encrypted document store of the desk")
    field("Location", facts.location)
    field("Sanitization category", "Purge")
    field("Method", ELECTRONIC_METHOD)
    field("Tool and version", facts.tool)
    field("Verification", SANITIZATION_VERIFICATION)
    failed = [r.mrn for r in facts.records if not r.verification or r.verification == "pending"]
    field("Result", "verified for every record" if not failed else f"NOT verified for MRN {', '.join(failed)}")

    heading("Signatures")
    field("Destroyed by", facts.destroyed_by)
    field("Witness", facts.witness)
    field("Department manager", f"{facts.approver} (approved the destruction)")
    for who in ("Destroyed by", "Witness", "Department manager"):
        pdf.ln(4)
        pdf.cell(0, 5.5, layout.text(f"{who}: signature ______________________________   date ____________"),
                 new_x="LMARGIN", new_y="NEXT")

    heading("Patients excluded from this batch")
    if facts.excluded:
        table(["MRN", "Why it was not destroyed"], [[e.mrn, e.reason] for e in facts.excluded], (25, 75))
    else:
        pdf.multi_cell(0, 5.5, "None.", new_x="LMARGIN", new_y="NEXT")

    heading("Paper volumes not found")
    if facts.volumes_not_found:
        table(["MRN", "Volume", "Shelf", "Note"],
              [[v.mrn, str(v.volume_no), v.shelf, v.note] for v in facts.volumes_not_found], (20, 12, 20, 48))
    else:
        pdf.multi_cell(0, 5.5, "None.", new_x="LMARGIN", new_y="NEXT")

    heading("Records destroyed, by medical record number")
    table(["MRN", "First service", "Last service", "Documents", "Pages", "Volumes", "Erase verified"],
          [[r.mrn, _day(r.first_service), _day(r.last_service), str(r.documents), str(r.pages), str(r.volumes),
            "yes" if r.mrn not in failed else "NO"] for r in facts.records],
          (16, 16, 16, 13, 11, 12, 16))
    return bytes(pdf.output())
