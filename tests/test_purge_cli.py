"""`recdesk purge` end to end on a demo desk, in subprocesses, with `--as` for the second person."""

from __future__ import annotations

import json
import re

from recdesk.demo import builder
from tests.conftest import run_cli
from tests.test_certificate import text_of


def test_a_purge_of_the_demo_desk_from_the_command_line(tmp_path):
    home = tmp_path / "demo"
    builder.build(home, 300, 1).close()

    def cli(*args, check=True):
        return run_cli(*args, home=home, check=check)

    due = json.loads(cli("retention", "candidates", "--json").stdout)
    assert len(due) >= 5
    # The two-person rule: the manager who prepared a batch may not approve it (one line, exit 2).
    mine = re.search(r"CD-\d{4}-\d{4}", cli("--as", "manager", "purge", "prepare", "--limit", "1").stdout).group(0)
    own = cli("--as", "manager", "purge", "approve", mine, check=False)
    assert own.returncode == 2 and own.stderr.count("\n") == 1 and "two-person rule" in own.stderr
    cli("--as", "manager", "purge", "cancel", mine, "--reason", "prepared by the approver")
    prepared = cli("purge", "prepare")
    number = re.search(r"CD-\d{4}-\d{4}", prepared.stdout).group(0)
    assert f"prepared purge batch {number}" in prepared.stdout and "next: approval" in prepared.stdout
    taken = cli("--as", "manager", "purge", "prepare", "--mrn", due[0]["mrn"], check=False)
    assert taken.returncode == 2 and f"in purge batch {number} already" in taken.stderr
    refused = cli("purge", "approve", number, check=False)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "needs a manager" in refused.stderr
    cli("--as", "manager", "purge", "approve", number)
    key = tmp_path / "archive.key"
    cli("purge", "archive-key", str(key))
    archived = cli("--as", "manager", "purge", "archive", number, "--key-file", str(key))
    path = archived.stdout.split(" to ")[1].split(" (verified")[0]
    verified = cli("purge", "archive-verify", path, "--key-file", str(key))
    assert "verified" in verified.stdout and "every SHA-256 matches" in verified.stdout
    ran = cli("--as", "manager", "purge", "run", number, "--witness", "Dan Okoye, Privacy Officer")
    assert f"purge batch {number} destroyed: {len(due)} patients destroyed" in ran.stdout
    assert f"destroyed {len(due)} / {len(due)}" in ran.stderr
    again = cli("--as", "manager", "purge", "run", number)  # nothing left to do: says so, changes nothing
    assert "destroyed" in again.stdout
    rows = json.loads(cli("purge", "list", "--json").stdout)
    assert rows[0]["number"] == number and rows[0]["status"] == "destroyed" and rows[0]["done"] == len(due)
    paper = json.loads(cli("purge", "paper", number, "--json").stdout)
    assert len(paper) == len(due)
    for volume in paper[:-1]:
        cli("purge", "shredded", number, f"*MRN{volume['mrn']}*", "--witness", "Dan Okoye")
    cli("purge", "not-found", number, paper[-1]["mrn"], "--note", "not on its shelf")
    shown = json.loads(cli("purge", "show", number, "--json").stdout)
    assert shown["status"] == "paper_confirmed" and {i["outcome"] for i in shown["items"]} == {"destroyed"}
    out = tmp_path / "certificate.pdf"
    cli("--as", "sup", "purge", "certificate", number, "-o", str(out))
    text = text_of(out.read_bytes())
    assert number in text and "Witness: Dan Okoye, Privacy Officer" in text and "not on its shelf" in text
    found = cli("search", due[0]["mrn"])
    assert "DESTROYED " in found.stdout and number in found.stdout and "nothing is left to open" in found.stdout
    assert "audit chain intact" in cli("audit", "verify").stdout
    assert cli("doctor").returncode == 0
    bad = cli("purge", "show", "nope", check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
