"""The IMAP mail source: one per ``[[mailboxes]]``, watched or drained under a lease.

- :class:`ImapSource` is the mailbox as a :class:`~invitegw.gateway.inbound.source.
  MailSource`: :meth:`ImapSource.drain` is ``serve --once`` (take the lease, connect, drain,
  disconnect, release); it also makes the watcher a
  :class:`~invitegw.gateway.inbound.imap_service.MailboxService` runs. Its
  messages carry the mailbox's name, the position UIDVALIDITY + UID, and the mailbox's
  ``owner``.
- :class:`MailboxHandler` is the watcher's handler: it wraps each fetched message in a
  :class:`~invitegw.gateway.inbound.model.ReceivedMessage`, runs the pipeline and turns its
  :class:`~invitegw.gateway.inbound.model.MessageResult` into the watcher's
  :class:`~invitegw.mailbox.transport.imap_values.Outcome`: quarantined → the quarantine folder,
  anything else committed (also ``already_processed``: a crash after the commit and before
  the MOVE) → the processed folder; a retryable failure (CRM unreachable, database down:
  nothing was committed) → left in place and handed over again later.
- :class:`MailboxLease` is the lease row ``imap:<name>`` (``storage.state``): one worker
  at a time watches or drains a mailbox; the watching service is
  :class:`~invitegw.gateway.inbound.imap_service.MailboxService`.

A UIDVALIDITY change makes the watcher re-scan the folder from UID 1; the pipeline's
ledger (processed messages by Message-ID, events by organizer/UID/RECURRENCE-ID) makes
messages handled before a no-op.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass

from invitegw.errors import GatewayError, StorageError
from invitegw.gateway.config import MailboxSettings, TlsMode
from invitegw.gateway.inbound.model import ReceivedMessage, SourcePosition
from invitegw.gateway.inbound.source import Pipeline, WorkerContext, hand_over
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
from invitegw.mailbox.transport.oauth.login import Login

__all__ = [
    "DrainReport",
    "ImapSource",
    "LoginProvider",
    "MailboxHandler",
    "MailboxLease",
    "imap_account",
    "lease_name",
    "watch_config",
]

logger = logging.getLogger(__name__)

_SECURITY = {
    TlsMode.NONE: ImapSecurity.PLAIN,
    TlsMode.STARTTLS: ImapSecurity.STARTTLS,
    TlsMode.TLS: ImapSecurity.TLS,
}


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


# The mailbox's login (a password, or OAuth 2.0 tokens), from the composition root.
LoginProvider = Callable[[], str | Login]


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
            position=SourcePosition(message.uidvalidity, message.uid),
            owner=mailbox.owner,
            size=message.size,
            oversized=message.oversized,
            # Aware: ImapConnection turns imapclient's time normalising off.
            received_at=message.internal_date,
        )
        handed = hand_over(self._pipeline, received)
        result = handed.result
        if result is None:
            logger.warning(
                "IMAP %s uid=%d not handled, left for a retry: %s",
                mailbox.name,
                message.uid,
                handed.retry,
            )
            return Outcome.retry(handed.retry or "retry")
        if result.quarantined:
            return Outcome.quarantine(result.reason or "quarantined by the pipeline")
        return Outcome.processed()


class MailboxLease:
    """The lease ``imap:<mailbox>`` for this worker, one short transaction per call.

    Parameters:
        worker: the store, the clock, the worker id and its lease duration.
        mailbox: the mailbox's name.
    """

    def __init__(self, worker: WorkerContext, mailbox: str) -> None:
        self._worker = worker
        self.name = lease_name(mailbox)
        self.duration = worker.lease_duration

    def acquire(self) -> bool:
        """Take the lease if it is free, expired or ours.

        Raises:
            StorageError: the database failed.
        """
        worker = self._worker
        with worker.store.session() as session:
            return acquire_lease(
                session, self.name, worker.worker, now=worker.clock(), duration=self.duration
            )

    def renew(self) -> bool:
        """Heartbeat; ``False`` when another worker has taken the lease.

        Raises:
            StorageError: the database failed.
        """
        worker = self._worker
        with worker.store.session() as session:
            return renew_lease(
                session, self.name, worker.worker, now=worker.clock(), duration=self.duration
            )

    def release(self) -> None:
        """Give the lease up (errors are logged: it expires anyway)."""
        try:
            with self._worker.store.session() as session:
                release_lease(session, self.name, self._worker.worker)
        except StorageError as exc:
            logger.warning("releasing lease %s failed (it will expire): %s", self.name, exc)


class ImapSource:
    """One ``[[mailboxes]]`` as a mail source (see the module docstring).

    Parameters:
        mailbox: the mailbox's settings.
        pipeline: the inbound pipeline.
        worker: what this worker's sources share (store, clock, id, lease timings).
        login: the mailbox's login (password or OAuth 2.0); raises ``ConfigError`` when a
            secret is missing.
        max_message_size: ``limits.message_bytes``: larger messages are handed over with
            their header only (and quarantined).
        config: the watcher's config (default: from the settings).
        ssl_context: TLS settings for the IMAP connection.
    """

    def __init__(
        self,
        mailbox: MailboxSettings,
        pipeline: Pipeline,
        worker: WorkerContext,
        *,
        login: LoginProvider,
        max_message_size: int,
        config: WatchConfig | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.mailbox = mailbox
        self.pipeline = pipeline
        self.worker = worker
        self.login = login
        self._config = config or watch_config(mailbox, max_message_size=max_message_size)
        self._ssl_context = ssl_context

    @property
    def name(self) -> str:
        """The mailbox's name (the ``source`` its messages carry)."""
        return self.mailbox.name

    def lease(self) -> MailboxLease:
        """The mailbox's lease for this worker."""
        return MailboxLease(self.worker, self.mailbox.name)

    def watcher(self, events: WatcherEvents | None = None) -> ImapWatcher:
        """A watcher for the mailbox (not started).

        Parameters:
            events: the event counters it reports to.

        Returns:
            The watcher.

        Raises:
            ConfigError: the mailbox has no password (or, with OAuth 2.0, a secret is
                missing).
        """
        return ImapWatcher(
            imap_account(self.mailbox),
            self.login(),
            self._config,
            MailboxHandler(self.pipeline, self.mailbox),
            StoreCheckpoint(self.worker.store, self.worker.clock),
            ssl_context=self._ssl_context,
            events=events,
        )

    def drain(self, stop: threading.Event | None = None) -> DrainReport:
        """``serve --once`` for the mailbox: take the lease, drain the folder, release it.

        The lease is renewed at each heartbeat while the pass runs (a large mailbox may
        take longer than one lease). A mailbox another worker holds is skipped.

        Parameters:
            stop: ends the pass after the message in flight.

        Returns:
            The report (an IMAP failure is reported, not raised).

        Raises:
            ConfigError: the mailbox has no password (or an OAuth 2.0 secret is missing).
            StorageError: the lease could not be taken (database down).
        """
        return _drain(self, stop)


@dataclass(frozen=True, slots=True)
class DrainReport:
    """What ``serve --once`` did with one mailbox."""

    mailbox: str
    handled: int = 0
    skipped: str | None = None  # why it was not drained (lease held elsewhere, ...)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the pass did not fail."""
        return self.error is None

    def __str__(self) -> str:
        if self.error:
            return f"{self.mailbox}: FAILED: {self.error}"
        if self.skipped:
            return f"{self.mailbox}: skipped ({self.skipped})"
        return f"{self.mailbox}: {self.handled} handled"


def _drain(source: ImapSource, stop: threading.Event | None) -> DrainReport:
    mailbox = source.mailbox
    lease = source.lease()
    if not lease.acquire():
        return DrainReport(mailbox.name, skipped="another worker holds its lease")
    watcher = source.watcher()
    done = threading.Event()
    heartbeat = source.worker.heartbeat.total_seconds()

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
