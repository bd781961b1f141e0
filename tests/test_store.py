"""The content store: chunked AEAD files that are complete or absent, and fail loudly when altered."""

import hashlib
import os

import pytest

from recdesk.errors import TamperError
from recdesk.vault.store import CHUNK, ContentStore

KEY = bytes(range(32))


@pytest.fixture
def store(tmp_path):
    return ContentStore(tmp_path / "store")


def test_multi_chunk_file_round_trips_and_keeps_its_hash(store):
    data = os.urandom(CHUNK * 3 + 17)
    stored = store.put(KEY, "doc1", data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert store.read(KEY, "doc1", stored.blob, stored.sha256) == data
    assert data[:64] not in store.path(stored.blob).read_bytes()


def test_empty_and_exact_chunk_sizes_round_trip(store):
    for data in (b"", b"x" * CHUNK, b"y" * (2 * CHUNK)):
        stored = store.put(KEY, "d", iter([data[: len(data) // 2], data[len(data) // 2 :]]))
        assert store.read(KEY, "d", stored.blob, stored.sha256) == data


def test_truncated_file_is_detected(store):
    stored = store.put(KEY, "doc1", os.urandom(CHUNK * 2 + 5))
    path = store.path(stored.blob)
    raw = path.read_bytes()
    # Cut exactly at a chunk boundary: only the last-chunk flag can catch this.
    path.write_bytes(raw[: 15 + 4 + CHUNK + 16])
    with pytest.raises(TamperError):
        store.read(KEY, "doc1", stored.blob)


def test_altered_byte_is_detected(store):
    stored = store.put(KEY, "doc1", b"%PDF-1.7 hello")
    path = store.path(stored.blob)
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x40
    path.write_bytes(bytes(raw))
    with pytest.raises(TamperError):
        store.read(KEY, "doc1", stored.blob)


def test_file_of_another_document_does_not_decrypt(store):
    stored = store.put(KEY, "doc1", b"%PDF-1.7 hello")
    with pytest.raises(TamperError):
        store.read(KEY, "doc2", stored.blob)


def test_failed_write_leaves_nothing_visible(store):
    def chunks():
        yield b"a" * CHUNK
        raise OSError("scanner unplugged")

    with pytest.raises(OSError):
        store.put(KEY, "doc1", chunks())
    assert store.blob_ids() == set()
    assert store.stale_parts() == []
