"""Read-only queries for ``status``, ``/readyz`` and ``/metrics``: cheap, indexed, any worker.

Each query runs on a session of the caller and reads what every worker shares (the outbox,
the quarantine, the spool, leases, heartbeats), so the answer is the same from any host of
a multi-worker deployment. Counts by state use the ``(state, …)`` indexes; nothing here
reads a message body.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from invitegw.gateway.storage.models import (
    Cursor,
    Lease,
    OutboxMessage,
    OutboxState,
    ProcessedMessage,
    QuarantinedMessage,
    SpooledMessage,
    SpoolState,
    WorkerHeartbeat,
)

__all__ = [
    "OutboxFigures",
    "QuarantineFigures",
    "cursor_updated",
    "last_processed",
    "leases",
    "outbox_figures",
    "quarantine_figures",
    "spool_waiting",
    "workers",
]

# Reasons grouped at most this many at once: a quarantine that large is reported as it is.
_REASON_GROUPS = 5000


@dataclass(frozen=True, slots=True)
class OutboxFigures:
    """The outbox by state, and its oldest waiting message."""

    by_state: dict[str, int]
    oldest_pending: dt.datetime | None  # created_at of the oldest pending/sending message
    reminders_waiting: int  # reminder emails queued and not yet sent

    @property
    def dead(self) -> int:
        """Messages given up on."""
        return self.by_state.get(OutboxState.DEAD.value, 0)

    @property
    def waiting(self) -> int:
        """Messages still to send (pending or being sent)."""
        return self.by_state.get(OutboxState.PENDING.value, 0) + self.by_state.get(
            OutboxState.SENDING.value, 0
        )


@dataclass(frozen=True, slots=True)
class QuarantineFigures:
    """Unreleased quarantined messages: how many, their bytes, and each reason's count."""

    count: int
    size: int
    reasons: dict[str, int]


def outbox_figures(session: Session) -> OutboxFigures:
    """Count the outbox by state; find the oldest message still to send.

    Parameters:
        session: an open session.

    Returns:
        The figures (every state present, zero when empty).
    """
    counts = {state.value: 0 for state in OutboxState}
    for state, count in session.execute(
        select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
    ):
        counts[OutboxState(state).value] = int(count)
    waiting = (OutboxState.PENDING, OutboxState.SENDING)
    oldest = session.scalar(
        select(func.min(OutboxMessage.created_at)).where(OutboxMessage.state.in_(waiting))
    )
    reminders = session.scalar(
        select(func.count()).where(
            OutboxMessage.state.in_(waiting), OutboxMessage.kind == "reminder"
        )
    )
    return OutboxFigures(counts, oldest, int(reminders or 0))


def quarantine_figures(session: Session) -> QuarantineFigures:
    """The unreleased quarantine: count, stored bytes, count per reason text.

    Parameters:
        session: an open session.

    Returns:
        The figures (``reasons`` holds at most a few thousand distinct texts).
    """
    unreleased = QuarantinedMessage.released_at.is_(None)
    count, size = session.execute(
        select(func.count(), func.coalesce(func.sum(QuarantinedMessage.size), 0)).where(unreleased)
    ).one()
    reasons = {
        str(reason): int(n)
        for reason, n in session.execute(
            select(QuarantinedMessage.reason, func.count())
            .where(unreleased)
            .group_by(QuarantinedMessage.reason)
            .limit(_REASON_GROUPS)
        )
    }
    return QuarantineFigures(int(count), int(size), reasons)


def spool_waiting(session: Session) -> int:
    """Messages the SMTP listener accepted that the pipeline has not finished."""
    return int(
        session.scalar(
            select(func.count()).where(
                SpooledMessage.state.in_((SpoolState.PENDING, SpoolState.PROCESSING))
            )
        )
        or 0
    )


def workers(session: Session) -> list[WorkerHeartbeat]:
    """Every worker's heartbeat row, the most recent first."""
    return list(
        session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.heartbeat_at.desc()))
    )


def leases(session: Session, prefix: str = "") -> dict[str, Lease]:
    """The lease rows whose names start with ``prefix`` (``imap:``), by name."""
    rows = session.scalars(select(Lease).where(Lease.name.startswith(prefix, autoescape=True)))
    return {row.name: row for row in rows}


def last_processed(session: Session, sources: Sequence[str]) -> dict[str, dt.datetime]:
    """When each source (a mailbox name, ``smtp``) last had a message processed.

    Parameters:
        session: an open session.
        sources: the sources to look at (one indexed MAX each).

    Returns:
        The time per source that has processed anything.
    """
    found: dict[str, dt.datetime] = {}
    for source in sources:
        value = session.scalar(
            select(func.max(ProcessedMessage.processed_at)).where(ProcessedMessage.source == source)
        )
        if value is not None:
            found[source] = value
    return found


def cursor_updated(session: Session, name: str) -> dt.datetime | None:
    """When the cursor ``name`` (``crm.changes``) last moved, or ``None``."""
    row = session.get(Cursor, name)
    return row.updated_at if row is not None else None
