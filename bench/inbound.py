"""Inbound throughput and latency: invitation emails in Dovecot to tasks in the built-in CRM.

Starts a private Dovecot on loopback (the test fixture's server class, installing
``dovecot-imapd`` when missing) and measures, in one run:

- **throughput**: N invitation emails of realistic shapes (Outlook with a Windows zone,
  Google with the inline calendar plus ``invite.ics``, staff forwards carrying the original
  as ``message/rfc822``; generated, every one a different meeting from a known contact) are
  APPENDed to a mailbox; timed, the gateway drains it (the watcher's drain path: UID
  SEARCH, FETCH in batches, the pipeline with its SQLite commit, MOVE to Processed).
  Beside it, on a copy of the same messages in another mailbox, the **minimal pipeline**:
  imapclient FETCHes in batches of 100, the email package finds the calendar parts,
  icalendar parses them; nothing is written and nothing moved. Rounds alternate the two.
- **latency while the watcher IDLEs**: APPEND one invitation, wait for its committed task
  (the pipeline returned), p50/p99 over ``--latency`` messages; beside it the floor
  Dovecot sets (APPEND → the EXISTS push to a bare imapclient IDLE).
- **SMTP listener**: ``250`` to smtplib → committed task, p50/p99.
- **peak memory** of a child process that drains 1,000 and 4,000 messages (VmHWM).

A benchmark, not a test: it asserts nothing. Usage::

    .venv/bin/python bench/inbound.py [--messages 2000] [--latency 200] [--rounds 2]
    .venv/bin/python bench/inbound.py --quick        # 300 messages, 30 probes, 200/800
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import json
import random
import resource
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import icalendar
from imapclient import IMAPClient
from sqlalchemy import func, select

from bench.opsmode import json_logs, with_metrics
from invitegw.crm_adapter.builtin.admin import SqlCrmAdmin
from invitegw.crm_adapter.builtin.schema import CrmTask
from invitegw.domain.records import EntityType
from invitegw.gateway.bootstrap import (
    Gateway,
    build_gateway,
    imap_source,
    inbound_pipeline,
    listener_service,
    spool_worker,
)
from invitegw.gateway.config import (
    CalendarSettings,
    DatabaseSettings,
    ListenerSettings,
    MailboxSettings,
    Settings,
    TlsMode,
    WorkerSettings,
)
from invitegw.gateway.config.fields import Secret
from invitegw.gateway.inbound.imap_service import MailboxService
from invitegw.gateway.inbound.model import MessageResult, ReceivedMessage
from invitegw.gateway.inbound.pipeline import InboundPipeline
from invitegw.gateway.inbound.smtp_source import SpoolService
from invitegw.gateway.metrics import ObservedPipeline
from invitegw.gateway.storage import Store, open_store, upgrade
from invitegw.mailbox.transport.imap_values import WatchEvent
from invitegw.mailbox.transport.netutil import pick_free_port
from tests.fixtures.dovecot import DovecotServer, ImapUser, ensure_dovecot
from tests.gateway.inbound.service_mails import (
    DEFAULT_START,
    forward_as_attachment,
    google_invitation,
    outlook_invitation,
)

TIMEOUT = 60.0
OWNER = "olga@example.com"
STAFF = tuple(f"staff{n}@example.com" for n in range(5))
CONTACTS = tuple(f"contact{n}@partner{n % 20}.example" for n in range(200))


# -- the messages --------------------------------------------------------------------------


# The target: the whole pipeline (CRM write, ledger, processed record) at 0.7 of the
# minimal one (fetch, parse, insert) in the same run.
RATIO_TARGET = 0.7


def invitations(count: int, seed: int = 5) -> list[bytes]:
    """``count`` invitations: 40 % Outlook, 30 % Google, 30 % staff forwards of Outlook's."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        sender = CONTACTS[n % len(CONTACTS)]
        start = DEFAULT_START + dt.timedelta(days=n % 300, hours=n % 7)
        summary = f"Meeting {n}: {rng.choice(['review', 'kick-off', 'demo', 'planning'])}"
        kind = n % 10
        if kind < 4:
            raw = outlook_invitation(sender=sender, to=OWNER, summary=summary, start=start)
        elif kind < 7:
            raw = google_invitation(sender=sender, to=OWNER, summary=summary, start=start)
        else:
            original = outlook_invitation(
                sender=sender, to=STAFF[n % len(STAFF)], summary=summary, start=start
            )
            raw = forward_as_attachment(
                original, forwarder=STAFF[n % len(STAFF)], to="crm@example.com", subject=summary
            )
        out.append(raw)
    return out


def append_all(server: DovecotServer, user: ImapUser, messages: Sequence[bytes]) -> None:
    """APPEND every message over one connection."""
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=TIMEOUT)
    try:
        client.login(user.name, user.password)
        for raw in messages:
            client.append("INBOX", raw)
    finally:
        client.logout()


