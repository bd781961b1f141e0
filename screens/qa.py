"""The QA screen: check each filed document (legible, right patient, type and date), pass or fail it."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable, Static

from recdesk.documents import intake
from screens.dialogs.choice import ChoiceDialog
from screens.documentqueue import DocumentQueueScreen
from screens.widgets.pages import DocumentPages

HELP = (
    "Filed documents waiting for QA (not the ones you indexed, when the desk requires another clerk).\n"
    "Read each page (Left/Right) and check: legible, the right patient, type and date of service.\n"
    "A passes it: its paper is then cleared for shredding. X fails it with a reason and sends it\n"
    "back to the clerk who indexed it."
)


class QAScreen(DocumentQueueScreen):
    SCREEN_NAME = "QA: check filed documents"
    HELP = HELP
    BINDINGS = [
        Binding("a", "qa_pass", "Pass", id="qa.pass"),
        Binding("x", "qa_fail", "Fail", id="qa.fail"),
    ]
    COLUMNS = ("Patient", "MRN", "Type", "Date", "Pages", "Indexed by")
    CHANGING = frozenset({"qa_pass", "qa_fail"})

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[intake.QARow] = []

    async def reload(self, keep: int = 0) -> None:
        self.rows = await self.call(intake.qa_rows)
        table = self.query_one("#queue", DataTable)
        table.clear()
        for r in self.rows:
            table.add_row(r.name, r.mrn, r.type_label, r.service_date, str(r.pages), r.filed_by)  # names give way
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1))
        await self.select()

    @property
    def current(self) -> intake.QARow | None:
        row = self.query_one("#queue", DataTable).cursor_row
        return self.rows[row] if self.rows and 0 <= row < len(self.rows) else None

    async def select(self) -> None:
        r = self.current
        await self.query_one("#page", DocumentPages).show(r.uuid if r else None, r.pages if r else 0)
        self.query_one("#choice", Static).update(
            f"{r.patient} · {r.type_label} · {r.service_date}   A pass   X fail" if r else "Nothing waiting for QA.")

    async def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        await self.select()

    async def _record(self, passed: bool, reason: str = "") -> None:
        r = self.current
        done = "Passed: its paper may be shredded." if passed else f"Failed ({reason}): back to {r.filed_by}."
        await self.run(intake.record_qa, r.uuid, passed=passed, legible=reason != "illegible", reason=reason,
                       done=done, refresh=self.reload_here)

    async def action_qa_pass(self) -> None:
        if self.current is not None:
            await self._record(True)

    def action_qa_fail(self) -> None:
        if self.current is not None:
            self.flow(self._fail())

    async def _fail(self) -> None:
        reason = await self.ask(ChoiceDialog("Why does it fail QA?", [(r, r) for r in intake.QA_FAIL_REASONS]))
        if reason is not None:
            await self._record(False, reason)
