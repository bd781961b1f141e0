"""F5, the request log: every release-of-information request, most urgent first, and what to do next with it."""

from __future__ import annotations

import datetime
from typing import NamedTuple

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from recdesk.errors import DeskError
from recdesk.release import fees, letters, log, packets, requests, rules
from screens.accounting import AccountingScreen
from screens.base import FAILED, DeskScreen
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.message import MessageDialog
from screens.dialogs.patient import PatientPicker
from screens.dialogs.text import TextDialog
from screens.packet import PacketScreen
from screens.requestform import RequestFormScreen
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.plain import Plain
from screens.widgets.table import DeskTable

HELP = (
    "The request log: open release-of-information requests, the most urgent (earliest due) first.\n"
    "N logs a new request (form with the validator's verdict as you type). A corrects the authorization of\n"
    "the highlighted request; S links its scanned, signed copy. B picks the documents and builds the\n"
    "stamped packet (out-of-scope and sensitive documents are flagged and need a confirmation). Q records\n"
    "the packet's QA, R releases it: the disclosure is written from the packet. E sends the one extension\n"
    "notice, D denies, W withdraws, H holds with a reason (H again lifts the hold), V runs the validator\n"
    "again, F estimates the fee (access requests need one before the packet), L drafts or prints a letter,\n"
    "P prints the packet, K shows the packet password (give it by phone, never with the packet), C shows\n"
    "closed requests too, O shows a patient's accounting of disclosures. After a change only that request is\n"
    "read again; F5 reads the whole log again. Codes (A2, R1, L3 ...) name the rule a request breaks."
)
COLUMNS = (("ref", "Ref"), ("mrn", "MRN"), ("status", "Status"), ("due", "Due"), ("aging", "Aging"),
           ("requester", "Requester"))
PASSWORD = "Packet password: {}\nGive it to the requester by phone, never with the packet."


class Row(NamedTuple):
    """One line of the log: the request's view (plain values)."""

    view: log.ReleaseView

    @property
    def uuid(self) -> str:
        return self.view.uuid


def _row(v: log.ReleaseView) -> Row:
    return Row(v)


def _history(desk, actor, release_uuid: str) -> list[dict]:
    return log.history(desk, release_uuid)


def _cells(row: Row) -> tuple[str, ...]:
    v = row.view
    late = "!" if v.due < datetime.date.today() and v.status in log.OPEN else " "
    return (row.uuid[:8].upper(), v.mrn, v.status.replace("_", " "), f"{late}{v.due}", v.bucket,
            (v.requester_name or "")[:24])


def _summary(row: Row) -> str:
    v = row.view
    req = v.request_json
    days = (v.due - datetime.date.today()).days
    left = f"{days} days left" if days >= 0 else f"{-days} days LATE"
    lines = [
        f"{v.uuid[:8].upper()}  {v.patient_name}  MRN {v.mrn}",
        f"{v.requester_name or '?'} ({req.get('requester_type', '?').replace('_', ' ')}) · "
        f"{req.get('purpose', '?').replace('_', ' ')} · {v.delivery} · received {v.received_on}",
        f"Status: {v.status.replace('_', ' ')} · due {v.due} ({left})" + (" · extended" if v.extended else ""),
    ]
    if v.status == "on_hold" and v.hold_reason:
        lines.append(f"Held for: {v.hold_reason}")
    for p in v.verdict.problems[:3]:
        lines.append(f"{p.code} {p.message}")
    if len(v.verdict.problems) > 3:
        lines.append(f"... {len(v.verdict.problems) - 3} more problems")
    if not v.verdict.problems and v.verdict.warnings:
        lines.append("Note: " + "; ".join(f"{w.code} {w.message}" for w in v.verdict.warnings[:2]))
    return "\n".join(lines)


