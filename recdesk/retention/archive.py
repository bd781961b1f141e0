"""Archives before destruction: one encrypted file per purge batch holding each patient's documents (their original
PDF bytes) and demographics and encounters (JSON), and the check that an archive opens whole before anything is
destroyed.

The archive key is the site's, kept apart from the desk's master key: a 256-bit key in a file of its own (base64,
0400/0600), made once with `create_key_file` and kept where the master key is not (another host, the escrow, an
offline copy), so that whoever holds the archives cannot read them with the desk's key, and the reverse. The site
names the file in its config (`[retention] archive_key_file`); `read_key_file` refuses the master key.

Format: a header (magic, chunk size, a random 7-byte nonce prefix, the key's id), then chunks of AES-256-GCM, each
`length | ciphertext+tag`, with the nonce `prefix | chunk index | final flag` (the STREAM construction) and the
header, index and flag as associated data: a changed, dropped, reordered or cut-off chunk fails. Inside is a plain
POSIX tar, written and read as a stream (nothing is held whole in memory):

    <mrn>/patient.json        demographics, insurance and the list of documents with their SHA-256
    <mrn>/encounters.json     the patient's encounters
    <mrn>/documents/*.pdf     each document's original bytes
    manifest.json             last: every document's path, size and SHA-256, for the check
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import io
import json
import os
import secrets
import stat
import struct
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import recdesk
from recdesk.errors import DeskError, TamperError
from recdesk.patients.registry import decrypt
from recdesk.roles import MANAGERS
from recdesk.vault import audit, crypto, keys
from recdesk.vault.models import Document, Encounter, Patient

MAGIC = b"RDA1"
CHUNK = 64 * 1024
KEY_BYTES = 32
_HEADER = struct.Struct(">4sI7s8s")  # magic, chunk size, nonce prefix, key id
_LEN = struct.Struct(">I")
_INDEX = struct.Struct(">I?")
FORMAT = "recdesk archive 1"


@dataclass(frozen=True)
class ArchiveSummary:
    """What an archive holds, as written or as verified."""

    path: Path
    patients: tuple[str, ...]  # patient uuids, in the archive's order
    documents: int
    document_bytes: int
    sha256: str  # of the archive file itself (its ciphertext), for the batch's record


# --- the key ------------------------------------------------------------------------------------------------------


def _key_id(key: bytes) -> bytes:
    return hmac.new(key, b"recdesk archive key id", hashlib.sha256).digest()[:8]


def create_key_file(path: Path) -> None:
    """A new random archive key in a file of its own (0600), never over an existing one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
        f.flush()
        os.fsync(f.fileno())


