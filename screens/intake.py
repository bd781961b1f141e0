"""The intake screen: walk the unfiled queue, read each page, pick patient, type and date, file with one key."""

from __future__ import annotations

import datetime

from textual.binding import Binding
from textual.widgets import DataTable, Static

from recdesk.documents import filing, intake
from recdesk.errors import DeskError
from recdesk.patients.registry import PatientDetails
from recdesk.vault.models import Document
from screens.pickers import ChoiceDialog, PatientPicker, TextDialog
from screens.widgets import DocumentPages, DocumentQueueScreen

HELP = (
    "Scanned documents waiting to be filed, oldest first; those QA sent back to you come first.\n"
    "Up/Down pick a document; Left/Right turn its pages. S scans the inbox now.\n"
    "P picks the patient (the search prompt; a suggested MRN from the page is typed for you),\n"
    "T the document type, D the date of service, E the encounter (optional). F files it (it then waits\n"
    "for QA) and moves on.\n"
    "Quarantined files are listed last with their reason: their bytes are kept, encrypted;\n"
    "`recdesk intake export ID -o FILE` gets one back."
)


NO_ENCOUNTER = "none"


class IntakeScreen(DocumentQueueScreen):
    SCREEN_NAME = "Intake: index scanned documents"
    HELP = HELP
    BINDINGS = [
        Binding("s", "scan", "Scan inbox", id="intake.scan"),
        Binding("p", "pick_patient", "Patient", id="intake.patient"),
        Binding("t", "pick_type", "Type", id="intake.type"),
        Binding("d", "pick_date", "Date", id="intake.date"),
        Binding("e", "pick_encounter", "Encounter", id="intake.encounter"),
        Binding("f", "file", "File it", id="intake.file"),
    ]
    COLUMNS = ("Received", "Pages", "State")

    def __init__(self) -> None:
        super().__init__()
        self.docs: list[Document] = []
        self.choice: dict[str, object] = {}

    async def reload(self, keep: int = 0) -> None:
        app = self.app

        def load(desk, actor):
            return intake.index_queue(desk, actor) + intake.quarantine(desk)

        self.docs = await app.desk_call(load, app.desk, app.actor)
        table = self.query_one("#queue", DataTable)
        table.clear()
        for doc in self.docs:
            if doc.status == "quarantined":
                state = f"QUARANTINED: {intake.shown_reason(doc.quarantine_reason)[:40]}"
            elif doc.qa_state == "failed":
                state = f"QA failed: {doc.qa_reason[:30]}"
            else:
                state = "new"
            table.add_row(doc.received_at.strftime("%m-%d %H:%M") if doc.received_at else "", str(doc.pages), state)
        if self.docs:
            table.move_cursor(row=min(keep, len(self.docs) - 1))
        await self.select(table.cursor_row if self.docs else None)

    @property
    def current(self) -> Document | None:
        row = self.query_one("#queue", DataTable).cursor_row
        return self.docs[row] if self.docs and 0 <= row < len(self.docs) else None

    async def select(self, row: int | None) -> None:
        self.choice = {}
        doc = self.current if row is not None else None
        pages = self.query_one("#page", DocumentPages)
        if doc is None or doc.status == "quarantined":
            await pages.show(None, 0)
            self.query_one("#choice", Static).update(
                "Nothing to file: press S to scan the inbox." if doc is None else
                f"Quarantined: {intake.shown_reason(doc.quarantine_reason)}")
            return
        await pages.show(doc.uuid, doc.pages)
        self.choice["suggested"] = intake.suggested_query(pages.text)
        self.show_choice()

    def show_choice(self) -> None:
        patient: PatientDetails | None = self.choice.get("patient")  # type: ignore[assignment]
        parts = [
            f"Patient: {patient.display_name} MRN {patient.mrn}" if patient else
            (f"Patient: ? (P; page suggests {self.choice['suggested']})" if self.choice.get("suggested")
             else "Patient: ? (P)"),
            f"Type: {self.choice.get('type_label', '? (T)')}",
            f"Date: {self.choice.get('date', '? (D)')}",
        ]
        if "encounter_label" in self.choice:
            parts.append(f"Encounter: {self.choice['encounter_label']}")
        self.query_one("#choice", Static).update("   ".join(parts) + ("   F files it" if self.ready else ""))

    @property
    def ready(self) -> bool:
        return all(k in self.choice for k in ("patient", "type", "date"))

    async def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        await self.select(event.cursor_row)

    async def action_scan(self) -> None:
        app = self.app
        try:
            report = await app.desk_call(intake.scan, app.desk, app.actor, worker=app.pdf_worker)
        except DeskError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"{len(report.received)} received, {len(report.quarantined)} quarantined, "
                    f"{report.duplicates} duplicates")
        for name, why in report.refused:
            self.notify(f"Refused {intake.shown_name(name)}: {why}; {intake.REFUSED_ADVICE}", severity="warning")
        await self.reload()

    def action_pick_patient(self) -> None:
        if self.current is not None and self.current.status != "quarantined":
            self.run_worker(self._pick_patient(), group="pick", exclusive=True)

    async def _pick_patient(self) -> None:
        patient = await self.app.push_screen_wait(PatientPicker(str(self.choice.get("suggested") or "")))
        if patient is not None:
            self.choice["patient"] = patient
            self.choice.pop("encounter", None)  # an encounter belongs to the patient picked before
            self.choice.pop("encounter_label", None)
            self.show_choice()

    def action_pick_type(self) -> None:
        if self.current is not None and self.current.status != "quarantined":
            self.run_worker(self._pick_type(), group="pick", exclusive=True)

    async def _pick_type(self) -> None:
        types = filing.type_labels(self.app.desk)
        code = await self.app.push_screen_wait(ChoiceDialog("Document type:", sorted(types.items(), key=lambda t: t[1]),
                                                            self.choice.get("type")))
        if code is not None:
            self.choice["type"], self.choice["type_label"] = code, types[code]
            self.show_choice()

    def action_pick_date(self) -> None:
        if self.current is not None and self.current.status != "quarantined":
            self.run_worker(self._pick_date(), group="pick", exclusive=True)

    async def _pick_date(self) -> None:
        answer = await self.app.push_screen_wait(
            TextDialog("Date of service:", str(self.choice.get("date", "")), "2026-11-20 or 11/20/2026", kind="date"))
        if answer is not None:
            self.choice["date"] = answer
            self.show_choice()

    def action_pick_encounter(self) -> None:
        if self.current is None or self.current.status == "quarantined":
            return
        if "patient" not in self.choice:
            self.notify("Pick the patient (P) first: the encounter is one of theirs.", severity="warning")
            return
        self.run_worker(self._pick_encounter(), group="pick", exclusive=True)

    async def _pick_encounter(self) -> None:
        app = self.app
        encounters = await app.desk_call(intake.encounters_of, app.desk, self.choice["patient"].uuid)
        choices = [(NO_ENCOUNTER, "No encounter (not tied to a visit)"), *encounters]
        uid = await app.push_screen_wait(ChoiceDialog("Encounter:", choices, self.choice.get("encounter")))
        if uid is not None:
            self.choice["encounter"] = None if uid == NO_ENCOUNTER else uid
            self.choice["encounter_label"] = dict(choices)[uid]
            self.show_choice()

    async def action_file(self) -> None:
        doc = self.current
        if doc is None or doc.status == "quarantined":
            return
        if not self.ready:
            self.notify("Pick the patient (P), type (T) and date (D) first.", severity="warning")
            return
        app = self.app
        row = self.query_one("#queue", DataTable).cursor_row
        try:
            await app.desk_call(intake.file_to_patient, app.desk, app.actor, doc.uuid, self.choice["patient"].uuid,
                                self.choice["type"], datetime.date.fromisoformat(self.choice["date"]),
                                self.choice.get("encounter"))
        except DeskError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"Filed to {self.choice['patient'].display_name}; it waits for QA.")
        await self.reload(keep=row)
