"""Use cases: a meeting's history and an inbound message's history.

``invitegw outbox history --meeting ID``, ``invitegw inbound history MESSAGE-ID`` and the
web console's meeting and message pages call these.

- :func:`meeting_history`: what the gateway knows of one CRM meeting: its ledger row (UID,
  SEQUENCE, cancelled), each attendee (what they were last sent and when, with which
  SEQUENCE, and their answer), every message queued for it (oldest first, with its state),
  and the event log's entries for it.
- :func:`message_history`: what became of one received message: each time it was
  processed (outcome and reason), its quarantine rows, the invitations it fed, and the log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from invitegw.errors import GatewayError
from invitegw.gateway.app.json_values import iso_utc
from invitegw.gateway.app.outbox import OutboxEntry
from invitegw.gateway.app.quarantine import QuarantineEntry
from invitegw.gateway.storage import (
    EventLogEntry,
    InboundEvent,
    InboundEventSource,
    OutboundAttendee,
    OutboundMeeting,
    OutboxMessage,
    ProcessedMessage,
    QuarantinedMessage,
)

if TYPE_CHECKING:
    from invitegw.gateway.bootstrap import Gateway

__all__ = [
    "AttendeeState",
    "HistoryError",
    "LogLine",
    "MeetingHistory",
    "MessageHistory",
    "Processing",
    "meeting_history",
    "message_history",
]

_MAX_LOG = 500


class HistoryError(GatewayError):
    """Nothing is known of the meeting or message asked for."""


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    return value


@dataclass(frozen=True, slots=True)
class LogLine:
    """One event log entry."""

    created_at: dt.datetime
    level: str
    kind: str
    text: str
    meeting_id: str | None
    task_id: str | None
    message_id: str | None

    @classmethod
    def of(cls, row: EventLogEntry) -> LogLine:
        """The line of an event log row."""
        return cls(
            row.created_at,
            row.level.value,
            row.kind,
            row.text,
            row.meeting_id,
            row.task_id,
            row.message_id,
        )


@dataclass(frozen=True, slots=True)
class AttendeeState:
    """One attendee of a meeting: what they were sent last, and their answer."""

    address: str
    name: str
    role: str
    removed: bool
    last_sequence_sent: int | None
    last_sent_at: dt.datetime | None
    delivery_state: str
    delivery_error: str | None
    partstat: str
    partstat_sequence: int | None
    partstat_at: dt.datetime | None

    @classmethod
    def of(cls, row: OutboundAttendee) -> AttendeeState:
        """The state of a ledger attendee row."""
        return cls(
            row.address,
            row.name,
            row.role,
            row.removed,
            row.last_sequence_sent,
            row.last_sent_at,
            row.delivery_state.value,
            row.delivery_error,
            row.partstat,
            row.partstat_sequence,
            row.partstat_dtstamp,
        )


@dataclass(frozen=True, slots=True)
class MeetingHistory:
    """See :func:`meeting_history`."""

    meeting_id: str
    uid: str
    calendar: str
    sequence: int
    cancelled: bool
    deleted: bool
    updated_at: dt.datetime
    attendees: tuple[AttendeeState, ...]
    messages: tuple[OutboxEntry, ...]
    log: tuple[LogLine, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON object (times ISO 8601 UTC with ``Z``)."""
        record: dict[str, Any] = _json(asdict(self))
        record["messages"] = [m.to_json() for m in self.messages]
        return record


