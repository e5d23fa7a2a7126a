"""What comes back from attendees: REPLY, COUNTER and REFRESH, bounces, replies by hand.

The inbound pipeline calls these inside its transaction (it commits; nothing here does),
once it knows what the message is:

- :func:`handle_attendee_message`: one VEVENT of a REPLY, COUNTER or REFRESH calendar
  (:rfc:`5546` sections 3.2.3, 3.2.7, 3.2.6) about an invitation the gateway sent (REPLY
  here; COUNTER and REFRESH in :mod:`~invitegw.gateway.inbound.proposals`);
- :func:`handle_bounce` (:mod:`~invitegw.gateway.inbound.returns`): a delivery failure
  report of one of our messages;
- :func:`handle_human_reply` (:mod:`~invitegw.gateway.inbound.returns`): a message without
  a calendar object sent to one of our reply-token addresses.

The invitation is found by the reply token in the addresses the message was sent to, else
by UID (:mod:`~invitegw.gateway.inbound.correlate`). Trust rests on the From address alone
(normalized; display names are never read): a REPLY counts only when From is the ATTENDEE
answering, and that attendee is on the ledger of the meeting. Other ATTENDEEs in the reply
are ignored. Decisions taken here:

- A reply answering for an invitee other than the one whose token it was sent to (the
  invitation was passed on to a colleague who is also invited) counts for the person
  answering: the token names the meeting, From and ATTENDEE name the person.
- A reply from someone not on the ledger, or taken off the meeting, follows
  ``inbound.non_invitee_replies``: ``record`` records it on the CRM meeting with a comment
  saying so and a warning in its log; ``ignore`` only logs it.
- A reply to a cancelled (or deleted) meeting is not recorded (the answer no longer means
  anything and the CRM may refuse it): ``ignored``, with a line in the meeting's CRM log so
  the organizer sees an answer crossed the cancellation.
- A reply for one occurrence (RECURRENCE-ID) is recorded with that ``recurrence_id`` and
  does not change the attendee's answer to the series on the ledger; staleness of such
  replies is judged against the earlier replies for that occurrence (the event log).
- A stale reply (older SEQUENCE, or the same SEQUENCE and a DTSTAMP not newer than the
  answer on record) changes nothing: ``duplicate``, reason ``stale reply``.
- A REPLY whose PARTSTAT is NEEDS-ACTION answers nothing: ``ignored``.
- The organizer's own REPLY (the CHAIR) is ``ignored``.
- A COUNTER is judged like a REPLY for trust (From must be an ATTENDEE of it; a
  non-invitee follows the same policy); it is logged on the meeting and the organizer on
  record gets a notice once (:mod:`~invitegw.gateway.inbound.notices`). The meeting itself
  is never changed.
- A REFRESH asks :func:`~invitegw.gateway.outbound.feed.request_resend` for From's copy; From
  must be the ATTENDEE of the REFRESH when it names one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import CrmPort
from invitegw.domain.addresses import normalize_address, same_address
from invitegw.domain.records import LogLevel, ResponseRecord
from invitegw.errors import CrmNotFoundError, GatewayError
from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.inbound.answers import (
    AttendeeMessage,
    comment_text,
    ical_recurrence_id,
    sender_of,
    sender_of_address,
    spoofed,
)
from invitegw.gateway.inbound.correlate import attendee_row, correlate
from invitegw.gateway.inbound.model import EventResult, InboundOutcome, ReceivedMessage
from invitegw.gateway.inbound.proposals import counter, refresh
from invitegw.gateway.inbound.returns import handle_bounce, handle_human_reply
from invitegw.gateway.storage import EventLogEntry, OutboundAttendee, log_event
from invitegw.ics.model import Attendee, CalendarObject, Event, Method, PartStat, Role
from invitegw.itip.keys import is_calendar_service
from invitegw.itip.policy import NonInviteeReplyPolicy
from invitegw.mailbox.mime.extract import Extraction

__all__ = [
    "REPLY_RECORDED_KIND",
    "handle_attendee_message",
    "handle_bounce",
    "handle_human_reply",
    "ical_recurrence_id",
]

logger = logging.getLogger(__name__)

# The event-log kind of a recorded answer; its details keep what the stale check needs.
REPLY_RECORDED_KIND = "reply-recorded"
_WHAT = {
    Method.REPLY: "reply",
    Method.COUNTER: "counter-proposal",
    Method.REFRESH: "refresh request",
}


def handle_attendee_message(
    gateway: Gateway,
    session: Session,
    crm: CrmPort,
    *,
    received: ReceivedMessage,
    extraction: Extraction,
    calendar: CalendarObject,
    event: Event,
    now: dt.datetime,
    dry_run: bool = False,
) -> EventResult:
    """Apply one VEVENT of a REPLY, COUNTER or REFRESH (see the module docstring).

    Parameters:
        gateway: the gateway (settings, CRM).
        session: the caller's unit of work; nothing is committed here.
        crm: the CRM port for ``session``.
        received: the message as its source received it (envelope recipients).
        extraction: what the message holds (its From, To, Cc, Message-ID).
        calendar: the calendar object (its ``method`` is REPLY, COUNTER or REFRESH).
        event: the VEVENT (one RECURRENCE-ID) to apply.
        now: the current time.
        dry_run: decide only: no row, CRM write or outbox message is written.

    Returns:
        ``reply_recorded``, ``counter_logged``, ``refresh_sent``, ``duplicate`` (a stale
        reply), ``ignored`` or ``quarantined``, with a reason.

    Raises:
        CrmUnavailableError: the CRM cannot take the write now (the caller retries).
        StorageError: the database failed.
    """
    method = calendar.method
    what = _WHAT.get(method, method.value)
    base = EventResult(
        outcome=InboundOutcome.QUARANTINED,
        uid=event.uid,
        recurrence_id=ical_recurrence_id(event.recurrence_id),
        method=method.value,
    )
    if method not in _WHAT:
        return dataclasses.replace(base, reason=f"unsupported method {method.value}")
    headers = extraction.headers
    sender = sender_of(extraction)
    services = gateway.settings.inbound.calendar_services
    if is_calendar_service(sender, services) and len(event.attendees) == 1:
        # iCloud answers for its user from an address of its own: the one ATTENDEE it
        # names is who answers (a ledger attendee still, or the non-invitee policy applies).
        sender = sender_of_address(event.attendees[0].email)
    addresses = [
        *received.envelope_to,
        *(m.address for m in headers.to),
        *(m.address for m in headers.cc),
        event.organizer.email if event.organizer is not None else None,
    ]
    found = correlate(session, gateway.settings, addresses=addresses, uid=event.uid, sender=sender)
    if found is None:
        return dataclasses.replace(
            base,
            reason=f"{what} to an unknown invitation (UID {event.uid!r}): "
            "the gateway sent no invitation with this UID or reply address",
        )
    if sender is None:
        return dataclasses.replace(
            base,
            meeting_id=found.meeting.crm_meeting_id,
            reason=f"{what} without a single valid From address: cannot tell who sent it",
        )
    message = AttendeeMessage(
        gateway=gateway,
        session=session,
        crm=crm,
        received=received,
        extraction=extraction,
        calendar=calendar,
        event=event,
        now=now,
        dry_run=dry_run,
        meeting=found.meeting,
        sender=sender,
    )
    if method is Method.REPLY:
        return _reply(message)
    if method is Method.COUNTER:
        return counter(message)
    return refresh(message)


# -- REPLY ----------------------------------------------------------------------------------


def _reply(message: AttendeeMessage) -> EventResult:
    event = message.event
    if not event.attendees:
        return message.result(
            InboundOutcome.QUARANTINED, "REPLY without an ATTENDEE: it answers for nobody"
        )
    answering = next((a for a in event.attendees if same_address(a.email, message.sender)), None)
    if answering is None:
        return spoofed(message, "REPLY")
    partstat = answering.partstat
    if partstat is PartStat.NEEDS_ACTION:
        return message.result(
            InboundOutcome.IGNORED, f"reply from {message.sender} gives no answer (NEEDS-ACTION)"
        )
    if message.off:
        state = "deleted" if message.meeting.deleted else "cancelled"
        message.note(
            LogLevel.INFO,
            f"{message.sender} answered {partstat.value} after the meeting was {state}: "
            "not recorded",
            "reply-after-cancel",
        )
        return message.result(
            InboundOutcome.IGNORED,
            f"reply to a {state} meeting: not recorded ({message.sender} answered "
            f"{partstat.value})",
        )
    row = attendee_row(message.meeting, message.sender)
    if row is not None and row.role == Role.CHAIR.value:
        return message.result(
            InboundOutcome.IGNORED, f"the organizer's own reply ({message.sender}): nothing to do"
        )
    if row is None or row.removed:
        return _non_invitee_reply(message, answering, removed=row is not None)
    stamp = _stamp(message)
    recorded = _recorded(message, row)
    if recorded is not None and _stale(event.sequence, stamp, *recorded):
        return message.result(InboundOutcome.DUPLICATE, "stale reply")
    return _record(message, answering, row, stamp)


def _stamp(message: AttendeeMessage) -> dt.datetime:
    """The reply's DTSTAMP; its Date header or now when it has none (invalid, but seen)."""
    stamp = message.event.dtstamp or message.extraction.headers.date or message.now
    return stamp.astimezone(dt.UTC) if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def _stale(
    sequence: int, stamp: dt.datetime, recorded_sequence: int, recorded_stamp: dt.datetime | None
) -> bool:
    """Older SEQUENCE, or the same SEQUENCE and a DTSTAMP not newer (:rfc:`5546` 2.1.5)."""
    if sequence != recorded_sequence:
        return sequence < recorded_sequence
    return recorded_stamp is not None and stamp <= recorded_stamp


