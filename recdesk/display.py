"""Text from outside made safe to show on a terminal: control and format characters shown, never obeyed.

The convention (one for the CLI and the TUI): an ASCII control shows in caret notation (ESC → ``^[``,
BEL → ``^G``, DEL → ``^?``), any other control or format character as ``<U+XXXX>`` (C1 CSI → ``<U+009B>``,
right-to-left override → ``<U+202E>``); a tab or line break inside a one-line value shows as a space.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo

# Every character of Unicode categories Cc, Cf, Cs, Zl and Zp (tests/test_display.py checks this list
# against unicodedata): the ones a terminal obeys, or that reorder or hide text (bidi overrides, isolates,
# zero-width marks), or that cannot be written as UTF-8 (lone surrogates).
CONTROLS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
# What input from outside may not hold (shapes, config.toml values, a typed search or a wand scan): C0 controls,
# DEL, C1 controls, bidi embeddings, overrides and isolates, and lone surrogates (which cannot be stored or
# printed). Narrower than CONTROLS: a zero-width joiner or non-joiner belongs in some names. Free text over several
# lines keeps its newlines.
_FORBIDDEN = "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
FORBIDDEN = re.compile(f"[{_FORBIDDEN}]")
FORBIDDEN_IN_LINES = re.compile(f"(?!\n)[{_FORBIDDEN}]")
_BREAKS = frozenset("\t\n\v\f\r\x85\u2028\u2029")  # line and tab breaks: a space in a one-line value


def _visible(match: re.Match[str]) -> str:
    c = match.group()
    code = ord(c)
    if c in _BREAKS:
        return " "
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"


def shown(value: object, *, lines: bool = False) -> str:
    """`value` as text a terminal shows and never obeys; with `lines`, its line breaks stay (page text, notes)."""
    text = value if isinstance(value, str) else str(value)
    if lines:
        return "\n".join(CONTROLS.sub(_visible, line) for line in text.replace("\r\n", "\n").split("\n"))
    return CONTROLS.sub(_visible, text)


_BLANK_LETTERS = frozenset("\u115f\u1160\u2800\u3164\uffa0")  # Hangul fillers, the blank Braille cell


def invisible(text: str) -> str | None:
    """The first character of `text` that a reader cannot see (format characters such as zero-width spaces, LRM/RLM,
    the BOM and soft hyphen; line and paragraph separators; private-use and blank letters), or None. Typed words a
    supervisor reads (a break-glass reason, a review note) must look as they are: nothing hidden, no faked line."""
    import unicodedata

    for c in text:
        if unicodedata.category(c) in ("Cf", "Zl", "Zp", "Co") or c in _BLANK_LETTERS:
            return c
    return None


def echoed(typed: str, most: int = 24) -> str:
    """A typed value as a one-line message repeats it: whole when short, else its start and its length (a pasted
    page is never read back)."""
    return typed if len(typed) <= most else f"{typed[:most]}… ({len(typed):,} characters)"


def cleaned(typed: str | None) -> str:
    """What a person meant to type (pasted, or from a bad terminal or a wand): forbidden characters removed."""
    return FORBIDDEN.sub("", typed or "").strip()


# --- times: stored in UTC (naive, as the database keeps them), shown in the desk's own time zone

TIME = "%Y-%m-%d %H:%M"
ZONE_WANTED = 'an IANA time zone name such as "America/Chicago"'


def zone(name: str = "") -> datetime.tzinfo | None:
    """The time zone named in config.toml's [desk] timezone (an IANA name); "" is this machine's own (None).
    An unknown name raises ValueError with the line to show."""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{ZONE_WANTED}, not {name!r}") from None


def local(at: datetime.datetime, tz: datetime.tzinfo | None = None) -> datetime.datetime:
    """A stored UTC time (naive or aware) as the desk's wall clock in `tz` (None: this machine's zone)."""
    aware = at.replace(tzinfo=datetime.UTC) if at.tzinfo is None else at
    return aware.astimezone(tz)


def when(at: datetime.datetime | None, tz: datetime.tzinfo | None = None, fmt: str = TIME) -> str:
    """A stored UTC time as a clerk reads it: the desk's local time ("" for none). Every screen and the CLI's
    human output show times through this; JSON output stays ISO UTC with its offset (utc_iso)."""
    return "" if at is None else local(at, tz).strftime(fmt)


def utc_iso(at: datetime.datetime | None) -> str | None:
    """A stored UTC time as ISO 8601 with its offset, for JSON: 2026-03-08T08:30:00+00:00."""
    if at is None:
        return None
    return (at.replace(tzinfo=datetime.UTC) if at.tzinfo is None else at.astimezone(datetime.UTC)).isoformat()
