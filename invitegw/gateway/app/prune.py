"""``invitegw prune --older-than 180d``: delete what grows and is no longer needed.

What grows, and what is deleted once it is older than the cut-off (``now - older_than``):

- the **outbound ledger**: a meeting whose last occurrence ended before the cut-off (and
  that has not changed since), with its attendees, reminders and outbox rows; a meeting
  with an open end (``ends_at`` NULL) or a message still to send is kept;
- the **inbound ledger**: an invitation whose last occurrence ended before the cut-off,
  with the messages that carried it; one without a known end is kept;
- **processed messages** older than the cut-off, except those that carried an invitation
  still in the ledger or answered a meeting still in the outbound ledger: a message
  re-delivered later (a re-scan after a UIDVALIDITY change, a resend) is still known as
  handled while its meeting is not over, and the ledgers make it a no-op in any case;
- **outbox** rows in a final state (sent, dead, cancelled) not touched since the cut-off;
- the **bytes of sent outbox messages** (and cancelled ones, which will never go) older than
  ``keep_sent_bytes``, usually much shorter than the retention: the row stays (Message-ID,
  recipient, method, sequence, when it was sent: what a reply, a bounce or an audit needs)
  and only the composed message goes, so the outbox keeps ~0.3 KB per delivered
  invitation instead of ~3 KB; a dead message keeps its bytes (it may be requeued);
- the **event log** older than the cut-off;
- **quarantine** entries released before the cut-off (unreleased ones only with
  ``include_unreleased``: they wait for a person);
- the **spool** rows the pipeline finished; **heartbeats** of workers silent since then.

Each part is deleted in batches, one short transaction each, so a large prune never holds
long locks; ``dry_run`` counts instead. Nothing a future duplicate check needs is deleted:
duplicate detection reads the ledgers and the processed messages of meetings not over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from invitegw.gateway.storage import (
    EventLogEntry,
    InboundEvent,
    InboundEventSource,
    OutboundAttendee,
    OutboundMeeting,
    OutboundReminder,
    OutboxBody,
    OutboxMessage,
    OutboxState,
    ProcessedMessage,
    QuarantinedMessage,
    SpooledMessage,
    SpoolState,
    Store,
    WorkerHeartbeat,
)

__all__ = ["PruneReport", "prune"]

_BATCH = 500
_FINAL = (OutboxState.SENT, OutboxState.DEAD, OutboxState.CANCELLED)
_WAITING = (OutboxState.PENDING, OutboxState.SENDING)
_DELIVERED = (OutboxState.SENT, OutboxState.CANCELLED)


@dataclass(frozen=True)
class PruneReport:
    """How many rows of each kind were deleted (or, in a dry run, would be)."""

    cutoff: dt.datetime
    dry_run: bool
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """All rows."""
        return sum(self.deleted.values())

    def to_json(self) -> dict[str, Any]:
        """The report as JSON values."""
        return {
            "cutoff": self.cutoff.isoformat(timespec="seconds"),
            "dry_run": self.dry_run,
            "deleted": dict(self.deleted),
            "total": self.total,
        }


def prune(
    store: Store,
    *,
    older_than: dt.timedelta,
    now: dt.datetime,
    dry_run: bool = False,
    include_unreleased: bool = False,
    keep_sent_bytes: dt.timedelta | None = None,
    batch: int = _BATCH,
) -> PruneReport:
    """Delete what is older than ``now - older_than`` and no longer needed.

    Parameters:
        store: the gateway's database.
        older_than: the retention period.
        now: the current time.
        dry_run: only count.
        include_unreleased: also delete quarantined messages nobody released.
        keep_sent_bytes: drop the bytes of messages sent (or cancelled) longer ago than
            this; ``None`` keeps them while the row stays.
        batch: rows per transaction.

    Returns:
        The counts per kind.

    Raises:
        StorageError: the database failed (what was deleted before stays deleted).
        ValueError: ``older_than`` is not positive, or ``keep_sent_bytes`` is negative.
    """
    if older_than <= dt.timedelta(0):
        raise ValueError("the retention period must be positive")
    if keep_sent_bytes is not None and keep_sent_bytes < dt.timedelta(0):
        raise ValueError("the period sent bytes are kept cannot be negative")
    cutoff = now - older_than
    run = _Run(store, cutoff, dry_run, batch)
    # Sent mail first: a meeting's own rows are then mostly gone, and counted here.
    run.simple(
        "outbox",
        OutboxMessage.id,
        and_(OutboxMessage.state.in_(_FINAL), OutboxMessage.updated_at < cutoff),
    )
    if keep_sent_bytes is not None:
        run.sent_bytes(now - keep_sent_bytes)
    run.ids("outbound_meetings", OutboundMeeting.id, _over_meetings(cutoff), _delete_meetings)
    run.ids("inbound_events", InboundEvent.id, _over_events(cutoff), _delete_events)
    run.processed(cutoff)
    run.simple("event_log", EventLogEntry.id, EventLogEntry.created_at < cutoff)
    released = QuarantinedMessage.released_at < cutoff
    if include_unreleased:
        released = or_(released, QuarantinedMessage.created_at < cutoff)
    run.simple("quarantine", QuarantinedMessage.id, released)
    run.simple(
        "spool",
        SpooledMessage.id,
        and_(
            SpooledMessage.state.in_((SpoolState.DONE, SpoolState.FAILED)),
            SpooledMessage.received_at < cutoff,
        ),
    )
    run.simple("worker_heartbeats", WorkerHeartbeat.worker, WorkerHeartbeat.heartbeat_at < cutoff)
    return PruneReport(cutoff, dry_run, run.counts)


def _over_meetings(cutoff: dt.datetime) -> ColumnElement[bool]:
    waiting = exists().where(
        OutboxMessage.meeting_id == OutboundMeeting.id, OutboxMessage.state.in_(_WAITING)
    )
    return and_(
        OutboundMeeting.ends_at.is_not(None),
        OutboundMeeting.ends_at < cutoff,
        OutboundMeeting.updated_at < cutoff,
        ~waiting,
    )


def _delete_meetings(session: Session, ids: Sequence[Any]) -> None:
    session.execute(delete(OutboxMessage).where(OutboxMessage.meeting_id.in_(ids)))
    session.execute(delete(OutboundReminder).where(OutboundReminder.meeting_id.in_(ids)))
    session.execute(delete(OutboundAttendee).where(OutboundAttendee.meeting_id.in_(ids)))
    session.execute(delete(OutboundMeeting).where(OutboundMeeting.id.in_(ids)))


def _over_events(cutoff: dt.datetime) -> ColumnElement[bool]:
    return and_(
        InboundEvent.ends_at.is_not(None),
        InboundEvent.ends_at < cutoff,
        InboundEvent.updated_at < cutoff,
    )


def _delete_events(session: Session, ids: Sequence[Any]) -> None:
    session.execute(delete(InboundEventSource).where(InboundEventSource.event_id.in_(ids)))
    session.execute(delete(InboundEvent).where(InboundEvent.id.in_(ids)))


class _Run:
    """One prune: the store, the cut-off, the counts."""

    def __init__(self, store: Store, cutoff: dt.datetime, dry_run: bool, batch: int) -> None:
        self.store = store
        self.cutoff = cutoff
        self.dry_run = dry_run
        self.batch = batch
        self.counts: dict[str, int] = {}

    def _count(self, key: Any, condition: ColumnElement[bool]) -> int:
        with self.store.session() as session:
            return int(session.scalar(select(func.count(key)).where(condition)) or 0)

    def ids(
        self,
        name: str,
        key: Any,
        condition: ColumnElement[bool],
        remove: Callable[[Session, Sequence[Any]], None],
    ) -> None:
        """Delete the rows of ``condition`` in batches of ids (``key``) with ``remove``."""
        if self.dry_run:
            self.counts[name] = self._count(key, condition)
            return
        total, after = 0, None
        while True:
            with self.store.session() as session:
                query = select(key).where(condition).order_by(key).limit(self.batch)
                if after is not None:
                    query = query.where(key > after)
                ids = list(session.scalars(query))
                if not ids:
                    break
                remove(session, ids)
            total, after = total + len(ids), ids[-1]
        self.counts[name] = total

    def simple(self, name: str, key: Any, condition: ColumnElement[bool]) -> None:
        """Delete the rows of ``condition`` (one table) in batches."""
        table = key.class_

        def remove(session: Session, ids: Sequence[Any]) -> None:
            session.execute(delete(table).where(key.in_(ids)))

        if self.dry_run:
            self.counts[name] = self._count(key, condition)
            return
        total = 0
        while True:
            with self.store.session() as session:
                ids = list(session.scalars(select(key).where(condition).limit(self.batch)))
                if not ids:
                    break
                remove(session, ids)
            total += len(ids)
        self.counts[name] = total

    def sent_bytes(self, cutoff: dt.datetime) -> None:
        """Delete the bytes of outbox messages sent or cancelled before ``cutoff`` (keep rows)."""
        condition = and_(
            OutboxMessage.state.in_(_DELIVERED),
            OutboxMessage.updated_at < cutoff,
            exists().where(OutboxBody.id == OutboxMessage.id),
        )

        def drop(session: Session, ids: Sequence[Any]) -> None:
            session.execute(delete(OutboxBody).where(OutboxBody.id.in_(ids)))

        self.ids("outbox_bytes", OutboxMessage.id, condition, drop)

    def processed(self, cutoff: dt.datetime) -> None:
        """Old processed messages, except those of invitations and meetings still kept."""
        total, after = 0, 0
        # What stays (also right in a dry run, where nothing was deleted before).
        with self.store.session() as session:
            meetings = set(
                session.scalars(
                    select(OutboundMeeting.crm_meeting_id).where(~_over_meetings(cutoff))
                )
            )
        while True:
            with self.store.session() as session:
                rows = session.execute(
                    select(
                        ProcessedMessage.id, ProcessedMessage.message_id, ProcessedMessage.details
                    )
                    .where(ProcessedMessage.processed_at < cutoff, ProcessedMessage.id > after)
                    .order_by(ProcessedMessage.id)
                    .limit(self.batch)
                ).all()
                if not rows:
                    break
                after = rows[-1].id
                carried = set(
                    session.scalars(
                        select(InboundEventSource.message_id)
                        .join(InboundEvent, InboundEvent.id == InboundEventSource.event_id)
                        .where(
                            InboundEventSource.message_id.in_(
                                {r.message_id for r in rows if r.message_id}
                            ),
                            ~_over_events(cutoff),
                        )
                    )
                )
                doomed = [
                    r.id
                    for r in rows
                    if r.message_id not in carried and not _answers(r.details, meetings)
                ]
                if doomed and not self.dry_run:
                    session.execute(delete(ProcessedMessage).where(ProcessedMessage.id.in_(doomed)))
            total += len(doomed)
        self.counts["processed_messages"] = total


def _answers(details: object, meetings: set[str]) -> bool:
    """Whether a processed message's events name a meeting still in the outbound ledger."""
    if not isinstance(details, dict):
        return False
    events = details.get("events")
    if not isinstance(events, list):
        return False
    return any(isinstance(e, dict) and e.get("meeting_id") in meetings for e in events)
