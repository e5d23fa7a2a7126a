"""End to end: invitations APPENDed to Dovecot while the watcher IDLEs become CRM tasks.

The real pipeline (``InboundPipeline``) runs behind a :class:`MailboxService` on the
built-in CRM; each message is APPENDed while the watcher IDLEs, and the test waits for the
pipeline's committed result and the watcher's MOVE (events, no sleeps), then checks the
outcome, the CRM and the folder the message went to (Processed or Quarantine). The
APPEND → committed task latency is printed (``pytest -s``).

Faults: Dovecot restarted while IDLE; the worker killed between the CRM commit and the
MOVE; a UIDVALIDITY change. And the SMTP listener with smtplib as the client.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import smtplib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from invitegw.crm_adapter.builtin.schema import CrmMeetingResponse, CrmTask
from invitegw.domain.records import EntityType, TaskStatus
from invitegw.gateway.bootstrap import (
    imap_source,
    inbound_parts,
    inbound_pipeline,
)
from invitegw.gateway.cli import main
from invitegw.gateway.config import ListenerSettings
from invitegw.gateway.inbound.imap_service import MailboxService
from invitegw.gateway.inbound.jobs import inbound_services
from invitegw.gateway.inbound.model import InboundOutcome, MessageResult, ReceivedMessage
from invitegw.gateway.inbound.pipeline import InboundPipeline
from invitegw.gateway.storage import Lease, Store
from invitegw.ics import parse_calendar
from invitegw.mailbox.transport.imap_values import WatchEvent
from invitegw.mailbox.transport.netutil import pick_free_port
from tests.fixtures.dovecot import DovecotServer, ImapUser
from tests.fixtures.process import CliProcess
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.inbound.service_harness import WAIT, mailbox_settings
from tests.gateway.inbound.service_mails import (
    DEFAULT_START,
    calendar,
    forward_as_attachment,
    google_invitation,
    malformed,
    outlook_invitation,
    simple_calendar_mail,
    two_ics,
)
from tests.gateway.outbound.harness import (
    OutboundHarness,
    calendar_bytes,
    parse_message,
    write_config,
)

pytestmark = pytest.mark.dovecot

OLGA = "olga@example.com"  # the mailbox's owner (staff)
CARL = "carl@example.com"  # staff
DORA = "dora@example.com"  # staff
GINA = "gina@example.org"  # a contact (Acme)
PAT = "pat@partner.example"  # a contact (Partner)
MALLORY = "mallory@evil.example"  # nobody
_MID = re.compile(rb"^Message-ID:\s*<([^>\r\n]+)>", re.IGNORECASE | re.MULTILINE)


def message_id(raw: bytes) -> str:
    """The (outer) Message-ID, without angle brackets."""
    match = _MID.search(raw)
    assert match is not None
    return match.group(1).decode()


class NotifyingPipeline:
    """The real pipeline; each committed result is announced to waiting tests."""

    def __init__(self, pipeline: InboundPipeline) -> None:
        self.pipeline = pipeline
        self._cond = threading.Condition()
        self.results: dict[str, list[MessageResult]] = {}
        self.committed_at: dict[str, float] = {}
        self.calls = 0

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        result = self.pipeline.handle(message, dry_run=dry_run)
        with self._cond:
            self.calls += 1
            key = result.message_id or ""
            self.results.setdefault(key, []).append(result)
            self.committed_at[key] = time.perf_counter()
            self._cond.notify_all()
        return result

    def wait(self, mid: str, count: int = 1, timeout: float = WAIT) -> MessageResult:
        """The ``count``-th result for Message-ID ``mid`` (fails past the deadline)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.results.get(mid, [])) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no committed result for {mid}"
                self._cond.wait(remaining)
            return self.results[mid][count - 1]


