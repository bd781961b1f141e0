"""A patient's accounting of disclosures (164.528): six years of accountable disclosures, printable as a PDF."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from recdesk import printing, roi
from recdesk.errors import DeskError
from screens.widgets import DeskHeader, DeskScreen

HELP = (
    "The disclosures the patient is entitled to hear about, over the last six years: subpoenas and court\n"
    "orders, public health, oversight, research under a waiver and the like. Disclosures to the patient, for\n"
    "treatment, payment or operations, and under the patient's authorization are exempt and not listed.\n"
    "P prints the accounting for the patient (the first in 12 months is free). Esc goes back."
)


class AccountingScreen(DeskScreen):
    SCREEN_NAME = "Accounting of disclosures"
    HELP = HELP
    BINDINGS = [
        Binding("p", "print", "Print", id="accounting.print"),
        Binding("escape", "back", "Back", id="accounting.back"),
    ]
    DEFAULT_CSS = """
    AccountingScreen #summary { height: 3; padding: 0 1; }
    AccountingScreen #disclosures { height: 1fr; }
    """

    def __init__(self, patient_uuid: str) -> None:
        super().__init__()
        self.patient_uuid = patient_uuid
        self.accounting: roi.Accounting | None = None

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        yield Static("", id="summary")
        yield DataTable(id="disclosures", cursor_type="row")
        yield Footer()

    async def on_mount(self) -> None:
        table = self.query_one("#disclosures", DataTable)
        table.add_columns("Date", "Recipient", "What", "Purpose")
        table.focus()
        app = self.app
        a = await app.desk_call(roi.accounting, app.desk, app.actor, self.patient_uuid)
        self.accounting = a
        for r in a.rows:
            table.add_row(r.disclosed_on.isoformat(), r.recipient[:20], r.description[:30],
                          r.purpose.replace("_", " ")[:14])
        self.query_one("#summary", Static).update(
            f"{a.patient_name}  MRN {a.mrn}\n{a.window[0]} to {a.window[1]}: {len(a.rows)} accountable disclosure(s)."
            f" {'Free (first in 12 months).' if a.free else 'A fee applies: tell the patient first.'}")

    async def action_print(self) -> None:
        app = self.app

        def send(desk, actor):
            return printing.send(desk, roi.accounting_pdf(desk, actor, self.patient_uuid), "accounting")

        try:
            where = await app.desk_call(send, app.desk, app.actor)
        except DeskError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"Accounting {where}.", timeout=8)

    def action_back(self) -> None:
        self.app.pop_screen()
