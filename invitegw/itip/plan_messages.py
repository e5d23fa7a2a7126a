"""The messages of an outbound plan: one email per recipient, with its VEVENTs (pure).

:func:`mailing` gathers what every message of one plan shares (a :class:`Mailing`: UID,
SEQUENCE, DTSTAMP, the ATTENDEE list, the :class:`~invitegw.itip.plan_model.MeetingDetails`
the bodies show, which :func:`meeting_details` makes); :func:`full_request` (the whole
series), :func:`occurrence_message` (one RECURRENCE-ID alone), :func:`cancel_all` (the
meeting is off) and :func:`uninvite` (a CANCEL for one removed attendee, :rfc:`5546`
section 3.2.5) make a :class:`~invitegw.itip.plan_model.PlannedMessage` for one recipient,
with that recipient's own ORGANIZER; :func:`summarize` says in one line what a plan queues.
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
    MeetingDetails,
    PlannedMessage,
)
from invitegw.itip.policy import MessageKind
from invitegw.itip.recipients import ics_attendees, organizer_for

__all__ = [
    "Mailing",
    "cancel_all",
    "full_request",
    "mailing",
    "meeting_details",
    "occurrence_message",
    "summarize",
    "uninvite",
]

_LISTED_IN_NOTE = 10


@dataclass(frozen=True, slots=True)
class Mailing:
    """What every message of one plan shares: the meeting at one SEQUENCE, to one list."""

    meeting: Meeting
    calendar: CalendarProfile
    uid: str
    sequence: int
    now: dt.datetime
    details: MeetingDetails
    attendees: tuple[Attendee, ...]
    ids: IdSource


def meeting_details(
    meeting: Meeting, calendar: CalendarProfile, listed: Sequence[LedgerAttendee]
) -> MeetingDetails:
    """The meeting as message bodies show it.

    Parameters:
        meeting: the snapshot.
        calendar: the sending calendar (its address, zone and CRM link).
        listed: the ledger rows listed in the meeting (the organizer's row is left out of
            the attendees the body names: it names the organizer on its own).

    Returns:
        The details (title, place, organizer, the attendees by name).
    """
    organizer = meeting.organizer
    base = base_event(meeting, "details")
    return MeetingDetails(
        meeting_id=meeting.id,
        title=base.summary,
        description=base.description,
        location=base.location,
        organizer_name=organizer.name,
        organizer_email=organizer.primary_email or calendar.address,
        time_zone=meeting.time_zone or calendar.time_zone,
        attendees=tuple((r.name, r.address) for r in listed if r.role is not Role.CHAIR),
        crm_url=calendar.crm_url.replace("{id}", meeting.id) if calendar.crm_url else None,
    )


def mailing(
    meeting: Meeting,
    calendar: CalendarProfile,
    *,
    uid: str,
    sequence: int,
    now: dt.datetime,
    ids: IdSource,
    listed: Iterable[LedgerAttendee],
    ask_again: bool,
) -> Mailing:
    """What the messages of one plan share.

    Parameters:
        meeting: the snapshot the messages carry.
        calendar: the sending calendar.
        uid: the meeting's UID.
        sequence: the SEQUENCE every message carries.
        now: the DTSTAMP.
        ids: where Message-IDs come from.
        listed: the ledger rows listed in the meeting (the ATTENDEE list).
        ask_again: NEEDS-ACTION for every attendee (a change that asks for answers again).

    Returns:
        The mailing.
    """
    rows = sorted(listed, key=lambda r: r.role is not Role.CHAIR)
    return Mailing(
        meeting=meeting,
        calendar=calendar,
        uid=uid,
        sequence=sequence,
        now=now,
        details=meeting_details(meeting, calendar, rows),
        attendees=ics_attendees(rows, ask_again=ask_again),
        ids=ids,
    )


def _message(
    sending: Mailing,
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
        sequence=sending.sequence,
        events=events,
        organizer=organizer,
        details=sending.details,
        message_id=sending.ids.message_id(sending.calendar.domain),
        reply_to=sending.calendar.reply_to or organizer.email,
        thread_id=row.thread_id,
        start=start,
        end=end,
        rrule=rrule,
        occurrence=occurrence,
        changes=changes,
        uninvite=uninvite,
    )


def _organizer(sending: Mailing, row: LedgerAttendee) -> Organizer:
    return organizer_for(
        sending.calendar,
        name=sending.meeting.organizer.name,
        user_address=sending.details.organizer_email,
        token=row.token,
    )


def full_request(
    sending: Mailing, row: LedgerAttendee, kind: MessageKind, changes: tuple[str, ...]
) -> PlannedMessage:
    """A REQUEST of the whole series (master and exceptions) to ``row``.

    Parameters:
        sending: what the plan's messages share.
        row: the recipient.
        kind: an invitation (first message) or an update.
        changes: the fields an update names as changed.

    Returns:
        The message.
    """
    events = series_events(
        sending.meeting,
        uid=sending.uid,
        sequence=sending.sequence,
        organizer=_organizer(sending, row),
        attendees=sending.attendees,
        alarm_minutes=sending.calendar.alarm_minutes,
        stamp=sending.now,
    )
    master = events[0]
    return _message(
        sending,
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
    sending: Mailing, row: LedgerAttendee, occurrence: MeetingOccurrence
) -> PlannedMessage:
    """One occurrence alone (RECURRENCE-ID): a REQUEST when moved, a CANCEL when cancelled.

    Parameters:
        sending: what the plan's messages share.
        row: the recipient.
        occurrence: the occurrence that changed.

    Returns:
        The message.
    """
    event = occurrence_event(
        sending.meeting,
        occurrence,
        uid=sending.uid,
        sequence=sending.sequence,
        organizer=_organizer(sending, row),
        attendees=sending.attendees,
        alarm_minutes=sending.calendar.alarm_minutes,
        stamp=sending.now,
    )
    cancelled = occurrence.cancelled
    if cancelled:
        start, end = event.start, event.end
    else:
        start, end = occurrence_span(sending.meeting, occurrence)
    return _message(
        sending,
        row,
        Method.CANCEL if cancelled else Method.REQUEST,
        MessageKind.CANCELLATION if cancelled else MessageKind.UPDATE,
        (event,),
        start=start,
        end=end,
        occurrence=event.recurrence_id,
        changes=() if cancelled else ("start", "end"),
    )


def cancel_all(sending: Mailing, row: LedgerAttendee) -> PlannedMessage:
    """The meeting is off: a CANCEL of the whole series (STATUS:CANCELLED) to ``row``.

    Parameters:
        sending: what the plan's messages share.
        row: the recipient.

    Returns:
        The message.
    """
    return _cancel(sending, row, sending.attendees, uninvite=False)


def uninvite(sending: Mailing, row: LedgerAttendee) -> PlannedMessage:
    """A CANCEL to one removed attendee only (:rfc:`5546` section 3.2.5, no STATUS).

    Parameters:
        sending: what the plan's messages share.
        row: the removed attendee.

    Returns:
        The message.
    """
    removed = (Attendee(email=row.address, cn=row.name or None, role=row.role),)
    return _cancel(sending, row, removed, uninvite=True)


def _cancel(
    sending: Mailing, row: LedgerAttendee, attendees: tuple[Attendee, ...], *, uninvite: bool
) -> PlannedMessage:
    (master, *_exceptions) = series_events(
        sending.meeting,
        uid=sending.uid,
        sequence=sending.sequence,
        organizer=_organizer(sending, row),
        attendees=attendees,
        alarm_minutes=None,  # RFC 5546 section 3.2.5: a CANCEL carries no VALARM
        stamp=sending.now,
    )
    # The master alone, without the exceptions it had: cancelling it cancels them all.
    master = dataclasses.replace(master, exdates=())
    return _message(
        sending,
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
    """``REQUEST SEQUENCE 1 queued for 3 recipients: a, b, c; CANCEL ...`` for the log.

    Parameters:
        messages: what a plan queues.

    Returns:
        The line (empty for no messages).
    """
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
