"""The REPLY rules, pure: what an attendee's answer to one of our invitations does.

The shell finds the invitation, says where the sender and the meeting stand, and reads the
answer on record (:class:`ReplyFacts`); :func:`decide_reply` answers with a
:class:`ReplyDecision` the shell applies (:rfc:`5546` sections 3.2.3 and 2.1.5):

- A REPLY without an ATTENDEE answers for nobody: quarantined. One whose From is none of
  its ATTENDEEs is spoofed: quarantined. Other ATTENDEEs in the reply are ignored.
- PARTSTAT NEEDS-ACTION answers nothing: ignored.
- A reply to a cancelled (or deleted) meeting is not recorded (the answer no longer means
  anything and the CRM may refuse it): ignored, with a line in the meeting's log so the
  organizer sees an answer crossed the cancellation.
- The organizer's own REPLY (the CHAIR) is ignored.
- A reply from someone not on the ledger, or taken off the meeting, follows
  ``inbound.non_invitee_replies``: ``record`` records it with a comment saying so and a
  warning in the meeting's log; ``ignore`` only logs it.
- A reply answering for an invitee other than the one whose token it was sent to (the
  invitation passed on to a colleague who is also invited) counts for the person
  answering: the token names the meeting, From and ATTENDEE name the person.
- A stale reply (an older SEQUENCE, or the same SEQUENCE and a DTSTAMP not newer than the
  answer on record) changes nothing: ``stale``.
- A reply for one occurrence (RECURRENCE-ID) is recorded with it and judged against the
  earlier answers for that occurrence; it leaves the answer to the series alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from invitegw.domain.addresses import same_address
from invitegw.domain.records import LogLevel
from invitegw.ics.model import Attendee, PartStat
from invitegw.itip.attendee_facts import (
    InviteeStatus,
    MeetingStanding,
    Note,
    canonical_address,
    comment_text,
    spoof_reason,
)
from invitegw.itip.policy import NonInviteeReplyPolicy

__all__ = [
    "Answer",
    "RecordedAnswer",
    "ReplyAction",
    "ReplyDecision",
    "ReplyFacts",
    "decide_reply",
    "delegated_to",
    "is_stale",
    "reply_not_recorded",
    "reply_stamp",
]


@dataclass(frozen=True, slots=True)
class RecordedAnswer:
    """SEQUENCE and DTSTAMP of the answer on record (for the series, or the occurrence)."""

    sequence: int
    dtstamp: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ReplyFacts:
    """What the REPLY rules read about one VEVENT of a REPLY.

    Parameters:
        sender: who answers (canonical; see
            :func:`~invitegw.itip.attendee_facts.answering_sender`).
        attendees: the ATTENDEEs of the VEVENT.
        meeting: whether the meeting is still on.
        invitee: the sender's place on the meeting's ledger.
        sequence: the reply's SEQUENCE.
        stamp: the reply's time (:func:`reply_stamp`), aware.
        recurrence_id: the occurrence answered (iCalendar text), None for the series.
        recorded: the sender's answer on record for the same series or occurrence, if any.
        comment: the reply's COMMENT.
        policy: ``inbound.non_invitee_replies``.
    """

    sender: str
    attendees: tuple[Attendee, ...]
    meeting: MeetingStanding
    invitee: InviteeStatus
    sequence: int
    stamp: dt.datetime
    recurrence_id: str | None = None
    recorded: RecordedAnswer | None = None
    comment: str = ""
    policy: NonInviteeReplyPolicy = NonInviteeReplyPolicy.RECORD


class ReplyAction(StrEnum):
    """What to do with one REPLY."""

    QUARANTINE = "quarantine"
    IGNORE = "ignore"
    STALE = "stale"  # older than the answer on record: nothing changes
    RECORD = "record"  # the answer goes to the CRM (and, for an invitee, the ledger)


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer to record.

    Parameters:
        attendee: who answered (canonical).
        partstat: the PARTSTAT value.
        recurrence_id: the occurrence, None for the series.
        delegated_to: the delegates (DELEGATED only), comma-separated.
        comment: the comment the CRM keeps (flagged for a non-invitee).
        sequence: the reply's SEQUENCE.
        stamp: the reply's time.
        invitee: on the ledger: its answer is kept there (series) and in the event log.
    """

    attendee: str
    partstat: str
    recurrence_id: str | None
    delegated_to: str | None
    comment: str
    sequence: int
    stamp: dt.datetime
    invitee: bool = True


@dataclass(frozen=True, slots=True)
class ReplyDecision:
    """What to do with one REPLY, and why.

    ``note`` is written once the decision is applied (for ``record``: once the CRM took
    the answer); ``answer`` is set for ``record``.
    """

    action: ReplyAction
    reason: str
    note: Note | None = None
    answer: Answer | None = None


