"""F5, the request log: every release-of-information request, most urgent first, and what to do next with it."""

from __future__ import annotations

import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from recdesk.documents import filing
from recdesk.errors import DeskError
from recdesk.pdf import printing
from recdesk.release import requests, rules
from recdesk.vault.models import Document, Release
from screens.pickers import ChoiceDialog, PatientPicker, TextDialog
from screens.requestform import RequestFormScreen
from screens.widgets import DeskHeader, DeskScreen, DeskTable, Plain

HELP = (
    "The request log: open release-of-information requests, the most urgent (earliest due) first.\n"
    "N logs a new request (form with the validator's verdict as you type). A corrects the authorization of\n"
    "the highlighted request; S links its scanned, signed copy. B picks the documents and builds the\n"
    "stamped packet (out-of-scope and sensitive documents are flagged and need a confirmation). Q records\n"
    "the packet's QA, R releases it: the disclosure is written from the packet. E sends the one extension\n"
    "notice, D denies, W withdraws, H holds with a reason (H again lifts the hold), V runs the validator\n"
    "again, F estimates the fee (access requests need one before the packet), L drafts or prints a letter,\n"
    "P prints the packet, K shows the packet password (give it by phone, never with the packet), C shows\n"
    "closed requests too, O shows a patient's accounting of disclosures. Rule IDs (A2, R1, L3 ...) are the\n"
    "ones in RULES.md."
)


