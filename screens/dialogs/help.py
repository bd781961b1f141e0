"""F1: help for where the clerk is — what this screen is for and the desk's own keys, in plain words."""

from __future__ import annotations

import re
import textwrap

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen

from screens.widgets.keys import key_order
from screens.widgets.plain import Plain

KEY_COLUMN = 14
_SENTENCE_END = re.compile(r"[.:!?)]$")


def paragraphs(text: str) -> list[str]:
    """Help text as its lines mean it: a line that does not end a sentence runs on into the next (the source's own
    line breaks are not the reader's); an indented line (a table of examples) stays a line of its own."""
    out: list[str] = []
    for line in text.splitlines():
        joins = (out and line and not line.startswith(" ") and out[-1]
                 and not out[-1].startswith(" ") and not _SENTENCE_END.search(out[-1]))
        if joins:
            out[-1] = f"{out[-1]} {line.strip()}"
        else:
            out.append(line.rstrip())
    return out


def wrapped(lines: list[str], width: int) -> list[str]:
    """Each line wrapped once, to the help box: an indented line goes on under its own indent."""
    out: list[str] = []
    for line in lines:
        if not line:
            out.append("")
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")))
        out.extend(textwrap.wrap(line, width, subsequent_indent=indent + "  " if indent else "",
                                 break_on_hyphens=False, drop_whitespace=True) or [""])
    return out


def _grouped(screen: Screen) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(this screen's keys, the keys that work everywhere), sorted by key: the desk's own bindings (those with an id),
    one line per action with all its keys, enabled here; Textual's own (copy, the cursor keys of a text box) are
    not the clerk's concern."""
    app = screen.app
    groups: dict[str, dict[str, tuple[list[str], str]]] = {"screen": {}, "app": {}}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.id or not binding.description or not active.enabled:
            continue
        group = groups["app" if active.node is app else "screen"]
        keys, _ = group.setdefault(binding.action, ([], binding.tooltip or binding.description))
        if key not in keys:
            keys.append(key)
    out = []
    for group in groups.values():
        rows = []
        for keys, description in group.values():
            rows.append((key_order(keys[0]), " ".join(app.get_key_display(Binding(k, "")) for k in keys),
                         description))
        out.append([(shown, description) for _, shown, description in sorted(rows)])
    return out[0], out[1]


def _refused(screen: Screen) -> tuple[str, list[tuple[str, str]]]:
    """The keys a supervisor sees disabled here, and the reason (each key's own when they differ)."""
    refused = getattr(screen, "refused_bindings", list)()
    if not refused:
        return "", []
    reasons = sorted({reason for _, reason in refused})
    rows = [(screen.app.get_key_display(b), (b.tooltip or b.description) + (f" ({reason})" if len(reasons) > 1 else ""))
            for b, reason in sorted(refused, key=lambda pair: key_order(pair[0].key))]
    return (reasons[0] if len(reasons) == 1 else ""), rows


def _key_lines(rows: list[tuple[str, str]], width: int) -> list[str]:
    out = []
    for keys, description in rows:
        head = f"  {keys:<{KEY_COLUMN - 1}} " if len(keys) < KEY_COLUMN - 1 else f"  {keys} "
        out.extend(textwrap.wrap(description, width, initial_indent=head,
                                 subsequent_indent=" " * (KEY_COLUMN + 2)) or [head.rstrip()])
    return out


def help_lines(screen: Screen, width: int) -> list[str]:
    """The help of a screen as lines no wider than `width`: what it is for, its keys, the keys that work everywhere,
    and (for a supervisor) the keys that are disabled and why."""
    text = getattr(screen, "HELP", "") or "No help for this screen yet."
    here, everywhere = _grouped(screen)
    reason, refused = _refused(screen)
    lines = wrapped(paragraphs(text), width)
    if here:
        lines += ["", "Keys on this screen:", *_key_lines(here, width)]
    if refused:
        title = f"Disabled for you ({reason}):" if reason else "Disabled for you:"
        lines += ["", *textwrap.wrap(title, width), *_key_lines(refused, width)]
    if everywhere:
        lines += ["", "Keys everywhere:", *_key_lines(everywhere, width)]
    lines += ["", *wrapped(["Ctrl+P lists every command you may use here. Esc or F1 closes this help."], width)]
    return lines


class HelpScreen(ModalScreen[None]):
    """Help for the screen underneath, including keys remapped in the user's keymap."""

    BINDINGS = [Binding("escape,f1", "close", "Close help", id="help.close")]
    DEFAULT_CSS = "HelpScreen #help-box { scrollbar-size-vertical: 1; }"
    CHROME = 5  # the box's border (2), padding (2) and scrollbar (1): what the text may not use of its width

    def __init__(self, underneath: Screen) -> None:
        super().__init__()
        self.underneath = underneath

    @property
    def text_width(self) -> int:
        return max(20, min(self.app.size.width, 100) - self.CHROME)

    def body(self) -> Content:
        """Plain text, never markup: a key such as `[` or a description with brackets shows as written."""
        return Content("\n".join(help_lines(self.underneath, self.text_width)))

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Plain(self.body(), id="help-text")

    def on_resize(self, _: events.Resize) -> None:
        for text in self.query("#help-text"):  # none yet when the first resize comes before compose
            text.update(self.body())

    def action_close(self) -> None:
        self.dismiss(None)
