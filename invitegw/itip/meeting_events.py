"""A CRM meeting as iCalendar VEVENTs: the series, its exceptions, one occurrence.

A :class:`~invitegw.crm_adapter.port.Meeting` becomes the master VEVENT (RRULE, an EXDATE
per cancelled occurrence, :rfc:`5545` section 3.8.5.1) and one VEVENT with RECURRENCE-ID
per moved occurrence (section 3.8.4.4), so that a full REQUEST keeps the whole series
consistent. Times are written in the meeting's zone (a TZID with a VTIMEZONE), so a
weekly 10:00 meeting stays at 10:00 across daylight-saving changes.

CRM text may hold control characters that iCalendar cannot carry (a pasted form feed):
they are dropped here rather than failing the meeting. Text is capped (a title or place at
:data:`MAX_LINE_TEXT` characters, a description at :data:`MAX_DESCRIPTION`) so that a
pasted document cannot make every invitation megabytes long. Pure: no I/O.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import zoneinfo
from collections.abc import Sequence

from invitegw.domain.records import Meeting, MeetingOccurrence
from invitegw.errors import IcsError
from invitegw.ics.model import Alarm, Attendee, Event, EventStatus, Organizer
from invitegw.ics.recurrence import last_occurrence_end

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_LINE_TEXT",
    "NO_TITLE",
    "base_event",
    "clean_text",
    "in_meeting_zone",
    "last_end_utc",
    "occurrence_event",
    "occurrence_key",
    "occurrence_span",
    "series_events",
]

NO_TITLE = "(no title)"
MAX_LINE_TEXT = 500
MAX_DESCRIPTION = 20_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Moment = dt.date | dt.datetime


def clean_text(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """``text`` without the control characters iCalendar cannot carry, CRLF as LF, capped.

    Parameters:
        text: CRM text.
        limit: the most characters kept; longer text ends with an ellipsis.

    Returns:
        The cleaned text.
    """
    cleaned = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


def occurrence_key(value: Moment) -> str:
    """A stable key for an occurrence's original start: UTC ``...Z`` for a time, ISO date.

    Parameters:
        value: a RECURRENCE-ID (aware time or date).

    Returns:
        The key.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.strftime("%Y-%m-%dT%H:%M:%S")
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def _zone(meeting: Meeting) -> zoneinfo.ZoneInfo | None:
    if not meeting.time_zone:
        return None
    try:
        return zoneinfo.ZoneInfo(meeting.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def in_meeting_zone(meeting: Meeting, value: Moment) -> Moment:
    """``value`` expressed in the meeting's zone (dates and zone-less meetings unchanged).

    Parameters:
        meeting: the meeting (its ``time_zone``).
        value: a date or aware time.

    Returns:
        The same instant in the meeting's zone.
    """
    zone = _zone(meeting)
    if zone is None or not isinstance(value, dt.datetime) or value.tzinfo is None:
        return value
    return value.astimezone(zone)


def _tzid(value: Moment) -> str | None:
    if isinstance(value, dt.datetime) and isinstance(value.tzinfo, zoneinfo.ZoneInfo):
        key = value.tzinfo.key
        return None if key in {"UTC", "Etc/UTC"} else key
    return None


def _summary(meeting: Meeting) -> str:
    return clean_text(" ".join(meeting.title.split()), MAX_LINE_TEXT) or NO_TITLE


def base_event(meeting: Meeting, uid: str) -> Event:
    """The series as compared between two snapshots (what the planner diffs).

    No attendees, alarms or exceptions: attendee changes are decided per address and
    occurrence changes per occurrence. The organizer is the CRM user (a rename is a minor
    change; the ORGANIZER address written depends on the recipient).

    Parameters:
        meeting: the snapshot.
        uid: the UID it is sent under.

    Returns:
        The event.
    """
    start = in_meeting_zone(meeting, meeting.start)
    organizer = meeting.organizer
    return Event(
        uid=uid,
        start=start,
        end=in_meeting_zone(meeting, meeting.end),
        summary=_summary(meeting),
        description=clean_text(meeting.description),
        location=clean_text(meeting.location, MAX_LINE_TEXT),
        organizer=Organizer(email=organizer.primary_email or "", cn=organizer.name or None),
        rrule=meeting.rrule or None,
        tzid=_tzid(start),
    )


def occurrence_span(meeting: Meeting, occurrence: MeetingOccurrence) -> tuple[Moment, Moment]:
    """When an occurrence happens: its own start/end when moved, else the series' shape.

    Parameters:
        meeting: the series.
        occurrence: one of its occurrences.

    Returns:
        (start, end) in the meeting's zone.
    """
    duration = meeting.end - meeting.start  # type: ignore[operator]
    start = occurrence.start if occurrence.start is not None else occurrence.recurrence_id
    end = occurrence.end if occurrence.end is not None else start + duration
    return in_meeting_zone(meeting, start), in_meeting_zone(meeting, end)


def _alarms(meeting: Meeting, alarm_minutes: int | None) -> tuple[Alarm, ...]:
    if alarm_minutes is None:
        return ()
    return (Alarm(trigger=-dt.timedelta(minutes=alarm_minutes), description=_summary(meeting)),)


def series_events(
    meeting: Meeting,
    *,
    uid: str,
    sequence: int,
    organizer: Organizer,
    attendees: Sequence[Attendee],
    alarm_minutes: int | None,
    stamp: dt.datetime,
) -> tuple[Event, ...]:
    """The master VEVENT and one VEVENT per moved occurrence (a full REQUEST's content).

    Parameters:
        meeting: the snapshot.
        uid: the UID.
        sequence: the SEQUENCE every component carries.
        organizer: ORGANIZER as this recipient sees it.
        attendees: the ATTENDEE list.
        alarm_minutes: the VALARM lead, or ``None`` for none.
        stamp: the DTSTAMP.

    Returns:
        The master first, then the exceptions in time order.
    """
    base = base_event(meeting, uid)
    master = Event(
        uid=uid,
        start=base.start,
        end=base.end,
        summary=base.summary,
        description=base.description,
        location=base.location,
        organizer=organizer,
        attendees=tuple(attendees),
        sequence=sequence,
        dtstamp=stamp,
        rrule=base.rrule,
        exdates=_cancelled_starts(meeting) if base.rrule else (),
        status=EventStatus.CONFIRMED,
        alarms=_alarms(meeting, alarm_minutes),
        tzid=base.tzid,
    )
    if not base.rrule:
        return (master,)
    exceptions = tuple(
        occurrence_event(
            meeting,
            o,
            uid=uid,
            sequence=sequence,
            organizer=organizer,
            attendees=attendees,
            alarm_minutes=alarm_minutes,
            stamp=stamp,
        )
        for o in _moved(meeting)
    )
    return (master, *exceptions)


def _cancelled_starts(meeting: Meeting) -> tuple[Moment, ...]:
    """The original starts of the cancelled occurrences (the EXDATEs), in the meeting's zone."""
    return tuple(
        in_meeting_zone(meeting, o.recurrence_id) for o in meeting.occurrences if o.cancelled
    )


def _moved(meeting: Meeting) -> list[MeetingOccurrence]:
    """The occurrences kept but changed (the exception VEVENTs), in order of original start."""
    kept = (o for o in meeting.occurrences if not o.cancelled)
    return sorted(kept, key=lambda o: occurrence_key(o.recurrence_id))


def occurrence_event(
    meeting: Meeting,
    occurrence: MeetingOccurrence,
    *,
    uid: str,
    sequence: int,
    organizer: Organizer,
    attendees: Sequence[Attendee],
    alarm_minutes: int | None,
    stamp: dt.datetime,
) -> Event:
    """One occurrence as a VEVENT with RECURRENCE-ID (:rfc:`5545` section 3.8.4.4).

    For a cancelled occurrence the times are its original ones (a CANCEL names what it
    removes); for a moved one, its new times.

    Parameters:
        meeting: the series.
        occurrence: the occurrence.
        uid: the series UID.
        sequence: the SEQUENCE.
        organizer: ORGANIZER as this recipient sees it.
        attendees: the ATTENDEE list.
        alarm_minutes: the VALARM lead, or ``None``.
        stamp: the DTSTAMP.

    Returns:
        The event.
    """
    rid = in_meeting_zone(meeting, occurrence.recurrence_id)
    if occurrence.cancelled:
        duration = meeting.end - meeting.start  # type: ignore[operator]
        start, end = rid, rid + duration
    else:
        start, end = occurrence_span(meeting, occurrence)
    location = occurrence.location if occurrence.location is not None else meeting.location
    return Event(
        uid=uid,
        start=start,
        end=end,
        summary=_summary(meeting),
        description=clean_text(meeting.description),
        location=clean_text(location, MAX_LINE_TEXT),
        organizer=organizer,
        attendees=tuple(attendees),
        sequence=sequence,
        dtstamp=stamp,
        recurrence_id=rid,
        status=EventStatus.CANCELLED if occurrence.cancelled else EventStatus.CONFIRMED,
        alarms=() if occurrence.cancelled else _alarms(meeting, alarm_minutes),
        tzid=_tzid(start),
    )


def last_end_utc(meeting: Meeting, fallback_zone: str = "UTC") -> dt.datetime | None:
    """When the meeting's last occurrence ends, as a UTC instant; ``None`` if never.

    Moved occurrences count with their new end. A series too long to expand within the
    recurrence caps counts as endless. All-day ends are read at midnight in the meeting's
    zone (else ``fallback_zone``).

    Parameters:
        meeting: the snapshot.
        fallback_zone: the zone for all-day values of a meeting without one.

    Returns:
        The end, or ``None`` for a series without an end.
    """
    base = base_event(meeting, "end-check")
    series = Event(
        uid=base.uid,
        start=base.start,
        end=base.end,
        rrule=base.rrule,
        exdates=_cancelled_starts(meeting),
    )
    try:
        last: Moment | None = last_occurrence_end(series) if base.rrule else base.end
    except IcsError:
        return None
    if last is None:
        return None
    ends = [last]
    for occurrence in meeting.occurrences:
        if not occurrence.cancelled:
            with contextlib.suppress(TypeError):
                ends.append(occurrence_span(meeting, occurrence)[1])
    zone = _zone(meeting) or _zone_named(fallback_zone)
    return max(_instant(value, zone) for value in ends)


def _zone_named(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _instant(value: Moment, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=zone).astimezone(dt.UTC)
        return value.astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
