"""The built-in CRM plugged into the contract suite: a committed session per port call.

:class:`CommittingSqlCrm` is the port as a separate process would see it: every call opens
a session, runs :class:`SqlCrm` in it and commits. :class:`SqlSeeder` creates records
through :class:`SqlCrmAdmin`, also one committed session per call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import select

from invitegw.crm_adapter.builtin.admin import MeetingDraft, SqlCrmAdmin
from invitegw.crm_adapter.builtin.crm import SqlCrm, SqlCrmOptions
from invitegw.crm_adapter.builtin.records import parse_id, rows_with_email
from invitegw.crm_adapter.builtin.schema import CrmMeetingAttendee
from invitegw.domain.records import (
    ChangeBatch,
    EntityType,
    LogEntry,
    Meeting,
    NewTask,
    Party,
    PartyRef,
    ResponseRecord,
    Task,
    TaskStatus,
    TaskUpdate,
)
from invitegw.gateway.storage import Store
from tests.crm_adapter.contract import CrmHarness, MeetingSpec

__all__ = ["CommittingSqlCrm", "SqlSeeder", "sql_harness"]


class CommittingSqlCrm:
    """The port on a store: each call in its own committed transaction."""

    def __init__(self, store: Store, options: SqlCrmOptions, clock: Callable[[], dt.datetime]):
        self.store = store
        self.options = options
        self.clock = clock

    def _crm(self, session):  # type: ignore[no-untyped-def]
        return SqlCrm(session, self.options, clock=self.clock)

    def changed_meetings(self, cursor: str | None, *, limit: int = 200) -> ChangeBatch:
        with self.store.session() as s:
            return self._crm(s).changed_meetings(cursor, limit=limit)

    def get_meeting(self, meeting_id: str) -> Meeting | None:
        with self.store.session() as s:
            return self._crm(s).get_meeting(meeting_id)

    def find_parties(self, email: str, types: Sequence[EntityType] | None = None) -> list[Party]:
        with self.store.session() as s:
            return self._crm(s).find_parties(email, types)

    def get_party(self, ref: PartyRef) -> Party | None:
        with self.store.session() as s:
            return self._crm(s).get_party(ref)

    def find_parties_many(
        self, emails: Sequence[str], types: Sequence[EntityType] | None = None
    ) -> dict[str, list[Party]]:
        """The built-in CRM's one capability, forwarded (it declares no other)."""
        with self.store.session() as s:
            return self._crm(s).find_parties_many(emails, types)

    def create_task(self, task: NewTask) -> Task:
        with self.store.session() as s:
            return self._crm(s).create_task(task)

    def find_task(self, idempotency_key: str) -> Task | None:
        with self.store.session() as s:
            return self._crm(s).find_task(idempotency_key)

    def get_task(self, task_id: str) -> Task | None:
        with self.store.session() as s:
            return self._crm(s).get_task(task_id)

    def update_task(self, task_id: str, update: TaskUpdate) -> Task:
        with self.store.session() as s:
            return self._crm(s).update_task(task_id, update)

    def set_task_status(self, task_id: str, status: TaskStatus) -> Task:
        with self.store.session() as s:
            return self._crm(s).set_task_status(task_id, status)

    def record_response(self, response: ResponseRecord) -> None:
        with self.store.session() as s:
            self._crm(s).record_response(response)

    def log(self, entry: LogEntry) -> None:
        with self.store.session() as s:
            self._crm(s).log(entry)


class SqlSeeder:
    """The contract's seeding interface on the built-in CRM's admin API."""

    def __init__(self, store: Store, clock: Callable[[], dt.datetime]):
        self.store = store
        self.clock = clock

    def _admin(self, session):  # type: ignore[no-untyped-def]
        return SqlCrmAdmin(session, clock=self.clock)

    def add_party(
        self,
        entity: EntityType,
        emails: Sequence[str],
        *,
        name: str,
        sync: bool = True,
        language: str | None = None,
        time_zone: str | None = None,
        account: str | None = None,
    ) -> PartyRef:
        with self.store.session() as s:
            ident = self._admin(s).add_party(
                entity,
                emails,
                name=name,
                sync=sync,
                language=language,
                time_zone=time_zone,
                account=account,
            )
        return PartyRef(entity, str(ident))

    def add_meeting(self, spec: MeetingSpec) -> str:
        draft = MeetingDraft(**spec.__dict__)
        with self.store.session() as s:
            return str(self._admin(s).create_meeting(draft))

    def update_meeting(self, meeting_id: str, **changes: object) -> None:
        with self.store.session() as s:
            self._admin(s).update_meeting(meeting_id, **changes)

    def add_attendee(self, meeting_id: str, party: PartyRef) -> None:
        with self.store.session() as s:
            self._admin(s).add_attendee(meeting_id, party)

    def remove_attendee(self, meeting_id: str, party: PartyRef) -> None:
        with self.store.session() as s:
            self._admin(s).remove_attendee(meeting_id, party)

    def cancel_meeting(self, meeting_id: str) -> None:
        with self.store.session() as s:
            self._admin(s).cancel_meeting(meeting_id)

    def delete_meeting(self, meeting_id: str) -> None:
        with self.store.session() as s:
            self._admin(s).delete_meeting(meeting_id)

    def move_occurrence(self, meeting_id, recurrence_id, start, end) -> None:  # type: ignore[no-untyped-def]
        with self.store.session() as s:
            self._admin(s).move_occurrence(meeting_id, recurrence_id, start, end)

    def cancel_occurrence(self, meeting_id: str, recurrence_id: dt.date | dt.datetime) -> None:
        with self.store.session() as s:
            self._admin(s).cancel_occurrence(meeting_id, recurrence_id)

    def response_of(self, meeting_id: str, email: str) -> str | None:
        with self.store.session() as s:
            ident = parse_id(meeting_id)
            for entity in EntityType:
                for row in rows_with_email(s, entity, email):
                    found = s.scalars(
                        select(CrmMeetingAttendee.partstat).where(
                            CrmMeetingAttendee.meeting_id == ident,
                            CrmMeetingAttendee.party_type == entity,
                            CrmMeetingAttendee.party_id == row.id,
                        )
                    ).first()
                    if found is not None:
                        return found
        return None

    def logs(self) -> list[LogEntry]:
        with self.store.session() as s:
            return [entry for _, entry in self._admin(s).list_logs()]


def fixed_clock(start: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock that advances one second per reading (times stay distinct and ordered)."""
    ticks = [start]

    def clock() -> dt.datetime:
        ticks[0] += dt.timedelta(seconds=1)
        return ticks[0]

    return clock


def sql_harness(store: Store, email_fields: Mapping[EntityType, int] | None = None) -> CrmHarness:
    """A contract harness for the built-in CRM on ``store`` (schema already upgraded)."""
    clock = fixed_clock(dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC))
    crm = CommittingSqlCrm(store, SqlCrmOptions(email_fields=dict(email_fields or {})), clock)
    return CrmHarness(
        crm=crm,
        seed=SqlSeeder(store, clock),
        capabilities=frozenset({"FindsPartiesInBatch"}),
        extra={"store": store},
    )