class Inbound:
    """One test's gateway (built-in CRM, seeded), its mailbox, watcher service and sink."""

    def __init__(
        self, store: Store, sink: SmtpSink, tmp_path: Path, dovecot: DovecotServer
    ) -> None:
        self.dovecot = dovecot
        self.user: ImapUser = dovecot.add_user()
        self.box = mailbox_settings(dovecot, self.user, owner=OLGA)
        self.h = OutboundHarness(store, sink, tmp_path)
        self.h.with_settings(mailboxes=(self.box,))
        self.h.seed()
        with self.h.admin() as crm:
            crm.add_party(EntityType.USER, [DORA], name="Dora Staff")
            crm.add_party(EntityType.CONTACT, [PAT], name="Pat Partner", account="Partner")
        self.pipeline = NotifyingPipeline(inbound_pipeline(self.h.gateway))
        self.service: MailboxService | None = None
        self.latencies: list[float] = []

    def start(self) -> MailboxService:
        service = MailboxService(imap_source(self.h.gateway, self.box, self.pipeline))
        service.start()
        assert service.wait_until(lambda s: s.holding, WAIT)
        assert service.events.wait_for(WatchEvent.IDLE, 1, WAIT)
        self.service = service
        return service

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None

    def deliver(self, raw: bytes, *, count: int = 1) -> MessageResult:
        """APPEND while the watcher IDLEs; the committed result, once the message moved."""
        assert self.service is not None
        handled = self.service.events.count(WatchEvent.HANDLED)
        started = time.perf_counter()
        self.dovecot.append(self.user, raw)
        mid = message_id(raw)
        result = self.pipeline.wait(mid, count)
        latency = self.pipeline.committed_at[mid] - started
        self.latencies.append(latency)
        print(f"APPEND -> committed {mid}: {latency * 1000:.0f} ms")
        assert self.service.events.wait_for(WatchEvent.HANDLED, handled + 1, WAIT)
        return result

    def folder_of(self, raw: bytes) -> str:
        """Where the message is now: INBOX, Processed or Quarantine."""
        mid = message_id(raw)
        for folder in ("INBOX", "Processed", "Quarantine"):
            if any(
                message_id(data) == mid
                for data in self.dovecot.messages(self.user, folder).values()
            ):
                return folder
        raise AssertionError(f"{mid!r} is in no folder")

    def tasks(self) -> list[CrmTask]:
        with self.h.store.session() as session:
            rows = list(session.scalars(select(CrmTask).order_by(CrmTask.id)))
            session.expunge_all()
            return rows


@pytest.fixture
def inbound(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path, dovecot: DovecotServer
) -> Iterator[Inbound]:
    env = Inbound(store, smtp_sink, tmp_path, dovecot)
    try:
        yield env
    finally:
        env.stop()
        if env.latencies:
            ordered = sorted(env.latencies)
            print(
                f"APPEND -> committed task: {len(ordered)} messages, "
                f"median {ordered[len(ordered) // 2] * 1000:.0f} ms, "
                f"max {ordered[-1] * 1000:.0f} ms"
            )


def outcomes(result: MessageResult) -> list[InboundOutcome]:
    return [e.outcome for e in result.events]


# -- the inbound cases --------------------------------------------------------------------------


