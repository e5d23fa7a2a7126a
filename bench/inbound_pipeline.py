"""``InboundPipeline.handle`` alone: milliseconds per message, statements, a profile.

No IMAP: the same generated invitations as ``bench/inbound.py`` (40 % Outlook, 30 % Google,
30 % staff forwards; every one a new meeting from a known contact) are handed straight to
the pipeline, as the watcher would (mailbox ``bench``, UIDVALIDITY 1, UID n), against the
built-in CRM on a fresh SQLite file (or the database ``--url`` names). Prints the time per
message and the SQL statements per message; ``--profile`` prints a pyinstrument profile
(``pip install pyinstrument``). A benchmark, not a test: it asserts nothing. Usage::

    .venv/bin/python bench/inbound_pipeline.py [--messages 1000] [--profile] [--url URL]
    .venv/bin/python bench/inbound_pipeline.py --ops   # metrics and JSON logs off vs on

``--ops`` alternates blocks of 25 messages (off-on, on-off, ...) as ``serve`` runs by
default (text log lines at INFO, no metrics) and with metrics and JSON log lines
(``ObservedPipeline``, ``bench/opsmode.py``), and prints the median time per message of
each: alternating blocks share whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from bench.inbound import OWNER, gateway_for, invitations, settings_for
from bench.opsmode import json_logs
from invitegw.gateway.bootstrap import inbound_pipeline
from invitegw.gateway.config import DatabaseSettings
from invitegw.gateway.inbound.model import ReceivedMessage, SourcePosition
from invitegw.gateway.inbound.pipeline import InboundPipeline
from invitegw.gateway.metrics import Instruments, ObservedPipeline
from tests.fixtures.dovecot import ImapUser


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--url", help="a database URL instead of a fresh SQLite file")
    parser.add_argument("--ops", action="store_true", help="off vs on: metrics and JSON logs")
    args = parser.parse_args()
    messages = invitations(args.messages + args.warmup)
    with tempfile.TemporaryDirectory() as folder:
        extra: dict[str, object] = {}
        if args.url:
            extra["database"] = DatabaseSettings(url=args.url)
        settings = settings_for(Path(folder), ("127.0.0.1", 1), ImapUser("bench", "bench"), **extra)
        gateway = gateway_for(settings)
        statements = 0

        def count(*_args: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(gateway.store.engine, "before_cursor_execute", count)
        try:
            pipeline = inbound_pipeline(gateway)

            def handle(n: int, raw: bytes) -> None:
                pipeline.handle(
                    ReceivedMessage(
                        raw=raw, source="bench", position=SourcePosition(1, n + 1), owner=OWNER
                    )
                )

            for n, raw in enumerate(messages[: args.warmup]):
                handle(n, raw)
            profiler = None
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.001)
                profiler.start()
            if args.ops:
                return _ops(pipeline, messages, args.warmup, Path(folder) / "log.jsonl")
            statements = 0
            began = time.perf_counter()
            for n, raw in enumerate(messages[args.warmup :], start=args.warmup):
                handle(n, raw)
            seconds = time.perf_counter() - began
            if profiler is not None:
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=False))
        finally:
            gateway.close()
    print(
        f"InboundPipeline.handle: {seconds / args.messages * 1000:.2f} ms per message "
        f"({args.messages / seconds:.0f} msg/s), "
        f"{statements / args.messages:.1f} SQL statements per message"
    )
    return 0


def _ops(pipeline: InboundPipeline, messages: list[bytes], warmup: int, log: Path) -> int:
    # Both as `serve` runs them: the pipeline observed (its event line), metrics off or on.
    plain = ObservedPipeline(pipeline, Instruments())
    observed = ObservedPipeline(pipeline, Instruments(enabled=True))
    blocks: dict[bool, list[float]] = {False: [], True: []}
    rest = list(enumerate(messages[warmup:], start=warmup))
    for block, start in enumerate(range(0, len(rest), 25)):
        # ABBA: off-on, then on-off, ...: whatever recurs every other block (a WAL
        # checkpoint, a collector run) falls on both sides.
        on = (block % 2 == 1) != (block // 2 % 2 == 1)
        target: Any = observed if on else plain
        chunk = rest[start : start + 25]
        with json_logs(log, json=on):
            began = time.perf_counter()
            for n, raw in chunk:
                target.handle(
                    ReceivedMessage(
                        raw=raw, source="bench", position=SourcePosition(1, n + 1), owner=OWNER
                    )
                )
            blocks[on].append((time.perf_counter() - began) / len(chunk) * 1000)
    # Medians of the blocks: a burst of other work on the machine moves one block, not both.
    off, on = (statistics.median(blocks[k]) for k in (False, True))
    print(
        f"InboundPipeline.handle, median of {len(blocks[False])} blocks of 25 each: off "
        f"{off:.2f} ms, on (metrics + JSON logs) {on:.2f} ms per message; on / off time "
        f"{on / off:.3f} (throughput ratio {off / on:.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
