"""Ctrl+R, the purge screen: the retention worklist with why each chart is due or kept, legal holds, purge batches
from preparation to the certificate of destruction, and the paper volumes to shred (RULES.md §8-9, T1-T5)."""

from __future__ import annotations

import datetime
import re
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, ProgressBar, Static, TabbedContent, TabPane

from recdesk import clock
from recdesk.display import when
from recdesk.errors import DeskError
from recdesk.paper.shelf import read_wand
from recdesk.retention import batches, holds, worklist
from recdesk.retention.batches import BatchView, PaperVolume
from recdesk.roles import MANAGERS
from screens.base import FAILED, DeskScreen
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.text import TextDialog
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.plain import Plain
from screens.widgets.scan import ScanInput
from screens.widgets.table import DeskTable

TABS = [("worklist", "1 Worklist"), ("holds", "2 Holds"), ("batches", "3 Batches"), ("paper", "4 Paper")]
TABLES = {"worklist": "wl-table", "holds": "hd-table", "batches": "bt-table", "paper": "pp-table"}
HELP = (
    "Retention and purge. Keys 1-4 switch sections.\n"
    "1 Worklist: the charts past their retention period as of today (D types another as-of date), each with the "
    "rule that decided it, and DUE or KEPT with why (codes and words below the list: T2-HOLD a legal hold, "
    "T2-REQUEST an open release request, C4 an open deficiency, PAPER-OUT or PAPER-MISSING a paper volume, KEEP "
    "a do-not-purge mark; D2 warns of a disclosure the accounting keeps).\n"
    "2 Holds: legal holds, active and lifted. Managers place a hold (H: matter, basis, MRNs, until) and lift it "
    "(L, with the reason).\n"
    "3 Batches: purge batches by state: prepared, approved, archived, destroyed, paper confirmed (and cancelled). "
    "N prepares a batch from the worklist (as-of date, MRNs or a terminal-digit range such as 00-49, a limit). "
    "A manager who did not prepare it approves it (A), archives it (V) where the schedule says so, runs it (R: "
    "the charts are crypto-shredded, with a progress bar) or cancels it (C, with the reason). Approving, running "
    "and cancelling ask twice; No is the answer unless you pick Yes. Enter shows the batch's patients; Esc goes "
    "back to the list. P prints the certificate of destruction.\n"
    "4 Paper: the highlighted batch's paper volumes in terminal-digit order. Enter on a volume confirms it "
    "shredded (asked once, No first); S starts shred mode, where each volume scanned with the wand is confirmed "
    "at once. W names the witness. X reports the highlighted volume not found (the certificate lists it). Esc "
    "leaves shred mode.\n"
    "Every view and change is recorded in the audit trail."
)
STATES = ("prepared", "approved", "archived", "destroyed", "paper_confirmed", "cancelled")
# a clerk cancels a batch they prepared while it is prepared (the service says so in one line otherwise)
MANAGER_ACTIONS = frozenset({"approve", "archive", "run_batch", "place_hold", "lift_hold"})
PENDING = "pending"  # a paper volume not yet shredded or reported not found
MANAGERS_ONLY = "a manager does this (the purge batch's second person, and legal holds)"
RUNNING = "a batch is running: wait until it is done"
NO, YES = "no", "yes"
PAPER = {PENDING: "to shred", "shredded": "SHREDDED", "not_found": "NOT FOUND"}
OUTCOMES = {"pending": "to destroy", "destroyed": "DESTROYED", "skipped": "kept out"}


