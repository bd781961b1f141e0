"""The request log end to end at the service level: log, hold, fix, packet, QA, release, disclosure, accounting."""

import dataclasses
import datetime
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import peewee
import pytest
from fpdf import FPDF
from pypdf import PdfReader

from recdesk import doctor, users
from recdesk.documents import filing
from recdesk.errors import AccessDenied, DeskError, TamperError
from recdesk.patients.registry import PatientDetails, decrypt, register
from recdesk.release import accounting, fees, letters, log, packets, requests
from recdesk.vault import audit
from recdesk.vault.models import AuditEvent, Disclosure, Document, Patient, Release, ReleaseRequest
from tests.conftest import run_cli

TODAY = datetime.date.today()


def pdf(pages: int, label: str) -> bytes:
    doc = FPDF()
    doc.set_font("Helvetica", size=14)
    for n in range(1, pages + 1):
        doc.add_page()
        doc.cell(0, 10, f"{label} page {n}")
    return bytes(doc.output())


def complete_authorization(**changes) -> dict:
    auth = {
        "description": "Discharge summaries 2025", "discloser": "General Hospital", "recipient": "Dewey LLP",
        "purposes": ["legal claim"], "expiration": {"date": (TODAY + datetime.timedelta(days=200)).isoformat()},
        "signed_on": (TODAY - datetime.timedelta(days=10)).isoformat(), "signature": "/s/ Ann Avery",
        "signer": "patient", "statements": {"revocation": True, "conditioning": True, "redisclosure": True},
    }
    auth.update(changes)
    return auth


def log_request(desk, actor, request_form) -> list[Release]:
    """requests.log_request, with the rows of what it logged (these tests look into the tables behind it)."""
    return [log.release_row(r.uuid) for r in requests.log_request(desk, actor, request_form)]


def form(**changes) -> requests.RequestForm:
    request = {"received": (TODAY - datetime.timedelta(days=3)).isoformat(), "requester_type": "attorney",
               "requester_name": "Dewey LLP", "purpose": "legal",
               "scope": {"from": "2025-01-01", "to": "2025-12-31", "doc_types": None, "categories": []}}
    f = requests.RequestForm(request=request, authorization=complete_authorization(), patients=["100234"],
                        requester_address="1 Court St\nAustin TX 78701", delivery="paper")
    for key, value in changes.items():
        setattr(f, key, value)
    return f


@pytest.fixture
def office(desk_and_manager):
    desk, manager = desk_and_manager
    users.add(desk, manager, "ann", "clerk", full_name="Ann Clerk")
    users.add(desk, manager, "bob", "clerk")
    users.add(desk, manager, "sue", "supervisor")
    a = register(desk, manager, PatientDetails(mrn="100234", last="Avery", first="Ann", dob=datetime.date(1960, 1, 1)))
    b = register(desk, manager, PatientDetails(mrn="200345", last="Baker", first="Bo", dob=datetime.date(1970, 2, 2)))
    ann = desk.sign_on("ann")
    patient = Patient.get_by_id(a)
    with desk.write():
        docs = {
            "summary": filing.file_document(desk, ann, patient, pdf(3, "Discharge summary"),
                                               doc_type="discharge_summary", title="Discharge summary", pages=3,
                                               service_date=datetime.date(2025, 3, 1), qa_state="passed"),
            "labs": filing.file_document(desk, ann, patient, pdf(4, "Lab result"), doc_type="lab_result",
                                            title="Lab results", pages=4, service_date=datetime.date(2025, 5, 2),
                                            qa_state="passed"),
            "old": filing.file_document(desk, ann, patient, pdf(2, "Old note"), doc_type="progress_note",
                                           title="Progress note 2019", pages=2,
                                           service_date=datetime.date(2019, 1, 1), qa_state="passed"),
        }
    return desk, ann, desk.sign_on("bob"), desk.sign_on("sue"), patient, Patient.get_by_id(b), docs


def events(action: str) -> int:
    return AuditEvent.select().where(AuditEvent.action == action).count()


