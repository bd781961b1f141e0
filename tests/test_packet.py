"""Release packets, letters and notices as real PDFs: made with fpdf2, assembled and encrypted with pypdf, read back."""

from __future__ import annotations

import datetime
import io
import re
import string

import pytest
from fpdf import FPDF
from pypdf import PasswordType, PdfReader, PdfWriter
from pypdf.errors import FileNotDecryptedError
from pypdf.generic import RectangleObject

from recdesk import reference
from recdesk.pdf import layout, letters
from recdesk.release import stamping

DAY = datetime.date(2026, 3, 4)
BATES = re.compile(r"RD\d{6}")
UNICODE = "Zoë “quotes” — 李"


def source_pdf(label: str, pages: int) -> bytes:
    pdf = FPDF(format="letter")
    pdf.set_font("Helvetica", size=12)
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.text(20, 40, f"{label} page {n}")
    return bytes(pdf.output())


def odd_pdf() -> bytes:
    """Three pages: rotated 90, a mediabox starting at (100, 200), and rotated 270 with a negative origin."""
    writer = PdfWriter(clone_from=io.BytesIO(source_pdf("Odd", 3)))
    writer.pages[0].rotate(90)
    writer.pages[1].mediabox = RectangleObject([100, 200, 712, 992])
    writer.pages[2].mediabox = RectangleObject([-50, -60, 562, 732])
    writer.pages[2].rotate(270)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def flat(text: str) -> str:
    return " ".join(text.split())


