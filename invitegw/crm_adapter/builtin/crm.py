"""The built-in CRM's implementation of :class:`~invitegw.crm_adapter.port.CrmPort`.

:class:`SqlCrm` works inside the caller's SQLAlchemy session: it flushes, it never commits.
The gateway commits the CRM write together with its own ledger (one transaction), so an
inbound task, its ledger row and the processed-message record land together or not at all.

The change feed is ordered by ``crm_meetings.change_seq``, drawn from a counter row inside
each writing transaction (see ``builtin.schema``): the cursor is the highest number returned,
and because numbers become visible in commit order, nothing committed later can appear
below it. A meeting changed again while a reader pages through the feed moves to a higher
number and is returned again (overlap, never loss). Deleted meetings stay as rows with
``deleted`` set and are returned as deletions.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.expression import Executable

from invitegw.crm_adapter.builtin.records import (
    PARTY_ORDER,
    PARTY_TABLES,
    load_parties,
    map_crm_errors,
    meeting_value,
    parse_id,
    parties_with_emails,
    party_value,
    task_from_columns,
    task_value,
)
from invitegw.crm_adapter.builtin.schema import (
    CrmLog,
    CrmMeeting,
    CrmMeetingResponse,
    CrmTask,
    CrmUser,
)
from invitegw.domain.records import (
    ChangeBatch,
    EntityType,
    LogEntry,
    Meeting,
    MeetingChange,
    NewTask,
    Party,
    PartyRef,
    ResponseRecord,
    Task,
    TaskStatus,
    TaskUpdate,
)
from invitegw.errors import CrmError, CrmNotFoundError
from invitegw.sqltypes import PreparedStatement

__all__ = ["PARTSTATS", "SqlCrm", "SqlCrmOptions", "utc_now"]

logger = logging.getLogger(__name__)

# RFC 5545 section 3.2.12 values an attendee can reply with.
PARTSTATS = frozenset({"NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"})


def utc_now() -> dt.datetime:
    """The current time, aware, in UTC (the default clock)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class SqlCrmOptions:
    """Settings of the built-in CRM adapter.

    ``email_fields`` says, per entity type, how many of a record's email fields (in field
    order) invitations go to; types not listed use 1.
    """

    email_fields: Mapping[EntityType, int] = field(default_factory=dict)

    def email_count(self, entity: EntityType) -> int:
        """How many addresses of an ``entity`` record get invitations."""
        return self.email_fields.get(entity, 1)

    @property
    def counts(self) -> dict[EntityType, int]:
        """The count for every entity type."""
        return {entity: self.email_count(entity) for entity in EntityType}


