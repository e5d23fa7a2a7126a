"""What ``serve`` adds to the scheduler to be run as a service: heartbeat, HTTP, systemd.

:func:`attach_operations` takes the scheduler ``serve`` built and

- wraps its jobs so each run is recorded and watched (:class:`~.monitor.ProcessMonitor`);
- watches the inbound side's loops (each IMAP watcher and its supervisor, the spool
  worker) and adds their views (mailbox connections, the listener, credentials) to the
  heartbeat;
- adds the services: the heartbeat first (``status`` sees the worker at once), the HTTP
  server when ``[http] listen`` is set, the systemd watchdog when systemd asked for one.

The returned :class:`Operations` sends ``READY=1`` / ``STOPPING=1`` around the scheduler's
start and stop. ``serve --once`` uses :func:`record_once` instead: it tracks the jobs and
writes one heartbeat row (mode ``once``) after the pass.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute

from invitegw.errors import StorageError
from invitegw.gateway.bootstrap import Gateway, inbound_parts
from invitegw.gateway.http.answers import answer_routes
from invitegw.gateway.http.app import build_http_app
from invitegw.gateway.http.server import HttpService
from invitegw.gateway.inbound.imap_service import MailboxService
from invitegw.gateway.monitor import (
    CounterProbe,
    HeartbeatService,
    ProcessMonitor,
    iso,
    process_monitor,
    watcher_view,
)
from invitegw.gateway.scheduler import GatewayScheduler, Service
from invitegw.gateway.systemd import Notifier, WatchdogService, watchdog_interval

__all__ = ["Operations", "attach_operations", "record_once", "web_routes", "write_once"]

logger = logging.getLogger(__name__)


@dataclass
class Operations:
    """The operational parts of one ``serve``."""

    monitor: ProcessMonitor
    notifier: Notifier
    heartbeat: HeartbeatService
    http: HttpService | None = None
    watchdog: WatchdogService | None = None

    def ready(self) -> None:
        """Tell systemd the service is up (a no-op outside systemd)."""
        where = f"; HTTP on {self.http.url}" if self.http is not None else ""
        self.notifier.ready(f"serving as {self.monitor.gateway.worker}{where}")

    def stopping(self) -> None:
        """Tell systemd the service is stopping."""
        self.notifier.stopping()

    def close(self) -> None:
        """Release the notify socket."""
        self.notifier.close()


class _WatcherProbe:
    """One IMAP watcher's progress ticks, while this worker holds its mailbox's lease."""

    def __init__(self, service: MailboxService) -> None:
        self.name = f"imap-watcher:{service.mailbox.name}"
        self._service = service
        self._since: float | None = None

    def progress(self) -> tuple[float, float] | None:
        if not self._service.holding:
            self._since = None
            return None
        if self._since is None:  # a new tenure: the old ticks say nothing about it
            self._since = time.monotonic()
        at, within = self._service.events.progress
        return max(at, self._since), within


def _thread_alive(service: object) -> bool:
    thread = getattr(service, "_thread", None)
    return bool(thread is not None and thread.is_alive())


def _watch_inbound(monitor: ProcessMonitor, gateway: Gateway) -> None:
    parts = inbound_parts(gateway)
    heartbeat = gateway.settings.worker.heartbeat.total_seconds()
    for service in parts.watchers:
        monitor.add_probe(_WatcherProbe(service))
        monitor.add_probe(
            CounterProbe(
                f"imap-supervisor:{service.mailbox.name}",
                lambda s=service: s.heartbeats,  # type: ignore[misc]
                lambda s=service: s.running,  # type: ignore[misc]
                within=heartbeat,
            )
        )
    spool = parts.spool_service
    if spool is not None:
        monitor.add_probe(
            CounterProbe(
                "spool-worker",
                lambda: spool.drains,
                lambda: _thread_alive(spool),
                within=getattr(spool, "_interval", 60.0),
            )
        )

    def view() -> dict[str, Any]:
        state: dict[str, Any] = {
            "mailboxes": {
                s.mailbox.name: watcher_view(s.events, holding=s.holding) for s in parts.watchers
            }
        }
        listener = parts.listener_service
        if listener is not None:
            state["listener"] = {
                "up": listener.server.running,
                "address": f"{listener.server.host}:{listener.port}",
            }
        return state

    monitor.add_view(view)
    monitor.add_view(_auth_view)


def _auth_view() -> dict[str, Any]:
    """Each account's credentials as the OAuth health registry knows them, if it exists."""
    try:
        module = importlib.import_module("invitegw.mailbox.transport.oauth.health")
    except ImportError:
        return {}
    states = module.AUTH_HEALTH.snapshot()
    return {
        "auth": {
            account: {"ok": s.ok, "message": s.message, "since": iso(s.since)}
            for account, s in states.items()
        }
    }


