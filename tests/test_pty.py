"""The real desk in a real pseudo-terminal: it draws, answers keys, then sends nothing while idle."""

import datetime
import os
import re
import sys

import pytest

from recdesk.desk import Desk
from recdesk.patients.registry import PatientDetails, register
from recdesk.serve.terminal import PtyProcess
from recdesk.vault.models import AuditEvent

# Upper bounds for a machine under load (a second test suite beside this one): a wait ends as soon as its condition
# holds, so a generous bound costs nothing when all is well.
START = 120  # seconds to the first screen (a cold Python, Textual and SQLCipher)
STEP = 60  # seconds for a screen to answer a key
IDLE = 3.0  # seconds of silence asked of an idle screen once it has said it is drawn


def drawn(name: str) -> bytes:
    """The title a desk screen sets once what it shows is read and painted (screens.base.DeskScreen)."""
    return f"\x1b]2;recdesk: {name}\x07".encode()


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
        desk.read_until(drawn("Patient search"), timeout=START)
        assert desk.read(IDLE) == b"", "an idle desk must send nothing"
        desk.write("whitf")
        desk.read_until(b"WHITFIELD", timeout=STEP)
        desk.write("\x1b[21~")  # F10: sign off
        assert desk.wait(timeout=STEP) == 0
    with Desk.open(home):
        actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.seq)]
    assert actions[-1] == "session.sign_off"
    assert "session.sign_on" in actions and "patient.search" in actions


def test_a_wand_burst_in_a_real_pty_pulls_every_chart_in_pick_mode(desk_and_manager):
    """A barcode wand types an MRN and Enter faster than any clerk: three scans arrive in one write."""
    from recdesk import users
    from recdesk.desk import os_user_name
    from recdesk.paper import appointments
    from recdesk.vault.models import ChartVolume, PullItem

    desk, manager = desk_and_manager
    users.add(desk, manager, "wanda", "clerk", os_user=os_user_name())
    for mrn, last in (("993412", "Ames"), ("660034", "Baker"), ("72248", "Chu")):
        register(desk, manager, PatientDetails(mrn=mrn, last=last, first="Pat", dob=datetime.date(1970, 1, 1)))
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    rows = "\n".join(f"A{n},{mrn},Orthopedics Clinic,{tomorrow},{8 + n:02}:00"
                     for n, mrn in enumerate(("993412", "660034", "72248")))
    report = appointments.import_csv(desk, manager, "appointment_id,mrn,clinic,date,time\n" + rows + "\n")
    assert report.added == 3
    home = desk.config.home
    desk.close()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    with PtyProcess([sys.executable, "-m", "recdesk.cli", "--home", str(home)], env=env) as tui:
        tui.read_until(drawn("Patient search"), timeout=START)
        tui.write("\x1b[18~")  # F7: the pull list
        tui.read_until(b"3 to go of 3", timeout=STEP)
        tui.write("993412\r660034\r0072248\r")  # one burst, as a wand sends it
        tui.read_until(b"3 pulled", timeout=STEP)
        tui.write("\x1b[21~")  # F10: sign off
        assert tui.wait(timeout=STEP) == 0
    with Desk.open(home):
        assert PullItem.select().where(PullItem.status == "pulled").count() == 3
        assert ChartVolume.select().where(ChartVolume.status == "out").count() == 3


def test_every_desk_screen_is_silent_when_idle(home):
    """F5-F9 in a real pty: each screen draws, then sends nothing (no clock, no blinking cursor, no polling)."""
    from recdesk import users
    from recdesk.desk import os_user_name

    with Desk.open(home) as desk:
        users.add(desk, desk.sign_on("boss"), "idle", "clerk", os_user=os_user_name())
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    screens = [("\x1b[15~", "Requests: release of information"), ("\x1b[17~", "Chart assembly"),
               ("\x1b[18~", "Pull list"), ("\x1b[19~", "Paper charts"), ("\x1b[20~", "Review (read-only)")]
    with PtyProcess([sys.executable, "-m", "recdesk.cli", "--home", str(home)], env=env) as tui:
        tui.read_until(drawn("Patient search"), timeout=START)
        for key, name in screens:
            tui.write(key)
            tui.read_until(drawn(name), timeout=STEP)  # the screen's own word that its data is read and painted
            assert tui.read(IDLE) == b"", f"{name} sends bytes while idle"
        tui.write("\x1b[21~")
        assert tui.wait(timeout=STEP) == 0


def test_the_purge_screen_in_a_pty_shows_the_worklist_and_is_silent_when_idle(desk_and_manager):
    """Ctrl+R (one byte, 0x12, on every terminal) opens the purge screen: the worklist draws, then nothing is sent."""
    from recdesk.vault.models import Encounter, Provider

    desk, manager = desk_and_manager  # the default schedule (Medicare's five years): a 2009 stay is past it
    pid = register(desk, manager, PatientDetails(mrn="100777", last="Oldfield", first="Iris",
                                                 dob=datetime.date(1941, 5, 6)))
    with desk.write():
        Encounter.create(patient=pid, kind="inpatient", admit_at=datetime.datetime(2009, 4, 1, 9),
                         discharge_at=datetime.datetime(2009, 4, 4, 9), attending=Provider.create(name="Dr. Ames"))
    home = desk.config.home
    desk.close()
    env = {**os.environ, "TERM": "linux", "NO_COLOR": "1", "COLUMNS": "80", "LINES": "24"}  # a thin client's console
    with PtyProcess([sys.executable, "-m", "recdesk.cli", "--home", str(home)], env=env) as tui:
        tui.read_until(drawn("Patient search"), timeout=START)
        start = len(tui.output)
        tui.write("\x12")  # Ctrl+R
        tui.read_until(drawn("Purge and retention"), timeout=STEP)  # the worklist is read and painted
        shown = bytes(tui.output[start:])
        assert b"OLDFIELD" in shown
        assert b"DUE" in shown and b"US-MEDICARE" in shown  # the default schedule: Medicare's five years
        # NO_COLOR: bold and the terminal's own colours only, never a colour of ours (the words say everything)
        codes = {int(c) for sgr in re.findall(rb"\x1b\[([0-9;]*)m", shown) for c in sgr.split(b";") if c}
        assert not codes & (set(range(30, 39)) | set(range(40, 49)) | set(range(90, 108))), sorted(codes)
        assert tui.read(3.0) == b"", "the purge screen sends bytes while idle"
        tui.write("\x1b[21~")  # F10: sign off
        assert tui.wait(timeout=STEP) == 0
    with Desk.open(home):
        assert AuditEvent.select().where(AuditEvent.action == "retention.worklist").count() == 1
