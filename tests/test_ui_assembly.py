"""F6 chart assembly at 80x24 with the keyboard only (Textual run_test + Pilot)."""

from __future__ import annotations

import datetime as dt

import pytest

from recdesk import users
from recdesk.documents.filing import file_document
from recdesk.patients.registry import PatientDetails, register
from recdesk.serve import sessions
from recdesk.vault.models import AssemblyItem, AuditEvent, Deficiency, Document, Encounter, Patient, Provider
from screens.app import RecdeskApp
from screens.assembly import AssemblyScreen
from screens.dialogs.choice import ChoiceDialog
from screens.dialogs.help import HelpScreen
from screens.search import SearchScreen
from tests.test_ui import settle

SIZE = (80, 24)
TOMORROW = dt.date.today() + dt.timedelta(days=1)
CHANGING = AssemblyScreen.CHANGING  # the screen's own list of what changes a record


@pytest.fixture
def backend():
    return "sqlite"  # the screens are backend-blind; the services are tested on both


def _pdf(label: str) -> bytes:
    from fpdf import FPDF

    doc = FPDF()
    doc.add_page()
    doc.set_font("Helvetica", size=12)
    doc.cell(0, 10, label)
    return bytes(doc.output())


@pytest.fixture
def ward(desk_and_manager):
    """Two inpatients admitted tomorrow; the first has a consent filed in advance, not yet attached."""
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk")
    users.add(desk, manager, "sue", "supervisor")
    ids = [register(desk, manager, PatientDetails(mrn=mrn, last=last, first=first, dob=dt.date(1960, 1, 2)))
           for mrn, last, first in (("700100", "Abbott", "Lena"), ("700200", "Baker", "Omar"))]
    clerk = desk.sign_on("ann")
    with desk.write():
        ada = Provider.create(name="Dr. Ada Byron", service="Hospital Medicine")
        Provider.create(name="Dr. Ben Casey", service="General Surgery")
        for n, pid in enumerate(ids):
            Encounter.create(patient=pid, kind="inpatient", admit_at=dt.datetime.combine(TOMORROW, dt.time(8 + n)),
                             service="Hospital Medicine", attending=ada)
        file_document(desk, clerk, Patient.get_by_id(ids[0]), _pdf("consent"), doc_type="consent",
                      title="Consent", pages=1, service_date=dt.date.today(), qa_state="passed")
    return desk


def app_for(desk, user="ann"):
    return RecdeskApp(desk, sessions.sign_on(desk, user))


def screen_text(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def offered(app) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}


async def test_clerk_assembles_tomorrows_admission_with_keys_only(ward):
    app = app_for(ward)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f6")
        await settle(app, pilot)
        assert isinstance(app.screen, AssemblyScreen)
        text = screen_text(app)
        assert any("Admissions tomorrow" in line for line in text)
        assert any("ABBOTT, Lena" in line and "700100" in line for line in text)
        assert any("BAKER, Omar" in line for line in text)
        assert all(len(line) <= 80 for line in text)

        await pilot.press("enter")  # the first admission's checklist
        await settle(app, pilot)
        screen = app.screen
        assert screen.chart is not None and screen.chart.patient.mrn == "700100"
        text = screen_text(app)
        assert any("Face sheet" in line for line in text) and any("ABBOTT, Lena" in line for line in text)
        assert {"attach", "deficiency", "close_deficiency"} <= offered(app)

        codes = [item.code for item, _ in screen.lines]
        await pilot.press(*["down"] * codes.index("consent_to_treat"))
        assert screen.line[0].code == "consent_to_treat"
        assert screen.line[0].state == "present"  # filed in advance, dated before admission
        await pilot.press("t")  # attach: the patient's filed documents
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, AssemblyScreen)
        (attached,) = AssemblyItem.select()
        assert attached.item == "consent_to_treat"
        assert Document.get_by_id(attached.document_id).encounter_id == Encounter.get(
            Encounter.uuid == screen.chart.encounter_uuid).id
        assert screen.line[0].attached == (Document.get_by_id(attached.document_id).uuid,)

        await pilot.press("up")  # the item before it, whatever it is, then the face sheet
        await pilot.press(*["up"] * len(codes))
        assert screen.line[0].code == "face_sheet"
        await pilot.press("x")  # record a deficiency: type, provider, note
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceDialog)  # the suggested type is highlighted
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ChoiceDialog)  # the attending is highlighted
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press(*"call ext 4471", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, AssemblyScreen)
        (d,) = Deficiency.select()
        assert (d.kind, d.provider.name, d.status, d.item) == ("missing_document", "Dr. Ada Byron", "open",
                                                               "face_sheet")  # recorded on the item
        assert screen.line[0].state == "deficient"
        assert [item.code for item, _ in screen.lines if item and item.state == "deficient"] == ["face_sheet"]
        assert any("DEFICIENT" in line and "Face sheet" in line for line in screen_text(app))

        await pilot.press("k")  # close it: the dialog defaults to No
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert Deficiency.get().status == "open"
        await pilot.press("k", "down", "enter")
        await settle(app, pilot)
        assert Deficiency.get().status == "closed"
        assert screen.line[0].state != "deficient"

        await pilot.press("escape")  # back to the list
        await settle(app, pilot)
        assert screen.chart is None and any("ABBOTT" in line for line in screen_text(app))
        await pilot.press("escape")
        assert isinstance(app.screen, SearchScreen)
    done = [e.action for e in AuditEvent.select().order_by(AuditEvent.seq)]
    assert {"assembly.worklist", "chart.assemble", "assembly.attach", "deficiency.record",
            "deficiency.close"} <= set(done)


