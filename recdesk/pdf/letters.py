"""Letters to requesters and providers from the templates in data/letters.toml, rendered as PDF bytes."""

from __future__ import annotations

import datetime
import string
from pathlib import Path

from recdesk import reference
from recdesk.pdf import layout


class _Formatter(string.Formatter):
    """str.format with long dates, lists as bullet lines, and a ValueError naming any missing field."""

    def __init__(self, what: str):
        self.what = what

    def get_value(self, key, args, kwargs):
        try:
            return super().get_value(key, args, kwargs)
        except (KeyError, IndexError):
            raise ValueError(f"{self.what} needs the field {key!r}") from None

    def format_field(self, value, format_spec):
        if isinstance(value, datetime.date) and not format_spec:
            return f"{value:%B} {value.day}, {value.year}"
        if isinstance(value, list | tuple) and not format_spec:
            return "\n".join(f"  -  {item}" for item in value)
        return super().format_field(value, format_spec)


def fill(template: str, fields: dict, what: str = "template") -> str:
    """template with its {placeholders} filled from fields; ValueError names a missing one ("<what> needs ...")."""
    return _Formatter(what).format(template, **fields)


def with_options(template: dict, fields: dict, what: str = "template") -> dict:
    """fields plus each [<kind>.options.<name>] text chosen by fields[name] (e.g. review = "reviewable")."""
    out = dict(fields)
    for name, choices in template.get("options", {}).items():
        if name not in fields:
            raise ValueError(f"{what} needs the field {name!r} (one of {', '.join(choices)})")
        if fields[name] not in choices:
            raise ValueError(f"{what}: {name} must be one of {', '.join(choices)}, not {fields[name]!r}")
        out[name] = fill(choices[fields[name]], fields, what)
    return out


def kinds(home: Path | None = None) -> list[str]:
    """The letter kinds this desk has templates for."""
    return sorted(k for k, v in reference.load("letters", home).items() if isinstance(v, dict) and "subject" in v)


def render(kind: str, fields: dict, home: Path | None = None) -> bytes:
    """The letter `kind` filled from fields as a PDF.

    fields always needs facility (str), date (datetime.date) and to (address lines), plus the template's own
    placeholders; a list value becomes bullet lines. A missing field raises ValueError naming it.
    """
    templates = reference.load("letters", home)
    if kind not in kinds(home):
        raise ValueError(f"no letter template {kind!r}: one of {', '.join(kinds(home))}")
    template, what = templates[kind], f"letter {kind!r}"
    fields = with_options(template, fields, what)
    for name in ("facility", "date", "to"):
        if name not in fields:
            raise ValueError(f"{what} needs the field {name!r}")
    if not isinstance(fields["date"], datetime.date):
        raise ValueError(f"{what}: date must be a datetime.date, not {fields['date']!r}")
    to = fields["to"]
    signature = template.get("signature", templates.get("defaults", {}).get("signature", []))
    return layout.letter(
        facility=fields["facility"],
        date=fields["date"],
        to_lines=[to] if isinstance(to, str) else list(to),
        subject=fill(template["subject"], fields, what),
        paragraphs=[fill(p, fields, what) for p in template["paragraphs"]],
        signature_lines=[fill(line, fields, what) for line in signature],
    )
