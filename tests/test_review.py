"""The review tables: every section runs in a supervisor's read-only session and shows what is waiting."""

import datetime

import pytest

from recdesk import review, users
from recdesk.desk import Desk
from recdesk.paper import tracking
from recdesk.patients.registry import PatientDetails, register
from recdesk.release import requests
from recdesk.vault.models import AuditEvent
from screens.review import ReviewScreen
from tests.conftest import run_cli
from tests.test_roi import log_request
from tests.test_ui import SIZE, app_for, settle

TODAY = datetime.date.today()


@pytest.fixture
def office(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    users.add(desk, manager, "sue", "supervisor")
    pid = register(desk, manager, PatientDetails(mrn="123456", last="Avery", first="Ann",
                                                 dob=datetime.date(1960, 1, 1)))
    ann = desk.sign_on("ann")
    log_request(desk, ann, requests.RequestForm(
        request={"received": (TODAY - datetime.timedelta(days=40)).isoformat(), "requester_type": "attorney",
                 "requester_name": "Dewey LLP", "purpose": "legal"}, patients=["123456"]))
    tracking.ensure_location(desk, ann, "CARD", "Cardiology", "clinic")
    tracking.charge_out(desk, ann, tracking.chart_status(desk, pid), "CARD",
                        TODAY, as_of=TODAY - datetime.timedelta(days=5))
    return desk


def test_every_section_runs_read_only_and_shows_the_waiting_work(office):
    home = office.config.home
    office.close()
    with Desk.open(home, readonly=True) as desk:
        sue = desk.sign_on("sue")
        tables = {name: review.section(desk, sue, name, TODAY + datetime.timedelta(days=1)) for name in review.SECTIONS}
        queues = dict(tables["queues"].rows)
        assert queues["Requests open over 30 days"] == "1" and queues["Requests open past due"] == "1"
        assert queues["Paper charts overdue"] == "1"
        assert [r[1] for r in tables["requests"].rows] == ["123456"]
        assert tables["requests"].rows[0][5] == "A0"
        (chart_row,) = tables["charts"].rows
        assert chart_row[:3] == ["overdue", "56-34-12", "123456"]
        assert tables["borrowers"].rows[0][:3] == ["Cardiology", "clinic", "1"]
        assert all(len(row) == len(t.columns) for t in tables.values() for row in t.rows)
        assert review.verify_chain(desk).startswith("audit chain intact")


def test_the_review_command_prints_a_section(office):
    from recdesk.desk import os_user_name

    users.add(office, office.sign_on("boss"), "rev", "supervisor", os_user=os_user_name())
    home = office.config.home
    office.close()
    result = run_cli("review", "borrowers", home=home)
    assert result.returncode == 0, result.stderr
    assert "Cardiology  clinic  1" in result.stdout
    bad = run_cli("review", "nonsense", home=home)
    assert bad.returncode == 2 and "no review section" in bad.stderr


async def test_f9_shows_each_section_with_keys_and_verifies_the_chain(office):
    if office.is_postgres:
        pytest.skip("screens are backend-blind; the tables are tested on both backends above")
    app = app_for(office, "sue")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f9")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        for n in range(1, 10):
            await pilot.press(str(n))
            await settle(app, pilot)
        assert screen.loaded == set(review.SECTIONS)
        assert "Cardiology" in str(screen.query_one("#borrowers-table").get_row_at(0))
        await pilot.press("v")
        await settle(app, pilot)
        assert any("audit chain intact" in str(n.message) for n in app._notifications)
    assert AuditEvent.select().where(AuditEvent.action == "audit.view").count() == 1



async def test_f9_tab_row_shows_every_section_label_whole_at_80_columns(office):
    if office.is_postgres:
        pytest.skip("screens are backend-blind")
    from textual.widgets import Tab

    app = app_for(office, "sue")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f9")
        await settle(app, pilot)
        tabs = list(app.screen.query(Tab))
        assert len(tabs) == len(review.SECTIONS)
        row = tabs[0].region.y
        assert {t.region.y for t in tabs} == {row}
        line = app.screen._compositor.render_strips()[row].text
        for tab, (label, _) in zip(tabs, review.SECTIONS.values(), strict=True):
            shown = label.split(" ", 1)[1]
            assert tab.region.right <= 80, f"tab {shown!r} ends at column {tab.region.right}"
            assert shown in line, f"tab {shown!r} is cut: {line!r}"
