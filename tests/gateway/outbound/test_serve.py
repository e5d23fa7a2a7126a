"""``invitegw serve`` (with and without ``--once``), the scheduler, and ``invitegw outbox``."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from invitegw.domain.records import EntityType
from invitegw.errors import CrmUnavailableError
from invitegw.gateway.bootstrap import build_scheduler
from invitegw.gateway.cli import main
from invitegw.gateway.outbound.jobs import OUTBOX_JOB, POLL_JOB, REMINDER_JOB
from invitegw.gateway.scheduler import (
    GatewayScheduler,
    Job,
    Runtime,
)
from invitegw.gateway.storage import OutboxMessage, OutboxState, Store
from invitegw.mailbox.transport.netutil import pick_free_port
from tests.fixtures.smtp_sink import ReceivedMessage, SmtpSink
from tests.gateway.outbound.builders import WARSAW
from tests.gateway.outbound.harness import Cli, OutboundHarness, write_config

HOUR = dt.timedelta(hours=1)


def soon(days: int = 30) -> dt.datetime:
    """A meeting time ahead of the real clock (the CLI runs on it), 10:00 in Warsaw."""
    day = dt.datetime.now(WARSAW).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(10), tzinfo=WARSAW)


def meeting_soon(h: OutboundHarness, **changes: object) -> str:
    start = soon()
    return h.create_meeting(start=start, end=start + HOUR, rrule=None, **changes)


# -- the scheduler ----------------------------------------------------------------------------


def test_the_composition_root_builds_the_outbound_jobs_in_order(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    jobs = build_scheduler(h.gateway).jobs  # no mailbox, no listener: the outbound side's
    assert [(j.name, j.interval) for j in jobs] == [
        (POLL_JOB, h.settings.outbound.poll_interval),
        (REMINDER_JOB, h.settings.outbound.reminder_interval),
        (OUTBOX_JOB, h.settings.outbound.flush_interval),
    ]


def test_run_once_runs_each_job_in_order_and_reports_failures(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    ran: list[str] = []

    def failing(_stop: threading.Event) -> object:
        ran.append("crm")
        raise CrmUnavailableError("the CRM is down")

    jobs = [
        Job("flush", HOUR, lambda _s: ran.append("flush"), order=90),
        Job("crm", HOUR, failing, order=10),
        Job("reminders", HOUR, lambda _s: ran.append("reminders"), order=20),
    ]
    outcomes = GatewayScheduler(Runtime(h.gateway), jobs=jobs, services=[]).run_once()
    assert ran == ["crm", "reminders", "flush"]
    assert [(o.name, o.ok, o.error) for o in outcomes] == [
        ("crm", False, "the CRM is down"),
        ("reminders", True, None),
        ("flush", True, None),
    ]


class _Service:
    name = "probe"

    def __init__(self) -> None:
        self.events: list[str] = []

    def start(self) -> None:
        self.events.append("start")

    def stop(self, timeout: float) -> None:
        self.events.append(f"stop {timeout}")


def test_start_runs_jobs_at_once_and_again_when_woken(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    runs = {"a": threading.Semaphore(0), "b": threading.Semaphore(0)}
    jobs = [Job(name, HOUR, lambda _s, n=name: runs[n].release()) for name in runs]
    service = _Service()
    runtime = Runtime(h.gateway)
    scheduler = GatewayScheduler(runtime, jobs=jobs, services=[service])
    scheduler.start()
    try:
        assert runs["a"].acquire(timeout=10)
        assert runs["b"].acquire(timeout=10)
        runtime.wake("b")  # long before its hour is up
        assert runs["b"].acquire(timeout=10)
        assert not scheduler.wait(0)
    finally:
        scheduler.shutdown(timeout=3)
    assert runtime.stop.is_set()
    assert service.events == ["start", "stop 3"]


# -- invitegw serve ----------------------------------------------------------------------------


def test_serve_once_polls_sends_and_reports(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    meeting_soon(h)
    config = write_config(tmp_path / "invitegw.toml", store, smtp_sink.port)
    assert main(["--config", str(config), "serve", "--once"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{POLL_JOB}: 1 meeting changed (1 created), 4 messages queued",
        f"{REMINDER_JOB}: nothing due",
        f"{OUTBOX_JOB}: 4 sent",
    ]
    assert len(smtp_sink.wait_for(4)) == 4


def test_serve_once_json_prints_one_object_per_job(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    meeting_soon(h)
    config = write_config(tmp_path / "invitegw.toml", store, smtp_sink.port)
    assert main(["--config", str(config), "serve", "--once", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["job"], r["ok"], r["error"]) for r in records] == [
        (POLL_JOB, True, None),
        (REMINDER_JOB, True, None),
        (OUTBOX_JOB, True, None),
    ]
    assert records[0]["result"]["messages"] == 4
    assert records[0]["result"]["actions"] == {"created": 1}
    assert records[1]["result"] == 0
    outbox = records[2]["result"]
    assert (outbox["sent"], outbox["waiting"], outbox["waiting_reason"]) == (4, 0, None)


def test_serve_once_says_why_messages_stayed_unsent(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    meeting_soon(h)
    closed = pick_free_port()  # nothing listens there: the relay is down
    config = write_config(tmp_path / "invitegw.toml", store, closed)
    assert main(["--config", str(config), "serve", "--once"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[2] == f"{OUTBOX_JOB}: 4 to try again later; 4 waiting"
    assert f"4 messages not sent yet (relay 127.0.0.1:{closed}: " in captured.err
    assert "relay connection failed" in captured.err
    assert "`invitegw outbox list` shows them" in captured.err
    assert h.states() == [OutboxState.PENDING] * 4


def test_serve_once_exits_1_when_a_job_fails(
    store: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    down = pick_free_port()  # a CRM nobody answers for
    crm = f'[crm]\nadapter = "vtiger"\n[crm.vtiger]\nurl = "http://127.0.0.1:{down}"\n'
    crm += 'username = "gateway"\n'
    config = write_config(tmp_path / "invitegw.toml", store, pick_free_port(), crm)
    monkeypatch.setenv("INVITEGW_CRM__VTIGER__ACCESS_KEY", "k3y")
    assert main(["--config", str(config), "serve", "--once"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{POLL_JOB}: FAILED:")
    assert out[2] == f"{OUTBOX_JOB}: nothing to send"


def test_serve_runs_until_sigterm_and_picks_up_changes(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    meeting_id = meeting_soon(h)
    extra = '[outbound]\npoll_interval = "1s"\nflush_interval = "1s"\n'
    serve = Cli(write_config(tmp_path / "invitegw.toml", store, smtp_sink.port, extra), "serve")
    try:
        serve.wait_ready()
        smtp_sink.wait_for(4, timeout=60)
        with h.admin() as crm:
            crm.update_meeting(meeting_id, location="Room 7")
        smtp_sink.wait_for(8, timeout=60)
    finally:
        os.kill(serve.pid, signal.SIGTERM)
        code, err = serve.finish()
    assert code == 0, err
    assert "SIGTERM received: stopping" in err
    assert h.states() == [OutboxState.SENT] * 8


def test_sigterm_finishes_the_message_in_flight_and_hands_back_the_rest(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    for n in range(3):
        meeting_soon(h, title=f"Meeting {n}")
    h.outbound.poll()  # twelve messages wait in the outbox
    serve = Cli(write_config(tmp_path / "invitegw.toml", store, smtp_sink.port), "serve")

    def terminate_on_first(_message: ReceivedMessage) -> None:
        if len(smtp_sink.messages) == 1:
            os.kill(serve.pid, signal.SIGTERM)

    smtp_sink.on_message = terminate_on_first
    code, err = serve.finish()
    assert code == 0, err
    with store.session() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        states = [r.state for r in rows]
    # The signal reaches the worker while the first message is in flight; that one is
    # finished (another may have started before the main thread ran the handler).
    sent = states.count(OutboxState.SENT)
    assert 1 <= sent <= 3
    assert states.count(OutboxState.PENDING) == 12 - sent  # handed back: none stuck sending
    assert all(r.attempts == 0 for r in rows if r.state is OutboxState.PENDING)
    assert len(smtp_sink.messages) == sent


# -- invitegw outbox ---------------------------------------------------------------------------


def test_outbox_list_and_retry(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    with h.admin() as crm:
        crm.add_party(EntityType.CONTACT, ["bounce@example.org"], name="Bo Unce")
    meeting_id = meeting_soon(h, attendees=["bounce@example.org"])
    h.run()
    config = str(write_config(tmp_path / "invitegw.toml", store, smtp_sink.port))
    capsys.readouterr()

    assert main(["--config", config, "outbox", "list", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["recipient"], r["state"], r["method"], r["meeting_id"]) for r in records] == [
        ("bounce@example.org", "dead", "REQUEST", meeting_id),
        ("olga@example.com", "sent", "REQUEST", meeting_id),
    ]
    dead, sent = records
    assert set(dead) == {
        "id",
        "message_id",
        "state",
        "kind",
        "method",
        "sequence",
        "recurrence_id",
        "sender",
        "recipient",
        "meeting_id",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "created_at",
        "last_error",
    }
    assert "550" in dead["last_error"]
    assert sent["sent_at"].endswith("Z")

    assert main(["--config", config, "outbox", "list", "--state", "dead"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["ID", "STATE", "KIND"]
    assert len(table) == 2
    assert "bounce@example.org" in table[1]

    assert main(["--config", config, "outbox", "retry", str(sent["id"])]) == 1
    assert f"{sent['id']}: sent" in capsys.readouterr().err
    assert main(["--config", config, "outbox", "retry", str(dead["id"])]) == 0
    assert capsys.readouterr().out.strip() == "1 message queued again"
    with store.session() as session:
        row = session.get(OutboxMessage, dead["id"])
        assert row is not None
        assert (row.state, row.attempts) == (OutboxState.PENDING, 0)
    h.clock.now = dt.datetime.now(dt.UTC)
    assert h.dispatcher.flush().dead == 1  # still refused: dead again
    assert main(["--config", config, "outbox", "retry", "--dead"]) == 0
    assert capsys.readouterr().out.strip() == "1 message queued again"
    assert main(["--config", config, "outbox", "list", "--state", "sending"]) == 0
    assert capsys.readouterr().out.strip() == "the outbox is empty"
