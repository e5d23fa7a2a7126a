"""Cursors, IMAP checkpoints, leases, the event log, the spool, processed and quarantine."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys

from sqlalchemy import select

from invitegw.domain.records import LogLevel
from invitegw.gateway.storage import (
    EventLogEntry,
    Lease,
    SpoolState,
    Store,
    StoreCheckpoint,
    StoreSpool,
    acquire_lease,
    append_processed,
    claim_spooled,
    finish_spooled,
    get_checkpoint,
    get_cursor,
    log_event,
    log_events,
    quarantine_message,
    release_lease,
    renew_lease,
    set_checkpoint,
    set_cursor,
    spool_message,
)
from invitegw.gateway.storage.models import ProcessedMessage
from invitegw.mailbox.transport.imap_values import Checkpoint
from invitegw.mailbox.transport.smtp_receive import Spool

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def test_cursor_round_trip(store: Store) -> None:
    with store.session() as session:
        assert get_cursor(session, "crm.changes") is None
        set_cursor(session, "crm.changes", "10", now=T0)
    with store.session() as session:
        set_cursor(session, "crm.changes", "12", now=T0 + MINUTE)
    with store.session() as session:
        assert get_cursor(session, "crm.changes") == "12"


def test_checkpoint_never_moves_back_within_a_uidvalidity(store: Store) -> None:
    with store.session() as session:
        assert get_checkpoint(session, "sales") is None
        set_checkpoint(session, "sales", uidvalidity=5, last_uid=40, now=T0)
        set_checkpoint(session, "sales", uidvalidity=5, last_uid=30, now=T0)
    with store.session() as session:
        point = get_checkpoint(session, "sales")
        assert point is not None
        assert (point.uidvalidity, point.last_uid) == (5, 40)
        set_checkpoint(session, "sales", uidvalidity=9, last_uid=3, now=T0)
    with store.session() as session:
        point = get_checkpoint(session, "sales")
        assert point is not None
        assert (point.uidvalidity, point.last_uid) == (9, 3)


def test_leases_are_exclusive_until_they_expire(store: Store) -> None:
    ttl = MINUTE
    with store.session() as session:
        assert acquire_lease(session, "imap:sales", "w1", now=T0, duration=ttl)
    with store.session() as session:
        assert not acquire_lease(session, "imap:sales", "w2", now=T0 + ttl / 2, duration=ttl)
        assert acquire_lease(session, "imap:sales", "w1", now=T0 + ttl / 2, duration=ttl)
        assert renew_lease(session, "imap:sales", "w1", now=T0 + ttl, duration=ttl)
    with store.session() as session:
        lease = session.get(Lease, "imap:sales")
        assert lease is not None
        assert (lease.holder, lease.acquired_at, lease.expires_at) == ("w1", T0, T0 + 2 * ttl)
    # w1 stops heartbeating: after expiry w2 takes over, and w1's renewal fails.
    with store.session() as session:
        assert acquire_lease(session, "imap:sales", "w2", now=T0 + 3 * ttl, duration=ttl)
    with store.session() as session:
        assert not renew_lease(session, "imap:sales", "w1", now=T0 + 3 * ttl, duration=ttl)
        assert not release_lease(session, "imap:sales", "w1")
        lease = session.get(Lease, "imap:sales")
        assert lease is not None
        assert (lease.holder, lease.acquired_at) == ("w2", T0 + 3 * ttl)
        assert release_lease(session, "imap:sales", "w2")
    with store.session() as session:
        assert acquire_lease(session, "imap:sales", "w3", now=T0 + 3 * ttl, duration=ttl)


def _dead_pid() -> int:
    """The pid of a process of ours that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lease_of_a_dead_process_on_this_host_is_taken_at_once(store: Store) -> None:
    host = socket.gethostname()
    me = f"{host}:{os.getpid()}"
    ttl = MINUTE
    with store.session() as session:  # the worker before a kill -9, on this host
        assert acquire_lease(session, "imap:sales", f"{host}:{_dead_pid()}", now=T0, duration=ttl)
    with store.session() as session:
        assert acquire_lease(session, "imap:sales", me, now=T0 + ttl / 10, duration=ttl)
        lease = session.get(Lease, "imap:sales")
        assert lease is not None
        assert (lease.holder, lease.acquired_at) == (me, T0 + ttl / 10)


def test_a_live_or_remote_holder_keeps_its_lease_until_it_expires(store: Store) -> None:
    host = socket.gethostname()
    me = f"{host}:{os.getpid()}"
    ttl = MINUTE
    holders = {
        "imap:a": f"{host}:{os.getppid()}",  # alive: the process that started ours
        "imap:b": f"elsewhere.example:{_dead_pid()}",  # another host: it cannot be judged
        "imap:c": "gw-1",  # an id from worker.id: never judged
    }
    with store.session() as session:
        for name, holder in holders.items():
            assert acquire_lease(session, name, holder, now=T0, duration=ttl)
    with store.session() as session:
        for name in holders:
            assert not acquire_lease(session, name, me, now=T0 + ttl / 2, duration=ttl)
        # An id from worker.id does not take a dead host:pid holder's lease either.
        assert acquire_lease(session, "imap:d", f"{host}:{_dead_pid()}", now=T0, duration=ttl)
        assert not acquire_lease(session, "imap:d", "gw-1", now=T0, duration=ttl)


