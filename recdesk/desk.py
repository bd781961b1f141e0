"""A desk: its configuration, master key, database, content store and the acting user's session."""

from __future__ import annotations

import hashlib
import hmac
import os
import pwd
import re
import secrets
import sys
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import peewee

from recdesk import config as config_mod
from recdesk.config import Config
from recdesk.errors import AccessDenied, DeskError, MasterKeyError
from recdesk.vault import audit, crypto, keys, migrations, seals
from recdesk.vault.blindindex import INDEX_VERSION, BlindIndex
from recdesk.vault.db import DATABASE_ERRORS, SqlCipherDatabase, is_postgres, postgres
from recdesk.vault.models import DeskInfo, Patient, User, create_schema, database
from recdesk.vault.store import ContentStore

_USER_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
HOST_KEY_NAME = "ssh_host_ed25519_key"
_DEK_CACHE = 4096
ACT_AS_DEMO_ONLY = ("--as is for demo desks only: on a real desk each person signs on as themselves "
                    "(their OS account or SSH key); run the command without --as")


@dataclass(frozen=True)
class Actor:
    """Who is acting: a desk user and the session the audit trail attributes events to."""

    user_id: int
    user_name: str
    role: str
    session: str

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            caller = sys._getframe(1)  # the service refusing: what the person tried, named once for every check
            attempted = f"{caller.f_globals['__name__'].removeprefix('recdesk.')}.{caller.f_code.co_name}"
            raise AccessDenied(f"{self.user_name} is a {self.role}; this needs a {' or '.join(roles)}",
                               actor=self, attempted=attempted, needs=roles)


def _open_database(config: Config, master: keys.MasterKey, *, readonly: bool, create: bool = False,
                   audit_only: bool = False) -> peewee.Database:
    url = config.effective_database_url
    if url:
        return postgres(url, readonly=readonly)
    return SqlCipherDatabase(config.sqlite_path, master.sub("sqlcipher"), readonly=readonly, create=create,
                             audit_only=audit_only)


def os_user_name() -> str:
    """The OS account running this process, from the kernel (getpass would believe $LOGNAME and $USER)."""
    return pwd.getpwuid(os.getuid()).pw_name


def check_user_name(name: str) -> None:
    if not _USER_NAME.match(name):
        raise DeskError(f"user name {name!r}: 2-32 lower-case letters, digits, . _ - (starting with a letter)")


