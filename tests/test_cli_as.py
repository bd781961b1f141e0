"""Every role on the demo desk (`recdesk --as NAME`), refused on a real desk; the demo found from the default home."""

import json
import os
import shutil
import sys

import peewee
import pytest

from recdesk.desk import Desk
from recdesk.serve.terminal import PtyProcess
from recdesk.vault import audit
from recdesk.vault.models import AuditEvent, User
from tests.conftest import run_cli

REFUSED = "--as is for demo desks only"


@pytest.fixture(scope="module")
def built_demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo") / "demo"
    run_cli("demo", "--patients", "3", "--seed", "2", "--build-only", home=home, check=True)
    return home


@pytest.fixture
def demo(built_demo, tmp_path):
    """A copy of the small demo desk of its own (its demo key file travels with it)."""
    home = tmp_path / "demo"
    shutil.copytree(built_demo, home)
    return home


@pytest.fixture
def real(tmp_path):
    home = tmp_path / "real"
    run_cli("init", "--key-file", str(tmp_path / "master.key"), "--manager", "boss", home=home, check=True)
    return home


def _events(home):
    with Desk.open(home) as desk:
        assert audit.verify(desk).intact
        return list(AuditEvent.select().order_by(AuditEvent.seq))


@pytest.mark.parametrize("args", [["desk"], [], ["user", "list"], ["user", "add", "zed", "--role", "clerk"],
                                  ["search", "smith"], ["review"], ["doctor"], ["roi", "list"], ["audit", "verify"]])
def test_as_is_refused_on_a_real_desk_in_one_line_for_every_command(real, args):
    before = len(_events(real))
    result = run_cli("--as", "boss", *args, home=real)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"recdesk: {REFUSED}") and result.stderr.count("\n") == 1
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(_events(real)) == before  # nothing done, nobody signed on


def test_as_after_the_command_is_refused_on_a_real_desk_too(real):
    result = run_cli("user", "list", "--as", "boss", home=real)
    assert result.returncode == 2 and REFUSED in result.stderr


def test_a_real_desk_whose_config_says_demo_still_refuses_as(real):
    """Whoever can edit the home can flip config.toml's demo flag; a desk is a demo only if the demo builder made
    it (its seed is in the encrypted database), so --as still cannot make one manager approve as another."""
    run_cli("user", "add", "grace", "--role", "manager", home=real, check=True)
    config = real / "config.toml"
    text = config.read_text()
    assert "demo = false" in text
    config.write_text(text.replace("demo = false", "demo = true"))
    before = len(_events(real))
    result = run_cli("--as", "grace", "user", "list", home=real)
    assert result.returncode == 2 and REFUSED in result.stderr, result.stderr
    assert result.stdout == "" and len(_events(real)) == before


def test_init_with_as_is_refused_and_makes_no_desk(tmp_path):
    result = run_cli("--as", "sup", "init", "--key-file", str(tmp_path / "k"), home=tmp_path / "new")
    assert result.returncode == 2 and "`recdesk init` makes a real desk" in result.stderr
    assert not (tmp_path / "new" / "config.toml").exists() and not (tmp_path / "k").exists()


def test_as_manager_adds_a_user_on_the_demo_desk_and_the_audit_names_the_manager(demo):
    refused = run_cli("user", "add", "zed", "--role", "clerk", home=demo)
    assert refused.returncode == 2 and "demo is a clerk" in refused.stderr  # without --as: the demo clerk
    result = run_cli("--as", "manager", "user", "add", "zed", "--role", "clerk", home=demo)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "added clerk zed\n"
    added = [e for e in _events(demo) if e.action == "user.add" and e.object == "user:zed"]
    assert [e.user_name for e in added] == ["manager"]
    listed = json.loads(run_cli("--as", "sup", "user", "list", "--json", home=demo, check=True).stdout)
    assert "zed" in [u["name"] for u in listed] and "ssh_keys" not in listed[0]  # a supervisor's listing


