"""One attendee message (REPLY, COUNTER, REFRESH) being handled: its context and helpers.

:class:`AttendeeMessage` carries what :func:`~invitegw.gateway.inbound.replies.
handle_attendee_message` found out (the ledger meeting, the sender) and where its writes
go; it builds the :class:`~invitegw.gateway.inbound.model.EventResult` values and writes
the meeting's log lines (nothing in a dry run).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import CrmPort
from invitegw.domain.addresses import normalize_address
from invitegw.domain.records import LogLevel
from invitegw.errors import GatewayError
from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.inbound.correlate import attendee_row
from invitegw.gateway.inbound.model import EventResult, InboundOutcome, ReceivedMessage
from invitegw.gateway.outbound.ledger import crm_note
from invitegw.gateway.storage import OutboundAttendee, OutboundMeeting
from invitegw.ics.model import Attendee, CalendarObject, Event, Role
from invitegw.mailbox.mime.extract import Extraction

__all__ = [
    "AttendeeMessage",
    "comment_text",
    "ical_recurrence_id",
    "sender_of",
    "sender_of_address",
    "spoofed",
]

_MAX_COMMENT = 2000


def ical_recurrence_id(value: dt.date | dt.datetime | None) -> str | None:
    """A RECURRENCE-ID in its iCalendar text form: ``20261201T090000Z``, ``20261201``.

    Aware times are given in UTC; floating times as written (no ``Z``).
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.strftime("%Y%m%dT%H%M%S")
        return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


@dataclass
class AttendeeMessage:
    """One attendee message being handled, and where its writes go."""

    gateway: Gateway
    session: Session
    crm: CrmPort
    received: ReceivedMessage
    extraction: Extraction
    calendar: CalendarObject
    event: Event
    now: dt.datetime
    dry_run: bool
    meeting: OutboundMeeting
    sender: str

    @property
    def crm_meeting_id(self) -> str:
        return self.meeting.crm_meeting_id

    @property
    def off(self) -> bool:
        """The meeting is cancelled or deleted."""
        return self.meeting.cancelled or self.meeting.deleted

    def result(self, outcome: InboundOutcome, reason: str | None = None) -> EventResult:
        return EventResult(
            outcome=outcome,
            uid=self.event.uid,
            recurrence_id=ical_recurrence_id(self.event.recurrence_id),
            method=self.calendar.method.value,
            meeting_id=self.crm_meeting_id,
            reason=reason,
        )

    def note(self, level: LogLevel, text: str, kind: str, *, to_crm: bool = True) -> None:
        """A line in the meeting's CRM log (unless it is deleted) and the event log."""
        if self.dry_run:
            return
        crm_note(
            self.crm if to_crm and not self.meeting.deleted else None,
            self.session,
            meeting_id=self.crm_meeting_id,
            level=level,
            text=text,
            kind=kind,
            now=self.now,
            message_id=self.extraction.headers.message_id,
            details={"uid": self.event.uid, "from": self.sender},
        )

    def invitee(self) -> OutboundAttendee | None:
        """The sender's ledger row, when they are invited (listed, not removed, not CHAIR)."""
        row = attendee_row(self.meeting, self.sender)
        if row is None or row.removed or row.role == Role.CHAIR.value:
            return None
        return row


def sender_of(extraction: Extraction) -> str | None:
    """The From address, canonical; None when missing or invalid."""
    author = extraction.headers.from_
    return sender_of_address(author.address) if author is not None else None


def sender_of_address(address: str | None) -> str | None:
    """``address`` canonical (``mailto:`` allowed); None when missing or invalid."""
    if not address:
        return None
    try:
        return normalize_address(address)
    except GatewayError:
        return None


def _listed(attendees: tuple[Attendee, ...]) -> str:
    shown = [a.email for a in attendees[:3] if a.email]
    more = len(attendees) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def spoofed(message: AttendeeMessage, what: str) -> EventResult:
    attendees = message.event.attendees
    return message.result(
        InboundOutcome.QUARANTINED,
        f"spoofed {what}: it comes from {message.sender}, but the attendee in it is "
        f"{_listed(attendees)}; release it only after checking with that attendee",
    )


def comment_text(event: Event) -> str:
    text = " ".join(event.comment.split())
    return text[: _MAX_COMMENT - 1] + "…" if len(text) > _MAX_COMMENT else text
