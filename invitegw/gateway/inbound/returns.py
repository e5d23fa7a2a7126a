"""Mail that comes back without an answer in it: delivery failures and replies by hand.

- :func:`handle_bounce`: a delivery failure report (:rfc:`3464`, or a mailer daemon's
  non-standard one) for one of our messages. The message is found by the Message-ID the
  report returns (an outbox row), else by the UID of the invitation it returns; the
  attendee it was for gets ``delivery_state`` failed with the reason, and the meeting's CRM
  log a line ("delivery to x failed: 5.1.1 ..."). The outcome is ``ignored`` (nothing for
  the pipeline to do with the message itself), with the reason saying what was recorded.
  A report of a delay, or about a message the gateway did not send, is ``ignored`` too.
- :func:`handle_human_reply`: a message without a calendar object sent to a reply-token
  address ("Can we move this to 3pm?"). It is forwarded to the organizer on record, once:
  the notice's Message-ID derives from the reply's, so a later pass finds the outbox row
  and queues nothing. Automatic replies (vacation notices, anything ``Auto-Submitted``) are
  never forwarded, so two robots cannot answer each other; ``inbound.forward_human_replies
  = false`` stops forwarding altogether (the reply is logged on the meeting instead).
  Nothing is ever sent to an address other than the organizer on record: the reply's own
  addresses only appear as the notice's Reply-To.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import CrmPort
from invitegw.domain.addresses import normalize_address, same_address
from invitegw.domain.records import LogLevel
from invitegw.errors import GatewayError, MimeError
from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.config import Settings
from invitegw.gateway.inbound.correlate import (
    attendee_row,
    calendar_of,
    find_tokens,
    meeting_by_uid,
    organizer_on_record,
    token_attendees,
)
from invitegw.gateway.inbound.model import EventResult, InboundOutcome, ReceivedMessage
from invitegw.gateway.inbound.notices import (
    message_text,
    notice_message_id,
    queue_notice,
    received_key,
    write_notice,
)
from invitegw.gateway.outbound.ledger import crm_note
from invitegw.gateway.outbound.snapshot import meeting_from_json
from invitegw.gateway.storage import (
    DeliveryState,
    OutboundAttendee,
    OutboundMeeting,
    OutboxMessage,
    log_event,
)
from invitegw.ics import IcsLimits, parse_calendar
from invitegw.mailbox.mime.bounces import Bounce, FailedRecipient
from invitegw.mailbox.mime.extract import Extraction

__all__ = ["handle_bounce", "handle_human_reply", "meeting_title", "meeting_zone"]

logger = logging.getLogger(__name__)

_MAX_ERROR = 1000


def meeting_title(meeting: OutboundMeeting, *, fallback: str = "") -> str:
    """The meeting's title as last sent (its snapshot), else ``fallback``."""
    if meeting.snapshot:
        try:
            title = meeting_from_json(meeting.snapshot).title
        except GatewayError:
            title = ""
        if title.strip():
            return " ".join(title.split())
    return " ".join(fallback.split()) or "(no title)"


