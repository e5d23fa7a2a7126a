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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import CrmPort
from invitegw.crm_adapter.registry import CrmBinding, CrmBuildContext, get_adapter
from invitegw.domain.records import EntityType
from invitegw.gateway.config import Settings
from invitegw.gateway.mailauth import smtp_login
from invitegw.gateway.metrics import Instruments
from invitegw.gateway.storage import SchemaStatus, Store, ensure_schema, open_store
from invitegw.gateway.uow import Clock, CrmFactory, UnitsOfWork
from invitegw.mailbox.mime.extract import MimeLimits
from invitegw.mailbox.transport.smtp_send import SmtpRelayConfig, SmtpSender
from invitegw.mailbox.transport.smtp_send import TlsMode as SmtpTlsMode

__all__ = [
    "Gateway",
    "build_crm",
    "build_gateway",
    "crm_build_context",
    "crm_options",
    "mime_limits",
    "open_settings_store",
    "smtp_sender",
    "utc_now",
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
    extras: dict[str, object] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

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
