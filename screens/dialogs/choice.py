"""Pick one of a list with arrows and Enter; Esc cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from screens.widgets.plain import Plain, plain


class ChoiceDialog(ModalScreen[str | None]):
    """Pick one of a list with arrows and Enter; Esc cancels. The question and labels are plain text, never markup."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choice.cancel")]

    def __init__(self, question: str, choices: list[tuple[str, str]], current: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.choices = choices
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Plain(self.question)
            yield OptionList(*[Option(plain(label), id=code) for code, label in self.choices], id="choices")

    def on_mount(self) -> None:
        options = self.query_one("#choices", OptionList)
        codes = [code for code, _ in self.choices]
        options.highlighted = codes.index(self.current) if self.current in codes else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
