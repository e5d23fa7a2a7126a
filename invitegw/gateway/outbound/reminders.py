"""Reminder emails: a while before each occurrence, to the external attendees (the shell).

A calendar with ``reminder_email_lead`` set sends each external attendee (a contact,
account or lead: staff have their calendar's own VALARM) a reminder email that long before
every occurrence of its meetings, once per attendee and occurrence (the
``outbound_reminders`` table remembers). Not for cancelled or deleted meetings, cancelled
occurrences, attendees who were removed or declined, or anyone invited after the reminder
was due (they just got the invitation). A moved occurrence is reminded of at its new time.

What counts is what the attendees hold: the ledger's last snapshot sent, not the CRM's
current one (an unsent change is not announced by a reminder). The reminder has no
calendar object, so no client mistakes it for an update; it refers to the invitation's
thread and its Reply-To is the attendee's own ORGANIZER address. Given answer links
(:class:`~invitegw.gateway.outbound.answer_links.AnswerLinking`), the reminder of an
attendee who has not answered carries the Yes/Maybe/No links of their invitation to the
whole meeting (its SEQUENCE read from the outbox; the ledger's last SEQUENCE sent when the
outbox no longer has it), for people whose mail program shows no buttons.

A pass costs what is due, not what the ledger holds: each meeting is filed
(``outbound_meetings.reminder_check_at``, indexed with its calendar) at the start of its
next occurrence, and a pass reads only the meetings filed within the calendar's lead. A
ledger change files the meeting at once (:mod:`.ledger`), so the next pass looks at it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from invitegw.domain.records import Meeting
from invitegw.errors import GatewayError
from invitegw.gateway.outbound.answer_links import AnswerLinking
from invitegw.gateway.outbound.ledger import ledger_state
from invitegw.gateway.outbound.messages import write_reminder
from invitegw.gateway.storage import (
    OutboundMeeting,
    OutboundReminder,
    OutboxMessage,
    OutboxState,
    acquire_lease,
    enqueue,
    release_lease,
)
from invitegw.gateway.uow import UnitsOfWork
from invitegw.ics.model import Event, PartStat
from invitegw.ics.recurrence import expand
from invitegw.itip.meeting_events import base_event, occurrence_key, occurrence_span
from invitegw.itip.plan_messages import meeting_details
from invitegw.itip.plan_model import (
    CalendarProfile,
    IdSource,
    LedgerAttendee,
    MeetingDetails,
    RandomIds,
)
from invitegw.itip.recipients import organizer_for
from invitegw.templates.render import AnswerLinks

__all__ = [
    "CHECK_HORIZON",
    "REMINDER_LEASE",
    "Occurrence",
    "Reminders",
    "due_occurrences",
    "series_sequences",
]

logger = logging.getLogger(__name__)

REMINDER_LEASE = "job:reminders"
# How far ahead a look searches for the next occurrence: a meeting with none that soon is
# looked at again after this long (a few cheap looks a year for a rare series).
CHECK_HORIZON = dt.timedelta(days=31)

Moment = dt.date | dt.datetime


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of a meeting: its key (original start) and when it now happens."""

    key: str
    start: Moment
    end: Moment
    starts_at: dt.datetime  # the start as a UTC instant


