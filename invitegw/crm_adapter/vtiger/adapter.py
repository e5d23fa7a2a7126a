"""``VtigerCrm``: the :class:`~invitegw.crm_adapter.port.CrmPort` over vtiger's webservice.

A remote adapter: every write happens at once (there is no transaction to join), so the
idempotency of task creation rests on the marker in the task's description
(:mod:`.tasks`). The adapter never updates an Events record unless
``allow_event_updates`` is on: any webservice write to an event rewrites its user
invitees from the request, and those cannot be read back (facts sheet, "Meeting
attendees").

Deletion detection: where vtiger's ``sync`` works, the change feed reports deleted
meetings; where it answers HTTP 500 (stock vtiger 8 on PHP 8) the feed cannot, and the
gateway calls :meth:`VtigerCrm.confirm_existing` now and then with the ids of the
meetings it still tracks; the ones missing from the answer were deleted (the
:class:`~invitegw.crm_adapter.port.ExistenceCheck` protocol).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from invitegw.crm_adapter.vtiger.client import VtigerClient
from invitegw.crm_adapter.vtiger.crmlog import CrmLog
from invitegw.crm_adapter.vtiger.feed import ChangeFeed
from invitegw.crm_adapter.vtiger.meetings import MeetingReader, SwitchReading
from invitegw.crm_adapter.vtiger.options import VtigerOptions
from invitegw.crm_adapter.vtiger.parties import Directory
from invitegw.crm_adapter.vtiger.schema import Schema
from invitegw.crm_adapter.vtiger.tasks import TaskStore
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

__all__ = ["VtigerCrm"]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class VtigerCrm:
    """The vtiger CRM adapter.

    Parameters:
        options: the validated ``[crm.vtiger]`` options.
        client: a ready :class:`VtigerClient` (else one is built from ``options``).
        http_client: an ``httpx.Client`` for the client built here (tests).
        transport: an ``httpx`` transport for the client built here (tests).
        clock: monotonic seconds, for caches (injectable).
        utc_now: the wall clock, used only when the server sends no ``Date`` header.
    """

    def __init__(
        self,
        options: VtigerOptions,
        *,
        client: VtigerClient | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        utc_now: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.options = options
        self.client = client or VtigerClient(options, http_client=http_client, transport=transport)
        self.schema = Schema(self.client, options)
        self.directory = Directory(self.client, options, self.schema, clock)
        self.meetings = MeetingReader(self.client, options, self.schema, self.directory)
        self.feed = ChangeFeed(self.client, options, self.schema, self.meetings, utc_now)
        self.tasks = TaskStore(self.client, options, self.schema, self.directory)
        self._log = CrmLog(
            self.client, options, self.schema, self.directory, self.meetings, self.tasks, utc_now
        )
        # Problems found while reading a meeting go to that meeting's log, once each.
        self.meetings.notice = self._log.notice

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any], env: Mapping[str, str] | None = None, **kwargs: Any
    ) -> VtigerCrm:
        """Build the adapter from the raw ``[crm.vtiger]`` table.

        Raises:
            ConfigError: the table is invalid (the message names the key).
        """
        return cls(VtigerOptions.from_mapping(mapping, env), **kwargs)

    def close(self) -> None:
        """Log out and release the HTTP connection pool."""
        self.client.close()

    def __enter__(self) -> VtigerCrm:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- change feed and snapshots --------------------------------------------------------

    def changed_meetings(self, cursor: str | None, *, limit: int = 200) -> ChangeBatch:
        """Meetings changed (and, where ``sync`` works, deleted) after ``cursor``."""
        return self.feed.changed_meetings(cursor, limit)

    def get_meeting(self, meeting_id: str) -> Meeting | None:
        """The meeting's snapshot, or ``None`` when it no longer exists."""
        return self.meetings.get(meeting_id)

    def sync_reading(self, meeting: Meeting) -> SwitchReading:
        """How certain ``meeting.sync`` is: see :class:`~.meetings.SwitchReading`.

        vtiger reads an untouched "Send invitations" checkbox as unticked, exactly like one
        a person unticked; only a ticked box is certain. The gateway can use this to avoid
        cancelling an already-invited meeting on a reading that may be nobody's choice.

        Parameters:
            meeting: a snapshot from this adapter.

        Returns:
            ``NO_SWITCH``, ``SET`` or ``MAYBE_DEFAULT``.
        """
        return self.meetings.sync_reading(meeting)

    def confirm_existing(self, meeting_ids: Sequence[str]) -> set[str]:
        """Of ``meeting_ids``, the ones that still exist (deletion check without ``sync``)."""
        return self.feed.confirm_existing(meeting_ids)

    @property
    def feed_reports_deletions(self) -> bool | None:
        """Whether the feed sees every deletion (``None`` until ``sync`` has been tried).

        True only where an all-users ``sync`` works; the gateway skips its existence
        check then, and runs it otherwise.
        """
        return self.feed.reports_deletions

    # -- parties -------------------------------------------------------------------------

    def find_parties(self, email: str, types: Sequence[EntityType] | None = None) -> list[Party]:
        """Every user, contact, account or lead with this address."""
        return self.directory.find(email, types)

    def get_party(self, ref: PartyRef) -> Party | None:
        """The record, or ``None`` when it does not exist."""
        return self.directory.get(ref)

    # -- tasks ---------------------------------------------------------------------------

    def create_task(self, task: NewTask) -> Task:
        """Create the task, or return the one already created with the same key."""
        return self.tasks.create(task)

    def find_task(self, idempotency_key: str) -> Task | None:
        """The task created with this key, if any."""
        return self.tasks.find(idempotency_key)

    def get_task(self, task_id: str) -> Task | None:
        """The task, or ``None`` when it does not exist."""
        return self.tasks.get(task_id)

    def update_task(self, task_id: str, update: TaskUpdate) -> Task:
        """Apply ``update``; ``CrmNotFoundError`` for an unknown id."""
        return self.tasks.update(task_id, update)

    def set_task_status(self, task_id: str, status: TaskStatus) -> Task:
        """Set the task's status; ``CrmNotFoundError`` for an unknown id."""
        return self.tasks.set_status(task_id, status)

    # -- responses and the integration log ------------------------------------------------

    def record_response(self, response: ResponseRecord) -> None:
        """A comment on the attendee's contact; ``CrmNotFoundError`` if no such meeting."""
        self._log.record_response(response)

    def log(self, entry: LogEntry) -> None:
        """Write an integration-log entry next to the record it concerns."""
        self._log.log(entry)
