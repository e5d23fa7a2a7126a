"""COUNTER and REFRESH from an attendee (:rfc:`5546` sections 3.2.7 and 3.2.6).

A counter-proposal is logged on the meeting and passed on to the organizer on record as a
notice, once (:mod:`~invitegw.gateway.inbound.notices`); the meeting itself never changes.
A REFRESH asks the outbound side to send the sender's copy of the invitation again
(:func:`~invitegw.gateway.outbound.feed.request_resend`). Both trust the From address only when
it is an ATTENDEE of the message (when the message names any).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from invitegw.domain.addresses import same_address
from invitegw.domain.records import LogLevel
from invitegw.errors import MimeError
from invitegw.gateway.inbound.answers import (
    AttendeeMessage,
    comment_text,
    ical_recurrence_id,
    spoofed,
)
from invitegw.gateway.inbound.correlate import calendar_of, organizer_on_record
from invitegw.gateway.inbound.model import EventResult, InboundOutcome
from invitegw.gateway.inbound.notices import (
    notice_message_id,
    queue_notice,
    received_key,
    write_notice,
)
from invitegw.gateway.inbound.returns import meeting_title, meeting_zone
from invitegw.gateway.outbound.feed import request_resend
from invitegw.gateway.storage import log_event
from invitegw.itip.policy import NonInviteeReplyPolicy

__all__ = ["counter", "refresh"]


# -- COUNTER --------------------------------------------------------------------------------


def _moment(value: dt.date | dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%d %H:%M")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _span(
    start: dt.date | dt.datetime, end: dt.date | dt.datetime | None, zone: zoneinfo.ZoneInfo
) -> str:
    text = _moment(start, zone)
    if end is not None:
        end_text = _moment(end, zone)
        same_day = end_text[:10] == text[:10] and isinstance(start, dt.datetime)
        text += "–" + (end_text[11:] if same_day else end_text)
    if isinstance(start, dt.datetime) and start.tzinfo is not None:
        text += f" ({zone.key})"
    return text


def counter(message: AttendeeMessage) -> EventResult:
    event = message.event
    if event.attendees and not any(same_address(a.email, message.sender) for a in event.attendees):
        return spoofed(message, "COUNTER")
    if message.off:
        message.note(
            LogLevel.INFO,
            f"counter-proposal from {message.sender} after the meeting was cancelled: "
            "not passed on",
            "counter",
        )
        return message.result(
            InboundOutcome.IGNORED, "counter-proposal for a cancelled meeting: not passed on"
        )
    invited = message.invitee() is not None
    policy = message.gateway.settings.inbound.non_invitee_replies
    if not invited and policy is NonInviteeReplyPolicy.IGNORE:
        message.note(
            LogLevel.INFO,
            f"counter-proposal from {message.sender}, who is not invited: ignored "
            "(inbound.non_invitee_replies = ignore)",
            "counter",
        )
        return message.result(
            InboundOutcome.IGNORED,
            f"counter-proposal from {message.sender}, who is not invited: ignored "
            "(inbound.non_invitee_replies = ignore)",
        )
    zone = meeting_zone(message.gateway.settings, message.meeting)
    proposal = _span(event.start, event.end, zone) if event.start_given else "(no new time)"
    details = [f"proposed time: {proposal}"]
    if event.location:
        details.append(f"location: {' '.join(event.location.split())}")
    if event.summary:
        details.append(f"title: {' '.join(event.summary.split())}")
    comment = comment_text(event)
    if comment:
        details.append(f"comment: {comment}")
    recurrence_id = ical_recurrence_id(event.recurrence_id)
    if recurrence_id:
        details.append(f"for the occurrence {recurrence_id}")
    if event.sequence < message.meeting.sequence:
        details.append(
            f"made on an older version of the invitation (SEQUENCE {event.sequence}, "
            f"current {message.meeting.sequence})"
        )
    who = message.sender if invited else f"{message.sender} (not invited)"
    line = f"counter-proposal from {who}: " + "; ".join(details)
    organizer = organizer_on_record(message.meeting)
    if organizer is None:
        message.note(LogLevel.WARNING, line + "; no organizer address on record to tell", "counter")
        return message.result(
            InboundOutcome.COUNTER_LOGGED,
            "counter-proposal logged; no organizer address on record to pass it on to",
        )
    calendar = calendar_of(message.gateway.settings, message.meeting)
    key = f"{received_key(message.received, message.extraction)}\0{event.uid}\0{recurrence_id}"
    message_id = notice_message_id("counter", key, calendar.sender.rpartition("@")[2])
    title = meeting_title(message.meeting, fallback=event.summary)
    text = (
        f'{who} proposes a change to the meeting "{title}".\n\n'
        + "\n".join(f"  {d[:1].upper()}{d[1:]}" for d in details)
        + "\n\nThe meeting itself is unchanged. If you agree, change it in the CRM and "
        "every attendee gets the update; to answer the attendee, reply to this message.\n"
    )
    try:
        raw = write_notice(
            calendar=calendar,
            organizer=organizer,
            subject=f'Counter-proposal from {message.sender}: "{title}"',
            text=text,
            message_id=message_id,
            now=message.now,
            reply_to=message.sender,
        )
    except MimeError as exc:
        message.note(LogLevel.WARNING, f"{line}; the notice could not be written: {exc}", "counter")
        return message.result(
            InboundOutcome.COUNTER_LOGGED,
            f"counter-proposal logged; the notice to the organizer failed: {exc}",
        )
    reason = f"counter-proposal from {message.sender} logged and passed on to {organizer}"
    if message.dry_run:
        return message.result(InboundOutcome.COUNTER_LOGGED, reason)
    queued = queue_notice(
        message.session,
        message_id=message_id,
        raw=raw,
        sender=calendar.sender,
        organizer=organizer,
        kind="counter-notice",
        meeting_row_id=message.meeting.id,
        now=message.now,
    )
    if not queued:
        return message.result(
            InboundOutcome.COUNTER_LOGGED,
            f"counter-proposal from {message.sender} already passed on to {organizer}",
        )
    message.note(LogLevel.INFO, f"{line}; passed on to the organizer {organizer}", "counter")
    return message.result(InboundOutcome.COUNTER_LOGGED, reason)


# -- REFRESH --------------------------------------------------------------------------------


def refresh(message: AttendeeMessage) -> EventResult:
    event = message.event
    if event.attendees and not any(same_address(a.email, message.sender) for a in event.attendees):
        return spoofed(message, "REFRESH")
    if message.off:
        return message.result(
            InboundOutcome.IGNORED,
            f"refresh request from {message.sender}: the meeting is cancelled, nothing re-sent",
        )
    invitee = message.invitee()
    if invitee is None:
        return message.result(
            InboundOutcome.IGNORED,
            f"refresh request from {message.sender}, who is not invited: nothing re-sent",
        )
    if not message.dry_run and not request_resend(
        message.session, uid=message.meeting.uid, address=message.sender, now=message.now
    ):
        return message.result(
            InboundOutcome.IGNORED,
            f"refresh request from {message.sender}: the invitation cannot be re-sent",
        )
    if not message.dry_run:
        log_event(
            message.session,
            now=message.now,
            level=LogLevel.INFO,
            kind="refresh",
            text=f"{message.sender} asked for the invitation again (REFRESH)",
            meeting_id=message.crm_meeting_id,
            message_id=message.extraction.headers.message_id,
        )
    return message.result(
        InboundOutcome.REFRESH_SENT,
        f"the current invitation will be sent to {message.sender} again",
    )
