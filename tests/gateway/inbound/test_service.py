"""The inbound service's plumbing against real Dovecot, aiosmtpd and the database.

The pipeline here is :class:`RecordingPipeline`, a named test double: these tests check
the plumbing (leases, the handler's outcomes, the spool worker, ``serve --once``); the
end-to-end tests run the real pipeline.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import smtplib
import threading
from pathlib import Path

import pytest
import trustme
from sqlalchemy import select

from invitegw.errors import ConfigError, StorageError
from invitegw.gateway.bootstrap import (
    build_scheduler,
    imap_source,
    inbound_parts,
    listener_service,
    spool_worker,
)
from invitegw.gateway.config import CalendarSettings, ListenerSettings, MailboxSettings, TlsMode
from invitegw.gateway.config.fields import Secret
from invitegw.gateway.inbound.imap_service import MailboxService
from invitegw.gateway.inbound.imap_source import MailboxHandler, lease_name
from invitegw.gateway.inbound.jobs import MAILBOX_JOB, SPOOL_JOB, inbound_jobs, inbound_services
from invitegw.gateway.inbound.model import (
    EventResult,
    InboundOutcome,
    MessageResult,
    ReceivedMessage,
    SourcePosition,
)
from invitegw.gateway.inbound.smtp_listener import ListenerService, listener_config, listener_tls
from invitegw.gateway.inbound.smtp_source import MAX_BUG_ATTEMPTS, SpoolService
from invitegw.gateway.inbound.source import MailSource
from invitegw.gateway.outbound.jobs import OUTBOX_JOB, POLL_JOB, REMINDER_JOB
from invitegw.gateway.scheduler import GatewayScheduler, Runtime
from invitegw.gateway.storage import Lease, QuarantinedMessage, SpooledMessage, SpoolState, Store
from invitegw.gateway.storage.mail_state import StoreSpool
from invitegw.gateway.storage.state import acquire_lease
from invitegw.mailbox.transport.imap_values import FetchedMessage, OutcomeKind, WatchEvent
from invitegw.mailbox.transport.netutil import pick_free_port
from invitegw.mailbox.transport.smtp_receive import RecipientFilter
from tests.fixtures.dovecot import DovecotServer, ImapUser
from tests.fixtures.tls import client_context
from tests.gateway.inbound.service_harness import (
    WAIT,
    ManualClock,
    RecordingPipeline,
    gateway_for,
    inbound_settings,
    mail,
    mailbox_settings,
    subject,
)

# -- the handler: pipeline results → watcher outcomes -----------------------------------------


class _Answer:
    """A pipeline that gives one fixed answer (or raises)."""

    def __init__(self, result: MessageResult | Exception) -> None:
        self.result = result
        self.seen: list[ReceivedMessage] = []

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        self.seen.append(message)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _fetched() -> FetchedMessage:
    return FetchedMessage(
        mailbox="sales",
        uidvalidity=7,
        uid=42,
        raw=b"Subject: x\r\n\r\n",
        size=1234,
        internal_date=dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC),
        oversized=True,
    )


@pytest.mark.parametrize(
    ("answer", "kind", "reason"),
    [
        (MessageResult("m", (EventResult(InboundOutcome.CREATED),)), OutcomeKind.PROCESSED, None),
        (
            MessageResult("m", (EventResult(InboundOutcome.DUPLICATE),), already_processed=True),
            OutcomeKind.PROCESSED,
            None,
        ),
        (
            MessageResult("m", (EventResult(InboundOutcome.QUARANTINED, reason="spoofed"),)),
            OutcomeKind.QUARANTINE,
            "spoofed",
        ),
        (StorageError("database is down"), OutcomeKind.RETRY, "database is down"),
    ],
    ids=["created", "already-processed", "quarantined", "retryable"],
)
def test_the_handler_wraps_the_message_and_maps_the_result(
    answer: MessageResult | Exception, kind: OutcomeKind, reason: str | None, tmp_path: Path
) -> None:
    box = mailbox_settings_offline()
    pipeline = _Answer(answer)
    outcome = MailboxHandler(pipeline, box)(_fetched())
    assert (outcome.kind, outcome.reason) == (kind, reason)
    (received,) = pipeline.seen
    assert received == ReceivedMessage(
        raw=b"Subject: x\r\n\r\n",
        source="sales",
        reference="sales:INBOX",
        position=SourcePosition(7, 42),
        owner="olga@example.com",
        size=1234,
        oversized=True,
        received_at=dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC),
    )


def mailbox_settings_offline(**changes: object) -> MailboxSettings:
    """``sales`` on a port where nothing listens."""
    values: dict[str, object] = {
        "name": "sales",
        "host": "127.0.0.1",
        "username": "sales",
        "owner": "olga@example.com",
        "port": pick_free_port(),
        "tls": TlsMode.NONE,
        "password": Secret("x"),
    }
    values.update(changes)
    return MailboxSettings(**values)  # type: ignore[arg-type]


def test_the_imap_mailboxes_and_the_spool_are_mail_sources(store: Store, tmp_path: Path) -> None:
    box = mailbox_settings_offline()
    gateway = gateway_for(store, inbound_settings(tmp_path, mailboxes=(box,)))
    pipeline = RecordingPipeline()
    # Typed as the port: mypy checks that each implementation fits it.
    sources: list[MailSource] = [
        imap_source(gateway, box, pipeline),
        spool_worker(gateway, pipeline),
    ]
    assert [s.name for s in sources] == ["sales", "smtp"]
    assert str(sources[1].drain()) == "0 processed, 0 quarantined, 0 deferred, 0 failed"


# -- leases: one watcher per mailbox among several workers ------------------------------------


@pytest.mark.dovecot
def test_two_workers_one_mailbox_only_the_lease_holder_watches(
    store: Store, dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> None:
    box = mailbox_settings(dovecot, imap_user)
    pipeline = RecordingPipeline()
    services = [
        MailboxService(
            imap_source(
                gateway_for(store, inbound_settings(tmp_path, mailboxes=(box,), worker=name)),
                box,
                pipeline,
            )
        )
        for name in ("worker-a", "worker-b")
    ]
    for service in services:
        service.start()
    try:
        # Once each has tried, exactly one holds the lease.
        for service in services:
            assert service.wait_until(lambda s: s.heartbeats >= 1, WAIT)
        assert [s.holding for s in services].count(True) == 1
        holder, other = services if services[0].holding else services[::-1]
        # The other worker has tried at least twice since, and is still not watching.
        target = other.heartbeats + 2
        assert other.wait_until(lambda s: s.heartbeats >= target, WAIT)
        assert not other.holding
        assert other.tenures == 0
        assert holder.events.wait_for(WatchEvent.IDLE, 1, WAIT)
        for n in (1, 2, 3):
            dovecot.append(imap_user, mail(n))
        pipeline.wait_for(3)
        assert holder.events.wait_for(WatchEvent.HANDLED, 3, WAIT)

        # The holder stops (releasing its lease): the other takes over and goes on.
        holder.stop()
        with store.session() as session:
            assert session.get(Lease, lease_name("sales")) is None or other.holding
        assert other.wait_until(lambda s: s.holding, WAIT)
        assert other.events.wait_for(WatchEvent.IDLE, 1, WAIT)
        dovecot.append(imap_user, mail(4))
        pipeline.wait_for(4)
        assert other.events.wait_for(WatchEvent.HANDLED, 1, WAIT)
    finally:
        for service in services:
            service.stop()
    # Each message handed over once, by one worker or the other.
    assert pipeline.subjects() == [f"Invitation {n}" for n in (1, 2, 3, 4)]
    assert len(dovecot.uids(imap_user, "Processed")) == 4
    with store.session() as session:
        assert session.get(Lease, lease_name("sales")) is None  # released on stop


@pytest.mark.dovecot
def test_a_dead_workers_lease_is_taken_over_when_it_expires(
    store: Store, dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> None:
    box = mailbox_settings(dovecot, imap_user)
    clock = ManualClock()
    settings = inbound_settings(tmp_path, mailboxes=(box,), worker="survivor")
    # A worker that died holding the lease (it never renews it again).
    with store.session() as session:
        assert acquire_lease(
            session,
            lease_name("sales"),
            "dead-worker",
            now=clock(),
            duration=settings.worker.lease_duration,
        )
    pipeline = RecordingPipeline()
    service = MailboxService(imap_source(gateway_for(store, settings, clock), box, pipeline))
    dovecot.append(imap_user, mail(1))
    service.start()
    try:
        assert service.wait_until(lambda s: s.heartbeats >= 2, WAIT)
        assert not service.holding
        assert pipeline.calls == []
        clock.advance(settings.worker.lease_duration + dt.timedelta(seconds=1))
        assert service.wait_until(lambda s: s.holding, WAIT)
        assert pipeline.wait_for(1)[0].position is not None
    finally:
        service.stop()
    assert subject(pipeline.calls[0].raw) == "Invitation 1"


# -- serve --once ---------------------------------------------------------------------------


@pytest.mark.dovecot
def test_serve_once_drains_each_mailbox_and_the_spool_between_poll_and_flush(
    store: Store, dovecot: DovecotServer, tmp_path: Path
) -> None:
    sales_user, support_user = dovecot.add_user(), dovecot.add_user()
    boxes = (
        mailbox_settings(dovecot, sales_user),
        mailbox_settings(dovecot, support_user, name="support", owner="carl@example.com"),
    )
    listener = ListenerSettings(
        enabled=True, port=pick_free_port(), recipients=("crm@example.com",)
    )
    settings = inbound_settings(tmp_path, mailboxes=boxes, listener=listener)
    gateway = gateway_for(store, settings)
    pipeline = RecordingPipeline()
    inbound_parts(gateway, pipeline=pipeline)
    dovecot.append(sales_user, mail(1))
    dovecot.append(sales_user, mail(2, "Quarantine"))
    dovecot.append(support_user, mail(3))
    StoreSpool(store, gateway.clock)(mail(4, "Spooled"), "olga@example.com", ["crm@example.com"])

    scheduler = build_scheduler(gateway)
    outcomes = scheduler.run_once()
    assert [o.name for o in outcomes] == [
        POLL_JOB,
        REMINDER_JOB,
        MAILBOX_JOB,
        SPOOL_JOB,
        OUTBOX_JOB,
    ]
    assert all(o.ok for o in outcomes), outcomes
    assert str(outcomes[2].result) == "sales: 2 handled; support: 1 handled"
    assert str(outcomes[3].result) == "1 processed, 0 quarantined, 0 deferred, 0 failed"
    assert sorted(pipeline.subjects()) == [
        "Invitation 1",
        "Invitation 3",
        "Quarantine 2",
        "Spooled 4",
    ]
    assert dovecot.uids(sales_user) == dovecot.uids(support_user) == []
    assert len(dovecot.uids(sales_user, "Processed")) == 1
    assert len(dovecot.uids(sales_user, "Quarantine")) == 1
    assert len(dovecot.uids(support_user, "Processed")) == 1
    smtp = next(m for m in pipeline.calls if m.source == "smtp")
    assert smtp.envelope.sender == "olga@example.com"
    assert smtp.envelope.recipients == ("crm@example.com",)
    assert smtp.reference is not None
    assert smtp.reference.startswith("spool:")
    with store.session() as session:
        (row,) = session.scalars(select(SpooledMessage))
        assert row.state is SpoolState.DONE
        # --once released the mailbox leases.
        assert session.scalars(select(Lease)).all() == []


@pytest.mark.dovecot
def test_serve_once_skips_a_mailbox_another_worker_holds(
    store: Store, dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> None:
    box = mailbox_settings(dovecot, imap_user)
    settings = inbound_settings(tmp_path, mailboxes=(box,))
    gateway = gateway_for(store, settings)
    with store.session() as session:
        acquire_lease(
            session,
            lease_name("sales"),
            "someone-else",
            now=gateway.clock(),
            duration=dt.timedelta(minutes=5),
        )
    dovecot.append(imap_user, mail(1))
    pipeline = RecordingPipeline()
    report = imap_source(gateway, box, pipeline).drain()
    assert str(report) == "sales: skipped (another worker holds its lease)"
    assert pipeline.calls == []
    assert len(dovecot.uids(imap_user)) == 1


# -- the spool worker ---------------------------------------------------------------------------


def test_the_spool_worker_puts_a_retryable_failure_back_with_a_backoff(
    store: Store, tmp_path: Path
) -> None:
    clock = ManualClock()
    gateway = gateway_for(store, inbound_settings(tmp_path), clock)
    spool = StoreSpool(store, clock)
    spool(mail(1, "Flaky"), "olga@example.com", ["crm@example.com"])
    spool(mail(2), "olga@example.com", ["crm@example.com"])
    pipeline = RecordingPipeline(failures=1)
    worker = spool_worker(gateway, pipeline, retry_initial=dt.timedelta(seconds=30))

    assert str(worker.drain()) == "1 processed, 0 quarantined, 1 deferred, 0 failed"
    with store.session() as session:
        flaky, ok = session.scalars(select(SpooledMessage).order_by(SpooledMessage.id))
        assert ok.state is SpoolState.DONE
        assert flaky.state is SpoolState.PROCESSING
        assert flaky.claimed_by is None
        assert flaky.claimed_until == clock() + dt.timedelta(seconds=30)
        assert flaky.last_error == "the CRM is down"
        assert flaky.attempts == 1

    assert str(worker.drain()) == "0 processed, 0 quarantined, 0 deferred, 0 failed"  # not yet
    clock.advance(dt.timedelta(seconds=31))
    assert str(worker.drain()) == "1 processed, 0 quarantined, 0 deferred, 0 failed"
    with store.session() as session:
        states = list(session.scalars(select(SpooledMessage.state).order_by(SpooledMessage.id)))
    assert states == [SpoolState.DONE, SpoolState.DONE]
    assert pipeline.subjects() == ["Invitation 2", "Flaky 1"]


def test_a_stop_hands_the_rest_of_the_batch_back(store: Store, tmp_path: Path) -> None:
    gateway = gateway_for(store, inbound_settings(tmp_path))
    spool = StoreSpool(store, gateway.clock)
    for n in (1, 2, 3):
        spool(mail(n), "olga@example.com", ["crm@example.com"])
    pipeline = RecordingPipeline()
    worker = spool_worker(gateway, pipeline)
    stop = threading.Event()
    pipeline.callback = lambda _m: stop.set()
    assert str(worker.drain(stop)) == "1 processed, 0 quarantined, 0 deferred, 0 failed"
    with store.session() as session:
        rows = list(session.scalars(select(SpooledMessage).order_by(SpooledMessage.id)))
    assert [(r.state, r.attempts, r.claimed_by) for r in rows] == [
        (SpoolState.DONE, 1, None),
        (SpoolState.PENDING, 0, None),
        (SpoolState.PENDING, 0, None),
    ]


# -- the SMTP listener ------------------------------------------------------------------------


def test_the_listener_refuses_unknown_and_oversized_and_spools_the_rest(
    store: Store, tmp_path: Path
) -> None:
    listener = ListenerSettings(
        enabled=True,
        port=pick_free_port(),
        recipients=("crm@example.com",),
        max_message_size=4096,
    )
    gateway = gateway_for(store, inbound_settings(tmp_path, listener=listener))
    pipeline = RecordingPipeline()
    parts = inbound_parts(gateway, pipeline=pipeline)
    services = list(inbound_services(parts))
    assert [type(s) for s in services] == [SpoolService, ListenerService]
    assert [j.name for j in inbound_jobs(parts)] == [SPOOL_JOB]
    for service in services:
        service.start()
    try:
        with smtplib.SMTP("127.0.0.1", listener.port, timeout=WAIT) as client:
            client.ehlo()
            code, reply = client.docmd("MAIL FROM:<olga@example.com>")
            assert code == 250
            code, reply = client.docmd("RCPT TO:<nobody@example.com>")
            assert (code, reply[:5]) == (550, b"5.1.1")
            client.rset()
            big = mail(1) + b"x" * 8000 + b"\r\n"
            with pytest.raises(smtplib.SMTPResponseException) as refused:
                client.sendmail("olga@example.com", ["crm@example.com"], big)
            assert (refused.value.smtp_code, refused.value.smtp_error[:5]) == (552, b"5.3.4")
            client.rset()
            raw = mail(2, "Forwarded")
            assert client.sendmail("olga@example.com", ["crm+t1@example.com"], raw) == {}
        (received,) = pipeline.wait_for(1)
    finally:
        for service in reversed(services):
            service.stop(5)
    assert received.source == "smtp"
    assert received.envelope.recipients == ("crm+t1@example.com",)
    assert subject(received.raw) == "Forwarded 2"
    with store.session() as session:
        (row,) = session.scalars(select(SpooledMessage))
        assert row.state is SpoolState.DONE


def test_scheduler_start_and_shutdown_release_the_leases(store: Store, tmp_path: Path) -> None:
    # Without a reachable server the watcher keeps reconnecting; the lease is still held and
    # released on shutdown.
    box = mailbox_settings_offline()
    gateway = gateway_for(store, inbound_settings(tmp_path, mailboxes=(box,)))
    parts = inbound_parts(gateway, pipeline=RecordingPipeline())
    scheduler = GatewayScheduler(Runtime(gateway), jobs=[], services=inbound_services(parts))
    scheduler.start()
    try:
        (service,) = parts.watchers
        assert service.wait_until(lambda s: s.holding, WAIT)
        assert parts.watching("sales")
        with store.session() as session:
            assert session.get(Lease, lease_name("sales")) is not None
    finally:
        scheduler.shutdown(timeout=10)
    assert not service.holding
    with store.session() as session:
        assert session.get(Lease, lease_name("sales")) is None


@pytest.mark.dovecot
def test_a_lost_lease_stops_the_watcher(
    store: Store, dovecot: DovecotServer, imap_user: ImapUser, tmp_path: Path
) -> None:
    box = mailbox_settings(dovecot, imap_user)
    gateway = gateway_for(store, inbound_settings(tmp_path, mailboxes=(box,)))
    service = MailboxService(imap_source(gateway, box, RecordingPipeline()))
    service.start()
    try:
        assert service.wait_until(lambda s: s.holding, WAIT)
        # Another worker took the mailbox over (as after our heartbeats stalled too long).
        with store.session() as session:
            lease = session.get(Lease, lease_name("sales"))
            assert lease is not None
            lease.holder = "thief"
            lease.expires_at = gateway.clock() + dt.timedelta(hours=1)
        assert service.wait_until(lambda s: not s.holding, WAIT)
        target = service.heartbeats + 2
        assert service.wait_until(lambda s: s.heartbeats >= target, WAIT)
        assert not service.holding  # the thief's lease is valid: no second watcher
        assert service.tenures == 1
    finally:
        service.stop()
    with store.session() as session:
        lease = session.get(Lease, lease_name("sales"))
        assert lease is not None
        assert lease.holder == "thief"  # not ours to release


class _Buggy:
    """A pipeline with a bug: raises something that is not a retryable error."""

    def __init__(self) -> None:
        self.calls = 0

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        self.calls += 1
        raise KeyError("bug")


def test_a_pipeline_bug_is_retried_then_the_message_is_quarantined(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    gateway = gateway_for(store, inbound_settings(tmp_path), clock)
    StoreSpool(store, clock)(mail(1), "olga@example.com", ["crm@example.com"])
    pipeline = _Buggy()
    worker = spool_worker(gateway, pipeline, retry_initial=dt.timedelta(seconds=1))
    reports = []
    for _ in range(MAX_BUG_ATTEMPTS):
        reports.append(str(worker.drain()))
        clock.advance(dt.timedelta(hours=1))
    assert reports == ["0 processed, 0 quarantined, 1 deferred, 0 failed"] * (
        MAX_BUG_ATTEMPTS - 1
    ) + ["0 processed, 0 quarantined, 0 deferred, 1 failed"]
    assert str(worker.drain()) == "0 processed, 0 quarantined, 0 deferred, 0 failed"
    assert pipeline.calls == MAX_BUG_ATTEMPTS
    with store.session() as session:
        (row,) = session.scalars(select(SpooledMessage))
        assert row.state is SpoolState.FAILED
        assert row.last_error == "KeyError: 'bug'"
        # Nothing is lost: the message waits in quarantine with the error and its envelope.
        (held,) = session.scalars(select(QuarantinedMessage))
        assert held.raw == row.raw
        assert held.reason == f"processing failed {MAX_BUG_ATTEMPTS} times: KeyError: 'bug'"
        assert held.received is not None
        assert held.received["envelope_to"] == ["crm@example.com"]
    assert "the pipeline raised" in caplog.text


@pytest.mark.dovecot
def test_a_watcher_stopped_by_a_configuration_error_releases_the_lease(
    store: Store,
    dovecot: DovecotServer,
    imap_user: ImapUser,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    box = mailbox_settings(dovecot, imap_user, folder="Trash")  # never watched
    gateway = gateway_for(store, inbound_settings(tmp_path, mailboxes=(box,)))
    service = MailboxService(imap_source(gateway, box, RecordingPipeline()), fatal_retry=3600)
    service.start()
    try:
        assert service.wait_until(lambda s: s.tenures == 1 and not s.holding, WAIT)
        target = service.heartbeats + 2
        assert service.wait_until(lambda s: s.heartbeats >= target, WAIT)
        assert service.tenures == 1  # not restarted before fatal_retry
        with store.session() as session:
            assert session.get(Lease, lease_name("sales")) is None
    finally:
        service.stop()
    assert "IMAP watcher sales stopped" in caplog.text
    assert "Trash" in caplog.text


def test_the_listener_takes_replies_to_every_calendar_with_its_token_separator(
    store: Store, tmp_path: Path
) -> None:
    settings = dataclasses.replace(
        inbound_settings(tmp_path, listener=ListenerSettings(recipients=("crm@example.com",))),
        calendars=(
            CalendarSettings(name="sales", address="sales@example.com"),
            CalendarSettings(name="hr", address="hr@example.com", token_separator="-"),
        ),
    )
    config = listener_config(
        settings.listener, settings.calendars, max_message_bytes=settings.limits.message_bytes
    )
    assert config.addresses == ("crm@example.com", "sales@example.com", "hr@example.com")
    accepts = RecipientFilter(config.addresses, config.separators).accepts
    assert accepts("crm@example.com")
    assert accepts("sales+k3x9q@example.com")
    assert accepts("hr-k3x9q@example.com")
    assert not accepts("someone@example.com")


def _tls_files(ca: trustme.CA, folder: Path) -> tuple[Path, Path]:
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    certificate, key = folder / "listener.crt", folder / "listener.key"
    leaf.cert_chain_pems[0].write_to_path(str(certificate))
    for pem in leaf.cert_chain_pems[1:]:
        pem.write_to_path(str(certificate), append=True)
    leaf.private_key_pem.write_to_path(str(key))
    return certificate, key


def test_the_listener_offers_starttls_and_can_require_it(
    store: Store, tmp_path: Path, tls_ca: trustme.CA
) -> None:
    certificate, key = _tls_files(tls_ca, tmp_path)
    listener = ListenerSettings(
        enabled=True,
        port=pick_free_port(),
        recipients=("crm@example.com",),
        tls_certificate=certificate,
        tls_key=key,
        require_starttls=True,
    )
    gateway = gateway_for(store, inbound_settings(tmp_path, listener=listener))
    service = listener_service(gateway)
    service.start()
    try:
        with smtplib.SMTP("127.0.0.1", service.port, timeout=WAIT) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            code, _ = client.docmd("MAIL FROM:<olga@example.com>")
            assert code == 530  # plain text refused: STARTTLS first
            client.starttls(context=client_context(tls_ca))
            client.ehlo()
            refused = client.sendmail("olga@example.com", ["crm@example.com"], mail(1))
            assert refused == {}
    finally:
        service.stop()
    with store.session() as session:
        assert session.scalars(select(SpooledMessage)).one().rcpt_to == ["crm@example.com"]


def test_listener_tls_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="give both or neither"):
        ListenerSettings(tls_certificate=tmp_path / "c.pem")._check("listener")
    with pytest.raises(ConfigError, match=r"required when listener\.require_starttls"):
        ListenerSettings(require_starttls=True)._check("listener")
    missing = ListenerSettings(tls_certificate=tmp_path / "c.pem", tls_key=tmp_path / "k.pem")
    with pytest.raises(ConfigError, match=r"listener\.tls_certificate/tls_key"):
        listener_tls(missing)
