"""Where a paper chart lives on the shelf: terminal-digit, middle-digit or straight numeric order (RULES F1)."""

from __future__ import annotations

import re

from recdesk.errors import DeskError
from recdesk.vault.blindindex import digits

ORDERS = ("terminal", "middle", "straight")


def _groups(mrn: str) -> tuple[int, int, int]:
    """(primary, secondary, tertiary): the last pair, the pair before it, and every digit before those."""
    number = digits(mrn)
    if not number:
        raise DeskError(f"MRN {mrn!r} has no digits: paper charts file by a numeric MRN")
    number = number.zfill(6)  # left-pad to 6 (F1); extra leading digits join the tertiary group
    return int(number[-2:]), int(number[-4:-2]), int(number[:-4])


def terminal_digit_key(mrn: str) -> tuple[int, int, int]:
    """123456 files under primary 56, then secondary 34, then tertiary 12."""
    return _groups(mrn)


def middle_digit_key(mrn: str) -> tuple[int, int, int]:
    """123456 files as 34-12-56: the middle pair first, then the leading digits, then the last pair."""
    primary, secondary, tertiary = _groups(mrn)
    return secondary, tertiary, primary


def address(mrn: str, order: str = "terminal") -> str:
    """The shelf address a clerk reads, most significant group first: 123456 -> '56-34-12' (terminal)."""
    primary, secondary, tertiary = _groups(mrn)
    width = max(2, len(digits(mrn).zfill(6)) - 4)
    if order == "terminal":
        return f"{primary:02}-{secondary:02}-{tertiary:0{width}}"
    if order == "middle":
        return f"{secondary:02}-{tertiary:0{width}}-{primary:02}"
    if order == "straight":
        return digits(mrn).zfill(6)
    raise DeskError(f"filing order {order!r} must be one of {', '.join(ORDERS)}")


def sort_key(mrn: str, order: str = "terminal") -> tuple[int, ...]:
    if order == "terminal":
        return terminal_digit_key(mrn)
    if order == "middle":
        return middle_digit_key(mrn)
    if order == "straight":
        return (int(digits(mrn) or 0),)
    raise DeskError(f"filing order {order!r} must be one of {', '.join(ORDERS)}")


# ASCII digits only (a wand types them; \d would take Arabic-Indic or fullwidth ones), and no more than an MRN holds
_WAND = re.compile(r"^\**(?:MRN)?[\s:#]*0*([0-9]{1,20})\**$", re.IGNORECASE | re.ASCII)


def read_wand(typed: str) -> str | None:
    """The MRN in what a wand or a clerk typed: '0072248\\n', ' 72248 ', '*MRN72248*' (a cover-sheet barcode)."""
    match = _WAND.match((typed or "").strip().replace(" ", ""))
    return match.group(1) if match else None
