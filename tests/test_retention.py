"""Retention: schedules as data (longest period wins, the Medicare floor, minors, deceased, site copies, bad
files and settings), the worklist with every blocker present and absent, the CLI's JSON, and schema 10."""

import dataclasses
import datetime
import json
import textwrap

import pytest

from recdesk import users
from recdesk.completion.deficiencies import close_deficiency, record_deficiency
from recdesk.config import Retention, parse
from recdesk.documents.filing import file_document
from recdesk.errors import AccessDenied, DeskError
from recdesk.paper import tracking
from recdesk.patients.registry import PatientDetails, register
from recdesk.release import accounting, requests
from recdesk.retention import holds, keep, schedule, worklist
from recdesk.retention.schedule import Facts, retain_until
from recdesk.vault import audit
from recdesk.vault.models import Appointment, AuditEvent, Encounter, Patient, Provider
from tests.conftest import run_cli
from tests.test_roi import complete_authorization

D = datetime.date
AS_OF = D(2026, 6, 1)


def rules_for(tmp_path, *jurisdictions, policy_years=0, archive=False, text=None):
    """The site rules for a home in tmp_path, with its own retention.toml when `text` is given."""
    home = tmp_path / "site"
    if text is not None:
        (home / "data").mkdir(parents=True, exist_ok=True)
        (home / "data" / "retention.toml").write_text(textwrap.dedent(text))
    config = parse(home, 'desk.id = "abcdef12"\n')
    config.retention = Retention(jurisdictions=jurisdictions or ("US",), policy_years=policy_years, archive=archive)
    return schedule.site_rules(config)


# --- schedules -----------------------------------------------------------------------------------------------------


def test_the_longest_applicable_period_wins(tmp_path):
    adult = Facts(D(1950, 1, 1), D(2015, 6, 1))
    assert retain_until(adult, rules_for(tmp_path, "CA", "TX"), AS_OF) == (D(2025, 6, 1), "TX-HOSPITAL")
    assert retain_until(adult, rules_for(tmp_path, "CA"), AS_OF) == (D(2022, 6, 1), "CA-HOSPITAL")
    assert retain_until(adult, rules_for(tmp_path, "CA", "AHIMA"), AS_OF) == (D(2025, 6, 1), "AHIMA-ADULT")
    # the site's own policy, when longer, decides; when shorter it does not
    assert retain_until(adult, rules_for(tmp_path, "TX", policy_years=25), AS_OF) == (D(2040, 6, 1), "SITE-POLICY")
    assert retain_until(adult, rules_for(tmp_path, "TX", policy_years=3), AS_OF).rule == "TX-HOSPITAL"


def test_medicare_is_the_floor_whether_or_not_the_site_names_it(tmp_path):
    short = """
        [[rule]]
        code = "US-MEDICARE"
        jurisdiction = "US"
        class = "adult"
        years = 5
        basis = "42 CFR 482.24(b)(1)"

        [[rule]]
        code = "ZZ-SHORT"
        jurisdiction = "ZZ"
        class = "adult"
        years = 2
        basis = "a made-up state"
    """
    rules = rules_for(tmp_path, "ZZ", text=short)
    assert [r.jurisdiction for r in rules] == ["ZZ", "US"]
    assert retain_until(Facts(D(1950, 1, 1), D(2015, 6, 1)), rules, AS_OF) == (D(2020, 6, 1), "US-MEDICARE")
    assert retain_until(Facts(D(1950, 1, 1), D(2015, 6, 1)), rules_for(tmp_path), AS_OF).rule == "US-MEDICARE"