def read_key_file(desk, path: Path) -> bytes:
    """The archive key from its file (owner-only permissions), refused if it is the desk's master key."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DeskError(f"archive key file {path} does not exist: restore it from where the site keeps it") from None
    if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o077:
        raise DeskError(f"archive key file {path} must be a regular file readable by its owner only: "
                        f"run `chmod 600 {path}`")
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise DeskError(f"archive key file {path} does not hold a base64 256-bit key")
    if hmac.compare_digest(keys.MasterKey(key, "archive key").sub("key-check"), desk.master.sub("key-check")):
        raise DeskError(f"{path} holds the desk's master key: archives need a key of their own, kept apart")
    return key


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise DeskError("the archive key must be 32 bytes (read it with archive.read_key_file)")


# --- the sealed stream ----------------------------------------------------------------------------------------------


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + _INDEX.pack(index, last)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


class _SealedWriter(io.RawIOBase):
    """Bytes written in, AES-GCM chunks out; the final chunk (possibly empty) is written by `finish`."""

    def __init__(self, f, key: bytes) -> None:
        self._f, self._aead = f, AESGCM(key)
        self._prefix = secrets.token_bytes(7)
        self._header = _HEADER.pack(MAGIC, CHUNK, self._prefix, _key_id(key))
        self._buf = bytearray()
        self._index = 0
        self.digest = hashlib.sha256()  # of the file as written, for the batch's record
        self._out(self._header)

    def _out(self, data: bytes) -> None:
        self._f.write(data)
        self.digest.update(data)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buf += data
        while len(self._buf) > CHUNK:  # keep at least one byte back: only `finish` knows which chunk is last
            self._emit(bytes(self._buf[:CHUNK]), last=False)
            del self._buf[:CHUNK]
        return len(data)

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._index, last), chunk,
                                    _aad(self._header, self._index, last))
        self._out(_LEN.pack(len(sealed)))
        self._out(sealed)
        self._index += 1

    def finish(self) -> None:
        self._emit(bytes(self._buf), last=True)
        self._buf.clear()


class _SealedReader(io.RawIOBase):
    """The plaintext of a sealed stream, chunk by chunk; raises TamperError at the first chunk that fails."""

    def __init__(self, f, key: bytes, name: str) -> None:
        self._f, self._name, self._digest = f, name, hashlib.sha256()
        header = self._raw(_HEADER.size)
        if len(header) != _HEADER.size or header[:4] != MAGIC:
            raise TamperError(f"{name} is not a recdesk archive (no archive header): wrong file, or damaged")
        _, self._chunk, self._prefix, key_id = _HEADER.unpack(header)
        if not hmac.compare_digest(key_id, _key_id(key)):
            raise DeskError(f"{name} was not written with this archive key: use the key of the batch it belongs to")
        self._header, self._aead = header, AESGCM(key)
        self._index, self._done = 0, False
        self._buf = b""

    def _raw(self, n: int) -> bytes:
        data = self._f.read(n)
        self._digest.update(data)
        return data

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf and not self._done:
            self._next()
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def _next(self) -> None:
        where = f"{self._name} failed authentication at chunk {self._index}"
        raw_len = self._raw(_LEN.size)
        if len(raw_len) != _LEN.size:
            raise TamperError(f"{where}: the file is cut short (altered or truncated)")
        (size,) = _LEN.unpack(raw_len)
        if size > self._chunk + 16:
            raise TamperError(f"{where}: a chunk length was altered")
        sealed = self._raw(size)
        if len(sealed) != size:  # the length is not under the tag: a short read must not pass for a chunk
            raise TamperError(f"{where}: the file is cut short or a chunk length was altered")
        last = not self._f.peek(1)
        try:
            self._buf = self._aead.decrypt(_nonce(self._prefix, self._index, last), sealed,
                                           _aad(self._header, self._index, last))
        except InvalidTag:
            raise TamperError(f"{where}: altered, truncated, or chunks out of order") from None
        self._index += 1
        self._done = last

    def drain(self) -> str:
        """Read to the authenticated end; the SHA-256 of the whole file."""
        while not self._done:
            self._next()
        return self._digest.hexdigest()


class _Chunks(io.RawIOBase):
    """A readable file over an iterator of byte chunks (a document decrypting from the store)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it: Iterator[bytes] = iter(chunks)
        self._buf = b""
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            piece = next(self._it, None)
            if piece is None:
                return 0
            self.digest.update(piece)
            self.size += len(piece)
            self._buf = piece
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


# --- writing --------------------------------------------------------------------------------------------------------


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, 0
    return info


def _add_json(tar: tarfile.TarFile, name: str, value) -> None:
    data = json.dumps(value, indent=1, sort_keys=True, default=str).encode("utf-8")
    tar.addfile(_member(name, len(data)), io.BytesIO(data))


def _patient_files(desk, tar: tarfile.TarFile, patient: Patient) -> tuple[str, list[dict]]:
    details = decrypt(desk, patient, with_insurance=True)
    folder = details.mrn or patient.uuid
    dek = desk.dek(patient)
    docs = []
    for d in Document.select().where(Document.patient == patient.id).order_by(Document.service_date, Document.id):
        name = f"{folder}/documents/{d.service_date or 'undated'}-{d.doc_type}-{d.uuid[:8]}.pdf"
        source = _Chunks(desk.store.chunks(dek, d.uuid, d.blob))
        tar.addfile(_member(name, d.size), source)
        if source.size != d.size or source.digest.hexdigest() != d.sha256:
            raise TamperError(f"document {d.uuid} does not match its recorded SHA-256: not archived; "
                              "run `recdesk doctor`")
        docs.append({"path": name, "uuid": d.uuid, "type": d.doc_type, "service_date": d.service_date,
                     "pages": d.pages, "size": d.size, "sha256": d.sha256,
                     "title": crypto.open_text(dek, "document", "title", d.uuid, d.title_enc) or ""})
    _add_json(tar, f"{folder}/patient.json", {
        "uuid": patient.uuid, "mrn": details.mrn, "last": details.last, "first": details.first,
        "middle": details.middle, "dob": details.dob, "sex": details.sex, "ssn_last4": details.ssn_last4,
        "phone": details.phone, "address": details.address, "insurance": details.insurance,
        "flags": details.flags, "documents": docs})
    encounters = [{"uuid": e.uuid, "kind": e.kind, "admit": e.admit_at, "discharge": e.discharge_at,
                   "service": e.service, "surgery": e.surgery_at, "surgery_end": e.surgery_end_at,
                   "attending": e.attending.name if e.attending_id else "",
                   "account": crypto.open_text(dek, "encounter", "account", e.uuid, e.account_enc)}
                  for e in Encounter.select().where(Encounter.patient == patient.id).order_by(Encounter.admit_at)]
    _add_json(tar, f"{folder}/encounters.json", encounters)
    return folder, docs


