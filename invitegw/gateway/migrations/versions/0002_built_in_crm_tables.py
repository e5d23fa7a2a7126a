"""The built-in CRM's tables: parties, meetings, tasks, responses, its log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:47:12.608945
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "crm_accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email1", sa.String(length=320), nullable=True),
        sa.Column("email2", sa.String(length=320), nullable=True),
        sa.Column("email3", sa.String(length=320), nullable=True),
        sa.Column("sync", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_accounts")),
    )
    op.create_table(
        "crm_counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_crm_counters")),
    )
    op.create_table(
        "crm_leads",
        sa.Column("company", sa.String(length=255), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email1", sa.String(length=320), nullable=True),
        sa.Column("email2", sa.String(length=320), nullable=True),
        sa.Column("email3", sa.String(length=320), nullable=True),
        sa.Column("sync", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_leads")),
    )
    op.create_table(
        "crm_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_logs")),
    )
    op.create_index(op.f("ix_crm_logs_created_at"), "crm_logs", ["created_at"], unique=False)
    op.create_index(op.f("ix_crm_logs_target_id"), "crm_logs", ["target_id"], unique=False)

    op.create_table(
        "crm_users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email1", sa.String(length=320), nullable=True),
        sa.Column("email2", sa.String(length=320), nullable=True),
        sa.Column("email3", sa.String(length=320), nullable=True),
        sa.Column("sync", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_users")),
    )
    op.create_table(
        "crm_contacts",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email1", sa.String(length=320), nullable=True),
        sa.Column("email2", sa.String(length=320), nullable=True),
        sa.Column("email3", sa.String(length=320), nullable=True),
        sa.Column("sync", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["crm_accounts.id"],
            name=op.f("fk_crm_contacts_account_id_crm_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_contacts")),
    )
    op.create_index(
        op.f("ix_crm_contacts_account_id"), "crm_contacts", ["account_id"], unique=False
    )

    op.create_table(
        "crm_meetings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("rrule", sa.String(length=512), nullable=True),
        sa.Column("calendar", sa.String(length=64), nullable=True),
        sa.Column(
            "organizer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sync", sa.Boolean(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["crm_users.id"], name=op.f("fk_crm_meetings_organizer_id_crm_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_meetings")),
    )
    op.create_index(
        op.f("ix_crm_meetings_change_seq"), "crm_meetings", ["change_seq"], unique=False
    )
    op.create_index(
        op.f("ix_crm_meetings_organizer_id"), "crm_meetings", ["organizer_id"], unique=False
    )

    op.create_table(
        "crm_tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("party_type", sa.String(length=16), nullable=True),
        sa.Column("party_id", sa.BigInteger(), nullable=True),
        sa.Column("organizer_email", sa.String(length=320), nullable=True),
        sa.Column("source_uid", sa.String(length=512), nullable=True),
        sa.Column("recurrence_id", sa.String(length=64), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["crm_users.id"], name=op.f("fk_crm_tasks_owner_id_crm_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_tasks")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_crm_tasks_idempotency_key")),
    )
    op.create_index(op.f("ix_crm_tasks_owner_id"), "crm_tasks", ["owner_id"], unique=False)
    op.create_index(op.f("ix_crm_tasks_source_uid"), "crm_tasks", ["source_uid"], unique=False)

    op.create_table(
        "crm_meeting_attendees",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("party_type", sa.String(length=16), nullable=False),
        sa.Column("party_id", sa.BigInteger(), nullable=False),
        sa.Column("partstat", sa.String(length=32), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["crm_meetings.id"],
            name=op.f("fk_crm_meeting_attendees_meeting_id_crm_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_meeting_attendees")),
        sa.UniqueConstraint(
            "meeting_id",
            "party_type",
            "party_id",
            name=op.f("uq_crm_meeting_attendees_meeting_id_party_type_party_id"),
        ),
    )
    op.create_index(
        op.f("ix_crm_meeting_attendees_meeting_id"),
        "crm_meeting_attendees",
        ["meeting_id"],
        unique=False,
    )

    op.create_table(
        "crm_meeting_occurrences",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("recurrence_key", sa.String(length=32), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["crm_meetings.id"],
            name=op.f("fk_crm_meeting_occurrences_meeting_id_crm_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_meeting_occurrences")),
        sa.UniqueConstraint(
            "meeting_id",
            "recurrence_key",
            name=op.f("uq_crm_meeting_occurrences_meeting_id_recurrence_key"),
        ),
    )
    op.create_index(
        op.f("ix_crm_meeting_occurrences_meeting_id"),
        "crm_meeting_occurrences",
        ["meeting_id"],
        unique=False,
    )

    op.create_table(
        "crm_meeting_responses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "meeting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("attendee_email", sa.String(length=320), nullable=False),
        sa.Column("partstat", sa.String(length=32), nullable=False),
        sa.Column("recurrence_id", sa.String(length=64), nullable=True),
        sa.Column("delegated_to", sa.String(length=320), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column(
            "attendee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attendee_id"],
            ["crm_meeting_attendees.id"],
            name=op.f("fk_crm_meeting_responses_attendee_id_crm_meeting_attendees"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["crm_meetings.id"],
            name=op.f("fk_crm_meeting_responses_meeting_id_crm_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_meeting_responses")),
    )
    op.create_index(
        op.f("ix_crm_meeting_responses_meeting_id"),
        "crm_meeting_responses",
        ["meeting_id"],
        unique=False,
    )
    # Addresses are matched case-insensitively in any email field (autogenerate cannot
    # compare expression indexes on SQLite, so these are written by hand).
    for table in ("crm_users", "crm_contacts", "crm_accounts", "crm_leads"):
        for column in ("email1", "email2", "email3"):
            op.create_index(f"ix_{table}_{column}_lower", table, [sa.text(f"lower({column})")])
    # The counter that numbers the change feed (see crm_adapter.sql_schema).
    counters = sa.table(
        "crm_counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger)
    )
    op.bulk_insert(counters, [{"name": "meeting_changes", "value": 0}])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_crm_meeting_responses_meeting_id"), table_name="crm_meeting_responses")

    op.drop_table("crm_meeting_responses")
    op.drop_index(
        op.f("ix_crm_meeting_occurrences_meeting_id"), table_name="crm_meeting_occurrences"
    )

    op.drop_table("crm_meeting_occurrences")
    op.drop_index(op.f("ix_crm_meeting_attendees_meeting_id"), table_name="crm_meeting_attendees")

    op.drop_table("crm_meeting_attendees")
    op.drop_index(op.f("ix_crm_tasks_source_uid"), table_name="crm_tasks")
    op.drop_index(op.f("ix_crm_tasks_owner_id"), table_name="crm_tasks")

    op.drop_table("crm_tasks")
    op.drop_index(op.f("ix_crm_meetings_organizer_id"), table_name="crm_meetings")
    op.drop_index(op.f("ix_crm_meetings_change_seq"), table_name="crm_meetings")

    op.drop_table("crm_meetings")
    op.drop_index(op.f("ix_crm_contacts_account_id"), table_name="crm_contacts")

    op.drop_table("crm_contacts")
    op.drop_table("crm_users")
    op.drop_index(op.f("ix_crm_logs_target_id"), table_name="crm_logs")
    op.drop_index(op.f("ix_crm_logs_created_at"), table_name="crm_logs")

    op.drop_table("crm_logs")
    op.drop_table("crm_leads")
    op.drop_table("crm_counters")
    op.drop_table("crm_accounts")