def _instant(value: Moment, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def due_occurrences(
    meeting: Meeting, *, after: dt.datetime, until: dt.datetime, zone: str
) -> list[Occurrence]:
    """The occurrences of ``meeting`` starting in (``after``, ``until``], in time order.

    Cancelled occurrences are left out; a moved one counts at its new time.

    Parameters:
        meeting: the snapshot.
        after: the window's start (exclusive), aware.
        until: the window's end (inclusive), aware.
        zone: the zone all-day dates are read in when the meeting has none.

    Returns:
        The occurrences.

    Raises:
        IcsError: the recurrence rule cannot be expanded.
    """
    tz = zoneinfo.ZoneInfo(meeting.time_zone or zone)
    base = base_event(meeting, "reminders")
    duration = meeting.end - meeting.start  # type: ignore[operator]
    overrides = {occurrence_key(o.recurrence_id): o for o in meeting.occurrences}
    if base.rrule:
        limit: Moment = (
            until.astimezone(tz) if isinstance(base.start, dt.datetime) else until.date()
        )
        series = Event(uid=base.uid, start=base.start, end=base.end, rrule=base.rrule)
        starts: list[Moment] = list(expand(series, until=limit))
    else:
        starts = [base.start]
    found: dict[str, Occurrence] = {}
    for original in starts:
        key = occurrence_key(original)
        override = overrides.get(key)
        if override is not None:
            continue  # handled below, at its own time
        found[key] = Occurrence(key, original, original + duration, _instant(original, tz))
    for key, override in overrides.items():
        if override.cancelled:
            continue
        start, end = occurrence_span(meeting, override)
        found[key] = Occurrence(key, start, end, _instant(start, tz))
    return sorted(
        (o for o in found.values() if after < o.starts_at <= until), key=lambda o: o.starts_at
    )


class Reminders:
    """The reminder job of one gateway (see the module docstring).

    Parameters:
        units: starts the units of work.
        calendars: the calendars that send reminders (``reminder_email_lead`` set), by name.
        worker: this worker's name (the job's lease).
        lease: how long the job's lease is held.
        ids: where Message-IDs come from.
        links: how answer links are made (``None``: reminders carry none).
    """

    def __init__(
        self,
        units: UnitsOfWork,
        calendars: dict[str, CalendarProfile],
        *,
        worker: str,
        lease: dt.timedelta,
        ids: IdSource | None = None,
        links: AnswerLinking | None = None,
    ) -> None:
        self.units = units
        self.calendars = calendars
        self.worker = worker
        self.lease = lease
        self.ids = ids or RandomIds()
        self.links = links

    def run(self, *, stop: threading.Event | None = None) -> int:
        """Queue every reminder due now.

        Reads, per calendar, only the meetings whose ``reminder_check_at`` falls within the
        calendar's lead (an index range): the cost of a pass is what is due, not what the
        ledger holds.

        Parameters:
            stop: set to end early (between meetings).

        Returns:
            How many reminders were queued.

        Raises:
            StorageError: the database failed.
        """
        calendars = self.calendars
        if not calendars:
            return 0
        now = self.units.now()
        with self.units.start() as uow:
            if not acquire_lease(
                uow.session, REMINDER_LEASE, self.worker, now=now, duration=self.lease
            ):
                return 0
        queued = 0
        try:
            for name in sorted(calendars):
                queued += self._calendar(calendars[name], name, now, stop)
        finally:
            with self.units.start() as uow:
                release_lease(uow.session, REMINDER_LEASE, self.worker)
        if queued:
            logger.info("%d reminder email(s) queued", queued)
        return queued

    def _calendar(
        self, calendar: CalendarProfile, name: str, now: dt.datetime, stop: threading.Event | None
    ) -> int:
        """The meetings of one calendar due a look (``reminder_check_at`` by now + lead)."""
        lead = calendar.reminder_lead
        assert lead is not None
        with self.units.start() as uow:
            ids = list(
                uow.session.scalars(
                    select(OutboundMeeting.id)
                    .where(
                        OutboundMeeting.calendar == name,
                        OutboundMeeting.reminder_check_at <= now + lead,
                    )
                    .order_by(OutboundMeeting.reminder_check_at, OutboundMeeting.id)
                )
            )
        queued = 0
        for meeting_id in ids:
            if stop is not None and stop.is_set():
                break
            with self.units.start() as uow:
                queued += self._meeting(uow.session, meeting_id, calendar, now)
        return queued

    def _meeting(
        self,
        session: Session,
        meeting_row_id: int,
        calendar: CalendarProfile,
        now: dt.datetime,
    ) -> int:
        row = session.scalars(
            select(OutboundMeeting)
            .where(OutboundMeeting.id == meeting_row_id)
            .options(selectinload(OutboundMeeting.attendees))
        ).one()
        lead = calendar.reminder_lead
        assert lead is not None
        due = _due_and_file(row, calendar, lead, now)
        if not due:
            return 0
        state = ledger_state(row)
        assert state.snapshot is not None
        sent = set(
            session.execute(
                select(OutboundReminder.attendee_id, OutboundReminder.occurrence).where(
                    OutboundReminder.meeting_id == row.id
                )
            ).all()
        )
        rows = {a.address: a for a in row.attendees}
        listed = [a for a in state.attendees if a.invited]
        details = meeting_details(state.snapshot, calendar, listed)
        sequences = series_sequences(session, row.id) if self.links is not None else {}
        queued = 0
        for attendee in listed:
            if not _wants_reminders(attendee):
                continue
            target = rows[attendee.address]
            links = None
            if self.links is not None:
                sequence = sequences.get(target.id, attendee.last_sequence_sent)
                links = self.links.reminder_links(attendee, calendar, sequence=sequence)
            for occurrence in due:
                if (target.id, occurrence.key) in sent or not _invited_in_time(
                    attendee, occurrence, lead
                ):
                    continue
                queued += self._queue(
                    session, row, target.id, attendee, occurrence, calendar, details, now, links
                )
        return queued

    def _queue(
        self,
        session: Session,
        row: OutboundMeeting,
        attendee_id: int,
        attendee: LedgerAttendee,
        occurrence: Occurrence,
        calendar: CalendarProfile,
        details: MeetingDetails,
        now: dt.datetime,
        links: AnswerLinks | None,
    ) -> int:
        assert row.snapshot is not None
        message_id = self.ids.message_id(calendar.domain)
        organizer = organizer_for(
            calendar,
            name=details.organizer_name,
            user_address=details.organizer_email,
            token=attendee.token,
        )
        raw = write_reminder(
            details,
            attendee,
            calendar,
            start=occurrence.start,
            end=occurrence.end,
            message_id=message_id,
            reply_to=calendar.reply_to or organizer.email,
            now=now,
            answer_links=links,
        )
        try:
            with session.begin_nested():
                session.add(
                    OutboundReminder(
                        meeting_id=row.id,
                        attendee_id=attendee_id,
                        occurrence=occurrence.key,
                        message_id=f"<{message_id}>",
                        created_at=now,
                    )
                )
                session.flush()
        except IntegrityError:
            return 0  # another worker queued it first
        enqueue(
            session,
            message_id=f"<{message_id}>",
            sender=calendar.sender,
            recipient=attendee.address,
            now=now,
            kind="reminder",
            meeting_id=row.id,
            attendee_id=attendee_id,
            recurrence_id=occurrence.key,
            raw=raw,
        )
        return 1


def series_sequences(session: Session, meeting_row_id: int) -> dict[int, int]:
    """The SEQUENCE of the latest invitation to the whole meeting each attendee was sent.

    What the links of that invitation carry (REQUESTs without a RECURRENCE-ID, not
    withdrawn), so a reminder's links are the invitation's own; one query on the outbox's
    meeting index.

    Parameters:
        session: an open session.
        meeting_row_id: the ledger meeting's row id.

    Returns:
        Attendee row id -> SEQUENCE; an attendee whose invitations the outbox no longer
        keeps (pruned) is missing.
    """
    found = session.execute(
        select(OutboxMessage.attendee_id, func.max(OutboxMessage.sequence))
        .where(
            OutboxMessage.meeting_id == meeting_row_id,
            OutboxMessage.method == "REQUEST",
            OutboxMessage.recurrence_id.is_(None),
            OutboxMessage.state != OutboxState.CANCELLED,
            OutboxMessage.attendee_id.is_not(None),
            OutboxMessage.sequence.is_not(None),
        )
        .group_by(OutboxMessage.attendee_id)
    )
    return {
        attendee: sequence
        for attendee, sequence in found
        if attendee is not None and sequence is not None
    }


def _due_and_file(
    row: OutboundMeeting, calendar: CalendarProfile, lead: dt.timedelta, now: dt.datetime
) -> list[Occurrence]:
    """The occurrences of ``row`` due a reminder now; files the meeting's next look.

    ``reminder_check_at`` becomes the start of the next occurrence (the meeting is read
    again from ``lead`` before it, and on every pass while an occurrence is in the window,
    so an attendee who accepts late still gets one), or, with nothing in the next
    ``CHECK_HORIZON``, the end of that horizon; NULL for a meeting that needs none (it is
    filed again when its ledger changes).
    """
    ended = row.ends_at is not None and row.ends_at <= now
    if row.cancelled or row.deleted or not row.snapshot or ended:
        row.reminder_check_at = None
        return []
    try:
        snapshot = ledger_state(row).snapshot
        assert snapshot is not None
        due = due_occurrences(snapshot, after=now, until=now + lead, zone=calendar.time_zone)
        ahead = due or due_occurrences(
            snapshot,
            after=now + lead,
            until=now + lead + CHECK_HORIZON,
            zone=calendar.time_zone,
        )
    except GatewayError as exc:
        logger.warning("meeting %s: no reminders: %s", row.crm_meeting_id, exc)
        row.reminder_check_at = None
        return []
    row.reminder_check_at = ahead[0].starts_at if ahead else now + lead + CHECK_HORIZON
    return due


def _wants_reminders(attendee: LedgerAttendee) -> bool:
    """External, still invited, and not declined."""
    return not attendee.internal and attendee.invited and attendee.partstat is not PartStat.DECLINED


def _invited_in_time(attendee: LedgerAttendee, occurrence: Occurrence, lead: dt.timedelta) -> bool:
    """Invited before the reminder was due (else the invitation itself is the reminder)."""
    return attendee.invited_at is not None and attendee.invited_at <= occurrence.starts_at - lead