def test_a_minor_is_kept_until_the_later_of_the_age_and_the_adult_period(tmp_path):
    tx = rules_for(tmp_path, "TX")
    # 4 years old at the last visit: the 20th birthday (2030) is later than 10 years after it (2022)
    assert retain_until(Facts(D(2010, 3, 4), D(2012, 5, 1)), tx, AS_OF) == (D(2030, 3, 4), "TX-HOSPITAL-MINOR")
    # 17 at the last visit: 10 years after it (2025) is later than the 20th birthday (2023)
    assert retain_until(Facts(D(1998, 1, 1), D(2015, 2, 1)), tx, AS_OF) == (D(2025, 2, 1), "TX-HOSPITAL-MINOR")
    # 18 at the last visit: an adult in Texas ...
    assert retain_until(Facts(D(1997, 1, 1), D(2015, 2, 1)), tx, AS_OF).rule == "TX-HOSPITAL"
    # ... but a minor in Alaska (under 19): 2 years after the 19th birthday or 7 after discharge
    ak = rules_for(tmp_path, "AK")
    assert retain_until(Facts(D(1997, 1, 1), D(2015, 2, 1)), ak, AS_OF) == (D(2022, 2, 1), "AK-HOSPITAL-MINOR")
    assert retain_until(Facts(D(2012, 1, 1), D(2013, 2, 1)), ak, AS_OF) == (D(2033, 1, 1), "AK-HOSPITAL-MINOR")
    # California: at least a year after the 18th birthday, never under 7 years
    ca = rules_for(tmp_path, "CA")
    assert retain_until(Facts(D(2005, 7, 1), D(2010, 1, 1)), ca, AS_OF) == (D(2024, 7, 1), "CA-HOSPITAL-MINOR")


def test_a_deceased_patients_chart_keeps_the_longer_of_the_deceased_rule_and_their_ages(tmp_path):
    text = """
        [[rule]]
        code = "US-MEDICARE"
        jurisdiction = "US"
        class = "adult"
        years = 5
        basis = "42 CFR 482.24(b)(1)"

        [[rule]]
        code = "QQ-ADULT"
        jurisdiction = "QQ"
        class = "adult"
        years = 7
        basis = "made up"

        [[rule]]
        code = "QQ-DECEASED"
        jurisdiction = "QQ"
        class = "deceased"
        years = 12
        archive = true
        basis = "made up: deceased patients kept longer"
    """
    rules = rules_for(tmp_path, "QQ", text=text)
    last = D(2010, 1, 1)
    assert retain_until(Facts(D(1940, 1, 1), last, deceased=True), rules, AS_OF) == (D(2022, 1, 1), "QQ-DECEASED")
    assert retain_until(Facts(D(1940, 1, 1), last, deceased=False), rules, AS_OF) == (D(2017, 1, 1), "QQ-ADULT")
    assert schedule.archive_first(rules, "QQ-DECEASED") and not schedule.archive_first(rules, "QQ-ADULT")
    assert schedule.archive_first(rules, "QQ-ADULT", site_archive=True)
    # the shipped deceased rules never shorten the living period: a deceased Texas minor keeps the minor rule
    tx = rules_for(tmp_path / "tx", "TX")
    assert retain_until(Facts(D(2010, 3, 4), D(2012, 5, 1), True), tx, AS_OF) == (D(2030, 3, 4), "TX-HOSPITAL-MINOR")


def test_no_last_encounter_counts_as_seen_on_the_day_and_29_february_rolls_to_1_march(tmp_path):
    rules = rules_for(tmp_path, "TX")
    assert retain_until(Facts(D(1950, 1, 1), None), rules, AS_OF) == (D(2036, 6, 1), "TX-HOSPITAL")
    assert retain_until(Facts(D(1950, 1, 1), D(2016, 2, 29)), rules, AS_OF).until == D(2026, 3, 1)


def test_every_shipped_rule_names_its_basis_and_every_named_state_is_there():
    rules = schedule.load(None)
    assert {r.jurisdiction for r in rules} == {"US", "TX", "CA", "AK", "AHIMA"}
    assert {(r.jurisdiction, r.record_class) for r in rules} == {
        (j, c) for j in ("US", "TX", "CA", "AK", "AHIMA") for c in schedule.CLASSES}
    assert all(r.basis for r in rules)
    assert "NOT LEGAL ADVICE" in (schedule.reference.data_dir() / "retention.toml").read_text()


