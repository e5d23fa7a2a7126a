"""Event metrics and the structured event lines: one hook object the pipelines call.

The composition root gives every gateway an :class:`Instruments` (``gateway.instruments``);
the places where an outcome is known call it with one line: a received message handled
(:meth:`~Instruments.message`), an outbox message handed to the relay or refused
(:meth:`~Instruments.delivery`), a lease taken, lost or released
(:meth:`~Instruments.lease`). Each call

- counts it in the gateway's own ``prometheus_client.CollectorRegistry`` (nothing global:
  two gateways in one process, as in the tests, never share a counter), when metrics are
  on (``[http] listen`` set: someone can scrape them);
- writes one log line with the stable keys of :mod:`invitegw.gateway.logs` (``event``,
  ``message_id``, ``meeting``, ``mailbox``, ``outcome``, ``duration_ms``, ``error``).

Labels are bounded: mailbox names come from the configuration, outcomes and reasons from
fixed sets; no address, UID or Message-ID is ever a label. What the database holds
(outbox depth, quarantine size, lag) is not counted here but read at scrape time
(:mod:`invitegw.gateway.http.collector`), so it is right across workers; so are the OAuth
token refreshes, which each account's token cache counts itself.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram

from invitegw.errors import GatewayError

if TYPE_CHECKING:
    from invitegw.gateway.inbound.model import MessageResult, ReceivedMessage

__all__ = ["Instruments", "ObservedPipeline", "message_outcome"]

logger = logging.getLogger("invitegw.events")

# Seconds: a message through the pipeline, a message through the relay.
_PIPELINE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SEND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# A message's overall outcome is its weightiest event's (as `ingest` reports it).
_WEIGHT = (
    "quarantined",
    "created",
    "updated",
    "cancelled",
    "reply_recorded",
    "counter_logged",
    "refresh_sent",
    "duplicate",
    "ignored",
)


def message_outcome(result: MessageResult) -> str:
    """One bounded word for what became of a message (a label and the log's ``outcome``).

    Parameters:
        result: the pipeline's result.

    Returns:
        ``already_processed``, ``quarantined``, or the weightiest event outcome.
    """
    if result.already_processed:
        return "already_processed"
    if result.quarantined:
        return "quarantined"
    outcomes = {event.outcome.value for event in result.events}
    return next((word for word in _WEIGHT if word in outcomes), "ignored")


class Instruments:
    """The hooks (see the module docstring).

    Parameters:
        enabled: keep metrics (a registry is made); otherwise only the log lines.
    """

    def __init__(self, *, enabled: bool = False) -> None:
        self.enabled = enabled
        self.registry: CollectorRegistry | None = None
        if not enabled:
            return
        registry = self.registry = CollectorRegistry(auto_describe=True)
        self._messages = Counter(
            "invitegw_messages_received",
            "Received messages the inbound pipeline finished, by source and outcome.",
            ["source", "outcome"],
            registry=registry,
        )
        self._pipeline = Histogram(
            "invitegw_pipeline_duration_seconds",
            "Time to decide on and commit one received message.",
            ["source"],
            buckets=_PIPELINE_BUCKETS,
            registry=registry,
        )
        self._sent = Counter(
            "invitegw_messages_sent",
            "Outbox messages the relay accepted, by kind (invitation, reminder, notice...).",
            ["kind"],
            registry=registry,
        )
        self._failed = Counter(
            "invitegw_messages_send_failed",
            "Outbox messages the relay did not accept, by kind and reason.",
            ["kind", "reason"],
            registry=registry,
        )
        self._send = Histogram(
            "invitegw_send_duration_seconds",
            "Time to hand one outbox message to the relay.",
            buckets=_SEND_BUCKETS,
            registry=registry,
        )
        self._leases = Counter(
            "invitegw_lease_changes",
            "Leases this worker took, lost or released, by lease.",
            ["lease", "change"],
            registry=registry,
        )

    def message(
        self,
        source: str,
        outcome: str,
        seconds: float,
        *,
        message_id: str | None = None,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        """A received message was handled (or left for a retry: ``outcome="retry"``).

        Parameters:
            source: the mailbox name, ``smtp`` or ``file``.
            outcome: :func:`message_outcome`, or ``retry``/``error``.
            seconds: the time the pipeline took.
            message_id: the Message-ID (the log line only).
            error: why it was left for a retry (the log line only).
            reason: the pipeline's reason, for people (the log line's text only).
        """
        if self.enabled:
            self._messages.labels(source, outcome).inc()
            self._pipeline.labels(source).observe(seconds)
        logger.info(
            "message %s from %s: %s%s",
            message_id or "(no Message-ID)",
            source,
            outcome,
            f" ({reason})" if reason else "",
            extra={
                "event": "inbound.message",
                "mailbox": source,
                "message_id": message_id,
                "outcome": outcome,
                "duration_ms": round(seconds * 1000, 1),
                "error": error,
            },
        )

    def delivery(
        self,
        kind: str,
        outcome: str,
        seconds: float,
        *,
        message_id: str | None = None,
        meeting: str | None = None,
        error: str | None = None,
    ) -> None:
        """An outbox message was handed to the relay: ``sent``, or a failure reason.

        Parameters:
            kind: the outbox row's kind (``invitation``, ``reminder``...).
            outcome: ``sent``, ``temporary``, ``rejected``, ``address`` or ``mime``.
            seconds: the time the relay took.
            message_id: the Message-ID (the log line only).
            meeting: the CRM meeting id (the log line only).
            error: the relay's answer (the log line only).
        """
        if self.enabled:
            self._send.observe(seconds)
            if outcome == "sent":
                self._sent.labels(kind).inc()
            else:
                self._failed.labels(kind, outcome).inc()
        logger.log(
            logging.INFO if outcome == "sent" else logging.WARNING,
            "%s %s",
            kind,
            outcome,
            extra={
                "event": "outbound.delivery",
                "message_id": message_id,
                "meeting": meeting,
                "outcome": outcome,
                "duration_ms": round(seconds * 1000, 1),
                "error": error,
            },
        )

    def lease(self, lease: str, change: str) -> None:
        """This worker ``taken``/``lost``/``released`` the lease ``lease`` (``imap:sales``)."""
        if self.enabled:
            self._leases.labels(lease, change).inc()
        logger.info(
            "lease %s %s",
            lease,
            change,
            extra={"event": "lease", "outcome": change, "mailbox": lease.partition(":")[2]},
        )


class ObservedPipeline:
    """An inbound pipeline whose every message is timed, counted and logged.

    Parameters:
        pipeline: the pipeline (anything with ``handle(message, dry_run=...)``).
        instruments: the gateway's instruments.
    """

    def __init__(self, pipeline: object, instruments: Instruments) -> None:
        self._pipeline = pipeline
        self._instruments = instruments

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        """Run the pipeline and report its outcome (errors are reported, then raised)."""
        started = time.perf_counter()
        try:
            result: MessageResult = self._pipeline.handle(  # type: ignore[attr-defined]
                message, dry_run=dry_run
            )
        except Exception as exc:
            self._instruments.message(
                message.source,
                "retry" if isinstance(exc, GatewayError) else "error",
                time.perf_counter() - started,
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
            raise
        self._instruments.message(
            message.source,
            message_outcome(result),
            time.perf_counter() - started,
            message_id=result.message_id,
            reason=result.reason,
        )
        return result
