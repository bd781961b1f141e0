"""Document intake: good PDFs from several producers file normally; bad ones are quarantined, never lost."""

import datetime
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
import zlib

import pytest
from fpdf import FPDF
from pypdf import PdfWriter

from recdesk import users
from recdesk.config import Intake, Print
from recdesk.documents import intake, pdfworker
from recdesk.documents.pdfworker import PdfWorker
from recdesk.errors import AccessDenied, DeskError
from recdesk.patients.registry import PatientDetails, register
from recdesk.vault import audit
from recdesk.vault.models import AuditEvent, Document, DocumentMove, Patient


@pytest.fixture(scope="module")
def worker():
    with PdfWorker() as w:
        yield w


def text_pdf(pages=1, text="Lab result", producer="fpdf2") -> bytes:
    pdf = FPDF()
    pdf.set_producer(producer)
    pdf.set_font("Helvetica", size=12)
    for i in range(pages):
        pdf.add_page()
        pdf.text(20, 20, f"{text} page {i + 1}")
    return bytes(pdf.output())


def image_pdf() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (300, 200), (200, 30, 30))
    pdf = FPDF()
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=100)
    return bytes(pdf.output())


def pypdf_pdf(pages=2, rotate=0, password=None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    if rotate:
        for page in writer.pages:
            page.rotate(rotate)
    if password:
        writer.encrypt(password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def form_pdf() -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(text_pdf(1, "Consent form")))
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, TextStringObject

    field = DictionaryObject({
        NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): TextStringObject("signature"),
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Widget"),
        NameObject("/Rect"): ArrayObject([NumberObject(50), NumberObject(50), NumberObject(200), NumberObject(70)]),
        NameObject("/V"): TextStringObject("Signed"),
    })
    ref = writer._add_object(field)
    writer.pages[0][NameObject("/Annots")] = ArrayObject([ref])
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): ArrayObject([ref])})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def bomb_pdf() -> bytes:
    """A one-page PDF whose content stream inflates to 200 MB of zeros."""
    packer = zlib.compressobj(9)
    stream = b"".join(packer.compress(b"\0" * (1 << 20)) for _ in range(200)) + packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return assemble(objects)


def nested_pdf() -> bytes:
    deep = b"[" * 50_000 + b"]" * 50_000
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Deep 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        deep,
    ]
    return assemble(objects)


