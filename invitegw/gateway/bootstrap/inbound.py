"""The composition root's inbound side: the pipeline and the mail sources that feed it.

Builds the :class:`~invitegw.gateway.inbound.config.InboundConfig` and the MIME caps from
the settings, the inbound pipeline, the worker context the sources share, the IMAP sources
(one per ``[[mailboxes]]``), the SMTP spool worker and listener, the file source of
``invitegw ingest``, and :func:`inbound_parts`, the set the scheduler's entries share. The
modules of ``gateway/inbound/`` take explicit parts (a UnitsOfWork, an InboundConfig, a
WorkerContext, the sources' settings) and never import this package.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

from invitegw.errors import GatewayError
from invitegw.gateway.bootstrap.core import Gateway
from invitegw.gateway.config import MailboxSettings, Settings
from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.inbound.file_source import FileInput, FileSource
from invitegw.gateway.inbound.imap_source import ImapSource
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
from invitegw.gateway.mailauth import mailbox_login
from invitegw.gateway.metrics import ObservedPipeline
from invitegw.gateway.outbound.feed import request_resend
from invitegw.mailbox.mime.extract import MimeLimits

if TYPE_CHECKING:
    from invitegw.mailbox.transport.imap_values import WatchConfig
    from invitegw.mailbox.transport.oauth.login import Login
    from invitegw.mailbox.transport.smtp_receive import ListenerConfig

__all__ = [
    "file_source",
    "imap_source",
    "inbound_config",
    "inbound_parts",
    "inbound_pipeline",
    "listener_service",
    "mime_limits",
    "spool_worker",
    "worker_context",
]


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