class SqlCrm:
    """The port on the built-in CRM's tables, inside the caller's session.

    Parameters:
        session: the caller's session (the gateway's unit of work); never committed here.
        options: adapter settings.
        clock: returns the current aware time (injected in tests).
    """

    def __init__(
        self,
        session: Session,
        options: SqlCrmOptions | None = None,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.session = session
        self.options = options or SqlCrmOptions()
        self._clock = clock
        # Parties read in this unit of work: a task's owner or party among them needs no
        # second read to prove it exists (the transaction saw it; the FK guards the owner).
        self._seen: set[tuple[EntityType, int]] = set()

    # -- change feed and snapshots -----------------------------------------------------------

    def changed_meetings(self, cursor: str | None, *, limit: int = 200) -> ChangeBatch:
        """Meetings changed or deleted after ``cursor``, in change order (see module doc)."""
        after = 0
        if cursor is not None:
            parsed = parse_id(cursor)
            if parsed is None:
                raise CrmError(f"invalid change-feed cursor {cursor!r}")
            after = parsed
        with map_crm_errors("reading the change feed"):
            rows = list(
                self.session.scalars(
                    self._meetings()
                    .where(CrmMeeting.change_seq > after)
                    .order_by(CrmMeeting.change_seq)
                    .limit(max(1, limit) + 1)
                )
            )
            more = len(rows) > limit
            rows = rows[: max(1, limit)]
            live = [row for row in rows if not row.deleted]
            snapshots = {m.id: m for m in self._snapshots(live)}
        changes = tuple(MeetingChange(str(r.id), snapshots.get(str(r.id))) for r in rows)
        next_cursor = str(rows[-1].change_seq) if rows else str(after)
        return ChangeBatch(changes=changes, cursor=next_cursor, more=more)

    def get_meeting(self, meeting_id: str) -> Meeting | None:
        """The meeting's snapshot, or ``None`` when it does not exist or was deleted."""
        ident = parse_id(meeting_id)
        if ident is None:
            return None
        with map_crm_errors(f"reading meeting {meeting_id}"):
            row = self.session.scalars(self._meetings().where(CrmMeeting.id == ident)).first()
            if row is None or row.deleted:
                return None
            return self._snapshots([row])[0]

    @staticmethod
    def _meetings() -> Select[CrmMeeting]:
        return select(CrmMeeting).options(
            selectinload(CrmMeeting.organizer),
            selectinload(CrmMeeting.attendees),
            selectinload(CrmMeeting.occurrences),
        )

    def _snapshots(self, rows: Sequence[CrmMeeting]) -> list[Meeting]:
        refs = [(a.party_type, a.party_id) for row in rows for a in row.attendees]
        parties = load_parties(self.session, refs)
        counts = self.options.counts
        return [meeting_value(row, parties, counts) for row in rows]

    # -- parties -----------------------------------------------------------------------------

    def find_parties(self, email: str, types: Sequence[EntityType] | None = None) -> list[Party]:
        """Every record with ``email`` in any field; users, contacts, accounts, leads."""
        return self.find_parties_many([email], types)[email]

    def find_parties_many(
        self, emails: Sequence[str], types: Sequence[EntityType] | None = None
    ) -> dict[str, list[Party]]:
        """:meth:`find_parties` for several addresses at once (one query).

        Parameters:
            emails: the addresses.
            types: the entity types, in the order wanted (default: all, port order).

        Returns:
            Each address (as given) with its records, as :meth:`find_parties` orders them.
        """
        with map_crm_errors(f"looking up {', '.join(map(repr, emails))}"):
            found = parties_with_emails(
                self.session,
                emails,
                self.options.counts,
                tuple(types) if types is not None else PARTY_ORDER,
            )
        for parties in found.values():
            self._seen.update((p.type, int(p.id)) for p in parties)
        return found

    def get_party(self, ref: PartyRef) -> Party | None:
        """The record, or ``None`` when it does not exist."""
        ident = parse_id(ref.id)
        if ident is None:
            return None
        with map_crm_errors(f"reading {ref.type.value} {ref.id}"):
            row = self.session.get(PARTY_TABLES[ref.type], ident)
        if row is None:
            return None
        self._seen.add((ref.type, ident))
        return party_value(ref.type, row, self.options.email_count(ref.type))

    # -- tasks -------------------------------------------------------------------------------

    def create_task(self, task: NewTask) -> Task:
        """Create the task, or return the one created before with the same key.

        The key is unique in the table: the insert is tried in a savepoint and, when the
        key exists (created before, or by another transaction meanwhile), only the insert
        is undone and the existing task returned.
        """
        owner_id = self._owner(task.owner)
        party_type, party_id = self._party(task.party)
        now = self._clock()
        values: dict[str, Any] = {
            "idempotency_key": task.idempotency_key,
            "title": task.title,
            "description": task.description,
            "location": task.location,
            "status": TaskStatus.OPEN,
            "owner_id": owner_id,
            "party_type": party_type,
            "party_id": party_id,
            "organizer_email": task.organizer_email,
            "source_uid": task.source_uid,
            "recurrence_id": task.recurrence_id,
            "sequence": task.sequence,
            "created_at": now,
            "modified_at": now,
            **_span_columns(task.start, task.end),
        }
        insert_ignoring_key = _INSERT_IGNORING_KEY.get(self.session.get_bind().dialect.name)
        if insert_ignoring_key is not None:
            # INSERT ... ON CONFLICT (idempotency_key) DO NOTHING RETURNING id: no row back
            # means the key exists (created before, or by another transaction meanwhile).
            # No ORM object: nothing reads the new row back in this unit of work.
            created = insert_ignoring_key.execute(self.session, values).scalar()
            if created is None:
                winner = self.find_task(task.idempotency_key)
                if winner is None:
                    raise CrmError(
                        f"task key {task.idempotency_key!r} conflicted, yet no task has it"
                    )
                return winner
            logger.info("CRM task %s created (key %s)", created, task.idempotency_key)
            return task_from_columns(created, values)
        row = CrmTask(**values)
        try:
            # A savepoint: if another transaction created the same key meanwhile, only
            # this insert is undone and the caller's transaction goes on.
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            winner = self.find_task(task.idempotency_key)
            if winner is None:
                raise
            return winner
        logger.info("CRM task %s created (key %s)", row.id, task.idempotency_key)
        return task_value(row)

    def find_task(self, idempotency_key: str) -> Task | None:
        """The task created with this key, if any."""
        with map_crm_errors("looking up a task"):
            row = self.session.scalars(
                select(CrmTask).where(CrmTask.idempotency_key == idempotency_key)
            ).first()
        return task_value(row) if row is not None else None

    def get_task(self, task_id: str) -> Task | None:
        """The task, or ``None`` when it does not exist."""
        row = self._task_row(task_id)
        return task_value(row) if row is not None else None

    def update_task(self, task_id: str, update: TaskUpdate) -> Task:
        """Apply ``update`` to the task; ``CrmNotFoundError`` for an unknown id."""
        row = self._require_task(task_id)
        with map_crm_errors(f"updating task {task_id}"):
            for name in ("title", "description", "location", "sequence"):
                value = getattr(update, name)
                if value is not None:
                    setattr(row, name, value)
            if update.start is not None or update.end is not None:
                current = task_value(row)
                start = update.start if update.start is not None else current.start
                end = update.end if update.end is not None else current.end
                _set_span(row, start, end)
            row.modified_at = self._clock()
            self.session.flush()
        return task_value(row)

    def set_task_status(self, task_id: str, status: TaskStatus) -> Task:
        """Set the task's status; ``CrmNotFoundError`` for an unknown id."""
        row = self._require_task(task_id)
        with map_crm_errors(f"updating task {task_id}"):
            row.status = TaskStatus(status)
            row.modified_at = self._clock()
            self.session.flush()
        return task_value(row)

    def _task_row(self, task_id: str) -> CrmTask | None:
        ident = parse_id(task_id)
        if ident is None:
            return None
        with map_crm_errors(f"reading task {task_id}"):
            return self.session.get(CrmTask, ident)

    def _require_task(self, task_id: str) -> CrmTask:
        row = self._task_row(task_id)
        if row is None:
            raise CrmNotFoundError(f"no CRM task with id {task_id!r}")
        return row

    def _owner(self, ref: PartyRef) -> int:
        if ref.type is not EntityType.USER:
            raise CrmError(f"a task's owner must be a CRM user, not a {ref.type.value}")
        ident = parse_id(ref.id)
        if ident is not None and (ref.type, ident) in self._seen:
            return ident
        with map_crm_errors("reading the task owner"):
            owner = self.session.get(CrmUser, ident) if ident is not None else None
        if owner is None:
            raise CrmNotFoundError(f"no CRM user with id {ref.id!r} (task owner)")
        return owner.id

    def _party(self, ref: PartyRef | None) -> tuple[EntityType | None, int | None]:
        if ref is None:
            return None, None
        ident = parse_id(ref.id)
        if (ident is None or (ref.type, ident) not in self._seen) and self.get_party(ref) is None:
            raise CrmNotFoundError(f"no CRM {ref.type.value} with id {ref.id!r} (task party)")
        return ref.type, ident

    # -- responses and the log ---------------------------------------------------------------

    def record_response(self, response: ResponseRecord) -> None:
        """Record an attendee's answer; it also sets their status for a whole-series reply."""
        partstat = response.partstat.upper()
        if partstat not in PARTSTATS:
            raise CrmError(f"unknown participation status {response.partstat!r}")
        ident = parse_id(response.meeting_id)
        with map_crm_errors(f"recording a response on meeting {response.meeting_id}"):
            meeting = self.session.get(CrmMeeting, ident) if ident is not None else None
            if meeting is None or meeting.deleted:
                raise CrmNotFoundError(f"no CRM meeting with id {response.meeting_id!r}")
            address = response.attendee_email.strip().lower()
            parties = load_parties(
                self.session, [(a.party_type, a.party_id) for a in meeting.attendees]
            )
            matched = None
            for attendee in meeting.attendees:
                party = parties.get((attendee.party_type, attendee.party_id))
                if party is not None and address in (e.lower() for e in party.emails):
                    matched = attendee
                    break
            now = self._clock()
            received = response.received_at or now
            if matched is not None and response.recurrence_id is None:
                matched.partstat = partstat
                matched.responded_at = received
            self.session.add(
                CrmMeetingResponse(
                    meeting_id=meeting.id,
                    attendee_email=response.attendee_email,
                    partstat=partstat,
                    recurrence_id=response.recurrence_id,
                    delegated_to=response.delegated_to,
                    comment=response.comment,
                    attendee_id=matched.id if matched is not None else None,
                    received_at=received,
                    recorded_at=now,
                )
            )
            self.session.flush()
        logger.info(
            "CRM meeting %s: %s answered %s", response.meeting_id, response.attendee_email, partstat
        )

    def log(self, entry: LogEntry) -> None:
        """Write an integration-log entry next to the record it concerns."""
        with map_crm_errors("writing the CRM log"):
            self.session.add(
                CrmLog(
                    created_at=entry.created_at or self._clock(),
                    level=entry.level,
                    target=entry.target,
                    target_id=entry.target_id,
                    message=entry.message,
                    details=dict(entry.details) or None,
                )
            )
            self.session.flush()


def _insert_ignoring_key(dialect: str) -> Executable:
    table = CrmTask.metadata.tables[CrmTask.__tablename__]
    statement = sqlite_insert(table) if dialect == "sqlite" else postgresql_insert(table)
    return statement.on_conflict_do_nothing(index_elements=[table.c.idempotency_key]).returning(
        table.c.id
    )


# Per dialect, the task INSERT that yields nothing instead of failing on a known key.
_INSERT_IGNORING_KEY: Final[Mapping[str, PreparedStatement]] = {
    name: PreparedStatement(_insert_ignoring_key(name)) for name in ("sqlite", "postgresql")
}


def _set_span(
    row: CrmTask, start: dt.date | dt.datetime, end: dt.date | dt.datetime | None
) -> None:
    """Store a task's start/end on ``row`` (see :func:`_span_columns`)."""
    for name, value in _span_columns(start, end).items():
        setattr(row, name, value)


def _span_columns(
    start: dt.date | dt.datetime, end: dt.date | dt.datetime | None
) -> dict[str, Any]:
    """A task's start/end as UTC instants or as dates, refusing mixed or naive values."""
    timed = isinstance(start, dt.datetime)
    if end is not None and isinstance(end, dt.datetime) != timed:
        raise CrmError("a task's start and end must both be dates or both be times")
    for value in (start, end):
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            raise CrmError("a task's times must be timezone-aware (or dates for all-day)")
    if end is not None and end < start:
        raise CrmError("a task cannot end before it starts")
    if timed:
        return {
            "all_day": False,
            "start_at": start,
            "start_date": None,
            "end_at": end if isinstance(end, dt.datetime) else None,
            "end_date": None,
        }
    return {
        "all_day": True,
        "start_at": None,
        "end_at": None,
        "start_date": start,
        "end_date": end if end is not None and not isinstance(end, dt.datetime) else None,
    }
