"""Small dialogs the filing screens share: pick a patient (the search prompt), a document type, a date, a reason."""

from __future__ import annotations

import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from recdesk.patients.search import parse_date
from screens.search import SearchScreen
from screens.widgets import Plain, plain


class PatientPicker(SearchScreen):
    """The search screen, answering with the chosen patient instead of opening the chart."""

    SCREEN_NAME = "Pick the patient"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="picker.cancel")]

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


class TextDialog(ModalScreen[str | None]):
    """One line of text (a reason, a date); Enter accepts, Esc cancels, bad input says why."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="text.cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "", *, kind: str = "text") -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder
        self.kind = kind

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Plain(self.question)
            field = Input(value=self.value, placeholder=self.placeholder, id="answer")
            field.cursor_blink = False
            yield field
            yield Plain("", id="problem")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#problem", Static).update("Type an answer, or Esc to cancel.")
            return
        if self.kind in ("date", "any_date"):
            date = parse_date(text)
            if date is None:
                self.query_one("#problem", Static).update("Not a date: type 2026-11-20 or 11/20/2026.")
                return
            if self.kind == "date" and date > datetime.date.today():
                self.query_one("#problem", Static).update("That date is in the future: check the page.")
                return
            text = date.isoformat()
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
