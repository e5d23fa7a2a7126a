"""The COUNTER and REFRESH rules, pure (:rfc:`5546` sections 3.2.7 and 3.2.6).

- **COUNTER.** A counter-proposal is logged on the meeting and passed on to the organizer
  on record as a notice, once; the meeting itself never changes. Its From must be an
  ATTENDEE of it (when it names any); one for a cancelled meeting is only logged; one from
  someone not invited follows ``inbound.non_invitee_replies`` (``ignore``: only logged).
  Without an organizer address on record it is logged with a warning.
- **REFRESH.** A REFRESH asks for the sender's copy of the invitation again; it is granted
  to an invitee of a meeting that is still on, whose From is the ATTENDEE of the REFRESH
  when it names one.

The shell gathers :class:`CounterFacts` / :class:`RefreshFacts`; the decisions carry every
text the shell writes, also for what only applying can tell (the notice could not be
written, it was queued before, the resend was refused).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum

from invitegw.domain.records import LogLevel
from invitegw.ics.model import Attendee, DateOrDateTime
from invitegw.itip.attendee_facts import (
    InviteeStatus,
    MeetingStanding,
    Note,
    comment_text,
    names_sender,
    spoof_reason,
)
from invitegw.itip.policy import NonInviteeReplyPolicy

__all__ = [
    "CounterAction",
    "CounterDecision",
    "CounterFacts",
    "CounterNotice",
    "Proposal",
    "RefreshAction",
    "RefreshDecision",
    "RefreshFacts",
    "decide_counter",
    "decide_refresh",
    "proposed_span",
    "refresh_refused",
]


# -- COUNTER --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposal:
    """What a COUNTER proposes (its VEVENT).

    Parameters:
        start: DTSTART.
        end: DTEND (or DTSTART plus DURATION), if any.
        start_given: the VEVENT had a DTSTART (else it proposes no new time).
        location: LOCATION.
        summary: SUMMARY.
        comment: COMMENT.
        recurrence_id: the occurrence it is about, None for the series.
        sequence: the SEQUENCE it was made on.
    """

    start: DateOrDateTime
    end: DateOrDateTime | None = None
    start_given: bool = True
    location: str = ""
    summary: str = ""
    comment: str = ""
    recurrence_id: str | None = None
    sequence: int = 0


@dataclass(frozen=True, slots=True)
class CounterFacts:
    """What the COUNTER rules read.

    Parameters:
        sender: who proposes (canonical).
        attendees: the ATTENDEEs of the COUNTER.
        meeting: whether the meeting is still on, and its SEQUENCE.
        invitee: the sender's place on the meeting's ledger.
        proposal: what it proposes.
        zone: the zone to show times in (the meeting's, else its calendar's).
        organizer: the organizer's address on record, if any.
        title: the meeting's title as last sent.
        policy: ``inbound.non_invitee_replies``.
    """

    sender: str
    attendees: tuple[Attendee, ...]
    meeting: MeetingStanding
    invitee: InviteeStatus
    proposal: Proposal
    zone: zoneinfo.ZoneInfo
    organizer: str | None
    title: str
    policy: NonInviteeReplyPolicy = NonInviteeReplyPolicy.RECORD


class CounterAction(StrEnum):
    """What to do with one COUNTER."""

    QUARANTINE = "quarantine"
    IGNORE = "ignore"
    LOG = "log"  # logged on the meeting only (no organizer address to tell)
    FORWARD = "forward"  # logged, and a notice queued for the organizer


@dataclass(frozen=True, slots=True)
class CounterNotice:
    """The notice to the organizer, and what to say once it is (or is not) queued.

    Parameters:
        organizer: the one recipient.
        subject: its subject.
        text: its body.
        line: the log line describing the proposal.
        sender: who proposes.
    """

    organizer: str
    subject: str
    text: str
    line: str
    sender: str

    def passed_on(self) -> tuple[Note, str]:
        """The note and reason once queued."""
        note = Note(
            LogLevel.INFO, f"{self.line}; passed on to the organizer {self.organizer}", "counter"
        )
        return note, (
            f"counter-proposal from {self.sender} logged and passed on to {self.organizer}"
        )

    def already(self) -> str:
        """The reason when it had been queued before (nothing new to log)."""
        return f"counter-proposal from {self.sender} already passed on to {self.organizer}"

    def failed(self, error: str) -> tuple[Note, str]:
        """The note and reason when the notice cannot be written."""
        note = Note(
            LogLevel.WARNING, f"{self.line}; the notice could not be written: {error}", "counter"
        )
        return note, f"counter-proposal logged; the notice to the organizer failed: {error}"


@dataclass(frozen=True, slots=True)
class CounterDecision:
    """What to do with one COUNTER: ``notice`` is set for ``forward``."""

    action: CounterAction
    reason: str | None = None
    note: Note | None = None
    notice: CounterNotice | None = None


def _moment(value: DateOrDateTime, zone: zoneinfo.ZoneInfo) -> str:
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%d %H:%M")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def proposed_span(
    start: DateOrDateTime, end: DateOrDateTime | None, zone: zoneinfo.ZoneInfo
) -> str:
    """A proposed time for people: ``2026-05-04 10:00–11:00 (Europe/Warsaw)``.

    Parameters:
        start: the start.
        end: the end, if any (its date is left out when on the same day).
        zone: the zone aware times are shown in (named after them).

    Returns:
        The text.
    """
    text = _moment(start, zone)
    if end is not None:
        end_text = _moment(end, zone)
        same_day = end_text[:10] == text[:10] and isinstance(start, dt.datetime)
        text += "–" + (end_text[11:] if same_day else end_text)
    if isinstance(start, dt.datetime) and start.tzinfo is not None:
        text += f" ({zone.key})"
    return text


def _details(facts: CounterFacts) -> list[str]:
    proposal = facts.proposal
    shown = (
        proposed_span(proposal.start, proposal.end, facts.zone)
        if proposal.start_given
        else "(no new time)"
    )
    details = [f"proposed time: {shown}"]
    if proposal.location:
        details.append(f"location: {' '.join(proposal.location.split())}")
    if proposal.summary:
        details.append(f"title: {' '.join(proposal.summary.split())}")
    comment = comment_text(proposal.comment)
    if comment:
        details.append(f"comment: {comment}")
    if proposal.recurrence_id:
        details.append(f"for the occurrence {proposal.recurrence_id}")
    if proposal.sequence < facts.meeting.sequence:
        details.append(
            f"made on an older version of the invitation (SEQUENCE {proposal.sequence}, "
            f"current {facts.meeting.sequence})"
        )
    return details


def decide_counter(facts: CounterFacts) -> CounterDecision:
    """What to do with one VEVENT of a COUNTER (see the module docstring).

    Parameters:
        facts: the gathered facts.

    Returns:
        The decision.
    """
    sender = facts.sender
    if facts.attendees and not names_sender(facts.attendees, sender):
        return CounterDecision(
            CounterAction.QUARANTINE, spoof_reason("COUNTER", sender, facts.attendees)
        )
    if facts.meeting.off:
        note = Note(
            LogLevel.INFO,
            f"counter-proposal from {sender} after the meeting was cancelled: not passed on",
            "counter",
        )
        reason = "counter-proposal for a cancelled meeting: not passed on"
        return CounterDecision(CounterAction.IGNORE, reason, note)
    invited = facts.invitee is InviteeStatus.INVITED
    if not invited and facts.policy is NonInviteeReplyPolicy.IGNORE:
        text = (
            f"counter-proposal from {sender}, who is not invited: ignored "
            "(inbound.non_invitee_replies = ignore)"
        )
        return CounterDecision(CounterAction.IGNORE, text, Note(LogLevel.INFO, text, "counter"))
    details = _details(facts)
    who = sender if invited else f"{sender} (not invited)"
    line = f"counter-proposal from {who}: " + "; ".join(details)
    if facts.organizer is None:
        note = Note(LogLevel.WARNING, line + "; no organizer address on record to tell", "counter")
        reason = "counter-proposal logged; no organizer address on record to pass it on to"
        return CounterDecision(CounterAction.LOG, reason, note)
    text = (
        f'{who} proposes a change to the meeting "{facts.title}".\n\n'
        + "\n".join(f"  {d[:1].upper()}{d[1:]}" for d in details)
        + "\n\nThe meeting itself is unchanged. If you agree, change it in the CRM and "
        "every attendee gets the update; to answer the attendee, reply to this message.\n"
    )
    notice = CounterNotice(
        organizer=facts.organizer,
        subject=f'Counter-proposal from {sender}: "{facts.title}"',
        text=text,
        line=line,
        sender=sender,
    )
    note, reason = notice.passed_on()
    return CounterDecision(CounterAction.FORWARD, reason, note, notice)


# -- REFRESH --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefreshFacts:
    """What the REFRESH rules read.

    Parameters:
        sender: who asks (canonical).
        attendees: the ATTENDEEs of the REFRESH (it may name none).
        meeting: whether the meeting is still on.
        invitee: the sender's place on the meeting's ledger.
    """

    sender: str
    attendees: tuple[Attendee, ...]
    meeting: MeetingStanding
    invitee: InviteeStatus


class RefreshAction(StrEnum):
    """What to do with one REFRESH."""

    QUARANTINE = "quarantine"
    IGNORE = "ignore"
    RESEND = "resend"  # the next outbound pass sends the sender's copy again


@dataclass(frozen=True, slots=True)
class RefreshDecision:
    """What to do with one REFRESH; ``log_text`` is the event-log line of a resend."""

    action: RefreshAction
    reason: str
    log_text: str | None = None


def decide_refresh(facts: RefreshFacts) -> RefreshDecision:
    """What to do with one VEVENT of a REFRESH (see the module docstring).

    Parameters:
        facts: the gathered facts.

    Returns:
        The decision.
    """
    sender = facts.sender
    if facts.attendees and not names_sender(facts.attendees, sender):
        return RefreshDecision(
            RefreshAction.QUARANTINE, spoof_reason("REFRESH", sender, facts.attendees)
        )
    if facts.meeting.off:
        return RefreshDecision(
            RefreshAction.IGNORE,
            f"refresh request from {sender}: the meeting is cancelled, nothing re-sent",
        )
    if facts.invitee is not InviteeStatus.INVITED:
        return RefreshDecision(
            RefreshAction.IGNORE,
            f"refresh request from {sender}, who is not invited: nothing re-sent",
        )
    return RefreshDecision(
        RefreshAction.RESEND,
        f"the current invitation will be sent to {sender} again",
        log_text=f"{sender} asked for the invitation again (REFRESH)",
    )


def refresh_refused(sender: str) -> str:
    """The reason when the outbound side cannot send the invitation again."""
    return f"refresh request from {sender}: the invitation cannot be re-sent"