def test_an_incomplete_authorization_holds_the_request_and_drafts_the_deficiency_letter(office):
    desk, ann, *_ = office
    (release,) = log_request(desk, ann, form(authorization=complete_authorization(signature="",
                                                                                      statements={})))
    assert release.status == "on_hold"
    assert "A1 authorization.signature" in release.hold_reason
    letters = [e for e in log.history(desk, release) if e["kind"] == "letter"]
    assert [e["note"] for e in letters] == ["deficiency"]
    letter = Document.get(Document.uuid == letters[0]["document"])
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(filing.read_document(desk, ann, letter))).pages)
    assert "signature" in text and "right to revoke" in text and "Dewey LLP" in text
    # The corrected authorization arrives: the release goes on.
    verdict = requests.update_authorization(desk, ann, release.uuid, complete_authorization())
    assert verdict.releasable and Release.get(Release.uuid == release.uuid).status == "in_progress"
    statuses = [e["status"] for e in log.history(desk, release) if e["kind"] == "status"]
    assert statuses == ["received", "validating", "on_hold", "in_progress"]


def test_requester_and_authorization_are_never_stored_in_the_clear(office):
    desk, ann, *_ = office
    log_request(desk, ann, form())
    desk.db.execute_sql("PRAGMA wal_checkpoint(FULL)") if not desk.is_postgres else None
    if not desk.is_postgres:
        raw = desk.config.sqlite_path.read_bytes()
        assert b"Dewey" not in raw and b"Court St" not in raw and b"Ann Avery" not in raw


def test_one_request_for_two_patients_makes_two_releases_and_an_unknown_mrn_writes_nothing(office):
    desk, ann, *_ = office
    releases = log_request(desk, ann, form(patients=["100234", "200345"]))
    assert len(releases) == 2 and len({r.patient_id for r in releases}) == 2
    before = (ReleaseRequest.select().count(), Release.select().count())
    with pytest.raises(DeskError, match="no patient with MRN 999999"):
        log_request(desk, ann, form(patients=["100234", "999999"]))
    assert (ReleaseRequest.select().count(), Release.select().count()) == before


def test_logging_a_request_hands_back_plain_values_not_rows(office):
    desk, ann, *_ = office
    (logged,) = requests.log_request(desk, ann, form())
    assert isinstance(logged, requests.LoggedRelease) and not isinstance(logged, peewee.Model)
    row = Release.get(Release.uuid == logged.uuid)
    assert (logged.status, logged.patient_uuid) == (row.status, row.patient.uuid)
    with pytest.raises(dataclasses.FrozenInstanceError):
        logged.status = "released"


def test_a_supervisor_cannot_log_a_request(office):
    desk, _, _, sue, *_ = office
    with pytest.raises(AccessDenied):
        log_request(desk, sue, form())


def test_a_supervisor_sees_the_accounting_but_printing_it_is_a_clerks_act(office):
    """A print delivers the accounting (D4): a supervisor's review print once used up the patient's free one."""
    desk, _, _, sue, patient, *_ = office
    assert accounting.accounting(desk, sue, patient.uuid).free
    with pytest.raises(AccessDenied):
        accounting.accounting_pdf(desk, sue, patient.uuid)
    assert accounting.accounting(desk, sue, patient.uuid).free


def _pages_text(data: bytes, password: str | None = None) -> list[str]:
    reader = PdfReader(io.BytesIO(data))
    if password is not None:
        assert reader.is_encrypted
        assert reader.decrypt(password)
    return [p.extract_text() for p in reader.pages]


def test_packet_release_and_disclosure_for_electronic_delivery(office):
    desk, ann, bob, _, patient, _, docs = office
    (release,) = log_request(desk, ann, form(delivery="electronic"))
    assert release.status == "in_progress"
    cands = {c.uuid: c for c in packets.candidates(desk, ann, release.uuid)}
    assert cands[docs["summary"].uuid].flags == []
    assert [f.code for f in cands[docs["old"].uuid].flags] == ["A8"]  # outside 2025
    with pytest.raises(DeskError, match="flagged"):
        packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid, docs["old"].uuid])
    packet_doc = packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid, docs["labs"].uuid],
                                  pages={docs["labs"].uuid: [1, 3]})
    release = Release.get(Release.uuid == release.uuid)
    assert release.status == "qa"
    data = packets.packet_pdf(desk, ann, release.uuid)
    with pytest.raises(Exception):  # noqa: B017 - no password, no pages
        PdfReader(io.BytesIO(data)).pages[0].extract_text()
    password = packets.packet_password(desk, ann, release.uuid)
    texts = _pages_text(data, password)
    added = 1 + 1  # cover letter + the general redisclosure notice
    assert len(texts) == 3 + 2 + added == packet_doc.pages
    for n, text in enumerate(texts, start=1):
        assert f"{n:06d}" in text and "CONFIDENTIAL" in text
    assert "Lab result page 3" in texts[1 + 3 + 1] and "Lab result page 2" not in "".join(texts)
    with pytest.raises(DeskError, match="passed QA"):
        packets.release_packet(desk, ann, release.uuid)
    packets.qa_packet(desk, bob, release.uuid, passed=True)
    disclosure = packets.release_packet(desk, ann, release.uuid)
    assert Release.get(Release.uuid == release.uuid).status == "released"
    assert disclosure.packet_sha256 == hashlib.sha256(data).hexdigest() == packet_doc.sha256
    (row,) = accounting.disclosures(desk, patient)
    assert row.recipient == "Dewey LLP" and "Austin TX" in row.address
    assert docs["summary"].uuid[:8] in row.description and docs["labs"].uuid[:8] in row.description
    assert "pages 1,3" in row.description and "pages 1-3" in row.description
    assert row.accountable is False and row.basis == "authorization"  # under an authorization: exempt (D1)
    assert events("roi.release") == 1 and events("roi.packet.password") == 1


