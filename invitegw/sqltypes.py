"""SQLAlchemy types and helpers shared by the gateway's storage and the built-in CRM.

Both live in one database and one Alembic history, but the CRM adapter must not import the
gateway, so what they share lives here, below both.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import BigInteger, DateTime, Dialect, Enum, Integer, MetaData
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "NAMING_CONVENTION",
    "BigId",
    "UtcDateTime",
    "describe_db_error",
    "enum_type",
    "naming_metadata",
]

# Stable constraint names, so migrations can name what they alter (and SQLite batch mode
# can rebuild tables) identically on every engine.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId: Final[TypeEngine[int]] = BigInteger().with_variant(Integer(), "sqlite")


def naming_metadata() -> MetaData:
    """A ``MetaData`` with the shared naming convention.

    Returns:
        A new, empty metadata.
    """
    return MetaData(naming_convention=NAMING_CONVENTION)


def enum_type(enum: type[StrEnum], length: int = 24) -> Enum:
    """A column type storing a ``StrEnum`` by value, as VARCHAR (no native ENUM to migrate).

    Parameters:
        enum: the enum class.
        length: the column width.

    Returns:
        The SQLAlchemy type.
    """
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC ``datetime`` on every engine.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored as
    naive UTC and UTC is attached again when read. Naive datetimes are refused: an
    ambiguous instant is a bug, not data.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Convert to UTC (naive on SQLite); refuse naive input."""
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError(f"expected an aware datetime, got {value!r}")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        stored: dt.datetime = value
        if stored.tzinfo is None:
            return stored.replace(tzinfo=dt.UTC)
        return stored.astimezone(dt.UTC)


def describe_db_error(exc: BaseException) -> str:
    """One line saying what the database reported, without SQL text or parameters.

    Parameters:
        exc: a SQLAlchemy (or driver) exception.

    Returns:
        The driver's message, whitespace collapsed.
    """
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    text = text.split("\n[SQL:", 1)[0].split("(Background on this error", 1)[0]
    return " ".join(text.split()) or type(exc).__name__
