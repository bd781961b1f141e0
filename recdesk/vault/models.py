"""The desk's tables. `_enc` fields hold AES-GCM ciphertexts (crypto.py); the rest stay plain so queues sort."""

from __future__ import annotations

import datetime
import uuid

import peewee as pw

from recdesk.errors import DeskError

database = pw.DatabaseProxy()


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def by_short_id(model, typed: str, *, what: str, listing: str, least: int = 8):
    """The row of `model` whose uuid starts with `typed` (at least `least` hex characters, as a list prints them):
    one line saying what to type when it is not an id, names none, or names more than one."""
    text = (typed or "").strip().lower()
    if not least <= len(text) <= 32 or not all(c in "0123456789abcdef" for c in text):
        raise DeskError(f"{what} id {typed[:40]!r}: give the id `{listing}` shows (at least {least} characters)")
    found = list(model.select().where(model.uuid.startswith(text)).limit(2))
    if not found:
        raise DeskError(f"no {what} {text}: see `{listing}`")
    if len(found) > 1:
        raise DeskError(f"{what} id {text} fits more than one {what}: type more of it")
    return found[0]


def new_uuid() -> str:
    return uuid.uuid4().hex


class Enc(pw.BlobField):
    """An AES-GCM ciphertext of one field (or NULL)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("null", True)
        super().__init__(**kwargs)


class Seal(pw.CharField):
    """A row's integrity seal (seals.py): a MAC over the columns that decide who may do what."""

    def __init__(self, **kwargs):
        kwargs.setdefault("null", True)
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)


class Base(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Record(Base):
    """A row that carries PHI: it has a uuid that its ciphertexts are bound to."""

    uuid = pw.CharField(max_length=32, unique=True, default=new_uuid)
    created_at = pw.DateTimeField(default=now)


# --- the desk itself -----------------------------------------------------------------------------


class DeskInfo(Base):
    """One row: the desk's identity, schema version and the proof that the right key is in use."""

    desk_id = pw.CharField(max_length=32)
    schema_version = pw.IntegerField()
    key_check = pw.BlobField()
    created_at = pw.DateTimeField(default=now)
    demo_seed = pw.IntegerField(null=True)
    demo_target = pw.IntegerField(null=True)
    demo_built = pw.IntegerField(default=0)
    index_version = pw.IntegerField(default=1)  # blind-index kinds present (blindindex.INDEX_VERSION)


class User(Base):
    """A desk user (HIPAA unique user ID): one per person, never shared."""

    name = pw.CharField(max_length=64, unique=True)
    full_name = pw.CharField(max_length=200, default="")
    role = pw.CharField(max_length=16)  # clerk | supervisor | manager
    os_user = pw.CharField(max_length=64, null=True, index=True)
    disabled = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=now)
    disabled_at = pw.DateTimeField(null=True)
    seal = Seal()


class SshKey(Base):
    user = pw.ForeignKeyField(User, backref="ssh_keys", on_delete="CASCADE")
    public_key = pw.TextField()
    fingerprint = pw.CharField(max_length=100, unique=True)
    added_at = pw.DateTimeField(default=now)
    seal = Seal()


# --- patients and their identifiers ---------------------------------------------------------------


class Patient(Record):
    """A patient. Identifiers are ciphertexts under the patient's own data key (dek_wrapped)."""

    dek_wrapped = pw.BlobField(null=True)  # NULL once purged: what is left is ciphertext without a key
    mrn_enc = Enc()
    last_enc = Enc()
    first_enc = Enc()
    middle_enc = Enc()
    dob_enc = Enc()
    sex_enc = Enc()
    ssn_last4_enc = Enc()
    phone_enc = Enc()
    address_enc = Enc()  # JSON
    sensitive = pw.BooleanField(default=False)
    deceased = pw.BooleanField(default=False)
    possible_duplicate = pw.BooleanField(default=False)
    status = pw.CharField(max_length=16, default="active", index=True)  # active | merged | purged
    updated_at = pw.DateTimeField(default=now)
    seal = Seal()


