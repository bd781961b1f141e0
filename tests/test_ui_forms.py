"""Forms at 80x24 with keys only: Down/Up move between fields and keep the field in view, lists jump by the letters
typed, unsaved work is never thrown away without a question (default No), the focused field shows without colour,
and limits are kept where the clerk types."""

import datetime
import io
import re

import pytest
from fpdf import FPDF
from rich.console import Console
from textual import events
from textual.widgets import Input, OptionList, Static

from recdesk import users
from recdesk.completion import assembly
from recdesk.patients.registry import PatientDetails, register
from recdesk.release import fees
from recdesk.vault.models import Deficiency, Document, Release
from screens.accounting import AccountingScreen
from screens.assembly import AssemblyScreen
from screens.dialogs.choice import TYPE_AHEAD_HELP, ChoiceDialog
from screens.dialogs.text import TextDialog
from screens.intake import IntakeScreen
from screens.requestform import ChoiceField, RequestFormScreen, TickField, widget_id
from screens.requests import RequestsScreen
from screens.search import SearchScreen
from tests import test_ui_assembly, test_ui_requests
from tests.test_roi import form as request_form
from tests.test_roi import log_request
from tests.test_ui import SIZE, app_for, settle, until
from tests.test_ui_requests import focus_field

office = test_ui_requests.office  # the fixtures: a clerk, a supervisor, a patient with a filed document
ward = test_ui_assembly.ward  # two inpatients admitted tomorrow, two providers


@pytest.fixture
def backend():
    return "sqlite"  # the screens are backend-blind; the services are tested on both (test_forms.py)


async def open_form(app, pilot) -> RequestFormScreen:
    await settle(app, pilot)
    await pilot.press("f5")
    await settle(app, pilot)
    await pilot.press("n")
    await settle(app, pilot)
    assert isinstance(app.screen, RequestFormScreen)
    return app.screen


def in_view(form: RequestFormScreen) -> bool:
    """The focused field lies wholly inside the visible part of the form's scrolling box."""
    box = form.query_one("#form")
    return box.region.contains_region(form.focused.region)


# --- Down/Up and what is typed


async def test_down_moves_through_every_field_and_the_focused_field_is_always_in_view(office):
    app = app_for(office)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        order = [widget_id(key) for key, *_ in form.fields]
        assert app.focused.id == order[0] and in_view(form)
        for expected in order[1:]:
            await pilot.press("down")
            await until(pilot, lambda e=expected: app.focused.id == e and in_view(form), f"{expected} in view")
        for expected in reversed(order[:-1]):
            await pilot.press("up")
            await until(pilot, lambda e=expected: app.focused.id == e and in_view(form), f"{expected} in view")
        await pilot.press("down", "down")  # Patient MRNs -> Requester type -> Requester name, then type
        await pilot.press(*"Dewey LLP")
        await settle(app, pilot)
        assert form.value_of("request.requester_name") == "Dewey LLP" and in_view(form)


async def test_a_space_never_opens_a_choice_fields_list_and_letters_jump_to_a_choice(office):
    app = app_for(office)
    notices: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        app.notify = lambda message, **kw: notices.append(message)
        await pilot.press("down")
        field = app.focused
        assert isinstance(field, ChoiceField) and field.value == "patient"
        await pilot.press("space")
        await settle(app, pilot)
        assert app.screen is form and field.value == "patient"  # Space: no list, no change
        await pilot.press(*"at")
        assert field.value == "attorney"
        await pilot.press(*"public h")  # a new search from "p"; the space joins it
        assert field.value == "public_health" and app.screen is form
        await pilot.press("backspace", "backspace")  # "public" is still public health
        assert field.value == "public_health"
        notices.clear()
        await pilot.press(*"xq")  # nothing starts so: the choice stays, and the form says it is a list, once
        assert field.value == "public_health" and len(notices) == 1
        assert "Requester type is a list" in notices[0]
        await pilot.press("enter")  # Enter opens the list
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceDialog)


# --- unsaved work: Esc, F10 and sign-off ask, No first


async def test_esc_leaves_an_untouched_form_at_once(office):
    app = app_for(office)
    async with app.run_test(size=SIZE) as pilot:
        await open_form(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, RequestsScreen)


async def test_esc_on_a_half_filled_form_asks_and_no_is_the_default(office):
    app = app_for(office)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        await pilot.press(*"100234")
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceDialog) and app.screen.question == "Discard this request?"
        await pilot.press("enter")  # No, keep it
        await settle(app, pilot)
        assert app.screen is form and form.value_of("patients") == "100234"
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("down", "enter")  # Yes, discard it
        await settle(app, pilot)
        assert isinstance(app.screen, RequestsScreen)
    assert Release.select().count() == 0


@pytest.mark.parametrize("key", ["f10", "ctrl+q"])
async def test_signing_off_from_an_untouched_form_signs_off_at_once(office, key):
    app = app_for(office)
    async with app.run_test(size=SIZE) as pilot:
        await open_form(app, pilot)
        await pilot.press(key)
        await until(pilot, lambda: not app.is_running, "signed off")
    assert app.return_value == "quit"


