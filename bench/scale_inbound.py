"""The inbound half of ``bench/scale.py``: several mailboxes and the SMTP listener, N workers.

Per worker count, on a scratch PostgreSQL database: a private Dovecot (the test fixture's
server) gets ``--mailboxes`` users with invitations APPENDed to each INBOX, and the
gateway's SMTP listener (in this process, before the timed part) spools more into the
database. Then N worker processes, each with every mailbox and the spool configured,
run ``serve --once``'s inbound jobs: the mailbox pass (a mailbox is drained by the worker
that takes its lease ``imap:<name>``; the others skip it) and the spool drain (rows claimed
with ``SKIP LOCKED``). Timed from their release to the last one's end; then the processed
records are counted against what was delivered: duplicates and losses.
"""

from __future__ import annotations

import json
import smtplib
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.inbound import OWNER, add_people, append_all, invitations
from bench.scale import _verdict, run_workers, scratch_database
from invitegw.crm_adapter.builtin.schema import CrmTask
from invitegw.gateway.bootstrap import build_gateway, inbound_parts, listener_service
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
from invitegw.gateway.inbound.jobs import inbound_jobs
from invitegw.gateway.storage import ProcessedMessage, open_store, upgrade
from invitegw.mailbox.transport.netutil import pick_free_port
from tests.fixtures.dovecot import DovecotServer, ensure_dovecot

RECIPIENT = "crm@example.com"


def settings_for(
    url: str, folder: Path, *, imap: tuple[str, int], users: list[tuple[str, str]], worker: str
) -> Settings:
    """A worker: every mailbox, the listener (its spool), ``url``'s database."""
    folder.mkdir(parents=True, exist_ok=True)
    boxes = tuple(
        MailboxSettings(
            name=f"box{n}",
            host=imap[0],
            port=imap[1],
            username=name,
            owner=OWNER,
            tls=TlsMode.NONE,
            password=Secret(password),
        )
        for n, (name, password) in enumerate(users)
    )
    listener = ListenerSettings(enabled=True, port=pick_free_port(), recipients=(RECIPIENT,))
    return Settings(
        data_dir=folder,
        database=DatabaseSettings(url=url, pool_size=2),
        calendars=(
            CalendarSettings(name="sales", address="sales@example.com", time_zone="Europe/Warsaw"),
        ),
        mailboxes=boxes,
        listener=listener,
        worker=WorkerSettings(id=worker),
    )


def inbound_worker_child(url: str, imap: str, users: str, worker: str, folder: Path) -> None:
    """Build the worker, say ready, wait for "go", run the inbound jobs once, report."""
    host, port = imap.rsplit(":", 1)
    pairs = [tuple(pair.split(":", 1)) for pair in users.split(",")]
    settings = settings_for(
        url,
        folder,
        imap=(host, int(port)),
        users=pairs,
        worker=worker,  # type: ignore[arg-type]
    )
    gateway = build_gateway(settings)
    jobs = inbound_jobs(inbound_parts(gateway))
    print("ready", flush=True)
    sys.stdin.readline()
    began, cpu = time.perf_counter(), time.process_time()
    results: list[str] = []
    for job in jobs:
        results.append(str(job.run(threading.Event())))
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    gateway.close()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "jobs": results}), flush=True)


def _prepare(url: str, folder: Path, settings: Settings, spooled: list[bytes]) -> None:
    """Schema, the CRM's people, and ``spooled`` delivered to the listener (committed)."""
    with open_store(url) as store:
        upgrade(store)
        add_people(store)
    gateway = build_gateway(settings)
    service = listener_service(gateway, notify=lambda: None)
    service.start()
    try:
        with smtplib.SMTP("127.0.0.1", settings.listener.port, timeout=60) as client:
            for raw in spooled:
                client.sendmail(OWNER, [RECIPIENT], raw)
    finally:
        service.stop()
        gateway.close()


