"""Master key sources: the OS keyring (refusing unsafe backends), key files with strict permissions, demo files."""

import base64
import os
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from recdesk.config import Config
from recdesk.desk import Desk
from recdesk.errors import MasterKeyError
from recdesk.vault import keys
from tests.memkeyring import MemoryKeyring


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_keyring_desk_creates_and_reopens_with_the_key_in_the_keyring(tmp_path, memory_keyring):
    desk, _ = Desk.create(Config(home=tmp_path / "d", key_source="keyring"), "boss")
    desk.close()
    (entry,) = memory_keyring.secrets.items()
    assert entry[0][0] == "recdesk"
    assert len(base64.b64decode(entry[1])) == 32
    assert not any(p.name.endswith(".key") for p in (tmp_path / "d").iterdir())
    with Desk.open(tmp_path / "d") as again:
        assert again.master.source == "keyring"


def test_fail_backend_is_refused_with_what_to_configure(tmp_path):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(MasterKeyError, match="key file"):
            Desk.create(Config(home=tmp_path / "d", key_source="keyring"), "boss")
    finally:
        keyring.set_keyring(previous)
    assert not (tmp_path / "d" / "recdesk.db").exists()


def test_plaintext_backend_is_refused(tmp_path):
    class PlaintextKeyring(MemoryKeyring):
        pass

    previous = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    try:
        with pytest.raises(MasterKeyError, match="plain text"):
            Desk.create(Config(home=tmp_path / "d", key_source="keyring"), "boss")
    finally:
        keyring.set_keyring(previous)


def test_key_file_is_created_owner_only(tmp_path):
    desk, _ = Desk.create(Config(home=tmp_path / "d", key_source="file", key_file=tmp_path / "k"), "boss")
    desk.close()
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_loose_key_file_is_refused(tmp_path, mode):
    path = tmp_path / "k"
    path.write_bytes(base64.b64encode(os.urandom(32)))
    path.chmod(mode)
    config = Config(home=tmp_path, key_source="file", key_file=path)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        keys.load(config)


def test_read_only_key_file_0400_is_accepted(tmp_path):
    path = tmp_path / "k"
    path.write_bytes(base64.b64encode(os.urandom(32)))
    path.chmod(0o400)
    assert keys.load(Config(home=tmp_path, key_source="file", key_file=path)).source.startswith("file")


def test_missing_key_file_says_so(tmp_path):
    with pytest.raises(MasterKeyError, match="does not exist"):
        keys.load(Config(home=tmp_path, key_source="file", key_file=tmp_path / "nope"))


def test_demo_key_outside_a_demo_desk_is_refused(tmp_path):
    with pytest.raises(MasterKeyError, match="demo"):
        keys.load(Config(home=tmp_path, key_source="demo", demo=False))


def test_sub_keys_differ_by_purpose_and_never_equal_the_master():
    master = keys.MasterKey(bytes(32), "test")
    assert master.sub("sqlcipher") != master.sub("dek-wrap")
    assert bytes(32) not in (master.sub("sqlcipher"), master.sub("audit-mac"))
    assert "source" in repr(master) and "00" not in repr(master)


def test_init_never_overwrites_an_existing_key_file(tmp_path):
    path = Path(tmp_path / "k")
    path.write_bytes(b"keep me")
    path.chmod(0o600)
    with pytest.raises(MasterKeyError, match="already exists"):
        Desk.create(Config(home=tmp_path / "d", key_source="file", key_file=path), "boss")
    assert path.read_bytes() == b"keep me"


def test_failed_desk_creation_removes_the_key_it_just_stored(tmp_path, memory_keyring):
    with pytest.raises(Exception, match="user name"):
        Desk.create(Config(home=tmp_path / "d", key_source="keyring"), "Not A Name")
    assert memory_keyring.secrets == {}
    assert not (tmp_path / "d" / "recdesk.db").exists()
