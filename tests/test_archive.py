"""Archives before destruction: a round trip, a flipped byte, a cut-off file, the wrong key, the master key refused."""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import os
import tarfile

import pytest

from recdesk import users
from recdesk.errors import AccessDenied, DeskError, TamperError
from recdesk.retention import archive
from recdesk.vault.models import AuditEvent, Document, Patient
from tests.test_shredding import PEOPLE, fill


@pytest.fixture
def batch(desk_and_manager, tmp_path):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    clerk = desk.sign_on("ann")
    patients = [fill(desk, manager, clerk, p) for p in PEOPLE[:2]]
    key_file = tmp_path / "archive.key"
    archive.create_key_file(key_file)
    return desk, manager, clerk, patients, archive.read_key_file(desk, key_file), tmp_path


def _plain_tar(path, key) -> tarfile.TarFile:
    """The archive decrypted whole, for the test to look inside (verify_archive streams instead)."""
    with open(path, "rb") as f:
        reader = archive._SealedReader(f, key, path.name)
        data = b""
        while piece := reader.read(1 << 16):
            data += piece
    return tarfile.open(fileobj=io.BytesIO(data))


def test_an_archive_round_trips_every_document_and_verifies(batch):
    desk, manager, _, patients, key, tmp = batch
    path = tmp / "batch-1.rda"
    written = archive.write_archive(desk, manager, [p.uuid for p in patients], path, archive_key=key)
    assert (written.patients, written.documents) == (tuple(p.uuid for p in patients), 4)
    assert written.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not list(tmp.glob(".*.part"))
    assert archive.verify_archive(path, key) == written

    tar = _plain_tar(path, key)
    for p, row in zip(PEOPLE, patients, strict=False):
        info = json.loads(tar.extractfile(f"{p.mrn}/patient.json").read())
        assert (info["mrn"], info["last"], info["dob"]) == (p.mrn, p.last, p.dob.isoformat())
        assert info["insurance"][0]["member_id"] == f"W{p.mrn}"
        (stay,) = json.loads(tar.extractfile(f"{p.mrn}/encounters.json").read())
        assert stay["kind"] == "inpatient" and stay["admit"].startswith("2012-03-04")
        for d in Document.select().where(Document.patient == row.id):
            (doc,) = [x for x in info["documents"] if x["uuid"] == d.uuid]
            data = tar.extractfile(doc["path"]).read()
            assert data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == d.sha256 == doc["sha256"]
    exports = AuditEvent.select().where(AuditEvent.action == "retention.archive")
    assert sorted(e.patient for e in exports) == sorted(p.uuid for p in patients)
    # Nothing readable without the key: no name, MRN or document text in the file's bytes.
    raw = path.read_bytes()
    assert not any(n in raw for n in (PEOPLE[0].last.encode(), PEOPLE[0].mrn.encode(), b"%PDF", b"Discharge"))


def _with_a_big_scan(batch) -> bytes:
    """A patient with a document of several chunks, archived; the archive's bytes."""
    from recdesk.documents import filing

    desk, manager, clerk, patients, key, tmp = batch
    big = b"%PDF-1.4\n" + os.urandom(3 * archive.CHUNK + 123)
    with desk.write():
        filing.file_document(desk, clerk, Patient.get_by_id(patients[0].id),
                             [big[i:i + 1000] for i in range(0, len(big), 1000)], doc_type="lab_result",
                             title="Scan", pages=1, service_date=datetime.date(2012, 1, 1))
    archive.write_archive(desk, manager, [patients[0].uuid], tmp / "batch.rda", archive_key=key)
    return (tmp / "batch.rda").read_bytes()


