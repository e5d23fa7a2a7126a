"""The IMAP side of ``invitegw serve``: one watcher per ``[[mailboxes]]``, each under a lease.

- :class:`MailboxHandler` is the watcher's handler: it wraps each fetched message in a
  :class:`~invitegw.gateway.inbound.model.ReceivedMessage`, runs the pipeline and turns its
  :class:`~invitegw.gateway.inbound.model.MessageResult` into the watcher's
  :class:`~invitegw.mailbox.transport.imap_values.Outcome`: quarantined → the quarantine folder,
  anything else committed (also ``already_processed``: a crash after the commit and before
  the MOVE) → the processed folder; a retryable failure (CRM unreachable, database down:
  nothing was committed) → left in place and handed over again later.
- :class:`MailboxLease` is the lease row ``imap:<name>`` (``storage.state``): one worker
  at a time watches a mailbox, so several ``serve`` processes on one PostgreSQL never
  watch it twice; when the holder dies its lease expires and another worker takes over.
- :class:`MailboxService` (a scheduler ``Service``) keeps trying to take the lease; while
  it holds it an :class:`~invitegw.mailbox.transport.imap_watch.ImapWatcher` runs (IDLE, checkpoint
  in the database, reconnects) and the lease is renewed at each heartbeat. A lost lease
  stops the watcher; :meth:`MailboxService.stop` stops it and releases the lease.
- :func:`drain_mailbox_once` is ``serve --once``: take the lease, connect, drain,
  disconnect, release.

A UIDVALIDITY change makes the watcher re-scan the folder from UID 1; the pipeline's
ledger (processed messages by Message-ID, events by organizer/UID/RECURRENCE-ID) makes
messages handled before a no-op.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from invitegw.errors import CrmUnavailableError, GatewayError, StorageError
from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.config import MailboxSettings, TlsMode
from invitegw.gateway.inbound.model import MessageResult, ReceivedMessage
from invitegw.gateway.mailauth import mailbox_login
from invitegw.gateway.storage.mail_state import StoreCheckpoint
from invitegw.gateway.storage.state import acquire_lease, release_lease, renew_lease
from invitegw.mailbox.transport.imap_client import ImapAccount, ImapSecurity
from invitegw.mailbox.transport.imap_values import (
    FetchedMessage,
    Outcome,
    WatchConfig,
    WatcherEvents,
)
from invitegw.mailbox.transport.imap_watch import ImapWatcher

__all__ = [
    "RETRYABLE_ERRORS",
    "DrainReport",
    "MailboxHandler",
    "MailboxLease",
    "MailboxService",
    "Pipeline",
    "drain_mailbox_once",
    "imap_account",
    "lease_name",
    "watch_config",
]

logger = logging.getLogger(__name__)

RETRYABLE_ERRORS: tuple[type[GatewayError], ...] = (CrmUnavailableError, StorageError)
"""The pipeline's "nothing was committed, try again later" errors."""

_SECURITY = {
    TlsMode.NONE: ImapSecurity.PLAIN,
    TlsMode.STARTTLS: ImapSecurity.STARTTLS,
    TlsMode.TLS: ImapSecurity.TLS,
}


class Pipeline(Protocol):
    """What the sources need of the inbound pipeline (``InboundPipeline``)."""

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        """Decide on one message and commit the result.

        Raises:
            CrmUnavailableError: the CRM is unreachable (nothing committed).
            StorageError: the database failed (nothing committed).
        """
        ...


def lease_name(mailbox: str) -> str:
    """The lease row that gives one worker the mailbox ``mailbox``."""
    return f"imap:{mailbox}"


def imap_account(mailbox: MailboxSettings) -> ImapAccount:
    """The watcher's account (server, login, security, timeout) from ``[[mailboxes]]``.

    Parameters:
        mailbox: the mailbox's settings.

    Returns:
        The account (the password is passed apart).
    """
    return ImapAccount(
        host=mailbox.host,
        username=mailbox.username,
        port=mailbox.effective_port,
        security=_SECURITY[mailbox.tls],
        timeout=mailbox.timeout.total_seconds(),
    )


