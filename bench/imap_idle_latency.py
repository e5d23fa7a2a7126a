"""APPEND → handler latency of the IMAP watcher while it IDLEs, beside Dovecot's own floor.

Starts a private Dovecot on loopback (the test fixture's server class, installing
``dovecot-imapd`` when missing), then alternates two measurements per round:

- **watcher**: an :class:`~invitegw.mailbox.transport.imap_watch.ImapWatcher` IDLEs on
  account A; the time from just before an APPEND to A until the handler is called with that message;
- **raw floor**: a bare ``imapclient`` IDLE on account B; the time from just before an
  APPEND to B until the EXISTS push arrives. Dovecot notices new mail through inotify plus
  ``mailbox_idle_check_interval``, so this floor is Dovecot's, not ours.

Prints p50/p99/min/max of both and the watcher's overhead. A benchmark, not a test: it
asserts nothing. Usage::

    .venv/bin/python bench/imap_idle_latency.py [--count 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imapclient import IMAPClient

from invitegw.mailbox.transport.imap_client import ImapAccount, ImapSecurity
from invitegw.mailbox.transport.imap_values import (
    FetchedMessage,
    MemoryCheckpoint,
    Outcome,
    WatchConfig,
    WatchEvent,
)
from invitegw.mailbox.transport.imap_watch import ImapWatcher
from tests.fixtures.dovecot import DovecotServer, ensure_dovecot

TIMEOUT = 30.0


def message(n: int) -> bytes:
    return (
        f"From: Organizer <organizer@example.org>\r\n"
        f"To: gateway@example.test\r\n"
        f"Subject: Latency probe {n}\r\n"
        f"Message-ID: <probe-{n}@example.org>\r\n"
        f"\r\n"
        f"Probe {n}.\r\n"
    ).encode()


class Recorder:
    """The watcher's handler: notes when each probe arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[int, float] = {}
        self._cond = threading.Condition()

    def __call__(self, fetched: FetchedMessage) -> Outcome:
        now = time.perf_counter()
        n = int(fetched.raw.split(b"Latency probe ", 1)[1].split(b"\r\n", 1)[0])
        with self._cond:
            self.arrivals[n] = now
            self._cond.notify_all()
        return Outcome.processed()

    def wait(self, n: int) -> float:
        deadline = time.monotonic() + TIMEOUT
        with self._cond:
            while n not in self.arrivals:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"probe {n} never reached the handler")
                self._cond.wait(remaining)
            return self.arrivals[n]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def describe(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{label:<22} p50 {percentile(ms, 0.5):7.1f} ms   p99 {percentile(ms, 0.99):7.1f} ms"
        f"   min {min(ms):7.1f} ms   max {max(ms):7.1f} ms   mean {statistics.fmean(ms):7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=200, help="probes per measurement")
    args = parser.parse_args()

    server = DovecotServer(ensure_dovecot())
    server.start()
    try:
        return run(server, args.count)
    finally:
        server.cleanup()


def run(server: DovecotServer, count: int) -> int:
    watched, raw_user = server.add_user(), server.add_user()
    recorder = Recorder()
    watcher = ImapWatcher(
        ImapAccount(server.host, watched.name, port=server.port, security=ImapSecurity.PLAIN),
        watched.password,
        WatchConfig(name="bench", wakeup_interval=0.05),
        recorder,
        MemoryCheckpoint(),
    )
    appender = IMAPClient(server.host, port=server.port, ssl=False)
    appender.login(watched.name, watched.password)
    raw_appender = IMAPClient(server.host, port=server.port, ssl=False)
    raw_appender.login(raw_user.name, raw_user.password)
    idler = IMAPClient(server.host, port=server.port, ssl=False)
    idler.login(raw_user.name, raw_user.password)
    idler.select_folder("INBOX")

    watcher_latency: list[float] = []
    raw_latency: list[float] = []
    watcher.start()
    try:
        for n in range(count):
            # Watcher: wait until it is back in IDLE, then APPEND and time the hand-over.
            if n == 0:
                watcher.events.wait_for(WatchEvent.IDLE, 1, TIMEOUT)
            idles = watcher.events.count(WatchEvent.IDLE)
            started = time.perf_counter()
            appender.append("INBOX", message(n))
            watcher_latency.append(recorder.wait(n) - started)
            watcher.events.wait_for(WatchEvent.IDLE, idles + 1, TIMEOUT)

            # Raw floor: a bare IDLE sees the EXISTS push for an APPEND to its own folder.
            idler.idle()
            started = time.perf_counter()
            raw_appender.append("INBOX", message(n))
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                responses = idler.idle_check(timeout=1.0)
                if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                    raw_latency.append(time.perf_counter() - started)
                    break
            idler.idle_done()
    finally:
        watcher.stop()
        for client in (appender, raw_appender, idler):
            client.logout()

    print(f"IMAP APPEND -> delivery while IDLE, {count} probes each, Dovecot {server.version}")
    print(describe("watcher -> handler", watcher_latency))
    print(describe("raw IDLE push (floor)", raw_latency))
    overhead = percentile(watcher_latency, 0.5) - percentile(raw_latency, 0.5)
    print(f"watcher overhead over the floor at p50: {overhead * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
