"""Stamping a release packet: chosen pages between front and back matter, Bates-numbered, stamped CONFIDENTIAL,
then encrypted (AES-256) for electronic delivery; certification and redisclosure notice pages."""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from recdesk import reference
from recdesk.pdf import layout, letters

# Lower-case letters and digits that neither look alike (0/o, 1/l/i) nor sound alike over a phone (b/d/p/t/v, m/n, ...).
_ALPHABET = "afhjkqrsuwxy23456789"
_EDGE = 18.0  # points from the visible edge to the stamp line (1/4 inch)
_STAMP_PT = 8.0


@dataclass(frozen=True)
class Part:
    """One document of the release: pages are the 1-based page numbers to include (None = all), kept in source order."""

    document_id: str
    title: str
    pdf: bytes
    pages: list[int] | None = None


@dataclass(frozen=True)
class Range:
    """Where a part landed: its source pages ("1-3,5") and its first and last Bates numbers."""

    document_id: str
    title: str
    source_pages: str
    bates_first: str
    bates_last: str


@dataclass(frozen=True)
class Packet:
    pdf: bytes
    pages: int
    bates_first: str
    bates_last: str
    ranges: list[Range]
    sha256: str


def _reader(pdf: bytes, what: str):
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(pdf))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValueError(f"{what} is password-protected: remove the password before releasing it")
        return reader
    except PdfReadError as exc:
        raise ValueError(f"{what} is not a readable PDF ({exc})") from None


def _selected(part: Part, total: int) -> list[int]:
    if part.pages is None:
        return list(range(1, total + 1))
    pages = sorted(set(part.pages))
    if not pages:
        raise ValueError(f"document {part.document_id} ({part.title}): no pages selected")
    if pages[0] < 1 or pages[-1] > total:
        raise ValueError(f"document {part.document_id} ({part.title}) has pages 1-{total}, not {pages}")
    return pages


def count_pages(parts: Sequence[Part]) -> int:
    """The number of record pages build() will produce from parts: the count to certify (RULES L5)."""
    return sum(len(_selected(p, len(_reader(p.pdf, f"document {p.document_id}").pages))) for p in parts)


