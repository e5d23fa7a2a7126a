"""``/readyz`` and ``/healthz``: may this process take work, and is it alive?

Readiness (:class:`ReadinessProbe`) checks, each with a reason when it fails:

- ``database``: a trivial query answers;
- ``crm``: the adapter's check answers (cached for ``crm_ttl`` seconds: a remote CRM is
  not asked at every probe);
- ``mailbox:<name>`` for each ``[[mailboxes]]``: this process's watcher is connected, or,
  when another worker holds the lease, that worker's heartbeat says it is connected;
- ``listener``: when ``[listener] enabled``, this process's listener serves.

Liveness (:func:`liveness`) fails only when a loop that does work is stuck (the same test
the systemd watchdog uses): a container orchestrator then restarts the process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from invitegw.errors import GatewayError
from invitegw.gateway.app.status import crm_reachable, worker_alive
from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.monitor import ProcessMonitor
from invitegw.gateway.storage import health as queries
from invitegw.gateway.storage import map_storage_errors

__all__ = ["Check", "Readiness", "ReadinessProbe", "liveness"]


@dataclass(frozen=True, slots=True)
class Check:
    """One readiness check."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Readiness:
    """All checks; ready when every one passed."""

    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        """``{"ready": ..., "failed": [reasons], "checks": {name: {ok, detail}}}``."""
        return {
            "ready": self.ready,
            "failed": [f"{c.name}: {c.detail}" for c in self.checks if not c.ok],
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }


def liveness(monitor: ProcessMonitor | None) -> Check:
    """Whether every live loop of this process makes progress.

    Parameters:
        monitor: the process monitor (``None``: nothing to watch, alive).

    Returns:
        The check; the stuck loops are its detail.
    """
    stalled = monitor.stalled() if monitor is not None else []
    if stalled:
        return Check("loops", False, "stuck: " + ", ".join(str(s) for s in stalled))
    return Check("loops", True, "every loop makes progress")


class ReadinessProbe:
    """The readiness checks of one process (see the module docstring).

    Parameters:
        gateway: the gateway.
        monitor: this process's monitor (its mailbox and listener views).
        crm_ttl: seconds a CRM check's answer is reused.
    """

    def __init__(
        self, gateway: Gateway, monitor: ProcessMonitor | None = None, *, crm_ttl: float = 30.0
    ) -> None:
        self.gateway = gateway
        self.monitor = monitor
        self.crm_ttl = crm_ttl
        self._crm: tuple[float, Check] | None = None
        self._lock = threading.Lock()

    def check(self) -> Readiness:
        """Run every check (the CRM's answer may come from the cache).

        Returns:
            The result.
        """
        database = self._database()
        checks = [database]
        checks.append(self._crm_check() if database.ok else Check("crm", False, "no database"))
        view = self.monitor.snapshot() if self.monitor is not None else {}
        checks += self._mailboxes(view, database.ok)
        if self.gateway.settings.listener.enabled:
            up = bool((view.get("listener") or {}).get("up"))
            checks.append(Check("listener", up, "serving" if up else "not serving"))
        return Readiness(tuple(checks))

    def _database(self) -> Check:
        try:
            with (
                map_storage_errors("checking the database"),
                self.gateway.store.engine.connect() as conn,
            ):
                conn.execute(text("SELECT 1"))
        except GatewayError as exc:
            return Check("database", False, str(exc))
        return Check("database", True, "answers")

    def _crm_check(self) -> Check:
        with self._lock:
            cached = self._crm
            if cached is not None and time.monotonic() - cached[0] < self.crm_ttl:
                return cached[1]
        ok, detail = crm_reachable(self.gateway.settings, self.gateway.store)
        check = Check("crm", ok, detail)
        with self._lock:
            self._crm = (time.monotonic(), check)
        return check

    def _mailboxes(self, view: dict[str, Any], database: bool) -> list[Check]:
        settings = self.gateway.settings
        if not settings.mailboxes:
            return []
        own = view.get("mailboxes") or {}
        elsewhere: dict[str, tuple[str, bool]] = {}
        if database and any(not (own.get(m.name) or {}).get("holding") for m in settings.mailboxes):
            elsewhere = self._held_elsewhere()
        checks = []
        for mailbox in settings.mailboxes:
            mine = own.get(mailbox.name) or {}
            if mine.get("holding"):
                ok = bool(mine.get("connected"))
                detail = "connected" if ok else (mine.get("last_error") or "not connected")
            elif mailbox.name in elsewhere:
                holder, ok = elsewhere[mailbox.name]
                detail = f"watched by {holder}" if ok else f"{holder} is not connected"
            else:
                ok, detail = False, "no worker watches it"
            checks.append(Check(f"mailbox:{mailbox.name}", ok, detail))
        return checks

    def _held_elsewhere(self) -> dict[str, tuple[str, bool]]:
        gateway = self.gateway
        now = gateway.clock()
        try:
            with gateway.store.session() as session:
                leases = queries.leases(session, "imap:")
                rows = {r.worker: r for r in queries.workers(session)}
        except GatewayError:
            return {}
        found: dict[str, tuple[str, bool]] = {}
        for name, lease in leases.items():
            row = rows.get(lease.holder)
            if lease.expires_at <= now or row is None:
                continue
            view = ((row.state or {}).get("mailboxes") or {}).get(name.partition(":")[2]) or {}
            alive = worker_alive(row, gateway.settings, now)
            found[name.partition(":")[2]] = (lease.holder, alive and bool(view.get("connected")))
        return found