def test_a_site_copy_replaces_the_shipped_schedule(tmp_path):
    text = """
        [[rule]]
        code = "US-LOCAL"
        jurisdiction = "US"
        class = "adult"
        years = 9
        basis = "our counsel's reading"
    """
    rules = rules_for(tmp_path, text=text)
    assert [r.code for r in rules] == ["US-LOCAL"]
    assert schedule.source(tmp_path / "site") == tmp_path / "site" / "data" / "retention.toml"
    with pytest.raises(DeskError, match="'TX', which has no rules in .*site/data/retention.toml"):
        rules_for(tmp_path, "TX", text=text)


BAD_RULES = [
    ('years = "ten"', r"\[\[rule\]\] 2 \(XX-ONE\): years must be a whole number"),
    ('years = 10\nclass = "adolescent"', r"\(XX-ONE\): class 'adolescent' must be one of adult, minor, deceased"),
    ('years = 10\nbasis = ""', r"\(XX-ONE\): basis must be a text"),
    ("years = 10\nuntil_age = 20", r"\(XX-ONE\): until_age belongs to a minor rule"),
    ("years = 10\nyeers = 3", r"\(XX-ONE\): there is no field 'yeers'"),
    ("years = 10\narchive = 1", r"\(XX-ONE\): archive must be true or false"),
    ('years = 10\ncode = "US-MEDICARE"', r"\[\[rule\]\] 2 \(US-MEDICARE\): code is used twice"),
]


@pytest.mark.parametrize(("extra", "error"), BAD_RULES)
def test_a_bad_schedule_is_one_line_naming_the_file_rule_and_field(tmp_path, extra, error):
    fields = {"code": '"XX-ONE"', "jurisdiction": '"XX"', "class": '"adult"', "basis": '"made up"'}
    for line in extra.splitlines():
        key, value = line.split(" = ")
        fields[key] = value
    second = "\n".join(f"{k} = {v}" for k, v in fields.items())
    text = ('[[rule]]\ncode = "US-MEDICARE"\njurisdiction = "US"\nclass = "adult"\nyears = 5\nbasis = "CoP"\n\n'
            f"[[rule]]\n{second}\n")
    with pytest.raises(DeskError, match=error) as err:
        rules_for(tmp_path, text=text)
    assert "retention.toml" in str(err.value) and "\n" not in str(err.value)


def test_a_schedule_without_the_medicare_floor_is_refused(tmp_path):
    text = '[[rule]]\ncode = "TX"\njurisdiction = "TX"\nclass = "adult"\nyears = 10\nbasis = "241.103"\n'
    with pytest.raises(DeskError, match="no adult rule for US"):
        rules_for(tmp_path, "TX", text=text)


@pytest.mark.parametrize(("section", "error"), [
    ('jurisdictions = "TX"', r"\[retention\] jurisdictions must be a list of jurisdiction codes"),
    ('jurisdictions = ["tx"]', r"\[retention\] jurisdictions must be a list of jurisdiction codes"),
    ("jurisdictions = []", r"\[retention\] jurisdictions must be a list"),
    ("policy_years = -1", r"\[retention\] policy_years must be a whole number of years from 0 to 150"),
    ('archive = "yes"', r"\[retention\] archive must be true or false"),
    ("jurisdiction = [\"TX\"]", r"\[retention\] has no setting 'jurisdiction' \(did you mean jurisdictions\?\)"),
])
def test_bad_retention_settings_are_one_line(tmp_path, section, error):
    with pytest.raises(DeskError, match=error):
        parse(tmp_path, f'[desk]\nid = "abcdef12"\n[retention]\n{section}\n')


def test_retention_settings_are_written_back_as_read(tmp_path):
    config = parse(tmp_path, '[desk]\nid = "abcdef12"\n[retention]\njurisdictions = ["TX", "AHIMA"]\n'
                             "policy_years = 12\narchive = true\n")
    assert config.retention == Retention(("TX", "AHIMA"), 12, True)
    assert parse(tmp_path, config.to_toml()).retention == config.retention


# --- the worklist --------------------------------------------------------------------------------------------------