async def test_lists_switch_with_keys_and_the_queue_prints_a_letter(ward, tmp_path):
    desk = ward
    clerk = desk.sign_on("ann")
    from recdesk.completion import assembly

    enc = Encounter.select().order_by(Encounter.admit_at).first()
    with desk.write():
        Encounter.update(admit_at=dt.datetime(2026, 9, 1, 9), discharge_at=dt.datetime(2026, 9, 4, 12)).where(
            Encounter.id == enc.id).execute()
    assembly.record_deficiency(desk, clerk, enc.uuid, "missing_discharge_summary", "Dr. Ada Byron")
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f6")
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert screen.day == TOMORROW + dt.timedelta(days=1) and screen.rows == []
        await pilot.press("left_square_bracket", "c")
        await settle(app, pilot)
        assert screen.view == "clinics" and screen.day == TOMORROW
        await pilot.press("d")
        await settle(app, pilot)
        assert screen.view == "discharges"
        await pilot.press("q")
        await settle(app, pilot)
        text = screen_text(app)
        assert any("C6 rate" in line and "1 chart delinquent / " in line for line in text)
        assert any("Dr. Ada Byron" in line for line in text)
        assert "provider_letter" in offered(app)
        await pilot.press("l")
        await settle(app, pilot)
        letters = list((desk.config.home / "printouts").glob("*deficiency-letter*.pdf"))
        assert len(letters) == 1
        await pilot.press("enter")  # the provider's deficiencies
        await settle(app, pilot)
        assert screen.view == "provider" and [r.mrn for r in screen.rows] == ["700100"]
        await pilot.press("p")  # print that chart
        await settle(app, pilot)
        assert len(list((desk.config.home / "printouts").glob("*-chart.pdf"))) == 1
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        help_text = str(app.screen.query_one("#help-text").render())
        assert "delinquent" in help_text
        await pilot.press("escape", "escape")
        await settle(app, pilot)
        assert screen.view == "queue"
    assert AuditEvent.select().where(AuditEvent.action == "deficiency.letter").count() == 1
    assert AuditEvent.select().where(AuditEvent.action == "chart.print").count() == 1


async def test_f6_discharges_its_queue_and_f9_show_one_delinquency_figure_at_80x24(desk_and_manager):
    """One definition, one number: D, Q and the F9 queues show the service's figure, never their own count."""
    from recdesk.completion import deficiencies
    from screens.review import ReviewScreen
    from tests.test_assembly import delinquent_ward, make_ward

    w = make_ward(*desk_and_manager)
    delinquent_ward(w)
    figure = deficiencies.delinquency(w.desk)
    assert figure.charts == 2  # where counting deficiencies says 4 and counting incomplete checklists 3
    app = app_for(w.desk)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f6", "d")
        await settle(app, pilot)
        assert app.screen.view == "discharges"
        status = str(app.screen.query_one("#asm-status").render())
        assert status.endswith(" incomplete · 2 charts delinquent (deficiency open 30+ days after discharge)")
        assert status in screen_text(app)[2:] or any(status in line for line in screen_text(app))
        assert sum(r.delinquent for r in app.screen.rows) == 2  # the rows flagged "!" are those charts
        await pilot.press("q")
        await settle(app, pilot)
        status = str(app.screen.query_one("#asm-status").render())
        assert "2 charts delinquent / " in status and any(status in line for line in screen_text(app))
    app = app_for(w.desk, "sue")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f9")
        await settle(app, pilot)
        assert isinstance(app.screen, ReviewScreen)
        table = app.screen.query_one("#queues-table")
        rows = {str(table.get_row_at(n)[0]): str(table.get_row_at(n)[1]) for n in range(table.row_count)}
        assert rows["Charts delinquent (C4: a deficiency open 30+ days after discharge)"] == "2"