def assemble(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


@pytest.fixture
def clinic(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    users.add(desk, manager, "bob", "clerk")
    a = register(desk, manager, PatientDetails(mrn="100234", last="Avery", first="Ann", dob=datetime.date(1960, 1, 1)))
    b = register(desk, manager, PatientDetails(mrn="200345", last="Baker", first="Bo", dob=datetime.date(1970, 2, 2)))
    (desk.config.home / "inbox").mkdir()
    return desk, desk.sign_on("ann"), desk.sign_on("bob"), Patient.get_by_id(a).uuid, Patient.get_by_id(b).uuid


def drop(desk, name: str, data: bytes) -> None:
    (desk.config.home / "inbox" / name).write_bytes(data)


GOOD = {
    "fpdf-text.pdf": lambda: text_pdf(3, "Consult report", producer="fpdf2"),
    "image.pdf": image_pdf,
    "rotated.pdf": lambda: pypdf_pdf(2, rotate=90),
    "form.pdf": form_pdf,
    "owner-only-encrypted.pdf": lambda: pypdf_pdf(1, password=""),
}
BAD = {
    "empty.pdf": (lambda: b"", pdfworker.NOT_PDF),
    "garbage.pdf": (lambda: os.urandom(5000), pdfworker.NOT_PDF),
    "truncated.pdf": (lambda: text_pdf(3)[:-400], pdfworker.TRUNCATED),
    "locked.pdf": (lambda: pypdf_pdf(1, password="s3cret"), pdfworker.PASSWORD_PROTECTED),
    "bomb.pdf": (bomb_pdf, pdfworker.DECOMPRESSION_BOMB),
    "nested.pdf": (nested_pdf, pdfworker.NESTED_TOO_DEEPLY),
}


def test_good_pdfs_from_several_producers_are_received(clinic, worker):
    desk, ann, *_ = clinic
    for name, make in GOOD.items():
        drop(desk, name, make())
    report = intake.scan(desk, ann, worker=worker)
    assert len(report.received) == len(GOOD) and report.quarantined == []
    assert list((desk.config.home / "inbox").iterdir()) == [desk.config.home / "inbox" / ".claimed"]
    pages = sorted(d.pages for d in Document.select())
    assert pages == sorted([3, 1, 2, 1, 1])
    names = {intake.original_name(desk, d) for d in Document.select()}
    assert names == set(GOOD)


def test_bad_files_are_quarantined_with_a_reason_and_never_lost(clinic, worker):
    desk, ann, *_ = clinic
    originals = {name: make() for name, (make, _) in BAD.items()}
    for name, data in originals.items():
        drop(desk, name, data)
    report = intake.scan(desk, ann, worker=worker)
    assert report.received == []
    reasons = {intake.original_name(desk, Document.get(Document.uuid == uid)): why for uid, why in report.quarantined}
    assert reasons == {name: expected for name, (_, expected) in BAD.items()}
    for doc in intake.quarantine(desk):
        name = intake.original_name(desk, doc)
        assert intake.document_bytes(desk, ann, doc.uuid) == originals[name]  # the bytes are kept, encrypted
        assert doc.quarantine_reason == reasons[name]  # the reason is in the row, committed with it
    assert not (desk.config.home / "quarantine").exists()  # no reason files beside the desk


def _sealed_detail(desk, doc_uuid: str) -> dict:
    (event,) = AuditEvent.select().where((AuditEvent.object == f"document:{doc_uuid}")
                                         & (AuditEvent.action == "intake.quarantine"))
    return audit.details(desk, event)


def test_page_limit_is_configurable(clinic, worker):
    desk, ann, *_ = clinic
    desk.config.intake = Intake(max_pages=5)
    drop(desk, "long.pdf", text_pdf(6))
    (uid, reason), = intake.scan(desk, ann, worker=worker).quarantined
    assert reason == pdfworker.TOO_MANY_PAGES
    assert _sealed_detail(desk, uid)["detail"] == "6 pages, more than the limit of 5"


def test_a_1500_page_outside_record_files_normally(clinic, worker):
    desk, ann, bob, a, _ = clinic
    drop(desk, "outside.pdf", pypdf_pdf(1500))
    (uid,) = intake.scan(desk, ann, worker=worker).received
    doc = intake.file_to_patient(desk, ann, uid, a, "outside_records", datetime.date(2025, 5, 1))
    assert (doc.pages, doc.status, doc.qa_state) == (1500, "filed", "pending")


def test_duplicates_are_recognised_and_not_filed_twice(clinic, worker):
    desk, ann, *_ = clinic
    data = text_pdf(1, "Discharge summary")
    drop(desk, "a.pdf", data)
    intake.scan(desk, ann, worker=worker)
    drop(desk, "a-again.pdf", data)
    report = intake.scan(desk, ann, worker=worker)
    assert report.duplicates == 1 and report.received == []
    assert Document.select().count() == 1


def test_filing_rekeys_to_the_patient_and_qa_by_another_clerk(clinic, worker):
    desk, ann, bob, a, _ = clinic
    drop(desk, "lab.pdf", text_pdf(1, "Lab result"))
    (uid,) = intake.scan(desk, ann, worker=worker).received
    unfiled_blob = Document.get(Document.uuid == uid).blob
    with pytest.raises(DeskError, match="not on the list"):
        intake.file_to_patient(desk, ann, uid, a, "recipe", None)
    with pytest.raises(DeskError, match="future"):
        intake.file_to_patient(desk, ann, uid, a, "lab_result", datetime.date.today() + datetime.timedelta(days=2))
    doc = intake.file_to_patient(desk, ann, uid, a, "lab_result", datetime.date(2026, 11, 20))
    assert doc.blob != unfiled_blob and not desk.store.path(unfiled_blob).exists()
    assert desk.store.read(desk.dek(doc.patient), uid, doc.blob, doc.sha256).startswith(b"%PDF")
    assert not intake.cleared_for_shredding(doc)
    with pytest.raises(AccessDenied, match="other than"):
        intake.record_qa(desk, ann, uid, passed=True)
    assert [d.uuid for d in intake.qa_queue(desk, ann)] == []
    assert [d.uuid for d in intake.qa_queue(desk, bob)] == [uid]
    intake.record_qa(desk, bob, uid, passed=True, legible=True)
    assert intake.cleared_for_shredding(Document.get(Document.uuid == uid))


def test_qa_fail_returns_the_document_to_its_indexer(clinic, worker):
    desk, ann, bob, a, _ = clinic
    drop(desk, "first.pdf", text_pdf(1, "first"))
    drop(desk, "second.pdf", text_pdf(1, "second"))
    first, second = intake.scan(desk, ann, worker=worker).received
    intake.file_to_patient(desk, ann, second, a, "consult_report", datetime.date(2026, 11, 1))
    with pytest.raises(DeskError, match="say why"):
        intake.record_qa(desk, bob, second, passed=False)
    intake.record_qa(desk, bob, second, passed=False, legible=False, reason="illegible")
    doc = Document.get(Document.uuid == second)
    assert (doc.status, doc.qa_state, doc.qa_reason) == ("unfiled", "failed", "illegible")
    assert [d.uuid for d in intake.index_queue(desk, ann)][0] == second  # back at the top of ann's queue
    assert intake.counts(desk)["clerks"]["bob"] == {"indexed": 0, "qa_done": 1, "qa_failed": 1}


def test_misfile_move_rekeys_and_keeps_history(clinic, worker):
    desk, ann, bob, a, b = clinic
    drop(desk, "op.pdf", text_pdf(2, "Operative report"))
    (uid,) = intake.scan(desk, ann, worker=worker).received
    intake.file_to_patient(desk, ann, uid, a, "operative_report", datetime.date(2026, 10, 1))
    intake.record_qa(desk, bob, uid, passed=True)
    before = Document.get(Document.uuid == uid)
    with pytest.raises(DeskError, match="reason"):
        intake.move(desk, ann, uid, patient_uuid=b, reason=" ")
    moved = intake.move(desk, ann, uid, patient_uuid=b, reason="wrong patient: MRN on page 2 is Baker's")
    assert moved.patient.uuid == b and moved.qa_state == "pending"
    assert not desk.store.path(before.blob).exists()
    assert desk.store.read(desk.dek(moved.patient), uid, moved.blob, moved.sha256).startswith(b"%PDF")
    (entry,) = intake.history(desk, uid)
    assert entry["from_patient"] == before.patient_id and entry["to_patient"] == moved.patient_id
    assert entry["reason"] == "wrong patient: MRN on page 2 is Baker's"
    assert DocumentMove.select().count() == 1
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.object == f"document:{uid}")]
    assert actions[-2:] == ["document.move_out", "document.move_in"]


