"""Small widgets every screen shares: plain-text boxes and tables for data, the header line, document pages."""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import VerticalScroll
from textual.content import Content
from textual.filter import LineFilter
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from recdesk.display import CONTROLS, shown


def plain(value: object, *, lines: bool = False, style: str = "") -> Text:
    """Data as a widget shows it: never read as markup, its control characters made visible (recdesk.display)."""
    return Text(shown(value, lines=lines), style=style)


def _safe(value: object, *, lines: bool) -> object:
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
        super().__init__(_safe(content, lines=True), **kwargs)

    def update(self, content: object = "", *, layout: bool = True) -> None:
        super().update(_safe(content, lines=True), layout=layout)


class DeskTable(DataTable):
    """A DataTable whose cells may hold data: a str cell is plain text (no markup), its escapes made visible."""

    def add_row(self, *cells: object, height: int | None = 1, key: str | None = None,
                label: object = None):
        return super().add_row(*(_safe(c, lines=False) for c in cells), height=height, key=key,
                               label=_safe(label, lines=False))

    def update_cell(self, row_key, column_key, value: object, *, update_width: bool = False) -> None:
        # update_cell_at comes here too
        super().update_cell(row_key, column_key, _safe(value, lines=False), update_width=update_width)


class ControlFilter(LineFilter):
    """The last line of defence: no control character in any widget's output reaches the terminal."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        # Controls are zero cells wide (rich.cells), so dropping them keeps every line its width.
        return [Segment(CONTROLS.sub(_drop, seg.text), seg.style, seg.control)
                if not seg.control and CONTROLS.search(seg.text) else seg for seg in segments]


def _drop(match: re.Match[str]) -> str:
    return " " * cell_len(match.group())  # a soft hyphen is one cell: a space keeps the line its width


class DeskScreen(Screen):
    """A screen of the desk: its actions obey the session's role (a supervisor changes nothing)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.app.check_action(action, parameters)


class DeskHeader(Plain):
    """`recdesk │ user (role) │ screen name` — no clock: an idle desk draws nothing."""

    def __init__(self, screen_name: str) -> None:
        super().__init__(id="header")
        self.screen_name = screen_name

    def on_mount(self) -> None:
        actor = self.app.actor
        self.update(f" recdesk │ {actor.user_name} ({actor.role}) │ {self.screen_name}")


class DocumentPages(Plain):
    """The text of one page of a document at a time (pypdf extraction, in the limited parser process)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.doc_uuid: str | None = None
        self.data: bytes | None = None
        self.page = 0
        self.pages = 0
        self.text = ""

    async def show(self, doc_uuid: str | None, pages: int) -> None:
        from recdesk.documents import intake

        app = self.app
        self.doc_uuid, self.pages, self.page, self.data = doc_uuid, pages, 0, None
        if doc_uuid is None:
            self.text = ""
            self.update("")
            return
        from recdesk.patients.chart import PurposeRequired

        try:
            self.data = await app.desk_call(intake.document_bytes, app.desk, app.actor, doc_uuid)
        except PurposeRequired:  # never shown in passing: open the chart and state a purpose
            self.text = "Restricted record: its pages show only in the chart, opened with a purpose of access."
            self.update(self.text)
            return
        await self.turn(0)

    async def turn(self, delta: int) -> None:
        if self.data is None or not self.pages:
            return
        self.page = max(0, min(self.pages - 1, self.page + delta))
        from recdesk.documents.pdfworker import Rejected

        try:
            text = await self.app.desk_call(self.app.pdf_worker.page_text, self.data, self.page)
        except Rejected as exc:
            text = f"(cannot show this page: {exc})"
        self.text = text
        body = text.strip() or "(no text on this page: a scan image)"
        self.update(f"── page {self.page + 1} of {self.pages} ──\n{body}")


class DocumentQueueScreen(DeskScreen):
    """A queue of documents above the pages of the one picked: the shape of the intake and QA screens."""

    COLUMNS: tuple[str, ...] = ()
    BINDINGS = [
        Binding("left", "turn(-1)", "Prev page", show=False, id="queue.previous_page"),
        Binding("right", "turn(1)", "Next page", show=False, id="queue.next_page"),
    ]

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        yield DeskTable(id="queue", cursor_type="row")
        yield Plain("", id="choice")
        with VerticalScroll(id="page-box"):
            yield DocumentPages(id="page")
        yield Footer()

    async def on_mount(self) -> None:
        table = self.query_one("#queue", DataTable)
        table.add_columns(*self.COLUMNS)
        table.focus()
        await self.reload()

    async def reload(self, keep: int = 0) -> None:
        raise NotImplementedError

    async def action_turn(self, delta: int) -> None:
        await self.query_one("#page", DocumentPages).turn(delta)
