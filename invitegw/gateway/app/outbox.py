"""Use cases on the outbox: what waits, what was sent, what was given up; retry.

The CLI's ``outbox list|retry`` and the web console's outbox page call these. Entries are
plain values; :meth:`OutboxEntry.to_json` is the object ``--json`` prints (times ISO 8601
in UTC with ``Z``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from invitegw.errors import GatewayError
from invitegw.gateway.app.json_values import iso_utc
from invitegw.gateway.storage import OutboundMeeting, OutboxMessage, OutboxState, requeue

if TYPE_CHECKING:
    from invitegw.gateway.bootstrap import Gateway

__all__ = ["OutboxEntry", "RetryError", "list_outbox", "retry_outbox"]


class RetryError(GatewayError):
    """Some of the messages named cannot be retried (unknown, sent, or cancelled)."""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One outbox message as a person or a script sees it."""

    id: int
    message_id: str
    state: str
    kind: str
    method: str | None
    sequence: int | None
    recurrence_id: str | None
    sender: str
    recipient: str
    meeting_id: str | None
    attempts: int
    next_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None
    created_at: dt.datetime | None
    last_error: str | None

    @classmethod
    def of(cls, row: OutboxMessage, crm_meeting_id: str | None) -> OutboxEntry:
        """The entry of an outbox row.

        Parameters:
            row: the row.
            crm_meeting_id: the CRM id of its meeting, if it has one.

        Returns:
            The entry.
        """
        return cls(
            id=row.id,
            message_id=row.message_id,
            state=row.state.value,
            kind=row.kind,
            method=row.method,
            sequence=row.sequence,
            recurrence_id=row.recurrence_id,
            sender=row.sender,
            recipient=row.recipient,
            meeting_id=crm_meeting_id,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            sent_at=row.sent_at,
            created_at=row.created_at,
            last_error=row.last_error,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object (keys as the fields; times ISO 8601 UTC with ``Z``)."""
        record = dataclasses.asdict(self)
        for key in ("next_attempt_at", "sent_at", "created_at"):
            record[key] = iso_utc(record[key])
        return record


def list_outbox(
    gateway: Gateway,
    *,
    state: str | None = None,
    meeting_id: str | None = None,
    recipient: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[OutboxEntry]:
    """The newest outbox messages first, filtered.

    Parameters:
        gateway: the assembled gateway.
        state: only messages in this state (``pending``, ``sent``, ``dead`` ...).
        meeting_id: only this CRM meeting's messages.
        recipient: only messages to this address (case-insensitive).
        limit: at most this many.
        before_id: only messages older than this id (the next page).

    Returns:
        The entries.

    Raises:
        GatewayError: an unknown state or a limit below 1.
    """
    if limit < 1:
        raise GatewayError("limit: expected a positive number")
    query = (
        select(OutboxMessage, OutboundMeeting.crm_meeting_id)
        .outerjoin(OutboundMeeting, OutboxMessage.meeting_id == OutboundMeeting.id)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if state:
        try:
            query = query.where(OutboxMessage.state == OutboxState(state))
        except ValueError as exc:
            known = ", ".join(s.value for s in OutboxState)
            raise GatewayError(f"state: {state!r} is not one of {known}") from exc
    if meeting_id:
        query = query.where(OutboundMeeting.crm_meeting_id == meeting_id)
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient.strip().lower())
    if before_id is not None:
        query = query.where(OutboxMessage.id < before_id)
    with gateway.store.session() as session:
        return [OutboxEntry.of(row, crm_id) for row, crm_id in session.execute(query)]


def retry_outbox(gateway: Gateway, *, ids: Sequence[int] = (), every_dead: bool = False) -> int:
    """Queue dead (or waiting) messages again now, with a fresh count of attempts.

    Parameters:
        gateway: the assembled gateway.
        ids: the messages to retry.
        every_dead: retry every dead message instead.

    Returns:
        How many were queued again (the next outbox flush sends them).

    Raises:
        RetryError: a message named cannot be retried; nothing changed.
    """
    with gateway.store.session() as session:
        now = gateway.clock()
        if every_dead:
            return requeue(session, now=now)
        wanted = sorted(set(ids))
        count = requeue(session, now=now, row_ids=wanted)
        if count == len(wanted):
            return count
        states = dict(
            session.execute(
                select(OutboxMessage.id, OutboxMessage.state).where(OutboxMessage.id.in_(wanted))
            ).all()
        )
        problems = [
            f"{i}: {'no such message' if i not in states else states[i].value}"
            for i in wanted
            if i not in states or states[i] is not OutboxState.PENDING
        ]
        raise RetryError(
            "only dead or waiting messages can be retried; nothing changed ("
            + "; ".join(problems)
            + ")"
        )
