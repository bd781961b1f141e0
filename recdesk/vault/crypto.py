"""Field encryption: AES-256-GCM ciphertexts bound to their row and column, and per-patient data keys."""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from recdesk.errors import TamperError

VERSION = 1
_VERSION_BYTE = bytes([VERSION])
NONCE_BYTES = 12


def _aad(table: str, column: str, row_uuid: str) -> bytes:
    # Binding the place a ciphertext belongs to means a copy moved to another row or column fails.
    return f"{VERSION}|{table}|{column}|{row_uuid}".encode()


def new_key() -> bytes:
    """A fresh random 256-bit data key."""
    return AESGCM.generate_key(bit_length=256)


def seal_bytes(key: bytes, table: str, column: str, row_uuid: str, data: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return _VERSION_BYTE + nonce + AESGCM(key).encrypt(nonce, data, _aad(table, column, row_uuid))


def open_bytes(key: bytes, table: str, column: str, row_uuid: str, blob: bytes) -> bytes:
    if not blob or blob[0] != VERSION:
        raise TamperError(f"{table}.{column} of row {row_uuid} is not a recdesk v{VERSION} ciphertext")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, _aad(table, column, row_uuid))
    except InvalidTag:
        raise TamperError(
            f"{table}.{column} of row {row_uuid} failed authentication: altered, moved from another row, "
            "or encrypted under another key (possible tampering)"
        ) from None


def seal(key: bytes, table: str, column: str, row_uuid: str, value: str | None) -> bytes | None:
    """Encrypt one text field; None stays None (an absent value is not a secret)."""
    if value is None:
        return None
    return seal_bytes(key, table, column, row_uuid, value.encode("utf-8"))


def open_text(key: bytes, table: str, column: str, row_uuid: str, blob: bytes | None) -> str | None:
    if blob is None:
        return None
    return open_bytes(key, table, column, row_uuid, bytes(blob)).decode("utf-8")


def wrap_dek(wrap_key: bytes, patient_uuid: str, dek: bytes) -> bytes:
    """A patient's data key, encrypted under the desk's wrapping key; deleting it shreds the patient."""
    return seal_bytes(wrap_key, "patient", "dek", patient_uuid, dek)


def unwrap_dek(wrap_key: bytes, patient_uuid: str, wrapped: bytes) -> bytes:
    return open_bytes(wrap_key, "patient", "dek", patient_uuid, bytes(wrapped))
