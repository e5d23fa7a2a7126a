"""vtiger save → ``POST /hooks/vtiger`` → invitation accepted by the SMTP sink: latency.

Starts the fake vtiger (the replay server of the tests), a recording aiosmtpd sink and a
gateway as ``serve`` runs it (SQLite in a temporary folder, ``[http]`` on a free loopback
port, the hook on, the poll an hour away; see ``tests/crm_adapter/vtiger/hook_harness.py``).
Each round saves a new meeting with one contact in vtiger through the webservice, calls
the hook as the workflow would, and measures from just before the save until the sink has
accepted the invitation to that contact (the organizer's copy is not waited for).

Prints p50/p99/min/max. A benchmark, not a test: it asserts nothing. Usage::

    .venv/bin/python bench/hook_latency.py [--count 100] [--debounce 0s]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from invitegw.gateway.storage import open_store, upgrade
from tests.crm_adapter.vtiger.conftest import ACCESS_KEY, START, Seeder
from tests.crm_adapter.vtiger.hook_harness import HookedGateway
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock
from tests.fixtures.smtp_sink import ReceivedMessage, SmtpSink

TIMEOUT = 30.0


class Arrivals:
    """The sink's callback: when each recipient's message was accepted."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.cond = threading.Condition()

    def __call__(self, message: ReceivedMessage) -> None:
        now = time.perf_counter()
        with self.cond:
            for rcpt in message.rcpt_tos:
                self.at.setdefault(rcpt.lower(), now)
            self.cond.notify_all()

    def wait(self, address: str) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: address in self.at, TIMEOUT):
                raise SystemExit(f"no message to {address} within {TIMEOUT} s")
            return self.at[address]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--debounce", default="0s", help="[hooks] debounce (default 0s)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="invitegw-hook-bench-"))
    fake = FakeVtiger(clock=ManualClock(START), access_key=ACCESS_KEY)
    server = FakeVtigerServer(fake)
    sink = SmtpSink()
    sink.start()
    arrivals = Arrivals()
    sink.on_message = arrivals
    store = open_store(f"sqlite:///{folder / 'gateway.sqlite3'}")
    upgrade(store)
    gateway = HookedGateway(store, folder, sink.port, server.url, debounce=args.debounce)
    gateway.start()
    seed = Seeder(server.url, fake)
    samples: list[float] = []
    try:
        for n in range(args.count):
            address = f"guest{n}@example.org"
            contact = seed.contact("Guest", f"No{n}", address)
            start = time.perf_counter()
            meeting = seed.event(f"Meeting {n}", contacts=[contact])
            answer = gateway.post(meeting)
            if answer.status_code != 202:
                raise SystemExit(f"hook answered {answer.status_code}: {answer.text}")
            samples.append(arrivals.wait(address) - start)
    finally:
        seed.close()
        gateway.close()
        store.dispose()
        sink.stop()
        server.close()
    ms = [s * 1000 for s in samples]
    print(
        f"vtiger save -> hook -> SMTP sink accepted, {len(ms)} meetings, debounce {args.debounce}"
    )
    print(
        f"p50 {statistics.median(ms):.1f} ms  p99 {pct(ms, 0.99):.1f} ms  "
        f"min {min(ms):.1f} ms  max {max(ms):.1f} ms"
    )


if __name__ == "__main__":
    main()
