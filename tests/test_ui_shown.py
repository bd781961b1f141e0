"""What the desk shows at 80x24: every screen's footer (its keys whole, always Sign off), every screen's F1 help (the
desk's own keys, plain words, wrapped once), MRNs never cut, data never read as markup, local times."""

import datetime

import pytest
from textual.screen import Screen

from recdesk.demo import builder
from recdesk.patients.registry import decrypt
from recdesk.serve import sessions
from recdesk.vault.models import Document, Patient, Release
from screens.accounting import AccountingScreen
from screens.app import RecdeskApp
from screens.chart import ChartScreen
from screens.dialogs.help import HelpScreen
from screens.document import DocumentScreen
from screens.documentqueue import DocumentQueueScreen
from screens.packet import PacketScreen
from screens.requestform import RequestFormScreen
from screens.search import SearchScreen
from screens.widgets.footer import DeskFooter
from screens.widgets.table import DeskTable
from tests.test_ui import SIZE, settle, until
from tests.test_ui_roles import desk_screens

ABSTRACT = {DocumentQueueScreen}  # the shape of intake and QA, never shown itself


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo desk: 8-digit MRNs, long names, requests, documents, admissions, pull lists, every role."""
    desk = builder.build(tmp_path_factory.mktemp("shown") / "demo", 150, 7)
    yield desk
    desk.close()


def _release() -> Release:
    return Release.select().where(Release.closed_at.is_null()).order_by(Release.id).first()


def opening(cls: type[Screen]):
    """How to put a screen of this class on the desk (screens that need a record get a real one of the demo)."""
    needs = {
        PacketScreen: lambda: PacketScreen(_release().uuid),
        AccountingScreen: lambda: AccountingScreen(_release().patient.uuid),
        RequestFormScreen: lambda: RequestFormScreen(),
    }
    return needs.get(cls, cls)


async def open_screen(app, pilot, cls) -> Screen:
    if cls is SearchScreen:
        pass  # the desk opens on it
    elif cls is ChartScreen:
        patient = Patient.select().where(Patient.sensitive == False).order_by(Patient.id).first()  # noqa: E712
        app.request_chart(patient.uuid)
        await until(pilot, lambda: isinstance(app.screen, ChartScreen), "the chart opens")
    elif cls is DocumentScreen:  # a filed document's pages, opened from its chart (3 Docs, Enter)
        document = (Document.select().join(Patient).where((Patient.sensitive == False)  # noqa: E712
                                                          & (Document.status == "filed")).order_by(Document.id).first())
        app.request_chart(document.patient.uuid)
        await until(pilot, lambda: isinstance(app.screen, ChartScreen), "the chart opens")
        await pilot.press("3", "enter")
    else:
        await app.push_screen(opening(cls)())
    await settle(app, pilot)
    await until(pilot, lambda: isinstance(app.screen, cls), f"{cls.__name__} is shown")
    return app.screen


def lines(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screens_to_check() -> list[type[Screen]]:
    return [cls for cls in desk_screens() if cls not in ABSTRACT]


@pytest.mark.parametrize("user", ["demo", "sup"])
async def test_every_screens_footer_shows_its_keys_whole_and_sign_off_at_80_columns(demo, user):
    walked = screens_to_check()
    assert len(walked) >= 12  # every screen of the desk, found by walking the screens package
    for cls in walked:
        app = RecdeskApp(demo, sessions.sign_on(demo, user))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            screen = await open_screen(app, pilot, cls)
            footer = screen.query_one(DeskFooter)
            line = lines(app)[-1]
            shown = footer.shown()
            assert line.rstrip().endswith("F10 Sign off"), (cls.__name__, line)
            assert len(shown) >= 3, (cls.__name__, line)
            # Every key shown is whole, in order, and nothing else is on the line (no stray letter, no cut word).
            rest = line
            for item in shown:
                word = f"{item.key} {item.label}"
                assert word in rest, (cls.__name__, word, line)
                rest = rest.split(word, 1)[1]
            assert rest.strip() == "", (cls.__name__, line)
            # Ctrl+R (the purge screen) on every screen: the header's right, or the footer when the header is full
            header = lines(app)[0]
            assert ("Ctrl+R Purge" in header) != any(i.key == "Ctrl+R" for i in shown), (cls.__name__, header, line)
            if cls is SearchScreen:  # the hub lists the screens this role may open
                wanted = ["F5 ROI", "F9 Review"] + (["F3 Intake", "F4 QA", "F6 Assembly", "F7 Pulls", "F8 Charts"]
                                                    if user == "demo" else [])
                assert all(w in line for w in wanted), line
                assert "F1 Help" in lines(app)[0]  # no room in the footer: the header says it
                assert "Ctrl+R Purge" in lines(app)[0]


@pytest.mark.parametrize("user", ["demo", "sup"])
async def test_every_screens_help_shows_the_desks_own_keys_in_plain_words_wrapped_once(demo, user):
    for cls in screens_to_check():
        app = RecdeskApp(demo, sessions.sign_on(demo, user))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            screen = await open_screen(app, pilot, cls)
            app.action_help()
            await until(pilot, lambda app=app: isinstance(app.screen, HelpScreen), "help opens")
            await settle(app, pilot)
            help_screen = app.screen
            text = help_screen.body().plain
            box = help_screen.query_one("#help-text")
            assert "super+" not in text and "Copy selected text" not in text and "^c" not in text, cls.__name__
            assert "RULES.md" not in text and "\\[" not in text, cls.__name__
            assert "Keys everywhere:" in text and "F10" in text and "Sign off" in text
            assert all(len(line) <= box.content_region.width for line in text.splitlines()), cls.__name__
            # wrapped once: the widget draws exactly the lines the help wrote (none is wrapped again)
            assert box.virtual_size.height == len(text.splitlines()), cls.__name__
            keys = [line.split()[0] for line in text.split("Keys everywhere:")[1].splitlines()
                    if line.startswith("  F")]
            assert keys == sorted(keys, key=lambda k: int(k[1:])), keys  # F1 ... F10 in order
            assert screen is help_screen.underneath


def mrn_cells(table: DeskTable) -> list[str]:
    """The MRN of each row of a table the clerk can see now (the rows that fit its height)."""
    column = next((n for n, c in enumerate(table.ordered_columns) if c.label.plain.strip() == "MRN"), None)
    if column is None:
        return []
    visible = max(table.size.height - 1, 0)
    return [str(table.get_row_at(r)[column]) for r in range(min(table.row_count, visible))]


async def test_no_list_of_the_desk_cuts_an_mrn_at_80_columns(demo):
    checked = 0
    for cls in screens_to_check():
        app = RecdeskApp(demo, sessions.sign_on(demo, "demo"))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            screen = await open_screen(app, pilot, cls)
            if cls is SearchScreen:
                patient = Patient.select().where(Patient.sensitive == False).order_by(Patient.id).first()  # noqa: E712
                await pilot.press(*decrypt(demo, patient).last.lower())
                await settle(app, pilot)
            await pilot.pause()
            painted = "\n".join(lines(app))
            mrns = [m for table in screen.query(DeskTable) if table.display for m in mrn_cells(table)]
            if cls is SearchScreen:
                results = screen.query_one("#results")
                mrns += [h.patient.mrn for h in results.hits[:results.size.height]]
            if cls.__name__ == "QAScreen":
                mrns += [r.mrn for r in screen.rows[:5]]
            for mrn in mrns:
                assert len(mrn) >= 6 and mrn in painted, (cls.__name__, mrn)
            checked += len(mrns)
    assert checked >= 20  # the QA list, the request log, the pull list, assembly, the search results ...


async def test_a_desk_table_cuts_the_name_and_keeps_the_mrn_whole():
    from textual.app import App

    class One(App):
        def compose(self):
            yield DeskTable(id="t")

    app = One()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DeskTable)
        table.add_columns("Patient", "MRN", "Type", "Note", "Where", "Who", "Why")
        table.add_row("WOLFESCHLEGELSTEINHAUSENBERGERDORFF, Hubert Blaine Maximilian", "123456789012",
                      "Consultation report of the cardiology clinic", "a note that is rather long as well",
                      "Main file room, second floor", "Dr. Christodoulou-Papadopoulos", "continuing care")
        await pilot.pause()
        await pilot.pause()
        line = lines(app)[1]
        assert "123456789012" in line and "…" in line and len(line.rstrip()) <= SIZE[0]
        assert line.lstrip().startswith("WOLFESCH")  # the name is cut, not dropped


# --- data is shown as written: square brackets are text, never markup ------------------------------------------

NAME_LAST, NAME_FIRST = "[b]Doe[/]", "[link=https://evil.example]Jo[/link]"
FILE = "scan [b]0042[/b] [link=https://evil.example]x[/link].pdf"


async def test_a_picked_document_shows_x_in_brackets_in_the_packet_builder(demo):
    app = RecdeskApp(demo, sessions.sign_on(demo, "demo"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = await open_screen(app, pilot, PacketScreen)
        await until(pilot, lambda: bool(screen.candidates), "the candidates are listed")
        assert "[ ]" in "\n".join(lines(app))
        screen.picked.append(screen.candidates[0].uuid)
        screen.redraw()
        await pilot.pause()
        assert lines(app)[2].lstrip().startswith("[x]"), lines(app)[2]


def toasts(app) -> list[str]:
    """The text each toast on the screen shows (as the toast renders it: markup read or not)."""
    return [toast.render().plain for toast in app.screen.query("Toast")]


async def test_the_message_line_and_toasts_show_brackets_as_written(demo):
    app = RecdeskApp(demo, sessions.sign_on(demo, "demo"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("f7")
        await settle(app, pilot)
        await pilot.press("p")  # the demo desk has no print command: the PDF is saved, and the line says so
        await settle(app, pilot)
        said = "\n".join([*lines(app), *toasts(app)])
        assert "(no [print] command is set)" in said, said
        for said in (f"Filed {FILE}", f"{NAME_LAST}, {NAME_FIRST} checked in"):
            app.screen.say(said)
            await pilot.pause()
            assert said in app.screen.query_one("#pl-message").render().plain
        await pilot.press("f2")
        await settle(app, pilot)
        app.screen.say(f"Quarantined {FILE}")  # a screen without a message line says it as a toast
        await pilot.pause()
        await pilot.pause()
        assert f"Quarantined {FILE}" in toasts(app)
        assert app.is_running


async def test_the_assembly_and_pull_list_help_show_brackets_without_a_backslash(demo):
    app = RecdeskApp(demo, sessions.sign_on(demo, "demo"))
    async with app.run_test(size=SIZE) as pilot:
        for key in ("f6", "f7"):
            await pilot.press(key)
            await settle(app, pilot)
            app.action_help()
            await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help opens")
            await settle(app, pilot)
            text = app.screen.body().plain
            assert "[ and ]" in text and "\\[" not in text, text
            await pilot.press("escape")
            await settle(app, pilot)


async def test_a_patient_named_with_markup_is_shown_as_written_in_the_list_the_chart_and_qa(desk_and_manager):
    from recdesk import users
    from recdesk.patients.registry import PatientDetails, register
    from tests.test_display import seal_patient_field
    from tests.test_ui import app_for

    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    pid = register(desk, manager, PatientDetails(mrn="13860540", last="Doe", first="Jo",
                                                 dob=datetime.date(1970, 1, 1)))
    seal_patient_field(desk, pid, "last", NAME_LAST)
    seal_patient_field(desk, pid, "first", NAME_FIRST)
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"13860540")
        await settle(app, pilot)
        assert "[B]DOE[/], [link=https://evil" in "\n".join(lines(app))  # the results list (a name is cut)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ChartScreen), "the chart opens")
        await settle(app, pilot)
        painted = "\n".join(lines(app))
        assert "[link=https://evil.example]Jo[/link]" in painted and "13860540" in painted
        assert app.is_running
