"""The barcode wand's line: it keeps the focus, yet letters and Space stay the screen's keys until a scan starts."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import Input

# What a wand or a clerk may type: digits, or a cover-sheet barcode (*MRN72248*). A lower-case letter cannot
# start a scan, so a key that does nothing here (a supervisor's n) is not typed into the scan line either.
SCAN_CHARACTERS = r"([0-9*#M][0-9A-Za-z*:# ]*)?"


class ScanInput(Input, inherit_bindings=False):
    """The wand's line. It keeps the focus, yet letters and Space stay the screen's keys until a scan starts
    (a digit, or the * of a barcode): from then on every key is part of the scan, up to Enter. Enter hands
    over what was typed and clears the line at once, so the next scan starts clean."""

    # A scan line needs no word editing (and F1 stays short): Backspace; Enter ends a scan (below).
    BINDINGS = [
        Binding("backspace", "delete_left", "Delete a scanned character", show=False),
    ]

    def __init__(self, placeholder: str, **kwargs) -> None:
        super().__init__(placeholder=placeholder, restrict=SCAN_CHARACTERS, max_length=40, **kwargs)
        self.cursor_blink = False

    def check_consume_key(self, key: str, character: str | None) -> bool:
        if character is None or not character.isprintable():
            return False
        return bool(self.value) or character.isdigit() or character in "*#M"

    async def _on_key(self, event: events.Key) -> None:
        # Enter is taken here, in turn with the characters before it, not as a binding: a binding runs as soon
        # as the key arrives, while the digits a wand sent just before it may still be on their way to this
        # line — "993412⏎660034⏎" in one burst would be cut or run together.
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            value, self.value = self.value, ""
            self.post_message(self.Submitted(self, value))
            return
        await super()._on_key(event)
