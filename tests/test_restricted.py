"""Restricted records (X3): refused without a need; a role or a manager's assignment is a need; anyone else breaks
the glass (a purpose and a reason, for [restricted] break_glass_hours on the desk clock), each use queued for a
supervisor, who marks it reviewed by an append to the audit chain, the one write of a read-only session."""

import datetime

import peewee
import pytest

from recdesk import clock, config, review, users
from recdesk.desk import Desk
from recdesk.documents import filing, intake
from recdesk.errors import AccessDenied, DeskError, TamperError
from recdesk.patients import chart
from recdesk.patients.registry import PatientDetails, register
from recdesk.vault import audit, seals
from recdesk.vault.models import AuditEvent, Patient, PatientAssignment, User
from tests.test_roi import pdf


@pytest.fixture
def ward(desk_and_manager):
    desk, boss = desk_and_manager
    users.add(desk, boss, "ann", "clerk")
    users.add(desk, boss, "bea", "clerk")
    users.add(desk, boss, "sue", "supervisor")
    users.add(desk, boss, "sam", "supervisor")
    pid = register(desk, boss, PatientDetails(mrn="300400", last="Obrien", first="Siobhan",
                                              dob=datetime.date(2015, 6, 30), sensitive=True))
    row = Patient.get_by_id(pid)
    with desk.write():
        doc = filing.file_document(desk, boss, row, pdf(1, "Psychiatry note"), doc_type="progress_note",
                                   title="note", pages=1, service_date=datetime.date(2025, 1, 1))
    return desk, boss, desk.sign_on("ann"), row.uuid, doc.uuid


def later(monkeypatch, hours: float) -> None:
    """Move the desk clock on (recdesk.clock: what grants are judged against)."""
    moved = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(hours=hours)
    monkeypatch.setattr(clock, "now", lambda: moved)


def uses(desk) -> int:
    return AuditEvent.select().where(AuditEvent.action == chart.OPENED).count()


def test_a_user_without_a_need_is_refused_even_with_a_purpose(ward):
    desk, _, ann, patient, doc = ward
    before = AuditEvent.select().count()
    for attempt in (lambda: chart.open_chart(desk, ann, patient, purpose="treatment"),
                    lambda: intake.document_bytes(desk, ann, doc, purpose="filing")):
        with pytest.raises(chart.BreakGlassRequired, match="no need on file") as refused:
            attempt()
        assert refused.value.patient_uuid == patient and refused.value.hours == 4
    assert AuditEvent.select().count() == before  # nothing shown, nothing recorded as a use


def test_a_role_with_a_standing_need_opens_with_a_purpose_not_queued(ward):
    desk, boss, _, patient, _ = ward
    with pytest.raises(chart.PurposeRequired):
        chart.open_chart(desk, boss, patient)  # managers: [restricted] roles default
    c = chart.open_chart(desk, boss, patient, purpose="release")
    assert (c.opened.need, c.opened.purpose) == ("role", "release")
    (opening,) = chart.restricted_openings(desk)
    assert (opening.user, opening.need, opening.purpose, opening.queued) == ("boss", "role", "release", False)
    assert chart.review_queue(desk) == []


def test_roles_with_a_need_are_configured(ward, tmp_path):
    desk, _, ann, patient, _ = ward
    desk.config.restricted = config.Restricted(roles=("clerk",))
    assert chart.open_chart(desk, ann, patient, purpose="filing").opened.need == "role"
    desk.config.restricted = config.Restricted(roles=())
    with pytest.raises(chart.BreakGlassRequired):
        chart.open_chart(desk, desk.sign_on("boss"), patient, purpose="filing")


def test_the_restricted_section_of_config_toml_is_checked(tmp_path):
    base = '[desk]\nid = "0123456789abcdef"\n'
    cfg = config.parse(tmp_path, base + '[restricted]\nroles = []\nbreak_glass_hours = 2\n')
    assert (cfg.restricted.roles, cfg.restricted.break_glass_hours) == ((), 2)
    assert config.parse(tmp_path, base).restricted == config.Restricted(roles=("manager",), break_glass_hours=4)
    with pytest.raises(DeskError, match=r"\[restricted\] roles must be a list of any of clerk, supervisor, manager"):
        config.parse(tmp_path, base + '[restricted]\nroles = ["doctor"]\n')
    with pytest.raises(DeskError, match=r"\[restricted\] break_glass_hours must be a whole number of hours"):
        config.parse(tmp_path, base + '[restricted]\nbreak_glass_hours = 0\n')
    assert "[restricted]\nroles = []" in config.parse(tmp_path, base + '[restricted]\nroles = []\n').to_toml()


