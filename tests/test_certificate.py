"""The certificate of destruction: every AHIMA field and the sanitization record are in the PDF's text."""

from __future__ import annotations

import datetime
import io
import re
import shutil
import subprocess

from pypdf import PdfReader

import recdesk
from recdesk.retention import certificate
from recdesk.retention.certificate import BatchFacts, DestroyedRecord, Excluded, VolumeNotFound

DAY = datetime.date(2026, 12, 1)


def facts(**changes) -> BatchFacts:
    values = dict(
        certificate_no="CD-2026-007", batch_uuid="b" * 32, facility="Riverside General Hospital", destroyed_on=DAY,
        description="Inpatient and outpatient health records past retention",
        schedule="TX adult: 10 years after the last encounter (Tex. HSC 241.103)",
        records=(DestroyedRecord("734521", datetime.date(2009, 6, 1), datetime.date(2012, 3, 9), 2, 4, 1,
                                 "wrapped data key absent; decrypt failed"),
                 DestroyedRecord("845632", datetime.date(2005, 1, 2), datetime.date(2013, 8, 30), 5, 40, 2,
                                 "wrapped data key absent; decrypt failed")),
        destroyed_by="Maria Lopez, HIM Manager", witness="Dan Okoye, Privacy Officer",
        approver="Grace Hopper, Director of HIM", paper_method="Cross-cut shredding by Shred-Right Inc.",
        paper_volumes=2, excluded=(Excluded("956743", "legal hold placed after approval (T2)"),),
        volumes_not_found=(VolumeNotFound("845632", 2, "32-56-84", "not on its shelf"),),
        location="desk host rec01, /srv/recdesk")
    values.update(changes)
    return BatchFacts(**values)


def text_of(pdf: bytes) -> str:
    """pdftotext (poppler) where installed, pypdf otherwise; whitespace folded so wrapped lines read as one."""
    if shutil.which("pdftotext"):
        out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
        raw = out.decode("latin-1")
    else:
        raw = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", raw)


def test_the_certificate_carries_every_field():
    text = text_of(certificate.certificate_pdf(facts()))
    expected = [
        "Certificate of Destruction", "Riverside General Hospital", "CD-2026-007", "b" * 32,
        "Date of destruction: 2026-12-01",
        "destroyed in the normal course of business pursuant to a proper retention schedule and destruction policies",
        "Inpatient and outpatient health records past retention", "Tex. HSC 241.103",
        "Inclusive dates: 2005-01-02 to 2013-08-30", "Documents (pages): 7 (44 pages)",
        "2 shredded, 1 not found",
        "Cryptographic erase (NIST SP 800-88 Rev. 1, Purge)", "Cross-cut shredding by Shred-Right Inc.",
        "Sanitization category: Purge", f"Tool and version: recdesk {recdesk.__version__}",
        "the wrapped data key is absent", "a decrypt of the patient's ciphertext under every key the desk holds fails",
        "Result: verified for every record", "desk host rec01",
        "Destroyed by: Maria Lopez, HIM Manager", "Witness: Dan Okoye, Privacy Officer",
        "Department manager: Grace Hopper, Director of HIM (approved the destruction)",
        "956743", "legal hold placed after approval (T2)",
        "32-56-84", "not on its shelf", "734521", "845632", "2009-06-01", "2012-03-09",
    ]
    missing = [e for e in expected if e not in text]
    assert missing == [], text


def test_nothing_excluded_or_missing_says_none_and_an_unverified_record_is_named():
    pending = DestroyedRecord("111222", None, None, 0, 0, 0, "pending")
    text = text_of(certificate.certificate_pdf(facts(excluded=(), volumes_not_found=(), records=(pending,))))
    assert text.count("None.") == 2
    assert "NOT verified for MRN 111222" in text and "Inclusive dates: - to -" in text


def test_the_same_facts_give_the_same_bytes():
    assert certificate.certificate_pdf(facts()) == certificate.certificate_pdf(facts())


def test_a_register_entry_becomes_a_certificate_line(desk_and_manager):
    from recdesk.patients.registry import PatientDetails, register
    from recdesk.retention import shredding
    from recdesk.vault.models import Patient

    desk, manager = desk_and_manager
    uid = Patient.get_by_id(register(desk, manager, PatientDetails(
        mrn="515151", last="Certson", first="Al", dob=datetime.date(1930, 1, 1)))).uuid
    entry = shredding.shred(desk, manager, uid, batch_uuid="c" * 32, certificate_no="CD-1")
    line = DestroyedRecord.of(entry)
    assert line.mrn == "515151" and "absent" in line.verification
    text = text_of(certificate.certificate_pdf(facts(records=(line,))))
    assert "Result: verified for every record" in text and "515151" in text and "Certson" not in text