async def test_supervisor_sees_no_changing_keys(ward):
    app = app_for(ward, "sue")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f6")  # not a supervisor's screen: nothing happens
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen)
        await app.push_screen(AssemblyScreen())
        await settle(app, pilot)
        assert not CHANGING & offered(app)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.chart is not None  # looking is allowed
        assert not CHANGING & offered(app)
        await pilot.press("t", "x", "k")
        await settle(app, pilot)
        assert isinstance(app.screen, AssemblyScreen)
        footer = screen_text(app)[-1]
        assert "Attach" not in footer and "Deficiency" not in footer
    assert Deficiency.select().count() == 0 and AssemblyItem.select().count() == 0


async def test_in_the_demo_desk_a_clerk_assembles_tomorrows_admissions_with_keys_only(tmp_path):
    """The issue's done-criterion: tomorrow's admissions, a document attached, deficiencies recorded."""
    from recdesk.demo import builder

    desk = builder.build(tmp_path / "demo", 150, 7)
    app = RecdeskApp(desk, sessions.sign_on(desk, "demo"))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            await pilot.press("f6")
            await settle(app, pilot)
            screen = app.screen
            assert screen.view == "admissions" and screen.day == TOMORROW and len(screen.rows) >= 6
            recorded = Deficiency.select().count()  # the demo's own
            for n in range(2):  # the first two admissions of tomorrow
                await pilot.press(*["down"] * n, "enter")
                await settle(app, pilot)
                assert screen.chart is not None and screen.chart.admit_at.date() == TOMORROW
                await pilot.press("t")  # attach the best-fitting filed document to the face sheet
                await settle(app, pilot)
                assert isinstance(app.screen, ChoiceDialog)
                await pilot.press("enter")
                await settle(app, pilot)
                await pilot.press("x", "enter")  # a deficiency of the suggested type ...
                await settle(app, pilot)
                await pilot.press("enter")  # ... for the attending ...
                await settle(app, pilot)
                await pilot.press("enter")  # ... with no note
                await settle(app, pilot)
                assert isinstance(app.screen, AssemblyScreen)
                assert screen.line[0].code == "face_sheet" and screen.line[0].deficiencies
                await pilot.press("escape")
                await settle(app, pilot)
                assert screen.chart is None
            await pilot.press("d")
            await settle(app, pilot)
            assert screen.view == "discharges" and any(r.delinquent for r in screen.rows)
        assert AssemblyItem.select().count() == 2
        assert Deficiency.select().count() == recorded + 2
        assert AuditEvent.select().where(AuditEvent.action == "deficiency.record").count() == recorded + 2
    finally:
        desk.close()


async def test_a_restricted_record_asks_a_purpose_before_its_checklist_opens(ward):
    from recdesk.patients import chart

    desk = ward
    manager = desk.sign_on("boss")
    pid = register(desk, manager, PatientDetails(mrn="700300", last="Aaron", first="Rae", dob=dt.date(1970, 3, 3),
                                                 sensitive=True))
    chart.assign(desk, manager, "ann", Patient.get_by_id(pid).uuid)  # a standing need: asked only the purpose
    with desk.write():
        Encounter.create(patient=pid, kind="inpatient", admit_at=dt.datetime.combine(TOMORROW, dt.time(7)),
                         attending=Provider.get())
    app = app_for(desk)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f6")
        await settle(app, pilot)
        screen = app.screen
        assert screen.rows[0].mrn == "700300" and screen.rows[0].sensitive
        await pilot.press("enter")
        await settle(app, pilot)
        from screens.dialogs.purpose import PurposeDialog

        assert isinstance(app.screen, PurposeDialog)
        await pilot.press("enter")  # the default: No, go back
        await settle(app, pilot)
        assert app.screen is screen and screen.chart is None
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("down", "down", "down", "down", "enter")  # chart assembly or deficiency work
        await settle(app, pilot)
        assert screen.chart is not None and screen.purpose == "chart_completion"
        await pilot.press("p")  # printing it asks no second time
        await settle(app, pilot)
        assert app.screen is screen
    assert [(o.purpose, o.need) for o in chart.restricted_openings(desk)] == [("chart_completion", "assigned")] * 2
