""":rfc:`5545` and :rfc:`5546` values: calendar objects, events, people, methods.

Frozen dataclasses and enums only; no I/O, no parsing. The parser (``ics.parse``) produces
these from any client's bytes, the builder (``ics.build``) turns them into bytes, and the
rest of the gateway reasons about them.

Time values follow :rfc:`5545` section 3.3.5 exactly:

- an aware ``datetime`` (``tzinfo`` a ``zoneinfo.ZoneInfo`` or UTC) for a time in a zone;
- a naive ``datetime`` for a *floating* time (the same wall-clock time everywhere);
- a ``date`` (not a ``datetime``) for an all-day value.

Addresses are bare, lower-cased email addresses (``mailto:`` removed); an empty string stands
for a producer that wrote no address.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "CALENDAR_FILE_SUFFIXES",
    "Alarm",
    "Attendee",
    "CalendarError",
    "CalendarObject",
    "CuType",
    "DateOrDateTime",
    "DroppedEvent",
    "Event",
    "EventStatus",
    "Method",
    "MethodSource",
    "Organizer",
    "PartStat",
    "Role",
    "ZoneNote",
    "ZoneNoteKind",
    "to_utc",
]

# File names that hold iCalendar data: .ics (RFC 5545 section 8.1), .ifb (free/busy), and
# the older or vendor spellings real mail carries (.vcs from vCalendar 1.0, .ical,
# .icalendar). One list for MIME extraction, `ingest` and `ics inspect`.
CALENDAR_FILE_SUFFIXES: tuple[str, ...] = (".ics", ".ifb", ".vcs", ".ical", ".icalendar")

DateOrDateTime = dt.date | dt.datetime


class Method(StrEnum):
    """iTIP methods (:rfc:`5546` section 1.4)."""

    PUBLISH = "PUBLISH"
    REQUEST = "REQUEST"
    REPLY = "REPLY"
    ADD = "ADD"
    CANCEL = "CANCEL"
    REFRESH = "REFRESH"
    COUNTER = "COUNTER"
    DECLINECOUNTER = "DECLINECOUNTER"


class MethodSource(StrEnum):
    """Where a calendar object's method was read from."""

    CALENDAR = "calendar"  # the VCALENDAR's METHOD property
    MIME = "mime"  # the text/calendar Content-Type's method= parameter
    DEFAULT = "default"  # neither: PUBLISH (RFC 5546 section 1.4)


class PartStat(StrEnum):
    """Participation status of an event attendee (:rfc:`5545` section 3.2.12).

    Unknown values read as ``NEEDS-ACTION``, as the RFC asks.
    """

    NEEDS_ACTION = "NEEDS-ACTION"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    TENTATIVE = "TENTATIVE"
    DELEGATED = "DELEGATED"


class Role(StrEnum):
    """Participation role (:rfc:`5545` section 3.2.16); unknown values read as REQ-PARTICIPANT."""

    CHAIR = "CHAIR"
    REQ_PARTICIPANT = "REQ-PARTICIPANT"
    OPT_PARTICIPANT = "OPT-PARTICIPANT"
    NON_PARTICIPANT = "NON-PARTICIPANT"


class CuType(StrEnum):
    """Calendar user type (:rfc:`5545` section 3.2.3); unknown values read as UNKNOWN."""

    INDIVIDUAL = "INDIVIDUAL"
    GROUP = "GROUP"
    RESOURCE = "RESOURCE"
    ROOM = "ROOM"
    UNKNOWN = "UNKNOWN"


class EventStatus(StrEnum):
    """VEVENT STATUS (:rfc:`5545` section 3.8.1.11)."""

    TENTATIVE = "TENTATIVE"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class Organizer:
    """ORGANIZER (:rfc:`5545` section 3.8.4.3)."""

    email: str
    cn: str | None = None
    sent_by: str | None = None


@dataclass(frozen=True, slots=True)
class Attendee:
    """ATTENDEE (:rfc:`5545` section 3.8.4.1) with the parameters iTIP uses."""

    email: str
    cn: str | None = None
    role: Role = Role.REQ_PARTICIPANT
    partstat: PartStat = PartStat.NEEDS_ACTION
    rsvp: bool = False
    cutype: CuType = CuType.INDIVIDUAL
    delegated_to: tuple[str, ...] = ()
    delegated_from: tuple[str, ...] = ()
    sent_by: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Alarm:
    """A VALARM (:rfc:`5545` section 3.6.6).

    ``trigger`` is relative to the event's start (negative: before it), unless ``trigger_at``
    gives an absolute UTC time.
    """

    trigger: dt.timedelta = dt.timedelta(minutes=-15)
    action: str = "DISPLAY"
    description: str = "Reminder"
    trigger_at: dt.datetime | None = None


