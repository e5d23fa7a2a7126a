"""The inbound pipeline on a real database with the built-in CRM, seeded with people.

``InboundHarness`` builds the gateway from ``Settings`` (one calendar ``sales``, a manual
clock), seeds the CRM (users Sam and Tina, contact Olivia, lead Lena), and offers one call
per thing a test does: handle a message, release a quarantined one, and read the tasks,
the ledger, the processed records, the quarantine and the logs back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from invitegw.crm_adapter.builtin.admin import SqlCrmAdmin
from invitegw.domain.records import EntityType, LogEntry, Party, Task
from invitegw.gateway.bootstrap import Gateway, build_gateway, inbound_pipeline
from invitegw.gateway.config import CalendarSettings, InboundSettings, Settings
from invitegw.gateway.inbound.model import MessageResult, ReceivedMessage
from invitegw.gateway.storage import (
    EventLogEntry,
    InboundEvent,
    InboundEventSource,
    ProcessedMessage,
    QuarantinedMessage,
    Store,
)
from tests.gateway.inbound.builders import CONTACT, LEAD, SAM, STAFF2
from tests.gateway.outbound.harness import ManualClock

__all__ = ["InboundHarness"]


class InboundHarness:
    """The pipeline, its CRM and its records for one test."""

    def __init__(self, store: Store, tmp_path: Path, **inbound: Any) -> None:
        self.store = store
        self.clock = ManualClock()
        self.settings = Settings(
            data_dir=tmp_path / "data",
            calendars=(
                CalendarSettings(
                    name="sales", address="sales@example.com", time_zone="Europe/Warsaw"
                ),
            ),
            inbound=InboundSettings(**inbound),
        )
        self.gateway: Gateway = build_gateway(self.settings, store=store, clock=self.clock)
        self.pipeline = inbound_pipeline(self.gateway)
        with self.store.session() as session:
            crm = SqlCrmAdmin(session, clock=self.clock)
            crm.add_party(EntityType.USER, [SAM], name="Sam Staff")
            crm.add_party(EntityType.USER, [STAFF2], name="Tina Staff")
            crm.add_party(EntityType.CONTACT, [CONTACT], name="Olivia Organizer", account="Partner")
            crm.add_party(EntityType.LEAD, [LEAD], name="Lena Lead")

    def with_inbound(self, **inbound: Any) -> None:
        """Other ``[inbound]`` settings from now on."""
        self.settings = dataclasses.replace(
            self.settings, inbound=dataclasses.replace(self.settings.inbound, **inbound)
        )
        self.gateway = build_gateway(self.settings, store=self.store, clock=self.clock)
        self.pipeline = inbound_pipeline(self.gateway)

    def received(self, raw: bytes, **fields: Any) -> ReceivedMessage:
        """``raw`` as the mailbox owned by Sam received it (fields override)."""
        values: dict[str, Any] = {"source": "inbox", "owner": SAM, "reference": "test"}
        values.update(fields)
        return ReceivedMessage(raw=raw, **values)

    def handle(self, raw: bytes, *, dry_run: bool = False, **fields: Any) -> MessageResult:
        """Run the pipeline on ``raw`` (see :meth:`received`)."""
        self.clock.advance(dt.timedelta(seconds=1))
        return self.pipeline.handle(self.received(raw, **fields), dry_run=dry_run)

    def add_user(self, address: str) -> None:
        """Make ``address`` a CRM user."""
        with self.store.session() as session:
            SqlCrmAdmin(session, clock=self.clock).add_party(EntityType.USER, [address])

    # -- reading back -------------------------------------------------------------------------

    def tasks(self) -> list[tuple[Task, Party, Party | None]]:
        """Every CRM task with its owner and party."""
        with self.store.session() as session:
            return SqlCrmAdmin(session).list_tasks()

    def task(self, task_id: str | None) -> Task:
        """One task by id."""
        found = [t for t, _, _ in self.tasks() if t.id == task_id]
        assert found, f"no task {task_id}"
        return found[0]

    def crm_logs(self) -> list[LogEntry]:
        """The built-in CRM's integration log."""
        with self.store.session() as session:
            return [entry for _, entry in SqlCrmAdmin(session).list_logs()]

    def ledger(self) -> list[InboundEvent]:
        """The inbound ledger rows (detached)."""
        with self.store.session() as session:
            return list(session.scalars(select(InboundEvent).order_by(InboundEvent.id)))

    def sources(self) -> list[InboundEventSource]:
        """Which messages carried which ledger row."""
        with self.store.session() as session:
            return list(session.scalars(select(InboundEventSource).order_by(InboundEventSource.id)))

    def quarantine(self) -> list[QuarantinedMessage]:
        """The quarantine rows."""
        with self.store.session() as session:
            return list(session.scalars(select(QuarantinedMessage).order_by(QuarantinedMessage.id)))

    def processed(self) -> list[ProcessedMessage]:
        """The processed records."""
        with self.store.session() as session:
            return list(session.scalars(select(ProcessedMessage).order_by(ProcessedMessage.id)))

    def event_log(self) -> list[EventLogEntry]:
        """The gateway's event log."""
        with self.store.session() as session:
            return list(session.scalars(select(EventLogEntry).order_by(EventLogEntry.id)))

    def count(self, model: type[Any]) -> int:
        """Rows in ``model``'s table."""
        with self.store.session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)
