"""Break the glass: a user with no need for a restricted record gives a purpose and a reason for time-limited
access, or goes back (the default)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from recdesk.patients.chart import ACCESS_PURPOSES, REASON_LIMIT, check_reason
from screens.widgets.plain import Plain

NO = "__no__"


class BreakGlassDialog(ModalScreen[tuple[str, str] | None]):
    """No need on file: pick a purpose, then type the reason (required); Enter on the first line, or Esc, goes back.
    Gives (purpose, reason), or None."""

    HELP = ("You have no need on file for this restricted record (your role, or a manager's assignment).\n"
            "Break the glass only when you must: pick the purpose, type the reason (required, at most\n"
            f"{REASON_LIMIT} characters). Access to this patient then lasts a few hours; the reason and\n"
            "every use are in the audit trail and a supervisor reviews each use. Esc goes back.")
    BINDINGS = [Binding("escape", "dismiss_no", "No, go back", id="break_glass.no")]

    def __init__(self, hours: int, said: str = "") -> None:
        super().__init__()
        self.hours = hours
        self.said = said  # why it is asked: e.g. that an earlier break-glass access ended
        self.purpose: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="break-glass-box", classes="dialog"):
            if self.said:
                yield Plain(self.said, id="break-glass-said")
            yield Plain(f"RESTRICTED RECORD, no need of yours on file. Break the glass ({self.hours} h)?\n"
                        "The reason and each use are recorded and reviewed by a supervisor.", id="break-glass-question")
            yield OptionList(Option("No, go back (default)", id=NO),
                             *[Option(label, id=code) for code, label in ACCESS_PURPOSES], id="break-glass-purposes")
            yield Plain("Reason (required): pick the purpose above first", id="break-glass-prompt")
            # No max_length: a longer reason pasted in is refused in one line, never cut short unseen.
            field = Input(placeholder="why you must open it now", id="break-glass-reason", disabled=True)
            field.cursor_blink = False
            yield field
            yield Plain("", id="break-glass-problem")

    def on_mount(self) -> None:
        options = self.query_one("#break-glass-purposes", OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == NO:
            self.dismiss(None)
            return
        self.purpose = event.option.id
        self.query_one("#break-glass-prompt", Static).update(
            f"Reason (required, at most {REASON_LIMIT} characters), then Enter:")
        field = self.query_one("#break-glass-reason", Input)
        field.disabled = False
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        problem = check_reason(event.value)
        if problem:
            self.query_one("#break-glass-problem", Static).update(problem)
            return
        self.dismiss((self.purpose, event.value.strip()))

    def action_dismiss_no(self) -> None:
        self.dismiss(None)
