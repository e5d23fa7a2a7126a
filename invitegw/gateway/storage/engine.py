"""Engine setup for the two supported databases, and the mapping of database errors.

- **SQLite** (the embedded default, one process): WAL journal (readers never block the
  writer), ``foreign_keys=ON``, a busy timeout, and every transaction opened with
  ``BEGIN IMMEDIATE``. pysqlite's own transaction handling defers the BEGIN, which breaks
  SAVEPOINTs and lets two writers deadlock on the upgrade from a read lock (SQLITE_BUSY with
  no wait), so we take the write lock up front, as SQLAlchemy's documentation recommends.
- **PostgreSQL** through psycopg 3 (``postgresql+psycopg://``; a bare ``postgresql://`` URL
  is read as that), with a connection pool and pre-ping.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, SQLAlchemyError, StatementError
from sqlalchemy.pool import StaticPool

from invitegw.errors import StorageDataError, StorageError
from invitegw.gateway.config.redact import redact_urls
from invitegw.gateway.permissions import private_file, private_folder
from invitegw.sqltypes import describe_db_error

__all__ = [
    "create_engine_for",
    "describe_db_error",
    "is_data_error",
    "map_storage_errors",
    "normalize_url",
]

logger = logging.getLogger(__name__)

_BEGIN = "BEGIN IMMEDIATE"


def normalize_url(url: str | URL, *, password: str | None = None) -> URL:
    """The URL with our driver chosen and the password (from the environment) set.

    Parameters:
        url: ``sqlite:///path``, ``sqlite://`` (in memory) or a PostgreSQL URL.
        password: a password to put in the URL, if any.

    Returns:
        The parsed URL.

    Raises:
        StorageError: the URL cannot be parsed or names an unsupported database.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
        # SQLAlchemy's message quotes the URL, password and all.
        raise StorageError(f"invalid database URL: {redact_urls(str(exc))}") from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in {"sqlite", "sqlite+pysqlite", "postgresql+psycopg"}:
        raise StorageError(
            f"unsupported database {parsed.drivername!r}: use sqlite:/// or postgresql+psycopg://"
        )
    if password and parsed.drivername.startswith("sqlite"):
        # A setting that does not apply (a left-over INVITEGW_DATABASE__PASSWORD with the
        # embedded database): SQLite has no passwords, and a URL with one is invalid.
        logger.warning(
            "database.password (INVITEGW_DATABASE__PASSWORD) is set, but the database is "
            "SQLite, which has no password: ignored"
        )
    elif password:
        parsed = parsed.set(password=password)
    return parsed


def create_engine_for(
    url: str | URL,
    *,
    password: str | None = None,
    pool_size: int = 5,
    busy_timeout: float = 30.0,
) -> Engine:
    """An engine configured for the database ``url`` names.

    Parameters:
        url: the database URL (see :func:`normalize_url`).
        password: the database password from the environment, if any.
        pool_size: connections kept per process (PostgreSQL).
        busy_timeout: seconds to wait for a lock before failing.

    Returns:
        The engine. For a SQLite file, its folder (0700) and the file (0600) are created
        when missing.

    Raises:
        StorageError: the URL is invalid or its folder cannot be created.
    """
    parsed = normalize_url(url, password=password)
    try:
        if parsed.drivername.startswith("sqlite"):
            return _sqlite_engine(parsed, busy_timeout)
        return create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            connect_args={"connect_timeout": max(1, int(busy_timeout))},
        )
    except ArgumentError as exc:  # a URL the dialect refuses: one line, never a traceback
        raise StorageError(
            f"invalid database URL {parsed.render_as_string(hide_password=True)}: "
            f"{redact_urls(str(exc))}"
        ) from exc


def _sqlite_engine(url: URL, busy_timeout: float) -> Engine:
    database = url.database or ""
    memory = database in {"", ":memory:"}
    if not memory:
        try:
            # Quarantined mail, reply tokens, CRM data: for the owner's eyes only (the WAL
            # and shared-memory files SQLite makes take the database file's mode).
            private_folder(Path(database).parent)
            private_file(Path(database))
        except OSError as exc:
            raise StorageError(f"cannot create the database folder for {database}: {exc}") from exc
    extra: dict[str, Any] = {}
    if memory:
        # One connection shared by every session, or each would see its own empty database.
        extra = {"poolclass": StaticPool}
    engine = create_engine(
        url, connect_args={"timeout": busy_timeout, "check_same_thread": False}, **extra
    )
    timeout_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy's "begin" hook below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # On the driver's connection: through exec_driver_sql it cost a fifth of the unit
        # of work's own overhead (a result set up for a statement that returns nothing).
        # An error is wrapped as SQLAlchemy wraps it: a locked database is an
        # OperationalError, a StorageError to the caller.
        dbapi = connection.connection.driver_connection
        try:
            dbapi.execute(_BEGIN)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(_BEGIN, (), exc, sqlite3.Error) from exc

    return engine


@contextlib.contextmanager
def map_storage_errors(what: str = "database") -> Iterator[None]:
    """Turn SQLAlchemy errors raised inside the block into :class:`StorageError`.

    Parameters:
        what: the operation, for the message.

    Raises:
        StorageDataError: the database refused a value (:func:`is_data_error`).
        StorageError: any other database error (connection, lock, disk).
    """
    try:
        yield
    except SQLAlchemyError as exc:
        if is_data_error(exc):
            raise StorageDataError(f"{what} refused a value: {describe_db_error(exc)}") from exc
        raise StorageError(f"{what} failed: {describe_db_error(exc)}") from exc


def is_data_error(exc: BaseException) -> bool:
    """Whether the database (or the driver, binding it) refused a value as such.

    A data error (SQLSTATE class 22 on PostgreSQL: too long, out of range, NUL in text;
    SQLite's "string or blob too big"), or a value the bind step could not convert (an
    integer beyond the column, text that cannot be encoded): writing the same value again
    fails the same way. Connection, lock, disk and constraint errors are not data errors.

    Parameters:
        exc: a SQLAlchemy exception.

    Returns:
        True for a data error.
    """
    if isinstance(exc, DataError):
        return True
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        # Raised before the statement reached the database: a bind processor refused it.
        return isinstance(exc.orig, ValueError | OverflowError)
    return False