def test_event_log(store: Store) -> None:
    with store.session() as session:
        log_event(
            session,
            now=T0,
            level=LogLevel.WARNING,
            kind="retry",
            text="421 try later",
            meeting_id="5",
            message_id="<m@example.com>",
            details={"attempt": 2},
        )
    with store.session() as session:
        entry = session.query(EventLogEntry).one()
        assert (entry.level, entry.kind, entry.meeting_id, entry.details) == (
            LogLevel.WARNING,
            "retry",
            "5",
            {"attempt": 2},
        )


def test_event_log_entries_in_one_statement(store: Store) -> None:
    with store.session() as session:
        log_events(session, [])
        log_events(
            session,
            [
                {"now": T0, "level": LogLevel.INFO, "kind": "inbound-created", "text": "a"},
                {
                    "now": T0 + MINUTE,
                    "level": LogLevel.WARNING,
                    "kind": "inbound-quarantined",
                    "text": "b",
                    "task_id": "7",
                    "message_id": "m@example.org",
                    "details": {"uid": "u1"},
                },
            ],
        )
    with store.session() as session:
        entries = session.query(EventLogEntry).order_by(EventLogEntry.id).all()
        assert [(e.created_at, e.level, e.kind, e.text, e.task_id, e.details) for e in entries] == [
            (T0, LogLevel.INFO, "inbound-created", "a", None, None),
            (T0 + MINUTE, LogLevel.WARNING, "inbound-quarantined", "b", "7", {"uid": "u1"}),
        ]
        assert entries[1].message_id == "m@example.org"


def test_spool_claim_and_finish(store: Store) -> None:
    with store.session() as session:
        spooled = spool_message(
            session,
            mail_from="ann@example.org",
            rcpt_to=["crm@example.com"],
            raw=b"Subject: x\r\n\r\n",
            now=T0,
        )
    with store.session() as session:
        (claimed,) = claim_spooled(session, worker="w", now=T0, limit=5, claim_for=MINUTE)
        assert (claimed.id, claimed.state, claimed.rcpt_to) == (
            spooled.id,
            SpoolState.PROCESSING,
            ["crm@example.com"],
        )
        assert claim_spooled(session, worker="w", now=T0, limit=5, claim_for=MINUTE) == []
        finish_spooled(session, claimed, now=T0)
    with store.session() as session:
        assert (
            claim_spooled(session, worker="w", now=T0 + 9 * MINUTE, limit=5, claim_for=MINUTE) == []
        )


def test_append_processed_writes_every_field_without_an_object(store: Store) -> None:
    with store.session() as session:
        append_processed(
            session,
            source="sales",
            uidvalidity=5,
            uid=13,
            message_id="<c@example.org>",
            outcome="quarantined",
            reason="no calendar",
            details={"digest": "d"},
            now=T0,
        )
        assert not session.new
    with store.session() as session:
        row = session.scalars(select(ProcessedMessage)).one()
        assert (row.source, row.uidvalidity, row.uid) == ("sales", 5, 13)
        assert (row.message_id, row.outcome, row.reason, row.details, row.processed_at) == (
            "<c@example.org>",
            "quarantined",
            "no calendar",
            {"digest": "d"},
            T0,
        )


def test_quarantine_keeps_at_most_the_cap(store: Store) -> None:
    with store.session() as session:
        big = quarantine_message(
            session, source="smtp", reason="no calendar", now=T0, raw=b"x" * 100, max_bytes=10
        )
        small = quarantine_message(
            session, source="file", reason="malformed", now=T0, raw=b"abc", max_bytes=10
        )
    with store.session() as session:
        assert (big.size, big.truncated, len(big.raw or b"")) == (100, True, 10)
        assert (small.size, small.truncated, small.raw) == (3, False, b"abc")


def test_mail_io_hooks_persist_checkpoints_and_spool(store: Store) -> None:
    def clock() -> dt.datetime:
        return T0

    checkpoint: Checkpoint = StoreCheckpoint(store, clock)
    assert checkpoint.load("sales") is None
    checkpoint.save("sales", 7, 41)
    checkpoint.save("sales", 7, 40)  # never back within one UIDVALIDITY
    assert checkpoint.load("sales") == (7, 41)
    checkpoint.save("sales", 8, 0)  # a new UIDVALIDITY starts again
    assert checkpoint.load("sales") == (8, 0)

    spool: Spool = StoreSpool(store, clock)
    spool(b"Subject: hi\r\n\r\nbody\r\n", "ann@example.org", ["crm@example.com"])
    with store.session() as session:
        (row,) = claim_spooled(session, worker="w", now=T0, limit=5, claim_for=MINUTE)
        assert (row.raw, row.mail_from, row.rcpt_to, row.received_at) == (
            b"Subject: hi\r\n\r\nbody\r\n",
            "ann@example.org",
            ["crm@example.com"],
            T0,
        )