class PatientAssignment(Record):
    """A manager's assignment of a desk user to a patient: a standing need to open that patient's restricted
    record (X3), until a manager ends it. Sealed: a row written into the database by hand grants nothing."""

    user = pw.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    patient = pw.ForeignKeyField(Patient, backref="assignments", on_delete="CASCADE")
    granted_by = pw.ForeignKeyField(User, backref="+")
    ended_at = pw.DateTimeField(null=True)
    ended_by = pw.ForeignKeyField(User, null=True, backref="+")
    seal = Seal()


class PatientToken(Base):
    """Blind-index rows: (kind, truncated HMAC token) -> patient. Never a plaintext value."""

    kind = pw.SmallIntegerField()
    token = pw.IntegerField()
    patient = pw.ForeignKeyField(Patient, on_delete="CASCADE", index=False)

    class Meta:
        primary_key = pw.CompositeKey("kind", "token", "patient")


class Insurance(Record):
    patient = pw.ForeignKeyField(Patient, backref="insurance", on_delete="CASCADE")
    rank = pw.SmallIntegerField(default=1)
    payer_enc = Enc()
    member_id_enc = Enc()
    group_enc = Enc()


class Provider(Base):
    """A clinician who signs documents and owns deficiencies (workforce, not PHI)."""

    name = pw.CharField(max_length=200, unique=True)
    npi = pw.CharField(max_length=10, null=True)
    service = pw.CharField(max_length=100, default="")


class Encounter(Record):
    patient = pw.ForeignKeyField(Patient, backref="encounters", on_delete="CASCADE")
    kind = pw.CharField(max_length=16)  # inpatient | outpatient | ed | surgery
    admit_at = pw.DateTimeField(index=True)
    discharge_at = pw.DateTimeField(null=True, index=True)
    service = pw.CharField(max_length=100, default="")
    attending = pw.ForeignKeyField(Provider, null=True)
    account_enc = Enc()
    # operating times (schema 6), local wall-clock like admit_at; NULL when no surgery is recorded
    surgery_at = pw.DateTimeField(null=True)
    surgery_end_at = pw.DateTimeField(null=True)


class Appointment(Record):
    patient = pw.ForeignKeyField(Patient, backref="appointments", on_delete="CASCADE")
    clinic = pw.CharField(max_length=100, index=True)
    at = pw.DateTimeField(index=True)
    provider = pw.ForeignKeyField(Provider, null=True)
    status = pw.CharField(max_length=16, default="booked")  # booked | cancelled | rescheduled | done
    external_id = pw.CharField(max_length=64, null=True, unique=True)


# --- documents ------------------------------------------------------------------------------------


class Document(Record):
    """A scanned or generated PDF. The bytes live encrypted in the content store under `blob`."""

    patient = pw.ForeignKeyField(Patient, backref="documents", null=True, on_delete="SET NULL")
    encounter = pw.ForeignKeyField(Encounter, null=True, on_delete="SET NULL")
    doc_type = pw.CharField(max_length=40, index=True)
    service_date = pw.DateField(null=True)
    pages = pw.IntegerField(default=0)
    size = pw.BigIntegerField(default=0)
    sha256 = pw.CharField(max_length=64, index=True)
    blob = pw.CharField(max_length=64, unique=True)
    title_enc = Enc()
    source = pw.CharField(max_length=16, default="scan")  # scan | generated | import
    status = pw.CharField(max_length=16, default="filed", index=True)  # unfiled | filed | quarantined
    qa_state = pw.CharField(max_length=16, default="pending", index=True)  # pending | passed | failed
    sensitive_tags = pw.CharField(max_length=200, default="")  # part2,psychotherapy,hiv,...
    filed_by = pw.ForeignKeyField(User, null=True, backref="filed_documents")
    filed_at = pw.DateTimeField(null=True)
    # intake (schema 3)
    name_enc = Enc()  # the file name as received: scanners and faxes put names and MRNs in it
    received_at = pw.DateTimeField(null=True)
    quarantine_reason = pw.CharField(max_length=200, default="")
    qa_by = pw.ForeignKeyField(User, null=True, backref="qa_documents")
    qa_at = pw.DateTimeField(null=True)
    qa_reason = pw.CharField(max_length=200, default="")
    legible = pw.BooleanField(null=True)
    seal = Seal()