class ZoneNoteKind(StrEnum):
    """What a :class:`ZoneNote` reports about a TZID (:rfc:`5545` section 3.2.19)."""

    # The TZID is an IANA or Windows zone name and its VTIMEZONE gives other offsets: the
    # IANA zone is used (producers copy VTIMEZONEs once, or truncate them).
    IANA_OVER_VTIMEZONE = "iana-over-vtimezone"
    # The TZID was only guessed (a display name, a label) and its VTIMEZONE gives other
    # offsets: the VTIMEZONE is used, as RFC 5545 says.
    VTIMEZONE_OVER_GUESS = "vtimezone-over-guess"
    # No VTIMEZONE: the zone was guessed from the name alone.
    GUESSED_WITHOUT_VTIMEZONE = "guessed-without-vtimezone"
    # No VTIMEZONE and no known name: read in the calendar's X-WR-TIMEZONE.
    X_WR_TIMEZONE = "x-wr-timezone"
    # No VTIMEZONE and no known name: the times stay floating (wall clock, zone unknown).
    FLOATING = "floating"


@dataclass(frozen=True, slots=True)
class ZoneNote:
    """A decision about one TZID worth recording beside the task it affects.

    ``zone`` is the IANA zone the name was taken to mean (``None`` when none);
    ``how`` says how the name was understood (``"Windows zone name (CLDR map)"``). For the
    two disagreement kinds, ``at`` is the wall-clock time where the VTIMEZONE and the IANA
    zone were found to differ, with each one's UTC offset there. ``text`` is the same
    sentence the calendar's warnings hold.
    """

    tzid: str
    kind: ZoneNoteKind
    zone: str | None = None
    how: str = ""
    at: dt.datetime | None = None
    vtimezone_offset: dt.timedelta | None = None
    zone_offset: dt.timedelta | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """One VEVENT: a whole series (master) or one occurrence (``recurrence_id`` set).

    Its identity is (``uid``, ``recurrence_id``) (:rfc:`5545` section 3.8.4.4).
    ``end`` is DTEND, or DTSTART + DURATION when the producer wrote a duration, or ``None``
    when it wrote neither. ``tzid`` is the IANA zone the start resolved to (``None`` for UTC,
    floating and all-day values); ``original_tzid`` is the TZID as the producer wrote it.
    ``extra`` keeps properties the model does not name, as (NAME, content line) pairs, so
    that nothing the producer sent is lost.

    ``rrule`` is the first RRULE; ``more_rrules`` holds any further ones (Zimbra writes
    several; :rfc:`5545` section 3.8.5.3 deprecates that but the set of instances is their
    union), and :attr:`rrules` gives them all. A rule in ``more_rrules`` counts only while
    ``rrule`` is set, so ``dataclasses.replace(event, rrule=None)`` ends the series.
    ``zone_notes`` record what was decided about the TZIDs this event's times use.

    ``start_given`` is ``False`` when the producer wrote no DTSTART, which :rfc:`5546`
    (section 3.2) allows in REPLY, CANCEL, REFRESH and DECLINECOUNTER; ``start`` then holds
    the RECURRENCE-ID, or else the DTSTAMP, so that it is always a usable value, and
    ``end`` is ``None``.

    Aware values normally carry a ``zoneinfo.ZoneInfo`` (or UTC); when a producer's
    VTIMEZONE defines a zone no IANA zone matches, they carry a zone computed from that
    VTIMEZONE and ``tzid`` is ``None``.
    """

    uid: str
    start: DateOrDateTime
    end: DateOrDateTime | None = None
    summary: str = ""
    description: str = ""
    location: str = ""
    organizer: Organizer | None = None
    attendees: tuple[Attendee, ...] = ()
    sequence: int = 0
    dtstamp: dt.datetime | None = None
    recurrence_id: DateOrDateTime | None = None
    this_and_future: bool = False
    rrule: str | None = None
    rdates: tuple[DateOrDateTime, ...] = ()
    exdates: tuple[DateOrDateTime, ...] = ()
    status: EventStatus | None = None
    transparent: bool = False
    url: str | None = None
    comment: str = ""
    alarms: tuple[Alarm, ...] = ()
    tzid: str | None = None
    original_tzid: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    start_given: bool = True
    more_rrules: tuple[str, ...] = ()
    zone_notes: tuple[ZoneNote, ...] = field(default=(), compare=False)

    @property
    def rrules(self) -> tuple[str, ...]:
        """Every RRULE of the event, the first one first; empty when it has none."""
        if self.rrule is None:
            return ()
        return (self.rrule, *self.more_rrules)

    @property
    def all_day(self) -> bool:
        """True when the start is a DATE value."""
        return not isinstance(self.start, dt.datetime)

    @property
    def floating(self) -> bool:
        """True when the start is a DATE-TIME without a zone."""
        return isinstance(self.start, dt.datetime) and self.start.tzinfo is None

    @property
    def start_utc(self) -> dt.datetime | None:
        """The start in UTC; ``None`` for floating and all-day events."""
        return to_utc(self.start)

    @property
    def end_utc(self) -> dt.datetime | None:
        """The end in UTC; ``None`` for floating and all-day events, or without an end."""
        return to_utc(self.end) if self.end is not None else None

    @property
    def recurrence_id_utc(self) -> dt.datetime | None:
        """The RECURRENCE-ID in UTC, when it is an aware DATE-TIME."""
        return to_utc(self.recurrence_id) if self.recurrence_id is not None else None

    def attendee(self, email: str) -> Attendee | None:
        """The attendee with this address (compared case-insensitively), if any."""
        wanted = email.lower()
        for attendee in self.attendees:
            if attendee.email == wanted:
                return attendee
        return None


