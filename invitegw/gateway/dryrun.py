"""A CRM port that reads through and writes nowhere: what ``--dry-run`` runs against.

:class:`DryRunCrm` wraps the real adapter. Reads (parties, tasks, meetings) go to it;
writes are answered as the adapter would answer them, from memory, so the inbound pipeline
decides exactly as it would for real (a second event with the same key in one message is a
duplicate of the first's pretend task) while nothing reaches the CRM. The built-in CRM's
session is rolled back by the unit of work (:mod:`invitegw.gateway.uow`) as well; a
remote CRM never sees a write.

Capabilities are forwarded honestly: ``DryRunCrm(crm)`` is an instance of a subclass that
has exactly the optional capabilities (:mod:`invitegw.crm_adapter.port`) ``crm`` has, all
of them reads, so a dry run takes the same paths as the real run (one batch look-up of
parties, the existence check) and claims nothing the adapter cannot do.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import cast

from invitegw.crm_adapter.port import (
    CrmPort,
    ExistenceCheck,
    FeedDeletionStatus,
    FindsPartiesInBatch,
    ReadsSendSwitch,
)
from invitegw.domain.records import (
    ChangeBatch,
    EntityType,
    LogEntry,
    Meeting,
    NewTask,
    Party,
    PartyRef,
    ResponseRecord,
    SwitchReading,
    Task,
    TaskStatus,
    TaskUpdate,
)
from invitegw.errors import CrmNotFoundError

__all__ = ["DryRunCrm"]


class DryRunCrm:
    """The port over ``crm`` with every write kept in memory.

    Parameters:
        crm: the real adapter (only read). The instance made has its capabilities.
    """

    def __new__(cls, crm: CrmPort) -> DryRunCrm:
        chosen = cls
        if cls is DryRunCrm:
            chosen = _with_capabilities(
                tuple(m for m in _FORWARDERS if isinstance(crm, m.capability))
            )
        return object.__new__(chosen)

    def __init__(self, crm: CrmPort) -> None:
        self._crm = crm
        self._tasks: dict[str, Task] = {}
        self._keys: dict[str, str] = {}
        self.logs: list[LogEntry] = []
        self.responses: list[ResponseRecord] = []

    def changed_meetings(self, cursor: str | None, *, limit: int = 200) -> ChangeBatch:
        """Read through."""
        return self._crm.changed_meetings(cursor, limit=limit)

    def get_meeting(self, meeting_id: str) -> Meeting | None:
        """Read through."""
        return self._crm.get_meeting(meeting_id)

    def find_parties(self, email: str, types: Sequence[EntityType] | None = None) -> list[Party]:
        """Read through."""
        return self._crm.find_parties(email, types)

    def get_party(self, ref: PartyRef) -> Party | None:
        """Read through."""
        return self._crm.get_party(ref)

    def create_task(self, task: NewTask) -> Task:
        """A pretend task (``dry-run-N``), or the real or pretend one with the same key."""
        existing = self.find_task(task.idempotency_key)
        if existing is not None:
            return existing
        task_id = f"dry-run-{len(self._tasks) + 1}"
        created = Task(
            id=task_id,
            title=task.title,
            start=task.start,
            end=task.end,
            status=TaskStatus.OPEN,
            owner=task.owner,
            description=task.description,
            location=task.location,
            organizer_email=task.organizer_email,
            party=task.party,
            source_uid=task.source_uid,
            recurrence_id=task.recurrence_id,
            sequence=task.sequence,
            idempotency_key=task.idempotency_key,
        )
        self._tasks[task_id] = created
        self._keys[task.idempotency_key] = task_id
        return created

    def find_task(self, idempotency_key: str) -> Task | None:
        """The pretend task with this key, else the real one."""
        task_id = self._keys.get(idempotency_key)
        if task_id is not None:
            return self._tasks[task_id]
        return self._crm.find_task(idempotency_key)

    def get_task(self, task_id: str) -> Task | None:
        """The pretend state of the task, else the real one."""
        if task_id in self._tasks:
            return self._tasks[task_id]
        return self._crm.get_task(task_id)

    def update_task(self, task_id: str, update: TaskUpdate) -> Task:
        """The task as the update would leave it (kept in memory)."""
        task = self._require(task_id)
        changes = {
            name: getattr(update, name)
            for name in ("title", "description", "location", "start", "end", "sequence")
            if getattr(update, name) is not None
        }
        updated = dataclasses.replace(task, **changes)
        self._tasks[task_id] = updated
        return updated

    def set_task_status(self, task_id: str, status: TaskStatus) -> Task:
        """The task with the new status (kept in memory)."""
        updated = dataclasses.replace(self._require(task_id), status=status)
        self._tasks[task_id] = updated
        return updated

    def record_response(self, response: ResponseRecord) -> None:
        """Kept in :attr:`responses`."""
        self.responses.append(response)

    def log(self, entry: LogEntry) -> None:
        """Kept in :attr:`logs`."""
        self.logs.append(entry)

    def _require(self, task_id: str) -> Task:
        task = self.get_task(task_id)
        if task is None:
            raise CrmNotFoundError(f"no CRM task with id {task_id!r}")
        return task


class _BatchLookups(DryRunCrm):
    """Forwards :class:`FindsPartiesInBatch` (a read)."""

    capability = FindsPartiesInBatch

    def find_parties_many(
        self, emails: Sequence[str], types: Sequence[EntityType] | None = None
    ) -> dict[str, list[Party]]:
        """Read through."""
        return cast(FindsPartiesInBatch, self._crm).find_parties_many(emails, types)


class _ExistenceCheck(DryRunCrm):
    """Forwards :class:`ExistenceCheck` (a read)."""

    capability = ExistenceCheck

    def confirm_existing(self, meeting_ids: Sequence[str]) -> set[str]:
        """Read through."""
        return cast(ExistenceCheck, self._crm).confirm_existing(meeting_ids)


class _DeletionStatus(DryRunCrm):
    """Forwards :class:`FeedDeletionStatus` (a read, asked each time: it may change)."""

    capability = FeedDeletionStatus

    @property
    def feed_reports_deletions(self) -> bool | None:
        """Read through."""
        return cast(FeedDeletionStatus, self._crm).feed_reports_deletions


class _SwitchReading(DryRunCrm):
    """Forwards :class:`ReadsSendSwitch` (a read)."""

    capability = ReadsSendSwitch

    def sync_reading(self, meeting: Meeting) -> SwitchReading:
        """Read through."""
        return cast(ReadsSendSwitch, self._crm).sync_reading(meeting)


_FORWARDERS: tuple[
    type[_BatchLookups] | type[_ExistenceCheck] | type[_DeletionStatus] | type[_SwitchReading],
    ...,
] = (
    _BatchLookups,
    _ExistenceCheck,
    _DeletionStatus,
    _SwitchReading,
)


@functools.cache
def _with_capabilities(forwarders: tuple[type[DryRunCrm], ...]) -> type[DryRunCrm]:
    """``DryRunCrm`` with the forwarders of the capabilities the adapter has (one class each)."""
    if not forwarders:
        return DryRunCrm
    if len(forwarders) == 1:
        return forwarders[0]
    name = "DryRunCrm+" + "+".join(f.__name__.lstrip("_") for f in forwarders)
    return cast(type[DryRunCrm], type(name, forwarders, {"__doc__": DryRunCrm.__doc__}))
