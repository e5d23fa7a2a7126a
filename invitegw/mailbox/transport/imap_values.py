"""Values and ports of the IMAP watcher: what it hands over, what it gets back, what it keeps.

- :class:`FetchedMessage`: one message handed to the pipeline (raw bytes, UID, UIDVALIDITY).
- :class:`Outcome`: the pipeline's verdict: ``processed`` (moved to the processed folder),
  ``quarantine(reason)`` (moved to the quarantine folder) or ``retry`` (left in place).
- :class:`MessageHandler` and :class:`Checkpoint`: the ports the gateway implements (the
  checkpoint is a database row there; :class:`MemoryCheckpoint` keeps it in memory).
- :class:`WatchConfig`: folders, batch sizes, intervals.
- :class:`WatcherEvents`: counters a test (or a health check) can wait on, when each event
  last happened, the last error, how many messages wait, and the loop's progress ticks
  (a watchdog tells a stuck loop from one that waits on purpose).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from invitegw.errors import ConfigError

__all__ = [
    "Checkpoint",
    "FetchedMessage",
    "MemoryCheckpoint",
    "MessageHandler",
    "Outcome",
    "OutcomeKind",
    "WatchConfig",
    "WatchEvent",
    "WatcherEvents",
]

# RFC 2177: re-issue IDLE at least every 29 minutes, or servers may log the client off.
_MAX_IDLE = 29 * 60


@dataclass(frozen=True)
class FetchedMessage:
    """One message handed to the pipeline.

    Attributes:
        mailbox: the watcher's name for the mailbox (the checkpoint key).
        uidvalidity: the folder's UIDVALIDITY; with ``uid`` it names the message for good.
        uid: the message's UID.
        raw: the full message; for an oversized one only (a prefix of) its header section.
        size: RFC822.SIZE as the server reported it.
        internal_date: the server's INTERNALDATE (arrival time), if given.
        oversized: ``size`` is over the cap and ``raw`` is not the whole message: the
            pipeline should quarantine it with a reason.
    """

    mailbox: str
    uidvalidity: int
    uid: int
    raw: bytes
    size: int
    internal_date: datetime | None = None
    oversized: bool = False


class OutcomeKind(StrEnum):
    """What the watcher does with a message after the handler returned."""

    PROCESSED = "processed"  # committed: move to the processed folder
    QUARANTINE = "quarantine"  # committed as quarantined: move to the quarantine folder
    RETRY = "retry"  # not committed (e.g. CRM down): leave it, hand it over again later


@dataclass(frozen=True)
class Outcome:
    """The handler's verdict on one message (build it with the class methods)."""

    kind: OutcomeKind
    reason: str | None = None

    @classmethod
    def processed(cls) -> Outcome:
        """The message was handled and the result committed."""
        return cls(OutcomeKind.PROCESSED)

    @classmethod
    def quarantine(cls, reason: str) -> Outcome:
        """The message was recorded as quarantined, for ``reason`` (stored by the gateway)."""
        if not reason:
            raise ValueError("a quarantine needs a reason a person can act on")
        return cls(OutcomeKind.QUARANTINE, reason)

    @classmethod
    def retry(cls, reason: str | None = None) -> Outcome:
        """Nothing was committed; try again after the retry delay."""
        return cls(OutcomeKind.RETRY, reason)


class MessageHandler(Protocol):
    """The pipeline: commits what one message means, then says what to do with it.

    It must be idempotent: after a crash between its commit and the MOVE, the same message
    (same mailbox, UIDVALIDITY and UID) is handed over again. Raising counts as ``retry``.
    """

    def __call__(self, message: FetchedMessage) -> Outcome:
        """Handle one message."""
        ...


class Checkpoint(Protocol):
    """Where the watcher keeps (UIDVALIDITY, last UID) per mailbox across restarts.

    ``last_uid`` means: every message with a UID up to it has a committed outcome.
    """

    def load(self, mailbox: str) -> tuple[int, int] | None:
        """(uidvalidity, last_uid) saved for ``mailbox``, or ``None``."""
        ...

    def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        """Store (uidvalidity, last_uid) for ``mailbox`` durably."""
        ...