@pytest.mark.parametrize("key", ["f10", "ctrl+q"])
async def test_signing_off_with_a_half_filled_form_asks_and_no_keeps_the_form(office, key):
    app = app_for(office)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        await pilot.press("down", "space")  # a choice field: Space changes nothing
        assert form.unsaved() is None
        await pilot.press("right")  # the requester type, changed
        assert form.unsaved() == "this request"
        await pilot.press(key)
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceDialog)
        assert app.screen.question == "Discard this request and sign off?"
        await pilot.press("enter")  # No
        await settle(app, pilot)
        assert app.is_running and app.screen is form
        await pilot.press(key)
        await settle(app, pilot)
        await pilot.press("down", "enter")
        await until(pilot, lambda: not app.is_running, "signed off")
    assert app.return_value == "quit"


async def test_an_f_key_away_from_a_half_filled_form_asks_too(office):
    app = app_for(office)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(app, pilot)
        await pilot.press(*"100234")
        await pilot.press("f2")
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is form
        await pilot.press("f2")
        await settle(app, pilot)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen)


async def test_a_corrected_authorization_asks_before_its_changes_are_thrown_away(office):
    log_request(office, office.sign_on("ann"), request_form())
    app = app_for(office)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, RequestFormScreen) and form.unsaved() is None
        await focus_field(app, pilot, "auth.signature")
        await pilot.press("backspace")
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceDialog)
        assert app.screen.question == "Discard the changes to this authorization?"


# --- the focused field shows without colour


def sgr(ansi: str) -> set[str]:
    """The SGR parameters in a stretch of terminal output."""
    return {p for m in re.finditer(r"\x1b\[([0-9;]*)m", ansi) for p in m.group(1).split(";")}


@pytest.mark.parametrize("no_color", [True, False], ids=["NO_COLOR", "16 colours"])
async def test_the_focused_field_shows_in_reverse_and_bold_without_colour(office, monkeypatch, no_color):
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    app = app_for(office)
    async with app.run_test(size=SIZE) as pilot:
        assert app.no_color is no_color  # Textual reads NO_COLOR from the environment when the app is made
        form = await open_form(app, pilot)
        console = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=SIZE[0],
                          no_color=no_color)
        for key, kind in (("patients", Input), ("request.requester_type", ChoiceField),
                          ("category.psychotherapy_notes", TickField), ("request.requester_name", Input)):
            await focus_field(app, pilot, key)
            await settle(app, pilot)
            field = app.focused
            assert isinstance(field, kind)
            region = field.content_region
            line = form._compositor.render_strips()[region.y].crop(region.x, region.right)
            styles = [segment.style for segment in line if segment.style is not None]
            assert any(s.reverse for s in styles) and any(s.bold for s in styles), f"{key}: {styles}"
            painted = line.render(console)
            assert {"1", "7"} <= sgr(painted), f"{key}: {painted!r}"  # bold and reverse reach the terminal
        assert field.value == ""  # an empty text field shows too: its block cursor
        assert [segment.text for segment in line if segment.style and segment.style.reverse] == [" "]


# --- lists: type-ahead


async def test_type_ahead_in_a_pick_list_jumps_accumulates_and_backspace_takes_a_letter_back(office):
    app = app_for(office)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        labels = ["Advance directive", "Discharge summary", "Operative report", "Outside records", "Progress note"]
        dialog = ChoiceDialog("Document type:", [(label.lower().replace(" ", "_"), label) for label in labels])
        await app.push_screen(dialog)
        await settle(app, pilot)
        options = dialog.query_one("#choices", OptionList)
        help_line = dialog.query_one("#choice-help", Static)
        assert TYPE_AHEAD_HELP in str(help_line.render())

        def highlighted() -> str:
            return options.get_option_at_index(options.highlighted).id

        await pilot.press("o", "p")
        assert highlighted() == "operative_report" and "Typed: op" in str(help_line.render())
        await pilot.press("backspace", "u")
        assert highlighted() == "outside_records"
        await pilot.press("d")  # "oud" starts nothing: a new search from "d"
        assert highlighted() == "discharge_summary"
        await pilot.press("down")  # arrows start afresh
        await pilot.press("a")
        assert highlighted() == "advance_directive"
        await pilot.press("enter")
        await settle(app, pilot)
        assert dialog.is_attached is False or app.screen is not dialog


# --- intake: the date of service from the page, the document type by letters, never before birth


def page_pdf(*lines: str) -> bytes:
    doc = FPDF()
    doc.set_font("Helvetica", size=12)
    doc.add_page()
    for n, line in enumerate(lines):
        doc.text(20, 20 + 10 * n, line)
    return bytes(doc.output())