def test_a_subpoena_packet_carries_a_certification_and_is_accountable(office):
    desk, ann, bob, _, patient, _, docs = office
    request = form().request | {"legal_process": {"type": "subpoena_no_order", "assurance": "notice",
                                                  "case": "Doe v. Roe", "case_number": "24-CV-118"},
                                "scope": {"from": None, "to": None, "doc_types": ["discharge_summary"],
                                          "categories": []}}
    (release,) = log_request(desk, ann, form(request=request, authorization=None))
    assert release.status == "in_progress"
    packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid])
    texts = _pages_text(packets.packet_pdf(desk, ann, release.uuid))
    assert len(texts) == 3 + 3  # cover, certification, 3 record pages, notice
    assert "3 pages" in texts[1] and "Doe v. Roe" in texts[1]
    packets.qa_packet(desk, bob, release.uuid, passed=True)
    packets.release_packet(desk, ann, release.uuid)
    acc = accounting.accounting(desk, ann, patient.uuid)
    assert [r.recipient for r in acc.rows] == ["Dewey LLP"] and acc.free
    text = "".join(_pages_text(accounting.accounting_pdf(desk, ann, patient.uuid)))
    assert "Dewey LLP" in text and "Accounting of disclosures" in text
    assert not accounting.accounting(desk, ann, patient.uuid).free  # D4: the second within 12 months is not free


def test_a_failed_packet_qa_sends_it_back_for_rebuilding(office):
    desk, ann, bob, _, _, _, docs = office
    (release,) = log_request(desk, ann, form())
    packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid])
    with pytest.raises(DeskError, match="say what is wrong"):
        packets.qa_packet(desk, bob, release.uuid, passed=False)
    packets.qa_packet(desk, bob, release.uuid, passed=False, reason="page 2 is blank")
    assert Release.get(Release.uuid == release.uuid).status == "in_progress"


def test_the_view_carries_what_the_request_log_shows_without_its_rows(office):
    desk, ann, _, _, patient, _, docs = office
    (release,) = log_request(desk, ann, form(delivery="electronic"))
    packet_doc = packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid])
    v = requests.get(desk, ann, release.uuid)
    assert (v.uuid, v.status, v.delivery, v.packet_uuid, v.packet_encrypted) == (
        release.uuid, "qa", "electronic", packet_doc.uuid, True)
    assert (v.received_on, v.extended, v.hold_reason) == (TODAY - datetime.timedelta(days=3), False, "")
    assert v.asked.requester_name == "Dewey LLP" and v.authorization.recipient == "Dewey LLP"
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.status = "released"
    filed = Document.get(Document.uuid == packet_doc.uuid)
    assert packets.packet_pdf(desk, ann, release.uuid) == filing.read_document(desk, ann, filed)
    with pytest.raises(DeskError, match="not a letter of this request"):  # the packet is not a letter to hand out
        letters.letter_pdf(desk, ann, release.uuid, packet_doc.uuid)