def one_count(
    server: DovecotServer, base: str, workers: int, sizes: tuple[int, int, int], root: Path
) -> dict[str, Any]:
    """Deliver, run ``workers`` workers, count; the figures as a dict."""
    mailboxes, per_mailbox, via_listener = sizes
    users = [server.add_user() for _ in range(mailboxes)]
    messages = invitations(mailboxes * per_mailbox + via_listener, seed=workers)
    for n, user in enumerate(users):
        append_all(server, user, messages[n * per_mailbox : (n + 1) * per_mailbox])
    pairs = [(u.name, u.password) for u in users]
    imap = f"{server.host}:{server.port}"
    with scratch_database(base) as url:
        settings = settings_for(
            url, root / "prepare", imap=(server.host, server.port), users=pairs, worker="prep"
        )
        _prepare(url, root, settings, messages[mailboxes * per_mailbox :])
        commands = [
            [
                sys.executable,
                str(Path(__file__).with_name("scale.py")),
                "--inbound-worker",
                url,
                "--imap",
                imap,
                "--users",
                ",".join(f"{name}:{password}" for name, password in pairs),
                "--id",
                f"w{n}",
                "--folder",
                str(root / f"w{n}"),
            ]
            for n in range(workers)
        ]
        seconds, reports = run_workers(commands)
        with open_store(url) as store, store.session() as session:
            processed = list(session.scalars(select(ProcessedMessage.message_id)))
            tasks = int(session.scalar(select(func.count()).select_from(CrmTask)) or 0)
    left = sum(len(server.uids(user)) for user in users)
    delivered = {_message_id(raw) for raw in messages}
    seen = [m.strip("<>") if m else "" for m in processed]
    return {
        "workers": workers,
        "messages": len(messages),
        "seconds": seconds,
        "rate": len(messages) / seconds,
        "cpu": sum(r["cpu"] for r in reports),
        "duplicates": len(seen) - len(set(seen)),
        "losses": len(delivered - set(seen)),
        "tasks": tasks,
        "left_in_inbox": left,
    }


def _message_id(raw: bytes) -> str:
    for line in raw.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode().strip("<>")
    raise ValueError("no Message-ID")


def inbound_scale(
    base: str, counts: list[int], root: Path, sizes: tuple[int, int, int] = (4, 300, 800)
) -> bool:
    """The inbound part for each worker count; prints the table and PASS/FAIL lines."""
    mailboxes, per_mailbox, via_listener = sizes
    print(
        f"inbound: {mailboxes} mailboxes x {per_mailbox} invitations (Dovecot) + "
        f"{via_listener} through the SMTP listener's spool, drained by N workers"
    )
    server = DovecotServer(ensure_dovecot())
    server.start()
    rows = []
    try:
        for workers in counts:
            folder = root / f"inbound-{workers}"
            folder.mkdir()
            rows.append(one_count(server, base, workers, sizes, folder))
            print(f"  {workers} worker(s): {rows[-1]['rate']:.0f} msg/s", flush=True)
    finally:
        server.stop()
        server.cleanup()
    one = rows[0]["rate"]
    print(
        f"{'workers':>7}  {'messages':>8}  {'seconds':>7}  {'msg/s':>6}  {'x one':>5}  "
        f"{'CPU s':>6}  {'tasks':>5}  {'dup':>3}  {'lost':>4}  {'left':>4}"
    )
    for r in rows:
        print(
            f"{r['workers']:>7}  {r['messages']:>8}  {r['seconds']:>7.2f}  {r['rate']:>6.0f}  "
            f"{r['rate'] / one:>5.2f}  {r['cpu']:>6.2f}  {r['tasks']:>5}  "
            f"{r['duplicates']:>3}  {r['losses']:>4}  {r['left_in_inbox']:>4}"
        )
    ok = _verdict(
        all(r["duplicates"] == 0 for r in rows),
        f"inbound, duplicates: {sum(r['duplicates'] for r in rows)} == 0",
    )
    ok &= _verdict(
        all(r["losses"] == 0 and r["left_in_inbox"] == 0 for r in rows),
        f"inbound, losses: {sum(r['losses'] for r in rows)} == 0 "
        f"(left in the mailboxes: {sum(r['left_in_inbox'] for r in rows)})",
    )
    return ok