def pdf_text(pdf: bytes) -> str:
    return flat(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(scope="module")
def parts():
    return [
        stamping.Part("doc-a", "Discharge summary", source_pdf("Alpha", 5), pages=[1, 2, 3, 5]),
        stamping.Part("doc-b", "Odd pages", odd_pdf()),
        stamping.Part("doc-c", "Lab result", source_pdf("Gamma", 2), pages=[2]),
    ]


CERT_FIELDS = {"custodian": "Pat Keeper", "custodian_title": "Custodian of Records", "facility": "Riverside General",
               "patient": "Jane Q. Doe", "records": "inpatient records, 2025", "date": DAY,
               "case": "Doe v. Acme Corp.", "case_number": "CV-2026-0042", "subpoena_date": DAY,
               "place": "Sacramento", "preparation": "Entered in the electronic health record by the staff who "
                                                    "gave the care, at or near the time of care.",
               "completeness": "all"}


def certification_for(key: str, parts) -> bytes:
    template = reference.load("certifications")[key]
    return stamping.certification(template, {**CERT_FIELDS, "pages": stamping.count_pages(parts)})


@pytest.fixture(scope="module")
def built(parts):
    cover = layout.letter(facility="Riverside General", date=DAY, to_lines=["Law Office", "1 Main St"],
                           subject="Records enclosed", paragraphs=["Enclosed are the records."],
                           signature_lines=["HIM"])
    front = [cover, certification_for("fre_902_11", parts)]
    back = stamping.redisclosure_notices(["part2", "hiv_ny", "general"])
    return stamping.build(parts, bates_prefix="RD", bates_start=1, front=front, back=back), front, back


def test_page_count_is_selected_pages_plus_front_and_back(built, parts):
    result, front, back = built
    added = sum(page_count(pdf) for pdf in front + back)
    assert stamping.count_pages(parts) == 4 + 3 + 1
    assert result.pages == 4 + 3 + 1 + added == page_count(result.pdf)
    assert (result.bates_first, result.bates_last) == ("RD000001", f"RD{result.pages:06d}")
    import hashlib

    assert result.sha256 == hashlib.sha256(result.pdf).hexdigest()


def test_ranges_map_parts_to_their_bates_numbers(built):
    result, front, _ = built
    first = len(front) + 1
    assert [(r.document_id, r.title, r.source_pages, r.bates_first, r.bates_last) for r in result.ranges] == [
        ("doc-a", "Discharge summary", "1-3,5", f"RD{first:06d}", f"RD{first + 3:06d}"),
        ("doc-b", "Odd pages", "1-3", f"RD{first + 4:06d}", f"RD{first + 6:06d}"),
        ("doc-c", "Lab result", "2", f"RD{first + 7:06d}", f"RD{first + 7:06d}"),
    ]
    reader = PdfReader(io.BytesIO(result.pdf))
    expected = ["Alpha page 1", "Alpha page 2", "Alpha page 3", "Alpha page 5", "Odd page 1", "Odd page 2",
                "Odd page 3", "Gamma page 2"]
    for offset, source_text in enumerate(expected):
        page_text = reader.pages[first - 1 + offset].extract_text()
        assert source_text in page_text and f"RD{first + offset:06d}" in page_text


def test_encrypted_packet_opens_only_with_its_password_and_every_page_is_stamped(built):
    result, _, _ = built
    password = stamping.new_password()
    sealed = stamping.encrypt(result.pdf, password)

    locked = PdfReader(io.BytesIO(sealed))
    assert locked.is_encrypted
    with pytest.raises(FileNotDecryptedError):
        locked.pages[0].extract_text()
    assert PdfReader(io.BytesIO(sealed)).decrypt("wrong-password") == PasswordType.NOT_DECRYPTED

    reader = PdfReader(io.BytesIO(sealed), password=password)
    encryption = reader.trailer["/Encrypt"].get_object()
    assert (encryption["/V"], encryption["/R"]) == (5, 6)
    assert encryption["/CF"]["/StdCF"]["/CFM"] == "/AESV3"
    assert len(reader.pages) == result.pages
    for n, page in enumerate(reader.pages, 1):
        text = page.extract_text()
        assert BATES.findall(text) == [f"RD{n:06d}"], n
        assert "CONFIDENTIAL" in text, n


def _stamps(page) -> dict[str, tuple[float, float, float, float]]:
    """Each stamp's baseline origin and direction in the page as displayed (after /Rotate, from the visible corner)."""
    x0, y0, x1, y1 = (float(v) for v in page.cropbox)
    rotation = page.rotation % 360
    to_display = {0: lambda x, y: (x - x0, y - y0), 90: lambda x, y: (y - y0, x1 - x),
                  180: lambda x, y: (x1 - x, y1 - y), 270: lambda x, y: (y1 - y, x - x0)}[rotation]
    turn = {0: lambda dx, dy: (dx, dy), 90: lambda dx, dy: (dy, -dx), 180: lambda dx, dy: (-dx, -dy),
            270: lambda dx, dy: (-dy, dx)}[rotation]
    found = {}

    def visit(text, cm, tm, font, size):
        for word in ("CONFIDENTIAL", *BATES.findall(text)):
            if word in text:
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                found[word] = (*to_display(x, y), *turn(tm[0] * cm[0] + tm[1] * cm[2], tm[0] * cm[1] + tm[1] * cm[3]))

    page.extract_text(visitor_text=visit)
    return found


def test_stamps_read_upright_at_the_bottom_of_rotated_and_offset_pages(built):
    result, front, _ = built
    reader = PdfReader(io.BytesIO(result.pdf))
    odd = result.ranges[1]
    for n in range(int(odd.bates_first[2:]), int(odd.bates_last[2:]) + 1):
        page = reader.pages[n - 1]
        x0, y0, x1, y1 = (float(v) for v in page.cropbox)
        width = (x1 - x0) if page.rotation % 180 == 0 else (y1 - y0)
        stamps = _stamps(page)
        stamp_u, stamp_v, *stamp_dir = stamps["CONFIDENTIAL"]
        bates_u, bates_v, *bates_dir = stamps[f"RD{n:06d}"]
        assert 0 < stamp_u < width / 2 and 0 < stamp_v < 40, (n, stamps)
        assert width / 2 < bates_u < width and 0 < bates_v < 40, (n, stamps)
        assert stamp_dir == pytest.approx([1, 0], abs=1e-6) and bates_dir == pytest.approx([1, 0], abs=1e-6)


def test_bad_inputs_are_refused_with_a_reason():
    doc = source_pdf("Alpha", 2)
    with pytest.raises(ValueError, match="doc-x"):
        stamping.build([stamping.Part("doc-x", "X", doc, pages=[3])], bates_prefix="RD")
    with pytest.raises(ValueError, match="no pages selected"):
        stamping.build([stamping.Part("doc-x", "X", doc, pages=[])], bates_prefix="RD")
    with pytest.raises(ValueError, match="no pages"):
        stamping.build([], bates_prefix="RD")
    with pytest.raises(ValueError, match="not a readable PDF"):
        stamping.build([stamping.Part("doc-y", "Y", b"not a pdf")], bates_prefix="RD")
    locked = stamping.encrypt(doc, "secret")
    with pytest.raises(ValueError, match="password-protected"):
        stamping.build([stamping.Part("doc-z", "Z", locked)], bates_prefix="RD")
    with pytest.raises(ValueError, match="empty password"):
        stamping.encrypt(doc, "")


def test_new_password_is_long_random_and_easy_to_read_aloud():
    passwords = {stamping.new_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", password)
        assert not set(password) & set("01ilo")


@pytest.mark.parametrize("key", ["fre_902_11", "ca_1561", "tx_902_10"])
def test_certified_page_count_equals_pages_produced(key, parts):
    cert = certification_for(key, parts)
    notices = stamping.redisclosure_notices(["general"])
    result = stamping.build(parts, bates_prefix="RD", front=[cert], back=notices)
    produced = result.pages - page_count(cert) - sum(page_count(n) for n in notices)
    assert page_count(cert) == 1
    text = flat(PdfReader(io.BytesIO(result.pdf)).pages[0].extract_text())
    assert [int(n) for n in re.findall(r"(\d+) pages", text)] == [produced]
    assert "Pat Keeper" in text and "Riverside General" in text


def test_certification_options_and_missing_fields(parts):
    template = reference.load("certifications")["ca_1561"]
    partial = stamping.certification(template, {**CERT_FIELDS, "completeness": "partial", "pages": 3})
    assert "only part of the records" in pdf_text(partial)
    with pytest.raises(ValueError, match="completeness"):
        stamping.certification(template, {**CERT_FIELDS, "completeness": "most", "pages": 3})
    fields = {k: v for k, v in CERT_FIELDS.items() if k != "custodian"}
    with pytest.raises(ValueError, match="'custodian'"):
        stamping.certification(template, {**fields, "pages": 3})
    with pytest.raises(ValueError, match="pages"):
        stamping.certification(template, {**CERT_FIELDS, "pages": "12"})


def test_redisclosure_notices_carry_the_statutory_text():
    part2, hiv, general = (pdf_text(p) for p in stamping.redisclosure_notices(["part2", "hiv_ny", "general", "part2"]))
    assert "42 CFR part 2 prohibits unauthorized use or disclosure of these records." in part2
    assert ("This information has been disclosed to you from confidential records which are protected by State "
            "law. State law prohibits you from making any further disclosure of this information without the "
            "specific written consent of the person to whom it pertains, or as otherwise permitted by law. Any "
            "unauthorized further disclosure in violation of State law may result in a fine or jail sentence or "
            "both. A general authorization for the release of medical or other information is NOT sufficient "
            "authorization for the release of further disclosure.") in hiv
    assert "HIPAA" in general
    with pytest.raises(ValueError, match="no redisclosure notice 'nope'"):
        stamping.redisclosure_notices(["nope"])


def test_a_site_may_override_the_notices(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notices.toml").write_text('[local]\ntitle = "Local"\nparagraphs = ["Site text."]\n')
    assert "Site text." in pdf_text(stamping.redisclosure_notices(["local"], home=tmp_path)[0])


LETTER_FIELDS = {
    "facility": "Riverside General Hospital", "date": DAY, "to": ["Jane Q. Doe", "12 Elm Street", "Springfield"],
    "signer": "Robin Clerk", "signer_title": "Release of Information Specialist", "phone": "555-0100",
    "reference": "ROI-2026-0917", "patient": "Jane Q. Doe", "received": datetime.date(2026, 2, 2),
    "records": ["Discharge summary, January 2026", "Laboratory results, January 2026"],
    "due": datetime.date(2026, 3, 4), "reasons": ["Records are stored off site"], "new_due": datetime.date(2026, 4, 3),
    "recipient": "Acme Insurance Co.", "problems": ["A1: no expiration date or event", "A5: no revocation statement"],
    "denied": ["Psychotherapy notes"], "basis": "Psychotherapy notes are excluded from the right of access.",
    "released": "We are sending you the rest of the record you asked for.", "review": "reviewable",
    "review_contact": "the Privacy Officer", "review_address": "1 Hospital Way, Springfield",
    "complaint_contact": "the Privacy Officer", "complaint_address": "1 Hospital Way, Springfield",
    "complaint_phone": "555-0199", "fee_lines": ["Labor for copying: $12.00", "Postage: $1.50"],
    "total": "$13.50", "how_to_proceed": "sign and return the enclosed form.", "provider": "Dr. Ada Smith",
    "as_of": DAY, "deficiencies": ["MRN 004512: discharge summary missing", "MRN 008811: unsigned verbal order"],
    "delinquent_days": 30, "where": "in the physician completion room and in the EHR inbox",
}


def _shown(value) -> list[str]:
    if isinstance(value, datetime.date):
        return [f"{value:%B} {value.day}, {value.year}"]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


@pytest.mark.parametrize("kind", ["acknowledgement", "extension_notice", "deficiency", "denial", "fee_estimate",
                                  "provider_deficiency"])
def test_each_letter_renders_with_its_fields_filled(kind):
    assert kind in letters.kinds()
    template = reference.load("letters")[kind]
    text = pdf_text(letters.render(kind, LETTER_FIELDS))
    used = {name for part in [template["subject"], *template["paragraphs"]]
            for _, name, _, _ in string.Formatter().parse(part) if name}
    assert used, kind
    for name in used - {"review"}:
        for shown in _shown(LETTER_FIELDS[name]):
            assert flat(shown) in text, (kind, name)
    for shown in ("Jane Q. Doe", "12 Elm Street", "March 4, 2026", "Robin Clerk"):
        assert shown in text
    assert "{" not in text


def test_denial_states_review_rights_and_complaint_routes():
    reviewable = pdf_text(letters.render("denial", LETTER_FIELDS))
    assert "licensed health care professional" in reviewable and "1-800-368-1019" in reviewable
    unreviewable = pdf_text(letters.render("denial", {**LETTER_FIELDS, "review": "unreviewable"}))
    assert "not subject to review" in unreviewable and "licensed health care professional" not in unreviewable


def test_a_missing_placeholder_names_the_field():
    fields = {k: v for k, v in LETTER_FIELDS.items() if k != "basis"}
    with pytest.raises(ValueError, match="'basis'"):
        letters.render("denial", fields)
    with pytest.raises(ValueError, match="'to'"):
        letters.render("acknowledgement", {k: v for k, v in LETTER_FIELDS.items() if k != "to"})
    with pytest.raises(ValueError, match="no letter template 'nope'"):
        letters.render("nope", LETTER_FIELDS)


def test_text_beyond_latin1_is_replaced_not_fatal(parts):
    letter = layout.letter(facility=UNICODE, date=DAY, to_lines=[UNICODE], subject=UNICODE,
                            paragraphs=[UNICODE], signature_lines=[UNICODE])
    assert 'Zoë "quotes" - ?' in pdf_text(letter)
    assert 'Zoë "quotes" - ?' in pdf_text(letters.render("acknowledgement", {**LETTER_FIELDS, "patient": UNICODE}))
    assert "Zoë" in pdf_text(layout.notice_page(UNICODE, [UNICODE]))
    report = layout.table_report(title=UNICODE, subtitle_lines=[UNICODE], columns=["Who", "What"],
                                  rows=[[UNICODE, UNICODE]], footer_lines=[UNICODE])
    assert "Zoë" in pdf_text(report)
    result = stamping.build([stamping.Part("doc-u", UNICODE, parts[2].pdf)], bates_prefix="ZÖ-", stamp=UNICODE)
    assert 'Zoë "quotes"' in pdf_text(result.pdf) and "ZÖ-000001" in pdf_text(result.pdf)


def test_table_report_wraps_cells_and_repeats_its_header():
    long_cell = "Disclosed under subpoena with satisfactory assurance of notice " * 4
    rows = [[f"2025-01-{n % 28 + 1:02d}", f"Recipient {n}", long_cell.strip(), "Legal process"] for n in range(60)]
    report = layout.table_report(title="Accounting of disclosures", subtitle_lines=["Patient: Jane Q. Doe"],
                                  columns=["Date", "Recipient", "Description", "Purpose"], rows=rows,
                                  widths=[1.2, 2, 4, 1.6], footer_lines=["End of accounting."])
    reader = PdfReader(io.BytesIO(report))
    assert len(reader.pages) > 2
    for n, page in enumerate(reader.pages, 1):
        text = flat(page.extract_text())
        assert "Date Recipient Description Purpose" in text
        assert f"Page {n} of {len(reader.pages)}" in text
    everything = pdf_text(report)
    assert "Recipient 59" in everything and everything.rstrip().endswith(f"Page {len(reader.pages)} of "
                                                                         f"{len(reader.pages)}")
    assert "End of accounting." in everything
    with pytest.raises(ValueError, match="row 1"):
        layout.table_report(title="T", subtitle_lines=[], columns=["A", "B"], rows=[["only one"]])


def test_notice_page_shrinks_to_one_page_or_refuses():
    assert page_count(layout.notice_page("Long", ["word " * 900])) == 1
    with pytest.raises(ValueError, match="one page"):
        layout.notice_page("Too long", ["word " * 5000])
