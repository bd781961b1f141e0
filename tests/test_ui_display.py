"""Data on the desk's screens is shown, never obeyed: terminal escapes made visible, markup shown as typed."""

import datetime
import io
import os
import re
import sys

import pytest
from rich.console import Console
from rich.segment import Segment
from textual.app import ComposeResult
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

from recdesk import users
from recdesk.desk import os_user_name
from recdesk.patients.registry import PatientDetails, register
from recdesk.serve.terminal import PtyProcess
from recdesk.vault.models import Appointment, ChartLocation, ChartVolume
from screens.dialogs.choice import ChoiceDialog
from screens.pulllist import PullListScreen
from tests.test_display import HOSTILE, OBEYED, SHOWN_HEAD, seal_patient_field
from tests.test_pty import START, STEP, drawn
from tests.test_ui import SIZE, app_for, settle, type_query

TOMORROW = datetime.date.today() + datetime.timedelta(days=1)
MARKUP = "[b]Card[/b]"  # fits the pull list's clinic column
CLICK = "[@click=app.quit]Q[/]"


@pytest.fixture
def backend():
    return "sqlite"  # the screens are backend-blind


@pytest.fixture
def desk(desk_and_manager):
    """A clerk, and a patient whose name and clinic carry escapes and markup, as an old row could."""
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk", os_user=os_user_name())
    pid = register(desk, manager, PatientDetails(mrn="123456", last="Doe", first="Jo", dob=datetime.date(1970, 1, 1)))
    seal_patient_field(desk, pid, "last", f"{HOSTILE}Doe")
    seal_patient_field(desk, pid, "first", CLICK)
    Appointment.create(patient=pid, clinic=f"{HOSTILE}Clinic", at=datetime.datetime.combine(TOMORROW,
                                                                                            datetime.time(9)))
    pid2 = register(desk, manager, PatientDetails(mrn="72248", last="Roe", first="Al", dob=datetime.date(1980, 1, 1)))
    Appointment.create(patient=pid2, clinic=MARKUP, at=datetime.datetime.combine(TOMORROW, datetime.time(10)))
    main = ChartLocation.create(code="MAIN", name="Main file room", kind="file_room")
    ward = ChartLocation.create(code="WARD", name=f"{CLICK}[b]Ward[/b]", kind="department")
    ChartVolume.create(patient=pid2, home=main, current=ward, status="out", borrower=f"{HOSTILE}Nurse")
    return desk


def painted(app) -> str:
    """What a full repaint of the screen writes to the terminal (Textual's compositor, through the line filters)."""
    console = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=SIZE[0])
    return app.screen._compositor.render_update(full=True).render_segments(console)


def _without_textuals_own(out: str) -> str:
    """The stream less Textual's own CSI moves and colours, OSC 22 pointer shape, the desk's own window title (a
    screen's name, once it is drawn) and line ends: the rest is data."""
    return re.sub(r"\x1b\[[0-9;?$<>=]*[A-Za-z~]|\x1b\]22;[a-z-]*\x07|\x1b\]2;recdesk(: [A-Za-z ():-]+)?\x07|\r\n", "",
                  out)


def test_f7_in_a_real_pty_shows_a_hostile_clinic_name_without_clearing_the_screen(desk):
    home = desk.config.home
    desk.close()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    with PtyProcess([sys.executable, "-m", "recdesk.cli", "--home", str(home)], env=env) as tui:
        tui.read_until(drawn("Patient search"), timeout=START)
        start = len(tui.output)
        tui.write("\x1b[18~")  # F7: the pull list
        tui.read_until(drawn("Pull list"), timeout=STEP)  # read and painted: all it draws is in
        after_f7 = bytes(tui.output[start:]).decode("utf-8", "replace")
        tui.write("\x1b[21~")  # F10: sign off
        assert tui.wait(timeout=STEP) == 0
    everything = bytes(tui.output).decode("utf-8", "replace")
    assert "\x1b[2J" not in after_f7, "a clinic name cleared the clerk's screen"
    assert "\x1b]0;" not in everything, "a clinic name set the window title"
    assert not OBEYED.search(_without_textuals_own(everything)), "a control character from data reached the pty"
    assert "to go of 2" in after_f7
    assert SHOWN_HEAD in after_f7  # the clerk sees that the name holds an escape


async def test_the_pull_list_shows_markup_and_escapes_in_clinic_names_as_written(desk):
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        await settle(app, pilot)
        assert isinstance(app.screen, PullListScreen)
        out = painted(app)
        assert MARKUP in out  # not "Card" in bold: data is never markup
        assert SHOWN_HEAD in out
        assert "\x1b]0;" not in out and "\x1b[2J" not in out and not OBEYED.search(out.replace("\x1b", ""))


async def test_search_results_and_toasts_show_names_as_written(desk):
    app = app_for(desk)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        results = await type_query(app, pilot, "123456")
        line = results.render_line(0).text  # the Line-API list builds its own segments
        assert SHOWN_HEAD in line and "\x1b" not in line
        app.notify(f"Filed to {CLICK}{HOSTILE}")
        await settle(app, pilot)
        out = painted(app)
        assert "Filed to" in out and f"{CLICK}{SHOWN_HEAD}pwned" in _without_textuals_own(out)  # the toast wraps
        assert "\x1b]0;" not in out and "\x1b[2J" not in out
        assert app.is_running  # the [@click=app.quit] in a name was text, not an action


async def test_review_tables_show_markup_and_escapes_in_names_as_written(desk):
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9")
        await settle(app, pilot)
        await pilot.press("9")  # charts by borrower: a DeskTable of plain str cells
        await settle(app, pilot)
        out = painted(app)
        assert f"{CLICK}[b]Ward[/b]" in out
        assert "\x1b]0;" not in out and "\x1b[2J" not in out
        assert app.is_running


async def test_a_choice_dialog_shows_labels_as_written(desk):
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(ChoiceDialog(f"Assign {MARKUP}:", [("a", f"{HOSTILE}Dr Who"), ("b", CLICK)]))
        await settle(app, pilot)
        out = painted(app)
        assert f"Assign {MARKUP}:" in out and CLICK in out and SHOWN_HEAD in out
        assert "\x1b]0;" not in out and "\x1b[2J" not in out


class _Careless(Widget):
    """A widget that forgets the rule: it paints a raw escape from its own segments."""

    def render_line(self, y: int) -> Strip:
        return Strip([Segment("\x1b[2J\x1b]0;pwned\x07\u202eraw" if y == 0 else "")])


class _CarelessScreen(Screen):
    def compose(self) -> ComposeResult:
        yield _Careless()


async def test_a_widget_that_forgets_the_rule_still_sends_no_control_character(desk):
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(_CarelessScreen())
        await settle(app, pilot)
        out = painted(app)
        assert "[2J]0;pwnedraw" in out  # the controls are gone, the rest of the line stays in place
        assert "\x1b]0;" not in out and "\x1b[2J" not in out and "\u202e" not in out

