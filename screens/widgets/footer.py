"""The key line at the bottom of every screen: the keys that matter most here, each whole, and always Sign off.

What does not fit the width is left out whole (never cut): F1 help and the command palette list every key.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

from screens.widgets.header import PURGE, DeskHeader

SIGN_OFF = "sign_off"
HELP = "help"
SEARCH = "search"


class FooterKey(NamedTuple):
    key: str  # as shown: "F1", "Space"
    label: str
    binding_id: str


def _item(screen: Screen, binding: Binding) -> FooterKey:
    return FooterKey(screen.app.get_key_display(binding), binding.description, binding.id or binding.action)


def footer_keys(screen: Screen) -> tuple[list[FooterKey], list[FooterKey]]:
    """(the keys always shown, the others in the order they are wanted) for the footer of this screen.

    A screen's keys are its bindings with `show`, enabled for this session, in the order the screen declares
    them. On the hub (a screen with FOOTER_SCREENS: the search) the keys that open the other screens come first,
    then F1 help, and only Sign off is always shown; elsewhere F1 help and Sign off are always shown, the screen's
    keys come next and F2 (back to the search) last. Ctrl+R (the purge screen) is on the header's right; where the
    header has no room for it (a long screen name) it is always shown here instead."""
    app = screen.app
    own: list[FooterKey] = []
    desk: dict[str, FooterKey] = {}
    seen: set[str] = set()
    hub = bool(getattr(screen, "FOOTER_SCREENS", False))
    screens = tuple(getattr(app, "FOOTER_SCREEN_IDS", ()))
    for active in screen.active_bindings.values():
        binding = active.binding
        if not active.enabled or not binding.description or binding.action in seen:
            continue
        if active.node is app:
            if binding.id not in ((*screens, HELP, SIGN_OFF) if hub else (HELP, SEARCH, SIGN_OFF, PURGE)):
                continue
            desk[binding.id] = _item(screen, binding)
        elif binding.show:
            own.append(_item(screen, binding))
        else:
            continue
        seen.add(binding.action)
    if hub:
        always, wanted = [SIGN_OFF], [*screens, HELP]
    else:
        always, wanted = [HELP, SIGN_OFF, *([] if _header_shows_purge(screen) else [PURGE])], [SEARCH]
    return ([desk[i] for i in always if i in desk],
            [*([] if hub else own), *(desk[i] for i in wanted if i in desk), *(own if hub else [])])


def _header_shows_purge(screen: Screen) -> bool:
    headers = screen.query(DeskHeader)
    if not headers:
        return False
    header = headers.first()
    return header.shows_purge(header.size.width or screen.app.size.width)


def _f_number(item: FooterKey) -> int:
    return int(item.key[1:]) if item.key[:1] == "F" and item.key[1:].isdigit() else 0


def fitted(width: int, always: list[FooterKey], wanted: list[FooterKey]) -> tuple[list[FooterKey], int]:
    """The keys that fit `width` whole and the gap between them: all of `always`, then as many of `wanted` as fit,
    in the order wanted. Shown in the screen's own order first, then Ctrl+R (purge), then F1-F10 by number."""
    def size(items: list[FooterKey], gap: int) -> int:
        return sum(len(i.key) + 1 + len(i.label) for i in items) + gap * max(len(items) - 1, 0) + 2

    chosen = list(always)
    for item in wanted:
        if size([*chosen, item], 1) <= width:
            chosen.append(item)
    shown = sorted(chosen, key=lambda i: (_f_number(i) > 0 or i.binding_id == PURGE, _f_number(i)))  # stable
    return shown, 2 if size(shown, 2) <= width else 1


class DeskFooter(Widget):
    """The key line at the bottom of every screen: its most important keys whole, and always Sign off."""

    DEFAULT_CSS = """
    DeskFooter {
        dock: bottom;
        height: 1;
        background: ansi_blue;
        color: ansi_white;
    }
    DeskFooter > .footer--key {
        color: ansi_bright_white;
        text-style: bold;
    }
    """
    COMPONENT_CLASSES = {"footer--key"}

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _: self.refresh())

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def shown(self) -> list[FooterKey]:
        """The keys on the line now (what a test reads)."""
        return fitted(self.size.width, *footer_keys(self.screen))[0]

    def render(self) -> Text:
        items, gap = fitted(self.size.width, *footer_keys(self.screen))
        key_style = self.get_component_rich_style("footer--key")
        line = Text(" ", no_wrap=True, overflow="crop")
        for n, item in enumerate(items):
            line.append(" " * gap if n else "")
            line.append(item.key, key_style)
            line.append(f" {item.label}")
        return line
