"""The one screen base: the signed-on session, service calls on the desk thread, a DeskError as its one line, and
the screen's own list of actions that change the record (refused to a supervisor, who reviews)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from recdesk.desk import Actor, Desk
from recdesk.display import when
from recdesk.errors import DeskError
from recdesk.patients.chart import BreakGlassRequired, PurposeRequired
from recdesk.pdf import printing
from recdesk.roles import CHANGERS
from screens.dialogs.breakglass import BreakGlassDialog
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.purpose import PurposeDialog

T = TypeVar("T")
REFUSED = "supervisors review; a clerk or manager makes changes"
ASK = "ask"  # the worker group of a flow that waits for the clerk to answer a dialog
SHOWN = "shown"  # the worker group that marks a screen loaded once what it shows is painted


class _Failed:
    """What a service call gives back when it failed and the screen has said why."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "FAILED"


FAILED: Any = _Failed()


def action_name(action: str) -> str:
    """`move(1)` -> `move`: the name a screen's CHANGING lists."""
    return action.split("(", 1)[0]


def refusal(actor: Actor, changing: frozenset[str] | set[str], action: str) -> str | None:
    """Why the actor may not run this action here (None: they may): the one rule for screens and the app."""
    if action_name(action) in changing and actor.role not in CHANGERS:
        return REFUSED
    return None


def printed(desk: Desk, actor: Actor, kind: str, fn: Callable[..., bytes], *args: Any, **kwargs: Any) -> str:
    """On the desk thread: make a PDF with a service and send it to the site's printer (or print folder)."""
    return printing.send(desk, fn(desk, actor, *args, **kwargs), kind)


async def restricted_call(app: Any, attempt: Callable[[str | None], Awaitable[T]], say_error: Callable[[str], None],
                          *, purpose: str | None = None,
                          errors: tuple[type[Exception], ...] = (DeskError,)) -> tuple[T, str | None]:
    """The one way a restricted record is opened from a screen (X3): attempt(purpose) on the desk; when the person
    has a need and gave no purpose they are asked one (default No); when they have no need (or their break-glass
    access ended) they may break the glass: a purpose and a reason, granted by the desk, then the attempt again.
    Each question is asked once: a second refusal is said in one line. Gives (result, purpose) or (FAILED, None)."""
    from recdesk.patients.chart import break_glass

    asked = False
    while True:
        try:
            return await attempt(purpose), purpose
        except (PurposeRequired, BreakGlassRequired) as exc:
            if asked:  # asked once already: say why, never loop
                say_error(str(exc))
                return FAILED, None
            asked = True
            if isinstance(exc, PurposeRequired):
                purpose = await app.push_screen_wait(PurposeDialog())
                if purpose is None:
                    app.notify("Restricted record not opened.", timeout=4)
                    return FAILED, None
                continue
            said = f"Your break-glass access ended {when(exc.ended, app.desk.config.zone)}." if exc.ended else ""
            answer = await app.push_screen_wait(BreakGlassDialog(exc.hours, said))
            if answer is None:
                app.notify("Restricted record not opened.", timeout=4)
                return FAILED, None
            purpose, reason = answer
            try:
                ends = await app.desk_call(break_glass, app.desk, app.actor, exc.patient_uuid, purpose, reason)
            except errors as failed:
                say_error(str(failed))
                return FAILED, None
            until = when(ends, app.desk.config.zone, "%H:%M")
            app.notify(f"Break-glass access until {until}: each use is reviewed by a supervisor.",
                       severity="warning", timeout=8)
        except errors as exc:
            say_error(str(exc))
            return FAILED, None
def ask_discard(app, what: str, then: Callable[[], object], *, and_then: str = "") -> None:
    """Ask "Discard {what}{and_then}?" with No first (Enter keeps the work); `then` runs only on Yes."""
    question = ChoiceDialog(f"Discard {what}{and_then}?", [("no", "No, keep it"), ("yes", "Yes, discard it")])
    app.push_screen(question, lambda answer: then() if answer == "yes" else None)


