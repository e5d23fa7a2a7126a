"""Applying a task decision: the CRM task, the inbound ledger, the messages that carried it.

:func:`apply_decision` carries out what :func:`~invitegw.itip.decide.decide_event` decided
for one REQUEST, PUBLISH or CANCEL event (:class:`TaskEvent`: the event with what the ledger
and the CRM held for it), in the event's unit of work: the CRM write and the ledger rows
commit together (the built-in CRM writes in the same session; a dry run's CRM keeps its
writes in memory and the session is rolled back).

- **create**: a new task, owned and linked as :mod:`~invitegw.gateway.inbound.parties`
  says; the ledger row is written (or, under ``inbound.duplicate_policy = create``, a
  further task for a newer version gets its own idempotency key).
- **update** / **reactivate**: the task takes the newer content (a cancelled one is
  opened again first); a line in the task's CRM log.
- **create**, **update**, **reactivate**: each time-zone decision the event's times rest
  on (:class:`~invitegw.ics.model.ZoneNote`: a VTIMEZONE that disagrees with its zone's
  name, a guessed zone, a floating time) is a line on the task's log, a warning when the
  time shown may not be the one the sender's client showed.
- **touch** / **duplicate**: only the ledger's version moves (or nothing).
- **cancel**: the task's status becomes cancelled, and for a series its occurrences' too.
- **record-cancel**: a cancel for a meeting not on record is remembered (an occurrence's
  is noted on its series task).
- **note-removed**: a CANCEL that uninvites other attendees only: a line on the task's log
  (or its series task's) names them; the task and the ledger's version stay.
- Every message that carried an invitation on record is recorded as one of its sources.
- **Remote CRMs.** Before creating, the task is looked up by its idempotency key
  (:func:`~invitegw.itip.keys.task_key`) only when no owner can be given: otherwise
  ``create_task`` returns the task already made with this key (a crash between a remote
  CRM's write and our commit), so the retry adopts it instead of creating another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from invitegw.domain.records import (
    LogEntry,
    LogLevel,
    LogTarget,
    NewTask,
    Task,
    TaskStatus,
    TaskUpdate,
)
from invitegw.errors import CrmNotFoundError
from invitegw.gateway.inbound.context import InboundMessage
from invitegw.gateway.inbound.event_end import event_ends_at, note_event_end
from invitegw.gateway.inbound.model import EventResult, InboundOutcome
from invitegw.gateway.inbound.parties import MessageParties
from invitegw.gateway.inbound.records import (
    add_source,
    event_record,
    occurrence_events,
    set_version,
)
from invitegw.gateway.storage.models import InboundEvent
from invitegw.gateway.uow import UnitOfWork
from invitegw.ics.model import CalendarObject, Event, ZoneNoteKind
from invitegw.itip.keys import EventKey, fingerprint, recurrence_text, task_key
from invitegw.itip.task_content import TaskContent
from invitegw.itip.task_facts import Action, Decision, LedgerState, Version

__all__ = ["TaskEvent", "apply_decision", "event_result"]

logger = logging.getLogger(__name__)


def event_result(
    outcome: InboundOutcome,
    calendar: CalendarObject,
    event: Event,
    *,
    task_id: str | None = None,
    reason: str | None = None,
    recurrence_id: str | None = None,
) -> EventResult:
    """The result of one event of a calendar object.

    Parameters:
        outcome: what became of it.
        calendar: its calendar object (the METHOD).
        event: the event.
        task_id: the CRM task it made or changed.
        reason: why.
        recurrence_id: the occurrence (iCalendar text) when not the event's own.

    Returns:
        The result.
    """
    rid = recurrence_id if recurrence_id is not None else recurrence_text(event.recurrence_id)
    return EventResult(
        outcome=outcome,
        uid=event.uid or None,
        recurrence_id=rid or None,
        method=calendar.method.value,
        task_id=task_id,
        reason=reason,
    )


@dataclass
class TaskEvent:
    """One REQUEST/PUBLISH/CANCEL event with what the ledger and the CRM held for it.

    Parameters:
        unit: the unit of work it is applied in.
        message: the message it came in.
        parties: the CRM records behind the message's addresses.
        calendar: its calendar object.
        event: the event.
        key: its ledger key.
        version: its SEQUENCE and DTSTAMP.
        row: its ledger row, if any.
        task: the CRM task on record, if any.
        content: the task fields it gives.
        forwarder: who forwarded it (the From of a forward), if anyone.
    """

    unit: UnitOfWork
    message: InboundMessage
    parties: MessageParties
    calendar: CalendarObject
    event: Event
    key: EventKey
    version: Version
    row: InboundEvent | None
    task: Task | None
    content: TaskContent
    forwarder: str | None

    def result(
        self, outcome: InboundOutcome, *, task_id: str | None = None, reason: str | None = None
    ) -> EventResult:
        """This event's result."""
        return event_result(outcome, self.calendar, self.event, task_id=task_id, reason=reason)


