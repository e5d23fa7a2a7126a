"""Recording what became of a message, in the transaction of the work it led to.

:func:`record_message` writes, beside the CRM write and the ledger rows the handlers wrote:

- a quarantine row when any event was set aside (or, for a released message, the release
  row brought up to date: :mod:`~invitegw.gateway.inbound.quarantine`);
- the processed record (its source position, key, outcome, first reason and every event's
  result, which is what dedupe answers with next time);
- one event-log entry per event (``inbound-<outcome>``, a warning for a quarantine and
  for a part of the message left out, ``inbound-dropped``);

and returns the :class:`~invitegw.gateway.inbound.model.MessageResult`. A message's overall
outcome is its weightiest event's (:data:`WEIGHT`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from sqlalchemy.orm import Session

from invitegw.domain.records import LogLevel
from invitegw.gateway.inbound.context import MessageIdentity
from invitegw.gateway.inbound.model import (
    EventResult,
    InboundOutcome,
    MessageResult,
    ReceivedMessage,
    SourcePosition,
)
from invitegw.gateway.inbound.quarantine import set_aside, settle_release
from invitegw.gateway.storage import QuarantinedMessage, append_processed, log_events

__all__ = ["WEIGHT", "overall_outcome", "record_message"]

logger = logging.getLogger(__name__)

# Outcomes by weight: a message's overall outcome is its weightiest event's.
WEIGHT = (
    InboundOutcome.QUARANTINED,
    InboundOutcome.CREATED,
    InboundOutcome.UPDATED,
    InboundOutcome.CANCELLED,
    InboundOutcome.REPLY_RECORDED,
    InboundOutcome.COUNTER_LOGGED,
    InboundOutcome.REFRESH_SENT,
    InboundOutcome.DUPLICATE,
    InboundOutcome.IGNORED,
    InboundOutcome.DROPPED,
)
# Outcomes the event log records as warnings: something a person should look at.
_WARNINGS = frozenset({InboundOutcome.QUARANTINED, InboundOutcome.DROPPED})


def overall_outcome(events: tuple[EventResult, ...]) -> InboundOutcome:
    """The weightiest outcome of ``events`` (``ignored`` for none)."""
    outcomes = {e.outcome for e in events}
    return next((o for o in WEIGHT if o in outcomes), InboundOutcome.IGNORED)


def record_message(
    session: Session,
    message: ReceivedMessage,
    events: tuple[EventResult, ...],
    identity: MessageIdentity,
    *,
    now: dt.datetime,
    quarantine_bytes: int,
    release_row: QuarantinedMessage | None = None,
) -> MessageResult:
    """Record what became of ``message`` (see the module docstring).

    Parameters:
        session: the unit of work's session (committed by the caller).
        message: the message as received.
        events: what became of each of its events.
        identity: what names it.
        now: the current time.
        quarantine_bytes: ``limits.quarantine_bytes``.
        release_row: the quarantine row it was released from, if it was.

    Returns:
        The result.

    Raises:
        StorageError: the database failed.
    """
    reasons = [e.reason for e in events if e.outcome is InboundOutcome.QUARANTINED]
    reason = "; ".join(dict.fromkeys(r for r in reasons if r)) or None
    quarantine_id = _quarantine(
        session,
        message,
        identity,
        quarantined=bool(reasons),
        reason=reason,
        now=now,
        quarantine_bytes=quarantine_bytes,
        release_row=release_row,
    )
    outcome = overall_outcome(events)
    first_reason = reason or next((e.reason for e in events if e.reason), None)
    details = {
        "digest": identity.digest,
        "events": [_stored(e) for e in events],
        "quarantine_id": quarantine_id,
        "released_from": release_row.id if release_row is not None else None,
    }
    # A released message is processed anew: its record takes no source position.
    position = message.position if release_row is None else None
    _append(session, message, identity, outcome, first_reason, details, position, now)
    log_events(session, [_log_entry(now, event, identity.message_id) for event in events])
    # DEBUG: serve's sources log each message at INFO as an event (metrics.ObservedPipeline)
    logger.debug(
        "inbound message %s from %s: %s%s",
        identity.message_id or "(no Message-ID)",
        message.reference or message.source,
        outcome.value,
        f" ({first_reason})" if first_reason else "",
    )
    return MessageResult(identity.message_id, events, quarantine_id=quarantine_id)


def _append(
    session: Session,
    message: ReceivedMessage,
    identity: MessageIdentity,
    outcome: InboundOutcome,
    reason: str | None,
    details: dict[str, Any],
    position: SourcePosition | None,
    now: dt.datetime,
) -> None:
    append_processed(
        session,
        source=message.source[:64],
        outcome=outcome.value,
        now=now,
        uidvalidity=position.epoch if position is not None else None,
        uid=position.number if position is not None else None,
        message_id=identity.key,
        reason=reason,
        details=details,
    )


def _quarantine(
    session: Session,
    message: ReceivedMessage,
    identity: MessageIdentity,
    *,
    quarantined: bool,
    reason: str | None,
    now: dt.datetime,
    quarantine_bytes: int,
    release_row: QuarantinedMessage | None,
) -> int | None:
    """The quarantine row of a message set aside (a released one's row brought up to date)."""
    if release_row is not None:
        return settle_release(release_row, quarantined=quarantined, reason=reason, now=now)
    if not quarantined:
        return None
    return set_aside(
        session,
        message,
        reason=reason or "set aside",
        now=now,
        max_bytes=quarantine_bytes,
        message_id=identity.message_id,
    )


def _stored(event: EventResult) -> dict[str, Any]:
    # Every field is a plain value: a shallow copy is asdict()'s result, without its
    # recursive deep copy (measurable on the pipeline's hot path).
    data = {f.name: getattr(event, f.name) for f in _EVENT_FIELDS}
    data["outcome"] = event.outcome.value
    return data


_EVENT_FIELDS = dataclasses.fields(EventResult)


def _log_entry(now: dt.datetime, event: EventResult, message_id: str | None) -> dict[str, Any]:
    subject = " ".join(
        part
        for part in (event.method, event.uid, event.recurrence_id and f"({event.recurrence_id})")
        if part
    )
    text = f"{subject or 'message'}: {event.outcome.value}"
    if event.reason:
        text += f": {event.reason}"
    return {
        "now": now,
        "level": LogLevel.WARNING if event.outcome in _WARNINGS else LogLevel.INFO,
        "kind": f"inbound-{event.outcome.value}",
        "text": text,
        "meeting_id": event.meeting_id,
        "task_id": event.task_id,
        "message_id": message_id,
        "details": {"uid": event.uid, "recurrence_id": event.recurrence_id, "method": event.method},
    }
