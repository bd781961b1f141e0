"""Shipped reference data (data/*.toml): found in an installed desk or a source checkout, overridable per site."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path

from recdesk.errors import DeskError


@cache
def data_dir() -> Path:
    """recdesk/_data in an installed wheel, else the checkout's top-level data/."""
    packaged = Path(str(resources.files("recdesk"))) / "_data"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "data"
    if checkout.is_dir():
        return checkout
    raise DeskError("recdesk's reference data is missing from this install: reinstall recdesk")


def load(name: str, home: Path | None = None) -> dict:
    """A reference file by name; <home>/data/<name>.toml, when present, replaces the shipped one."""
    candidates = [home / "data" / f"{name}.toml"] if home else []
    candidates.append(data_dir() / f"{name}.toml")
    for path in candidates:
        if path.exists():
            try:
                return tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise DeskError(f"{path} is not valid TOML ({exc}): fix it") from None
    raise DeskError(f"reference data {name}.toml is missing: reinstall recdesk")