def apply_decision(
    item: TaskEvent, decision: Decision, series_task: Task | None
) -> list[EventResult]:
    """Carry out ``decision`` for ``item`` in its unit of work (see the module docstring).

    Parameters:
        item: the event and what was on record for it.
        decision: what the rules decided.
        series_task: for an occurrence, its series' task, if any.

    Returns:
        One result, or more when a series' cancel cancels its occurrences' tasks too.

    Raises:
        CrmError: the CRM failed or refused.
    """
    return _APPLY[decision.action](item, decision, series_task)


def _source(item: TaskEvent, row: InboundEvent | int) -> None:
    """Note that this message carried the invitation of ``row`` (a new row: its id)."""
    new = isinstance(row, int)  # a new row got its end with the INSERT, and has no sources
    if isinstance(row, int):
        event_id = row
    else:
        note_event_end(row, item.event, new=False)  # `invitegw prune` keeps what is not over
        event_id = row.id
    unit = item.unit
    add_source(
        unit.session,
        event_id,
        message_id=item.message.identity.key,
        source=item.message.received.source[:64],
        forwarder=item.forwarder,
        now=unit.now,
        new=new,
    )


def _crm_log(item: TaskEvent, task_id: str | None, level: LogLevel, message: str) -> None:
    if task_id is None:
        return
    item.unit.crm.log(
        LogEntry(
            target=LogTarget.TASK,
            target_id=task_id,
            level=level,
            message=message,
            created_at=item.unit.now,
            details={
                "uid": item.event.uid,
                "recurrence_id": item.key.recurrence_id,
                "message_id": item.message.identity.key,
            },
        )
    )


# Zone decisions a person should look at: the time shown may not be the sender's.
_ZONE_WARNINGS = frozenset(
    {ZoneNoteKind.IANA_OVER_VTIMEZONE, ZoneNoteKind.VTIMEZONE_OVER_GUESS, ZoneNoteKind.FLOATING}
)


def _log_zone_notes(item: TaskEvent, task_id: str) -> None:
    """Each time-zone decision the event's times rest on, as a line on the task's log.

    A VTIMEZONE that disagrees with the IANA zone of its name (the IANA zone is used), a
    VTIMEZONE preferred to a guessed name, a zone guessed without a VTIMEZONE, a floating
    time (:class:`~invitegw.ics.model.ZoneNote`).
    """
    for note in item.event.zone_notes:
        level = LogLevel.WARNING if note.kind in _ZONE_WARNINGS else LogLevel.INFO
        _crm_log(item, task_id, level, f"Time zone: {note.text}")


