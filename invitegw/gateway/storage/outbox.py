"""Outbox operations: enqueue, claim due messages, and record how sending went.

Several workers may share one PostgreSQL database: :func:`claim_due` locks the rows it
takes with ``FOR UPDATE SKIP LOCKED`` (each row goes to exactly one worker) and marks them
``sending`` until ``claimed_until``; a worker that dies leaves its claim to expire, and the
message is claimed again (same Message-ID, so a duplicate delivery stays recognisable).
On SQLite, where every transaction takes the write lock (``BEGIN IMMEDIATE``), the same
statements are simply serialised.

The state transitions after a claim (:func:`mark_sent`, :func:`mark_retry`,
:func:`mark_dead`) only apply while the caller still holds the claim, and say so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, insert, literal_column, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnClause

from invitegw.gateway.storage.models import (
    OutboxBody,
    OutboxMessage,
    OutboxState,
    SpooledMessage,
)

__all__ = [
    "cancel_unsent",
    "claim_due",
    "claim_rows",
    "enqueue",
    "enqueue_many",
    "expired_claims",
    "mark_dead",
    "mark_retry",
    "mark_sent",
    "pending_due",
    "release_claims",
    "requeue",
]

# The rows that are claimed: both have state, claimed_by, claimed_until and attempts.
ClaimedT = TypeVar("ClaimedT", OutboxMessage, SpooledMessage)


def enqueue(
    session: Session,
    *,
    message_id: str,
    sender: str,
    recipient: str,
    now: dt.datetime,
    kind: str = "invitation",
    meeting_id: int | None = None,
    attendee_id: int | None = None,
    method: str | None = None,
    sequence: int | None = None,
    recurrence_id: str | None = None,
    raw: bytes | None = None,
    payload: dict[str, Any] | None = None,
    not_before: dt.datetime | None = None,
) -> OutboxMessage:
    """Add a message to send, in the caller's transaction (with the ledger change).

    Parameters:
        message_id: the stable Message-ID (unique).
        sender: the envelope sender.
        recipient: the one recipient.
        now: the current time.
        kind: ``invitation``, ``reminder``, ``notice`` ...
        meeting_id: the ledger meeting it belongs to.
        attendee_id: the ledger attendee it goes to.
        method: the iTIP method (``REQUEST``, ``CANCEL`` ...).
        sequence: the SEQUENCE it carries.
        recurrence_id: the RECURRENCE-ID it carries, for a single occurrence.
        raw: the composed message, if composed now.
        payload: what is needed to compose it at send time, otherwise.
        not_before: the earliest send time (default: now).

    Returns:
        The new row (flushed: its id is set).
    """
    row = OutboxMessage(
        message_id=message_id,
        kind=kind,
        meeting_id=meeting_id,
        attendee_id=attendee_id,
        sender=sender,
        recipient=recipient,
        method=method,
        sequence=sequence,
        recurrence_id=recurrence_id,
        raw=raw,
        payload=payload,
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=not_before or now,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


_ENQUEUE_FIELDS = frozenset(
    {
        "message_id",
        "sender",
        "recipient",
        "kind",
        "meeting_id",
        "attendee_id",
        "method",
        "sequence",
        "recurrence_id",
        "raw",
        "payload",
        "not_before",
    }
)


def enqueue_many(
    session: Session, messages: Iterable[Mapping[str, Any]], *, now: dt.datetime
) -> int:
    """Add many messages at once (the outbound planner's batch): their rows, then their bytes.

    Parameters:
        messages: one mapping per message with the keyword arguments of :func:`enqueue`
            (``message_id``, ``sender`` and ``recipient`` required).
        now: the current time.

    Returns:
        How many were added.

    Raises:
        ValueError: a mapping names a field :func:`enqueue` does not take.
    """
    rows = []
    bodies: list[bytes | None] = []
    for message in messages:
        unknown = set(message) - _ENQUEUE_FIELDS
        if unknown:
            raise ValueError(f"enqueue_many: unknown fields {sorted(unknown)}")
        values = {k: v for k, v in message.items() if k not in ("not_before", "raw")}
        bodies.append(message.get("raw"))
        rows.append(
            {
                "kind": "invitation",
                "meeting_id": None,
                "attendee_id": None,
                "method": None,
                "sequence": None,
                "recurrence_id": None,
                "payload": None,
                **values,
                "state": OutboxState.PENDING,
                "attempts": 0,
                "next_attempt_at": message.get("not_before") or now,
                "created_at": now,
                "updated_at": now,
            }
        )
    if not rows:
        return 0
    ids = session.scalars(
        insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True), rows
    ).all()
    stored = [{"id": i, "raw": raw} for i, raw in zip(ids, bodies, strict=True) if raw is not None]
    if stored:
        session.execute(insert(OutboxBody), stored)
    return len(rows)


# The WHERE clauses of the partial indexes ix_outbox_pending and ix_outbox_sending, written
# as literals: a bound parameter would hide from the planner (SQLite's, and PostgreSQL's
# generic plans) that the query only wants what the index holds.
_PENDING: ColumnClause[str] = literal_column("'pending'")
_SENDING: ColumnClause[str] = literal_column("'sending'")


def claim_due(
    session: Session, *, worker: str, now: dt.datetime, limit: int, claim_for: dt.timedelta
) -> list[OutboxMessage]:
    """Claim up to ``limit`` messages due now (or whose claim expired), oldest due first.

    Claims that expired (a worker died mid-batch) are taken first, then the pending
    messages in the order they fell due. Each is a range of a partial index holding only
    what waits, read in index order: the cost is that of the batch, whatever the history.
    Each claim counts as an attempt, so a message whose sender keeps crashing still runs
    out of attempts. Commit the session to publish the claim before sending.

    Parameters:
        worker: this worker's id.
        now: the current time.
        limit: how many at most.
        claim_for: how long the claim lasts.

    Returns:
        The claimed rows (state ``sending``).
    """
    until = now + claim_for
    rows = claim_rows(session, expired_claims(now, limit), worker=worker, until=until)
    if len(rows) < limit:
        pending = pending_due(now, limit - len(rows))
        rows += claim_rows(session, pending, worker=worker, until=until)
    for row in rows:
        row.state = OutboxState.SENDING
        row.updated_at = now
    session.flush()
    return rows


def pending_due(now: dt.datetime, limit: int) -> Select[OutboxMessage]:
    """The pending messages due at ``now``, oldest due first (the ``ix_outbox_pending`` range).

    Parameters:
        now: the current time.
        limit: how many at most.

    Returns:
        The query.
    """
    return (
        select(OutboxMessage)
        .where(OutboxMessage.state == _PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .options(selectinload(OutboxMessage.body))
    )


def expired_claims(now: dt.datetime, limit: int) -> Select[OutboxMessage]:
    """The messages claimed by a worker whose claim ran out (the ``ix_outbox_sending`` range).

    Parameters:
        now: the current time.
        limit: how many at most.

    Returns:
        The query.
    """
    return (
        select(OutboxMessage)
        .where(OutboxMessage.state == _SENDING, OutboxMessage.claimed_until < now)
        .order_by(OutboxMessage.claimed_until)
        .limit(limit)
        .options(selectinload(OutboxMessage.body))
    )


def claim_rows(
    session: Session, query: Select[ClaimedT], *, worker: str, until: dt.datetime
) -> list[ClaimedT]:
    """Lock the rows ``query`` selects that no other worker holds, and claim them.

    The shared step of :func:`claim_due` and the spool's ``claim_spooled``: ``FOR UPDATE
    SKIP LOCKED`` on PostgreSQL, so concurrent workers take disjoint rows; each claim
    counts as an attempt.

    Parameters:
        query: the due rows, ordered and limited.
        worker: this worker's id.
        until: when the claim expires.

    Returns:
        The rows, claimed (the caller sets their state).
    """
    rows = list(session.scalars(query.with_for_update(skip_locked=True)))
    for row in rows:
        row.claimed_by = worker
        row.claimed_until = until
        row.attempts += 1
    return rows


def _finish(session: Session, row_id: int, worker: str, values: dict[str, Any]) -> bool:
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.state == OutboxState.SENDING,
            OutboxMessage.claimed_by == worker,
        )
        .values(claimed_by=None, claimed_until=None, **values)
        # The row is not expected in this session (claims are committed first); skipping
        # the ORM's synchronisation saves a good part of the per-message cost.
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def mark_sent(session: Session, row_id: int, *, worker: str, now: dt.datetime) -> bool:
    """Record a delivery the relay accepted.

    Parameters:
        row_id: the outbox row.
        worker: the worker holding the claim.
        now: the current time.

    Returns:
        False when the claim was lost (expired and taken by another worker).
    """
    return _finish(
        session,
        row_id,
        worker,
        {"state": OutboxState.SENT, "sent_at": now, "updated_at": now, "last_error": None},
    )


def mark_retry(
    session: Session,
    row_id: int,
    *,
    worker: str,
    now: dt.datetime,
    error: str,
    next_attempt_at: dt.datetime,
    tried: bool = True,
) -> bool:
    """Put a message back after a temporary failure, to be retried at ``next_attempt_at``.

    Parameters:
        row_id: the outbox row.
        worker: the worker holding the claim.
        now: the current time.
        error: what went wrong (kept as ``last_error``).
        next_attempt_at: when to try again.
        tried: False for a message of a batch that failed before its turn: its claim
            counted an attempt (:func:`claim_rows`) that was never made, so it is given
            back, as :func:`release_claims` does.

    Returns:
        False when the claim was lost.
    """
    values: dict[str, Any] = {
        "state": OutboxState.PENDING,
        "next_attempt_at": next_attempt_at,
        "last_error": error,
        "updated_at": now,
    }
    if not tried:
        values["attempts"] = OutboxMessage.attempts - 1
    return _finish(session, row_id, worker, values)


def mark_dead(session: Session, row_id: int, *, worker: str, now: dt.datetime, error: str) -> bool:
    """Give a message up (permanent failure, or no attempts left).

    Parameters:
        row_id: the outbox row.
        worker: the worker holding the claim.
        now: the current time.
        error: why (kept as ``last_error``).

    Returns:
        False when the claim was lost.
    """
    values = {"state": OutboxState.DEAD, "last_error": error, "updated_at": now}
    return _finish(session, row_id, worker, values)


def release_claims(
    session: Session, row_ids: Sequence[int], *, worker: str, now: dt.datetime
) -> int:
    """Hand claimed messages back unsent (a graceful stop), without spending an attempt.

    Parameters:
        row_ids: the outbox rows.
        worker: the worker holding the claims.
        now: the current time (they are due again at once).

    Returns:
        How many were released (claims lost meanwhile are left alone).
    """
    if not row_ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(row_ids)),
            OutboxMessage.state == OutboxState.SENDING,
            OutboxMessage.claimed_by == worker,
        )
        .values(
            state=OutboxState.PENDING,
            claimed_by=None,
            claimed_until=None,
            attempts=OutboxMessage.attempts - 1,
            next_attempt_at=now,
            updated_at=now,
        )
    )
    return int(getattr(result, "rowcount", 0))


def requeue(session: Session, *, now: dt.datetime, row_ids: Sequence[int] | None = None) -> int:
    """Send dead (or waiting) messages again now, with a fresh count of attempts.

    A requeued message counts as queued now: its ``smtp.retry.give_up_after`` age starts
    again, as its attempts do.

    Parameters:
        now: the current time.
        row_ids: these rows (dead or pending); ``None`` for every dead message.

    Returns:
        How many were put back in the queue (sent, cancelled and in-flight rows never are).
    """
    query = update(OutboxMessage)
    if row_ids is None:
        query = query.where(OutboxMessage.state == OutboxState.DEAD)
    else:
        query = query.where(
            OutboxMessage.id.in_(list(row_ids)),
            OutboxMessage.state.in_([OutboxState.DEAD, OutboxState.PENDING]),
        )
    result = session.execute(
        query.values(
            state=OutboxState.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
    )
    return int(getattr(result, "rowcount", 0))


def cancel_unsent(
    session: Session, *, meeting_id: int, now: dt.datetime, recipient: str | None = None
) -> int:
    """Cancel a meeting's messages not yet sent (superseded by a newer plan).

    Parameters:
        meeting_id: the ledger meeting.
        now: the current time.
        recipient: only this recipient's messages, when given.

    Returns:
        How many were cancelled (messages being sent right now are left alone).
    """
    query = update(OutboxMessage).where(
        OutboxMessage.meeting_id == meeting_id, OutboxMessage.state == OutboxState.PENDING
    )
    if recipient is not None:
        query = query.where(OutboxMessage.recipient == recipient)
    result = session.execute(query.values(state=OutboxState.CANCELLED, updated_at=now))
    return int(getattr(result, "rowcount", 0))
