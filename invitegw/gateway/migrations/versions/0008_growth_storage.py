"""Growth and storage: the outbox claim on partial indexes, the reminder due-queue, zlib bytes.

- ``ix_outbox_due`` (state, next_attempt_at) gives way to two partial indexes holding only
  what waits: ``ix_outbox_pending`` (next_attempt_at, id WHERE state = 'pending') and
  ``ix_outbox_sending`` (claimed_until WHERE state = 'sending'). The claim reads a range of
  one of them in order, so its plan stays right whatever the statistics say about the
  history of sent rows.
- ``outbound_meetings.reminder_check_at`` and ``ix_outbound_meetings_reminders``
  (calendar, reminder_check_at): the reminder job reads only the meetings due a look.
  Meetings that may still need reminders start at their last change, so the first pass
  after the upgrade looks at each of them once and files it at its next occurrence.
- ``ix_outbound_attendees_resend_requested_at`` gives way to the partial
  ``ix_outbound_attendees_resend`` (WHERE resend_requested_at IS NOT NULL): the feed pass
  reads the few REFRESH resends waiting, not the whole ledger.
- ``outbox.raw`` moves to ``outbox_bodies`` (id = the outbox row's, ``ON DELETE CASCADE``),
  zlib-compressed (``invitegw.gateway.storage.packing``): ``prune --keep-sent-bytes``
  deletes the bytes of delivered mail there, and the database reuses the pages (emptying a
  column in place frees none on SQLite). The rows already there are copied and compressed
  in batches. SQLite keeps the file at its size: ``VACUUM`` once after the upgrade gives
  the space the old column held back to the file system.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 22:10:00.000000
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen here: the format of storage.packing as this revision writes it.
_MAGIC = b"\x00Z1"
_BATCH = 500


def _pack(raw: bytes) -> bytes | None:
    return None if raw.startswith(_MAGIC) else _MAGIC + zlib.compress(raw, 6)


def _unpack(stored: bytes) -> bytes | None:
    return zlib.decompress(stored[len(_MAGIC) :]) if stored.startswith(_MAGIC) else None


def _bodies() -> sa.TableClause:
    return sa.table(
        "outbox_bodies", sa.column("id", sa.BigInteger()), sa.column("raw", sa.LargeBinary())
    )


def _convert(change: Callable[[bytes], bytes | None]) -> None:
    """Rewrite every body with ``change`` (None: leave it), in id batches."""
    bodies = _bodies()
    bind = op.get_bind()
    after = 0
    while True:
        rows = bind.execute(
            sa.select(bodies.c.id, bodies.c.raw)
            .where(bodies.c.id > after)
            .order_by(bodies.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        after = rows[-1].id
        for row_id, raw in rows:
            new = change(bytes(raw))
            if new is not None:
                bind.execute(sa.update(bodies).where(bodies.c.id == row_id).values(raw=new))


def upgrade() -> None:
    """Apply this revision."""
    op.drop_index("ix_outbox_due", table_name="outbox")
    pending = sa.text("state = 'pending'")
    sending = sa.text("state = 'sending'")
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["next_attempt_at", "id"],
        unique=False,
        sqlite_where=pending,
        postgresql_where=pending,
    )
    op.create_index(
        "ix_outbox_sending",
        "outbox",
        ["claimed_until"],
        unique=False,
        sqlite_where=sending,
        postgresql_where=sending,
    )
    with op.batch_alter_table("outbound_meetings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reminder_check_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "ix_outbound_meetings_reminders",
        "outbound_meetings",
        ["calendar", "reminder_check_at"],
        unique=False,
    )
    op.execute(
        "UPDATE outbound_meetings SET reminder_check_at = updated_at "
        "WHERE cancelled = false AND deleted = false AND snapshot IS NOT NULL"
    )
    op.drop_index("ix_outbound_attendees_resend_requested_at", table_name="outbound_attendees")
    waiting = sa.text("resend_requested_at IS NOT NULL")
    op.create_index(
        "ix_outbound_attendees_resend",
        "outbound_attendees",
        ["resend_requested_at"],
        unique=False,
        sqlite_where=waiting,
        postgresql_where=waiting,
    )
    _move_bodies()


def _move_bodies() -> None:
    op.create_table(
        "outbox_bodies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"], ["outbox.id"], name=op.f("fk_outbox_bodies_id_outbox"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_bodies")),
    )
    op.execute(
        "INSERT INTO outbox_bodies (id, raw) SELECT id, raw FROM outbox WHERE raw IS NOT NULL"
    )
    _convert(_pack)
    # Not a batch (a table copy the foreign keys refuse): SQLite 3.35+ drops it in place.
    op.execute("ALTER TABLE outbox DROP COLUMN raw")


def downgrade() -> None:
    """Revert this revision."""
    _convert(_unpack)
    op.execute("ALTER TABLE outbox ADD COLUMN raw " + ("BLOB" if _sqlite() else "BYTEA"))
    op.execute("UPDATE outbox SET raw = (SELECT b.raw FROM outbox_bodies b WHERE b.id = outbox.id)")
    op.drop_table("outbox_bodies")
    op.drop_index("ix_outbound_attendees_resend", table_name="outbound_attendees")
    op.create_index(
        "ix_outbound_attendees_resend_requested_at",
        "outbound_attendees",
        ["resend_requested_at"],
        unique=False,
    )
    op.drop_index("ix_outbound_meetings_reminders", table_name="outbound_meetings")
    # Not a batch (a table copy the ledger's foreign keys refuse): SQLite 3.35+ drops it.
    op.execute("ALTER TABLE outbound_meetings DROP COLUMN reminder_check_at")
    op.drop_index("ix_outbox_sending", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"], unique=False)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"
