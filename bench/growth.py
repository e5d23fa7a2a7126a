"""Growth: what one pass costs and what one invitation stores, as the history grows.

A gateway runs for years; its passes must cost what is due, not what exists, and what it
keeps per invitation must be small. This bench builds a history and measures, at each size:

- the **reminders pass** with nothing due (the job every minute);
- the **dispatch claim** of a batch of 50 due messages (every outbox pass);
- the **CRM feed pass** with nothing changed, and with 10 meetings changed (planned,
  composed, stored: 40 invitations);
- the **inbound dedupe** query for a new message and for one seen before, against
  1k / 10k / 50k processed messages;
- **bytes per invitation**: the composed message, what the database holds per invitation
  delivered (every table, indexes included: used pages / invitations), and the same after
  ``invitegw prune --keep-sent-bytes`` has dropped the bytes of delivered mail.

Beside each pass: the bare SQL floor, the same statement through ``sqlite3`` with no ORM
and no unit of work (what a minimal implementation would at least pay). The database is
``ANALYZE``d at each size (the state in which a fragile plan flips to a scan) and a copy
kept per size; the passes then run on the copies in alternating rounds (5 rounds of 3
runs), so a busy spell of the machine hits every size alike, and each figure is the best
run: the pass's own cost, without what other processes add to some runs.

How the history is built: a sample of 200 meetings with four recipients each (the
organizer's copy, a colleague, two contacts; a quarter are weekly series) goes through the
real pipeline (built-in CRM, change feed, planner, compose, ledger, outbox, SMTP into a
local sink, the reminder job). The sample's rows, in the CRM and the gateway's tables, are
then copied with new ids, keys and Message-IDs (same bytes) up to 1k, 10k and 100k
meetings: what a year of a busy CRM leaves behind, in minutes instead of hours.

Run: ``.venv/bin/python bench/growth.py [--quick]`` (``--quick`` stops at 10k meetings
and 10k processed messages, about 1 minute; the full run about 6 minutes and 3 GB of
temporary disk, on the 2-core development machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from bench.outbound import add_guests, mark_baseline_taken, sales_calendar, sink_process
from invitegw.crm_adapter.builtin.admin import MeetingDraft, SqlCrmAdmin
from invitegw.domain.records import EntityType, PartyRef
from invitegw.gateway.app.prune import prune
from invitegw.gateway.bootstrap import (
    Gateway,
    build_dispatcher,
    build_gateway,
    build_outbound,
    build_reminders,
)
from invitegw.gateway.config import Settings, SmtpSettings
from invitegw.gateway.inbound.records import seen_before
from invitegw.gateway.storage import (
    OutboxMessage,
    ProcessedMessage,
    Store,
    claim_due,
    enqueue_many,
    open_store,
    upgrade,
)

WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")
SAMPLE = 200
STRIDE = 1_000_000  # id offset per copy (the sample's ids stay below it)
LEAD = dt.timedelta(days=1)
FLAT = 0.20  # the target: a pass at the largest size within ±20 % of the smallest
TARGET_BYTES = 6 * 1024
CHANGES = itertools.count(1)


# -- the sample: the real pipeline ------------------------------------------------------------


def settings_for(folder: Path, port: int, name: str = "gw.sqlite3") -> Settings:
    """The gateway of the bench: built-in CRM on SQLite, one calendar with reminders."""
    settings = Settings(
        data_dir=folder,
        smtp=SmtpSettings(host="127.0.0.1", port=port),
        calendars=(sales_calendar(reminder_email_lead=LEAD),),
    )
    database = dataclasses.replace(settings.database, url=f"sqlite:///{folder / name}")
    return dataclasses.replace(settings, database=database)


def seed_crm(store: Store, now: dt.datetime) -> None:
    """The sample's meetings: from two days to a year ahead, none due a reminder now."""
    with store.session() as session:
        crm = SqlCrmAdmin(session)
        olga = crm.add_party(EntityType.USER, ["olga@example.com"], name="Olga Organizer")
        carl = crm.add_party(EntityType.USER, ["carl@example.com"], name="Carl Colleague")
        guests = add_guests(crm, 100)
        base = (now + dt.timedelta(days=2)).astimezone(WARSAW).replace(minute=0, second=0)
        for n in range(SAMPLE):
            start = base + dt.timedelta(days=n * 363 // SAMPLE, hours=n % 8)
            attendees = [
                PartyRef(EntityType.USER, str(carl)),
                PartyRef(EntityType.CONTACT, str(guests[n % 100])),
                PartyRef(EntityType.CONTACT, str(guests[(n * 7 + 3) % 100])),
            ]
            crm.create_meeting(
                MeetingDraft(
                    title=f"Customer workshop {n}",
                    start=start,
                    end=start + dt.timedelta(hours=1),
                    organizer=PartyRef(EntityType.USER, str(olga)),
                    attendees=attendees,
                    time_zone="Europe/Warsaw",
                    location="Conference room 2, Warsaw office",
                    description="Agenda: introductions, requirements, next steps.",
                    rrule="FREQ=WEEKLY;COUNT=10" if n % 4 == 0 else None,
                )
            )


# -- copies of the sample ---------------------------------------------------------------------

# Per table: the columns a copy changes (SQL over the sample row, :k the copy number).
_SHIFT = f":k * {STRIDE}"
_CRM_ID = f"CAST(CAST({{col}} AS INTEGER) + {_SHIFT} AS TEXT)"
COPIES: dict[str, dict[str, str]] = {
    # Copies are not changes: below the feed's cursor, as if they had been polled long ago.
    "crm_meetings": {"id": f"id + {_SHIFT}", "change_seq": "0"},
    "crm_meeting_attendees": {"id": f"id + {_SHIFT}", "meeting_id": f"meeting_id + {_SHIFT}"},
    "crm_logs": {"id": f"id + {_SHIFT}", "target_id": _CRM_ID.format(col="target_id")},
    "outbound_meetings": {
        "id": f"id + {_SHIFT}",
        "crm_meeting_id": _CRM_ID.format(col="crm_meeting_id"),
        "uid": "uid || '.' || :k",
    },
    "outbound_attendees": {
        "id": f"id + {_SHIFT}",
        "meeting_id": f"meeting_id + {_SHIFT}",
        "token": "token || '.' || :k",
    },
    "outbox": {
        "id": f"id + {_SHIFT}",
        "meeting_id": f"meeting_id + {_SHIFT}",
        "attendee_id": f"attendee_id + {_SHIFT}",
        "message_id": "'<' || :k || '.' || substr(message_id, 2)",
    },
    "outbox_bodies": {"id": f"id + {_SHIFT}"},
    "event_log": {"id": f"id + {_SHIFT}", "meeting_id": _CRM_ID.format(col="meeting_id")},
}


def copy_sample(path: Path, first: int, last: int) -> None:
    """Copies ``first`` .. ``last`` - 1 of the sample's rows, one transaction."""
    conn = sqlite3.connect(path)
    try:
        statements = []
        for table, changed in COPIES.items():
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            values = ", ".join(changed.get(c, c) for c in columns)
            statements.append(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"SELECT {values} FROM {table} WHERE id < {STRIDE}"
            )
        with conn:
            for k in range(first, last):
                for statement in statements:
                    conn.execute(statement, {"k": k})
    finally:
        conn.close()


# -- timing -------------------------------------------------------------------------------------


def best_ms(action: Callable[[], Any], runs: int, setup: Callable[[], Any] | None = None) -> float:
    """The best wall time of ``action`` over ``runs`` runs, in ms (``setup`` untimed before each).

    The best of several runs is the pass's own cost: what the other processes of a busy
    machine add to some runs (a scheduler delay, an fsync queued behind another's) is not.
    """
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return min(times)


@contextmanager
def bare(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain ``sqlite3`` connection (the floor figures)."""
    conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()


def stored_time(moment: dt.datetime) -> str:
    """A time as SQLAlchemy stores it in SQLite (naive UTC text), for the bare queries."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def used_bytes(path: Path) -> int:
    """The bytes the database uses (pages in use: free pages are reused, not counted)."""
    with bare(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int(size * (pages - free))


# -- the passes -------------------------------------------------------------------------------


class Passes:
    """The passes of one gateway on one database, timed, with their bare SQL floors."""

    def __init__(self, gateway: Gateway, path: Path, now: dt.datetime, runs: int) -> None:
        self.gateway = gateway
        self.path = path
        self.now = now
        self.runs = runs

    def reminders(self) -> tuple[float, float]:
        job = build_reminders(self.gateway)
        job.run()  # a pass after a change looks at what changed: not what is timed
        queued = []
        ms = best_ms(lambda: queued.append(job.run()), self.runs)
        assert not any(queued), "the bench's meetings are not due a reminder"
        until = stored_time(self.now + LEAD)
        query = "SELECT id FROM outbound_meetings WHERE calendar = ? AND reminder_check_at <= ?"
        with bare(self.path) as conn:
            floor = best_ms(lambda: conn.execute(query, ("sales", until)).fetchall(), self.runs)
        return ms, floor

    def claim(self) -> tuple[float, float]:
        store = self.gateway.store

        def claim() -> None:
            with Session(store.engine) as session:
                rows = claim_due(session, worker="bench", now=self.now, limit=50, claim_for=LEAD)
                assert len(rows) == 50
                session.rollback()

        ms = best_ms(claim, self.runs)
        query = (
            "SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, id LIMIT 50"
        )
        now = stored_time(self.now)
        with bare(self.path) as conn:
            floor = best_ms(lambda: conn.execute(query, (now,)).fetchall(), self.runs)
        return ms, floor

    def feed_idle(self) -> tuple[float, float]:
        outbound = build_outbound(self.gateway)
        outbound.poll()
        ms = best_ms(outbound.poll, self.runs)
        with bare(self.path) as conn:
            head = conn.execute("SELECT max(change_seq) FROM crm_meetings").fetchone()[0]
            query = "SELECT id FROM crm_meetings WHERE change_seq > ? ORDER BY change_seq LIMIT 100"
            floor = best_ms(lambda: conn.execute(query, (head,)).fetchall(), self.runs)
        return ms, floor

    def feed_changed(self) -> float:
        """A pass planning 10 changed meetings (40 invitations composed and stored)."""
        outbound = build_outbound(self.gateway)

        def change() -> None:
            with self.gateway.store.session() as session:
                crm = SqlCrmAdmin(session)
                for _ in range(10):
                    change = next(CHANGES)  # a new title every time, across sizes
                    crm.update_meeting(str(1 + change % SAMPLE), title=f"Workshop {change}")

        def poll() -> None:
            report = outbound.poll()
            assert report.messages >= 30, report  # 10 meetings, 3-4 recipients each

        return best_ms(poll, self.runs, setup=change)


def add_pending(gateway: Gateway, now: dt.datetime, raw: bytes, *, tag: str) -> None:
    """The batch the claim takes: 50 messages due (left pending: the claim is rolled back)."""
    with gateway.store.session() as session:
        enqueue_many(
            session,
            (
                {
                    "message_id": f"<due{n}.{tag}@bench.example.com>",
                    "sender": "sales@example.com",
                    "recipient": f"guest{n}@example.org",
                    "raw": raw,
                    "not_before": now - dt.timedelta(minutes=n),
                }
                for n in range(50)
            ),
            now=now,
        )


# -- inbound dedupe ---------------------------------------------------------------------------


def add_processed(store: Store, first: int, last: int, now: dt.datetime) -> None:
    """Processed messages ``first`` .. ``last`` - 1 (IMAP positions, Message-IDs, details)."""
    rows = [
        {
            "source": "sales",
            "uidvalidity": 7,
            "uid": n,
            "message_id": f"<{n}.invite@mail.example.org>",
            "outcome": "applied",
            "reason": None,
            "details": {"events": [{"outcome": "created", "task_id": str(n)}]},
            "processed_at": now - dt.timedelta(seconds=last - n),
        }
        for n in range(first, last)
    ]
    with store.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(ProcessedMessage.__table__), rows[start : start + 5000])
        conn.execute(text("ANALYZE"))


def dedupe(store: Store, path: Path, processed: int, runs: int) -> tuple[float, float, float]:
    """(new message, seen before, bare floor) in milliseconds."""

    def check(n: int) -> Callable[[], None]:
        def run() -> None:
            mid = f"<{n}.invite@mail.example.org>"
            with Session(store.engine) as session:
                seen_before(
                    session,
                    source="sales",
                    uidvalidity=7,
                    uid=n,
                    message_key=mid,
                    digest=None,
                    message_id=mid,
                )

        return run

    new = best_ms(check(processed + 1), runs)
    old = best_ms(check(processed // 2), runs)
    query = "SELECT id FROM processed_messages WHERE message_id = ?"
    with bare(path) as conn:
        key = (f"<{processed // 2}.invite@mail.example.org>",)
        floor = best_ms(lambda: conn.execute(query, key).fetchall(), runs)
    return new, old, floor


# -- bytes per invitation -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Bytes:
    """What a delivered invitation costs in the database, at one size."""

    invitations: int
    composed: float  # the message as sent (what the outbox kept before compression)
    packed: float  # the outbox bytes as now stored
    kept: float  # the whole database per invitation, bytes kept
    pruned: float  # the same after prune --keep-sent-bytes dropped them


def measure_bytes(gateway: Gateway, path: Path, folder: Path, now: dt.datetime) -> Bytes:
    with gateway.store.session() as session:
        sent = int(
            session.scalar(
                select(func.count(OutboxMessage.id)).where(OutboxMessage.state == "sent")
            )
            or 0
        )
        sample = list(
            session.scalars(select(OutboxMessage.raw).where(OutboxMessage.id < STRIDE).limit(400))
        )
    with bare(path) as conn:
        packed = conn.execute(
            f"SELECT avg(length(raw)) FROM outbox_bodies WHERE id < {STRIDE}"
        ).fetchone()[0]
    composed = statistics.mean(len(raw or b"") for raw in sample)
    kept = used_bytes(path)  # (checkpointed: the copy below is complete)
    copy = folder / "pruned.sqlite3"
    shutil.copyfile(path, copy)
    with open_store(f"sqlite:///{copy}") as store:
        prune(
            store,
            older_than=dt.timedelta(days=3650),
            now=now + dt.timedelta(minutes=1),
            keep_sent_bytes=dt.timedelta(0),
            batch=5000,
        )
    pruned = used_bytes(copy)
    copy.unlink()
    return Bytes(sent, composed, float(packed), kept / sent, pruned / sent)


# -- the run ------------------------------------------------------------------------------------


def build_sample(folder: Path, port: int, now: dt.datetime) -> Gateway:
    """The sample through the real pipeline, sent, and filed by the reminder job."""
    settings = settings_for(folder, port)
    with open_store(settings.database.url) as store:
        upgrade(store)
        mark_baseline_taken(store)
        seed_crm(store, now)
    gateway = build_gateway(settings, clock=lambda: now)
    report = build_outbound(gateway).poll()
    sent = build_dispatcher(gateway).flush()
    assert report.messages, "the sample planned nothing (was the baseline taken first?)"
    assert sent.sent == report.messages, (report, sent)
    build_reminders(gateway).run()
    return gateway


def grow(path: Path, meetings: int, size: int) -> None:
    """Copies of the sample until the ledger holds ``size`` meetings."""
    copy_sample(path, meetings // SAMPLE, size // SAMPLE)
    with bare(path) as conn:
        conn.execute("ANALYZE")


Row = dict[str, tuple[float, float | None]]


def snapshot(path: Path, target: Path) -> None:
    """A consistent copy of the database (SQLite's backup API)."""
    with bare(path) as source, bare(target) as copy:
        source.backup(copy)


def measure_passes(gateway: Gateway, path: Path, now: dt.datetime, runs: int, tag: str) -> Row:
    """Every pass on one database, ``runs`` times each; then what they queued is sent."""
    with gateway.store.session() as session:
        query = select(OutboxMessage.raw).select_from(OutboxMessage).limit(1)
        raw = session.scalars(query).one() or b""
    add_pending(gateway, now, raw, tag=tag)
    passes = Passes(gateway, path, now, runs)
    row: Row = {
        "dispatch claim (50 due)": passes.claim(),
        "reminders pass (nothing due)": passes.reminders(),
        "CRM feed pass (nothing changed)": passes.feed_idle(),
        "CRM feed pass (10 meetings changed)": (passes.feed_changed(), None),
    }
    build_dispatcher(gateway).flush()  # what the passes queued goes out, as in service
    build_reminders(gateway).run()  # and the changed meetings are filed again
    return row


def best_of(rows: list[Row]) -> Row:
    """Per pass, the best figure (and floor) of several rounds."""
    best: Row = {}
    for row in rows:
        for name, (ms, floor) in row.items():
            if name not in best:
                best[name] = (ms, floor)
                continue
            was, was_floor = best[name]
            floors = [f for f in (was_floor, floor) if f is not None]
            best[name] = (min(was, ms), min(floors) if floors else None)
    return best


def build_history(
    folder: Path, port: int, now: dt.datetime, sizes: list[int]
) -> tuple[Gateway, dict[int, Bytes]]:
    """The sample, grown to each size: its bytes measured, a copy kept per size."""
    gateway = build_sample(folder, port, now)
    sizes_bytes: dict[int, Bytes] = {}
    meetings = SAMPLE
    path = folder / "gw.sqlite3"
    for size in sizes:
        grow(path, meetings, size)
        meetings = size
        sizes_bytes[size] = measure_bytes(gateway, path, folder, now)
        snapshot(path, folder / f"m{size}.sqlite3")
    return gateway, sizes_bytes


def measure_sizes(
    folder: Path, port: int, now: dt.datetime, sizes: list[int], rounds: int, runs: int
) -> dict[int, Row]:
    """The passes on each size's copy, in alternating rounds (drift hits every size alike)."""
    gateways = {
        size: build_gateway(settings_for(folder, port, f"m{size}.sqlite3"), clock=lambda: now)
        for size in sizes
    }
    try:
        for size, gateway in gateways.items():  # warm-up, untimed: compiled, cached, filed
            measure_passes(gateway, folder / f"m{size}.sqlite3", now, 2, f"w{size}")
        found: dict[int, list[Row]] = {size: [] for size in sizes}
        for number in range(rounds):
            for size, gateway in gateways.items():
                path = folder / f"m{size}.sqlite3"
                found[size].append(measure_passes(gateway, path, now, runs, f"{number}.{size}"))
        return {size: best_of(rows) for size, rows in found.items()}
    finally:
        for gateway in gateways.values():
            gateway.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="stop at 10k meetings")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per pass and round")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    processed_sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 50_000]
    began = time.perf_counter()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="invitegw-growth-") as tmp, sink_process() as port:
        folder = Path(tmp)
        gateway, sizes_bytes = build_history(folder, port, now, sizes)
        print(f"  history built ({time.perf_counter() - began:.0f} s)")
        try:
            dedupes: dict[int, tuple[float, float, float]] = {}
            done = 0
            for processed in processed_sizes:
                add_processed(gateway.store, done, processed, now)
                done = processed
                dedupes[processed] = dedupe(
                    gateway.store, folder / "gw.sqlite3", processed, args.rounds * args.runs * 4
                )
        finally:
            gateway.close()
        rows = measure_sizes(folder, port, now, sizes, args.rounds, args.runs)
    report(rows, sizes_bytes, dedupes)
    print(f"\n(the run took {time.perf_counter() - began:.0f} s)")
    return 0


def report(
    rows: dict[int, Row],
    sizes_bytes: dict[int, Bytes],
    dedupes: dict[int, tuple[float, float, float]],
) -> None:
    sizes = sorted(rows)
    print(
        "\nCost per pass, ms (best of runs; bare SQL floor in brackets), by meetings in the ledger"
    )
    print(f"{'pass':<38}" + "".join(f"{s:>18,}" for s in sizes))
    verdicts = []
    for name in rows[sizes[0]]:
        cells = []
        for s in sizes:
            ms, floor = rows[s][name]
            cells.append(f"{ms:9.2f}" + (f" [{floor:5.2f}]" if floor is not None else " " * 8))
        print(f"{name:<38}" + "".join(f"{c:>18}" for c in cells))
        verdicts.append((name, rows[sizes[0]][name][0], rows[sizes[-1]][name][0]))
    counts = sorted(dedupes)
    print("\nInbound dedupe, ms (best of runs), by processed messages")
    print(f"{'query':<38}" + "".join(f"{c:>18,}" for c in counts))
    labels = ("new message", "seen before", "bare SQL floor (by Message-ID)")
    for index, label in enumerate(labels):
        print(f"{label:<38}" + "".join(f"{dedupes[c][index]:18.3f}" for c in counts))
    for index, label in enumerate(labels[:2]):
        verdicts.append(
            (f"inbound dedupe ({label})", dedupes[counts[0]][index], dedupes[counts[-1]][index])
        )
    print("\nBytes per delivered invitation (database pages in use / invitations sent)")
    print(f"{'':<38}" + "".join(f"{s:>18,}" for s in sizes))
    print(
        f"{'invitations sent':<38}" + "".join(f"{sizes_bytes[s].invitations:>18,}" for s in sizes)
    )
    for label, attr in (
        ("composed message (sent as is)", "composed"),
        ("outbox bytes stored (zlib)", "packed"),
        ("database, bytes kept", "kept"),
        ("database, after --keep-sent-bytes", "pruned"),
    ):
        print(
            f"{label:<38}"
            + "".join(f"{getattr(sizes_bytes[s], attr) / 1024:15.2f} KB" for s in sizes)
        )
    print()
    for name, first, last in verdicts:
        change = last / first - 1
        verdict = "PASS" if abs(change) <= FLAT else "FAIL"
        print(
            f"{verdict}: {name}: {first:.3f} ms -> {last:.3f} ms "
            f"({change:+.0%}, target ±{FLAT:.0%})"
        )
    worst = max(b.pruned for b in sizes_bytes.values())
    verdict = "PASS" if worst <= TARGET_BYTES else "FAIL"
    print(
        f"{verdict}: stored per delivered invitation after retention: "
        f"at most {worst / 1024:.2f} KB (target ≤ 6 KB)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
