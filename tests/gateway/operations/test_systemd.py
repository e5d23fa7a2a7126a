"""systemd's notify protocol against a socket the test owns (``$NOTIFY_SOCKET``).

READY/STATUS/STOPPING from a real ``invitegw serve`` process; the watchdog pinged while
the loops move, and no longer once an IMAP watcher is stuck in its handler (a pipeline
that blocks on purpose), then again once it is released.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from invitegw.gateway.inbound.model import (
    EventResult,
    InboundOutcome,
    MessageResult,
    ReceivedMessage,
)
from invitegw.gateway.storage import Store
from invitegw.gateway.systemd import Notifier, watchdog_interval
from tests.fixtures.dovecot import DovecotServer
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.inbound.service_harness import mail
from tests.gateway.operations.harness import (
    WAIT,
    Deployment,
    config_text,
    private_dovecot,
    private_dovecot_server,
)

__all__ = ["private_dovecot", "private_dovecot_server"]


class NotifySocket:
    """The test's end of ``$NOTIFY_SOCKET``: a datagram socket in a short /tmp path."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="igw-sd-", dir="/tmp")
        self.path = os.path.join(self.folder, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.seen: list[str] = []

    def next(self, timeout: float) -> str | None:
        """The next datagram, or None when none came within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096).decode()
        except TimeoutError:
            return None
        self.seen.append(data)
        return data

    def wait_for(self, needle: str, timeout: float = WAIT) -> str:
        """The first datagram containing ``needle`` (fails past the deadline)."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            data = self.next(remaining)
            if data is not None and needle in data:
                return data
        raise AssertionError(f"no {needle!r} within {timeout} s; got {self.seen[-5:]}")

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    made = NotifySocket()
    try:
        yield made
    finally:
        made.close()


def test_notifier_speaks_to_path_and_abstract_sockets(notify: NotifySocket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": notify.path})
    assert notifier.ready("serving as w1")
    assert notify.wait_for("READY=1") == "READY=1\nSTATUS=serving as w1"
    notifier.close()

    name = f"igw-test-{os.getpid()}-{time.monotonic_ns()}"
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    abstract.bind("\0" + name)
    try:
        other = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert other.stopping()
        abstract.settimeout(WAIT)
        assert abstract.recv(100) == b"STOPPING=1\nSTATUS=stopping"
        other.close()
    finally:
        abstract.close()
    assert not Notifier({}).enabled
    assert not Notifier({}).ready()


def test_watchdog_interval_follows_the_environment() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    mine = {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(mine) == 0.5
    assert watchdog_interval({}) is None


class BlockingPipeline:
    """A FAKE pipeline (test-only): blocks on the first message until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        self.entered.set()
        assert self.release.wait(2 * WAIT), "the test never released the pipeline"
        return MessageResult(message_id="x", events=(EventResult(InboundOutcome.IGNORED),))


@pytest.mark.dovecot
def test_a_stuck_watcher_stops_the_watchdog_pings(
    store: Store,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    private_dovecot: DovecotServer,
    notify: NotifySocket,
) -> None:
    pipeline = BlockingPipeline()
    env = {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"}  # a ping every 0.2 s
    deployment = Deployment(
        store,
        tmp_path,
        smtp_port=smtp_sink.port,
        dovecot=private_dovecot,
        env=env,
        stall="1s",
        pipeline=pipeline,
    )
    try:
        deployment.start()
        deployment.ops.ready()
        notify.wait_for("READY=1")
        notify.wait_for("WATCHDOG=1")
        notify.wait_for("WATCHDOG=1")

        assert deployment.user is not None
        private_dovecot.append(deployment.user, mail(1))
        assert pipeline.entered.wait(WAIT)
        stuck = notify.wait_for("STATUS=stuck")
        assert "imap-watcher:sales" in stuck
        # Stuck: no ping for several intervals (the absence of a datagram is what is tested).
        quiet_until = time.monotonic() + 1.0
        while (left := quiet_until - time.monotonic()) > 0:
            data = notify.next(left)
            assert data is None or "WATCHDOG=1" not in data, data
        assert deployment.ops.watchdog is not None
        assert deployment.ops.watchdog.withheld >= 3

        pipeline.release.set()
        notify.wait_for("STATUS=serving")
        notify.wait_for("WATCHDOG=1")
    finally:
        pipeline.release.set()
        deployment.close()
    notify.wait_for("STOPPING=1")


def test_serve_says_ready_pings_and_says_stopping(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path, notify: NotifySocket
) -> None:
    config = tmp_path / "invitegw.toml"
    config.write_text(config_text(store, tmp_path / "data", smtp_port=smtp_sink.port))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("INVITEGW_")},
        "NOTIFY_SOCKET": notify.path,
        "WATCHDOG_USEC": "1000000",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "invitegw", "--config", str(config), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        ready = notify.wait_for("READY=1", timeout=180)
        assert "STATUS=serving as worker-1" in ready
        notify.wait_for("WATCHDOG=1")
        proc.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1")
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
    assert b"Traceback" not in err
