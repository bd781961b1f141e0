"""What the forms rely on, at the service level: limits the services refuse themselves (a date of service before
birth, an absurd page count, an over-long deficiency note), the date of service read from a page, and type-ahead."""

import datetime
import json

import pytest
from fpdf import FPDF

from recdesk.completion import assembly
from recdesk.documents import intake
from recdesk.documents.pdfworker import PdfWorker
from recdesk.errors import DeskError
from recdesk.release import fees
from recdesk.vault.models import Deficiency, Document, Encounter, Patient, Provider, Release
from screens.dialogs.choice import TypeAhead
from tests import test_intake, test_roi
from tests.test_intake import drop, text_pdf
from tests.test_roi import form, log_request

TODAY = datetime.date.today()
clinic = test_intake.clinic  # the fixtures: two clerks and two patients (born 1960-01-01 and 1970-02-02)
roi_office = test_roi.office  # a clerk, a supervisor, patients and filed documents for release


@pytest.fixture(scope="module")
def worker():
    with PdfWorker() as w:
        yield w


def page(*lines: str) -> bytes:
    doc = FPDF()
    doc.set_font("Helvetica", size=12)
    doc.add_page()
    for n, line in enumerate(lines):
        doc.text(20, 20 + 10 * n, line)
    doc.add_page()
    doc.text(20, 20, "Date of service: 07/07/2024")  # page 2 is never read for the suggestion
    return bytes(doc.output())


# --- a date of service is never before the patient's birth


def test_filing_refuses_a_date_of_service_before_the_patients_birth(clinic, worker):
    desk, ann, bob, avery, baker = clinic  # Avery born 1960-01-01, Baker 1970-02-02
    drop(desk, "lab.pdf", text_pdf(1, "Lab result"))
    (uid,) = intake.scan(desk, ann, worker=worker).received
    with pytest.raises(DeskError, match=r"^date of service 1959-12-31 is before the patient's birth \(1960-01-01\)"):
        intake.file_to_patient(desk, ann, uid, avery, "lab_result", datetime.date(1959, 12, 31))
    assert Document.get(Document.uuid == uid).status == "unfiled"  # nothing half-written
    doc = intake.file_to_patient(desk, ann, uid, avery, "lab_result", datetime.date(1960, 1, 1))  # the day of birth
    assert doc.service_date == datetime.date(1960, 1, 1)


def test_a_misfile_move_refuses_a_date_before_the_new_patients_birth(clinic, worker):
    desk, ann, bob, avery, baker = clinic
    drop(desk, "op.pdf", text_pdf(1, "Operative report"))
    (uid,) = intake.scan(desk, ann, worker=worker).received
    intake.file_to_patient(desk, ann, uid, avery, "operative_report", datetime.date(1965, 5, 5))
    with pytest.raises(DeskError, match="before the patient's birth"):  # to Baker, born 1970, with its 1965 date
        intake.move(desk, ann, uid, patient_uuid=baker, reason="wrong patient")
    with pytest.raises(DeskError, match="before the patient's birth"):
        intake.move(desk, ann, uid, service_date=datetime.date(1950, 1, 1), reason="wrong date")
    moved = intake.move(desk, ann, uid, patient_uuid=baker, service_date=datetime.date(1975, 1, 1),
                        reason="wrong patient and date")
    assert moved.patient.uuid == baker and moved.service_date == datetime.date(1975, 1, 1)


# --- the date of service from the first page


def test_the_date_of_service_is_read_from_the_first_page_of_a_real_pdf(clinic, worker):
    desk, ann, *_ = clinic
    drop(desk, "op.pdf", page("Operative report", "DOB: 01/01/1960", "Surgeon Dr. Byron",
                              "Date of service: 03/01/2025"))
    (uid,) = intake.scan(desk, ann, worker=worker).received
    first_page = worker.page_text(intake.document_bytes(desk, ann, uid), 0)
    assert intake.suggested_service_date(first_page) == datetime.date(2025, 3, 1)  # not the DOB printed first