def watch_config(mailbox: MailboxSettings, *, max_message_size: int) -> WatchConfig:
    """The watcher's folders, batches and intervals from ``[[mailboxes]]``.

    Parameters:
        mailbox: the mailbox's settings.
        max_message_size: ``limits.message_bytes``: larger messages are handed over with
            their header only (and quarantined).

    Returns:
        The config.
    """
    return WatchConfig(
        name=mailbox.name,
        folder=mailbox.folder,
        processed_folder=mailbox.processed_folder,
        quarantine_folder=mailbox.quarantine_folder,
        batch_size=mailbox.batch_size,
        max_message_size=max_message_size,
        use_idle=mailbox.idle,
        idle_timeout=mailbox.idle_timeout.total_seconds(),
        poll_interval=mailbox.poll_interval.total_seconds(),
    )


class MailboxHandler:
    """The watcher's handler for one mailbox: fetched message → pipeline → outcome.

    Parameters:
        pipeline: the inbound pipeline.
        mailbox: the mailbox's settings (name, folder, owner).
    """

    def __init__(self, pipeline: Pipeline, mailbox: MailboxSettings) -> None:
        self._pipeline = pipeline
        self._mailbox = mailbox

    def __call__(self, message: FetchedMessage) -> Outcome:
        """Run the pipeline on ``message`` and say where it goes."""
        mailbox = self._mailbox
        received = ReceivedMessage(
            raw=message.raw,
            source=mailbox.name,
            reference=f"{mailbox.name}:{mailbox.folder}",
            uidvalidity=message.uidvalidity,
            uid=message.uid,
            owner=mailbox.owner,
            size=message.size,
            oversized=message.oversized,
            # Aware: ImapConnection turns imapclient's time normalising off.
            received_at=message.internal_date,
        )
        try:
            result = self._pipeline.handle(received, dry_run=False)
        except RETRYABLE_ERRORS as exc:
            logger.warning(
                "IMAP %s uid=%d not handled, left for a retry: %s", mailbox.name, message.uid, exc
            )
            return Outcome.retry(str(exc))
        if result.quarantined:
            return Outcome.quarantine(result.reason or "quarantined by the pipeline")
        return Outcome.processed()


class MailboxLease:
    """The lease ``imap:<mailbox>`` for this worker, one short transaction per call.

    Parameters:
        gateway: the store, the clock, the worker id and ``[worker]`` lease settings.
        mailbox: the mailbox's name.
    """

    def __init__(self, gateway: Gateway, mailbox: str) -> None:
        self._gateway = gateway
        self.name = lease_name(mailbox)
        self.duration = gateway.settings.worker.lease_duration

    def acquire(self) -> bool:
        """Take the lease if it is free, expired or ours.

        Raises:
            StorageError: the database failed.
        """
        gateway = self._gateway
        with gateway.store.session() as session:
            return acquire_lease(
                session, self.name, gateway.worker, now=gateway.clock(), duration=self.duration
            )

    def renew(self) -> bool:
        """Heartbeat; ``False`` when another worker has taken the lease.

        Raises:
            StorageError: the database failed.
        """
        gateway = self._gateway
        with gateway.store.session() as session:
            return renew_lease(
                session, self.name, gateway.worker, now=gateway.clock(), duration=self.duration
            )

    def release(self) -> None:
        """Give the lease up (errors are logged: it expires anyway)."""
        try:
            with self._gateway.store.session() as session:
                release_lease(session, self.name, self._gateway.worker)
        except StorageError as exc:
            logger.warning("releasing lease %s failed (it will expire): %s", self.name, exc)


def _make_watcher(
    gateway: Gateway,
    mailbox: MailboxSettings,
    pipeline: Pipeline,
    *,
    config: WatchConfig | None,
    events: WatcherEvents | None,
    ssl_context: ssl.SSLContext | None,
) -> ImapWatcher:
    return ImapWatcher(
        imap_account(mailbox),
        mailbox_login(gateway, mailbox),
        config or watch_config(mailbox, max_message_size=gateway.settings.limits.message_bytes),
        MailboxHandler(pipeline, mailbox),
        StoreCheckpoint(gateway.store, gateway.clock),
        ssl_context=ssl_context,
        events=events,
    )


