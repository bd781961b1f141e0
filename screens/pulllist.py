"""F7: the pull list in shelf order (terminal digit by default) and pick mode: pull, scan, not fillable, print."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from recdesk.paper import appointments, pulllist
from recdesk.paper.pulllist import NOT_FILLABLE_REASONS, OTHER, PickItem, PickList
from screens.base import FAILED, DeskScreen
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.text import TextDialog
from screens.tracking import cut
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.plain import Plain
from screens.widgets.scan import ScanInput
from screens.widgets.table import DeskTable

HELP = (
    "The charts wanted for booked appointments, in shelf order (terminal digit: 56-34-12 is filed in "
    "section 12, then 34, then 56). It opens on tomorrow, one day; [ and ] go a day back or on, + and - "
    "take in more or fewer days.\n"
    "Pick mode: walk the shelves down the list. Space (or Enter) marks the highlighted chart pulled, "
    "charges it out to its clinic (due back after the visit) and moves on to the next chart to pull.\n"
    "A barcode wand (or typed digits, then Enter) pulls that MRN wherever it is on the list; a wrong MRN "
    "changes nothing and says so. Esc clears a half-typed scan.\n"
    "N marks the highlighted chart not fillable, with a reason. P prints the list (to the site's print "
    "command, or the desk's print folder). I imports the appointments CSV from the scheduling system.\n"
    "Up/Down/PgUp/PgDn move. Opening and printing the list are recorded in the audit trail."
)
MAX_DAYS = 14
STATE_STYLE = {"pulled": "green", "not_fillable": "yellow"}
def state_text(item: PickItem) -> Text:
    if item.state == "pulled":
        text = "PULLED" + (f", {item.note}" if item.note else "")
    elif item.state == "not_fillable":
        text = f"NOT FILLABLE: {item.reason_shown}"
    else:
        text = {"out": "to pull (chart out)", "missing": "to pull (missing)", "none": "to pull (new chart)"}.get(
            item.chart, "to pull")
    return Text(text, style=STATE_STYLE.get(item.state, ""))


def tally_line(picks: PickList) -> str:
    t = picks.tally()
    if not t.total:
        return "No charts on this list."
    rate = f"{t.fill_rate:.0%}" if t.fill_rate is not None else "-"
    done = "  All done." if not t.pending else ""
    return f"{t.pulled} pulled · {t.not_fillable} not fillable · {t.pending} to go of {t.total} ({rate}){done}"


class PullListScreen(DeskScreen):
    """The pull list and pick mode, keyboard and wand only."""

    SCREEN_NAME = "Pull list"
    HELP = HELP
    CHANGING = frozenset({"pick", "not_fillable", "import_appointments"})
    MESSAGE_LINE = "pl-message"
    DEFAULT_CSS = """
    PullListScreen #pl-when { height: 1; padding: 0 1; text-style: bold; }
    PullListScreen #pl-table { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }
    /* The table never has the focus: its cursor must stand out anyway, in 16 colours and with NO_COLOR. */
    PullListScreen #pl-table > .datatable--cursor { background: ansi_default; color: ansi_default;
                                                    text-style: bold reverse; }
    PullListScreen #pl-tally { height: 1; padding: 0 1; color: ansi_cyan; text-style: bold; }
    PullListScreen #pl-message { height: 2; padding: 0 1; }
    PullListScreen #pl-message.warning { color: ansi_yellow; text-style: bold; }
    PullListScreen #pl-scan { height: 1; border: none; padding: 0 1; background: ansi_default; }
    """
    BINDINGS = [
        Binding("space", "pick", "Pull", id="picklist.pick", priority=True),
        Binding("n", "not_fillable", "Not fillable", id="picklist.not_fillable", priority=True),
        Binding("p", "print", "Print", id="picklist.print", priority=True),
        Binding("i", "import_appointments", "Import CSV", show=False, id="picklist.import", priority=True),
        Binding("left_square_bracket", "day(-1)", "Day back", show=False, id="picklist.day_back", priority=True),
        Binding("right_square_bracket", "day(1)", "Day on", show=False, id="picklist.day_on", priority=True),
        Binding("plus,equals_sign", "days(1)", "More days", show=False, id="picklist.more_days", priority=True),
        Binding("minus", "days(-1)", "Fewer days", show=False, id="picklist.fewer_days", priority=True),
        Binding("down", "step(1)", "Next", show=False, id="picklist.next", priority=True),
        Binding("up", "step(-1)", "Previous", show=False, id="picklist.previous", priority=True),
        Binding("pagedown", "step_page(1)", "Page down", show=False, id="picklist.page_down", priority=True),
        Binding("pageup", "step_page(-1)", "Page up", show=False, id="picklist.page_up", priority=True),
        Binding("escape", "clear", "Clear scan", show=False, id="picklist.clear"),
    ]

    def __init__(self, start: datetime.date | None = None, days: int = 1) -> None:
        super().__init__()
        self.start = start or datetime.date.today() + datetime.timedelta(days=1)
        self.days = days
        self.picks: PickList | None = None
        self._name_width = 16
        self._lock = asyncio.Lock()  # one change at a time, in the order the keys came

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        yield Plain("", id="pl-when")
        table = DeskTable(id="pl-table", cursor_type="row", zebra_stripes=False)
        table.can_focus = False  # the scan line keeps the focus; the screen's keys drive the table
        yield table
        yield Plain("", id="pl-tally")
        yield Plain("Space pulls the highlighted chart; a wand (or digits + Enter) pulls that MRN.", id="pl-message")
        yield ScanInput("scan or type an MRN + Enter (Enter alone pulls the highlighted chart)", id="pl-scan")
        yield DeskFooter()

    async def on_mount(self) -> None:
        self.query_one("#pl-scan", ScanInput).focus()
        if not self.may_change:
            self.query_one("#pl-scan", ScanInput).disabled = True
        await self.reload()

    # --- what is on screen

    @property
    def table(self) -> DataTable:
        return self.query_one("#pl-table", DataTable)

    @property
    def current(self) -> PickItem | None:
        items = self.picks.items if self.picks else []
        row = self.table.cursor_row
        return items[row] if items and 0 <= row < len(items) else None

    def _when(self) -> str:
        last = self.start + datetime.timedelta(days=self.days - 1)
        today = datetime.date.today()
        name = {today: "Today ", today + datetime.timedelta(days=1): "Tomorrow "}.get(self.start, "")
        span = f"{name}{self.start:%a %Y-%m-%d}" + (f" to {last:%a %m-%d}" if self.days > 1 else "")
        plural = "s" if self.days != 1 else ""
        return f"{span} · {self.days} day{plural}   [ ] day  +/- days  I import"

    async def reload(self) -> None:
        self.query_one("#pl-when", Static).update(Text(self._when()))
        picks = await self.run(pulllist.pick_list, self.start, self.days)
        if picks is FAILED:
            return
        self.picks = picks
        table = self.table
        table.clear(columns=True)
        one_day = self.days == 1  # the time column takes the date only when the list spans days
        shelf = max([8, *(len(i.shelf) for i in picks.items)])
        mrn = max([6, *(len(i.mrn) for i in picks.items)])  # an MRN is shown whole, always
        time, state, clinic = (5, 19, 11) if one_day else (11, 17, 10)
        # 80 columns: each column pads a cell by one on both sides, and the scroll bar takes one; the patient's
        # name gets what is left and is cut to it, never the MRN.
        room = (self.size.width or self.app.size.width) - 1 - 2 * 6
        self._name_width = max(6, room - shelf - mrn - time - state - clinic)
        table.add_column("Shelf", key="shelf", width=shelf)
        table.add_column("MRN", key="mrn", width=mrn)
        table.add_column("Patient", key="name", width=self._name_width)
        table.add_column("Clinic", key="clinic", width=clinic)
        table.add_column("Time", key="time", width=time)
        table.add_column("State", key="state", width=state)
        for n, item in enumerate(picks.items):
            table.add_row(*self._cells(item), key=str(n))
        self.show_tally()
        if not picks.items:
            self.say("No booked appointments here: I imports the appointments CSV; [ ] change the day.")
            return
        first = picks.next_pending()
        table.move_cursor(row=picks.items.index(first) if first else 0, scroll=True)

    def _cells(self, item: PickItem) -> tuple:
        time = f"{item.at:%H:%M}" if self.days == 1 else f"{item.at:%m-%d %H:%M}"
        return item.shelf, item.mrn, Text(cut(item.name, self._name_width)), Text(item.clinic), time, state_text(item)

    def show_item(self, item: PickItem) -> None:
        if self.picks is None or item not in self.picks.items:
            return
        self.table.update_cell(str(self.picks.items.index(item)), "state", state_text(item))
        self.show_tally()

    def show_tally(self) -> None:
        self.query_one("#pl-tally", Static).update(Text(tally_line(self.picks) if self.picks else ""))

    def go_next(self, after: PickItem) -> None:
        nxt = self.picks.next_pending(after) if self.picks else None
        if nxt is not None:
            self.table.move_cursor(row=self.picks.items.index(nxt), scroll=True)

    # --- keys

    def action_step(self, delta: int) -> None:
        self.table.move_cursor(row=max(0, self.table.cursor_row + delta), scroll=True)

    def action_step_page(self, direction: int) -> None:
        step = max(self.table.size.height - 2, 1)
        self.table.move_cursor(row=max(0, self.table.cursor_row + direction * step), scroll=True)

    def action_clear(self) -> None:
        self.query_one("#pl-scan", ScanInput).value = ""

    async def action_day(self, delta: int) -> None:
        self.start += datetime.timedelta(days=delta)
        await self.reload()

    async def action_days(self, delta: int) -> None:
        days = max(1, min(MAX_DAYS, self.days + delta))
        if days == self.days:
            self.say(f"A pull list covers 1 to {MAX_DAYS} days.", warning=True)
            return
        self.days = days
        await self.reload()

    def action_pick(self) -> None:
        if self.current is not None:
            self.run_worker(self._pick(), group="picklist")

    async def _pick(self) -> None:
        async with self._lock:
            # The highlighted chart when this key's turn comes, not when it was pressed: Space typed fast
            # walks down the list, one chart per key.
            item = self.current
            if item is None:
                return
            if item.state == "pulled":
                self.say(f"{item.shelf} is already pulled for {item.clinic}.", warning=True)
                self.go_next(item)
                return
            if await self.run(pulllist.pick, item) is FAILED:
                return
            note = f", {item.note}" if item.note else ""
            self.say(f"{item.shelf} pulled for {item.clinic} {item.at:%H:%M}{note}.")
            self.show_item(item)
            self.go_next(item)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.may_change:
            return
        if not event.value.strip():
            self.action_pick()  # Enter on an empty scan line: the highlighted chart
            return
        self.run_worker(self._scan(event.value), group="picklist")

    async def _scan(self, typed: str) -> None:
        async with self._lock:
            if self.picks is None:
                return
            result = await self.run(pulllist.pick_by_mrn, self.picks, typed)
            if result is FAILED:
                return
            if result.item is not None:
                self.show_item(result.item)
            if result.ok:
                item = result.item
                note = f", {item.note}" if item.note else ""
                self.say(f"{item.shelf} (MRN {item.mrn}) pulled for {item.clinic} {item.at:%H:%M}{note}.")
                self.go_next(item)
            else:
                self.say(result.message, warning=True)

    def action_not_fillable(self) -> None:
        item = self.current
        if item is None:
            return
        if item.state == "pulled":
            self.say(f"{item.shelf} is already pulled: check the chart in (F8) if it came back.", warning=True)
            return
        self.flow(self._not_fillable(item), exclusive=False)

    async def _not_fillable(self, item: PickItem) -> None:
        choices = [(r, r) for r in NOT_FILLABLE_REASONS] + [(OTHER, "other (type the reason)")]
        reason = await self.ask(ChoiceDialog(f"Why can {item.shelf} not be pulled?", choices,
                                                         item.reason or None))
        if reason is None:
            return
        text = ""
        if reason == OTHER:  # the words go to the audit trail only; the list keeps "other"
            text = await self.ask(TextDialog("Why can it not be pulled (no names)?"))
            if text is None:
                return
        async with self._lock:
            if await self.run(pulllist.not_fillable, item, reason, text) is FAILED:
                return
            self.say(f"{item.shelf} not fillable: {item.reason_shown}.")
            self.show_item(item)
            self.go_next(item)

    async def action_print(self) -> None:
        if self.picks is not None:
            where = await self.print_out("pull-list", "Pull list", pulllist.printout, self.picks)
            if where:
                self.notify(f"Pull list {where}.", timeout=8)

    def action_import_appointments(self) -> None:
        self.flow(self._import(), exclusive=False)

    async def _import(self) -> None:
        answer = await self.ask(TextDialog("Appointments CSV from the scheduling system (path):",
                                                       placeholder="/srv/him/appointments.csv"))
        if answer is None:
            return
        report = await self.run(appointments.import_csv, Path(answer).expanduser())
        if report is FAILED:
            return
        rejects = "".join(f"\n{r}" for r in report.rejects[:3])
        more = f"\n... and {len(report.rejects) - 3} more" if len(report.rejects) > 3 else ""
        self.notify(f"Appointments imported: {report.summary()}{rejects}{more}",
                    severity="information" if report.ok else "warning", timeout=12)
        self.say(f"Imported: {report.summary()}.", warning=not report.ok)
        await self.reload()
