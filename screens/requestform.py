"""The request form: a release-of-information request and its authorization, element by element, checked as typed.

The form builds the same JSON `recdesk roi check` and `recdesk roi import` read, and runs the same validator on
every change, so the clerk sees each missing element (with its rule ID) before saving.
"""

from __future__ import annotations

import datetime

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label, Static

from recdesk.patients.search import parse_date
from recdesk.release import rules
from screens.base import DeskScreen
from screens.dialogs.choice import ChoiceDialog, TypeAhead
from screens.widgets.footer import DeskFooter
from screens.widgets.header import DeskHeader
from screens.widgets.plain import Plain

NONE = "none"

# (key, label, kind, options). Keys are paths in the JSON; "auth." fields belong to the authorization.
REQUEST_FIELDS: list[tuple[str, str, str, tuple]] = [
    ("patients", "Patient MRNs", "text", ()),
    ("request.requester_type", "Requester type", "select", rules.REQUESTER_TYPES),
    ("request.requester_name", "Requester name", "text", ()),
    ("requester_address", "Requester address", "text", ()),
    ("request.received", "Received on", "date", ()),
    ("request.purpose", "Purpose", "select", rules.PURPOSES),
    ("request.scope.from", "Records from", "date", ()),
    ("request.scope.to", "Records to", "date", ()),
    ("request.scope.doc_types", "Document types", "text", ()),
    *[(f"category.{c}", f"Includes {c.replace('_', ' ')}", "check", ()) for c in rules.CATEGORIES],
    ("delivery", "Delivery", "select", rules.DELIVERIES),
    ("request.legal_process.type", "Legal process", "select", (NONE, *rules.LEGAL_TYPES)),
    ("request.legal_process.assurance", "Assurance", "select", (NONE, *rules.ASSURANCES)),
    ("request.legal_process.case", "Case title", "text", ()),
    ("request.legal_process.case_number", "Case number", "text", ()),
    ("request.legal_process.criminal", "Criminal case", "check", ()),
    ("request.third_party.recipient", "Send to (patient's", "text", ()),
    ("request.third_party.destination", "  directive): where", "text", ()),
    ("request.third_party.written", "Directive in writing", "check", ()),
    ("request.third_party.signed", "Directive signed", "check", ()),
    ("request.irb_waiver", "IRB waiver on file", "check", ()),
]
AUTH_FIELDS: list[tuple[str, str, str, tuple]] = [
    ("auth.on_file", "Authorization on file", "check", ()),
    ("auth.description", "Description of info", "text", ()),
    ("auth.discloser", "Who may disclose", "text", ()),
    ("auth.recipient", "Who receives it", "text", ()),
    ("auth.purposes", "Purposes", "text", ()),
    ("auth.expiration.date", "Expires on", "date", ()),
    ("auth.expiration.event", "or expires when", "text", ()),
    ("auth.expiration.occurred", "That event occurred", "check", ()),
    ("auth.expiration.none", "No expiration (research)", "check", ()),
    ("auth.is_research", "For research", "check", ()),
    ("auth.signature", "Signature (as signed)", "text", ()),
    ("auth.signed_on", "Signed on", "date", ()),
    ("auth.signer", "Signed by", "select", ("patient", "representative")),
    ("auth.representative_authority", "Representative's authority", "text", ()),
    ("auth.statements.revocation", "States right to revoke", "check", ()),
    ("auth.statements.conditioning", "States no conditioning", "check", ()),
    ("auth.statements.redisclosure", "States redisclosure", "check", ()),
    ("auth.categories", "Names categories", "text", ()),
    ("auth.part2_consent", "Part 2 consent (2.31)", "check", ()),
    ("auth.combined_with_other", "Combined with another", "check", ()),
    ("auth.conditioned", "Conditions care on it", "check", ()),
    ("auth.revoked_on", "Revoked on", "date", ()),
]
LIST_FIELDS = {"request.scope.doc_types", "auth.purposes", "auth.categories", "patients"}


def widget_id(key: str) -> str:
    return "f-" + key.replace(".", "-")