def write_host_key(path: Path) -> None:
    """A new host key for the SSH front door (0600); never over an existing one, since clients pin it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise DeskError(f"{path} already exists: a host key is never replaced (clients pin it); "
                        "move it away first only if you mean clients to see a new one") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())


def _key_check(master: keys.MasterKey, desk_id: str) -> bytes:
    return hmac.new(master.sub("key-check"), desk_id.encode(), hashlib.sha256).digest()


class Desk:
    """An open desk. Models are bound to its database while it is open (one desk per process)."""

    def __init__(self, config: Config, master: keys.MasterKey, db: peewee.Database, *, readonly: bool) -> None:
        self.config = config
        self.master = master
        self.db = db
        self.readonly = readonly
        self.is_postgres = is_postgres(db)
        # A supervisor's connection cannot write; their views are still audited through a connection
        # that may only append to the audit chain (an authorizer enforces it on SQLite).
        self.audit_db = _open_database(config, master, readonly=False, audit_only=True) if readonly else db
        self.store = ContentStore(config.store_path)
        self.blind = BlindIndex.from_master(master)
        self.index_version = DeskInfo.select(DeskInfo.index_version).scalar() or 1
        # A demo desk is one the demo builder made: its seed is in the encrypted database, where config.toml's
        # flag alone (a file whoever can edit the home can change) cannot put it. Only then may --as pick the user.
        self.demo = bool(config.demo and DeskInfo.select(DeskInfo.demo_seed).scalar() is not None)
        self._deks: OrderedDict[int, bytes] = OrderedDict()
        self._audit_keys: OrderedDict[str, tuple[int, bytes]] = OrderedDict()  # patient uuid -> (id, audit key)
        self._audit_uuids: dict[int, str] = {}  # patient id -> uuid, so forget_dek drops the audit key too
        self.acting_as: str | None = None  # `recdesk --as NAME` on a demo desk (act_as)

    # --- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, home: Path, *, readonly: bool = False, upgrade: bool = True) -> Desk:
        config = config_mod.load(home)
        master = keys.load(config)
        db = _open_database(config, master, readonly=readonly)
        database.initialize(db)
        try:
            db.connect(reuse_if_open=True)
            try:
                # Only the columns every schema version has: a newer recdesk opens an older desk to upgrade it.
                info = DeskInfo.select(DeskInfo.desk_id, DeskInfo.schema_version, DeskInfo.key_check).get()
            except (peewee.DatabaseError, DeskInfo.DoesNotExist):
                raise DeskError("the database holds no recdesk desk (no desk_info): wrong database URL?") from None
            if info.desk_id != config.desk_id:
                raise DeskError(f"the database belongs to desk {info.desk_id}, not this home's {config.desk_id}")
            if not hmac.compare_digest(bytes(info.key_check), _key_check(master, config.desk_id)):
                raise MasterKeyError("wrong master key for this desk: the key check does not match")
            if info.schema_version != migrations.latest():
                if readonly or not upgrade:
                    raise DeskError(
                        f"this desk is at schema {info.schema_version}, recdesk needs {migrations.latest()}: "
                        "a clerk or manager session upgrades it on open"
                    )
                migrations.upgrade(db, info.schema_version, master)
        except BaseException:
            db.close()
            raise
        return cls(config, master, db, readonly=readonly)

    @classmethod
    def create(cls, config: Config, manager_name: str, *, manager_full_name: str = "",
               demo_seed: int | None = None) -> tuple[Desk, Actor]:
        """A new desk: key in its source, database with the latest schema, first manager, audit genesis.

        The settings are written first (as config.toml.creating) and become config.toml by a rename last, so a
        kill at any point leaves either no desk or one that the same call, run again, finishes: it reads the
        settings the interrupted run chose, reuses the key it stored and keeps a database it committed.
        """
        if config.path.exists():
            raise DeskError(f"a desk already exists in {config.home}: use it, or choose another --home")
        check_user_name(manager_name)
        resuming = config.creating_path.exists()
        if resuming:
            config = config_mod.read(config.creating_path)
        else:
            config.desk_id = config.desk_id or secrets.token_hex(16)
            config.database_url = config.effective_database_url  # later commands find it without RECDESK_DB
            keys.check_source(config)
            if not config.database_url and config.sqlite_path.exists():
                raise DeskError(f"{config.sqlite_path} already exists without a config: move it away first")
            config.home.mkdir(parents=True, exist_ok=True)
            os.chmod(config.home, 0o700)
            config.save(config.creating_path)
        master = keys.load(config) if resuming and keys.stored(config) else keys.create(config)
        try:
            desk, actor = cls._create_database(config, master, manager_name, manager_full_name, demo_seed)
        except BaseException:
            if not resuming:  # nothing of this desk is anywhere yet: leave no trace, so a rerun starts clean
                if not config.database_url:
                    for suffix in ("", "-wal", "-shm"):
                        Path(str(config.sqlite_path) + suffix).unlink(missing_ok=True)
                keys.discard(config)
                config.creating_path.unlink(missing_ok=True)
            raise
        config.store_path.mkdir(exist_ok=True)
        if not os.path.lexists(config.home / HOST_KEY_NAME):  # made once with the desk so clients can pin it
            write_host_key(config.home / HOST_KEY_NAME)
        os.replace(config.creating_path, config.path)  # last: a config.toml means a complete desk
        return desk, actor

    @classmethod
    def _create_database(cls, config: Config, master: keys.MasterKey, manager_name: str, manager_full_name: str,
                         demo_seed: int | None) -> tuple[Desk, Actor]:
        """The desk's schema, identity, audit genesis and first manager in one transaction, or the ones an
        interrupted init already committed."""
        url = config.effective_database_url
        db = _open_database(config, master, readonly=False, create=True)
        database.initialize(db)
        try:
            db.connect(reuse_if_open=True)
            if DeskInfo.table_exists():
                info = DeskInfo.select(DeskInfo.desk_id, DeskInfo.key_check).first()
                if info is None or info.desk_id != config.desk_id or not hmac.compare_digest(
                        bytes(info.key_check), _key_check(master, config.desk_id)):
                    raise DeskError("that PostgreSQL database (schema) already holds a desk: use an empty one"
                                    if url else f"{config.sqlite_path} holds another desk: move it away first")
                first = User.select().where(User.role == "manager").order_by(User.id).get()
                return cls(config, master, db, readonly=False), Actor(first.id, first.name, first.role,
                                                                      secrets.token_hex(8))
            with db.atomic():
                create_schema(db)
                DeskInfo.create(desk_id=config.desk_id, schema_version=migrations.latest(),
                                key_check=_key_check(master, config.desk_id), demo_seed=demo_seed,
                                index_version=INDEX_VERSION)
                audit.start_chain(db, master.sub("audit-mac"))
                user = User.create(name=manager_name, full_name=manager_full_name, role="manager",
                                   os_user=os_user_name())
                desk = cls(config, master, db, readonly=False)
                seals.reseal(desk, User, User.id == user.id)
                actor = Actor(user.id, user.name, user.role, secrets.token_hex(8))
                audit.append(desk, actor, "desk.init", object=f"desk:{config.desk_id}",
                             details={"key_source": config.key_source, "backend": "postgresql" if url else "sqlcipher"})
                # Born sealed: an upgrade that would seal rows afresh is refused on this desk for good.
                audit.append(desk, actor, migrations.SEALED_MARK, object="desk")
            return desk, actor
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        try:
            audit.remember_head(self)  # what this home has seen, so a later rollback of the database shows
        except DATABASE_ERRORS:
            pass
        if self.audit_db is not self.db:
            self.audit_db.close()
        self.db.close()

    def __enter__(self) -> Desk:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- sessions --------------------------------------------------------------------------------

    def sign_on(self, user_name: str, session: str | None = None) -> Actor:
        """The Actor for a named desk user; unknown or disabled users are refused."""
        user = User.get_or_none(User.name == user_name)
        if user is None:
            raise AccessDenied(f"{user_name!r} is not a desk user: a manager adds them with `recdesk user add`")
        seals.check(self, user)  # a role or key granted by writing the database, not by a manager, is refused
        if self.is_disabled(user):
            raise AccessDenied(f"desk user {user_name!r} is disabled: ask a manager")
        if self.readonly and user.role != "supervisor":
            raise AccessDenied("a read-only session is for supervisors only")
        return Actor(user.id, user.name, user.role, session or secrets.token_hex(8))

    def is_disabled(self, user: User) -> bool:
        """Disabled by a manager. A seal cannot tell a row put back as it was before (with its old seal) from
        the real one; the audit trail, which only grows, can: a disabled user stays out."""
        return user.disabled or audit.recorded(self, "user.disable", f"user:{user.name}")

    def act_as(self, user_name: str) -> None:
        """Try a demo desk as another of its users (`recdesk --as sup`): every role can be seen. Refused on a real
        desk, where who acts comes from the OS account or the SSH key, never from an option."""
        if not self.demo:
            raise DeskError(ACT_AS_DEMO_ONLY)
        self.acting_as = user_name

    def local_actor(self) -> Actor:
        """The desk user for whoever runs the CLI here: the demo clerk in a demo desk (or the user named by --as),
        else the OS user's."""
        if self.acting_as is not None and self.demo:
            if not User.select().where(User.name == self.acting_as).exists():
                names = User.select(User.name).where(User.disabled == False).order_by(User.name)  # noqa: E712
                raise AccessDenied(f"--as {self.acting_as}: this demo desk has no such user; try one of "
                                   f"{', '.join(u.name for u in names)}")
            return self.sign_on(self.acting_as)
        if self.demo:
            return self.sign_on("demo")
        os_user = os_user_name()
        user = User.get_or_none((User.os_user == os_user) & (User.disabled == False))  # noqa: E712
        if user is None:
            user = User.get_or_none(User.name == os_user)
        if user is None:
            raise AccessDenied(f"OS user {os_user!r} is not mapped to a desk user: ask a manager to add you")
        return self.sign_on(user.name)

    def write(self):
        """The transaction every change runs in (BEGIN IMMEDIATE on SQLite)."""
        if self.readonly:
            raise AccessDenied("this session is read-only")
        return self.db.atomic()

    # --- keys ------------------------------------------------------------------------------------

    def dek(self, patient: Patient) -> bytes:
        """A patient's data key, unwrapped once and kept in a small LRU."""
        return self._dek(patient.id, patient.uuid, patient.dek_wrapped)

    def _dek(self, patient_id: int, patient_uuid: str, wrapped: bytes | None) -> bytes:
        key = self._deks.get(patient_id)
        if key is not None:
            self._deks.move_to_end(patient_id)
            return key
        if wrapped is None:
            raise DeskError(f"patient {patient_uuid} has been purged: their data cannot be read")
        key = crypto.unwrap_dek(self.master.sub("dek-wrap"), patient_uuid, wrapped)
        self._deks[patient_id] = key
        if len(self._deks) > _DEK_CACHE:
            self._deks.popitem(last=False)
        return key

    def forget_dek(self, patient_id: int) -> None:
        """Drop a patient's keys from the caches (a shred, or a sweep that must not hold every key at once)."""
        self._deks.pop(patient_id, None)
        uuid = self._audit_uuids.pop(patient_id, None)
        if uuid is not None:
            self._audit_keys.pop(uuid, None)

    def audit_key(self, patient_uuid: str) -> bytes | None:
        """The key a patient's audit details are sealed under (audit.patient_key of their data key); None when the
        desk holds no key for them (purged, or no such patient)."""
        return self.audit_keys([patient_uuid]).get(patient_uuid)

    def audit_keys(self, patient_uuids) -> dict[str, bytes]:
        """The audit keys of the patients that have one, each found and derived once (one query for all those not
        yet known) and kept in an LRU beside the DEKs: an append does no look-up or unwrap for a patient seen before.
        A patient without one is not remembered: the shred that blanked their key may yet roll back, and a patient
        registered a moment later gets theirs."""
        out, wanted = {}, []
        for uuid in dict.fromkeys(patient_uuids):
            cached = self._audit_keys.get(uuid)
            if cached is None:
                wanted.append(uuid)
            else:
                self._audit_keys.move_to_end(uuid)
                out[uuid] = cached[1]
        for first in range(0, len(wanted), 500):
            rows = (Patient.select(Patient.id, Patient.uuid, Patient.dek_wrapped)
                    .where(Patient.uuid.in_(wanted[first : first + 500]) & Patient.dek_wrapped.is_null(False)))
            for pid, uuid, wrapped in rows.tuples():
                key = out[uuid] = audit.patient_key(self._dek(pid, uuid, wrapped), uuid)
                self._audit_keys[uuid] = (pid, key)
                self._audit_uuids[pid] = uuid
                if len(self._audit_keys) > _DEK_CACHE:
                    _, (old_id, _) = self._audit_keys.popitem(last=False)
                    self._audit_uuids.pop(old_id, None)
        return out

    @property
    def desk_key(self) -> bytes:
        """The key for desk-wide encrypted fields that belong to no single patient (requesters, notes)."""
        return self.master.sub("desk-fields")