def page_ranges(pages: Sequence[int]) -> str:
    """[1, 2, 3, 5] -> "1-3,5"."""
    runs: list[list[int]] = []
    for n in sorted(set(pages)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _overlays(sizes: list[tuple[float, float]], labels: list[str], stamp: str) -> list:
    """One page per (width, height) as seen on screen: stamp at bottom left, label at bottom right."""
    pdf = layout.document(unit="pt", margins=None)
    pdf.set_auto_page_break(False)
    stamp = layout.text(stamp)
    for (width, height), label in zip(sizes, labels, strict=True):
        pdf.add_page(format=(width, height))
        size = _STAMP_PT
        pdf.set_font("Helvetica", "B", size)
        room = width - 3 * min(_EDGE, width / 8)
        used = pdf.get_string_width(stamp) + pdf.get_string_width(label)
        if used > room:  # a small page: shrink the type so both fit
            size = max(3.0, size * room / used)
            pdf.set_font_size(size)
        edge = min(_EDGE, width / 8, height / 4)
        pdf.text(edge, height - edge, stamp)
        pdf.text(width - edge - pdf.get_string_width(label), height - edge, label)
    return list(_reader(bytes(pdf.output()), "the stamp overlay").pages)


def _visible(page) -> tuple[float, float, float, float, int]:
    """The page's visible box (cropbox within mediabox) as x0, y0, x1, y1, and its rotation in 0/90/180/270."""
    media, crop = page.mediabox, page.cropbox
    x0, y0 = max(media.left, crop.left), max(media.bottom, crop.bottom)
    x1, y1 = min(media.right, crop.right), min(media.top, crop.top)
    if x1 <= x0 or y1 <= y0:
        x0, y0, x1, y1 = media.left, media.bottom, media.right, media.top
    rotation = round((page.rotation or 0) / 90) * 90 % 360
    return float(x0), float(y0), float(x1), float(y1), rotation


def _stamp(page, overlay, box) -> None:
    """Merge the overlay (drawn upright at the displayed size) onto page so it reads upright in the visible box."""
    from pypdf import Transformation

    x0, y0, x1, y1, rotation = box
    # /Rotate turns the page clockwise for display: the displayed bottom-left corner is this user-space corner.
    corner = {0: (x0, y0), 90: (x1, y0), 180: (x1, y1), 270: (x0, y1)}[rotation]
    page.merge_transformed_page(overlay, Transformation().rotate(rotation).translate(*corner))


def build(parts: Sequence[Part], *, bates_prefix: str, bates_start: int = 1, stamp: str = "CONFIDENTIAL",
          front: Sequence[bytes] = (), back: Sequence[bytes] = ()) -> Packet:
    """One PDF: front, then the selected pages of each part, then back; every page gets a Bates number and the stamp.

    Raises ValueError for an unreadable or password-protected input, a page out of range, or nothing to release.
    """
    from pypdf import PdfWriter

    if bates_start < 0:
        raise ValueError(f"Bates numbers start at 0 or more, not {bates_start}")
    writer = PdfWriter()
    ranges: list[Range] = []
    outline: list[tuple[str, int]] = []

    def bates(index: int) -> str:
        return f"{bates_prefix}{bates_start + index:06d}"

    def add(reader, numbers: list[int]) -> None:
        for n in numbers:
            writer.add_page(reader.pages[n - 1])

    for number, pdf in enumerate(front, 1):
        reader = _reader(pdf, f"front page document {number}")
        add(reader, list(range(1, len(reader.pages) + 1)))
    for part in parts:
        reader = _reader(part.pdf, f"document {part.document_id} ({part.title})")
        numbers = _selected(part, len(reader.pages))
        first = len(writer.pages)
        add(reader, numbers)
        outline.append((part.title, first))
        ranges.append(Range(part.document_id, part.title, page_ranges(numbers), bates(first),
                            bates(len(writer.pages) - 1)))
    for number, pdf in enumerate(back, 1):
        reader = _reader(pdf, f"back page document {number}")
        add(reader, list(range(1, len(reader.pages) + 1)))
    total = len(writer.pages)
    if not total:
        raise ValueError("the packet has no pages")

    boxes = [_visible(page) for page in writer.pages]
    sizes = [(x1 - x0, y1 - y0) if r in (0, 180) else (y1 - y0, x1 - x0) for x0, y0, x1, y1, r in boxes]
    labels = [layout.text(bates(i)) for i in range(total)]
    for page, overlay, box in zip(writer.pages, _overlays(sizes, labels, stamp), boxes, strict=True):
        _stamp(page, overlay, box)
    for title, index in outline:
        writer.add_outline_item(title=layout.text(title), page_number=index)
    writer.add_metadata({"/Title": f"Release {bates(0)}-{bates(total - 1)}", "/Producer": "recdesk"})
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()
    return Packet(data, total, bates(0), bates(total - 1), ranges, hashlib.sha256(data).hexdigest())


def encrypt(pdf: bytes, password: str) -> bytes:
    """pdf encrypted with AES-256 under password, for sending.

    Done last, on a freshly read copy: pypdf 7.1 drops merged overlays when the merging writer also encrypts.
    """
    from pypdf import PdfWriter

    if not password:
        raise ValueError("an empty password would not protect the packet")
    writer = PdfWriter(clone_from=_reader(pdf, "the packet"))
    writer.encrypt(password, owner_password=secrets.token_urlsafe(24), algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def new_password() -> str:
    """A random password to give the recipient by phone: 16 characters in groups of four, e.g. "k7wq-3hxr-..."."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(chars[i:i + 4] for i in range(0, 16, 4))


def certification(template: dict, fields: dict) -> bytes:
    """A custodian's certification page from a data/certifications.toml template.

    fields["pages"] must be the record pages produced (count_pages(parts)); a missing field raises ValueError.
    """
    what = f"certification {template.get('title', '')!r}"
    pages = fields.get("pages")
    if not isinstance(pages, int) or isinstance(pages, bool) or pages < 0:
        raise ValueError(f"{what}: pages must be the number of pages produced, not {pages!r}")
    fields = letters.with_options(template, fields, what)
    return layout.notice_page(letters.fill(template["title"], fields, what),
                               [letters.fill(p, fields, what) for p in template["paragraphs"]])


def redisclosure_notices(codes: Sequence[str], home: Path | None = None) -> list[bytes]:
    """One page per notice code in data/notices.toml (part2, hiv_ny, general, ...), each once, in the order given."""
    notices = reference.load("notices", home)
    pages = []
    for code in dict.fromkeys(codes):
        if code not in notices:
            raise ValueError(f"no redisclosure notice {code!r}: one of {', '.join(sorted(notices))}")
        pages.append(layout.notice_page(notices[code]["title"], notices[code]["paragraphs"]))
    return pages
