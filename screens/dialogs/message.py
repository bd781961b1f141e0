"""Something the clerk must read before going on; Enter or Esc closes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen

from screens.widgets.plain import Plain


class MessageDialog(ModalScreen[None]):
    """Something the clerk must read before going on; Enter or Esc closes."""

    BINDINGS = [Binding("enter,escape", "close", "Close", id="message.close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Plain(self.text)
            yield Plain("Enter closes.")

    def action_close(self) -> None:
        self.dismiss(None)
