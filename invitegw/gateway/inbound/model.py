"""Values shared by the inbound pipeline, its sources and its commands.

A source (:mod:`~invitegw.gateway.inbound.source`: an IMAP watcher, the SMTP listener's
spool, ``invitegw ingest``) wraps what it received in a :class:`ReceivedMessage`, with its
:class:`SourcePosition` (where the source keeps it, for good) and its :class:`Envelope` (how
transport addressed it), both generic; the pipeline answers with a :class:`MessageResult`
holding one :class:`EventResult` per calendar event (VEVENT, per RECURRENCE-ID) it decided
on. ``outcome`` values are the ones ``invitegw ingest --json`` prints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "Envelope",
    "EventResult",
    "InboundOutcome",
    "MessageResult",
    "ReceivedMessage",
    "SourcePosition",
]


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
    # A part of the message that cannot be used (a VCALENDAR, a VEVENT), left out with the
    # reason while the rest was handled; alone, or beside a quarantine, it is quarantined.
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where a source keeps a message, for good: an epoch and a number within it.

    With the source's name it names one message, so handling it again (a crash after the
    commit, a re-scan) is recognised before any work. IMAP: the folder's UIDVALIDITY and
    the message's UID (a new UIDVALIDITY starts a new epoch). A source whose messages carry
    an opaque id (Microsoft Graph, a webhook's delivery id) uses :meth:`from_key`.

    Parameters:
        epoch: what the numbers are relative to (IMAP UIDVALIDITY).
        number: the message's number in that epoch (IMAP UID).
    """

    epoch: int
    number: int

    @classmethod
    def from_key(cls, key: str) -> SourcePosition:
        """The position of a message a source names by an opaque ``key``.

        Parameters:
            key: the source's id of the message.

        Returns:
            Epoch 0 and a 63-bit digest of ``key`` (it fits the database's BIGINT).
        """
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        return cls(0, int.from_bytes(digest[:8], "big") >> 1)


@dataclass(frozen=True, slots=True)
class Envelope:
    """How transport addressed a message (not its headers): SMTP MAIL FROM and RCPT TO.

    The SMTP listener fills it; another source may give its own equivalent (a webhook's
    recipient list) or leave it empty. Reply tokens are looked for in ``recipients`` too.

    Parameters:
        sender: the envelope sender, if known.
        recipients: the accepted envelope recipients.
    """

    sender: str | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One message as a source received it.

    Parameters:
        raw: the message bytes (for an oversized IMAP message only its header).
        source: the source's name: the mailbox's configured name, ``"smtp"`` or ``"file"``.
        reference: where the original is, for people: a file path, ``"sales:INBOX"``, a
            spool row id.
        position: where the source keeps it for good (IMAP: UIDVALIDITY and UID), if it
            has such a place.
        envelope: how transport addressed it (the SMTP listener's envelope).
        owner: the staff address owning the mailbox it arrived in (IMAP: the mailbox's
            ``owner``); the owner of tasks no forwarder claims.
        size: the size the source reported (``RFC822.SIZE``), else ``len(raw)``.
        oversized: ``raw`` is not the whole message (over the size cap): quarantine it.
        received_at: when the source received it.
    """

    raw: bytes
    source: str
    reference: str | None = None
    position: SourcePosition | None = None
    envelope: Envelope = field(default_factory=Envelope)
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
        already_processed: the message was handled before (same Message-ID and body, or
            the same source position): nothing was done again.
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
