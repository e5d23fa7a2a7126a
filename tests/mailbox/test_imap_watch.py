"""The IMAP watcher against a real private Dovecot (tests/fixtures/dovecot.py).

Every test gets a fresh account, so no test sees another's mail. The tests wait on the
watcher's events and the handler's records (conditions with deadlines), never on sleeps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from imapclient import DELETED

from invitegw.errors import CapabilityError, MailboxError
from invitegw.mailbox.transport.imap_client import ImapAccount, ImapSecurity
from invitegw.mailbox.transport.imap_values import (
    FetchedMessage,
    MemoryCheckpoint,
    Outcome,
    WatchConfig,
    WatchEvent,
)
from invitegw.mailbox.transport.imap_watch import ImapWatcher
from tests.fixtures.dovecot import DovecotServer, ImapUser

pytestmark = pytest.mark.dovecot

WAIT = 15.0


def mail(n: int, subject: str = "Invitation", body: bytes = b"") -> bytes:
    """A small message of our own, CRLF throughout."""
    return (
        f"From: Organizer <organizer@example.org>\r\n"
        f"To: gateway@example.test\r\n"
        f"Subject: {subject} {n}\r\n"
        f"Message-ID: <watch-{n}-{time.monotonic_ns()}@example.org>\r\n"
        f"\r\n"
        f"Body of message {n}.\r\n"
    ).encode() + body


class Handler:
    """A real handler that records what it was given; ``decide`` picks the outcome."""

    def __init__(self, decide: Callable[[FetchedMessage], Outcome] | None = None) -> None:
        self.calls: list[FetchedMessage] = []
        self._cond = threading.Condition()
        self._decide = decide or (lambda _m: Outcome.processed())

    def __call__(self, message: FetchedMessage) -> Outcome:
        outcome = self._decide(message)
        with self._cond:
            self.calls.append(message)
            self._cond.notify_all()
        return outcome

    def wait_for(self, count: int, timeout: float = WAIT) -> list[FetchedMessage]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.calls) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"handler got {len(self.calls)} of {count} messages"
                self._cond.wait(remaining)
            return list(self.calls)

    def subjects(self) -> list[bytes]:
        with self._cond:
            return [_subject(m.raw) for m in self.calls]


def _subject(raw: bytes) -> bytes:
    for line in raw.split(b"\r\n"):
        if line.startswith(b"Subject: "):
            return line[len(b"Subject: ") :]
    return b""


def account_for(server: DovecotServer, user: ImapUser, **kwargs: Any) -> ImapAccount:
    kwargs.setdefault("port", server.port)
    kwargs.setdefault("security", ImapSecurity.PLAIN)
    return ImapAccount(server.host, user.name, timeout=10, **kwargs)


def config_for(user: ImapUser, **overrides: Any) -> WatchConfig:
    values: dict[str, Any] = {
        "name": f"mbx-{user.name}",
        "wakeup_interval": 0.05,
        "backoff_initial": 0.05,
        "backoff_max": 0.5,
        "poll_interval": 60.0,
        "retry_delay": 60.0,
    }
    values.update(overrides)
    return WatchConfig(**values)


@pytest.fixture
def make_watcher(
    dovecot: DovecotServer, imap_user: ImapUser
) -> Iterator[Callable[..., ImapWatcher]]:
    """Factory for watchers on ``imap_user``; every watcher is stopped at the end."""
    watchers: list[ImapWatcher] = []

    def make(
        handler: Handler,
        *,
        checkpoint: MemoryCheckpoint | None = None,
        server: DovecotServer = dovecot,
        user: ImapUser = imap_user,
        account: ImapAccount | None = None,
        start: bool = True,
        watcher_kwargs: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> ImapWatcher:
        watcher = ImapWatcher(
            account or account_for(server, user),
            user.password,
            config_for(user, **overrides),
            handler,
            checkpoint if checkpoint is not None else MemoryCheckpoint(),
            **(watcher_kwargs or {}),
        )
        watchers.append(watcher)
        if start:
            watcher.start()
        return watcher

    yield make
    for watcher in watchers:
        watcher.stop(timeout=WAIT)
        assert not watcher.running, f"{watcher!r} did not stop"


def wait_event(watcher: ImapWatcher, event: WatchEvent, count: int = 1) -> None:
    assert watcher.events.wait_for(event, count, WAIT), (
        f"{event} x{count} not seen (error: {watcher.error})"
    )


def test_messages_appended_while_idle_are_handed_over_and_moved(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    handler = Handler()
    checkpoint = MemoryCheckpoint()
    watcher = make_watcher(handler, checkpoint=checkpoint)
    wait_event(watcher, WatchEvent.IDLE)
    sent = [mail(n) for n in range(3)]
    uids = [dovecot.append(imap_user, raw) for raw in sent]
    calls = handler.wait_for(3)
    wait_event(watcher, WatchEvent.HANDLED, 3)
    assert [c.raw for c in calls] == sent
    assert [c.uid for c in calls] == uids
    uidvalidity = dovecot.uidvalidity(imap_user)
    assert {c.uidvalidity for c in calls} == {uidvalidity}
    assert all(c.size == len(c.raw) and not c.oversized for c in calls)
    assert all(c.internal_date is not None and c.internal_date.tzinfo for c in calls)
    assert dovecot.uids(imap_user) == []
    assert sorted(dovecot.messages(imap_user, "Processed").values()) == sorted(sent)
    wait_event(watcher, WatchEvent.BATCH, 1)
    assert checkpoint.load(watcher.config.name) == (uidvalidity, uids[-1])


def test_messages_already_there_are_handled_at_start_and_folders_created(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    dovecot.append(imap_user, mail(1))
    assert "Gateway/Done" not in dovecot.list_folders(imap_user)
    handler = Handler()
    watcher = make_watcher(
        handler, processed_folder="Gateway/Done", quarantine_folder="Gateway/Held"
    )
    handler.wait_for(1)
    wait_event(watcher, WatchEvent.HANDLED)
    folders = dovecot.list_folders(imap_user)
    assert {"Gateway/Done", "Gateway/Held"} <= set(folders)
    assert len(dovecot.uids(imap_user, "Gateway/Done")) == 1


def test_quarantine_moves_to_the_quarantine_folder_with_a_keyword(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    handler = Handler(lambda m: Outcome.quarantine("spoofed CANCEL"))
    watcher = make_watcher(handler)
    wait_event(watcher, WatchEvent.IDLE)
    dovecot.append(imap_user, mail(1))
    handler.wait_for(1)
    wait_event(watcher, WatchEvent.HANDLED)
    assert dovecot.uids(imap_user) == []
    assert dovecot.uids(imap_user, "Processed") == []
    (flags,) = dovecot.flags(imap_user, "Quarantine").values()
    assert b"$InvitegwQuarantine" in flags


def test_retry_leaves_the_message_until_the_delay_has_passed(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    now = [1000.0]
    crm_up = threading.Event()

    def decide(message: FetchedMessage) -> Outcome:
        if b"retry-me" in message.raw and not crm_up.is_set():
            return Outcome.retry("CRM unavailable")
        return Outcome.processed()

    handler = Handler(decide)
    checkpoint = MemoryCheckpoint()
    watcher = make_watcher(
        handler, checkpoint=checkpoint, retry_delay=30.0, watcher_kwargs={"clock": lambda: now[0]}
    )
    wait_event(watcher, WatchEvent.IDLE)
    stuck = dovecot.append(imap_user, mail(1, "retry-me"))
    handler.wait_for(1)
    wait_event(watcher, WatchEvent.HANDLED, 1)
    assert dovecot.uids(imap_user) == [stuck]

    # New mail wakes the watcher, but the retry is not due yet (the injected clock).
    idle_before = watcher.events.count(WatchEvent.IDLE)
    dovecot.append(imap_user, mail(2))
    handler.wait_for(2)
    wait_event(watcher, WatchEvent.IDLE, idle_before + 1)
    assert handler.subjects() == [b"retry-me 1", b"Invitation 2"]
    assert dovecot.uids(imap_user) == [stuck]
    uidvalidity = handler.calls[0].uidvalidity
    assert checkpoint.load(watcher.config.name) == (uidvalidity, stuck - 1)

    # Once due, the next drain hands it over again; now it commits and moves.
    crm_up.set()
    now[0] += 31.0
    dovecot.append(imap_user, mail(3))
    handler.wait_for(4)
    assert sorted(handler.subjects()[2:]) == [b"Invitation 3", b"retry-me 1"]
    wait_event(watcher, WatchEvent.HANDLED, 4)
    assert dovecot.uids(imap_user) == []


def test_restart_resumes_from_the_checkpoint(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    # Two messages already handled by an earlier run (still in the folder, as after a
    # crash between the commit and the MOVE of a gateway whose checkpoint had advanced).
    first = [dovecot.append(imap_user, mail(n)) for n in (1, 2)]
    checkpoint = MemoryCheckpoint()
    name = config_for(imap_user).name
    checkpoint.save(name, dovecot.uidvalidity(imap_user), first[-1])
    handler = Handler()
    watcher = make_watcher(handler, checkpoint=checkpoint)
    wait_event(watcher, WatchEvent.IDLE)
    assert handler.calls == []
    new = dovecot.append(imap_user, mail(3))
    assert [c.uid for c in handler.wait_for(1)] == [new]
    watcher.stop(timeout=WAIT)
    assert watcher.events.count(WatchEvent.STOPPED) == 1

    # A second run with the same checkpoint hands over exactly what arrived meanwhile.
    later = dovecot.append(imap_user, mail(4))
    handler2 = Handler()
    watcher2 = make_watcher(handler2, checkpoint=checkpoint)
    wait_event(watcher2, WatchEvent.IDLE)
    assert [c.uid for c in handler2.wait_for(1)] == [later]
    assert len(handler.calls) == 1
    assert dovecot.uids(imap_user) == first


def test_dovecot_restart_while_idle_reconnects_and_misses_nothing(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    handler = Handler()
    watcher = make_watcher(handler)
    wait_event(watcher, WatchEvent.IDLE)
    dovecot.append(imap_user, mail(1))
    handler.wait_for(1)
    # Moved (a restart before the MOVE would hand it over again: handled at least once).
    wait_event(watcher, WatchEvent.HANDLED)
    dovecot.restart()
    # Appended before the watcher is back: found by the drain that follows the reconnect.
    dovecot.append(imap_user, mail(2))
    handler.wait_for(2)
    wait_event(watcher, WatchEvent.CONNECTED, 2)
    assert watcher.events.count(WatchEvent.DISCONNECTED) >= 1
    dovecot.append(imap_user, mail(3))
    handler.wait_for(3)
    assert handler.subjects() == [b"Invitation 1", b"Invitation 2", b"Invitation 3"]
    wait_event(watcher, WatchEvent.HANDLED, 3)
    assert dovecot.uids(imap_user) == []
    assert len(dovecot.uids(imap_user, "Processed")) == 3


def test_uidvalidity_change_rescans_and_is_reported(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    for n in (1, 2):
        dovecot.append(imap_user, mail(n))
    checkpoint = MemoryCheckpoint()
    name = config_for(imap_user).name
    # The earlier run had seen everything up to UID 99 under the old UIDVALIDITY.
    checkpoint.save(name, dovecot.uidvalidity(imap_user), 99)
    old, new = dovecot.reset_uidvalidity(imap_user)
    reports: list[tuple[str, int, int]] = []
    handler = Handler()
    watcher = make_watcher(
        handler,
        checkpoint=checkpoint,
        watcher_kwargs={"on_uidvalidity_change": lambda *a: reports.append(a)},
    )
    calls = handler.wait_for(2)
    assert reports == [(name, old, new)]
    assert watcher.events.count(WatchEvent.UIDVALIDITY_CHANGED) == 1
    assert {c.uidvalidity for c in calls} == {new}
    wait_event(watcher, WatchEvent.BATCH)
    assert checkpoint.load(name) == (new, max(c.uid for c in calls))


@pytest.mark.parametrize("folder", ["Sent", "Trash", "Drafts", "Junk"])
def test_special_use_folders_are_never_watched(
    make_watcher: Callable[..., ImapWatcher], folder: str
) -> None:
    watcher = make_watcher(Handler(), folder=folder, start=False)
    with pytest.raises(MailboxError, match="never watched"):
        watcher.run()


def test_folders_named_like_trash_are_refused_and_missing_ones_too(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    dovecot.create_folder(imap_user, "Deleted Items")
    watcher = make_watcher(Handler(), folder="Deleted Items", start=False)
    with pytest.raises(MailboxError, match="never watched"):
        watcher.run()
    watcher = make_watcher(Handler(), processed_folder="Trash", start=False)
    with pytest.raises(MailboxError, match="Trash"):
        watcher.run()
    watcher = make_watcher(Handler(), folder="Nowhere", start=False)
    with pytest.raises(MailboxError, match="does not exist"):
        watcher.run()


def test_without_move_it_copies_and_expunges_only_that_uid(
    dovecot_nomove: DovecotServer, make_watcher: Callable[..., ImapWatcher]
) -> None:
    user = dovecot_nomove.add_user()
    # Someone else marked a message \Deleted: a plain EXPUNGE would destroy it.
    keep = dovecot_nomove.append(user, mail(1, "marked by a person"), flags=[DELETED])
    handler = Handler()
    watcher = make_watcher(handler, server=dovecot_nomove, user=user)
    wait_event(watcher, WatchEvent.IDLE)
    dovecot_nomove.append(user, mail(2))
    handler.wait_for(1)
    wait_event(watcher, WatchEvent.HANDLED)
    assert handler.subjects() == [b"Invitation 2"]
    assert dovecot_nomove.uids(user) == [keep]
    assert len(dovecot_nomove.uids(user, "Processed")) == 1
    (moved_flags,) = dovecot_nomove.flags(user, "Processed").values()
    assert DELETED not in moved_flags


def test_batches_are_bounded(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    for n in range(7):
        dovecot.append(imap_user, mail(n))
    handler = Handler()
    watcher = make_watcher(handler, batch_size=3, batch_bytes=400)
    handler.wait_for(7)
    wait_event(watcher, WatchEvent.HANDLED, 7)
    sizes = [s for s in watcher.events.batch_sizes if s]
    assert sizes == [3, 3, 1]
    assert handler.subjects() == [f"Invitation {n}".encode() for n in range(7)]


def test_oversized_message_is_handed_over_with_its_header_only(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    big = mail(1, body=b"x" * 5000 + b"\r\n")
    dovecot.append(imap_user, big)
    dovecot.append(imap_user, mail(2))
    handler = Handler(
        lambda m: Outcome.quarantine("message too large") if m.oversized else Outcome.processed()
    )
    watcher = make_watcher(handler, max_message_size=2000)
    first, second = handler.wait_for(2)
    assert first.oversized
    assert first.size == len(big)
    assert big.startswith(first.raw)
    assert first.raw.endswith(b"\r\n\r\n")
    assert b"xxxx" not in first.raw
    assert not second.oversized
    wait_event(watcher, WatchEvent.HANDLED, 2)
    assert list(dovecot.messages(imap_user, "Quarantine").values()) == [big]


def test_stop_finishes_the_message_in_flight(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    uids = [dovecot.append(imap_user, mail(n)) for n in range(3)]
    entered, release = threading.Event(), threading.Event()

    def slow(message: FetchedMessage) -> Outcome:
        entered.set()
        assert release.wait(WAIT)
        return Outcome.processed()

    checkpoint = MemoryCheckpoint()
    handler = Handler(slow)
    watcher = make_watcher(handler, checkpoint=checkpoint)
    assert entered.wait(WAIT)
    stopper = threading.Thread(target=watcher.stop, kwargs={"timeout": WAIT})
    stopper.start()
    release.set()
    stopper.join(WAIT)
    assert not watcher.running
    assert len(handler.calls) == 1
    assert dovecot.uids(imap_user) == uids[1:]
    assert checkpoint.load(watcher.config.name) == (handler.calls[0].uidvalidity, uids[0])


def test_a_raising_handler_means_retry(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    def broken(message: FetchedMessage) -> Outcome:
        raise RuntimeError("database is locked")

    handler = Handler(broken)
    watcher = make_watcher(handler)
    uid = dovecot.append(imap_user, mail(1))
    wait_event(watcher, WatchEvent.HANDLED)
    wait_event(watcher, WatchEvent.IDLE)
    assert watcher.running
    assert dovecot.uids(imap_user) == [uid]


def test_idle_is_reissued(make_watcher: Callable[..., ImapWatcher]) -> None:
    watcher = make_watcher(Handler(), idle_timeout=0.2)
    wait_event(watcher, WatchEvent.IDLE, 3)
    assert watcher.events.count(WatchEvent.POLLED) >= 3


def test_polling_when_idle_is_off(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    handler = Handler()
    watcher = make_watcher(handler, use_idle=False, poll_interval=0.2)
    wait_event(watcher, WatchEvent.POLLED)
    dovecot.append(imap_user, mail(1))
    handler.wait_for(1)
    assert watcher.events.count(WatchEvent.IDLE) == 0


def test_wrong_password_retries_with_backoff(
    dovecot: DovecotServer, imap_user: ImapUser, make_watcher: Callable[..., ImapWatcher]
) -> None:
    from tests.fixtures.dovecot import ImapUser as User

    wrong = User(imap_user.name, "not-the-password")
    watcher = make_watcher(Handler(), user=wrong)
    wait_event(watcher, WatchEvent.DISCONNECTED, 3)
    assert watcher.running
    assert watcher.error is None


@pytest.mark.parametrize("security", [ImapSecurity.TLS, ImapSecurity.STARTTLS])
def test_tls_and_starttls(
    dovecot: DovecotServer,
    imap_user: ImapUser,
    make_watcher: Callable[..., ImapWatcher],
    security: ImapSecurity,
) -> None:
    port = dovecot.tls_port if security is ImapSecurity.TLS else dovecot.port
    account = account_for(dovecot, imap_user, port=port, security=security)
    handler = Handler()
    make_watcher(handler, account=account, watcher_kwargs={"ssl_context": dovecot.client_context()})
    dovecot.append(imap_user, mail(1))
    assert len(handler.wait_for(1)) == 1


def test_untrusted_certificate_is_a_mailbox_error(
    dovecot: DovecotServer, imap_user: ImapUser
) -> None:
    from invitegw.mailbox.transport.imap_client import ImapConnection

    account = account_for(dovecot, imap_user, port=dovecot.tls_port, security=ImapSecurity.TLS)
    with pytest.raises(MailboxError, match=r"TLS|certificate"):
        ImapConnection.connect(account, imap_user.password)


def test_capability_gate(dovecot: DovecotServer, imap_user: ImapUser) -> None:
    from invitegw.mailbox.transport.imap_client import ImapConnection

    connection = ImapConnection.connect(account_for(dovecot, imap_user), imap_user.password)
    try:
        connection.require("IDLE", "UIDPLUS", "MOVE")
        with pytest.raises(CapabilityError, match="X-NOT-THERE"):
            connection.require("IDLE", "X-NOT-THERE")
    finally:
        connection.close()