def test_the_disclosure_describes_the_packet_built_last_and_no_other(office):
    desk, ann, bob, _, patient, _, docs = office
    (release,) = log_request(desk, ann, form())
    packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid])
    first = Release.get(Release.uuid == release.uuid).packet_description_enc
    packets.qa_packet(desk, bob, release.uuid, passed=False, reason="the labs are missing")
    packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid, docs["labs"].uuid])
    packets.qa_packet(desk, bob, release.uuid, passed=True)
    last = Release.get(Release.uuid == release.uuid).packet_description_enc
    # The first packet's description put back by hand would say less went out than did.
    Release.update(packet_description_enc=first).where(Release.id == release.id).execute()
    with pytest.raises(TamperError):
        packets.release_packet(desk, ann, release.uuid)
    Release.update(packet_description_enc=None).where(Release.id == release.id).execute()
    with pytest.raises(DeskError, match="description is missing"):
        packets.release_packet(desk, ann, release.uuid)
    assert Disclosure.select().count() == 0
    Release.update(packet_description_enc=last).where(Release.id == release.id).execute()
    packets.release_packet(desk, ann, release.uuid)
    (row,) = accounting.disclosures(desk, patient)
    assert docs["summary"].uuid[:8] in row.description and docs["labs"].uuid[:8] in row.description
    # doctor finds a description moved behind the desk's back (it opens its own desk: last in the test)
    Release.update(packet_description_enc=first).where(Release.id == release.id).execute()
    found = [text for ok, text in doctor.run(desk.config.home).lines if not ok]
    assert any("release.packet_description" in line for line in found), found


def _back_to_schema_8(desk) -> Path:
    """The desk as schema 8 had it (no description column), closed so the next open upgrades it; its home."""
    desk.db.execute_sql('ALTER TABLE "release" DROP COLUMN "packet_description_enc"')
    desk.db.execute_sql("UPDATE desk_info SET schema_version = 8")
    desk.config.save()
    desk.close()
    return desk.config.home


def test_a_packet_built_before_its_description_had_a_column_is_released_as_its_history_recorded(office):
    from recdesk.desk import Desk
    from recdesk.vault import migrations

    desk, ann, bob, _, patient, _, docs = office
    (release,) = log_request(desk, ann, form())
    packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid, docs["labs"].uuid])
    packets.qa_packet(desk, bob, release.uuid, passed=True)
    (built,) = [e["note"] for e in log.history(desk, release.uuid) if e["note"].startswith("packet built: ")]
    # Back to schema 8: the description was kept only in the history note of the packet's building.
    home = _back_to_schema_8(desk)
    with Desk.open(home) as upgraded:
        assert upgraded.db.execute_sql("SELECT schema_version FROM desk_info").fetchone()[0] == migrations.latest()
        packets.release_packet(upgraded, upgraded.sign_on("ann"), release.uuid)
        (row,) = accounting.disclosures(upgraded, Patient.get_by_id(patient.id))
        assert row.description == built.removeprefix("packet built: ")
        assert docs["labs"].uuid[:8] in row.description and "pages 1-4" in row.description


def test_a_damaged_history_note_does_not_stop_the_upgrade_and_doctor_names_the_packet(office):
    """One tampered note once made schema 9's step fail, and every command with it, for the whole office."""
    from recdesk.desk import Desk
    from recdesk.vault.models import ReleaseEvent

    desk, ann, bob, *_, docs = office
    (release,) = log_request(desk, ann, form())
    packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid])
    packets.qa_packet(desk, bob, release.uuid, passed=True)
    built = ReleaseEvent.get((ReleaseEvent.release == release.id) & (ReleaseEvent.status == "qa"))
    other = ReleaseEvent.select().where(ReleaseEvent.note_enc.is_null(False) & (ReleaseEvent.id != built.id)).first()
    ReleaseEvent.update(note_enc=other.note_enc).where(ReleaseEvent.id == built.id).execute()
    home = _back_to_schema_8(desk)
    with Desk.open(home) as upgraded:
        with pytest.raises(DeskError, match=r"fail its QA \(Q, N\), then build it again"):
            packets.release_packet(upgraded, upgraded.sign_on("ann"), release.uuid)
    found = [text for ok, text in doctor.run(home).lines if not ok]
    assert any(line.startswith("packets: 1 built packet(s) with no description") and release.uuid in line
               for line in found), found
    assert any("release_event.note" in line for line in found), found