# -- the gateway ---------------------------------------------------------------------------


def settings_for(folder: Path, imap: tuple[str, int], user: ImapUser, **extra: object) -> Settings:
    """The gateway's settings: mailbox ``bench`` on ``imap`` (host, port), SQLite in ``folder``."""
    box = MailboxSettings(
        name="bench",
        host=imap[0],
        port=imap[1],
        username=user.name,
        owner=OWNER,
        tls=TlsMode.NONE,
        password=Secret(user.password),
    )
    values: dict[str, object] = {
        "data_dir": folder,
        "database": DatabaseSettings(url=f"sqlite:///{folder / 'bench.sqlite3'}"),
        "calendars": (
            CalendarSettings(name="sales", address="sales@example.com", time_zone="Europe/Warsaw"),
        ),
        "mailboxes": (box,),
        "worker": WorkerSettings(id="bench"),
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


def add_people(store: Store) -> None:
    """The mailbox owner, the staff and the contacts, in the built-in CRM of ``store``."""
    with store.session() as session:
        crm = SqlCrmAdmin(session)
        crm.add_party(EntityType.USER, [OWNER], name="Olga Owner")
        for address in STAFF:
            crm.add_party(EntityType.USER, [address])
        for n, address in enumerate(CONTACTS):
            crm.add_party(EntityType.CONTACT, [address], account=f"Partner {n % 20}")


def gateway_for(settings: Settings) -> Gateway:
    """A gateway on a fresh SQLite database with the staff and the contacts in the CRM."""
    store = open_store(settings.database_url)
    upgrade(store)
    add_people(store)
    return build_gateway(settings, store=store)


def task_count(gateway: Gateway) -> int:
    with gateway.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(CrmTask)) or 0)


class TimedPipeline:
    """The real pipeline, noting when each message's result was committed (it returned)."""

    def __init__(self, pipeline: InboundPipeline) -> None:
        self._pipeline = pipeline
        self._cond = threading.Condition()
        self.done: dict[str, float] = {}
        self.results: list[MessageResult] = []

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        result = self._pipeline.handle(message, dry_run=dry_run)
        with self._cond:
            self.done[result.message_id or ""] = time.perf_counter()
            self.results.append(result)
            self._cond.notify_all()
        return result

    def wait(self, message_id: str) -> float:
        deadline = time.monotonic() + TIMEOUT
        with self._cond:
            while message_id not in self.done:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no committed result for {message_id}")
                self._cond.wait(remaining)
            return self.done[message_id]


@dataclass(frozen=True)
class Run:
    messages: int
    seconds: float
    cpu: float = 0.0  # this process's CPU seconds (Dovecot's own work is not in it)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def run_invitegw(
    server: DovecotServer, messages: Sequence[bytes], folder: Path, *, ops: bool = False
) -> Run:
    """Drain a mailbox of ``messages`` (``ops``: metrics and JSON logs on, as ``serve``)."""
    user = server.add_user()
    append_all(server, user, messages)
    settings = settings_for(folder, (server.host, server.port), user)
    gateway = gateway_for(with_metrics(settings) if ops else settings)
    try:
        pipeline: Any = inbound_pipeline(gateway)
        if ops:
            pipeline = ObservedPipeline(pipeline, gateway.instruments)
        with json_logs(folder / "log.txt", json=ops):
            began, cpu = time.perf_counter(), time.process_time()
            report = imap_source(gateway, gateway.settings.mailboxes[0], pipeline).drain()
            seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        tasks = task_count(gateway)
    finally:
        gateway.close()
    if report.handled != len(messages) or tasks != len(messages):
        print(f"  warning: {report}; {tasks} tasks for {len(messages)} messages")
    return Run(report.handled, seconds, cpu)


# -- the minimal pipeline -------------------------------------------------------------------


def run_minimal(server: DovecotServer, user: ImapUser, expected: int) -> Run:
    """imapclient batches → email package → icalendar; writes nothing."""
    began, cpu = time.perf_counter(), time.process_time()
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=TIMEOUT)
    events = 0
    messages = 0
    try:
        client.login(user.name, user.password)
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        for start in range(0, len(uids), 100):
            fetched = client.fetch(uids[start : start + 100], ["BODY.PEEK[]"])
            for data in fetched.values():
                messages += 1
                message = email.message_from_bytes(data[b"BODY[]"], policy=email.policy.compat32)
                seen: set[bytes] = set()
                for part in message.walk():
                    filename = part.get_filename() or ""
                    if part.get_content_type() not in ("text/calendar", "application/ics") and (
                        not filename.lower().endswith(".ics")
                    ):
                        continue
                    payload = part.get_payload(decode=True)
                    if not isinstance(payload, bytes) or payload in seen:
                        continue
                    seen.add(payload)
                    calendar = icalendar.Calendar.from_ical(payload)
                    events += len(calendar.walk("VEVENT"))
    finally:
        client.logout()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    if messages != expected or events < expected:
        print(f"  warning: minimal saw {messages} messages, {events} events")
    return Run(messages, seconds, cpu)