def test_an_assignment_by_a_manager_is_a_need_until_it_ends(ward):
    desk, boss, ann, patient, doc = ward
    with pytest.raises(AccessDenied):
        chart.assign(desk, ann, "ann", patient)  # only a manager assigns
    chart.assign(desk, boss, "ann", patient)
    with pytest.raises(DeskError, match="already"):
        chart.assign(desk, boss, "ann", patient)
    assert chart.open_chart(desk, ann, patient, purpose="treatment").opened.need == "assigned"
    assert intake.document_bytes(desk, ann, doc, purpose="filing").startswith(b"%PDF")
    assert chart.review_queue(desk) == []
    chart.unassign(desk, boss, "ann", patient)
    with pytest.raises(chart.BreakGlassRequired):
        chart.open_chart(desk, ann, patient, purpose="treatment")
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.action.startswith("restricted."))]
    assert actions == ["restricted.assign", "restricted.unassign"]


def test_an_assignment_written_into_the_database_grants_nothing(ward):
    desk, boss, ann, patient, _ = ward
    with desk.write():
        PatientAssignment.create(user=ann.user_id, patient=Patient.get(Patient.uuid == patient),
                                 granted_by=boss.user_id)
    with pytest.raises(TamperError, match="patient_assignment"):
        chart.open_chart(desk, ann, patient, purpose="treatment")
    assert seals.broken(desk)[1] == 1


def test_break_glass_grants_time_limited_access_and_each_use_is_queued(ward, monkeypatch):
    desk, _, ann, patient, doc = ward
    for bad, why in [("", "required"), ("x" * 201, "keep it to 200"), ("bad\x1b[2J", "control character")]:
        with pytest.raises(DeskError, match=why):
            chart.break_glass(desk, ann, patient, "treatment", bad)
    with pytest.raises(DeskError, match="not one of"):
        chart.break_glass(desk, ann, patient, "curiosity", "ED called: patient unresponsive")
    ends = chart.break_glass(desk, ann, patient, "treatment", "ED called: patient unresponsive")
    grant = AuditEvent.select().where(AuditEvent.action == chart.BREAK_GLASS).get()
    assert ends == grant.at + datetime.timedelta(hours=4)
    assert audit.details(desk, grant) == {"purpose": "treatment", "reason": "ED called: patient unresponsive",
                                          "hours": 4}
    c = chart.open_chart(desk, ann, patient)  # no purpose asked again: the grant's
    assert (c.opened.need, c.opened.purpose, c.opened.expires) == ("break_glass", "treatment", ends)
    assert intake.document_bytes(desk, ann, doc).startswith(b"%PDF")
    queue = chart.review_queue(desk)
    assert [(o.user, o.need, o.via, o.reason) for o in queue] == [
        ("ann", "break_glass", "chart", "ED called: patient unresponsive"),
        ("ann", "break_glass", "document", "ED called: patient unresponsive")]
    # Another clerk has no grant of their own.
    with pytest.raises(chart.BreakGlassRequired):
        chart.open_chart(desk, desk.sign_on("bea"), patient)
    later(monkeypatch, 3.9)
    chart.open_chart(desk, ann, patient)
    later(monkeypatch, 4.1)  # the service judges the expiry on every access, not the screen
    for attempt in (lambda: chart.open_chart(desk, ann, patient),
                    lambda: intake.document_bytes(desk, ann, doc, purpose="treatment")):
        with pytest.raises(chart.BreakGlassRequired, match="your break-glass access ended"):
            attempt()
    assert len(chart.review_queue(desk)) == 3
    assert audit.verify(desk).intact


def test_a_grant_altered_in_the_database_opens_nothing(ward):
    desk, _, ann, patient, _ = ward
    chart.break_glass(desk, ann, patient, "treatment", "ED called")
    grant = AuditEvent.select().where(AuditEvent.action == chart.BREAK_GLASS).get()
    moved = grant.at + datetime.timedelta(days=30)
    desk.db.execute_sql(f"UPDATE audit_event SET at = {desk.db.param} WHERE seq = {desk.db.param}", (moved, grant.seq))
    with pytest.raises(chart.BreakGlassRequired):
        chart.open_chart(desk, ann, patient)


def test_the_queue_shows_what_is_open_and_how_old(ward, monkeypatch):
    desk, _, ann, patient, _ = ward
    chart.break_glass(desk, ann, patient, "treatment", "ED called")
    chart.open_chart(desk, ann, patient)
    later(monkeypatch, 27)
    sue = desk.sign_on("sue")
    table = review.section(desk, sue, "access")
    (row,) = table.rows
    assert row[0] == "OPEN 1 d 3 h"
    assert row[2:8] == ["ann", "300400", "OBRIEN, Siobhan", "break-glass", "treatment", "ED called"]
    assert "1 opening(s) wait for review, the oldest waiting 1 d 3 h" in table.note
    shown = AuditEvent.select().where(AuditEvent.action == "chart.report").order_by(AuditEvent.seq.desc()).get()
    assert audit.details(desk, shown)["patients"] == [patient]  # the MRN and name shown are an audited view
    assert chart.age(datetime.datetime(2026, 1, 1, 12), datetime.datetime(2026, 1, 1, 12, 40)) == "40 min"