def _apply_create(
    item: TaskEvent, decision: Decision, series_task: Task | None
) -> list[EventResult]:
    unit, event, content = item.unit, item.event, item.content
    row = item.row
    generation = None
    if row is not None and row.state.value == LedgerState.ACTIVE.value:
        # inbound.duplicate_policy = create: a further task for this newer version.
        stamp = item.version.dtstamp.isoformat() if item.version.dtstamp else "-"
        generation = f"s{item.version.sequence}-{stamp}"
    idempotency_key = task_key(item.key, generation=generation)
    # create_task returns the task already made with this key (a crash between a remote
    # CRM's write and our commit), so no look-up first, unless there is no owner to give.
    owner = item.parties.owner(series_task)
    task = unit.crm.find_task(idempotency_key) if owner is None else None
    if task is None:
        if owner is None:  # decide_event saw one; the CRM changed in between
            return [item.result(InboundOutcome.QUARANTINED, reason="no owner for the task")]
        task = unit.crm.create_task(
            NewTask(
                idempotency_key=idempotency_key,
                title=content.title,
                start=content.start,
                end=content.end,
                owner=owner,
                description=content.description,
                location=content.location,
                organizer_email=item.key.organizer or None,
                party=item.parties.party(
                    item.key.organizer, item.message.original_sender, item.message.author
                ),
                source_uid=event.uid or None,
                recurrence_id=item.key.recurrence_id or None,
                sequence=event.sequence,
            )
        )
    else:
        logger.info("inbound: task %s already in the CRM (key %s)", task.id, idempotency_key)
    if row is None:
        _source(
            item,
            event_record(
                unit.session,
                item.key,
                fingerprint=fingerprint(item.key.organizer, event),
                version=item.version,
                state=LedgerState.ACTIVE,
                task_id=task.id,
                now=unit.now,
                ends_at=event_ends_at(event),
            ),
        )
    else:
        row.task_id = task.id
        set_version(row, item.version, unit.now, state=LedgerState.ACTIVE)
        _source(item, row)
    _log_zone_notes(item, task.id)
    return [item.result(InboundOutcome.CREATED, task_id=task.id, reason=decision.reason)]


def _update_fields(item: TaskEvent) -> TaskUpdate:
    content = item.content
    return TaskUpdate(
        title=content.title,
        description=content.description,
        location=content.location,
        start=content.start,
        end=content.end,
        sequence=item.event.sequence,
    )


def _apply_update(item: TaskEvent, decision: Decision, _series: Task | None) -> list[EventResult]:
    unit, row = item.unit, item.row
    assert row is not None
    assert row.task_id is not None
    if decision.action is Action.REACTIVATE:
        unit.crm.set_task_status(row.task_id, TaskStatus.OPEN)
    unit.crm.update_task(row.task_id, _update_fields(item))
    _crm_log(item, row.task_id, LogLevel.INFO, f"Invitation {decision.reason}")
    _log_zone_notes(item, row.task_id)
    set_version(row, item.version, unit.now, state=LedgerState.ACTIVE)
    _source(item, row)
    return [item.result(InboundOutcome.UPDATED, task_id=row.task_id, reason=decision.reason)]


def _apply_touch(item: TaskEvent, decision: Decision, _series: Task | None) -> list[EventResult]:
    row = item.row
    assert row is not None
    set_version(row, item.version, item.unit.now)
    _source(item, row)
    return [item.result(InboundOutcome.DUPLICATE, task_id=row.task_id, reason=decision.reason)]


def _apply_duplicate(
    item: TaskEvent, decision: Decision, _series: Task | None
) -> list[EventResult]:
    row = item.row
    if row is not None:
        _source(item, row)
    task_id = row.task_id if row is not None else None
    return [item.result(InboundOutcome.DUPLICATE, task_id=task_id, reason=decision.reason)]


def _cancel_task(item: TaskEvent, row: InboundEvent, who: str) -> str | None:
    """Cancel the row's task; returns a note when the task is gone from the CRM."""
    unit = item.unit
    set_version(row, item.version, unit.now, state=LedgerState.CANCELLED)
    if row.task_id is None:
        return None
    try:
        unit.crm.set_task_status(row.task_id, TaskStatus.CANCELLED)
    except CrmNotFoundError:
        return f"task {row.task_id} is no longer in the CRM"
    occurrence = f" (occurrence {row.recurrence_id})" if row.recurrence_id else ""
    _crm_log(item, row.task_id, LogLevel.INFO, f"Meeting{occurrence} cancelled by {who}")
    return None