def attach_operations(
    scheduler: GatewayScheduler,
    *,
    env: Mapping[str, str] | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Operations:
    """Add the heartbeat, HTTP and watchdog services and job tracking to ``scheduler``.

    Call before ``scheduler.start()``.

    Parameters:
        scheduler: the scheduler ``serve`` built (its jobs and services).
        env: the environment for systemd's variables (default: ``os.environ``).
        extra_routes: further HTTP routes (the web console).

    Returns:
        The operational parts.
    """
    gateway = scheduler.runtime.gateway
    monitor = process_monitor(gateway)
    scheduler.jobs = monitor.track_jobs(scheduler.jobs)
    _watch_inbound(monitor, gateway)
    heartbeat = HeartbeatService(monitor)
    services: list[Service] = [heartbeat, *scheduler.services]
    ops = Operations(monitor, Notifier(env), heartbeat)
    address = gateway.settings.http.address
    if address is not None:
        # The answer links' page (if keyed) and the console and hooks (if enabled).
        routes = [*answer_routes(gateway), *extra_routes, *web_routes(scheduler, services)]
        app = build_http_app(gateway, monitor=monitor, extra_routes=routes)
        ops.http = HttpService(app, *address)
        services.append(ops.http)
    interval = watchdog_interval(env)
    if ops.notifier.enabled and interval is not None:
        ops.watchdog = WatchdogService(ops.notifier, monitor, interval)
        services.append(ops.watchdog)
    scheduler.services = services
    return ops


def web_routes(scheduler: GatewayScheduler, services: list[Service]) -> list[BaseRoute]:
    """The web console (``[admin] enabled``) and the vtiger hook (``[hooks] vtiger_secret``).

    The hook's :class:`~invitegw.gateway.http.hooks.RecordPoller` is added to ``services``.

    Parameters:
        scheduler: the scheduler ``serve`` built (its wake).
        services: the services list to add the poller to.

    Returns:
        Their routes (none when neither is configured).
    """
    from invitegw.gateway.bootstrap import build_outbound
    from invitegw.gateway.http.admin import admin_routes
    from invitegw.gateway.http.hooks import RecordPoller, vtiger_hook_routes
    from invitegw.gateway.outbound.jobs import OUTBOX_JOB

    gateway = scheduler.runtime.gateway
    settings = gateway.settings
    routes = admin_routes(gateway, public_url=settings.http.public_url)
    secret = settings.hooks.vtiger_secret
    if secret is not None:
        outbound, wake = build_outbound(gateway), scheduler.runtime.wake

        def refresh(record: str) -> None:
            if outbound.refresh(record) is not None:
                wake(OUTBOX_JOB)

        poller = RecordPoller(refresh, settings.hooks.debounce.total_seconds())
        services.append(poller)
        routes += vtiger_hook_routes(secret.reveal(), poller)
    return routes


def record_once(scheduler: GatewayScheduler) -> ProcessMonitor:
    """Track ``serve --once``'s jobs; call :meth:`ProcessMonitor.write_heartbeat` after.

    Parameters:
        scheduler: the scheduler about to ``run_once``.

    Returns:
        The monitor (``monitor.write_heartbeat(mode="once")`` records the pass).
    """
    monitor = process_monitor(scheduler.runtime.gateway)
    scheduler.jobs = monitor.track_jobs(scheduler.jobs)
    return monitor


def write_once(monitor: ProcessMonitor) -> None:
    """Record a ``serve --once`` pass (a database error is logged: the pass is done)."""
    try:
        monitor.write_heartbeat(mode="once")
    except StorageError as exc:
        logger.warning("recording the pass in the heartbeat failed: %s", exc)
