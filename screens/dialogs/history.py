"""Every move of one paper chart, oldest first."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from recdesk.display import when
from recdesk.paper import tracking
from screens.widgets.plain import Plain
from screens.widgets.table import DeskTable


class HistoryDialog(ModalScreen[None]):
    """Every move of one chart, oldest first."""

    DEFAULT_CSS = """
    HistoryDialog #history-box { width: 100%; height: 100%; border: heavy ansi_cyan; background: ansi_black; }
    HistoryDialog #history-table { height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    HistoryDialog #history-detail { height: 2; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,enter,h", "close", "Close", id="tracking.history_close", priority=True)]

    def __init__(self, chart: str, rows: list[tracking.Movement]) -> None:
        super().__init__()
        self.chart = chart
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="history-box"):
            yield Plain(Text(f" Moves of chart {self.chart}, oldest first · Up/Down · Esc closes"))
            yield DeskTable(id="history-table", cursor_type="row", zebra_stripes=False)
            yield Plain("", id="history-detail")

    def on_mount(self) -> None:
        table = self.query_one("#history-table", DataTable)
        for label, width in (("When", 14), ("Move", 10), ("From", 7), ("To", 7), ("Borrower", 10), ("Due", 8),
                             ("By", 8)):
            table.add_column(label, width=width)
        tz = self.app.desk.config.zone
        for m in self.rows:
            due = f"{m.due_back_on:%y-%m-%d}" if m.due_back_on else ""
            table.add_row(when(m.at, tz, "%y-%m-%d %H:%M"), m.kind.replace("_", " "), m.from_location, m.to_location,
                          Text(m.note or m.borrower), due, Text(m.by))
        if not self.rows:
            table.add_row("", "no moves yet", "", "", "", "", "")
        table.move_cursor(row=max(0, len(self.rows) - 1))
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if not self.rows or not 0 <= event.cursor_row < len(self.rows):
            return
        m = self.rows[event.cursor_row]
        parts = [f"{when(m.at, self.app.desk.config.zone)} {m.kind.replace('_', ' ')} by {m.by}",
                 f"to {m.borrower}" if m.borrower else "", f"due back {m.due_back_on}" if m.due_back_on else "",
                 f"note: {m.note}" if m.note else ""]
        self.query_one("#history-detail", Static).update(Text(" · ".join(p for p in parts if p)))

    def action_close(self) -> None:
        self.dismiss(None)
