"""The outbox: enqueue, claim (one worker per row), and the transitions after sending."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from invitegw.errors import StorageError
from invitegw.gateway.storage import (
    OutboundMeeting,
    OutboxMessage,
    OutboxState,
    Store,
    cancel_unsent,
    claim_due,
    enqueue,
    enqueue_many,
    mark_dead,
    mark_retry,
    mark_sent,
    open_store,
    release_claims,
    requeue,
    upgrade,
)

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def _enqueue(store: Store, count: int, *, at: dt.datetime = T0) -> list[int]:
    ids = []
    with store.session() as session:
        for n in range(count):
            row = enqueue(
                session,
                message_id=f"<m{n}.{at.timestamp()}@example.com>",
                sender="sales@example.com",
                recipient=f"guest{n}@example.org",
                now=at,
                method="REQUEST",
                sequence=0,
                raw=b"x",
            )
            ids.append(row.id)
    return ids


def _states(store: Store) -> dict[int, OutboxState]:
    with store.session() as session:
        rows = session.execute(select(OutboxMessage.id, OutboxMessage.state)).all()
        return {row_id: state for row_id, state in rows}


def test_claim_takes_due_messages_once(store: Store) -> None:
    ids = _enqueue(store, 3)
    with store.session() as session:
        later = enqueue(
            session,
            message_id="<later@example.com>",
            sender="s@example.com",
            recipient="r@example.org",
            now=T0,
            not_before=T0 + 10 * MINUTE,
        ).id
    with store.session() as session:
        claimed = claim_due(session, worker="w1", now=T0, limit=2, claim_for=60 * MINUTE)
        assert [row.id for row in claimed] == ids[:2]
        assert all(row.attempts == 1 and row.claimed_by == "w1" for row in claimed)
    with store.session() as session:
        rest = claim_due(session, worker="w2", now=T0, limit=10, claim_for=60 * MINUTE)
        assert [row.id for row in rest] == [ids[2]]
    with store.session() as session:
        assert claim_due(session, worker="w2", now=T0, limit=10, claim_for=60 * MINUTE) == []
    with store.session() as session:
        due_later = claim_due(
            session, worker="w2", now=T0 + 10 * MINUTE, limit=10, claim_for=60 * MINUTE
        )
        assert [row.id for row in due_later] == [later]


def test_an_expired_claim_is_taken_over_and_the_old_worker_loses(store: Store) -> None:
    (row_id,) = _enqueue(store, 1)
    with store.session() as session:
        claim_due(session, worker="dead", now=T0, limit=1, claim_for=MINUTE)
    with store.session() as session:
        taken = claim_due(session, worker="w2", now=T0 + 2 * MINUTE, limit=1, claim_for=MINUTE)
        assert [(r.id, r.attempts) for r in taken] == [(row_id, 2)]
    with store.session() as session:
        assert not mark_sent(session, row_id, worker="dead", now=T0 + 3 * MINUTE)
        assert mark_sent(session, row_id, worker="w2", now=T0 + 3 * MINUTE)
    with store.session() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None
        assert (row.state, row.sent_at, row.claimed_by) == (
            OutboxState.SENT,
            T0 + 3 * MINUTE,
            None,
        )


def test_retry_and_dead(store: Store) -> None:
    first, second = _enqueue(store, 2)
    with store.session() as session:
        claim_due(session, worker="w", now=T0, limit=2, claim_for=MINUTE)
    with store.session() as session:
        assert mark_retry(
            session, first, worker="w", now=T0, error="421 busy", next_attempt_at=T0 + 5 * MINUTE
        )
        assert mark_dead(session, second, worker="w", now=T0, error="550 no such user")
    with store.session() as session:
        assert claim_due(session, worker="w", now=T0 + MINUTE, limit=5, claim_for=MINUTE) == []
        again = claim_due(session, worker="w", now=T0 + 5 * MINUTE, limit=5, claim_for=MINUTE)
        assert [(r.id, r.attempts, r.last_error) for r in again] == [(first, 2, "421 busy")]
    assert _states(store)[second] is OutboxState.DEAD


def test_cancel_unsent_leaves_messages_in_flight(store: Store) -> None:
    with store.session() as session:
        meeting = OutboundMeeting(
            crm_meeting_id="7", calendar="c", uid="u7", created_at=T0, updated_at=T0
        )
        session.add(meeting)
        session.flush()
        rows = [
            enqueue(
                session,
                message_id=f"<c{n}@example.com>",
                sender="s@example.com",
                recipient=f"r{n}@example.org",
                now=T0,
                meeting_id=meeting.id,
            ).id
            for n in range(3)
        ]
    with store.session() as session:
        claim_due(session, worker="w", now=T0, limit=1, claim_for=MINUTE)
    with store.session() as session:
        assert (
            cancel_unsent(session, meeting_id=meeting.id, now=T0, recipient="r1@example.org") == 1
        )
        assert cancel_unsent(session, meeting_id=meeting.id, now=T0) == 1
    states = _states(store)
    assert [states[r] for r in rows] == [
        OutboxState.SENDING,
        OutboxState.CANCELLED,
        OutboxState.CANCELLED,
    ]


def test_message_ids_are_unique(store: Store) -> None:
    _enqueue(store, 1)
    with pytest.raises(StorageError):
        _enqueue(store, 1)


@pytest.mark.postgres
def test_concurrent_claims_skip_locked_rows(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        upgrade(store)
        ids = _enqueue(store, 4)
        # Two workers claim at the same time: the second skips the rows the first holds.
        with store.session() as first, store.session() as second:
            one = claim_due(first, worker="w1", now=T0, limit=2, claim_for=MINUTE)
            two = claim_due(second, worker="w2", now=T0, limit=4, claim_for=MINUTE)
            assert {r.id for r in one} == set(ids[:2])
            assert {r.id for r in two} == set(ids[2:])
    finally:
        store.dispose()


def test_enqueue_many_adds_every_row_in_one_go(store: Store) -> None:
    with store.session() as session:
        count = enqueue_many(
            session,
            [
                {
                    "message_id": f"<b{n}@example.com>",
                    "sender": "sales@example.com",
                    "recipient": f"guest{n}@example.org",
                    "method": "REQUEST",
                    "sequence": 2,
                    "raw": b"raw %d" % n,
                    "not_before": T0 + n * MINUTE,
                }
                for n in range(3)
            ],
            now=T0,
        )
        assert count == 3
    with store.session() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(r.recipient, r.raw, r.next_attempt_at, r.state, r.kind) for r in rows] == [
            (
                f"guest{n}@example.org",
                b"raw %d" % n,
                T0 + n * MINUTE,
                OutboxState.PENDING,
                "invitation",
            )
            for n in range(3)
        ]
    with store.session() as session, pytest.raises(ValueError, match="unknown fields"):
        enqueue_many(session, [{"message_id": "<x@y>", "colour": "red"}], now=T0)


def test_released_claims_are_due_again_without_spending_an_attempt(store: Store) -> None:
    first, second = _enqueue(store, 2)
    with store.session() as session:
        claim_due(session, worker="w", now=T0, limit=2, claim_for=60 * MINUTE)
    with store.session() as session:
        assert release_claims(session, [first, second], worker="other", now=T0) == 0
        assert release_claims(session, [first], worker="w", now=T0 + MINUTE) == 1
    with store.session() as session:
        again = claim_due(session, worker="w2", now=T0 + MINUTE, limit=5, claim_for=MINUTE)
        assert [(r.id, r.attempts) for r in again] == [(first, 1)]


def test_requeue_brings_dead_messages_back(store: Store) -> None:
    first, second, third = _enqueue(store, 3)
    with store.session() as session:
        claim_due(session, worker="w", now=T0, limit=3, claim_for=MINUTE)
        mark_dead(session, first, worker="w", now=T0, error="550")
        mark_dead(session, second, worker="w", now=T0, error="550")
        mark_sent(session, third, worker="w", now=T0)
    with store.session() as session:
        assert requeue(session, now=T0 + MINUTE, row_ids=[first, third]) == 1
    assert _states(store) == {
        first: OutboxState.PENDING,
        second: OutboxState.DEAD,
        third: OutboxState.SENT,
    }
    with store.session() as session:
        assert requeue(session, now=T0 + MINUTE) == 1
        row = session.get(OutboxMessage, second)
        assert row is not None
        assert (row.state, row.attempts, row.next_attempt_at) == (
            OutboxState.PENDING,
            0,
            T0 + MINUTE,
        )
