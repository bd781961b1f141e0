"""F9, the review screen: queues, aging, chart reports, deficiencies, restricted access and the audit trail.

Read-only for everyone (a supervisor's session is read-only at the database anyway); sections load when shown.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from recdesk import review
from recdesk.errors import DeskError
from screens.base import DeskScreen
from screens.dialogs.text import TextDialog
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.plain import Plain
from screens.widgets.table import DeskTable

HELP = (
    "What the office looks like right now, read-only. Keys 1-9 switch sections: 1 queues (intake, QA,\n"
    "requests by age, charts overdue and missing, deficiencies and the delinquency rate), 2 ROI: open\n"
    "release-of-information requests, 3 overdue and missing paper charts, 4 pull-list fill rate,\n"
    "5 deficiencies by provider, 6 each clerk's work, 7 restricted-record openings: those waiting for review\n"
    "first (OPEN and how long), by MRN and name, how each was opened (role, assignment, break-glass), its\n"
    "purpose and reason; a supervisor marks the highlighted one reviewed with a note (M or Enter), the one\n"
    "thing a supervisor writes, into the audit trail. 8 the audit trail (newest first), 9 charts by borrower.\n"
    "V verifies the audit trail's hash chain end to end. R reloads the section. Esc goes back."
)


class ReviewScreen(DeskScreen):
    SCREEN_NAME = "Review (read-only)"
    HELP = HELP
    BINDINGS = [
        *[Binding(str(n), f"section('{name}')", label, show=False, id=f"review.section_{n}")
          for n, (name, (label, _)) in enumerate(review.SECTIONS.items(), start=1)],
        Binding("v", "verify", "Verify audit chain", id="review.verify"),
        Binding("r", "reload", "Reload", id="review.reload"),
        Binding("m", "mark_reviewed", "Mark reviewed", id="review.mark_reviewed"),
        Binding("escape", "back", "Back", id="review.back"),
    ]
    DEFAULT_CSS = """
    ReviewScreen .note { height: 1; padding: 0 1; color: ansi_white; }
    ReviewScreen DataTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.loaded: set[str] = set()
        self.tables: dict[str, review.Table] = {}

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        with TabbedContent(id="sections"):
            for name, (label, _) in review.SECTIONS.items():
                with TabPane(label.split(" ", 1)[1], id=name):
                    yield Plain("", id=f"{name}-note", classes="note")
                    yield DeskTable(id=f"{name}-table", cursor_type="row")
        yield DeskFooter()

    async def on_mount(self) -> None:
        await self.show("queues")

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        await self.show(event.pane.id)

    async def show(self, name: str, *, again: bool = False) -> None:
        table = self.query_one(f"#{name}-table", DataTable)
        table.focus()
        self.refresh_bindings()  # Mark reviewed is offered on the restricted-access section only
        if name in self.loaded and not again:
            return
        self.loaded.add(name)
        try:
            t = await self.call(review.section, name)
        except DeskError as exc:
            self.query_one(f"#{name}-note", Static).update(str(exc))
            return
        self.tables[name] = t
        table.clear(columns=True)
        table.add_columns(*t.columns)
        if t.rows:
            table.add_rows(t.rows)
        else:
            table.add_row(*(["none"] + [""] * (len(t.columns) - 1)))
        self.query_one(f"#{name}-note", Static).update(t.note or t.title)

    async def action_section(self, name: str) -> None:
        self.query_one("#sections", TabbedContent).active = name
        await self.show(name)

    async def action_reload(self) -> None:
        await self.show(self.query_one("#sections", TabbedContent).active, again=True)

    async def action_verify(self) -> None:
        self.notify("Verifying the audit chain ...", timeout=3)
        verdict = await self.read(review.verify_chain)
        self.notify(verdict, severity="information" if "intact" in verdict else "error", timeout=12)

    def can(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "mark_reviewed":  # the supervisor's one write, on the restricted-access section
            return self.actor.role == "supervisor" and self.query_one("#sections", TabbedContent).active == "access"
        return True

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "access-table" and self.can("mark_reviewed", ()):
            self.action_mark_reviewed()

    def action_mark_reviewed(self) -> None:
        t = self.tables.get("access")
        row = self.query_one("#access-table", DataTable).cursor_row
        if t is None or not 0 <= row < len(t.refs):
            return
        if not t.rows[row][0].startswith("OPEN"):
            self.notify("That opening is not waiting for review.", severity="warning", timeout=4)
            return
        self.flow(self._mark(t.refs[row], t.rows[row]))

    async def _mark(self, seq: int, row: list[str]) -> None:
        state, when, user, mrn, name, how, purpose, reason = row
        note = await self.ask(TextDialog(f"Reviewed: {user} opened MRN {mrn} {name} on {when} by {how} "
                                         f"({purpose}): {reason or 'no reason given'}\nYour note (required):"))
        if note is not None:
            await self.run(review.mark_reviewed, seq, note, done="Marked reviewed: recorded in the audit trail.",
                           refresh=lambda: self.show("access", again=True))

    def action_back(self) -> None:
        self.app.pop_screen()