def test_invitations_become_tasks_with_the_right_outcome_and_folder(inbound: Inbound) -> None:
    inbound.start()

    # A forwarded Outlook invitation (message/rfc822) by a staff member: a task for Carl.
    original = outlook_invitation(sender=PAT, to=CARL, uid="outlook-fw-1", summary="Pricing")
    fw = forward_as_attachment(original, forwarder=CARL, to=OLGA, subject="Pricing")
    result = inbound.deliver(fw)
    assert outcomes(result) == [InboundOutcome.CREATED]
    assert inbound.folder_of(fw) == "Processed"

    # A Gmail invitation straight from a known contact.
    gmail = google_invitation(sender=GINA, to=OLGA, uid="gmail-1@google.com", summary="Design")
    assert outcomes(inbound.deliver(gmail)) == [InboundOutcome.CREATED]
    assert inbound.folder_of(gmail) == "Processed"

    # Two .ics in one message: two tasks.
    two = two_ics(sender=GINA, to=OLGA, uids=("two-a@x", "two-b@x"), summaries=("A", "B"))
    assert outcomes(inbound.deliver(two)) == [InboundOutcome.CREATED] * 2
    assert inbound.folder_of(two) == "Processed"

    tasks = inbound.tasks()
    assert [(t.title, t.source_uid) for t in tasks] == [
        ("Pricing", "outlook-fw-1"),
        ("Design", "gmail-1@google.com"),
        ("A", "two-a@x"),
        ("B", "two-b@x"),
    ]
    assert tasks[0].organizer_email == PAT
    assert all(t.status is TaskStatus.OPEN for t in tasks)

    # A reschedule with a higher SEQUENCE updates the task.
    later = DEFAULT_START + dt.timedelta(days=2)
    moved = google_invitation(
        sender=GINA, to=OLGA, uid="gmail-1@google.com", summary="Design", sequence=1, start=later
    )
    assert outcomes(inbound.deliver(moved)) == [InboundOutcome.UPDATED]
    assert inbound.folder_of(moved) == "Processed"
    design = next(t for t in inbound.tasks() if t.source_uid == "gmail-1@google.com")
    assert design.sequence == 1
    assert design.start_at is not None
    assert design.start_at.replace(tzinfo=design.start_at.tzinfo or dt.UTC) == dt.datetime(
        2026, 9, 16, 8, 0, tzinfo=dt.UTC
    )

    # The same invitation forwarded by a second staff member: no second task.
    again = forward_as_attachment(original, forwarder=DORA, to=OLGA, subject="Pricing")
    assert outcomes(inbound.deliver(again)) == [InboundOutcome.DUPLICATE]
    assert inbound.folder_of(again) == "Processed"
    assert len(inbound.tasks()) == 4

    # A spoofed CANCEL (From someone else, naming Gina as organizer): quarantined.
    spoof_ics = calendar(
        uid="gmail-1@google.com", organizer=GINA, attendees=(OLGA,), method="CANCEL", sequence=2
    )
    spoof = simple_calendar_mail(
        sender=MALLORY, to=OLGA, ics=spoof_ics, method="CANCEL", subject="Canceled: Design"
    )
    result = inbound.deliver(spoof)
    assert outcomes(result) == [InboundOutcome.QUARANTINED]
    assert result.reason
    assert inbound.folder_of(spoof) == "Quarantine"

    # The organizer's own CANCEL: the task is cancelled.
    cancel_ics = calendar(
        uid="gmail-1@google.com", organizer=GINA, attendees=(OLGA,), method="CANCEL", sequence=2
    )
    cancel = simple_calendar_mail(
        sender=GINA, to=OLGA, ics=cancel_ics, method="CANCEL", subject="Canceled: Design"
    )
    assert outcomes(inbound.deliver(cancel)) == [InboundOutcome.CANCELLED]
    assert inbound.folder_of(cancel) == "Processed"
    design = next(t for t in inbound.tasks() if t.source_uid == "gmail-1@google.com")
    assert design.status is TaskStatus.CANCELLED

    # A malformed calendar: quarantined with a reason.
    broken = malformed(sender=GINA, to=OLGA)
    result = inbound.deliver(broken)
    assert outcomes(result) == [InboundOutcome.QUARANTINED]
    assert result.reason
    assert inbound.folder_of(broken) == "Quarantine"
    assert len(inbound.tasks()) == 4


def test_an_attendees_reply_to_our_own_invitation_is_recorded(inbound: Inbound) -> None:
    # The outbound side sends the invitation first.
    meeting_id = inbound.h.create_meeting()
    inbound.h.run()
    sent = next(m for m in inbound.h.sink.messages if GINA in m.rcpt_tos)
    invitation = parse_calendar(calendar_bytes(parse_message(sent.raw)))
    (event,) = invitation.events[:1]
    assert event.organizer is not None
    organizer = event.organizer.email  # the calendar's token address for Gina
    inbound.start()
    reply_ics = calendar(
        uid=event.uid,
        organizer=organizer,
        attendees=(GINA,),
        method="REPLY",
        sequence=event.sequence,
        partstat="ACCEPTED",
    )
    reply = simple_calendar_mail(
        sender=GINA, to=organizer, ics=reply_ics, method="REPLY", subject="Accepted: Kick-off"
    )
    result = inbound.deliver(reply)
    assert outcomes(result) == [InboundOutcome.REPLY_RECORDED]
    assert inbound.folder_of(reply) == "Processed"
    with inbound.h.store.session() as session:
        answers = [
            (r.attendee_email, r.partstat)
            for r in session.scalars(select(CrmMeetingResponse))
            if str(r.meeting_id) == meeting_id
        ]
    assert answers == [(GINA, "ACCEPTED")]


# -- faults ---------------------------------------------------------------------------------


def test_dovecot_restarted_while_idle_nothing_is_missed(
    inbound: Inbound, dovecot: DovecotServer
) -> None:
    service = inbound.start()
    first = google_invitation(sender=GINA, to=OLGA, uid="restart-1@google.com")
    assert outcomes(inbound.deliver(first)) == [InboundOutcome.CREATED]
    connected = service.events.count(WatchEvent.CONNECTED)
    dovecot.restart()
    # Appended while the watcher is away: found by the drain after the reconnect.
    second = google_invitation(sender=GINA, to=OLGA, uid="restart-2@google.com")
    dovecot.append(inbound.user, second)
    assert outcomes(inbound.pipeline.wait(message_id(second))) == [InboundOutcome.CREATED]
    assert service.events.wait_for(WatchEvent.CONNECTED, connected + 1, WAIT)
    assert service.events.count(WatchEvent.DISCONNECTED) >= 1
    assert service.events.wait_for(WatchEvent.IDLE, service.events.count(WatchEvent.IDLE) + 1, WAIT)
    third = google_invitation(sender=GINA, to=OLGA, uid="restart-3@google.com")
    assert outcomes(inbound.deliver(third)) == [InboundOutcome.CREATED]
    assert [t.source_uid for t in inbound.tasks()] == [
        "restart-1@google.com",
        "restart-2@google.com",
        "restart-3@google.com",
    ]
    assert dovecot.uids(inbound.user) == []


