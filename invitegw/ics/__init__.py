"""Pure iCalendar and iTIP: the model, building, parsing and normalising. No I/O."""

from __future__ import annotations

from invitegw.ics.build import (
    DEFAULT_PRODUCER,
    build_calendar,
    build_cancel,
    build_publish,
    build_reply,
    build_request,
)
from invitegw.ics.changes import ChangeKind, EventChange, compare_events
from invitegw.ics.limits import DEFAULT_LIMITS, IcsLimits
from invitegw.ics.model import (
    CALENDAR_FILE_SUFFIXES,
    Alarm,
    Attendee,
    CalendarError,
    CalendarObject,
    CuType,
    DroppedEvent,
    Event,
    EventStatus,
    Method,
    MethodSource,
    Organizer,
    PartStat,
    Role,
    ZoneNote,
    ZoneNoteKind,
)
from invitegw.ics.parse import (
    CalendarOutcome,
    parse_calendar,
    parse_calendar_objects,
    parse_calendars,
)
from invitegw.ics.recurrence import (
    expand,
    last_occurrence_end,
    occurrences_between,
    validate_rrule,
)
from invitegw.ics.rrule import Recur

__all__ = [
    "CALENDAR_FILE_SUFFIXES",
    "DEFAULT_LIMITS",
    "DEFAULT_PRODUCER",
    "Alarm",
    "Attendee",
    "CalendarError",
    "CalendarObject",
    "CalendarOutcome",
    "ChangeKind",
    "CuType",
    "DroppedEvent",
    "Event",
    "EventChange",
    "EventStatus",
    "IcsLimits",
    "Method",
    "MethodSource",
    "Organizer",
    "PartStat",
    "Recur",
    "Role",
    "ZoneNote",
    "ZoneNoteKind",
    "build_calendar",
    "build_cancel",
    "build_publish",
    "build_reply",
    "build_request",
    "compare_events",
    "expand",
    "last_occurrence_end",
    "occurrences_between",
    "parse_calendar",
    "parse_calendar_objects",
    "parse_calendars",
    "validate_rrule",
]
