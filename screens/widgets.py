"""Small widgets every screen shares: the header line that says who is signed on and where they are."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static


class DeskScreen(Screen):
    """A screen of the desk: its actions obey the session's role (a supervisor changes nothing)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.app.check_action(action, parameters)


class DeskHeader(Static):
    """`recdesk │ user (role) │ screen name` — no clock: an idle desk draws nothing."""

    def __init__(self, screen_name: str) -> None:
        super().__init__(id="header")
        self.screen_name = screen_name

    def on_mount(self) -> None:
        actor = self.app.actor
        self.update(f" recdesk │ {actor.user_name} ({actor.role}) │ {self.screen_name}")


class DocumentPages(Static):
    """The text of one page of a document at a time (pypdf extraction, in the limited parser process)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.doc_uuid: str | None = None
        self.data: bytes | None = None
        self.page = 0
        self.pages = 0
        self.text = ""

    async def show(self, doc_uuid: str | None, pages: int) -> None:
        from recdesk import intake

        app = self.app
        self.doc_uuid, self.pages, self.page, self.data = doc_uuid, pages, 0, None
        if doc_uuid is None:
            self.text = ""
            self.update("")
            return
        self.data = await app.desk_call(intake.document_bytes, app.desk, app.actor, doc_uuid)
        await self.turn(0)

    async def turn(self, delta: int) -> None:
        if self.data is None or not self.pages:
            return
        self.page = max(0, min(self.pages - 1, self.page + delta))
        from recdesk.pdfworker import Rejected

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
        yield DataTable(id="queue", cursor_type="row")
        yield Static("", id="choice")
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
