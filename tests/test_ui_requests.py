"""The request log at 80x24, keys only: log a request, fix its authorization, build and release a packet, print an
accounting of disclosures."""

import datetime

import pytest
from textual.widgets import Input

from recdesk import users
from recdesk.documents import filing
from recdesk.patients.registry import PatientDetails, register
from recdesk.release import requests as roi
from recdesk.vault.models import AuditEvent, Disclosure, Patient, Release
from screens.accounting import AccountingScreen
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.message import MessageDialog
from screens.dialogs.patient import PatientPicker
from screens.packet import PacketScreen
from screens.requestform import ChoiceField, RequestFormScreen, TickField, widget_id
from screens.requests import RequestsScreen
from tests.test_roi import pdf
from tests.test_ui import SIZE, app_for, settle, until


@pytest.fixture
def backend():
    return "sqlite"


@pytest.fixture
def office(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    users.add(desk, manager, "sue", "supervisor")
    pid = register(desk, manager, PatientDetails(mrn="100234", last="Avery", first="Ann",
                                                 dob=datetime.date(1960, 1, 1)))
    patient = Patient.get_by_id(pid)
    with desk.write():
        filing.file_document(desk, manager, patient, pdf(2, "Discharge summary"), doc_type="discharge_summary",
                                title="Discharge summary", pages=2, service_date=datetime.date(2025, 3, 1),
                                qa_state="passed")
    return desk


async def focus_field(app, pilot, key: str) -> None:
    """Tab to a form field, as a clerk would."""
    target = widget_id(key)
    for _ in range(80):
        if app.focused is not None and app.focused.id == target:
            return
        await pilot.press("tab")
    raise AssertionError(f"could not tab to {key}")


async def type_into(app, pilot, key: str, text: str) -> None:
    await focus_field(app, pilot, key)
    assert isinstance(app.focused, Input)
    await pilot.press(*text)


async def choose(app, pilot, key: str, value: str) -> None:
    await focus_field(app, pilot, key)
    select = app.focused
    assert isinstance(select, ChoiceField)
    values = list(select.options)
    steps = values.index(value) - values.index(select.value)
    await pilot.press("enter", *(["down"] * steps if steps > 0 else ["up"] * -steps), "enter")
    await settle(app, pilot)
    assert select.value == value


async def tick(app, pilot, key: str) -> None:
    await focus_field(app, pilot, key)
    assert isinstance(app.focused, TickField)
    await pilot.press("space")


async def test_log_fix_packet_release_and_accounting_with_keys_only(office):
    desk = office
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        assert isinstance(app.screen, RequestsScreen)
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, RequestFormScreen)
        await type_into(app, pilot, "patients", "100234")
        await choose(app, pilot, "request.requester_type", "attorney")
        await type_into(app, pilot, "request.requester_name", "Dewey LLP")
        await type_into(app, pilot, "requester_address", "1 Court St, Austin TX")
        await choose(app, pilot, "request.purpose", "legal")
        await type_into(app, pilot, "auth.description", "Discharge summaries 2025")
        await type_into(app, pilot, "auth.discloser", "General Hospital")
        await type_into(app, pilot, "auth.recipient", "Dewey LLP")
        await type_into(app, pilot, "auth.purposes", "legal claim")
        expires = (datetime.date.today() + datetime.timedelta(days=90)).isoformat()
        await type_into(app, pilot, "auth.expiration.date", expires)
        await type_into(app, pilot, "auth.signed_on", datetime.date.today().isoformat())
        for key in ("auth.statements.revocation", "auth.statements.conditioning", "auth.statements.redisclosure"):
            await tick(app, pilot, key)
        await settle(app, pilot)
        verdict = str(form.query_one("#verdict").render())
        assert "NOT releasable" in verdict and "A1 the authorization is missing the signature" in verdict
        await pilot.press("ctrl+s")  # saved as it is: the validator holds it
        await settle(app, pilot)
        assert isinstance(app.screen, RequestsScreen)
        (release,) = Release.select()
        assert release.status == "on_hold"
        assert "A1 authorization.signature" in str(app.screen.query_one("#detail").render())

        await pilot.press("a")  # the signed authorization came back
        await settle(app, pilot)
        assert isinstance(app.screen, RequestFormScreen) and app.screen.authorization_only
        await type_into(app, pilot, "auth.signature", "/s/ Ann Avery")
        await settle(app, pilot)
        assert "Releasable" in str(app.screen.query_one("#verdict").render())
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert Release.get(Release.uuid == release.uuid).status == "in_progress"

        await pilot.press("b")
        await settle(app, pilot)
        assert isinstance(app.screen, PacketScreen)
        await pilot.press("space", "b")
        await settle(app, pilot)
        assert isinstance(app.screen, RequestsScreen)
        assert Release.get(Release.uuid == release.uuid).status == "qa"

        await pilot.press("q")
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("enter")  # pass
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        await pilot.press("down", "enter")  # yes, release it
        await settle(app, pilot)
        assert isinstance(app.screen, MessageDialog)
        await pilot.press("enter")
        await settle(app, pilot)
        assert Release.get(Release.uuid == release.uuid).status == "released"
        (disclosure,) = Disclosure.select()
        assert disclosure.packet_sha256 == Release.get(Release.uuid == release.uuid).packet.sha256

        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, PatientPicker)
        assert app.screen.query_one("#prompt", Input).value == "100234"  # the highlighted request's patient
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, AccountingScreen)
        await pilot.press("p")
        await settle(app, pilot)
        for key in ("n", "enter"):  # a public-health report made by phone: today
            await pilot.press(key)
            await settle(app, pilot)
        for answer in ("County Health Dept", "-", "Reportable lab result"):
            await pilot.press(*answer, "enter")
            await settle(app, pilot)
        await pilot.press(*["down"] * 8, "enter")  # the ninth purpose: public health
        await settle(app, pilot)
        await pilot.press(*["down"] * 8, "enter")  # the ninth basis: public health
        await settle(app, pilot)
        await until(pilot, lambda: [r.recipient for r in app.screen.accounting.rows][-1:] == ["County Health Dept"],
                    "the recorded disclosure is listed")
        for key in ("s", "enter", "enter"):  # that agency asks, orally, to suspend its accounting (D5)
            await pilot.press(key)  # each answer once its dialog is up: a key never runs ahead of the question
            await settle(app, pilot)
        await until(pilot, lambda: app.screen.accounting.withheld == 1, "the suspension holds the disclosure back")
        assert app.screen.accounting.rows == []
        assert "held back" in str(app.screen.query_one("#summary").render())
    printed = list((desk.config.home / "printouts").glob("*accounting.pdf"))
    assert len(printed) == 1
    assert AuditEvent.select().where(AuditEvent.action == "roi.accounting.print").count() == 1