@dataclass(frozen=True, slots=True)
class Processing:
    """One time a received message was processed."""

    processed_at: dt.datetime
    source: str
    outcome: str
    reason: str | None
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class MessageHistory:
    """See :func:`message_history`."""

    message_id: str
    processings: tuple[Processing, ...]
    quarantine: tuple[QuarantineEntry, ...]
    invitations: tuple[dict[str, Any], ...]
    sent: tuple[OutboxEntry, ...]
    log: tuple[LogLine, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON object (times ISO 8601 UTC with ``Z``)."""
        return {
            "message_id": self.message_id,
            "processings": _json([asdict(p) for p in self.processings]),
            "quarantine": [q.to_json() for q in self.quarantine],
            "invitations": _json(list(self.invitations)),
            "sent": [s.to_json() for s in self.sent],
            "log": _json([asdict(line) for line in self.log]),
        }


def meeting_history(gateway: Gateway, meeting_id: str) -> MeetingHistory:
    """What the gateway did for one CRM meeting (see the module docstring).

    Parameters:
        gateway: the assembled gateway.
        meeting_id: the CRM's id of the meeting.

    Returns:
        The history.

    Raises:
        HistoryError: the gateway never handled this meeting.
    """
    with gateway.store.session() as session:
        meeting = session.scalar(
            select(OutboundMeeting).where(OutboundMeeting.crm_meeting_id == meeting_id)
        )
        if meeting is None:
            raise HistoryError(f"no meeting {meeting_id!r} in the gateway's ledger")
        attendees = tuple(
            AttendeeState.of(a) for a in sorted(meeting.attendees, key=lambda a: a.id)
        )
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.meeting_id == meeting.id)
            .order_by(OutboxMessage.id)
        )
        messages = tuple(OutboxEntry.of(row, meeting_id) for row in rows)
        log = session.scalars(
            select(EventLogEntry)
            .where(EventLogEntry.meeting_id == meeting_id)
            .order_by(EventLogEntry.id)
            .limit(_MAX_LOG)
        )
        return MeetingHistory(
            meeting_id=meeting_id,
            uid=meeting.uid,
            calendar=meeting.calendar,
            sequence=meeting.sequence,
            cancelled=meeting.cancelled,
            deleted=meeting.deleted,
            updated_at=meeting.updated_at,
            attendees=attendees,
            messages=messages,
            log=tuple(LogLine.of(row) for row in log),
        )


def _forms(message_id: str) -> Sequence[str]:
    """The Message-ID with and without angle brackets (the tables keep either)."""
    bare = message_id.strip().removeprefix("<").removesuffix(">")
    return (bare, f"<{bare}>")


def message_history(gateway: Gateway, message_id: str) -> MessageHistory:
    """What became of one message, received or sent (see the module docstring).

    Parameters:
        gateway: the assembled gateway.
        message_id: its Message-ID, with or without angle brackets.

    Returns:
        The history.

    Raises:
        HistoryError: the gateway has no record of it.
    """
    forms = _forms(message_id)
    if not forms[0]:
        raise HistoryError("message id: expected a Message-ID")
    with gateway.store.session() as session:
        processings = tuple(
            Processing(r.processed_at, r.source, r.outcome, r.reason, r.details)
            for r in session.scalars(
                select(ProcessedMessage)
                .where(ProcessedMessage.message_id.in_(forms))
                .order_by(ProcessedMessage.id)
            )
        )
        quarantine = tuple(
            QuarantineEntry.of(r)
            for r in session.scalars(
                select(QuarantinedMessage)
                .where(QuarantinedMessage.message_id.in_(forms))
                .order_by(QuarantinedMessage.id)
            )
        )
        invitations = tuple(_invitations(session, forms))
        sent = tuple(_sent(session, forms))
        log = tuple(
            LogLine.of(r)
            for r in session.scalars(
                select(EventLogEntry)
                .where(EventLogEntry.message_id.in_(forms))
                .order_by(EventLogEntry.id)
                .limit(_MAX_LOG)
            )
        )
    if not (processings or quarantine or invitations or sent or log):
        raise HistoryError(f"no record of message {forms[1]}")
    return MessageHistory(forms[1], processings, quarantine, invitations, sent, log)


def _invitations(session: Any, forms: Sequence[str]) -> list[dict[str, Any]]:
    query = (
        select(InboundEventSource, InboundEvent)
        .join(InboundEvent, InboundEventSource.event_id == InboundEvent.id)
        .where(InboundEventSource.message_id.in_(forms))
        .order_by(InboundEventSource.id)
    )
    return [
        {
            "received_at": source.received_at,
            "source": source.source,
            "forwarder": source.forwarder,
            "organizer": event.organizer,
            "uid": event.uid,
            "sequence": event.sequence,
            "task_id": event.task_id,
            "state": event.state.value,
        }
        for source, event in session.execute(query)
    ]


def _sent(session: Any, forms: Sequence[str]) -> list[OutboxEntry]:
    query = (
        select(OutboxMessage, OutboundMeeting.crm_meeting_id)
        .outerjoin(OutboundMeeting, OutboxMessage.meeting_id == OutboundMeeting.id)
        .where(OutboxMessage.message_id.in_(forms))
    )
    return [OutboxEntry.of(row, crm_id) for row, crm_id in session.execute(query)]
