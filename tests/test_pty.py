"""The real desk in a real pseudo-terminal: it draws, answers keys, then sends nothing while idle."""

import datetime
import os
import sys

import pytest

from recdesk.desk import Desk
from recdesk.models import AuditEvent
from recdesk.patients import PatientDetails, register
from recdesk.terminal import PtyProcess


@pytest.fixture
def backend():
    return "sqlite"


@pytest.fixture
def home(desk_and_manager):
    desk, manager = desk_and_manager
    register(desk, manager, PatientDetails(mrn="100234", last="Whitfield", first="Ada",
                                           dob=datetime.date(1962, 3, 4), sex="F"))
    return desk.config.home


def test_the_desk_in_a_pty_searches_signs_off_and_is_silent_when_idle(home):
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    with PtyProcess([sys.executable, "-m", "recdesk.cli", "--home", str(home)], env=env) as desk:
        desk.read_until(b"Patient search", timeout=30)
        while desk.read(0.5):  # let the first paint finish
            pass
        assert desk.read(3.0) == b"", "an idle desk must send nothing"
        desk.write("whitf")
        desk.read_until(b"WHITFIELD", timeout=10)
        desk.write("\x1b[21~")  # F10: sign off
        assert desk.wait(timeout=20) == 0
    with Desk.open(home):
        actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.seq)]
    assert actions[-1] == "session.sign_off"
    assert "session.sign_on" in actions and "patient.search" in actions
