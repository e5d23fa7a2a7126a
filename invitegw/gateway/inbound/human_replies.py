"""Replies written by hand to a reply-token address: forwarded to the organizer, once.

:func:`handle_human_reply` takes a message without a calendar object. When it was sent to
one of our reply-token addresses ("Can we move this to 3pm?"), the pure rules
(:mod:`~invitegw.itip.decide_human_reply`) say whether it is forwarded; here the forward is
written and queued for the organizer on record, once: the notice's Message-ID derives from
the reply's (:mod:`~invitegw.gateway.inbound.organizer_notices`), so a later pass finds the
outbox row and queues nothing. A message to no token of ours is not a reply: the pipeline
quarantines it ("no calendar object").
"""

from __future__ import annotations

import logging

from invitegw.domain.addresses import same_address
from invitegw.errors import MimeError
from invitegw.gateway.config import CalendarSettings
from invitegw.gateway.inbound.attendee_context import write_note
from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.inbound.context import InboundMessage
from invitegw.gateway.inbound.model import EventResult, InboundOutcome
from invitegw.gateway.inbound.organizer_notices import (
    already_queued,
    meeting_title,
    message_text,
    notice_message_id,
    queue_notice,
    received_key,
    write_notice,
)
from invitegw.gateway.inbound.reply_correlation import (
    find_tokens,
    organizer_on_record,
    token_attendees,
)
from invitegw.gateway.storage import OutboundAttendee
from invitegw.gateway.uow import UnitOfWork
from invitegw.itip.attendee_facts import canonical_address
from invitegw.itip.decide_human_reply import (
    Forward,
    HumanReplyAction,
    HumanReplyFacts,
    decide_human_reply,
    forward_text,
)

__all__ = ["handle_human_reply"]

logger = logging.getLogger(__name__)


def _own_address(config: InboundConfig, address: str) -> bool:
    return any(
        same_address(address, c.sender) or same_address(address, c.address)
        for c in config.calendars
    )


def handle_human_reply(
    unit: UnitOfWork, config: InboundConfig, message: InboundMessage
) -> EventResult | None:
    """Forward a reply without a calendar to the organizer, once (see the module docstring).

    Parameters:
        unit: the caller's unit of work; nothing is committed here.
        config: the inbound settings (calendars, ``forward_human_replies``).
        message: the message (its bytes are attached to the forward; its envelope
            recipients, To and Cc are searched for a reply token).

    Returns:
        ``None`` when the message is not addressed to a reply token of ours. Otherwise
        ``ignored`` with the reason (``forwarded to the organizer x``, an automatic reply,
        forwarding off, ...), or ``quarantined`` when the forward cannot be written.

    Raises:
        CrmUnavailableError: the CRM cannot take the log line now.
        StorageError: the database failed.
    """
    headers = message.extraction.headers
    sender = canonical_address(headers.from_.address) if headers.from_ is not None else None
    addresses = [
        *message.received.envelope.recipients,
        *(m.address for m in headers.to),
        *(m.address for m in headers.cc),
    ]
    rows = token_attendees(unit.session, find_tokens(config.calendars, addresses))
    if not rows:
        return None
    invited = next((r for r in rows if r.address == sender), rows[0])
    meeting = invited.meeting
    facts = HumanReplyFacts(
        sender=sender,
        automatic=headers.is_auto_generated,
        auto_signals=tuple(headers.auto_signals),
        own_address=sender is not None and _own_address(config, sender),
        forwarding=config.inbound.forward_human_replies,
        organizer=organizer_on_record(meeting),
    )
    decision = decide_human_reply(facts)
    if decision.action is HumanReplyAction.FORWARD:
        assert decision.forward is not None
        return _forward(unit, config, message, invited, decision.forward)
    if decision.note is not None:
        write_note(unit, meeting, decision.note, message_id=message.message_id)
    return EventResult(
        InboundOutcome.IGNORED, meeting_id=meeting.crm_meeting_id, reason=decision.reason
    )


def _write(
    unit: UnitOfWork,
    message: InboundMessage,
    invited: OutboundAttendee,
    forward: Forward,
    calendar: CalendarSettings,
    message_id: str,
) -> bytes:
    """The forward to the organizer, with the reply attached (raises ``MimeError``)."""
    raw, headers = message.received.raw, message.extraction.headers
    title = meeting_title(invited.meeting)
    sender = canonical_address(headers.from_.address) if headers.from_ is not None else None
    text = forward_text(
        sender=sender,
        invited=invited.address,
        title=title,
        subject=headers.subject,
        date=headers.date,
        body=message_text(raw),
    )
    return write_notice(
        calendar=calendar,
        organizer=forward.organizer,
        subject=forward.subject(title, headers.subject),
        text=text,
        message_id=message_id,
        now=unit.now,
        reply_to=sender,
        original=raw,
    )


def _forward(
    unit: UnitOfWork,
    config: InboundConfig,
    message: InboundMessage,
    invited: OutboundAttendee,
    forward: Forward,
) -> EventResult:
    meeting = invited.meeting

    def ignored(reason: str) -> EventResult:
        return EventResult(InboundOutcome.IGNORED, meeting_id=meeting.crm_meeting_id, reason=reason)

    raw = message.received.raw
    calendar = config.calendar(meeting.calendar)
    message_id = notice_message_id(
        "reply", received_key(raw, message.message_id), calendar.sender.rpartition("@")[2]
    )
    if already_queued(unit.session, message_id):
        return ignored(forward.already())
    try:
        notice = _write(unit, message, invited, forward, calendar, message_id)
    except MimeError as exc:
        return EventResult(
            InboundOutcome.QUARANTINED,
            meeting_id=meeting.crm_meeting_id,
            reason=forward.failed(meeting.crm_meeting_id, str(exc)),
        )
    if not queue_notice(
        unit.session,
        message_id=message_id,
        raw=notice,
        sender=calendar.sender,
        organizer=forward.organizer,
        kind="reply-forward",
        meeting_row_id=meeting.id,
        now=unit.now,
    ):
        return ignored(forward.already())
    note, reason = forward.forwarded()
    write_note(unit, meeting, note, message_id=message.message_id)
    logger.info(
        "meeting %s: reply from %s forwarded to %s",
        meeting.crm_meeting_id,
        forward.who,
        forward.organizer,
    )
    return ignored(reason)
