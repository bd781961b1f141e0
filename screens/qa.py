"""The QA screen: check each filed document (legible, right patient, type and date), pass or fail it."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable, Static

from recdesk.documents import filing, intake
from recdesk.errors import DeskError
from recdesk.patients.registry import decrypt
from screens.pickers import ChoiceDialog
from screens.widgets import DocumentPages, DocumentQueueScreen

HELP = (
    "Filed documents waiting for QA (not the ones you indexed, when the desk requires another clerk).\n"
    "Read each page (Left/Right) and check: legible, the right patient, type and date of service.\n"
    "A passes it: its paper is then cleared for shredding. X fails it with a reason and sends it\n"
    "back to the clerk who indexed it."
)


def _load(desk, actor) -> list[dict]:
    types = filing.type_labels(desk)
    rows = []
    for doc in intake.qa_queue(desk, actor):
        patient = decrypt(desk, doc.patient)
        rows.append({"uuid": doc.uuid, "pages": doc.pages, "type": types.get(doc.doc_type, doc.doc_type),
                     "date": doc.service_date.isoformat() if doc.service_date else "",
                     "patient": f"{patient.display_name} MRN {patient.mrn}", "by": doc.filed_by.name})
    return rows


class QAScreen(DocumentQueueScreen):
    SCREEN_NAME = "QA: check filed documents"
    HELP = HELP
    BINDINGS = [
        Binding("a", "qa_pass", "Pass", id="qa.pass"),
        Binding("x", "qa_fail", "Fail", id="qa.fail"),
    ]
    COLUMNS = ("Patient", "Type", "Date", "Pages", "Indexed by")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []

    async def reload(self, keep: int = 0) -> None:
        self.rows = await self.app.desk_call(_load, self.app.desk, self.app.actor)
        table = self.query_one("#queue", DataTable)
        table.clear()
        for r in self.rows:
            table.add_row(r["patient"][:34], r["type"][:22], r["date"], str(r["pages"]), r["by"])
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1))
        await self.select()

    @property
    def current(self) -> dict | None:
        row = self.query_one("#queue", DataTable).cursor_row
        return self.rows[row] if self.rows and 0 <= row < len(self.rows) else None

    async def select(self) -> None:
        r = self.current
        await self.query_one("#page", DocumentPages).show(r["uuid"] if r else None, r["pages"] if r else 0)
        self.query_one("#choice", Static).update(
            f"{r['patient']} · {r['type']} · {r['date']}   A pass   X fail" if r else "Nothing waiting for QA.")

    async def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        await self.select()

    async def _record(self, passed: bool, reason: str = "") -> None:
        r = self.current
        app = self.app
        row = self.query_one("#queue", DataTable).cursor_row
        try:
            await app.desk_call(intake.record_qa, app.desk, app.actor, r["uuid"], passed=passed,
                                legible=reason != "illegible", reason=reason)
        except DeskError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify("Passed: its paper may be shredded." if passed else f"Failed ({reason}): back to {r['by']}.")
        await self.reload(keep=row)

    async def action_qa_pass(self) -> None:
        if self.current is not None:
            await self._record(True)

    def action_qa_fail(self) -> None:
        if self.current is not None:
            self.run_worker(self._fail(), group="qa", exclusive=True)

    async def _fail(self) -> None:
        reason = await self.app.push_screen_wait(
            ChoiceDialog("Why does it fail QA?", [(r, r) for r in intake.QA_FAIL_REASONS]))
        if reason is not None:
            await self._record(False, reason)