def _recorded(
    message: AttendeeMessage, row: OutboundAttendee
) -> tuple[int, dt.datetime | None] | None:
    """SEQUENCE and DTSTAMP of the answer on record (the series, or this occurrence)."""
    recurrence_id = ical_recurrence_id(message.event.recurrence_id)
    if recurrence_id is None:
        if row.partstat_sequence is None:
            return None
        return row.partstat_sequence, row.partstat_dtstamp
    latest: tuple[int, dt.datetime] | None = None
    entries = message.session.scalars(
        select(EventLogEntry).where(
            EventLogEntry.meeting_id == message.crm_meeting_id,
            EventLogEntry.kind == REPLY_RECORDED_KIND,
        )
    )
    for entry in entries:
        details = entry.details or {}
        if details.get("attendee") != row.address or details.get("recurrence_id") != recurrence_id:
            continue
        try:
            seen = (int(details["sequence"]), dt.datetime.fromisoformat(details["dtstamp"]))
        except (KeyError, TypeError, ValueError):
            continue
        if latest is None or seen > latest:
            latest = seen
    return latest


def _delegated_to(answering: Attendee) -> str | None:
    if answering.partstat is not PartStat.DELEGATED:
        return None
    out = []
    for value in answering.delegated_to:
        try:
            out.append(normalize_address(value))
        except GatewayError:
            continue
    return ", ".join(out) or None


