"""The text of one page of a document at a time (pypdf extraction, in the limited parser process)."""

from __future__ import annotations

from recdesk.documents import intake
from recdesk.documents.pdfworker import Rejected
from recdesk.patients.chart import PurposeRequired
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
        self.doc_uuid, self.pages, self.page, self.data = doc_uuid, pages, 0, None
        if doc_uuid is None:
            self.text = ""
            self.update("")
            return
        try:
            self.data = await self.screen.call(intake.document_bytes, doc_uuid)
        except PurposeRequired:  # never shown in passing: open the chart and state a purpose
            self.text = "Restricted record: its pages show only in the chart, opened with a purpose of access."
            self.update(self.text)
            return
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
