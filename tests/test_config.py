"""config.toml is read and checked once: every key typed and bounded, nothing unknown, and it round-trips."""

import dataclasses
import json

import pytest

from recdesk import config as config_mod
from recdesk.config import SECTIONS, Completion, Config, Intake, Roi, Serve
from recdesk.errors import DeskError
from tests.conftest import run_cli

DESK_ID = "0123456789abcdef0123456789abcdef"


def _parse(tmp_path, text: str) -> Config:
    return config_mod.parse(tmp_path, f'[desk]\nid = "{DESK_ID}"\n' + text)


@pytest.mark.parametrize("text, message", [
    ('[intake]\nmax_pages = "abc"', '[intake] max_pages must be a whole number from 1 to 100000, not "abc"'),
    ("[intake]\nmax_pages = -1", "[intake] max_pages must be a whole number from 1 to 100000, not -1"),
    ("[intake]\nmax_bytes = 0", "[intake] max_bytes must be a whole number of bytes from 1 to"),
    ('[intake]\nqa_by_other_clerk = "no"', '[intake] qa_by_other_clerk must be true or false, not "no"'),
    ('[pull_list]\ndue_back_days = 1.5', "[pull_list] due_back_days must be a whole number of days"),
    ("[serve]\nmax_sessions = 0", "[serve] max_sessions must be a whole number from 1 to 10000, not 0"),
    ("[serve]\nmax_output_buffer = true", "[serve] max_output_buffer must be a whole number of bytes"),
    ('[filing]\norder = "backwards"', "[filing] order must be one of terminal, middle, straight"),
    ('[completion]\nkinds = ["inpatient", "spa"]', "[completion] kinds must be a list of one or more of"),
    ('[completion]\ndelinquency_threshold = "half"', "[completion] delinquency_threshold must be a number"),
    ('[completion]\ndelinquent_days = "soon"', "[completion] delinquent_days must be a whole number of days"),
    ('[tracking]\ndefault_file_room = "main room"', "[tracking] default_file_room must be a location code"),
    ("[roi]\nstate = 5", "[roi] state must be a quoted text, not 5"),
    ('[roi]\nstate = "ZZ"', "[roi] state 'ZZ' has no release rules"),
    ('[roi]\nphone = "555\\u001b[2J"', "[roi] phone must be one line of at most 200 characters"),
    ('[print]\ncommand = "lp \\"HIM"', "[print] command \"lp \\\"HIM\" cannot be read"),
    ("[keymap]\nsign_off = 9", "[keymap] sign_off must be a key such as"),
    ('[keymap]\nsign_off = "banana"', "[keymap] sign_off must be a key such as"),
    ('[keymap]\nsign_off = "f9,ctrl+"', "[keymap] sign_off must be a key such as"),
    ('[keymap]\n"Sign Off" = "f9"', "[keymap] 'Sign Off' is not a binding id"),
    # empty where a value is needed (the pattern once skipped empty text)
    ('[tracking]\ndefault_file_room = ""', "[tracking] default_file_room must be a location code"),
    ('[roi]\nbates_prefix = ""', "[roi] bates_prefix must be 1-12 capital letters"),
    ('[roi]\nfacility = "  "', "[roi] facility must be a text that is not empty"),
    # a scan inbox that would swallow the desk itself
    ('[intake]\ninbox = ""', "[intake] inbox must be a text that is not empty"),
    ('[intake]\ninbox = "."', "is the desk's home or holds it"),
    ('[intake]\ninbox = "../.."', "is the desk's home or holds it"),
    ('[intake]\ninbox = "/"', "is the desk's home or holds it"),
    ('[intake]\ninbox = "store/x"', "is inside the desk's own store folder"),
])
def test_a_wrong_type_or_out_of_bounds_value_is_one_line_naming_section_key_and_value(tmp_path, text, message):
    with pytest.raises(DeskError) as caught:
        _parse(tmp_path, text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def _bad_values(cls) -> list[tuple[str, object]]:
    """For each setting of a section, values it must refuse: the wrong type, and each side of its bounds."""
    bad = []
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if f.type == "bool":
            bad += [(f.name, "yes"), (f.name, 1)]
        elif f.type in ("int", "float"):
            bad += [(f.name, "7"), (f.name, True), (f.name, meta["least"] - 1), (f.name, meta["most"] * 2)]
            bad += [(f.name, 1.5)] if f.type == "int" else []
        elif f.type == "tuple[str, ...]":
            bad += [(f.name, "inpatient"), (f.name, ["nowhere"])] + ([] if meta["empty_ok"] else [(f.name, [])])
        else:
            bad += [(f.name, 5), (f.name, "a\u001b[2J"), (f.name, "x" * (meta["limit"] + 1))]
            bad += [(f.name, "not one of them")] if meta["choices"] else []
            bad += [(f.name, "no such shape!")] if meta["pattern"] else []
    return bad


@pytest.mark.parametrize("section, key, value", [
    (name, key, value) for name, cls in SECTIONS.items() for key, value in _bad_values(cls)])
def test_every_setting_refuses_a_bad_value_at_load_in_one_line(tmp_path, section, key, value):
    with pytest.raises(DeskError) as caught:
        _parse(tmp_path, f"[{section}]\n{key} = {json.dumps(value)}")  # JSON is TOML for these values
    message = str(caught.value)
    assert f"[{section}] {key} " in message and "\n" not in message


ID = f'id = "{DESK_ID}"'


@pytest.mark.parametrize("text, message", [
    (f"[desk]\n{ID}\nidle_timeout = 99999999999999999",
     "[desk] idle_timeout must be a whole number of seconds from 30 to 86400, not 99999999999999999"),
    (f'[desk]\n{ID}\ndemo = "false"', '[desk] demo must be true or false, not "false"'),
    (f'[desk]\n{ID}\nfacility = ""', "[desk] facility must be a text that is not empty"),
    ("desk = 5", "desk must be a [desk] section, not 5"),
    ('[desk]\nid = ""', "[desk] id is missing"),
    (f'[desk]\n{ID}\n[keys]\nsource = "vault"', "[keys] source must be one of keyring, file, demo"),
    (f'[desk]\n{ID}\n[keys]\nsource = "file"', '[keys] source = "file" needs file = "/path/to/key"'),
    (f'[desk]\n{ID}\n[database]\nurl = "mysql://x"', "[database] url must be empty (the SQLCipher file) or a"),
    (f'[desk]\n{ID}\nfacilty = "X"', "[desk] has no setting 'facilty' (did you mean facility?)"),
    (f"[desk]\n{ID}\n[intak]\nmax_pages = 5", "there is no [intak] section (did you mean [intake]?)"),
    (f"[desk]\n{ID}\n[intake]\nmax_page = 5", "[intake] has no setting 'max_page' (did you mean max_pages?)"),
])
def test_desk_keys_database_and_unknown_names_are_refused_by_name(tmp_path, text, message):
    with pytest.raises(DeskError) as caught:
        config_mod.parse(tmp_path, text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_every_setting_round_trips_through_to_toml(tmp_path):
    changed = {}
    for name, cls in SECTIONS.items():  # every key of every section set away from its default
        values = {}
        for f in dataclasses.fields(cls):
            meta = f.metadata
            if f.type == "bool":
                values[f.name] = not f.default
            elif f.type == "int":
                values[f.name] = meta["most"]
            elif f.type == "float":
                values[f.name] = float(meta["most"])
            elif f.type == "tuple[str, ...]":
                values[f.name] = tuple(meta["choices"]) or ("TX", "X9")  # a list of codes by pattern
            elif meta["choices"]:
                values[f.name] = meta["choices"][-1]
            elif name == "roi" and f.name == "state":
                values[f.name] = "CA"
            elif meta["pattern"]:
                values[f.name] = "X9"
            else:
                values[f.name] = 'a "quoted" \\ text, ünïcode'
        changed[name] = cls(**values)
    config = Config(home=tmp_path, desk_id=DESK_ID, key_source="file", key_file=tmp_path / "k", database_url="",
                    idle_timeout=86_400, demo=True, facility="St. \"Q\" Hospital",
                    keymap={"sign_off": "f9", "search.open": "ctrl+o,f2"}, **changed)
    config.save()
    assert config_mod.load(tmp_path) == config
    assert config_mod.load(tmp_path).to_toml() == config.to_toml()


def test_defaults_are_what_the_readers_used_before(tmp_path):
    config = _parse(tmp_path, "")
    assert config.intake == Intake() and config.intake.max_pages == 2000 and config.intake.max_bytes == 200 << 20
    assert config.serve == Serve(max_sessions=50, max_sessions_per_user=3)
    assert config.completion == Completion() and config.completion.kinds == ("inpatient", "surgery")
    assert config.roi == Roi() and config.roi.fees is True


def test_a_bad_value_stops_every_command_before_it_touches_the_inbox(tmp_path):
    home = tmp_path / "desk"
    run_cli("init", "--key-file", str(tmp_path / "k"), "--manager", "boss", home=home, check=True)
    (home / "inbox").mkdir()
    (home / "inbox" / "fax.pdf").write_bytes(b"%PDF-1.4 not really")
    with open(home / "config.toml", "a") as f:
        f.write('\n[intake]\nmax_pages = "abc"\n')
    for args in (["intake", "scan"], ["search", "smith"], ["doctor"], ["user", "list"]):
        result = run_cli(*args, home=home)
        assert result.returncode != 0, args  # doctor: 1, a check failed; the others: 2
        out = result.stderr + result.stdout
        assert 'max_pages must be a whole number from 1 to 100000, not "abc"' in out, args
        assert "unexpected" not in out and "Traceback" not in out
    assert [p.name for p in (home / "inbox").iterdir()] == ["fax.pdf"]  # nothing stranded in .claimed