@dataclass(frozen=True, slots=True)
class DroppedEvent:
    """A VEVENT left out of a calendar object because it cannot be used.

    The reason is the error's full text (``"line 6: VEVENT/DTSTART: no such date:
    2026-02-30 [...]"``), the same words that follow ``"VEVENT dropped: "`` in the
    calendar's warnings. ``uid`` and ``recurrence_id`` are what the VEVENT says, when it
    says it readably, so that the dropped occurrence can be named; ``line_number`` is where
    the VEVENT begins and ``property`` the property at fault (``DTSTART``), when known.
    """

    reason: str
    uid: str | None = None
    recurrence_id: DateOrDateTime | None = None
    line_number: int | None = None
    property: str | None = None


@dataclass(frozen=True, slots=True)
class CalendarObject:
    """One VCALENDAR: an iTIP message when ``method`` is set (:rfc:`5546` section 1.4).

    ``events`` hold every usable VEVENT in file order (a master and its exceptions,
    exceptions alone, or unrelated events); ``dropped`` names the VEVENTs left out, with
    why. ``other_components`` names the components kept out of the model, such as
    ``VTODO``, ``VJOURNAL`` and ``VFREEBUSY``. ``warnings`` say what normalisation did (a
    Windows zone name mapped, a METHOD taken from MIME), in words for a log or
    ``ics inspect``; ``zone_notes`` hold the TZID decisions among them as values.
    """

    method: Method
    events: tuple[Event, ...]
    producer: str | None = None
    version: str = "2.0"
    method_source: MethodSource = MethodSource.CALENDAR
    other_components: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)
    dropped: tuple[DroppedEvent, ...] = ()
    zone_notes: tuple[ZoneNote, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class CalendarError:
    """A calendar object (VCALENDAR) that could not be used, set aside with the reason.

    ``index`` is its position among the calendar objects of the data (0 for the first,
    counting the good ones too; stray components outside any VCALENDAR come last).
    ``reason`` is the error's full text; ``line_number`` where the object begins;
    ``method`` its METHOD when that could be read; ``limit`` the
    :class:`~invitegw.ics.limits.IcsLimits` cap it went over, if that was why; ``dropped``
    the VEVENTs that failed, when none of them was usable.
    """

    index: int
    reason: str
    line_number: int | None = None
    method: Method | None = None
    limit: str | None = None
    dropped: tuple[DroppedEvent, ...] = ()


def to_utc(value: DateOrDateTime) -> dt.datetime | None:
    """``value`` in UTC, or ``None`` when it is a date or a floating time."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        return None
    return value.astimezone(dt.UTC)
