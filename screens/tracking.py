"""F8: paper charts. Scan a chart to see where it is; check in, charge out, transfer, flag missing, history."""

from __future__ import annotations

import asyncio
import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from recdesk.paper import tracking
from recdesk.paper.tracking import ChartStatus, CheckIn
from screens.base import FAILED, DeskScreen
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.history import HistoryDialog
from screens.dialogs.stop import StopDialog
from screens.dialogs.text import TextDialog
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.plain import Plain
from screens.widgets.scan import ScanInput
from screens.widgets.table import DeskTable

HELP = (
    "Paper charts. Scan a chart's label with the wand (or type its MRN, then Enter) to see its shelf "
    "address, home file room, where it is now, its borrower and due-back date.\n"
    "I checks the chart in to this desk's file room (R picks the room). O charges it out to a clinic, "
    "department or person until a due-back date. T transfers it: to another borrower while it is out, or to "
    "another file room while it is in. M flags it missing, with a note of where you looked. H shows every "
    "move of the chart.\n"
    "C starts check-in mode: every chart scanned is checked in at once. When something matters (the chart "
    "was flagged missing, a release request is open for the patient, an appointment wants it, it belongs in "
    "another file room, it came back late) the desk stops and says so until you press Enter.\n"
    "Esc clears a half-typed scan, then leaves check-in mode. Every look-up and move is in the audit trail."
)
PERSON = "__person__"
# 80 columns: the shelf address and the MRN are shown whole; the patient's name is cut to fit what is left.
LOG_NAME, LOG_DONE, LOG_NOTE = 16, 20, 10