def meeting_zone(settings: Settings, meeting: OutboundMeeting) -> zoneinfo.ZoneInfo:
    """The zone to show the meeting's times in: its own, else its calendar's, else UTC."""
    names: list[str | None] = []
    if meeting.snapshot:
        with contextlib.suppress(GatewayError):
            names.append(meeting_from_json(meeting.snapshot).time_zone)
    names.append(calendar_of(settings, meeting).time_zone)
    for name in names:
        if not name:
            continue
        try:
            return zoneinfo.ZoneInfo(name)
        except (KeyError, ValueError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def _note(
    gateway: Gateway,
    session: Session,
    crm: CrmPort,
    meeting: OutboundMeeting,
    *,
    level: LogLevel,
    text: str,
    kind: str,
    now: dt.datetime,
    extraction: Extraction,
    details: dict[str, str] | None = None,
) -> None:
    crm_note(
        None if meeting.deleted else crm,
        session,
        meeting_id=meeting.crm_meeting_id,
        level=level,
        text=text,
        kind=kind,
        now=now,
        message_id=extraction.headers.message_id,
        details=details,
    )


# -- bounces --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Failure:
    """One failed delivery to record: to whom (the ledger row, if an attendee) and why."""

    address: str
    attendee: OutboundAttendee | None
    error: str


def _error_text(recipient: FailedRecipient | None) -> str:
    if recipient is None:
        return "delivery failed"
    parts = [p for p in (recipient.status, recipient.diagnostic_code) if p]
    return (" ".join(" ".join(parts).split()) or "delivery failed")[:_MAX_ERROR]


def _addresses_of(recipient: FailedRecipient) -> list[str]:
    out = []
    for value in (recipient.address, recipient.original_recipient):
        if not value:
            continue
        try:
            out.append(normalize_address(value))
        except GatewayError:
            continue
    return out


def _by_outbox(
    session: Session, bounce: Bounce
) -> tuple[OutboundMeeting | None, list[_Failure], OutboxMessage | None]:
    """The meeting and failures of a report whose returned Message-ID is an outbox row."""
    if not bounce.original_message_id:
        return None, [], None
    row = session.scalars(
        select(OutboxMessage).where(OutboxMessage.message_id == f"<{bounce.original_message_id}>")
    ).first()
    if row is None or row.meeting_id is None:
        return None, [], row
    meeting = session.get(OutboundMeeting, row.meeting_id)
    if meeting is None:
        return None, [], row
    failed = bounce.failed
    if not failed:
        return meeting, [], row
    # An outbox message has one recipient: a failure the report names is a failure to it,
    # also when the report names it by another address (an alias the relay expanded).
    recipient = next(
        (f for f in failed if row.recipient in _addresses_of(f)),
        failed[0],
    )
    attendee = session.get(OutboundAttendee, row.attendee_id) if row.attendee_id else None
    if attendee is None:
        attendee = attendee_row(meeting, row.recipient)
    return meeting, [_Failure(row.recipient, attendee, _error_text(recipient))], row


def _by_returned_uid(
    gateway: Gateway, session: Session, bounce: Bounce
) -> tuple[OutboundMeeting | None, list[_Failure]]:
    """The meeting of the invitation a report returns (by UID), and its failed attendees."""
    limits = gateway.settings.limits
    caps = IcsLimits(
        max_object_bytes=limits.calendar_bytes,
        max_events=limits.events,
        max_attendees=limits.attendees,
    )
    for part in bounce.returned_calendar_parts:
        try:
            calendar = parse_calendar(part.data, mime_method=part.mime_method, limits=caps)
        except GatewayError:
            continue
        for event in calendar.events:
            meeting = meeting_by_uid(session, event.uid)
            if meeting is None:
                continue
            failures = []
            for recipient in bounce.failed:
                for address in _addresses_of(recipient):
                    attendee = attendee_row(meeting, address)
                    if attendee is not None:
                        failures.append(_Failure(address, attendee, _error_text(recipient)))
                        break
            return meeting, failures
    return None, []


def handle_bounce(
    gateway: Gateway,
    session: Session,
    crm: CrmPort,
    *,
    received: ReceivedMessage,
    extraction: Extraction,
    now: dt.datetime,
    dry_run: bool = False,
) -> EventResult:
    """Record a delivery failure report of one of our messages (see the module docstring).

    Parameters:
        gateway: the gateway.
        session: the caller's unit of work; nothing is committed here.
        crm: the CRM port for ``session``.
        received: the report as its source received it.
        extraction: what it holds (``extraction.bounce`` is the report).
        now: the current time.
        dry_run: decide only, write nothing.

    Returns:
        ``ignored``, with the reason saying what was recorded (or why nothing was).

    Raises:
        CrmUnavailableError: the CRM cannot take the log line now.
        StorageError: the database failed.
    """
    del received  # the report's own content says everything
    bounce = extraction.bounce
    if bounce is None:
        return EventResult(outcome=InboundOutcome.IGNORED, reason="not a delivery failure report")
    meeting, failures, row = _by_outbox(session, bounce)
    if meeting is None:
        meeting, failures = _by_returned_uid(gateway, session, bounce)
    original = bounce.original_message_id or "no Message-ID"
    if meeting is None:
        what = (
            "a message that is not about a meeting"
            if row is not None
            else ("a message the gateway did not send")
        )
        return EventResult(
            outcome=InboundOutcome.IGNORED,
            reason=f"delivery failure report for {what} ({original}): ignored",
        )
    result = EventResult(outcome=InboundOutcome.IGNORED, meeting_id=meeting.crm_meeting_id)
    if not failures:
        states = sorted({r.action or "unknown" for r in bounce.recipients}) or ["none"]
        return EventResult(
            outcome=InboundOutcome.IGNORED,
            meeting_id=meeting.crm_meeting_id,
            reason=f"delivery report for meeting {meeting.crm_meeting_id} without a permanent "
            f"failure of an attendee (actions: {', '.join(states)}): nothing recorded",
        )
    if not dry_run:
        for failure in failures:
            if failure.attendee is not None:
                failure.attendee.delivery_state = DeliveryState.FAILED
                failure.attendee.delivery_error = failure.error
                failure.attendee.updated_at = now
            _note(
                gateway,
                session,
                crm,
                meeting,
                level=LogLevel.ERROR,
                text=f"delivery to {failure.address} failed: {failure.error}",
                kind="bounce",
                now=now,
                extraction=extraction,
                details={"recipient": failure.address, "original_message_id": original},
            )
        session.flush()
    who = ", ".join(f.address for f in failures)
    logger.info("meeting %s: delivery failure recorded for %s", meeting.crm_meeting_id, who)
    return EventResult(
        outcome=result.outcome,
        meeting_id=result.meeting_id,
        reason=f"delivery failure recorded for {who}",
    )


# -- replies by hand ------------------------------------------------------------------------


def _own_address(settings: Settings, address: str) -> bool:
    return any(
        same_address(address, c.sender) or same_address(address, c.address)
        for c in settings.calendars
    )


def _forward_text(
    *,
    sender: str | None,
    invited: OutboundAttendee,
    title: str,
    extraction: Extraction,
    body: str | None,
) -> str:
    headers = extraction.headers
    author = sender or "an unknown sender"
    lines = [
        f'{author} replied to the invitation "{title}" without answering it in the calendar,',
        "so the gateway passes the message on to you. To answer, reply to this message.",
        "",
    ]
    if sender != invited.address:
        lines += [
            f"Note: that reply address was given to {invited.address}; this message comes "
            f"from {author}.",
            "",
        ]
    lines += [
        f"From: {author}",
        f"Subject: {' '.join(headers.subject.split())}",
    ]
    if headers.date is not None:
        lines.append(f"Date: {headers.date.isoformat()}")
    lines += ["", body if body is not None else "(no readable text: see the attached original)"]
    return "\n".join(lines)


def handle_human_reply(
    gateway: Gateway,
    session: Session,
    crm: CrmPort,
    *,
    received: ReceivedMessage,
    extraction: Extraction,
    now: dt.datetime,
    dry_run: bool = False,
) -> EventResult | None:
    """Forward a reply without a calendar to the organizer, once (see the module docstring).

    Parameters:
        gateway: the gateway.
        session: the caller's unit of work; nothing is committed here.
        crm: the CRM port for ``session``.
        received: the message (its bytes are attached to the forward; its envelope
            recipients are searched for a reply token).
        extraction: what it holds (From, To, Cc, Subject, automation flags).
        now: the current time.
        dry_run: decide only, write nothing.

    Returns:
        ``None`` when the message is not addressed to a reply token of ours (the pipeline
        quarantines it: no calendar object). Otherwise ``ignored`` with the reason
        (``forwarded to the organizer x``, an automatic reply, forwarding off, ...), or
        ``quarantined`` when the forward cannot be written.

    Raises:
        CrmUnavailableError: the CRM cannot take the log line now.
        StorageError: the database failed.
    """
    headers = extraction.headers
    settings = gateway.settings
    sender: str | None = None
    if headers.from_ is not None:
        try:
            sender = normalize_address(headers.from_.address)
        except GatewayError:
            sender = None
    addresses = [
        *received.envelope_to,
        *(m.address for m in headers.to),
        *(m.address for m in headers.cc),
    ]
    rows = token_attendees(session, find_tokens(settings, addresses))
    if not rows:
        return None
    invited = next((r for r in rows if r.address == sender), rows[0])
    meeting = invited.meeting

    def ignored(reason: str) -> EventResult:
        return EventResult(
            outcome=InboundOutcome.IGNORED, meeting_id=meeting.crm_meeting_id, reason=reason
        )

    if headers.is_auto_generated:
        signals = "; ".join(headers.auto_signals) or "automatic"
        if not dry_run:
            log_event(
                session,
                now=now,
                level=LogLevel.INFO,
                kind="auto-reply",
                text=f"automatic reply from {sender or 'unknown'} not forwarded ({signals})",
                meeting_id=meeting.crm_meeting_id,
                message_id=headers.message_id,
            )
        return ignored(f"automatic reply ({signals}) to a reply address: not forwarded")
    if sender is not None and _own_address(settings, sender):
        return ignored("the gateway's own message came back to a reply address: not forwarded")
    who = sender or "an unknown sender"
    if not settings.inbound.forward_human_replies:
        if not dry_run:
            _note(
                gateway,
                session,
                crm,
                meeting,
                level=LogLevel.INFO,
                text=f"a reply by mail from {who} was not forwarded "
                "(inbound.forward_human_replies = false)",
                kind="reply-not-forwarded",
                now=now,
                extraction=extraction,
            )
        return ignored(f"reply from {who} not forwarded (inbound.forward_human_replies = false)")
    organizer = organizer_on_record(meeting)
    if organizer is None:
        if not dry_run:
            _note(
                gateway,
                session,
                crm,
                meeting,
                level=LogLevel.WARNING,
                text=f"a reply by mail from {who} could not be forwarded: "
                "no organizer address on record",
                kind="reply-not-forwarded",
                now=now,
                extraction=extraction,
            )
        return ignored(f"reply from {who} not forwarded: no organizer address on record")
    calendar = calendar_of(settings, meeting)
    message_id = notice_message_id(
        "reply", received_key(received, extraction), calendar.sender.rpartition("@")[2]
    )
    already = session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.message_id == f"<{message_id}>")
    )
    if already is not None:
        return ignored(f"already forwarded to the organizer {organizer}")
    title = meeting_title(meeting)
    text = _forward_text(
        sender=sender,
        invited=invited,
        title=title,
        extraction=extraction,
        body=message_text(received.raw),
    )
    try:
        raw = write_notice(
            calendar=calendar,
            organizer=organizer,
            subject=f'Reply from {who} about "{title}": {headers.subject}',
            text=text,
            message_id=message_id,
            now=now,
            reply_to=sender,
            original=received.raw,
        )
    except MimeError as exc:
        return EventResult(
            outcome=InboundOutcome.QUARANTINED,
            meeting_id=meeting.crm_meeting_id,
            reason=f"a reply from {who} to meeting {meeting.crm_meeting_id} cannot be "
            f"forwarded to the organizer {organizer}: {exc}; forward it by hand",
        )
    reason = f"forwarded to the organizer {organizer}"
    if dry_run:
        return ignored(reason)
    if not queue_notice(
        session,
        message_id=message_id,
        raw=raw,
        sender=calendar.sender,
        organizer=organizer,
        kind="reply-forward",
        meeting_row_id=meeting.id,
        now=now,
    ):
        return ignored(f"already forwarded to the organizer {organizer}")
    _note(
        gateway,
        session,
        crm,
        meeting,
        level=LogLevel.INFO,
        text=f"a reply by mail from {who} was forwarded to the organizer {organizer}",
        kind="reply-forwarded",
        now=now,
        extraction=extraction,
    )
    logger.info("meeting %s: reply from %s forwarded to %s", meeting.crm_meeting_id, who, organizer)
    return ignored(reason)