def _d(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def state_words(status: str) -> str:
    return status.replace("_", " ")


def _name(last: str, first: str) -> str:
    return f"{last.upper()}, {first}" if first else last.upper()


def _years(first: Any, last: Any) -> str:
    if first is None and last is None:
        return ""
    a, b = (getattr(first, "year", ""), getattr(last, "year", ""))
    return f"{a}" if a == b else f"{a}-{b}"


def parse_selection(typed: str) -> tuple[list[str] | None, tuple[int, int] | None]:
    """What the clerk typed to narrow a batch: MRNs (`100234, 100299`) or a terminal-digit range (`00-49`)."""
    text = typed.strip()
    if not text:
        return None, None
    digits = re.fullmatch(r"(\d{1,2})\s*-\s*(\d{1,2})", text)
    if digits:
        low, high = int(digits.group(1)), int(digits.group(2))
        if low > high:
            raise DeskError(f"terminal digits {text}: the first number is the lower (00-49)")
        return None, (low, high)
    mrns = [m for m in re.split(r"[\s,;]+", text) if m]
    bad = [m for m in mrns if not m.isdigit()]
    if bad:
        raise DeskError(f"{bad[0][:20]!r} is not an MRN: type MRNs (100234, 100299) or terminal digits (00-49)")
    return mrns, None


class PurgeScreen(DeskScreen):
    """The retention worklist, legal holds, purge batches and their paper."""

    SCREEN_NAME = "Purge and retention"
    HELP = HELP
    MESSAGE_LINE = "pg-message"
    CHANGING = frozenset({"prepare", "approve", "archive", "run_batch", "cancel_batch", "place_hold", "lift_hold",
                          "shredded", "shred_mode", "not_found"})
    # Letters are priority keys (as in F8's check-in mode): the wand's line keeps the focus in shred mode, yet W, X
    # and S still work until a scan starts; digits and Enter belong to the scan then.
    BINDINGS = [
        *[Binding(str(n), f"section('{tab_id}')", label, show=False, id=f"purge.section_{n}")
          for n, (tab_id, label) in enumerate(TABS, start=1)],
        Binding("n", "prepare", "New batch", id="purge.prepare", priority=True),
        Binding("a", "approve", "Approve", id="purge.approve", priority=True),
        Binding("r", "run_batch", "Run", id="purge.run", priority=True),
        Binding("p", "certificate", "Certificate", id="purge.certificate", priority=True),
        Binding("v", "archive", "Archive", show=False, id="purge.archive", priority=True),
        Binding("c", "cancel_batch", "Cancel batch", show=False, id="purge.cancel", priority=True),
        Binding("d", "as_of", "As-of date", show=False, id="purge.as_of", priority=True),
        Binding("h", "place_hold", "Place hold", show=False, id="purge.place_hold", priority=True),
        Binding("l", "lift_hold", "Lift hold", show=False, id="purge.lift_hold", priority=True),
        Binding("enter", "shredded", "Confirm shredded", show=False, id="purge.shredded"),
        Binding("s", "shred_mode", "Shred mode", show=False, id="purge.shred_mode", priority=True),
        Binding("x", "not_found", "Not found", show=False, id="purge.not_found", priority=True),
        Binding("w", "witness", "Witness", show=False, id="purge.witness", priority=True),
        Binding("escape", "back", "Back", show=False, id="purge.back"),
    ]
    DEFAULT_CSS = """
    PurgeScreen #sections { height: 1fr; }
    PurgeScreen #sections ContentSwitcher { height: 1fr; }
    PurgeScreen TabPane { height: 1fr; padding: 0; }
    PurgeScreen .note { height: 1; padding: 0 1; }
    PurgeScreen .detail { height: auto; min-height: 4; max-height: 8; padding: 0 1; border-top: solid ansi_blue; }
    PurgeScreen #bt-detail { min-height: 5; }
    PurgeScreen DataTable { height: 1fr; }
    PurgeScreen #pg-mode.shredding { background: ansi_yellow; color: ansi_black; text-style: bold; }
    PurgeScreen #pg-scan { height: 1; border: none; padding: 0 1; background: ansi_default; }
    PurgeScreen #pg-message { height: auto; max-height: 3; padding: 0 1; }  /* wraps: a file's path is read whole */
    PurgeScreen #pg-message.warning { color: ansi_yellow; text-style: bold; }
    PurgeScreen #pg-progress { height: 2; padding: 0 1; }
    PurgeScreen #pg-progress ProgressBar { height: 1; }
    PurgeScreen #pg-progress-words { height: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.as_of: datetime.date = clock.today()
        self.candidates: list[worklist.Candidate] = []
        self.holds: list[holds.Hold] = []
        self.batches: list[BatchView] = []  # by state then number
        self.items: list[batches.Item] = []  # the patients of the batch shown with Enter
        self.items_of: BatchView | None = None  # that batch
        self.paper: list[PaperVolume] = []  # in terminal-digit order
        self.paper_of: BatchView | None = None  # the batch whose paper is listed
        self.witness = ""
        self.shredding = False  # shred mode: each volume scanned is confirmed shredded
        self.running: str | None = None  # the batch being run (or archived) now
        self.stale = {tab_id for tab_id, _ in TABS}

    # --- layout

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        with TabbedContent(id="sections"):
            with TabPane("1 Worklist", id="worklist"):
                yield Plain("", id="wl-note", classes="note")
                yield DeskTable(id="wl-table", cursor_type="row", zebra_stripes=False)
                yield Plain("", id="wl-detail", classes="detail")
            with TabPane("2 Holds", id="holds"):
                yield Plain("", id="hd-note", classes="note")
                yield DeskTable(id="hd-table", cursor_type="row", zebra_stripes=False)
                yield Plain("", id="hd-detail", classes="detail")
            with TabPane("3 Batches", id="batches"):
                yield Plain("", id="bt-note", classes="note")
                yield DeskTable(id="bt-table", cursor_type="row", zebra_stripes=False)
                items = DeskTable(id="it-table", cursor_type="row", zebra_stripes=False)
                items.display = False
                yield items
                yield Plain("", id="bt-detail", classes="detail")
            with TabPane("4 Paper", id="paper"):
                yield Plain("", id="pg-mode", classes="note")
                yield DeskTable(id="pp-table", cursor_type="row", zebra_stripes=False)
                yield ScanInput("shred mode: scan a volume's label (or type its MRN) + Enter", id="pg-scan")
        yield Plain("", id="pg-message")
        yield DeskFooter()

    async def on_mount(self) -> None:
        columns = {
            "wl-table": ("MRN", "Name", "Kept until", "Rule", "Status"),
            "hd-table": ("Hold", "Matter", "Basis", "Until", "State", "MRNs"),
            "bt-table": ("Certificate", "State", "Patients", "Docs", "Pages", "Vols", "Service"),
            "it-table": ("MRN", "Name", "DOB", "Kept until", "Outcome"),
            "pp-table": ("Shelf", "MRN", "Vol", "Name", "Status"),
        }
        for table_id, labels in columns.items():
            self.query_one(f"#{table_id}", DataTable).add_columns(*labels)
        scan = self.query_one("#pg-scan", ScanInput)
        scan.display = False
        await self.show("worklist")

    # --- which keys work here

    def can(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.CHANGING and self.running:
            return False
        if action in MANAGER_ACTIONS:
            return self.actor.role in MANAGERS
        return True

    def why_not(self, action: str) -> str:
        """Why this person may not press this key here ("" when they may): the one line the screen says."""
        refused = self.refusal(action)
        if refused:
            return refused
        if action in MANAGER_ACTIONS and self.actor.role not in MANAGERS:
            return MANAGERS_ONLY
        if action in self.CHANGING and self.running:
            return RUNNING
        return ""

    def on_key(self, event: events.Key) -> None:
        """A disabled key of this screen says why in one line, instead of doing nothing."""
        if event.key == "enter":
            return
        for namespace, bindings in self._modal_binding_chain:
            if namespace is not self:
                continue
            for binding in bindings.key_to_bindings.get(event.key, ()):
                why = self.why_not(binding.action)
                if why:
                    self.say_error(f"{binding.description}: {why}.")
                    return

    # --- sections

    @property
    def section(self) -> str:
        return self.query_one("#sections", TabbedContent).active

    async def action_section(self, tab_id: str) -> None:
        self.query_one("#sections", TabbedContent).active = tab_id
        await self.show(tab_id)

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            await self.show(event.pane.id)

    async def show(self, tab_id: str, *, again: bool = False) -> None:
        """Show a section: read it when it is stale (never read, or changed since), and focus its list."""
        if again or tab_id in self.stale:
            self.stale.discard(tab_id)
            await {"worklist": self.load_worklist, "holds": self.load_holds, "batches": self.load_batches,
                   "paper": self.load_paper}[tab_id]()
        if tab_id == "paper" and self.shredding:
            self.query_one("#pg-scan", ScanInput).focus()
        elif tab_id == "batches" and self.items_of is not None:
            self.query_one("#it-table", DataTable).focus()
        else:
            self.query_one(f"#{TABLES[tab_id]}", DataTable).focus()
        self.refresh_bindings()

    def changed(self, *tab_ids: str) -> None:
        """What a change made stale: read again when shown (the section shown now at once, by the caller)."""
        self.stale.update(tab_ids)

    def note(self, widget_id: str, text: str) -> None:
        self.query_one(f"#{widget_id}", Static).update(Text(text))

    @staticmethod
    def _fill(table: DataTable, rows: list[tuple], empty: str, keep: int = 0) -> None:
        table.clear()
        for row in rows:
            table.add_row(*row)
        if not rows:
            table.add_row(empty, *[""] * (len(table.columns) - 1))
        elif 0 <= keep < len(rows):
            table.move_cursor(row=keep)

    def at(self, moment: datetime.datetime | None) -> str:
        """A stored (UTC) time as the clerk reads it: the desk's local time."""
        return when(moment, self.desk.config.zone)

    # --- 1 Worklist

    async def load_worklist(self) -> None:
        found = await self.run(worklist.candidates, as_of=self.as_of, include_blocked=True)
        if found is FAILED:
            self.note("wl-note", f"As of {self.as_of.isoformat()}: the worklist could not be read (the line below "
                                 "says why).")
            return
        self.candidates = found
        table = self.query_one("#wl-table", DataTable)
        rows = []
        for c in found:
            status = "DUE" if c.eligible else "KEPT " + " ".join(dict.fromkeys(b.code for b in c.blocked_by))
            if c.eligible and c.warnings:
                status += " (" + " ".join(w.code for w in c.warnings) + ")"
            rows.append((c.mrn, _name(c.last, c.first), _d(c.retain_until), c.rule, status))
        self._fill(table, rows, "none")
        due = sum(c.eligible for c in found)
        today = " (today)" if self.as_of == clock.today() else ""
        self.note("wl-note", f"As of {self.as_of.isoformat()}{today}: {_n(len(found), 'chart')} past retention: "
                             f"{due} due, {len(found) - due} kept · D date")
        self.show_candidate()

    @property
    def candidate(self) -> worklist.Candidate | None:
        row = self.query_one("#wl-table", DataTable).cursor_row
        return self.candidates[row] if 0 <= row < len(self.candidates) else None

    def show_candidate(self) -> None:
        c = self.candidate
        if c is None:
            self.note("wl-detail", "No chart is past its retention period on this date." if not self.candidates
                      else "")
            return
        lines = [f"MRN {c.mrn} {_name(c.last, c.first)}  DOB {_d(c.dob) or 'unknown'}",
                 f"Last seen {_d(c.last_encounter)}, kept until {_d(c.retain_until)} by {c.rule}"]
        if c.eligible:
            lines.append("DUE: nothing keeps this chart; a purge batch may take it.")
        lines += [f"{b.code}: {b.words}" for b in c.blocked_by]
        lines += [f"{w.code} (warning): {w.words}" for w in c.warnings]
        self.note("wl-detail", "\n".join(lines))

    def action_as_of(self) -> None:
        self.flow(self._as_of())

    async def _as_of(self) -> None:
        answer = await self.ask(TextDialog("The worklist as of which date?", self.as_of.isoformat(), "2026-06-01",
                                           kind="any_date"))
        if answer is None:
            return
        self.as_of = datetime.date.fromisoformat(answer)
        await self.action_section("worklist")
        await self.show("worklist", again=True)

    # --- 2 Holds

    async def load_holds(self, keep: str | None = None) -> None:
        found = await self.run(holds.holds, include_lifted=True)
        if found is FAILED:
            return
        self.holds = sorted(found, key=lambda h: not h.active)  # active first, then lifted; newest first in each
        rows = [(h.uuid[:holds.SHORT], h.matter, h.basis.replace("_", " "), _d(h.until_on) or "-",
                 "ACTIVE" if h.active else ("lifted" if h.lifted_at else "ended"), " ".join(h.mrns))
                for h in self.holds]
        uuids = [h.uuid for h in self.holds]
        self._fill(self.query_one("#hd-table", DataTable), rows, "none", uuids.index(keep) if keep in uuids else 0)
        active = sum(h.active for h in self.holds)
        self.note("hd-note", f"{_n(active, 'legal hold')} in force, {len(self.holds) - active} lifted or ended."
                  + (" H places a hold · L lifts the highlighted one" if self.actor.role in MANAGERS else ""))
        self.show_hold()

    @property
    def hold(self) -> holds.Hold | None:
        row = self.query_one("#hd-table", DataTable).cursor_row
        return self.holds[row] if 0 <= row < len(self.holds) else None

    def show_hold(self) -> None:
        h = self.hold
        if h is None:
            self.note("hd-detail", "No legal hold on this desk." if not self.holds else "")
            return
        lines = [f"Hold {h.uuid[:holds.SHORT]}: {h.matter} ({h.basis.replace('_', ' ')})",
                 f"From {_d(h.starts_on)} until {_d(h.until_on) or 'lifted'} · placed by {h.placed_by} "
                 f"{self.at(h.placed_at)}",
                 f"Covers MRN {', '.join(h.mrns)}"]
        if h.lifted_at:
            lines.append(f"Lifted by {h.lifted_by} {self.at(h.lifted_at)}: {h.lift_reason}")
        self.note("hd-detail", "\n".join(lines))

    def action_place_hold(self) -> None:
        self.flow(self._place_hold())

    async def _place_hold(self) -> None:
        matter = await self.ask(TextDialog("Legal hold: the matter (case, investigation or audit) it is for:",
                                           placeholder="Smith v. Riverside General"))
        if matter is None:
            return
        basis = await self.ask(ChoiceDialog(f"Basis of the hold for {matter[:40]}:",
                                            [(b, b.replace("_", " ")) for b in holds.BASES]))
        if basis is None:
            return
        typed = await self.ask(TextDialog("MRNs the hold covers (separated by spaces or commas):",
                                          placeholder="100234 100299"))
        if typed is None:
            return
        until = await self.ask(TextDialog("Until (Enter: until a manager lifts it):", placeholder="2027-12-31",
                                          kind="any_date", optional=True))
        if until is None:
            return
        mrns = [m for m in re.split(r"[\s,;]+", typed) if m]
        until_on = datetime.date.fromisoformat(until) if until else None
        placed = await self.run(holds.place, matter=matter, basis=basis, mrns=mrns, until_on=until_on)
        if placed is FAILED:
            return
        self.changed("worklist", "batches")
        self.stale.discard("holds")
        self.query_one("#sections", TabbedContent).active = "holds"
        await self.load_holds(keep=placed)
        await self.show("holds")
        self.say_done(f"Legal hold {placed[:holds.SHORT]} placed on {_n(len(mrns), 'chart')}: they are kept from "
                      "purge, moves and merges until it is lifted.")

    def action_lift_hold(self) -> None:
        h = self.hold if self.section == "holds" else None
        if h is None:
            self.say_error("Go to 2 Holds and highlight the hold to lift.")
            return
        if not h.active:
            self.say_error(f"Legal hold {h.uuid[:holds.SHORT]} is not in force: nothing to lift.")
            return
        self.flow(self._lift_hold(h))

    async def _lift_hold(self, h: holds.Hold) -> None:
        reason = await self.ask(TextDialog(f"Lift legal hold {h.uuid[:holds.SHORT]} ({h.matter[:40]}). "
                                           "The reason (required):", placeholder="settled; released by counsel"))
        if reason is None:
            return
        if await self.run(holds.lift, h.uuid, reason=reason) is FAILED:
            return
        self.changed("worklist", "batches")
        await self.load_holds(keep=h.uuid)
        self.say_done(f"Legal hold {h.uuid[:holds.SHORT]} lifted: its charts follow their retention schedule "
                      "again.")

    # --- 3 Batches

    async def load_batches(self, keep: str | None = None) -> None:
        found = await self.run(batches.batches)
        if found is FAILED:
            return
        order = {s: n for n, s in enumerate(STATES)}
        self.batches = sorted(found, key=lambda b: (order.get(b.status, len(STATES)), b.number))
        keep = keep or (self.batch.id if self.batch else None)
        rows = [(b.number, state_words(b.status), str(b.patients), str(b.documents), str(b.pages), str(b.volumes),
                 _years(b.first_service, b.last_service)) for b in self.batches]
        ids = [b.id for b in self.batches]
        self._fill(self.query_one("#bt-table", DataTable), rows, "none",
                   ids.index(keep) if keep in ids else 0)
        counts = [f"{sum(b.status == s for b in self.batches)} {state_words(s)}" for s in STATES
                  if any(b.status == s for b in self.batches)]
        self.note("bt-note", " · ".join(counts) if counts else "No purge batch yet: N prepares one from the worklist.")
        self.show_batch()

    @property
    def batch(self) -> BatchView | None:
        if not self.batches:
            return None
        row = self.query_one("#bt-table", DataTable).cursor_row
        return self.batches[row] if 0 <= row < len(self.batches) else None

    def show_batch(self) -> None:
        b = self.batch
        if b is None:
            self.note("bt-detail", "")
            return
        lines = [f"{b.number} {state_words(b.status).upper()} as of {_d(b.as_of)} · service "
                 f"{_d(b.first_service) or '-'} to {_d(b.last_service) or '-'}" + (" · archive first" if b.archive
                                                                                    else ""),
                 f"{_n(b.patients, 'patient')}, {_n(b.documents, 'document')}, {_n(b.pages, 'page')}, "
                 f"{_n(b.volumes, 'paper volume')}" + (f"; {b.done} destroyed" if b.done else "")
                 + (f"; {b.excluded} kept out (Enter says why)" if b.excluded else ""),
                 f"Prepared by {b.prepared_by} {self.at(b.prepared_at)}"
                 + (f" · approved by {b.approved_by} {self.at(b.approved_at)}" if b.approved_by else "")
                 + (f" · destroyed {self.at(b.destroyed_at)}" if b.destroyed_at else "")]
        lines.append({"prepared": "Next: a manager who did not prepare it approves it (A), or cancels it (C).",
                      "approved": "Next: a manager archives it (V) if the schedule says so, then runs it (R)."
                      if b.archive else "Next: a manager runs it (R): the charts are crypto-shredded.",
                      "archived": "Next: a manager runs it (R): the archive verified, the charts are shredded.",
                      "destroyed": "Next: shred its paper volumes (4 Paper). P prints the certificate.",
                      "paper_confirmed": "Done. P prints the certificate of destruction.",
                      "cancelled": "Cancelled: nothing was destroyed."}.get(b.status, ""))
        self.note("bt-detail", "\n".join(lines))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        shown = {"wl-table": self.show_candidate, "hd-table": self.show_hold, "bt-table": self.show_batch}
        if event.data_table.id in shown:
            shown[event.data_table.id]()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        table = event.data_table.id
        if table == "bt-table" and self.batch is not None:
            self.flow(self._items(self.batch))
        elif table == "pp-table":
            self.flow(self._enter_on_volume())

    async def _enter_on_volume(self) -> None:
        if not await self.run_action("shredded"):
            self.say_error(f"Confirm shredded: {self.why_not('shredded') or 'not here'}.")

    async def _items(self, b: BatchView) -> None:
        detail = await self.run(batches.show, b.id)
        if detail is FAILED:
            return
        self.items, self.items_of = list(detail.items), b
        rows = [(i.mrn, i.name, _d(i.dob), _d(i.retain_until), OUTCOMES.get(i.outcome, i.outcome)
                 + (f": {i.why}" if i.why else "")) for i in self.items]
        self._fill(self.query_one("#it-table", DataTable), rows, "no patients")
        self.query_one("#bt-table", DataTable).display = False
        items = self.query_one("#it-table", DataTable)
        items.display = True
        items.focus()
        self.note("bt-note", f"{b.number} ({state_words(b.status)}): {_n(len(self.items), 'patient')}. Esc goes "
                             "back to the batches.")

    def _close_items(self) -> None:
        self.items, self.items_of = [], None
        self.query_one("#it-table", DataTable).display = False
        table = self.query_one("#bt-table", DataTable)
        table.display = True
        table.focus()

    def _batch_or_say(self, *states: str) -> BatchView | None:
        b = self.items_of or (self.batch if self.section in ("batches", "paper") else None)
        if self.section == "paper":
            b = self.paper_of or b
        if b is None:
            self.say_error("Go to 3 Batches and highlight a batch first.")
            return None
        if states and b.status not in states:
            self.say_error(f"Batch {b.number} is {state_words(b.status)}: this is for a batch that is "
                           f"{' or '.join(state_words(s) for s in states)}.")
            return None
        return b

    async def confirmed(self, first: str, yes_first: str, second: str, yes_second: str) -> bool:
        """Ask twice, in different words; No is highlighted each time, so Enter (or Esc) changes nothing."""
        answer = await self.ask(ChoiceDialog(first, [(NO, "No, leave it as it is"), (YES, yes_first)], NO))
        if answer != YES:
            self.say("Nothing changed.")
            return False
        answer = await self.ask(ChoiceDialog(second, [(NO, "No, stop here"), (YES, yes_second)], NO))
        if answer != YES:
            self.say("Nothing changed.")
            return False
        return True

    def action_prepare(self) -> None:
        self.flow(self._prepare())

    async def _prepare(self) -> None:
        answer = await self.ask(TextDialog("Prepare a purge batch of the charts due as of:", self.as_of.isoformat(),
                                           "2026-06-01", kind="any_date"))
        if answer is None:
            return
        as_of = datetime.date.fromisoformat(answer)
        while True:
            typed = await self.ask(TextDialog("Only these MRNs, or a terminal-digit range such as 00-49 (Enter: "
                                              "every due chart):", placeholder="100234 100299  or  00-49",
                                              optional=True))
            if typed is None:
                return
            try:
                mrns, digits = parse_selection(typed)
                break
            except DeskError as exc:
                self.say_error(str(exc))
        limit: int | None = None
        while True:
            typed = await self.ask(TextDialog("At most how many patients (Enter: no limit)?", placeholder="500",
                                              optional=True))
            if typed is None:
                return
            if not typed:
                break
            if typed.isdigit() and int(typed) > 0:
                limit = int(typed)
                break
            self.say_error(f"{typed[:20]!r} is not a number of patients: type 500, or Enter for no limit.")
        made = await self.run(batches.prepare, as_of=as_of, mrns=mrns, terminal_digits=digits, limit=limit)
        if made is FAILED:
            return
        self.changed("batches", "worklist")
        await self._show_batches(made.id)
        self.say_done(f"Batch {made.number} prepared: {_n(made.patients, 'patient')}, {_n(made.documents, 'document')}"
                      f", {_n(made.volumes, 'paper volume')}. A manager who did not prepare it approves it (A).")

    async def _show_batches(self, keep: str | None = None) -> None:
        self.stale.discard("batches")
        if self.items_of is not None:
            self._close_items()
        self.query_one("#sections", TabbedContent).active = "batches"
        await self.load_batches(keep)
        await self.show("batches")

    def action_approve(self) -> None:
        b = self._batch_or_say("prepared")
        if b is not None:
            self.flow(self._approve(b))

    async def _approve(self, b: BatchView) -> None:
        if not await self.confirmed(
                f"Approve batch {b.number} for destruction: {_n(b.patients, 'patient')}, "
                f"{_n(b.documents, 'document')}, {_n(b.volumes, 'paper volume')}?", "Yes, approve it",
                f"Once approved, running batch {b.number} destroys these records for good. Approve it?",
                "Yes, I approve their destruction"):
            return
        done = await self.run(batches.approve, b.id)
        if done is FAILED:
            return
        self.changed("batches", "worklist")
        await self._show_batches(done.id)
        kept = f" {_n(done.excluded, 'patient')} kept out since it was prepared (Enter says why)." \
            if done.excluded else ""
        self.say_done(f"Batch {done.number} approved by {done.approved_by}.{kept} R runs it.")

    def action_cancel_batch(self) -> None:
        b = self._batch_or_say("prepared", "approved", "archived")
        if b is not None:
            self.flow(self._cancel(b))

    async def _cancel(self, b: BatchView) -> None:
        if not await self.confirmed(f"Cancel batch {b.number} ({state_words(b.status)})? Nothing in it is destroyed.",
                                    "Yes, cancel the batch",
                                    f"Cancelling {b.number} cannot be undone: a new batch would be prepared again. "
                                    "Cancel it?", "Yes, cancel it for good"):
            return
        reason = await self.ask(TextDialog(f"Why is batch {b.number} cancelled (required)?",
                                           placeholder="counsel asked to wait"))
        if reason is None:
            self.say("Nothing changed.")
            return
        done = await self.run(batches.cancel, b.id, reason=reason)
        if done is FAILED:
            return
        self.changed("batches", "worklist")
        await self._show_batches(done.id)
        self.say_done(f"Batch {done.number} cancelled.")

    def action_archive(self) -> None:
        b = self._batch_or_say("approved")
        if b is not None:
            self.flow(self._archive(b))

    async def _archive(self, b: BatchView) -> bool:
        done = await self._with_progress(b, "Archiving", batches.archive, b.id)
        if done is FAILED:
            return False
        self.changed("batches")
        await self._show_batches(done.id)
        self.say_done(f"Batch {done.number} archived and verified: R runs it.")
        return True

    def action_run_batch(self) -> None:
        b = self._batch_or_say("approved", "archived")
        if b is not None:
            self.flow(self._run(b))

    async def _run(self, b: BatchView) -> None:
        if not await self.confirmed(
                f"Run batch {b.number}: crypto-shred the charts of {_n(b.patients, 'patient')} "
                f"({_n(b.documents, 'document')}, {_n(b.pages, 'page')}) now?", "Yes, run it",
                "This destroys them for good: no copy on the desk can be read afterwards"
                + (" (the archive keeps them)" if b.archive else "") + ". Destroy them?",
                "Yes, destroy these records"):
            return
        witness = await self.ask(TextDialog("Who witnesses the destruction (their name, for the certificate; Enter: "
                                            "none)?", placeholder="Pat Jones", optional=True))
        if witness is None:
            self.say("Nothing changed.")
            return
        if b.archive and b.status == "approved" and not await self._archive(b):
            return
        done = await self._with_progress(b, "Destroying", batches.run, b.id, witness=witness)
        if done is FAILED:
            return
        self.changed("batches", "worklist", "holds", "paper")
        await self._show_batches(done.id)
        kept = f", {_n(done.excluded, 'patient')} kept out (Enter says why)" if done.excluded else ""
        paper = f" 4 Paper lists {_n(done.volumes, 'paper volume')} to shred." if done.volumes else ""
        self.say_done(f"Batch {done.number} {state_words(done.status)}: {_n(done.done, 'patient')}{kept}.{paper} "
                      "P prints the certificate.")

    async def _with_progress(self, b: BatchView, doing: str, fn, *args: Any, **kwargs: Any) -> Any:
        """Run a long batch step on the desk thread with a progress bar; the UI goes on answering meanwhile."""
        self.running = b.id
        self.refresh_bindings()
        box = Vertical(id="pg-progress")
        await self.mount(box, before=self.query_one("#pg-message"))
        bar = ProgressBar(total=max(b.patients, 1), show_eta=False, id="pg-bar")
        words = Plain(f"{doing} batch {b.number} ...", id="pg-progress-words")
        await box.mount(bar, words)

        def progress(done: int, total: int, what: str) -> None:  # on the desk thread
            self.app.call_from_thread(self.show_progress, doing, b.number, done, total, what)

        try:
            return await self.run(fn, *args, progress=progress, **kwargs)
        finally:
            self.running = None
            await box.remove()
            self.refresh_bindings()

    def show_progress(self, doing: str, number: str, done: int, total: int, what: str) -> None:
        bars = self.query("#pg-bar")
        if not bars:
            return
        bar = bars.first(ProgressBar)
        bar.update(total=max(total, 1), progress=done)
        self.query_one("#pg-progress-words", Static).update(Text(f"{doing} batch {number}: {done} of {total}"
                                                                 + (f" · {what}" if what else "")))

    async def action_certificate(self) -> None:
        b = self._batch_or_say("destroyed", "paper_confirmed")
        if b is not None:
            await self.print_out("certificate", f"Certificate {b.number}", batches.certificate, b.id)

    # --- 4 Paper

    async def load_paper(self) -> None:
        if "batches" in self.stale:
            self.stale.discard("batches")
            await self.load_batches()
        b = self.batch
        if b is None:
            self.paper, self.paper_of = [], None
            self._fill(self.query_one("#pp-table", DataTable), [], "none")
            self.show_mode("Highlight a destroyed batch in 3 Batches, then 4 lists its paper volumes.")
            return
        found = await self.run(batches.paper_list, b.id)
        if found is FAILED:
            return
        self.paper, self.paper_of = list(found), b
        self._show_paper()

    def _show_paper(self, keep: int | None = None) -> None:
        table = self.query_one("#pp-table", DataTable)
        rows = [(v.shelf, v.mrn, str(v.volume_no), v.name, PAPER.get(v.status, v.status)) for v in self.paper]
        self._fill(table, rows, "no paper volumes", keep if keep is not None else self._next_volume())
        self.show_mode()

    def _next_volume(self) -> int:
        return next((n for n, v in enumerate(self.paper) if v.status == PENDING), 0)

    def show_mode(self, text: str = "") -> None:
        mode = self.query_one("#pg-mode", Static)
        mode.set_class(self.shredding, "shredding")
        if not text and self.paper_of is not None:
            left = sum(v.status == PENDING for v in self.paper)
            shredded = sum(v.status == "shredded" for v in self.paper)
            lost = sum(v.status == "not_found" for v in self.paper)
            witness = f"witness {self.witness[:16]}" if self.witness else "W witness"
            head = "SHRED MODE, Esc ends" if self.shredding else "S shred mode"
            text = (f"{self.paper_of.number}: {left} to shred, {shredded} shredded, {lost} not found · {witness} · "
                    f"{head}")
        mode.update(Text(text))

    @property
    def volume(self) -> PaperVolume | None:
        row = self.query_one("#pp-table", DataTable).cursor_row
        return self.paper[row] if 0 <= row < len(self.paper) else None

    def action_witness(self) -> None:
        self.flow(self._ask_witness())

    async def _ask_witness(self) -> bool:
        name = await self.ask(TextDialog("Who witnesses the shredding (their name)?", self.witness,
                                         placeholder="Pat Jones"))
        if name is None:
            return False
        self.witness = name
        self.show_mode()
        return True

    def _paper_or_say(self) -> bool:
        if self.section != "paper" or self.paper_of is None:
            self.say_error("Go to 4 Paper: it lists the highlighted batch's paper volumes.")
            return False
        if self.paper_of.status not in ("destroyed", "paper_confirmed"):
            self.say_error(f"Batch {self.paper_of.number} is {state_words(self.paper_of.status)}: paper is shredded "
                           "after the batch has run.")
            return False
        return True

    def action_shredded(self) -> None:
        if self._paper_or_say() and self.volume is not None:
            self.flow(self._shred(self.volume))

    async def _shred(self, volume: PaperVolume) -> None:
        if volume.status != PENDING:
            self.say_error(f"Volume {volume.volume_no} of MRN {volume.mrn} is {volume.status.replace('_', ' ')} "
                           "already.")
            return
        # Enter on a row is one key a stray press can give: ask (No first). A wand scan in shred mode is the label
        # itself read at the shredder, and is not asked again.
        answer = await self.ask(ChoiceDialog(
            f"Volume {volume.volume_no} of MRN {volume.mrn} ({volume.shelf}) is shredded? It is recorded with the "
            "witness.", [(NO, "No, not yet"), (YES, "Yes, it is shredded")], NO))
        if answer == YES:
            await self._confirm(volume.volume_uuid)

    async def _confirm(self, volume: str) -> None:
        """Confirm a volume shredded (its id, or what the wand scanned: the service finds it on the list)."""
        if not self.witness and not await self._ask_witness():
            return
        done = await self.run(batches.confirm_shredded, self.paper_of.id, volume, witness=self.witness)
        if done is FAILED:
            return
        self._decided(done)
        left = sum(v.status == PENDING for v in self.paper)
        self.say_done(f"Volume {done.volume_no} of MRN {done.mrn} ({done.shelf}) shredded, witness {self.witness}. "
                      + (f"{left} to go." if left else "Every volume is accounted for: the certificate is issued."))

    def _decided(self, done: PaperVolume) -> None:
        """Show one volume as it is now, highlighted; the batch's state may have moved (paper confirmed)."""
        index = next((n for n, v in enumerate(self.paper) if v.volume_uuid == done.volume_uuid), None)
        if index is None:
            self.paper.append(done)
            index = len(self.paper) - 1
        self.paper[index] = done
        self.changed("batches")
        self._show_paper()  # the next volume to shred is highlighted: down the shelves

    def action_shred_mode(self) -> None:
        if not self._paper_or_say():
            return
        self.shredding = not self.shredding
        scan = self.query_one("#pg-scan", ScanInput)
        scan.display = self.shredding
        if self.shredding:
            scan.focus()
            if not self.witness:
                self.flow(self._ask_witness())
        else:
            self.query_one("#pp-table", DataTable).focus()
        self.show_mode()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "pg-scan":
            return
        event.stop()
        if event.value.strip() and self.shredding and self.may_change:
            self.flow(self._scanned(event.value), exclusive=False)

    async def _scanned(self, typed: str) -> None:
        if read_wand(typed) is None and "vol" not in typed.lower():
            self.say_error(f"{typed.strip()[:20]!r} is not an MRN: scan the volume's label again.")
            return
        await self._confirm(typed)

    def action_not_found(self) -> None:
        if self._paper_or_say() and self.volume is not None:
            self.flow(self._not_found(self.volume))

    async def _not_found(self, volume: PaperVolume) -> None:
        if volume.status != PENDING:
            self.say_error(f"Volume {volume.volume_no} of MRN {volume.mrn} is {volume.status.replace('_', ' ')} "
                           "already.")
            return
        answer = await self.ask(ChoiceDialog(
            f"Report volume {volume.volume_no} of MRN {volume.mrn} ({volume.shelf}) not found? The certificate "
            "lists it.", [(NO, "No, keep looking"), (YES, "Yes, it is not found")], NO))
        if answer != YES:
            return
        done = await self.run(batches.not_found, self.paper_of.id, volume.volume_uuid)
        if done is FAILED:
            return
        self._decided(done)
        self.say_done(f"Volume {done.volume_no} of MRN {done.mrn} reported not found: the certificate lists it.")

    # --- going back

    def action_back(self) -> None:
        scan = self.query_one("#pg-scan", ScanInput)
        if self.section == "paper" and self.shredding:
            if scan.value:
                scan.value = ""
            else:
                self.action_shred_mode()
        elif self.section == "batches" and self.items_of is not None:
            self._close_items()
            self.show_batch()
            self.stale.add("batches")
            self.run_worker(self.show("batches"))
        elif self.running:
            self.say("A batch is running: it goes on; the screen stays until it is done.")
        else:
            self.app.pop_screen()
