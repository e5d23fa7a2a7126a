"""Pure iCalendar and iTIP: the model, building, parsing and normalising. No I/O."""

from __future__ import annotations

from invitegw.ics.model import (
    Alarm,
    Attendee,
    CalendarObject,
    CuType,
    Event,
    EventStatus,
    Method,
    MethodSource,
    Organizer,
    PartStat,
    Role,
)

__all__ = [
    "Alarm",
    "Attendee",
    "CalendarObject",
    "CuType",
    "Event",
    "EventStatus",
    "Method",
    "MethodSource",
    "Organizer",
    "PartStat",
    "Role",
]
