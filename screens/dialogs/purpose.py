"""Asked before a restricted record opens: the purpose of access, defaulting to No (go back)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from recdesk.patients.chart import ACCESS_PURPOSES
from screens.widgets.plain import Plain

NO = "__no__"


class PurposeDialog(ModalScreen[str | None]):
    """Restricted record: say why you are opening it, or go back (the default)."""

    HELP = ("A restricted record (sensitive categories or a restriction on the patient) opens only with a\n"
            "purpose of access. Your purpose is recorded and queued for supervisor review. Enter on the\n"
            "first line, or Esc, goes back without opening.")
    BINDINGS = [Binding("escape", "dismiss_no", "No, go back", id="purpose.no")]

    def compose(self) -> ComposeResult:
        with Vertical(id="purpose-box"):
            yield Plain("Restricted record. Opening it is recorded and reviewed by a supervisor.\n"
                         "Why are you opening it?", id="purpose-question")
            yield OptionList(Option("No, go back (default)", id=NO),
                             *[Option(label, id=code) for code, label in ACCESS_PURPOSES], id="purposes")

    def on_mount(self) -> None:
        options = self.query_one("#purposes", OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        choice = event.option.id
        self.dismiss(None if choice == NO else choice)

    def action_dismiss_no(self) -> None:
        self.dismiss(None)
