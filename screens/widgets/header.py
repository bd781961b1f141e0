"""The header line of every screen: `recdesk │ user (role) │ screen name`, and `F1 Help` on the right where it fits —
no clock: an idle desk draws nothing."""

from __future__ import annotations

from textual import events

from screens.widgets.plain import Plain

HELP_HINT = "F1 Help "


class DeskHeader(Plain):
    """`recdesk │ user (role) │ screen name`, and F1 Help on the right (the hub's footer has no room for it)."""

    def __init__(self, screen_name: str) -> None:
        super().__init__(id="header")
        self.screen_name = screen_name

    def line(self, width: int) -> str:
        actor = self.app.actor
        left = f" recdesk │ {actor.user_name} ({actor.role}) │ {self.screen_name}"
        room = width - len(left) - len(HELP_HINT)
        return f"{left}{' ' * room}{HELP_HINT}" if room >= 2 else left

    def on_mount(self) -> None:
        self.update(self.line(self.size.width or self.app.size.width))

    def on_resize(self, event: events.Resize) -> None:
        self.update(self.line(event.size.width))
