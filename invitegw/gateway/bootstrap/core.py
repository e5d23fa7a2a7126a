"""The composition root's core: the assembled :class:`Gateway` and what it is built from.

:func:`build_gateway` opens the database (checking its schema, or upgrading the embedded
SQLite default), builds the configured CRM adapter (found by name in
:mod:`invitegw.crm_adapter.registry`: nothing here knows any adapter) and the clock, and
returns a :class:`Gateway` holding them. Also here: the settings' store
(:func:`open_settings_store`), the CRM's build context and options, and the worker id. The
inbound, outbound and scheduler builders of the sibling modules take the gateway this
makes. Nothing here runs at import.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import CrmPort
from invitegw.crm_adapter.registry import CrmBinding, CrmBuildContext, get_adapter
from invitegw.domain.records import EntityType
from invitegw.gateway.config import Settings
from invitegw.gateway.inbound.parts import InboundParts
from invitegw.gateway.mailauth import MailLogins
from invitegw.gateway.metrics import Instruments
from invitegw.gateway.storage import SchemaStatus, Store, ensure_schema, open_store
from invitegw.gateway.uow import Clock, CrmFactory, UnitsOfWork

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from invitegw.gateway.monitor import ProcessMonitor

__all__ = [
    "Gateway",
    "build_crm",
    "build_gateway",
    "crm_build_context",
    "crm_options",
    "open_settings_store",
    "utc_now",
    "worker_id",
]

# The package's name, as when the composition root was one module: log lines keep it.
logger = logging.getLogger("invitegw.gateway.bootstrap")


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
    # The inbound side's parts, built once by inbound_parts() (bootstrap.inbound).
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