class DeskScreen(Screen):
    """A screen of the desk. It knows the session, runs service calls on the desk thread, shows a DeskError as its
    one line and refreshes what changed. CHANGING names the actions of this screen that change the record."""

    CHANGING: ClassVar[frozenset[str]] = frozenset()
    ERRORS: ClassVar[tuple[type[Exception], ...]] = (DeskError,)  # what a service call says as its one line
    SCREEN_NAME: ClassVar[str] = ""
    drawn = False  # loaded: what the screen shows on opening is read and painted (see on_screen_resume)

    # --- drawn: a screen reads what it shows in its own on_mount, which Textual runs to its end before this base's
    # handlers and before the screen resumes; once that is painted the screen is loaded and drawn, and the
    # terminal's title names it. A test in a real pty waits for that title, not for a quiet moment, before it
    # checks that the idle screen sends nothing.

    def on_screen_resume(self) -> None:
        self.run_worker(self._shown, group=SHOWN, exclusive=True)  # made when it runs: a cancelled one never was

    def on_screen_suspend(self) -> None:
        # A screen covered (a dialog, another screen) has no refresh to wait for: it is named when it is back.
        self.workers.cancel_group(self, SHOWN)

    async def _shown(self) -> None:
        # A paint can make more work (the footer's keys after a resume, recomposed after a refresh; a table's
        # widths; a tab's underline sliding into place): go round until two rounds in a row find nothing left to
        # paint (work started in one round shows in the next). Bounded, so a screen that never settles is named too.
        quiet = 0
        for _ in range(50):
            if self.app.screen is not self:
                return  # another screen came on top (or this one left): it is named when it is back
            await self.app.animator.wait_until_complete()
            await self._painted()
            quiet = quiet + 1 if self._quiet() else 0
            if quiet == 2:
                break
        if self.app.screen is not self:
            return
        self.drawn = True
        self.app.name_window(f"recdesk: {self.SCREEN_NAME}" if self.SCREEN_NAME else "recdesk")

    async def _painted(self) -> None:
        """The app and every widget of the screen have handled what they had been sent, and the screen has had
        its refresh."""
        loop = asyncio.get_running_loop()
        waits = []
        for node in (self.app, self, *self.walk_children()):
            done = loop.create_future()
            if node.call_later(lambda done=done: done.done() or done.set_result(None)):
                waits.append(done)
        await asyncio.gather(*waits)
        painted = loop.create_future()
        self.call_after_refresh(lambda: painted.done() or painted.set_result(None))
        await painted

    def _quiet(self) -> bool:
        """Nothing is waiting to be laid out, painted or animated. Textual has no public word for it: these are its own
        flags (a batch of updates defers painting; the screen's dirty marks are what its next paint will draw; an
        animation running or scheduled paints frame after frame)."""
        animator = self.app.animator
        return (not self.app._batch_count and not self._layout_required and not self._repaint_required
                and not self._dirty_widgets and not self._scroll_required and not self._recompose_required
                and not animator._animations and not animator._scheduled)

    # --- the session

    @property
    def desk(self) -> Desk:
        return self.app.desk

    @property
    def actor(self) -> Actor:
        return self.app.actor

    @property
    def may_change(self) -> bool:
        return self.actor.role in CHANGERS

    # --- which actions run

    def refusal(self, action: str) -> str | None:
        """Why this session may not run the action on this screen, or None."""
        return refusal(self.actor, self.CHANGING, action)

    def can(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Whether the action makes sense in the screen's state now (a screen overrides this, not check_action)."""
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.refusal(action):
            return False
        return self.can(action, parameters)

    def refused_bindings(self) -> list[tuple[Binding, str]]:
        """The keys here a supervisor sees disabled, with the reason (F1 help lists them)."""
        out: list[tuple[Binding, str]] = []
        seen: set[str] = set()
        for namespace, bindings in self._modal_binding_chain:
            why_not = getattr(namespace, "refusal", None)
            if why_not is None:
                continue
            for _, binding in bindings:
                reason = why_not(binding.action)
                if reason and binding.description and binding.action not in seen:
                    seen.add(binding.action)
                    out.append((binding, reason))
        return out

    # --- work typed and not saved: the screen's Esc, the app's F-keys and sign-off ask before throwing it away

    def unsaved(self) -> str | None:
        """What leaving now would throw away ("this request"), or None when nothing typed would be lost. A form
        overrides this; leave() and the app's sign-off ask "Discard ...?" (default No) when it says something."""
        return None

    def leave(self, go: Callable[[], object]) -> None:
        """Back out with go(), asking first when the screen holds unsaved work."""
        what = self.unsaved()
        if what is None:
            go()
        else:
            ask_discard(self.app, what, go)

    # --- saying things: a screen with a message line of its own (MESSAGE_LINE, a Static's id) shows them there,
    # where a clerk scanning charts is looking; the others as a toast

    MESSAGE_LINE: ClassVar[str] = ""

    def say(self, text: str, *, warning: bool = False) -> None:
        if not self.MESSAGE_LINE:
            self.notify(text, severity="error" if warning else "information", timeout=8 if warning else 6)
            return
        line = self.query_one(f"#{self.MESSAGE_LINE}", Static)
        line.set_class(warning, "warning")
        line.update(Text(text))

    def say_done(self, message: str) -> None:
        self.say(message)

    def say_error(self, message: str) -> None:
        self.say(message, warning=True)

    # --- the desk thread

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """fn(desk, actor, *args, **kwargs) on the desk thread; a DeskError propagates."""
        return await self.app.desk_call(fn, self.desk, self.actor, *args, **kwargs)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """fn(desk, *args, **kwargs) on the desk thread: a look-up that needs no actor."""
        return await self.app.desk_call(fn, self.desk, *args, **kwargs)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """fn(desk, actor, *args) queued on the desk thread, not waited for (the audit of what was shown)."""
        self.app.desk_call_soon(fn, self.desk, self.actor, *args)

    async def run(self, fn: Callable[..., T], *args: Any, done: str = "",
                  refresh: Callable[[], Awaitable[None]] | None = None, **kwargs: Any) -> T:
        """Run a service call fn(desk, actor, ...) on the desk thread. A DeskError is said as its one line and gives
        FAILED (falsy); otherwise `done` is said, `refresh` (what the call changed) is shown again, and the
        result is returned."""
        try:
            result = await self.call(fn, *args, **kwargs)
        except self.ERRORS as exc:
            self.say_error(str(exc))
            return FAILED
        if done:
            self.say_done(done)
        if refresh is not None:
            await refresh()
        return result

    async def print_out(self, kind: str, what: str, fn: Callable[..., bytes], *args: Any, **kwargs: Any) -> str:
        """Make a PDF with fn(desk, actor, ...) and print it; says where it went ("Packet printed to ...")."""
        where = await self.run(printed, kind, fn, *args, **kwargs)
        if where:
            self.say_done(f"{what} {where}.")
        return where

    async def with_purpose(self, fn: Callable[..., T], *args: Any, purpose: str | None = None,
                           **kwargs: Any) -> tuple[T, str | None]:
        """run() a call on a restricted record: the clerk is asked what it needs (a purpose of access, or breaking
        the glass) and the call runs again. Gives (result, the purpose used); (FAILED, None) when it failed or the
        clerk went back."""
        async def attempt(purpose: str | None) -> T:
            return await self.call(fn, *args, purpose=purpose, **kwargs)

        return await restricted_call(self.app, attempt, self.say_error, purpose=purpose, errors=self.ERRORS)

    # --- dialogs

    def flow(self, coroutine: Coroutine[Any, Any, Any], *, exclusive: bool = True) -> None:
        """Run a flow that asks the clerk questions (push_screen_wait needs a worker)."""
        self.run_worker(coroutine, group=ASK, exclusive=exclusive)

    async def ask(self, dialog: Screen[T]) -> T:
        return await self.app.push_screen_wait(dialog)
