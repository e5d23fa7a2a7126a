"""Outbound: reminder emails sent, REFRESH resend requests, mail threads, meeting end.

The new columns are all nullable, so rows written at 0002 stay valid as they are.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:30:03.123424
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "outbound_reminders",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "attendee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("occurrence", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attendee_id"],
            ["outbound_attendees.id"],
            name=op.f("fk_outbound_reminders_attendee_id_outbound_attendees"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["outbound_meetings.id"],
            name=op.f("fk_outbound_reminders_meeting_id_outbound_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_reminders")),
        sa.UniqueConstraint(
            "attendee_id", "occurrence", name=op.f("uq_outbound_reminders_attendee_id_occurrence")
        ),
    )
    with op.batch_alter_table("outbound_reminders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbound_reminders_meeting_id"), ["meeting_id"], unique=False
        )

    with op.batch_alter_table("outbound_attendees", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("invited_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("thread_id", sa.String(length=998), nullable=True))
        batch_op.add_column(
            sa.Column("resend_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_outbound_attendees_resend_requested_at"),
            ["resend_requested_at"],
            unique=False,
        )

    with op.batch_alter_table("outbound_meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbound_meetings_ends_at"), ["ends_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("outbound_meetings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_meetings_ends_at"))
        batch_op.drop_column("ends_at")

    with op.batch_alter_table("outbound_attendees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_attendees_resend_requested_at"))
        batch_op.drop_column("resend_requested_at")
        batch_op.drop_column("thread_id")
        batch_op.drop_column("invited_at")
        batch_op.drop_column("time_zone")

    with op.batch_alter_table("outbound_reminders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_reminders_meeting_id"))

    op.drop_table("outbound_reminders")