async def test_a_supervisor_sees_the_log_but_cannot_change_it(office):
    desk = office
    clerk = desk.sign_on("ann")
    roi.log_request(desk, clerk, roi.RequestForm(
        request={"received": datetime.date.today().isoformat(), "requester_type": "patient",
                 "requester_name": "Ann Avery", "purpose": "individual_access"}, patients=["100234"]))
    app = app_for(desk, "sue")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RequestsScreen) and len(screen.views) == 1
        for action in ("new_request", "fix_authorization", "build_packet", "release", "deny", "extend"):
            assert not screen.check_action(action, ())
        await pilot.press("n", "r")
        await settle(app, pilot)
        assert app.screen is screen


async def test_h_holds_with_a_reason_and_h_again_lifts_the_hold(office):
    desk = office
    clerk = desk.sign_on("ann")
    (release,) = roi.log_request(desk, clerk, roi.RequestForm(
        request={"received": datetime.date.today().isoformat(), "requester_type": "patient",
                 "requester_name": "Ann Avery", "purpose": "individual_access"}, patients=["100234"]))
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.press("h", *"id not verified", "enter")
        await settle(app, pilot)
        assert Release.get(Release.uuid == release.uuid).status == "on_hold"
        await pilot.press("v")  # the validator does not lift a clerk's hold
        await settle(app, pilot)
        assert Release.get(Release.uuid == release.uuid).status == "on_hold"
        await pilot.press("h", "enter")  # default: keep it on hold
        await settle(app, pilot)
        assert Release.get(Release.uuid == release.uuid).status == "on_hold"
        await pilot.press("h", "down", "enter")
        await settle(app, pilot)
        assert Release.get(Release.uuid == release.uuid).status == "in_progress"