def _cpu_ms(run: Run) -> float:
    return run.cpu / run.messages * 1000


# -- latency --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def describe(label: str, values: Sequence[float]) -> str:
    return (
        f"  {label:<34} p50 {percentile(values, 0.5) * 1000:7.1f} ms   "
        f"p99 {percentile(values, 0.99) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms"
    )


def _message_id(raw: bytes) -> str:
    for line in raw.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode().strip("<>")
    raise ValueError("no Message-ID")


def idle_latency(
    server: DovecotServer, folder: Path, count: int
) -> tuple[list[float], list[float]]:
    """APPEND → committed task while the watcher IDLEs, and the raw IDLE floor."""
    user, raw_user = server.add_user(), server.add_user()
    gateway = gateway_for(settings_for(folder, (server.host, server.port), user))
    pipeline = TimedPipeline(inbound_pipeline(gateway))
    service = MailboxService(imap_source(gateway, gateway.settings.mailboxes[0], pipeline))
    probes = invitations(count, seed=11)
    appender = IMAPClient(server.host, port=server.port, ssl=False, timeout=TIMEOUT)
    appender.login(user.name, user.password)
    raw_appender = IMAPClient(server.host, port=server.port, ssl=False, timeout=TIMEOUT)
    raw_appender.login(raw_user.name, raw_user.password)
    idler = IMAPClient(server.host, port=server.port, ssl=False, timeout=TIMEOUT)
    idler.login(raw_user.name, raw_user.password)
    idler.select_folder("INBOX")
    ours: list[float] = []
    floor: list[float] = []
    service.start()
    try:
        service.events.wait_for(WatchEvent.IDLE, 1, TIMEOUT)
        for raw in probes:
            idles = service.events.count(WatchEvent.IDLE)
            started = time.perf_counter()
            appender.append("INBOX", raw)
            ours.append(pipeline.wait(_message_id(raw)) - started)
            service.events.wait_for(WatchEvent.IDLE, idles + 1, TIMEOUT)

            idler.idle()
            started = time.perf_counter()
            raw_appender.append("INBOX", raw)
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                responses = idler.idle_check(timeout=1.0)
                if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                    floor.append(time.perf_counter() - started)
                    break
            idler.idle_done()
    finally:
        service.stop()
        for client in (appender, raw_appender, idler):
            client.logout()
        gateway.close()
    return ours, floor


def smtp_latency(server: DovecotServer, folder: Path, count: int) -> list[float]:
    """smtplib gets 250 → the task is committed (listener, spool, woken worker, pipeline)."""
    port = pick_free_port()
    listener = ListenerSettings(enabled=True, port=port, recipients=("crm@example.com",))
    settings = settings_for(
        folder, (server.host, server.port), server.add_user(), listener=listener, mailboxes=()
    )
    gateway = gateway_for(settings)
    pipeline = TimedPipeline(inbound_pipeline(gateway))
    spool = SpoolService(spool_worker(gateway, pipeline))
    smtp = listener_service(gateway, notify=spool.wake)
    spool.start()
    smtp.start()
    latencies = []
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as client:
            for raw in invitations(count, seed=13):
                client.sendmail(OWNER, ["crm@example.com"], raw)
                accepted = time.perf_counter()
                latencies.append(pipeline.wait(_message_id(raw)) - accepted)
    finally:
        smtp.stop()
        spool.stop()
        gateway.close()
    return latencies


# -- memory ---------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident set size (VmHWM; ``getrusage`` carries the parent's)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(host: str, port: int, username: str, password: str) -> None:
    """In a child process: drain the mailbox through the gateway, print the peak RSS."""
    user = ImapUser(username, password)
    with tempfile.TemporaryDirectory() as folder:
        gateway = gateway_for(settings_for(Path(folder), (host, port), user))
        try:
            mailbox = gateway.settings.mailboxes[0]
            report = imap_source(gateway, mailbox, inbound_pipeline(gateway)).drain()
        finally:
            gateway.close()
    print(json.dumps({"messages": report.handled, "peak_mib": peak_rss_mib()}))


def peak_memory(server: DovecotServer, count: int) -> dict[str, float]:
    user = server.add_user()
    append_all(server, user, invitations(count, seed=17))
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--memory-child",
            f"{server.host}:{server.port}:{user.name}:{user.password}",
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- main -----------------------------------------------------------------------------------


