"""Where a desk lives and how it is configured: the home folder and its config.toml."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from recdesk.errors import DeskError

CONFIG_NAME = "config.toml"
DEFAULT_IDLE_TIMEOUT = 600
KEY_SOURCES = ("keyring", "file", "demo")


def default_home() -> Path:
    """The home used when neither --home nor RECDESK_HOME is given."""
    env = os.environ.get("RECDESK_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("recdesk", appauthor=False))


@dataclass
class Config:
    """A desk's settings, read once from <home>/config.toml and validated here at the edge."""

    home: Path
    desk_id: str = ""
    key_source: str = "keyring"
    key_file: Path | None = None
    database_url: str = ""
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT
    demo: bool = False
    facility: str = "Riverside General Hospital"
    extra: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def sqlite_path(self) -> Path:
        return self.home / "recdesk.db"

    @property
    def store_path(self) -> Path:
        return self.home / "store"

    @property
    def effective_database_url(self) -> str:
        """RECDESK_DB wins over the config file; empty means the embedded SQLCipher file."""
        return os.environ.get("RECDESK_DB") or self.database_url

    def to_toml(self) -> str:
        lines = [
            "# recdesk desk configuration",
            "[desk]",
            f"id = {_quote(self.desk_id)}",
            f"demo = {'true' if self.demo else 'false'}",
            f"facility = {_quote(self.facility)}",
            f"idle_timeout = {self.idle_timeout}",
            "",
            "[keys]",
            "# keyring (OS keyring of the service account), file (0400/0600 key file), demo",
            f"source = {_quote(self.key_source)}",
        ]
        if self.key_file is not None:
            lines.append(f"file = {_quote(str(self.key_file))}")
        lines += ["", "[database]", "# empty: the embedded SQLCipher file recdesk.db in this home"]
        lines.append(f"url = {_quote(self.database_url)}")
        for section, values in self.extra.items():
            if section in ("desk", "keys", "database") or not isinstance(values, dict):
                continue
            lines += ["", f"[{section}]"]
            lines += [f"{_quote(str(k)) if not str(k).isidentifier() else k} = {_value(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"

    def save(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(self.to_toml(), encoding="utf-8")
        os.replace(tmp, self.path)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return _quote(str(value))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load(home: Path) -> Config:
    """Read and validate <home>/config.toml; a missing desk or a bad value is a one-line DeskError."""
    path = home / CONFIG_NAME
    if not path.exists():
        raise DeskError(f"no desk in {home}: run `recdesk init` (or `recdesk demo`) first")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DeskError(f"{path} is not valid TOML ({exc}): fix or restore it") from None
    desk = raw.get("desk", {})
    keys = raw.get("keys", {})
    database = raw.get("database", {})
    source = keys.get("source", "keyring")
    if source not in KEY_SOURCES:
        raise DeskError(f"{path}: [keys] source must be one of {', '.join(KEY_SOURCES)}, not {source!r}")
    key_file = keys.get("file")
    if source == "file" and not key_file:
        raise DeskError(f"{path}: [keys] source = \"file\" needs file = \"/path/to/key\"")
    idle = desk.get("idle_timeout", DEFAULT_IDLE_TIMEOUT)
    if not isinstance(idle, int) or idle < 30:
        raise DeskError(f"{path}: [desk] idle_timeout must be a whole number of seconds, at least 30")
    return Config(
        home=home,
        desk_id=str(desk.get("id", "")),
        key_source=source,
        key_file=Path(key_file).expanduser() if key_file else None,
        database_url=database.get("url", ""),
        idle_timeout=idle,
        demo=bool(desk.get("demo", False)),
        facility=desk.get("facility", "Riverside General Hospital"),
        extra=raw,
    )
