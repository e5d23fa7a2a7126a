"""Dedupe: was this message handled before, and is it one of the gateway's own?

Both answers come from one query (:func:`~invitegw.gateway.inbound.records.seen_before`)
before any other work:

- **Handled before**: the same source position (IMAP: mailbox + UIDVALIDITY + UID), or the
  same Message-ID with the same body (a reused Message-ID with other content is a new
  message). The answer is what was decided then (:class:`Seen`, ``previous``), rebuilt
  from the processed record, and nothing is done again: a crash between the commit and
  the IMAP MOVE, a re-scan after a UIDVALIDITY change, ``ingest`` run twice.
- **Ours**: its Message-ID is in the outbox (our own invitation came back): ignored.

A released quarantined message is not deduped (its processed record is the one that put it
aside), only checked for being ours.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from invitegw.gateway.inbound.context import MessageIdentity
from invitegw.gateway.inbound.model import (
    EventResult,
    InboundOutcome,
    MessageResult,
    ReceivedMessage,
)
from invitegw.gateway.inbound.records import event_from_record, is_our_message, seen_before
from invitegw.gateway.storage import ProcessedMessage

__all__ = ["Seen", "check_seen", "previous_result"]


@dataclass(frozen=True, slots=True)
class Seen:
    """What dedupe found: the earlier result (None: new), and whether the message is ours."""

    previous: MessageResult | None
    ours: bool


def check_seen(
    session: Session,
    message: ReceivedMessage,
    identity: MessageIdentity,
    *,
    release: bool = False,
    dry_run: bool = False,
) -> Seen:
    """Whether ``message`` was handled before, and whether it is one the gateway sent.

    Parameters:
        session: the unit of work's session.
        message: as its source received it (its source and position).
        identity: what names it.
        release: a quarantined message released by hand: only the outbox check applies.
        dry_run: mark an earlier result as seen in a dry run.

    Returns:
        The earlier result (or None) and whether the Message-ID is ours.

    Raises:
        StorageError: the database failed.
    """
    if release:
        return Seen(None, is_our_message(session, identity.message_id))
    position = message.position
    prior, ours = seen_before(
        session,
        source=message.source,
        uidvalidity=position.epoch if position is not None else None,
        uid=position.number if position is not None else None,
        message_key=identity.key,
        digest=identity.digest,
        message_id=identity.message_id,
    )
    if prior is None:
        return Seen(None, ours)
    return Seen(previous_result(prior, identity.message_id, dry_run), ours)


def previous_result(row: ProcessedMessage, message_id: str | None, dry_run: bool) -> MessageResult:
    """The result recorded for a message handled before, marked ``already_processed``.

    Parameters:
        row: its processed record.
        message_id: its Message-ID.
        dry_run: mark the result as a dry run's.

    Returns:
        The events as stored (one ``ignored`` event with the record's reason if none were).
    """
    details = row.details or {}
    stored = details.get("events")
    events = tuple(
        event_from_record(e)
        for e in (stored if isinstance(stored, list) else [])
        if isinstance(e, dict)
    )
    if not events:
        events = (EventResult(InboundOutcome.IGNORED, reason=row.reason),)
    quarantine_id = details.get("quarantine_id")
    return MessageResult(
        message_id=message_id,
        events=events,
        quarantine_id=quarantine_id if isinstance(quarantine_id, int) else None,
        already_processed=True,
        dry_run=dry_run,
    )
