"""The inbound side's scheduler entries: watcher and listener services, and two jobs.

Registered in :data:`invitegw.gateway.scheduler.SERVICE_FACTORIES` and
:data:`~invitegw.gateway.scheduler.JOB_FACTORIES`:

- services (``invitegw serve``): one :class:`~invitegw.gateway.inbound.imap_source.MailboxService`
  per ``[[mailboxes]]`` (IDLE under a lease), and, with ``[listener] enabled``, the SMTP
  listener plus the spool worker's thread, woken by each spooled message;
- jobs, each only when its source is configured: ``inbound-mailboxes`` drains every
  mailbox once (connect, drain, disconnect, honouring the lease) unless this process's
  watcher service already runs for it, which is what ``serve --once`` needs;
  ``inbound-spool`` drains the spool (``serve --once``, and a safety net beside the woken
  worker). Both run after the CRM poll and reminders and before the outbox flush, so the
  notices and REFRESH answers they queue leave in the same pass.

Both factories share one :class:`InboundParts` per gateway (kept in ``gateway.extras``):
the pipeline, the services, the spool worker.
"""

from __future__ import annotations

import datetime as dt
import importlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from invitegw.errors import MailboxError
from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.inbound.imap_source import (
    DrainReport,
    MailboxService,
    Pipeline,
    drain_mailbox_once,
)
from invitegw.gateway.inbound.model import MessageResult, ReceivedMessage
from invitegw.gateway.inbound.smtp_source import (
    ListenerService,
    SpoolReport,
    SpoolService,
    SpoolWorker,
)
from invitegw.gateway.metrics import ObservedPipeline
from invitegw.gateway.scheduler import Job, Runtime, Service

__all__ = [
    "MAILBOX_JOB",
    "SPOOL_JOB",
    "InboundParts",
    "MailboxesReport",
    "inbound_jobs",
    "inbound_parts",
    "inbound_services",
]

MAILBOX_JOB = "inbound-mailboxes"
SPOOL_JOB = "inbound-spool"
_EXTRAS_KEY = "inbound.parts"
_SPOOL_INTERVAL = dt.timedelta(seconds=60)


class _LazyPipeline:
    """``InboundPipeline(gateway)``, built at the first message (not at every ``serve``)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._pipeline: Pipeline | None = None
        self._lock = threading.Lock()

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        pipeline = self._pipeline
        if pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    module = importlib.import_module("invitegw.gateway.inbound.pipeline")
                    self._pipeline = module.InboundPipeline(self._gateway)
                pipeline = self._pipeline
        assert pipeline is not None
        return pipeline.handle(message, dry_run=dry_run)


@dataclass
class InboundParts:
    """The inbound side of one gateway: its pipeline and what feeds it."""

    gateway: Gateway
    pipeline: Pipeline
    mailboxes: list[MailboxService] = field(default_factory=list)
    spool: SpoolService | None = None
    listener: ListenerService | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def observed(self) -> Pipeline:
        """The pipeline as the sources run it: each message timed, counted and logged."""
        return ObservedPipeline(self.pipeline, self.gateway.instruments)

    def watching(self, mailbox: str) -> bool:
        """Whether this process's watcher service runs for ``mailbox``."""
        return any(s.mailbox.name == mailbox and s.running for s in self.mailboxes)


def inbound_parts(gateway: Gateway, *, pipeline: Pipeline | None = None) -> InboundParts:
    """The gateway's inbound parts, made at the first call.

    Parameters:
        gateway: the gateway.
        pipeline: the pipeline to use (default: ``InboundPipeline(gateway)``); only the
            first call's counts.

    Returns:
        The parts shared by the service and job factories.
    """
    parts = gateway.extras.get(_EXTRAS_KEY)
    if isinstance(parts, InboundParts):
        return parts
    made = InboundParts(gateway, pipeline or _LazyPipeline(gateway))
    gateway.extras[_EXTRAS_KEY] = made
    return made


@dataclass(frozen=True, slots=True)
class MailboxesReport:
    """What one ``inbound-mailboxes`` run did, per mailbox."""

    mailboxes: tuple[DrainReport, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether no mailbox failed."""
        return all(r.error is None for r in self.mailboxes)

    def __str__(self) -> str:
        return "; ".join(str(r) for r in self.mailboxes) or "no mailboxes"


def inbound_services(runtime: Runtime) -> Sequence[Service]:
    """The watcher services and, when enabled, the listener and the spool worker.

    Parameters:
        runtime: the gateway and the stop event.

    Returns:
        The services (the spool worker before the listener that wakes it).

    Raises:
        ConfigError: a mailbox without a password, or a listener without addresses.
    """
    parts = inbound_parts(runtime.gateway)
    settings = runtime.gateway.settings
    with parts._lock:
        if not parts.mailboxes:
            parts.mailboxes = [
                MailboxService(runtime.gateway, mailbox, parts.observed)
                for mailbox in settings.mailboxes
            ]
        services: list[Service] = list(parts.mailboxes)
        if settings.listener.enabled:
            if parts.spool is None:
                worker = SpoolWorker(runtime.gateway, parts.observed)
                parts.spool = SpoolService(worker, interval=_SPOOL_INTERVAL.total_seconds())
            if parts.listener is None:
                parts.listener = ListenerService(runtime.gateway, notify=parts.spool.wake)
            services += [parts.spool, parts.listener]
    return services


def inbound_jobs(runtime: Runtime) -> Sequence[Job]:
    """The mailbox pass and the spool drain.

    Parameters:
        runtime: the gateway and the stop event.

    Returns:
        The mailbox pass (when mailboxes are configured) and the spool drain (when the
        listener is enabled): after the CRM poll and reminders, before the outbox flush.
    """
    gateway = runtime.gateway
    settings = gateway.settings
    parts = inbound_parts(gateway)
    spool = SpoolWorker(gateway, parts.observed)

    def mailboxes(stop: threading.Event) -> MailboxesReport:
        reports = []
        for mailbox in settings.mailboxes:
            if stop.is_set():
                break
            if parts.watching(mailbox.name):
                reports.append(DrainReport(mailbox.name, skipped="watched by this worker"))
                continue
            reports.append(drain_mailbox_once(gateway, mailbox, parts.observed, stop=stop))
        report = MailboxesReport(tuple(reports))
        if not report.ok:
            raise MailboxError(str(report))
        return report

    def drain_spool(stop: threading.Event) -> SpoolReport:
        return spool.drain(stop)

    jobs = []
    if settings.mailboxes:
        interval = min(m.poll_interval for m in settings.mailboxes)
        jobs.append(Job(MAILBOX_JOB, interval, mailboxes, order=30))
    if settings.listener.enabled:
        jobs.append(Job(SPOOL_JOB, _SPOOL_INTERVAL, drain_spool, order=40))
    return jobs
