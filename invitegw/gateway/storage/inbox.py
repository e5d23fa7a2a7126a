"""Inbound bookkeeping: the SMTP listener's spool, processed messages, the quarantine.

- :func:`spool_message` stores what the listener accepted *before* it answers 250 (the
  caller commits, then replies); :func:`claim_spooled` hands spooled messages to the
  pipeline, one worker each (``SKIP LOCKED`` on PostgreSQL), and :func:`finish_spooled`
  records the end.
- :func:`append_processed` makes reprocessing a no-op (the inbound pipeline looks the
  record up, :func:`~invitegw.gateway.inbound.records.seen_before`): an IMAP
  message is known by (mailbox, UIDVALIDITY, UID), any message by its Message-ID.
- :func:`quarantine_message` keeps the raw message up to a size cap, with the reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.orm import Session

from invitegw.gateway.storage.models import (
    ProcessedMessage,
    QuarantinedMessage,
    SpooledMessage,
    SpoolState,
)
from invitegw.gateway.storage.outbox import claim_rows
from invitegw.sqltypes import PreparedStatement

__all__ = [
    "append_processed",
    "claim_spooled",
    "finish_spooled",
    "quarantine_message",
    "spool_message",
]

# Built once: the inbound pipeline runs it for every message.
_INSERT_PROCESSED = PreparedStatement(
    insert(ProcessedMessage.metadata.tables[ProcessedMessage.__tablename__])
)


def spool_message(
    session: Session, *, mail_from: str, rcpt_to: list[str], raw: bytes, now: dt.datetime
) -> SpooledMessage:
    """Store a message the SMTP listener accepted (commit before answering 250).

    Parameters:
        mail_from: the envelope sender.
        rcpt_to: the accepted envelope recipients.
        raw: the message as received.
        now: the current time.

    Returns:
        The spool row (flushed).
    """
    row = SpooledMessage(
        mail_from=mail_from,
        rcpt_to=list(rcpt_to),
        raw=raw,
        size=len(raw),
        received_at=now,
        state=SpoolState.PENDING,
        attempts=0,
    )
    session.add(row)
    session.flush()
    return row


def claim_spooled(
    session: Session, *, worker: str, now: dt.datetime, limit: int, claim_for: dt.timedelta
) -> list[SpooledMessage]:
    """Claim spooled messages to process (pending, or whose claim expired), oldest first.

    Parameters:
        worker: this worker's id.
        now: the current time.
        limit: how many at most.
        claim_for: how long the claim lasts.

    Returns:
        The claimed rows (state ``processing``).
    """
    due = or_(
        SpooledMessage.state == SpoolState.PENDING,
        and_(SpooledMessage.state == SpoolState.PROCESSING, SpooledMessage.claimed_until < now),
    )
    query = (
        select(SpooledMessage)
        .where(due)
        .order_by(SpooledMessage.received_at, SpooledMessage.id)
        .limit(limit)
    )
    rows = claim_rows(session, query, worker=worker, until=now + claim_for)
    for row in rows:
        row.state = SpoolState.PROCESSING
    session.flush()
    return rows


def finish_spooled(
    session: Session, row: SpooledMessage, *, now: dt.datetime, error: str | None = None
) -> None:
    """Record the end of a spooled message's processing (``failed`` when ``error`` is set).

    Parameters:
        row: the claimed spool row.
        now: the current time.
        error: why processing failed, if it did.
    """
    row.state = SpoolState.FAILED if error else SpoolState.DONE
    row.last_error = error
    row.processed_at = now
    row.claimed_by = None
    row.claimed_until = None
    session.flush()


def append_processed(
    session: Session,
    *,
    source: str,
    outcome: str,
    now: dt.datetime,
    uidvalidity: int | None = None,
    uid: int | None = None,
    message_id: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record that a message was handled (commit it with the CRM write it led to).

    One INSERT, without an ORM object: the inbound pipeline's hot path.

    Parameters:
        source: a mailbox name, ``smtp`` or ``file``.
        outcome: the overall outcome (``created``, ``duplicate``, ``quarantined`` ...).
        now: the current time.
        uidvalidity: the folder's UIDVALIDITY (IMAP).
        uid: the message's UID (IMAP).
        message_id: its Message-ID.
        reason: a readable reason, for outcomes that need one.
        details: per-event outcomes and other structured data.
    """
    _INSERT_PROCESSED.execute(
        session,
        {
            "source": source,
            "uidvalidity": uidvalidity,
            "uid": uid,
            "message_id": message_id,
            "outcome": outcome,
            "reason": reason,
            "details": details,
            "processed_at": now,
        },
    )


def quarantine_message(
    session: Session,
    *,
    source: str,
    reason: str,
    now: dt.datetime,
    raw: bytes | None,
    max_bytes: int,
    message_id: str | None = None,
    reference: str | None = None,
    received: dict[str, Any] | None = None,
) -> QuarantinedMessage:
    """Set a message aside with the reason; keep at most ``max_bytes`` of it.

    Parameters:
        source: a mailbox name, ``smtp`` or ``file``.
        reason: what a person must fix before releasing it.
        now: the current time.
        raw: the message, if there is one to keep.
        max_bytes: the cap (``limits.quarantine_bytes``); the rest is cut and flagged.
        message_id: its Message-ID.
        reference: where the original stays (e.g. ``sales:Quarantine``), if anywhere.
        received: how it arrived (mailbox owner, envelope, IMAP position), for a release.

    Returns:
        The quarantine record.
    """
    size = len(raw) if raw is not None else 0
    kept = raw[:max_bytes] if raw is not None else None
    row = QuarantinedMessage(
        source=source,
        message_id=message_id,
        reference=reference,
        raw=kept,
        size=size,
        truncated=size > max_bytes,
        reason=reason,
        received=received,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row
