"""Inbound: SEQUENCE columns as BIGINT on every engine.

A SEQUENCE is a 32-bit INTEGER in RFC 5545 (section 3.3.8), but Google Calendar has sent
millisecond timestamps as SEQUENCE (``1407317367304``) and orders its updates by them. On
PostgreSQL an ``integer`` column refused such an invitation; the inbound ledger, the
built-in CRM's task and the outbound ledger's recorded answer now keep 64 bits, as SQLite
always did (larger values are refused when the calendar is read).

PostgreSQL only: SQLite's INTEGER already holds 64 bits, and rebuilding the tables there
(batch mode) would drop and copy tables that others reference with ON DELETE CASCADE.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = (
    ("inbound_events", "sequence", False),
    ("crm_tasks", "sequence", False),
    ("outbound_attendees", "partstat_sequence", True),
)


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, nullable in _COLUMNS:
        op.alter_column(
            table,
            column,
            existing_type=sa.Integer(),
            type_=sa.BigInteger(),
            existing_nullable=nullable,
        )


def downgrade() -> None:
    """Revert this revision (values over 2^31-1 make it fail on PostgreSQL)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, nullable in _COLUMNS:
        op.alter_column(
            table,
            column,
            existing_type=sa.BigInteger(),
            type_=sa.Integer(),
            existing_nullable=nullable,
        )
