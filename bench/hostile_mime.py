"""What one hostile message costs the inbound pipeline: CPU seconds and peak memory.

Each message of ``tests/hostile_messages.py`` (millions of empty MIME parts, of header
fields, of body lines; nesting as deep as fits; one enormous line; a calendar of tiny
properties; all under the default 25 MiB ``limits.message_bytes``) is handed to
``InboundPipeline.handle`` (the built-in CRM on a fresh SQLite file) in a child process of
its own, so each figure starts from a clean heap. The child reports the CPU seconds
(``getrusage``, user + system) of the call alone and its peak RSS (``VmHWM``), beside the
RSS it had before the call (interpreter, modules, database, the message itself). A child
over ``--cpu-limit`` seconds is stopped (``RLIMIT_CPU``) and reported as such.

A benchmark, not a test: it prints figures and asserts nothing. Usage::

    .venv/bin/python bench/hostile_mime.py [--only NAME] [--size BYTES] [--cpu-limit 300]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hostile_messages import HOSTILE, MIB


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(name: str, size: int) -> None:
    """Run one message through the pipeline and print the figures as JSON."""
    from invitegw.crm_adapter.builtin.admin import SqlCrmAdmin
    from invitegw.domain.records import EntityType
    from invitegw.gateway.bootstrap import build_gateway, inbound_pipeline
    from invitegw.gateway.config import CalendarSettings, DatabaseSettings, Settings
    from invitegw.gateway.inbound.model import ReceivedMessage
    from invitegw.gateway.storage import open_store, upgrade

    raw = HOSTILE[name](size)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder),
            database=DatabaseSettings(url=f"sqlite:///{folder}/bench.sqlite3"),
            calendars=(CalendarSettings(name="sales", address="sales@example.com"),),
        )
        store = open_store(settings.database_url)
        upgrade(store)
        with store.session() as session:
            SqlCrmAdmin(session).add_party(EntityType.USER, ["sam@example.com"])
        gateway = build_gateway(settings, store=store)
        pipeline = inbound_pipeline(gateway)
        message = ReceivedMessage(raw=raw, source="bench", owner="sam@example.com")
        before_rss = _rss_mib("VmRSS")
        began = _cpu()
        wall = time.perf_counter()
        result = pipeline.handle(message)
        cpu = _cpu() - began
        wall = time.perf_counter() - wall
        gateway.close()
    outcome = result.events[0].outcome.value if result.events else "-"
    reason = (result.reason or "")[:90]
    print(
        json.dumps(
            {
                "bytes": len(raw),
                "cpu": cpu,
                "wall": wall,
                "before": before_rss,
                "peak": _rss_mib("VmHWM"),
                "outcome": outcome,
                "reason": reason,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", action="append", help="a message name (repeatable)")
    parser.add_argument("--size", type=int, default=25 * MIB - 1, help="bytes per message")
    parser.add_argument("--cpu-limit", type=int, default=300, help="seconds per child")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.size)
        return 0
    names = args.only or list(HOSTILE)
    print(f"{'message':24} {'size':>9} {'CPU s':>7} {'RSS before':>11} {'peak RSS':>9}  outcome")
    for name in names:

        def limit(seconds: int = args.cpu_limit) -> None:
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))

        proc = subprocess.run(
            [sys.executable, __file__, "--child", name, "--size", str(args.size)],
            capture_output=True,
            text=True,
            preexec_fn=limit,
            check=False,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            why = "CPU limit" if proc.returncode == -24 else f"exit {proc.returncode}"
            print(f"{name:24} {'':>9} {'>' + str(args.cpu_limit):>7} {'':>11} {'':>9}  {why}")
            continue
        fig = json.loads(lines[-1])
        print(
            f"{name:24} {fig['bytes'] / MIB:8.1f}M {fig['cpu']:7.2f} {fig['before']:10.0f}M "
            f"{fig['peak']:8.0f}M  {fig['outcome']}: {fig['reason']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
