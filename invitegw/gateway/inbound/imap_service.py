"""The IMAP watcher as a scheduler service: one mailbox watched while this worker holds its lease.

:class:`MailboxService` keeps trying to take the lease ``imap:<name>`` (``storage.state``):
one worker at a time watches a mailbox, so several ``serve`` processes on one PostgreSQL
never watch it twice; when the holder dies its lease expires and another worker takes
over. While it holds the lease an :class:`~invitegw.mailbox.transport.imap_watch.ImapWatcher`
made by its :class:`~invitegw.gateway.inbound.imap_source.ImapSource` runs (IDLE,
checkpoint in the database, reconnects) and the lease is renewed at each heartbeat. A lost
lease stops the watcher; :meth:`MailboxService.stop` stops it and releases the lease.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from invitegw.errors import StorageError
from invitegw.gateway.inbound.imap_source import ImapSource
from invitegw.mailbox.transport.imap_values import WatcherEvents
from invitegw.mailbox.transport.imap_watch import ImapWatcher

__all__ = ["MailboxService"]

logger = logging.getLogger(__name__)


class MailboxService:
    """Watches one mailbox while this worker holds its lease (a scheduler ``Service``).

    A supervisor thread tries to take the lease at every heartbeat; once taken it starts
    the watcher and renews the lease at every heartbeat. Lost lease (another worker took
    it after it expired) → the watcher stops. A watcher that stopped on a configuration
    error (a forbidden folder, no MOVE/UIDPLUS) → its error is logged, the lease released,
    and the whole is tried again after ``fatal_retry`` seconds.

    Parameters:
        source: the mailbox as a mail source (settings, pipeline, worker).
        events: the watchers' event counters (shared by the watchers this service starts).
        fatal_retry: seconds before a watcher that stopped on a configuration error is
            started again.

    Raises:
        ConfigError: the mailbox has no password (or, with OAuth 2.0, a secret is missing).
    """

    def __init__(
        self,
        source: ImapSource,
        *,
        events: WatcherEvents | None = None,
        fatal_retry: float = 300.0,
    ) -> None:
        mailbox = source.mailbox
        source.login()  # refuse a missing password or secret at start, not in the thread
        self.name = f"imap-watch:{mailbox.name}"
        self.mailbox = mailbox
        self.source = source
        self.events = events if events is not None else WatcherEvents()
        self.lease = source.lease()
        self._fatal_retry = fatal_retry
        self._heartbeat = source.worker.heartbeat.total_seconds()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watcher: ImapWatcher | None = None
        self._renewed_at = 0.0
        self._retry_at = 0.0
        self._cond = threading.Condition()
        self.tenures = 0  # how often this service took the lease
        self.heartbeats = 0  # supervisor steps done (lease attempts or renewals)

    def __repr__(self) -> str:
        return f"MailboxService({self.mailbox.name!r}, worker={self.source.worker.worker!r})"

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
        watcher = self.source.watcher(self.events)
        self._renewed_at = time.monotonic()
        watcher.start()
        with self._cond:
            self._watcher = watcher
            self.tenures += 1
            self._cond.notify_all()
        if self.source.worker.on_lease is not None:
            self.source.worker.on_lease(self.lease.name, "taken")
        logger.info(
            "%s: lease %s taken by %s", self.name, self.lease.name, self.source.worker.worker
        )

    def _drop(self, *, release: bool) -> None:
        watcher = self._watcher
        if watcher is not None:
            watcher.stop(timeout=None)
        with self._cond:
            self._watcher = None
            self._cond.notify_all()
        if watcher is not None and release:
            self.lease.release()
        if watcher is not None and self.source.worker.on_lease is not None:
            self.source.worker.on_lease(self.lease.name, "released" if release else "lost")
