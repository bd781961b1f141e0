"""The intake screen: walk the unfiled queue, read each page, pick patient, type and date, file with one key."""

from __future__ import annotations

import datetime

from textual.binding import Binding
from textual.widgets import DataTable, Static

from recdesk.display import when
from recdesk.documents import filing, intake
from recdesk.patients.registry import PatientDetails
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.patient import PatientPicker
from screens.dialogs.text import TextDialog
from screens.documentqueue import DocumentQueueScreen
from screens.widgets.pages import DocumentPages

HELP = (
    "Scanned documents waiting to be filed, oldest first; those QA sent back to you come first.\n"
    "Up/Down pick a document; Left/Right turn its pages. S scans the inbox now.\n"
    "P picks the patient (the search prompt; a suggested MRN from the page is typed for you),\n"
    "T the document type (type its first letters to jump), D the date of service (a date found on the first\n"
    "page is filled in for you: check it; never before the patient's birth), E the encounter (optional).\n"
    "F files it (it then waits for QA) and moves on.\n"
    "Quarantined files are listed last with their reason: their bytes are kept, encrypted;\n"
    "`recdesk intake export ID -o FILE` gets one back."
)


NO_ENCOUNTER = "none"


class IntakeScreen(DocumentQueueScreen):
    SCREEN_NAME = "Intake: index scanned documents"
    HELP = HELP
    BINDINGS = [
        Binding("s", "scan", "Scan", tooltip="Scan the inbox", id="intake.scan"),
        Binding("p", "pick_patient", "Patient", id="intake.patient"),
        Binding("t", "pick_type", "Type", id="intake.type"),
        Binding("d", "pick_date", "Date", id="intake.date"),
        Binding("e", "pick_encounter", "Encounter", id="intake.encounter"),
        Binding("f", "file", "File", tooltip="File it and move on", id="intake.file"),
    ]
    COLUMNS = ("Received", "Pages", "State")
    CHANGING = frozenset({"scan", "pick_patient", "pick_type", "pick_date", "pick_encounter", "file"})

    def __init__(self) -> None:
        super().__init__()
        self.docs: list[intake.IntakeRow] = []
        self.choice: dict[str, object] = {}

    async def reload(self, keep: int = 0) -> None:
        self.docs = await self.call(intake.intake_rows)
        table = self.query_one("#queue", DataTable)
        table.clear()
        for doc in self.docs:
            if doc.quarantined:
                state = f"QUARANTINED: {doc.quarantined[:40]}"
            elif doc.qa_failed:
                state = f"QA failed: {doc.qa_failed[:30]}"
            else:
                state = "new"
            table.add_row(when(doc.received_at, self.desk.config.zone, "%m-%d %H:%M"), str(doc.pages), state)
        if self.docs:
            table.move_cursor(row=min(keep, len(self.docs) - 1))
        await self.select(table.cursor_row if self.docs else None)

    @property
    def current(self) -> intake.IntakeRow | None:
        row = self.query_one("#queue", DataTable).cursor_row
        return self.docs[row] if self.docs and 0 <= row < len(self.docs) else None

    async def select(self, row: int | None) -> None:
        self.choice = {}
        doc = self.current if row is not None else None
        pages = self.query_one("#page", DocumentPages)
        if doc is None or doc.quarantined:
            await pages.show(None, 0)
            self.query_one("#choice", Static).update(
                "Nothing to file: press S to scan the inbox." if doc is None else f"Quarantined: {doc.quarantined}")
            return
        await pages.show(doc.uuid, doc.pages)  # its first page: what the suggestions are read from
        self.choice["suggested"] = intake.suggested_query(pages.text)
        found = intake.suggested_service_date(pages.text)
        if found is not None:  # pre-filled from the page; D changes it
            self.choice["date"], self.choice["date_from_page"] = found.isoformat(), True
        self.show_choice()

    def show_choice(self) -> None:
        patient: PatientDetails | None = self.choice.get("patient")  # type: ignore[assignment]
        parts = [
            f"Patient: {patient.display_name} MRN {patient.mrn}" if patient else
            (f"Patient: ? (P; page suggests {self.choice['suggested']})" if self.choice.get("suggested")
             else "Patient: ? (P)"),
            f"Type: {self.choice.get('type_label', '? (T)')}",
            f"Date: {self.choice['date']}" + (" (from the page; D changes it)" if self.choice.get("date_from_page")
                                               else "") if "date" in self.choice else "Date: ? (D)",
        ]
        if "encounter_label" in self.choice:
            parts.append(f"Encounter: {self.choice['encounter_label']}")
        self.query_one("#choice", Static).update("   ".join(parts) + ("   F files it" if self.ready else ""))

    @property
    def ready(self) -> bool:
        return all(k in self.choice for k in ("patient", "type", "date"))

    async def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        await self.select(event.cursor_row)

    @property
    def fileable(self) -> intake.IntakeRow | None:
        """The highlighted document when it can be filed (not quarantined)."""
        doc = self.current
        return doc if doc is not None and not doc.quarantined else None

    async def action_scan(self) -> None:
        report = await self.run(intake.scan, worker=self.app.pdf_worker)
        if not report:
            return
        self.notify(f"{len(report.received)} received, {len(report.quarantined)} quarantined, "
                    f"{report.duplicates} duplicates")
        for name, why in report.refused:
            self.notify(f"Refused {intake.shown_name(name)}: {why}; {intake.REFUSED_ADVICE}", severity="warning")
        await self.reload()

    def action_pick_patient(self) -> None:
        if self.fileable:
            self.flow(self._pick_patient())

    async def _pick_patient(self) -> None:
        patient = await self.ask(PatientPicker(str(self.choice.get("suggested") or "")))
        if patient is not None:
            self.choice["patient"] = patient
            self.choice.pop("encounter", None)  # an encounter belongs to the patient picked before
            self.choice.pop("encounter_label", None)
            self.show_choice()
            date = self.choice.get("date")
            if date and patient.dob and datetime.date.fromisoformat(date) < patient.dob:
                self.notify(f"The date of service {date} is before this patient's birth ({patient.dob}): "
                            "D changes it, or pick another patient.", severity="warning")

    def action_pick_type(self) -> None:
        if self.fileable:
            self.flow(self._pick_type())

    async def _pick_type(self) -> None:
        types = filing.type_labels(self.desk)
        code = await self.ask(ChoiceDialog("Document type:", sorted(types.items(), key=lambda t: t[1]),
                                                            self.choice.get("type")))
        if code is not None:
            self.choice["type"], self.choice["type_label"] = code, types[code]
            self.show_choice()

    def action_pick_date(self) -> None:
        if self.fileable:
            self.flow(self._pick_date())

    async def _pick_date(self) -> None:
        patient: PatientDetails | None = self.choice.get("patient")  # type: ignore[assignment]
        answer = await self.ask(
            TextDialog("Date of service:", str(self.choice.get("date", "")), "2026-11-20 or 11/20/2026", kind="date",
                       earliest=patient.dob if patient else None, earliest_is="the patient's birth"))
        if answer is not None:
            self.choice["date"] = answer
            self.choice.pop("date_from_page", None)
            self.show_choice()

    def action_pick_encounter(self) -> None:
        if not self.fileable:
            return
        if "patient" not in self.choice:
            self.notify("Pick the patient (P) first: the encounter is one of theirs.", severity="warning")
            return
        self.flow(self._pick_encounter())

    async def _pick_encounter(self) -> None:
        encounters = await self.read(intake.encounters_of, self.choice["patient"].uuid)
        choices = [(NO_ENCOUNTER, "No encounter (not tied to a visit)"), *encounters]
        uid = await self.ask(ChoiceDialog("Encounter:", choices, self.choice.get("encounter")))
        if uid is not None:
            self.choice["encounter"] = None if uid == NO_ENCOUNTER else uid
            self.choice["encounter_label"] = dict(choices)[uid]
            self.show_choice()

    async def action_file(self) -> None:
        doc = self.fileable
        if doc is None:
            return
        if not self.ready:
            self.notify("Pick the patient (P), type (T) and date (D) first.", severity="warning")
            return
        patient = self.choice["patient"]
        await self.run(intake.file_to_patient, doc.uuid, patient.uuid, self.choice["type"],
                       datetime.date.fromisoformat(self.choice["date"]), self.choice.get("encounter"),
                       done=f"Filed to {patient.display_name}; it waits for QA.", refresh=self.reload_here)