OLD = datetime.datetime(2010, 3, 1, 9, 0)
PEOPLE = {  # mrn -> (last, first, dob, last encounter)
    "100001": ("Due", "Adam", D(1950, 1, 1), OLD),
    "100002": ("Recent", "Rita", D(1960, 1, 1), datetime.datetime(2022, 1, 1, 9)),
    "100003": ("Young", "Mina", D(2008, 6, 1), datetime.datetime(2012, 4, 1, 9)),  # TX minor: kept to 2028
    "100004": ("Held", "Hal", D(1950, 2, 2), OLD),
    "100005": ("Asked", "Ross", D(1950, 3, 3), OLD),
    "100006": ("Lacking", "Dee", D(1950, 4, 4), OLD),
    "100007": ("Lent", "Otto", D(1950, 5, 5), OLD),
    "100008": ("Lost", "Mia", D(1950, 6, 6), OLD),
    "100009": ("Kept", "Kay", D(1950, 7, 7), OLD),
    "100010": ("Told", "Dora", D(1950, 8, 8), OLD),
}


@pytest.fixture
def office(desk_and_manager):
    """A Texas desk with a clerk and a supervisor and PEOPLE, each with one encounter; boss is the manager."""
    desk, boss = desk_and_manager
    desk.config.retention = Retention(jurisdictions=("TX",))
    users.add(desk, boss, "ann", "clerk")
    users.add(desk, boss, "sue", "supervisor")
    ids = {}
    with desk.write():
        doctor = Provider.create(name="Dr. Rivera")
    for mrn, (last, first, dob, seen) in PEOPLE.items():
        pid = register(desk, boss, PatientDetails(mrn=mrn, last=last, first=first, dob=dob))
        with desk.write():
            Encounter.create(patient=pid, kind="inpatient", admit_at=seen - datetime.timedelta(days=3),
                             discharge_at=seen, attending=doctor)
        ids[mrn] = Patient.get_by_id(pid).uuid
    return desk, boss, desk.sign_on("ann"), ids


def by_mrn(rows):
    return {c.mrn: c for c in rows}


def codes(candidate):
    return [b.code for b in candidate.blocked_by]


def test_the_worklist_lists_charts_past_retention_with_the_deciding_rule(office):
    desk, _, ann, ids = office
    rows = worklist.candidates(desk, ann, as_of=AS_OF)
    assert set(by_mrn(rows)) == {m for m in PEOPLE if m not in ("100002", "100003")}
    due = by_mrn(rows)["100001"]
    assert (due.last, due.first, due.dob, due.last_encounter, due.retain_until, due.rule, due.eligible) == (
        "Due", "Adam", D(1950, 1, 1), D(2010, 3, 1), D(2020, 3, 1), "TX-HOSPITAL", True)
    assert due.patient_uuid == ids["100001"] and due.blocked_by == () and due.warnings == ()
    # the minor whose period runs past the adult one is due only after the 20th birthday
    assert "100003" not in by_mrn(worklist.candidates(desk, ann, as_of=D(2028, 6, 1)))
    young = by_mrn(worklist.candidates(desk, ann, as_of=D(2028, 6, 2)))["100003"]
    assert (young.retain_until, young.rule) == (D(2028, 6, 1), "TX-HOSPITAL-MINOR")
    # kept through the day itself, due the day after
    assert "100001" not in by_mrn(worklist.candidates(desk, ann, as_of=D(2020, 3, 1)))
    assert "100001" in by_mrn(worklist.candidates(desk, ann, as_of=D(2020, 3, 2)))


def test_the_worklist_view_is_audited_with_the_patients_shown(office):
    desk, _, _, ids = office
    sue = desk.sign_on("sue")
    rows = worklist.candidates(desk, sue, as_of=AS_OF, mrns=["100001", "100002"])
    assert [c.mrn for c in rows] == ["100001"]
    event = AuditEvent.select().where(AuditEvent.action == "retention.worklist").order_by(AuditEvent.seq.desc()).get()
    assert event.user_name == "sue"
    assert audit.details(desk, event)["patients"] == [ids["100001"]]
    with pytest.raises(DeskError, match="no patient with MRN 999999"):
        worklist.candidates(desk, sue, as_of=AS_OF, mrns=["999999"])