class MailboxService:
    """Watches one mailbox while this worker holds its lease (a scheduler ``Service``).

    A supervisor thread tries to take the lease at every heartbeat; once taken it starts
    the watcher and renews the lease at every heartbeat. Lost lease (another worker took
    it after it expired) → the watcher stops. A watcher that stopped on a configuration
    error (a forbidden folder, no MOVE/UIDPLUS) → its error is logged, the lease released,
    and the whole is tried again after ``fatal_retry`` seconds.

    Parameters:
        gateway: the gateway (store, clock, worker id, settings).
        mailbox: the mailbox's settings.
        pipeline: the inbound pipeline.
        config: the watcher's config (default: from the settings).
        events: the watchers' event counters (shared by the watchers this service starts).
        ssl_context: TLS settings for the IMAP connection.
        fatal_retry: seconds before a watcher that stopped on a configuration error is
            started again.

    Raises:
        ConfigError: the mailbox has no password (or, with OAuth 2.0, a secret is missing).
    """

    def __init__(
        self,
        gateway: Gateway,
        mailbox: MailboxSettings,
        pipeline: Pipeline,
        *,
        config: WatchConfig | None = None,
        events: WatcherEvents | None = None,
        ssl_context: ssl.SSLContext | None = None,
        fatal_retry: float = 300.0,
    ) -> None:
        mailbox_login(gateway, mailbox)  # refuse at start, not in the thread
        self.name = f"imap-watch:{mailbox.name}"
        self.mailbox = mailbox
        self.events = events if events is not None else WatcherEvents()
        self.lease = MailboxLease(gateway, mailbox.name)
        self._gateway = gateway
        self._pipeline = pipeline
        self._config = config
        self._ssl_context = ssl_context
        self._fatal_retry = fatal_retry
        self._heartbeat = gateway.settings.worker.heartbeat.total_seconds()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watcher: ImapWatcher | None = None
        self._renewed_at = 0.0
        self._retry_at = 0.0
        self._cond = threading.Condition()
        self.tenures = 0  # how often this service took the lease
        self.heartbeats = 0  # supervisor steps done (lease attempts or renewals)

    def __repr__(self) -> str:
        return f"MailboxService({self.mailbox.name!r}, worker={self._gateway.worker!r})"

    @property
    def running(self) -> bool:
        """Whether the supervisor runs (started and not stopped)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def holding(self) -> bool:
        """Whether this worker holds the lease and its watcher runs."""
        with self._cond:
            return self._watcher is not None

    def wait_until(self, predicate: Callable[[MailboxService], bool], timeout: float) -> bool:
        """Block until ``predicate(self)`` holds after a lease change, or the deadline.

        Returns:
            ``False`` when the deadline passed first.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def start(self) -> None:
        """Start the supervisor thread."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"{self!r} is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the watcher (after the message in flight) and release the lease.

        Parameters:
            timeout: seconds to wait for the watcher and the supervisor.
        """
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if not thread.is_alive():
                self._thread = None

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._step()
                except Exception:  # a bug: keep supervising rather than die silently
                    logger.exception("%s: supervisor step failed", self.name)
                with self._cond:
                    self.heartbeats += 1
                    self._cond.notify_all()
                self._stop.wait(self._heartbeat)
        finally:
            self._drop(release=True)

    def _step(self) -> None:
        watcher = self._watcher
        if watcher is None:
            if time.monotonic() < self._retry_at:
                return
            try:
                acquired = self.lease.acquire()
            except StorageError as exc:
                logger.warning("%s: taking the lease failed: %s", self.name, exc)
                return
            if acquired:
                self._begin()
            return
        if not watcher.running:
            logger.error(
                "IMAP watcher %s stopped: %s; trying again in %.0f s",
                self.mailbox.name,
                watcher.error,
                self._fatal_retry,
            )
            self._drop(release=True)
            self._retry_at = time.monotonic() + self._fatal_retry
            return
        try:
            kept = self.lease.renew()
        except StorageError as exc:
            # The database is away: keep watching (the pipeline retries) until the lease
            # must have expired, then let another worker have it.
            kept = time.monotonic() - self._renewed_at < self.lease.duration.total_seconds()
            logger.warning("%s: lease heartbeat failed: %s", self.name, exc)
        else:
            if kept:
                self._renewed_at = time.monotonic()
        if not kept:
            logger.warning("%s: lease %s lost: watcher stopped", self.name, self.lease.name)
            self._drop(release=False)

    def _begin(self) -> None:
        watcher = _make_watcher(
            self._gateway,
            self.mailbox,
            self._pipeline,
            config=self._config,
            events=self.events,
            ssl_context=self._ssl_context,
        )
        self._renewed_at = time.monotonic()
        watcher.start()
        with self._cond:
            self._watcher = watcher
            self.tenures += 1
            self._cond.notify_all()
        self._gateway.instruments.lease(self.lease.name, "taken")
        logger.info("%s: lease %s taken by %s", self.name, self.lease.name, self._gateway.worker)

    def _drop(self, *, release: bool) -> None:
        watcher = self._watcher
        if watcher is not None:
            watcher.stop(timeout=None)
        with self._cond:
            self._watcher = None
            self._cond.notify_all()
        if watcher is not None and release:
            self.lease.release()
        if watcher is not None:
            self._gateway.instruments.lease(self.lease.name, "released" if release else "lost")