class DocumentMove(Base):
    """A misfile correction or re-index: where the document was, where it went, who moved it and why."""

    document = pw.ForeignKeyField(Document, backref="moves", on_delete="CASCADE")
    at = pw.DateTimeField(default=now)
    by_user = pw.ForeignKeyField(User)
    from_patient = pw.ForeignKeyField(Patient, null=True, on_delete="SET NULL", backref="+")
    to_patient = pw.ForeignKeyField(Patient, null=True, on_delete="SET NULL", backref="+")
    from_type = pw.CharField(max_length=40)
    to_type = pw.CharField(max_length=40)
    from_date = pw.DateField(null=True)
    to_date = pw.DateField(null=True)
    reason_enc = Enc()  # under the desk key: it must outlive either patient's key


# --- release of information -------------------------------------------------------------------------


class ReleaseRequest(Record):
    """One request as received; it may cover several patients (one Release each)."""

    requester_type = pw.CharField(max_length=24)  # patient | representative | provider | attorney | ...
    requester_name_enc = Enc()
    requester_address_enc = Enc()
    received_on = pw.DateField(index=True)
    purpose = pw.CharField(max_length=40)
    delivery = pw.CharField(max_length=16, default="paper")  # paper | electronic | portal
    legal_type = pw.CharField(max_length=24, null=True)  # L1 types
    details_enc = Enc()  # JSON: scope, legal process, directive...
    entered_by = pw.ForeignKeyField(User, null=True)
    seal = Seal()


class Release(Record):
    request = pw.ForeignKeyField(ReleaseRequest, backref="releases", on_delete="CASCADE")
    patient = pw.ForeignKeyField(Patient, backref="releases", on_delete="CASCADE")
    status = pw.CharField(max_length=16, default="received", index=True)
    hold_reason = pw.CharField(max_length=200, default="")
    due_on = pw.DateField(index=True)
    extended_due_on = pw.DateField(null=True)
    packet = pw.ForeignKeyField(Document, null=True, on_delete="SET NULL")
    closed_at = pw.DateTimeField(null=True)
    extension_notice_on = pw.DateField(null=True)  # R1/D3: the one extension, noticed inside the first period
    fee_json = pw.TextField(default="")  # R3 estimate: {"lines": [...], "total_cents": n, "estimated_on": date}
    packet_password_enc = Enc()  # under the desk key: read to the requester by phone, never sent with the packet
    # What the disclosure will say went out (documents, pages, Bates range), written when the packet is built:
    # under the desk key, bound to the packet document's uuid so it cannot be carried over to another packet.
    packet_description_enc = Enc()
    closed_by = pw.ForeignKeyField(User, null=True, backref="+")
    seal = Seal()


class ReleaseEvent(Base):
    """The history of one release: each status change, letter, estimate and note, in order."""

    release = pw.ForeignKeyField(Release, backref="events", on_delete="CASCADE")
    at = pw.DateTimeField(default=now)
    kind = pw.CharField(max_length=16)  # status | letter | fee | note | packet
    status = pw.CharField(max_length=16, default="")  # the status after this event
    by_user = pw.ForeignKeyField(User, null=True, backref="+")
    document = pw.ForeignKeyField(Document, null=True, on_delete="SET NULL", backref="+")
    note_enc = Enc()  # under the desk key

    def ref(self) -> str:
        """What the note's ciphertext is bound to: the release, the moment and the kind of the event."""
        return f"{self.release_id}:{self.at.isoformat()}:{self.kind}"