def test_a_later_appointment_or_document_date_moves_the_last_encounter(office):
    desk, boss, ann, ids = office
    patient = Patient.get(Patient.uuid == ids["100001"])
    with desk.write():
        Appointment.create(patient=patient, clinic="Cardiology Clinic", at=datetime.datetime(2014, 5, 5, 9),
                           status="cancelled")  # a cancelled one is not care
    assert by_mrn(worklist.candidates(desk, ann, as_of=AS_OF))["100001"].last_encounter == D(2010, 3, 1)
    with desk.write():
        file_document(desk, ann, patient, b"%PDF-1.4 outside records", doc_type="correspondence", title="letter",
                      pages=1, service_date=D(2014, 7, 1))
    due = by_mrn(worklist.candidates(desk, ann, as_of=AS_OF))["100001"]
    assert (due.last_encounter, due.retain_until) == (D(2014, 7, 1), D(2024, 7, 1))
    with desk.write():
        Appointment.create(patient=patient, clinic="Cardiology Clinic", at=datetime.datetime(2026, 9, 1, 9))
    assert "100001" not in by_mrn(worklist.candidates(desk, ann, as_of=AS_OF, include_blocked=True))
    assert worklist.blockers(desk, ids["100001"], as_of=AS_OF)[0].code == "T1"


def _make_every_blocker(desk, boss, ann, ids):
    """A hold, an open request, an open deficiency, a volume out, one missing, a mark, a recent disclosure."""
    hold = holds.place(desk, boss, matter="Held v. Riverside", patients=[ids["100004"]])
    form = requests.RequestForm(
        request={"received": (datetime.date.today() - datetime.timedelta(days=2)).isoformat(),
                 "requester_type": "attorney", "requester_name": "Dewey LLP", "purpose": "legal"},
        authorization=complete_authorization(), patients=["100005"], requester_address="1 Court St")
    (release,) = requests.log_request(desk, ann, form)
    stay = Encounter.get(Encounter.patient == Patient.get(Patient.uuid == ids["100006"]).id)
    deficiency = record_deficiency(desk, ann, stay.uuid, "missing_signature", "Dr. Rivera")
    tracking.default_file_room(desk)
    tracking.ensure_location(desk, ann, "CARD", "Cardiology Clinic", "clinic")
    due_back = datetime.date.today() + datetime.timedelta(days=3)
    tracking.charge_out(desk, ann, tracking.find_chart(desk, ann, "100007"), "CARD", due_back)
    tracking.volume_for(desk, ids["100008"], actor=ann)
    tracking.mark_missing(desk, ann, tracking.find_chart(desk, ann, "100008"), "not on the shelf")
    mark = keep.mark(desk, boss, ids["100009"], reason="in the hospital's history exhibit")
    accounting.record_disclosure(desk, ann, ids["100010"], disclosed_on=datetime.date.today(),
                                 recipient="County Health Dept", description="lab result", purpose="public_health",
                                 basis="public_health")
    return hold, release, deficiency, mark


def test_every_blocker_keeps_its_chart_and_says_why_and_the_warning_does_not(office):
    desk, boss, ann, ids = office
    hold, release, deficiency, _ = _make_every_blocker(desk, boss, ann, ids)
    eligible = by_mrn(worklist.candidates(desk, ann, as_of=AS_OF))
    assert set(eligible) == {"100001", "100010"}
    told = eligible["100010"]
    assert told.eligible and [w.code for w in told.warnings] == ["D2"]
    assert "survives the purge" in told.warnings[0].words
    rows = by_mrn(worklist.candidates(desk, ann, as_of=AS_OF, include_blocked=True))
    expect = {"100004": "T2-HOLD", "100005": "T2-REQUEST", "100006": "C4", "100007": "PAPER-OUT",
              "100008": "PAPER-MISSING", "100009": "KEEP"}
    for mrn, code in expect.items():
        assert codes(rows[mrn]) == [code] and not rows[mrn].eligible, mrn
        assert [b.code for b in worklist.blockers(desk, ids[mrn], as_of=AS_OF)] == [code]
    assert "Held v. Riverside" in rows["100004"].blocked_by[0].words
    assert release.uuid[:8].upper() in rows["100005"].blocked_by[0].words
    assert "to Cardiology Clinic" in rows["100007"].blocked_by[0].words
    assert "history exhibit" in rows["100009"].blocked_by[0].words and "boss" in rows["100009"].blocked_by[0].words
    assert worklist.blockers(desk, ids["100010"], as_of=AS_OF) == []
    assert worklist.blockers(desk, ids["100001"], as_of=AS_OF) == []

    # each one taken away: the chart is eligible again
    holds.lift(desk, boss, hold, reason="settled")
    close_deficiency(desk, ann, deficiency)
    tracking.check_in(desk, ann, tracking.find_chart(desk, ann, "100007"))
    tracking.check_in(desk, ann, tracking.find_chart(desk, ann, "100008"))
    keep.clear(desk, boss, ids["100009"])
    rows = by_mrn(worklist.candidates(desk, ann, as_of=AS_OF, include_blocked=True))
    for mrn in ("100004", "100006", "100007", "100008", "100009"):
        assert rows[mrn].eligible and rows[mrn].blocked_by == (), mrn


