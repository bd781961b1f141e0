"""One line of text (a reason, a note, a date, a count); Enter accepts, Esc cancels, bad input says why in one line.
Limits are kept where the clerk types: a text stops at its service's limit, a date of service is never before the
patient's birth, a count is never beyond what its service accepts."""

from __future__ import annotations

import datetime

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from recdesk.errors import DeskError
from recdesk.patients.search import parse_date
from screens.widgets.plain import Plain

# kind -> what a date answer must be: a date of service is never in the future, a due-back date never past;
# a "count" is a whole number from 1 to `most`
KINDS = ("text", "date", "any_date", "due_date", "count")


class AnswerBox(Input):
    """The answer line. Input refuses a paste that would pass max_length without a word: this one says so."""

    class TooLong(Message):
        def __init__(self, length: int) -> None:
            super().__init__()
            self.length = length

    def on_paste(self, event: events.Paste) -> None:  # runs before Input's own paste handling
        line = event.text.splitlines()[0] if event.text else ""
        if self.max_length and len(self.value) + len(line) > self.max_length:
            self.post_message(self.TooLong(len(self.value) + len(line)))


class TextDialog(ModalScreen[str | None]):
    """One line of text; Enter accepts, Esc cancels, bad input says why. `optional`: Enter on nothing means none."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="text.cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "", *, kind: str = "text",
                 optional: bool = False, limit: int = 0, earliest: datetime.date | None = None,
                 earliest_is: str = "", most: int = 0) -> None:
        """`limit`: the most characters the answer may have (the service's own constant); `earliest` (a date):
        the first date accepted, `earliest_is` what it is ("the patient's birth"); `most` (a count): the largest."""
        super().__init__()
        assert kind in KINDS, kind
        assert kind != "count" or most > 0, "a count needs its largest value"
        self.question = question
        self.value = value
        self.placeholder = placeholder
        self.kind = kind
        self.optional = optional
        self.limit = limit
        self.earliest = earliest
        self.earliest_is = earliest_is
        self.most = most

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Plain(self.question)
            field = AnswerBox(value=self.value, placeholder=self.placeholder, id="answer", max_length=self.limit)
            field.cursor_blink = False
            yield field
            yield Plain("", id="problem")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    def problem(self, text: str) -> None:
        self.query_one("#problem", Static).update(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.limit and len(event.value) >= self.limit:
            self.problem(f"{self.limit} characters: the most this can hold.")

    def on_answer_box_too_long(self, event: AnswerBox.TooLong) -> None:
        """The box refused a paste that would not fit (nothing is cut off unseen): say so."""
        self.problem(f"That would be {event.length} characters; this holds at most {self.limit}: shorten it.")

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
        if self.kind == "count":
            digits = text.replace(",", "")
            if not (digits.isascii() and digits.isdigit() and len(digits) <= len(str(self.most))
                    and 1 <= int(digits) <= self.most):
                self.problem(f"Type a whole number from 1 to {self.most:,}.")
            else:
                self.dismiss(str(int(digits)))
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
        elif self.earliest is not None and date < self.earliest:
            self.problem(f"That date is before {self.earliest_is or 'the earliest date'} "
                         f"({self.earliest.isoformat()}): check the page.")
        elif self.kind == "due_date" and date < datetime.date.today():
            self.problem("That date is past: a chart is due back today or later.")
        else:
            self.dismiss(date.isoformat())

    def action_cancel(self) -> None:
        self.dismiss(None)
