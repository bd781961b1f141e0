"""The patient chart view: demographics, visits, documents, releases, paper charts, deficiencies, access log."""

from __future__ import annotations

import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from recdesk import clock, users
from recdesk.display import when
from recdesk.documents import filing, intake
from recdesk.patients.chart import Chart, assign
from recdesk.patients.search import age
from recdesk.roles import MANAGERS
from screens.base import FAILED, DeskScreen
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.patient import PatientPicker
from screens.dialogs.text import TextDialog
from screens.document import DocumentScreen, restricted_banner
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.plain import Plain
from screens.widgets.results import FLAG_LABELS
from screens.widgets.table import DeskTable

TABS = [
    ("patient", "1 Patient"), ("visits", "2 Visits"), ("documents", "3 Docs"), ("releases", "4 Releases"),
    ("paper", "5 Paper"), ("deficiencies", "6 Deficiencies"), ("access", "7 Access"),
]
HELP = (
    "The chart of one patient. Keys 1-7 switch sections: 1 demographics and insurance, 2 visits,\n"
    "3 documents (type, date, pages, QA state), 4 release requests and disclosures, 5 paper chart\n"
    "volumes and where they are, 6 deficiencies, 7 who opened this chart. Up/Down move in a list.\n"
    "In 3 Docs, Enter opens the highlighted document's pages (Left/Right turn them); M corrects a misfile.\n"
    "C prints a cover sheet for scanning this patient's papers. Esc or F2 goes back to the search prompt.\n"
    "A (managers, restricted records) assigns a desk user to this patient: a standing need to open it.\n"
    "Opening a chart or a document is recorded in the audit trail. A restricted record shows a banner; opened\n"
    "by break-glass, it says when that access ends: after it, documents open only by breaking the glass again."
)


