"""Who may do what, screen by screen: each screen's own CHANGING set is refused to a supervisor and only those
actions are (so a supervisor moves the search highlight like anyone), read from the screens themselves."""

import datetime
import importlib
import inspect
import pkgutil

import pytest

import screens
from recdesk.release import requests as roi
from recdesk.vault.models import MODELS, AuditEvent, AuditHead, AuditStray
from screens.accounting import AccountingScreen
from screens.app import RecdeskApp
from screens.base import REFUSED, DeskScreen, action_name
from screens.chart import ChartScreen
from screens.dialogs.help import HelpScreen
from screens.intake import IntakeScreen
from screens.qa import QAScreen
from screens.requests import RequestsScreen
from tests.test_ui import SIZE, app_for, backend, clinic, settle, type_query, until  # noqa: F401 (fixtures)


def desk_screens() -> list[type[DeskScreen]]:
    """Every DeskScreen subclass in the screens package (each module imported, so a new screen is walked too)."""
    for module in pkgutil.walk_packages(screens.__path__, prefix="screens."):
        importlib.import_module(module.name)
    found: set[type[DeskScreen]] = set()
    todo = [DeskScreen]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def bound_actions(cls) -> set[str]:
    """The action names a screen class binds to keys (its own bindings and those it inherits)."""
    return {action_name(b.action) for klass in cls.__mro__ for b in vars(klass).get("BINDINGS", [])
            if not isinstance(b, tuple)}


def keys_of(cls, action: str) -> list[str]:
    return [b.key.split(",")[0] for klass in cls.__mro__ for b in vars(klass).get("BINDINGS", [])
            if not isinstance(b, tuple) and action_name(b.action) == action]


def build(cls):
    """An instance to ask check_action of (never mounted): required arguments are placeholders."""
    required = [p for name, p in inspect.signature(cls.__init__).parameters.items()
                if name != "self" and p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return cls(*["placeholder"] * len(required))


def snapshot() -> dict[str, list[dict]]:
    """Every row of every table but the audit trail's (views are audited; changes are what must not happen)."""
    return {m.__name__: sorted(repr(sorted(row.items())) for row in m.select().dicts()) for m in MODELS
            if m not in (AuditEvent, AuditStray, AuditHead)}


def test_the_walk_finds_the_screens_and_each_changing_action_is_a_key_of_its_screen():
    walked = desk_screens()
    names = {cls.__name__ for cls in walked}
    assert {"SearchScreen", "ChartScreen", "IntakeScreen", "QAScreen", "RequestsScreen", "PacketScreen",
            "AccountingScreen", "AssemblyScreen", "PullListScreen", "TrackingScreen", "ReviewScreen"} <= names
    assert sum(bool(cls.CHANGING) for cls in walked) >= 9
    for cls in walked:
        assert cls.CHANGING <= bound_actions(cls), f"{cls.__name__} lists an action it has no key for"
    assert RecdeskApp.CHANGING <= {action_name(b.action) for b in RecdeskApp.BINDINGS}


@pytest.mark.parametrize("role", ["supervisor", "clerk"])
async def test_every_changing_action_of_every_screen_is_refused_to_a_supervisor_alone(clinic, role):  # noqa: F811
    app = app_for(clinic, user={"supervisor": "sue", "clerk": "ann"}[role])
    checked = 0
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for cls in desk_screens():
            screen = build(cls)
            for action in sorted(cls.CHANGING):
                checked += 1
                if role == "supervisor":
                    assert screen.refusal(action) == REFUSED, (cls.__name__, action)
                    assert screen.check_action(action, ()) is False, (cls.__name__, action)
                else:
                    assert screen.refusal(action) is None, (cls.__name__, action)
                    assert screen.check_action(action, ()) == screen.can(action, ()), (cls.__name__, action)
            for action in sorted(bound_actions(cls) - cls.CHANGING):  # looking, moving, printing: everyone
                assert screen.refusal(action) is None, (cls.__name__, action)
        for action in RecdeskApp.CHANGING:
            assert (app.check_action(action, ()) is False) == (role == "supervisor")
    assert checked >= 30


async def test_a_supervisor_moves_the_search_highlight_and_opens_a_chart(clinic):  # noqa: F811
    app = app_for(clinic, user="sue")
    async with app.run_test(size=SIZE) as pilot:
        results = await type_query(app, pilot, "smith")
        assert [h.patient.mrn for h in results.hits] == ["100234", "100299"]
        await pilot.press("down")
        assert results.highlighted == 1
        assert "rows 1-2" in str(app.screen.query_one("#status").render())
        await pilot.press("up")
        assert results.highlighted == 0
        await pilot.press("down", "enter")
        await settle(app, pilot)
        await until(pilot, lambda: isinstance(app.screen, ChartScreen), "the chart opens")
        assert app.screen.chart.patient.mrn == "100299"
        await pilot.press("m")  # correcting a misfile is a clerk's: nothing opens
        await settle(app, pilot)
        assert isinstance(app.screen, ChartScreen)
    assert AuditEvent.select().where(AuditEvent.action == "chart.open").count() == 1


@pytest.fixture
def logged(clinic):  # noqa: F811
    clerk = clinic.sign_on("ann")
    clinic.patient_uuids = []
    for mrn in ("100234", "100299"):
        (release,) = roi.log_request(clinic, clerk, roi.RequestForm(
            request={"received": datetime.date.today().isoformat(), "requester_type": "patient",
                     "requester_name": "Jo Smith", "purpose": "individual_access"}, patients=[mrn]))
        clinic.patient_uuids.append(release.patient_uuid)
    return clinic


@pytest.mark.parametrize("screen_type", [RequestsScreen, IntakeScreen, QAScreen, AccountingScreen, ChartScreen])
async def test_a_supervisor_pressing_every_changing_key_changes_nothing(logged, screen_type):
    desk = logged
    app = app_for(desk, user="sue")
    before = snapshot()
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        if screen_type is ChartScreen:
            await type_query(app, pilot, "100234")
            await pilot.press("enter")
            await settle(app, pilot)
            await until(pilot, lambda: isinstance(app.screen, ChartScreen), "the chart opens")
            await pilot.press("3")  # the documents section, where M corrects a misfile
        elif screen_type is AccountingScreen:
            await app.push_screen(AccountingScreen(desk.patient_uuids[0]))
        else:
            await app.push_screen(screen_type())
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, screen_type)
        keys = [key for action in sorted(screen_type.CHANGING) for key in keys_of(screen_type, action)]
        assert keys
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
            assert app.screen is screen, f"{key} opened {app.screen!r} for a supervisor"
    assert snapshot() == before