class MemoryCheckpoint:
    """A :class:`Checkpoint` in memory (tests, ``--dry-run``, single runs)."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self.saves = 0

    def load(self, mailbox: str) -> tuple[int, int] | None:
        """(uidvalidity, last_uid) for ``mailbox``, or ``None``."""
        with self._lock:
            return self._values.get(mailbox)

    def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        """Remember (uidvalidity, last_uid) for ``mailbox``."""
        with self._lock:
            self._values[mailbox] = (uidvalidity, last_uid)
            self.saves += 1


@dataclass(frozen=True)
class WatchConfig:
    """What one watcher watches and how.

    Parameters:
        name: the mailbox's name in the gateway (checkpoint key, log lines).
        folder: the folder to watch.
        processed_folder: where handled messages go (created when missing).
        quarantine_folder: where quarantined messages go (created when missing).
        quarantine_keyword: an IMAP keyword set on quarantined messages (``None``: none).
        batch_size: UIDs per FETCH.
        batch_bytes: bytes of message bodies per FETCH (one message always fits).
        max_message_size: larger messages are handed over oversized (header only).
        header_limit: bytes of header fetched for an oversized message.
        use_idle: IDLE when the server offers it.
        idle_timeout: seconds before IDLE is re-issued (below 29 min, RFC 2177).
        poll_interval: seconds between safety-net polls (also without IDLE).
        retry_delay: seconds before a ``retry`` message is handed over again.
        backoff_initial: first reconnect delay in seconds; doubled per failure.
        backoff_max: the longest reconnect delay.
        wakeup_interval: longest uninterrupted wait in IDLE, so ``stop()`` is noticed.

    Raises:
        ConfigError: a value out of range or a folder used twice.
    """

    name: str
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    quarantine_keyword: str | None = "$InvitegwQuarantine"
    batch_size: int = 50
    batch_bytes: int = 32 * 1024 * 1024
    max_message_size: int = 25 * 1024 * 1024
    header_limit: int = 64 * 1024
    use_idle: bool = True
    idle_timeout: float = 25 * 60
    poll_interval: float = 300.0
    retry_delay: float = 60.0
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    wakeup_interval: float = 0.5

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("mailbox name is empty")
        folders = {self.folder, self.processed_folder, self.quarantine_folder}
        if len(folders) != 3 or "" in folders:
            raise ConfigError(
                f"mailbox {self.name}: folder, processed_folder and quarantine_folder must "
                "be three different folders"
            )
        if not 0 < self.idle_timeout < _MAX_IDLE:
            raise ConfigError(f"mailbox {self.name}: idle_timeout must be under 29 minutes")
        positive = (
            self.batch_size,
            self.batch_bytes,
            self.max_message_size,
            self.header_limit,
            self.poll_interval,
            self.retry_delay,
            self.backoff_initial,
            self.wakeup_interval,
        )
        if min(positive) <= 0 or self.backoff_max < self.backoff_initial:
            raise ConfigError(f"mailbox {self.name}: sizes and intervals must be positive")


class WatchEvent(StrEnum):
    """Things a watcher reports through :class:`WatcherEvents`."""

    CONNECTED = "connected"  # logged in, folders ready, folder selected
    IDLE = "idle"  # entered IDLE
    POLLED = "polled"  # a drain of the folder finished (after IDLE, poll or connect)
    HANDLED = "handled"  # one message's outcome was applied
    BATCH = "batch"  # one fetch batch finished
    UIDVALIDITY_CHANGED = "uidvalidity_changed"  # the folder was re-scanned from UID 1
    DISCONNECTED = "disconnected"  # the session failed; a reconnect follows
    STOPPED = "stopped"  # the loop ended


class WatcherEvents:
    """Counts :class:`WatchEvent` occurrences; callers wait for counts with a deadline.

    Also kept for health checks: when each event last happened (:meth:`last`, wall-clock
    seconds), the last session error (:attr:`last_error`), how many messages of the folder
    were waiting at the last look (:attr:`waiting`), and the loop's last progress tick
    (:attr:`progress`: monotonic seconds, and how long the loop may wait before the next).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._counts: Counter[WatchEvent] = Counter()
        self._last: dict[WatchEvent, float] = {}
        self.batch_sizes: list[int] = []
        self.last_error: str | None = None
        self.waiting = 0
        # One tuple, replaced whole: readers in other threads never see half an update.
        self.progress: tuple[float, float] = (time.monotonic(), 0.0)

    def fire(
        self, event: WatchEvent, *, batch_size: int | None = None, error: str | None = None
    ) -> None:
        """Record one occurrence and wake the waiters.

        Parameters:
            event: what happened.
            batch_size: a finished batch's size (``BATCH``).
            error: why the session failed (``DISCONNECTED``).
        """
        with self._cond:
            self._counts[event] += 1
            self._last[event] = time.time()
            if batch_size is not None:
                self.batch_sizes.append(batch_size)
            if error is not None:
                self.last_error = error
            if event is WatchEvent.HANDLED and self.waiting > 0:
                self.waiting -= 1
            self._cond.notify_all()
        self.tick()

    def tick(self, within: float = 0.0) -> None:
        """The loop made progress; it may now wait up to ``within`` seconds (no lock)."""
        self.progress = (time.monotonic(), within)

    def last(self, event: WatchEvent) -> float | None:
        """When ``event`` last happened (``time.time()`` seconds), or ``None``."""
        with self._cond:
            return self._last.get(event)

    def count(self, event: WatchEvent) -> int:
        """How often ``event`` happened so far."""
        with self._cond:
            return self._counts[event]

    def wait_for(self, event: WatchEvent, count: int, timeout: float) -> bool:
        """Block until ``event`` happened at least ``count`` times in all.

        Returns:
            ``False`` when the deadline passed first.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._counts[event] < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True
