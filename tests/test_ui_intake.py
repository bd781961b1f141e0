"""The intake screen at 80x24: a refused inbox file is named, a quarantined one shows only its fixed phrase."""

import pytest
from textual.widgets import DataTable

from recdesk import users
from recdesk.documents.pdfworker import CANNOT_BE_PARSED
from recdesk.vault.models import Document
from tests.test_ui import SIZE, app_for, settle


@pytest.fixture
def backend():
    return "sqlite"  # the screens are backend-blind; the services are tested on both


async def test_the_intake_screen_names_a_refused_link_and_shows_an_old_reason_as_its_phrase(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    box = desk.config.home / "inbox"
    box.mkdir()
    (box / "fax-0001.pdf").symlink_to(desk.config.key_file)
    (box / "junk.pdf").write_bytes(b"junk")
    app = app_for(desk)
    notices: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await settle(app, pilot)
        app.screen.notify = lambda message, **kw: notices.append(message)  # keep what the clerk is told
        await pilot.press("s")
        await settle(app, pilot)
        assert any("Refused fax-0001.pdf: a symbolic link" in n for n in notices), notices
        with desk.write():  # as an older desk stored it: the parser's words, quoting the file
            Document.update(quarantine_reason="unreadable PDF (ValueError: b'PATEL ANITA')").execute()
        await app.screen.reload()
        await settle(app, pilot)
        row = app.screen.query_one("#queue", DataTable).get_row_at(0)
        choice = str(app.screen.query_one("#choice").render())
    assert "PATEL" not in " ".join(map(str, row)) + choice
    assert CANNOT_BE_PARSED[:25] in str(row[-1]) and CANNOT_BE_PARSED in choice
    assert (box / "fax-0001.pdf").is_symlink()