def _apply_cancel(item: TaskEvent, decision: Decision, _series: Task | None) -> list[EventResult]:
    row = item.row
    assert row is not None
    who = item.key.organizer or "the organizer"
    if item.forwarder:
        who = f"{who} (forwarded by {item.forwarder})"
    note = _cancel_task(item, row, who)
    _source(item, row)
    results = [item.result(InboundOutcome.CANCELLED, task_id=row.task_id, reason=note)]
    if decision.cascade:
        for occurrence in occurrence_events(item.unit.session, item.key):
            if occurrence.state.value != LedgerState.ACTIVE.value:
                continue
            note = _cancel_task(item, occurrence, who)
            results.append(
                event_result(
                    InboundOutcome.CANCELLED,
                    item.calendar,
                    item.event,
                    task_id=occurrence.task_id,
                    reason=note or "the whole series was cancelled",
                    recurrence_id=occurrence.recurrence_id,
                )
            )
    return results


def _apply_record_cancel(
    item: TaskEvent, decision: Decision, series_task: Task | None
) -> list[EventResult]:
    unit, row = item.unit, item.row
    if row is None:
        _source(
            item,
            event_record(
                unit.session,
                item.key,
                fingerprint=fingerprint(item.key.organizer, item.event),
                version=item.version,
                state=LedgerState.CANCEL_SEEN,
                task_id=None,
                now=unit.now,
                ends_at=event_ends_at(item.event),
            ),
        )
    else:
        set_version(row, item.version, unit.now)
        _source(item, row)
    if decision.note_series and series_task is not None:
        _crm_log(
            item,
            series_task.id,
            LogLevel.INFO,
            f"Occurrence {item.key.recurrence_id} cancelled by {item.key.organizer}",
        )
    task_id = series_task.id if decision.note_series and series_task is not None else None
    return [item.result(InboundOutcome.IGNORED, task_id=task_id, reason=decision.reason)]


def _apply_note_removed(
    item: TaskEvent, decision: Decision, series_task: Task | None
) -> list[EventResult]:
    """A CANCEL uninviting others: a line on the task's log; the ledger does not move.

    The ledger's version stays where it was, so the REQUEST the organizer sends the
    remaining attendees (often with the same SEQUENCE) is still applied.
    """
    row = item.row
    if decision.note_series:
        task_id = series_task.id if series_task is not None else None
    else:
        task_id = row.task_id if row is not None else None
    if row is not None:
        _source(item, row)
    who = item.key.organizer or "the organizer"
    if item.forwarder:
        who = f"{who} (forwarded by {item.forwarder})"
    occurrence = f" (occurrence {item.key.recurrence_id})" if item.key.recurrence_id else ""
    _crm_log(item, task_id, LogLevel.INFO, f"CANCEL{occurrence} from {who}: {decision.reason}")
    return [item.result(InboundOutcome.IGNORED, task_id=task_id, reason=decision.reason)]


def _apply_ignore(item: TaskEvent, decision: Decision, _series: Task | None) -> list[EventResult]:
    return [item.result(InboundOutcome.IGNORED, reason=decision.reason)]


def _apply_quarantine(
    item: TaskEvent, decision: Decision, _series: Task | None
) -> list[EventResult]:
    return [item.result(InboundOutcome.QUARANTINED, reason=decision.reason)]


_Apply = Callable[[TaskEvent, Decision, Task | None], list[EventResult]]
_APPLY: dict[Action, _Apply] = {
    Action.CREATE: _apply_create,
    Action.UPDATE: _apply_update,
    Action.REACTIVATE: _apply_update,
    Action.TOUCH: _apply_touch,
    Action.DUPLICATE: _apply_duplicate,
    Action.CANCEL: _apply_cancel,
    Action.RECORD_CANCEL: _apply_record_cancel,
    Action.NOTE_REMOVED: _apply_note_removed,
    Action.IGNORE: _apply_ignore,
    Action.QUARANTINE: _apply_quarantine,
}
