"""Outbound: the first start's baseline and the send switch's history.

``outbound_meetings.adopted_at``: set while a meeting is known from the baseline only (it
was in the CRM before the gateway's first start, and nothing was sent for it);
``outbound_meetings.switch_on``: the CRM's send switch was once read on for certain, so an
uncertain "off" later is a person's choice (docs/vtiger.md). The baseline's own marker is
a row of ``cursors`` (``outbound.baseline``) and needs no column.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Plain ADD COLUMN (SQLite too): rebuilding the table would trip the foreign keys of
    # the tables that reference it.
    op.add_column(
        "outbound_meetings", sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "outbound_meetings",
        sa.Column("switch_on", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    """Undo this revision."""
    # Not a batch (a table copy the ledger's foreign keys refuse): SQLite 3.35+ drops them.
    op.execute("ALTER TABLE outbound_meetings DROP COLUMN switch_on")
    op.execute("ALTER TABLE outbound_meetings DROP COLUMN adopted_at")
