"""The IMAP watcher: one mailbox, IDLE (or polling), batches, checkpoint, reconnects.

One :class:`ImapWatcher` per mailbox, usually in a thread of its own. Its loop:

1. Connect and log in (:class:`~invitegw.mailbox.transport.imap_client.ImapConnection`); refuse to
   watch Sent/Drafts/Trash/Junk; create the processed and quarantine folders; SELECT.
2. Compare UIDVALIDITY with the :class:`~invitegw.mailbox.transport.imap_values.Checkpoint`: the
   same → fetch UIDs above the saved last UID; changed (RFC 9051 section 2.3.1.1: old UIDs
   mean nothing now) → re-scan the folder from UID 1 and report it; the gateway's ledger
   makes the re-scan a no-op for messages it already handled.
3. Drain: UID SEARCH for new messages, FETCH ``RFC822.SIZE`` for a chunk, then the bodies
   (``BODY.PEEK[]``) in groups bounded by count and bytes; an oversized message is handed
   over with its header only. Each message goes to the handler; its :class:`Outcome` says
   where it goes: the processed or quarantine folder (one MOVE per folder at the end of
   the batch, or of the message in flight when stopping), or nowhere yet (a retry). The
   checkpoint advances only past messages whose outcome was committed and applied.
4. Wait: IDLE when offered (DONE before fetching, re-issued before 29 minutes), else poll;
   either way a drain runs at least every ``poll_interval`` as a safety net.
   :meth:`ImapWatcher.run_once` does steps 1 to 3 once (``serve --once``).
5. Any failure of the session → reconnect with exponential backoff and jitter; the waits
   end early when :meth:`ImapWatcher.stop` is called. Each reconnect logs in afresh: with
   OAuth 2.0 the token cache hands out a new token once the old one is near expiry (a long
   IDLE outlives a one-hour token; Exchange Online ends such a session with BYE), and a
   refused login (credentials revoked) is retried with the same backoff, recorded in the
   login's health registry, without touching any other mailbox's watcher. Configuration
   problems (a forbidden folder, a server without MOVE or UIDPLUS) end the loop with the
   error instead.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Sequence

from invitegw.domain.backoff import backoff
from invitegw.errors import CapabilityError, GatewayError, MailboxError
from invitegw.mailbox.transport.imap_client import (
    ImapAccount,
    ImapConnection,
    MessageMeta,
    folder_refusal,
)
from invitegw.mailbox.transport.imap_values import (
    Checkpoint,
    FetchedMessage,
    MessageHandler,
    Outcome,
    OutcomeKind,
    WatchConfig,
    WatcherEvents,
    WatchEvent,
)
from invitegw.mailbox.transport.oauth.login import Login

__all__ = ["ImapWatcher", "UidValidityCallback"]

logger = logging.getLogger(__name__)

UidValidityCallback = Callable[[str, int, int], None]
"""Told ``(mailbox, old_uidvalidity, new_uidvalidity)`` when a folder must be re-scanned."""


class _FatalError(Exception):
    """A configuration problem: reconnecting cannot help, the loop ends."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(str(error))
        self.error = error


