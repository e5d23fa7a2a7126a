"""Schema versions: apply the Alembic migrations shipped in the package, check the revision.

``invitegw db upgrade`` calls :func:`upgrade`; every other command calls
:func:`ensure_schema`, which refuses an outdated database with :class:`SchemaOutdatedError`
("run `invitegw db upgrade`") or, for the embedded SQLite default, upgrades it itself.
No ``alembic.ini`` is involved: the configuration is built here and the migrations run on
a connection of the store, inside one transaction (DDL is transactional on both engines,
so a failed upgrade leaves the previous revision intact).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from invitegw.errors import SchemaOutdatedError, StorageError
from invitegw.gateway.storage.engine import map_storage_errors
from invitegw.gateway.storage.store import Store

__all__ = [
    "SchemaStatus",
    "alembic_config",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "revisions",
    "schema_status",
    "upgrade",
]

logger = logging.getLogger(__name__)

SCRIPT_LOCATION = "invitegw.gateway:migrations"


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database stands against the migrations this code ships."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        """True when the database is at the newest revision."""
        return self.current == self.head


def alembic_config(connection: Any = None, **attributes: Any) -> Config:
    """An Alembic configuration for the shipped migrations (no ini file).

    Parameters:
        connection: the connection migrations run on (``attributes["connection"]``).
        attributes: further ``Config.attributes`` (``target_metadata`` ...).

    Returns:
        The configuration.
    """
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    config.attributes.update(attributes)
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision shipped.

    Returns:
        Its id.
    """
    head = _script().get_current_head()
    assert head is not None, "the package ships no migrations"
    return head


def revisions() -> list[str]:
    """Every shipped revision, oldest first.

    Returns:
        Their ids.
    """
    return [rev.revision for rev in reversed(list(_script().walk_revisions()))]


def current_revision(store: Store) -> str | None:
    """The revision the database is at.

    Parameters:
        store: the database.

    Returns:
        The revision id, or ``None`` for a database without our schema.

    Raises:
        StorageError: the database cannot be reached.
    """
    with map_storage_errors("reading the schema revision"), store.engine.connect() as conn:
        heads: Sequence[str] = MigrationContext.configure(conn).get_current_heads()
    return heads[0] if heads else None


def schema_status(store: Store) -> SchemaStatus:
    """The database's revision beside the newest one shipped.

    Parameters:
        store: the database.

    Returns:
        The status.

    Raises:
        StorageError: the database cannot be reached.
    """
    return SchemaStatus(current=current_revision(store), head=head_revision())


def upgrade(store: Store, revision: str = "head") -> SchemaStatus:
    """Apply the migrations up to ``revision`` in one transaction.

    Parameters:
        store: the database.
        revision: the target (default: the newest).

    Returns:
        The status after the upgrade.

    Raises:
        StorageError: a migration failed (nothing of it is kept) or the revision is unknown.
    """
    before = current_revision(store)
    try:
        with map_storage_errors("upgrading the schema"), store.engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
    except CommandError as exc:
        raise StorageError(f"upgrading the schema failed: {exc}") from exc
    status = schema_status(store)
    if before != status.current:
        logger.info("database schema upgraded from %s to %s", before or "empty", status.current)
    return status


def ensure_schema(store: Store, *, auto_upgrade: bool = False) -> SchemaStatus:
    """Make sure the database is at the newest revision before a command uses it.

    Parameters:
        store: the database.
        auto_upgrade: upgrade instead of refusing (the embedded SQLite default).

    Returns:
        The (up-to-date) status.

    Raises:
        SchemaOutdatedError: the schema is missing or older, and ``auto_upgrade`` is off.
        StorageError: the database is newer than this code, or cannot be reached.
    """
    status = schema_status(store)
    if status.up_to_date:
        return status
    known = revisions()
    if status.current is not None and status.current not in known:
        raise StorageError(
            f"the database schema is at revision {status.current}, which this version of "
            f"invitegw does not know (newest known: {status.head}); upgrade invitegw"
        )
    if auto_upgrade:
        return upgrade(store)
    if status.current is None:
        raise SchemaOutdatedError(
            "the database has no invitegw schema yet: run `invitegw db upgrade`"
        )
    raise SchemaOutdatedError(
        f"the database schema is at revision {status.current}, this invitegw needs "
        f"{status.head}: run `invitegw db upgrade`"
    )