def test_an_authorization_that_expires_or_is_revoked_while_the_packet_waits_stops_the_release(office):
    desk, ann, bob, _, _, _, docs = office
    (release,) = log_request(desk, ann, form())
    packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid])
    packets.qa_packet(desk, bob, release.uuid, passed=True)
    with pytest.raises(DeskError, match="A2"):
        packets.release_packet(desk, ann, release.uuid, as_of=TODAY + datetime.timedelta(days=300))
    revoked = complete_authorization(revoked_on=TODAY.isoformat())
    verdict = requests.update_authorization(desk, ann, release.uuid, revoked)
    assert verdict.codes() == ["A6"] and Release.get(Release.uuid == release.uuid).status == "on_hold"
    with pytest.raises(DeskError, match="build the packet"):
        packets.release_packet(desk, ann, release.uuid)
    assert Disclosure.select().count() == 0


def test_patient_access_extension_and_denial(office):
    desk, ann, *_ = office
    request = {"received": (TODAY - datetime.timedelta(days=5)).isoformat(), "requester_type": "patient",
               "requester_name": "Ann Avery", "purpose": "individual_access"}
    (release,) = log_request(desk, ann, form(request=request, authorization=None))
    assert release.due_on == TODAY + datetime.timedelta(days=25)
    new_due = requests.extend(desk, ann, release.uuid, "records are in off-site storage")
    assert new_due == TODAY + datetime.timedelta(days=55)
    with pytest.raises(DeskError, match="only one extension"):
        requests.extend(desk, ann, release.uuid, "again")
    with pytest.raises(DeskError, match="R2"):
        requests.deny(desk, ann, release.uuid, "endanger")  # reviewable: needs a professional's determination
    requests.deny(desk, ann, release.uuid, "psychotherapy_notes", denied="the psychotherapy notes")
    release = Release.get(Release.uuid == release.uuid)
    assert release.status == "denied" and release.closed_at is not None
    kinds = [e["note"] for e in log.history(desk, release) if e["kind"] == "letter"]
    assert kinds == ["extension_notice", "denial"]


def test_an_extension_after_day_30_is_refused(office):
    desk, ann, *_ = office
    request = {"received": (TODAY - datetime.timedelta(days=31)).isoformat(), "requester_type": "patient",
               "requester_name": "Ann Avery", "purpose": "individual_access"}
    (release,) = log_request(desk, ann, form(request=request, authorization=None))
    with pytest.raises(DeskError, match="outside the first 30 days"):
        requests.extend(desk, ann, release.uuid, "busy")


def test_fees_for_the_patients_copy_are_cost_based_and_estimated_first(office):
    desk, ann, *_ = office
    request = {"received": TODAY.isoformat(), "requester_type": "patient", "requester_name": "Ann Avery",
               "purpose": "individual_access"}
    (paper,) = log_request(desk, ann, form(request=request, authorization=None))
    lines, total = fees.fee_estimate(desk, ann, paper.uuid, pages=40)
    assert [line.kind for line in lines] == ["labor", "supplies", "postage"] and total == 40 * 15 + 73
    assert json.loads(Release.get(Release.uuid == paper.uuid).fee_json)["total_cents"] == total
    (electronic,) = log_request(desk, ann, form(request=request, authorization=None, delivery="electronic"))
    lines, total = fees.fee_estimate(desk, ann, electronic.uuid, pages=400, flat=True)
    assert total == 650 and [line.kind for line in lines] == ["flat"]
    with pytest.raises(DeskError, match="flat fee"):
        fees.fee_estimate(desk, ann, paper.uuid, pages=40, flat=True)
    (attorney,) = log_request(desk, ann, form())
    lines, _ = fees.fee_estimate(desk, ann, attorney.uuid, pages=10)
    assert "retrieval" in [line.kind for line in lines]  # third parties: the site's schedule, not HIPAA's limits


def test_the_queue_shows_aging_and_is_audited(office):
    desk, ann, _, sue, *_ = office
    log_request(desk, ann, form())
    old = form().request | {"received": (TODAY - datetime.timedelta(days=40)).isoformat()}
    log_request(desk, ann, form(request=old, authorization=complete_authorization(
        signed_on=(TODAY - datetime.timedelta(days=45)).isoformat())))
    views = requests.queue(desk, ann)
    assert [v.bucket for v in views] == ["over 30 days", "0-10 days"]
    assert requests.aging(desk) == {"0-10 days": 1, "11-20 days": 0, "21-30 days": 0, "over 30 days": 1, "past due": 1}
    assert events("roi.queue.view") == 2


