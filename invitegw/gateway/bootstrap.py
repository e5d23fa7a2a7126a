"""The composition root: build the gateway's parts from the settings, once, at start.

:func:`build_gateway` opens the database (checking its schema, or upgrading the embedded
SQLite default), builds the configured CRM adapter (found by name in
:mod:`invitegw.crm_adapter.registry`: nothing here knows any adapter) and the clock, and
returns a :class:`Gateway` holding them. Commands and, later, the pipelines and the
scheduler take what they need from it; tests pass their own ``crm``, ``clock`` or
``store``. Nothing here runs at import.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import CrmPort
from invitegw.crm_adapter.registry import CrmBinding, CrmBuildContext, get_adapter
from invitegw.domain.records import EntityType
from invitegw.errors import GatewayError
from invitegw.gateway.config import MailboxSettings, Settings
from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.inbound.file_source import FileInput, FileSource
from invitegw.gateway.inbound.imap_source import ImapSource
from invitegw.gateway.inbound.jobs import inbound_jobs, inbound_services
from invitegw.gateway.inbound.model import MessageResult, ReceivedMessage
from invitegw.gateway.inbound.parts import InboundParts
from invitegw.gateway.inbound.pipeline import InboundPipeline
from invitegw.gateway.inbound.smtp_listener import (
    ListenerService,
    incoming_folder,
    listener_config,
    listener_tls,
)
from invitegw.gateway.inbound.smtp_source import SpoolWorker
from invitegw.gateway.inbound.source import Pipeline, WorkerContext
from invitegw.gateway.mailauth import MailLogins, mailbox_login, smtp_login
from invitegw.gateway.metrics import Instruments, ObservedPipeline
from invitegw.gateway.outbound.answer_links import answer_linking
from invitegw.gateway.outbound.apply import Calendars, ChangeApplier
from invitegw.gateway.outbound.dispatch import Dispatcher, DispatchOptions
from invitegw.gateway.outbound.feed import FeedOptions, Outbound, request_resend
from invitegw.gateway.outbound.jobs import outbound_jobs_for
from invitegw.gateway.outbound.reminders import Reminders
from invitegw.gateway.scheduler import GatewayScheduler, Runtime
from invitegw.gateway.storage import SchemaStatus, Store, ensure_schema, open_store
from invitegw.gateway.uow import Clock, CrmFactory, UnitsOfWork
from invitegw.itip.plan_model import IdSource, RandomIds
from invitegw.mailbox.mime.extract import MimeLimits
from invitegw.mailbox.transport.smtp_send import SmtpRelayConfig, SmtpSender
from invitegw.mailbox.transport.smtp_send import TlsMode as SmtpTlsMode

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from invitegw.gateway.monitor import ProcessMonitor
    from invitegw.mailbox.transport.imap_values import WatchConfig
    from invitegw.mailbox.transport.oauth.login import Login
    from invitegw.mailbox.transport.smtp_receive import ListenerConfig

__all__ = [
    "Gateway",
    "build_crm",
    "build_dispatcher",
    "build_gateway",
    "build_outbound",
    "build_reminders",
    "crm_build_context",
    "crm_options",
    "file_source",
    "imap_source",
    "inbound_config",
    "inbound_jobs",
    "inbound_parts",
    "inbound_pipeline",
    "inbound_services",
    "listener_service",
    "mime_limits",
    "open_settings_store",
    "smtp_sender",
    "spool_worker",
    "utc_now",
    "worker_context",
    "worker_id",
]

logger = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    """The current time, aware, in UTC (the gateway's default clock)."""
    return dt.datetime.now(dt.UTC)


@dataclass
class Gateway:
    """The assembled gateway: settings, database, CRM, clock.

    Use :meth:`crm` inside a ``store.session()`` block to get the CRM for that transaction.
    """

    settings: Settings
    store: Store
    clock: Clock
    crm_factory: CrmFactory
    worker: str
    schema: SchemaStatus | None = None
    # Event metrics and event log lines (metrics kept when [http] listen is set).
    instruments: Instruments = field(default_factory=Instruments)
    # This gateway's mail logins (token caches live as long as it does).
    mail_logins: MailLogins = field(default_factory=MailLogins, repr=False)
    # What `serve` adds: the process monitor (heartbeat, watchdog) and the /metrics registry.
    monitor: ProcessMonitor | None = field(default=None, repr=False)
    metrics_registry: CollectorRegistry | None = field(default=None, repr=False)
    closers: list[Callable[[], None]] = field(default_factory=list)
    # The inbound side's parts, built once by inbound_parts() ("-- inbound parts" below).
    inbound: InboundParts | None = field(default=None, repr=False)

    @property
    def units(self) -> UnitsOfWork:
        """Starts units of work over this gateway's store, CRM and clock."""
        return UnitsOfWork(self.store, self.crm_factory, self.clock)

    def crm(self, session: Session) -> CrmPort:
        """The CRM port for the unit of work ``session``.

        Parameters:
            session: the open session of the current transaction.

        Returns:
            The adapter.
        """
        return self.crm_factory(session)

    def close(self) -> None:
        """Release the database connections and the CRM's (a remote CRM logs out)."""
        for close in self.closers:
            try:
                close()
            except Exception:  # closing must not hide the store's own release
                logger.warning("closing a CRM adapter failed", exc_info=True)
        self.store.dispose()


def open_settings_store(settings: Settings) -> Store:
    """Open the configured database (without checking its schema).

    Parameters:
        settings: the configuration.

    Returns:
        The store.

    Raises:
        StorageError: the URL is invalid, or the data folder cannot be created.
    """
    password = settings.database.password.reveal() if settings.database.password else None
    return open_store(
        settings.database_url,
        password=password,
        pool_size=settings.database.pool_size,
        busy_timeout=settings.database.busy_timeout.total_seconds(),
    )


def crm_build_context(settings: Settings, clock: Clock | None = None) -> CrmBuildContext:
    """What every CRM adapter is built with besides its own options (``[crm]``, the clock).

    Parameters:
        settings: the configuration.
        clock: the gateway's clock (default: the system clock, UTC).

    Returns:
        The context.
    """
    fields = settings.crm.email_fields
    return CrmBuildContext(
        clock=clock or utc_now,
        email_counts={entity: fields.count(entity) for entity in EntityType},
    )


def crm_options(settings: Settings) -> Any:
    """The configured adapter's options, validated from its ``[crm.<name>]`` table.

    Parameters:
        settings: the configuration (the table already holds its secrets from the
            environment: ``INVITEGW_CRM__<NAME>__<KEY>``).

    Returns:
        The adapter's own options object.

    Raises:
        ConfigError: the adapter is unknown or cannot be loaded, or its table is invalid
            (the message names the key).
    """
    spec = get_adapter(settings.crm.adapter)
    return spec.parse_options(settings.crm.adapter_table)


def build_crm(settings: Settings, clock: Clock | None = None) -> CrmBinding:
    """Build the configured CRM adapter (``crm.adapter``) through the registry.

    Parameters:
        settings: the configuration.
        clock: the gateway's clock (default: the system clock, UTC).

    Returns:
        The binding: a per-session factory (a CRM in our database) or one process-wide
        adapter with its close hook (a remote CRM).

    Raises:
        ConfigError: the adapter is unknown, or its options are invalid.
    """
    spec = get_adapter(settings.crm.adapter)
    options = spec.parse_options(settings.crm.adapter_table)
    return spec.build(options, crm_build_context(settings, clock))


def mime_limits(settings: Settings) -> MimeLimits:
    """The MIME extraction caps from ``[limits]``.

    Parameters:
        settings: the configuration.

    Returns:
        The limits ``invitegw.mailbox.mime.extract`` takes.
    """
    limits = settings.limits
    return MimeLimits(
        max_message_bytes=limits.message_bytes,
        max_parts=limits.mime_parts,
        max_depth=limits.mime_depth,
        max_lines=limits.mime_lines,
        max_calendar_bytes=limits.calendar_bytes,
        max_calendar_parts=limits.calendar_parts,
        max_tnef_bytes=limits.tnef_bytes,
    )


def smtp_sender(settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> SmtpSender:
    """The SMTP sender for ``[smtp]``: a password from the environment, or OAuth 2.0 tokens.

    Parameters:
        settings: the configuration.
        ssl_context: TLS settings for the relay and the token provider (default: the
            system's verifying context).

    Returns:
        The sender.

    Raises:
        ConfigError: a username without a password (or an OAuth 2.0 secret), clear-text
            AUTH, a value out of range.
    """
    smtp = settings.smtp
    config = SmtpRelayConfig(
        host=smtp.host,
        port=smtp.port,
        tls=SmtpTlsMode(smtp.tls.value),
        username=smtp.username,
        timeout=smtp.timeout.total_seconds(),
        local_hostname=smtp.local_hostname,
        rate_limit=smtp.rate_limit or None,
    )
    login = smtp_login(smtp, ssl_context=ssl_context)
    return SmtpSender(config, password=login, ssl_context=ssl_context)


def worker_id(settings: Settings) -> str:
    """This process's name among workers: ``worker.id``, else host name and pid.

    Parameters:
        settings: the configuration.

    Returns:
        The worker id.
    """
    return settings.worker.id or f"{socket.gethostname()}:{os.getpid()}"


def build_gateway(
    settings: Settings,
    *,
    crm: CrmPort | None = None,
    clock: Clock | None = None,
    store: Store | None = None,
    check_schema: bool = True,
) -> Gateway:
    """Assemble the gateway from ``settings``.

    Parameters:
        settings: the validated configuration.
        crm: a CRM port to use instead of the configured adapter (tests, dry runs).
        clock: returns the current aware time (default: the system clock, UTC).
        store: a database to use instead of the configured one.
        check_schema: refuse an outdated schema (upgrading the embedded default instead).

    Returns:
        The gateway.

    Raises:
        SchemaOutdatedError: the database needs ``invitegw db upgrade``.
        StorageError: the database cannot be opened or is newer than this code.
        ConfigError: the configured CRM adapter cannot be built.
    """
    clock = clock or utc_now
    closers: list[Callable[[], None]] = []
    # Build the adapter first: nothing to undo if it cannot be built.
    crm_factory: CrmFactory
    if crm is not None:
        crm_factory = _fixed_crm(crm)
    else:
        binding = build_crm(settings, clock)
        crm_factory = binding.for_session
        closers.append(binding.close)
    owned = store is None
    store = store or open_settings_store(settings)
    schema = None
    if check_schema:
        try:
            schema = ensure_schema(store, auto_upgrade=settings.embedded_database)
        except BaseException:
            if owned:
                store.dispose()
            for close in closers:
                close()
            raise
    return Gateway(
        settings=settings,
        store=store,
        clock=clock,
        crm_factory=crm_factory,
        worker=worker_id(settings),
        schema=schema,
        instruments=Instruments(enabled=bool(settings.http.listen)),
        closers=closers,
    )


def _fixed_crm(crm: CrmPort) -> CrmFactory:
    def factory(_session: Session) -> CrmPort:
        return crm

    return factory


# -- inbound parts ---------------------------------------------------------------------------
# The builders that assemble the inbound side from the gateway: the modules of
# gateway/inbound/ take explicit parts (a UnitsOfWork, an InboundConfig, a WorkerContext, the
# sources' settings) and never import this module.


def inbound_config(settings: Settings) -> InboundConfig:
    """What the inbound side reads of ``settings``.

    Parameters:
        settings: the configuration.

    Returns:
        The inbound settings, limits, calendars and mailbox owners, as one value.
    """
    return InboundConfig(
        calendars=settings.calendars,
        inbound=settings.inbound,
        limits=settings.limits,
        mime_limits=mime_limits(settings),
        mailbox_owners=MappingProxyType({m.name: m.owner for m in settings.mailboxes}),
        mailbox_addresses=MappingProxyType(
            {m.name: m.username for m in settings.mailboxes if "@" in m.username}
        ),
    )


def worker_context(gateway: Gateway) -> WorkerContext:
    """What this worker's mail sources share: store, clock, worker id, lease timings.

    Parameters:
        gateway: the gateway.

    Returns:
        The context.
    """
    worker = gateway.settings.worker
    return WorkerContext(
        store=gateway.store,
        clock=gateway.clock,
        worker=gateway.worker,
        lease_duration=worker.lease_duration,
        heartbeat=worker.heartbeat,
        on_lease=gateway.instruments.lease,
    )


def inbound_pipeline(gateway: Gateway) -> InboundPipeline:
    """The inbound pipeline over the gateway's units of work and settings.

    Parameters:
        gateway: the gateway.

    Returns:
        The pipeline.
    """
    return InboundPipeline(
        gateway.units, inbound_config(gateway.settings), request_resend=request_resend
    )


def imap_source(
    gateway: Gateway,
    mailbox: MailboxSettings,
    pipeline: Pipeline,
    *,
    config: WatchConfig | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> ImapSource:
    """The mail source of one ``[[mailboxes]]``.

    Parameters:
        gateway: the gateway.
        mailbox: the mailbox's settings.
        pipeline: the pipeline it hands messages to.
        config: the watcher's config (default: from the settings).
        ssl_context: TLS settings for the IMAP connection.

    Returns:
        The source.
    """

    def login() -> str | Login:
        return mailbox_login(gateway, mailbox)  # one per gateway: one token cache

    return ImapSource(
        mailbox,
        pipeline,
        worker_context(gateway),
        login=login,
        max_message_size=gateway.settings.limits.message_bytes,
        config=config,
        ssl_context=ssl_context,
    )


def spool_worker(
    gateway: Gateway,
    pipeline: Pipeline,
    *,
    retry_initial: dt.timedelta = dt.timedelta(seconds=30),
    retry_max: dt.timedelta = dt.timedelta(hours=1),
) -> SpoolWorker:
    """The SMTP spool's mail source.

    Parameters:
        gateway: the gateway.
        pipeline: the pipeline it hands messages to.
        retry_initial: the first retry delay of a message not handled; doubled per attempt.
        retry_max: the longest retry delay.

    Returns:
        The spool worker (claims last ``outbound.claim_timeout``).
    """
    settings = gateway.settings
    return SpoolWorker(
        pipeline,
        worker_context(gateway),
        claim_for=settings.outbound.claim_timeout,
        quarantine_bytes=settings.limits.quarantine_bytes,
        retry_initial=retry_initial,
        retry_max=retry_max,
    )


def listener_service(
    gateway: Gateway,
    *,
    notify: Callable[[], None] | None = None,
    config: ListenerConfig | None = None,
) -> ListenerService:
    """The SMTP listener of ``[listener]``.

    Parameters:
        gateway: the gateway.
        notify: called after each message was committed to the spool.
        config: the listener's config (default: from the settings).

    Returns:
        The listener service (not started).

    Raises:
        ConfigError: no recipient address, a malformed one, or unreadable TLS files.
    """
    settings = gateway.settings
    listener = settings.listener
    return ListenerService(
        config
        or listener_config(
            listener,
            settings.calendars,
            max_message_bytes=settings.limits.message_bytes,
            spool_dir=incoming_folder(settings),
        ),
        worker_context(gateway),
        notify=notify,
        tls_context=listener_tls(listener),
        require_starttls=listener.require_starttls,
    )


def file_source(
    gateway: Gateway,
    inputs: Sequence[FileInput],
    pipeline: Pipeline,
    *,
    owner: str | None = None,
    dry_run: bool = False,
    on_result: Callable[[ReceivedMessage, MessageResult], None] | None = None,
    on_error: Callable[[GatewayError], None] | None = None,
    on_input: Callable[[int], None] | None = None,
) -> FileSource:
    """Files as a mail source (``invitegw ingest``).

    Parameters:
        gateway: the gateway (the size cap).
        inputs: what to read (:func:`~invitegw.gateway.inbound.file_source.collect_inputs`).
        pipeline: the pipeline it hands messages to.
        owner: the staff address owning tasks no forwarder claims.
        dry_run: decide, write nothing.
        on_result: called with each message and its result.
        on_error: called with the error of a file that cannot be read.
        on_input: called with the number of inputs done, after each.

    Returns:
        The source.
    """
    return FileSource(
        inputs,
        pipeline,
        max_bytes=gateway.settings.limits.message_bytes,
        owner=owner,
        dry_run=dry_run,
        on_result=on_result,
        on_error=on_error,
        on_input=on_input,
    )


def inbound_parts(gateway: Gateway, *, pipeline: Pipeline | None = None) -> InboundParts:
    """The gateway's inbound parts, made at the first call (the scheduler's entries share them).

    Parameters:
        gateway: the gateway.
        pipeline: the pipeline to use (default: :func:`inbound_pipeline`); only the first
            call's counts.

    Returns:
        The pipeline and the mail sources that feed it.
    """
    if gateway.inbound is not None:
        return gateway.inbound
    settings = gateway.settings
    used = pipeline or inbound_pipeline(gateway)
    listening = settings.listener.enabled

    def listener(notify: Callable[[], None]) -> ListenerService:
        return listener_service(gateway, notify=notify)

    # The sources run it observed: each message timed, counted and logged as an event.
    observed = ObservedPipeline(used, gateway.instruments)
    gateway.inbound = InboundParts(
        pipeline=used,
        imap=tuple(imap_source(gateway, mailbox, observed) for mailbox in settings.mailboxes),
        spool=spool_worker(gateway, observed) if listening else None,
        listener=listener if listening else None,
    )
    return gateway.inbound


# -- outbound parts ------------------------------------------------------------------------
# The outbound side's parts take a unit-of-work factory, their own settings and their
# collaborators, never the gateway: these builders are where the gateway is taken apart.


def build_outbound(gateway: Gateway, *, ids: IdSource | None = None) -> Outbound:
    """The CRM change feed, with the plan-apply step it feeds.

    Parameters:
        gateway: the assembled gateway.
        ids: where UIDs, reply tokens and Message-IDs come from (default: random).

    Returns:
        The feed.
    """
    settings = gateway.settings
    outbound = settings.outbound
    applier = ChangeApplier(
        Calendars(settings.calendars, crm_url=settings.crm.meeting_url),
        grace=outbound.grace_period,
        max_attendees=settings.limits.attendees,
        ids=ids or RandomIds(),
        links=answer_linking(settings),
    )
    options = FeedOptions(
        batch_size=outbound.feed_batch_size,
        lease=settings.worker.lease_duration + outbound.poll_interval,
        existence_interval=outbound.existence_check_interval,
        grace=outbound.grace_period,
    )
    return Outbound(gateway.units, applier, worker=gateway.worker, options=options)


def build_dispatcher(
    gateway: Gateway,
    *,
    sender: SmtpSender | None = None,
    rng: Callable[[], float] | None = None,
) -> Dispatcher:
    """The outbox dispatcher.

    Parameters:
        gateway: the assembled gateway.
        sender: the SMTP sender (default: from ``[smtp]``, password from the environment).
        rng: uniform random numbers for the retry jitter (default: :func:`random.random`).

    Returns:
        The dispatcher.

    Raises:
        ConfigError: the ``[smtp]`` settings cannot make a sender.
    """
    settings = gateway.settings
    options = DispatchOptions(
        batch_size=settings.smtp.batch_size,
        claim_for=settings.outbound.claim_timeout,
        retry=settings.smtp.retry,
    )
    return Dispatcher(
        gateway.units,
        sender or smtp_sender(settings),
        worker=gateway.worker,
        options=options,
        rng=rng,
        instruments=gateway.instruments,
    )


def build_reminders(gateway: Gateway, *, ids: IdSource | None = None) -> Reminders:
    """The reminder emails job.

    Parameters:
        gateway: the assembled gateway.
        ids: where Message-IDs come from (default: random).

    Returns:
        The job.
    """
    settings = gateway.settings
    calendars = Calendars(settings.calendars, crm_url=settings.crm.meeting_url)
    return Reminders(
        gateway.units,
        calendars.with_reminders(),
        worker=gateway.worker,
        lease=settings.worker.lease_duration,
        ids=ids,
    )


# -- what `serve` runs -----------------------------------------------------------------------


def build_scheduler(gateway: Gateway, *, runtime: Runtime | None = None) -> GatewayScheduler:
    """The scheduler with every job and service of this worker, built from its parts.

    The jobs in ``serve --once`` order: the CRM poll, the reminders, the mailbox pass and
    the spool drain (each when configured), the outbox flush; the services: the IMAP
    watchers, and the spool worker and the SMTP listener when enabled.

    Parameters:
        gateway: the assembled gateway.
        runtime: the stop event and gateway to share (default: a new one for ``gateway``).

    Returns:
        The scheduler (nothing started).

    Raises:
        ConfigError: a mailbox without a secret, a listener without addresses, an
            ``[smtp]`` that cannot make a sender.
    """
    runtime = runtime or Runtime(gateway)
    parts = inbound_parts(gateway)
    jobs = [
        *outbound_jobs_for(
            build_outbound(gateway),
            build_reminders(gateway),
            build_dispatcher(gateway),
            intervals=gateway.settings.outbound,
            wake=runtime.wake,
        ),
        *inbound_jobs(parts),
    ]
    return GatewayScheduler(runtime, jobs=jobs, services=inbound_services(parts))
