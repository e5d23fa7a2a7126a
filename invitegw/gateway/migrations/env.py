"""Alembic environment: run the migrations on the connection the caller hands over.

``invitegw.gateway.storage.schema`` opens a transaction and passes its connection in
``config.attributes["connection"]``; nothing here reads a file or the environment. The
target metadata combines the gateway's tables and the built-in CRM's, which share the one
history (the CRM adapter does not import the gateway; this environment joins them).
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from invitegw.crm_adapter.builtin.schema import CrmBase
from invitegw.gateway.storage.models import GatewayBase
from invitegw.sqltypes import UtcDateTime

# Any fixed number: PostgreSQL advisory lock taken while migrating, so two workers that
# start `db upgrade` together run it one after the other.
_MIGRATION_LOCK = 7_316_021

config = context.config
target_metadata = config.attributes.get("target_metadata", [GatewayBase.metadata, CrmBase.metadata])


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our column types as plain SQLAlchemy types in generated revisions.

    A revision must not import the models (they change later; the revision must not), so
    UTC datetimes become ``sa.DateTime(timezone=True)`` and enums stored by value become
    ``sa.String(length)``.
    """
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, sa.Enum) and not obj.native_enum:
        return f"sa.String(length={obj.length})"
    return False


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite alters tables by rebuilding them ("batch" mode).
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("run migrations through invitegw.gateway.storage.schema")
_run(_connection)
