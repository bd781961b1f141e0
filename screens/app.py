"""The desk's Textual app: the signed-on session, the desk thread, idle logoff, help and the command palette."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.filter import LineFilter
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.timer import Timer

from recdesk import config as config_mod
from recdesk.desk import Actor, Desk
from recdesk.display import shown
from recdesk.errors import AccessDenied
from recdesk.serve import sessions
from recdesk.vault import audit, environment
from screens.base import FAILED, REFUSED, DeskScreen, ask_discard, refusal, restricted_call
from screens.widgets.controls import ControlFilter
from screens.widgets.keys import key_name

T = TypeVar("T")

# F-key screens: key -> (action, module, class, title, what it is for, who may open it)
DESK_SCREENS = {
    "f5": ("requests", "screens.requests", "RequestsScreen", "Requests",
           "Release-of-information request log: log, check, packet, release (F5)",
           ("clerk", "supervisor", "manager")),
    "f6": ("assembly", "screens.assembly", "AssemblyScreen", "Assembly",
           "Chart assembly and deficiencies for admissions and clinics (F6)", ("clerk", "manager")),
    "f7": ("pull_list", "screens.pulllist", "PullListScreen", "Pull list",
           "Terminal-digit pull list and pick mode (F7)", ("clerk", "manager")),
    "f8": ("charts", "screens.tracking", "TrackingScreen", "Charts",
           "Paper charts: check in, charge out, transfer, missing (F8)", ("clerk", "manager")),
    "f9": ("review", "screens.review", "ReviewScreen", "Review",
           "Queues, aging, chart reports and the audit trail, read-only (F9)", ("clerk", "supervisor", "manager")),
    "ctrl+r": ("purge", "screens.purge", "PurgeScreen", "Purge",
               "Retention: the worklist, legal holds, purge batches and paper shredding (Ctrl+R)",
               ("clerk", "supervisor", "manager")),
}
PURGE = "purge"  # F-keys are taken: Ctrl+R opens the purge screen; the header shows it (the hub's footer is full)

FOOTER_LABELS = {"f5": "ROI", "f7": "Pulls"}  # short enough that the search's footer holds F3-F10 at 80 columns


@functools.cache
def desk_bindings() -> tuple[config_mod.KeyBinding, ...]:
    """Every key of the desk: the app's (they work on every screen), each screen's, dialog's and widget's, and the
    text box's editing keys (they win over the app's while a prompt has the focus). Loads every screen: only a
    desk with a [keymap] pays for it, once."""
    import importlib
    import pkgutil

    from textual.dom import DOMNode
    from textual.widgets import Input

    for package in ("screens", "screens.dialogs", "screens.widgets"):
        for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
            importlib.import_module(f"{package}.{module.name}")
    found: dict[type, str] = {RecdeskApp: config_mod.APP_SCOPE, Input: "a text box"}
    todo = [DOMNode]
    while todo:
        for cls in todo.pop().__subclasses__():
            todo.append(cls)
            if cls.__module__.startswith("screens.") and cls not in found:
                found[cls] = cls.__name__
    return tuple(config_mod.KeyBinding(scope, key, binding.id or "", binding.description or binding.action)
                 for cls, scope in found.items()
                 for key, held in cls._merge_bindings().key_to_bindings.items() for binding in held)


def check_keymap(keymap: dict[str, str]) -> None:
    """A [keymap] that names no binding of the desk, or gives a key another binding holds, is a one-line DeskError."""
    if keymap:
        config_mod.check_keymap(keymap, desk_bindings())


class RecdeskApp(App[str]):
    """One clerk's (or supervisor's) session at the desk."""

    TITLE = "recdesk"
    CHANGING: ClassVar[frozenset[str]] = frozenset({"intake", "qa"})  # the app's own keys that change records
    CSS_PATH = "recdesk.tcss"
    COMMAND_PALETTE_BINDING = "ctrl+p"
    # The footer shows a key's description (short); F1 help its tooltip where it has one (the longer words).
    BINDINGS = [
        Binding("f1", "help", "Help", id="help"),
        Binding("f2", "search", "Search", tooltip="Back to the patient search", id="search"),
        Binding("f3", "intake", "Intake", tooltip="Intake: index scanned documents", id="intake"),
        Binding("f4", "qa", "QA", tooltip="QA: check filed documents", id="qa"),
        *[Binding(key, f"open_screen('{key}')", FOOTER_LABELS.get(key, title), tooltip=title, id=action)
          for key, (action, _, _, title, _, _) in DESK_SCREENS.items()],
        Binding("f10", "sign_off", "Sign off", id="sign_off"),
        Binding("ctrl+q", "sign_off", "Sign off", show=False, id="sign_off_alt"),
    ]
    # the search's footer (Ctrl+R Purge is on every screen's header instead: there is no room left on this line)
    FOOTER_SCREEN_IDS = ("intake", "qa", *(action for action, *_ in DESK_SCREENS.values() if action != PURGE))

    def __init__(self, desk: Desk, actor: Actor, *, idle_timeout: float | None = None) -> None:
        # Native ANSI colours from the start: the terminal's own palette (16 colours, TERM=linux), and
        # with NO_COLOR Textual then drops colours instead of mapping them to greys (black on black).
        check_keymap(desk.config.keymap)  # before Textual starts: the refusal is one line, never a traceback
        super().__init__(ansi_color=True)
        self.desk = desk
        self.actor = actor
        self.idle_timeout = idle_timeout if idle_timeout is not None else desk.config.idle_timeout
        self.sign_off_reason = "quit"
        self._desk_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desk")
        self._idle_timer: Timer | None = None
        self.last_patient: str | None = None
        self._control_filter = ControlFilter()

    # --- what reaches the terminal: data shown, never obeyed

    def get_key_display(self, binding: Binding) -> str:
        """Keys as printed on the keyboard (`F1`, `Enter`, `[`): the footer and F1 help name them alike."""
        return binding.key_display or key_name(binding.key)

    def get_line_filters(self) -> Sequence[LineFilter]:
        return [*super().get_line_filters(), self._control_filter]

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast is plain text: messages echo names, file names and DeskErrors (markup is never read)."""
        super().notify(shown(message, lines=True), title=shown(title), severity=severity, timeout=timeout,
                       markup=False)

    @property
    def _background_screens(self) -> list:
        """Textual counts the screen beneath any top screen as showing through it, so a change there (its late
        first resize at start-up) repaints the whole top screen: bytes sent to an idle terminal. A desk screen
        covers the terminal, so only a dialog (a modal screen) lets the screens beneath show."""
        if self._screen_stack and not isinstance(self._screen_stack[-1], ModalScreen):
            return []
        return super()._background_screens

    def name_window(self, title: str) -> None:
        """Name the terminal's window (OSC 2) after the screen: the desk's own words, never patient data. It goes
        through the driver after what was painted before it, so it also says that the screen has been drawn."""
        driver = self._driver
        if driver is not None and not self.is_headless:
            driver.write(f"\x1b]2;{''.join(c for c in title if c.isprintable())}\x07")

    # --- the desk thread: every database call runs on one thread, so one connection serves the session

    async def desk_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._desk_thread, functools.partial(self._on_desk, fn, *args, **kwargs))

    def _on_desk(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run on the desk thread: a disk problem becomes its one line; a role refusal is audited."""
        try:
            return environment.explained(self.desk.config.home, fn, *args, **kwargs)
        except AccessDenied as exc:
            audit.refusal(self.desk, exc)
            raise

    def desk_call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue work whose result the screen does not wait for (audit of what was shown); failures are shown."""
        future = self._desk_thread.submit(fn, *args)

        def report(done) -> None:
            exc = done.exception()
            if exc is not None and self.is_running:
                self.call_from_thread(self.notify, f"Could not record this view in the audit trail: {exc}",
                                      severity="error", timeout=10)

        future.add_done_callback(report)

    # --- lifecycle

    def on_mount(self) -> None:
        self.theme = "ansi-dark"
        if self.desk.config.keymap:
            self.set_keymap(dict(self.desk.config.keymap))
        self._idle_timer = self.set_timer(self.idle_timeout, self.idle_logoff)
        from screens.search import SearchScreen

        self.push_screen(SearchScreen())
        self.run_worker(self._recall_last_patient(), group="startup")

    async def _recall_last_patient(self) -> None:
        self.last_patient = await self.desk_call(sessions.last_patient, self.desk, self.actor)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and self._idle_timer is not None:
            self._idle_timer.reset()
        await super().on_event(event)

    def idle_logoff(self) -> None:
        """HIPAA automatic logoff: clear every screen of PHI and end the session."""
        self.sign_off_reason = "idle"
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.exit(result="idle")

    def on_unmount(self) -> None:
        if "pdf_worker" in self.__dict__:
            self._desk_thread.submit(self.pdf_worker.close)
        self._desk_thread.submit(self.desk.close)
        self._desk_thread.shutdown(wait=True)

    # --- actions

    def refusal(self, action: str) -> str | None:
        """Why this session may not run one of the app's own actions, or None (screens.base.refusal)."""
        reason = refusal(self.actor, self.CHANGING, action)
        if reason is None and action.startswith("open_screen("):  # as F1 sees it: "open_screen('f6')"
            key = action.removeprefix("open_screen(").strip("')\"")
            if key in DESK_SCREENS and self.actor.role not in DESK_SCREENS[key][5]:
                reason = REFUSED
        return reason

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.refusal(action):
            return False
        if action == "open_screen" and parameters:
            return self.actor.role in DESK_SCREENS[str(parameters[0])][5]
        return True

    def action_open_screen(self, key: str) -> None:
        import importlib

        _, module, name, *_ = DESK_SCREENS[key]
        screen_type = getattr(importlib.import_module(module), name)
        if not isinstance(self.screen, screen_type):
            self._go(screen_type)

    def action_help(self) -> None:
        from screens.dialogs.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_search(self) -> None:
        self.after_asking(self._search)

    def _search(self) -> None:
        from screens.search import SearchScreen

        while len(self.screen_stack) > 2:
            self.pop_screen()
        if isinstance(self.screen, SearchScreen):
            self.screen.focus_prompt()

    @functools.cached_property
    def pdf_worker(self):
        """The limited parser process for page text, started on first use."""
        from recdesk.documents.pdfworker import PdfWorker

        return PdfWorker()

    def _go(self, screen_type) -> None:
        self.after_asking(lambda: self._go_now(screen_type))

    def _go_now(self, screen_type) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.push_screen(screen_type())

    def action_intake(self) -> None:
        from screens.intake import IntakeScreen

        if not isinstance(self.screen, IntakeScreen):
            self._go(IntakeScreen)

    def action_qa(self) -> None:
        from screens.qa import QAScreen

        if not isinstance(self.screen, QAScreen):
            self._go(QAScreen)

    def unsaved(self) -> str | None:
        """The unsaved work of any open screen (DeskScreen.unsaved), or None."""
        return next((what for screen in reversed(self.screen_stack)
                     if isinstance(screen, DeskScreen) and (what := screen.unsaved())), None)

    def after_asking(self, go: Callable[[], object], and_then: str = "") -> None:
        """go() when no open screen holds unsaved work; otherwise only after "Discard ...?" is answered Yes."""
        what = self.unsaved()
        if what is None:
            go()
        else:
            ask_discard(self, what, go, and_then=and_then)

    def action_sign_off(self) -> None:
        """Sign off; with a form half filled, "Discard ... and sign off?" first (default No)."""
        self.after_asking(self._sign_off, " and sign off")

    def _sign_off(self) -> None:
        self.sign_off_reason = "quit"
        self.exit(result="quit")

    def request_chart(self, patient_uuid: str) -> None:
        """Open a chart in a worker (the purpose dialog waits for the clerk's answer there)."""
        self.run_worker(self._open_chart(patient_uuid), group="chart", exclusive=True)

    async def _open_chart(self, patient_uuid: str) -> None:
        """Open a chart; a restricted record asks a purpose, or to break the glass, first (screens.base)."""
        from recdesk.patients.chart import open_chart
        from screens.chart import ChartScreen

        def say(text: str) -> None:
            self.notify(text, severity="error", timeout=6)

        async def attempt(purpose: str | None):
            return await self.desk_call(open_chart, self.desk, self.actor, patient_uuid, purpose=purpose)

        chart, _ = await restricted_call(self, attempt, say)
        if chart is FAILED:
            return
        self.last_patient = patient_uuid
        from screens.search import SearchScreen

        while not isinstance(self.screen, SearchScreen) and len(self.screen_stack) > 2:
            self.pop_screen()
        await self.push_screen(ChartScreen(chart))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Patient search", "Find a patient by name, MRN, DOB, last 4, S1234 or phone (F2)",
                            self.action_search)
        if self.last_patient:
            yield SystemCommand("Last patient", "Re-open the chart you opened last",
                                lambda: self.request_chart(self.last_patient))
        if not self.refusal("intake"):
            yield SystemCommand("Intake", "Index scanned documents from the inbox (F3)", self.action_intake)
            yield SystemCommand("QA", "Check filed documents before their paper is shredded (F4)", self.action_qa)
        for key, (_, _, _, title, what, roles) in DESK_SCREENS.items():
            if self.actor.role in roles:
                yield SystemCommand(title, what, functools.partial(self.action_open_screen, key))
        yield SystemCommand("Help", "Keys and help for where you are (F1)", self.action_help)
        yield SystemCommand("Sign off", "End this session (F10)", self.action_sign_off)
