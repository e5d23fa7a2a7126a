"""The application layer's outbox and quarantine use cases, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from invitegw.gateway.app.outbox import RetryError, list_outbox, retry_outbox
from invitegw.gateway.app.quarantine import list_quarantine, release_quarantined
from invitegw.gateway.bootstrap import Gateway, build_gateway
from invitegw.gateway.config import load_settings
from invitegw.gateway.inbound.quarantine import QuarantineReleaseError
from invitegw.gateway.storage import OutboxState, Store, enqueue, mark_dead, quarantine_message

NOW = dt.datetime(2030, 6, 3, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def gateway(store: Store, tmp_path: Path) -> Gateway:
    settings = load_settings(None, {"INVITEGW_DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    made = build_gateway(settings, store=store, clock=lambda: NOW, check_schema=False)
    return made


def _queue(store: Store, n: int, *, dead: tuple[int, ...] = ()) -> list[int]:
    ids = []
    with store.session() as session:
        for i in range(n):
            row = enqueue(
                session,
                message_id=f"<m{i}@example.com>",
                sender="sales@example.com",
                recipient=f"guest{i}@example.org",
                now=NOW,
                method="REQUEST",
                raw=b"x",
            )
            session.flush()
            ids.append(row.id)
    with store.session() as session:
        for i in dead:
            claimed = session.get_one(type(row), ids[i])
            claimed.claimed_by, claimed.state = "w", OutboxState.SENDING  # as a claim leaves it
            session.flush()
            assert mark_dead(session, ids[i], worker="w", now=NOW, error="550 no such user")
    return ids


def test_the_outbox_is_listed_newest_first_and_filtered(gateway: Gateway, store: Store) -> None:
    ids = _queue(store, 3, dead=(1,))
    entries = list_outbox(gateway)
    assert [e.id for e in entries] == sorted(ids, reverse=True)
    dead = list_outbox(gateway, state="dead")
    assert [(e.id, e.last_error) for e in dead] == [(ids[1], "550 no such user")]
    assert [e.id for e in list_outbox(gateway, recipient="GUEST2@example.org")] == [ids[2]]
    assert [e.id for e in list_outbox(gateway, limit=1, before_id=ids[2])] == [ids[1]]
    record = dead[0].to_json()
    assert record["state"] == "dead"
    assert record["created_at"] == "2030-06-03T08:00:00Z"


def test_an_unknown_state_or_limit_is_a_clear_error(gateway: Gateway) -> None:
    with pytest.raises(Exception, match="not one of"):
        list_outbox(gateway, state="lost")
    with pytest.raises(Exception, match="positive"):
        list_outbox(gateway, limit=0)


def test_retry_queues_dead_messages_and_refuses_the_others_whole(
    gateway: Gateway, store: Store
) -> None:
    ids = _queue(store, 3, dead=(0, 1))
    with pytest.raises(RetryError, match="no such message"):
        retry_outbox(gateway, ids=[ids[0], 999_999])
    assert {e.id for e in list_outbox(gateway, state="dead")} == {ids[0], ids[1]}  # unchanged
    assert retry_outbox(gateway, ids=[ids[0]]) == 1
    assert retry_outbox(gateway, every_dead=True) == 1
    assert {e.state for e in list_outbox(gateway)} == {OutboxState.PENDING.value}


def test_the_quarantine_lists_what_waits_and_a_release_needs_a_whole_copy(
    gateway: Gateway, store: Store
) -> None:
    with store.session() as session:
        kept = quarantine_message(
            session,
            raw=b"not mail at all",
            source="file",
            reason="no calendar",
            now=NOW,
            max_bytes=1000,
        )
        cut = quarantine_message(
            session, raw=b"x" * 100, source="file", reason="too big", now=NOW, max_bytes=10
        )
        kept_id, cut_id = kept.id, cut.id
    entries = list_quarantine(gateway)
    assert [(e.id, e.reason) for e in entries] == [(cut_id, "too big"), (kept_id, "no calendar")]
    with pytest.raises(QuarantineReleaseError, match="not kept whole"):
        release_quarantined(gateway, cut_id)
    result = release_quarantined(gateway, kept_id)
    assert result.quarantined  # still no calendar: it stays, with its reason brought up to date
    assert [e.id for e in list_quarantine(gateway)][-1] == kept_id
