"""Documents in a patient's record: their encrypted bytes in the content store and their row in the database."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable

from recdesk import reference
from recdesk.errors import DeskError
from recdesk.roles import CHANGERS
from recdesk.vault import audit, crypto, seals
from recdesk.vault.models import Document, Encounter, Patient, new_uuid, now


def type_labels(desk) -> dict[str, str]:
    """The desk's document types, code -> label (document_types.toml), in the file's order."""
    return dict(_document_types(desk)[0])


def type_tags(desk, doc_type: str) -> str:
    """The sensitive categories a document type carries by default (document_types.toml `tags`): a psychotherapy
    note is tagged psychotherapy however it was filed, so a release never sends one unflagged."""
    return _document_types(desk)[1].get(doc_type, "")


def _document_types(desk) -> tuple[dict[str, str], dict[str, str]]:
    site = desk.config.home / "data" / "document_types.toml"
    return _read_types(desk.config.home, site.stat().st_mtime_ns if site.exists() else 0)


@functools.lru_cache(maxsize=8)
def _read_types(home, site_mtime: int) -> tuple[dict[str, str], dict[str, str]]:
    # Read once per desk (and again when the site's file changes): a demo build files thousands of documents.
    types = reference.load("document_types", home)["type"]
    return {t["code"]: t["label"] for t in types}, {t["code"]: ",".join(t.get("tags", [])) for t in types}


def file_document(
    desk, actor, patient: Patient, data: bytes | Iterable[bytes], *, doc_type: str, title: str, pages: int,
    service_date: datetime.date | None = None, encounter: Encounter | None = None, source: str = "scan",
    qa_state: str = "pending",
) -> Document:
    """Store a document under the patient's key, then record it; call inside desk.write().

    The file is complete and renamed into place before its row exists, so a crash leaves at worst an
    unreferenced ciphertext file, never a record that points at half a file.
    """
    actor.require(*CHANGERS)
    uid = new_uuid()
    dek = desk.dek(patient)
    stored = desk.store.put(dek, uid, data)
    try:
        doc = Document.create(
            uuid=uid, patient=patient, encounter=encounter, doc_type=doc_type, service_date=service_date,
            pages=pages, size=stored.size, sha256=stored.sha256, blob=stored.blob,
            title_enc=crypto.seal(dek, "document", "title", uid, title), source=source, status="filed",
            qa_state=qa_state, filed_by=actor.user_id, filed_at=now(), sensitive_tags=type_tags(desk, doc_type),
        )
        seals.reseal(desk, Document, Document.id == doc.id)
        audit.append(desk, actor, "document.file", object=f"document:{uid}", patient=patient.uuid,
                     details={"doc_type": doc_type, "pages": pages, "sha256": stored.sha256})
    except BaseException:
        desk.store.delete(stored.blob)
        raise
    return doc


def read_document(desk, actor, doc: Document) -> bytes:
    """A document's bytes, hash-checked; the view is audited."""
    if doc.patient_id is None:
        raise DeskError(f"document {doc.uuid} is not filed to a patient")
    data = desk.store.read(desk.dek(doc.patient), doc.uuid, doc.blob, doc.sha256)
    with desk.audit_db.atomic():
        audit.append(desk, actor, "document.view", object=f"document:{doc.uuid}", patient=doc.patient.uuid)
    return data