def test_a_titled_document_moved_to_another_patient_keeps_a_readable_title(clinic):
    from recdesk import doctor
    from recdesk.documents import filing
    from recdesk.vault import crypto

    desk, ann, _, a, b = clinic
    with desk.write():
        letter = filing.file_document(desk, ann, Patient.get(Patient.uuid == a), text_pdf(1, "Letter"),
                                         doc_type="correspondence", title="Letter to Dr Baker", pages=1,
                                         service_date=datetime.date(2026, 10, 1), source="generated")
    moved = intake.move(desk, ann, letter.uuid, patient_uuid=b, reason="wrong patient")
    assert crypto.open_text(desk.dek(moved.patient), "document", "title", moved.uuid,
                            moved.title_enc) == "Letter to Dr Baker"
    assert doctor.run(desk.config.home).passed


def test_a_cover_sheet_makes_the_batch_behind_it_suggest_its_patient(clinic, worker):
    desk, ann, *_ = clinic
    sheet = intake.coversheet(desk, ann, "100234")
    writer = PdfWriter(clone_from=io.BytesIO(sheet))
    writer.append(io.BytesIO(text_pdf(2, "Outside lab results")))
    batch = io.BytesIO()
    writer.write(batch)
    drop(desk, "batch.pdf", batch.getvalue())
    (uid,) = intake.scan(desk, ann, worker=worker).received
    text = worker.page_text(intake.document_bytes(desk, ann, uid), 0)
    assert intake.suggested_mrn(text) == "100234"
    assert intake.suggested_query("Referral for Ann Avery, DOB: 1/1/1960, no MRN given") == "1/1/1960"


