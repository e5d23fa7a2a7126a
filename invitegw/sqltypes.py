"""SQLAlchemy types and helpers shared by the gateway's storage and the built-in CRM.

Both live in one database and one Alembic history, but the CRM adapter must not import the
gateway, so what they share lives here, below both.

Bounded columns: every text and integer column of both schemas uses :class:`BoundedString`,
:class:`SafeText` or :class:`Int32`, so a value read from a message (a UID, a Message-ID, a
PARTSTAT, a SEQUENCE) can never make the database refuse a write. PostgreSQL refuses a
``varchar(n)`` value over ``n`` characters, an ``integer`` over 2^31-1 and a NUL character
in any text; SQLite takes them all but an integer over 2^63-1; neither takes a lone
surrogate. The types bound the value on its way in, the same way on both engines: an
over-long value is replaced by its SHA-256 (a key stays a key: the same value gives the
same stored text, in a WHERE clause too) or, for display text, cut; NULs and lone
surrogates become U+FFFD; an integer out of the column's range is refused with a
``ValueError``, which SQLAlchemy raises as a ``StatementError`` (the storage layer reports
it as a data error: the message's fault, not the database's).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal

from sqlalchemy import BigInteger, DateTime, Dialect, Enum, Integer, MetaData, String, Text
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "NAMING_CONVENTION",
    "BigId",
    "BoundedString",
    "Int32",
    "Int64",
    "PreparedStatement",
    "SafeText",
    "UtcDateTime",
    "clean_text",
    "describe_db_error",
    "enum_type",
    "fit_text",
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


@dataclass(frozen=True, slots=True)
class _Plan:
    """A statement compiled for one dialect and one set of parameter names."""

    sql: str
    names: tuple[str, ...]  # every bind parameter, in the driver's order when positional
    positional: bool
    defaults: dict[str, Any]  # the values bound in the statement itself (LIMIT 1, literals)
    processors: tuple[Callable[[Any], Any] | None, ...]  # per name: the type's conversion


class PreparedStatement:
    """A statement compiled once per dialect and parameter names, then run as SQL text.

    ``Connection.execute`` looks the compiled form up in its cache and sets up a context
    on every execution: 50 to 100 µs a statement in the inbound pipeline, more than SQLite
    takes to run it. Here SQLAlchemy compiles once; each execution converts the parameters
    with the columns' own types (the bounds of :class:`BoundedString` and :class:`Int32`,
    UTC times, JSON) and hands the SQL text to ``Connection.exec_driver_sql``: in the
    session's transaction, with the engine's events and SQLAlchemy's error wrapping.

    Rows come back as the driver returns them, without the result columns' conversions:
    use it for statements whose results are ids or plain text. A statement whose SQL is
    only finished per execution (post-compile or expanding parameters), or whose
    parameters are not plain bind names, runs through ``Connection.execute`` instead.

    Measured on SQLite: a prebuilt INSERT took 77 µs through ``Session.execute`` (the
    ORM's execution layer, even for a table), 55 µs through ``Connection.execute`` and
    38 µs here; the inbound pipeline runs eight statements per message.

    Parameters:
        statement: the statement (bind parameters for what varies).
    """

    __slots__ = ("_plans", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan | None] = {}

    def execute(
        self, session: Session, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> CursorResult[Any]:
        """Run the statement in ``session``'s transaction.

        What ``Session.execute`` would have done first is kept: pending ORM changes are
        flushed (its autoflush), so the statement sees them.

        Parameters:
            session: the unit of work's session.
            params: the parameters; a sequence of mappings (all with the same keys) runs
                the statement once for each.

        Returns:
            The result.
        """
        rows = [params] if isinstance(params, Mapping) else list(params)
        if session.autoflush:
            session.flush()
        connection = session.connection()
        plan = None
        if rows:
            dialect = connection.dialect
            key = (dialect.name, tuple(rows[0]))
            plan = self._plans[key] if key in self._plans else self._plan(key, dialect)
        if plan is None:
            return connection.execute(self.statement, params)
        try:
            converted = [_convert(plan, row) for row in rows]
        except Exception as exc:
            # As Connection.execute reports a value its bind step refused (Int32's range,
            # say): a StatementError around the cause, raised before the database saw it.
            cause = f"({type(exc).__module__}.{type(exc).__name__}) {exc}"
            raise StatementError(cause, plan.sql, None, exc) from exc
        return connection.exec_driver_sql(
            plan.sql, converted[0] if isinstance(params, Mapping) else converted
        )

    def _plan(self, key: tuple[str, tuple[str, ...]], dialect: Dialect) -> _Plan | None:
        compiled: Any = self.statement.compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=list(key[1])
        )
        binds: Mapping[str, Any] = compiled.binds
        plain = (
            "POSTCOMPILE" not in compiled.string
            and all(name in binds for name in key[1])
            and not any(b.expanding or b.literal_execute or b.callable for b in binds.values())
        )
        plan: _Plan | None = None
        if plain:
            names = tuple(compiled.positiontup) if compiled.positional else tuple(binds)
            plan = _Plan(
                sql=compiled.string,
                names=names,
                positional=bool(compiled.positional),
                defaults={n: binds[n].value for n in names if n not in key[1]},
                processors=tuple(
                    binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names
                ),
            )
        self._plans[key] = plan
        return plan


def _convert(plan: _Plan, row: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
    """``row`` as the driver takes it: every bind parameter, converted by its type."""
    given = {**plan.defaults, **row} if plan.defaults else row
    values = [
        given[name] if process is None else process(given[name])
        for name, process in zip(plan.names, plan.processors, strict=True)
    ]
    return tuple(values) if plan.positional else dict(zip(plan.names, values, strict=True))


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


# PostgreSQL's ``integer`` (and the range RFC 5545 section 3.3.8 gives an iCalendar INTEGER).
INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
_HASH_PREFIX = "sha256:"
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
Overflow = Literal["hash", "cut"]


def clean_text(value: str) -> str:
    """``value`` with what no database stores as text replaced by U+FFFD.

    PostgreSQL refuses NUL in any text; neither engine's driver can encode a lone surrogate
    (what ``surrogateescape`` makes of undecodable header bytes).

    Parameters:
        value: any text.

    Returns:
        The text, unchanged when it was storable (the usual case, checked cheaply).
    """
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE_RE.sub("\ufffd", value)
    return value


def fit_text(value: str, length: int, *, overflow: Overflow = "hash") -> str:
    """``value`` made storable in a column of ``length`` characters.

    Parameters:
        value: any text.
        length: the column's width (``varchar(n)`` counts characters).
        overflow: ``hash``: an over-long value becomes ``sha256:`` and its hex digest (cut
            to the width, for narrow columns), so distinct values stay distinct and the
            same value always maps to the same text; ``cut``: the first characters and
            an ellipsis (display text, never looked up).

    Returns:
        The storable text (see :func:`clean_text`).
    """
    value = clean_text(value)
    if len(value) <= length:
        return value
    if overflow == "cut":
        return value[: max(0, length - 1)] + "\u2026"
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
    marked = _HASH_PREFIX + digest
    return marked if len(marked) <= length else digest[:length]


class BoundedString(TypeDecorator[str]):
    """``VARCHAR(length)`` whose values are made to fit on the way in (:func:`fit_text`).

    Parameters:
        length: the column width.
        overflow: what an over-long value becomes (see :func:`fit_text`).
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int, *, overflow: Overflow = "hash") -> None:
        super().__init__(length)
        self.length = length
        self.overflow: Overflow = overflow

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Fit the value to the column."""
        if value is None:
            return None
        return fit_text(str(value), self.length, overflow=self.overflow)

    def __repr__(self) -> str:
        return f"BoundedString({self.length}, overflow={self.overflow!r})"


class SafeText(TypeDecorator[str]):
    """``TEXT`` without NULs or lone surrogates (:func:`clean_text`)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Make the value storable."""
        return None if value is None else clean_text(str(value))


class Int32(TypeDecorator[int]):
    """``INTEGER`` on both engines, refusing what PostgreSQL's ``integer`` cannot hold.

    SQLite would store up to 2^63-1, so the same data would pass there and fail on
    PostgreSQL; refusing it on both keeps the engines alike.
    """

    impl = Integer
    cache_ok = True
    _low, _high = INT32_MIN, INT32_MAX

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        """Refuse an out-of-range value (``ValueError``; SQLAlchemy: ``StatementError``)."""
        if value is None:
            return None
        number = int(value)
        if not self._low <= number <= self._high:
            raise ValueError(f"integer {str(number)[:40]} is out of the column's range")
        return number


class Int64(Int32):
    """``BIGINT``, refusing what neither engine holds (past 2^63-1 SQLite raises
    ``OverflowError``, PostgreSQL a data error).

    Parameters:
        sqlite_integer: the column was made ``INTEGER`` on SQLite (64 bits there too) and
            widened on PostgreSQL only (migration 0005): say so, so the models and the
            migrations agree on both engines.
    """

    impl = BigInteger
    cache_ok = True
    _low, _high = INT64_MIN, INT64_MAX

    def __init__(self, *, sqlite_integer: bool = False) -> None:
        super().__init__()
        self.sqlite_integer = sqlite_integer

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """``INTEGER`` on SQLite when the column was made so."""
        if self.sqlite_integer and dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(BigInteger())
