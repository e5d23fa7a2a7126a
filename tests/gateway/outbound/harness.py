"""A gateway on a real database and a real SMTP sink, with the built-in CRM seeded.

``OutboundHarness`` builds the gateway from ``Settings`` pointing at the test's aiosmtpd
sink, a manual clock, deterministic ids, and offers the CRM's write side (``admin``) plus
one call that runs what ``invitegw serve --once`` runs: poll, reminders, flush.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select

from invitegw.crm_adapter.builtin.admin import MeetingDraft, SqlCrmAdmin
from invitegw.domain.records import EntityType, LogEntry
from invitegw.gateway.bootstrap import (
    Gateway,
    build_dispatcher,
    build_gateway,
    build_outbound,
)
from invitegw.gateway.config import (
    CalendarSettings,
    OutboundSettings,
    RetrySettings,
    Settings,
    SmtpSettings,
)
from invitegw.gateway.outbound.dispatch import DispatchReport
from invitegw.gateway.outbound.feed import OutboundReport
from invitegw.gateway.storage import OutboundAttendee, OutboxMessage, OutboxState, Store
from invitegw.mailbox.transport.netutil import pick_free_port
from tests.fixtures.process import CliProcess
from tests.fixtures.smtp_sink import ReceivedMessage, SmtpSink
from tests.gateway.outbound.builders import WARSAW, CountingIds

T0 = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)


class Unreachable:
    """A relay that is down: a free port nothing listens on (and so nothing arrives)."""

    def __init__(self) -> None:
        self.port = pick_free_port("127.0.0.1")
        self.messages: list[ReceivedMessage] = []


class ManualClock:
    """The injected clock: stands still until moved."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self.now += delta
        return self.now


def settings_for(
    sink_port: int, data_dir: Path, *, calendar: dict[str, Any] | None = None, **smtp: Any
) -> Settings:
    """Settings for the test gateway: the sink as relay, one calendar ``sales``."""
    sales = CalendarSettings(
        name="sales",
        address="sales@example.com",
        display_name="Example Sales",
        time_zone="Europe/Warsaw",
        **(calendar or {}),
    )
    retry = RetrySettings(
        first_delay=dt.timedelta(minutes=1),
        factor=2.0,
        max_delay=dt.timedelta(hours=6),
        max_attempts=5,
        jitter=0.1,
    )
    return Settings(
        data_dir=data_dir,
        smtp=SmtpSettings(host="127.0.0.1", port=sink_port, retry=retry, **smtp),
        calendars=(sales,),
        outbound=OutboundSettings(grace_period=dt.timedelta(hours=1)),
    )


class OutboundHarness:
    """The gateway, its CRM and the sink of one test."""

    def __init__(
        self,
        store: Store,
        sink: SmtpSink | Unreachable,
        tmp_path: Path,
        *,
        baseline: bool = True,
        **settings: Any,
    ) -> None:
        self.store = store
        self.sink = sink
        self.clock = ManualClock()
        self.ids = CountingIds()
        self.settings = settings_for(sink.port, tmp_path / "data", **settings)
        self.gateway: Gateway = build_gateway(self.settings, store=store, clock=self.clock)
        self.outbound = build_outbound(self.gateway, ids=self.ids)
        self.dispatcher = build_dispatcher(self.gateway, rng=lambda: 0.5)
        self.people: dict[str, str] = {}
        if baseline:
            # The first start's baseline, on the empty CRM: what the tests create is new.
            self.outbound.ensure_baseline()

    def with_settings(self, **changes: Any) -> None:
        """Replace settings sections (``smtp=...``) and rebuild the pipeline parts."""
        self.settings = dataclasses.replace(self.settings, **changes)
        self.gateway = build_gateway(self.settings, store=self.store, clock=self.clock)
        self.outbound = build_outbound(self.gateway, ids=self.ids)
        self.dispatcher = build_dispatcher(self.gateway, rng=lambda: 0.5)

    @contextlib.contextmanager
    def admin(self) -> Iterator[SqlCrmAdmin]:
        """The built-in CRM's write side, in one committed transaction."""
        with self.store.session() as session:
            yield SqlCrmAdmin(session, clock=self.clock)

    def seed(self) -> None:
        """Olga (organizer, Polish), Carl (colleague), Gina and Paweł (external, Polish)."""
        with self.admin() as crm:
            crm.add_party(
                EntityType.USER,
                ["olga@example.com"],
                name="Olga Organizer",
                language="pl",
                time_zone="Europe/Warsaw",
            )
            crm.add_party(EntityType.USER, ["carl@example.com"], name="Carl Colleague")
            crm.add_party(
                EntityType.CONTACT, ["gina@example.org"], name="Gina Guest", account="Acme"
            )
            crm.add_party(
                EntityType.CONTACT,
                ["pawel@example.org"],
                name="Paweł Nowak",
                language="pl",
                account="Nowak i Syn",
            )

    def create_meeting(self, **changes: Any) -> str:
        """The weekly kick-off (six Mondays from June 1, 10:00 Warsaw); returns its id."""
        draft = MeetingDraft(
            title="Project kick-off",
            start=dt.datetime(2026, 6, 1, 10, tzinfo=WARSAW),
            end=dt.datetime(2026, 6, 1, 11, tzinfo=WARSAW),
            organizer="olga@example.com",
            attendees=["carl@example.com", "gina@example.org", "pawel@example.org"],
            time_zone="Europe/Warsaw",
            location="Room 4",
            description="Scope and plan.",
            rrule="FREQ=WEEKLY;COUNT=6",
        )
        with self.admin() as crm:
            return str(crm.create_meeting(dataclasses.replace(draft, **changes)))

    def run(self) -> tuple[OutboundReport, DispatchReport]:
        """What ``serve --once`` does for outbound: poll the feed, then flush the outbox."""
        return self.outbound.poll(), self.dispatcher.flush()

    def received_since(self, count: int) -> list[ReceivedMessage]:
        """The messages the sink got after the first ``count``."""
        return self.sink.messages[count:]

    def outbox(self) -> list[OutboxMessage]:
        with self.store.session() as session:
            return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def states(self) -> list[OutboxState]:
        return [row.state for row in self.outbox()]

    def crm_log(self) -> list[LogEntry]:
        with self.admin() as crm:
            return [entry for _id, entry in crm.list_logs()]


def write_config(path: Path, store: Store, smtp_port: int, extra: str = "") -> Path:
    """An ``invitegw.toml`` for the CLI: the test's database and sink, calendar ``sales``."""
    url = store.engine.url.render_as_string(hide_password=False)
    path.write_text(
        f'data_dir = "{path.parent / "cli-data"}"\n'
        f'[database]\nurl = "{url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
        '[[calendars]]\nname = "sales"\naddress = "sales@example.com"\n'
        'time_zone = "Europe/Warsaw"\n' + extra
    )
    return path


# An `invitegw` process started by a test (its stderr awaitable line by line).
Cli = CliProcess


def attendee_row(store: Store, address: str) -> OutboundAttendee:
    """The outbound ledger's row of ``address`` (detached: read it after the session)."""
    with store.session() as session:
        row = session.scalars(
            select(OutboundAttendee).where(OutboundAttendee.address == address)
        ).one()
        session.expunge(row)
        return row


def parse_message(raw: bytes) -> EmailMessage:
    """A received message, parsed."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def calendar_bytes(message: EmailMessage) -> bytes:
    """The inline text/calendar part's data."""
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data