@pytest.mark.parametrize(("text", "date"), [
    ("DOS: 2025-03-01", datetime.date(2025, 3, 1)),
    ("Service date 3/1/2025", datetime.date(2025, 3, 1)),
    ("Admission date: Mar. 4, 2025", datetime.date(2025, 3, 4)),
    ("Date of admission 2 Sept 2024", datetime.date(2024, 9, 2)),
    ("Seen 02/03/2020, DOS 02/04/2020", datetime.date(2020, 2, 4)),  # a labelled date wins
    ("DOB: 01/01/1960\nSigned 05/06/2021", datetime.date(2021, 5, 6)),  # the first date that is not a birth date
    ("Date of birth 1960-01-01", None),
    (f"DOS: {(TODAY + datetime.timedelta(days=3)).isoformat()}", None),  # never in the future
    ("Lab result 13/45/2025 page 1", None),
    ("", None),
])
def test_the_suggested_date_of_service(text, date):
    assert intake.suggested_service_date(text) == date


# --- a fee estimate is for a page count that can be true


def test_a_fee_estimate_for_an_absurd_page_count_is_refused_and_nothing_is_recorded(roi_office):
    desk, ann, *_ = roi_office
    request = {"received": TODAY.isoformat(), "requester_type": "patient", "requester_name": "Ann Avery",
               "purpose": "individual_access"}
    (release,) = log_request(desk, ann, form(request=request, authorization=None, delivery="electronic"))
    for pages in (99_999_999_999, fees.MAX_PAGES + 1, 0, -5, True):
        with pytest.raises(DeskError, match=f"^a fee estimate is for 1 to {fees.MAX_PAGES:,} pages"):
            fees.fee_estimate(desk, ann, release.uuid, pages)
    assert Release.get(Release.uuid == release.uuid).fee_json == ""
    _, total = fees.fee_estimate(desk, ann, release.uuid, fees.MAX_PAGES)
    assert json.loads(Release.get(Release.uuid == release.uuid).fee_json)["pages"] == fees.MAX_PAGES
    assert total == 300  # an electronic copy's labour, whatever its length: why the count itself is checked


# --- a deficiency note: the limit the box keeps is the service's own


def test_a_deficiency_note_over_the_limit_is_refused_by_the_service(clinic):
    desk, ann, bob, avery, _ = clinic
    with desk.write():
        provider = Provider.create(name="Dr. Ada Byron", service="Hospital Medicine")
        enc = Encounter.create(patient=Patient.get(Patient.uuid == avery).id, kind="inpatient",
                               admit_at=datetime.datetime.combine(TODAY, datetime.time(8)),
                               service="Hospital Medicine", attending=provider)
    with pytest.raises(DeskError, match=f"at most {assembly.NOTE_MAX} characters"):
        assembly.record_deficiency(desk, ann, enc.uuid, "missing_document", provider.id, "x" * 1400)
    assert Deficiency.select().count() == 0
    assembly.record_deficiency(desk, ann, enc.uuid, "missing_document", provider.id, "x" * assembly.NOTE_MAX)
    assert Deficiency.select().count() == 1


# --- type-ahead, without timing


def test_type_ahead_accumulates_restarts_on_no_match_and_backspace_takes_one_back():
    ahead = TypeAhead(["Operative report", "Outside records", "Discharge summary", "public_health", "Progress note"])
    assert ahead.press("O") == 0 and ahead.press("p") == 0 and ahead.typed == "op"
    assert ahead.press("d") == 2 and ahead.typed == "d"  # "opd" starts nothing: a new search from "d"
    assert ahead.back() is None and ahead.typed == ""
    assert [ahead.press(c) for c in "ou"] == [0, 1]
    assert ahead.back() == 0
    ahead.reset()
    assert ahead.press(" ") is None and ahead.typed == ""  # a space alone is nothing
    assert [ahead.press(c) for c in "public h"][-1] == 3  # labels read with spaces for underscores
    assert ahead.press("z") is None and ahead.typed == "public h"  # no match anywhere: what was typed stays
