"""The inbound ledger's combined queries and writes, against the database (SQLite, PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from invitegw.gateway.inbound.records import (
    add_source,
    event_record,
    find_event,
    find_event_and_our_uid,
    is_our_message,
    is_our_uid,
    previous_result,
    seen_before,
    set_version,
)
from invitegw.gateway.storage import (
    InboundEvent,
    InboundEventSource,
    InboundState,
    OutboundMeeting,
    Store,
    append_processed,
    enqueue,
)
from invitegw.itip.keys import EventKey
from invitegw.itip.task_facts import LedgerState, Version

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
KEY = EventKey("org@partner.example", "uid-1@partner.example", "")


def test_a_new_ledger_row_is_written_at_once_and_changes_once_loaded(store: Store) -> None:
    with store.session() as session:
        event_id = event_record(
            session,
            KEY,
            fingerprint="fp:1",
            version=Version(0, T0),
            state=LedgerState.ACTIVE,
            task_id="7",
            now=T0,
        )
        row = find_event(session, KEY)
        assert row is not None
        assert (row.id, row.task_id, row.fingerprint) == (event_id, "7", "fp:1")
        add_source(
            session, event_id, message_id="m1@x", source="sales", forwarder=None, now=T0, new=True
        )
        add_source(session, event_id, message_id="m1@x", source="sales", forwarder=None, now=T0)
        set_version(row, Version(2, T0 + dt.timedelta(hours=1)), T0, state=LedgerState.CANCELLED)
    with store.session() as session:
        stored = session.get(InboundEvent, event_id)
        assert stored is not None
        assert (stored.sequence, stored.dtstamp, stored.state, stored.task_id) == (
            2,
            T0 + dt.timedelta(hours=1),
            InboundState.CANCELLED,
            "7",
        )
        assert [s.message_id for s in session.query(InboundEventSource)] == ["m1@x"]


def test_the_ledger_row_and_the_loop_check_in_one_query(store: Store) -> None:
    with store.session() as session:
        assert find_event_and_our_uid(session, KEY, KEY.uid) == (None, False)
        session.add(
            OutboundMeeting(
                crm_meeting_id="9", calendar="sales", uid="ours@x", created_at=T0, updated_at=T0
            )
        )
        event_id = event_record(
            session,
            KEY,
            fingerprint="fp:1",
            version=Version(0, None),
            state=LedgerState.CANCEL_SEEN,
            task_id=None,
            now=T0,
        )
    with store.session() as session:
        found, ours = find_event_and_our_uid(session, KEY, "ours@x")
        assert found is not None
        assert (found.id, ours) == (event_id, True)
        assert ours == is_our_uid(session, "ours@x")
        assert find_event_and_our_uid(session, KEY, "")[1] is False
        assert find_event_and_our_uid(session, KEY._replace(recurrence_id="x"), "y") == (
            None,
            False,
        )


def test_seen_before_is_previous_result_and_the_outbox_check(store: Store) -> None:
    with store.session() as session:
        enqueue(session, message_id="ours@x", sender="s@x", recipient="r@partner.example", now=T0)
        append_processed(
            session,
            source="sales",
            uidvalidity=5,
            uid=1,
            message_id="m1@x",
            outcome="created",
            now=T0,
            details={"digest": "d1"},
        )
        append_processed(
            session,
            source="smtp",
            message_id="m2@x",
            outcome="created",
            now=T0,
            details={"digest": "d2"},
        )

    def check(**kwargs: object) -> tuple[str | None, bool]:
        with store.session() as session:
            prior, ours = seen_before(session, **kwargs)  # type: ignore[arg-type]
            alone = previous_result(
                session,
                **{k: v for k, v in kwargs.items() if k != "message_id"},  # type: ignore[arg-type]
            )
            assert (alone.id if alone else None) == (prior.id if prior else None)
            assert ours == is_our_message(session, kwargs["message_id"])  # type: ignore[arg-type]
            return (prior.source if prior else None), ours

    by_position = {"source": "sales", "uidvalidity": 5, "uid": 1}
    nowhere = {"source": "file", "uidvalidity": None, "uid": None}
    # Known by its place in the mailbox, whatever the Message-ID and body.
    assert check(**by_position, message_key="new@x", digest="zz", message_id="new@x") == (
        "sales",
        False,
    )
    # Known by Message-ID only with the same body.
    assert check(**nowhere, message_key="m2@x", digest="d2", message_id="m2@x") == ("smtp", False)
    assert check(**nowhere, message_key="m2@x", digest="other", message_id="m2@x") == (
        None,
        False,
    )
    # Our own Message-ID, and the absence of one.
    assert check(**nowhere, message_key="ours@x", digest="d", message_id="ours@x") == (
        None,
        True,
    )
    assert check(**nowhere, message_key="sha256:abc", digest="d", message_id=None) == (
        None,
        False,
    )


def test_processed_messages_are_found_by_position_or_message_id(store: Store) -> None:
    with store.session() as session:
        append_processed(
            session,
            source="sales",
            uidvalidity=5,
            uid=12,
            message_id="<a@example.org>",
            outcome="created",
            now=T0,
        )

    def found(**kwargs: object) -> bool:
        values: dict[str, object] = {
            "source": "file",
            "uidvalidity": None,
            "uid": None,
            "message_key": None,
            "digest": None,
            "message_id": None,
        }
        values.update(kwargs)
        with store.session() as session:
            prior, _ours = seen_before(session, **values)  # type: ignore[arg-type]
            return prior is not None

    assert found(source="sales", uidvalidity=5, uid=12)
    assert found(message_key="<a@example.org>")
    assert not found(source="sales", uidvalidity=6, uid=12)
    assert not found(message_key="<b@example.org>")
    assert not found()
