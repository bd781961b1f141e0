"""A [keymap] is checked against the desk's real bindings when the desk starts: a collision or an unknown binding id
is one line naming both, before anyone signs on; a good one takes effect."""

import datetime

import pytest

from recdesk import config as config_mod
from recdesk.config import KeyBinding, check_keymap
from recdesk.desk import Desk
from recdesk.errors import DeskError
from recdesk.patients.registry import PatientDetails, register
from recdesk.serve import sessions
from recdesk.vault.models import AuditEvent
from screens.app import RecdeskApp, desk_bindings
from screens.search import SearchScreen
from tests.conftest import run_cli

SIZE = (80, 24)


@pytest.fixture
def backend():
    return "sqlite"


@pytest.fixture
def desk(desk_and_manager):
    desk, manager = desk_and_manager
    register(desk, manager, PatientDetails(mrn="100234", last="Smith", first="John", dob=datetime.date(1962, 3, 4)))
    return desk


@pytest.mark.parametrize("keymap, line", [
    ({"sign_off": "f9"}, 'config.toml: [keymap] sign_off = "f9" collides with review (f9): give one of them '
                         "another key"),
    ({"search.clear": "f5"}, 'config.toml: [keymap] search.clear = "f5" collides with requests (f5)'),
    ({"help": "f2,ctrl+f"}, 'config.toml: [keymap] help = "f2,ctrl+f" collides with search (f2)'),
    ({"sign_off": "ctrl+x"}, "collides with 'Cut selected text' (ctrl+x on a text box)"),
    ({"review": "f8", "charts": "f8,f12"}, 'config.toml: [keymap] review = "f8" collides with charts (f8)'),
    ({"sign_of": "ctrl+o"}, "config.toml: [keymap] 'sign_of' is not a binding id of the desk (did you mean "
                            "sign_off?): fix or remove it"),
    ({"chart.frobnicate": "x"}, "[keymap] 'chart.frobnicate' is not a binding id of the desk"),
])
async def test_a_keymap_that_collides_or_names_no_binding_stops_the_app_before_it_starts(desk, keymap, line):
    desk.config.keymap = keymap
    actor = sessions.sign_on(desk, "boss")
    with pytest.raises(DeskError) as refused:
        RecdeskApp(desk, actor)
    assert line in str(refused.value) and "\n" not in str(refused.value)


async def test_an_accepted_keymap_takes_effect_and_the_old_key_is_free(desk):
    desk.config.keymap = {"sign_off": "ctrl+o", "review": "f10,f9", "search": "f2,ctrl+f"}
    app = RecdeskApp(desk, sessions.sign_on(desk, "boss"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        await pilot.press("f10")  # now the review key, no longer sign-off
        await pilot.pause()
        assert app.is_running and type(app.screen).__name__ == "ReviewScreen"
        await pilot.press("ctrl+f")  # the extra key for search
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        await pilot.press("ctrl+o")
        await pilot.pause()
    assert app.return_value == "quit"


def test_swapping_two_keys_is_no_collision():
    check_keymap({"sign_off": "f9", "review": "f10"}, desk_bindings())


def test_the_check_knows_every_screen_and_dialog_of_the_desk():
    bindings = desk_bindings()
    ids = {b.id for b in bindings}
    assert {"sign_off", "review", "search.open", "chart.back", "picklist.pick", "help.close", "form.save"} <= ids
    assert {b.scope for b in bindings if b.id == "sign_off"} == {config_mod.APP_SCOPE}


def test_keys_of_two_screens_never_collide_but_an_app_key_collides_everywhere():
    bindings = [KeyBinding("app", "f1", "help", "Help"), KeyBinding("ChartScreen", "m", "chart.move", "Move"),
                KeyBinding("SearchScreen", "escape", "search.clear", "Clear")]
    check_keymap({"search.clear": "m"}, bindings)  # m is the chart's: the two screens are never up at once
    with pytest.raises(DeskError, match=r"chart.move = \"f1\" collides with help \(f1\)"):
        check_keymap({"chart.move": "f1"}, bindings)
    with pytest.raises(DeskError, match=r"help = \"escape\" collides with search.clear \(escape on SearchScreen\)"):
        check_keymap({"help": "escape"}, bindings)


def test_the_desk_command_refuses_a_colliding_keymap_in_one_line_before_anyone_signs_on(tmp_path):
    home = tmp_path / "desk"
    run_cli("init", "--key-file", str(tmp_path / "k"), "--manager", "boss", home=home, check=True)
    with open(home / "config.toml", "a") as f:
        f.write('\n[keymap]\nsign_off = "f9"\n')
    with Desk.open(home):
        before = AuditEvent.select().count()
    result = run_cli("desk", home=home)
    assert result.returncode == 2
    assert result.stderr == ('recdesk: config.toml: [keymap] sign_off = "f9" collides with review (f9): '
                             "give one of them another key\n")
    with Desk.open(home):
        assert AuditEvent.select().count() == before
