"""How the ``invitegw crm ...`` listings print: a table, or JSON Lines (one object a line).

The JSON shapes are part of the interface (scripts and the acceptance checks read them):

- task: ``id, title, start_utc, end_utc, status, owner, party {type, email}, uid,
  recurrence_id, sequence, location``; times are ISO 8601 in UTC with ``Z`` (dates for
  all-day tasks), ``owner`` is the owner's address, ``party`` is ``null`` when unlinked.
- log entry: ``id, created_at, level, target, target_id, message, details``.
- user: ``id, name, email, emails, language, time_zone``.
- contact: ``id, name, email, emails, account, invitations, language, time_zone``
  (``invitations`` false: the contact never gets any).
- meeting: ``id, title, kind, start, end, start_utc, end_utc, all_day, time_zone, rrule,
  location, organizer, attendees [{email, name, type, answer}], cancelled_occurrences,
  moved_occurrences, cancelled, invitations, calendar``; ``start``/``end`` in the
  meeting's zone with its offset (dates when all-day), ``answer`` the attendee's PARTSTAT
  (``NEEDS-ACTION`` until they reply).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from invitegw.crm_adapter.builtin.listing import ContactListing, MeetingListing
from invitegw.domain.records import LogEntry, LogTarget, Meeting, Party, Task
from invitegw.gateway.commands.output import iso_utc, print_records
from invitegw.gateway.commands.terminal import for_terminal_lines
from invitegw.gateway.storage import EventLogEntry

__all__ = [
    "contact_record",
    "gateway_log",
    "log_record",
    "meeting_record",
    "print_contacts",
    "print_logs",
    "print_meeting",
    "print_meetings",
    "print_tasks",
    "print_users",
    "task_record",
    "user_record",
]


def task_record(task: Task, owner: Party, party: Party | None) -> dict[str, Any]:
    """The JSON object of one task (see the module docstring)."""
    return {
        "id": task.id,
        "title": task.title,
        "start_utc": iso_utc(task.start),
        "end_utc": iso_utc(task.end),
        "status": task.status.value,
        "owner": owner.primary_email,
        "party": {"type": party.type.value, "email": party.primary_email} if party else None,
        "uid": task.source_uid,
        "recurrence_id": task.recurrence_id,
        "sequence": task.sequence,
        "location": task.location,
    }


def log_record(ident: int, entry: LogEntry) -> dict[str, Any]:
    """The JSON object of one log entry (see the module docstring)."""
    return {
        "id": ident,
        "created_at": iso_utc(entry.created_at),
        "level": entry.level.value,
        "target": entry.target.value,
        "target_id": entry.target_id,
        "message": entry.message,
        "details": dict(entry.details),
    }


def print_tasks(rows: Sequence[tuple[Task, Party, Party | None]], *, as_json: bool) -> None:
    """Print tasks as a table, or as JSON Lines.

    Parameters:
        rows: (task, owner, linked party) triples.
        as_json: print JSON Lines.
    """
    print_records(
        [task_record(*row) for row in rows],
        as_json=as_json,
        empty="no tasks",
        headers=["ID", "STATUS", "START (UTC)", "TITLE", "OWNER", "PARTY", "SEQ"],
        row=lambda r: [
            r["id"],
            r["status"],
            r["start_utc"],
            r["title"],
            r["owner"],
            r["party"]["email"] if r["party"] else "",
            r["sequence"],
        ],
    )


def gateway_log(session: Session) -> list[tuple[int, LogEntry]]:
    """The gateway's own event log as integration-log entries, oldest first.

    Parameters:
        session: an open session on the gateway's database.

    Returns:
        (id, entry) pairs; the entry's details carry the event kind and Message-ID.
    """
    rows = session.scalars(select(EventLogEntry).order_by(EventLogEntry.id))
    result = []
    for row in rows:
        if row.meeting_id:
            target, target_id = LogTarget.MEETING, row.meeting_id
        elif row.task_id:
            target, target_id = LogTarget.TASK, row.task_id
        else:
            target, target_id = LogTarget.GATEWAY, None
        details = {key: str(value) for key, value in (row.details or {}).items()}
        details["kind"] = row.kind
        if row.message_id:
            details["message_id"] = row.message_id
        entry = LogEntry(
            target=target,
            target_id=target_id,
            level=row.level,
            message=row.text,
            created_at=row.created_at,
            details=details,
        )
        result.append((row.id, entry))
    return result


def print_logs(rows: Sequence[tuple[int, LogEntry]], *, as_json: bool) -> None:
    """Print log entries as a table, or as JSON Lines.

    Parameters:
        rows: (id, entry) pairs.
        as_json: print JSON Lines.
    """
    print_records(
        [log_record(*row) for row in rows],
        as_json=as_json,
        empty="no log entries",
        headers=["ID", "TIME (UTC)", "LEVEL", "ABOUT", "MESSAGE"],
        row=lambda r: [
            r["id"],
            r["created_at"],
            r["level"],
            f"{r['target']} {r['target_id'] or ''}".strip(),
            r["message"],
        ],
    )


def user_record(user: Party) -> dict[str, Any]:
    """The JSON object of one user (see the module docstring)."""
    return {
        "id": user.id,
        "name": user.name,
        "email": user.primary_email,
        "emails": list(user.emails),
        "language": user.language,
        "time_zone": user.time_zone,
    }


def contact_record(listing: ContactListing) -> dict[str, Any]:
    """The JSON object of one contact (see the module docstring)."""
    contact = listing.contact
    return {
        "id": contact.id,
        "name": contact.name,
        "email": contact.primary_email,
        "emails": list(contact.emails),
        "account": listing.account,
        "invitations": contact.sync,
        "language": contact.language,
        "time_zone": contact.time_zone,
    }


def _local(value: dt.date | dt.datetime | None) -> str | None:
    """A time in its own zone with the offset (``2030-06-03T10:00:00+02:00``), or a date."""
    return None if value is None else value.isoformat()


def meeting_record(listing: MeetingListing) -> dict[str, Any]:
    """The JSON object of one meeting (see the module docstring)."""
    meeting = listing.meeting
    return {
        "id": meeting.id,
        "title": meeting.title,
        "kind": meeting.kind.value,
        "start": _local(meeting.start),
        "end": _local(meeting.end),
        "start_utc": iso_utc(meeting.start),
        "end_utc": iso_utc(meeting.end),
        "all_day": meeting.all_day,
        "time_zone": meeting.time_zone,
        "rrule": meeting.rrule,
        "location": meeting.location,
        "organizer": meeting.organizer.primary_email,
        "attendees": [
            {
                "email": party.primary_email,
                "name": party.name,
                "type": party.type.value,
                "answer": listing.answers.get(party.primary_email or party.name) or None,
            }
            for party in meeting.attendees
        ],
        "cancelled_occurrences": [
            _local(o.recurrence_id) for o in meeting.occurrences if o.cancelled
        ],
        "moved_occurrences": [
            {"recurrence_id": _local(o.recurrence_id), "start": _local(o.start)}
            for o in meeting.occurrences
            if not o.cancelled and o.start is not None
        ],
        "cancelled": meeting.cancelled,
        "invitations": meeting.sync,
        "calendar": meeting.calendar,
    }


def print_users(users: Sequence[Party], *, as_json: bool) -> None:
    """Print users as a table, or as JSON Lines.

    Parameters:
        users: the users.
        as_json: print JSON Lines.
    """
    print_records(
        [user_record(u) for u in users],
        as_json=as_json,
        empty="no users (add one: invitegw crm user add ADDRESS --name NAME)",
        headers=["ID", "EMAIL", "NAME", "LANG", "ZONE"],
        row=lambda r: [r["id"], r["email"], r["name"], r["language"], r["time_zone"]],
    )


def print_contacts(contacts: Sequence[ContactListing], *, as_json: bool) -> None:
    """Print contacts as a table, or as JSON Lines.

    Parameters:
        contacts: the contacts.
        as_json: print JSON Lines.
    """
    print_records(
        [contact_record(c) for c in contacts],
        as_json=as_json,
        empty="no contacts (add one: invitegw crm contact add ADDRESS --name NAME)",
        headers=["ID", "EMAIL", "NAME", "ACCOUNT", "LANG", "INVITATIONS"],
        row=lambda r: [
            r["id"],
            ", ".join(r["emails"]),
            r["name"],
            r["account"],
            r["language"],
            "on" if r["invitations"] else "off",
        ],
    )


def _when(meeting: Meeting) -> str:
    if not isinstance(meeting.start, dt.datetime):
        return f"{meeting.start.isoformat()} (all day)"
    return f"{meeting.start:%Y-%m-%d %H:%M} {meeting.time_zone or 'UTC'}"


def print_meetings(meetings: Sequence[MeetingListing], *, as_json: bool) -> None:
    """Print meetings as a table, or as JSON Lines.

    Parameters:
        meetings: the meetings with their answers.
        as_json: print JSON Lines.
    """
    if as_json:
        print_records(
            [meeting_record(m) for m in meetings], as_json=True, empty="", headers=[], row=list
        )
        return
    rows = [
        {
            "id": m.meeting.id,
            "start": _when(m.meeting),
            "title": m.meeting.title,
            "organizer": m.meeting.organizer.primary_email,
            "attendees": len(m.meeting.attendees),
            "repeats": m.meeting.rrule or "",
            "status": "cancelled" if m.meeting.cancelled else "scheduled",
        }
        for m in meetings
    ]
    print_records(
        rows,
        as_json=False,
        empty="no meetings (create one: invitegw crm meeting create ...)",
        headers=["ID", "START", "TITLE", "ORGANIZER", "ATTENDEES", "REPEATS", "STATUS"],
        row=lambda r: list(r.values()),
    )


def print_meeting(listing: MeetingListing, *, as_json: bool) -> None:
    """Print one meeting readably (or as one JSON line): when, who, and their answers.

    Parameters:
        listing: the meeting with its answers.
        as_json: print one JSON object.
    """
    record = meeting_record(listing)
    if as_json:
        print_records([record], as_json=True, empty="", headers=[], row=list)
        return
    meeting = listing.meeting
    status = "cancelled" if meeting.cancelled else "scheduled"
    invitations = "on" if meeting.sync else "off"
    lines = [f"meeting {meeting.id}: {meeting.title} ({status}; invitations {invitations})"]
    end = meeting.end
    until = f"{end:%H:%M}" if isinstance(end, dt.datetime) else end.isoformat()
    lines.append(f"  when:      {_when(meeting)} - {until}")
    if meeting.rrule:
        lines.append(f"  repeats:   {meeting.rrule}")
    for day in record["cancelled_occurrences"]:
        lines.append(f"  cancelled: the occurrence of {day}")
    for moved in record["moved_occurrences"]:
        lines.append(f"  moved:     the occurrence of {moved['recurrence_id']} to {moved['start']}")
    if meeting.location:
        lines.append(f"  where:     {meeting.location}")
    lines.append(f"  organizer: {meeting.organizer.name} <{meeting.organizer.primary_email}>")
    for attendee in record["attendees"]:
        answer = attendee["answer"] or "NEEDS-ACTION"
        lines.append(
            f"  attendee:  {attendee['name']} <{attendee['email']}> ({attendee['type']}): {answer}"
        )
    print(for_terminal_lines("\n".join(lines)))
