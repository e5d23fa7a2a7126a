"""What an answer link's page shows: the invitation it names and where it stands.

:func:`look_up` reads, in the unit of work, the ledger attendee whose reply token the
:class:`~invitegw.domain.answer_tokens.AnswerToken` carries and says whether the link can
still answer (:class:`AnswerState`):

- ``unknown``: no invitation holds that reply token (or it is the organizer's own);
- ``cancelled``: the meeting, or the occurrence the link is about, was cancelled;
- ``removed``: the attendee was taken off the meeting;
- ``over``: the meeting (or the occurrence) has ended;
- ``superseded``: a newer invitation for the same series or occurrence went to the
  attendee (a higher SEQUENCE): the page says what changed, by comparing the invitation the
  link was in with the newest one (both as the outbox keeps them);
- ``open``: it can answer.

The times shown are the meeting's as the gateway last sent it (the ledger's snapshot), in
the attendee's zone (else the meeting's, else the calendar's) and language (else the
calendar's). Reads only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import or_, select

from invitegw.domain.answer_tokens import AnswerToken
from invitegw.domain.records import Meeting
from invitegw.errors import GatewayError
from invitegw.gateway.config import CalendarSettings
from invitegw.gateway.inbound.attendee_replies import REPLY_RECORDED_KIND
from invitegw.gateway.inbound.reply_correlation import token_attendees
from invitegw.gateway.outbound.snapshot import meeting_from_json
from invitegw.gateway.storage import (
    EventLogEntry,
    OutboundAttendee,
    OutboundMeeting,
    OutboxMessage,
    OutboxState,
)
from invitegw.gateway.uow import UnitOfWork
from invitegw.ics import parse_calendar
from invitegw.ics.changes import compare_events
from invitegw.ics.model import Event, Role
from invitegw.itip.meeting_events import occurrence_key
from invitegw.mailbox.mime.extract import extract
from invitegw.templates.render import pick_language

__all__ = ["AnswerFacts", "AnswerState", "latest_answer", "look_up", "recurrence_value"]

Moment = dt.date | dt.datetime


class AnswerState(StrEnum):
    """Whether a link can still answer (see the module docstring)."""

    OPEN = "open"
    SUPERSEDED = "superseded"
    OVER = "over"
    REMOVED = "removed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AnswerFacts:
    """The invitation a link names, as its page shows it.

    Parameters:
        state: whether it can still answer.
        meeting: the ledger meeting (None when unknown).
        attendee: the ledger attendee (None when unknown).
        calendar: the calendar it was sent from.
        title: the meeting's title.
        start: the start shown (the occurrence's, for a link about one occurrence).
        end: the end shown.
        rrule: the series' rule (None for one occurrence).
        occurrence: the occurrence's original start, for a link about one occurrence.
        location: where.
        organizer_name: the organizer, as people know them.
        language: the page's language.
        time_zone: the zone times are shown in.
        partstat: the attendee's answer on record for the series or the occurrence.
        changes: for ``superseded``: the fields that changed since the link's invitation.
    """

    state: AnswerState
    meeting: OutboundMeeting | None = None
    attendee: OutboundAttendee | None = None
    calendar: CalendarSettings | None = None
    title: str = ""
    start: Moment | None = None
    end: Moment | None = None
    rrule: str | None = None
    occurrence: Moment | None = None
    location: str = ""
    organizer_name: str = ""
    language: str = "en"
    time_zone: str = "UTC"
    partstat: str = "NEEDS-ACTION"
    changes: tuple[str, ...] = field(default=())


def recurrence_value(text: str | None) -> Moment | None:
    """A token's RECURRENCE-ID text as a value (UTC time, floating time or date)."""
    if text is None:
        return None
    if "T" not in text:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    value = dt.datetime.strptime(text.rstrip("Z") + "+0000", "%Y%m%dT%H%M%S%z")
    return value if text.endswith("Z") else value.replace(tzinfo=None)


def _snapshot(meeting: OutboundMeeting) -> Meeting | None:
    if not meeting.snapshot:
        return None
    try:
        return meeting_from_json(meeting.snapshot)
    except GatewayError:
        return None


def _same(a: Moment, b: Moment) -> bool:
    return occurrence_key(a) == occurrence_key(b)


def _duration(snapshot: Meeting) -> dt.timedelta:
    start, end = snapshot.start, snapshot.end
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        return end - start
    if not isinstance(start, dt.datetime) and not isinstance(end, dt.datetime):
        return end - start
    return dt.timedelta(0)


def _span(snapshot: Meeting, occurrence: Moment | None) -> tuple[Moment, Moment, bool]:
    """(start, end, cancelled) of the series, or of one occurrence (moved or not)."""
    if occurrence is None:
        return snapshot.start, snapshot.end, snapshot.cancelled
    duration = _duration(snapshot)
    for override in snapshot.occurrences:
        if _same(override.recurrence_id, occurrence):
            start = override.start or override.recurrence_id
            return start, override.end or start + duration, override.cancelled
    return occurrence, occurrence + duration, False


def _ended(end: Moment, now: dt.datetime) -> bool:
    if isinstance(end, dt.datetime):
        return end.astimezone(dt.UTC) <= now if end.tzinfo else end <= now.replace(tzinfo=None)
    return end <= now.date()  # an all-day end is exclusive


def _requests(unit: UnitOfWork, row: OutboundAttendee, token: AnswerToken) -> list[OutboxMessage]:
    """The REQUESTs sent (or to be sent) to ``row`` covering the token's series/occurrence."""
    query = select(OutboxMessage).where(
        OutboxMessage.attendee_id == row.id,
        OutboxMessage.method == "REQUEST",
        OutboxMessage.state != OutboxState.CANCELLED,
    )
    occurrence = recurrence_value(token.recurrence_id)
    if occurrence is None:
        query = query.where(OutboxMessage.recurrence_id.is_(None))
    else:
        key = occurrence_key(occurrence)
        query = query.where(
            or_(OutboxMessage.recurrence_id.is_(None), OutboxMessage.recurrence_id == key)
        )
    return list(unit.session.scalars(query.order_by(OutboxMessage.id)))


def _event(raw: bytes | None, occurrence: Moment | None) -> Event | None:
    """The VEVENT of a sent invitation for the series (or the occurrence), if readable."""
    if raw is None:
        return None
    with contextlib.suppress(GatewayError, ValueError):
        for part in extract(raw).calendar_parts:
            for event in parse_calendar(part.data, mime_method=part.mime_method).events:
                rid = event.recurrence_id
                if (rid is None and occurrence is None) or (
                    rid is not None and occurrence is not None and _same(rid, occurrence)
                ):
                    return event
    return None


def _changes(sent: list[OutboxMessage], token: AnswerToken) -> tuple[str, ...]:
    """What changed between the link's invitation and the newest one, when both are kept."""
    occurrence = recurrence_value(token.recurrence_id)
    old = next((m for m in reversed(sent) if m.sequence == token.sequence), None)
    new = max(sent, key=lambda m: (m.sequence or 0, m.id))
    before = _event(old.raw if old is not None else None, occurrence)
    after = _event(new.raw, occurrence)
    if before is None or after is None:
        return ()
    with contextlib.suppress(GatewayError):
        change = compare_events(before, after)
        return (*change.significant, *change.minor)
    return ()


def _state(
    unit: UnitOfWork, row: OutboundAttendee, token: AnswerToken, cancelled: bool, end: Moment
) -> tuple[AnswerState, tuple[str, ...]]:
    meeting = row.meeting
    if meeting.cancelled or meeting.deleted or cancelled:
        return AnswerState.CANCELLED, ()
    if row.removed:
        return AnswerState.REMOVED, ()
    if _ended(end, unit.now):
        return AnswerState.OVER, ()
    sent = _requests(unit, row, token)
    if any((m.sequence or 0) > token.sequence for m in sent):
        return AnswerState.SUPERSEDED, _changes(sent, token)
    return AnswerState.OPEN, ()


def latest_answer(
    unit: UnitOfWork, row: OutboundAttendee, recurrence_id: str | None
) -> EventLogEntry | None:
    """The latest answer on record for ``row`` and the occurrence (None: the series).

    Parameters:
        unit: the unit of work.
        row: the ledger attendee.
        recurrence_id: the occurrence (iCalendar text), None for the series.

    Returns:
        Its ``reply-recorded`` event-log entry, or None.
    """
    entries = unit.session.scalars(
        select(EventLogEntry)
        .where(
            EventLogEntry.meeting_id == row.meeting.crm_meeting_id,
            EventLogEntry.kind == REPLY_RECORDED_KIND,
        )
        .order_by(EventLogEntry.id.desc())
    )
    for entry in entries:
        details = entry.details or {}
        if details.get("attendee") == row.address and details.get("recurrence_id") == recurrence_id:
            return entry
    return None


def _partstat(unit: UnitOfWork, row: OutboundAttendee, token: AnswerToken) -> str:
    """The answer on record: the ledger's for the series, the event log's for an occurrence."""
    if token.recurrence_id is None:
        return row.partstat or "NEEDS-ACTION"
    entry = latest_answer(unit, row, token.recurrence_id)
    details = entry.details or {} if entry is not None else {}
    return str(details.get("partstat") or "NEEDS-ACTION")


def look_up(
    unit: UnitOfWork, calendars: tuple[CalendarSettings, ...], token: AnswerToken
) -> AnswerFacts:
    """The invitation ``token`` names and where it stands (see the module docstring).

    Parameters:
        unit: the unit of work (reads only).
        calendars: the configured calendars.
        token: a verified token.

    Returns:
        The facts (``unknown`` with nothing else when no invitation holds the token).
    """
    found = token_attendees(unit.session, [token.reply_token])
    row = found[0] if found else None
    if row is None or row.role == Role.CHAIR.value:
        return AnswerFacts(AnswerState.UNKNOWN)
    meeting = row.meeting
    snapshot = _snapshot(meeting)
    calendar = next((c for c in calendars if c.name == meeting.calendar), calendars[0])
    if snapshot is None:
        return AnswerFacts(AnswerState.UNKNOWN)
    occurrence = recurrence_value(token.recurrence_id)
    start, end, cancelled = _span(snapshot, occurrence)
    state, changes = _state(unit, row, token, cancelled, end)
    return AnswerFacts(
        state=state,
        meeting=meeting,
        attendee=row,
        calendar=calendar,
        title=" ".join(snapshot.title.split()) or "(no title)",
        start=start,
        end=end,
        rrule=snapshot.rrule if occurrence is None else None,
        occurrence=occurrence,
        location=snapshot.location,
        organizer_name=snapshot.organizer.name or "",
        language=pick_language(row.language, calendar.language),
        time_zone=row.time_zone or snapshot.time_zone or calendar.time_zone,
        partstat=_partstat(unit, row, token),
        changes=changes,
    )