class RequestsScreen(DeskScreen):
    SCREEN_NAME = "Requests: release of information"
    HELP = HELP
    CHANGING = frozenset({"new_request", "fix_authorization", "build_packet", "packet_qa", "release", "extend",
                          "deny", "withdraw", "hold", "fee", "letter", "link_scan", "validate"})
    ERRORS = (DeskError, ValueError)  # the packet's PDF checks say what is wrong as a ValueError
    BINDINGS = [
        Binding("n", "new_request", "New", id="requests.new"),
        Binding("a", "fix_authorization", "Authorization", id="requests.authorization"),
        Binding("b", "build_packet", "Packet", id="requests.packet"),
        Binding("q", "packet_qa", "QA", id="requests.qa"),
        Binding("r", "release", "Release", id="requests.release"),
        Binding("o", "accounting", "Accounting", id="accounting.accounting"),
        Binding("e", "extend", "Extend", show=False, id="requests.extend"),
        Binding("d", "deny", "Deny", show=False, id="requests.deny"),
        Binding("w", "withdraw", "Withdraw", show=False, id="requests.withdraw"),
        Binding("h", "hold", "Hold", show=False, id="requests.hold"),
        Binding("v", "validate", "Check again", show=False, id="requests.validate"),
        Binding("f", "fee", "Fee estimate", show=False, id="requests.fee"),
        Binding("l", "letter", "Letter", show=False, id="letters.letter"),
        Binding("p", "print_packet", "Print packet", show=False, id="requests.print"),
        Binding("k", "password", "Packet password", show=False, id="requests.password"),
        Binding("s", "link_scan", "Link scanned authorization", show=False, id="requests.scan"),
        Binding("c", "toggle_closed", "Show closed", show=False, id="requests.closed"),
        Binding("f5", "reload", "Read the whole log again", show=False, id="requests.reload"),
    ]
    DEFAULT_CSS = """
    RequestsScreen #requests { height: 1fr; }
    RequestsScreen #detail { height: 8; border-top: solid ansi_blue; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self.include_closed = False

    @property
    def views(self) -> list[log.ReleaseView]:
        return [row.view for row in self.rows]

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        yield DeskTable(id="requests", cursor_type="row")
        yield Plain("", id="detail")
        yield DeskFooter()

    async def on_mount(self) -> None:
        table = self.query_one("#requests", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        table.focus()
        await self.reload()

    # --- the log: read whole only when its rows can change; after an action on one request, that row alone

    async def reload(self, keep: str | None = None) -> None:
        """Read the whole log (each row's view is audited): on opening, a new request, C and F5."""
        views = await self.call(requests.queue, include_closed=self.include_closed)
        self.rows = [_row(v) for v in views]
        table = self.query_one("#requests", DataTable)
        table.clear()
        for row in self.rows:
            table.add_row(*_cells(row), key=row.uuid)
        if self.rows:
            uuids = [row.uuid for row in self.rows]
            table.move_cursor(row=uuids.index(keep) if keep in uuids else 0)
        self.show_detail()

    async def action_reload(self) -> None:
        current = self.current
        await self.reload(current.uuid if current else None)

    async def refresh_row(self, uuid: str) -> None:
        """Read one request again (one audited view) and show it in its place."""
        v = await self.run(requests.get, uuid)
        if v is FAILED:
            return
        index = next((n for n, row in enumerate(self.rows) if row.uuid == uuid), None)
        if index is None:
            return
        self.rows[index] = row = _row(v)
        table = self.query_one("#requests", DataTable)
        for (key, _), cell in zip(COLUMNS, _cells(row), strict=True):
            table.update_cell(uuid, key, cell)
        self.show_detail()

    async def change(self, row: Row, fn, *args, done: str = "", **kwargs):
        """Run a change to one request, then show that request again."""
        async def again() -> None:
            await self.refresh_row(row.uuid)

        return await self.run(fn, row.uuid, *args, done=done, refresh=again, **kwargs)

    @property
    def current(self) -> Row | None:
        row = self.query_one("#requests", DataTable).cursor_row
        return self.rows[row] if self.rows and 0 <= row < len(self.rows) else None

    def show_detail(self) -> None:
        row = self.current
        self.query_one("#detail", Static).update(
            _summary(row) if row else "No open requests. N logs a new one; O shows a patient's accounting.")

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def with_current(self, flow) -> None:
        """Run flow(row) for the highlighted request, in a worker (it may ask questions)."""
        row = self.current
        if row is None:
            self.notify("No request highlighted.")
            return
        self.flow(flow(row))

    # --- new request, authorization

    def action_new_request(self) -> None:
        self.flow(self._new())

    async def _new(self) -> None:
        doc = await self.ask(RequestFormScreen())
        if doc is None:
            return
        try:
            form = requests.RequestForm.from_json(doc)
        except DeskError as exc:
            self.say_error(str(exc))
            return
        releases = await self.run(requests.log_request, form)
        if releases:
            held = [r for r in releases if r.status == "on_hold"]
            self.notify(f"Logged for {len(releases)} patient(s): " + (
                f"{len(held)} on hold, deficiency letter drafted (L prints it)." if held else "in progress."),
                timeout=8)
            await self.reload(releases[0].uuid)

    def action_fix_authorization(self) -> None:
        self.with_current(self._fix)

    async def _fix(self, row: Row) -> None:
        v = row.view
        initial = {"request": v.request_json, "authorization": v.authorization_json or {}}
        doc = await self.ask(RequestFormScreen(initial=initial, authorization_only=True))
        if doc is None:
            return
        verdict = await self.change(row, requests.update_authorization, doc.get("authorization"))
        if verdict:
            self.notify("Authorization updated: " + ("releasable, in progress." if verdict.releasable else
                                                      "still not releasable, on hold."), timeout=6)

    def action_link_scan(self) -> None:
        self.with_current(self._link_scan)

    async def _link_scan(self, row: Row) -> None:
        found = await self.run(packets.candidates, row.uuid)
        if found is FAILED:
            return
        first = [c for c in found if c.doc_type in ("authorization", "consent")]
        choices = [(c.uuid, f"{c.title[:40]} {c.service_date or ''}") for c in first + [c for c in found
                                                                                        if c not in first]]
        if not choices:
            self.say_error("No filed documents for this patient: scan and file the signed authorization first (F3).")
            return
        chosen = await self.ask(ChoiceDialog("Which document is the signed authorization?", choices))
        if chosen:
            await self.change(row, requests.link_scan, chosen, done="Scanned authorization linked.")

    def action_validate(self) -> None:
        self.with_current(self._validate)

    async def _validate(self, row: Row) -> None:
        await self.change(row, requests.validate, done="Checked again.")

    # --- packet, QA, release

    def action_build_packet(self) -> None:
        self.with_current(self._packet)

    async def _packet(self, row: Row) -> None:
        status = row.view.status
        if status != "in_progress":
            self.say_error(f"A packet is built for a request in progress; this one is {status.replace('_', ' ')}.")
            return
        if await self.ask(PacketScreen(row.uuid)):
            await self.refresh_row(row.uuid)

    def action_packet_qa(self) -> None:
        self.with_current(self._qa)

    async def _qa(self, row: Row) -> None:
        choice = await self.ask(ChoiceDialog(
            "The packet: every page readable, the right patient, nothing outside the request?",
            [("pass", "Pass: ready to release"), ("fail", "Fail: back to be rebuilt")]))
        if choice == "pass":
            await self.change(row, packets.qa_packet, True, done="Packet passed QA: R releases it.")
        elif choice == "fail":
            reason = await self.ask(TextDialog("What is wrong with the packet?"))
            if reason:
                await self.change(row, packets.qa_packet, False, reason, done="Sent back to be rebuilt.")

    def action_release(self) -> None:
        self.with_current(self._release)

    async def _release(self, row: Row) -> None:
        sure = await self.ask(ChoiceDialog(
            f"Release the packet to {row.view.requester_name} today? This logs the disclosure.",
            [("no", "No, not yet"), ("yes", "Yes, release it")]))
        if sure != "yes":
            return
        disclosure = await self.change(row, packets.release_packet)
        if disclosure:
            text = "Released; the disclosure is logged" + (" (it will appear in the patient's accounting)."
                                                          if disclosure.accountable else ".")
            if row.view.packet_encrypted or row.view.delivery in ("electronic", "portal"):
                password = await self.run(packets.packet_password, row.uuid)
                if password:
                    text += "\n\n" + PASSWORD.format(password)
            await self.ask(MessageDialog(text))

    def action_password(self) -> None:
        self.with_current(self._password)

    async def _password(self, row: Row) -> None:
        password = await self.run(packets.packet_password, row.uuid)
        if password:
            await self.ask(MessageDialog(PASSWORD.format(password)))

    def action_print_packet(self) -> None:
        self.with_current(self._print_packet)

    async def _print_packet(self, row: Row) -> None:
        if not row.view.packet_uuid:
            self.say_error("This request has no packet yet: B builds it.")
            return
        await self.print_out("packet", "Packet", packets.packet_pdf, row.uuid)

    # --- clock, holds, denials, fees, letters

    def action_extend(self) -> None:
        self.with_current(self._extend)

    async def _extend(self, row: Row) -> None:
        reason = await self.ask(TextDialog("Why is more time needed? (goes in the notice)"))
        if reason:
            new_due = await self.change(row, requests.extend, reason)
            if new_due:
                self.notify(f"Extended to {new_due}; the extension notice is drafted (L prints letters).", timeout=6)

    def action_hold(self) -> None:
        self.with_current(self._hold)

    async def _hold(self, row: Row) -> None:
        if row.view.status == "on_hold":  # H again lifts the hold; the validator must still pass it
            sure = await self.ask(ChoiceDialog(
                "Take this request off hold?", [("no", "No, keep it on hold"), ("yes", "Yes, it can go on")]))
            if sure == "yes":
                await self.change(row, requests.move, "in_progress", "hold lifted", done="Off hold.")
            return
        reason = await self.ask(TextDialog("Why is this request on hold?"))
        if reason:
            await self.change(row, requests.move, "on_hold", reason, done="On hold.")

    def action_withdraw(self) -> None:
        self.with_current(self._withdraw)

    async def _withdraw(self, row: Row) -> None:
        sure = await self.ask(ChoiceDialog(
            "The requester withdrew this request?", [("no", "No"), ("yes", "Yes, close it as withdrawn")]))
        if sure == "yes":
            await self.change(row, requests.move, "withdrawn", "withdrawn by the requester", done="Withdrawn.")

    def action_deny(self) -> None:
        self.with_current(self._deny)

    async def _deny(self, row: Row) -> None:
        choices = [("cancel", "Do not deny: go back")]
        choices += [(k, f"Not reviewable: {w}") for k, w in rules.UNREVIEWABLE.items()]
        choices += [(k, f"Reviewable: {w}") for k, w in rules.REVIEWABLE.items()]
        basis = await self.ask(ChoiceDialog("On what ground is access denied? (R2)", choices))
        if basis in (None, "cancel"):
            return
        sure = await self.ask(ChoiceDialog(
            "Deny access on this ground and send the denial letter?",
            [("no", "No, go back"), ("yes", "Yes, deny and draft the letter")]))
        if sure != "yes":
            return
        determined_by = ""
        if basis in rules.REVIEWABLE:
            determined_by = await self.ask(
                TextDialog("Which licensed health care professional made this determination?"))
            if not determined_by:
                return
        await self.change(row, requests.deny, basis, determined_by=determined_by,
                          done="Denied; the denial letter with review rights is drafted.")

    def action_fee(self) -> None:
        self.with_current(self._fee)

    async def _fee(self, row: Row) -> None:
        pages = await self.ask(TextDialog("How many pages will be copied?", kind="count", most=fees.MAX_PAGES))
        if not pages:
            return
        flat = False
        if row.view.delivery in ("electronic", "portal") and row.view.verdict.basis == "individual":
            flat = await self.ask(ChoiceDialog("Which fee?", [
                ("cost", "Cost-based (labor for copying)"), ("flat", "Flat fee (electronic copy, $6.50)")])) == "flat"
        result = await self.change(row, fees.fee_estimate, int(pages), flat=flat)
        if result:
            _, total = result
            self.notify(f"Estimate ${total / 100:.2f} recorded; the fee letter is drafted.", timeout=6)

    def action_letter(self) -> None:
        self.with_current(self._letter)

    async def _letter(self, row: Row) -> None:
        history = await self.run(_history, row.uuid)
        if history is FAILED:
            return
        drafted = [(e["document"], f"Print the {e['note'].replace('_', ' ')} letter of {e['at']:%Y-%m-%d}")
                   for e in history if e["kind"] == "letter" and e["document"]]
        choices = drafted[::-1] + [("new:acknowledgement", "Draft an acknowledgement")]
        choice = await self.ask(ChoiceDialog("Letters for this request", choices))
        if choice is None:
            return
        if choice.startswith("new:"):
            await self.change(row, letters.letter, choice[4:], done="Acknowledgement drafted; L prints it.")
            return
        await self.print_out("letter", "Letter", letters.letter_pdf, row.uuid, choice)

    def action_toggle_closed(self) -> None:
        self.include_closed = not self.include_closed
        self.run_worker(self.reload(), group="reload", exclusive=True)

    # --- accounting of disclosures

    def action_accounting(self) -> None:
        self.flow(self._accounting())

    async def _accounting(self) -> None:
        row = self.current  # the highlighted request's patient is typed in for you: Enter takes it
        patient = await self.ask(PatientPicker(row.view.mrn if row else ""))
        if patient is None:
            return
        await self.app.push_screen(AccountingScreen(patient.uuid))
