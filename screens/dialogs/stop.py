"""Check-in stops to show what matters about this chart now; only Enter goes on."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from recdesk.paper.tracking import CheckIn
from screens.widgets.plain import Plain


class StopDialog(ModalScreen[None]):
    """Check-in stops to show what matters about this chart now; only Enter goes on."""

    DEFAULT_CSS = """
    StopDialog .stop { border: heavy ansi_yellow; }
    StopDialog #stop-title { color: ansi_yellow; text-style: bold; }
    StopDialog #stop-hint { margin-top: 1; text-style: bold; }
    """
    BINDINGS = [Binding("enter", "go_on", "Go on", id="tracking.stop_go_on", priority=True)]
    HINT = "Enter: I have read this, go on."

    def __init__(self, result: CheckIn) -> None:
        super().__init__()
        self.result = result
        self._typed = False

    def compose(self) -> ComposeResult:
        r = self.result
        with Vertical(classes="dialog stop"):
            yield Plain(Text(f"STOP: chart {r.chart.shelf} checked in to {r.location}"), id="stop-title")
            yield Plain(Text("\n".join(f"- {w}" for w in r.warnings)), id="stop-warnings")
            yield Plain(self.HINT, id="stop-hint")

    def on_key(self, event) -> None:
        if event.key != "enter" and event.is_printable:
            event.stop()  # a wand scanning the next chart: it does not get past this chart's warning
            self._typed = True
            self.query_one("#stop-hint", Static).update(
                "A scan came in: it was not taken. Read the warning, press Enter, then scan that chart again.")

    def action_go_on(self) -> None:
        if self._typed:  # the Enter ending a scan is not the clerk's answer
            self._typed = False
            return
        self.dismiss(None)
