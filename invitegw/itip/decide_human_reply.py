"""The rules for a reply written by hand, pure: is it forwarded to the organizer, once?

A message without a calendar object sent to one of our reply-token addresses ("Can we move
this to 3pm?") is forwarded to the organizer on record, once. The shell finds the ledger
attendee the token belongs to and gathers :class:`HumanReplyFacts`;
:func:`decide_human_reply` answers:

- Automatic replies (vacation notices, anything ``Auto-Submitted``) are never forwarded, so
  two robots cannot answer each other: noted in the event log only.
- The gateway's own message coming back to a reply address is not forwarded.
- ``inbound.forward_human_replies = false`` stops forwarding: the reply is noted on the
  meeting instead; so is a reply to a meeting without an organizer address on record.
- Otherwise it is forwarded (:class:`Forward`): nothing is ever sent to an address other
  than the organizer on record; the reply's own address only appears as the Reply-To.
  "Once" is the shell's part: the notice's Message-ID derives from the reply's, so a later
  pass finds it queued and queues nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from invitegw.domain.records import LogLevel
from invitegw.itip.attendee_facts import Note

__all__ = [
    "Forward",
    "HumanReplyAction",
    "HumanReplyDecision",
    "HumanReplyFacts",
    "decide_human_reply",
    "forward_text",
]


@dataclass(frozen=True, slots=True)
class HumanReplyFacts:
    """What the rules read of one reply by hand.

    Parameters:
        sender: the From address (canonical), if usable.
        auto_signals: why the message looks automatic (``Auto-Submitted: auto-replied``
            ...); empty for a person's message.
        automatic: the message is automatic (its headers say so).
        own_address: the sender is one of the gateway's calendar addresses.
        forwarding: ``inbound.forward_human_replies``.
        organizer: the organizer's address on record, if any.
    """

    sender: str | None
    automatic: bool = False
    auto_signals: tuple[str, ...] = ()
    own_address: bool = False
    forwarding: bool = True
    organizer: str | None = None


class HumanReplyAction(StrEnum):
    """What to do with a reply by hand."""

    IGNORE = "ignore"  # not forwarded (the reason says why); ``note`` says so in the logs
    FORWARD = "forward"  # forwarded to the organizer on record, once


@dataclass(frozen=True, slots=True)
class Forward:
    """Forwarding a reply to the organizer, and what to say once it is (or is not) done.

    Parameters:
        organizer: the one recipient.
        who: the sender as shown (``an unknown sender`` without one).
    """

    organizer: str
    who: str

    def forwarded(self) -> tuple[Note, str]:
        """The note and reason once the forward is queued."""
        note = Note(
            LogLevel.INFO,
            f"a reply by mail from {self.who} was forwarded to the organizer {self.organizer}",
            "reply-forwarded",
        )
        return note, f"forwarded to the organizer {self.organizer}"

    def already(self) -> str:
        """The reason when it had been forwarded before."""
        return f"already forwarded to the organizer {self.organizer}"

    def failed(self, meeting_id: str, error: str) -> str:
        """The quarantine reason when the forward cannot be written."""
        return (
            f"a reply from {self.who} to meeting {meeting_id} cannot be forwarded to the "
            f"organizer {self.organizer}: {error}; forward it by hand"
        )

    def subject(self, title: str, subject: str) -> str:
        """The forward's subject line."""
        return f'Reply from {self.who} about "{title}": {subject}'


@dataclass(frozen=True, slots=True)
class HumanReplyDecision:
    """What to do with a reply by hand: ``forward`` is set for ``forward``."""

    action: HumanReplyAction
    reason: str
    note: Note | None = None
    forward: Forward | None = None


def decide_human_reply(facts: HumanReplyFacts) -> HumanReplyDecision:
    """Whether a reply by hand is forwarded (see the module docstring).

    Parameters:
        facts: the gathered facts.

    Returns:
        The decision.
    """
    if facts.automatic:
        signals = "; ".join(facts.auto_signals) or "automatic"
        note = Note(
            LogLevel.INFO,
            f"automatic reply from {facts.sender or 'unknown'} not forwarded ({signals})",
            "auto-reply",
            to_crm=False,
        )
        reason = f"automatic reply ({signals}) to a reply address: not forwarded"
        return HumanReplyDecision(HumanReplyAction.IGNORE, reason, note)
    if facts.sender is not None and facts.own_address:
        return HumanReplyDecision(
            HumanReplyAction.IGNORE,
            "the gateway's own message came back to a reply address: not forwarded",
        )
    who = facts.sender or "an unknown sender"
    if not facts.forwarding:
        note = Note(
            LogLevel.INFO,
            f"a reply by mail from {who} was not forwarded (inbound.forward_human_replies = false)",
            "reply-not-forwarded",
        )
        reason = f"reply from {who} not forwarded (inbound.forward_human_replies = false)"
        return HumanReplyDecision(HumanReplyAction.IGNORE, reason, note)
    if facts.organizer is None:
        note = Note(
            LogLevel.WARNING,
            f"a reply by mail from {who} could not be forwarded: no organizer address on record",
            "reply-not-forwarded",
        )
        reason = f"reply from {who} not forwarded: no organizer address on record"
        return HumanReplyDecision(HumanReplyAction.IGNORE, reason, note)
    forward = Forward(facts.organizer, who)
    _note, reason = forward.forwarded()
    return HumanReplyDecision(HumanReplyAction.FORWARD, reason, forward=forward)


def forward_text(
    *,
    sender: str | None,
    invited: str,
    title: str,
    subject: str,
    date: dt.datetime | None,
    body: str | None,
) -> str:
    """The body of the forward: who wrote, about what, and the reply's text.

    Parameters:
        sender: the reply's From (canonical), if any.
        invited: the attendee the reply address was given to.
        title: the meeting's title as last sent.
        subject: the reply's Subject.
        date: the reply's Date.
        body: the reply's readable text, if any (the original is attached anyway).

    Returns:
        The text.
    """
    author = sender or "an unknown sender"
    lines = [
        f'{author} replied to the invitation "{title}" without answering it in the calendar,',
        "so the gateway passes the message on to you. To answer, reply to this message.",
        "",
    ]
    if sender != invited:
        lines += [
            f"Note: that reply address was given to {invited}; this message comes from {author}.",
            "",
        ]
    lines += [f"From: {author}", f"Subject: {' '.join(subject.split())}"]
    if date is not None:
        lines.append(f"Date: {date.isoformat()}")
    lines += ["", body if body is not None else "(no readable text: see the attached original)"]
    return "\n".join(lines)