class Authorization(Record):
    patient = pw.ForeignKeyField(Patient, backref="authorizations", on_delete="CASCADE")
    release = pw.ForeignKeyField(Release, null=True, backref="authorizations", on_delete="SET NULL")
    kind = pw.CharField(max_length=24, default="hipaa")  # hipaa | part2 | hiv_ny | psychotherapy
    elements_enc = Enc()  # JSON of the 164.508 elements as captured
    signed_on = pw.DateField(null=True)
    expires_on = pw.DateField(null=True)
    expiration_event_enc = Enc()
    revoked_on = pw.DateField(null=True)
    scan = pw.ForeignKeyField(Document, null=True, on_delete="SET NULL")
    seal = Seal()


class Disclosure(Record):
    """What left the building: written from the packet itself, kept for the accounting (164.528)."""

    patient = pw.ForeignKeyField(Patient, backref="disclosures", on_delete="CASCADE")
    release = pw.ForeignKeyField(Release, null=True, on_delete="SET NULL")
    disclosed_on = pw.DateField(index=True)
    recipient_enc = Enc()
    recipient_address_enc = Enc()
    description_enc = Enc()
    purpose = pw.CharField(max_length=40)
    basis = pw.CharField(max_length=40)
    accountable = pw.BooleanField(default=False)
    packet_sha256 = pw.CharField(max_length=64, null=True)
    seal = Seal()


class AccountingSuspension(Record):
    """D5: a health oversight agency or law enforcement official asked that a patient's accounting leave out
    their disclosures for a time (164.528(a)(2)): written with its period, or oral for at most 30 days."""

    patient = pw.ForeignKeyField(Patient, backref="accounting_suspensions", on_delete="CASCADE")
    agency_enc = Enc()  # under the patient's key: it names who is looking at this patient
    starts_on = pw.DateField()
    ends_on = pw.DateField(null=True)
    written = pw.BooleanField(default=False)
    by_user = pw.ForeignKeyField(User, backref="+")
    seal = Seal()


# --- paper charts ---------------------------------------------------------------------------------


class ChartLocation(Base):
    code = pw.CharField(max_length=32, unique=True)
    name = pw.CharField(max_length=100)
    kind = pw.CharField(max_length=16)  # file_room | clinic | department | person


class ChartVolume(Record):
    patient = pw.ForeignKeyField(Patient, backref="volumes", on_delete="CASCADE")
    volume_no = pw.SmallIntegerField(default=1)
    home = pw.ForeignKeyField(ChartLocation, backref="home_volumes")
    current = pw.ForeignKeyField(ChartLocation, backref="present_volumes")
    status = pw.CharField(max_length=16, default="in")  # in | out | missing
    borrower = pw.CharField(max_length=100, default="")
    due_back_on = pw.DateField(null=True)


class ChartMovement(Base):
    volume = pw.ForeignKeyField(ChartVolume, backref="movements", on_delete="CASCADE")
    kind = pw.CharField(max_length=16)  # charge_out | check_in | transfer | missing | found
    from_location = pw.ForeignKeyField(ChartLocation, null=True)
    to_location = pw.ForeignKeyField(ChartLocation, null=True)
    borrower = pw.CharField(max_length=100, default="")
    due_back_on = pw.DateField(null=True)
    by_user = pw.ForeignKeyField(User)
    at = pw.DateTimeField(default=now, index=True)


class PullItem(Base):
    """Pick-mode state of one appointment on a pull list: pulled, or not fillable and why."""

    appointment = pw.ForeignKeyField(Appointment, unique=True, backref="+", on_delete="CASCADE")
    status = pw.CharField(max_length=16)  # pulled | not_fillable
    reason = pw.CharField(max_length=100, default="")
    by_user = pw.ForeignKeyField(User, backref="+")
    at = pw.DateTimeField(default=now)


