"""Text for PDFs made with fpdf2's core fonts, which hold Latin-1 only."""

from __future__ import annotations

import unicodedata

_BEYOND = str.maketrans({"đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "ı": "i", "œ": "oe", "Œ": "OE", "ș": "s",
                         "Ș": "S", "ț": "t", "Ț": "T", "ğ": "g", "Ğ": "G", "ş": "s", "Ş": "S"})


def latin1(text: str) -> str:
    """'García' is kept as it is; 'Nguyễn' becomes 'Nguyen'; anything else past Latin-1 becomes '?'."""
    if text.isascii():
        return text
    out = []
    for c in text:
        if ord(c) > 255:
            c = c.translate(_BEYOND)
            c = "".join(d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d))
            c = "".join(d if ord(d) <= 255 else "?" for d in c)
        out.append(c)
    return "".join(out)
