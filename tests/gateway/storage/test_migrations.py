"""Alembic migrations: from empty, from the previous revision with data, and the checks."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from invitegw.crm_adapter.builtin.schema import MEETING_CHANGES, CrmBase, CrmCounter
from invitegw.errors import SchemaOutdatedError, StorageError
from invitegw.gateway.storage import (
    GatewayBase,
    OutboundMeeting,
    OutboundReminder,
    OutboxMessage,
    QuarantinedMessage,
    Store,
    ensure_schema,
    get_cursor,
    head_revision,
    schema_status,
    upgrade,
)
from invitegw.gateway.storage.schema import revisions

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def test_there_are_several_revisions_in_a_line() -> None:
    shipped = revisions()
    assert len(shipped) >= 2
    assert shipped[-1] == head_revision()


def test_upgrade_from_empty_creates_every_table(empty_store: Store) -> None:
    assert schema_status(empty_store).current is None
    status = upgrade(empty_store)
    assert status.up_to_date
    tables = set(inspect(empty_store.engine).get_table_names())
    expected = set(GatewayBase.metadata.tables) | set(CrmBase.metadata.tables)
    assert expected <= tables
    # Upgrading again is a no-op.
    assert upgrade(empty_store) == status


def test_models_and_migrations_agree(store: Store) -> None:
    with store.engine.connect() as conn, warnings.catch_warnings():
        # SQLite cannot reflect the lower(email) expression indexes, so alembic skips them
        # (with a warning) there; PostgreSQL compares them too.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, [GatewayBase.metadata, CrmBase.metadata])
    assert diff == []


def _seed_at_0002(store: Store) -> None:
    """Rows as revision 0002 knew them (plain SQL: the models have moved on since)."""
    stamp = T0.replace(tzinfo=None) if store.is_sqlite else T0
    rows = {"t": stamp}
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outbound_meetings (id, crm_meeting_id, calendar, uid, sequence, "
                "snapshot, cancelled, deleted, created_at, updated_at) VALUES (7, '42', "
                "'sales', 'uid-42@example.com', 3, :snap, false, false, :t, :t)"
            ),
            {**rows, "snap": '{"title": "Kick-off"}'},
        )
        conn.execute(
            text(
                "INSERT INTO outbound_attendees (id, meeting_id, address, name, role, token, "
                "last_sequence_sent, partstat, removed, delivery_state, created_at, updated_at) "
                "VALUES (9, 7, 'ann@example.org', 'Ann', 'REQ-PARTICIPANT', 'k3x9q', 3, "
                "'ACCEPTED', false, 'sent', :t, :t)"
            ),
            rows,
        )
        conn.execute(
            text(
                "INSERT INTO outbox (message_id, kind, meeting_id, attendee_id, sender, "
                "recipient, method, sequence, raw, state, attempts, next_attempt_at, "
                "created_at, updated_at) VALUES ('<m1@example.com>', 'invitation', 7, 9, "
                "'sales@example.com', 'ann@example.org', 'REQUEST', 3, :raw, 'pending', 0, "
                ":t, :t, :t)"
            ),
            {**rows, "raw": b"Subject: hi\r\n\r\nbody"},
        )
        conn.execute(
            text("INSERT INTO cursors (name, value, updated_at) VALUES ('crm.changes', '17', :t)"),
            rows,
        )


def test_upgrade_from_0002_keeps_the_outbound_ledger(empty_store: Store) -> None:
    upgrade(empty_store, "0002")
    assert schema_status(empty_store).current == "0002"
    _seed_at_0002(empty_store)

    with pytest.raises(SchemaOutdatedError, match=r"run `invitegw db upgrade`"):
        ensure_schema(empty_store)
    status = upgrade(empty_store)
    assert status.current == head_revision()

    with empty_store.session() as session:
        kept = session.scalars(select(OutboundMeeting)).one()
        assert (kept.uid, kept.sequence, kept.snapshot, kept.ends_at) == (
            "uid-42@example.com",
            3,
            {"title": "Kick-off"},
            None,
        )
        (ann,) = kept.attendees
        assert (ann.token, ann.partstat, ann.last_sequence_sent) == ("k3x9q", "ACCEPTED", 3)
        # The columns 0003 adds start empty: no resend asked, no thread, no reminder yet.
        assert (ann.resend_requested_at, ann.thread_id, ann.invited_at, ann.time_zone) == (
            None,
            None,
            None,
            None,
        )
        assert session.scalars(select(OutboundReminder)).all() == []
        row = session.scalars(select(OutboxMessage)).one()
        assert (row.raw, row.attendee_id) == (b"Subject: hi\r\n\r\nbody", ann.id)
        assert get_cursor(session, "crm.changes") == "17"
        counter = session.get(CrmCounter, MEETING_CHANGES)
        assert counter is not None
        assert counter.value == 0
        # And the new table takes rows.
        session.add(
            OutboundReminder(
                meeting_id=kept.id,
                attendee_id=ann.id,
                occurrence="2026-03-02T09:00:00Z",
                message_id="<r1@example.com>",
                created_at=T0,
            )
        )


def test_ensure_schema_refuses_or_upgrades(empty_store: Store) -> None:
    with pytest.raises(
        SchemaOutdatedError, match=r"no invitegw schema yet: run `invitegw db upgrade`"
    ):
        ensure_schema(empty_store)
    assert ensure_schema(empty_store, auto_upgrade=True).up_to_date
    assert ensure_schema(empty_store).up_to_date


def test_a_newer_database_is_refused(empty_store: Store) -> None:
    upgrade(empty_store)
    with empty_store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(StorageError, match="revision ffff, which this version of invitegw"):
        ensure_schema(empty_store, auto_upgrade=True)


def test_unknown_target_revision_is_a_storage_error(empty_store: Store) -> None:
    with pytest.raises(StorageError, match="upgrading the schema failed"):
        upgrade(empty_store, "nope")


def test_upgrade_from_0003_keeps_the_quarantine(empty_store: Store) -> None:
    upgrade(empty_store, "0003")
    with empty_store.session() as session:
        session.execute(
            text(
                "INSERT INTO quarantine (source, message_id, reference, raw, size, truncated,"
                " reason, created_at) VALUES ('sales', 'm1@example.org', 'sales:Quarantine',"
                " :raw, 9, :no, 'forwarder x@example.org is not a CRM user', :at)"
            ),
            {"raw": b"raw bytes", "no": False, "at": T0},
        )
    assert upgrade(empty_store).current == head_revision()
    with empty_store.session() as session:
        row = session.scalars(select(QuarantinedMessage)).one()
        assert (row.source, row.raw, row.reason, row.released_at) == (
            "sales",
            b"raw bytes",
            "forwarder x@example.org is not a CRM user",
            None,
        )
        # The column 0004 adds: how the message arrived; unknown for older rows.
        assert row.received is None
        row.received = {"owner": "olga@example.com"}
    with empty_store.session() as session:
        assert session.scalars(select(QuarantinedMessage.received)).one() == {
            "owner": "olga@example.com"
        }