# --- chart completion -----------------------------------------------------------------------------


class Deficiency(Record):
    patient = pw.ForeignKeyField(Patient, backref="deficiencies", on_delete="CASCADE")
    encounter = pw.ForeignKeyField(Encounter, null=True, on_delete="SET NULL")
    document = pw.ForeignKeyField(Document, null=True, on_delete="SET NULL")
    kind = pw.CharField(max_length=40)
    provider = pw.ForeignKeyField(Provider, null=True, backref="deficiencies")
    status = pw.CharField(max_length=16, default="open", index=True)  # open | closed
    note_enc = Enc()
    opened_by = pw.ForeignKeyField(User, null=True)
    closed_at = pw.DateTimeField(null=True)
    closed_by = pw.ForeignKeyField(User, null=True, backref="+")
    item = pw.CharField(max_length=40, default="")  # the checklist item code it marks (schema 6), "" when none


class AssemblyItem(Base):
    """A filed document attached to one checklist item of an encounter's chart (chart assembly)."""

    encounter = pw.ForeignKeyField(Encounter, backref="assembly", on_delete="CASCADE")
    item = pw.CharField(max_length=40)  # checklist item code (data/checklists.toml)
    document = pw.ForeignKeyField(Document, on_delete="CASCADE", backref="+")
    by_user = pw.ForeignKeyField(User, backref="+")
    at = pw.DateTimeField(default=now)

    class Meta:
        indexes = ((("encounter", "item", "document"), True),)


# --- retention and destruction ---------------------------------------------------------------------


class RetentionRule(Base):
    code = pw.CharField(max_length=32, unique=True)
    description = pw.CharField(max_length=200)
    jurisdiction = pw.CharField(max_length=16, default="US")
    years_after_last = pw.SmallIntegerField()
    minor_until_age = pw.SmallIntegerField(null=True)
    minor_years_after_majority = pw.SmallIntegerField(null=True)
    basis = pw.CharField(max_length=200, default="")


class LegalHold(Record):
    """A legal hold on one matter (litigation, investigation, audit, government request): while it lasts the
    charts it covers are neither destroyed nor have their documents moved or merged (RULES.md §8, T2).

    Table "hold": schema 10 replaced the schema-1 legal_hold table (one patient per row) with this one and
    held_patient, and converted its rows."""

    matter_enc = Enc()  # under the desk key: a matter's name often names a party
    basis = pw.CharField(max_length=24)  # litigation | investigation | audit | government_request
    starts_on = pw.DateField()  # when the duty to preserve began (as the matter says)
    until_on = pw.DateField(null=True)  # the day it ends by itself, if the matter says; else only lifting ends it
    placed_by = pw.ForeignKeyField(User, backref="holds_placed")
    lifted_at = pw.DateTimeField(null=True)
    lifted_by = pw.ForeignKeyField(User, null=True, backref="holds_lifted")
    lift_reason_enc = Enc()  # under the desk key
    seal = Seal()

    class Meta:
        table_name = "hold"


class HeldPatient(Record):
    """One patient a legal hold covers."""

    hold = pw.ForeignKeyField(LegalHold, backref="patients", on_delete="CASCADE")
    patient = pw.ForeignKeyField(Patient, backref="holds", on_delete="CASCADE")
    seal = Seal()

    class Meta:
        indexes = ((("hold", "patient"), True),)


class DoNotPurge(Record):
    """A manager's "do not purge" mark on a chart, with the reason (VistA's "reason not to retire")."""

    patient = pw.ForeignKeyField(Patient, backref="keep_marks", on_delete="CASCADE")
    reason_enc = Enc()  # under the patient's key
    set_by = pw.ForeignKeyField(User, backref="+")
    cleared_at = pw.DateTimeField(null=True)
    cleared_by = pw.ForeignKeyField(User, null=True, backref="+")
    seal = Seal()