def test_a_flipped_byte_anywhere_fails_verification_in_one_line(batch):
    *_, key, tmp = batch
    path = tmp / "batch.rda"
    good = _with_a_big_scan(batch)
    assert len(good) > 3 * archive.CHUNK
    for at in (archive._HEADER.size + 2, archive._HEADER.size + 3, len(good) // 2, len(good) - 3):
        bad = bytearray(good)
        bad[at] ^= 0x01
        path.write_bytes(bytes(bad))
        with pytest.raises(TamperError) as exc:
            archive.verify_archive(path, key)
        assert "failed authentication at chunk" in str(exc.value) and "\n" not in str(exc.value)


def test_a_cut_off_reordered_or_extended_archive_fails(batch):
    *_, key, tmp = batch
    path = tmp / "batch.rda"
    good = _with_a_big_scan(batch)
    head, chunk = archive._HEADER.size, archive._LEN.size + archive.CHUNK + 16
    first, second = good[head:head + chunk], good[head + chunk:head + 2 * chunk]
    swapped = good[:head] + second + first + good[head + 2 * chunk:]
    for bad in (good[:-1], good[:head + chunk], good[:head + 2 * chunk], good + first, swapped):
        path.write_bytes(bad)
        with pytest.raises(TamperError):
            archive.verify_archive(path, key)


def test_the_wrong_key_is_named_as_such(batch):
    desk, manager, _, patients, key, tmp = batch
    path = tmp / "batch.rda"
    archive.write_archive(desk, manager, [patients[0].uuid], path, archive_key=key)
    with pytest.raises(DeskError, match="not written with this archive key"):
        archive.verify_archive(path, os.urandom(32))
    path.write_bytes(b"%PDF-1.7 not an archive")
    with pytest.raises(TamperError, match="not a recdesk archive"):
        archive.verify_archive(path, key)


def test_the_master_key_is_refused_as_an_archive_key(batch, make_config):
    desk, *_ , tmp = batch
    config = desk.config
    with pytest.raises(DeskError, match="master key"):
        archive.read_key_file(desk, config.key_file)
    loose = tmp / "loose.key"
    loose.write_text(base64.b64encode(os.urandom(32)).decode())
    loose.chmod(0o644)
    with pytest.raises(DeskError, match="chmod 600"):
        archive.read_key_file(desk, loose)
    with pytest.raises(FileExistsError):
        archive.create_key_file(tmp / "archive.key")  # never over an existing key


def test_only_a_manager_archives_and_a_failed_archive_leaves_nothing(batch):
    desk, manager, clerk, patients, key, tmp = batch
    with pytest.raises(AccessDenied):
        archive.write_archive(desk, clerk, [patients[0].uuid], tmp / "a.rda", archive_key=key)
    doc = Document.select().where(Document.patient == patients[1].id).first()
    desk.store.path(doc.blob).write_bytes(b"RDS1 damaged")
    with pytest.raises(TamperError):
        archive.write_archive(desk, manager, [p.uuid for p in patients], tmp / "b.rda", archive_key=key)
    assert not (tmp / "b.rda").exists() and not list(tmp.glob(".*.part"))
    assert not AuditEvent.select().where(AuditEvent.action == "retention.archive").exists()
    path = tmp / "c.rda"
    path.write_bytes(b"keep")
    with pytest.raises(DeskError, match="already exists"):
        archive.write_archive(desk, manager, [patients[0].uuid], path, archive_key=key)
    assert path.read_bytes() == b"keep"


def test_a_large_document_streams_through_in_many_chunks(batch):
    *_, key, tmp = batch
    _with_a_big_scan(batch)
    summary = archive.verify_archive(tmp / "batch.rda", key)
    assert summary.documents == 3 and summary.document_bytes > 3 * archive.CHUNK


def test_a_large_batch_never_sits_whole_in_memory(batch):
    import tracemalloc

    from recdesk.documents import filing

    desk, manager, clerk, patients, key, tmp = batch
    piece = os.urandom(1 << 16)
    with desk.write():
        filing.file_document(desk, clerk, Patient.get_by_id(patients[0].id), (piece for _ in range(128)),
                             doc_type="lab_result", title="Long scan", pages=1, service_date=datetime.date(2012, 1, 1))
    path = tmp / "large.rda"
    tracemalloc.start()
    try:
        archive.write_archive(desk, manager, [patients[0].uuid], path, archive_key=key)
        _, writing = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        archive.verify_archive(path, key)
        _, verifying = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.stat().st_size > 8 << 20  # an 8 MiB document went through
    assert writing < 2 << 20 and verifying < 2 << 20, (writing, verifying)
