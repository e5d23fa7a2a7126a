"""The outbox as it grows: compressed bytes given back exactly, a claim plan that stays right.

- What is stored (``outbox_bodies``) is zlib (``storage.packing``); what the ORM, hence
  the dispatcher, reads back is the composed message byte for byte; rows written before
  compression read as they are.
- The claim reads a partial index in order: after ``ANALYZE`` on a table of thousands of
  sent rows, SQLite's ``EXPLAIN QUERY PLAN`` and PostgreSQL's ``EXPLAIN`` of the very
  statements ``claim_due`` runs name the index, with no scan of the table and no sort.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from invitegw.crm_adapter.builtin.crm import SqlCrm
from invitegw.gateway.outbound.ledger import store_plan
from invitegw.gateway.outbound.messages import compose_plan
from invitegw.gateway.storage import OutboxMessage, OutboxState, Store, claim_due
from invitegw.gateway.storage.packing import MAGIC, pack, unpack
from tests.gateway.outbound.builders import NOW, SALES, meeting, plan

MINUTE = dt.timedelta(minutes=1)


def test_pack_gives_back_the_bytes_and_reads_old_values_as_they_are() -> None:
    for raw in (b"", b"Subject: hi\r\n\r\nbody\r\n", bytes(range(256)) * 40):
        stored = pack(raw)
        assert stored.startswith(MAGIC)
        assert unpack(stored) == raw
    assert unpack(b"From: a@example.org\r\n\r\nx") == b"From: a@example.org\r\n\r\nx"
    with pytest.raises(ValueError, match="damaged"):
        unpack(MAGIC + b"not zlib")
    with pytest.raises(ValueError, match="damaged"):
        unpack(pack(b"x" * 1000)[:-4])  # cut short


def test_the_outbox_stores_composed_invitations_compressed_and_returns_them_exactly(
    store: Store,
) -> None:
    result = plan(meeting())
    composed = compose_plan(result, SALES, NOW)
    with store.session() as session:
        store_plan(
            session, result, composed, row=None, sender=SALES.sender, crm=SqlCrm(session), now=NOW
        )
    with store.session() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        assert [r.raw for r in rows] == [c.raw for c in composed]
        stored = [
            bytes(raw)
            for raw in session.execute(text("SELECT raw FROM outbox_bodies ORDER BY id")).scalars()
        ]
    for at_rest, message in zip(stored, composed, strict=True):
        assert at_rest.startswith(MAGIC)
        assert zlib.decompress(at_rest[len(MAGIC) :]) == message.raw
        assert len(at_rest) < len(message.raw) / 2


def test_a_row_stored_before_compression_is_sent_as_it_was(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(OutboxMessage.__table__), [_row(1, OutboxState.PENDING)])
        # Plain SQL, bytes not compressed (as the migration leaves a row it did not convert).
        conn.execute(
            text("INSERT INTO outbox_bodies (id, raw) SELECT id, :raw FROM outbox"),
            {"raw": b"Subject: old\r\n\r\nbody"},
        )
    with store.session() as session:
        (row,) = claim_due(session, worker="w", now=NOW, limit=5, claim_for=MINUTE)
        assert row.raw == b"Subject: old\r\n\r\nbody"


def _row(n: int, state: OutboxState, **extra: Any) -> dict[str, Any]:
    at = NOW - dt.timedelta(days=30) + n * dt.timedelta(seconds=10)
    return {
        "message_id": f"<m{n}@example.com>",
        "kind": "invitation",
        "sender": "sales@example.com",
        "recipient": f"guest{n}@example.org",
        "state": state.value,
        "attempts": 1,
        "next_attempt_at": at,
        "created_at": at,
        "updated_at": at,
        "sent_at": None,
        "claimed_by": None,
        "claimed_until": None,
        **extra,
    }


def _populate(store: Store, *, sent: int, pending: int, sending: int) -> None:
    rows = [_row(n, OutboxState.SENT, sent_at=NOW) for n in range(sent)]
    rows += [_row(sent + n, OutboxState.PENDING) for n in range(pending)]
    rows += [
        _row(sent + pending + n, OutboxState.SENDING, claimed_by="dead", claimed_until=NOW - MINUTE)
        for n in range(sending)
    ]
    with store.engine.begin() as conn:
        for start in range(0, len(rows), 2000):
            conn.execute(insert(OutboxMessage.__table__), rows[start : start + 2000])
        conn.execute(text("ANALYZE"))


def _claim_statements(store: Store) -> list[tuple[str, Any]]:
    """The SELECTs ``claim_due`` runs, with their parameters (rolled back afterwards)."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Connection, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and re.search(
            r"FROM outbox\s", statement
        ):
            seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        with store.engine.connect() as conn, Session(conn) as session:
            rows = claim_due(session, worker="w", now=NOW, limit=50, claim_for=MINUTE)
            assert len(rows) == 25  # 5 expired claims, then 20 pending
            session.rollback()
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    assert len(seen) == 2
    return seen


def test_the_claim_plan_stays_on_the_partial_indexes_after_analyze(store: Store) -> None:
    _populate(store, sent=6000, pending=20, sending=5)
    statements = _claim_statements(store)
    with store.engine.connect() as conn:
        plans = [_plan(conn, statement, params) for statement, params in statements]
    expired, pending = plans
    if store.is_sqlite:
        assert "USING INDEX ix_outbox_sending" in expired, expired
        assert "USING INDEX ix_outbox_pending" in pending, pending
        for found in plans:
            assert "TEMP B-TREE" not in found, found
    else:
        assert "ix_outbox_sending" in expired, expired
        assert "ix_outbox_pending" in pending, pending
        for found in plans:
            assert "Seq Scan" not in found, found
            assert "Sort" not in found, found


def _plan(conn: Connection, statement: str, params: Any) -> str:
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
        return "\n".join(str(row[-1]) for row in rows)
    rows = conn.exec_driver_sql(f"EXPLAIN {statement}", params).all()
    return "\n".join(str(row[0]) for row in rows)
