"""Building a release packet: the patient's filed documents, flagged when outside the request; Space picks."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from recdesk.errors import DeskError
from recdesk.release import packets
from screens.base import DeskScreen
from screens.dialogs.choice import ChoiceDialog
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.plain import Plain
from screens.widgets.table import DeskTable

HELP = (
    "The patient's filed documents. Space picks or drops the highlighted one; A picks every document that is\n"
    "not flagged. A flag (A8 outside the requested dates or types, S1 a sensitive category the request did not\n"
    "name) means it is not simply included: picking it asks you to confirm, and the confirmation is audited.\n"
    "A flag with ! (A9 psychotherapy notes, S2/L4 Part 2, S1/S3 a category the authorization does not name)\n"
    "is the law: that document cannot go out under this request at all.\n"
    "B builds the packet: cover letter, certification for legal requests, the documents, redisclosure\n"
    "notices; every page Bates-numbered and stamped CONFIDENTIAL; encrypted for electronic delivery.\n"
    "Esc goes back without building."
)


class PacketScreen(DeskScreen):
    SCREEN_NAME = "Build the release packet"
    HELP = HELP
    CHANGING = frozenset({"build_packet"})
    ERRORS = (DeskError, ValueError)  # the packet's PDF checks say what is wrong as a ValueError
    BINDINGS = [
        Binding("space", "toggle", "Pick/drop", id="packet.toggle"),
        Binding("a", "pick_clean", "Pick unflagged", id="packet.all"),
        Binding("b", "build_packet", "Build", id="packet.build"),
        Binding("escape", "back", "Back", id="packet.back"),
    ]
    DEFAULT_CSS = """
    PacketScreen #candidates { height: 1fr; }
    PacketScreen #flag { height: 3; border-top: solid ansi_blue; padding: 0 1; }
    """

    def __init__(self, release_uuid: str) -> None:
        super().__init__()
        self.release_uuid = release_uuid
        self.candidates: list[packets.Candidate] = []
        self.picked: list[str] = []
        self.confirmed: set[str] = set()

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        yield DeskTable(id="candidates", cursor_type="row")
        yield Plain("", id="flag")
        yield DeskFooter()

    async def on_mount(self) -> None:
        table = self.query_one("#candidates", DataTable)
        table.add_columns("", "Document", "Date", "Pages", "Flag")
        table.focus()
        found = await self.run(packets.candidates, self.release_uuid)
        self.candidates = found or []
        self.redraw()

    def redraw(self, row: int | None = None) -> None:
        table = self.query_one("#candidates", DataTable)
        row = table.cursor_row if row is None else row
        table.clear()
        for c in self.candidates:
            table.add_row("[x]" if c.uuid in self.picked else "[ ]", c.title[:34],
                          c.service_date.isoformat() if c.service_date else "", str(c.pages),
                          ",".join(f.code + ("!" if f.blocking else "") for f in c.flags))
        if self.candidates:
            table.move_cursor(row=max(0, min(row, len(self.candidates) - 1)))
        self.show_flag()

    @property
    def current(self) -> packets.Candidate | None:
        row = self.query_one("#candidates", DataTable).cursor_row
        return self.candidates[row] if self.candidates and 0 <= row < len(self.candidates) else None

    def show_flag(self) -> None:
        c = self.current
        pages = sum(x.pages for x in self.candidates if x.uuid in self.picked)
        text = f"{len(self.picked)} picked, {pages} pages."
        if c is not None and c.flags:
            text += "\n" + "; ".join(f"{f.code} {f.message}" for f in c.flags)
        elif not self.candidates:
            text = "This patient has no filed documents to release."
        self.query_one("#flag", Static).update(text)

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.show_flag()

    def action_toggle(self) -> None:
        c = self.current
        if c is None:
            return
        if c.uuid in self.picked:
            self.picked.remove(c.uuid)
            self.redraw()
        elif c.blocked:
            self.notify(f"{c.title} cannot go out under this request: {c.blocked.message}.", severity="error",
                        timeout=8)
        elif c.flags and c.uuid not in self.confirmed:
            self.flow(self._confirm(c))
        else:
            self.picked.append(c.uuid)
            self.redraw()

    async def _confirm(self, c: packets.Candidate) -> None:
        flags = "; ".join(f"{f.code} {f.message}" for f in c.flags)
        answer = await self.ask(ChoiceDialog(
            f"{c.title} is flagged: {flags}. Include it anyway?",
            [("no", "No, leave it out"), ("yes", "Yes: I checked it is covered by the request")]))
        if answer == "yes":
            self.confirmed.add(c.uuid)
            self.picked.append(c.uuid)
            self.redraw()

    def action_pick_clean(self) -> None:
        for c in self.candidates:
            if not c.flags and c.uuid not in self.picked:
                self.picked.append(c.uuid)
        self.redraw()

    async def action_build_packet(self) -> None:
        if not self.picked:
            self.notify("Pick at least one document (Space).", severity="error")
            return
        self.query_one("#flag", Static).update("Building the packet ...")
        doc = await self.run(packets.build_packet, self.release_uuid, list(self.picked),
                             confirmed_flags=sorted(self.confirmed))
        if not doc:
            self.show_flag()
            return
        self.notify(f"Packet built: {doc.pages} pages, stamped. Q records its QA, then R releases it.", timeout=8)
        self.dismiss(True)

    def action_back(self) -> None:
        self.dismiss(False)