def test_a_supervisor_marks_an_opening_reviewed_on_a_read_only_desk(ward):
    desk, boss, ann, patient, _ = ward
    chart.break_glass(desk, ann, patient, "treatment", "ED called")
    chart.open_chart(desk, ann, patient)
    chart.open_chart(desk, boss, patient, purpose="release")  # by a need: listed, not queued
    (opening,) = chart.review_queue(desk)
    with pytest.raises(AccessDenied):
        chart.mark_reviewed(desk, boss, opening.seq, "ok")  # the review is a supervisor's
    home = desk.config.home
    desk.close()
    with Desk.open(home, readonly=True) as ro:
        sue = ro.sign_on("sue")
        with pytest.raises(DeskError, match="note"):
            review.mark_reviewed(ro, sue, opening.seq, " ")
        not_queued = chart.restricted_openings(ro)[0]
        with pytest.raises(DeskError, match="standing need"):
            review.mark_reviewed(ro, sue, not_queued.seq, "fine")
        review.mark_reviewed(ro, sue, opening.seq, "Called ED: confirmed the emergency")
        with pytest.raises(DeskError, match="already reviewed by sue"):
            review.mark_reviewed(ro, ro.sign_on("sam"), opening.seq, "again")
        assert chart.review_queue(ro) == []
        done = next(o for o in chart.restricted_openings(ro) if o.seq == opening.seq)
        assert (done.reviewed_by, done.note) == ("sue", "Called ED: confirmed the emergency")
        assert review.section(ro, sue, "access").rows[-1][0] == "done sue"
        # A supervisor with no need breaks the glass on the read-only session too: the grant is an audit append.
        sam = ro.sign_on("sam")
        chart.break_glass(ro, sam, patient, "legal", "Privacy complaint #12")
        assert chart.open_chart(ro, sam, patient).opened.need == "break_glass"
        # The same connection still refuses a write to any other table.
        with pytest.raises(peewee.DatabaseError):
            User.update(role="manager").where(User.name == "sue").execute()
        with pytest.raises(AccessDenied):
            ro.write()
        assert audit.verify(ro).intact
    with Desk.open(home):
        assert User.get(User.name == "sue").role == "supervisor"


def test_a_supervisor_never_reviews_their_own_break_glass(ward):
    desk, *_, patient, _ = ward
    sue = desk.sign_on("sue")
    chart.break_glass(desk, sue, patient, "legal", "Privacy complaint #12 needs the record")
    chart.open_chart(desk, sue, patient)
    (opening,) = chart.review_queue(desk)
    with pytest.raises(DeskError, match="your own"):
        chart.mark_reviewed(desk, sue, opening.seq, "fine")
    chart.mark_reviewed(desk, desk.sign_on("sam"), opening.seq, "complaint file checked")
    assert chart.review_queue(desk) == []


def test_the_review_command_lists_openings_by_mrn_and_name_and_export_needs_a_need(ward):
    from tests.conftest import run_cli

    desk, boss, ann, patient, doc = ward  # the CLI acts as boss, the manager mapped to this OS user at init
    chart.break_glass(desk, ann, patient, "treatment", "ED called")
    chart.open_chart(desk, ann, patient)
    home = desk.config.home
    result = run_cli("review", "access", home=home)
    assert result.returncode == 0, result.stderr
    assert "1 opening(s) wait for review" in result.stdout
    assert "ann" in result.stdout and "300400" in result.stdout and "OBRIEN, Siobhan" in result.stdout
    assert "break-glass" in result.stdout and "ED called" in result.stdout
    with Desk.open(home) as again:  # the view of MRN and name is audited
        (shown,) = AuditEvent.select().where(AuditEvent.action == "chart.report")
        assert shown.user_name == "boss" and audit.details(again, shown)["patients"] == [patient]
        again.config.restricted = config.Restricted(roles=())  # managers no longer have a standing need
        again.config.save()
    refused = run_cli("intake", "export", doc, "-o", "-", "--purpose", "filing", home=home)
    assert refused.returncode == 2 and "no need on file" in refused.stderr and not refused.stdout
    assert len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("reason", ["\u200b\u200b", "\u200f\u200e", "\ufeff", "\u061c", "\u2800", "\u3164", "\u00ad",
                                    "ED called\u2028Reviewed OK by sup", "ED\u200bcalled", "...", "\ue000 private"])
def test_a_reason_that_hides_or_fakes_what_a_supervisor_reads_is_refused(reason):
    """Zero-width and bidi marks, the BOM, soft hyphen, line separators, blank letters and private-use characters
    pass a strip() and a control-character check; a supervisor would read an empty or a forged reason."""
    from recdesk.patients.chart import check_reason

    assert check_reason(reason) is not None
    assert check_reason("ED called: unconscious patient, chart needed") is None
