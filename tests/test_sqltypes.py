"""The bounded column types: what an unstorable value becomes, on both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, Table, insert, select, text
from sqlalchemy.exc import OperationalError

from invitegw.errors import StorageDataError, StorageError
from invitegw.gateway.storage import Store, map_storage_errors
from invitegw.gateway.storage.engine import is_data_error
from invitegw.sqltypes import BoundedString, Int32, Int64, SafeText, clean_text, fit_text


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


def _table(metadata: MetaData) -> Table:
    return Table(
        "bounded_probe",
        metadata,
        Column("key", BoundedString(16)),
        Column("body", SafeText()),
        Column("small", Int32()),
        Column("big", Int64()),
    )


def test_bounded_columns_store_what_would_be_refused(store: Store) -> None:
    metadata = MetaData()
    table = _table(metadata)
    metadata.create_all(store.engine)
    try:
        with store.session() as session:
            session.execute(insert(table), {"key": "k" * 100, "body": "a\x00b", "small": 1})
        with store.session() as session:
            key, body = session.execute(select(table.c.key, table.c.body)).one()
            # The same over-long value finds the row again: its bind is hashed alike.
            found = session.scalar(select(table.c.body).where(table.c.key == "k" * 100))
        assert len(key) == 16
        assert body == "a\ufffdb"
        assert found == body
    finally:
        metadata.drop_all(store.engine)


@pytest.mark.parametrize(("column", "value"), [("small", 2**31), ("big", 2**63)])
def test_an_integer_out_of_range_is_a_data_error(store: Store, column: str, value: int) -> None:
    metadata = MetaData()
    table = _table(metadata)
    metadata.create_all(store.engine)
    try:
        with (
            pytest.raises(StorageDataError, match="out of the column's range"),
            store.session() as session,
        ):
            session.execute(insert(table), {column: value})
    finally:
        metadata.drop_all(store.engine)


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
