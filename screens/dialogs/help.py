"""F1: help for where the clerk is — what this screen is for and every key it answers to."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen

from screens.widgets.plain import Plain


def _key_lines(screen: Screen) -> list[str]:
    lines = []
    for _, active in sorted(screen.active_bindings.items()):
        binding = active.binding
        if not binding.description or not active.enabled:
            continue
        lines.append(f"  {screen.app.get_key_display(binding):<12} {binding.description}")
    return lines


def _refused_lines(screen: Screen) -> list[str]:
    """The keys a supervisor sees disabled here, each with the reason (one reason line when they all share it)."""
    refused = getattr(screen, "refused_bindings", list)()
    if not refused:
        return []
    reasons = sorted({reason for _, reason in refused})
    lines = ["", f"Disabled for you ({reasons[0]}):" if len(reasons) == 1 else "Disabled for you:"]
    for binding, reason in refused:
        why = f"  ({reason})" if len(reasons) > 1 else ""
        lines.append(f"  {screen.app.get_key_display(binding):<12} {binding.description}{why}")
    return lines


def _body(text: str, keys: list[str]) -> Content:
    """Plain text, never markup: a key such as `[` or a description with brackets shows as written."""
    return Content(f"{text}\n\nKeys here:\n" + "\n".join(keys)
                   + "\n\nCtrl+P lists every command. Esc closes this help.")


class HelpScreen(ModalScreen[None]):
    """Help for the screen underneath, including keys remapped in the user's keymap."""

    BINDINGS = [Binding("escape,f1", "close", "Close help", id="help.close")]

    def __init__(self, underneath: Screen) -> None:
        super().__init__()
        self.underneath = underneath

    def compose(self) -> ComposeResult:
        text = getattr(self.underneath, "HELP", "") or "No help for this screen yet."
        keys = _key_lines(self.underneath) + _refused_lines(self.underneath)
        with VerticalScroll(id="help-box"):
            yield Plain(_body(text, keys), id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
