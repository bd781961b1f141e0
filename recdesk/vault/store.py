"""The encrypted content store: document bytes in chunked AES-GCM files, written atomically beside the database."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import secrets
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from recdesk.errors import DeskError, TamperError

MAGIC = b"RDS1"
CHUNK = 64 * 1024
_HEADER = struct.Struct(">4sI7s")  # magic, chunk size, nonce prefix
_LEN = struct.Struct(">I")


@dataclass(frozen=True)
class StoredBlob:
    blob: str
    sha256: str
    size: int


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    # STREAM construction: the last-chunk flag in the nonce makes a truncated file fail to decrypt.
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


def _rechunk(data: bytes | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = [bytes(data)]
    buf = bytearray()
    for piece in data:
        buf += piece
        while len(buf) >= CHUNK:
            yield bytes(buf[:CHUNK])
            del buf[:CHUNK]
    yield bytes(buf)


class ContentStore:
    """Files under <home>/store/<2 hex>/<blob id>; a file is either complete or absent."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"

    def path(self, blob: str) -> Path:
        return self.root / blob[:2] / blob

    def put(self, key: bytes, owner_uuid: str, data: bytes | Iterable[bytes], *, sync: bool = True) -> StoredBlob:
        """Encrypt and store bytes for one owner (a document uuid); returns the blob id and plaintext SHA-256.

        With sync=False the file is complete and in place but not yet flushed to disk: the caller
        calls sync() once for a whole batch before it records the batch.
        """
        blob = secrets.token_hex(16)
        prefix = secrets.token_bytes(7)
        header = _HEADER.pack(MAGIC, CHUNK, prefix)
        aad = header + owner_uuid.encode()
        aead = AESGCM(key)
        digest, size = hashlib.sha256(), 0
        self.tmp.mkdir(parents=True, exist_ok=True)
        part = self.tmp / f"{blob}.part"
        final = self.path(blob)
        try:
            with open(part, "xb") as f:
                f.write(header)
                pending: bytes | None = None
                counter = 0
                for chunk in _rechunk(data):
                    if pending is not None:
                        self._write_chunk(f, aead, prefix, counter, pending, aad, last=False)
                        counter += 1
                    digest.update(chunk)
                    size += len(chunk)
                    pending = chunk
                self._write_chunk(f, aead, prefix, counter, pending or b"", aad, last=True)
                f.flush()
                if sync:
                    os.fsync(f.fileno())
            final.parent.mkdir(exist_ok=True)
            os.replace(part, final)
            if sync:
                _fsync_dir(final.parent)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return StoredBlob(blob, digest.hexdigest(), size)

    @staticmethod
    def _write_chunk(f, aead: AESGCM, prefix: bytes, counter: int, chunk: bytes, aad: bytes, last: bool) -> None:
        sealed = aead.encrypt(_nonce(prefix, counter, last), chunk, aad)
        f.write(_LEN.pack(len(sealed)))
        f.write(sealed)

    def chunks(self, key: bytes, owner_uuid: str, blob: str) -> Iterator[bytes]:
        """Decrypt a stored file chunk by chunk; any change, truncation or move raises TamperError."""
        path = self.path(blob)
        aead = AESGCM(key)
        if not path.exists():
            raise TamperError(f"stored file {blob} is missing: restore the store from backup")
        with open(path, "rb") as f:
            header = f.read(_HEADER.size)
            if len(header) != _HEADER.size or header[:4] != MAGIC:
                raise TamperError(f"stored file {blob} has no recdesk header: corrupt or replaced")
            _, _, prefix = _HEADER.unpack(header)
            aad = header + owner_uuid.encode()
            counter = 0
            while True:
                raw_len = f.read(_LEN.size)
                if len(raw_len) != _LEN.size:
                    raise TamperError(f"stored file {blob} is truncated")
                sealed = f.read(_LEN.unpack(raw_len)[0])
                last = not f.peek(1)
                try:
                    yield aead.decrypt(_nonce(prefix, counter, last), sealed, aad)
                except InvalidTag:
                    raise TamperError(
                        f"stored file {blob} failed authentication at chunk {counter}: altered, truncated, "
                        "or not this document's file"
                    ) from None
                if last:
                    return
                counter += 1

    def read(self, key: bytes, owner_uuid: str, blob: str, sha256: str | None = None) -> bytes:
        data = b"".join(self.chunks(key, owner_uuid, blob))
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise TamperError(f"stored file {blob} does not match its recorded SHA-256")
        return data

    def verify(self, key: bytes, owner_uuid: str, blob: str, sha256: str) -> None:
        """Stream a file through decryption and compare its SHA-256, without holding it in memory."""
        digest = hashlib.sha256()
        for chunk in self.chunks(key, owner_uuid, blob):
            digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise TamperError(f"stored file {blob} does not match its recorded SHA-256")

    def sync(self) -> None:
        """Flush every file and folder of the store's filesystem to disk: one barrier for a batch of puts."""
        fd = os.open(self.root, os.O_RDONLY)
        try:
            libc = _libc()
            if libc is not None and libc.syncfs(fd) == 0:
                return
            os.sync()
        finally:
            os.close(fd)

    def delete(self, blob: str) -> None:
        self.path(blob).unlink(missing_ok=True)

    @contextlib.contextmanager
    def writing(self):
        """Held, shared, by work that stores files outside a transaction and records them later (an intake scan),
        so that a tidy-up never takes its files for unrecorded leftovers (the lock goes with the process)."""
        with self._lock(fcntl.LOCK_SH):
            yield

    @contextlib.contextmanager
    def tidying(self):
        """Held, alone, while files no record points to are removed; refused while anything is `writing`."""
        try:
            with self._lock(fcntl.LOCK_EX | fcntl.LOCK_NB):
                yield
        except BlockingIOError:
            raise DeskError("documents are being taken into the store (an intake scan is running): wait for it to "
                            "finish, then try again") from None

    @contextlib.contextmanager
    def _lock(self, how: int):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".writers.lock", "a") as lock:
            fcntl.flock(lock, how)
            yield

    def stale_parts(self) -> list[Path]:
        """Temp files left by a write that was killed; never visible as documents."""
        return sorted(self.tmp.glob("*.part")) if self.tmp.exists() else []

    def blob_ids(self) -> set[str]:
        return {p.name for p in self.root.glob("[0-9a-f][0-9a-f]/*") if p.is_file()}


@functools.cache
def _libc():
    """The C library, for syncfs(2) (Linux); None elsewhere."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc if hasattr(libc, "syncfs") else None
    except OSError:
        return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
