"""The unit of work: :func:`open_store` and :meth:`Store.session`.

A session is one transaction: it commits when the block ends normally and rolls back when
it raises, so a pipeline step (ledger update + outbox rows + the built-in CRM's write)
lands whole or not at all::

    store = open_store("sqlite:///data/invitegw.sqlite3")
    with store.session() as session:
        session.add(...)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from types import TracebackType

from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from invitegw.gateway.storage.engine import create_engine_for, map_storage_errors

__all__ = ["Store", "open_store"]

logger = logging.getLogger(__name__)


class Store:
    """The gateway's database: an engine and a session factory.

    Parameters:
        engine: a configured engine (see :func:`open_store`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded engine (one process; no SKIP LOCKED)."""
        return self.dialect == "sqlite"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error.

        Returns:
            A context manager yielding the session.

        Raises:
            StorageError: the database failed (including at commit).
        """
        with map_storage_errors():
            session = self._sessions()
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"


def open_store(
    url: str | URL,
    *,
    password: str | None = None,
    pool_size: int = 5,
    busy_timeout: float = 30.0,
) -> Store:
    """Open the database at ``url`` (no schema check: see ``storage.schema``).

    Parameters:
        url: ``sqlite:///path``, ``sqlite://`` (memory) or ``postgresql+psycopg://...``.
        password: the database password from the environment, if any.
        pool_size: connections kept per process (PostgreSQL).
        busy_timeout: seconds to wait for a lock before failing.

    Returns:
        The store.

    Raises:
        StorageError: the URL is invalid.
    """
    engine = create_engine_for(
        url, password=password, pool_size=pool_size, busy_timeout=busy_timeout
    )
    logger.debug("database %s", engine.url.render_as_string(hide_password=True))
    return Store(engine)
