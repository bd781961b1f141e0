"""Letters, tables and notice pages as PDF bytes, made with fpdf2's core Helvetica (US Letter)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING

from recdesk.pdf.fonts import latin1

if TYPE_CHECKING:
    from fpdf import FPDF

# Typographic punctuation that latin1() would fold to '?': spelled the way a typewriter would.
_PUNCTUATION = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'", "–": "-", "—": "-",
                              "‑": "-", "…": "...", "•": "-", "€": "EUR", "™": "(TM)", "\u00a0": " ",
                              "\u202f": " ", "\u2009": " "})
_MARGIN = 25.4  # one inch, in mm
# Made-at dates are fixed so the same input gives the same bytes (fpdf2's file ID hashes the content).
_EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def text(value: object) -> str:
    """Any text made safe for the core fonts: quotes and dashes become ASCII, then latin1() folds the rest."""
    return latin1(str(value).translate(_PUNCTUATION))


def document(title: str = "", *, made: datetime.date | None = None, unit: str = "mm",
             margins: float | None = _MARGIN) -> FPDF:
    """A new US Letter PDF as the desk makes every one: its title, creator recdesk, and a fixed made-at date (noon of
    `made`, else 2000-01-01) so the same input gives the same bytes; `margins` (in `unit`) on every side, the page
    breaking at the bottom one (None: fpdf2's own)."""
    from fpdf import FPDF  # fpdf2 takes ~0.3 s to import; only rendering needs it

    pdf = FPDF(unit=unit, format="letter")
    if margins is not None:
        pdf.set_margins(margins, margins, margins)
        pdf.set_auto_page_break(True, margin=margins)
    if title:
        pdf.set_title(text(title))
    pdf.set_creator("recdesk")
    pdf.set_creation_date(datetime.datetime.combine(made, datetime.time(12), datetime.UTC) if made else _EPOCH)
    return pdf


def letter(*, facility: str, date: datetime.date, to_lines: Sequence[str], subject: str,
           paragraphs: Sequence[str], signature_lines: Sequence[str]) -> bytes:
    """A business letter: letterhead, date, inside address, 'Re:' line, body, signature block."""
    pdf = document(subject, made=date)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 7, text(facility), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(120)
    pdf.line(_MARGIN, pdf.get_y() + 1, pdf.w - _MARGIN, pdf.get_y() + 1)
    pdf.ln(8)
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 5.5, f"{date:%B} {date.day}, {date.year}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5.5)
    for line in to_lines:
        pdf.multi_cell(0, 5.5, text(line), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5.5)
    pdf.set_font("Helvetica", "B", 11)
    pdf.multi_cell(0, 5.5, text(f"Re: {subject}"), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for paragraph in paragraphs:
        pdf.ln(3.5)
        pdf.multi_cell(0, 5.5, text(paragraph), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(7)
    for line in signature_lines:
        pdf.multi_cell(0, 5.5, text(line), align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def table_report(*, title: str, subtitle_lines: Sequence[str], columns: Sequence[str], rows: Sequence[Sequence[str]],
                 widths: Sequence[float] | None = None, footer_lines: Sequence[str] = ()) -> bytes:
    """A titled table that wraps long cells and repeats its header row on every page.

    widths are relative (scaled to the page); footer_lines follow the table; every page says "Page n of N".
    """
    if widths is not None and len(widths) != len(columns):
        raise ValueError(f"{len(widths)} widths for {len(columns)} columns")
    for number, row in enumerate(rows, 1):
        if len(row) != len(columns):
            raise ValueError(f"row {number} has {len(row)} cells for {len(columns)} columns")
    from fpdf.fonts import FontFace

    pdf = document(title)
    pdf.set_auto_page_break(True, margin=_MARGIN + 4)  # room for the page number
    pdf.footer = lambda: _page_number(pdf)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 7, text(title), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for line in subtitle_lines:
        pdf.multi_cell(0, 5, text(line), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 9)
    heading = FontFace(emphasis="BOLD", fill_color=(225, 225, 225))
    with pdf.table(col_widths=tuple(widths) if widths else None, headings_style=heading, text_align="LEFT",
                   line_height=4.6, padding=1.2, repeat_headings=1, v_align="TOP") as table:
        table.row([text(c) for c in columns])
        for row in rows:
            table.row([text(c) for c in row])
    pdf.set_font("Helvetica", "", 10)
    for line in footer_lines:
        pdf.ln(1.5)
        pdf.multi_cell(0, 5, text(line), align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _page_number(pdf) -> None:
    pdf.set_y(-_MARGIN)
    pdf.set_font("Helvetica", "", 8)
    pdf.cell(0, 5, f"Page {pdf.page_no()} of {{nb}}", align="R")


def notice_page(title: str, paragraphs: Sequence[str]) -> bytes:
    """One page of notice text: the type shrinks (11 pt down to 7 pt) until it fits; longer text raises ValueError."""
    for size in (11, 10, 9, 8, 7):
        pdf = document(title)
        pdf.add_page()
        pdf.set_font("Helvetica", "B", size + 3)
        pdf.multi_cell(0, (size + 3) * 0.5, text(title), align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", size)
        for paragraph in paragraphs:
            pdf.ln(size * 0.4)
            pdf.multi_cell(0, size * 0.5, text(paragraph), align="L", new_x="LMARGIN", new_y="NEXT")
        if pdf.page_no() == 1:
            return bytes(pdf.output())
    raise ValueError(f"notice {title!r} does not fit on one page")
