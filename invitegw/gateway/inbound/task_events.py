"""REQUEST, PUBLISH and CANCEL: gather the facts of one received event and decide.

:func:`handle_task_event` takes one VEVENT of a REQUEST, PUBLISH or CANCEL: it reads what
the ledger holds for its key, the task on record, who sent the message and what the CRM
knows of them (:class:`~invitegw.gateway.inbound.parties.MessageParties`), decides with the
pure rules of :mod:`~invitegw.itip.decide`, and hands the decision to
:mod:`~invitegw.gateway.inbound.task_writes`, which applies it in the unit of work.

Choices (documented for operators):

- **Organizer.** The event's ORGANIZER; without one (a PUBLISH from a calendar feed), the
  original sender of a forward, else the From.
- **Floating times** (no zone) are read in the first calendar's ``time_zone``.
- **Owner and party** of a new task: see :mod:`~invitegw.gateway.inbound.parties`.
"""

from __future__ import annotations

import logging

from invitegw.domain.records import Task
from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.inbound.context import InboundMessage
from invitegw.gateway.inbound.model import EventResult
from invitegw.gateway.inbound.parties import MessageParties
from invitegw.gateway.inbound.records import (
    find_event,
    find_event_and_our_uid,
    on_record,
    other_organizer,
)
from invitegw.gateway.inbound.task_writes import TaskEvent, apply_decision
from invitegw.gateway.uow import UnitOfWork
from invitegw.ics.model import CalendarObject, Event, EventStatus, Method
from invitegw.itip.decide import decide_event, forwarder_refusal
from invitegw.itip.keys import EventKey, event_key, is_calendar_service, key_address
from invitegw.itip.policy import DuplicatePolicy
from invitegw.itip.task_content import content_changes, task_content
from invitegw.itip.task_facts import EventFacts, LedgerState, Provenance, Version

__all__ = ["handle_task_event"]

logger = logging.getLogger(__name__)


def _organizer(message: InboundMessage, event: Event) -> tuple[str, str | None]:
    """The organizer's address (ledger form) and its SENT-BY, if any."""
    organizer = event.organizer
    address = key_address(organizer.email) if organizer is not None else ""
    if not address:
        address = message.original_sender or message.author or ""
    sent_by = key_address(organizer.sent_by) if organizer and organizer.sent_by else None
    return address, sent_by or None


def handle_task_event(
    unit: UnitOfWork,
    config: InboundConfig,
    message: InboundMessage,
    parties: MessageParties,
    calendar: CalendarObject,
    event: Event,
) -> list[EventResult]:
    """Decide on one REQUEST, PUBLISH or CANCEL event and apply the decision in ``unit``.

    Parameters:
        unit: the unit of work (the CRM write, ledger and records commit together).
        config: the inbound settings.
        message: the message.
        parties: the CRM records behind the message's addresses.
        calendar: the calendar object the event is in (its METHOD).
        event: the event.

    Returns:
        One result, or more when cancelling a series cancels its occurrences' tasks too.

    Raises:
        CrmError: the CRM failed or refused (the pipeline turns a refusal into a
            quarantine of this event and re-raises ``CrmUnavailableError``).
    """
    item, facts, series_task = _gather(unit, config, message, parties, calendar, event)
    decision = decide_event(facts, config.policies)
    logger.debug(
        "inbound %s %s/%s (%s): %s %s",
        calendar.method.value,
        item.key.uid,
        item.key.recurrence_id or "-",
        item.version,
        decision.action.value,
        decision.reason or "",
    )
    return apply_decision(item, decision, series_task)


def _provenance(
    config: InboundConfig,
    message: InboundMessage,
    parties: MessageParties,
    organizer: str,
    sent_by: str | None,
) -> Provenance:
    author = message.author
    services = config.inbound.calendar_services
    from_organizer = author is not None and (
        author in {organizer, sent_by} or is_calendar_service(author, services)
    )
    return Provenance(
        author=parties.standing(author),
        organizer=parties.standing(organizer),
        from_organizer=from_organizer,
        forwarded=not from_organizer and message.extraction.is_forward,
        authenticated=message.authenticated,
    )


def _trusted_forward(
    unit: UnitOfWork,
    config: InboundConfig,
    message: InboundMessage,
    provenance: Provenance,
    item: TaskEvent,
) -> bool:
    """A forward of the organizer's own message by someone who may speak for the task."""
    original = message.original_sender
    organizer = item.key.organizer
    if not provenance.forwarded or not (
        original in (None, organizer)
        or is_calendar_service(original, config.inbound.calendar_services)
    ):
        return False
    if item.task is not None:
        owner = unit.crm.get_party(item.task.owner)
        return owner is not None and message.author in {key_address(e) for e in owner.emails}
    if item.row is None:
        return forwarder_refusal(provenance.author, config.policies.forwarders) is None
    return False


def _gather(
    unit: UnitOfWork,
    config: InboundConfig,
    message: InboundMessage,
    parties: MessageParties,
    calendar: CalendarObject,
    event: Event,
) -> tuple[TaskEvent, EventFacts, Task | None]:
    """The event with what the ledger and the CRM hold for it, and the facts to decide on."""
    session = unit.session
    organizer, sent_by = _organizer(message, event)
    key = event_key(organizer, event)
    cancels = calendar.method is Method.CANCEL or event.status is EventStatus.CANCELLED
    row, our_meeting = find_event_and_our_uid(session, key, event.uid)
    series_row = (
        find_event(session, EventKey(key.organizer, key.uid, "")) if key.recurrence_id else None
    )
    task = unit.crm.get_task(row.task_id) if row is not None and row.task_id else None
    series_task = (
        unit.crm.get_task(series_row.task_id)
        if series_row is not None and series_row.task_id
        else None
    )
    provenance = _provenance(config, message, parties, organizer, sent_by)
    content = task_content(event, config.floating_zone)
    item = TaskEvent(
        unit=unit,
        message=message,
        parties=parties,
        calendar=calendar,
        event=event,
        key=key,
        version=Version(event.sequence, event.dtstamp),
        row=row,
        task=task,
        content=content,
        forwarder=message.author if provenance.forwarded else None,
    )
    trusted_forward = _trusted_forward(unit, config, message, provenance, item)
    record = on_record(row)
    might_create = not cancels and (
        record is None
        or record.state is LedgerState.CANCEL_SEEN
        or config.policies.duplicate is DuplicatePolicy.CREATE
    )
    facts = EventFacts(
        cancels=cancels,
        version=item.version,
        provenance=provenance,
        record=record,
        recurrence_id=key.recurrence_id,
        other_organizer=other_organizer(session, key) if cancels and row is None else None,
        series=on_record(series_row),
        our_meeting=our_meeting,
        changes=content_changes(task, content) if task is not None else (),
        trusted_forward=trusted_forward,
        owner_found=not might_create or parties.owner(series_task) is not None,
    )
    return item, facts, series_task
