"""At 80x24 with the keyboard: the chart's document viewer (3 Docs, Enter; Left/Right turn pages), break-glass
asked again from it once the access ended, and the supervisor marking a restricted opening reviewed from F9."""

import datetime

import pytest

from recdesk import clock, users
from recdesk.documents import filing
from recdesk.patients import chart
from recdesk.patients.registry import PatientDetails, register
from recdesk.vault import audit
from recdesk.vault.models import AuditEvent, Patient
from screens.chart import ChartScreen
from screens.dialogs.breakglass import BreakGlassDialog
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.text import TextDialog
from screens.document import DocumentScreen
from screens.review import ReviewScreen
from screens.widgets.pages import DocumentPages
from tests.test_roi import pdf
from tests.test_ui import SIZE, app_for, settle, until


@pytest.fixture
def backend():
    return "sqlite"  # the screens are backend-blind; the services are tested on both


@pytest.fixture
def clinic(desk_and_manager):
    desk, boss = desk_and_manager
    users.add(desk, boss, "ann", "clerk")
    users.add(desk, boss, "sue", "supervisor")
    plain = Patient.get_by_id(register(desk, boss, PatientDetails(mrn="100234", last="Smith", first="John",
                                                                  dob=datetime.date(1962, 3, 4), sex="M")))
    restricted = Patient.get_by_id(register(desk, boss, PatientDetails(mrn="300400", last="Obrien", first="Siobhan",
                                                                       dob=datetime.date(2015, 6, 30), sex="F",
                                                                       sensitive=True)))
    with desk.write():
        for row, label in ((plain, "Discharge summary"), (restricted, "Psychiatry note")):
            filing.file_document(desk, boss, row, pdf(3, label), doc_type="discharge_summary", title=label,
                                 pages=3, service_date=datetime.date(2026, 1, 5))
    return desk, plain.uuid, restricted.uuid


def page_text(app) -> str:
    return str(app.screen.query_one("#page", DocumentPages).render())


async def open_docs(app, pilot, uuid):
    app.request_chart(uuid)
    await settle(app, pilot)
    assert isinstance(app.screen, ChartScreen)
    await pilot.press("3")
    await settle(app, pilot)


async def test_enter_in_docs_opens_the_pages_and_right_turns_them(clinic):
    desk, plain, _ = clinic
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await open_docs(app, pilot, plain)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DocumentScreen)
        await until(pilot, lambda: "page 1 of 3" in page_text(app), "the first page shown")
        assert "Discharge summary page 1" in page_text(app)
        await pilot.press("right")
        await until(pilot, lambda: "Discharge summary page 2" in page_text(app), "the next page")
        await pilot.press("left")
        await until(pilot, lambda: "page 1 of 3" in page_text(app), "back a page")
        await pilot.press("escape")
        assert isinstance(app.screen, ChartScreen)
    views = AuditEvent.select().where(AuditEvent.action == "document.view")
    assert [e.patient for e in views] == [plain]  # one audited read, through the document read service


async def test_a_restricted_document_opens_under_break_glass_and_asks_again_after_it_ends(clinic, monkeypatch):
    desk, _, restricted = clinic
    chart.break_glass(desk, desk.sign_on("ann"), restricted, "treatment", "ED called")
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await open_docs(app, pilot, restricted)
        banner = str(app.screen.query_one("#restricted-banner").render())
        assert banner.startswith(" BREAK-GLASS until")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DocumentScreen)
        assert "BREAK-GLASS until" in str(app.screen.query_one("#restricted-banner").render())
        await until(pilot, lambda: "Psychiatry note page 1" in page_text(app), "the restricted document's page")
        await pilot.press("escape")
        moved = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(hours=5)
        monkeypatch.setattr(clock, "now", lambda: moved)
        await pilot.press("enter")  # the chart is still on screen, but the desk refuses the expired grant
        await settle(app, pilot)
        assert isinstance(app.screen, BreakGlassDialog)
        assert "ended" in str(app.screen.query_one("#break-glass-said").render())
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ChartScreen)
    uses = [audit.details(desk, e) for e in AuditEvent.select().where(AuditEvent.action == chart.OPENED)]
    assert [(u["need"], u["via"]) for u in uses] == [("break_glass", "chart"), ("break_glass", "document")]


async def test_the_supervisor_marks_a_break_glass_use_reviewed_from_f9(clinic):
    desk, _, restricted = clinic
    ann = desk.sign_on("ann")
    chart.break_glass(desk, ann, restricted, "treatment", "ED called")
    chart.open_chart(desk, ann, restricted)
    app = app_for(desk, "sue")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f9")
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("7")
        await settle(app, pilot)
        table = app.screen.query_one("#access-table")
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[0].startswith("OPEN") and row[2:6] == ["ann", "300400", "OBRIEN, Siobhan", "break-glass"]
        assert "1 opening(s) wait for review" in str(app.screen.query_one("#access-note").render())
        await pilot.press("m")
        await settle(app, pilot)
        assert isinstance(app.screen, TextDialog)
        await pilot.press(*"Called ED: confirmed", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
        await until(pilot, lambda: str(table.get_row_at(0)[0]) == "done sue", "the opening marked reviewed")
        assert "0 opening(s) wait for review" in str(app.screen.query_one("#access-note").render())
    (mark,) = AuditEvent.select().where(AuditEvent.action == chart.REVIEWED)
    assert mark.user_name == "sue" and audit.details(desk, mark) == {"note": "Called ED: confirmed"}
    assert chart.review_queue(desk) == []
    assert audit.verify(desk).intact


async def test_a_clerk_is_not_offered_mark_reviewed(clinic):
    desk, *_ = clinic
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9")
        await settle(app, pilot)
        await pilot.press("7")
        await settle(app, pilot)
        assert "mark_reviewed" not in {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}


async def test_a_manager_assigns_a_clerk_from_the_chart_who_then_opens_it_with_a_purpose(clinic):
    desk, _, restricted = clinic
    app = app_for(desk, "boss")
    async with app.run_test(size=SIZE) as pilot:
        app.request_chart(restricted)
        await settle(app, pilot)
        await pilot.press("down", "enter")  # the purpose: treatment
        await settle(app, pilot)
        assert isinstance(app.screen, ChartScreen)
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("enter")  # ann (clerk), the first without a standing need
        await settle(app, pilot)
        assert isinstance(app.screen, ChartScreen)
    ann = desk.sign_on("ann")
    assert chart.open_chart(desk, ann, restricted, purpose="treatment").opened.need == "assigned"