class _Killed(BaseException):
    """The worker dies: not an ``Exception``, so nothing in the watcher catches it."""


class _DiesAfterCommit:
    """The real pipeline commits, then the worker dies before the watcher can MOVE."""

    def __init__(self, pipeline: NotifyingPipeline) -> None:
        self.pipeline = pipeline

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        self.pipeline.handle(message, dry_run=dry_run)
        raise _Killed


def test_worker_killed_between_commit_and_move_no_duplicate_on_restart(
    inbound: Inbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    died = threading.Event()

    def excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is _Killed:
            died.set()

    monkeypatch.setattr(threading, "excepthook", excepthook)
    doomed = MailboxService(
        imap_source(inbound.h.gateway, inbound.box, _DiesAfterCommit(inbound.pipeline))
    )
    doomed.start()
    try:
        raw = google_invitation(sender=GINA, to=OLGA, uid="killed-1@google.com")
        inbound.dovecot.append(inbound.user, raw)
        assert outcomes(inbound.pipeline.wait(message_id(raw))) == [InboundOutcome.CREATED]
        assert died.wait(WAIT)
    finally:
        doomed.stop()
    assert inbound.folder_of(raw) == "INBOX"  # committed, never moved
    assert len(inbound.tasks()) == 1

    # The restarted worker: the same message again is a no-op, and now it is moved.
    inbound.start()
    assert inbound.service is not None
    again = inbound.pipeline.wait(message_id(raw), count=2)
    assert again.already_processed
    assert inbound.service.events.wait_for(WatchEvent.HANDLED, 1, WAIT)
    assert inbound.folder_of(raw) == "Processed"
    assert [t.source_uid for t in inbound.tasks()] == ["killed-1@google.com"]


def test_a_uidvalidity_change_rescans_without_duplicates(
    inbound: Inbound, dovecot: DovecotServer
) -> None:
    inbound.start()
    first = google_invitation(sender=GINA, to=OLGA, uid="uidv-1@google.com")
    assert outcomes(inbound.deliver(first)) == [InboundOutcome.CREATED]
    inbound.stop()
    # The folder is restored from a backup holding the first message again, a new one
    # arrives, and the folder gets a new UIDVALIDITY (its UIDs start again at 1).
    dovecot.append(inbound.user, first)
    fresh = google_invitation(sender=GINA, to=OLGA, uid="uidv-2@google.com")
    dovecot.append(inbound.user, fresh)
    dovecot.reset_uidvalidity(inbound.user)
    service = inbound.start()
    assert service.events.count(WatchEvent.UIDVALIDITY_CHANGED) == 1
    assert inbound.pipeline.wait(message_id(first), count=2).already_processed
    assert outcomes(inbound.pipeline.wait(message_id(fresh))) == [InboundOutcome.CREATED]
    assert service.events.wait_for(WatchEvent.HANDLED, 2, WAIT)
    assert [t.source_uid for t in inbound.tasks()] == ["uidv-1@google.com", "uidv-2@google.com"]
    assert dovecot.uids(inbound.user) == []
    assert len(dovecot.uids(inbound.user, "Processed")) == 3


# -- the SMTP listener ------------------------------------------------------------------------


def test_the_listener_turns_an_accepted_message_into_a_task(inbound: Inbound) -> None:
    port = pick_free_port()
    listener = ListenerSettings(
        enabled=True, port=port, recipients=("crm@example.com",), max_message_size=64 * 1024
    )
    inbound.h.with_settings(mailboxes=(), listener=listener)
    gateway = inbound.h.gateway
    inbound_parts(gateway, pipeline=NotifyingPipeline(inbound_pipeline(gateway)))
    pipeline = inbound_parts(gateway).pipeline
    assert isinstance(pipeline, NotifyingPipeline)
    services = list(inbound_services(inbound_parts(gateway)))
    for service in services:
        service.start()
    try:
        original = outlook_invitation(sender=PAT, to=CARL, uid="smtp-1", summary="By SMTP")
        fw = forward_as_attachment(original, forwarder=CARL, to="crm@example.com", subject="x")
        with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as unknown:
                client.sendmail(CARL, ["nobody@example.com"], fw)
            code, text = unknown.value.recipients["nobody@example.com"]
            assert (code, text[:5]) == (550, b"5.1.1")
            with pytest.raises(smtplib.SMTPResponseException) as big:
                client.sendmail(CARL, ["crm@example.com"], fw + b"x" * (70 * 1024) + b"\r\n")
            assert (big.value.smtp_code, big.value.smtp_error[:5]) == (552, b"5.3.4")
            client.rset()
            client.sendmail(CARL, ["crm@example.com"], fw)
            accepted = time.perf_counter()
        result = pipeline.wait(message_id(fw))
        latency = pipeline.committed_at[message_id(fw)] - accepted
        print(f"SMTP 250 -> committed task: {latency * 1000:.0f} ms")
    finally:
        for service in reversed(services):
            service.stop(5)
    assert outcomes(result) == [InboundOutcome.CREATED]
    assert [t.source_uid for t in inbound.tasks()] == ["smtp-1"]


# -- invitegw serve --once ------------------------------------------------------------------


def test_serve_once_drains_the_mailbox_between_poll_and_flush(
    inbound: Inbound,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = google_invitation(sender=GINA, to=OLGA, uid="once-1@google.com", summary="Once")
    inbound.dovecot.append(inbound.user, raw)
    box = (
        f'[[mailboxes]]\nname = "sales"\nhost = "{inbound.dovecot.host}"\n'
        f'port = {inbound.dovecot.port}\ntls = "none"\nusername = "{inbound.user.name}"\n'
        f'owner = "{OLGA}"\n'
    )
    config = write_config(tmp_path / "invitegw.toml", inbound.h.store, smtp_sink.port, box)
    monkeypatch.setenv("INVITEGW_MAILBOXES__SALES__PASSWORD", inbound.user.password)
    assert main(["--config", str(config), "serve", "--once"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == [
        "crm-poll",
        "reminders",
        "inbound-mailboxes",
        "outbox",
    ]
    assert lines[2] == "inbound-mailboxes: sales: 1 handled"
    assert inbound.folder_of(raw) == "Processed"
    assert [(t.title, t.source_uid) for t in inbound.tasks()] == [("Once", "once-1@google.com")]


def test_serve_watches_and_listens_until_sigterm_then_releases_the_lease(
    inbound: Inbound, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    port = pick_free_port()
    extra = (
        f'[[mailboxes]]\nname = "sales"\nhost = "{inbound.dovecot.host}"\n'
        f'port = {inbound.dovecot.port}\ntls = "none"\nusername = "{inbound.user.name}"\n'
        f'owner = "{OLGA}"\n'
        f'[listener]\nenabled = true\nport = {port}\nrecipients = ["crm@example.com"]\n'
    )
    config = write_config(tmp_path / "invitegw.toml", inbound.h.store, smtp_sink.port, extra)
    env = {**os.environ, "INVITEGW_MAILBOXES__SALES__PASSWORD": inbound.user.password}
    serve = CliProcess(config, "serve", env=env)
    try:
        serve.wait_ready()  # a generous bound: the start alone may be slow on a busy machine
        serve.wait_for_line("IMAP watching sales", WAIT)
        serve.wait_for_line(f"SMTP listener on 127.0.0.1:{port}", WAIT)
        with inbound.dovecot.client(inbound.user) as idler:
            idler.select_folder("Processed")
            idler.idle()
            raw = google_invitation(sender=GINA, to=OLGA, uid="serve-1@google.com")
            inbound.dovecot.append(inbound.user, raw)
            deadline = time.monotonic() + WAIT
            moved = False
            while not moved and time.monotonic() < deadline:
                moved = any(len(r) > 1 and r[1] == b"EXISTS" for r in idler.idle_check(1.0))
            idler.idle_done()
        assert moved, "the message never reached Processed"
        original = outlook_invitation(sender=PAT, to=CARL, uid="serve-2", summary="Listened")
        fw = forward_as_attachment(original, forwarder=CARL, to="crm@example.com", subject="x")
        with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
            client.sendmail(CARL, ["crm@example.com"], fw)
        serve.wait_for_line("spool drained: 1 processed", WAIT)
    finally:
        serve.terminate()
        code, err = serve.finish()
    assert code == 0, err
    assert "SIGTERM received: stopping" in err
    assert [t.source_uid for t in inbound.tasks()] == ["serve-1@google.com", "serve-2"]
    with inbound.h.store.session() as session:
        assert session.scalars(select(Lease)).all() == []  # released on the way out
