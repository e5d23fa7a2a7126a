"""``/metrics``'s gauges that the database holds, computed at each scrape.

Outbox depth by state and the age of its oldest waiting message, the quarantine by cause,
the spool, the live workers, each mailbox's connection, lag and waiting messages (from the
heartbeat of the worker that holds its lease), the CRM poll lag. Read at scrape time with
a few indexed queries, so every worker reports the same numbers for the whole deployment.
A database that does not answer gives ``invitegw_database_up 0`` and nothing else.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from invitegw.errors import GatewayError
from invitegw.gateway.app.status import job_last, quarantine_cause, worker_alive
from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.storage import Lease, WorkerHeartbeat
from invitegw.gateway.storage import health as queries

__all__ = ["DatabaseCollector"]

logger = logging.getLogger(__name__)

# Where invitegw.gateway.mailauth keeps a gateway's mailbox logins (one token cache each).


def _age(now: dt.datetime, value: str | dt.datetime | None) -> float | None:
    if value is None:
        return None
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return max(0.0, (now - when).total_seconds())


class DatabaseCollector(Collector):
    """The scrape-time gauges (see the module docstring).

    Parameters:
        gateway: the gateway (store, settings, clock).
    """

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def describe(self) -> list[GaugeMetricFamily]:
        """Nothing up front: the families depend on the configuration."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Read the database and yield the gauges (and this process's token refreshes)."""
        yield self._tokens()
        up = GaugeMetricFamily("invitegw_database_up", "Whether the database answered.")
        try:
            families = self._read()
        except GatewayError as exc:
            logger.warning("metrics: the database did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _tokens(self) -> CounterMetricFamily:
        """Tokens each OAuth 2.0 mailbox account of this gateway fetched (its cache counts)."""
        family = CounterMetricFamily(
            "invitegw_token_refreshes",
            "OAuth 2.0 access tokens fetched by this process, by account.",
            labels=["account"],
        )
        for _settings, login in list(self.gateway.mail_logins.logins.values()):
            tokens = getattr(login, "tokens", None)  # only an OAuth 2.0 login has a cache
            account = getattr(login, "account", "") if tokens is not None else ""
            if tokens is not None and account:
                family.add_metric([account], float(tokens.fetches))
        return family

    def _read(self) -> list[GaugeMetricFamily]:
        gateway = self.gateway
        settings = gateway.settings
        now = gateway.clock()
        names = [m.name for m in settings.mailboxes]
        with gateway.store.session() as session:
            outbox = queries.outbox_figures(session)
            quarantine = queries.quarantine_figures(session)
            spool = queries.spool_waiting(session)
            rows = queries.workers(session)
            leases = queries.leases(session, "imap:")
        alive = [r for r in rows if worker_alive(r, settings, now)]
        out: list[GaugeMetricFamily] = []

        def gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=labels)
            out.append(family)
            return family

        states = gauge("invitegw_outbox_messages", "Outbox messages by state.", ["state"])
        for state, count in sorted(outbox.by_state.items()):
            states.add_metric([state], count)
        oldest = gauge(
            "invitegw_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox message still to send (0: none waits).",
        )
        oldest.add_metric([], _age(now, outbox.oldest_pending) or 0.0)
        causes: dict[str, int] = {}
        for reason, count in quarantine.reasons.items():
            cause = quarantine_cause(reason)
            causes[cause] = causes.get(cause, 0) + count
        held = gauge(
            "invitegw_quarantine_messages", "Unreleased quarantined messages by cause.", ["cause"]
        )
        for cause, count in sorted(causes.items()):
            held.add_metric([cause], count)
        gauge("invitegw_quarantine_bytes", "Bytes of unreleased quarantined mail.").add_metric(
            [], quarantine.size
        )
        gauge(
            "invitegw_spool_waiting_messages", "Mail the listener accepted, not yet processed."
        ).add_metric([], spool)
        gauge("invitegw_workers_alive", "Workers with a recent heartbeat.").add_metric(
            [], len(alive)
        )
        self._mailboxes(out, names, alive, leases, now)
        last_poll = job_last(alive, "crm-poll")
        lag = _age(now, last_poll[0]) if last_poll else None
        if lag is not None:
            gauge(
                "invitegw_crm_poll_lag_seconds", "Seconds since the last successful CRM poll."
            ).add_metric([], lag)
        return out

    @staticmethod
    def _mailboxes(
        out: list[GaugeMetricFamily],
        names: list[str],
        alive: list[WorkerHeartbeat],
        leases: dict[str, Lease],
        now: dt.datetime,
    ) -> None:
        connected = GaugeMetricFamily(
            "invitegw_mailbox_connected",
            "Whether a worker watches the mailbox.",
            labels=["mailbox"],
        )
        lag = GaugeMetricFamily(
            "invitegw_imap_lag_seconds",
            "Seconds since the mailbox was last read to its end by its watcher.",
            labels=["mailbox"],
        )
        waiting = GaugeMetricFamily(
            "invitegw_mailbox_waiting_messages",
            "Messages in the mailbox's folder not yet handled, at the watcher's last look.",
            labels=["mailbox"],
        )
        by_worker = {r.worker: r for r in alive}
        for name in names:
            lease = leases.get(f"imap:{name}")
            row = by_worker.get(lease.holder) if lease and lease.expires_at > now else None
            state = (row.state if row is not None else None) or {}
            view = (state.get("mailboxes") or {}).get(name) or {}
            connected.add_metric([name], 1 if view.get("connected") else 0)
            age = _age(now, view.get("last_drain"))
            if age is not None:
                lag.add_metric([name], age)
            if view.get("waiting") is not None:
                waiting.add_metric([name], int(view["waiting"]))
        out += [connected, lag, waiting]
