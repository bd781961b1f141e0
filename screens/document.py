"""One filed document's pages, opened from its patient's chart (3 Docs, Enter): the page viewer of intake and QA."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll

from recdesk.display import when
from recdesk.patients.chart import Chart
from screens.base import DeskScreen
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.pages import DocumentPages
from screens.widgets.plain import Plain

HELP = (
    "The pages of one document of this patient, as text. Left/Right turn the pages, Up/Down scroll a\n"
    "long page. Opening it was recorded in the audit trail (a restricted record's, as a use of it).\n"
    "Esc goes back to the chart."
)


def restricted_banner(chart: Chart, zone=None) -> str:
    """The banner of a restricted record opened: how it was opened, and when a break-glass access ends (in the
    desk's time zone)."""
    opened = chart.opened
    if opened.need == "break_glass":
        return f" BREAK-GLASS until {when(opened.expires, zone)} · RESTRICTED RECORD · each use reviewed"
    how = "your role" if opened.need == "role" else "your assignment"
    return f" RESTRICTED RECORD · by {how} · purpose: {opened.purpose} · every view is audited"


class DocumentScreen(DeskScreen):
    """One document's pages; the bytes were read by the chart through the audited read service."""

    SCREEN_NAME = "Document"
    HELP = HELP
    BINDINGS = [
        # priority: the page box would otherwise take Left/Right to scroll sideways
        Binding("left", "turn(-1)", "Prev page", priority=True, id="document.previous_page"),
        Binding("right", "turn(1)", "Next page", priority=True, id="document.next_page"),
        Binding("escape", "back", "Back", id="document.back"),
    ]
    DEFAULT_CSS = """
    DocumentScreen #document-box { height: 1fr; }
    DocumentScreen #document-title { height: 1; text-style: bold; }
    DocumentScreen .restricted { height: 1; color: ansi_yellow; text-style: bold reverse; }
    """

    def __init__(self, chart: Chart, document: dict, data: bytes) -> None:
        super().__init__()
        self.chart = chart
        self.document = document
        self.data = data

    def compose(self) -> ComposeResult:
        p, d = self.chart.patient, self.document
        yield DeskHeader(f"Document · MRN {p.mrn}")
        if self.chart.opened.restricted:
            yield Plain(restricted_banner(self.chart, self.desk.config.zone), id="restricted-banner",
                        classes="restricted")
        date = d["date"].isoformat() if d["date"] else "no date"
        yield Plain(f" {p.display_name[:30]} · {d['type']} · {date} · {d['pages']} page(s)", id="document-title")
        with VerticalScroll(id="document-box"):
            yield DocumentPages(id="page")
        yield DeskFooter()

    async def on_mount(self) -> None:
        await self.query_one("#page", DocumentPages).show_bytes(self.document["uuid"], self.document["pages"],
                                                                 self.data)

    async def action_turn(self, delta: int) -> None:
        await self.query_one("#page", DocumentPages).turn(delta)

    def action_back(self) -> None:
        self.app.pop_screen()
