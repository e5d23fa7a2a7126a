"""Operations: worker heartbeats, the end of inbound invitations, processed mail by source.

- ``worker_heartbeats``: one row per ``invitegw serve`` process (and ``serve --once``
  run), written at its heartbeat: ``invitegw status`` reads every worker from any host.
- ``inbound_events.ends_at``: when a received invitation ends, so ``invitegw prune`` can
  tell a meeting that is over (its ledger row may go) from one that is not (it stays, and
  a re-delivered message stays a no-op). NULL for rows written before: never pruned.
- ``ix_processed_messages_source_processed_at``: the last message processed per mailbox
  (``status``) and the age scans of ``prune`` without reading the whole table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 19:13:42.142157
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_worker_heartbeats")),
    )
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_worker_heartbeats_heartbeat_at"), ["heartbeat_at"], unique=False
        )
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_inbound_events_ends_at"), ["ends_at"], unique=False)
    with op.batch_alter_table("processed_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_processed_messages_source_processed_at",
            ["source", "processed_at"],
            unique=False,
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("processed_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_processed_messages_source_processed_at")
    with op.batch_alter_table("inbound_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_events_ends_at"))
        batch_op.drop_column("ends_at")
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_heartbeats_heartbeat_at"))
    op.drop_table("worker_heartbeats")
