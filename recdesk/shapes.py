"""The shapes input from outside the desk must have (request files, import lines), declared once and read at the edge.

A shape reads one value parsed from JSON or CSV into what the desk works with, or raises an InputError that names
the value's path and what is allowed. Nothing is coerced: "false" is not false and 5 is not "5". Every string has
a length bound and no control characters, every date a plausible year.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from recdesk.display import FORBIDDEN, FORBIDDEN_IN_LINES
from recdesk.errors import DeskError

EARLIEST, LATEST = datetime.date(1900, 1, 1), datetime.date(2100, 12, 31)
MAX_DOCUMENT_BYTES = 1_000_000  # a request file is a few KB; this bounds what is read into memory
MAX_DIGITS = 30  # no field is a number: this only keeps a 5,000-digit literal from reaching int()



class InputError(DeskError):
    """Input that cannot be read: one line naming the value's path (when it has one) and what is allowed."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


def shown(value: object) -> str:
    """A bad value as a message may quote it: spelled as JSON, escapes visible, never long or nested."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:36] + '..."'


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class Shape:
    """One field's type and bounds; `read` gives the value the desk works with (None for absent = its default)."""

    required: bool = False
    expected: str = "a value"
    hint: str = ""  # what the field holds, in the clerk's words (when it says more than its type)

    def read(self, value: object, path: str):
        if value is None:
            if self.required:
                raise InputError(path, f"missing: give {self.hint or self.expected}")
            return self.absent()
        return self.take(value, path)

    def absent(self):
        return None

    def take(self, value: object, path: str):
        raise NotImplementedError


