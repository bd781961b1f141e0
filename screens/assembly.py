"""F6 chart assembly: tomorrow's admissions and clinics, recent discharges, each chart's checklist, deficiencies by
provider with letters, and the printed chart."""

from __future__ import annotations

import datetime as dt
import re

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from recdesk.completion import assembly, rules
from recdesk.errors import DeskError
from screens.base import FAILED, DeskScreen, printed
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.text import TextDialog
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.plain import Plain
from screens.widgets.table import DeskTable

HELP = (
    "Chart assembly. The list on top: A admissions (inpatient and same-day surgery) and C clinic visits of a "
    "day, tomorrow's first; [ and ] go a day back or ahead. D lists recent discharges whose charts are "
    "incomplete, oldest first (! after the age: delinquent; ! before a name: a restricted record, opened only "
    "with a purpose of access). Q lists open deficiencies by provider with the C6 delinquency "
    "rate: Enter shows a provider's deficiencies, L prints a letter to the provider listing them by MRN, and K "
    "closes the one highlighted.\n\n"
    "Enter on an encounter opens its checklist in the site's chart order: each item is present (with the "
    "document that serves it), MISSING, late, DEFICIENT, pending (not due yet) or n/a. On an item: T attaches "
    "one of the patient's filed documents to it (choose an [attached] one to detach it); X records a "
    "deficiency on it: its type, the provider it is assigned to, then a note (Enter for none); K closes an open "
    "deficiency once the provider has completed it. P prints the chart: a face sheet, a sheet of ID labels and "
    "its documents in chart order. Esc goes back.\n\n"
    "Deficiencies age from discharge; a chart with a deficiency still open 30 days after discharge is "
    "delinquent (C4; [completion] delinquent_days sets the days): D, Q and the review (F9) count those charts. "
    "Every list and chart you open is in the audit trail."
)
LIST_VIEWS = ("admissions", "clinics", "discharges", "queue", "provider")
WORK_VIEWS = ("admissions", "clinics", "discharges")
STATE_WORDS = {"present": "present", "missing": "MISSING", "late": "late", "deficient": "DEFICIENT",
               "pending": "pending", "not_applicable": "n/a"}
KIND_WORDS = {"inpatient": "inp", "outpatient": "clin", "ed": "ed", "surgery": "surg"}
_DUE = re.compile(r"[Dd]ue (?:by )?(\d{4}-\d{2}-\d{2}) \d{2}:\d{2}")
WIDTH = 78
KEEP = "keep"  # the default answer of the close dialog: No


def _cut(text: str, width: int) -> str:
    text = str(text or "")
    return text if len(text) <= width else text[: width - 1] + "…"


def _short(label: str, width: int) -> str:
    """A label cut to width, keeping a closing "(...)" that tells two items apart: "Important… (admission)"."""
    if len(label) <= width or not label.endswith(")") or " (" not in label:
        return _cut(label, width)
    head, tail = label.rsplit(" (", 1)
    tail = f" ({tail}"
    room = width - len(tail) - 1
    return _cut(label, width) if room < 6 else head[:room].rstrip() + "…" + tail


def _md(moment: dt.datetime | dt.date | None) -> str:
    return moment.strftime("%m-%d") if moment else ""


def _add(table: DataTable, *cells: object) -> None:
    """A row of plain text (a DeskTable never reads names, notes and labels as markup)."""
    table.add_row(*(str(c) for c in cells))


