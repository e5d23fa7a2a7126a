"""A CRM meeting as JSON: the "last snapshot sent" the outbound ledger keeps.

The planner compares the next snapshot with this one to decide what changed, and a
deleted meeting is cancelled from it (the CRM no longer has the record). Only plain JSON
types are written, so the ledger column stays readable by people and by later versions:

- a date as ``"2026-06-03"``; an aware time as ISO 8601 with its UTC offset, followed by
  ``|`` and its IANA zone when it has one (``"2026-06-03T10:00:00+02:00|Europe/Warsaw"``),
  so it reads back in the same zone (a recurring meeting's instances follow its zone);
- the organizer as a party (name, addresses, language, zone); the attendees are not kept
  here: the ledger has one row per attendee address.

Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from invitegw.domain.records import EntityType, Meeting, MeetingKind, MeetingOccurrence, Party
from invitegw.errors import GatewayError

__all__ = [
    "SNAPSHOT_VERSION",
    "meeting_from_json",
    "meeting_to_json",
    "time_from_json",
    "time_to_json",
]

SNAPSHOT_VERSION = 1

Moment = dt.date | dt.datetime


def time_to_json(value: Moment) -> str:
    """A date or aware time as text (see the module docstring).

    Parameters:
        value: a date, or an aware datetime.

    Returns:
        The text form.

    Raises:
        GatewayError: a naive (floating) time.
    """
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    if value.tzinfo is None:
        raise GatewayError(f"a meeting time must be timezone-aware: {value.isoformat()}")
    key = getattr(value.tzinfo, "key", None)
    if isinstance(value.tzinfo, zoneinfo.ZoneInfo) and key:
        return f"{value.isoformat()}|{key}"
    return value.isoformat()


def time_from_json(text: str) -> Moment:
    """The inverse of :func:`time_to_json`.

    Parameters:
        text: the stored text.

    Returns:
        A date, or an aware datetime (in its IANA zone when one was stored).

    Raises:
        GatewayError: the text is not a stored time.
    """
    stamp, _, key = text.partition("|")
    try:
        if "T" not in stamp:
            return dt.date.fromisoformat(stamp)
        value = dt.datetime.fromisoformat(stamp)
        if value.tzinfo is None:
            raise ValueError("no UTC offset")
        return value.astimezone(zoneinfo.ZoneInfo(key)) if key else value
    except (ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
        raise GatewayError(f"unreadable time in the outbound ledger: {text!r} ({exc})") from exc


def _optional_time(value: Moment | None) -> str | None:
    return time_to_json(value) if value is not None else None


def _party_to_json(party: Party) -> dict[str, Any]:
    return {
        "type": party.type.value,
        "id": party.id,
        "name": party.name,
        "emails": list(party.emails),
        "invite_emails": list(party.invite_emails),
        "sync": party.sync,
        "language": party.language,
        "time_zone": party.time_zone,
    }


def _party_from_json(data: dict[str, Any]) -> Party:
    return Party(
        type=EntityType(data["type"]),
        id=str(data["id"]),
        name=str(data.get("name", "")),
        emails=tuple(data.get("emails", ())),
        invite_emails=tuple(data.get("invite_emails", ())),
        sync=bool(data.get("sync", True)),
        language=data.get("language"),
        time_zone=data.get("time_zone"),
    )


def meeting_to_json(meeting: Meeting) -> dict[str, Any]:
    """The ledger's JSON form of ``meeting`` (without its attendees).

    Parameters:
        meeting: the CRM snapshot.

    Returns:
        A JSON-serialisable dictionary.

    Raises:
        GatewayError: a naive time in the meeting.
    """
    return {
        "v": SNAPSHOT_VERSION,
        "id": meeting.id,
        "kind": meeting.kind.value,
        "title": meeting.title,
        "description": meeting.description,
        "location": meeting.location,
        "start": time_to_json(meeting.start),
        "end": time_to_json(meeting.end),
        "time_zone": meeting.time_zone,
        "rrule": meeting.rrule,
        "occurrences": [
            {
                "rid": time_to_json(o.recurrence_id),
                "cancelled": o.cancelled,
                "start": _optional_time(o.start),
                "end": _optional_time(o.end),
                "location": o.location,
            }
            for o in meeting.occurrences
        ],
        "cancelled": meeting.cancelled,
        "calendar": meeting.calendar,
        "sync": meeting.sync,
        "organizer": _party_to_json(meeting.organizer),
    }


def meeting_from_json(data: dict[str, Any]) -> Meeting:
    """The meeting stored by :func:`meeting_to_json` (with no attendees).

    Parameters:
        data: the stored dictionary.

    Returns:
        The snapshot.

    Raises:
        GatewayError: the data is not a snapshot this version can read.
    """
    if data.get("v") != SNAPSHOT_VERSION:
        raise GatewayError(f"unknown outbound ledger snapshot version {data.get('v')!r}")
    try:
        occurrences = tuple(
            MeetingOccurrence(
                recurrence_id=time_from_json(o["rid"]),
                cancelled=bool(o.get("cancelled")),
                start=time_from_json(o["start"]) if o.get("start") else None,
                end=time_from_json(o["end"]) if o.get("end") else None,
                location=o.get("location"),
            )
            for o in data.get("occurrences", ())
        )
        return Meeting(
            id=str(data["id"]),
            kind=MeetingKind(data.get("kind", MeetingKind.APPOINTMENT.value)),
            title=str(data.get("title", "")),
            start=time_from_json(data["start"]),
            end=time_from_json(data["end"]),
            organizer=_party_from_json(data["organizer"]),
            description=str(data.get("description", "")),
            location=str(data.get("location", "")),
            time_zone=data.get("time_zone"),
            rrule=data.get("rrule"),
            occurrences=occurrences,
            cancelled=bool(data.get("cancelled")),
            calendar=data.get("calendar"),
            sync=bool(data.get("sync", True)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayError(f"unreadable outbound ledger snapshot: {exc}") from exc
