"""The desk's master key: where it comes from (keyring, key file, demo file) and the sub-keys HKDF derives."""

from __future__ import annotations

import base64
import os
import secrets
import stat
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from recdesk.config import Config
from recdesk.errors import MasterKeyError
from recdesk.vault import hardening

KEYRING_SERVICE = "recdesk"
DEMO_KEY_NAME = "demo.key"
KEY_BYTES = 32


class MasterKey:
    """One 256-bit desk key; every other key is an HKDF sub-key of it, never the key itself."""

    def __init__(self, raw: bytes, source: str) -> None:
        if len(raw) != KEY_BYTES:
            raise MasterKeyError(f"the master key from {source} is {len(raw)} bytes, not 32: it is not a recdesk key")
        hardening.protect_key_holder()  # before the key is kept: no core file or peer may ever hold it
        self._raw = raw
        self.source = source

    @cache  # noqa: B019 - a desk holds one key for the life of the process
    def sub(self, label: str) -> bytes:
        """The 32-byte sub-key for one purpose (sqlcipher, dek-wrap, blind:<kind>, audit-mac, ...)."""
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"recdesk/v1", info=label.encode()
        ).derive(self._raw)

    def __repr__(self) -> str:  # never print key material
        return f"MasterKey(source={self.source!r})"


def keyring_username(config: Config) -> str:
    return f"master-key:{config.desk_id}"


def _keyring_backend():
    """The keyring backend, refused when it cannot keep a secret safely."""
    import keyring

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    hint = 'configure a key file instead: `recdesk init --key-file PATH` or [keys] source = "file"'
    if type(backend).__module__ in ("keyring.backends.fail", "keyring.backends.null"):
        raise MasterKeyError(f"no usable OS keyring for this account ({name}): {hint}")
    if "plaintext" in name.lower() or type(backend).__module__.startswith("keyrings.alt.file"):
        raise MasterKeyError(f"the keyring backend {name} stores secrets in plain text: {hint}")
    return backend


def check_key_file(path: Path) -> None:
    """A key file must exist, be a regular file, and be readable by its owner only (0400/0600)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MasterKeyError(f"key file {path} does not exist: restore it or fix [keys] file") from None
    if not stat.S_ISREG(st.st_mode):
        raise MasterKeyError(f"key file {path} is not a regular file")
    if st.st_mode & 0o077:
        mode = oct(st.st_mode & 0o777)
        raise MasterKeyError(f"key file {path} has permissions {mode}: run `chmod 600 {path}` (0400 or 0600 only)")


def _read_key_file(path: Path) -> bytes:
    check_key_file(path)
    data = path.read_bytes()
    if len(data) == KEY_BYTES:
        return data
    try:
        return base64.b64decode(data.strip(), validate=True)
    except ValueError:
        raise MasterKeyError(f"key file {path} does not hold a base64 recdesk key") from None


def _write_key_file(path: Path, raw: bytes) -> None:
    if path.exists():
        raise MasterKeyError(f"key file {path} already exists: a new desk never overwrites a key")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64encode(raw) + b"\n")
        f.flush()
        os.fsync(f.fileno())


def _key_path(config: Config) -> Path:
    if config.key_source == "demo":
        return config.home / DEMO_KEY_NAME
    assert config.key_file is not None
    return config.key_file


def load(config: Config) -> MasterKey:
    """The master key of an existing desk from its configured source."""
    if config.key_source == "keyring":
        backend = _keyring_backend()
        stored = backend.get_password(KEYRING_SERVICE, keyring_username(config))
        if stored is None:
            raise MasterKeyError(
                f"the OS keyring ({type(backend).__name__}) has no key for this desk "
                f"({KEYRING_SERVICE}/{keyring_username(config)}): restore it from your key escrow"
            )
        try:
            return MasterKey(base64.b64decode(stored, validate=True), "keyring")
        except ValueError:
            raise MasterKeyError("the keyring entry for this desk is not a base64 recdesk key") from None
    if config.key_source == "demo" and not config.demo:
        raise MasterKeyError("a demo key is only allowed in a demo desk: configure keyring or a key file")
    path = _key_path(config)
    return MasterKey(_read_key_file(path), f"{config.key_source} {path}")


def create(config: Config) -> MasterKey:
    """A fresh random master key, stored in the configured source (which must not hold one yet)."""
    raw = secrets.token_bytes(KEY_BYTES)
    if config.key_source == "keyring":
        backend = _keyring_backend()
        if backend.get_password(KEYRING_SERVICE, keyring_username(config)) is not None:
            raise MasterKeyError("the keyring already holds a key for this desk id: refusing to replace it")
        backend.set_password(KEYRING_SERVICE, keyring_username(config), base64.b64encode(raw).decode())
        return MasterKey(raw, "keyring")
    path = _key_path(config)
    _write_key_file(path, raw)
    return MasterKey(raw, f"{config.key_source} {path}")


def discard(config: Config) -> None:
    """Remove a key that `create` just made for a desk whose creation then failed."""
    if config.key_source == "keyring":
        import keyring.errors

        try:
            _keyring_backend().delete_password(KEYRING_SERVICE, keyring_username(config))
        except keyring.errors.PasswordDeleteError:
            pass
    else:
        _key_path(config).unlink(missing_ok=True)


def stored(config: Config) -> bool:
    """Whether the configured source already holds this desk's key (an interrupted init made it)."""
    if config.key_source == "keyring":
        return _keyring_backend().get_password(KEYRING_SERVICE, keyring_username(config)) is not None
    return _key_path(config).exists()


def check_source(config: Config) -> None:
    """Fail early, before anything is written, when the configured source cannot hold a key."""
    if config.key_source == "keyring":
        _keyring_backend()
    elif config.key_source == "file":
        path = _key_path(config)
        if path.exists():
            raise MasterKeyError(f"key file {path} already exists: a new desk never overwrites a key")
        if not path.parent.is_dir():
            raise MasterKeyError(f"folder {path.parent} for the key file does not exist")
