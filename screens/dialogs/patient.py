"""Pick a patient: the search prompt, answering with the chosen patient instead of opening the chart."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

from screens.search import SearchScreen


class PatientPicker(SearchScreen):
    """The search screen, answering with the chosen patient instead of opening the chart."""

    SCREEN_NAME = "Pick the patient"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="picker.cancel")]
    FOOTER_SCREENS = False  # a question, not the hub: its footer is its own keys

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self.initial = query

    def on_mount(self) -> None:
        super().on_mount()
        if self.initial:
            self.query_one("#prompt", Input).value = self.initial

    async def action_open(self) -> None:
        query = self.query_one("#prompt", Input).value
        if not query.strip():
            return
        await self.ensure_results()
        hit = self.results.current
        if hit is not None:
            self.dismiss(hit.patient)

    def action_cancel(self) -> None:
        self.dismiss(None)
