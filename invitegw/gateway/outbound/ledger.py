"""The outbound ledger in the database: read it as a value, store a plan (the shell).

:func:`load_ledger` reads one meeting's ``outbound_meetings`` row and its attendees as a
:class:`~invitegw.itip.plan_model.LedgerState` (locking the row on PostgreSQL, so two
workers never plan the same meeting at once). :func:`store_plan` stores what the planner
decided and the compose step wrote (:mod:`invitegw.gateway.outbound.messages`), in the
caller's transaction, building nothing itself: the ledger rows, one outbox row per
composed message with its bytes and stable Message-ID, the cancellation of earlier
messages the plan makes obsolete, and the notes in the CRM's integration log and the
gateway's event log (:func:`crm_note`). Either all of it commits or none of it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from invitegw.crm_adapter.port import CrmPort
from invitegw.domain.records import LogEntry, LogLevel, LogTarget
from invitegw.errors import CrmError
from invitegw.gateway.outbound.messages import ComposedMessage
from invitegw.gateway.outbound.snapshot import meeting_from_json, meeting_to_json
from invitegw.gateway.storage import (
    DeliveryState,
    OutboundAttendee,
    OutboundMeeting,
    OutboxMessage,
    OutboxState,
    enqueue_many,
    log_event,
)
from invitegw.ics.model import PartStat, Role
from invitegw.itip.meeting_events import occurrence_key
from invitegw.itip.plan_model import LedgerAttendee, LedgerState, Plan

__all__ = [
    "StoredPlan",
    "crm_note",
    "ledger_state",
    "load_ledger",
    "store_plan",
]

logger = logging.getLogger(__name__)


def _attendee_value(row: OutboundAttendee) -> LedgerAttendee:
    try:
        role = Role(row.role)
    except ValueError:
        role = Role.REQ_PARTICIPANT
    try:
        partstat = PartStat(row.partstat)
    except ValueError:
        partstat = PartStat.NEEDS_ACTION
    return LedgerAttendee(
        address=row.address,
        name=row.name,
        party_type=row.party_type,
        party_id=row.party_id,
        role=role,
        token=row.token,
        language=row.language,
        time_zone=row.time_zone,
        last_sequence_sent=row.last_sequence_sent,
        partstat=partstat,
        removed=row.removed,
        resend=row.resend_requested_at is not None,
        invited_at=row.invited_at,
        thread_id=row.thread_id,
    )


def ledger_state(row: OutboundMeeting) -> LedgerState:
    """The ledger row and its attendees as a value.

    Parameters:
        row: the meeting row (attendees loaded or loadable).

    Returns:
        The state.

    Raises:
        GatewayError: the stored snapshot cannot be read.
    """
    return LedgerState(
        uid=row.uid,
        calendar=row.calendar,
        sequence=row.sequence,
        snapshot=meeting_from_json(row.snapshot) if row.snapshot else None,
        cancelled=row.cancelled,
        deleted=row.deleted,
        ends_at=row.ends_at,
        attendees=tuple(_attendee_value(a) for a in row.attendees),
        adopted_at=row.adopted_at,
        switch_on=row.switch_on,
    )


def load_ledger(session: Session, crm_meeting_id: str) -> OutboundMeeting | None:
    """The ledger row of a CRM meeting, locked for this transaction (PostgreSQL).

    Parameters:
        session: the unit of work.
        crm_meeting_id: the CRM's id.

    Returns:
        The row with its attendees, or ``None`` for a meeting never planned.
    """
    query = (
        select(OutboundMeeting)
        .where(OutboundMeeting.crm_meeting_id == crm_meeting_id)
        .options(selectinload(OutboundMeeting.attendees))
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=OutboundMeeting)
    return session.scalars(query).first()


@dataclass(frozen=True, slots=True)
class StoredPlan:
    """What :func:`store_plan` wrote: the ledger row id and the outbox rows queued."""

    meeting_row_id: int | None
    queued: int
    superseded: int


def crm_note(
    crm: CrmPort | None,
    session: Session,
    *,
    meeting_id: str | None,
    level: LogLevel,
    text: str,
    kind: str,
    now: dt.datetime,
    message_id: str | None = None,
    details: dict[str, str] | None = None,
) -> None:
    """One line in the CRM's integration log of a meeting and in the gateway's event log.

    A CRM that cannot take the line now (a remote CRM that is down) does not undo the
    gateway's own work: the failure is noted in the event log instead.

    Parameters:
        crm: the CRM port; ``None`` for the event log alone.
        session: the unit of work (the event log).
        meeting_id: the CRM meeting id (without one, the event log alone).
        level: the severity.
        text: the readable line.
        kind: a short machine-readable kind (``queued``, ``dead``, ``invalid-address``).
        now: the current time.
        message_id: the email it concerns, if any.
        details: structured extras.
    """
    log_event(
        session,
        now=now,
        level=level,
        kind=kind,
        text=text,
        meeting_id=meeting_id,
        message_id=message_id,
        details=dict(details) if details else None,
    )
    if crm is not None and meeting_id is not None:
        entry = LogEntry(
            target=LogTarget.MEETING,
            target_id=meeting_id,
            level=level,
            message=text,
            created_at=now,
            details=dict(details or {}),
        )
        _crm_log(crm, session, entry, now)


def _crm_log(crm: CrmPort, session: Session, entry: LogEntry, now: dt.datetime) -> None:
    try:
        crm.log(entry)
    except CrmError as exc:
        logger.warning("CRM log for meeting %s failed: %s", entry.target_id, exc)
        log_event(
            session,
            now=now,
            level=LogLevel.WARNING,
            kind="crm-log-failed",
            text=f"the CRM did not take this log line: {exc}",
            meeting_id=entry.target_id,
        )


def _sync_attendees(
    session: Session, row: OutboundMeeting, state: LedgerState, now: dt.datetime
) -> dict[str, OutboundAttendee]:
    by_address = {a.address: a for a in row.attendees}
    for value in state.attendees:
        target = by_address.get(value.address)
        if target is None:
            target = OutboundAttendee(address=value.address, created_at=now)
            row.attendees.append(target)
            by_address[value.address] = target
        target.name = value.name[:255]
        target.party_type = value.party_type
        target.party_id = value.party_id
        target.role = value.role.value
        target.token = value.token
        target.language = value.language
        target.time_zone = value.time_zone
        if target.last_sequence_sent != value.last_sequence_sent:
            target.last_sequence_sent = value.last_sequence_sent
            target.delivery_state = DeliveryState.PENDING
        target.partstat = value.partstat.value
        target.removed = value.removed
        target.resend_requested_at = target.resend_requested_at if value.resend else None
        target.invited_at = value.invited_at
        target.thread_id = value.thread_id
        target.updated_at = now
    session.flush()
    return by_address


def store_plan(
    session: Session,
    plan: Plan,
    composed: Sequence[ComposedMessage],
    *,
    row: OutboundMeeting | None,
    sender: str,
    crm: CrmPort,
    now: dt.datetime,
) -> StoredPlan:
    """Store ``plan`` and its composed messages in the caller's transaction.

    See the module docstring: the ledger rows, the outbox rows, the superseded messages,
    the notes. Nothing is built here: the messages come composed.

    Parameters:
        session: the unit of work.
        plan: the planner's decision.
        composed: its messages as email bytes, in the plan's order.
        row: the meeting's ledger row, or ``None`` for a meeting never planned.
        sender: the envelope sender of the outbox rows (the calendar's From address).
        crm: the CRM port (its integration log).
        now: the current time.

    Returns:
        What was written.

    Raises:
        GatewayError: the snapshot cannot be stored.
    """
    state = plan.ledger
    if state is None:
        _notes(session, plan, crm, now, {"action": plan.action})
        return StoredPlan(meeting_row_id=None, queued=0, superseded=0)
    created = row is None
    if row is None:
        row = OutboundMeeting(crm_meeting_id=plan.meeting_id, created_at=now)
        session.add(row)
    _write_meeting(row, state, now, sent=bool(composed))
    attendees = _sync_attendees(session, row, state, now)
    superseded = 0
    if plan.supersedes and not created:
        superseded = _supersede(session, row.id, plan.supersedes, now)
    queued = enqueue_many(
        session, (_outbox_row(m, row.id, attendees, sender) for m in composed), now=now
    )
    details = {"action": plan.action, "uid": state.uid, "sequence": str(state.sequence)}
    _notes(session, plan, crm, now, details)
    if superseded:
        logger.info("meeting %s: %d unsent message(s) superseded", plan.meeting_id, superseded)
    return StoredPlan(meeting_row_id=row.id, queued=queued, superseded=superseded)


def _write_meeting(
    row: OutboundMeeting, state: LedgerState, now: dt.datetime, *, sent: bool
) -> None:
    row.calendar = state.calendar
    row.uid = state.uid
    row.sequence = state.sequence
    row.snapshot = meeting_to_json(state.snapshot) if state.snapshot is not None else None
    row.cancelled = state.cancelled
    row.deleted = state.deleted
    row.ends_at = state.ends_at
    row.adopted_at = state.adopted_at
    row.switch_on = state.switch_on
    row.updated_at = now
    # The reminder job's due-queue: a changed meeting is looked at on its next pass.
    live = state.snapshot is not None and not (state.cancelled or state.deleted)
    row.reminder_check_at = now if live else None
    if sent:
        row.last_dtstamp = now


def _supersede(
    session: Session, meeting_row_id: int, recipients: frozenset[str], now: dt.datetime
) -> int:
    """Cancel the unsent messages of ``recipients`` that a newer whole-meeting one replaces."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.meeting_id == meeting_row_id,
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.recipient.in_(sorted(recipients)),
        )
        .values(state=OutboxState.CANCELLED, updated_at=now, last_error="superseded")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


def _outbox_row(
    composed: ComposedMessage,
    meeting_row_id: int,
    attendees: dict[str, OutboundAttendee],
    sender: str,
) -> dict[str, object]:
    message = composed.planned
    occurrence = message.occurrence
    return {
        "message_id": f"<{message.message_id}>",
        "sender": sender,
        "recipient": message.recipient.address,
        "kind": message.kind.value,
        "meeting_id": meeting_row_id,
        "attendee_id": attendees[message.recipient.address].id,
        "method": message.method.value,
        "sequence": message.sequence,
        "recurrence_id": occurrence_key(occurrence) if occurrence is not None else None,
        "raw": composed.raw,
    }


def _notes(
    session: Session, plan: Plan, crm: CrmPort, now: dt.datetime, details: dict[str, str]
) -> None:
    for note in plan.notes:
        crm_note(
            crm,
            session,
            meeting_id=plan.meeting_id,
            level=note.level,
            text=note.text,
            kind=note.kind,
            now=now,
            details=details,
        )
