"""The text of one page of a document at a time (pypdf extraction, in the limited parser process)."""

from __future__ import annotations

from recdesk.documents import intake
from recdesk.documents.pdfworker import Rejected
from recdesk.patients.chart import RestrictedRecord
from screens.widgets.plain import Plain


class DocumentPages(Plain):
    """The text of one page of a document at a time; it lives on a DeskScreen, which reads the bytes."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.doc_uuid: str | None = None
        self.data: bytes | None = None
        self.page = 0
        self.pages = 0
        self.text = ""

    async def show(self, doc_uuid: str | None, pages: int) -> None:
        """Read a document's bytes (an audited view) and show its first page; a restricted record's never."""
        self.doc_uuid, self.pages, self.page, self.data = doc_uuid, pages, 0, None
        if doc_uuid is None:
            self.text = ""
            self.update("")
            return
        try:
            data = await self.screen.call(intake.document_bytes, doc_uuid)
        except RestrictedRecord:  # never shown in passing: open it from the chart, with a need or break-glass
            self.text = "Restricted record: its pages show only from its chart (3 Docs, Enter)."
            self.update(self.text)
            return
        await self.show_bytes(doc_uuid, pages, data)

    async def show_bytes(self, doc_uuid: str, pages: int, data: bytes) -> None:
        """Show a document already read (by the caller, through the audited read service) from its first page."""
        self.doc_uuid, self.pages, self.page, self.data = doc_uuid, pages, 0, data
        await self.turn(0)

    async def turn(self, delta: int) -> None:
        if self.data is None or not self.pages:
            return
        self.page = max(0, min(self.pages - 1, self.page + delta))
        try:
            text = await self.app.desk_call(self.app.pdf_worker.page_text, self.data, self.page)
        except Rejected as exc:
            text = f"(cannot show this page: {exc})"
        self.text = text
        body = text.strip() or "(no text on this page: a scan image)"
        self.update(f"── page {self.page + 1} of {self.pages} ──\n{body}")
