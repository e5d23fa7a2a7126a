"""The bounded column types: what an unstorable value becomes, on both engines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Column, MetaData, Table, bindparam, insert, select, text
from sqlalchemy.exc import OperationalError

from invitegw.errors import StorageDataError, StorageError
from invitegw.gateway.storage import Store, map_storage_errors
from invitegw.gateway.storage.engine import is_data_error
from invitegw.sqltypes import (
    BoundedString,
    Int32,
    Int64,
    PreparedStatement,
    SafeText,
    clean_text,
    fit_text,
)


def test_clean_text_replaces_only_what_no_database_stores() -> None:
    assert clean_text("plain") == "plain"
    assert clean_text("zażółć") == "zażółć"
    assert clean_text("a\x00b") == "a\ufffdb"
    assert clean_text("bad \udc80 byte") == "bad \ufffd byte"


def test_fit_text_hashes_or_cuts_what_is_too_long() -> None:
    assert fit_text("short", 10) == "short"
    hashed = fit_text("u" * 600, 512)
    assert hashed.startswith("sha256:")
    assert len(hashed) == 71
    assert fit_text("u" * 600, 512) == hashed  # the same value, the same text
    assert fit_text("u" * 601, 512) != hashed
    assert len(fit_text("x" * 100, 32)) == 32  # narrow: the digest, cut
    cut = fit_text("Name " * 100, 255, overflow="cut")
    assert len(cut) == 255
    assert cut.endswith("\u2026")
    assert cut.startswith("Name Name")


@pytest.fixture
def table(store: Store) -> Iterator[Table]:
    """The probe table of bounded columns, made in the store's database for one test."""
    metadata = MetaData()
    probe = _table(metadata)
    metadata.create_all(store.engine)
    yield probe
    metadata.drop_all(store.engine)


def _table(metadata: MetaData) -> Table:
    return Table(
        "bounded_probe",
        metadata,
        Column("key", BoundedString(16)),
        Column("body", SafeText()),
        Column("small", Int32()),
        Column("big", Int64()),
    )


def test_bounded_columns_store_what_would_be_refused(store: Store, table: Table) -> None:
    with store.session() as session:
        session.execute(insert(table), {"key": "k" * 100, "body": "a\x00b", "small": 1})
    with store.session() as session:
        key, body = session.execute(select(table.c.key, table.c.body)).one()
        # The same over-long value finds the row again: its bind is hashed alike.
        found = session.scalar(select(table.c.body).where(table.c.key == "k" * 100))
    assert len(key) == 16
    assert body == "a\ufffdb"
    assert found == body


@pytest.mark.parametrize(("column", "value"), [("small", 2**31), ("big", 2**63)])
def test_an_integer_out_of_range_is_a_data_error(
    store: Store, table: Table, column: str, value: int
) -> None:
    with (
        pytest.raises(StorageDataError, match="out of the column's range"),
        store.session() as session,
    ):
        session.execute(insert(table), {column: value})


def test_a_value_the_database_refuses_is_a_data_error_others_are_not(store: Store) -> None:
    # Past the bounded types: PostgreSQL refuses the cast, SQLite the blob size.
    refused = "SELECT zeroblob(2147483647)" if store.is_sqlite else "SELECT CAST('x' AS integer)"
    with pytest.raises(StorageDataError), store.session() as session:
        session.execute(text(refused))
    with pytest.raises(StorageError) as caught, store.session() as session:
        session.execute(text("SELECT * FROM no_such_table"))
    assert not isinstance(caught.value, StorageDataError)


def test_a_lost_connection_is_not_a_data_error() -> None:
    error = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert not is_data_error(error)
    with pytest.raises(StorageError) as caught, map_storage_errors():
        raise error
    assert not isinstance(caught.value, StorageDataError)


# -- PreparedStatement: the same rows and errors as Connection.execute, on both engines ------


def test_a_prepared_statement_binds_and_returns_as_connection_execute(
    store: Store, table: Table
) -> None:
    insert_row = PreparedStatement(insert(table))
    by_key = PreparedStatement(
        select(table.c.small, table.c.body)
        .where(table.c.key == bindparam("key"))
        .order_by(table.c.small)
        .limit(1)  # a value bound in the statement itself
    )
    with store.session() as session:
        # The columns' own conversions: an over-long key hashed, a NUL replaced.
        insert_row.execute(session, {"key": "k" * 100, "body": "a\x00b", "small": 2})
        insert_row.execute(
            session,
            [
                {"key": "k" * 100, "body": "c", "small": 1},
                {"key": "z", "body": "d", "small": 3},
            ],
        )
        rows = by_key.execute(session, {"key": "k" * 100}).all()
        core = session.connection().execute(
            select(table.c.small, table.c.body)
            .where(table.c.key == "k" * 100)
            .order_by(table.c.small)
            .limit(1)
        )
        assert [tuple(r) for r in rows] == [tuple(r) for r in core] == [(1, "c")]
        assert by_key.execute(session, {"key": "z"}).one().body == "d"
        stored = session.execute(select(table.c.key, table.c.body).order_by(table.c.small))
        assert [(len(k), b) for k, b in stored] == [(16, "c"), (16, "a\ufffdb"), (1, "d")]


def test_a_value_a_prepared_statement_cannot_bind_is_a_data_error(
    store: Store, table: Table
) -> None:
    statement = PreparedStatement(insert(table))
    with (
        pytest.raises(StorageDataError, match="out of the column's range"),
        map_storage_errors(),
        store.session() as session,
    ):
        statement.execute(session, {"key": "k", "small": 2**40})


def test_a_statement_finished_per_execution_runs_through_connection_execute(
    store: Store, table: Table
) -> None:
    # An expanding IN list is rendered per execution: no plan, the ordinary path.
    some = PreparedStatement(select(table.c.small).where(table.c.key.in_(bindparam("keys"))))
    with store.session() as session:
        session.execute(insert(table), [{"key": "a", "small": 1}, {"key": "b", "small": 2}])
        found = some.execute(session, {"keys": ["a", "b", "c"]}).scalars().all()
        assert sorted(found) == [1, 2]