@dataclass(frozen=True, slots=True)
class DrainReport:
    """What ``serve --once`` did with one mailbox."""

    mailbox: str
    handled: int = 0
    skipped: str | None = None  # why it was not drained (lease held elsewhere, ...)
    error: str | None = None

    def __str__(self) -> str:
        if self.error:
            return f"{self.mailbox}: FAILED: {self.error}"
        if self.skipped:
            return f"{self.mailbox}: skipped ({self.skipped})"
        return f"{self.mailbox}: {self.handled} handled"


def drain_mailbox_once(
    gateway: Gateway,
    mailbox: MailboxSettings,
    pipeline: Pipeline,
    *,
    stop: threading.Event | None = None,
    config: WatchConfig | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> DrainReport:
    """``serve --once`` for one mailbox: take the lease, drain the folder, release it.

    The lease is renewed at each heartbeat while the pass runs (a large mailbox may take
    longer than one lease). A mailbox another worker holds is skipped.

    Parameters:
        gateway: the gateway.
        mailbox: the mailbox's settings.
        pipeline: the inbound pipeline.
        stop: ends the pass after the message in flight.
        config: the watcher's config (default: from the settings).
        ssl_context: TLS settings for the IMAP connection.

    Returns:
        The report (an IMAP failure is reported, not raised).

    Raises:
        ConfigError: the mailbox has no password.
        StorageError: the lease could not be taken (database down).
    """
    lease = MailboxLease(gateway, mailbox.name)
    if not lease.acquire():
        return DrainReport(mailbox.name, skipped="another worker holds its lease")
    watcher = _make_watcher(
        gateway, mailbox, pipeline, config=config, events=None, ssl_context=ssl_context
    )
    done = threading.Event()
    heartbeat = gateway.settings.worker.heartbeat.total_seconds()

    def keep_lease() -> None:
        while not done.wait(heartbeat):
            if stop is not None and stop.is_set():
                watcher.stop(timeout=0)
            try:
                if not lease.renew():
                    logger.warning("IMAP %s: lease lost during the pass", mailbox.name)
                    watcher.stop(timeout=0)
                    return
            except StorageError as exc:
                logger.warning("IMAP %s: lease heartbeat failed: %s", mailbox.name, exc)

    keeper = threading.Thread(target=keep_lease, name=f"lease-{mailbox.name}", daemon=True)
    keeper.start()
    try:
        if stop is not None and stop.is_set():
            return DrainReport(mailbox.name, skipped="stopping")
        handled = watcher.run_once()
    except GatewayError as exc:
        logger.warning("IMAP %s: the pass failed: %s", mailbox.name, exc)
        return DrainReport(mailbox.name, error=str(exc))
    finally:
        done.set()
        keeper.join()
        lease.release()
    return DrainReport(mailbox.name, handled=handled)
