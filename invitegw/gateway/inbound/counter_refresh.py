"""COUNTER and REFRESH from an attendee: gathered, decided, applied (:rfc:`5546` 3.2.7, 3.2.6).

The rules are pure (:mod:`~invitegw.itip.decide_counter_refresh`); here they are applied in
the unit of work:

- :func:`apply_counter`: a counter-proposal is logged on the meeting and passed on to the
  organizer on record as a notice, once (:mod:`~invitegw.gateway.inbound.
  organizer_notices`: its Message-ID derives from the COUNTER's, so a second pass queues
  nothing); the meeting itself never changes.
- :func:`apply_refresh`: the outbound side is asked to send the sender's copy of the
  invitation again (a :class:`RequestResend`, the composition root's
  :func:`~invitegw.gateway.outbound.feed.request_resend`: a mark in the same transaction),
  and the request is logged.

In a dry run the notice's outbox row and the resend mark are written in the session that
is rolled back, and the CRM keeps its log lines in memory.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy.orm import Session

from invitegw.domain.records import LogLevel
from invitegw.errors import MimeError
from invitegw.gateway.inbound.attendee_context import AttendeeMessage
from invitegw.gateway.inbound.model import EventResult, InboundOutcome
from invitegw.gateway.inbound.organizer_notices import (
    meeting_title,
    meeting_zone,
    notice_message_id,
    queue_notice,
    received_key,
    write_notice,
)
from invitegw.gateway.inbound.reply_correlation import organizer_on_record
from invitegw.gateway.storage import log_event
from invitegw.itip.decide_counter_refresh import (
    CounterAction,
    CounterDecision,
    CounterFacts,
    CounterNotice,
    Proposal,
    RefreshAction,
    RefreshFacts,
    decide_counter,
    decide_refresh,
    refresh_refused,
)

__all__ = ["RequestResend", "apply_counter", "apply_refresh"]


class RequestResend(Protocol):
    """What a REFRESH needs of the outbound side: send an attendee's copy again."""

    def __call__(self, session: Session, *, uid: str, address: str, now: dt.datetime) -> bool:
        """Mark ``address``'s copy of the meeting ``uid`` for the next pass, in ``session``.

        Returns:
            False for an unknown UID or attendee, or a meeting that is off.
        """
        ...


_COUNTER_OUTCOMES = {
    CounterAction.QUARANTINE: InboundOutcome.QUARANTINED,
    CounterAction.IGNORE: InboundOutcome.IGNORED,
    CounterAction.LOG: InboundOutcome.COUNTER_LOGGED,
}


# -- COUNTER --------------------------------------------------------------------------------


def _counter_facts(answer: AttendeeMessage) -> CounterFacts:
    event, meeting = answer.event, answer.meeting
    return CounterFacts(
        sender=answer.sender,
        attendees=event.attendees,
        meeting=answer.standing,
        invitee=answer.invitee,
        proposal=Proposal(
            start=event.start,
            end=event.end,
            start_given=event.start_given,
            location=event.location,
            summary=event.summary,
            comment=event.comment,
            recurrence_id=answer.recurrence_id,
            sequence=event.sequence,
        ),
        zone=meeting_zone(meeting, answer.config.calendar(meeting.calendar)),
        organizer=organizer_on_record(meeting),
        title=meeting_title(meeting, fallback=event.summary),
        policy=answer.config.inbound.non_invitee_replies,
    )


def apply_counter(answer: AttendeeMessage) -> EventResult:
    """Gather, decide and apply one VEVENT of a COUNTER (see the module docstring).

    Parameters:
        answer: the attendee message (its meeting found, its sender known).

    Returns:
        ``counter_logged``, ``ignored`` or ``quarantined``, with the reason.

    Raises:
        CrmUnavailableError: never for the log lines (noted in the event log instead).
    """
    decision = decide_counter(_counter_facts(answer))
    if decision.action is CounterAction.FORWARD:
        return _pass_on(answer, decision)
    answer.note(decision.note)
    return answer.result(_COUNTER_OUTCOMES[decision.action], decision.reason)


def _pass_on(answer: AttendeeMessage, decision: CounterDecision) -> EventResult:
    notice = decision.notice
    assert notice is not None
    calendar = answer.config.calendar(answer.meeting.calendar)
    message = answer.message
    key = (
        f"{received_key(message.received.raw, message.message_id)}"
        f"\0{answer.event.uid}\0{answer.recurrence_id}"
    )
    message_id = notice_message_id("counter", key, calendar.sender.rpartition("@")[2])
    try:
        raw = write_notice(
            calendar=calendar,
            organizer=notice.organizer,
            subject=notice.subject,
            text=notice.text,
            message_id=message_id,
            now=answer.unit.now,
            reply_to=notice.sender,
        )
    except MimeError as exc:
        note, reason = notice.failed(str(exc))
        answer.note(note)
        return answer.result(InboundOutcome.COUNTER_LOGGED, reason)
    if not _queue(answer, notice, message_id, raw):
        return answer.result(InboundOutcome.COUNTER_LOGGED, notice.already())
    answer.note(decision.note)
    return answer.result(InboundOutcome.COUNTER_LOGGED, decision.reason)


def _queue(answer: AttendeeMessage, notice: CounterNotice, message_id: str, raw: bytes) -> bool:
    calendar = answer.config.calendar(answer.meeting.calendar)
    return queue_notice(
        answer.unit.session,
        message_id=message_id,
        raw=raw,
        sender=calendar.sender,
        organizer=notice.organizer,
        kind="counter-notice",
        meeting_row_id=answer.meeting.id,
        now=answer.unit.now,
    )


# -- REFRESH --------------------------------------------------------------------------------


def apply_refresh(answer: AttendeeMessage, request_resend: RequestResend) -> EventResult:
    """Gather, decide and apply one VEVENT of a REFRESH (see the module docstring).

    Parameters:
        answer: the attendee message (its meeting found, its sender known).
        request_resend: asks the outbound side to send the sender's copy again.

    Returns:
        ``refresh_sent``, ``ignored`` or ``quarantined``, with the reason.
    """
    facts = RefreshFacts(
        sender=answer.sender,
        attendees=answer.event.attendees,
        meeting=answer.standing,
        invitee=answer.invitee,
    )
    decision = decide_refresh(facts)
    if decision.action is RefreshAction.QUARANTINE:
        return answer.result(InboundOutcome.QUARANTINED, decision.reason)
    if decision.action is RefreshAction.IGNORE:
        return answer.result(InboundOutcome.IGNORED, decision.reason)
    unit = answer.unit
    if not request_resend(
        unit.session, uid=answer.meeting.uid, address=answer.sender, now=unit.now
    ):
        return answer.result(InboundOutcome.IGNORED, refresh_refused(answer.sender))
    log_event(
        unit.session,
        now=unit.now,
        level=LogLevel.INFO,
        kind="refresh",
        text=decision.log_text or decision.reason,
        meeting_id=answer.crm_meeting_id,
        message_id=answer.message.message_id,
    )
    return answer.result(InboundOutcome.REFRESH_SENT, decision.reason)
