"""The gateway's own tables: ledgers, outbox, processed messages, quarantine, spool, state.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 16:47:01.742703
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cursors")),
    )
    op.create_table(
        "event_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("meeting_id", sa.String(length=64), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_log")),
    )
    op.create_index(op.f("ix_event_log_created_at"), "event_log", ["created_at"], unique=False)
    op.create_index(op.f("ix_event_log_meeting_id"), "event_log", ["meeting_id"], unique=False)

    op.create_table(
        "imap_checkpoints",
        sa.Column("mailbox", sa.String(length=64), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mailbox", name=op.f("pk_imap_checkpoints")),
    )
    op.create_table(
        "inbound_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organizer", sa.String(length=320), nullable=False),
        sa.Column("uid", sa.String(length=512), nullable=False),
        sa.Column("recurrence_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("dtstamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_events")),
        sa.UniqueConstraint(
            "organizer",
            "uid",
            "recurrence_id",
            name=op.f("uq_inbound_events_organizer_uid_recurrence_id"),
        ),
    )
    op.create_index(op.f("ix_inbound_events_task_id"), "inbound_events", ["task_id"], unique=False)

    op.create_table(
        "inbound_spool",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mail_from", sa.String(length=998), nullable=False),
        sa.Column("rcpt_to", sa.JSON(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_spool")),
    )
    op.create_index("ix_inbound_spool_due", "inbound_spool", ["state", "received_at"], unique=False)

    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "outbound_meetings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("crm_meeting_id", sa.String(length=64), nullable=False),
        sa.Column("calendar", sa.String(length=64), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("last_dtstamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_meetings")),
        sa.UniqueConstraint("crm_meeting_id", name=op.f("uq_outbound_meetings_crm_meeting_id")),
        sa.UniqueConstraint("uid", name=op.f("uq_outbound_meetings_uid")),
    )
    op.create_table(
        "processed_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_messages")),
        sa.UniqueConstraint(
            "source",
            "uidvalidity",
            "uid",
            name=op.f("uq_processed_messages_source_uidvalidity_uid"),
        ),
    )
    op.create_index(
        op.f("ix_processed_messages_message_id"), "processed_messages", ["message_id"], unique=False
    )

    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("reference", sa.String(length=512), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_message_id"), "quarantine", ["message_id"], unique=False)

    op.create_table(
        "inbound_event_sources",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("forwarder", sa.String(length=320), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["inbound_events.id"],
            name=op.f("fk_inbound_event_sources_event_id_inbound_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_event_sources")),
        sa.UniqueConstraint(
            "event_id", "message_id", name=op.f("uq_inbound_event_sources_event_id_message_id")
        ),
    )
    op.create_index(
        op.f("ix_inbound_event_sources_event_id"),
        "inbound_event_sources",
        ["event_id"],
        unique=False,
    )

    op.create_table(
        "outbound_attendees",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("party_type", sa.String(length=16), nullable=True),
        sa.Column("party_id", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("last_sequence_sent", sa.Integer(), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("partstat", sa.String(length=32), nullable=False),
        sa.Column("partstat_sequence", sa.Integer(), nullable=True),
        sa.Column("partstat_dtstamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("delivery_state", sa.String(length=24), nullable=False),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["outbound_meetings.id"],
            name=op.f("fk_outbound_attendees_meeting_id_outbound_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_attendees")),
        sa.UniqueConstraint(
            "meeting_id", "address", name=op.f("uq_outbound_attendees_meeting_id_address")
        ),
        sa.UniqueConstraint("token", name=op.f("uq_outbound_attendees_token")),
    )
    op.create_index(
        op.f("ix_outbound_attendees_meeting_id"), "outbound_attendees", ["meeting_id"], unique=False
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "attendee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("recurrence_id", sa.String(length=64), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["attendee_id"],
            ["outbound_attendees.id"],
            name=op.f("fk_outbox_attendee_id_outbound_attendees"),
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["outbound_meetings.id"],
            name=op.f("fk_outbox_meeting_id_outbound_meetings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_outbox_meeting_id"), "outbox", ["meeting_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_outbox_meeting_id"), table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")

    op.drop_table("outbox")
    op.drop_index(op.f("ix_outbound_attendees_meeting_id"), table_name="outbound_attendees")

    op.drop_table("outbound_attendees")
    op.drop_index(op.f("ix_inbound_event_sources_event_id"), table_name="inbound_event_sources")

    op.drop_table("inbound_event_sources")
    op.drop_index(op.f("ix_quarantine_message_id"), table_name="quarantine")

    op.drop_table("quarantine")
    op.drop_index(op.f("ix_processed_messages_message_id"), table_name="processed_messages")

    op.drop_table("processed_messages")
    op.drop_table("outbound_meetings")
    op.drop_table("leases")
    op.drop_index("ix_inbound_spool_due", table_name="inbound_spool")

    op.drop_table("inbound_spool")
    op.drop_index(op.f("ix_inbound_events_task_id"), table_name="inbound_events")

    op.drop_table("inbound_events")
    op.drop_table("imap_checkpoints")
    op.drop_index(op.f("ix_event_log_meeting_id"), table_name="event_log")
    op.drop_index(op.f("ix_event_log_created_at"), table_name="event_log")

    op.drop_table("event_log")
    op.drop_table("cursors")
