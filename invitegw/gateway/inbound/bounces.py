"""Delivery failure reports of our messages: which attendee's delivery failed, recorded.

:func:`handle_bounce` takes a delivery failure report (:rfc:`3464`, or a mailer daemon's
non-standard one) and finds the meeting it concerns: the outbox row with the Message-ID the
report returns, else the meeting of the UID of the invitation it returns. The pure rules
(:mod:`~invitegw.itip.decide_bounce`) say whose delivery failed; here the attendee's ledger
row gets ``delivery_state`` failed with the reason, and the meeting's logs a line
("delivery to x failed: 5.1.1 ..."). The outcome is always ``ignored`` (nothing for the
pipeline to do with the report itself), with the reason saying what was recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from invitegw.errors import GatewayError
from invitegw.gateway.inbound.attendee_context import write_note
from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.inbound.context import InboundMessage
from invitegw.gateway.inbound.model import EventResult, InboundOutcome
from invitegw.gateway.inbound.reply_correlation import attendee_row, meeting_by_uid
from invitegw.gateway.storage import DeliveryState, OutboundAttendee, OutboundMeeting, OutboxMessage
from invitegw.gateway.uow import UnitOfWork
from invitegw.ics import parse_calendar
from invitegw.itip.attendee_facts import Note
from invitegw.itip.decide_bounce import (
    BounceFacts,
    FailedDelivery,
    Failure,
    attendee_failures,
    decide_bounce,
    outbox_failure,
)
from invitegw.mailbox.mime.bounces import Bounce

__all__ = ["handle_bounce"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Found:
    """The meeting a report concerns, its failures, and the outbox row it returns."""

    meeting: OutboundMeeting | None = None
    failures: tuple[tuple[Failure, OutboundAttendee | None], ...] = ()
    outbox: OutboxMessage | None = None


def _failed(bounce: Bounce) -> list[FailedDelivery]:
    return [
        FailedDelivery(
            address=r.address,
            original_recipient=r.original_recipient,
            status=r.status,
            diagnostic=r.diagnostic_code,
        )
        for r in bounce.failed
    ]


def _by_outbox(session: Session, bounce: Bounce) -> _Found:
    """The meeting and failure of a report whose returned Message-ID is an outbox row."""
    if not bounce.original_message_id:
        return _Found()
    row = session.scalars(
        select(OutboxMessage).where(OutboxMessage.message_id == f"<{bounce.original_message_id}>")
    ).first()
    meeting = session.get(OutboundMeeting, row.meeting_id) if row and row.meeting_id else None
    if row is None or meeting is None:
        return _Found(outbox=row)
    failure = outbox_failure(row.recipient, _failed(bounce))
    if failure is None:
        return _Found(meeting, (), row)
    attendee = session.get(OutboundAttendee, row.attendee_id) if row.attendee_id else None
    if attendee is None:
        attendee = attendee_row(meeting, row.recipient)
    return _Found(meeting, ((failure, attendee),), row)


def _by_returned_uid(config: InboundConfig, session: Session, bounce: Bounce) -> _Found:
    """The meeting of the invitation a report returns (by UID), and its failed attendees."""
    for part in bounce.returned_calendar_parts:
        try:
            calendar = parse_calendar(
                part.data, mime_method=part.mime_method, limits=config.returned_ics_limits
            )
        except GatewayError:
            continue
        for event in calendar.events:
            meeting = meeting_by_uid(session, event.uid)
            if meeting is None:
                continue
            addresses = {row.address for row in meeting.attendees}
            failures = attendee_failures(_failed(bounce), addresses)
            return _Found(meeting, tuple((f, attendee_row(meeting, f.address)) for f in failures))
    return _Found()


def handle_bounce(unit: UnitOfWork, config: InboundConfig, message: InboundMessage) -> EventResult:
    """Record a delivery failure report of one of our messages (see the module docstring).

    Parameters:
        unit: the caller's unit of work; nothing is committed here.
        config: the inbound settings (the caps for a returned invitation).
        message: the report (``message.extraction.bounce`` is set).

    Returns:
        ``ignored``, with the reason saying what was recorded (or why nothing was).

    Raises:
        CrmUnavailableError: the CRM cannot take the log line now.
        StorageError: the database failed.
    """
    bounce = message.extraction.bounce
    if bounce is None:
        return EventResult(outcome=InboundOutcome.IGNORED, reason="not a delivery failure report")
    found = _by_outbox(unit.session, bounce)
    if found.meeting is None:
        by_uid = _by_returned_uid(config, unit.session, bounce)
        found = _Found(by_uid.meeting, by_uid.failures, found.outbox)
    meeting = found.meeting
    decision = decide_bounce(
        BounceFacts(
            original_message_id=bounce.original_message_id,
            meeting_id=meeting.crm_meeting_id if meeting is not None else None,
            ours=found.outbox is not None,
            failures=tuple(f for f, _row in found.failures),
            actions=tuple(r.action for r in bounce.recipients),
        )
    )
    if meeting is None or not decision.record:
        meeting_id = meeting.crm_meeting_id if meeting is not None else None
        return EventResult(InboundOutcome.IGNORED, meeting_id=meeting_id, reason=decision.reason)
    _record(unit, message, meeting, found, decision.notes, bounce.original_message_id)
    logger.info("meeting %s: %s", meeting.crm_meeting_id, decision.reason)
    return EventResult(
        InboundOutcome.IGNORED, meeting_id=meeting.crm_meeting_id, reason=decision.reason
    )


def _record(
    unit: UnitOfWork,
    message: InboundMessage,
    meeting: OutboundMeeting,
    found: _Found,
    notes: tuple[Note, ...],
    original_message_id: str | None,
) -> None:
    """Mark each failed attendee's delivery and note each failure on the meeting."""
    original = original_message_id or "no Message-ID"
    for (failure, attendee), note in zip(found.failures, notes, strict=True):
        if attendee is not None:
            attendee.delivery_state = DeliveryState.FAILED
            attendee.delivery_error = failure.error
            attendee.updated_at = unit.now
        write_note(
            unit,
            meeting,
            note,
            message_id=message.message_id,
            details={"recipient": failure.address, "original_message_id": original},
        )
    unit.session.flush()