def write_archive(desk, actor, patient_uuids: list[str], path: Path, *, archive_key: bytes) -> ArchiveSummary:
    """Write the batch's archive to `path` atomically (a temp file, fsynced, renamed into place); audited per
    patient as an export. Nothing is left at `path` unless the whole archive was written."""
    actor.require(*MANAGERS)
    _check_key(archive_key)
    patients = []
    for uid in patient_uuids:
        row = Patient.get_or_none(Patient.uuid == uid)
        if row is None:
            raise DeskError(f"no patient {uid} on this desk: check the batch")
        if row.dek_wrapped is None:
            raise DeskError(f"patient {uid} was destroyed already: there is nothing left to archive")
        patients.append(row)
    path = Path(path)
    if path.exists():
        raise DeskError(f"{path} already exists: an archive is never written over another")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    manifest, documents, size = [], 0, 0
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            sealed = _SealedWriter(f, archive_key)
            with tarfile.open(fileobj=sealed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for row in patients:
                    folder, docs = _patient_files(desk, tar, row)
                    manifest.append({"uuid": row.uuid, "folder": folder,
                                     "documents": [{k: d[k] for k in ("path", "size", "sha256")} for d in docs]})
                    documents += len(docs)
                    size += sum(d["size"] for d in docs)
                _add_json(tar, "manifest.json", {
                    "format": FORMAT, "made_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                    "facility": desk.config.roi.facility, "recdesk": recdesk.__version__, "patients": manifest})
            sealed.finish()
            f.flush()
            os.fsync(f.fileno())
        digest = sealed.digest.hexdigest()
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with desk.write():
        audit.append_many(desk, actor, [
            audit.Event("retention.archive", f"patient:{row.uuid}", row.uuid,
                        {"archive_sha256": digest, "documents": len(m["documents"])})
            for row, m in zip(patients, manifest, strict=True)])
    return ArchiveSummary(path, tuple(p.uuid for p in patients), documents, size, digest)


# --- verifying ------------------------------------------------------------------------------------------------------


def verify_archive(path: Path, archive_key: bytes) -> ArchiveSummary:
    """Decrypt the whole archive and check every document against its SHA-256 in the manifest; raises a one-line
    TamperError (or DeskError for the wrong key) at the first thing that does not hold."""
    _check_key(archive_key)
    path = Path(path)
    name = path.name
    try:
        f = open(path, "rb")  # closed by the with below, after the reader has drained it
    except OSError as exc:
        raise DeskError(f"cannot read archive {path}: {exc.strerror}") from None
    with f:
        reader = _SealedReader(f, archive_key, name)
        seen: dict[str, tuple[int, str]] = {}
        manifest = None
        try:
            with tarfile.open(fileobj=io.BufferedReader(reader, CHUNK), mode="r|") as tar:
                for member in tar:
                    if not member.isfile():
                        raise TamperError(f"{name}: {member.name!r} is not a file: not a recdesk archive")
                    data = tar.extractfile(member)
                    if member.name == "manifest.json":
                        manifest = json.loads(data.read())
                        continue
                    digest, total = hashlib.sha256(), 0
                    while piece := data.read(CHUNK):
                        digest.update(piece)
                        total += len(piece)
                    seen[member.name] = (total, digest.hexdigest())
        except tarfile.TarError as exc:
            raise TamperError(f"{name}: its contents are not a complete archive ({exc})") from None
        digest = reader.drain()
    if manifest is None or manifest.get("format") != FORMAT:
        raise TamperError(f"{name}: no manifest at its end: the archive was not finished")
    documents, size, patients = 0, 0, []
    for p in manifest["patients"]:
        patients.append(p["uuid"])
        for d in p["documents"]:
            got = seen.pop(d["path"], None)
            if got is None:
                raise TamperError(f"{name}: document {d['path']} is listed but missing")
            if got != (d["size"], d["sha256"]):
                raise TamperError(f"{name}: document {d['path']} does not match its SHA-256")
            documents += 1
            size += d["size"]
        for part in ("patient.json", "encounters.json"):
            if seen.pop(f"{p['folder']}/{part}", None) is None:
                raise TamperError(f"{name}: {p['folder']}/{part} is missing")
    if seen:
        raise TamperError(f"{name}: {sorted(seen)[0]} is not in the manifest")
    return ArchiveSummary(path, tuple(patients), documents, size, digest)
