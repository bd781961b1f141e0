"""The header line of every screen: `recdesk │ user (role) │ screen name` — no clock: an idle desk draws nothing."""

from __future__ import annotations

from screens.widgets.plain import Plain


class DeskHeader(Plain):
    """`recdesk │ user (role) │ screen name` — no clock: an idle desk draws nothing."""

    def __init__(self, screen_name: str) -> None:
        super().__init__(id="header")
        self.screen_name = screen_name

    def on_mount(self) -> None:
        actor = self.app.actor
        self.update(f" recdesk │ {actor.user_name} ({actor.role}) │ {self.screen_name}")
