"""The desk's clock: the day rules are judged on (`as_of`) when a caller names none, and the moment a time-limited
grant (break-glass access) is judged against. Tests move it by replacing these functions."""

from __future__ import annotations

import datetime


def today() -> datetime.date:
    """Today on this machine's calendar: the default `as_of` of every rule and queue."""
    return datetime.date.today()


def now() -> datetime.datetime:
    """This moment in UTC, naive (as the database keeps times): when break-glass access ends is judged on it."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
