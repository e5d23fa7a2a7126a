"""REPLY: an attendee's answer to one of our invitations, gathered, decided, applied.

:func:`apply_reply` gathers the facts the pure REPLY rules read
(:class:`~invitegw.itip.decide_reply.ReplyFacts`: where the sender and the meeting stand,
the answer on record), decides with :func:`~invitegw.itip.decide_reply.decide_reply` (its
docstring lists the rules) and applies the decision in the unit of work:

- **record**: the answer goes to the CRM (``record_response``); for an invitee the ledger
  keeps the answer to the series (PARTSTAT, SEQUENCE, DTSTAMP) and the event log a
  ``reply-recorded`` entry whose details judge later replies for an occurrence; a
  non-invitee's answer is recorded with a flag and a warning on the meeting;
- a CRM that no longer has the meeting: ``ignored``, with a warning in the event log;
- otherwise the decision's note (if any) and its result.

A dry run needs nothing special: its CRM keeps the answer in memory and the session is
rolled back.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from invitegw.domain.records import LogLevel, ResponseRecord
from invitegw.errors import CrmNotFoundError
from invitegw.gateway.inbound.attendee_context import AttendeeMessage
from invitegw.gateway.inbound.model import EventResult, InboundOutcome
from invitegw.gateway.inbound.reply_correlation import attendee_row
from invitegw.gateway.storage import EventLogEntry, log_event
from invitegw.itip.attendee_facts import InviteeStatus
from invitegw.itip.decide_reply import (
    Answer,
    RecordedAnswer,
    ReplyAction,
    ReplyDecision,
    ReplyFacts,
    decide_reply,
    reply_not_recorded,
    reply_stamp,
)

__all__ = ["REPLY_RECORDED_KIND", "apply_reply"]

logger = logging.getLogger(__name__)

# The event-log kind of a recorded answer; its details keep what the stale check needs.
REPLY_RECORDED_KIND = "reply-recorded"

_OUTCOMES = {
    ReplyAction.QUARANTINE: InboundOutcome.QUARANTINED,
    ReplyAction.IGNORE: InboundOutcome.IGNORED,
    ReplyAction.STALE: InboundOutcome.DUPLICATE,
}


def apply_reply(answer: AttendeeMessage) -> EventResult:
    """Gather, decide and apply one VEVENT of a REPLY (see the module docstring).

    Parameters:
        answer: the attendee message (its meeting found, its sender known).

    Returns:
        ``reply_recorded``, ``duplicate`` (stale), ``ignored`` or ``quarantined``.

    Raises:
        CrmUnavailableError: the CRM cannot take the answer now.
    """
    decision = decide_reply(_facts(answer))
    if decision.action is not ReplyAction.RECORD:
        answer.note(decision.note)
        return answer.result(_OUTCOMES[decision.action], decision.reason)
    return _record(answer, decision)


def _facts(answer: AttendeeMessage) -> ReplyFacts:
    event, invitee = answer.event, answer.invitee
    stamp = reply_stamp(event.dtstamp, answer.message.extraction.headers.date, answer.unit.now)
    return ReplyFacts(
        sender=answer.sender,
        attendees=event.attendees,
        meeting=answer.standing,
        invitee=invitee,
        sequence=event.sequence,
        stamp=stamp,
        recurrence_id=answer.recurrence_id,
        recorded=_recorded(answer) if invitee is InviteeStatus.INVITED else None,
        comment=event.comment,
        policy=answer.config.inbound.non_invitee_replies,
    )


def _recorded(answer: AttendeeMessage) -> RecordedAnswer | None:
    """SEQUENCE and DTSTAMP of the answer on record (the series, or this occurrence)."""
    row = attendee_row(answer.meeting, answer.sender)
    assert row is not None  # an invitee has a ledger row
    recurrence_id = answer.recurrence_id
    if recurrence_id is None:
        if row.partstat_sequence is None:
            return None
        return RecordedAnswer(row.partstat_sequence, row.partstat_dtstamp)
    latest: tuple[int, dt.datetime] | None = None
    entries = answer.unit.session.scalars(
        select(EventLogEntry).where(
            EventLogEntry.meeting_id == answer.crm_meeting_id,
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
    return RecordedAnswer(*latest) if latest is not None else None


def _record(answer: AttendeeMessage, decision: ReplyDecision) -> EventResult:
    recorded = decision.answer
    assert recorded is not None
    unit = answer.unit
    try:
        unit.crm.record_response(
            ResponseRecord(
                meeting_id=answer.crm_meeting_id,
                attendee_email=recorded.attendee,
                partstat=recorded.partstat,
                recurrence_id=recorded.recurrence_id,
                delegated_to=recorded.delegated_to,
                comment=recorded.comment,
                received_at=unit.now,
            )
        )
    except CrmNotFoundError as exc:
        logger.warning("meeting %s: reply not recorded: %s", answer.crm_meeting_id, exc)
        note, reason = reply_not_recorded(answer.crm_meeting_id, str(exc))
        answer.note(note)
        return answer.result(InboundOutcome.IGNORED, reason)
    if recorded.invitee:
        _keep_answer(answer, recorded, decision.reason)
        logger.info("meeting %s: %s", answer.crm_meeting_id, decision.reason)
    answer.note(decision.note)
    return answer.result(InboundOutcome.REPLY_RECORDED, decision.reason)


def _keep_answer(answer: AttendeeMessage, recorded: Answer, reason: str) -> None:
    """The invitee's answer on the ledger (series) and in the event log (the stale check)."""
    unit, event = answer.unit, answer.event
    row = attendee_row(answer.meeting, answer.sender)
    assert row is not None
    if recorded.recurrence_id is None:
        row.partstat = recorded.partstat
        row.partstat_sequence = recorded.sequence
        row.partstat_dtstamp = recorded.stamp
        row.updated_at = unit.now
    log_event(
        unit.session,
        now=unit.now,
        level=LogLevel.INFO,
        kind=REPLY_RECORDED_KIND,
        text=reason,
        meeting_id=answer.crm_meeting_id,
        message_id=answer.message.message_id,
        details={
            "uid": event.uid,
            "attendee": row.address,
            "partstat": recorded.partstat,
            "recurrence_id": recorded.recurrence_id,
            "sequence": recorded.sequence,
            "dtstamp": recorded.stamp.isoformat(),
            "delegated_to": recorded.delegated_to,
        },
    )
    unit.session.flush()
