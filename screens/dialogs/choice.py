"""Pick one of a list with arrows and Enter, or by typing the start of a choice; Esc cancels."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from screens.widgets.plain import Plain, plain

TYPE_AHEAD_HELP = "Type the first letters to jump · Backspace takes one back · Enter picks · Esc cancels"


class TypeAhead:
    """Type-ahead over a list of labels, without timing: letters accumulate and the first label starting with them
    (any case) is the match. A letter that would match nothing starts a new search with that letter alone;
    Backspace takes the last letter back; moving with the arrows (reset) starts afresh."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = [label.replace("_", " ").casefold() for label in labels]
        self.typed = ""

    def _first(self, typed: str) -> int | None:
        return next((n for n, label in enumerate(self.labels) if label.startswith(typed)), None)

    def press(self, character: str) -> int | None:
        """The index of the match after typing a character, or None when nothing matches (typed is kept)."""
        typed = self.typed + character.casefold()
        found = self._first(typed)
        if found is None and self.typed and character.strip():
            typed = character.casefold()  # another search
            found = self._first(typed)
        if found is not None:
            self.typed = typed
        return found

    def back(self) -> int | None:
        """Backspace: the match of what is left, or None when nothing is typed any more."""
        self.typed = self.typed[:-1]
        return self._first(self.typed) if self.typed else None

    def reset(self) -> None:
        self.typed = ""


class ChoiceDialog(ModalScreen[str | None]):
    """Pick one of a list with arrows and Enter, or type the start of a choice to jump to it; Esc cancels. The
    question and labels are plain text, never markup."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choice.cancel")]

    def __init__(self, question: str, choices: list[tuple[str, str]], current: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.choices = choices
        self.current = current
        self.type_ahead = TypeAhead([label for _, label in choices])

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Plain(self.question)
            yield OptionList(*[Option(plain(label), id=code) for code, label in self.choices], id="choices")
            yield Plain(TYPE_AHEAD_HELP, id="choice-help")

    def on_mount(self) -> None:
        options = self.query_one("#choices", OptionList)
        codes = [code for code, _ in self.choices]
        options.highlighted = codes.index(self.current) if self.current in codes else 0
        options.focus()

    def _show_typed(self, found: int | None) -> None:
        help_line = self.query_one("#choice-help", Static)
        typed = self.type_ahead.typed
        if not typed:
            help_line.update(TYPE_AHEAD_HELP)
        else:
            help_line.update(f"Typed: {typed}" + ("" if found is not None else " (no choice starts so)")
                             + " · Backspace takes one back · Enter picks")

    def on_key(self, event: events.Key) -> None:
        options = self.query_one("#choices", OptionList)
        if event.key == "backspace":
            found = self.type_ahead.back()
        elif event.is_printable and event.character:
            found = self.type_ahead.press(event.character)
        else:
            if event.key in ("up", "down", "home", "end", "pageup", "pagedown"):
                self.type_ahead.reset()
                self._show_typed(None)
            return
        event.stop()
        if found is not None:
            options.highlighted = found
        self._show_typed(found)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
