"""Values shared by the inbound pipeline, its sources and its commands.

A source (an IMAP watcher, the SMTP listener's spool, ``invitegw ingest``) wraps what it
received in a :class:`ReceivedMessage`; the pipeline answers with a :class:`MessageResult`
holding one :class:`EventResult` per calendar event (VEVENT, per RECURRENCE-ID) it decided
on. ``outcome`` values are the ones ``invitegw ingest --json`` prints.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["EventResult", "InboundOutcome", "MessageResult", "ReceivedMessage"]


class InboundOutcome(StrEnum):
    """What became of one calendar event (or of a message without one)."""

    CREATED = "created"  # a new CRM task
    UPDATED = "updated"  # the task was rescheduled or renamed by a newer version
    DUPLICATE = "duplicate"  # seen before, nothing new (or the policy says skip)
    CANCELLED = "cancelled"  # the organizer cancelled: the task's status is cancelled
    REPLY_RECORDED = "reply_recorded"  # an attendee's answer to our invitation
    COUNTER_LOGGED = "counter_logged"  # a counter-proposal, logged and passed on
    REFRESH_SENT = "refresh_sent"  # the current invitation is queued for that attendee
    IGNORED = "ignored"  # our own message, a loop, an auto-reply, a bounce recorded, …
    QUARANTINED = "quarantined"  # set aside with a reason a person can act on


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One message as a source received it.

    Parameters:
        raw: the message bytes (for an oversized IMAP message only its header).
        source: the mailbox's configured name, ``"smtp"`` or ``"file"``.
        reference: where the original is, for people: a file path, ``"sales:INBOX"``, a
            spool row id.
        uidvalidity: the IMAP folder's UIDVALIDITY (IMAP only).
        uid: the IMAP UID (IMAP only); with ``uidvalidity`` it names the message for good.
        envelope_from: the SMTP envelope sender (listener only).
        envelope_to: the accepted envelope recipients (listener only).
        owner: the staff address owning the mailbox it arrived in (IMAP: the mailbox's
            ``owner``); the owner of tasks no forwarder claims.
        size: the size the source reported (``RFC822.SIZE``), else ``len(raw)``.
        oversized: ``raw`` is not the whole message (over the size cap): quarantine it.
        received_at: when the source received it.
    """

    raw: bytes
    source: str
    reference: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    envelope_from: str | None = None
    envelope_to: tuple[str, ...] = ()
    owner: str | None = None
    size: int | None = None
    oversized: bool = False
    received_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class EventResult:
    """What became of one calendar event of a message.

    ``uid``/``recurrence_id``/``method`` are ``None`` for a message-level result (no
    calendar object, a bounce, our own message). ``recurrence_id`` is the iCalendar text
    form (``20261201T090000Z`` or ``20261201``).
    """

    outcome: InboundOutcome
    uid: str | None = None
    recurrence_id: str | None = None
    method: str | None = None
    task_id: str | None = None
    meeting_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class MessageResult:
    """What the pipeline did with one message.

    Parameters:
        message_id: the message's Message-ID (normalized, without angle brackets).
        events: one result per calendar event, or one message-level result.
        quarantine_id: the quarantine row, when the message was set aside.
        already_processed: the message was handled before (same Message-ID, or the same
            mailbox + UIDVALIDITY + UID): nothing was done again.
        dry_run: decided only; nothing was written.
    """

    message_id: str | None
    events: tuple[EventResult, ...]
    quarantine_id: int | None = None
    already_processed: bool = False
    dry_run: bool = False

    @property
    def quarantined(self) -> bool:
        """Whether the message belongs in quarantine (any of its events was set aside)."""
        return self.quarantine_id is not None or any(
            e.outcome is InboundOutcome.QUARANTINED for e in self.events
        )

    @property
    def reason(self) -> str | None:
        """The first quarantine reason, else the first reason given."""
        for event in self.events:
            if event.outcome is InboundOutcome.QUARANTINED and event.reason:
                return event.reason
        return next((e.reason for e in self.events if e.reason), None)
