"""One line of text (a reason, a note, a date); Enter accepts, Esc cancels, bad input says why in one line."""

from __future__ import annotations

import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from recdesk.errors import DeskError
from recdesk.patients.search import parse_date
from screens.widgets.plain import Plain

# kind -> what a date answer must be: a date of service is never in the future, a due-back date never past
KINDS = ("text", "date", "any_date", "due_date")


class TextDialog(ModalScreen[str | None]):
    """One line of text; Enter accepts, Esc cancels, bad input says why. `optional`: Enter on nothing means none."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="text.cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "", *, kind: str = "text",
                 optional: bool = False) -> None:
        super().__init__()
        assert kind in KINDS, kind
        self.question = question
        self.value = value
        self.placeholder = placeholder
        self.kind = kind
        self.optional = optional

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Plain(self.question)
            field = Input(value=self.value, placeholder=self.placeholder, id="answer")
            field.cursor_blink = False
            yield field
            yield Plain("", id="problem")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    def problem(self, text: str) -> None:
        self.query_one("#problem", Static).update(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text and self.optional:
            self.dismiss("")
            return
        if not text and self.kind != "due_date":
            self.problem("Type an answer, or Esc to cancel.")
            return
        if self.kind == "text":
            self.dismiss(text)
            return
        try:
            date = parse_date(text, birth=False) if text else None
        except DeskError:
            date = None
        if date is None:
            self.problem("Not a date: type 2026-11-20 or 11/20/2026" +
                         (" (Esc cancels)." if self.kind == "due_date" else "."))
        elif self.kind == "date" and date > datetime.date.today():
            self.problem("That date is in the future: check the page.")
        elif self.kind == "due_date" and date < datetime.date.today():
            self.problem("That date is past: a chart is due back today or later.")
        else:
            self.dismiss(date.isoformat())

    def action_cancel(self) -> None:
        self.dismiss(None)
