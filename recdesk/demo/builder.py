"""The demo desk: a home full of realistic synthetic patients, built in resumable batches."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from pathlib import Path

from recdesk import config as config_mod
from recdesk.config import Config, Intake, Retention
from recdesk.demo import synthetic
from recdesk.desk import Actor, Desk
from recdesk.documents.filing import file_document
from recdesk.errors import DeskError
from recdesk.patients.registry import PatientDetails, register_many
from recdesk.vault import audit, seals
from recdesk.vault.db import bulk_insert
from recdesk.vault.models import (
    Appointment,
    AuditEvent,
    ChartLocation,
    ChartVolume,
    DeskInfo,
    Document,
    Encounter,
    Patient,
    Provider,
    User,
    new_uuid,
)

BATCH = 1000
DEMO_USERS = [
    ("demo", "clerk", "Demo Clerk"),
    ("sup", "supervisor", "Demo Supervisor"),
    ("mgr2", "manager", "Second Manager"),
]
LOCATIONS = [
    ("MAIN", "Main file room", "file_room"),
    ("OFFSITE", "Off-site storage", "file_room"),
    ("CARD", "Cardiology Clinic", "clinic"),
    ("ORTHO", "Orthopedics Clinic", "clinic"),
    ("ONC", "Oncology Clinic", "clinic"),
    ("ED", "Emergency Department", "department"),
    ("HIM", "HIM coding office", "department"),
]
Progress = Callable[[int, int], None]


def patient_details(p: synthetic.SyntheticPatient, duplicate: bool) -> PatientDetails:
    return PatientDetails(
        mrn=p.mrn, last=p.last, first=p.first, middle=p.middle, dob=p.dob, sex=p.sex, ssn_last4=p.ssn_last4,
        phone=p.phone, address=p.address, insurance=p.insurance, sensitive=p.sensitive, deceased=p.deceased,
        possible_duplicate=duplicate,
    )


def _has_documents(index: int) -> bool:
    # Documents for a sample only: real PDFs for every one of 100,000 patients would take an hour.
    return index < 200 or index % 50 == 0


def _provider(cache: dict[str, int], name: str) -> int:
    pid = cache.get(name)
    if pid is None:
        pid = Provider.get_or_create(name=name)[0].id
        cache[name] = pid
    return pid


def _seed_reference(desk: Desk, home: Path) -> None:
    for code, name, kind in LOCATIONS:
        ChartLocation.get_or_create(code=code, defaults={"name": name, "kind": kind})


def _seed_users(desk: Desk, home: Path) -> None:
    manager = desk.sign_on("manager")
    with desk.write():
        for name, role, full in DEMO_USERS:
            if not User.select().where(User.name == name).exists():
                user = User.create(name=name, role=role, full_name=full)
                seals.reseal(desk, User, User.id == user.id)
                audit.append(desk, manager, "user.add", object=f"user:{name}", details={"role": role})
        _seed_reference(desk, home)


def _build_batch(desk: Desk, actor: Actor, seed: int, start: int, stop: int, providers: dict[str, int]) -> None:
    people = [synthetic.patient(seed, i) for i in range(start, stop)]
    duplicate = [
        i > start and synthetic.is_near_duplicate_index(seed, i) for i in range(start, stop)
    ]
    for offset, is_dup in enumerate(duplicate):
        if is_dup:
            people[offset] = synthetic.near_duplicate(seed, start + offset, people[offset - 1])
    flags = [d or (offset + 1 < len(duplicate) and duplicate[offset + 1]) for offset, d in enumerate(duplicate)]
    ids = register_many(desk, actor, [patient_details(p, f) for p, f in zip(people, flags, strict=True)])
    main = ChartLocation.get(ChartLocation.code == "MAIN")
    rows = Patient.select().where(Patient.id.in_(ids))
    by_id = {row.id: row for row in rows}
    encounters, appointments, volumes = [], [], []
    for pid, p in zip(ids, people, strict=True):
        volumes.append({"uuid": new_uuid(), "patient": pid, "home": main.id, "current": main.id})
        for e in p.encounters:
            encounters.append({
                "uuid": new_uuid(), "patient": pid, "kind": e["type"], "admit_at": e["admit"],
                "discharge_at": e["discharge"], "service": e["service"],
                "attending": _provider(providers, e["attending"]),
                "surgery_at": e.get("surgery_at"), "surgery_end_at": e.get("surgery_end_at"),
            })
        for a in p.appointments:
            appointments.append({"uuid": new_uuid(), "patient": pid, "clinic": a["clinic"], "at": a["at"],
                                 "provider": _provider(providers, a["provider"])})
    for table, rows_ in ((Encounter, encounters), (Appointment, appointments), (ChartVolume, volumes)):
        bulk_insert(table, rows_)
    for offset, (pid, p) in enumerate(zip(ids, people, strict=True)):
        index = start + offset
        if _has_documents(index):
            for doc in synthetic.documents(seed, index, p):
                file_document(desk, actor, by_id[pid], synthetic.render_pdf(doc, p, desk.config.facility),
                              doc_type=doc.doc_type, title=doc.title, pages=doc.pages,
                              service_date=doc.service_date, source="scan",
                              qa_state="passed" if index % 3 else "pending")
    DeskInfo.update(demo_built=stop).execute()


def build(home: Path, patients: int, seed: int, progress: Progress | None = None) -> Desk:
    """Build (or resume, or reuse) the demo desk in `home` up to `patients` patients; deterministic for a seed."""
    if patients < 1:
        raise DeskError("--patients must be at least 1")
    if (home / config_mod.CONFIG_NAME).exists():
        desk = Desk.open(home)
        if not desk.config.demo:
            desk.close()
            raise DeskError(f"{home} holds a real desk, not a demo: choose another --home for the demo")
        info = DeskInfo.get()
        if info.demo_seed != seed:
            desk.close()
            raise DeskError(f"the demo desk in {home} was built with --seed {info.demo_seed}: use that seed, "
                            "or another --home")
    else:
        creating = home / config_mod.CREATING_NAME
        if creating.exists() and not config_mod.read(creating).demo:
            raise DeskError(f"{home} holds a real desk whose init was interrupted: finish it with `recdesk init`, "
                            "or choose another --home for the demo")
        # One demo clerk plays every part, so QA by the same clerk is allowed here (never in production).
        # The demo hospital is in Texas: its charts are kept by Tex. HSC 241.103 (and the Medicare floor).
        config = Config(home=home, key_source="demo", demo=True, intake=Intake(qa_by_other_clerk=False),
                        retention=Retention(jurisdictions=("TX",)))
        desk, _ = Desk.create(config, "manager", manager_full_name="Demo Manager", demo_seed=seed)
    _seed_users(desk, home)  # every build: a kill right after the desk was created left them out
    _tidy_store(desk)
    _fill_inbox(desk, seed, patients)
    with desk.write():
        DeskInfo.update(demo_target=patients).where(DeskInfo.demo_target.is_null() |
                                                    (DeskInfo.demo_target < patients)).execute()
    built = DeskInfo.get().demo_built
    providers: dict[str, int] = {p.name: p.id for p in Provider.select()}
    clerk = desk.sign_on("demo")
    while built < patients:
        stop = min(built + BATCH, patients)
        with desk.write():
            _build_batch(desk, clerk, seed, built, stop, providers)
        built = stop
        if progress:
            progress(built, patients)
    from recdesk.patients.registry import reindex
    from recdesk.vault.blindindex import INDEX_VERSION

    if desk.index_version < INDEX_VERSION:
        reindex(desk, desk.sign_on("manager"))
    _assembly_work(desk, clerk, seed, patients, providers)
    _clinic_work(desk, clerk, seed)
    _request_work(desk, clerk)
    _retention_work(desk, clerk, seed, patients)
    return desk


# --- the retention worklist: charts past retention, and one kept by each thing that can keep one -------------------

RETENTION_MARKER = "demo:retention"


def _retention_work(desk: Desk, clerk: Actor, seed: int, patients: int, today: datetime.date | None = None) -> None:
    """The charts of synthetic.RETENTION_SLOTS (last seen 12+ years ago) each given what its part says: a legal
    hold, an open request, an open deficiency, a paper chart out or missing, a "do not purge" mark, a recent
    disclosure (which only warns); added once per desk, when the desk has those slots."""
    from recdesk.completion import rules
    from recdesk.completion.deficiencies import record_deficiency
    from recdesk.paper import tracking
    from recdesk.patients.registry import decrypt
    from recdesk.release import accounting, requests
    from recdesk.retention import holds, keep

    if AuditEvent.select().where((AuditEvent.action == "demo.retention")
                                 & (AuditEvent.object == RETENTION_MARKER)).exists():
        return
    slots = {index: role for index, role in synthetic.RETENTION_SLOTS.items() if index < patients}
    if len(slots) < len(synthetic.RETENTION_SLOTS):
        return  # a tiny demo desk: its patients are all recent
    today = today or datetime.date.today()
    manager = desk.sign_on("manager")
    ids = [pid for (pid,) in Patient.select(Patient.id).order_by(Patient.id).limit(max(slots) + 1).tuples()]
    rows = {role: Patient.get_by_id(ids[index]) for index, role in slots.items()}
    mrn = {role: decrypt(desk, row).mrn for role, row in rows.items()}
    holds.place(desk, manager, matter="Ramirez v. Riverside General, No. D-1-GN-25-001407",
                patients=[rows["held"].uuid], basis="litigation", starts_on=today - datetime.timedelta(days=40))
    requests.log_request(desk, clerk, requests.RequestForm(
        request={"received": (today - datetime.timedelta(days=5)).isoformat(), "requester_type": "patient",
                 "requester_name": "the patient", "purpose": "individual_access"}, patients=[mrn["requested"]]))
    visit = Encounter.select().where(Encounter.patient == rows["deficient"].id).order_by(Encounter.admit_at).get()
    items = {i.code for i in rules.checklist("outpatient", desk.config.home)}
    record_deficiency(desk, clerk, visit.uuid, "missing_signature", visit.attending_id,
                      "Clinic note never signed; the provider has left",
                      item="visit_note" if "visit_note" in items else None)
    tracking.charge_out(desk, clerk, tracking.find_chart(desk, clerk, mrn["charged_out"]), "HIM",
                        today + datetime.timedelta(days=7))
    tracking.mark_missing(desk, clerk, tracking.find_chart(desk, clerk, mrn["missing"]),
                          "not on the shelf; searched the off-site boxes")
    keep.mark(desk, manager, rows["do_not_purge"].uuid, reason="enrolled in the long-term cardiac outcomes study")
    accounting.record_disclosure(desk, clerk, rows["disclosed"].uuid, disclosed_on=today - datetime.timedelta(days=90),
                                 recipient="Travis County Health Department", description="immunization history",
                                 purpose="public_health", basis="public_health")
    with desk.write():
        audit.append(desk, clerk, "demo.retention", object=RETENTION_MARKER, details={"charts": len(slots)})


# --- tomorrow's clinics, relative to the day the demo runs -----------------------------------------------------------

DEMO_CLINICS = ("Cardiology Clinic", "Orthopedics Clinic", "Family Medicine Clinic", "Pediatrics Clinic",
                "Neurology Clinic")


def _clinic_work(desk: Desk, clerk: Actor, seed: int, today: datetime.date | None = None, count: int = 18) -> None:
    """Appointments for tomorrow (booked through the CSV import, as a site's scheduling feed would), so the pull
    list (F7) has charts to pick whatever day the demo is run; added once for each new tomorrow."""
    import random

    from recdesk.paper import appointments
    from recdesk.patients.registry import decrypt

    today = today or datetime.date.today()
    tomorrow = today + datetime.timedelta(days=1)
    marker = f"demo:clinics:{tomorrow.isoformat()}"
    if AuditEvent.select().where((AuditEvent.action == "demo.clinics") & (AuditEvent.object == marker)).exists():
        return
    rng = random.Random(f"{seed}:clinics:{tomorrow.isoformat()}")
    ids = [row[0] for row in Patient.select(Patient.id).where(Patient.status == "active").order_by(Patient.id)
           .tuples()]
    ids = [pid for n, pid in enumerate(ids) if n not in synthetic.RETENTION_SLOTS]  # those charts stay long unseen
    lines = ["appointment_id,mrn,clinic,date,time"]
    for n, pid in enumerate(sorted(rng.sample(ids, min(count, len(ids))))):
        mrn = decrypt(desk, Patient.get_by_id(pid)).mrn
        at = f"{rng.randrange(8, 16):02}:{rng.choice((0, 15, 30, 45)):02}"
        lines.append(f"DEMO-{tomorrow:%Y%m%d}-{n:03},{mrn},{rng.choice(DEMO_CLINICS)},{tomorrow.isoformat()},{at}")
    appointments.import_csv(desk, clerk, "\n".join(lines) + "\n")
    with desk.write():
        audit.append(desk, clerk, "demo.clinics", object=marker, details={"appointments": len(lines) - 1})


# --- the request log, relative to the day the demo runs ---------------------------------------------------------------


def _request_work(desk: Desk, clerk: Actor, today: datetime.date | None = None) -> None:
    """Release-of-information requests at every stage (added once per desk): ready for a packet, held for a
    defective authorization or a subpoena without assurance, and one already released (so the accounting of
    disclosures has a line)."""
    from recdesk.patients.registry import decrypt
    from recdesk.release import packets, requests

    marker = "demo:requests"
    if AuditEvent.select().where((AuditEvent.action == "demo.requests") & (AuditEvent.object == marker)).exists():
        return
    today = today or datetime.date.today()
    with_documents = (Document.select(Document.patient).where((Document.status == "filed")
                                                              & Document.patient.is_null(False))
                      .group_by(Document.patient).order_by(Document.patient).limit(8))
    mrns = [decrypt(desk, Patient.get_by_id(d.patient_id)).mrn for d in with_documents]
    if len(mrns) < 8:
        return
    def day(n: int) -> str:
        return (today - datetime.timedelta(days=n)).isoformat()

    signed = {"description": "Records of my treatment, 2024 to date", "discloser": "Riverside General Hospital",
              "recipient": "Baker & Lowe LLP", "purposes": ["personal injury claim (legal)"],
              "expiration": {"date": (today + datetime.timedelta(days=180)).isoformat()}, "signed_on": day(12),
              "signature": "signed", "signer": "patient",
              "statements": {"revocation": True, "conditioning": True, "redisclosure": True}}
    attorney = {"requester_type": "attorney", "requester_name": "Baker & Lowe LLP", "purpose": "legal"}
    forms = [
        # ready for its packet: the path a clerk walks in the demo
        requests.RequestForm(request={"received": day(10), **attorney}, authorization=signed, patients=[mrns[0]],
                        requester_address="400 Congress Ave, Suite 1200\nAustin TX 78701"),
        # the patient's own copy, electronic (flat fee possible)
        requests.RequestForm(request={"received": day(4), "requester_type": "patient", "requester_name": "the patient",
                                 "purpose": "individual_access"}, patients=[mrns[1]], delivery="electronic"),
        # a defective authorization: held, deficiency letter drafted
        requests.RequestForm(request={"received": day(6), **attorney}, patients=[mrns[2]],
                        authorization={**signed, "signature": "", "statements": {"revocation": True}},
                        requester_address="400 Congress Ave, Suite 1200\nAustin TX 78701"),
        # a subpoena with no assurance and no authorization: held (L3)
        requests.RequestForm(request={"received": day(3), "requester_type": "attorney",
                                      "requester_name": "Carter Pruitt", "purpose": "legal",
                                      "legal_process": {"type": "subpoena_no_order"}},
                        patients=[mrns[3]]),
        # a health plan for payment: minimum necessary applies
        requests.RequestForm(request={"received": day(2), "requester_type": "health_plan",
                                 "requester_name": "Blue Plains Health Plan", "purpose": "payment",
                                 "scope": {"doc_types": ["discharge_summary"]}}, patients=[mrns[4]]),
        # an expired authorization from an insurer: held (A2)
        requests.RequestForm(request={"received": day(35), "requester_type": "insurer",
                                 "requester_name": "Lone Star Life", "purpose": "underwriting"}, patients=[mrns[5]],
                        authorization={**signed, "recipient": "Lone Star Life", "purposes": ["life insurance"],
                                       "signed_on": day(400), "expiration": {"date": day(30)}}),
        # one request for two patients (a treating provider)
        requests.RequestForm(request={"received": day(1), "requester_type": "provider",
                                 "requester_name": "Lakeside Family Practice", "purpose": "treatment"},
                        patients=[mrns[6], mrns[7]], delivery="portal"),
    ]
    for form in forms:
        requests.log_request(desk, clerk, form)
    # A subpoena with notice assurance, released: it appears in the patient's accounting of disclosures.
    (release,) = requests.log_request(desk, clerk, requests.RequestForm(
        request={"received": day(20), "requester_type": "attorney", "requester_name": "Hollis & Vance",
                 "purpose": "legal", "legal_process": {
                     "type": "subpoena_no_order", "assurance": "notice", "case": "Ramos v. Dell Freight",
                     "case_number": "D-1-GN-26-0042"}},
        patients=[mrns[0]], requester_address="12 Main St, Round Rock TX"))
    docs = [c.uuid for c in packets.candidates(desk, clerk, release.uuid) if not c.flags][:2]
    if docs:
        packets.build_packet(desk, clerk, release.uuid, docs)
        packets.qa_packet(desk, clerk, release.uuid, True)
        packets.release_packet(desk, clerk, release.uuid)
    with desk.write():
        audit.append(desk, clerk, "demo.requests", object=marker, details={"requests": len(forms) + 1})


# --- chart assembly work, relative to the day the demo runs ----------------------------------------------------------

SCHEDULED = (("inpatient", 6), ("outpatient", 4))  # tomorrow's admissions and clinic visits
RECENT_STAYS = (2, 5, 8, 12, 17, 23, 28, 31, 36, 42)  # days since discharge: 31 and later are delinquent (C4)
NOTES = ("Dictated, awaiting signature", "", "Paged twice; please complete at the HIM window", "")


def _done(marker: str) -> bool:
    return AuditEvent.select().where((AuditEvent.action == "demo.assembly") & (AuditEvent.object == marker)).exists()


def _assembly_work(desk: Desk, clerk: Actor, seed: int, patients: int, providers: dict[str, int],
                   today: datetime.date | None = None) -> None:
    """Work for the chart assembly screen (F6), dated from the real day the demo runs: recent inpatient discharges
    with some checklist documents filed and some missing and deficiencies open (some delinquent), added once; and
    admissions and clinic visits booked for tomorrow with paperwork filed ahead, added for each new tomorrow."""
    import random

    from recdesk.completion import rules
    from recdesk.completion.deficiencies import close_deficiency, record_deficiency

    today = today or datetime.date.today()
    tomorrow = today + datetime.timedelta(days=1)
    stays_marker, day_marker = "demo:stays", f"demo:scheduled:{tomorrow.isoformat()}"
    if _done(stays_marker) and _done(day_marker):
        return
    candidates = synthetic.assembly_candidates(seed, patients)
    if len(candidates) < len(RECENT_STAYS) + sum(n for _, n in SCHEDULED):
        return  # a tiny demo desk: not enough patients to spare
    ids = [pid for (pid,) in Patient.select(Patient.id).order_by(Patient.id).limit(max(candidates) + 1).tuples()]
    rows = {row.id: row for row in Patient.select().where(Patient.id.in_([ids[i] for i in candidates]))}

    def add(index: int, e: dict, docs: list, loose: bool = False) -> tuple[Encounter, dict[str, str]]:
        p = synthetic.patient(seed, index)
        row = rows[ids[index]]
        enc = Encounter.create(patient=row.id, kind=e["type"], admit_at=e["admit"], discharge_at=e["discharge"],
                               service=e["service"], attending=_provider(providers, e["attending"]),
                               surgery_at=e.get("surgery_at"), surgery_end_at=e.get("surgery_end_at"))
        filed = {}
        for n, doc in enumerate(docs):
            # a few are filed to no encounter: their date of service puts them in the chart
            doc_row = file_document(desk, clerk, row, synthetic.render_pdf(doc, p, desk.config.facility),
                                    doc_type=doc.doc_type, title=doc.title, pages=doc.pages,
                                    service_date=doc.service_date, encounter=None if loose and n % 3 == 2 else enc,
                                    source="scan", qa_state="passed")
            filed.setdefault(doc.doc_type, doc_row.uuid)
        return enc, filed

    with desk.write():
        if not _done(stays_marker):
            # each deficiency on the checklist item it concerns, while the site's checklist still has that item
            items = {i.code for i in rules.checklist("inpatient", desk.config.home)}
            pool = random.Random(f"{seed}:assembly-stays").sample(candidates, len(RECENT_STAYS))
            for n, (index, days) in enumerate(zip(pool, RECENT_STAYS, strict=True)):
                e, docs, deficiencies = synthetic.recent_stay(seed, index, synthetic.patient(seed, index), today,
                                                              days)
                enc, filed = add(index, e, docs, loose=True)
                for k, (kind, doc_type, item) in enumerate(deficiencies):
                    record_deficiency(desk, clerk, enc.uuid, kind, _provider(providers, e["attending"]),
                                      NOTES[(n + k) % len(NOTES)], filed.get(doc_type) if doc_type else None,
                                      item=item if item in items else None)
                if n % 4 == 1:  # one the provider has completed already
                    attending = _provider(providers, e["attending"])
                    done = record_deficiency(desk, clerk, enc.uuid, "missing_consult", attending)
                    close_deficiency(desk, clerk, done)
            audit.append(desk, clerk, "demo.assembly", object=stays_marker, details={"stays": len(RECENT_STAYS)})
        if not _done(day_marker):
            pool = random.Random(f"{seed}:assembly:{tomorrow.isoformat()}").sample(
                candidates, sum(n for _, n in SCHEDULED))
            for kind, count in SCHEDULED:
                for slot in range(count):
                    index = pool.pop()
                    add(index, *synthetic.scheduled_visit(seed, index, synthetic.patient(seed, index), tomorrow,
                                                          slot, kind))
            audit.append(desk, clerk, "demo.assembly", object=day_marker, details={"day": tomorrow.isoformat()})


INBOX_DOCUMENTS = 50


SENDERS = ("Lakeside Family Practice", "Northgate Imaging Center", "St. Brendan's Hospital", "Valley Lab Services")


def _fill_inbox(desk: Desk, seed: int, patients: int) -> None:
    """A scanner's worth of work for the intake screen: outside records for demo patients, and two bad files."""
    inbox = desk.config.home / "inbox"
    if inbox.exists():
        return
    staging = desk.config.home / ".inbox-building"
    staging.mkdir(exist_ok=True)
    for n in range(INBOX_DOCUMENTS - 2):
        index = (10 + n * 7) % patients
        p = synthetic.patient(seed, index)
        doc = synthetic.documents(seed, index, p)[0]
        sender = SENDERS[n % len(SENDERS)]
        (staging / f"scan-{n + 1:03}.pdf").write_bytes(synthetic.render_pdf(doc, p, f"{sender} #{n + 1}"))
    good = synthetic.render_pdf(doc, p, "Fax server")
    (staging / "scan-049.pdf").write_bytes(good[: len(good) // 2])  # a transfer cut short
    (staging / "scan-050.pdf").write_bytes(b"FAX TRANSMISSION REPORT: line busy, retry later\n")
    staging.rename(inbox)  # the inbox appears whole or not at all


def _tidy_store(desk: Desk) -> None:
    """Remove what an interrupted write left: temp files and files no record points to.

    Never while a scan has files stored but not yet recorded (the store's lock), nor while another session's
    transaction is filing one (the database's write lock, held across the look and the removal)."""
    with desk.store.tidying(), desk.write():
        for part in desk.store.stale_parts():
            part.unlink(missing_ok=True)
        known = {d.blob for d in Document.select(Document.blob)}
        for blob in desk.store.blob_ids() - known:
            desk.store.delete(blob)


class Rate:
    """Progress lines for a long build: count, rate and time left."""

    def __init__(self, write: Callable[[str], None], already: int = 0) -> None:
        self.write = write
        self.already = already
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        import humanize

        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = (done - self.already) / elapsed
        left = (total - done) / rate if rate else 0
        self.write(f"built {humanize.intcomma(done)} / {humanize.intcomma(total)} patients "
                   f"({rate:,.0f}/s, about {humanize.naturaldelta(datetime.timedelta(seconds=left))} left)")