class ImapWatcher:
    """Watches one folder of one account and hands new messages to ``handler``.

    Parameters:
        account: server and login name.
        password: the login password (from the environment), or a
            :data:`~invitegw.mailbox.transport.oauth.login.Login` (password or OAuth 2.0).
        config: folders, batches and intervals.
        handler: the pipeline (see :class:`~invitegw.mailbox.transport.imap_values.MessageHandler`).
        checkpoint: where (UIDVALIDITY, last UID) is kept.
        ssl_context: TLS settings; default: the system's verifying context.
        on_uidvalidity_change: told when the folder is re-scanned.
        events: counters to wait on (a new :class:`WatcherEvents` when omitted).
        clock: monotonic seconds, for retry deadlines.
        rng: randomness for the reconnect jitter.
    """

    def __init__(
        self,
        account: ImapAccount,
        password: str | Login,
        config: WatchConfig,
        handler: MessageHandler,
        checkpoint: Checkpoint,
        *,
        ssl_context: ssl.SSLContext | None = None,
        on_uidvalidity_change: UidValidityCallback | None = None,
        events: WatcherEvents | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.account = account
        self.config = config
        self.events = events if events is not None else WatcherEvents()
        self.error: GatewayError | None = None
        self._password = password
        self._handler = handler
        self._checkpoint = checkpoint
        self._ssl_context = ssl_context
        self._on_uidvalidity_change = on_uidvalidity_change
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Per UIDVALIDITY: every UID <= _floor is done; _high is the highest UID handled;
        # _pending maps UIDs left for a retry to the clock time they are due again.
        self._uidvalidity: int | None = None
        self._floor = 0
        self._saved_floor = -1
        self._high = 0
        self._pending: dict[int, float] = {}
        self._said_polling = False

    def __repr__(self) -> str:
        return f"ImapWatcher({self.config.name!r}, {self.account.username}@{self.account.host})"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop in a daemon thread; a fatal error ends up in :attr:`error`."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"{self!r} is already running")
        self._stop.clear()
        self.error = None
        self._thread = threading.Thread(
            target=self._thread_main, name=f"imap-watch-{self.config.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the loop to end (after the message in flight) and wait for the thread.

        Parameters:
            timeout: seconds to wait for the thread; ``None`` waits as long as it takes.
        """
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if not thread.is_alive():
                self._thread = None

    @property
    def running(self) -> bool:
        """Whether the watcher thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _thread_main(self) -> None:
        try:
            self.run()
        except GatewayError as exc:
            self.error = exc
        except Exception as exc:  # a bug: keep it visible rather than kill silently
            logger.exception("IMAP watcher %s crashed", self.config.name)
            self.error = MailboxError(f"watcher crashed: {exc!r}")

    def run(self) -> None:
        """The loop, in the calling thread, until :meth:`stop`.

        Raises:
            CapabilityError: the server lacks what the gateway needs (MOVE or UIDPLUS).
            MailboxError: the folder may not be watched or does not exist.
        """
        failures = 0
        try:
            while not self._stop.is_set():
                connection: ImapConnection | None = None
                try:
                    connection = self._open()
                    failures = 0
                    self._serve(connection)
                except _FatalError as fatal:
                    self.events.last_error = str(fatal.error)
                    logger.error("IMAP watcher %s stops: %s", self.config.name, fatal.error)
                    raise fatal.error from fatal.error.__cause__
                except GatewayError as exc:  # IMAP trouble, or the checkpoint store's
                    self.events.fire(WatchEvent.DISCONNECTED, error=str(exc))
                    delay = self._backoff(failures)
                    failures += 1
                    logger.warning(
                        "IMAP %s: %s; reconnecting in %.2f s", self.config.name, exc, delay
                    )
                    self.events.tick(within=delay)
                    self._stop.wait(delay)
                finally:
                    self._save_checkpoint()
                    if connection is not None:
                        connection.close()
        finally:
            self.events.fire(WatchEvent.STOPPED)

    def run_once(self) -> int:
        """One pass in the calling thread: connect, drain the folder, disconnect.

        For ``serve --once`` and cron: messages already there (and those arriving during
        the pass) are handed over and their outcomes applied; those left for a retry stay
        for the next pass. :meth:`stop` ends the pass after the message in flight.

        Returns:
            How many messages had an outcome applied (moved, or left for a retry).

        Raises:
            CapabilityError: the server lacks what the gateway needs (MOVE or UIDPLUS).
            MailboxError: the folder may not be watched, does not exist, or the session
                failed (the checkpoint keeps what was committed before).
        """
        handled = self.events.count(WatchEvent.HANDLED)
        connection: ImapConnection | None = None
        try:
            try:
                connection = self._open()
            except _FatalError as fatal:
                raise fatal.error from fatal.error.__cause__
            self._drain(connection)
        finally:
            self._save_checkpoint()
            if connection is not None:
                connection.close()
        return self.events.count(WatchEvent.HANDLED) - handled

    def _backoff(self, failures: int) -> float:
        # Between half the doubled delay and all of it: never above backoff_max.
        return backoff(
            failures + 1,
            first=self.config.backoff_initial,
            cap=self.config.backoff_max,
            centre=0.75,
            jitter=0.25,
            draw=self._rng.random(),
        )

    # -- one session -----------------------------------------------------------------------

    def _open(self) -> ImapConnection:
        config = self.config
        connection = ImapConnection.connect(
            self.account, self._password, ssl_context=self._ssl_context
        )
        try:
            try:
                if not connection.has("MOVE"):
                    connection.require("UIDPLUS")
            except CapabilityError as exc:
                raise _FatalError(exc) from exc
            flags = connection.folder_flags(config.folder)
            if flags is None:
                raise _FatalError(MailboxError(f"folder {config.folder!r} does not exist"))
            for name in (config.folder, config.processed_folder, config.quarantine_folder):
                existing = flags if name == config.folder else connection.folder_flags(name)
                reason = folder_refusal(name, existing or ())
                if reason is not None:
                    raise _FatalError(MailboxError(f"mailbox {config.name}: {reason}"))
            connection.ensure_folder(config.processed_folder)
            connection.ensure_folder(config.quarantine_folder)
            state = connection.select(config.folder)
            self._sync_uidvalidity(state.uidvalidity)
        except BaseException:
            connection.close()
            raise
        logger.info(
            "IMAP watching %s (%s@%s:%d %s) uidvalidity=%d last_uid=%d idle=%s",
            config.name,
            self.account.username,
            self.account.host,
            self.account.port,
            config.folder,
            state.uidvalidity,
            self._floor,
            config.use_idle and connection.has("IDLE"),
        )
        if config.use_idle and not connection.has("IDLE") and not self._said_polling:
            self._said_polling = True  # said once, not at every reconnect
            logger.warning(
                "IMAP %s: the server does not offer IDLE (RFC 2177): polling every %.0f s",
                config.name,
                config.poll_interval,
            )
        self.events.fire(WatchEvent.CONNECTED)
        return connection

    def _sync_uidvalidity(self, uidvalidity: int) -> None:
        saved = self._checkpoint.load(self.config.name)
        if self._uidvalidity != uidvalidity:
            self._pending.clear()
            self._high = 0
        self._uidvalidity = uidvalidity
        if saved is None:
            self._floor = 0
        elif saved[0] != uidvalidity:
            logger.warning(
                "IMAP %s: UIDVALIDITY changed from %d to %d: re-scanning %s",
                self.config.name,
                saved[0],
                uidvalidity,
                self.config.folder,
            )
            self._floor = 0
            self._high = 0
            self._checkpoint.save(self.config.name, uidvalidity, 0)
            self.events.fire(WatchEvent.UIDVALIDITY_CHANGED)
            if self._on_uidvalidity_change is not None:
                self._on_uidvalidity_change(self.config.name, saved[0], uidvalidity)
        else:
            self._floor = saved[1]
        # Nothing saved yet: save (UIDVALIDITY, 0) at the first chance, so that a later
        # UIDVALIDITY change is recognised even before any message arrived.
        self._saved_floor = self._floor if saved is not None else -1

    def _serve(self, connection: ImapConnection) -> None:
        while not self._stop.is_set():
            self._drain(connection)
            if self._stop.is_set():
                return
            self._wait(connection)

    def _wait(self, connection: ImapConnection) -> None:
        timeout = self.config.poll_interval
        if self._pending:
            timeout = min(timeout, max(0.0, min(self._pending.values()) - self._clock()))
            if timeout <= 0:
                return  # a retry is due: drain again at once
        if not (self.config.use_idle and connection.has("IDLE")):
            self.events.tick(within=timeout)
            self._stop.wait(timeout)
            return
        deadline = time.monotonic() + min(timeout, self.config.idle_timeout)
        connection.idle_start()
        self.events.fire(WatchEvent.IDLE)
        try:
            while not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(remaining, self.config.wakeup_interval)
                self.events.tick(within=wait)
                result = connection.idle_wait(wait)
                if result.bye:
                    raise MailboxError("the server said BYE during IDLE")
                if result.changed or result.suspect:
                    break
        finally:
            # DONE before anything else (RFC 2177); on a dead connection this raises and
            # the loop reconnects.
            connection.idle_done()

    # -- fetching and handing over ---------------------------------------------------------

    def _drain(self, connection: ImapConnection) -> None:
        handed: set[int] = set()
        while not self._stop.is_set():
            connection.noop()
            uids = connection.uids_after(self._floor)
            present = set(uids)
            self._pending = {u: t for u, t in self._pending.items() if u in present}
            now = self._clock()
            due = [u for u in uids if u not in handed and self._pending.get(u, now) <= now]
            self.events.waiting = len(due)
            if not due:
                break
            batch_size = self.config.batch_size
            for start in range(0, len(due), batch_size):
                if self._stop.is_set():
                    break
                chunk = due[start : start + batch_size]
                handed.update(chunk)
                self._batch(connection, chunk)
        self.events.waiting = len(self._pending)
        self.events.fire(WatchEvent.POLLED)

    def _batch(self, connection: ImapConnection, uids: Sequence[int]) -> None:
        config = self.config
        meta = connection.fetch_meta(uids)
        bodies: dict[int, bytes] = {}
        moves: dict[str, list[int]] = {}
        count = 0
        try:
            for index, uid in enumerate(uids):
                if self._stop.is_set():
                    break  # the message in flight is finished; the rest waits
                info = meta.get(uid)
                oversized = info is not None and info.size > config.max_message_size
                raw: bytes | None
                if info is None:
                    raw = None
                elif oversized:
                    raw = connection.fetch_header(uid, config.header_limit) or b""
                else:
                    if uid not in bodies:
                        group = self._body_group(uids[index:], meta)
                        bodies = connection.fetch_bodies(group)
                    raw = bodies.pop(uid, None)
                if info is None or raw is None:
                    self._high = max(self._high, uid)  # vanished: someone else moved it
                    continue
                message = FetchedMessage(
                    mailbox=config.name,
                    uidvalidity=self._uidvalidity or 0,
                    uid=uid,
                    raw=raw,
                    size=info.size,
                    internal_date=info.internal_date,
                    oversized=oversized,
                )
                self.events.tick()
                self._apply(connection, message, self._call(message), moves)
                count += 1
        finally:
            try:
                self._flush_moves(connection, moves)
            finally:
                self._save_checkpoint()
                self.events.fire(WatchEvent.BATCH, batch_size=count)

    def _body_group(self, uids: Sequence[int], meta: dict[int, MessageMeta]) -> list[int]:
        # Bodies in one FETCH up to batch_bytes (always at least one message): memory stays
        # bounded whatever the mailbox holds.
        group: list[int] = []
        total = 0
        for uid in uids:
            info = meta.get(uid)
            if info is None or info.size > self.config.max_message_size:
                continue
            if group and total + info.size > self.config.batch_bytes:
                break
            group.append(uid)
            total += info.size
        return group

    def _call(self, message: FetchedMessage) -> Outcome:
        try:
            # Typed as object: a handler written without mypy may return anything.
            outcome: object = self._handler(message)
        except Exception as exc:
            logger.exception(
                "IMAP %s uid=%d: the handler raised; retrying later", message.mailbox, message.uid
            )
            return Outcome.retry(f"handler raised {exc!r}")
        if not isinstance(outcome, Outcome):
            logger.error(
                "IMAP %s: the handler returned %r, not an Outcome", message.mailbox, outcome
            )
            return Outcome.retry("handler returned no Outcome")
        return outcome

    def _apply(
        self,
        connection: ImapConnection,
        message: FetchedMessage,
        outcome: Outcome,
        moves: dict[str, list[int]],
    ) -> None:
        config, uid = self.config, message.uid
        if outcome.kind is OutcomeKind.RETRY:
            self._pending[uid] = self._clock() + config.retry_delay
            logger.info(
                "IMAP %s uid=%d left for retry in %.0f s: %s",
                config.name,
                uid,
                config.retry_delay,
                outcome.reason or "-",
            )
            self._high = max(self._high, uid)
            self.events.fire(WatchEvent.HANDLED)
            return
        quarantine = outcome.kind is OutcomeKind.QUARANTINE
        target = config.quarantine_folder if quarantine else config.processed_folder
        if quarantine and config.quarantine_keyword:
            try:
                connection.add_keyword(uid, config.quarantine_keyword)
            except MailboxError as exc:  # keywords are optional (PERMANENTFLAGS)
                logger.warning("IMAP %s uid=%d: keyword not set: %s", config.name, uid, exc)
        # Moved with the rest of the batch (one command per folder): the outcome is
        # committed already, and a crash before the MOVE only means a no-op re-run.
        moves.setdefault(target, []).append(uid)
        logger.info(
            "IMAP %s uid=%d to %s%s",
            config.name,
            uid,
            target,
            f" ({outcome.reason})" if quarantine else "",
        )

    def _flush_moves(self, connection: ImapConnection, moves: dict[str, list[int]]) -> None:
        while moves:
            target, uids = next(iter(moves.items()))
            connection.move_many(uids, target)
            del moves[target]
            logger.debug("IMAP %s: %d message(s) moved to %s", self.config.name, len(uids), target)
            self._high = max(self._high, *uids)
            for _uid in uids:
                self.events.fire(WatchEvent.HANDLED)

    def _save_checkpoint(self) -> None:
        if self._uidvalidity is None:
            return
        floor = max(self._floor, min(self._pending) - 1 if self._pending else self._high)
        self._floor = floor
        if floor == self._saved_floor:
            return
        try:
            self._checkpoint.save(self.config.name, self._uidvalidity, floor)
        except Exception:
            # Moved messages are gone from the folder: an older checkpoint only costs a
            # longer search after a restart.
            logger.exception("IMAP %s: saving the checkpoint failed", self.config.name)
            return
        self._saved_floor = floor
