"""Keys a request file has that the contract does not: refused by path with the field meant (exit 2), or with
--lenient left out with a warning each; `roi import` alike. And the A5 statements read as English."""

import datetime
import json

import pytest

from recdesk.release import requests, rules
from recdesk.shapes import InputError, known_keys_only
from tests.conftest import run_cli
from tests.test_roi_input import full_contract, full_import, set_at

TODAY = datetime.date.today().isoformat()


def _renamed(doc: dict, section: str, old: str, new: str) -> dict:
    doc = json.loads(json.dumps(doc))
    doc[section][new] = doc[section].pop(old)
    return doc


def test_a_misspelt_key_is_refused_with_its_path_and_the_field_meant():
    doc = _renamed(full_contract(), "authorization", "discloser", "discharger")
    with pytest.raises(InputError) as caught:
        rules.check_json(doc)
    assert str(caught.value) == ("authorization.discharger: unknown key (did you mean discloser?): fix the key, "
                                 "or remove it")
    assert caught.value.path == "authorization.discharger"


def test_every_unknown_key_is_named_not_only_the_first():
    doc = _renamed(full_contract(), "authorization", "revoked_on", "revoked")
    doc = set_at(doc, "request.scope.source_system", "EHR-7")
    doc["authorization"]["expiration"]["occured"] = True
    with pytest.raises(InputError) as caught:
        rules.check_json(doc)
    assert str(caught.value) == (
        "request.scope.source_system: unknown key; authorization.expiration.occured: unknown key (did you mean "
        "occurred?); authorization.revoked: unknown key (did you mean revoked_on?): fix the keys, or remove them")


def test_lenient_leaves_the_unknown_keys_out_and_hands_each_back_by_path():
    doc = full_import()
    doc["authorizations"]["200345"]["discharger"] = "General Hospital"
    doc["notes"] = "from the fax server"
    kept, unknown = known_keys_only(requests.IMPORT, doc, lenient=True)
    assert [str(u) for u in unknown] == ["authorizations.200345.discharger: unknown key (did you mean discloser?)",
                                         "notes: unknown key"]
    assert "discharger" not in kept["authorizations"]["200345"] and "notes" not in kept
    assert kept == full_import()
    requests.RequestForm.from_json(kept)


def test_roi_check_refuses_an_unknown_key_in_one_line_and_lenient_warns_and_checks(tmp_path):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(_renamed(full_contract(), "authorization", "discloser", "discharger")))
    refused = run_cli("roi", "check", str(path))
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == ("recdesk: authorization.discharger: unknown key (did you mean discloser?): fix the "
                              "key, or remove it\n")
    lenient = run_cli("roi", "check", str(path), "--lenient")
    assert lenient.returncode == 0, lenient.stderr
    assert lenient.stderr == ("recdesk: warning: authorization.discharger: unknown key (did you mean discloser?): "
                              "left out\n")
    verdict = json.loads(lenient.stdout)
    expected = rules.check_json(set_at(full_contract(), "authorization.discloser", ""))
    assert verdict == expected  # checked as if the key were not there


@pytest.fixture
def desk_home(tmp_path):
    home = tmp_path / "desk"
    run_cli("init", "--key-file", str(tmp_path / "k"), "--manager", "boss", home=home, check=True)
    from recdesk.desk import Desk
    from recdesk.patients.registry import PatientDetails, register

    with Desk.open(home) as desk:
        boss = desk.local_actor()
        for mrn in ("100234", "200345"):
            register(desk, boss, PatientDetails(mrn=mrn, last="Smith", first="Ann", dob=datetime.date(1970, 1, 1)))
    return home


def test_roi_import_refuses_an_unknown_key_and_writes_nothing_and_lenient_logs_without_it(desk_home, tmp_path):
    doc = {**full_import(), "as_of": TODAY}
    del doc["authorization_scan"]  # no scanned copy on this desk
    doc["request"]["irb_waivr"] = True
    path = tmp_path / "import.json"
    path.write_text(json.dumps(doc))
    refused = run_cli("roi", "import", str(path), home=desk_home)
    assert refused.returncode == 2
    assert refused.stderr == ("recdesk: request.irb_waivr: unknown key (did you mean irb_waiver?): fix the key, "
                              "or remove it\n")
    assert run_cli("roi", "list", "--json", home=desk_home, check=True).stdout.strip() == "[]"
    lenient = run_cli("roi", "import", str(path), "--lenient", home=desk_home)
    assert lenient.returncode == 0, lenient.stderr
    assert lenient.stderr == ("recdesk: warning: request.irb_waivr: unknown key (did you mean irb_waiver?): "
                              "left out\n")
    listed = json.loads(run_cli("roi", "list", "--json", home=desk_home, check=True).stdout)
    assert sorted(r["mrn"] for r in listed) == ["100234", "200345"] and listed[0]["received"] == "2026-11-02"


def test_the_a5_statements_read_as_english():
    doc = set_at(full_contract(), "authorization.statements",
                 {"revocation": False, "conditioning": False, "redisclosure": False})
    doc = set_at(doc, "request.legal_process", None)  # an attorney's request without process needs the authorization
    messages = {p["field"]: p["message"] for p in rules.check_json(doc)["problems"] if p["code"] == "A5"}
    assert messages == {
        "authorization.statements.revocation":
            "the authorization lacks the statement of the right to revoke in writing: use a compliant form",
        "authorization.statements.conditioning":
            "the authorization lacks the statement that treatment is not conditioned on signing: use a compliant form",
        "authorization.statements.redisclosure":
            "the authorization lacks the statement that the recipient may redisclose: use a compliant form",
    }