def test_an_open_request_stops_blocking_once_closed(office):
    desk, _, ann, ids = office
    form = requests.RequestForm(
        request={"received": (datetime.date.today() - datetime.timedelta(days=2)).isoformat(),
                 "requester_type": "patient", "requester_name": "the patient", "purpose": "individual_access"},
        patients=["100005"])
    (release,) = requests.log_request(desk, ann, form)
    assert codes(by_mrn(worklist.candidates(desk, ann, as_of=AS_OF, include_blocked=True))["100005"]) == ["T2-REQUEST"]
    for status in ("on_hold", "withdrawn") if release.status == "in_progress" else ("withdrawn",):
        requests.move(desk, ann, release.uuid, status, note="asked by phone")
    assert by_mrn(worklist.candidates(desk, ann, as_of=AS_OF))["100005"].eligible


def test_the_worklist_is_one_query_per_kind_not_per_patient(office):
    desk, boss, ann, ids = office
    _make_every_blocker(desk, boss, ann, ids)
    for n in range(40):
        pid = register(desk, boss, PatientDetails(mrn=str(300000 + n), last="Extra", first=f"P{n}",
                                                  dob=D(1940, 1, 1)))
        with desk.write():
            Encounter.create(patient=pid, kind="outpatient", admit_at=OLD)
    queries = []
    original = desk.db.execute_sql

    def counting(sql, *args, **kwargs):
        queries.append(sql)
        return original(sql, *args, **kwargs)

    desk.db.execute_sql = counting
    try:
        rows = worklist.candidates(desk, ann, as_of=AS_OF, include_blocked=True)
    finally:
        del desk.db.execute_sql
    assert len(rows) == 48
    selects = [q for q in queries if q.lstrip().upper().startswith("SELECT")]
    assert len(selects) < 30, selects


def test_marks_are_for_managers_and_need_a_reason(office):
    desk, boss, ann, ids = office
    with pytest.raises(AccessDenied):
        keep.mark(desk, ann, ids["100001"], reason="research")
    with pytest.raises(DeskError, match="needs its reason"):
        keep.mark(desk, boss, ids["100001"], reason="  ")
    keep.mark(desk, boss, ids["100001"], reason="research study 12")
    with pytest.raises(DeskError, match="already"):
        keep.mark(desk, boss, ids["100001"], reason="again")
    with pytest.raises(AccessDenied):
        keep.clear(desk, ann, ids["100001"])
    keep.clear(desk, boss, ids["100001"])
    with pytest.raises(DeskError, match="no .do not purge. mark"):
        keep.clear(desk, boss, ids["100001"])
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.patient == ids["100001"])]
    assert actions[-2:] == ["retention.keep", "retention.keep_clear"]


def test_a_mark_cleared_by_writing_the_database_is_refused_not_believed(office):
    from recdesk.errors import TamperError
    from recdesk.vault.models import DoNotPurge

    desk, boss, ann, ids = office
    keep.mark(desk, boss, ids["100009"], reason="exhibit")
    DoNotPurge.update(cleared_at=datetime.datetime(2026, 1, 1)).execute()
    with pytest.raises(TamperError, match="do_not_purge"):
        worklist.candidates(desk, ann, as_of=AS_OF)


