"""How the use cases' values are written as JSON: times, dates. Standard library only.

Every front end prints the same objects (``--json``, the HTTP API), so the rule lives
here, light enough for the command line to import at start-up.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["iso_utc"]


def iso_utc(value: dt.date | dt.datetime | None) -> str | None:
    """``2026-06-03T08:00:00Z`` for a time, ``2026-06-03`` for a date, None for None.

    Parameters:
        value: a date, an aware datetime, or None.

    Returns:
        The ISO 8601 text (times in UTC), or None.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()