def _d(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


class ChartScreen(DeskScreen):
    """One patient's chart."""

    SCREEN_NAME = "Chart"
    HELP = HELP
    CHANGING = frozenset({"move", "assign"})
    BINDINGS = [
        *[Binding(str(n), f"section('{tab_id}')", label, show=False, id=f"chart.section_{n}")
          for n, (tab_id, label) in enumerate(TABS, start=1)],
        Binding("escape", "back", "Back", id="chart.back"),
        Binding("m", "move", "Correct misfile", id="chart.move"),
        Binding("c", "coversheet", "Cover sheet", id="chart.coversheet"),
        Binding("a", "assign", "Assign user", id="chart.assign"),
    ]

    DEFAULT_CSS = """
    ChartScreen .restricted { height: 1; color: ansi_yellow; text-style: bold reverse; }
    """

    def __init__(self, chart: Chart) -> None:
        super().__init__()
        self.chart = chart

    def compose(self) -> ComposeResult:
        p = self.chart.patient
        yield DeskHeader(f"Chart of {p.display_name[:30]} · MRN {p.mrn}")
        flags = "  ".join(FLAG_LABELS[f] for f in p.flags)
        dob = f"{p.dob.isoformat()} (age {age(p.dob)})" if p.dob else "unknown"
        yield Plain(f" {p.display_name}   DOB {dob}   Sex {p.sex}   MRN {p.mrn}   {flags}", id="banner")
        if self.chart.opened.restricted:
            yield Plain(restricted_banner(self.chart, self.desk.config.zone), id="restricted-banner",
                        classes="restricted")
        with TabbedContent(id="sections"):
            for tab_id, label in TABS:
                with TabPane(label, id=tab_id):
                    if tab_id == "patient":
                        yield Plain(self._demographics(), id="demographics")
                    else:
                        yield DeskTable(id=f"{tab_id}-table", cursor_type="row", zebra_stripes=False)
        yield DeskFooter()

    def _demographics(self) -> str:
        p = self.chart.patient
        a = p.address or {}
        lines = [
            f"Name      {p.last}, {p.first} {p.middle}".rstrip(),
            f"DOB       {p.dob.isoformat() if p.dob else ''}    Sex {p.sex}    SSN last 4  {p.ssn_last4 or '----'}",
            f"Phone     {p.phone}",
            f"Address   {a.get('street', '')}, {a.get('city', '')} {a.get('state', '')} {a.get('zip', '')}",
            "",
            "Insurance",
        ]
        lines += [f"  {i + 1}. {ins['payer']:<28} member {ins['member_id']}  group {ins['group']}"
                  for i, ins in enumerate(p.insurance)] or ["  none on file"]
        return "\n".join(lines)

    def on_mount(self) -> None:
        c = self.chart
        if c.opened.need == "break_glass":  # one repaint when the access ends, no ticking clock
            self.set_timer(max(1.0, (c.opened.expires - clock.now()).total_seconds()), self._glass_ended)
        self._fill("visits", ["Type", "Admitted", "Discharged", "Service", "Attending"],
                   [(e["kind"], _d(e["admit"]), _d(e["discharge"]), e["service"], e["attending"])
                    for e in c.encounters])
        self._fill("documents", ["Type", "Date", "Pages", "QA", "Title"],
                   [(d["type"], _d(d["date"]), str(d["pages"]), d["qa"], d["title"]) for d in c.documents])
        self._fill("releases", ["Received", "Requester", "Purpose", "Status", "Due"],
                   [(_d(r["received"]), r["requester"], r["purpose"], r["status"], _d(r["due"])) for r in c.releases]
                   + [(_d(d["date"]), d["recipient"] or "", d["purpose"], "disclosed", "") for d in c.disclosures])
        self._fill("paper", ["Vol", "Home", "Now at", "Status", "Borrower", "Due back"],
                   [(str(v["volume"]), v["home"], v["current"], v["status"], v["borrower"], _d(v["due_back"]))
                    for v in c.volumes])
        self._fill("deficiencies", ["Deficiency", "Provider", "Status", "Opened"],
                   [(d["kind"], d["provider"], d["status"], _d(d["opened"])) for d in c.deficiencies])
        tz = self.desk.config.zone
        self._fill("access", ["When", "User", "Restricted"],
                   [(when(a["at"], tz), a["user"], "yes" if a["sensitive"] else "") for a in c.access])

    def _fill(self, tab_id: str, columns: list[str], rows: list[tuple]) -> None:
        table = self.query_one(f"#{tab_id}-table", DataTable)
        table.add_columns(*columns)
        if rows:
            table.add_rows(rows)
        else:
            table.add_row(*(["none on file"] + [""] * (len(columns) - 1)))

    def action_section(self, tab_id: str) -> None:
        self.query_one("#sections", TabbedContent).active = tab_id
        pane = self.query_one(f"#{tab_id}")
        tables = pane.query(DataTable)
        if tables:
            tables.first().focus()

    def can(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "assign":  # a manager gives a user a standing need for this restricted record
            return self.actor.role in MANAGERS and self.chart.patient.sensitive
        return True

    def action_assign(self) -> None:
        self.flow(self._assign())

    async def _assign(self) -> None:
        people = await self.run(users.listing)
        if not people:
            return
        standing = self.desk.config.restricted.roles
        choices = [(u["name"], f"{u['name']} ({u['role']}) {u['full_name']}".strip()) for u in people
                   if not u["disabled"] and u["role"] not in standing]
        if not choices:
            self.notify("Every desk user has a standing need here by their role.", timeout=4)
            return
        name = await self.ask(ChoiceDialog("Assign to this restricted record (a standing need, audited):", choices))
        if name is not None:
            await self.run(assign, name, self.chart.patient.uuid,
                           done=f"{name} is assigned: they open this record with a purpose, no break-glass.")

    def _glass_ended(self) -> None:
        self.query_one("#restricted-banner", Static).update(
            f" BREAK-GLASS ENDED {when(self.chart.opened.expires, self.desk.config.zone, '%H:%M')} · documents open "
            "only by breaking it again")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter in 3 Docs: the document's pages."""
        if event.data_table.id == "documents-table" and 0 <= event.cursor_row < len(self.chart.documents):
            self.flow(self._view(self.chart.documents[event.cursor_row]))

    async def _view(self, document: dict) -> None:
        """Read the document through the audited read service, by the same rule as the chart (the purpose it was
        opened with; a break-glass access that has ended asks again), and show its pages."""
        data, _ = await self.with_purpose(intake.document_bytes, document["uuid"], purpose=self.chart.opened.purpose)
        if data:
            await self.app.push_screen(DocumentScreen(self.chart, document, data))

    def action_back(self) -> None:
        self.app.pop_screen()

    async def action_coversheet(self) -> None:
        """Print a cover sheet for this patient: a batch scanned behind it is suggested to them at intake."""
        await self.print_out("coversheet", "Cover sheet", intake.coversheet, self.chart.patient.mrn)

    def action_move(self) -> None:
        """Correct a misfiled document: another patient, type or date, with a reason (documents section)."""
        if self.query_one("#sections", TabbedContent).active != "documents" or not self.chart.documents:
            self.notify("Go to 3 Docs and pick the document to correct.", severity="warning")
            return
        row = self.query_one("#documents-table", DataTable).cursor_row
        self.flow(self._move(self.chart.documents[row]))

    async def _move(self, document: dict) -> None:
        what = await self.ask(ChoiceDialog(f"Correct {document['type']} of {_d(document['date'])}:", [
            ("patient", "Move it to another patient"), ("type", "Change its document type"),
            ("date", "Change its date of service")]))
        change: dict = {}
        if what == "patient":
            patient = await self.ask(PatientPicker())
            if patient is not None:
                change["patient_uuid"] = patient.uuid
        elif what == "type":
            types = filing.type_labels(self.desk)
            code = await self.ask(ChoiceDialog("New document type:", sorted(types.items(), key=lambda t: t[1])))
            if code is not None:
                change["doc_type"] = code
        elif what == "date":
            answer = await self.ask(TextDialog("New date of service:", kind="date"))
            if answer is not None:
                change["service_date"] = datetime.date.fromisoformat(answer)
        if not change:
            return
        reason = await self.ask(TextDialog("Reason (kept in the document's history):"))
        if reason is None:
            return
        if await self.run(intake.move, document["uuid"], reason=reason, done="Corrected; the document waits for QA "
                          "again.", **change) is not FAILED:
            self.app.request_chart(self.chart.patient.uuid)