class AssemblyScreen(DeskScreen):
    """Chart assembly and deficiency work."""

    SCREEN_NAME = "Chart assembly"
    HELP = HELP
    CHANGING = frozenset({"attach", "deficiency", "close_deficiency", "provider_letter"})
    DEFAULT_CSS = """
    AssemblyScreen #asm-status { height: 1; padding: 0 1; color: ansi_cyan; text-style: bold; }
    AssemblyScreen #asm-banner { height: 2; padding: 0 1; text-style: bold; }
    AssemblyScreen #asm-list, AssemblyScreen #asm-items { height: 1fr; scrollbar-size-vertical: 1; }
    AssemblyScreen #asm-detail { height: 2; padding: 0 1; border-top: none; }
    AssemblyScreen .hidden { display: none; }
    """
    BINDINGS = [
        Binding("a", "show('admissions')", "Admissions", id="assembly.admissions"),
        Binding("c", "show('clinics')", "Clinics", id="assembly.clinics"),
        Binding("d", "show('discharges')", "Discharges", id="assembly.discharges"),
        Binding("q", "show('queue')", "Deficiencies", id="assembly.queue"),
        Binding("left_square_bracket", "day(-1)", "Day before", show=False, id="assembly.previous_day"),
        Binding("right_square_bracket", "day(1)", "Day after", show=False, id="assembly.next_day"),
        Binding("enter", "open", "Open", show=False, id="assembly.open"),
        Binding("t", "attach", "Attach", id="assembly.attach"),
        Binding("x", "deficiency", "Deficiency", id="assembly.deficiency"),
        Binding("k", "close_deficiency", "Close def", id="assembly.close_deficiency"),
        Binding("l", "provider_letter", "Letter", id="assembly.provider_letter"),
        Binding("p", "print_chart", "Print", id="assembly.print"),
        Binding("escape", "back", "Back", id="assembly.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = "admissions"
        self.day = dt.date.today() + dt.timedelta(days=1)
        self.rows: list = []
        self.provider: assembly.ProviderRow | None = None
        self.rate: assembly.Rate | None = None
        self.late: assembly.Delinquency | None = None  # the desk's one delinquency figure
        self.chart: assembly.Assembly | None = None
        self.purpose: str | None = None
        self.lines: list[tuple[assembly.ItemRow | None, assembly.DeficiencyRow | None]] = []

    # --- layout

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        yield Plain("", id="asm-status")
        yield Plain("", id="asm-banner", classes="hidden")
        yield DeskTable(id="asm-list", cursor_type="row")
        yield DeskTable(id="asm-items", cursor_type="row", classes="hidden")
        yield Plain("", id="asm-detail")
        yield DeskFooter()

    async def on_mount(self) -> None:
        self.query_one("#asm-list", DataTable).focus()
        await self.load()

    @property
    def in_chart(self) -> bool:
        return self.chart is not None

    def can(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("attach", "deficiency"):
            return self.in_chart
        if action == "close_deficiency":
            return self.in_chart or self.view == "provider"
        if action in ("show",):
            return not self.in_chart
        if action == "day":
            return not self.in_chart and self.view in ("admissions", "clinics")
        if action == "provider_letter":
            return not self.in_chart and self.view in ("queue", "provider")
        if action == "print_chart":
            return self.in_chart or self.view in ("admissions", "clinics", "discharges", "provider")
        return True

    # --- the list on top

    def _day_words(self) -> str:
        today = dt.date.today()
        name = {today: "today", today + dt.timedelta(days=1): "tomorrow",
                today - dt.timedelta(days=1): "yesterday"}.get(self.day)
        return f"{name}, {self.day:%a %Y-%m-%d}" if name else f"{self.day:%a %Y-%m-%d}"

    async def load(self, keep: int = 0) -> None:
        """Fetch and show the current list view."""
        try:
            if self.view in WORK_VIEWS:
                day = dt.date.today() if self.view == "discharges" else self.day
                self.rows = await self.call(assembly.worklist, day, self.view)
                if self.view == "discharges":
                    self.late = await self.read(assembly.delinquency)
            elif self.view == "queue":
                self.rows = await self.call(assembly.provider_queue)
                self.rate = await self.read(assembly.delinquency_rate)
            else:
                self.rows = await self.call(assembly.deficiencies, provider=self.provider.provider_id)
        except DeskError as exc:
            self.rows = []
            self.say_error(str(exc))
        self._fill_list(keep)

    def _fill_list(self, keep: int) -> None:
        table = self.query_one("#asm-list", DataTable)
        table.clear(columns=True)
        status = self.query_one("#asm-status", Static)
        if self.view in ("admissions", "clinics"):
            for label, width in (("Patient", 20), ("MRN", 8), ("Kind", 4), ("Admit", 11), ("Attending", 14),
                                 ("Miss", 4), ("Def", 3)):
                table.add_column(label, width=width)
            for r in self.rows:
                _add(table, _cut(("! " if r.sensitive else "") + r.name, 20), r.mrn, KIND_WORDS[r.kind],
                     r.admit_at.strftime("%m-%d %H:%M"), _cut(r.attending, 14), str(r.missing),
                     str(r.deficient))
            status.update(_cut(f"{self.view.capitalize()} {self._day_words()}: {len(self.rows)} "
                               f"encounter{'s' if len(self.rows) != 1 else ''}   [ ] day before/after", WIDTH))
        elif self.view == "discharges":
            for label, width in (("Patient", 20), ("MRN", 8), ("Kind", 4), ("Disch", 5), ("Age", 4),
                                 ("Attending", 14), ("Miss", 4), ("Def", 3)):
                table.add_column(label, width=width)
            for r in self.rows:
                _add(table, _cut(("! " if r.sensitive else "") + r.name, 20), r.mrn, KIND_WORDS[r.kind],
                     _md(r.discharge_at), f"{r.age_days}{'!' if r.delinquent else ''}",
                     _cut(r.attending, 14), str(r.missing), str(r.deficient))
            late = self.late.text if self.late else ""
            status.update(_cut(f"{len(self.rows)} incomplete · {late}", WIDTH))
        elif self.view == "queue":
            for label, width in (("Provider", 30), ("Open", 5), ("Charts", 6), ("Delinq", 6), ("Oldest", 6)):
                table.add_column(label, width=width)
            for r in self.rows:
                _add(table, _cut(r.provider, 30), str(r.open), str(r.charts), str(r.delinquent),
                     f"{r.oldest_days}d")
            status.update(_cut(self.rate.text if self.rate else "", WIDTH))
        else:
            for label, width in (("Patient", 18), ("MRN", 8), ("Deficiency", 22), ("Disch", 5), ("Age", 4)):
                table.add_column(label, width=width)
            for r in self.rows:
                _add(table, _cut(r.name, 18), r.mrn, _cut(r.label, 22), _md(r.discharge_at),
                     f"{r.age_days}{'!' if r.delinquent else ''}")
            p = self.provider
            status.update(_cut(f"{p.provider}: {len(self.rows)} open, {sum(r.delinquent for r in self.rows)} "
                               "on delinquent charts (!)", WIDTH))
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1))
        self._list_detail()
        self.refresh_bindings()

    @property
    def current(self):
        table = self.query_one("#asm-list", DataTable)
        row = table.cursor_row
        return self.rows[row] if self.rows and 0 <= row < len(self.rows) else None

    def _list_detail(self) -> None:
        r = self.current
        detail = self.query_one("#asm-detail", Static)
        if r is None:
            detail.update({"admissions": "No admissions on this day: [ and ] change the day, C shows clinics.",
                           "clinics": "No clinic visits on this day: [ and ] change the day.",
                           "discharges": "No recent discharge is waiting for its chart to be completed.",
                           "queue": "No open deficiencies.", "provider": "No open deficiencies."}[self.view])
        elif isinstance(r, assembly.WorkRow):
            detail.update(f"{r.service} · {r.attending}\n{r.present}/{r.required} on file, {r.pending} not due, "
                          f"{r.missing} missing, {r.deficient} deficient.   Enter opens the checklist.")
        elif isinstance(r, assembly.ProviderRow):
            detail.update(f"{r.provider} {('· ' + r.service) if r.service else ''}\n"
                          "Enter lists the deficiencies, L prints a letter to the provider.")
        else:
            detail.update(f"{r.label} · opened {r.opened_at:%Y-%m-%d} by {r.opened_by}\n{r.note}")

    async def action_show(self, view: str) -> None:
        if self.in_chart or view not in LIST_VIEWS:
            return
        self.view = view
        self.provider = None
        await self.load()

    async def action_day(self, delta: int) -> None:
        if self.view in ("admissions", "clinics") and not self.in_chart:
            self.day += dt.timedelta(days=delta)
            await self.load()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "asm-list":
            self._list_detail()
        else:
            self._item_detail()

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "asm-list":
            await self.action_open()

    async def action_open(self) -> None:
        if self.in_chart:
            return
        r = self.current
        if isinstance(r, assembly.ProviderRow):
            self.provider, self.view = r, "provider"
            await self.load()
        elif r is not None and r.encounter_uuid:
            self.flow(self._open_flow(r.encounter_uuid))

    async def _open_flow(self, encounter_uuid: str) -> None:
        chart, purpose = await self.with_purpose(assembly.assemble, encounter_uuid)
        if chart is FAILED:
            return
        self.chart, self.purpose = chart, purpose
        self.query_one("#asm-list").add_class("hidden")
        self.query_one("#asm-banner").remove_class("hidden")
        items = self.query_one("#asm-items", DataTable)
        items.remove_class("hidden")
        self._fill_items(0)
        items.focus()

    # --- the checklist

    def _fill_items(self, keep: int) -> None:
        a = self.chart
        p = a.patient
        table = self.query_one("#asm-items", DataTable)
        table.clear(columns=True)
        for label, width in (("Item", 28), ("State", 9), ("Document", 15), ("Due / note", 16)):
            table.add_column(label, width=width)
        self.lines = [(item, None) for item in a.items] + [(None, d) for d in a.other]
        for item, other in self.lines:
            if item is not None:
                doc = item.documents[0] if item.documents else None
                document = f"{_md(doc.service_date)} {doc.type_label}" if doc else ""
                if len(item.documents) > 1:
                    document = f"+{len(item.documents) - 1} {document}"
                if item.deficiencies:
                    note = item.deficiencies[0].provider or item.deficiencies[0].label
                else:
                    due = _DUE.search(item.message)
                    note = f"due {due.group(1)}" if due and item.state in ("missing", "pending") else ""
                    if item.state == "late":
                        note = "signed late"
                _add(table, _short(item.label, 28), STATE_WORDS[item.state], _cut(document, 15), _cut(note, 16))
            else:
                _add(table, _cut(f"+ {other.label}", 28), STATE_WORDS["deficient"], "", _cut(other.provider, 16))
        if self.lines:
            table.move_cursor(row=min(keep, len(self.lines) - 1))
        dob = p.dob.isoformat() if p.dob else "?"
        stay = f"{a.admit_at:%m-%d %H:%M} to {a.discharge_at:%m-%d %H:%M}" if a.discharge_at else \
            f"{a.admit_at:%m-%d %H:%M}, in house"
        applies = [i for i in a.items if i.state != "not_applicable"]
        on_file = sum(1 for i in applies if i.state in ("present", "late"))
        state = f"{on_file}/{len(applies)} on file"
        state += ": complete" if a.complete else (f", {a.count('missing')} missing, {a.count('deficient')} deficient, "
                                                  f"{a.count('pending')} not due")
        if a.discharge_at and not a.complete:
            state += f" · day {a.age_days}" + (" DELINQUENT" if a.delinquent else "")
        who = f"{p.display_name}  MRN {p.mrn}  DOB {dob}  {p.sex}{'  RESTRICTED' if p.sensitive else ''}"
        visit = f"{a.kind} {stay} · {a.service} · {a.attending or 'no attending'}"
        self.query_one("#asm-banner", Static).update(_cut(who, WIDTH) + "\n" + _cut(visit, WIDTH))
        self.query_one("#asm-status", Static).update(_cut(f"Checklist: {state}", WIDTH))
        self._item_detail()
        self.refresh_bindings()

    @property
    def line(self) -> tuple[assembly.ItemRow | None, assembly.DeficiencyRow | None]:
        row = self.query_one("#asm-items", DataTable).cursor_row
        return self.lines[row] if self.lines and 0 <= row < len(self.lines) else (None, None)

    def _item_detail(self) -> None:
        if not self.in_chart:
            return
        item, other = self.line
        detail = self.query_one("#asm-detail", Static)
        if item is not None:
            docs = "; ".join(d.label for d in item.documents)
            detail.update(f"{item.message}" + (f"  [{docs}]" if docs else "") + (f" ({item.rule})" if item.rule
                                                                                   else ""))
        elif other is not None:
            detail.update(f"Open deficiency: {other.label} ({other.provider or 'no provider'})"
                          + (f": {other.note}" if other.note else "") + "   K closes it.")
        else:
            detail.update("")

    async def reload_chart(self) -> None:
        keep = self.query_one("#asm-items", DataTable).cursor_row
        chart = await self.run(assembly.assemble, self.chart.encounter_uuid, purpose=self.purpose)
        if chart:
            self.chart = chart
            self._fill_items(keep)

    async def action_back(self) -> None:
        if self.in_chart:
            self.chart, self.purpose, self.lines = None, None, []
            self.query_one("#asm-items").add_class("hidden")
            self.query_one("#asm-banner").add_class("hidden")
            table = self.query_one("#asm-list", DataTable)
            table.remove_class("hidden")
            table.focus()
            await self.load(keep=table.cursor_row)
        elif self.view == "provider":
            self.view, self.provider = "queue", None
            await self.load()
        else:
            self.app.pop_screen()

    # --- changes

    def action_attach(self) -> None:
        item, _ = self.line
        if item is None:
            self.notify("Pick a checklist item to attach a document to.", severity="warning")
            return
        self.flow(self._attach_flow(item))

    async def _attach_flow(self, item: assembly.ItemRow) -> None:
        a = self.chart
        if not a.documents:
            self.notify("This patient has no filed documents: file the document at intake first.", severity="warning")
            return
        types = {t for i in rules.checklist(a.kind, self.desk.config.home) if i.code == item.code
                 for t in i.doc_types}
        docs = sorted(a.documents, key=lambda d: (d.doc_type not in types, d.where != "this"))
        choices = [(d.uuid, _cut(("[attached] " if d.uuid in item.attached else "") + d.label, 60)) for d in docs]
        current = next((d.uuid for d in docs if d.uuid not in item.attached), None)
        uuid = await self.ask(ChoiceDialog(f"Attach to {_cut(item.label, 48)}:", choices, current))
        if uuid is None:
            return
        fn, done = (assembly.detach, "Detached from") if uuid in item.attached else (assembly.attach, "Attached to")
        await self.run(fn, a.encounter_uuid, item.code, uuid, done=f"{done} {item.label}.", refresh=self.reload_chart)

    def action_deficiency(self) -> None:
        item, other = self.line
        if item is None and other is None:
            return
        self.flow(self._deficiency_flow(item))

    async def _deficiency_flow(self, item: assembly.ItemRow | None) -> None:
        a = self.chart
        kinds = await self.app.desk_call(rules.deficiency_types, self.desk.config.home)
        people = await self.read(assembly.provider_choices)
        if not people:
            self.notify("The desk has no providers to assign deficiencies to.", severity="error")
            return
        what = f" for {_cut(item.label, 40)}" if item else ""
        kind = await self.ask(ChoiceDialog(
            f"Deficiency{what}:",
            [(k.code, _cut(k.label + (f" ({k.rule})" if k.rule else ""), 60)) for k in kinds],
            item.suggested if item and item.suggested else None))
        if kind is None:
            return
        people = sorted(people, key=lambda p: p[0] != a.attending_id)  # the attending first
        choices = [(str(pid), _cut(name + (" · attending" if pid == a.attending_id else f" · {service}" if service
                                           else ""), 60)) for pid, name, service in people]
        provider = await self.ask(ChoiceDialog(
            "Assigned to:", choices, str(a.attending_id) if a.attending_id else None))
        if provider is None:
            return
        note = await self.ask(TextDialog("Note for the provider (Enter for none, Esc cancels):", optional=True,
                                         limit=assembly.NOTE_MAX))
        if note is None:
            return
        document = item.documents[0].uuid if item and len(item.documents) == 1 else None
        name = next(n for pid, n, _ in people if str(pid) == provider)
        # recorded on the item: it marks that item alone, even of a kind other items share
        await self.run(assembly.record_deficiency, a.encounter_uuid, kind, int(provider), note, document,
                       item=item.code if item else None, done=f"Deficiency recorded, assigned to {name}.",
                       refresh=self.reload_chart)

    def action_close_deficiency(self) -> None:
        if self.in_chart:
            item, other = self.line
            open_ = list(item.deficiencies) if item is not None else [other] if other is not None else []
        elif self.view == "provider" and self.current is not None:
            open_ = [self.current]
        else:
            return
        if not open_:
            self.notify("No open deficiency on this line: X records one.", severity="warning")
            return
        self.flow(self._close_flow(open_))

    async def _close_flow(self, open_: list[assembly.DeficiencyRow]) -> None:
        choices = [(KEEP, "No, keep it open")] + [
            (d.uuid, _cut(f"Close: {d.label} ({d.provider or 'no provider'})", 60)) for d in open_]
        uuid = await self.ask(ChoiceDialog("Has the provider completed it?", choices, KEEP))
        if uuid in (None, KEEP):
            return
        await self.run(assembly.close_deficiency, uuid, done="Deficiency closed.",
                       refresh=self.reload_chart if self.in_chart else self.reload_list)

    async def reload_list(self) -> None:
        await self.load(keep=self.query_one("#asm-list", DataTable).cursor_row)

    def action_print_chart(self) -> None:
        if self.in_chart:
            uuid = self.chart.encounter_uuid
        else:
            r = self.current
            if r is None or not getattr(r, "encounter_uuid", ""):
                return
            uuid = r.encounter_uuid
        self.flow(self._print_flow(uuid))

    async def _print_flow(self, encounter_uuid: str) -> None:
        where, _ = await self.with_purpose(printed, "chart", assembly.print_chart, encounter_uuid,
                                           purpose=self.purpose if self.in_chart else None)
        if where:
            self.say_done(f"Chart {where}.")

    def action_provider_letter(self) -> None:
        r = self.provider if self.view == "provider" else self.current
        if not isinstance(r, assembly.ProviderRow) or r.provider_id is None:
            self.notify("Pick a provider in the deficiency queue (Q).", severity="warning")
            return
        self.flow(self.print_out("deficiency-letter", f"Letter to {r.provider}", assembly.provider_letter,
                                 r.provider_id))