def _record(
    message: AttendeeMessage, answering: Attendee, row: OutboundAttendee, stamp: dt.datetime
) -> EventResult:
    event = message.event
    partstat = answering.partstat
    recurrence_id = ical_recurrence_id(event.recurrence_id)
    delegated_to = _delegated_to(answering)
    answer = partstat.value + (f" (delegated to {delegated_to})" if delegated_to else "")
    occurrence = f" for the occurrence {recurrence_id}" if recurrence_id else ""
    reason = f"{message.sender} answered {answer}{occurrence}"
    if message.dry_run:
        return message.result(InboundOutcome.REPLY_RECORDED, reason)
    try:
        message.crm.record_response(
            ResponseRecord(
                meeting_id=message.crm_meeting_id,
                attendee_email=message.sender,
                partstat=partstat.value,
                recurrence_id=recurrence_id,
                delegated_to=delegated_to,
                comment=comment_text(event),
                received_at=message.now,
            )
        )
    except CrmNotFoundError as exc:
        logger.warning("meeting %s: reply not recorded: %s", message.crm_meeting_id, exc)
        message.note(LogLevel.WARNING, f"reply not recorded: {exc}", "reply-failed", to_crm=False)
        return message.result(
            InboundOutcome.IGNORED,
            f"the CRM meeting {message.crm_meeting_id} no longer exists: reply not recorded",
        )
    if recurrence_id is None:
        row.partstat = partstat.value
        row.partstat_sequence = event.sequence
        row.partstat_dtstamp = stamp
        row.updated_at = message.now
    log_event(
        message.session,
        now=message.now,
        level=LogLevel.INFO,
        kind=REPLY_RECORDED_KIND,
        text=reason,
        meeting_id=message.crm_meeting_id,
        message_id=message.extraction.headers.message_id,
        details={
            "uid": event.uid,
            "attendee": row.address,
            "partstat": partstat.value,
            "recurrence_id": recurrence_id,
            "sequence": event.sequence,
            "dtstamp": stamp.isoformat(),
            "delegated_to": delegated_to,
        },
    )
    message.session.flush()
    logger.info("meeting %s: %s", message.crm_meeting_id, reason)
    return message.result(InboundOutcome.REPLY_RECORDED, reason)


