"""Data as a widget shows it: never read as markup, its control characters made visible (recdesk.display)."""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.widgets import Static

from recdesk.display import CONTROLS, shown


def plain(value: object, *, lines: bool = False, style: str = "") -> Text:
    """Data as a widget shows it: never read as markup, its control characters made visible (recdesk.display)."""
    return Text(shown(value, lines=lines), style=style)


def safe(value: object, *, lines: bool) -> object:
    """A str becomes plain text; Text and Content keep their styles unless they carry a control character."""
    if isinstance(value, str):
        return plain(value, lines=lines)
    if isinstance(value, Text):
        return value if not CONTROLS.search(value.plain) else plain(value.plain, lines=lines, style=value.style)
    if isinstance(value, Content):
        return value if not CONTROLS.search(value.plain) else Content(shown(value.plain, lines=lines))
    return value


class Plain(Static):
    """A box of text that may hold data: a str is shown as written (no markup), its escapes made visible."""

    def __init__(self, content: object = "", **kwargs) -> None:
        super().__init__(safe(content, lines=True), **kwargs)

    def update(self, content: object = "", *, layout: bool = True) -> None:
        super().update(safe(content, lines=True), layout=layout)
