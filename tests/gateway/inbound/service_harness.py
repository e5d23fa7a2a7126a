"""What the inbound service tests share: settings for a Dovecot account, a named fake pipeline.

:class:`RecordingPipeline` is a test-only double of ``InboundPipeline`` for the plumbing
tests (leases, the spool worker, ``serve --once``): it records what it was handed and
answers with a result chosen by the message's subject. The end-to-end tests use the real
pipeline.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from invitegw.errors import CrmUnavailableError
from invitegw.gateway.bootstrap import Gateway, build_gateway
from invitegw.gateway.config import (
    CalendarSettings,
    ListenerSettings,
    MailboxSettings,
    Settings,
    SmtpSettings,
    TlsMode,
    WorkerSettings,
)
from invitegw.gateway.config.fields import Secret
from invitegw.gateway.inbound.model import (
    EventResult,
    InboundOutcome,
    MessageResult,
    ReceivedMessage,
)
from invitegw.gateway.storage import Store
from tests.fixtures.dovecot import DovecotServer, ImapUser

# The most an event (a committed result, a MOVE) may take. Longer than the watcher's 30 s
# safety-net poll (mailbox_settings), so a message the IDLE push did not announce in time
# on a loaded machine (seen once in a CI run with both cores busy) is still seen; a test
# that passes returns as soon as the event happens, so the bound costs nothing then.
WAIT = 45.0
_SUBJECT = re.compile(rb"^Subject: (.*)$", re.MULTILINE)


def mail(n: int, subject: str = "Invitation", message_id: str | None = None) -> bytes:
    """A small message of our own, CRLF throughout."""
    mid = message_id or f"svc-{n}-{time.monotonic_ns()}@example.org"
    return (
        f"From: Organizer <organizer@example.org>\r\n"
        f"To: crm@example.com\r\n"
        f"Subject: {subject} {n}\r\n"
        f"Message-ID: <{mid}>\r\n"
        f"\r\n"
        f"Body of message {n}.\r\n"
    ).encode()


def subject(raw: bytes) -> str:
    """The Subject header's text."""
    match = _SUBJECT.search(raw)
    return match.group(1).decode().strip() if match else ""


class RecordingPipeline:
    """A FAKE pipeline (test-only): records messages; the subject picks the answer.

    ``Quarantine …`` → quarantined with a reason; ``Flaky …`` → ``CrmUnavailableError``
    the first ``failures`` times; anything else → one ``created`` event.
    """

    def __init__(self, *, failures: int = 1) -> None:
        self.calls: list[ReceivedMessage] = []
        self._failures = failures
        self._failed: dict[str, int] = {}
        self._cond = threading.Condition()
        self.callback: Callable[[ReceivedMessage], None] | None = None

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        text = subject(message.raw)
        if text.startswith("Flaky") and self._failed.get(text, 0) < self._failures:
            self._failed[text] = self._failed.get(text, 0) + 1
            raise CrmUnavailableError("the CRM is down")
        if self.callback is not None:
            self.callback(message)
        with self._cond:
            self.calls.append(message)
            self._cond.notify_all()
        if text.startswith("Quarantine"):
            event = EventResult(InboundOutcome.QUARANTINED, reason="no calendar object")
            return MessageResult(message_id=text, events=(event,), quarantine_id=1)
        return MessageResult(message_id=text, events=(EventResult(InboundOutcome.CREATED),))

    def wait_for(self, count: int, timeout: float = WAIT) -> list[ReceivedMessage]:
        """The calls once there are ``count`` of them (fails past the deadline)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.calls) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"pipeline got {len(self.calls)} of {count} messages"
                self._cond.wait(remaining)
            return list(self.calls)

    def subjects(self) -> list[str]:
        with self._cond:
            return [subject(m.raw) for m in self.calls]


class ManualClock:
    """The injected clock: stands still until moved."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = now or dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self.now += delta
        return self.now


def mailbox_settings(dovecot: DovecotServer, user: ImapUser, **changes: object) -> MailboxSettings:
    """``[[mailboxes]]`` ``sales`` on the test Dovecot (plain, loopback)."""
    values: dict[str, object] = {
        "name": "sales",
        "host": dovecot.host,
        "port": dovecot.port,
        "username": user.name,
        "owner": "olga@example.com",
        "tls": TlsMode.NONE,
        "password": Secret(user.password),
        "poll_interval": dt.timedelta(seconds=30),
    }
    values.update(changes)
    return MailboxSettings(**values)  # type: ignore[arg-type]


def inbound_settings(
    data_dir: Path,
    *,
    mailboxes: tuple[MailboxSettings, ...] = (),
    listener: ListenerSettings | None = None,
    worker: str = "w1",
    smtp_port: int = 25,
) -> Settings:
    """Settings with calendar ``sales``, short leases, and the given sources."""
    return Settings(
        data_dir=data_dir,
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_port),
        calendars=(
            CalendarSettings(name="sales", address="sales@example.com", time_zone="Europe/Warsaw"),
        ),
        mailboxes=mailboxes,
        listener=listener or ListenerSettings(),
        worker=WorkerSettings(
            id=worker,
            lease_duration=dt.timedelta(seconds=5),
            heartbeat=dt.timedelta(seconds=1),
        ),
    )


def gateway_for(store: Store, settings: Settings, clock: ManualClock | None = None) -> Gateway:
    """The gateway on the test's database."""
    return build_gateway(settings, store=store, clock=clock)