def _timed(label: str, action: Callable[[], object]) -> None:
    began = time.perf_counter()
    action()
    print(f"  {label} ({time.perf_counter() - began:.1f} s)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--latency", type=int, default=200, help="probes for each latency")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--memory", default="1000,4000", help="mailbox sizes for peak memory")
    parser.add_argument("--quick", action="store_true", help="300 messages, 30 probes, 200/800")
    parser.add_argument(
        "--ops", action="store_true", help="also each round with metrics and JSON logs on"
    )
    parser.add_argument(
        "--throughput-only", action="store_true", help="skip latency and memory measurements"
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        host, port, username, password = args.memory_child.split(":", 3)
        memory_child(host, int(port), username, password)
        return 0
    if args.quick:
        args.messages, args.latency, args.rounds, args.memory = 300, 30, 1, "200,800"
    sizes = [int(s) for s in args.memory.split(",") if s]

    server = DovecotServer(ensure_dovecot())
    server.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            return run(
                server,
                Path(folder),
                args.messages,
                args.latency,
                args.rounds,
                sizes,
                ops=args.ops,
                throughput_only=args.throughput_only,
            )
    finally:
        server.cleanup()


def run(
    server: DovecotServer,
    root: Path,
    count: int,
    probes: int,
    rounds: int,
    sizes: Sequence[int],
    *,
    ops: bool = False,
    throughput_only: bool = False,
) -> int:
    print(
        f"inbound benchmark: {count} invitations (40% Outlook, 30% Google, 30% forwards), "
        f"Dovecot {server.version} on loopback, built-in CRM on SQLite"
    )
    messages = invitations(count)
    print(f"  average message size {sum(map(len, messages)) / len(messages) / 1024:.1f} KiB")
    minimal_user = server.add_user()
    _timed(
        f"appended {count} for the minimal pipeline",
        lambda: append_all(server, minimal_user, messages),
    )
    ours: list[Run] = []
    plain: list[Run] = []
    observed: list[Run] = []
    print(
        f"{'round':>5}  {'invitegw msg/s':>14}  {'minimal msg/s':>13}  "
        f"{'CPU ms/msg invitegw / minimal':>29}" + (f"  {'ops on msg/s':>12}" if ops else "")
    )
    for number in range(1, rounds + 1):
        work = root / f"round{number}"
        work.mkdir()
        ours.append(run_invitegw(server, messages, work))
        plain.append(run_minimal(server, minimal_user, count))
        if ops:
            (root / f"ops{number}").mkdir()
            observed.append(run_invitegw(server, messages, root / f"ops{number}", ops=True))
        cpu = f"{_cpu_ms(ours[-1]):.2f} / {_cpu_ms(plain[-1]):.2f}"
        print(
            f"{number:>5}  {ours[-1].rate:>14.0f}  {plain[-1].rate:>13.0f}  {cpu:>29}"
            + (f"  {observed[-1].rate:>12.0f}" if ops else ""),
            flush=True,
        )
    median = statistics.median(r.rate for r in ours), statistics.median(r.rate for r in plain)
    ratio = median[0] / median[1]
    # The target holds for both: throughput (wall) and CPU per message, invitegw's CPU
    # against the minimal pipeline's (a ratio of rates: minimal's CPU / invitegw's).
    cpu_ratio = statistics.median(_cpu_ms(r) for r in plain) / statistics.median(
        _cpu_ms(r) for r in ours
    )
    for label, value in (("wall", ratio), ("CPU", cpu_ratio)):
        verdict = "PASS" if value >= RATIO_TARGET else "FAIL"
        print(f"ratio invitegw / minimal pipeline, {label}: {value:.2f}")
        print(f"  {verdict}: invitegw / minimal ({label}) {value:.2f} >= {RATIO_TARGET}")
    if observed:
        on = statistics.median(r.rate for r in observed)
        print(
            f"ratio invitegw / minimal with metrics and JSON logs on: {on / median[1]:.2f}; "
            f"on / off: {on / median[0]:.3f}"
        )
    if throughput_only:
        return 0

    work = root / "idle"
    work.mkdir()
    ours_idle, floor = idle_latency(server, work, probes)
    print(f"latency APPEND -> committed task while the watcher IDLEs, {probes} probes:")
    print(describe("watcher -> committed task", ours_idle))
    print(describe("raw IDLE push (Dovecot's floor)", floor))
    work = root / "smtp"
    work.mkdir()
    print(f"latency SMTP 250 -> committed task, {probes} messages:")
    print(describe("listener -> spool -> committed task", smtp_latency(server, work, probes)))

    figures = [(size, peak_memory(server, size)) for size in sizes]
    print(
        "peak memory of a process draining the mailbox: "
        + ", ".join(
            f"{size} messages {fig['peak_mib']:.0f} MiB ({fig['messages']:.0f} handled)"
            for size, fig in figures
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
