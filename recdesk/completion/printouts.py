"""Chart completion on paper: the letter to a provider of their open deficiencies, and the printed chart (a face
sheet, a sheet of ID labels, then the chart's documents in chart order) made from an assembled chart."""

from __future__ import annotations

import datetime as dt
import io

import peewee

from recdesk.completion.deficiencies import find_provider
from recdesk.completion.rows import Assembly, DocRow, deficiency_rows, deficiency_types, wall_clock
from recdesk.desk import Desk
from recdesk.errors import DeskError
from recdesk.roles import CHANGERS
from recdesk.vault import audit
from recdesk.vault.models import Deficiency, Document, Encounter, Patient, Provider, User


def provider_letter(desk: Desk, actor, provider: int | str | Provider, at: dt.datetime | None = None) -> bytes:
    """A letter to the provider listing their open deficiencies by MRN (minimum necessary: no names), as a PDF.
    Audited with the patients it names."""
    from recdesk.pdf import letters

    actor.require(*CHANGERS)
    at = at or wall_clock()
    who = find_provider(provider)
    types = deficiency_types(desk)
    query = (Deficiency.select(Deficiency).join(Encounter, peewee.JOIN.LEFT_OUTER,
                                                on=(Deficiency.encounter == Encounter.id))
             .where((Deficiency.status == "open") & (Deficiency.provider == who.id))
             .order_by(Encounter.discharge_at.asc(nulls="LAST"), Deficiency.created_at, Deficiency.id))
    rows = deficiency_rows(desk, query, at, types, notes=False)
    if not rows:
        raise DeskError(f"{who.name} has no open deficiencies: there is nothing to write about")
    days = desk.config.completion.delinquent_days
    lines, coming = [], []
    for r in rows:
        if r.discharge_at is None:
            when = "not yet discharged"
        else:
            due = r.discharge_at + dt.timedelta(days=days)
            when = f"discharged {r.discharge_at:%m/%d/%Y}, {r.age_days} days ago, " + (
                "DELINQUENT" if r.delinquent else f"delinquent on {due:%m/%d/%Y}")
            if not r.delinquent:
                coming.append(due.date())
        lines.append(f"MRN {r.mrn} ({r.encounter_kind or 'no encounter'}): {r.label}; {when}")
    s = desk.config.completion
    user = User.get_or_none(User.id == actor.user_id)
    signer = (user.full_name or user.name) if user else actor.user_name
    due = min([at.date() + dt.timedelta(days=s.letter_due_days)] + coming)
    fields = {
        "facility": desk.config.facility, "date": at.date(), "as_of": at.date(), "due": due,
        "to": [who.name, *([who.service] if who.service else []), "Medical Staff", desk.config.facility],
        "provider": who.name, "deficiencies": lines, "delinquent_days": days,
        "where": s.where, "phone": s.phone or desk.config.roi.phone or "the number on our letterhead",
        "signer": signer, "signer_title": s.signer_title,
    }
    try:
        pdf = letters.render("provider_deficiency", fields, desk.config.home)
    except ValueError as exc:
        raise DeskError(f"the provider letter template cannot be filled: {exc}") from None
    patients = list(dict.fromkeys(r.patient_uuid for r in rows))
    with desk.audit_db.atomic():
        audit.append(desk, actor, "deficiency.letter", object=f"provider:{who.id}",
                     details={"provider": who.name, "deficiencies": len(rows),
                              "delinquent": sum(r.delinquent for r in rows), "patients": patients})
    return pdf


# --- the printed chart ---------------------------------------------------------------------------------------------


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%m/%d/%Y %H:%M") if moment else ""