def _set(doc: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def _get(doc: dict | None, path: str):
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _date_text(text: str) -> str | None:
    """A typed date as YYYY-MM-DD (11/20/2026 and 2026-11-20 both work); what cannot be read passes through for the
    validator to name."""
    text = text.strip()
    if not text:
        return None
    try:
        parsed = parse_date(text, birth=False)
    except rules.DeskError:
        parsed = None
    return parsed.isoformat() if parsed else text


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


class FormFields(VerticalScroll, can_focus=False, inherit_bindings=False):
    """The form's fields, scrolled only by moving the focus: Down/Up (the screen's keys) move between fields and the
    focused field is scrolled into view, so what is typed always lands in a field the clerk sees."""


class ChoiceField(Static, can_focus=True):
    """One of a fixed list in a single line: Enter opens the list, Left/Right step through it, letters jump to the
    first choice starting with them (type-ahead, as in the lists). Space never opens the list: it only joins the
    letters typed ("public h"); a key that matches no choice leaves the choice as it is and says so. Lighter than
    a Select (one widget, not five), which keeps Tab quick on a long form."""

    BINDINGS = [
        Binding("enter", "open", "Choose", show=False),
        Binding("left", "step(-1)", "Previous choice", show=False),
        Binding("right", "step(1)", "Next choice", show=False),
    ]

    class Changed(Message):
        def __init__(self, field: ChoiceField) -> None:
            super().__init__()
            self.field = field

    def __init__(self, options: tuple[str, ...], value: str, *, id: str, label: str = "") -> None:
        super().__init__(id=id)
        self.options = options
        self.value = value
        self.label = label
        self.type_ahead = TypeAhead(list(options))
        self.warned = False  # "this is a list" is said once each time the field has the focus
        self._show()

    def _show(self) -> None:
        self.update(Content(f"{self.value.replace('_', ' ')} ▾"))

    def set(self, value: str) -> None:
        if value in self.options and value != self.value:
            self.value = value
            self._show()
            self.post_message(self.Changed(self))

    def action_step(self, delta: int) -> None:
        self.type_ahead.reset()
        self.set(self.options[(self.options.index(self.value) + delta) % len(self.options)])

    def action_open(self) -> None:
        self.type_ahead.reset()
        dialog = ChoiceDialog("Choose", [(o, o.replace("_", " ")) for o in self.options], current=self.value)
        self.app.push_screen(dialog, lambda chosen: self.set(chosen) if chosen else None)

    def on_blur(self) -> None:
        self.type_ahead.reset()
        self.warned = False

    def on_key(self, event: events.Key) -> None:
        if event.key == "backspace":
            found = self.type_ahead.back()
        elif event.is_printable and event.character:
            found = self.type_ahead.press(event.character)
            if found is None and event.character.strip() and not self.warned:
                self.warned = True
                self.notify(f"{self.label or 'This field'} is a list: no choice starts with "
                            f"{(self.type_ahead.typed + event.character).strip()!r}. Type the start of a choice, "
                            "Enter opens the list, Left/Right step.", severity="warning", timeout=4)
        else:
            return
        event.stop()
        if found is not None:
            self.set(self.options[found])


class TickField(Static, can_focus=True):
    """A yes/no box that reads the same in 16 colours and with NO_COLOR: [x] or [ ]. Space or Enter flips it."""

    BINDINGS = [Binding("space,enter", "flip", "Tick/untick", show=False)]

    class Changed(Message):
        def __init__(self, field: TickField) -> None:
            super().__init__()
            self.field = field

    def __init__(self, value: bool, *, id: str) -> None:
        super().__init__(id=id)
        self.value = value
        self._show()

    def _show(self) -> None:
        self.update(Content("[x] yes" if self.value else "[ ] no"))  # Content: no markup, the brackets show

    def action_flip(self) -> None:
        self.value = not self.value
        self._show()
        self.post_message(self.Changed(self))


class RequestFormScreen(DeskScreen):
    """New request (every section) or a corrected authorization (its section only). Ctrl+S saves, Esc cancels."""

    HELP = (
        "Enter the request as received, then the authorization element by element.\n"
        "Tab / Down moves to the next field, Shift+Tab / Up to the one before; the field you are in is always on\n"
        "screen. In a list field (▾) type the first letters of a choice to jump to it (Backspace takes one back),\n"
        "Enter opens the list, Left/Right step through it; Space never opens it. Space ticks or unticks a [x] box.\n"
        "Dates: 2026-11-20 or 11/20/2026. Several MRNs, document types or purposes: separate with commas.\n"
        "The box at the bottom is the validator's verdict as you type, with each problem's rule code — the same one\n"
        "`recdesk roi check` gives. Ctrl+S saves: a request that is not releasable is put on hold and a deficiency\n"
        "letter naming each missing element is drafted. Esc leaves without saving (after typing, it asks first:\n"
        "Discard this request? No is the default)."
    )
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="form.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("down", "app.focus_next", "Next field", show=False, id="form.next"),
        Binding("up", "app.focus_previous", "Previous field", show=False, id="form.previous"),
    ]
    DEFAULT_CSS = """
    RequestFormScreen #form { height: 1fr; layout: grid; grid-size: 2; grid-columns: 27 1fr; grid-rows: 1; }
    RequestFormScreen #form Label { padding: 0 1; }
    RequestFormScreen #form Input { height: 1; border: none; padding: 0 1; background: ansi_black; }
    RequestFormScreen ChoiceField { height: 1; padding: 0 1; }
    RequestFormScreen TickField { height: 1; padding: 0 1; }
    RequestFormScreen .section { column-span: 2; height: 1; text-style: bold; padding: 0 1; }
    RequestFormScreen #verdict { height: 6; border-top: solid ansi_blue; padding: 0 1; }
    """

    def __init__(self, *, initial: dict | None = None, authorization_only: bool = False, title: str = "") -> None:
        super().__init__()
        self.initial = initial or {}
        self.authorization_only = authorization_only
        self.title_text = title or ("Correct the authorization" if authorization_only else "New request")
        self.fields = ([] if authorization_only else REQUEST_FIELDS) + AUTH_FIELDS
        self.kinds = {key: kind for key, _, kind, _ in REQUEST_FIELDS + AUTH_FIELDS}
        self.as_opened: dict | None = None  # the form as it opened: unsaved() compares with it

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.title_text)
        with FormFields(id="form"):
            if not self.authorization_only:
                yield Plain("The request", classes="section")
            for key, label, kind, options in self.fields:
                if key == "auth.on_file":
                    yield Plain("The authorization (164.508 elements)", classes="section")
                yield Label(label)
                yield self._widget(key, label, kind, options)
        yield Plain("", id="verdict")
        yield DeskFooter()

    def _widget(self, key: str, label: str, kind: str, options: tuple):
        value = self._initial_value(key)
        if kind == "select":
            return ChoiceField(options, value if value in options else options[0], id=widget_id(key),
                               label=label.strip())
        if kind == "check":
            return TickField(bool(value), id=widget_id(key))
        field = Input(value=str(value or ""), id=widget_id(key), compact=True,
                      placeholder="YYYY-MM-DD" if kind == "date" else "")
        field.cursor_blink = False
        return field

    def _initial_value(self, key: str):
        doc = self.initial
        if key == "auth.on_file":
            return doc.get("authorization") is not None or not doc
        if key.startswith("category."):
            return key.split(".", 1)[1] in (_get(doc, "request.scope.categories") or [])
        if key.startswith("auth."):
            value = _get(doc.get("authorization"), key[5:])
        else:
            value = _get(doc, key)
        if key == "request.received" and not value:
            return datetime.date.today().isoformat()
        if key == "auth.statements.revocation" and value is None and not doc:
            return False
        if key in LIST_FIELDS and isinstance(value, list):
            return ", ".join(value)
        if key == "request.legal_process.type" and value is None:
            return NONE
        if key == "request.legal_process.assurance" and value is None:
            return NONE
        return value

    def on_mount(self) -> None:
        self.query_one(f"#{widget_id(self.fields[0][0])}").focus()
        self.refresh_verdict()
        self.as_opened = self._comparable()

    def _comparable(self) -> dict:
        return {k: v for k, v in self.document().items() if k != "as_of"}

    def unsaved(self) -> str | None:
        """Anything typed, ticked or chosen since the form opened is lost on leaving: ask first."""
        if self.as_opened is None or self._comparable() == self.as_opened:
            return None
        return "the changes to this authorization" if self.authorization_only else "this request"

    # --- the document the form stands for

    def value_of(self, key: str):
        widget = self.query_one(f"#{widget_id(key)}")
        return widget.value

    def document(self) -> dict:
        """The form as the JSON `roi check` reads (plus patients, address and delivery for logging)."""
        doc: dict = {"as_of": datetime.date.today().isoformat(), "request": {}}
        if self.authorization_only:
            doc["request"] = dict(self.initial.get("request") or {})
            for extra in ("patients", "requester_address", "delivery"):
                if extra in self.initial:
                    doc[extra] = self.initial[extra]
        categories = []
        for key, _, kind, _ in self.fields:
            if key.startswith("auth."):
                continue
            value = self.value_of(key)
            if key.startswith("category."):
                if value:
                    categories.append(key.split(".", 1)[1])
                continue
            value = self._clean(key, kind, value)
            if key in ("patients", "requester_address", "delivery"):
                doc[key] = value
            elif value is not None:
                _set(doc, key, value)
        if not self.authorization_only:
            _set(doc, "request.scope.categories", categories)
            legal = doc["request"].get("legal_process")
            if legal is not None and "type" not in legal:
                doc["request"]["legal_process"] = None
            third = doc["request"].get("third_party") or {}
            if not any(third.values()):
                doc["request"].pop("third_party", None)
        if not self.value_of("auth.on_file"):
            doc["authorization"] = None
            return doc
        auth: dict = {}
        for key, _, kind, _ in AUTH_FIELDS[1:]:
            value = self._clean(key, kind, self.value_of(key))
            if value is not None:
                _set(auth, key[5:], value)
        expiration = auth.get("expiration") or {}
        chosen = {k: v for k, v in expiration.items() if k in ("date", "event", "none") and v}
        if "event" in chosen:
            chosen["occurred"] = bool(expiration.get("occurred"))
        auth["expiration"] = chosen or None
        doc["authorization"] = auth
        return doc

    def _clean(self, key: str, kind: str, value):
        if kind == "check":
            return bool(value)
        if kind == "select":
            return None if value == NONE else value
        text = str(value or "").strip()
        if kind == "date":
            return _date_text(text)
        if key in LIST_FIELDS:
            return _split(text)
        return text or None

    def verdict(self) -> tuple[rules.Verdict | None, str]:
        try:
            # The contract's part of the form; patients, address and delivery are checked when it is saved.
            doc = {k: v for k, v in self.document().items() if k in rules.CONTRACT.fields}
            as_of, req, auth = rules.read(doc)
            return rules.check(as_of, req, auth, home=self.desk.config.home,
                                  state=self.desk.config.roi.state), ""
        except rules.DeskError as exc:
            return None, str(exc)

    def refresh_verdict(self) -> None:
        verdict, error = self.verdict()
        box = self.query_one("#verdict", Static)
        if verdict is None:
            box.update(f"Cannot check yet: {error}")
            return
        head = (f"{'Releasable' if verdict.releasable else 'NOT releasable'} · due {verdict.due.isoformat()}"
                f" · authorization {'required' if verdict.authorization_required else 'not required'}"
                f"{' · accountable' if verdict.accountable else ''}"
                f"{' · minimum necessary' if verdict.minimum_necessary else ''}")
        lines = [f"{p.code} {p.message}" for p in verdict.problems]
        lines += [f"({w.code}) {w.message}" for w in verdict.warnings]
        shown = lines[:4]
        if len(lines) > 4:
            shown.append(f"... and {len(lines) - 4} more (every one is in the deficiency letter)")
        box.update("\n".join([head, *shown]))

    def on_input_changed(self, _: Input.Changed) -> None:
        self.refresh_verdict()

    def on_choice_field_changed(self, _: ChoiceField.Changed) -> None:
        self.refresh_verdict()

    def on_tick_field_changed(self, _: TickField.Changed) -> None:
        self.refresh_verdict()

    def on_input_submitted(self, _: Input.Submitted) -> None:
        self.focus_next()

    def action_save(self) -> None:
        verdict, error = self.verdict()
        if verdict is None:
            self.notify(error, severity="error")
            return
        doc = self.document()
        if not self.authorization_only and not doc.get("patients"):
            self.notify("Enter the patient's MRN (several: separate with commas).", severity="error")
            return
        self.dismiss(doc)

    def action_cancel(self) -> None:
        self.leave(lambda: self.dismiss(None))
