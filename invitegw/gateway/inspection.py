"""What is in an invitation: every calendar object of an .eml or .ics file, as plain records.

The administrator's question "what did this message actually say?" answered with the same
code the gateway uses: MIME extraction (``mailbox.mime.extract``) and the iCalendar parser
(``ics.parse_calendars``). :func:`inspect_bytes` is pure; the ``invitegw ics inspect``
command reads the files and prints the records (readable, or one JSON object per event).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from invitegw.errors import IcsError, MimeError
from invitegw.ics import CalendarObject, Event, parse_calendars
from invitegw.ics.limits import IcsLimits
from invitegw.ics.model import CALENDAR_FILE_SUFFIXES
from invitegw.mailbox.mime import Extraction, MimeLimits, extract

__all__ = [
    "Inspection",
    "ObjectReport",
    "event_record",
    "inspect_bytes",
    "looks_like_calendar",
]

# File names read as bare calendar objects; anything else is read as an email.


@dataclass(frozen=True, slots=True)
class ObjectReport:
    """One calendar object found in a file: where, and what it parsed to (or why not)."""

    part: str
    calendar: CalendarObject | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Inspection:
    """Everything found in one file."""

    name: str
    objects: tuple[ObjectReport, ...]
    extraction: Extraction | None = None
    error: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when the file held at least one calendar object and all of them parsed."""
        return (
            self.error is None
            and bool(self.objects)
            and all(obj.error is None for obj in self.objects)
        )


def looks_like_calendar(name: str, data: bytes) -> bool:
    """True when ``data`` is a bare calendar object rather than an email."""
    if name.lower().endswith(CALENDAR_FILE_SUFFIXES):
        return True
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    return head.startswith(b"BEGIN:VCALENDAR")


def _parse(part: str, data: bytes, method: str | None, limits: IcsLimits) -> list[ObjectReport]:
    try:
        calendars = parse_calendars(data, mime_method=method, limits=limits)
    except IcsError as exc:
        return [ObjectReport(part=part, calendar=None, error=str(exc))]
    if len(calendars) == 1:
        return [ObjectReport(part=part, calendar=calendars[0])]
    return [
        ObjectReport(part=f"{part}#{index}", calendar=calendar)
        for index, calendar in enumerate(calendars, start=1)
    ]


def inspect_bytes(
    name: str,
    data: bytes,
    *,
    mime_limits: MimeLimits | None = None,
    ics_limits: IcsLimits | None = None,
) -> Inspection:
    """Find and parse every calendar object in ``data``.

    Parameters:
        name: the file name (its suffix decides between email and bare calendar, and it
            names the file in the result).
        data: the file's bytes.
        mime_limits: caps for reading an email; the defaults when ``None``.
        ics_limits: caps for reading a calendar object; the defaults when ``None``.

    Returns:
        The inspection. Parse problems are recorded in it, never raised.
    """
    ics_caps = ics_limits or IcsLimits()
    if looks_like_calendar(name, data):
        return Inspection(name=name, objects=tuple(_parse("-", data, None, ics_caps)))
    try:
        found = extract(data, limits=mime_limits)
    except MimeError as exc:
        return Inspection(name=name, objects=(), error=str(exc))
    notes = list(found.defects)
    objects: list[ObjectReport] = []
    for part in found.calendar_parts:
        objects.extend(_parse(part.location, part.data, part.mime_method, ics_caps))
    error = None if objects else "no calendar object found"
    if found.bounce is not None:
        failed = ", ".join(r.address for r in found.bounce.failed) or "unknown recipients"
        notes.append(f"delivery failure report for {failed}")
        # The returned message's calendars: what could not be delivered (shown, never
        # taken for an invitation: the pipeline only correlates them with what it sent).
        for part in found.bounce.returned_calendar_parts:
            objects.extend(
                _parse(f"returned:{part.location}", part.data, part.mime_method, ics_caps)
            )
        if objects:
            error = None
            notes.append("the calendar objects below came back with the report")
        else:
            error = "a delivery failure report with no calendar object in it"
    return Inspection(
        name=name, objects=tuple(objects), extraction=found, error=error, notes=tuple(notes)
    )


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _utc(value: dt.date | dt.datetime | None) -> str | None:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_record(file: str, part: str, calendar: CalendarObject, event: Event) -> dict[str, Any]:
    """The ``ics inspect --json`` record of one event (exactly the documented keys).

    Parameters:
        file: the file name as given.
        part: the MIME location of the calendar object (``-`` for a bare .ics file).
        calendar: the calendar object holding ``event``.
        event: the event.

    Returns:
        A JSON-serialisable dict.
    """
    return {
        "file": file,
        "part": part,
        "method": calendar.method.value,
        "uid": event.uid,
        "recurrence_id": _iso(event.recurrence_id),
        "sequence": event.sequence,
        "dtstamp": _utc(event.dtstamp),
        "summary": event.summary,
        "organizer": event.organizer.email.lower() if event.organizer else None,
        "attendees": [
            {"email": a.email, "cn": a.cn, "role": a.role.value, "partstat": a.partstat.value}
            for a in event.attendees
        ],
        "start": _iso(event.start) if event.start_given else None,
        "end": _iso(event.end),
        "start_utc": _utc(event.start) if event.start_given else None,
        "end_utc": _utc(event.end),
        "all_day": event.all_day,
        "tzid": event.tzid,
        "rrule": event.rrule,
        "status": event.status.value if event.status else None,
        "producer": calendar.producer,
    }
