"""Opening the desk's database: SQLCipher with a raw key by default, PostgreSQL by URL, read-only on request."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlparse

import peewee
from sqlcipher3 import dbapi2 as sqlcipher

from recdesk.errors import DeskError, MasterKeyError
from recdesk.vault import environment

BUSY_TIMEOUT_MS = 10_000
# Peewee wraps driver errors raised while executing, but not those raised while fetching rows.
DATABASE_ERRORS: tuple[type[Exception], ...] = (peewee.DatabaseError, sqlcipher.DatabaseError)
if sys.modules.get("psycopg") is not None:  # loaded by peewee when a PostgreSQL desk may be opened
    DATABASE_ERRORS += (sys.modules["psycopg"].Error,)


class SqlCipherDatabase(peewee.SqliteDatabase):
    """SQLite encrypted by SQLCipher, keyed with a raw 32-byte key (no per-connection PBKDF2)."""

    def __init__(self, path: Path, key: bytes, *, readonly: bool = False, create: bool = False,
                 audit_only: bool = False) -> None:
        self._key_hex = key.hex()
        self.readonly = readonly
        self._create = create
        self._audit_only = audit_only
        pragmas = [("busy_timeout", BUSY_TIMEOUT_MS), ("foreign_keys", 1), ("secure_delete", 1)]
        if not readonly:
            pragmas = [("journal_mode", "wal"), ("synchronous", "full"), *pragmas]
        # IMMEDIATE: a writer takes the write lock at BEGIN, so two writers queue instead of deadlocking.
        super().__init__(str(path), pragmas=pragmas, lock_type="IMMEDIATE", timeout=BUSY_TIMEOUT_MS / 1000)

    def _connect(self):
        path = Path(self.database)
        if not self._create and not path.exists():
            raise DeskError(f"database {path} is missing: restore it from backup, or run `recdesk init`")
        if self.readonly:
            conn = sqlcipher.connect(
                f"file:{quote(str(path))}?mode=ro", uri=True, isolation_level=None, timeout=self._timeout
            )
        else:
            conn = sqlcipher.connect(str(path), isolation_level=None, timeout=self._timeout)
        try:
            # Before the key: SQLCipher would otherwise log to stderr, straight into the TUI.
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.execute(f"PRAGMA key = \"x'{self._key_hex}'\"")
            try:
                # The first read proves the key before any pragma could write to the file.
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlcipher.DatabaseError as exc:
                # A disk that is read-only, full or forbidden is not a wrong key: say which it is.
                problem = environment.cause(exc, path)
                if problem is not None:
                    raise problem from None
                raise MasterKeyError(
                    f"cannot open {path}: wrong master key for this desk, or the file is not a recdesk "
                    "database (or its first page is corrupt)"
                ) from None
            self._add_conn_hooks(conn)
            if self._audit_only:
                conn.set_authorizer(_audit_only_authorizer)
        except BaseException:
            conn.close()
            raise
        return conn


_WRITES = {
    sqlcipher.SQLITE_INSERT: "audit_event", sqlcipher.SQLITE_UPDATE: "audit_head", sqlcipher.SQLITE_DELETE: None,
}
_READS = {sqlcipher.SQLITE_SELECT, sqlcipher.SQLITE_READ, sqlcipher.SQLITE_FUNCTION, sqlcipher.SQLITE_TRANSACTION,
          sqlcipher.SQLITE_SAVEPOINT}


def _audit_only_authorizer(action: int, arg1, arg2, db_name, source) -> int:
    """For a supervisor's audit connection: read anything, append to the audit chain, change nothing else."""
    if action in _READS:
        return sqlcipher.SQLITE_OK
    if action in _WRITES and _WRITES[action] == arg1:
        return sqlcipher.SQLITE_OK
    return sqlcipher.SQLITE_DENY


def postgres(url: str, *, readonly: bool = False) -> peewee.PostgresqlDatabase:
    """A PostgreSQL database from a postgresql:// URL; read-only sessions get read-only transactions."""
    parts = urlparse(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise DeskError(f"database URL must start with postgresql://, not {parts.scheme or url!r}")
    params: dict = dict(parse_qsl(parts.query))
    if parts.hostname:
        params["host"] = parts.hostname
    if parts.port:
        params["port"] = parts.port
    if parts.username:
        params["user"] = unquote(parts.username)
    if parts.password:
        params["password"] = unquote(parts.password)
    if readonly:
        # Enforced by the server for every transaction of this connection, not by the UI.
        params["options"] = (params.get("options", "") + " -c default_transaction_read_only=on").strip()
    params.setdefault("connect_timeout", 10)
    params.setdefault("application_name", "recdesk")
    name = unquote(parts.path.lstrip("/")) or "recdesk"
    return peewee.PostgresqlDatabase(name, prefer_psycopg3=True, **params)


def is_postgres(db: peewee.Database) -> bool:
    return isinstance(db, peewee.PostgresqlDatabase)


def bulk_insert(model: type[peewee.Model], rows: list[dict], db: peewee.Database | None = None, *,
                skip_existing: bool = False) -> None:
    """Insert many rows in one prepared statement, in the caller's transaction.

    Peewee builds SQL per row; for imports and registrations that dominates, so this binds the values of
    every row to one statement instead. Fields a row leaves out get the model's defaults, as with create().
    """
    if not rows:
        return
    db = db or model._meta.database
    defaults = {field.name: default for field, default in model._meta.defaults.items()}
    names = list(dict.fromkeys([*rows[0], *defaults]))
    fields = [model._meta.fields[name] for name in names]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    marks = ", ".join([db.param] * len(fields))
    sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
    if skip_existing:  # rows whose key is already there are left as they are (re-running a reindex)
        sql += " ON CONFLICT DO NOTHING"

    def value(row: dict, name: str):
        if name in row:
            return row[name]
        default = defaults[name]
        return default() if callable(default) else default

    values = [tuple(f.db_value(value(row, name)) for f, name in zip(fields, names, strict=True)) for row in rows]
    cursor = db.cursor()
    try:
        cursor.executemany(sql, values)
    finally:
        cursor.close()
