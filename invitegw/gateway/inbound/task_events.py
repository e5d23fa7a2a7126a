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

from invitegw.domain.records import PartyRef, Task
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
from invitegw.itip.decide_cancel import removed_others
from invitegw.itip.keys import EventKey, event_key, is_calendar_service, key_address
from invitegw.itip.policy import DuplicatePolicy
from invitegw.itip.task_content import content_changes, task_content
from invitegw.itip.task_facts import EventFacts, LedgerState, OnRecord, Provenance, Version

__all__ = ["handle_task_event"]

logger = logging.getLogger(__name__)


def _organizer(
    message: InboundMessage, calendar: CalendarObject, event: Event
) -> tuple[str, str | None]:
    """The organizer's address (ledger form) and its SENT-BY, if any.

    An event without ORGANIZER beside another of the same UID with one (an occurrence
    Google or Outlook writes without it next to its series) takes that organizer: one
    meeting, one ledger key.
    """
    organizer = event.organizer
    if organizer is None:  # the series' organizer first, else any other copy's
        same = [e for e in calendar.events if e.uid == event.uid and e.organizer is not None]
        series = next((e for e in same if e.recurrence_id is None), None)
        found = series or next(iter(same), None)
        organizer = found.organizer if found is not None else None
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


def _in_publication(calendar: CalendarObject, event: Event) -> bool:
    """A cancelled occurrence inside a PUBLISH that carries its series too (same UID)."""
    return (
        calendar.method is Method.PUBLISH
        and event.recurrence_id is not None
        and event.status is EventStatus.CANCELLED
        and any(e.uid == event.uid and e.recurrence_id is None for e in calendar.events)
    )


def _owner_addresses(unit: UnitOfWork, owner: PartyRef | None) -> set[str]:
    party = unit.crm.get_party(owner) if owner is not None else None
    return {key_address(e) for e in party.emails} if party is not None else set()


def _removed(config: InboundConfig, item: TaskEvent, series_task: Task | None) -> tuple[str, ...]:
    """The attendees a CANCEL removes when it does not uninvite us (else ``()``)."""
    event, unit = item.event, item.unit
    if item.calendar.method is not Method.CANCEL or not event.attendees:
        return ()
    if event.status is EventStatus.CANCELLED:
        return ()
    ours = item.parties.mailbox_addresses()
    ours.update(key_address(c.address) for c in config.calendars)
    if item.forwarder:
        ours.add(item.forwarder)
    owner = next((t.owner for t in (item.task, series_task) if t is not None), None)
    ours.update(_owner_addresses(unit, owner or item.parties.owner(None)))
    return removed_others(
        is_cancel=True,
        status_cancelled=False,
        attendees=[key_address(a.email) for a in event.attendees],
        ours=ours,
        organizer=item.key.organizer,
    )


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
    organizer, sent_by = _organizer(message, calendar, event)
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
        content=task_content(event, config.floating_zone),
        forwarder=message.author if provenance.forwarded else None,
    )
    series = (on_record(series_row), series_task)
    facts = _facts(
        config, item, provenance, cancels=cancels, our_meeting=our_meeting, series=series
    )
    return item, facts, series_task


def _facts(
    config: InboundConfig,
    item: TaskEvent,
    provenance: Provenance,
    *,
    cancels: bool,
    our_meeting: bool,
    series: tuple[OnRecord | None, Task | None],
) -> EventFacts:
    """The facts the rules decide on, from what :func:`_gather` read."""
    unit, message, row, key, task = item.unit, item.message, item.row, item.key, item.task
    series_record, series_task = series
    trusted_forward = _trusted_forward(unit, config, message, provenance, item)
    record = on_record(row)
    might_create = not cancels and (
        record is None
        or record.state is LedgerState.CANCEL_SEEN
        or config.policies.duplicate is DuplicatePolicy.CREATE
    )
    return EventFacts(
        cancels=cancels,
        version=item.version,
        provenance=provenance,
        record=record,
        recurrence_id=key.recurrence_id,
        other_organizer=other_organizer(unit.session, key) if cancels and row is None else None,
        series=series_record,
        our_meeting=our_meeting,
        changes=content_changes(task, item.content) if task is not None else (),
        trusted_forward=trusted_forward,
        owner_found=not might_create or item.parties.owner(series_task) is not None,
        removed=_removed(config, item, series_task) if cancels else (),
        in_publication=cancels and _in_publication(item.calendar, item.event),
    )