class MessageDialog(ModalScreen[None]):
    """Something the clerk must read before going on; Enter or Esc closes."""

    BINDINGS = [Binding("enter,escape", "close", "Close", id="message.close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Plain(self.text)
            yield Plain("Enter closes.")

    def action_close(self) -> None:
        self.dismiss(None)


def _queue(desk, actor, include_closed: bool) -> list[requests.ReleaseView]:
    return requests.queue(desk, actor, include_closed=include_closed)


def _summary(v: requests.ReleaseView) -> str:
    req = v.request_json
    days = (v.due - datetime.date.today()).days
    left = f"{days} days left" if days >= 0 else f"{-days} days LATE"
    lines = [
        f"{v.release.uuid[:8].upper()}  {v.patient_name}  MRN {v.mrn}",
        f"{v.requester_name or '?'} ({req.get('requester_type', '?').replace('_', ' ')}) · "
        f"{req.get('purpose', '?').replace('_', ' ')} · {v.request.delivery} · received {v.request.received_on}",
        f"Status: {v.status.replace('_', ' ')} · due {v.due} ({left})"
        + (" · extended" if v.release.extended_due_on else ""),
    ]
    if v.status == "on_hold" and v.release.hold_reason:
        lines.append(f"Held for: {v.release.hold_reason}")
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
    BINDINGS = [
        Binding("n", "new_request", "New", id="requests.new"),
        Binding("a", "fix_authorization", "Authorization", id="requests.authorization"),
        Binding("b", "build_packet", "Packet", id="requests.packet"),
        Binding("q", "packet_qa", "QA", id="requests.qa"),
        Binding("r", "release", "Release", id="requests.release"),
        Binding("o", "accounting", "Accounting", id="requests.accounting"),
        Binding("e", "extend", "Extend", show=False, id="requests.extend"),
        Binding("d", "deny", "Deny", show=False, id="requests.deny"),
        Binding("w", "withdraw", "Withdraw", show=False, id="requests.withdraw"),
        Binding("h", "hold", "Hold", show=False, id="requests.hold"),
        Binding("v", "validate", "Check again", show=False, id="requests.validate"),
        Binding("f", "fee", "Fee estimate", show=False, id="requests.fee"),
        Binding("l", "letter", "Letter", show=False, id="requests.letter"),
        Binding("p", "print_packet", "Print packet", show=False, id="requests.print"),
        Binding("k", "password", "Packet password", show=False, id="requests.password"),
        Binding("s", "link_scan", "Link scanned authorization", show=False, id="requests.scan"),
        Binding("c", "toggle_closed", "Show closed", show=False, id="requests.closed"),
    ]
    DEFAULT_CSS = """
    RequestsScreen #requests { height: 1fr; }
    RequestsScreen #detail { height: 8; border-top: solid ansi_blue; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.views: list[requests.ReleaseView] = []
        self.include_closed = False

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.SCREEN_NAME)
        yield DeskTable(id="requests", cursor_type="row")
        yield Plain("", id="detail")
        yield Footer()

    async def on_mount(self) -> None:
        table = self.query_one("#requests", DataTable)
        table.add_columns("Ref", "MRN", "Status", "Due", "Aging", "Requester")
        table.focus()
        await self.reload()

    async def reload(self, keep: str | None = None) -> None:
        app = self.app
        self.views = await app.desk_call(_queue, app.desk, app.actor, self.include_closed)
        table = self.query_one("#requests", DataTable)
        table.clear()
        for v in self.views:
            late = "!" if v.due < datetime.date.today() and v.status in requests.OPEN else " "
            table.add_row(v.release.uuid[:8].upper(), v.mrn, v.status.replace("_", " "), f"{late}{v.due}",
                          v.bucket, (v.requester_name or "")[:24])
        if self.views:
            uuids = [v.release.uuid for v in self.views]
            table.move_cursor(row=uuids.index(keep) if keep in uuids else 0)
        self.show_detail()

    @property
    def current(self) -> requests.ReleaseView | None:
        row = self.query_one("#requests", DataTable).cursor_row
        return self.views[row] if self.views and 0 <= row < len(self.views) else None

    def show_detail(self) -> None:
        v = self.current
        self.query_one("#detail", Static).update(
            _summary(v) if v else "No open requests. N logs a new one; O shows a patient's accounting.")

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self.show_detail()

    # --- running things on the desk thread, one line on failure

    async def _do(self, fn, *args, done: str = "", **kwargs):
        app = self.app
        keep = self.current.release.uuid if self.current else None
        try:
            result = await app.desk_call(fn, app.desk, app.actor, *args, **kwargs)
        except (DeskError, ValueError) as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return None
        if done:
            self.notify(done, timeout=5)
        await self.reload(keep)
        return result if result is not None else True

    def _needs_current(self) -> requests.ReleaseView | None:
        v = self.current
        if v is None:
            self.notify("No request highlighted.")
        return v

    def _ask(self, coroutine) -> None:
        self.run_worker(coroutine, group="pick", exclusive=True)

    # --- new request, authorization

    def action_new_request(self) -> None:
        self._ask(self._new())

    async def _new(self) -> None:
        doc = await self.app.push_screen_wait(RequestFormScreen())
        if doc is None:
            return
        try:
            form = requests.RequestForm.from_json(doc)
        except DeskError as exc:
            self.notify(str(exc), severity="error")
            return
        releases = await self._do(requests.log_request, form)
        if releases:
            held = [r for r in releases if r.status == "on_hold"]
            self.notify(f"Logged for {len(releases)} patient(s): " + (
                f"{len(held)} on hold, deficiency letter drafted (L prints it)." if held else "in progress."),
                timeout=8)
            await self.reload(releases[0].uuid)

    def action_fix_authorization(self) -> None:
        if self._needs_current():
            self._ask(self._fix())

    async def _fix(self) -> None:
        v = self.current
        initial = {"request": v.request_json, "authorization": v.authorization_json or {}}
        doc = await self.app.push_screen_wait(RequestFormScreen(initial=initial, authorization_only=True))
        if doc is None:
            return
        verdict = await self._do(requests.update_authorization, v.release.uuid, doc.get("authorization"))
        if verdict:
            self.notify("Authorization updated: " + ("releasable, in progress." if verdict.releasable else
                                                      "still not releasable, on hold."), timeout=6)

    def action_link_scan(self) -> None:
        v = self._needs_current()
        if v:
            self._ask(self._link_scan(v))

    async def _link_scan(self, v: requests.ReleaseView) -> None:
        def scans(desk, actor):
            found = requests.candidates(desk, actor, v.release.uuid)
            first = [c for c in found if c.doc_type in ("authorization", "consent")]
            return [(c.uuid, f"{c.title[:40]} {c.service_date or ''}") for c in first + [c for c in found
                                                                                         if c not in first]]
        choices = await self.app.desk_call(scans, self.app.desk, self.app.actor)
        if not choices:
            self.notify("No filed documents for this patient: scan and file the signed authorization first (F3).",
                        severity="error")
            return
        chosen = await self.app.push_screen_wait(ChoiceDialog("Which document is the signed authorization?",
                                                              choices))
        if chosen:
            await self._do(requests.link_scan, v.release.uuid, chosen, done="Scanned authorization linked.")

    async def action_validate(self) -> None:
        v = self._needs_current()
        if v:
            await self._do(requests.validate, v.release, done="Checked again.")

    # --- packet, QA, release

    def action_build_packet(self) -> None:
        v = self._needs_current()
        if v:
            self._ask(self._packet(v))

    async def _packet(self, v: requests.ReleaseView) -> None:
        from screens.packet import PacketScreen

        if v.status != "in_progress":
            self.notify(f"A packet is built for a request in progress; this one is {v.status.replace('_', ' ')}.",
                        severity="error")
            return
        built = await self.app.push_screen_wait(PacketScreen(v.release.uuid))
        if built:
            await self.reload(v.release.uuid)

    def action_packet_qa(self) -> None:
        v = self._needs_current()
        if v:
            self._ask(self._qa(v))

    async def _qa(self, v: requests.ReleaseView) -> None:
        choice = await self.app.push_screen_wait(ChoiceDialog(
            "The packet: every page readable, the right patient, nothing outside the request?",
            [("pass", "Pass: ready to release"), ("fail", "Fail: back to be rebuilt")]))
        if choice == "pass":
            await self._do(requests.qa_packet, v.release.uuid, True, done="Packet passed QA: R releases it.")
        elif choice == "fail":
            reason = await self.app.push_screen_wait(TextDialog("What is wrong with the packet?"))
            if reason:
                await self._do(requests.qa_packet, v.release.uuid, False, reason, done="Sent back to be rebuilt.")

    def action_release(self) -> None:
        v = self._needs_current()
        if v:
            self._ask(self._release(v))

    async def _release(self, v: requests.ReleaseView) -> None:
        sure = await self.app.push_screen_wait(ChoiceDialog(
            f"Release the packet to {v.requester_name} today? This logs the disclosure.",
            [("no", "No, not yet"), ("yes", "Yes, release it")]))
        if sure != "yes":
            return
        disclosure = await self._do(requests.release_packet, v.release.uuid)
        if disclosure:
            text = "Released; the disclosure is logged" + (" (it will appear in the patient's accounting)."
                                                          if disclosure.accountable else ".")
            if v.release.packet_password_enc is not None or v.request.delivery in ("electronic", "portal"):
                password = await self.app.desk_call(requests.packet_password, self.app.desk, self.app.actor,
                                                    v.release.uuid)
                text += f"\n\nPacket password: {password}\nGive it to the requester by phone, never with the packet."
            await self.app.push_screen_wait(MessageDialog(text))

    def action_password(self) -> None:
        v = self._needs_current()
        if v:
            self._ask(self._password(v))

    async def _password(self, v: requests.ReleaseView) -> None:
        try:
            password = await self.app.desk_call(requests.packet_password, self.app.desk, self.app.actor, v.release.uuid)
        except DeskError as exc:
            self.notify(str(exc), severity="error")
            return
        await self.app.push_screen_wait(MessageDialog(
            f"Packet password: {password}\nGive it to the requester by phone, never with the packet."))

    async def action_print_packet(self) -> None:
        v = self._needs_current()
        if v is None:
            return
        if v.release.packet_id is None:
            self.notify("This request has no packet yet: B builds it.", severity="error")
            return

        def send(desk, actor):
            doc = Document.get_by_id(Release.get_by_id(v.release.id).packet_id)
            return printing.send(desk, filing.read_document(desk, actor, doc), "packet")

        where = await self._do(send)
        if where:
            self.notify(f"Packet {where}.", timeout=6)

    # --- clock, holds, denials, fees, letters

    def action_extend(self) -> None:
        v = self._needs_current()
        if v:
            self._ask(self._extend(v))

    async def _extend(self, v: requests.ReleaseView) -> None:
        reason = await self.app.push_screen_wait(TextDialog("Why is more time needed? (goes in the notice)"))
        if reason:
            new_due = await self._do(requests.extend, v.release.uuid, reason)
            if new_due:
                self.notify(f"Extended to {new_due}; the extension notice is drafted (L prints letters).", timeout=6)

    def action_hold(self) -> None:
        v = self._needs_current()
        if v:
            self._ask(self._hold(v))

    async def _hold(self, v: requests.ReleaseView) -> None:
        if v.status == "on_hold":  # H again lifts the hold; the validator must still pass it
            sure = await self.app.push_screen_wait(ChoiceDialog(
                "Take this request off hold?", [("no", "No, keep it on hold"), ("yes", "Yes, it can go on")]))
            if sure == "yes":
                await self._do(requests.move, v.release.uuid, "in_progress", "hold lifted", done="Off hold.")
            return
        reason = await self.app.push_screen_wait(TextDialog("Why is this request on hold?"))
        if reason:
            await self._do(requests.move, v.release.uuid, "on_hold", reason, done="On hold.")

    def action_withdraw(self) -> None:
        v = self._needs_current()
        if v:
            self._ask(self._withdraw(v))

    async def _withdraw(self, v: requests.ReleaseView) -> None:
        sure = await self.app.push_screen_wait(ChoiceDialog(
            "The requester withdrew this request?", [("no", "No"), ("yes", "Yes, close it as withdrawn")]))
        if sure == "yes":
            await self._do(requests.move, v.release.uuid, "withdrawn", "withdrawn by the requester", done="Withdrawn.")

    def action_deny(self) -> None:
        v = self._needs_current()
        if v:
            self._ask(self._deny(v))

    async def _deny(self, v: requests.ReleaseView) -> None:
        choices = [("cancel", "Do not deny: go back")]
        choices += [(k, f"Not reviewable: {w}") for k, w in rules.UNREVIEWABLE.items()]
        choices += [(k, f"Reviewable: {w}") for k, w in rules.REVIEWABLE.items()]
        basis = await self.app.push_screen_wait(ChoiceDialog("On what ground is access denied? (R2)", choices))
        if basis in (None, "cancel"):
            return
        sure = await self.app.push_screen_wait(ChoiceDialog(
            "Deny access on this ground and send the denial letter?",
            [("no", "No, go back"), ("yes", "Yes, deny and draft the letter")]))
        if sure != "yes":
            return
        determined_by = ""
        if basis in rules.REVIEWABLE:
            determined_by = await self.app.push_screen_wait(
                TextDialog("Which licensed health care professional made this determination?"))
            if not determined_by:
                return
        await self._do(requests.deny, v.release.uuid, basis, determined_by=determined_by,
                       done="Denied; the denial letter with review rights is drafted.")

    def action_fee(self) -> None:
        v = self._needs_current()
        if v:
            self._ask(self._fee(v))

    async def _fee(self, v: requests.ReleaseView) -> None:
        pages = await self.app.push_screen_wait(TextDialog("How many pages will be copied?"))
        if not pages:
            return
        if not pages.strip().isdigit():
            self.notify("Type the number of pages, e.g. 42.", severity="error")
            return
        flat = False
        if v.request.delivery in ("electronic", "portal") and v.verdict.basis == "individual":
            flat = await self.app.push_screen_wait(ChoiceDialog("Which fee?", [
                ("cost", "Cost-based (labor for copying)"), ("flat", "Flat fee (electronic copy, $6.50)")])) == "flat"
        result = await self._do(requests.fee_estimate, v.release.uuid, int(pages), flat=flat)
        if result:
            _, total = result
            self.notify(f"Estimate ${total / 100:.2f} recorded; the fee letter is drafted.", timeout=6)

    def action_letter(self) -> None:
        v = self._needs_current()
        if v:
            self._ask(self._letter(v))

    async def _letter(self, v: requests.ReleaseView) -> None:
        history = await self.app.desk_call(requests.history, self.app.desk, v.release)
        drafted = [(e["document"], f"Print the {e['note'].replace('_', ' ')} letter of {e['at']:%Y-%m-%d}")
                   for e in history if e["kind"] == "letter" and e["document"]]
        choices = drafted[::-1] + [("new:acknowledgement", "Draft an acknowledgement")]
        choice = await self.app.push_screen_wait(ChoiceDialog("Letters for this request", choices))
        if choice is None:
            return
        if choice.startswith("new:"):
            await self._do(requests.letter, v.release.uuid, choice[4:], done="Acknowledgement drafted; L prints it.")
            return

        def send(desk, actor):
            doc = Document.get(Document.uuid == choice)
            return printing.send(desk, filing.read_document(desk, actor, doc), "letter")

        where = await self._do(send)
        if where:
            self.notify(f"Letter {where}.", timeout=6)

    def action_toggle_closed(self) -> None:
        self.include_closed = not self.include_closed
        self.run_worker(self.reload(), group="reload", exclusive=True)

    # --- accounting of disclosures

    def action_accounting(self) -> None:
        self._ask(self._accounting())

    async def _accounting(self) -> None:
        patient = await self.app.push_screen_wait(PatientPicker())
        if patient is None:
            return
        from screens.accounting import AccountingScreen

        await self.app.push_screen(AccountingScreen(patient.uuid))
