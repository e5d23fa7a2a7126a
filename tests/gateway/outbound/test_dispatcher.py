"""The dispatcher against a real aiosmtpd server, on SQLite and PostgreSQL.

Failures as they happen: the relay down then up, a 5xx for one recipient, a 4xx that
never clears, a crash between the relay's OK and the commit (a subprocess killed there),
a graceful stop in the middle of a batch, and two workers sharing one outbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from invitegw.domain.records import EntityType, LogLevel
from invitegw.gateway.bootstrap import build_gateway, smtp_sender
from invitegw.gateway.config import RetrySettings, load_settings
from invitegw.gateway.outbound.dispatch import Dispatcher, retry_delay
from invitegw.gateway.storage import (
    DeliveryState,
    OutboundAttendee,
    OutboxState,
    Store,
    enqueue,
)
from invitegw.mailbox.transport.smtp_send import SmtpSender
from tests.fixtures.smtp_sink import ReceivedMessage, SmtpSink
from tests.gateway.outbound.harness import (
    Cli,
    OutboundHarness,
    Unreachable,
    parse_message,
    settings_for,
    write_config,
)

MINUTE = dt.timedelta(minutes=1)


def message_ids(messages: list[ReceivedMessage]) -> list[str]:
    return [str(parse_message(m.raw)["Message-ID"]) for m in messages]


def attendee(store: Store, address: str) -> OutboundAttendee:
    with store.session() as session:
        return session.scalars(
            select(OutboundAttendee).where(OutboundAttendee.address == address)
        ).one()


def test_retry_delay_grows_exponentially_within_the_jitter() -> None:
    retry = RetrySettings(
        first_delay=MINUTE, factor=2.0, max_delay=dt.timedelta(hours=6), jitter=0.1
    )
    middle = [retry_delay(n, retry, lambda: 0.5) for n in (1, 2, 3, 10, 20)]
    assert middle == [MINUTE, 2 * MINUTE, 4 * MINUTE, dt.timedelta(hours=6), dt.timedelta(hours=6)]
    assert retry_delay(3, retry, lambda: 0.0) == 4 * MINUTE * 0.9
    assert retry_delay(3, retry, lambda: 0.999999) > 4 * MINUTE * 1.0999


def test_settings_choose_the_relay_and_its_rate(tmp_path: Path) -> None:
    limited = smtp_sender(settings_for(2525, tmp_path, rate_limit=5.0))
    assert (limited.config.host, limited.config.port, limited.config.rate_limit) == (
        "127.0.0.1",
        2525,
        5.0,
    )
    assert smtp_sender(settings_for(2525, tmp_path)).config.rate_limit is None


def test_one_connection_per_batch(store: Store, smtp_sink: SmtpSink, tmp_path: Path) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    h.create_meeting()
    poll, flush = h.run()
    assert (poll.messages, flush.sent, flush.batches) == (4, 4, 1)
    assert smtp_sink.connections == 1
    h.with_settings(smtp=dataclasses.replace(h.settings.smtp, batch_size=3))
    h.create_meeting(title="Second meeting")
    poll, flush = h.run()
    assert (flush.sent, flush.batches) == (4, 2)
    assert smtp_sink.connections == 3


def test_relay_down_then_up_retries_and_delivers_once(store: Store, tmp_path: Path) -> None:
    sink = SmtpSink()  # its port is chosen, nothing listens yet
    h = OutboundHarness(store, sink, tmp_path)
    h.seed()
    meeting_id = h.create_meeting()
    poll, flush = h.run()
    assert (poll.messages, flush.sent, flush.retried) == (4, 0, 4)
    rows = h.outbox()
    assert [r.state for r in rows] == [OutboxState.PENDING] * 4
    # The first message tried, the rest waiting alike (no connection attempt each) without
    # spending an attempt they never made.
    assert [r.attempts for r in rows] == [1, 0, 0, 0]
    assert {r.next_attempt_at for r in rows} == {h.clock.now + MINUTE}
    assert "relay connection failed" in (rows[0].last_error or "")
    assert all((r.last_error or "").startswith("not tried: ") for r in rows[1:])
    warnings = [e for e in h.crm_log() if e.level is LogLevel.WARNING]
    assert len(warnings) == 4
    assert all(e.target_id == meeting_id and "delayed" in e.message for e in warnings)

    sink.start()
    try:
        assert h.dispatcher.flush().sent == 0  # not due yet
        h.clock.advance(MINUTE)
        assert h.dispatcher.flush().sent == 4
        received = sink.wait_for(4)
        assert len(set(message_ids(received))) == 4
        assert sorted(m.rcpt_tos[0] for m in received) == sorted(r.recipient for r in rows)
        assert h.states() == [OutboxState.SENT] * 4
        assert h.dispatcher.flush().handled == 0
        assert len(sink.messages) == 4
        delivered = [e.message for e in h.crm_log() if "delivered after" in e.message]
        assert sorted(m.rsplit(" after ", 1)[1] for m in delivered) == [
            "1 attempt",
            "1 attempt",
            "1 attempt",
            "2 attempts",
        ]
        assert attendee(store, "gina@example.org").delivery_state is DeliveryState.SENT
    finally:
        sink.stop()


def test_messages_never_tried_are_not_given_up_with_the_one_that_failed(
    store: Store, tmp_path: Path
) -> None:
    h = OutboundHarness(store, Unreachable(), tmp_path)  # type: ignore[arg-type]
    retry = dataclasses.replace(h.settings.smtp.retry, max_attempts=1)
    h.with_settings(smtp=dataclasses.replace(h.settings.smtp, retry=retry))
    h.seed()
    h.create_meeting()
    _poll, flush = h.run()
    assert (flush.dead, flush.retried) == (1, 3)
    rows = h.outbox()
    assert [(r.state, r.attempts) for r in rows] == [(OutboxState.DEAD, 1)] + [
        (OutboxState.PENDING, 0)
    ] * 3


def test_an_idn_contact_gets_its_invitation_through_a_relay_without_smtputf8(
    store: Store, make_smtp_sink, tmp_path: Path
) -> None:
    sink = make_smtp_sink(smtputf8=False)
    h = OutboundHarness(store, sink, tmp_path)
    h.seed()
    with h.admin() as crm:
        crm.add_party(EntityType.CONTACT, ["x@xn--bcher-kva.de"], name="Buch Er")
    h.create_meeting(attendees=["x@xn--bcher-kva.de"])
    _poll, flush = h.run()
    assert flush.dead == 0
    (row,) = [r for r in h.outbox() if r.recipient == "x@bücher.de"]  # stored in U-labels
    assert row.state is OutboxState.SENT
    received = [m for m in sink.messages if "x@xn--bcher-kva.de" in m.rcpt_tos]
    assert len(received) == 1
    assert b"x@xn--bcher-kva.de" in received[0].raw


def test_a_5xx_for_one_recipient_is_dead_at_once_and_logged(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    with h.admin() as crm:
        crm.add_party(EntityType.CONTACT, ["bounce@example.org"], name="Bo Unce")
    meeting_id = h.create_meeting(
        attendees=["carl@example.com", "bounce@example.org", "gina@example.org"]
    )
    _poll, flush = h.run()
    assert (flush.sent, flush.dead, flush.retried) == (3, 1, 0)
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == [
        "carl@example.com",
        "gina@example.org",
        "olga@example.com",
    ]
    dead = [r for r in h.outbox() if r.state is OutboxState.DEAD]
    assert [(r.recipient, r.attempts) for r in dead] == [("bounce@example.org", 1)]
    assert "550" in (dead[0].last_error or "")
    (error,) = [e for e in h.crm_log() if e.level is LogLevel.ERROR]
    assert error.target_id == meeting_id
    assert "bounce@example.org" in error.message
    assert "permanent failure" in error.message
    assert "550" in error.message
    bounced = attendee(store, "bounce@example.org")
    assert bounced.delivery_state is DeliveryState.FAILED
    assert "550" in (bounced.delivery_error or "")


def test_a_4xx_that_never_clears_backs_off_then_gives_up(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    with h.admin() as crm:
        crm.add_party(EntityType.CONTACT, ["later@example.org"], name="Lat Er")
    h.create_meeting(attendees=["later@example.org"])
    _poll, flush = h.run()
    assert (flush.sent, flush.retried) == (1, 1)  # Olga's copy went; the 451 waits
    waits = []
    for _attempt in range(2, 6):
        (row,) = [r for r in h.outbox() if r.recipient == "later@example.org"]
        waits.append(row.next_attempt_at - h.clock.now)
        h.clock.now = row.next_attempt_at
        h.dispatcher.flush()
    assert waits == [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE]
    (row,) = [r for r in h.outbox() if r.recipient == "later@example.org"]
    assert (row.state, row.attempts) == (OutboxState.DEAD, 5)
    assert "451" in (row.last_error or "")
    (error,) = [e for e in h.crm_log() if e.level is LogLevel.ERROR]
    assert "gave up after 5 attempts" in error.message
    assert len(smtp_sink.messages) == 1


def test_a_graceful_stop_finishes_the_message_in_flight(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    h.create_meeting()
    h.outbound.poll()
    stop = threading.Event()
    smtp_sink.on_message = lambda _message: stop.set()  # SIGTERM while the first is sent
    report = h.dispatcher.flush(stop=stop)
    assert (report.sent, report.released) == (1, 3)
    rows = h.outbox()
    assert [r.state for r in rows] == [OutboxState.SENT] + [OutboxState.PENDING] * 3
    assert [r.attempts for r in rows] == [1, 0, 0, 0]  # handed back without spending one
    smtp_sink.on_message = None
    assert h.dispatcher.flush().sent == 3
    assert len(set(message_ids(smtp_sink.wait_for(4)))) == 4


def test_two_workers_share_the_outbox_without_sending_twice(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    h.with_settings(smtp=dataclasses.replace(h.settings.smtp, batch_size=4))
    for n in range(10):
        h.create_meeting(title=f"Meeting {n}")
    assert h.outbound.poll().messages == 40
    workers = [
        Dispatcher(
            build_gateway(
                dataclasses.replace(
                    h.settings, worker=dataclasses.replace(h.settings.worker, id=f"w{n}")
                ),
                store=store,
                clock=h.clock,
            )
        )
        for n in range(2)
    ]
    reports = []
    threads = [threading.Thread(target=lambda w=w: reports.append(w.flush())) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r.sent for r in reports) == 40
    received = smtp_sink.wait_for(40)
    assert all(count == 1 for count in Counter(message_ids(received)).values())
    assert len(received) == 40
    assert h.states() == [OutboxState.SENT] * 40


def test_a_crash_between_the_relay_ok_and_the_commit_resends_only_that_message(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    h.create_meeting()
    assert h.outbound.poll().messages == 4
    config = write_config(
        tmp_path / "crash.toml",
        store,
        smtp_sink.port,
        '[outbound]\nclaim_timeout = "30s"\n[worker]\nid = "doomed"\n',
    )
    serve = Cli(config, "serve", "--once")

    def crash_on_third(message: ReceivedMessage) -> None:
        if len(smtp_sink.messages) == 3:
            # The relay has the message; the sender dies before it sees the 250.
            os.kill(serve.pid, signal.SIGKILL)

    smtp_sink.on_message = crash_on_third
    code, _err = serve.finish(timeout=120)
    assert code == -signal.SIGKILL
    smtp_sink.on_message = None
    rows = h.outbox()
    assert [r.state for r in rows[:2]] == [OutboxState.SENT] * 2
    assert rows[2].state is OutboxState.SENDING
    assert rows[2].claimed_by == "doomed"

    # Another worker, once the dead one's claim has expired, picks up where it stopped.
    h.clock.now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    report = h.dispatcher.flush()
    assert report.sent == 2
    received = smtp_sink.wait_for(5)
    counts = Counter(message_ids(received))
    third = rows[2].message_id
    assert counts[third] == 2  # sent again, with the same Message-ID ...
    assert [n for mid, n in counts.items() if mid != third] == [1, 1, 1]  # ... and only it
    copies = [m.raw for m in received if str(parse_message(m.raw)["Message-ID"]) == third]
    assert copies[0] == copies[1]
    assert h.states() == [OutboxState.SENT] * 4


def test_a_message_without_bytes_is_dead_not_a_crash(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    with store.session() as session:
        enqueue(
            session,
            message_id="<empty@example.com>",
            sender="sales@example.com",
            recipient="gina@example.org",
            now=h.clock.now,
        )
    report = h.dispatcher.flush()
    assert report.dead == 1
    (row,) = h.outbox()
    assert row.state is OutboxState.DEAD
    assert "no message bytes" in (row.last_error or "")


def test_starttls_and_auth_with_the_password_from_the_environment(
    store: Store, make_smtp_sink: Callable[..., SmtpSink], tmp_path: Path
) -> None:
    sink = make_smtp_sink(starttls=True, auth=True)
    env = {
        "INVITEGW_SMTP__HOST": "127.0.0.1",
        "INVITEGW_SMTP__PORT": str(sink.port),
        "INVITEGW_SMTP__TLS": "starttls",
        "INVITEGW_SMTP__USERNAME": sink.user,
        "INVITEGW_SMTP__PASSWORD": sink.password,
    }
    loaded = load_settings(None, env, cwd=tmp_path)
    configured = smtp_sender(loaded)
    assert (configured.config.tls.value, configured.config.username) == ("starttls", sink.user)
    assert sink.password not in repr(configured)
    h = OutboundHarness(store, sink, tmp_path)
    h.with_settings(smtp=loaded.smtp)
    # The sink's certificate comes from a test CA: trust it, as a deployment trusts its relay.
    assert loaded.smtp.password is not None
    h.dispatcher = Dispatcher(
        h.gateway,
        sender=SmtpSender(
            configured.config,
            password=loaded.smtp.password.reveal(),
            ssl_context=sink.client_context(),
        ),
    )
    h.seed()
    h.create_meeting()
    _poll, flush = h.run()
    assert flush.sent == 4
    assert all(m.tls and m.login == sink.user for m in sink.wait_for(4))
