"""When a received invitation ends, kept on its ledger row so ``invitegw prune`` can tell.

:func:`note_event_end` is called each time a message about an invitation is recorded. The
row's ``ends_at`` only ever moves later or to "never" (``NULL``): a version that moved the
meeting earlier, or a stale older one, can never make a row look over while a version
that ends later was seen. A series without an end, or one the recurrence caps cannot
expand, is ``NULL``; so is a row written before the column existed. ``prune`` keeps every
row whose ``ends_at`` is ``NULL``.
"""

from __future__ import annotations

import datetime as dt

from invitegw.errors import IcsError
from invitegw.gateway.storage import InboundEvent
from invitegw.ics.model import Event
from invitegw.ics.recurrence import last_occurrence_end

__all__ = ["event_ends_at", "note_event_end"]


def event_ends_at(event: Event) -> dt.datetime | None:
    """When ``event`` (its last instance, for a series) ends, in UTC; ``None``: never.

    Floating and all-day values are read in UTC: hours off at most, which no retention
    period notices.

    Parameters:
        event: the VEVENT as received.

    Returns:
        The end, or ``None`` for a series without an end (or one that cannot be expanded).
    """
    if not event.start_given:
        return None
    try:
        end = last_occurrence_end(event)
    except IcsError:
        return None
    if end is None:
        return None
    if not isinstance(end, dt.datetime):
        return dt.datetime.combine(end, dt.time(0), tzinfo=dt.UTC)
    if end.tzinfo is None:
        return end.replace(tzinfo=dt.UTC)
    return end.astimezone(dt.UTC)


def note_event_end(row: InboundEvent, event: Event, *, new: bool) -> None:
    """Move ``row.ends_at`` to ``event``'s end when that is later (see the module docstring).

    Parameters:
        row: the ledger row.
        event: the VEVENT just recorded against it.
        new: the row was inserted for this message.
    """
    end = event_ends_at(event)
    if new:
        row.ends_at = end
    elif end is None or row.ends_at is None:
        row.ends_at = None
    elif end > row.ends_at:
        row.ends_at = end
