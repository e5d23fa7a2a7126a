"""Scale-out: 1, 2 and 4 gateway workers (separate processes) on one PostgreSQL database.

For each worker count, in a scratch database created for the run and dropped after it:

- **outbox drain**: invitations for meetings of the built-in CRM are planned once (not
  timed) until ``--messages`` are queued; then N worker processes, each the gateway's own
  :class:`~invitegw.gateway.outbound.dispatch.Dispatcher` (claims with ``FOR UPDATE SKIP
  LOCKED``, one SMTP connection per batch, an outcome committed per message), are released
  together and drain the outbox into an aiosmtpd sink of their own process that records
  every Message-ID it accepts. Timed from the release to the last worker's end.
- **inbound** (``--inbound``): invitations delivered to the gateway's SMTP listener and
  APPENDed to several IMAP mailboxes of a private Dovecot; N workers run ``serve``'s
  inbound jobs once (each mailbox drained by whichever worker holds its lease, the
  listener's spool claimed with ``SKIP LOCKED``) until every message is processed.

Then the counts: duplicates (a Message-ID the sink accepted twice; an inbound message
processed twice) and losses (a queued invitation the sink never got; a delivered message
never processed) must both be 0. Printed per worker count with the throughput and the
speed-up over one worker, and PASS/FAIL lines for the targets (two workers >= 1.6 x one on
the outbox drain; no duplicates, no losses).

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust), or ``--url``.

Run: ``.venv/bin/python bench/scale.py [--messages 2000] [--workers 1,2,4] [--inbound]``
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zoneinfo
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg import sql
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.outbound import mark_baseline_taken, sales_calendar
from invitegw.crm_adapter.builtin.admin import MeetingDraft, SqlCrmAdmin
from invitegw.domain.records import EntityType, PartyRef
from invitegw.gateway.bootstrap import build_dispatcher, build_gateway, build_outbound
from invitegw.gateway.config import (
    DatabaseSettings,
    Settings,
    SmtpSettings,
    WorkerSettings,
)
from invitegw.gateway.storage import OutboxMessage, open_store, upgrade
from invitegw.mailbox.transport.netutil import pick_free_port

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")
ATTENDEES = 9  # + the organizer's copy: 10 messages a meeting
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)


# -- the scratch database ----------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(base: str) -> Iterator[str]:
    """A new, empty database on ``base``'s server (dropped at the end); yields its URL."""
    url = make_url(base)
    name = f"invitegw_scale_{secrets.token_hex(4)}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def settings_for(url: str, folder: Path, *, port: int, worker: str) -> Settings:
    """A gateway on ``url`` sending to the sink at ``port``, with worker id ``worker``."""
    folder.mkdir(parents=True, exist_ok=True)
    return Settings(
        data_dir=folder,
        database=DatabaseSettings(url=url, pool_size=2),
        smtp=SmtpSettings(host="127.0.0.1", port=port),
        worker=WorkerSettings(id=worker),
        calendars=(sales_calendar(),),
    )


