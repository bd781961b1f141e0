"""Attacks on document intake: links, pipes, hard links and other owners' files in the inbox, huge files,
and quarantine reasons that would repeat a file's bytes."""

import hashlib
import json
import os
import stat
import tracemalloc

import pytest

from recdesk import users
from recdesk.config import Intake
from recdesk.documents import intake, pdfworker
from recdesk.documents.pdfworker import PdfWorker
from recdesk.errors import DeskError
from recdesk.vault import audit
from recdesk.vault.models import AuditEvent, Document
from tests.conftest import run_cli
from tests.test_intake import assemble, text_pdf

NOBODY = 65534


@pytest.fixture(scope="module")
def worker():
    with PdfWorker() as w:
        yield w


@pytest.fixture
def desk_inbox(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    box = desk.config.home / "inbox"
    box.mkdir()
    return desk, desk.sign_on("ann"), box


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _refusals(desk) -> list[dict]:
    return [audit.details(desk, e) for e in AuditEvent.select().where(AuditEvent.action == "intake.refuse")]


def _sealed_detail(desk, doc_uuid: str) -> str:
    (event,) = AuditEvent.select().where((AuditEvent.object == f"document:{doc_uuid}")
                                         & (AuditEvent.action == "intake.quarantine"))
    return audit.details(desk, event)["detail"]


def test_a_link_to_the_desk_key_is_refused_left_in_the_inbox_and_never_read(desk_inbox, worker):
    desk, ann, box = desk_inbox
    key = desk.config.key_file
    key_bytes = key.read_bytes()
    (box / "fax-0001.pdf").symlink_to(key)
    (box / "fax-0002.pdf").symlink_to(desk.config.home / "nothing-here")  # a dangling one too
    (box / "real.pdf").write_bytes(text_pdf(1, "Lab result"))
    report = intake.scan(desk, ann, worker=worker)
    assert report.refused == [("fax-0001.pdf", intake.SYMLINK), ("fax-0002.pdf", intake.SYMLINK)]
    assert len(report.received) == 1 and report.quarantined == []
    assert os.readlink(box / "fax-0001.pdf") == str(key)  # the link itself, untouched, where it was
    assert not Document.select().where(Document.sha256 == _sha(key_bytes)).exists()
    assert Document.select().count() == 1
    assert [r["name"] for r in _refusals(desk)] == ["fax-0001.pdf", "fax-0002.pdf"]
    assert key.read_bytes() == key_bytes


def test_a_link_to_a_folder_and_a_subfolder_are_refused_and_nothing_in_them_is_taken(desk_inbox, worker):
    desk, ann, box = desk_inbox
    elsewhere = desk.config.home / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "private.pdf").write_bytes(text_pdf(1, "private"))
    (box / "scans").symlink_to(elsewhere)
    (box / "batch").mkdir()
    (box / "batch" / "inside.pdf").write_bytes(text_pdf(1, "inside"))
    report = intake.scan(desk, ann, worker=worker)
    assert report.refused == [("batch", intake.FOLDER), ("scans", intake.SYMLINK)]
    assert Document.select().count() == 0
    assert (elsewhere / "private.pdf").exists() and (box / "batch" / "inside.pdf").exists()
    assert (box / "scans").is_symlink()


def test_a_hard_link_to_a_file_elsewhere_is_refused_and_left(desk_inbox, worker):
    desk, ann, box = desk_inbox
    secret = desk.config.home / "secret.pdf"
    secret.write_bytes(text_pdf(1, "not for the inbox"))
    os.link(secret, box / "fax-0002.pdf")
    report = intake.scan(desk, ann, worker=worker)
    assert report.refused == [("fax-0002.pdf", intake.HARD_LINKED)]
    assert Document.select().count() == 0
    assert os.stat(box / "fax-0002.pdf").st_nlink == 2 and secret.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_file_owned_by_another_user_is_refused_and_left(desk_inbox, worker):
    desk, ann, box = desk_inbox
    theirs = box / "theirs.pdf"
    theirs.write_bytes(text_pdf(1, "someone else's"))
    os.chown(theirs, NOBODY, NOBODY)
    report = intake.scan(desk, ann, worker=worker)
    assert report.refused == [("theirs.pdf", intake.OTHER_OWNER)]
    assert Document.select().count() == 0 and theirs.stat().st_uid == NOBODY


