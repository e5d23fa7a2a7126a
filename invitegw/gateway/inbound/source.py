"""The mail-source port: where received messages come from, and how they are handed over.

A **mail source** receives messages somewhere (an IMAP folder, the SMTP listener's spool,
files given to ``invitegw ingest``), wraps each in a
:class:`~invitegw.gateway.inbound.model.ReceivedMessage` and hands it to the
:class:`Pipeline`; then it settles the message the way its place allows (IMAP: MOVE to the
processed or quarantine folder; the spool: mark the row done; files: nothing to do). What a
source must give the pipeline is generic:

- ``source``: its name, recorded on everything the message leads to;
- ``position``: a :class:`~invitegw.gateway.inbound.model.SourcePosition` when the source
  keeps messages at a stable place (IMAP UIDVALIDITY + UID; an opaque id through
  ``SourcePosition.from_key``): dedupe then recognises a message handled before by its
  place alone;
- ``envelope``: an :class:`~invitegw.gateway.inbound.model.Envelope` when transport
  addressed it (SMTP), searched for reply tokens;
- ``owner``: the staff address owning the mailbox it arrived in, if any.

:class:`MailSource` is the one operation every source offers: :meth:`MailSource.drain`
hands over everything waiting, once (``serve --once``, the periodic jobs, ``ingest``). The
implementations: :mod:`~invitegw.gateway.inbound.imap_source` (which also watches with
IDLE under a lease), :mod:`~invitegw.gateway.inbound.smtp_source` (the spool; its listener
wakes the drain) and :mod:`~invitegw.gateway.inbound.file_source`. :func:`hand_over` is the
shared step: run the pipeline and tell a result from "nothing was committed, try later".
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from invitegw.errors import CrmUnavailableError, GatewayError, StorageError
from invitegw.gateway.inbound.model import MessageResult, ReceivedMessage
from invitegw.gateway.storage import Store

__all__ = [
    "RETRYABLE_ERRORS",
    "Handover",
    "MailSource",
    "Pipeline",
    "SourceReport",
    "WorkerContext",
    "hand_over",
]

RETRYABLE_ERRORS: tuple[type[GatewayError], ...] = (CrmUnavailableError, StorageError)
"""The pipeline's "nothing was committed, try again later" errors."""


class Pipeline(Protocol):
    """What the sources need of the inbound pipeline (``InboundPipeline``)."""

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        """Decide on one message and commit the result.

        Raises:
            CrmUnavailableError: the CRM is unreachable (nothing committed).
            StorageError: the database failed (nothing committed).
        """
        ...


class SourceReport(Protocol):
    """What one drain of a source did (printed by ``serve --once``)."""

    @property
    def ok(self) -> bool:
        """Whether the source could be read (a message set aside is no failure)."""
        ...


class MailSource(Protocol):
    """A place received messages come from (see the module docstring)."""

    @property
    def name(self) -> str:
        """The source's name, as its messages carry it (a mailbox name, ``smtp``, ``file``)."""
        ...

    def drain(self, stop: threading.Event | None = None) -> SourceReport:
        """Hand every waiting message to the pipeline and settle it, once.

        Parameters:
            stop: ends the drain after the message in flight.

        Returns:
            What was done.
        """
        ...


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What the sources of one worker process share.

    Parameters:
        store: the database (checkpoints, leases, the spool).
        clock: the current aware time.
        worker: this worker's id among workers (lease and claim holder).
        lease_duration: how long a lease lasts without a heartbeat.
        heartbeat: the time between lease heartbeats.
        on_lease: told ``(lease, change)`` when this worker's watcher ``taken``, ``lost``
            or ``released`` a mailbox lease (the metrics).
    """

    store: Store
    clock: Callable[[], dt.datetime]
    worker: str
    lease_duration: dt.timedelta = dt.timedelta(seconds=60)
    heartbeat: dt.timedelta = dt.timedelta(seconds=20)
    on_lease: Callable[[str, str], None] | None = None


@dataclass(frozen=True, slots=True)
class Handover:
    """How handing one message to the pipeline ended: a result, or a retry for later."""

    result: MessageResult | None = None
    retry: str | None = None  # why nothing was committed (the CRM or the database is away)


def hand_over(pipeline: Pipeline, message: ReceivedMessage) -> Handover:
    """Run the pipeline on ``message``; a retryable failure is a :class:`Handover` too.

    Parameters:
        pipeline: the inbound pipeline.
        message: the message as received.

    Returns:
        The result, or the retryable error's text (leave the message where it is).

    Raises:
        Exception: anything else the pipeline raised (a bug): the source decides.
    """
    try:
        return Handover(result=pipeline.handle(message, dry_run=False))
    except RETRYABLE_ERRORS as exc:
        return Handover(retry=str(exc))
