"""Build iTIP messages from the model (:rfc:`5546` REQUEST, CANCEL, REPLY, PUBLISH).

Output is strict where input handling is lenient: METHOD, PRODID, VERSION:2.0 and
CALSCALE:GREGORIAN; a VTIMEZONE for every TZID used (:mod:`invitegw.ics.tzbuild`); DTSTAMP
in UTC; SEQUENCE always; ORGANIZER with CN; ATTENDEEs with CUTYPE, ROLE, PARTSTAT, RSVP
and CN; text escaped, lines folded at 75 octets, CRLF. What each method must and must not
carry follows the restriction tables of :rfc:`5546` section 3.2 (a CANCEL and a REPLY carry
no VALARM, a PUBLISH no ATTENDEE, a CANCEL of the whole meeting STATUS:CANCELLED).

A model that cannot make a valid message is refused with
:class:`~invitegw.errors.IcsBuildError` saying why: no UID, a floating start, an end not
after the start, an address that is not one, events of different UIDs in one message, a
REQUEST or PUBLISH without SUMMARY (libical rejects both an empty and a missing one).
The clock is the ``now`` argument (DTSTAMP); without it the event's own DTSTAMP is used,
and only without that the system clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from invitegw.errors import IcsBuildError, IcsError
from invitegw.ics.model import Attendee, DateOrDateTime, Event, EventStatus, Method, PartStat
from invitegw.ics.recurrence import last_occurrence_end
from invitegw.ics.rrule import parse_recur
from invitegw.ics.serialize import (
    alarm_lines,
    attendee_line,
    organizer_line,
    time_line,
    utc_text,
    zone_key,
)
from invitegw.ics.tzbuild import vtimezone_lines
from invitegw.ics.writer import CRLF, check_text, content_line, escape_text, fold

__all__ = [
    "DEFAULT_PRODUCER",
    "build_calendar",
    "build_cancel",
    "build_publish",
    "build_reply",
    "build_request",
]

DEFAULT_PRODUCER = "-//invitegw//invitegw//EN"
_WITH_ALARMS = (Method.PUBLISH, Method.REQUEST, Method.ADD)
_WITHOUT_ATTENDEES = (Method.PUBLISH,)
# RFC 5546 section 3.2 wants SUMMARY in these methods ("can be null"), but libical (Evolution)
# drops an empty value and then rejects the message for the missing property: require text.
_SUMMARY_REQUIRED = (Method.PUBLISH, Method.REQUEST, Method.ADD, Method.COUNTER)


@dataclass(frozen=True, slots=True)
class _Part:
    """One VEVENT to write: the event, whom to list, and the STATUS to write instead."""

    event: Event
    attendees: tuple[Attendee, ...]
    status: EventStatus | None = None
    omit_status: bool = False


def build_calendar(
    method: Method,
    events: Sequence[Event],
    *,
    producer: str = DEFAULT_PRODUCER,
    now: dt.datetime | None = None,
) -> bytes:
    """One VCALENDAR with ``events`` as they are, for ``method``.

    Parameters:
        method: the iTIP method.
        events: a master and/or its exceptions (one UID), or for PUBLISH any events.
        producer: the PRODID.
        now: the DTSTAMP (aware); by default each event's ``dtstamp``, else the clock.

    Returns:
        The calendar, UTF-8, CRLF line ends.

    Raises:
        IcsBuildError: the events cannot make a valid message (the message says why).
    """
    return _calendar(
        method, [_Part(event, event.attendees) for event in events], producer=producer, now=now
    )


def build_request(
    events: Event | Sequence[Event],
    *,
    producer: str = DEFAULT_PRODUCER,
    now: dt.datetime | None = None,
) -> bytes:
    """A REQUEST (:rfc:`5546` section 3.2.2): a new or updated invitation.

    Parameters:
        events: the event, or a master with its exceptions.
        producer: the PRODID.
        now: the DTSTAMP.

    Returns:
        The calendar bytes.

    Raises:
        IcsBuildError: see :func:`build_calendar`; also no ATTENDEE, no SUMMARY, or
            STATUS:CANCELLED.
    """
    listed = [events] if isinstance(events, Event) else list(events)
    for event in listed:
        if event.status is EventStatus.CANCELLED:
            raise IcsBuildError("a REQUEST cannot carry STATUS:CANCELLED: build a CANCEL")
        if not event.attendees:
            raise IcsBuildError(f"a REQUEST needs at least one ATTENDEE (UID {event.uid!r})")
    return build_calendar(Method.REQUEST, listed, producer=producer, now=now)


def build_cancel(
    event: Event,
    *,
    attendees: Sequence[Attendee | str] | None = None,
    producer: str = DEFAULT_PRODUCER,
    now: dt.datetime | None = None,
) -> bytes:
    """A CANCEL (:rfc:`5546` section 3.2.5).

    The whole meeting by default (STATUS:CANCELLED, every attendee); one occurrence when
    ``event`` has a ``recurrence_id``; only some attendees (uninvited, no STATUS) when
    ``attendees`` names them (addresses or :class:`Attendee` values, listed in the event
    or not: an attendee removed from the meeting is no longer in it).

    Parameters:
        event: the meeting (master) or the occurrence; carry SEQUENCE as it should be sent.
        attendees: the attendees to uninvite, or ``None`` to cancel for everyone.
        producer: the PRODID.
        now: the DTSTAMP.

    Returns:
        The calendar bytes.

    Raises:
        IcsBuildError: see :func:`build_calendar`; also nobody to cancel for.
    """
    if attendees is None:
        # RFC 5546 section 3.2.5: STATUS:CANCELLED cancels the whole event...
        part = _Part(event, event.attendees, status=EventStatus.CANCELLED)
    else:
        # ... and MUST NOT be present when only some attendees are uninvited.
        chosen = tuple(_attendee(event, item) for item in attendees)
        part = _Part(event, chosen, omit_status=True)
    if not part.attendees:
        raise IcsBuildError("a CANCEL must list the ATTENDEEs it cancels for")
    return _calendar(Method.CANCEL, [part], producer=producer, now=now)


def build_reply(
    event: Event,
    attendee_email: str,
    partstat: PartStat,
    *,
    comment: str | None = None,
    producer: str = DEFAULT_PRODUCER,
    now: dt.datetime | None = None,
) -> bytes:
    """A REPLY (:rfc:`5546` section 3.2.3): one attendee's answer.

    Parameters:
        event: the event answered (UID, RECURRENCE-ID, SEQUENCE and ORGANIZER are echoed).
        attendee_email: who answers (their CN and role are kept when they are listed).
        partstat: the answer; NEEDS-ACTION is no answer and is refused.
        comment: a note to the organizer (COMMENT).
        producer: the PRODID.
        now: the DTSTAMP.

    Returns:
        The calendar bytes.

    Raises:
        IcsBuildError: see :func:`build_calendar`; also NEEDS-ACTION, or no ORGANIZER.
    """
    if partstat is PartStat.NEEDS_ACTION:
        raise IcsBuildError("a REPLY needs an answer: ACCEPTED, DECLINED, TENTATIVE or DELEGATED")
    answering = dataclasses.replace(_attendee(event, attendee_email), partstat=partstat, rsvp=False)
    # The answer echoes the event's identity and time, not its content (RFC 5546 3.2.3).
    replied = dataclasses.replace(
        event,
        description="",
        location="",
        attendees=(),
        rrule=None,
        more_rrules=(),
        rdates=(),
        exdates=(),
        status=None,
        url=None,
        comment=comment or "",
        alarms=(),
        extra=(),
    )
    return _calendar(Method.REPLY, [_Part(replied, (answering,))], producer=producer, now=now)


def build_publish(
    events: Event | Sequence[Event],
    *,
    producer: str = DEFAULT_PRODUCER,
    now: dt.datetime | None = None,
) -> bytes:
    """A PUBLISH (:rfc:`5546` section 3.2.1): events for a calendar, nobody invited.

    Attendees are not written (PUBLISH carries none); the organizer is, when set.

    Parameters:
        events: the event, or several (any UIDs).
        producer: the PRODID.
        now: the DTSTAMP.

    Returns:
        The calendar bytes.

    Raises:
        IcsBuildError: see :func:`build_calendar`; also no SUMMARY.
    """
    listed = [events] if isinstance(events, Event) else list(events)
    return build_calendar(Method.PUBLISH, listed, producer=producer, now=now)


def _attendee(event: Event, item: Attendee | str) -> Attendee:
    if isinstance(item, Attendee):
        return item
    return event.attendee(item) or Attendee(email=item.strip().lower())


def _calendar(
    method: Method, parts: Sequence[_Part], *, producer: str, now: dt.datetime | None
) -> bytes:
    if not parts:
        raise IcsBuildError("no event to build a calendar from")
    if now is not None and now.tzinfo is None:
        raise IcsBuildError("now must be an aware time")
    _check_identity(method, [part.event for part in parts])
    check_text(producer, "PRODID")
    body: list[str] = []
    zones: dict[str, list[dt.datetime]] = {}
    for part in parts:
        body += _event_lines(method, part, now)
        _collect_zones(part.event, zones)
    lines = [
        "BEGIN:VCALENDAR",
        f"METHOD:{method.value}",
        content_line("PRODID", escape_text(producer, "PRODID")),
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
    ]
    for key in sorted(zones):
        moments = zones[key]
        lines += vtimezone_lines(zoneinfo.ZoneInfo(key), min(moments), max(moments))
    lines += body
    lines.append("END:VCALENDAR")
    return (CRLF.join(fold(line) for line in lines) + CRLF).encode("utf-8")


def _check_identity(method: Method, events: Sequence[Event]) -> None:
    seen: set[tuple[str, object]] = set()
    for event in events:
        if not event.uid.strip():
            raise IcsBuildError("an event needs a UID")
        identity = (event.uid, event.recurrence_id)
        if identity in seen:
            raise IcsBuildError(f"two events share UID {event.uid!r} and RECURRENCE-ID")
        seen.add(identity)
    if method is not Method.PUBLISH and len({event.uid for event in events}) > 1:
        raise IcsBuildError(f"all events of a {method.value} must share one UID")


def _event_lines(method: Method, part: _Part, now: dt.datetime | None) -> list[str]:
    event = part.event
    _check_times(event)
    stamp = now or event.dtstamp or dt.datetime.now(dt.UTC)
    if stamp.tzinfo is None:
        raise IcsBuildError("dtstamp must be an aware time")
    if event.sequence < 0:
        raise IcsBuildError(f"SEQUENCE must not be negative: {event.sequence}")
    if method in _SUMMARY_REQUIRED and not event.summary:
        raise IcsBuildError(f"a {method.value} needs a SUMMARY (UID {event.uid!r})")
    lines = [
        "BEGIN:VEVENT",
        content_line("UID", escape_text(event.uid, "UID")),
        content_line("DTSTAMP", utc_text(stamp)),
        f"SEQUENCE:{event.sequence}",
    ]
    if event.recurrence_id is not None:
        params = [("RANGE", "THISANDFUTURE")] if event.this_and_future else []
        lines.append(time_line("RECURRENCE-ID", event.recurrence_id, params))
    if event.start_given or method not in (Method.REPLY, Method.CANCEL):
        lines.append(time_line("DTSTART", event.start))
        if event.end is not None:
            lines.append(time_line("DTEND", event.end))
    if method is not Method.REPLY:
        lines += _recurrence_lines(event)
    for name, value in (
        ("SUMMARY", event.summary),
        ("LOCATION", event.location),
        ("DESCRIPTION", event.description),
        ("COMMENT", event.comment),
    ):
        if value:
            lines.append(content_line(name, escape_text(value, name)))
    if event.url:
        check_text(event.url, "URL")
        lines.append(content_line("URL", event.url))
    final_status = None if part.omit_status else part.status or event.status
    if final_status is not None:
        lines.append(f"STATUS:{final_status.value}")
    if method is not Method.REPLY:
        lines.append("TRANSP:TRANSPARENT" if event.transparent else "TRANSP:OPAQUE")
    if event.organizer is not None:
        lines.append(organizer_line(event.organizer))
    elif method is not Method.PUBLISH:
        raise IcsBuildError(f"a {method.value} needs an ORGANIZER (UID {event.uid!r})")
    if method not in _WITHOUT_ATTENDEES:
        lines += [attendee_line(attendee) for attendee in part.attendees]
    if method in _WITH_ALARMS:
        for alarm in event.alarms:
            lines += alarm_lines(alarm)
    lines.append("END:VEVENT")
    return lines


def _check_times(event: Event) -> None:
    start = event.start
    if event.tzid is not None:
        if not isinstance(start, dt.datetime) or start.tzinfo is None:
            raise IcsBuildError(f"tzid {event.tzid!r} given for a start without a zone")
        if zone_key(start) not in (event.tzid, None):
            raise IcsBuildError(
                f"tzid {event.tzid!r} differs from the start's zone {zone_key(start)!r}"
            )
    for name, value in (
        ("DTEND", event.end),
        ("RECURRENCE-ID", event.recurrence_id),
        *(("RDATE", v) for v in event.rdates),
        *(("EXDATE", v) for v in event.exdates),
    ):
        if value is not None and isinstance(value, dt.datetime) != isinstance(start, dt.datetime):
            raise IcsBuildError(f"{name} and DTSTART must both be dates or both date-times")
    if event.end is not None:
        try:
            after = event.end > start
        except TypeError:
            raise IcsBuildError("DTEND and DTSTART mix a floating and a zoned time") from None
        if not after:
            raise IcsBuildError(
                f"end {event.end.isoformat()} is not after start {start.isoformat()}"
            )


def _recurrence_lines(event: Event) -> list[str]:
    lines: list[str] = []
    for rule in event.rrules:  # several only for an event read from a message that had them
        try:
            recur = parse_recur(rule)
        except ValueError as exc:
            raise IcsBuildError(f"RRULE {rule!r}: {exc}") from None
        until = None
        if recur.until is not None:
            until = _until_text(recur.until, recur.until_utc, event.start)
        lines.append(content_line("RRULE", recur.to_text(until=until)))
    lines += [time_line("RDATE", value) for value in event.rdates]
    lines += [time_line("EXDATE", value) for value in event.exdates]
    return lines


def _until_text(until: DateOrDateTime, utc: bool, start: DateOrDateTime) -> str:
    """UNTIL in DTSTART's value type, in UTC when DTSTART has a zone (section 3.3.10)."""
    if not isinstance(start, dt.datetime):
        day = until.date() if isinstance(until, dt.datetime) else until
        return f"{day:%Y%m%d}"
    if not isinstance(until, dt.datetime):
        until = dt.datetime.combine(until, dt.time(23, 59, 59))
        utc = False
    aware = until.replace(tzinfo=dt.UTC) if utc else until.replace(tzinfo=start.tzinfo)
    return utc_text(aware)


def _collect_zones(event: Event, zones: dict[str, list[dt.datetime]]) -> None:
    values: Iterable[DateOrDateTime | None] = (
        event.start,
        event.end,
        event.recurrence_id,
        *event.rdates,
        *event.exdates,
    )
    for value in values:
        if value is None or not isinstance(value, dt.datetime):
            continue
        key = zone_key(value)
        if key is not None:
            zones.setdefault(key, []).append(value.replace(tzinfo=None))
    key = zone_key(event.start)
    if key is not None and event.rrule is not None and event.recurrence_id is None:
        try:
            last = last_occurrence_end(event)
        except IcsError:
            last = None
        if isinstance(last, dt.datetime):
            zones[key].append(last.astimezone(event.start.tzinfo).replace(tzinfo=None))  # type: ignore[union-attr]