def test_roi_import_logs_a_request_from_a_file(office, tmp_path):
    desk, ann, *_ = office
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"request": form().request, "authorization": complete_authorization(),
                                "patients": ["100234"], "requester_address": "1 Court St", "delivery": "paper"}))
    (release,) = requests.import_file(desk, ann, path).releases
    assert release.status == "in_progress"
    path.write_text(json.dumps({"request": form().request, "patients": []}))
    with pytest.raises(DeskError, match="^patients: is empty: give at least one"):
        requests.import_file(desk, ann, path)


def test_roi_import_on_the_command_line(tmp_path):
    home = tmp_path / "demo"
    run_cli("demo", "--patients", "200", "--build-only", home=home, check=True)
    path = tmp_path / "r.json"
    from recdesk.desk import Desk

    with Desk.open(home) as desk:
        mrn = decrypt(desk, Patient.select().first()).mrn
    path.write_text(json.dumps({"request": form().request, "authorization": complete_authorization(),
                                "patients": [mrn]}))
    result = run_cli("roi", "import", str(path), home=home)
    assert result.returncode == 0, result.stderr
    assert "in progress" in result.stdout and "due" in result.stdout


def test_a_patients_copy_needs_a_fee_estimate_before_the_packet(office):
    desk, ann, _, _, _, _, docs = office
    request = {"received": TODAY.isoformat(), "requester_type": "patient", "requester_name": "Ann Avery",
               "purpose": "individual_access"}
    (release,) = log_request(desk, ann, form(request=request, authorization=None))
    with pytest.raises(DeskError, match="R3"):
        packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid])
    fees.fee_estimate(desk, ann, release.uuid, pages=3)
    assert packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid]).pages == 3 + 2


def test_part2_records_go_out_with_the_notice_and_a_copy_of_the_consent(office):
    desk, ann, _, _, patient, other, docs = office
    with desk.write():
        consent = filing.file_document(desk, ann, patient, pdf(1, "Part 2 consent signed"),
                                          doc_type="authorization", title="Signed Part 2 consent", pages=1,
                                          service_date=TODAY, qa_state="passed")
        stranger = filing.file_document(desk, ann, other, pdf(1, "Other consent"), doc_type="authorization",
                                           title="Someone else's consent", pages=1, service_date=TODAY)
    request = form().request | {"scope": {"categories": ["sud_part2"]}}
    auth = complete_authorization(part2_consent=True, categories=["sud_part2"])
    (release,) = log_request(desk, ann, form(request=request, authorization=auth))
    assert release.status == "in_progress"
    with pytest.raises(DeskError, match="copy of the patient's consent"):
        packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid])
    with pytest.raises(DeskError, match="filed to this patient"):
        requests.link_scan(desk, ann, release.uuid, stranger.uuid)
    requests.link_scan(desk, ann, release.uuid, consent.uuid)
    packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid])
    texts = _pages_text(packets.packet_pdf(desk, ann, release.uuid))
    assert len(texts) == 1 + 3 + 2 + 1  # cover, records, general + Part 2 notices, the consent
    assert "42 CFR part 2 prohibits unauthorized use or disclosure" in " ".join(texts[4:6]).replace("\n", " ")
    assert "Part 2 consent signed" in texts[-1] and all(f"{n:06d}" in t for n, t in enumerate(texts, start=1))


def test_disclosures_made_outside_a_packet_are_logged_and_accounted_by_basis(office):
    desk, ann, _, sue, patient, *_ = office
    accounting.record_disclosure(desk, ann, patient.uuid, disclosed_on=TODAY - datetime.timedelta(days=3),
                          recipient="County Health Department", address="1 Health Way",
                          description="Reportable condition: lab result of 2026-11-20", purpose="public_health",
                          basis="public_health")
    accounting.record_disclosure(desk, ann, patient.uuid, disclosed_on=TODAY, recipient="Dr. Lee", description="H&P",
                          purpose="treatment", basis="treatment")
    rows = accounting.accounting(desk, ann, patient.uuid).rows
    assert [(r.recipient, r.basis) for r in rows] == [("County Health Department", "public_health")]
    assert len(accounting.disclosures(desk, patient)) == 2  # both logged; only one is accountable
    with pytest.raises(DeskError, match="must be one of"):
        accounting.record_disclosure(desk, ann, patient.uuid, disclosed_on=TODAY, recipient="x", description="y",
                              purpose="oversight", basis="gossip")
    with pytest.raises(DeskError, match="in the future"):
        accounting.record_disclosure(desk, ann, patient.uuid, disclosed_on=TODAY + datetime.timedelta(days=1),
                              recipient="x", description="y", purpose="oversight", basis="oversight")
    with pytest.raises(AccessDenied):
        accounting.record_disclosure(desk, sue, patient.uuid, disclosed_on=TODAY, recipient="x", description="y",
                              purpose="oversight", basis="oversight")
    assert events("roi.disclosure.record") == 2


