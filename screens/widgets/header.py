"""The header line of every screen: `recdesk │ user (role) │ screen name`, and on the right, where they fit, the
keys the footer has no room for: `Ctrl+R Purge` (every screen) and `F1 Help` — no clock: an idle desk draws
nothing."""

from __future__ import annotations

from textual import events

from screens.widgets.plain import Plain

HELP_HINT = "F1 Help"
PURGE = "purge"  # the binding id of the app's key that opens the purge screen (screens.app)
GAP = 2


def purge_hint(screen) -> str:
    """`Ctrl+R Purge` as this session's keymap binds it ("" when the key is not enabled here)."""
    app = screen.app
    for key, active in screen.active_bindings.items():
        if active.node is app and active.binding.id == PURGE and active.enabled:
            return f"{app.get_key_display(active.binding.with_key(key))} {active.binding.description}"
    return ""


class DeskHeader(Plain):
    """`recdesk │ user (role) │ screen name`, then Ctrl+R Purge and F1 Help on the right where they fit (the hub's
    footer has no room for either; elsewhere F1 Help is in the footer, so Ctrl+R Purge goes first)."""

    def __init__(self, screen_name: str) -> None:
        super().__init__(id="header")
        self.screen_name = screen_name

    def hints(self, width: int) -> list[str]:
        """The keys on the right of the line at this width, as shown (left to right)."""
        actor = self.app.actor
        left = f" recdesk │ {actor.user_name} ({actor.role}) │ {self.screen_name}"
        purge = purge_hint(self.screen) if self.is_attached else ""
        hub = bool(getattr(self.screen, "FOOTER_SCREENS", False))
        wanted = [h for h in ((HELP_HINT, purge) if hub else (purge, HELP_HINT)) if h]
        chosen: list[str] = []
        for hint in wanted:
            trial = [h for h in (purge, HELP_HINT) if h in (*chosen, hint)]
            if len(left) + GAP + len((" " * GAP).join(trial)) + 1 <= width:
                chosen = trial
        return chosen

    def shows_purge(self, width: int) -> bool:
        purge = purge_hint(self.screen)
        return bool(purge) and purge in self.hints(width)

    def line(self, width: int) -> str:
        actor = self.app.actor
        left = f" recdesk │ {actor.user_name} ({actor.role}) │ {self.screen_name}"
        right = (" " * GAP).join(self.hints(width))
        if not right:
            return left
        return f"{left}{' ' * (width - len(left) - len(right) - 1)}{right} "

    def on_mount(self) -> None:
        self.update(self.line(self.size.width or self.app.size.width))

    def on_resize(self, event: events.Resize) -> None:
        self.update(self.line(event.size.width))