def reply_stamp(
    dtstamp: dt.datetime | None, date: dt.datetime | None, now: dt.datetime
) -> dt.datetime:
    """A reply's time: its DTSTAMP, else its Date header, else now (invalid, but seen), in UTC.

    Parameters:
        dtstamp: the VEVENT's DTSTAMP.
        date: the message's Date header.
        now: the current time.

    Returns:
        The time, aware (a floating one is read as UTC).
    """
    stamp = dtstamp or date or now
    return stamp.astimezone(dt.UTC) if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def is_stale(sequence: int, stamp: dt.datetime, recorded: RecordedAnswer | None) -> bool:
    """An older SEQUENCE, or the same SEQUENCE and a DTSTAMP not newer (:rfc:`5546` 2.1.5).

    Parameters:
        sequence: the reply's SEQUENCE.
        stamp: the reply's time.
        recorded: the answer on record, if any.

    Returns:
        True when the reply is older than (or as old as) the answer on record.
    """
    if recorded is None:
        return False
    if sequence != recorded.sequence:
        return sequence < recorded.sequence
    return recorded.dtstamp is not None and stamp <= recorded.dtstamp


def delegated_to(attendee: Attendee) -> str | None:
    """The valid DELEGATED-TO addresses of a DELEGATED answer, comma-separated, else None."""
    if attendee.partstat is not PartStat.DELEGATED:
        return None
    found = [canonical_address(value) for value in attendee.delegated_to]
    return ", ".join(a for a in found if a) or None


def reply_not_recorded(meeting_id: str, error: str) -> tuple[Note, str]:
    """The note and reason when the CRM no longer has the meeting an answer was for.

    Parameters:
        meeting_id: the CRM meeting id.
        error: what the CRM said.

    Returns:
        A note for the event log only, and the reason of the ``ignored`` result.
    """
    note = Note(LogLevel.WARNING, f"reply not recorded: {error}", "reply-failed", to_crm=False)
    return note, f"the CRM meeting {meeting_id} no longer exists: reply not recorded"


def decide_reply(facts: ReplyFacts) -> ReplyDecision:
    """What to do with one VEVENT of a REPLY (see the module docstring).

    Parameters:
        facts: the gathered facts.

    Returns:
        The decision.
    """
    sender = facts.sender
    if not facts.attendees:
        return ReplyDecision(
            ReplyAction.QUARANTINE, "REPLY without an ATTENDEE: it answers for nobody"
        )
    answering = next((a for a in facts.attendees if same_address(a.email, sender)), None)
    if answering is None:
        return ReplyDecision(ReplyAction.QUARANTINE, spoof_reason("REPLY", sender, facts.attendees))
    partstat = answering.partstat.value
    if answering.partstat is PartStat.NEEDS_ACTION:
        return ReplyDecision(
            ReplyAction.IGNORE, f"reply from {sender} gives no answer (NEEDS-ACTION)"
        )
    if facts.meeting.off:
        state = facts.meeting.state
        note = Note(
            LogLevel.INFO,
            f"{sender} answered {partstat} after the meeting was {state}: not recorded",
            "reply-after-cancel",
        )
        reason = f"reply to a {state} meeting: not recorded ({sender} answered {partstat})"
        return ReplyDecision(ReplyAction.IGNORE, reason, note)
    if facts.invitee is InviteeStatus.ORGANIZER:
        return ReplyDecision(
            ReplyAction.IGNORE, f"the organizer's own reply ({sender}): nothing to do"
        )
    if facts.invitee is not InviteeStatus.INVITED:
        return _non_invitee(facts, answering)
    if is_stale(facts.sequence, facts.stamp, facts.recorded):
        return ReplyDecision(ReplyAction.STALE, "stale reply")
    answer = _answer(facts, answering, comment_text(facts.comment))
    shown = partstat + (f" (delegated to {answer.delegated_to})" if answer.delegated_to else "")
    occurrence = f" for the occurrence {facts.recurrence_id}" if facts.recurrence_id else ""
    return ReplyDecision(
        ReplyAction.RECORD, f"{sender} answered {shown}{occurrence}", answer=answer
    )


def _answer(facts: ReplyFacts, answering: Attendee, comment: str) -> Answer:
    return Answer(
        attendee=facts.sender,
        partstat=answering.partstat.value,
        recurrence_id=facts.recurrence_id,
        delegated_to=delegated_to(answering),
        comment=comment,
        sequence=facts.sequence,
        stamp=facts.stamp,
        invitee=facts.invitee is InviteeStatus.INVITED,
    )


def _non_invitee(facts: ReplyFacts, answering: Attendee) -> ReplyDecision:
    sender, partstat = facts.sender, answering.partstat.value
    removed = facts.invitee is InviteeStatus.REMOVED
    who = f"{sender}, who is no longer invited," if removed else f"{sender}, who was not invited,"
    if facts.policy is NonInviteeReplyPolicy.IGNORE:
        note = Note(
            LogLevel.INFO,
            f"{who} answered {partstat}: ignored (inbound.non_invitee_replies = ignore)",
            "non-invitee-reply",
        )
        reason = (
            f"reply from {sender}, who is not invited: ignored "
            "(inbound.non_invitee_replies = ignore)"
        )
        return ReplyDecision(ReplyAction.IGNORE, reason, note)
    flag = "no longer invited" if removed else "not invited"
    comment = f"[{flag}] {comment_text(facts.comment)}".strip()
    note = Note(
        LogLevel.WARNING,
        f"{who} answered {partstat}: recorded as from a non-invitee",
        "non-invitee-reply",
    )
    reason = f"{sender} is not invited: answer {partstat} recorded as from a non-invitee"
    return ReplyDecision(ReplyAction.RECORD, reason, note, _answer(facts, answering, comment))