def cut(text: str, width: int) -> str:
    """The text in at most `width` characters, an ellipsis marking a cut (names give way to MRNs)."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


class TrackingScreen(DeskScreen):
    """Where a paper chart is, and moving it."""

    SCREEN_NAME = "Paper charts"
    HELP = HELP
    CHANGING = frozenset({"check_in", "check_in_mode", "charge_out", "transfer", "mark_missing"})
    MESSAGE_LINE = "tr-message"
    DEFAULT_CSS = """
    TrackingScreen #tr-mode { height: 1; padding: 0 1; text-style: bold; }
    TrackingScreen #tr-mode.checkin { background: ansi_yellow; color: ansi_black; }
    TrackingScreen #tr-message { height: 2; padding: 0 1; }
    TrackingScreen #tr-message.warning { color: ansi_yellow; text-style: bold; }
    TrackingScreen #tr-chart { height: 8; padding: 0 1; border-top: solid ansi_bright_black; }
    TrackingScreen #tr-log { height: 1fr; }
    TrackingScreen #tr-scan { height: 1; border: none; padding: 0 1; background: ansi_default; }
    """
    BINDINGS = [
        Binding("i", "check_in", "Check in", id="tracking.check_in", priority=True),
        Binding("o", "charge_out", "Charge out", id="tracking.charge_out", priority=True),
        Binding("t", "transfer", "Transfer", show=False, id="tracking.transfer", priority=True),
        Binding("m", "mark_missing", "Missing", show=False, id="tracking.mark_missing", priority=True),
        Binding("h", "history", "History", show=False, id="tracking.history", priority=True),
        Binding("c", "check_in_mode", "Check-in mode", id="tracking.check_in_mode", priority=True),
        Binding("r", "room", "File room", show=False, id="tracking.room", priority=True),
        Binding("escape", "back", "Clear / leave mode", show=False, id="tracking.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.chart: ChartStatus | None = None
        self.check_in_mode = False
        self.room: str | None = None
        self._lock = asyncio.Lock()  # one move at a time, in the order the scans came

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        yield Plain("", id="tr-mode")
        yield Plain("Scan a chart label (or type its MRN and Enter) to see where the chart is.", id="tr-message")
        yield Plain("", id="tr-chart")
        log = DeskTable(id="tr-log", cursor_type="none", zebra_stripes=False)
        log.can_focus = False  # the scan line keeps the focus
        yield log
        yield ScanInput("scan or type an MRN + Enter", id="tr-scan")
        yield DeskFooter()

    def on_mount(self) -> None:
        self.room = self.desk.config.tracking.default_file_room
        log = self.query_one("#tr-log", DataTable)
        log.add_column("Chart", key="chart")
        log.add_column("MRN", key="mrn")  # its width follows the MRNs shown: an MRN is never cut
        log.add_column("Patient", key="patient", width=LOG_NAME)
        log.add_column("Done", key="done")
        log.add_column("Note", key="note")
        self.query_one("#tr-scan", ScanInput).focus()
        self.show_mode()

    # --- what is on screen

    def show_mode(self) -> None:
        mode = self.query_one("#tr-mode", Static)
        mode.set_class(self.check_in_mode, "checkin")
        if self.check_in_mode:
            mode.update(Text(f"CHECK-IN MODE: every chart scanned is checked in to {self.room} · Esc ends it"))
        else:
            mode.update(Text(f"Look-up: scan a chart · I checks in to {self.room} (R changes) · C check-in mode"))

    def show_chart(self, chart: ChartStatus | None) -> None:
        self.chart = chart
        panel = self.query_one("#tr-chart", Static)
        if chart is None:
            panel.update("")
            return
        if chart.volume_uuid is None:
            panel.update(Text(self._named(f"Chart     {chart.shelf}  (MRN {chart.mrn})", chart.name) + "\n"
                              "Status    no paper chart on record: O charges one out (volume 1 is opened)"))
            return
        due = ""
        if chart.due_back_on is not None:
            late = (datetime.date.today() - chart.due_back_on).days
            due = chart.due_back_on.isoformat() + (f"  OVERDUE {late} day{'s' if late != 1 else ''}" if late > 0
                                                   and chart.status == "out" else "")
        lines = [
            self._named(f"Chart     {chart.shelf}  (MRN {chart.mrn}, volume {chart.volume_no})", chart.name),
            f"Home      {chart.home}  {chart.home_name}",
            f"Now at    {chart.location}  {chart.location_name} ({chart.location_kind.replace('_', ' ')})",
            f"Status    {chart.status.upper()}: {chart.description}",
            f"Borrower  {chart.borrower or '-'}",
            f"Due back  {due or '-'}",
            "          T transfer · M missing · H history · R file room · F1 help",
        ]
        panel.update(Text("\n".join(lines)))

    def _named(self, line: str, name: str) -> str:
        """The chart's line with the patient's name after it, cut to the width left (the MRN is never cut)."""
        room = self.query_one("#tr-chart").content_size.width or self.app.size.width - 2
        return f"{line}  {cut(name, max(room - len(line) - 2, 6))}"

    def log_row(self, chart: ChartStatus, done: str, note: str = "") -> None:
        table = self.query_one("#tr-log", DataTable)
        table.add_row(chart.shelf, chart.mrn, Text(cut(chart.name, LOG_NAME)), Text(done[:LOG_DONE]),
                      Text(note[:LOG_NOTE]))
        table.move_cursor(row=table.row_count - 1, scroll=True)

    # --- keys

    def action_back(self) -> None:
        scan = self.query_one("#tr-scan", ScanInput)
        if scan.value:
            scan.value = ""
        elif self.check_in_mode:
            self.action_check_in_mode()
        else:
            self.show_chart(None)
            self.say("Scan a chart label (or type its MRN and Enter) to see where the chart is.")

    def action_check_in_mode(self) -> None:
        self.check_in_mode = not self.check_in_mode
        self.show_mode()
        self.say("Scan chart after chart: each is checked in; the desk stops when something matters."
                 if self.check_in_mode else "Check-in mode ended.")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            return
        if self.check_in_mode and self.may_change:
            self.flow(self._scan_in(event.value), exclusive=False)
        else:
            self.flow(self._look(event.value), exclusive=False)

    async def _look(self, typed: str) -> None:
        async with self._lock:
            chart = await self.run(tracking.find_chart, typed)
            if chart is FAILED:
                return
            self.show_chart(chart)
            self.say(f"Chart {chart.shelf}: {chart.description}.")

    async def _scan_in(self, typed: str) -> None:
        async with self._lock:
            result = await self.run(tracking.scan_in, typed, self.room)
            if result is not FAILED:
                await self._checked_in(result)

    async def _checked_in(self, result: CheckIn) -> None:
        chart = result.chart
        self.show_chart(chart)
        warned = f"{len(result.warnings)} warning{'s' if len(result.warnings) != 1 else ''}" if result.warnings else ""
        self.log_row(chart, f"checked in to {result.location}", warned)
        self.say(f"Chart {chart.shelf} checked in to {result.location}." + (f" {warned}." if warned else ""),
                 warning=bool(warned))
        if result.warnings:
            await self.ask(StopDialog(result))

    def _chart_or_say(self) -> ChartStatus | None:
        chart = self.chart
        if chart is None:
            self.say("Scan a chart first (or type its MRN and Enter).", warning=True)
            return None
        return chart

    def _volume_or_say(self) -> ChartStatus | None:
        chart = self._chart_or_say()
        if chart is not None and chart.volume_uuid is None:
            self.say(f"MRN {chart.mrn} has no paper chart on record.", warning=True)
            return None
        return chart

    def action_check_in(self) -> None:
        chart = self._volume_or_say()
        if chart is not None:
            self.flow(self._check_in(chart), exclusive=False)

    async def _check_in(self, chart: ChartStatus) -> None:
        async with self._lock:
            result = await self.run(tracking.check_in, chart, self.room)
            if result is not FAILED:
                await self._checked_in(result)

    async def _move(self, chart: ChartStatus, done: str, fn, *args, **kwargs) -> None:
        """Run a move of the chart as shown on the desk thread, then show the chart as it is now."""
        async with self._lock:
            after = await self.run(fn, chart, *args, **kwargs)
            if after is FAILED:
                return
        self.show_chart(after)
        self.log_row(after, done, after.borrower)
        self.say(f"Chart {after.shelf}: {after.description}.")

    async def _borrower(self, chart: ChartStatus, question: str) -> tuple[str, str] | None:
        """A clinic, department or person location, and a person's name if one is named."""
        places = [loc for loc in await self.read(tracking.locations) if loc.kind != "file_room"]
        if not places:
            self.say("No clinic, department or person is on record to lend charts to yet: the pull list adds "
                     "each clinic as its first chart is pulled.", warning=True)
            return None
        choices = [(loc.code, f"{loc.code:<12} {loc.name} ({loc.kind})") for loc in places]
        code = await self.ask(ChoiceDialog(question, choices + [(PERSON, "A person: type their name")]))
        if code != PERSON:
            return (code, "") if code is not None else None
        person = await self.ask(TextDialog("Who borrows the chart (their name)?"))
        if person is None:
            return None
        code = await self.ask(ChoiceDialog(f"Where is {person[:30]} (for the chart's location)?", choices))
        return (code, person) if code is not None else None

    def action_charge_out(self) -> None:
        chart = self._chart_or_say()
        if chart is not None:
            self.flow(self._charge_out(chart), exclusive=False)

    async def _charge_out(self, chart: ChartStatus) -> None:
        if chart.status in ("out", "missing"):
            self.say(f"Chart {chart.shelf} is {chart.description}: check it in first (or T transfers it).",
                     warning=True)
            return
        borrower = await self._borrower(chart, f"Charge chart {chart.shelf} out to:")
        if borrower is None:
            return
        days = self.desk.config.tracking.due_back_days
        default = datetime.date.today() + datetime.timedelta(days=days)
        answer = await self.ask(TextDialog("Due back on:", default.isoformat(), "2026-11-20", kind="due_date"))
        if answer is None:
            return
        code, person = borrower
        await self._move(chart, f"out to {code}", tracking.charge_out, code,
                         datetime.date.fromisoformat(answer), person)

    def action_transfer(self) -> None:
        chart = self._volume_or_say()
        if chart is not None:
            self.flow(self._transfer(chart), exclusive=False)

    async def _transfer(self, chart: ChartStatus) -> None:
        if chart.status == "missing":
            self.say(f"Chart {chart.shelf} is flagged missing: check it in when it is found.", warning=True)
            return
        if chart.status == "out":
            borrower = await self._borrower(chart, f"Hand chart {chart.shelf} on to (due date kept):")
            if borrower is None:
                return
            code, person = borrower
        else:
            rooms = [loc for loc in await self.read(tracking.locations, "file_room") if loc.code != chart.location]
            if not rooms:
                self.say("There is no other file room to move it to.", warning=True)
                return
            code = await self.ask(ChoiceDialog(f"Move chart {chart.shelf} to file room:",
                                               [(r.code, f"{r.code:<12} {r.name}") for r in rooms]))
            if code is None:
                return
            person = ""
        await self._move(chart, f"transfer to {code}", tracking.transfer, code, person)

    def action_mark_missing(self) -> None:
        chart = self._volume_or_say()
        if chart is not None:
            self.flow(self._mark_missing(chart), exclusive=False)

    async def _mark_missing(self, chart: ChartStatus) -> None:
        if chart.status == "missing":
            self.say(f"Chart {chart.shelf} is already flagged missing.", warning=True)
            return
        note = await self.ask(
            TextDialog(f"Flag chart {chart.shelf} missing. Where did you look?", placeholder="shelf 56-34, sort bins"))
        if note is not None:
            await self._move(chart, "flagged missing", tracking.mark_missing, note)

    def action_history(self) -> None:
        chart = self._volume_or_say()
        if chart is not None:
            self.flow(self._history(chart), exclusive=False)

    async def _history(self, chart: ChartStatus) -> None:
        rows = await self.run(tracking.history, chart)
        if rows is not FAILED:
            await self.ask(HistoryDialog(chart.shelf, rows))

    def action_room(self) -> None:
        self.flow(self._room(), exclusive=False)

    async def _room(self) -> None:
        rooms = await self.read(tracking.locations, "file_room")
        if not rooms:
            self.say("No file room on record yet: the first chart opened makes one.", warning=True)
            return
        code = await self.ask(ChoiceDialog("Charts are checked in to which file room (this desk)?",
                                           [(r.code, f"{r.code:<12} {r.name}") for r in rooms], self.room))
        if code is not None:
            self.room = code
            self.show_mode()
