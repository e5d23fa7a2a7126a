"""Inbound: how a quarantined message arrived, so that releasing it replays it faithfully.

``quarantine.received`` keeps the source's facts about the message (the mailbox owner, the
SMTP envelope, the IMAP position): the owner of a task made on release is the one the
message would have had. Nullable: rows written at 0003 release with what the settings say.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_column("received")