def face_sheet(desk: Desk, a: Assembly) -> bytes:
    """One page: facility, patient demographics, the encounter and the payers on file."""
    from recdesk.pdf.layout import document, text

    p = a.patient
    pdf = document("Face sheet", margins=19)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 8, text(desk.config.facility), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 7, "FACE SHEET", new_x="LMARGIN", new_y="NEXT")
    pdf.line(19, pdf.get_y() + 1, pdf.w - 19, pdf.get_y() + 1)
    pdf.ln(4)

    def section(title: str, pairs: list[tuple[str, str]]) -> None:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
        for label, value in pairs:
            pdf.set_font("Helvetica", "", 10)
            pdf.cell(45, 6, text(label))
            pdf.set_font("Helvetica", "B", 10)
            pdf.multi_cell(0, 6, text(value), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    addr = p.address or {}
    street = ", ".join(x for x in (addr.get("street", ""), addr.get("city", "")) if x)
    section("Patient", [
        ("Name", p.display_name), ("MRN", p.mrn), ("Date of birth", p.dob.strftime("%m/%d/%Y") if p.dob else ""),
        ("Sex", p.sex), ("Address", f"{street} {addr.get('state', '')} {addr.get('zip', '')}".strip()),
        ("Phone", p.phone), ("Flags", ", ".join(p.flags) or "none"),
    ])
    section("Encounter", [
        ("Type", a.kind), ("Admitted", _when(a.admit_at)), ("Discharged", _when(a.discharge_at) or "in house"),
        ("Service", a.service), ("Attending", a.attending), ("Encounter", a.encounter_uuid[:8].upper()),
        ("Admitting diagnosis", "_" * 40),
    ])
    payers = [(f"Payer {n}", f"{i.get('payer') or ''}   member {i.get('member_id') or ''}"
               + (f"   group {i['group']}" if i.get("group") else "")) for n, i in enumerate(p.insurance, 1)]
    section("Payers", payers or [("Payer", "none on file (self-pay)")])
    pdf.set_font("Helvetica", "I", 8)
    pdf.cell(0, 5, text(f"Chart assembled {a.at:%m/%d/%Y %H:%M}; printed by recdesk."), new_x="LMARGIN",
             new_y="NEXT")
    return bytes(pdf.output())


LABEL_COLUMNS, LABEL_ROWS = 3, 10  # Avery 5160 / 8160: 1" x 2-5/8", 30 to a letter sheet
_LABEL_W, _LABEL_H, _LABEL_LEFT, _LABEL_TOP, _LABEL_PITCH = 66.675, 25.4, 4.7625, 12.7, 69.85


def id_labels(a: Assembly) -> bytes:
    """One sheet of 30 patient ID labels: name, MRN, DOB and sex, the encounter."""
    from recdesk.pdf.layout import document, text

    p = a.patient
    pdf = document("ID labels", margins=0)
    pdf.set_auto_page_break(False)
    pdf.add_page()
    lines = [
        ("B", 10, p.display_name[:30]),
        ("", 9, f"MRN {p.mrn}   DOB {p.dob.strftime('%m/%d/%Y') if p.dob else ''}   {p.sex}"),
        ("", 8, f"{a.kind} {a.admit_at:%m/%d/%Y}  enc {a.encounter_uuid[:8].upper()}"),
        ("", 8, (a.attending or "")[:34]),
    ]
    for row in range(LABEL_ROWS):
        for col in range(LABEL_COLUMNS):
            x, y = _LABEL_LEFT + col * _LABEL_PITCH + 3, _LABEL_TOP + row * _LABEL_H + 3
            for style, size, line in lines:
                pdf.set_font("Helvetica", style, size)
                pdf.set_xy(x, y)
                pdf.cell(_LABEL_W - 6, 4.6, text(line))
                y += 4.6
    return bytes(pdf.output())


def chart_order(a: Assembly) -> list[DocRow]:
    """The documents to print: those serving each item, in the site's chart order, then the encounter's other
    documents by date; each once."""
    seen: dict[str, DocRow] = {}
    for item in a.items:
        for doc in item.documents:
            seen.setdefault(doc.uuid, doc)
    rest = sorted((d for d in a.documents if d.where == "this" and d.uuid not in seen),
                  key=lambda d: (d.service_date or dt.date.min, d.uuid))
    return list(seen.values()) + rest


def chart_pdf(desk: Desk, row: Patient, a: Assembly) -> tuple[bytes, int, list[DocRow]]:
    """The assembled chart of the patient `row` as one PDF (no Bates numbers: this is the chart, not a release):
    the bytes, its pages, and its documents in chart order."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PdfReadError

    writer = PdfWriter()
    for part in (face_sheet(desk, a), id_labels(a)):
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    dek = desk.dek(row)
    order = chart_order(a)
    outline = []
    for doc_row in order:
        doc = Document.get(Document.uuid == doc_row.uuid)
        data = desk.store.read(dek, doc.uuid, doc.blob, doc.sha256)
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise DeskError(f"{doc_row.label} is password-protected: it cannot be printed in the chart")
            outline.append((doc_row.type_label, len(writer.pages)))
            for page in reader.pages:
                writer.add_page(page)
        except PdfReadError as exc:
            raise DeskError(f"{doc_row.label} is not a readable PDF ({exc}): correct it before printing") from None
    for title, index in [("Face sheet", 0), ("ID labels", 1), *outline]:
        writer.add_outline_item(title=title, page_number=index)
    writer.add_metadata({"/Title": f"Chart {a.patient.mrn} {a.kind} {a.admit_at:%Y-%m-%d}", "/Producer": "recdesk"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), len(writer.pages), order