def test_an_agencys_suspension_holds_its_disclosures_out_of_the_accounting_while_it_lasts(office):  # D5
    desk, ann, _, sue, patient, *_ = office
    for recipient in ("State Medical Board", "County Health Department"):
        accounting.record_disclosure(desk, ann, patient.uuid, disclosed_on=TODAY - datetime.timedelta(days=10),
                              recipient=recipient, description="records", purpose="oversight", basis="oversight")
    accounting.suspend_accounting(desk, ann, patient.uuid, agency="state medical board", starts_on=TODAY, written=False)
    acc = accounting.accounting(desk, ann, patient.uuid)
    assert [r.recipient for r in acc.rows] == ["County Health Department"] and acc.withheld == 1
    later = accounting.accounting(desk, ann, patient.uuid, as_of=TODAY + datetime.timedelta(days=31))
    assert len(later.rows) == 2 and later.withheld == 0  # an oral suspension lapses after 30 days
    with pytest.raises(DeskError, match="end date"):
        accounting.suspend_accounting(desk, ann, patient.uuid, agency="FBI", starts_on=TODAY, written=True)
    accounting.suspend_accounting(desk, ann, patient.uuid, agency="County Health Department", starts_on=TODAY,
                           written=True, ends_on=TODAY + datetime.timedelta(days=90))
    assert accounting.accounting(desk, ann, patient.uuid, as_of=TODAY + datetime.timedelta(days=60)).withheld == 1
    text = "".join(_pages_text(accounting.accounting_pdf(desk, ann, patient.uuid)))
    assert "County Health" not in text and "Medical Board" not in text and "held back" not in text
    with pytest.raises(AccessDenied):
        accounting.suspend_accounting(desk, sue, patient.uuid, agency="x", starts_on=TODAY, written=False)


def test_psychotherapy_notes_and_part2_records_cannot_be_confirmed_into_a_packet(office):  # A9, S2
    desk, ann, _, _, patient, _, docs = office
    with desk.write():
        notes = filing.file_document(desk, ann, patient, pdf(1, "Therapy session"), doc_type="psychotherapy_note",
                                        title="Psychotherapy note", pages=1, service_date=datetime.date(2025, 6, 1))
        sud = filing.file_document(desk, ann, patient, pdf(1, "SUD program"), doc_type="sud_treatment_record",
                                      title="SUD program record", pages=1, service_date=datetime.date(2025, 6, 2))
    (release,) = log_request(desk, ann, form())
    cands = {c.uuid: c for c in packets.candidates(desk, ann, release.uuid)}
    assert cands[notes.uuid].blocked.code == "A9" and cands[sud.uuid].blocked.code == "S2"
    for doc in (notes, sud):
        with pytest.raises(DeskError, match="cannot go out under this request"):
            packets.build_packet(desk, ann, release.uuid, [docs["summary"].uuid, doc.uuid], confirmed_flags=[doc.uuid])
    assert Release.get(Release.uuid == release.uuid).status == "in_progress"


def test_the_requests_own_state_sets_its_clock_and_california_allows_no_extension(office):  # R5, L5
    desk, ann, *_ = office
    request = {"received": (TODAY - datetime.timedelta(days=3)).isoformat(), "requester_type": "patient",
               "requester_name": "Ann Avery", "purpose": "individual_access", "state": "CA"}
    (release,) = log_request(desk, ann, form(request=request, authorization=None))
    assert release.due_on == TODAY + datetime.timedelta(days=12)
    assert requests.get(desk, ann, release.uuid).due == release.due_on
    with pytest.raises(DeskError, match="no extension"):
        requests.extend(desk, ann, release.uuid, "backlog")


