"""``invitegw prune``: ended meetings go; what duplicate detection still needs stays.

On SQLite and PostgreSQL, with the real pipelines on a manual clock: two received
invitations (one ends soon, one in ten months) and two CRM meetings sent out (one ended,
one far ahead). After 200 days a prune with a 180-day retention deletes the ended ones'
ledger rows and messages; a re-delivered copy of the invitation that is not over is still
a no-op (no second task), as is the CLI's dry run.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from invitegw.crm_adapter.builtin.schema import CrmTask
from invitegw.domain.records import EntityType
from invitegw.gateway.app.prune import prune
from invitegw.gateway.bootstrap import inbound_pipeline
from invitegw.gateway.cli import main
from invitegw.gateway.inbound.model import InboundOutcome, ReceivedMessage, SourcePosition
from invitegw.gateway.inbound.pipeline import InboundPipeline
from invitegw.gateway.storage import (
    EventLogEntry,
    InboundEvent,
    OutboundMeeting,
    OutboxMessage,
    ProcessedMessage,
    Store,
)
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.inbound.service_mails import google_invitation
from tests.gateway.outbound.harness import T0, OutboundHarness, write_config

DAY = dt.timedelta(days=1)
WALL = dt.datetime(2026, 5, 4, 10, 0)  # noqa: DTZ001 - the invitation's wall time


def _count(store: Store, column: object) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(column))) or 0)  # type: ignore[arg-type]


def _deliver(pipeline: InboundPipeline, raw: bytes, uid: int) -> object:
    return pipeline.handle(
        ReceivedMessage(
            raw=raw, source="sales", position=SourcePosition(7, uid), owner="olga@example.com"
        )
    )


def test_prune_keeps_what_duplicate_detection_needs(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    # Outbound: the weekly kick-off (June 2026, ended) and a meeting next year.
    ended = h.create_meeting()
    ahead_start = T0 + 500 * DAY
    ahead = h.create_meeting(start=ahead_start, end=ahead_start + dt.timedelta(hours=1), rrule=None)
    h.run()
    assert smtp_sink.wait_for(6)
    # Inbound: an invitation that ends in ten days, one that ends in ten months.
    pipeline = inbound_pipeline(h.gateway)
    soon = google_invitation(
        sender="gina@example.org", to="olga@example.com", uid="soon@g", start=WALL + 10 * DAY
    )
    later = google_invitation(
        sender="gina@example.org", to="olga@example.com", uid="later@g", start=WALL + 300 * DAY
    )
    assert _deliver(pipeline, soon, 1).events[0].outcome is InboundOutcome.CREATED  # type: ignore[attr-defined]
    assert _deliver(pipeline, later, 2).events[0].outcome is InboundOutcome.CREATED  # type: ignore[attr-defined]
    with store.session() as session:
        ends = dict(session.execute(select(InboundEvent.uid, InboundEvent.ends_at)).all())
    # 10:00-11:00 in Berlin (the mail's zone) on May 14: 09:00 UTC.
    assert ends["soon@g"] == dt.datetime(2026, 5, 14, 9, 0, tzinfo=dt.UTC)
    tasks_before = _count(store, CrmTask.id)
    logged = _count(store, EventLogEntry.id)
    assert logged > 0

    h.clock.advance(400 * DAY)  # the cut-off: December 2026
    dry = prune(store, older_than=180 * DAY, now=h.clock(), dry_run=True)
    report = prune(store, older_than=180 * DAY, now=h.clock())
    assert dry.deleted == report.deleted
    assert report.deleted["outbound_meetings"] == 1
    assert report.deleted["inbound_events"] == 1
    assert report.deleted["processed_messages"] == 1
    assert report.deleted["event_log"] == logged

    with store.session() as session:
        meetings = set(session.scalars(select(OutboundMeeting.crm_meeting_id)))
        uids = set(session.scalars(select(InboundEvent.uid)))
        kept_outbox = session.scalar(select(func.count(OutboxMessage.id)))
        processed = list(session.scalars(select(ProcessedMessage.uid)))
    assert meetings == {ahead}
    assert ended not in meetings
    assert uids == {"later@g"}
    assert processed == [2]
    assert kept_outbox == 0  # sent rows older than the cut-off go; the ledger keeps what was sent

    # Re-delivered (a re-scan gives it a new UID): still handled before, no second task.
    again = _deliver(pipeline, later, 99)
    assert again.already_processed  # type: ignore[attr-defined]
    assert _count(store, CrmTask.id) == tasks_before
    # And a second prune finds nothing more.
    assert prune(store, older_than=180 * DAY, now=h.clock()).total == 0


def test_prune_from_the_command_line(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "invitegw.toml", store, smtp_sink.port)
    assert (
        main(["--config", str(config), "prune", "--older-than", "180d", "--dry-run", "--json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["dry_run"] is True
    assert set(data["deleted"]) >= {"outbound_meetings", "inbound_events", "processed_messages"}
    assert main(["--config", str(config), "prune", "--older-than", "180d"]) == 0
    assert "deleted 0 row(s)" in capsys.readouterr().out
    assert (
        main(["--config", str(config), "prune", "--older-than", "9d", "--keep-sent-bytes", "0"])
        == 0
    )
    assert "outbox_bytes" in capsys.readouterr().out
    assert main(["--config", str(config), "prune", "--older-than", "2h"]) == 1
    assert "at least one day" in capsys.readouterr().err
    _ = EntityType


def test_prune_drops_the_bytes_of_mail_sent_long_enough_ago_and_keeps_the_rows(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    h.create_meeting()
    h.run()  # four invitations sent now
    assert smtp_sink.wait_for(4)
    h.clock.advance(10 * DAY)
    h.create_meeting(title="Second")
    h.run()  # four more, ten days later
    assert smtp_sink.wait_for(8)
    h.clock.advance(10 * DAY)
    keep = 14 * DAY
    dry = prune(store, older_than=180 * DAY, now=h.clock(), keep_sent_bytes=keep, dry_run=True)
    report = prune(store, older_than=180 * DAY, now=h.clock(), keep_sent_bytes=keep)
    assert dry.deleted["outbox_bytes"] == report.deleted["outbox_bytes"] == 4
    assert report.deleted["outbox"] == 0  # the rows stay: Message-ID, recipient, sent_at
    with store.session() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [r.raw is None for r in rows] == [True] * 4 + [False] * 4
    assert all(r.sent_at is not None and r.message_id for r in rows)
    sent = {m.raw for m in smtp_sink.messages}
    assert {r.raw for r in rows[4:]} <= sent  # the kept bytes are what was sent
    assert prune(store, older_than=180 * DAY, now=h.clock(), keep_sent_bytes=keep).total == 0
    with pytest.raises(ValueError, match="negative"):
        prune(store, older_than=180 * DAY, now=h.clock(), keep_sent_bytes=-DAY)
