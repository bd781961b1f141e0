"""A patient's accounting of disclosures (164.528): six years of accountable disclosures, printable as a PDF."""

from __future__ import annotations

import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from recdesk.release import accounting, rules
from screens.base import DeskScreen
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.text import TextDialog
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.plain import Plain
from screens.widgets.table import DeskTable

HELP = (
    "The disclosures the patient is entitled to hear about, over the last six years: subpoenas and court\n"
    "orders, public health, oversight, research under a waiver and the like. Disclosures to the patient, for\n"
    "treatment, payment or operations, and under the patient's authorization are exempt and not listed.\n"
    "P prints the accounting for the patient (the first in 12 months is free). N records a disclosure that did\n"
    "not go out as a packet from this desk (a public-health report, a business associate's disclosure, an\n"
    "impermissible one): whether it is accountable follows from its basis. S records an agency's request to\n"
    "suspend the accounting of its disclosures (164.528(a)(2), D5): written for the period it states, oral for\n"
    "at most 30 days; while it lasts those disclosures are left out (the count shows here, never to the\n"
    "patient). Esc goes back."
)


class AccountingScreen(DeskScreen):
    SCREEN_NAME = "Accounting of disclosures"
    HELP = HELP
    CHANGING = frozenset({"record_disclosure", "suspend", "print"})  # a print is delivering it to the patient (D4)
    BINDINGS = [
        Binding("p", "print", "Print", id="accounting.print"),
        Binding("n", "record_disclosure", "Record a disclosure", id="accounting.record"),
        Binding("s", "suspend", "Suspend for an agency", id="accounting.suspend"),
        Binding("escape", "back", "Back", id="accounting.back"),
    ]
    DEFAULT_CSS = """
    AccountingScreen #summary { height: 3; padding: 0 1; }
    AccountingScreen #disclosures { height: 1fr; }
    """

    def __init__(self, patient_uuid: str) -> None:
        super().__init__()
        self.patient_uuid = patient_uuid
        self.accounting: accounting.Accounting | None = None

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        yield Plain("", id="summary")
        yield DeskTable(id="disclosures", cursor_type="row")
        yield DeskFooter()

    async def on_mount(self) -> None:
        self.query_one("#disclosures", DataTable).focus()
        await self.reload()

    async def reload(self) -> None:
        a = await self.run(accounting.accounting, self.patient_uuid)
        if not a:
            return
        table = self.query_one("#disclosures", DataTable)
        table.clear(columns=True)  # the columns are sized again to what they now hold
        table.add_columns("Date", "Recipient", "What", "Purpose")
        self.accounting = a
        for r in a.rows:
            table.add_row(r.disclosed_on.isoformat(), r.recipient[:20], r.description[:30],
                          r.purpose.replace("_", " ")[:14])
        self.query_one("#summary", Static).update(
            f"{a.patient_name}  MRN {a.mrn}\n{a.window[0]} to {a.window[1]}: {len(a.rows)} accountable disclosure(s)."
            f" {'Free (first in 12 months).' if a.free else 'A fee applies: tell the patient first.'}"
            + (f" {a.withheld} held back under an agency's suspension (D5)." if a.withheld else ""))

    async def action_print(self) -> None:
        await self.print_out("accounting", "Accounting", accounting.accounting_pdf, self.patient_uuid)

    def action_record_disclosure(self) -> None:
        self.flow(self._record())

    async def _record(self) -> None:
        ask = self.ask
        on = await ask(TextDialog("Disclosed on (date)?", datetime.date.today().isoformat(), kind="date"))
        recipient = on and await ask(TextDialog("To whom (name)?"))
        address = recipient and await ask(TextDialog("Their address (or - if not known)?"))
        description = address and await ask(TextDialog("What was disclosed?"))
        purpose = description and await ask(ChoiceDialog("For what purpose?", [
            (code, code.replace("_", " ")) for code in rules.PURPOSES]))
        basis = purpose and await ask(ChoiceDialog("On what basis?", [
            (name, f"{name.replace('_', ' ')}{' (accountable)' if accountable else ''}")
            for name, accountable in accounting.RECORDED_BASES.items()]))
        if not basis:
            return
        await self.run(accounting.record_disclosure, self.patient_uuid, disclosed_on=datetime.date.fromisoformat(on),
                       recipient=recipient, address="" if address.strip() == "-" else address,
                       description=description, purpose=purpose, basis=basis, done="Disclosure recorded.",
                       refresh=self.reload)

    def action_suspend(self) -> None:
        self.flow(self._suspend())

    async def _suspend(self) -> None:
        ask = self.ask
        known = sorted({r.recipient for r in (self.accounting.rows if self.accounting else [])})
        agency = await ask(ChoiceDialog("Which agency or official asked?", [(a, a) for a in known]
                                        + [("__other__", "Another (type its name as on its disclosures)")]))
        if agency == "__other__":
            agency = await ask(TextDialog("The agency's name, as on its disclosures?"))
        if not agency:
            return
        form = await ask(ChoiceDialog("How was it asked?", [
            ("oral", "Orally: at most 30 days unless a written statement follows"),
            ("written", "In writing, stating the period")]))
        if form is None:
            return
        ends = None
        if form == "written":
            ends = await ask(TextDialog("Until (the date the statement gives)?", kind="any_date"))
            if not ends:
                return
        await self.run(accounting.suspend_accounting, self.patient_uuid, agency=agency, starts_on=datetime.date.today(),
                       written=form == "written", ends_on=datetime.date.fromisoformat(ends) if ends else None,
                       done=f"Accounting of {agency}'s disclosures suspended.", refresh=self.reload)

    def action_back(self) -> None:
        self.app.pop_screen()
