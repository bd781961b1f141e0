"""A queue of documents above the pages of the one picked: the shape of the intake and QA screens."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable

from screens.base import DeskScreen
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.pages import DocumentPages
from screens.widgets.plain import Plain
from screens.widgets.table import DeskTable


class DocumentQueueScreen(DeskScreen):
    """A queue of documents above the pages of the one picked: the shape of the intake and QA screens."""

    SCREEN_NAME = ""
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
        yield DeskFooter()

    async def on_mount(self) -> None:
        table = self.query_one("#queue", DataTable)
        table.add_columns(*self.COLUMNS)
        table.focus()
        await self.reload()

    @property
    def row(self) -> int:
        return self.query_one("#queue", DataTable).cursor_row

    async def reload(self, keep: int = 0) -> None:
        raise NotImplementedError

    async def reload_here(self) -> None:
        """The queue again, the cursor where it was (the next document moves up under it)."""
        await self.reload(keep=self.row)

    async def action_turn(self, delta: int) -> None:
        await self.query_one("#page", DocumentPages).turn(delta)