def seed_and_queue(url: str, messages: int, folder: Path, port: int) -> int:
    """Meetings in the built-in CRM, planned into the outbox; returns how many are queued."""
    meetings = max(1, messages // (ATTENDEES + 1))
    with open_store(url) as store:
        upgrade(store)
        mark_baseline_taken(store)
        with store.session() as session:
            crm = SqlCrmAdmin(session)
            organizer = crm.add_party(EntityType.USER, ["olga@example.com"], name="Olga Organizer")
            guests = [
                crm.add_party(EntityType.CONTACT, [f"guest{n}@example.org"], name=f"Guest {n}")
                for n in range(200)
            ]
            first = dt.datetime.now(WARSAW).replace(minute=0, second=0, microsecond=0)
            for number in range(meetings):
                start = first + dt.timedelta(days=7 + number // 9, hours=number % 9)
                crm.create_meeting(
                    MeetingDraft(
                        title=f"Customer workshop {number}",
                        start=start,
                        end=start + dt.timedelta(hours=1),
                        organizer=PartyRef(EntityType.USER, str(organizer)),
                        attendees=[
                            PartyRef(EntityType.CONTACT, str(guests[(number * 7 + k) % 200]))
                            for k in range(ATTENDEES)
                        ],
                        time_zone="Europe/Warsaw",
                        location="Conference room 2",
                    )
                )
    gateway = build_gateway(settings_for(url, folder, port=port, worker="planner"))
    try:
        return build_outbound(gateway).poll().messages
    finally:
        gateway.close()


# -- the recording sink (a process of its own) -------------------------------------------------


def sink_child(port: int, out: Path) -> None:
    """aiosmtpd accepting everything; on SIGTERM writes the Message-IDs it got, one a line."""
    from aiosmtpd.controller import Controller

    received: list[bytes] = []

    class Recorder:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            head = bytes(envelope.content).split(b"\r\n\r\n", 1)[0]
            found = _MESSAGE_ID.search(head)
            received.append(found.group(1) if found else b"<none>")
            return "250 OK"

    controller = Controller(Recorder(), hostname="127.0.0.1", port=port)
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    controller.stop()
    out.write_bytes(b"".join(line + b"\n" for line in received))


@contextlib.contextmanager
def recording_sink(folder: Path) -> Iterator[tuple[int, Path]]:
    """The recording sink in its own process: yields (port, file the IDs land in at exit)."""
    port = pick_free_port()
    out = folder / f"sink-{port}.txt"
    proc = subprocess.Popen(
        [sys.executable, __file__, "--sink-child", str(port), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the recording sink did not start")
        yield port, out
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


# -- the workers (processes of their own) ------------------------------------------------------


def outbox_worker_child(url: str, port: int, worker: str, folder: Path) -> None:
    """Build the gateway, say ready, wait for "go", drain the outbox, print what it did."""
    gateway = build_gateway(settings_for(url, folder, port=port, worker=worker))
    dispatcher = build_dispatcher(gateway)
    print("ready", flush=True)
    sys.stdin.readline()
    began, cpu = time.perf_counter(), time.process_time()
    report = dispatcher.flush()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    gateway.close()
    print(json.dumps({"sent": report.sent, "seconds": seconds, "cpu": cpu}), flush=True)


def run_workers(command: list[list[str]]) -> tuple[float, list[dict[str, Any]]]:
    """Start the workers, release them together; (seconds to the last end, their reports)."""
    procs = [
        subprocess.Popen(c, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for c in command
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a worker did not start")
        began = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            assert proc.stdout is not None
            reports.append(json.loads(proc.stdout.readline()))
        seconds = time.perf_counter() - began
        for proc in procs:
            proc.wait(60)
        return seconds, reports
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@dataclasses.dataclass(frozen=True)
class Drain:
    """One outbox drain by N workers."""

    workers: int
    queued: int
    seconds: float
    sent_by: tuple[int, ...]
    duplicates: int
    losses: int
    cpu: float

    @property
    def rate(self) -> float:
        return self.queued / self.seconds


def outbox_drain(base: str, workers: int, messages: int, root: Path) -> Drain:
    """Queue ``messages`` invitations, drain them with ``workers`` processes, count."""
    with scratch_database(base) as url, recording_sink(root) as (port, received_file):
        queued = seed_and_queue(url, messages, root / "planner", port)
        if not queued:
            raise SystemExit("scale: the planner queued nothing: nothing to drain")
        commands = [
            [
                sys.executable,
                __file__,
                "--outbox-worker",
                url,
                "--port",
                str(port),
                "--id",
                f"w{n}",
                "--folder",
                str(root / f"w{n}"),
            ]
            for n in range(workers)
        ]
        seconds, reports = run_workers(commands)
        with open_store(url) as store, store.session() as session:
            expected = set(session.scalars(select(OutboxMessage.message_id)))
            states = dict(
                session.execute(
                    select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
                ).all()
            )
    received = Counter(received_file.read_bytes().decode().split())
    ids = {f"<{m.strip('<>')}>" for m in expected}
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    losses = len(ids - set(received))
    if len(expected) != queued:
        print(f"  note: {queued} queued, {len(expected)} outbox rows; states {states}")
    return Drain(
        workers=workers,
        queued=queued,
        seconds=seconds,
        sent_by=tuple(r["sent"] for r in reports),
        duplicates=duplicates,
        losses=losses,
        cpu=sum(r["cpu"] for r in reports),
    )


# -- main --------------------------------------------------------------------------------------


def _verdict(ok: bool, text: str) -> bool:
    print(f"  {'PASS' if ok else 'FAIL'}: {text}")
    return ok


def report_drains(drains: list[Drain]) -> bool:
    one = next((d for d in drains if d.workers == 1), None)
    print(
        f"{'workers':>7}  {'queued':>6}  {'seconds':>7}  {'msg/s':>6}  {'x one':>5}  "
        f"{'CPU s':>6}  {'sent by each worker':<24}  {'dup':>3}  {'lost':>4}"
    )
    for d in drains:
        speedup = d.rate / one.rate if one else float("nan")
        print(
            f"{d.workers:>7}  {d.queued:>6}  {d.seconds:>7.2f}  {d.rate:>6.0f}  "
            f"{speedup:>5.2f}  {d.cpu:>6.2f}  {','.join(map(str, d.sent_by)):<24}  "
            f"{d.duplicates:>3}  {d.losses:>4}"
        )
    ok = True
    two = next((d for d in drains if d.workers == 2), None)
    if one and two:
        ok &= _verdict(
            two.rate >= 1.6 * one.rate,
            f"outbox drain, two workers / one: {two.rate / one.rate:.2f} >= 1.6",
        )
    ok &= _verdict(
        all(d.duplicates == 0 for d in drains),
        f"outbox drain, duplicates: {sum(d.duplicates for d in drains)} == 0",
    )
    ok &= _verdict(
        all(d.losses == 0 for d in drains),
        f"outbox drain, losses: {sum(d.losses for d in drains)} == 0",
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=1, help="drains per worker count (best)")
    parser.add_argument("--url", default=os.environ.get("INVITEGW_BENCH_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument("--inbound", action="store_true", help="also the inbound part")
    parser.add_argument("--sink-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--outbox-worker", help=argparse.SUPPRESS)
    parser.add_argument("--inbound-worker", help=argparse.SUPPRESS)
    parser.add_argument("--imap", help=argparse.SUPPRESS)
    parser.add_argument("--users", help=argparse.SUPPRESS)
    parser.add_argument(
        "--inbound-sizes",
        default="4,300,800",
        help="with --inbound: mailboxes, invitations per mailbox, invitations to the listener",
    )
    parser.add_argument("--skip-outbox", action="store_true", help="only the inbound part")
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--id", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink_child:
        sink_child(int(args.sink_child[0]), Path(args.sink_child[1]))
        return 0
    if args.outbox_worker:
        outbox_worker_child(args.outbox_worker, args.port, args.id, args.folder)
        return 0
    if args.inbound_worker:
        from bench.scale_inbound import inbound_worker_child

        inbound_worker_child(args.inbound_worker, args.imap, args.users, args.id, args.folder)
        return 0

    counts = [int(n) for n in args.workers.split(",")]
    print(
        f"scale-out benchmark: {counts} workers (processes) on one PostgreSQL database, "
        f"{args.messages} invitations drained to a recording aiosmtpd sink; "
        f"{os.cpu_count()} CPUs"
    )
    drains: list[Drain] = []
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for workers in [] if args.skip_outbox else counts:
            runs = []
            for number in range(args.rounds):
                root = Path(folder) / f"outbox-{workers}-{number}"
                root.mkdir()
                runs.append(outbox_drain(args.url, workers, args.messages, root))
            best = max(runs, key=lambda d: d.rate)
            worst_dup = max(d.duplicates for d in runs)
            worst_loss = max(d.losses for d in runs)
            drains.append(dataclasses.replace(best, duplicates=worst_dup, losses=worst_loss))
            print(f"  {workers} worker(s): {best.rate:.0f} msg/s", flush=True)
        if drains:
            ok = report_drains(drains)
        if args.inbound:
            from bench.scale_inbound import inbound_scale

            sizes = tuple(int(n) for n in args.inbound_sizes.split(","))
            ok &= inbound_scale(args.url, counts, Path(folder), sizes)  # type: ignore[arg-type]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
