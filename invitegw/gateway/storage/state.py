"""Small bookkeeping: feed cursors, IMAP checkpoints, leases, and the event log.

Leases give one worker at a time a named resource (an IMAP mailbox, the CRM poll job).
:func:`acquire_lease` is a single conditional UPDATE (take it if free, expired, or already
ours), falling back to an INSERT for a name never leased; PostgreSQL re-checks the UPDATE's
condition after waiting for a competing writer, so two workers never both succeed. A lease
held by a process that died on this host is taken at once, without waiting for it to
expire (:mod:`~invitegw.gateway.storage.liveness`): a worker restarted after ``kill -9``
resumes its mailboxes immediately.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import case, delete, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from invitegw.domain.records import LogLevel
from invitegw.gateway.storage.liveness import dead_local_holder
from invitegw.gateway.storage.models import Cursor, EventLogEntry, ImapCheckpoint, Lease
from invitegw.sqltypes import PreparedStatement, UtcDateTime

__all__ = [
    "acquire_lease",
    "get_checkpoint",
    "get_cursor",
    "log_event",
    "log_events",
    "release_lease",
    "renew_lease",
    "set_checkpoint",
    "set_cursor",
]

# Built once: the inbound pipeline logs every message.
_INSERT_LOG = PreparedStatement(insert(EventLogEntry.metadata.tables[EventLogEntry.__tablename__]))


def get_cursor(session: Session, name: str) -> str | None:
    """The stored position of feed ``name`` (``crm.changes`` ...), or ``None``."""
    row = session.get(Cursor, name)
    return row.value if row is not None else None


def set_cursor(session: Session, name: str, value: str, *, now: dt.datetime) -> None:
    """Store the position of feed ``name``.

    Parameters:
        name: the feed.
        value: the opaque cursor its source returned.
        now: the current time.
    """
    row = session.get(Cursor, name)
    if row is None:
        session.add(Cursor(name=name, value=value, updated_at=now))
    else:
        row.value = value
        row.updated_at = now
    session.flush()


def get_checkpoint(session: Session, mailbox: str) -> ImapCheckpoint | None:
    """How far ``mailbox`` has been read, or ``None`` before the first read."""
    return session.get(ImapCheckpoint, mailbox)


def set_checkpoint(
    session: Session, mailbox: str, *, uidvalidity: int, last_uid: int, now: dt.datetime
) -> ImapCheckpoint:
    """Record the last UID handled in ``mailbox``.

    Within one UIDVALIDITY the checkpoint never moves back (UIDs only grow, RFC 9051
    section 2.3.1.1); a new UIDVALIDITY starts it afresh.

    Parameters:
        mailbox: the configured mailbox name.
        uidvalidity: the folder's UIDVALIDITY.
        last_uid: the highest UID handled.
        now: the current time.

    Returns:
        The checkpoint row.
    """
    row = session.get(ImapCheckpoint, mailbox)
    if row is None:
        row = ImapCheckpoint(
            mailbox=mailbox, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now
        )
        session.add(row)
    elif row.uidvalidity != uidvalidity:
        row.uidvalidity, row.last_uid, row.updated_at = uidvalidity, last_uid, now
    elif last_uid > row.last_uid:
        row.last_uid, row.updated_at = last_uid, now
    session.flush()
    return row


def acquire_lease(
    session: Session, name: str, holder: str, *, now: dt.datetime, duration: dt.timedelta
) -> bool:
    """Take (or extend) the lease ``name`` for ``holder`` if it is free, expired or ours.

    Parameters:
        name: the resource (``imap:sales``, ``job:crm-poll`` ...).
        holder: this worker's id.
        now: the current time.
        duration: how long the lease lasts without a heartbeat.

    Returns:
        True when ``holder`` now holds the lease.
    """
    # A takeover starts a new tenure; our own renewal keeps the old one.
    tenure = case((Lease.holder == holder, Lease.acquired_at), else_=literal(now, UtcDateTime()))
    result = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(
            acquired_at=tenure,
            holder=holder,
            heartbeat_at=now,
            expires_at=now + duration,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) == 1:
        return True
    current = session.scalar(select(Lease.holder).where(Lease.name == name))
    if current is not None:
        return dead_local_holder(current, holder) and _take_over(
            session, name, current, holder, now=now, duration=duration
        )
    try:
        with session.begin_nested():
            session.add(
                Lease(
                    name=name,
                    holder=holder,
                    acquired_at=now,
                    heartbeat_at=now,
                    expires_at=now + duration,
                )
            )
    except IntegrityError:
        return False  # another worker inserted it first
    return True


def _take_over(
    session: Session,
    name: str,
    previous: str,
    holder: str,
    *,
    now: dt.datetime,
    duration: dt.timedelta,
) -> bool:
    """Take the lease from ``previous`` (a dead process), if it still holds it."""
    result = session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == previous)
        .values(acquired_at=now, holder=holder, heartbeat_at=now, expires_at=now + duration)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def renew_lease(
    session: Session, name: str, holder: str, *, now: dt.datetime, duration: dt.timedelta
) -> bool:
    """Heartbeat: extend a lease ``holder`` still holds.

    Parameters:
        name: the resource.
        holder: this worker's id.
        now: the current time.
        duration: the new lifetime from now.

    Returns:
        False when the lease is no longer ours (taken over after it expired).
    """
    result = session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(heartbeat_at=now, expires_at=now + duration)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def release_lease(session: Session, name: str, holder: str) -> bool:
    """Give a lease up (on shutdown), if ``holder`` holds it.

    Returns:
        True when it was ours and is now free.
    """
    result = session.execute(
        delete(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def log_event(
    session: Session,
    *,
    now: dt.datetime,
    level: LogLevel,
    kind: str,
    text: str,
    meeting_id: str | None = None,
    task_id: str | None = None,
    message_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> EventLogEntry:
    """Append to the gateway's event and delivery log.

    Parameters:
        now: the current time.
        level: severity.
        kind: a short machine-readable kind (``sent``, ``retry``, ``dead``, ``quarantined``).
        text: the readable account.
        meeting_id: the CRM meeting it concerns.
        task_id: the CRM task it concerns.
        message_id: the email it concerns.
        details: further structured data.

    Returns:
        The new entry.
    """
    entry = EventLogEntry(
        created_at=now,
        level=level,
        kind=kind,
        text=text,
        meeting_id=meeting_id,
        task_id=task_id,
        message_id=message_id,
        details=details,
    )
    session.add(entry)
    session.flush()
    return entry


def log_events(session: Session, entries: Sequence[Mapping[str, Any]]) -> None:
    """Append several entries to the event log in one statement (no ORM objects).

    For the hot path (the inbound pipeline logs every message): nothing to flush, nothing
    kept in the session.

    Parameters:
        entries: each with :func:`log_event`'s keyword arguments (``now``, ``level``,
            ``kind``, ``text``, and optionally ``meeting_id``, ``task_id``, ``message_id``,
            ``details``).
    """
    if not entries:
        return
    _INSERT_LOG.execute(
        session,
        [
            {
                "created_at": e["now"],
                "level": e["level"],
                "kind": e["kind"],
                "text": e["text"],
                "meeting_id": e.get("meeting_id"),
                "task_id": e.get("task_id"),
                "message_id": e.get("message_id"),
                "details": e.get("details"),
            }
            for e in entries
        ],
    )
