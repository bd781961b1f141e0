"""The desk's clock: the day rules are judged on (`as_of`) when a caller names none."""

from __future__ import annotations

import datetime


def today() -> datetime.date:
    """Today on this machine's calendar: the default `as_of` of every rule and queue."""
    return datetime.date.today()