class PurgeBatch(Record):
    """A purge batch (retention/batches.py): prepared by a clerk or manager, approved by another manager, archived
    where the schedule says so, destroyed patient by patient, its paper volumes confirmed shredded. The certificate
    of destruction is a desk document (no patient's), kept permanently. No identifier is kept here in the clear."""

    # prepared | approved | archived | destroyed | paper_confirmed | cancelled
    status = pw.CharField(max_length=16, default="prepared")
    rule = pw.ForeignKeyField(RetentionRule, null=True)
    created_by = pw.ForeignKeyField(User, backref="purge_batches")  # the preparer
    approved_by = pw.ForeignKeyField(User, null=True, backref="purges_approved")
    approved_at = pw.DateTimeField(null=True)
    executed_at = pw.DateTimeField(null=True)  # when the electronic destruction of the whole batch finished
    certificate = pw.ForeignKeyField(Document, null=True, on_delete="SET NULL")
    seal = Seal()
    # schema 13
    number = pw.CharField(max_length=32, null=True, unique=True)  # the certificate number, CD-2026-0001
    as_of = pw.DateField(null=True)
    selection = pw.CharField(max_length=200, default="")  # how it was chosen, in words (no identifier)
    archive_required = pw.BooleanField(default=False)
    archive_path = pw.TextField(default="")
    archive_sha256 = pw.CharField(max_length=64, default="")
    archived_at = pw.DateTimeField(null=True)
    archived_by = pw.ForeignKeyField(User, null=True, backref="+")
    run_by = pw.ForeignKeyField(User, null=True, backref="+")  # "destroyed by" on the certificate
    witness = pw.CharField(max_length=200, default="")
    cancelled_at = pw.DateTimeField(null=True)
    cancelled_by = pw.ForeignKeyField(User, null=True, backref="+")
    cancel_reason_enc = Enc()  # under the desk key
    paper_confirmed_at = pw.DateTimeField(null=True)


class PurgeItem(Base):
    """One patient of a purge batch and what became of them: pending, destroyed, or skipped (with why)."""

    batch = pw.ForeignKeyField(PurgeBatch, backref="items", on_delete="CASCADE")
    patient = pw.ForeignKeyField(Patient, null=True, on_delete="SET NULL")
    patient_uuid = pw.CharField(max_length=32)
    last_encounter_on = pw.DateField(null=True)
    eligible_on = pw.DateField()
    outcome = pw.CharField(max_length=16, default="pending")  # pending | destroyed | skipped
    # schema 13
    rule = pw.CharField(max_length=32, default="")  # the retention rule that decided it
    retain_until = pw.DateField(null=True)
    documents = pw.IntegerField(default=0)
    pages = pw.IntegerField(default=0)
    volumes = pw.IntegerField(default=0)
    first_service = pw.DateField(null=True)
    last_service = pw.DateField(null=True)
    why_enc = Enc()  # under the desk key: why it was skipped (a hold's matter, a request)
    decided_at = pw.DateTimeField(null=True)
    seal = Seal()

    class Meta:
        indexes = ((("batch", "patient_uuid"), True),)


class PurgeVolume(Record):
    """A paper chart volume of a purge batch, listed before the electronic destruction (which deletes the
    ChartVolume row) so that its shredding can be confirmed after it: who shredded it, the witness, or not found."""

    batch = pw.ForeignKeyField(PurgeBatch, backref="volumes", on_delete="CASCADE")
    patient_uuid = pw.CharField(max_length=32)
    volume_uuid = pw.CharField(max_length=32)
    volume_no = pw.SmallIntegerField(default=1)
    label_enc = Enc()  # under the desk key: {"mrn", "name", "shelf", "home"} (the shelf address spells the MRN)
    status = pw.CharField(max_length=16, default="pending")  # pending | shredded | not_found
    by_user = pw.ForeignKeyField(User, null=True, backref="+")
    witness = pw.CharField(max_length=200, default="")
    at = pw.DateTimeField(null=True)
    note_enc = Enc()  # under the desk key
    seal = Seal()

    class Meta:
        indexes = ((("batch", "volume_uuid"), True),)


