"""The reminder job's due-queue: a pass reads the meetings due a look, not the whole ledger.

Each meeting is filed (``outbound_meetings.reminder_check_at``) at the start of its next
occurrence as last sent; a ledger change files it at once. A pass reads, per calendar, the
meetings filed within the lead: none when nothing is due, however many meetings exist.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Connection

from invitegw.gateway.bootstrap import build_reminders
from invitegw.gateway.outbound.reminders import CHECK_HORIZON, Reminders
from invitegw.gateway.storage import OutboundMeeting, Store
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.outbound.builders import WARSAW
from tests.gateway.outbound.harness import OutboundHarness

DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)
FIRST = dt.datetime(2026, 6, 1, 10, tzinfo=WARSAW)  # the weekly kick-off's first Monday
LATER = dt.datetime(2026, 9, 7, 15, tzinfo=WARSAW)  # a one-off, months ahead


@pytest.fixture
def h(store: Store, smtp_sink: SmtpSink, tmp_path: Path) -> OutboundHarness:
    harness = OutboundHarness(store, smtp_sink, tmp_path, calendar={"reminder_email_lead": DAY})
    harness.seed()
    return harness


class Pass:
    """Runs the reminder job at a time and counts the meetings it read."""

    def __init__(self, h: OutboundHarness, monkeypatch: pytest.MonkeyPatch) -> None:
        self.h = h
        self.looked_at: list[int] = []
        original = Reminders._meeting

        def counting(job: Reminders, session: Any, meeting_id: int, *args: Any) -> int:
            self.looked_at.append(meeting_id)
            return original(job, session, meeting_id, *args)

        monkeypatch.setattr(Reminders, "_meeting", counting)

    def at(self, when: dt.datetime) -> tuple[int, int]:
        """(reminders queued, meetings read) of a pass at ``when``."""
        self.looked_at.clear()
        self.h.clock.now = when.astimezone(dt.UTC)
        queued = build_reminders(self.h.gateway, ids=self.h.ids).run()
        return queued, len(self.looked_at)


def _filed(h: OutboundHarness) -> dict[str, dt.datetime | None]:
    with h.store.session() as session:
        rows = session.execute(
            select(OutboundMeeting.crm_meeting_id, OutboundMeeting.reminder_check_at)
        ).all()
    return {crm_id: at for crm_id, at in rows}


def test_a_pass_reads_only_the_meetings_due_a_look(
    h: OutboundHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    weekly = h.create_meeting()
    later = h.create_meeting(start=LATER, end=LATER + dt.timedelta(hours=1), rrule=None)
    h.run()
    run = Pass(h, monkeypatch)
    now = FIRST - 7 * DAY
    # Just planned: both are looked at once, and filed.
    assert run.at(now) == (0, 2)
    assert _filed(h) == {
        weekly: FIRST.astimezone(dt.UTC),
        later: now.astimezone(dt.UTC) + DAY + CHECK_HORIZON,  # nothing in the next month
    }
    # Nothing is due: a pass reads nothing.
    assert run.at(now + MINUTE) == (0, 0)
    assert run.at(FIRST - DAY - MINUTE) == (0, 0)
    # The first Monday is a day away: the kick-off is read, its two guests reminded.
    assert run.at(FIRST - DAY + MINUTE) == (2, 1)
    # It stays in the window (someone may still accept) but is reminded of only once.
    assert run.at(FIRST - DAY + 2 * MINUTE) == (0, 1)
    # Once it has started, the next Monday files it.
    assert run.at(FIRST + MINUTE) == (0, 1)
    assert _filed(h)[weekly] == (FIRST + 7 * DAY).astimezone(dt.UTC)
    assert run.at(FIRST + 2 * MINUTE) == (0, 0)


def test_a_ledger_change_files_the_meeting_for_the_next_pass(
    h: OutboundHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id = h.create_meeting(start=LATER, end=LATER + dt.timedelta(hours=1), rrule=None)
    h.run()
    run = Pass(h, monkeypatch)
    assert run.at(FIRST) == (0, 1)
    assert run.at(FIRST + MINUTE) == (0, 0)
    # Moved to two days from now: the planner's write files it, the next pass finds it.
    soon = (FIRST + 2 * DAY).astimezone(WARSAW)
    h.clock.now = (FIRST + 2 * MINUTE).astimezone(dt.UTC)
    with h.admin() as crm:
        crm.update_meeting(meeting_id, start=soon, end=soon + dt.timedelta(hours=1))
    h.run()
    assert _filed(h)[meeting_id] == h.clock.now
    assert run.at(FIRST + 3 * MINUTE) == (0, 1)
    assert _filed(h)[meeting_id] == soon.astimezone(dt.UTC)
    assert run.at(soon - DAY + MINUTE) == (2, 1)
    # Cancelled: filed nowhere.
    with h.admin() as crm:
        crm.cancel_meeting(meeting_id)
    h.run()
    assert _filed(h)[meeting_id] is None
    assert run.at(soon - DAY + 2 * MINUTE) == (0, 0)


def test_the_pass_query_reads_the_reminder_index(h: OutboundHarness) -> None:
    if not h.store.is_sqlite:
        pytest.skip("the SQLite plan; PostgreSQL uses the same two-column index")
    h.create_meeting()
    h.run()
    seen: list[tuple[str, Any]] = []

    def record(conn: Connection, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if "reminder_check_at <=" in statement:
            seen.append((statement, params))

    event.listen(h.store.engine, "before_cursor_execute", record)
    try:
        build_reminders(h.gateway, ids=h.ids).run()
    finally:
        event.remove(h.store.engine, "before_cursor_execute", record)
    ((statement, params),) = seen
    with h.store.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        plan = " ".join(
            str(row[-1])
            for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
        )
    assert "USING INDEX ix_outbound_meetings_reminders" in plan or (
        "USING COVERING INDEX ix_outbound_meetings_reminders" in plan
    ), plan
    assert "TEMP B-TREE" not in plan, plan