def test_a_pipe_in_the_inbox_is_refused_on_the_cli_without_hanging(desk_inbox):
    desk, _, box = desk_inbox
    os.mkfifo(box / "fax-0003.pdf")
    os.mkfifo(desk.config.home / "pipe")
    (box / "fax-0004.pdf").symlink_to(desk.config.home / "pipe")  # opening this would wait for a writer
    (box / "fax\x1b[2J.pdf").symlink_to(desk.config.key_file)
    (box / os.fsdecode(b"fax-\xff.pdf")).write_bytes(text_pdf(1, "a name that is not UTF-8"))
    (box / "good.pdf").write_bytes(text_pdf(1, "good"))
    result = run_cli("intake", "scan", home=desk.config.home, timeout=120)  # a hang fails here, bounded
    assert result.returncode == 0, result.stderr
    assert "2 received for indexing" in result.stdout
    assert f"refused fax-0003.pdf: {intake.NOT_A_FILE}; left in the inbox" in result.stdout
    assert f"refused fax-0004.pdf: {intake.SYMLINK}" in result.stdout
    assert "refused fax^[[2J.pdf" in result.stdout and "\x1b" not in result.stdout  # the name, made harmless
    assert stat.S_ISFIFO(os.lstat(box / "fax-0003.pdf").st_mode) and (box / "fax-0004.pdf").is_symlink()
    assert {intake.original_name(desk, d) for d in Document.select()} == {"good.pdf", "fax-\ufffd.pdf"}


def test_a_linked_claimed_folder_stops_the_scan_and_nothing_is_moved(desk_inbox, worker):
    desk, ann, box = desk_inbox
    private = desk.config.home / "private"
    private.mkdir()
    (private / "notes.pdf").write_bytes(text_pdf(1, "private notes"))
    (box / ".claimed").symlink_to(private)  # recovery would "return" private files to the inbox
    (box / "fax.pdf").write_bytes(text_pdf(1, "fax"))
    for attempt in (lambda: intake.scan(desk, ann, worker=worker), lambda: intake.recover(desk)):
        with pytest.raises(DeskError, match=r"\.claimed is not the desk's own folder") as caught:
            attempt()
        assert "\n" not in str(caught.value)
    assert sorted(p.name for p in box.iterdir()) == [".claimed", "fax.pdf"]
    assert (box / ".claimed").is_symlink() and (private / "notes.pdf").exists()
    assert sorted(p.name for p in private.iterdir()) == ["notes.pdf"]
    assert Document.select().count() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_claimed_folder_of_another_user_stops_the_scan(desk_inbox, worker):
    desk, ann, box = desk_inbox
    (box / ".claimed").mkdir()
    (box / ".claimed" / "planted.pdf").write_bytes(text_pdf(1, "planted"))
    os.chown(box / ".claimed", NOBODY, NOBODY)
    (box / "fax.pdf").write_bytes(text_pdf(1, "fax"))
    with pytest.raises(DeskError, match="belongs to another OS user"):
        intake.scan(desk, ann, worker=worker)
    assert (box / "fax.pdf").exists() and Document.select().count() == 0


def test_a_linked_inbox_is_refused(desk_inbox, worker):
    desk, ann, box = desk_inbox
    (box / "fax.pdf").write_bytes(text_pdf(1, "fax"))
    (desk.config.home / "inbox-link").symlink_to(box)
    desk.config.intake = Intake(inbox="inbox-link")
    with pytest.raises(DeskError, match="is a symbolic link"):
        intake.scan(desk, ann, worker=worker)
    assert (box / "fax.pdf").exists() and not (box / ".claimed").exists()


def test_a_link_left_in_claimed_by_a_killed_scan_goes_back_untouched_and_is_refused(desk_inbox, worker):
    desk, ann, box = desk_inbox
    (box / ".claimed").mkdir()
    (box / ".claimed" / "fax-0001.pdf").symlink_to(desk.config.key_file)
    report = intake.scan(desk, ann, worker=worker)
    assert report.returned == 1 and report.refused == [("fax-0001.pdf", intake.SYMLINK)]
    assert os.readlink(box / "fax-0001.pdf") == str(desk.config.key_file)
    assert Document.select().count() == 0


def test_a_file_over_the_byte_limit_is_quarantined_as_too_large_and_kept(desk_inbox, worker):
    desk, ann, box = desk_inbox
    desk.config.intake = Intake(max_bytes=1 << 20)
    huge = box / "huge.pdf"
    with open(huge, "wb") as f:  # sparse: 3 MiB on paper, a few bytes on disk
        f.write(b"%PDF-1.7\n")
        f.truncate(3 << 20)
    expected = _sha(huge.read_bytes())
    (box / "small.pdf").write_bytes(text_pdf(1, "small"))
    report = intake.scan(desk, ann, worker=worker)
    (uid, reason), = report.quarantined
    assert reason == intake.TOO_LARGE and len(report.received) == 1
    doc = Document.get(Document.uuid == uid)
    assert (doc.quarantine_reason, doc.size, doc.sha256) == (intake.TOO_LARGE, 3 << 20, expected)
    assert _sealed_detail(desk, uid) == f"{3 << 20} bytes, more than the limit of {1 << 20}"
    assert _sha(intake.document_bytes(desk, ann, uid)) == expected  # never lost: the bytes are in the store