def test_as_an_unknown_or_disabled_user_is_one_line(demo):
    unknown = run_cli("--as", "nobody", "search", "smith", home=demo)
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    assert "--as nobody: this demo desk has no such user; try one of demo, manager, mgr2, sup" in unknown.stderr
    run_cli("--as", "manager", "user", "disable", "mgr2", home=demo, check=True)
    disabled = run_cli("--as", "mgr2", "search", "smith", home=demo)
    assert disabled.returncode == 2 and disabled.stderr == "recdesk: desk user 'mgr2' is disabled: ask a manager\n"


def test_as_sup_desk_opens_the_supervisor_session_and_its_sign_on_says_via_as(demo):
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    env.pop("RECDESK_HOME", None)
    with PtyProcess([sys.executable, "-m", "recdesk.cli", "--home", str(demo), "--as", "sup", "desk"],
                    env=env) as tui:
        tui.read_until(b"Patient search", timeout=30)
        assert b"sup (supervisor)" in tui.output  # the header: who is signed on
        tui.write("\x1b[21~")  # F10: sign off
        assert tui.wait(timeout=20) == 0
    events = _events(demo)
    with Desk.open(demo) as desk:
        sign_on = [audit.details(desk, e) | {"user": e.user_name} for e in events if e.action == "session.sign_on"]
    assert sign_on[-1] == {"user": "sup", "via": "--as", "role": "supervisor"}
    assert events[-1].action == "session.sign_off" and events[-1].user_name == "sup"


def test_an_as_sup_session_cannot_write_even_past_the_services(demo):
    """The connection `recdesk --as sup desk` works on is the read-only one a supervisor gets: a write service
    whose own guards are switched off is still refused by the database."""
    from recdesk import users
    from recdesk.cli import open_session

    desk, actor = open_session(demo, "sup")
    try:
        assert (actor.user_name, actor.role, desk.readonly) == ("sup", "supervisor", True)
        desk.readonly = False  # the desk's own refusal (desk.write) set aside: only the database is left
        boss = type(actor)(actor.user_id, "manager", "manager", actor.session)
        with pytest.raises(peewee.DatabaseError, match="(?i)read.?only"):
            users.add(desk, boss, "zed", "clerk")
    finally:
        desk.readonly = True
        desk.close()
    with Desk.open(demo):
        assert not User.select().where(User.name == "zed").exists()


def _default_home_env(tmp_path):
    env = {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "home" / "share")}
    return env


def _no_recdesk_home(monkeypatch):
    monkeypatch.delenv("RECDESK_HOME", raising=False)


def test_the_demo_desk_is_found_from_the_default_home_and_said_on_stderr(tmp_path, monkeypatch):
    _no_recdesk_home(monkeypatch)
    env = _default_home_env(tmp_path)
    data = tmp_path / "home" / "share" / "recdesk"
    missing = run_cli("search", "smith,jo", env=env)
    assert missing.returncode == 2 and f"no desk in {data}: run `recdesk init`" in missing.stderr
    run_cli("demo", "--patients", "3", "--seed", "2", "--build-only", env=env, check=True)
    assert (data / "demo" / "config.toml").exists()
    found = run_cli("search", "smith,jo", env=env)
    assert found.returncode == 0, found.stderr
    assert found.stderr == f"recdesk: no desk in {data}: using the demo desk in {data / 'demo'}\n"
    assert "no desk" not in found.stdout
    as_sup = run_cli("--as", "sup", "user", "list", "--json", env=env)
    assert as_sup.returncode == 0 and "sup" in [u["name"] for u in json.loads(as_sup.stdout)]
    with Desk.open(data / "demo"):
        last = AuditEvent.select().where(AuditEvent.action == "patient.search").order_by(AuditEvent.seq.desc()).get()
        assert last.user_name == "demo"


def test_a_desk_in_the_default_home_wins_over_the_demo(tmp_path, monkeypatch):
    _no_recdesk_home(monkeypatch)
    env = _default_home_env(tmp_path)
    data = tmp_path / "home" / "share" / "recdesk"
    run_cli("demo", "--patients", "3", "--seed", "2", "--build-only", env=env, check=True)
    run_cli("init", "--key-file", str(tmp_path / "k"), "--manager", "boss", env=env, check=True)
    assert (data / "config.toml").exists()
    result = run_cli("user", "list", "--json", env=env)
    assert result.returncode == 0 and result.stderr == ""
    assert [u["name"] for u in json.loads(result.stdout)] == ["boss"]