@pytest.mark.parametrize(("user", "disabled"), [("sue", True), ("ann", False)])
async def test_a_supervisors_help_lists_the_changing_keys_as_disabled_with_the_reason(logged, user, disabled):
    app = app_for(logged, user=user)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f1")  # on the search screen: the app's own F3 intake and F4 QA
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help opens")
        text = str(app.screen.query_one("#help-text").render())
        assert (f"Disabled for you ({REFUSED}):" in text) is disabled
        refused = text.partition("Disabled for you")[2]
        # the clerks' F-key screens (assembly, pull list, paper charts) are named too, not silently missing
        assert all(title in refused for title in ("Assembly", "Pull list", "Charts")) is disabled, refused
        await pilot.press("escape")
        await settle(app, pilot)
        await app.push_screen(RequestsScreen())
        await settle(app, pilot)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help opens")
        text = str(app.screen.query_one("#help-text").render())
        assert (f"Disabled for you ({REFUSED}):" in text) is disabled
        keys, _, refused = text.partition("Disabled for you")
        assert "Accounting" in keys  # looking at a patient's accounting is everyone's
        if disabled:
            assert "New" in refused and "Release" in refused and "Accounting" not in refused
            assert "Release" not in keys
        else:
            assert "New" in keys and "Release" in keys


def queue_views() -> int:
    return AuditEvent.select().where(AuditEvent.action == "roi.queue.view").count()


async def test_an_action_in_the_request_log_reads_that_request_again_not_the_whole_log(logged):
    app = app_for(logged)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f5")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RequestsScreen) and len(screen.rows) == 2
        opened = queue_views()
        assert opened == 2  # one audited view per row shown
        other = screen.rows[1].view.status
        await pilot.press("h", *"id not verified", "enter")
        await settle(app, pilot)
        await until(pilot, lambda: screen.rows[0].view.status == "on_hold", "the held row shows on hold")
        table = screen.query_one("#requests")
        assert table.get_row_at(0)[2].plain == "on hold"
        assert "Held for:" in str(screen.query_one("#detail").render())
        assert screen.rows[1].view.status == other
        assert queue_views() == opened  # the log was not read again
        assert AuditEvent.select().where(AuditEvent.action == "roi.view").count() == 1  # that request was
        await pilot.press("f5")  # F5 on the log reads it whole again
        await settle(app, pilot)
        await until(pilot, lambda: queue_views() == opened + 2, "F5 reads the whole log again")
        assert isinstance(app.screen, RequestsScreen)
