"""Shared fixtures: desks on SQLCipher and (where reachable) PostgreSQL, keyrings, and the CLI in a subprocess."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from recdesk.config import Config
from recdesk.desk import Desk

PG_URL = os.environ.get("RECDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent


def _pg_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable here"
        return f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}); set RECDESK_TEST_PG"


PG_SKIP = _pg_reason()


@pytest.fixture
def pg_url():
    """A fresh, empty schema in the test PostgreSQL database, dropped afterwards."""
    if PG_SKIP:
        pytest.skip(PG_SKIP)
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-c%20search_path%3D{schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param


@pytest.fixture
def make_config(tmp_path, backend, request):
    """A Config for a new desk in tmp_path on the parametrised backend, keyed by a key file."""

    def make(name: str = "desk", **kwargs) -> Config:
        url = request.getfixturevalue("pg_url") if backend == "postgres" else ""
        home = tmp_path / name
        return Config(home=home, key_source="file", key_file=tmp_path / f"{name}.key", database_url=url, **kwargs)

    return make


@pytest.fixture
def desk_and_manager(make_config):
    """A new desk and its first manager (an Actor), closed afterwards."""
    d, actor = Desk.create(make_config(), "boss")
    yield d, actor
    d.close()


def run_cli(*args: str, home: Path | None = None, env: dict | None = None, check: bool = False,
            timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess:
    """Run `recdesk` as a user would, in a subprocess."""
    full_env = {k: v for k, v in os.environ.items() if k != "RECDESK_DB"}
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "recdesk.cli"]
    if home is not None:
        cmd += ["--home", str(home)]
    result = subprocess.run(cmd + list(args), capture_output=True, text=True, env=full_env, timeout=timeout,
                            input=input)
    if check and result.returncode != 0:
        raise AssertionError(f"recdesk {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result