@dataclass
class Text(Shape):
    """A string of at most `longest` characters, stripped; `lines` lets it keep newlines (an address)."""

    longest: int = 200
    required: bool = False
    lines: bool = False
    pattern: str = ""  # a full match the stripped text must make
    hint: str = ""  # what the pattern stands for, in the clerk's words
    expected: str = "text"

    def absent(self) -> str:
        return ""

    def take(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            raise InputError(path, f"expected text in quotes, got {shown(value)}")
        if len(value) > self.longest:
            raise InputError(path, f"{len(value):,} characters, at most {self.longest} allowed: shorten it")
        bad = (FORBIDDEN_IN_LINES if self.lines else FORBIDDEN).search(value)
        if bad:
            raise InputError(path, f"contains the control character U+{ord(bad[0]):04X} at position {bad.start()}: "
                                   "remove it")
        text = value.strip()
        if self.required and not text:
            raise InputError(path, f"is empty: give {self.hint or self.expected}")
        if text and self.pattern and not re.fullmatch(self.pattern, text):
            raise InputError(path, f"{shown(text)} is not {self.hint}")
        return text


@dataclass
class Flag(Shape):
    """true or false, nothing else."""

    expected: str = "true or false"

    def absent(self) -> bool:
        return False

    def take(self, value: object, path: str) -> bool:
        if not isinstance(value, bool):
            hint = ": write it without quotes" if value in ("true", "false") else ""
            raise InputError(path, f"expected true or false, got {shown(value)}{hint}")
        return value


@dataclass
class Day(Shape):
    """A date written YYYY-MM-DD within a plausible range of years."""

    required: bool = False
    earliest: datetime.date = EARLIEST
    latest: datetime.date = LATEST
    expected: str = 'a date as "YYYY-MM-DD"'

    def take(self, value: object, path: str) -> datetime.date:
        day = None
        if isinstance(value, str) and re.fullmatch("[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip(" ")):
            try:
                day = datetime.date.fromisoformat(value.strip(" "))
            except ValueError:
                day = None
        if day is None:
            raise InputError(path, f"expected {self.expected}, got {shown(value)}")
        if not self.earliest <= day <= self.latest:
            raise InputError(path, f"{shown(value)} is not between {self.earliest} and {self.latest}: "
                                   "check the year")
        return day


@dataclass
class Choice(Shape):
    """One of a fixed list of words."""

    options: tuple[str, ...] = ()
    default: str | None = None
    required: bool = False

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(self.options)

    def absent(self) -> str | None:
        return self.default

    def take(self, value: object, path: str) -> str:
        if not isinstance(value, str) or value not in self.options:
            raise InputError(path, f"{shown(value)} is not {self.expected}")
        return value


@dataclass
class Items(Shape):
    """A list of values of one shape, at most `most` of them."""

    item: Shape = field(default_factory=Text)
    most: int = 100
    required: bool = False
    expected: str = "a list [...]"

    def absent(self) -> list:
        return []

    def take(self, value: object, path: str) -> list:
        if not isinstance(value, list):
            raise InputError(path, f"expected {self.expected}, got {shown(value)}")
        if len(value) > self.most:
            raise InputError(path, f"{len(value):,} items, at most {self.most} allowed")
        if self.required and not value:
            raise InputError(path, "is empty: give at least one")
        return [self.item.read(v, f"{path}[{n}]") for n, v in enumerate(value)]


@dataclass
class Record(Shape):
    """An object with named fields; a key that is not one of them is refused (a misspelt key never passes as
    absent). Absent, it reads as None, or as every field's default when `defaults` is set."""

    fields: dict[str, Shape] = field(default_factory=dict)
    required: bool = False
    defaults: bool = False
    expected: str = "an object {...}"

    def absent(self) -> dict | None:
        return {name: shape.absent() for name, shape in self.fields.items()} if self.defaults else None

    def take(self, value: object, path: str) -> dict:
        if not isinstance(value, dict):
            raise InputError(path, f"expected {self.expected}, got {shown(value)}")
        for key in value:
            if key not in self.fields:
                raise InputError(path or "the document", f"unknown field {shown(key)}: the fields are "
                                                         f"{', '.join(self.fields)}")
        return {name: shape.read(value.get(name), _join(path, name)) for name, shape in self.fields.items()}


@dataclass
class Mapping(Shape):
    """An object from keys of one shape (an MRN) to values of another."""

    key: Text = field(default_factory=Text)
    value: Shape = field(default_factory=Text)
    most: int = 100
    expected: str = "an object {...}"

    def absent(self) -> dict:
        return {}

    def take(self, value: object, path: str) -> dict:
        if not isinstance(value, dict):
            raise InputError(path, f"expected {self.expected}, got {shown(value)}")
        if len(value) > self.most:
            raise InputError(path, f"{len(value):,} entries, at most {self.most} allowed")
        out = {}
        for k, v in value.items():
            name = self.key.read(k, f"{path} key {shown(k)}")
            out[name] = self.value.read(v, _join(path, name))
        return out


# --- keys a document has that its shape does not ------------------------------------------------------------------


@dataclass(frozen=True)
class UnknownKey:
    """A key of a document from outside that its shape has no field for: its path, and the field it is closest to."""

    path: str
    close: str = ""

    def __str__(self) -> str:
        return f"{self.path}: unknown key" + (f" (did you mean {self.close}?)" if self.close else "")


def unknown_keys(shape: Shape, value: object, path: str = "") -> tuple[object, list[UnknownKey]]:
    """`value` without the keys `shape` has no field for (a copy, nothing else changed), and each of those keys."""
    found: list[UnknownKey] = []
    if isinstance(shape, Record) and isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if key in shape.fields:
                kept[key], more = unknown_keys(shape.fields[key], item, _join(path, key))
                found += more
            else:
                close = difflib.get_close_matches(str(key), list(shape.fields), n=1)
                found.append(UnknownKey(_join(path, str(key)), close[0] if close else ""))
        return kept, found
    if isinstance(shape, Items) and isinstance(value, list):
        items = []
        for n, item in enumerate(value):
            items.append(unknown_keys(shape.item, item, f"{path}[{n}]"))
        return [v for v, _ in items], [k for _, more in items for k in more]
    if isinstance(shape, Mapping) and isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            kept[key], more = unknown_keys(shape.value, item, _join(path, str(key)))
            found += more
        return kept, found
    return value, found


def known_keys_only(shape: Shape, value: object, *, lenient: bool = False) -> tuple[object, list[UnknownKey]]:
    """The rule for keys a document's shape does not have: refused, every one named by its path in one line (a
    misspelt `revoked_on` read as absent would pass a revoked authorization); or, `lenient`, left out and handed
    back to be shown as warnings."""
    kept, unknown = unknown_keys(shape, value)
    if unknown and not lenient:
        advice = "fix the key, or remove it" if len(unknown) == 1 else "fix the keys, or remove them"
        error = InputError("", "; ".join(map(str, unknown)) + f": {advice}")
        error.path = unknown[0].path
        raise error
    return kept, unknown


# --- JSON documents -------------------------------------------------------------------------------------------------


def _no_repeats(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise InputError("", f"the key {shown(key)} is given twice in one object: keep one")
        out[key] = value
    return out


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise InputError("", f"a number of {len(text):,} digits: no field of this document is a number that long")
    return int(text)


def _no_constant(text: str) -> float:
    raise InputError("", f"{text} is not a JSON value: write a number, text in quotes, true, false or null")


def read_json(source: str | Path) -> object:
    """One JSON document from a file or `-` (stdin), within bounds; an InputError (one line) when it cannot be read."""
    name = "stdin" if str(source) == "-" else str(source)
    try:
        if str(source) == "-":
            data = sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1)
        else:
            with open(source, "rb") as f:
                data = f.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise InputError("", f"cannot read {name}: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError("", f"{name} is larger than {MAX_DOCUMENT_BYTES:,} bytes: a request is a few KB, "
                             "check it is the right file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("", f"{name} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    try:
        return json.loads(text, object_pairs_hook=_no_repeats, parse_int=_bounded_int, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError("", f"{name} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): "
                             "fix the file") from None
    except RecursionError:
        raise InputError("", f"{name} is nested too deeply to be a request: check it is the right file") from None
    except InputError as exc:
        raise InputError("", f"{name}: {exc}") from None
