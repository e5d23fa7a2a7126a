"""The inbound side's scheduler entries: watcher and listener services, and two jobs.

:class:`~invitegw.gateway.inbound.parts.InboundParts` holds the inbound side of one worker,
built once by the composition root (:func:`invitegw.gateway.bootstrap.inbound_parts`): the
pipeline and the mail sources that feed it. From it,

- :func:`inbound_services` (``invitegw serve``): one
  :class:`~invitegw.gateway.inbound.imap_source.MailboxService` per ``[[mailboxes]]`` (IDLE
  under a lease), and, with ``[listener] enabled``, the SMTP listener plus the spool
  worker's thread, woken by each spooled message;
- :func:`inbound_jobs`, each only when its source is configured: ``inbound-mailboxes``
  drains every mailbox once (connect, drain, disconnect, honouring the lease) unless this
  worker's watcher service already runs for it, which is what ``serve --once`` needs;
  ``inbound-spool`` drains the spool (``serve --once``, and a safety net beside the woken
  worker). Both run after the CRM poll and reminders and before the outbox flush, so the
  notices and REFRESH answers they queue leave in the same pass.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from invitegw.errors import MailboxError
from invitegw.gateway.inbound.imap_service import MailboxService
from invitegw.gateway.inbound.imap_source import DrainReport
from invitegw.gateway.inbound.parts import InboundParts
from invitegw.gateway.inbound.smtp_source import SpoolReport, SpoolService
from invitegw.gateway.scheduler import Job, Service

__all__ = [
    "MAILBOX_JOB",
    "SPOOL_INTERVAL",
    "SPOOL_JOB",
    "MailboxesReport",
    "inbound_jobs",
    "inbound_services",
]

MAILBOX_JOB = "inbound-mailboxes"
SPOOL_JOB = "inbound-spool"
SPOOL_INTERVAL = dt.timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class MailboxesReport:
    """What one ``inbound-mailboxes`` run did, per mailbox."""

    mailboxes: tuple[DrainReport, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether no mailbox failed."""
        return all(r.ok for r in self.mailboxes)

    def __str__(self) -> str:
        return "; ".join(str(r) for r in self.mailboxes) or "no mailboxes"


def inbound_services(parts: InboundParts) -> Sequence[Service]:
    """The watcher services and, when enabled, the listener and the spool worker.

    Made once: a second call returns the same services.

    Parameters:
        parts: the worker's inbound parts.

    Returns:
        The services (the spool worker before the listener that wakes it).

    Raises:
        ConfigError: a mailbox without a password, or a listener without addresses.
    """
    with parts._lock:
        if not parts.watchers:
            parts.watchers = [MailboxService(source) for source in parts.imap]
        services: list[Service] = list(parts.watchers)
        if parts.spool is not None and parts.listener is not None:
            if parts.spool_service is None:
                parts.spool_service = SpoolService(
                    parts.spool, interval=SPOOL_INTERVAL.total_seconds()
                )
            if parts.listener_service is None:
                parts.listener_service = parts.listener(parts.spool_service.wake)
            services += [parts.spool_service, parts.listener_service]
    return services


def inbound_jobs(parts: InboundParts) -> Sequence[Job]:
    """The mailbox pass and the spool drain.

    Parameters:
        parts: the worker's inbound parts.

    Returns:
        The mailbox pass (when mailboxes are configured) and the spool drain (when the
        listener is enabled): after the CRM poll and reminders, before the outbox flush.
    """

    def mailboxes(stop: threading.Event) -> MailboxesReport:
        reports = []
        for source in parts.imap:
            if stop.is_set():
                break
            if parts.watching(source.name):
                reports.append(DrainReport(source.name, skipped="watched by this worker"))
                continue
            reports.append(source.drain(stop))
        report = MailboxesReport(tuple(reports))
        if not report.ok:
            raise MailboxError(str(report))
        return report

    jobs = []
    if parts.imap:
        interval = min(s.mailbox.poll_interval for s in parts.imap)
        jobs.append(Job(MAILBOX_JOB, interval, mailboxes, order=30))
    spool = parts.spool
    if spool is not None:

        def drain_spool(stop: threading.Event) -> SpoolReport:
            return spool.drain(stop)

        jobs.append(Job(SPOOL_JOB, SPOOL_INTERVAL, drain_spool, order=40))
    return jobs