class DestructionEntry(Record):
    """One line of the destruction register (T3), kept permanently: who the destroyed record was (MRN, name, DOB),
    its dates of service, when it was destroyed, by which batch and certificate. The entry is sealed under the desk
    key (the patient's key is gone), found by a blind-index token of the MRN (schema 10)."""

    patient_uuid = pw.CharField(max_length=32, unique=True)  # the purged patient's row, kept as a stub
    mrn_token = pw.IntegerField(index=True)  # blind index of the MRN ("mrn" kind): never the MRN itself
    entry_enc = Enc()  # JSON under the desk key, bound to this row's uuid: every value below, and the MRN and name
    destroyed_on = pw.DateField(index=True)
    batch_uuid = pw.CharField(max_length=32, default="", index=True)
    certificate_no = pw.CharField(max_length=64, default="")
    # Stored files of the destroyed documents still to be removed (deleted after the commit; a killed run leaves
    # them here for the next one): random blob ids, no patient data.
    pending_blobs = pw.TextField(default="")


# --- audit ----------------------------------------------------------------------------------------


class AuditEvent(Base):
    """Append-only, hash-chained: hash = HMAC(audit key, prev_hash | fields). See audit.py."""

    seq = pw.BigIntegerField(primary_key=True)
    at = pw.DateTimeField()
    user_name = pw.CharField(max_length=64)
    session = pw.CharField(max_length=32)
    action = pw.CharField(max_length=40, index=True)
    object = pw.CharField(max_length=80, default="")
    patient = pw.CharField(max_length=32, default="", index=True)  # patient uuid, never an identifier
    details_enc = pw.BlobField(null=True)
    prev_hash = pw.CharField(max_length=64)
    hash = pw.CharField(max_length=64)

    class Meta:
        indexes = ((("user_name", "action", "seq"), False),)  # a user's latest event of a kind: last patient


class AuditStray(Base):
    """An event found numbered past the sealed head (written outside recdesk), set aside so appends go on.
    Kept as found, in text columns of any length, for whoever investigates."""

    seq = pw.BigIntegerField()
    at = pw.TextField(null=True)
    user_name = pw.TextField(null=True)
    action = pw.TextField(null=True)
    object = pw.TextField(null=True)
    patient = pw.TextField(null=True)
    hash = pw.TextField(null=True)
    set_aside_at = pw.DateTimeField(default=now)


class AuditHead(Base):
    """One row: the last seq and hash; updating it serialises appends on every backend."""

    seq = pw.BigIntegerField()
    hash = pw.CharField(max_length=64)


MODELS: list[type[Base]] = [
    DeskInfo, User, SshKey, Patient, PatientAssignment, PatientToken, Insurance, Provider, Encounter, Appointment,
    Document, DocumentMove, ReleaseRequest, Release, ReleaseEvent, Authorization, Disclosure, AccountingSuspension,
    ChartLocation, ChartVolume, ChartMovement, PullItem, Deficiency, AssemblyItem, RetentionRule, LegalHold,
    HeldPatient, DoNotPurge, PurgeBatch, PurgeItem, PurgeVolume, DestructionEntry, AuditEvent, AuditStray, AuditHead,
]


def create_schema(db: pw.Database) -> None:
    """All tables at the latest schema, for a new desk."""
    # SQLite stores the token index as the table itself; PostgreSQL has no WITHOUT ROWID.
    PatientToken._meta.without_rowid = isinstance(db, pw.SqliteDatabase)
    db.create_tables(MODELS)