# --- the CLI -------------------------------------------------------------------------------------------------------


def test_cli_candidates_json_and_holds(tmp_path):
    home = tmp_path / "desk"
    run_cli("init", "--key-file", str(tmp_path / "master.key"), "--manager", "boss", home=home, check=True)
    from recdesk.desk import Desk

    with Desk.open(home) as desk:
        boss = desk.local_actor()
        assert boss.role == "manager"
        for mrn, (last, first, dob, seen) in list(PEOPLE.items())[:4]:
            pid = register(desk, boss, PatientDetails(mrn=mrn, last=last, first=first, dob=dob))
            with desk.write():
                Encounter.create(patient=pid, kind="outpatient", admit_at=seen)
    (home / "config.toml").write_text((home / "config.toml").read_text() + '\n[retention]\njurisdictions = ["TX"]\n')
    added = run_cli("hold", "add", "--matter", "Held v. Riverside", "--mrn", "100004", "--basis", "litigation",
                    home=home, check=True)
    hold_id = added.stdout.strip()
    assert len(hold_id) == 32
    rows = json.loads(run_cli("retention", "candidates", "--as-of", "2026-06-01", "--json", home=home,
                              check=True).stdout)
    assert [r["mrn"] for r in rows] == ["100001"]
    assert set(rows[0]) >= {"mrn", "last", "first", "dob", "last_encounter", "retain_until", "rule", "eligible",
                            "blocked_by"}
    assert rows[0] | {"warnings": []} == {
        "mrn": "100001", "last": "Due", "first": "Adam", "dob": "1950-01-01", "last_encounter": "2010-03-01",
        "retain_until": "2020-03-01", "rule": "TX-HOSPITAL", "eligible": True, "blocked_by": [], "warnings": []}
    every = json.loads(run_cli("retention", "candidates", "--as-of", "2026-06-01", "--all", "--json",
                               home=home, check=True).stdout)
    held = [r for r in every if r["mrn"] == "100004"][0]
    assert held["eligible"] is False and held["blocked_by"][0]["code"] == "T2-HOLD"
    assert set(held["blocked_by"][0]) == {"code", "words"}
    text = run_cli("retention", "candidates", "--as-of", "2026-06-01", "--all", home=home, check=True).stdout
    assert "BLOCKED" in text and "T2-HOLD" in text

    listed = json.loads(run_cli("hold", "list", "--json", home=home, check=True).stdout)
    assert [(h["id"], h["matter"], h["mrns"], h["active"]) for h in listed] == [
        (hold_id, "Held v. Riverside", ["100004"], True)]
    refused = run_cli("hold", "lift", hold_id[:8], home=home)
    assert refused.returncode == 2  # argparse: --reason is required
    bad = run_cli("hold", "add", "--matter", "X", "--mrn", "999999", home=home)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "999999" in bad.stderr
    run_cli("hold", "lift", hold_id[:8], "--reason", "settled", home=home, check=True)
    listed = json.loads(run_cli("hold", "list", "--json", home=home, check=True).stdout)
    assert listed[0]["active"] is False and listed[0]["lift_reason"] == "settled"
    again = run_cli("hold", "lift", hold_id, "--reason", "twice", home=home)
    assert again.returncode == 2 and "lifted already" in again.stderr and "Traceback" not in again.stderr
    assert run_cli("audit", "verify", home=home).returncode == 0


def test_cli_bad_settings_are_one_line(tmp_path):
    home = tmp_path / "desk"
    run_cli("init", "--key-file", str(tmp_path / "master.key"), "--manager", "boss", home=home, check=True)
    (home / "config.toml").write_text((home / "config.toml").read_text() + '\n[retention]\njurisdictions = ["ZZ"]\n')
    result = run_cli("retention", "candidates", "--json", home=home)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "'ZZ'" in result.stderr


# --- schema 10 -----------------------------------------------------------------------------------------------------


