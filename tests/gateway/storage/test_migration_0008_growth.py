"""Revision 0008 on a database with data: the outbox bytes moved and compressed, meetings filed.

Rows written at 0006 (plain SQL: the models have moved on) are upgraded: every message
reads back byte for byte through the models, stored compressed; the live meetings are
filed for the reminder job's next pass, the cancelled one nowhere. Downgrading gives the
plain bytes back.
"""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import select, text

from invitegw.gateway.storage import OutboundMeeting, OutboxMessage, Store, upgrade
from invitegw.gateway.storage.packing import MAGIC
from invitegw.gateway.storage.schema import alembic_config

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
MESSAGE = b"Subject: hi\r\nContent-Type: text/plain\r\n\r\n" + b"body line\r\n" * 200


def _seed_at_0006(store: Store) -> None:
    stamp = T0.replace(tzinfo=None) if store.is_sqlite else T0
    with store.engine.begin() as conn:
        for n, cancelled in ((1, False), (2, True)):
            conn.execute(
                text(
                    "INSERT INTO outbound_meetings (id, crm_meeting_id, calendar, uid, "
                    "sequence, snapshot, cancelled, deleted, created_at, updated_at) VALUES "
                    "(:n, :crm, 'sales', :uid, 0, :snap, :cancelled, false, :t, :t)"
                ),
                {
                    "n": n,
                    "crm": str(n),
                    "uid": f"uid-{n}@example.com",
                    "snap": '{"title": "Kick-off"}',
                    "cancelled": cancelled,
                    "t": stamp,
                },
            )
        for n in range(3):
            conn.execute(
                text(
                    "INSERT INTO outbox (message_id, kind, meeting_id, sender, recipient, raw, "
                    "state, attempts, next_attempt_at, created_at, updated_at) VALUES "
                    "(:mid, 'invitation', 1, 'sales@example.com', 'ann@example.org', :raw, "
                    "'sent', 1, :t, :t, :t)"
                ),
                {"mid": f"<m{n}@example.com>", "raw": MESSAGE + str(n).encode(), "t": stamp},
            )


def _stored(store: Store, table: str) -> list[bytes]:
    with store.engine.connect() as conn:
        query = text(f"SELECT raw FROM {table} ORDER BY id")
        return [bytes(r) for r in conn.execute(query).scalars()]


def test_0008_compresses_the_outbox_and_files_the_meetings(empty_store: Store) -> None:
    upgrade(empty_store, "0006")
    _seed_at_0006(empty_store)
    upgrade(empty_store)

    with empty_store.session() as session:
        raws = list(
            session.scalars(
                select(OutboxMessage.raw).select_from(OutboxMessage).order_by(OutboxMessage.id)
            )
        )
        filed = dict(
            session.execute(select(OutboundMeeting.id, OutboundMeeting.reminder_check_at)).all()
        )
    assert raws == [MESSAGE + str(n).encode() for n in range(3)]
    stored = _stored(empty_store, "outbox_bodies")
    assert all(s.startswith(MAGIC) and len(s) < len(MESSAGE) / 4 for s in stored)
    assert filed == {1: T0, 2: None}

    with empty_store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0006")
    assert _stored(empty_store, "outbox") == [MESSAGE + str(n).encode() for n in range(3)]
