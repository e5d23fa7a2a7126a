"""The messages of an outbound plan: one email per recipient, with its VEVENTs (pure).

:func:`message_env` gathers what every message about one meeting shares (UID, SEQUENCE,
the ATTENDEE list, the body context); :func:`full_request` (the whole series),
:func:`occurrence_message` (one RECURRENCE-ID alone), :func:`cancel_all` (the meeting is
off) and :func:`uninvite` (a CANCEL for one removed attendee, :rfc:`5546` section 3.2.5)
make a :class:`~invitegw.itip.plan_model.PlannedMessage` for one recipient, with that
recipient's own ORGANIZER; :func:`summarize` says in one line what a plan queues.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from invitegw.domain.records import Meeting, MeetingOccurrence
from invitegw.ics.model import Attendee, Event, Method, Organizer, Role
from invitegw.itip.meeting_events import (
    base_event,
    occurrence_event,
    occurrence_key,
    occurrence_span,
    series_events,
)
from invitegw.itip.plan_model import (
    CalendarProfile,
    IdSource,
    LedgerAttendee,
    MessageContext,
    PlannedMessage,
)
from invitegw.itip.policy import MessageKind
from invitegw.itip.recipients import ics_attendees, organizer_for

__all__ = [
    "MessageEnv",
    "cancel_all",
    "full_request",
    "message_env",
    "occurrence_message",
    "summarize",
    "uninvite",
]

_LISTED_IN_NOTE = 10


@dataclass(frozen=True, slots=True)
class MessageEnv:
    """What every message of one plan shares."""

    meeting: Meeting
    calendar: CalendarProfile
    uid: str
    sequence: int
    now: dt.datetime
    context: MessageContext
    attendees: tuple[Attendee, ...]
    ids: IdSource


def message_env(
    meeting: Meeting,
    calendar: CalendarProfile,
    uid: str,
    sequence: int,
    now: dt.datetime,
    ids: IdSource,
    listed: Iterable[LedgerAttendee],
    ask_again: bool,
) -> MessageEnv:
    rows = sorted(listed, key=lambda r: r.role is not Role.CHAIR)
    organizer = meeting.organizer
    base = base_event(meeting, uid)
    context = MessageContext(
        meeting_id=meeting.id,
        title=base.summary,
        description=base.description,
        location=base.location,
        organizer_name=organizer.name,
        organizer_email=organizer.primary_email or calendar.address,
        time_zone=meeting.time_zone or calendar.time_zone,
        attendees=tuple((r.name, r.address) for r in rows if r.role is not Role.CHAIR),
        crm_url=calendar.crm_url.replace("{id}", meeting.id) if calendar.crm_url else None,
    )
    return MessageEnv(
        meeting=meeting,
        calendar=calendar,
        uid=uid,
        sequence=sequence,
        now=now,
        context=context,
        attendees=ics_attendees(rows, ask_again=ask_again),
        ids=ids,
    )


def _message(
    env: MessageEnv,
    row: LedgerAttendee,
    method: Method,
    kind: MessageKind,
    events: tuple[Event, ...],
    *,
    start: dt.date | dt.datetime,
    end: dt.date | dt.datetime | None,
    rrule: str | None = None,
    occurrence: dt.date | dt.datetime | None = None,
    changes: tuple[str, ...] = (),
    uninvite: bool = False,
) -> PlannedMessage:
    organizer = events[0].organizer
    assert organizer is not None  # every event built here has one
    return PlannedMessage(
        recipient=row,
        method=method,
        kind=kind,
        sequence=env.sequence,
        events=events,
        organizer=organizer,
        context=env.context,
        message_id=env.ids.message_id(env.calendar.domain),
        reply_to=env.calendar.reply_to or organizer.email,
        thread_id=row.thread_id,
        start=start,
        end=end,
        rrule=rrule,
        occurrence=occurrence,
        changes=changes,
        uninvite=uninvite,
    )


def _organizer(env: MessageEnv, row: LedgerAttendee) -> Organizer:
    return organizer_for(
        env.calendar,
        name=env.meeting.organizer.name,
        user_address=env.context.organizer_email,
        token=row.token,
    )


def full_request(
    env: MessageEnv, row: LedgerAttendee, kind: MessageKind, changes: tuple[str, ...]
) -> PlannedMessage:
    events = series_events(
        env.meeting,
        uid=env.uid,
        sequence=env.sequence,
        organizer=_organizer(env, row),
        attendees=env.attendees,
        alarm_minutes=env.calendar.alarm_minutes,
        stamp=env.now,
    )
    master = events[0]
    return _message(
        env,
        row,
        Method.REQUEST,
        kind,
        events,
        start=master.start,
        end=master.end,
        rrule=master.rrule,
        changes=changes if kind is MessageKind.UPDATE else (),
    )


def occurrence_message(
    env: MessageEnv, row: LedgerAttendee, occurrence: MeetingOccurrence
) -> PlannedMessage:
    event = occurrence_event(
        env.meeting,
        occurrence,
        uid=env.uid,
        sequence=env.sequence,
        organizer=_organizer(env, row),
        attendees=env.attendees,
        alarm_minutes=env.calendar.alarm_minutes,
        stamp=env.now,
    )
    cancelled = occurrence.cancelled
    if cancelled:
        start, end = event.start, event.end
    else:
        start, end = occurrence_span(env.meeting, occurrence)
    return _message(
        env,
        row,
        Method.CANCEL if cancelled else Method.REQUEST,
        MessageKind.CANCELLATION if cancelled else MessageKind.UPDATE,
        (event,),
        start=start,
        end=end,
        occurrence=event.recurrence_id,
        changes=() if cancelled else ("start", "end"),
    )


def cancel_all(env: MessageEnv, row: LedgerAttendee) -> PlannedMessage:
    """The meeting is off: a CANCEL of the whole series (STATUS:CANCELLED) to ``row``."""
    return _cancel(env, row, env.attendees, uninvite=False)


def uninvite(env: MessageEnv, row: LedgerAttendee) -> PlannedMessage:
    """A CANCEL to one removed attendee only (:rfc:`5546` section 3.2.5, no STATUS)."""
    removed = (Attendee(email=row.address, cn=row.name or None, role=row.role),)
    return _cancel(env, row, removed, uninvite=True)


def _cancel(
    env: MessageEnv, row: LedgerAttendee, attendees: tuple[Attendee, ...], *, uninvite: bool
) -> PlannedMessage:
    (master, *_exceptions) = series_events(
        env.meeting,
        uid=env.uid,
        sequence=env.sequence,
        organizer=_organizer(env, row),
        attendees=attendees,
        alarm_minutes=None,  # RFC 5546 section 3.2.5: a CANCEL carries no VALARM
        stamp=env.now,
    )
    # The master alone, without the exceptions it had: cancelling it cancels them all.
    master = dataclasses.replace(master, exdates=())
    return _message(
        env,
        row,
        Method.CANCEL,
        MessageKind.CANCELLATION,
        (master,),
        start=master.start,
        end=master.end,
        rrule=master.rrule,
        uninvite=uninvite,
    )


def summarize(messages: Sequence[PlannedMessage]) -> str:
    """``REQUEST SEQUENCE 1 queued for 3 recipients: a, b, c; CANCEL ...`` for the log."""
    groups: dict[tuple[str, int, str], list[str]] = {}
    for message in messages:
        what = message.method.value
        if message.occurrence is not None:
            what += f" (occurrence {occurrence_key(message.occurrence)})"
        elif message.uninvite:
            what += " (uninvited)"
        groups.setdefault((what, message.sequence, message.kind.value), []).append(
            message.recipient.address
        )
    parts = []
    for (what, sequence, _kind), addresses in groups.items():
        shown = ", ".join(addresses[:_LISTED_IN_NOTE])
        if len(addresses) > _LISTED_IN_NOTE:
            shown += f" and {len(addresses) - _LISTED_IN_NOTE} more"
        count = len(addresses)
        parts.append(
            f"{what} SEQUENCE {sequence} queued for {count} "
            f"recipient{'s' if count != 1 else ''}: {shown}"
        )
    return "; ".join(parts)
