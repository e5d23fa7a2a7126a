"""The inbound ledger and the processed-message records, as the pipeline reads and writes them.

Thin typed queries over :mod:`invitegw.gateway.storage.models`: the ledger row of an
invitation's key, the other rows of its UID, the messages that carried it
(:class:`~invitegw.gateway.storage.models.InboundEventSource`), the gateway's own
Message-IDs and UIDs (loops), and the processed record of a message seen before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, cast, insert, literal, null, select, union_all
from sqlalchemy.orm import Session

from invitegw.gateway.inbound.model import EventResult, InboundOutcome
from invitegw.gateway.storage.models import (
    InboundEvent,
    InboundEventSource,
    InboundState,
    OutboundMeeting,
    OutboxMessage,
    ProcessedMessage,
)
from invitegw.itip.keys import EventKey
from invitegw.itip.task_facts import LedgerState, OnRecord, Version
from invitegw.sqltypes import PreparedStatement

__all__ = [
    "add_source",
    "event_from_record",
    "event_record",
    "find_event",
    "find_event_and_our_uid",
    "is_our_message",
    "is_our_uid",
    "occurrence_events",
    "on_record",
    "other_organizer",
    "previous_result",
    "seen_before",
    "set_version",
]


# The ledger row's id for a key (kind 0) and an outbound meeting with the UID (kind 1).
_EVENT_AND_OURS = PreparedStatement(
    union_all(
        select(literal(0).label("kind"), InboundEvent.id.label("id")).where(
            InboundEvent.organizer == bindparam("organizer"),
            InboundEvent.uid == bindparam("uid"),
            InboundEvent.recurrence_id == bindparam("rid"),
        ),
        select(literal(1).label("kind"), OutboundMeeting.id.label("id"))
        .where(OutboundMeeting.uid == bindparam("ours"))
        .limit(1)
        .subquery()
        .select(),
    )
)


# A message seen before, by position (kind 0, newest) or by Message-ID (kind 1, newest 20),
# and an outbox row with its Message-ID (kind 2): the three checks before any work.
_POSITION = (
    select(literal(0).label("kind"), ProcessedMessage.id.label("id"), ProcessedMessage.details)
    .where(
        ProcessedMessage.source == bindparam("source"),
        ProcessedMessage.uidvalidity == bindparam("uidvalidity"),
        ProcessedMessage.uid == bindparam("uid"),
    )
    .order_by(ProcessedMessage.id.desc())
    .limit(1)
    .subquery()
)
_BY_MESSAGE_ID = (
    select(literal(1).label("kind"), ProcessedMessage.id.label("id"), ProcessedMessage.details)
    .where(ProcessedMessage.message_id == bindparam("message_key"))
    .order_by(ProcessedMessage.id.desc())
    .limit(20)
    .subquery()
)
_OURS = (
    select(
        literal(2).label("kind"),
        OutboxMessage.id.label("id"),
        cast(null(), ProcessedMessage.details.type).label("details"),
    )
    .where(OutboxMessage.message_id == bindparam("message_id"))
    .limit(1)
    .subquery()
)
_SEEN_BEFORE = PreparedStatement(
    union_all(_POSITION.select(), _BY_MESSAGE_ID.select(), _OURS.select())
)


# Built once: the pipeline runs each for every message.
_INSERT_EVENT = PreparedStatement(
    insert(InboundEvent.metadata.tables[InboundEvent.__tablename__]).returning(InboundEvent.id)
)
_SOURCES = InboundEventSource.metadata.tables[InboundEventSource.__tablename__]
_INSERT_SOURCE = PreparedStatement(insert(_SOURCES))
_SOURCE_KNOWN = PreparedStatement(
    select(_SOURCES.c.id)
    .where(
        _SOURCES.c.event_id == bindparam("event_id"),
        _SOURCES.c.message_id == bindparam("message_id"),
    )
    .limit(1)
)


def find_event(session: Session, key: EventKey) -> InboundEvent | None:
    """The ledger row of ``key``, if any."""
    return session.scalars(
        select(InboundEvent).where(
            InboundEvent.organizer == key.organizer,
            InboundEvent.uid == key.uid,
            InboundEvent.recurrence_id == key.recurrence_id,
        )
    ).first()


def find_event_and_our_uid(
    session: Session, key: EventKey, uid: str
) -> tuple[InboundEvent | None, bool]:
    """:func:`find_event` and :func:`is_our_uid` in one query.

    Parameters:
        key: the invitation's ledger key.
        uid: the event's UID as received (for the loop check).

    Returns:
        The ledger row of ``key`` (None when there is none), and whether ``uid`` is one of
        the gateway's own meetings.
    """
    rows = _EVENT_AND_OURS.execute(
        session,
        {"organizer": key.organizer, "uid": key.uid, "rid": key.recurrence_id, "ours": uid},
    ).all()
    event_id = next((r.id for r in rows if r.kind == 0), None)
    ours = bool(uid) and any(r.kind == 1 for r in rows)
    row = session.get(InboundEvent, event_id) if event_id is not None else None
    return row, ours


def other_organizer(session: Session, key: EventKey) -> str | None:
    """Another organizer on record for the same UID and RECURRENCE-ID, if any."""
    return session.scalars(
        select(InboundEvent.organizer)
        .where(
            InboundEvent.uid == key.uid,
            InboundEvent.recurrence_id == key.recurrence_id,
            InboundEvent.organizer != key.organizer,
            InboundEvent.state != InboundState.CANCEL_SEEN,
        )
        .order_by(InboundEvent.id)
        .limit(1)
    ).first()


def occurrence_events(session: Session, key: EventKey) -> list[InboundEvent]:
    """The rows of the occurrences (RECURRENCE-ID set) of the series ``key`` names."""
    return list(
        session.scalars(
            select(InboundEvent)
            .where(
                InboundEvent.organizer == key.organizer,
                InboundEvent.uid == key.uid,
                InboundEvent.recurrence_id != "",
            )
            .order_by(InboundEvent.id)
        )
    )


def on_record(row: InboundEvent | None) -> OnRecord | None:
    """A ledger row as the rules see it."""
    if row is None:
        return None
    return OnRecord(
        state=LedgerState(row.state.value),
        version=Version(row.sequence, row.dtstamp),
        task_id=row.task_id,
    )


def event_record(
    session: Session,
    key: EventKey,
    *,
    fingerprint: str,
    version: Version,
    state: LedgerState,
    task_id: str | None,
    now: dt.datetime,
    ends_at: dt.datetime | None = None,
) -> int:
    """Insert the ledger row of ``key`` at once; return its id.

    One INSERT ... RETURNING id and no ORM object: what the pipeline does next with a new
    row needs only its id (its sources). A later change in the same unit of work loads the
    row (:func:`find_event`), and its change is an ordinary UPDATE.

    Parameters:
        key: the invitation's key.
        fingerprint: its fingerprint (organizer, summary, start).
        version: the version applied.
        state: active, or cancel-seen.
        task_id: the CRM task, if one was made.
        now: the current time.
        ends_at: when the invitation ends (``None``: never, or not known).

    Returns:
        The new row's id.
    """
    values = {
        "organizer": key.organizer,
        "uid": key.uid,
        "recurrence_id": key.recurrence_id,
        "task_id": task_id,
        "sequence": version.sequence,
        "dtstamp": version.dtstamp,
        "fingerprint": fingerprint,
        "state": InboundState(state.value),
        "ends_at": ends_at,
        "created_at": now,
        "updated_at": now,
    }
    return int(_INSERT_EVENT.execute(session, values).scalar_one())


def set_version(
    row: InboundEvent, version: Version, now: dt.datetime, *, state: LedgerState | None = None
) -> None:
    """Move the row to ``version`` (never backwards) and, when given, to ``state``."""
    if version.sequence > row.sequence:
        row.sequence = version.sequence
    if version.dtstamp is not None and (row.dtstamp is None or version.dtstamp > row.dtstamp):
        row.dtstamp = version.dtstamp
    if state is not None:
        row.state = InboundState(state.value)
    row.updated_at = now


def add_source(
    session: Session,
    event_id: int,
    *,
    message_id: str,
    source: str,
    forwarder: str | None,
    now: dt.datetime,
    new: bool = False,
) -> None:
    """Record that the message ``message_id`` carried the invitation (once per message).

    ``new`` says the row ``event_id`` was inserted just now, so it has no sources yet (no
    look-up).
    """
    if not new:
        known = _SOURCE_KNOWN.execute(
            session, {"event_id": event_id, "message_id": message_id}
        ).first()
        if known is not None:
            return
    # One INSERT, no ORM object: nothing reads the sources back in the same unit of work.
    _INSERT_SOURCE.execute(
        session,
        {
            "event_id": event_id,
            "message_id": message_id,
            "source": source,
            "forwarder": forwarder,
            "received_at": now,
        },
    )


def is_our_message(session: Session, message_id: str | None) -> bool:
    """Whether ``message_id`` is one the gateway sent (an outbox row)."""
    if not message_id:
        return False
    found = session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.message_id == message_id).limit(1)
    ).first()
    return found is not None


def is_our_uid(session: Session, uid: str) -> bool:
    """Whether ``uid`` is the UID of a meeting the gateway sends invitations for."""
    if not uid:
        return False
    found = session.scalars(
        select(OutboundMeeting.id).where(OutboundMeeting.uid == uid).limit(1)
    ).first()
    return found is not None


def event_from_record(data: dict[str, Any]) -> EventResult:
    """An :class:`EventResult` back from its stored form (``ProcessedMessage.details``)."""
    try:
        outcome = InboundOutcome(str(data.get("outcome")))
    except ValueError:
        outcome = InboundOutcome.IGNORED

    def text(name: str) -> str | None:
        value = data.get(name)
        return str(value) if value is not None else None

    return EventResult(
        outcome=outcome,
        uid=text("uid"),
        recurrence_id=text("recurrence_id"),
        method=text("method"),
        task_id=text("task_id"),
        meeting_id=text("meeting_id"),
        reason=text("reason"),
    )


def seen_before(
    session: Session,
    *,
    source: str,
    uidvalidity: int | None,
    uid: int | None,
    message_key: str | None,
    digest: str | None,
    message_id: str | None,
) -> tuple[ProcessedMessage | None, bool]:
    """:func:`previous_result` and :func:`is_our_message` in one query.

    Parameters:
        source: as :func:`previous_result`.
        uidvalidity: as :func:`previous_result`.
        uid: as :func:`previous_result`.
        message_key: as :func:`previous_result`.
        digest: as :func:`previous_result`.
        message_id: the Message-ID header (the outbox check; none: not ours).

    Returns:
        The processed record of this message handled before (or None), and whether the
        Message-ID is one the gateway sent.
    """
    position = uidvalidity is not None and uid is not None
    rows = _SEEN_BEFORE.execute(
        session,
        {
            # A condition that matches nothing stands in for a check that does not apply.
            "source": source if position else None,
            "uidvalidity": uidvalidity,
            "uid": uid,
            "message_key": message_key or None,
            "message_id": message_id or None,
        },
    ).all()
    ours = bool(message_id) and any(r.kind == 2 for r in rows)
    found = next((r.id for r in rows if r.kind == 0), None)
    if found is None and message_key:
        candidates = sorted((r for r in rows if r.kind == 1), key=lambda r: -r.id)
        read = _details_reader(session)
        found = next(
            (r.id for r in candidates if (read(r.details) or {}).get("digest") == digest), None
        )
    prior = session.get(ProcessedMessage, found) if found is not None else None
    return prior, ours


def _details_reader(session: Session) -> Callable[[Any], Any]:
    """How the ``details`` column reads a value the driver returned (JSON text on SQLite)."""
    dialect = session.get_bind().dialect
    column = ProcessedMessage.metadata.tables[ProcessedMessage.__tablename__].c.details
    process = column.type.dialect_impl(dialect).result_processor(dialect, None)
    return process if process is not None else (lambda value: value)


def previous_result(
    session: Session,
    *,
    source: str,
    uidvalidity: int | None,
    uid: int | None,
    message_key: str | None,
    digest: str | None,
) -> ProcessedMessage | None:
    """The newest processed record of this message, if it was handled before.

    Known by its place in a mailbox (source + UIDVALIDITY + UID), or by its Message-ID
    when the body is the same (a reused Message-ID with other content is a new message).

    Parameters:
        source: the mailbox name, ``smtp`` or ``file``.
        uidvalidity: the folder's UIDVALIDITY (IMAP).
        uid: the message's UID (IMAP).
        message_key: the Message-ID (or the stand-in for a message without one).
        digest: the body digest (:func:`~invitegw.itip.keys.body_digest`).

    Returns:
        The record, or None.
    """
    prior, _ours = seen_before(
        session,
        source=source,
        uidvalidity=uidvalidity,
        uid=uid,
        message_key=message_key,
        digest=digest,
        message_id=None,
    )
    return prior