def test_a_large_file_is_streamed_into_the_store_never_held_whole(desk_inbox, worker):
    desk, ann, box = desk_inbox
    size = 40 << 20
    desk.config.intake = Intake(max_bytes=100 << 20)
    blob = b"<< /Length %d >>\nstream\n" % size + os.urandom(size) + b"\nendstream"
    data = assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>", blob])
    (box / "outside-record.pdf").write_bytes(data)
    expected = _sha(data)
    del data, blob
    tracemalloc.start()
    try:
        report = intake.scan(desk, ann, worker=worker)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (uid,) = report.received
    assert Document.get(Document.uuid == uid).sha256 == expected
    assert peak < size // 8, f"the scan held {peak:,} bytes at once for a {size:,}-byte file"


def test_a_parser_message_quoting_the_file_is_sealed_never_in_the_row(desk_inbox, worker):
    desk, ann, box = desk_inbox
    leaky = assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                      b"MRN11050327 PATEL ANITA )))"])
    (box / "leaky.pdf").write_bytes(leaky)
    (uid, reason), = intake.scan(desk, ann, worker=worker).quarantined
    assert reason == pdfworker.CANNOT_BE_PARSED
    assert Document.get(Document.uuid == uid).quarantine_reason == pdfworker.CANNOT_BE_PARSED
    assert "PATEL" in _sealed_detail(desk, uid)  # kept for whoever investigates, under the audit key
    (event,) = AuditEvent.select().where(AuditEvent.action == "intake.quarantine")
    assert b"PATEL" not in bytes(event.details_enc)
    assert not (desk.config.home / "quarantine").exists()


def test_old_free_text_reasons_are_shown_as_fixed_phrases_and_their_files_removed(desk_inbox, worker):
    desk, ann, box = desk_inbox
    (box / "a.pdf").write_bytes(b"junk one")
    (box / "b.pdf").write_bytes(b"junk two")
    (a, _), (b, _) = intake.scan(desk, ann, worker=worker).quarantined
    old = {a: "damaged or truncated PDF (PdfReadError: Invalid Elementary Object b'MRN11050327\\n1 0 obj\\nPATEL')",
           b: "has 6 pages, more than the limit of 5: split it or raise [intake] max_pages"}
    folder = desk.config.home / "quarantine"
    folder.mkdir()
    with desk.write():  # as an older desk left them
        for uid, text in old.items():
            Document.update(quarantine_reason=text).where(Document.uuid == uid).execute()
            (folder / f"{uid}.reason").write_text(f"document {uid}\nreason: {text}\n")
    assert intake.shown_reason(old[a]) == pdfworker.CANNOT_BE_PARSED
    assert intake.shown_reason(old[b]) == pdfworker.TOO_MANY_PAGES
    status = run_cli("intake", "status", home=desk.config.home, check=True).stdout
    assert f"quarantined {a}" in status and pdfworker.CANNOT_BE_PARSED in status and "PATEL" not in status
    listed = json.loads(run_cli("intake", "status", "--json", home=desk.config.home, check=True).stdout)
    assert {q["document"]: q["reason"] for q in listed["quarantine"]} == {
        a: pdfworker.CANNOT_BE_PARSED, b: pdfworker.TOO_MANY_PAGES}
    intake.scan(desk, ann, worker=worker)  # the next scan settles them
    reasons = {d.uuid: d.quarantine_reason for d in Document.select()}
    assert reasons == {a: pdfworker.CANNOT_BE_PARSED, b: pdfworker.TOO_MANY_PAGES}
    assert not folder.exists()


def test_a_quarantine_reason_needs_no_write_after_the_commit(desk_inbox, worker):
    desk, ann, box = desk_inbox
    # Older scans wrote a reason file after committing; a kill (or a failure) there left a reason missing.
    # A file where that folder was makes any such write fail: the reason must already be in the row.
    (desk.config.home / "quarantine").write_bytes(b"")
    (box / "junk.pdf").write_bytes(b"not a pdf at all")
    (uid, reason), = intake.scan(desk, ann, worker=worker).quarantined
    assert Document.get(Document.uuid == uid).quarantine_reason == reason == pdfworker.NOT_PDF
    assert sorted(p.name for p in box.iterdir()) == [".claimed"]
    assert [p.name for p in (box / ".claimed").iterdir()] == [".lock"]


@pytest.mark.parametrize("folder", [".", "..", "store", "printouts", "/"])
def test_a_scan_folder_that_is_or_holds_the_desk_home_is_refused_and_nothing_moves(desk_inbox, folder):
    """`recdesk intake scan <home>` once took the database, the key file and config.toml into the store."""
    desk, _, _ = desk_inbox
    home = desk.config.home
    before = sorted(p.name for p in home.iterdir())
    result = run_cli("intake", "scan", str(home / folder) if folder != "/" else "/", home=home)
    assert result.returncode == 2 and "name a folder of its own" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert set(before) <= {p.name for p in home.iterdir()}  # every file of the desk still where it was
    assert Document.select().count() == 0