def test_a_clerks_hold_is_not_lifted_by_the_validator_and_letters_are_not_repeated(office):
    desk, ann, *_ = office
    (release,) = log_request(desk, ann, form())
    requests.move(desk, ann, release.uuid, "on_hold", "identity of the requester not verified")
    requests.validate(desk, ann, Release.get(Release.uuid == release.uuid))
    held = Release.get(Release.uuid == release.uuid)
    assert held.status == "on_hold" and "Dewey" not in held.hold_reason and "identity" not in held.hold_reason
    assert "identity of the requester not verified" in [e["note"] for e in log.history(desk, held)]
    (bad,) = log_request(desk, ann, form(authorization=complete_authorization(signature="")))
    for _ in range(3):
        requests.validate(desk, ann, Release.get(Release.uuid == bad.uuid))
    assert [e["note"] for e in log.history(desk, bad) if e["kind"] == "letter"] == ["deficiency"]


# --- roi import: one transaction, once per request -----------------------------------------------------------------

# `recdesk roi import` with a kill point: the named function SIGKILLs the process the moment it is called.
KILLED_AT = """
import os, signal, sys
import recdesk.{module} as target
setattr(target, "{name}", lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL))
from recdesk import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def _held_request_file(tmp_path) -> Path:
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"request": form().request, "authorization": complete_authorization(signature=""),
                                "patients": ["100234", "200345"], "requester_address": "1 Court St"}))
    return path


def _killed_import(desk, path: Path, module: str, name: str) -> None:
    cmd = [sys.executable, "-c", KILLED_AT.format(module=module, name=name), "--home", str(desk.config.home),
           "roi", "import", str(path)]
    env = {k: v for k, v in os.environ.items() if k != "RECDESK_DB"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr


def _assert_one_held_request_with_letters(desk) -> None:
    (request,) = ReleaseRequest.select()
    releases = list(Release.select().where(Release.request == request.id))
    assert len(releases) == 2 and {r.status for r in releases} == {"on_hold"}
    for release in releases:
        assert [e["note"] for e in log.history(desk, release) if e["kind"] == "letter"] == ["deficiency"]
    assert audit.verify(desk).intact


@pytest.mark.parametrize("module,name", [("release.requests", "validate"), ("cli", "_out")],
                         ids=["killed-before-validation", "killed-after-commit"])
def test_a_killed_import_rerun_logs_the_request_once_held_with_its_letters(office, tmp_path, module, name):
    desk, *_ = office
    path = _held_request_file(tmp_path)
    _killed_import(desk, path, module, name)
    if name == "validate":  # killed inside the transaction: nothing of it is on the desk, not even "received"
        assert ReleaseRequest.select().count() == 0 and Release.select().count() == 0
    rerun = run_cli("roi", "import", str(path), home=desk.config.home)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("on hold") == 2
    assert ("logged before" in rerun.stderr) == (name == "_out")
    _assert_one_held_request_with_letters(desk)


def test_importing_the_same_request_again_finds_it_whatever_its_spacing(office, tmp_path):
    desk, ann, *_ = office
    path = _held_request_file(tmp_path)
    first = requests.import_file(desk, ann, path)
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4, sort_keys=True))
    again = requests.import_file(desk, ann, path)
    assert (first.before, again.before) == (False, True)
    assert [r.uuid for r in again.releases] == [r.uuid for r in first.releases]
    _assert_one_held_request_with_letters(desk)
    assert events("roi.import") == 1 and events("roi.import.again") == 1
    other = json.loads(path.read_text()) | {"requester_address": "2 Court St"}
    path.write_text(json.dumps(other))
    assert not requests.import_file(desk, ann, path).before  # a different request is a new one


def test_a_state_of_5_is_refused_by_import_as_by_check(office, tmp_path):
    desk, ann, *_ = office
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"request": {**form().request, "state": 5}, "patients": ["100234"]}))
    with pytest.raises(DeskError, match="^request.state: expected text in quotes, got 5$"):
        requests.import_file(desk, ann, path)
    assert ReleaseRequest.select().count() == 0


@pytest.mark.parametrize("text,message", [
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ('{"request": {"received": "2026-11-02", "requester_name": "\\ud800"}, "patients": ["100234"]}',
     "request.requester_name: contains the control character U+D800"),
    ('{"patients": [' + "1" * 5000 + "]}", "a number of 5,000 digits"),
    ('{"patients": ["100234"], "patients": ["200345"]}', 'the key "patients" is given twice'),
])
def test_roi_import_refuses_unreadable_json_in_one_line_and_writes_nothing(office, tmp_path, text, message):
    desk, ann, *_ = office
    path = tmp_path / "request.json"
    path.write_text(text)
    with pytest.raises(DeskError) as caught:
        requests.import_file(desk, ann, path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert ReleaseRequest.select().count() == 0
