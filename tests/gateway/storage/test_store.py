"""The unit of work and engine setup: transactions, SQLite pragmas, UTC times, errors."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from invitegw.errors import StorageError
from invitegw.gateway.storage import Cursor, Store, normalize_url, open_store, set_cursor, upgrade

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def test_session_commits_on_success_and_rolls_back_on_error(store: Store) -> None:
    with store.session() as session:
        set_cursor(session, "kept", "1", now=T0)

    def fail_inside_a_session() -> None:
        with store.session() as session:
            set_cursor(session, "lost", "2", now=T0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_inside_a_session()
    with store.session() as session:
        names = session.scalars(select(Cursor.name)).all()
    assert names == ["kept"]


def test_database_errors_become_one_line_storage_errors(store: Store) -> None:
    with store.session() as session:
        set_cursor(session, "c", "1", now=T0)
    with pytest.raises(StorageError) as info, store.session() as session:
        session.add(Cursor(name="c", value="again", updated_at=T0))
    message = str(info.value)
    assert message.startswith("database failed:")
    assert "\n" not in message
    assert "[SQL:" not in message


def test_times_are_aware_utc_and_naive_ones_are_refused(store: Store) -> None:
    warsaw = dt.datetime(2026, 7, 1, 11, 30, tzinfo=ZoneInfo("Europe/Warsaw"))
    with store.session() as session:
        set_cursor(session, "tz", "x", now=warsaw)
    with store.session() as session:
        row = session.get(Cursor, "tz")
        assert row is not None
        assert row.updated_at == dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC)
        assert row.updated_at.utcoffset() == dt.timedelta(0)
    with pytest.raises(StorageError, match="expected an aware datetime"), store.session() as s:
        set_cursor(s, "naive", "x", now=dt.datetime(2026, 7, 1, 9, 30))  # noqa: DTZ001


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "gw.sqlite3"
    with open_store(f"sqlite:///{path}", busy_timeout=7) as store:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 7000
        assert store.is_sqlite
    assert path.exists()


def test_a_database_another_writer_holds_is_a_storage_error_at_begin(tmp_path: Path) -> None:
    path = tmp_path / "gw.sqlite3"
    with open_store(f"sqlite:///{path}", busy_timeout=0.05) as store:
        upgrade(store)
        with store.session() as session:
            set_cursor(session, "before", "1", now=T0)
        writer = sqlite3.connect(path, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")  # another process's write transaction
            with pytest.raises(StorageError, match="locked"), store.session() as session:
                set_cursor(session, "blocked", "2", now=T0)
            writer.execute("ROLLBACK")
        finally:
            writer.close()
        with store.session() as session:  # the pooled connection is usable again
            set_cursor(session, "after", "3", now=T0)
            assert sorted(session.scalars(select(Cursor.name))) == ["after", "before"]


def test_in_memory_sqlite_is_shared_between_sessions() -> None:
    with open_store("sqlite://") as store:
        with store.engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with store.session() as session:
            assert session.execute(text("SELECT x FROM t")).scalar() == 1


def test_urls_are_normalised() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    with_password = normalize_url("postgresql://u@h/db", password="s3cret")
    assert with_password.password == "s3cret"
    store = open_store("postgresql://u@127.0.0.1:1/db", password="s3cret")
    assert "s3cret" not in repr(store)
    store.dispose()
    with pytest.raises(StorageError, match="unsupported database 'mysql'"):
        normalize_url("mysql://h/db")
    with pytest.raises(StorageError, match="invalid database URL"):
        normalize_url("not a url")


def test_unreachable_server_is_a_storage_error() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    url = "postgresql+psycopg://postgres@127.0.0.1:1/x"
    with (
        open_store(url, busy_timeout=2) as store,
        pytest.raises(StorageError) as info,
        store.session() as session,
    ):
        session.execute(text("SELECT 1"))
    assert "\n" not in str(info.value)
