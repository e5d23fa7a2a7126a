"""The feed pass's REFRESH scan reads the attendees waiting, not the whole ledger.

After ``ANALYZE`` on a ledger of thousands of meetings, SQLite's plan of the statement the
feed runs (captured as it runs) searches the partial index ``ix_outbound_attendees_resend``
and finds the meetings by id: no scan of ``outbound_meetings``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.engine import Connection

from invitegw.gateway.storage import OutboundAttendee, OutboundMeeting, Store
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.outbound.harness import T0, OutboundHarness


def _ledger(store: Store, meetings: int) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(OutboundMeeting.__table__),
            [
                {
                    "id": 1000 + n,
                    "crm_meeting_id": f"x{n}",
                    "calendar": "sales",
                    "uid": f"uid-{n}@example.com",
                    "sequence": 0,
                    "cancelled": False,
                    "deleted": False,
                    "created_at": T0,
                    "updated_at": T0,
                }
                for n in range(meetings)
            ],
        )
        conn.execute(
            insert(OutboundAttendee.__table__),
            [
                {
                    "meeting_id": 1000 + n // 3,
                    "address": f"guest{n}@example.org",
                    "name": "",
                    "role": "REQ-PARTICIPANT",
                    "partstat": "NEEDS-ACTION",
                    "removed": False,
                    "delivery_state": "sent",
                    "resend_requested_at": T0 if n == 7 else None,
                    "created_at": T0,
                    "updated_at": T0,
                }
                for n in range(meetings * 3)
            ],
        )
        conn.execute(text("ANALYZE"))


def test_the_resend_scan_reads_the_partial_index(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    if not store.is_sqlite:
        pytest.skip("the SQLite plan (the one that flipped to a scan)")
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    _ledger(store, 3000)
    seen: list[tuple[str, Any]] = []

    def record(conn: Connection, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if "resend_requested_at IS NOT NULL" in statement:
            seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        h.clock.now = T0 + dt.timedelta(minutes=1)
        h.run()
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    (statement, params), *_ = seen
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
    plan = " | ".join(str(row[-1]) for row in rows)
    assert "ix_outbound_attendees_resend" in plan, plan
    assert "SCAN outbound_meetings" not in plan, plan