def test_a_schema_9_desk_keeps_its_old_holds_as_holds_of_the_new_kind(office):
    import peewee

    from recdesk import doctor
    from recdesk.desk import Desk
    from recdesk.vault import migrations
    from recdesk.vault.models import Base, HeldPatient, LegalHold, User

    desk, boss, ann, ids = office

    class OldHold(Base):  # the schema-1 legal_hold table: one patient a row
        uuid = peewee.CharField(max_length=32, unique=True)
        created_at = peewee.DateTimeField()
        patient = peewee.ForeignKeyField(Patient, on_delete="CASCADE")
        reason_enc = peewee.BlobField(null=True)
        placed_by = peewee.ForeignKeyField(User, backref="+")
        released_at = peewee.DateTimeField(null=True)
        released_by = peewee.ForeignKeyField(User, null=True, backref="+")
        seal = peewee.CharField(null=True)

        class Meta:
            table_name = "legal_hold"

    for table in ("held_patient", "do_not_purge", "hold"):
        desk.db.execute_sql(f'DROP TABLE "{table}"')
    desk.db.create_tables([OldHold])
    patient = Patient.get(Patient.uuid == ids["100004"])
    other = Patient.get(Patient.uuid == ids["100001"])
    OldHold.create(uuid="a" * 32, created_at=datetime.datetime(2024, 5, 1, 8), patient=patient, placed_by=boss.user_id)
    OldHold.create(uuid="b" * 32, created_at=datetime.datetime(2023, 5, 1, 8), patient=other, placed_by=boss.user_id,
                   released_at=datetime.datetime(2024, 1, 1, 8), released_by=boss.user_id)
    desk.db.execute_sql("UPDATE desk_info SET schema_version = 9")
    desk.config.save()
    home = desk.config.home
    desk.close()
    with Desk.open(home) as upgraded:
        assert upgraded.db.execute_sql("SELECT schema_version FROM desk_info").fetchone()[0] == migrations.latest()
        assert "legal_hold" not in upgraded.db.get_tables()
        assert {"hold", "held_patient", "do_not_purge"} <= set(upgraded.db.get_tables())
        assert [(h.uuid, h.lifted_at is None) for h in LegalHold.select().order_by(LegalHold.uuid)] == [
            ("a" * 32, True), ("b" * 32, False)]
        assert HeldPatient.select().count() == 2
        assert holds.is_held(upgraded, ids["100004"]) and not holds.is_held(upgraded, ids["100001"])
        rows = by_mrn(worklist.candidates(upgraded, upgraded.sign_on("ann"), as_of=AS_OF, include_blocked=True))
        assert codes(rows["100004"]) == ["T2-HOLD"] and "before schema 10" in rows["100004"].blocked_by[0].words
    report = doctor.run(home)
    assert report.passed, report.render()


def test_a_new_desk_passes_doctor_with_holds_and_marks(office):
    from recdesk import doctor

    desk, boss, ann, ids = office
    holds.place(desk, boss, matter="Audit 2026", patients=[ids["100004"], ids["100001"]], basis="audit")
    keep.mark(desk, boss, ids["100009"], reason="exhibit")
    desk.config.save()
    report = doctor.run(desk.config.home)
    assert report.passed, report.render()


def test_dataclasses_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        worklist.Blocker("T1", "x").code = "T2"


def test_only_an_accountable_disclosure_younger_than_six_years_warns(office):
    desk, _, ann, ids = office
    accounting.record_disclosure(desk, ann, ids["100001"], disclosed_on=datetime.date.today(), recipient="Dr. Lee",
                                 description="discharge summary", purpose="treatment", basis="treatment")
    accounting.record_disclosure(desk, ann, ids["100010"], disclosed_on=D(2021, 1, 1), recipient="County Health",
                                 description="lab result", purpose="public_health", basis="public_health")
    rows = by_mrn(worklist.candidates(desk, ann, as_of=AS_OF))
    assert rows["100001"].warnings == ()  # a treatment disclosure is not in the accounting
    (warning,) = rows["100010"].warnings
    assert warning.code == "D2" and "until 2027-01-01" in warning.words
    assert by_mrn(worklist.candidates(desk, ann, as_of=D(2027, 1, 2)))["100010"].warnings == ()
