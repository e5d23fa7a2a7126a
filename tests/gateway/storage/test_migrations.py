"""Alembic migrations: from empty, from the previous revision with data, and the checks."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from invitegw.crm_adapter.sql_schema import MEETING_CHANGES, CrmBase, CrmCounter
from invitegw.errors import SchemaOutdatedError, StorageError
from invitegw.gateway.storage import (
    GatewayBase,
    OutboundMeeting,
    OutboxMessage,
    Store,
    enqueue,
    ensure_schema,
    get_cursor,
    head_revision,
    schema_status,
    set_cursor,
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


def test_upgrade_from_previous_revision_keeps_the_data(empty_store: Store) -> None:
    previous = revisions()[-2]
    upgrade(empty_store, previous)
    assert schema_status(empty_store).current == previous
    with empty_store.session() as session:
        meeting = OutboundMeeting(
            crm_meeting_id="42",
            calendar="sales",
            uid="uid-42@example.com",
            sequence=3,
            snapshot={"title": "Kick-off"},
            created_at=T0,
            updated_at=T0,
        )
        session.add(meeting)
        session.flush()
        enqueue(
            session,
            message_id="<m1@example.com>",
            sender="sales@example.com",
            recipient="ann@example.org",
            now=T0,
            meeting_id=meeting.id,
            raw=b"Subject: hi\r\n\r\nbody",
        )
        set_cursor(session, "crm.changes", "17", now=T0)

    with pytest.raises(SchemaOutdatedError, match=r"run `invitegw db upgrade`"):
        ensure_schema(empty_store)
    status = upgrade(empty_store)
    assert status.current == head_revision()

    with empty_store.session() as session:
        kept = session.scalars(select(OutboundMeeting)).one()
        assert (kept.uid, kept.sequence, kept.snapshot) == (
            "uid-42@example.com",
            3,
            {"title": "Kick-off"},
        )
        assert session.scalars(select(OutboxMessage.raw)).one() == b"Subject: hi\r\n\r\nbody"
        assert get_cursor(session, "crm.changes") == "17"
        counter = session.get(CrmCounter, MEETING_CHANGES)
        assert counter is not None
        assert counter.value == 0


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
