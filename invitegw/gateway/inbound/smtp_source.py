"""The SMTP mail source: the spool the SMTP listener fills, and the worker that empties it.

- :class:`SpoolWorker` is the spool as a :class:`~invitegw.gateway.inbound.source.
  MailSource` (name ``smtp``): its messages carry the SMTP envelope
  (:class:`~invitegw.gateway.inbound.model.Envelope`) and no source position (the
  Message-ID and body dedupe a message handled before). The listener that spools them
  (committed before the ``250``) and wakes the worker is
  :mod:`~invitegw.gateway.inbound.smtp_listener`.
- :meth:`SpoolWorker.drain` claims spooled rows (``SKIP LOCKED``: several workers take
  disjoint rows), runs the pipeline on each and marks it done. A retryable failure (CRM
  unreachable, database down: nothing committed) puts the row back with a backoff: it
  stays ``processing`` without a holder, its claim expiring at the retry time, which is
  when :func:`~invitegw.gateway.storage.inbox.claim_spooled` hands it out again. Any
  other exception is a bug: retried the same way :data:`MAX_BUG_ATTEMPTS` times, then the
  row is marked ``failed`` with the error and the message is quarantined with it (never
  dropped: ``invitegw quarantine release`` runs it again once the bug is fixed).
- :class:`SpoolService` is the worker's thread: it drains when woken (at once after a
  message was spooled) and every ``interval`` seconds; a periodic scheduler job drains
  the spool too (``serve --once``, and a safety net).

A crash between the pipeline's commit and the row's ``done`` lets the claim expire; the
row is handled again and the pipeline's ledger (Message-ID) makes that a no-op.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from sqlalchemy import update

from invitegw.errors import StorageError
from invitegw.gateway.inbound.model import Envelope, ReceivedMessage
from invitegw.gateway.inbound.quarantine import received_facts
from invitegw.gateway.inbound.source import Pipeline, WorkerContext, hand_over
from invitegw.gateway.storage.inbox import claim_spooled, finish_spooled, quarantine_message
from invitegw.gateway.storage.models import SpooledMessage, SpoolState

__all__ = [
    "MAX_BUG_ATTEMPTS",
    "SpoolReport",
    "SpoolService",
    "SpoolWorker",
]

logger = logging.getLogger(__name__)

MAX_BUG_ATTEMPTS = 5
"""Attempts at a spooled message whose processing raised an unexpected error."""


@dataclass(frozen=True, slots=True)
class SpoolReport:
    """What one drain of the spool did."""

    processed: int = 0
    quarantined: int = 0
    deferred: int = 0
    failed: int = 0

    @property
    def ok(self) -> bool:
        """Always: what could not be handled was deferred or quarantined, not lost."""
        return True

    def __str__(self) -> str:
        return (
            f"{self.processed} processed, {self.quarantined} quarantined, "
            f"{self.deferred} deferred, {self.failed} failed"
        )


class SpoolWorker:
    """Runs the pipeline on spooled messages (see the module docstring).

    Parameters:
        pipeline: the inbound pipeline.
        worker: the store, clock and worker id.
        claim_for: how long a claim lasts before another worker may take the row.
        quarantine_bytes: ``limits.quarantine_bytes`` (a message given up on is kept).
        batch_size: rows claimed per transaction.
        retry_initial: the first retry delay; doubled per attempt.
        retry_max: the longest retry delay.
    """

    name = "smtp"

    def __init__(
        self,
        pipeline: Pipeline,
        worker: WorkerContext,
        *,
        claim_for: dt.timedelta,
        quarantine_bytes: int,
        batch_size: int = 20,
        retry_initial: dt.timedelta = dt.timedelta(seconds=30),
        retry_max: dt.timedelta = dt.timedelta(hours=1),
    ) -> None:
        self._worker = worker
        self._pipeline = pipeline
        self._batch_size = batch_size
        self._claim_for = claim_for
        self._quarantine_bytes = quarantine_bytes
        self._retry_initial = retry_initial
        self._retry_max = retry_max

    def drain(self, stop: threading.Event | None = None) -> SpoolReport:
        """Process every due spooled message, batch by batch, until none is left.

        Parameters:
            stop: ends the drain after the message in flight (the rest of the batch is
                handed back at once).

        Returns:
            What was done.

        Raises:
            StorageError: claiming failed (the database is down).
        """
        counts = {"processed": 0, "quarantined": 0, "deferred": 0, "failed": 0}
        worker = self._worker
        while stop is None or not stop.is_set():
            with worker.store.session() as session:
                rows = claim_spooled(
                    session,
                    worker=worker.worker,
                    now=worker.clock(),
                    limit=self._batch_size,
                    claim_for=self._claim_for,
                )
                # Detached after the commit: the values are read before it ends.
                claimed = [_Claimed.of(row) for row in rows]
            if not claimed:
                break
            for index, row in enumerate(claimed):
                if stop is not None and stop.is_set():
                    self._hand_back(claimed[index:])
                    break
                counts[self._one(row)] += 1
        return SpoolReport(**counts)

    def _one(self, row: _Claimed) -> str:
        message = ReceivedMessage(
            raw=row.raw,
            source=self.name,
            reference=f"spool:{row.id}",
            envelope=Envelope(sender=row.mail_from, recipients=tuple(row.rcpt_to)),
            size=row.size,
            received_at=row.received_at,
        )
        try:
            handed = hand_over(self._pipeline, message)
        except Exception as exc:
            logger.exception("spool %d: the pipeline raised", row.id)
            error = f"{type(exc).__name__}: {exc}"
            if row.attempts >= MAX_BUG_ATTEMPTS:
                self._finish(row, error=error, give_up=message)
                return "failed"
            self._defer(row, self._delay(row.attempts), error)
            return "deferred"
        result = handed.result
        if result is None:
            delay = self._delay(row.attempts)
            logger.warning("spool %d not handled, retry in %s: %s", row.id, delay, handed.retry)
            self._defer(row, delay, handed.retry or "retry")
            return "deferred"
        self._finish(row, error=None)
        if result.quarantined:
            logger.info("spool %d quarantined: %s", row.id, result.reason)
            return "quarantined"
        return "processed"

    def _delay(self, attempts: int) -> dt.timedelta:
        factor = 2.0 ** max(0, attempts - 1)
        return min(self._retry_max, self._retry_initial * factor)

    def _finish(
        self, row: _Claimed, *, error: str | None, give_up: ReceivedMessage | None = None
    ) -> None:
        worker = self._worker
        try:
            with worker.store.session() as session:
                record = session.get(SpooledMessage, row.id)
                if record is not None and record.claimed_by == worker.worker:
                    finish_spooled(session, record, now=worker.clock(), error=error)
                    if give_up is not None:
                        # Nothing is lost: the message waits in quarantine, with the error,
                        # for `invitegw quarantine release` once the cause is fixed.
                        quarantine_message(
                            session,
                            source=self.name,
                            reason=f"processing failed {row.attempts} times: {error}"[:2000],
                            now=worker.clock(),
                            raw=give_up.raw,
                            max_bytes=self._quarantine_bytes,
                            reference=give_up.reference,
                            received=received_facts(give_up),
                        )
        except StorageError as exc:
            # The claim expires and the row is handled again: a no-op for the pipeline.
            logger.warning("spool %d: recording the end failed: %s", row.id, exc)

    def _defer(self, row: _Claimed, delay: dt.timedelta, error: str) -> None:
        worker = self._worker
        try:
            with worker.store.session() as session:
                session.execute(
                    update(SpooledMessage)
                    .where(
                        SpooledMessage.id == row.id,
                        SpooledMessage.claimed_by == worker.worker,
                    )
                    .values(
                        state=SpoolState.PROCESSING,
                        claimed_by=None,
                        claimed_until=worker.clock() + delay,
                        last_error=error[:2000],
                    )
                    .execution_options(synchronize_session=False)
                )
        except StorageError as exc:
            logger.warning("spool %d: deferring failed (its claim expires): %s", row.id, exc)

    def _hand_back(self, rows: list[_Claimed]) -> None:
        worker = self._worker
        try:
            with worker.store.session() as session:
                session.execute(
                    update(SpooledMessage)
                    .where(
                        SpooledMessage.id.in_([r.id for r in rows]),
                        SpooledMessage.claimed_by == worker.worker,
                    )
                    .values(
                        state=SpoolState.PENDING,
                        claimed_by=None,
                        claimed_until=None,
                        attempts=SpooledMessage.attempts - 1,
                    )
                    .execution_options(synchronize_session=False)
                )
        except StorageError as exc:
            logger.warning("spool: handing back %d rows failed: %s", len(rows), exc)


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A claimed spool row's values, read inside the claiming transaction."""

    id: int
    raw: bytes
    mail_from: str
    rcpt_to: tuple[str, ...]
    size: int
    received_at: dt.datetime
    attempts: int

    @classmethod
    def of(cls, row: SpooledMessage) -> _Claimed:
        return cls(
            id=row.id,
            raw=row.raw,
            mail_from=row.mail_from,
            rcpt_to=tuple(row.rcpt_to),
            size=row.size,
            received_at=row.received_at,
            attempts=row.attempts,
        )


class SpoolService:
    """The spool worker's thread: drains when woken and every ``interval`` seconds.

    Parameters:
        worker: the spool worker.
        interval: seconds between drains when nothing wakes it.
    """

    name = "inbound-spool-worker"

    def __init__(self, worker: SpoolWorker, *, interval: float = 60.0) -> None:
        self.worker = worker
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self.drains = 0

    def wake(self) -> None:
        """Drain as soon as possible (the listener calls it after each spooled message)."""
        self._wake.set()

    def start(self) -> None:
        """Start the thread (it drains at once)."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("spool worker already running")
        self._stop.clear()
        self._wake.set()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the message in flight.

        Parameters:
            timeout: seconds to wait for the thread.
        """
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if not thread.is_alive():
                self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            if self._stop.is_set():
                break
            # Cleared before draining: a message spooled during the drain wakes the next.
            self._wake.clear()
            try:
                report = self.worker.drain(self._stop)
                if report.processed or report.quarantined or report.deferred or report.failed:
                    logger.info("spool drained: %s", report)
            except StorageError as exc:
                logger.warning("spool drain failed: %s", exc)
            except Exception:
                logger.exception("spool drain crashed")
            with self._cond:
                self.drains += 1
                self._cond.notify_all()