def _non_invitee_reply(
    message: AttendeeMessage, answering: Attendee, *, removed: bool
) -> EventResult:
    partstat = answering.partstat.value
    who = (
        f"{message.sender}, who is no longer invited,"
        if removed
        else (f"{message.sender}, who was not invited,")
    )
    policy = message.gateway.settings.inbound.non_invitee_replies
    if policy is NonInviteeReplyPolicy.IGNORE:
        message.note(
            LogLevel.INFO,
            f"{who} answered {partstat}: ignored (inbound.non_invitee_replies = ignore)",
            "non-invitee-reply",
        )
        return message.result(
            InboundOutcome.IGNORED,
            f"reply from {message.sender}, who is not invited: ignored "
            "(inbound.non_invitee_replies = ignore)",
        )
    recurrence_id = ical_recurrence_id(message.event.recurrence_id)
    reason = f"{message.sender} is not invited: answer {partstat} recorded as from a non-invitee"
    if message.dry_run:
        return message.result(InboundOutcome.REPLY_RECORDED, reason)
    flag = "not invited" if not removed else "no longer invited"
    comment = comment_text(message.event)
    try:
        message.crm.record_response(
            ResponseRecord(
                meeting_id=message.crm_meeting_id,
                attendee_email=message.sender,
                partstat=partstat,
                recurrence_id=recurrence_id,
                delegated_to=_delegated_to(answering),
                comment=f"[{flag}] {comment}".strip(),
                received_at=message.now,
            )
        )
    except CrmNotFoundError as exc:
        message.note(LogLevel.WARNING, f"reply not recorded: {exc}", "reply-failed", to_crm=False)
        return message.result(
            InboundOutcome.IGNORED,
            f"the CRM meeting {message.crm_meeting_id} no longer exists: reply not recorded",
        )
    message.note(
        LogLevel.WARNING,
        f"{who} answered {partstat}: recorded as from a non-invitee",
        "non-invitee-reply",
    )
    return message.result(InboundOutcome.REPLY_RECORDED, reason)