@pytest.fixture
def inbox(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    register(desk, manager, PatientDetails(mrn="100234", last="Avery", first="Ann", dob=datetime.date(1960, 1, 1)))
    box = desk.config.home / "inbox"
    box.mkdir()
    (box / "op.pdf").write_bytes(page_pdf("General Hospital - Operative report", "MRN: 100234",
                                          "DOB: 01/01/1960", "Date of service: 03/01/2025", "Surgeon: Dr. Ada Byron"))
    return desk


async def test_intake_fills_in_the_date_of_service_from_the_page_and_files_it(inbox):
    app = app_for(inbox)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        assert isinstance(app.screen, IntakeScreen)
        await pilot.press("s")
        await settle(app, pilot)
        screen = app.screen
        choice = screen.query_one("#choice", Static)
        await until(pilot, lambda: "Date: 2025-03-01 (from the page" in str(choice.render()), "the page's date")
        await pilot.press("p")
        await settle(app, pilot)
        await pilot.press("enter")  # the MRN on the page was typed for us
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("o", "p")  # type-ahead in the 28 document types
        options = app.screen.query_one("#choices", OptionList)
        assert str(options.get_option_at_index(options.highlighted).prompt) == "Operative report"
        await pilot.press("enter")
        await settle(app, pilot)
        assert screen.choice["type"] == "operative_report"
        await pilot.press("f")
        await settle(app, pilot)
        await until(pilot, lambda: Document.select().where(Document.status == "filed").count() == 1, "filed")
    doc = Document.get(Document.status == "filed")
    assert doc.service_date == datetime.date(2025, 3, 1) and doc.doc_type == "operative_report"


async def test_a_date_of_service_before_the_patients_birth_is_refused_at_the_field(inbox):
    app = app_for(inbox)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        await pilot.press("s")
        await settle(app, pilot)
        await until(pilot, lambda: "suggests 100234" in str(app.screen.query_one("#choice").render()), "scanned")
        await pilot.press("p")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, TextDialog)
        dialog.query_one("#answer", Input).value = ""
        await pilot.press(*"12/31/1959", "enter")
        await settle(app, pilot)
        assert app.screen is dialog
        problem = str(dialog.query_one("#problem").render())
        assert problem == "That date is before the patient's birth (1960-01-01): check the page."
        dialog.query_one("#answer", Input).value = ""
        await pilot.press(*"1960-01-01", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, IntakeScreen) and app.screen.choice["date"] == "1960-01-01"


# --- limits where they are typed: the deficiency note, the fee's page count


async def test_a_deficiency_note_stops_at_the_services_limit(ward):
    app = app_for(ward)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f6")
        await settle(app, pilot)
        assert isinstance(app.screen, AssemblyScreen)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("x")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, TextDialog)
        answer = dialog.query_one("#answer", Input)
        assert answer.max_length == assembly.NOTE_MAX  # the service's own constant, not a copy of the number
        answer.post_message(events.Paste("x" * 1400))  # a 1,400-character note pasted in
        await settle(app, pilot)
        assert answer.value == ""
        assert str(dialog.query_one("#problem").render()) == (
            f"That would be 1400 characters; this holds at most {assembly.NOTE_MAX}: shorten it.")
        answer.value = "n" * (assembly.NOTE_MAX - 1)
        answer.cursor_position = len(answer.value)
        await pilot.press("a", "b", "c")  # the box stops at the limit
        await settle(app, pilot)
        assert answer.value == "n" * (assembly.NOTE_MAX - 1) + "a"
        assert f"{assembly.NOTE_MAX} characters: the most this can hold." in str(dialog.query_one("#problem").render())
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, AssemblyScreen)
    (deficiency,) = Deficiency.select()  # accepted where it was typed: recorded, nothing lost three steps later
    assert deficiency.status == "open"


async def test_an_absurd_page_count_is_refused_at_the_fee_field(office):
    ann = office.sign_on("ann")
    request = {"received": datetime.date.today().isoformat(), "requester_type": "patient",
               "requester_name": "Ann Avery", "purpose": "individual_access"}
    (release,) = log_request(office, ann, request_form(request=request, authorization=None, delivery="electronic"))
    app = app_for(office)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("f")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, TextDialog)
        await pilot.press(*"99999999999", "enter")
        await settle(app, pilot)
        assert app.screen is dialog
        assert str(dialog.query_one("#problem").render()) == f"Type a whole number from 1 to {fees.MAX_PAGES:,}."
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, RequestsScreen)
    assert Release.get(Release.uuid == release.uuid).fee_json in (None, "")


async def test_o_on_the_request_log_types_in_the_highlighted_requests_patient(office):
    log_request(office, office.sign_on("ann"), request_form())
    app = app_for(office)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("o")
        await settle(app, pilot)
        assert app.screen.query_one("#prompt", Input).value == "100234"
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, AccountingScreen)
        await until(pilot, lambda: app.screen.accounting is not None, "the accounting is read")
        assert app.screen.accounting.mrn == "100234"

