"""A TEST FAKE: a third CRM adapter, in memory, plugged in only through the adapter registry.

It shows what adding a CRM takes: a :class:`~invitegw.crm_adapter.registry.CrmAdapterSpec`
(:data:`SPEC`, name ``fake_memory``) given to ``registry.register`` by a fixture
(``tests/crm_adapter/conftest.py``), with no edit to the settings, the loader, the
composition root or the CLI. The gateway then runs on it from ``crm.adapter =
"fake_memory"`` and a ``[crm.fake_memory]`` table (``world`` names the in-memory CRM to
use; ``token`` is a secret, read only from ``INVITEGW_CRM__FAKE_MEMORY__TOKEN``).

A :class:`MemoryWorld` plays the CRM server (the records, kept per world name in
:data:`WORLDS`); :class:`FakeMemoryCrm` is the adapter, a client of it that writes at once
(a remote CRM: one adapter for the process); :class:`MemorySeeder` is the contract suite's
way to create records, as people would in the CRM's own screens. It declares no optional
capability, so the gateway's paths without them run on it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from invitegw.crm_adapter.registry import (
    CrmAdapterSpec,
    CrmBinding,
    CrmBuildContext,
    CrmCheckContext,
    CrmCheckResult,
)
from invitegw.domain.records import (
    ChangeBatch,
    EntityType,
    LogEntry,
    Meeting,
    MeetingChange,
    MeetingKind,
    MeetingOccurrence,
    NewTask,
    Party,
    PartyRef,
    ResponseRecord,
    Task,
    TaskStatus,
    TaskUpdate,
)
from invitegw.errors import ConfigError, CrmError, CrmNotFoundError
from tests.crm_adapter.contract import MeetingSpec

__all__ = [
    "SPEC",
    "WORLDS",
    "FakeMemoryCrm",
    "FakeMemoryOptions",
    "MemorySeeder",
    "MemoryWorld",
    "world",
]

NAME = "fake_memory"
_ORDER = (EntityType.USER, EntityType.CONTACT, EntityType.ACCOUNT, EntityType.LEAD)


@dataclass
class _PartyRow:
    ref: PartyRef
    name: str
    emails: list[str]
    sync: bool = True
    language: str | None = None
    time_zone: str | None = None
    account: PartyRef | None = None


@dataclass
class _MeetingRow:
    id: str
    kind: MeetingKind
    title: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime
    organizer: PartyRef
    attendees: list[PartyRef]
    description: str
    location: str
    time_zone: str | None
    rrule: str | None
    calendar: str | None
    sync: bool
    seq: int = 0
    modified_at: dt.datetime | None = None
    cancelled: bool = False
    deleted: bool = False
    occurrences: dict[dt.date | dt.datetime, MeetingOccurrence] = field(default_factory=dict)


class MemoryWorld:
    """The CRM "server": its records, and the changes in the order they happened."""

    def __init__(self, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.parties: dict[PartyRef, _PartyRow] = {}
        self.meetings: dict[str, _MeetingRow] = {}
        self.tasks: dict[str, Task] = {}
        self.keys: dict[str, str] = {}
        self.responses: dict[tuple[str, str], str] = {}
        self.logs: list[LogEntry] = []
        self.closed = 0  # how many adapters on this world were closed (the close hook)
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)

    def new_id(self) -> str:
        return str(next(self._ids))

    def touch(self, row: _MeetingRow) -> None:
        """Record a change of ``row``: it moves to the end of the change feed."""
        row.seq = next(self._seq)
        row.modified_at = self.clock()


WORLDS: dict[str, MemoryWorld] = {}


def world(name: str) -> MemoryWorld:
    """The world called ``name``, created empty on first use."""
    return WORLDS.setdefault(name, MemoryWorld())


class FakeMemoryCrm:
    """The port over a :class:`MemoryWorld`; every write lands at once."""

    def __init__(self, records: MemoryWorld, email_counts: Mapping[EntityType, int]) -> None:
        self.world = records
        self.email_counts = dict(email_counts)

    # -- change feed and snapshots -----------------------------------------------------------

    def changed_meetings(self, cursor: str | None, *, limit: int = 200) -> ChangeBatch:
        """Meetings changed after ``cursor`` (a change number), oldest change first."""
        if cursor is not None and not cursor.isdigit():
            raise CrmError(f"not a change-feed cursor: {cursor[:40]!r}")
        after = int(cursor or 0)
        with self.world.lock:
            rows = sorted((r for r in self.world.meetings.values() if r.seq > after), key=_seq)
            page = rows[:limit]
            changes = tuple(
                MeetingChange(r.id, None if r.deleted else self._meeting(r)) for r in page
            )
        last = page[-1].seq if page else after
        return ChangeBatch(changes=changes, cursor=str(last), more=len(rows) > limit)

    def get_meeting(self, meeting_id: str) -> Meeting | None:
        """The snapshot, or ``None`` for an unknown or deleted meeting."""
        with self.world.lock:
            row = self.world.meetings.get(meeting_id)
            return None if row is None or row.deleted else self._meeting(row)

    def _meeting(self, row: _MeetingRow) -> Meeting:
        organizer = self._party(self.world.parties[row.organizer])
        attendees = tuple(
            self._party(self.world.parties[ref]) for ref in row.attendees if ref != row.organizer
        )
        return Meeting(
            id=row.id,
            kind=row.kind,
            title=row.title,
            start=row.start,
            end=row.end,
            organizer=organizer,
            attendees=attendees,
            description=row.description,
            location=row.location,
            time_zone=row.time_zone,
            rrule=row.rrule,
            occurrences=tuple(row.occurrences[k] for k in sorted(row.occurrences, key=_instant)),
            cancelled=row.cancelled,
            calendar=row.calendar,
            sync=row.sync,
            modified_at=row.modified_at,
        )

    # -- parties -----------------------------------------------------------------------------

    def _party(self, row: _PartyRow) -> Party:
        count = self.email_counts.get(row.ref.type, 1)
        return Party(
            type=row.ref.type,
            id=row.ref.id,
            name=row.name,
            emails=tuple(row.emails),
            invite_emails=tuple(row.emails[:count]) if row.sync else (),
            sync=row.sync,
            language=row.language,
            time_zone=row.time_zone,
            account=row.account,
        )

    def find_parties(self, email: str, types: Sequence[EntityType] | None = None) -> list[Party]:
        """Every record with this address in any field, in the port's order."""
        wanted = email.strip().lower()
        order = list(types) if types is not None else list(_ORDER)
        with self.world.lock:
            found = [
                row
                for row in self.world.parties.values()
                if row.ref.type in order and wanted in (e.lower() for e in row.emails)
            ]
        found.sort(key=lambda row: (order.index(row.ref.type), int(row.ref.id)))
        return [self._party(row) for row in found]

    def get_party(self, ref: PartyRef) -> Party | None:
        """The record, or ``None``."""
        with self.world.lock:
            row = self.world.parties.get(ref)
            return None if row is None else self._party(row)

    # -- tasks -------------------------------------------------------------------------------

    def create_task(self, task: NewTask) -> Task:
        """The task, created once per idempotency key."""
        with self.world.lock:
            existing = self.find_task(task.idempotency_key)
            if existing is not None:
                return existing
            for ref in (task.owner, task.party):
                if ref is not None and ref not in self.world.parties:
                    raise CrmNotFoundError(f"no CRM {ref.type.value} with id {ref.id!r}")
            created = Task(
                id=self.world.new_id(),
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
            self.world.tasks[created.id] = created
            self.world.keys[task.idempotency_key] = created.id
            return created

    def find_task(self, idempotency_key: str) -> Task | None:
        """The task created with this key."""
        with self.world.lock:
            task_id = self.world.keys.get(idempotency_key)
            return None if task_id is None else self.world.tasks[task_id]

    def get_task(self, task_id: str) -> Task | None:
        """The task, or ``None``."""
        with self.world.lock:
            return self.world.tasks.get(task_id)

    def update_task(self, task_id: str, update: TaskUpdate) -> Task:
        """Apply the fields that are set."""
        changes = {
            name: value
            for name in ("title", "description", "location", "start", "end", "sequence")
            if (value := getattr(update, name)) is not None
        }
        return self._replace(task_id, changes)

    def set_task_status(self, task_id: str, status: TaskStatus) -> Task:
        """Set the status."""
        return self._replace(task_id, {"status": status})

    def _replace(self, task_id: str, changes: dict[str, Any]) -> Task:
        with self.world.lock:
            task = self.world.tasks.get(task_id)
            if task is None:
                raise CrmNotFoundError(f"no CRM task with id {task_id!r}")
            fields = {f: getattr(task, f) for f in task.__dataclass_fields__}
            updated = Task(**{**fields, **changes})
            self.world.tasks[task_id] = updated
            return updated

    # -- responses and the log ---------------------------------------------------------------

    def record_response(self, response: ResponseRecord) -> None:
        """Keep the attendee's answer on the meeting."""
        with self.world.lock:
            row = self.world.meetings.get(response.meeting_id)
            if row is None or row.deleted:
                raise CrmNotFoundError(f"no CRM meeting with id {response.meeting_id!r}")
            key = (response.meeting_id, response.attendee_email.strip().lower())
            self.world.responses[key] = response.partstat

    def log(self, entry: LogEntry) -> None:
        """Append to the world's log."""
        with self.world.lock:
            if entry.created_at is None:
                entry = LogEntry(
                    entry.target,
                    entry.target_id,
                    entry.level,
                    entry.message,
                    self.world.clock(),
                    dict(entry.details),
                )
            self.world.logs.append(entry)


def _seq(row: _MeetingRow) -> int:
    return row.seq


def _instant(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(), dt.UTC)


class MemorySeeder:
    """The contract suite's ``CrmSeeder`` on a world: what people do in the CRM's screens."""

    def __init__(self, records: MemoryWorld) -> None:
        self.world = records

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
        with self.world.lock:
            ref = PartyRef(entity, self.world.new_id())
            company = self._account(account) if account else None
            self.world.parties[ref] = _PartyRow(
                ref, name, list(emails), sync, language, time_zone, company
            )
            return ref

    def _account(self, name: str) -> PartyRef:
        for row in self.world.parties.values():
            if row.ref.type is EntityType.ACCOUNT and row.name == name:
                return row.ref
        return self.add_party(EntityType.ACCOUNT, [], name=name)

    def add_meeting(self, spec: MeetingSpec) -> str:
        with self.world.lock:
            organizer = self.world.parties[spec.organizer]
            zone = spec.time_zone or organizer.time_zone
            row = _MeetingRow(
                id=self.world.new_id(),
                kind=spec.kind,
                title=spec.title,
                start=_in_zone(spec.start, zone),
                end=_in_zone(spec.end, zone),
                organizer=spec.organizer,
                attendees=list(spec.attendees),
                description=spec.description,
                location=spec.location,
                time_zone=zone,
                rrule=spec.rrule,
                calendar=spec.calendar,
                sync=spec.sync,
            )
            self.world.meetings[row.id] = row
            self.world.touch(row)
            return row.id

    def _change(self, meeting_id: str, **values: Any) -> None:
        with self.world.lock:
            row = self.world.meetings[meeting_id]
            for name, value in values.items():
                if value is not None:
                    if name in ("start", "end"):
                        value = _in_zone(value, row.time_zone)
                    setattr(row, name, value)
            self.world.touch(row)

    def update_meeting(
        self,
        meeting_id: str,
        *,
        title: str | None = None,
        start: dt.date | dt.datetime | None = None,
        end: dt.date | dt.datetime | None = None,
        location: str | None = None,
    ) -> None:
        self._change(meeting_id, title=title, start=start, end=end, location=location)

    def add_attendee(self, meeting_id: str, party: PartyRef) -> None:
        with self.world.lock:
            attendees = self.world.meetings[meeting_id].attendees
            self._change(meeting_id, attendees=[*attendees, party])

    def remove_attendee(self, meeting_id: str, party: PartyRef) -> None:
        with self.world.lock:
            attendees = self.world.meetings[meeting_id].attendees
            self._change(meeting_id, attendees=[p for p in attendees if p != party])

    def cancel_meeting(self, meeting_id: str) -> None:
        self._change(meeting_id, cancelled=True)

    def delete_meeting(self, meeting_id: str) -> None:
        self._change(meeting_id, deleted=True)

    def move_occurrence(
        self,
        meeting_id: str,
        recurrence_id: dt.date | dt.datetime,
        start: dt.date | dt.datetime,
        end: dt.date | dt.datetime,
    ) -> None:
        self._occurrence(meeting_id, MeetingOccurrence(recurrence_id, False, start, end))

    def cancel_occurrence(self, meeting_id: str, recurrence_id: dt.date | dt.datetime) -> None:
        self._occurrence(meeting_id, MeetingOccurrence(recurrence_id, cancelled=True))

    def _occurrence(self, meeting_id: str, occurrence: MeetingOccurrence) -> None:
        with self.world.lock:
            row = self.world.meetings[meeting_id]
            row.occurrences[occurrence.recurrence_id] = occurrence
            self.world.touch(row)

    def response_of(self, meeting_id: str, email: str) -> str | None:
        with self.world.lock:
            return self.world.responses.get((meeting_id, email.strip().lower()))

    def logs(self) -> list[LogEntry]:
        with self.world.lock:
            return list(self.world.logs)


def _in_zone(value: dt.date | dt.datetime, zone: str | None) -> dt.date | dt.datetime:
    """A time shown in the meeting's zone (the instant unchanged); a date as it is."""
    if isinstance(value, dt.datetime) and zone:
        return value.astimezone(ZoneInfo(zone))
    return value


# -- the registry entry ----------------------------------------------------------------------


@dataclass(frozen=True)
class FakeMemoryOptions:
    """The ``[crm.fake_memory]`` table, validated."""

    world: str
    token: str = field(repr=False)


def parse_options(table: Mapping[str, Any]) -> FakeMemoryOptions:
    """Check the table as a real adapter would: unknown keys, required ones, the secret."""
    unknown = sorted(set(table) - {"world", "token"})
    if unknown:
        raise ConfigError(f"crm.{NAME}.{unknown[0]}: unknown key; valid keys: token, world")
    name = table.get("world")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"crm.{NAME}.world: required, the name of the in-memory CRM")
    token = table.get("token")
    if not isinstance(token, str) or not token:
        raise ConfigError(
            f"crm.{NAME}.token: set INVITEGW_CRM__FAKE_MEMORY__TOKEN in the environment"
        )
    return FakeMemoryOptions(world=name, token=token)


def build(options: FakeMemoryOptions, context: CrmBuildContext) -> CrmBinding:
    """One adapter for the process (a "remote" CRM), with a close hook the tests can see."""
    records = world(options.world)
    crm = FakeMemoryCrm(records, context.email_counts)

    def close() -> None:
        with records.lock:
            records.closed += 1

    return CrmBinding.process_wide(crm, close=close)


def check(options: FakeMemoryOptions, _context: CrmCheckContext) -> CrmCheckResult:
    """``invitegw crm check``: what the world holds."""
    records = world(options.world)
    with records.lock:
        text = (
            f"fake in-memory CRM {options.world!r}: {len(records.parties)} parties, "
            f"{len(records.meetings)} meetings, {len(records.tasks)} tasks"
        )
    return CrmCheckResult(text, ok=True)


SPEC: CrmAdapterSpec[FakeMemoryOptions] = CrmAdapterSpec(
    name=NAME,
    summary="a test fake: an in-memory CRM",
    parse_options=parse_options,
    build=build,
    secret_keys=frozenset({"token"}),
    requires_table=True,
    check=check,
)