def _orphan_parsers() -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout.splitlines()[1:]
    return [int(line.split()[0]) for line in out
            if line.split()[1] == "1" and "multiprocessing.spawn import spawn_main" in line]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_killed_mid_scan_every_file_is_in_the_inbox_or_filed_never_both(clinic):
    desk, ann, *_ = clinic
    inbox = desk.config.home / "inbox"
    originals = {_sha(data): data for data in (text_pdf(1 + i % 3, f"document {i}") for i in range(160))}
    for n, data in enumerate(originals.values()):
        (inbox / f"scan{n:03}.pdf").write_bytes(data)
    proc = subprocess.Popen([sys.executable, "-m", "recdesk.cli", "--home", str(desk.config.home), "intake", "scan"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in proc.stderr:
        if line.startswith("scanned 50 /"):  # the first batch is committed; the second is under way
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 60  # its parser process dies with it, not left behind as an orphan: the bound
    while _orphan_parsers() and time.monotonic() < deadline:  # is for a loaded machine, the wait ends when it is gone
        time.sleep(0.02)
    assert _orphan_parsers() == []

    def where():
        in_inbox = {_sha(p.read_bytes()) for p in inbox.iterdir() if p.is_file()}
        on_record = {d.sha256 for d in Document.select()}
        return in_inbox, on_record

    intake.recover(desk)  # what the next scan does first
    in_inbox, on_record = where()
    assert in_inbox & on_record == set()
    assert in_inbox | on_record == set(originals)
    assert 50 <= len(on_record) < 160
    intake.scan(desk, ann)
    in_inbox, on_record = where()
    assert in_inbox == set() and on_record == set(originals)


def test_printing_pipes_to_the_site_command_or_saves_owner_only(clinic, tmp_path):
    from recdesk.pdf import printing

    desk, ann, *_ = clinic
    sheet = intake.coversheet(desk, ann, "200345")
    saved = printing.send(desk, sheet, "coversheet")
    (path,) = (desk.config.home / "printouts").iterdir()
    assert str(path) in saved and path.read_bytes() == sheet and path.stat().st_mode & 0o777 == 0o600
    spool = tmp_path / "spooled.pdf"
    desk.config.print = Print(command=f"sh -c 'cat > {spool}'")
    assert printing.send(desk, sheet, "coversheet").startswith("sent to sh")
    assert spool.read_bytes() == sheet
    desk.config.print = Print(command="false")
    with pytest.raises(DeskError, match="refused the job"):
        printing.send(desk, sheet, "coversheet")
    assert AuditEvent.select().where(AuditEvent.action == "patient.coversheet").count() == 1



def test_printing_the_same_thing_twice_in_one_second_saves_two_files(clinic, monkeypatch):
    import types

    from recdesk.pdf import printing

    desk, ann, *_ = clinic
    one_second = datetime.datetime(2026, 11, 2, 9, 30, 15)
    monkeypatch.setattr(printing, "datetime", types.SimpleNamespace(
        datetime=types.SimpleNamespace(now=lambda: one_second)))
    folder = desk.config.home / "printouts"
    first, second = b"%PDF-1 first", b"%PDF-1 second"
    saved = [printing.send(desk, first, "accounting"), printing.send(desk, second, "accounting")]
    paths = sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    assert len(paths) == 2 and paths[0] != paths[1]
    assert {p.read_bytes() for p in paths} == {first, second}
    assert all(p.name.startswith("20261102-093015-accounting") and p.suffix == ".pdf" for p in paths)
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in paths)
    assert all(any(str(p) in s for p in paths) for s in saved) and saved[0] != saved[1]


def test_a_print_folder_that_cannot_be_written_is_a_desk_error_not_a_crash(clinic):
    from recdesk.pdf import printing

    desk, *_ = clinic
    folder = desk.config.home / "printouts"
    folder.write_bytes(b"")  # a file where the folder should be: mkdir and open both fail
    with pytest.raises(DeskError) as caught:
        printing.send(desk, b"%PDF-1", "accounting")
    message = str(caught.value)
    assert str(folder) in message and "[print] command" in message and "\n" not in message


def test_two_clerks_on_one_document_never_both_win(clinic, worker):
    desk, ann, bob, a, b = clinic
    drop(desk, "x.pdf", text_pdf(1, "x"))
    (uid,) = intake.scan(desk, ann, worker=worker).received
    intake.file_to_patient(desk, ann, uid, a, "lab_result", datetime.date(2026, 11, 1))
    as_ann_saw_it = Document.get(Document.uuid == uid)
    intake.move(desk, bob, uid, patient_uuid=b, reason="wrong patient")  # bob is quicker
    with pytest.raises(DeskError, match="someone else changed"):
        intake._update_unchanged(desk, as_ann_saw_it, doc_type="consult_report")
    doc = Document.get(Document.uuid == uid)
    assert desk.store.read(desk.dek(doc.patient), uid, doc.blob, doc.sha256).startswith(b"%PDF")


def test_a_second_scan_of_the_same_inbox_waits_its_turn(clinic, worker):
    desk, ann, *_ = clinic
    drop(desk, "y.pdf", text_pdf(1, "y"))
    with intake._scan_lock(desk.config.home / "inbox"), pytest.raises(DeskError, match="another scan"):
        intake.scan(desk, ann, worker=worker)
    assert (desk.config.home / "inbox" / "y.pdf").exists()
    assert len(intake.scan(desk, ann, worker=worker).received) == 1
