"""One calendar event of a received message: gather the facts, decide, apply.

:class:`MessageContext` holds what every event of one message shares (the session, the
CRM, the extraction, who sent it, cached CRM look-ups). :func:`handle_event` takes one
VEVENT of one calendar object: REQUEST, PUBLISH and CANCEL go through the pure rules of
:mod:`~invitegw.itip.decide` and are applied here (CRM task, ledger row, the
message recorded as a source); REPLY, COUNTER and REFRESH go to the replies module; other
methods are quarantined.

Choices (documented for operators):

- **Organizer.** The event's ORGANIZER; without one (a PUBLISH from a calendar feed), the
  original sender of a forward, else the From.
- **Owner of a new task.** The author (From) when a CRM user (a staff member forwarding it,
  or a staff organizer inviting the gateway); else the owner of the mailbox it arrived in
  (a staff address, or a calendar name whose address is a CRM user); else the first
  envelope recipient that is a CRM user (SMTP, plus tokens removed); else, for an
  occurrence, the owner of its series task. None of these: quarantined ("no owner").
- **Party.** The first contact, account or lead (in that order) with the organizer's
  address, else with the original sender's, else with the From's.
- **Floating times** (no zone) are read in the first calendar's ``time_zone``.
- **Remote CRMs.** Before creating, the task is looked up by its idempotency key
  (:func:`~invitegw.itip.keys.task_key`): a crash between a remote CRM's write
  and our commit leaves a task that the retry finds and adopts instead of creating another.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import CrmPort, FindsPartiesInBatch
from invitegw.domain.addresses import split_plus_token
from invitegw.domain.records import (
    EntityType,
    LogEntry,
    LogLevel,
    LogTarget,
    NewTask,
    Party,
    PartyRef,
    Task,
    TaskStatus,
    TaskUpdate,
)
from invitegw.errors import AddressError, CrmNotFoundError
from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.inbound.event_end import event_ends_at, note_event_end
from invitegw.gateway.inbound.model import EventResult, InboundOutcome, ReceivedMessage
from invitegw.gateway.inbound.records import (
    add_source,
    event_record,
    find_event,
    find_event_and_our_uid,
    occurrence_events,
    on_record,
    other_organizer,
    set_version,
)
from invitegw.gateway.inbound.replies import handle_attendee_message
from invitegw.gateway.storage.models import InboundEvent
from invitegw.ics.model import CalendarObject, Event, EventStatus, Method
from invitegw.itip.decide import (
    Action,
    Decision,
    EventFacts,
    LedgerState,
    Person,
    Policies,
    Provenance,
    TaskContent,
    Version,
    content_changes,
    decide_event,
    forwarder_refusal,
    task_content,
)
from invitegw.itip.keys import (
    EventKey,
    event_key,
    fingerprint,
    is_calendar_service,
    key_address,
    recurrence_text,
    task_key,
)
from invitegw.itip.policy import DuplicatePolicy
from invitegw.mailbox.mime.extract import Extraction

__all__ = ["MessageContext", "handle_event"]

logger = logging.getLogger(__name__)

_TASK_METHODS = frozenset({Method.REQUEST, Method.PUBLISH, Method.CANCEL})
_ATTENDEE_METHODS = frozenset({Method.REPLY, Method.COUNTER, Method.REFRESH})
# Methods that speak for an attendee or the organizer: their author must be confirmed
# when inbound.require_authentication_results is set.
_AUTHENTICATED_METHODS = frozenset({Method.REPLY, Method.COUNTER})


@dataclass
class MessageContext:
    """What the events of one message share.

    Parameters:
        gateway: the gateway.
        session: the unit of work (the CRM write, ledger and records commit together).
        crm: the CRM for this unit of work (a :class:`DryRunCrm` in a dry run).
        received: the message as received.
        extraction: what the message holds.
        now: the current time.
        message_key: the Message-ID, or a stand-in for a message without one.
        policies: the ``[inbound]`` policies.
        authenticated: the From is confirmed by a trusted Authentication-Results header
            (True when the settings do not ask for one).
        floating_zone: the zone floating times are read in.
        dry_run: decide only.
    """

    gateway: Gateway
    session: Session
    crm: CrmPort
    received: ReceivedMessage
    extraction: Extraction
    now: dt.datetime
    message_key: str
    policies: Policies
    authenticated: bool
    floating_zone: ZoneInfo | dt.tzinfo
    dry_run: bool = False
    _parties: dict[str, list[Party]] = field(default_factory=dict)

    @property
    def author(self) -> str | None:
        """The From address (canonical), if the message has a usable one."""
        sender = self.extraction.headers.from_
        return key_address(sender.address) or None if sender is not None else None

    def calendar_service(self, address: str | None) -> bool:
        """Whether ``address`` is a calendar service's (``inbound.calendar_services``)."""
        return is_calendar_service(address, self.gateway.settings.inbound.calendar_services)

    @property
    def original_sender(self) -> str | None:
        """The forwarded message's From, when the message forwards one."""
        sender = self.extraction.original_sender
        return key_address(sender.address) or None if sender is not None else None

    def parties(self, address: str | None) -> list[Party]:
        """The CRM records with ``address`` (looked up once per message).

        When the CRM has the :class:`~invitegw.crm_adapter.port.FindsPartiesInBatch`
        capability (the built-in CRM: one query), the first look-up also fetches every
        address the message's events are likely to ask about: the From, the forwarded
        message's From, the mailbox owner and the envelope recipients.
        """
        if not address:
            return []
        found = self._parties.get(address)
        if found is not None:
            return found
        if isinstance(self.crm, FindsPartiesInBatch):
            wanted = [address, *(a for a in self._likely_addresses() if a not in self._parties)]
            self._parties.update(self.crm.find_parties_many(list(dict.fromkeys(wanted))))
        else:
            self._parties[address] = self.crm.find_parties(address)
        return self._parties[address]

    def _likely_addresses(self) -> list[str]:
        """The addresses :meth:`owner`, :meth:`person` and :meth:`party` usually need."""
        likely = [self.author, self.original_sender]
        owner = self.received.owner
        if owner:
            likely.append(key_address(owner if "@" in owner else self._calendar_address(owner)))
        for recipient in self.received.envelope_to:
            try:
                likely.append(split_plus_token(recipient)[0])
            except AddressError:
                continue
        return [a for a in likely if a]

    def user(self, address: str | None) -> PartyRef | None:
        """The CRM user with ``address``, if any."""
        return next((p.ref for p in self.parties(address) if p.type is EntityType.USER), None)

    def person(self, address: str | None) -> Person:
        """``address`` with what the CRM and the settings say of it."""
        if not address:
            return Person()
        parties = self.parties(address)
        domain = address.rsplit("@", 1)[-1]
        internal = any(
            domain == d or domain.endswith("." + d)
            for d in (x.strip().lower().lstrip("@") for x in self._internal_domains)
            if d
        )
        return Person(
            address=address,
            is_user=any(p.type is EntityType.USER for p in parties),
            internal=internal,
            known_party=any(p.type is not EntityType.USER for p in parties),
        )

    @property
    def _internal_domains(self) -> tuple[str, ...]:
        return self.gateway.settings.inbound.internal_domains

    def owner(self, series_task: Task | None) -> PartyRef | None:
        """Who owns a new task (see the module docstring)."""
        found = self.user(self.author)
        if found is not None:
            return found
        owner = self.received.owner
        if owner:
            address = owner if "@" in owner else self._calendar_address(owner)
            found = self.user(key_address(address) if address else None)
            if found is not None:
                return found
        for recipient in self.received.envelope_to:
            try:
                base, _token = split_plus_token(recipient)
            except AddressError:
                continue
            found = self.user(base)
            if found is not None:
                return found
        return series_task.owner if series_task is not None else None

    def _calendar_address(self, name: str) -> str | None:
        for calendar in self.gateway.settings.calendars:
            if calendar.name == name:
                return calendar.address
        return None

    def party(self, *addresses: str | None) -> PartyRef | None:
        """The first contact, account or lead with the first of ``addresses`` that has one."""
        for address in addresses:
            for party in self.parties(address):
                if party.type is not EntityType.USER:
                    return party.ref
        return None


def _result(
    outcome: InboundOutcome,
    calendar: CalendarObject,
    event: Event,
    *,
    task_id: str | None = None,
    reason: str | None = None,
    recurrence_id: str | None = None,
) -> EventResult:
    rid = recurrence_id if recurrence_id is not None else recurrence_text(event.recurrence_id)
    return EventResult(
        outcome=outcome,
        uid=event.uid or None,
        recurrence_id=rid or None,
        method=calendar.method.value,
        task_id=task_id,
        reason=reason,
    )


def handle_event(ctx: MessageContext, calendar: CalendarObject, event: Event) -> list[EventResult]:
    """Decide on one VEVENT and apply the decision within the context's transaction.

    Parameters:
        ctx: the message's context.
        calendar: the calendar object the event is in (its METHOD).
        event: the event.

    Returns:
        One result, or more when cancelling a series cancels its occurrences' tasks too.

    Raises:
        CrmError: the CRM failed or refused (the pipeline turns a refusal into a
            quarantine of this event and re-raises ``CrmUnavailableError``).
    """
    method = calendar.method
    if method in _ATTENDEE_METHODS:
        return [_attendee_message(ctx, calendar, event)]
    if method not in _TASK_METHODS:
        return [
            _result(
                InboundOutcome.QUARANTINED,
                calendar,
                event,
                reason=f"unsupported method {method.value}: only REQUEST, PUBLISH and CANCEL "
                "make or change tasks",
            )
        ]
    return _task_event(ctx, calendar, event)


def _attendee_message(ctx: MessageContext, calendar: CalendarObject, event: Event) -> EventResult:
    method = calendar.method
    if method in _AUTHENTICATED_METHODS and not ctx.authenticated:
        return _result(
            InboundOutcome.QUARANTINED,
            calendar,
            event,
            reason=f"{method.value} from {ctx.author or 'an unknown sender'} is not confirmed "
            "by a trusted Authentication-Results header (inbound.require_authentication_results)",
        )
    return handle_attendee_message(
        ctx.gateway,
        ctx.session,
        ctx.crm,
        received=ctx.received,
        extraction=ctx.extraction,
        calendar=calendar,
        event=event,
        now=ctx.now,
        dry_run=ctx.dry_run,
    )


@dataclass
class _Event:
    """One REQUEST/PUBLISH/CANCEL event with its gathered facts."""

    ctx: MessageContext
    calendar: CalendarObject
    event: Event
    key: EventKey
    version: Version
    row: InboundEvent | None
    task: Task | None
    content: TaskContent
    series_row: InboundEvent | None
    forwarder: str | None

    def result(
        self, outcome: InboundOutcome, *, task_id: str | None = None, reason: str | None = None
    ) -> EventResult:
        return _result(outcome, self.calendar, self.event, task_id=task_id, reason=reason)


def _organizer(ctx: MessageContext, event: Event) -> tuple[str, str | None]:
    """The organizer's address (ledger form) and its SENT-BY, if any."""
    organizer = event.organizer
    address = key_address(organizer.email) if organizer is not None else ""
    if not address:
        address = ctx.original_sender or ctx.author or ""
    sent_by = key_address(organizer.sent_by) if organizer and organizer.sent_by else None
    return address, sent_by or None


def _task_event(ctx: MessageContext, calendar: CalendarObject, event: Event) -> list[EventResult]:
    session = ctx.session
    organizer, sent_by = _organizer(ctx, event)
    key = event_key(organizer, event)
    version = Version(event.sequence, event.dtstamp)
    cancels = calendar.method is Method.CANCEL or event.status is EventStatus.CANCELLED
    row, our_meeting = find_event_and_our_uid(session, key, event.uid)
    record = on_record(row)
    series_row = (
        find_event(session, EventKey(key.organizer, key.uid, "")) if key.recurrence_id else None
    )
    task = ctx.crm.get_task(row.task_id) if row is not None and row.task_id else None
    series_task = (
        ctx.crm.get_task(series_row.task_id)
        if series_row is not None and series_row.task_id
        else None
    )
    author = ctx.author
    from_organizer = author is not None and (
        author in {organizer, sent_by} or ctx.calendar_service(author)
    )
    forwarded = not from_organizer and ctx.extraction.is_forward
    provenance = Provenance(
        author=ctx.person(author),
        organizer=ctx.person(organizer),
        from_organizer=from_organizer,
        forwarded=forwarded,
        authenticated=ctx.authenticated,
    )
    content = task_content(event, ctx.floating_zone)
    trusted_forward = False
    if forwarded and (
        ctx.original_sender in (None, organizer) or ctx.calendar_service(ctx.original_sender)
    ):
        if task is not None:
            owner = ctx.crm.get_party(task.owner)
            trusted_forward = owner is not None and author in {key_address(e) for e in owner.emails}
        elif row is None:
            trusted_forward = forwarder_refusal(provenance.author, ctx.policies.forwarders) is None
    might_create = not cancels and (
        record is None
        or record.state is LedgerState.CANCEL_SEEN
        or ctx.policies.duplicate is DuplicatePolicy.CREATE
    )
    facts = EventFacts(
        cancels=cancels,
        version=version,
        provenance=provenance,
        record=record,
        recurrence_id=key.recurrence_id,
        other_organizer=other_organizer(session, key) if cancels and row is None else None,
        series=on_record(series_row),
        our_meeting=our_meeting,
        changes=content_changes(task, content) if task is not None else (),
        trusted_forward=trusted_forward,
        owner_found=not might_create or ctx.owner(series_task) is not None,
    )
    decision = decide_event(facts, ctx.policies)
    logger.debug(
        "inbound %s %s/%s (%s): %s %s",
        calendar.method.value,
        key.uid,
        key.recurrence_id or "-",
        version,
        decision.action.value,
        decision.reason or "",
    )
    item = _Event(
        ctx=ctx,
        calendar=calendar,
        event=event,
        key=key,
        version=version,
        row=row,
        task=task,
        content=content,
        series_row=series_row,
        forwarder=author if forwarded else None,
    )
    return _APPLY[decision.action](item, decision, series_task)


# -- applying ---------------------------------------------------------------------------------


def _source(item: _Event, row: InboundEvent, *, new: bool = False) -> None:
    ctx = item.ctx
    if not new:  # a new row got its end with the INSERT
        note_event_end(row, item.event, new=False)  # `invitegw prune` keeps what is not over
    add_source(
        ctx.session,
        row,
        message_id=ctx.message_key,
        source=ctx.received.source[:64],
        forwarder=item.forwarder,
        now=ctx.now,
        new=new,
    )


def _crm_log(item: _Event, task_id: str | None, level: LogLevel, message: str) -> None:
    if task_id is None:
        return
    item.ctx.crm.log(
        LogEntry(
            target=LogTarget.TASK,
            target_id=task_id,
            level=level,
            message=message,
            created_at=item.ctx.now,
            details={
                "uid": item.event.uid,
                "recurrence_id": item.key.recurrence_id,
                "message_id": item.ctx.message_key,
            },
        )
    )


def _apply_create(item: _Event, decision: Decision, series_task: Task | None) -> list[EventResult]:
    ctx, event, content = item.ctx, item.event, item.content
    row = item.row
    generation = None
    if row is not None and row.state.value == LedgerState.ACTIVE.value:
        # inbound.duplicate_policy = create: a further task for this newer version.
        stamp = item.version.dtstamp.isoformat() if item.version.dtstamp else "-"
        generation = f"s{item.version.sequence}-{stamp}"
    idempotency_key = task_key(item.key, generation=generation)
    # create_task returns the task already made with this key (a crash between a remote
    # CRM's write and our commit), so no look-up first, unless there is no owner to give.
    owner = ctx.owner(series_task)
    task = ctx.crm.find_task(idempotency_key) if owner is None else None
    if task is None:
        if owner is None:  # decide_event saw one; the CRM changed in between
            return [item.result(InboundOutcome.QUARANTINED, reason="no owner for the task")]
        task = ctx.crm.create_task(
            NewTask(
                idempotency_key=idempotency_key,
                title=content.title,
                start=content.start,
                end=content.end,
                owner=owner,
                description=content.description,
                location=content.location,
                organizer_email=item.key.organizer or None,
                party=ctx.party(item.key.organizer, ctx.original_sender, ctx.author),
                source_uid=event.uid or None,
                recurrence_id=item.key.recurrence_id or None,
                sequence=event.sequence,
            )
        )
    else:
        logger.info("inbound: task %s already in the CRM (key %s)", task.id, idempotency_key)
    new = row is None
    if row is None:
        row = event_record(
            ctx.session,
            item.key,
            fingerprint=fingerprint(item.key.organizer, event),
            version=item.version,
            state=LedgerState.ACTIVE,
            task_id=task.id,
            now=ctx.now,
            ends_at=event_ends_at(event),
        )
    else:
        row.task_id = task.id
        set_version(row, item.version, ctx.now, state=LedgerState.ACTIVE)
    _source(item, row, new=new)
    return [item.result(InboundOutcome.CREATED, task_id=task.id, reason=decision.reason)]


def _update_fields(item: _Event) -> TaskUpdate:
    content = item.content
    return TaskUpdate(
        title=content.title,
        description=content.description,
        location=content.location,
        start=content.start,
        end=content.end,
        sequence=item.event.sequence,
    )


def _apply_update(item: _Event, decision: Decision, _series: Task | None) -> list[EventResult]:
    ctx, row = item.ctx, item.row
    assert row is not None
    assert row.task_id is not None
    if decision.action is Action.REACTIVATE:
        ctx.crm.set_task_status(row.task_id, TaskStatus.OPEN)
    ctx.crm.update_task(row.task_id, _update_fields(item))
    _crm_log(item, row.task_id, LogLevel.INFO, f"Invitation {decision.reason}")
    set_version(row, item.version, ctx.now, state=LedgerState.ACTIVE)
    _source(item, row)
    return [item.result(InboundOutcome.UPDATED, task_id=row.task_id, reason=decision.reason)]


def _apply_touch(item: _Event, decision: Decision, _series: Task | None) -> list[EventResult]:
    row = item.row
    assert row is not None
    set_version(row, item.version, item.ctx.now)
    _source(item, row)
    return [item.result(InboundOutcome.DUPLICATE, task_id=row.task_id, reason=decision.reason)]


def _apply_duplicate(item: _Event, decision: Decision, _series: Task | None) -> list[EventResult]:
    row = item.row
    if row is not None:
        _source(item, row)
    task_id = row.task_id if row is not None else None
    return [item.result(InboundOutcome.DUPLICATE, task_id=task_id, reason=decision.reason)]


def _cancel_task(item: _Event, row: InboundEvent, who: str) -> str | None:
    """Cancel the row's task; returns a note when the task is gone from the CRM."""
    ctx = item.ctx
    set_version(row, item.version, ctx.now, state=LedgerState.CANCELLED)
    if row.task_id is None:
        return None
    try:
        ctx.crm.set_task_status(row.task_id, TaskStatus.CANCELLED)
    except CrmNotFoundError:
        return f"task {row.task_id} is no longer in the CRM"
    occurrence = f" (occurrence {row.recurrence_id})" if row.recurrence_id else ""
    _crm_log(item, row.task_id, LogLevel.INFO, f"Meeting{occurrence} cancelled by {who}")
    return None


def _apply_cancel(item: _Event, decision: Decision, _series: Task | None) -> list[EventResult]:
    ctx, row = item.ctx, item.row
    assert row is not None
    who = item.key.organizer or "the organizer"
    if item.forwarder:
        who = f"{who} (forwarded by {item.forwarder})"
    note = _cancel_task(item, row, who)
    _source(item, row)
    results = [item.result(InboundOutcome.CANCELLED, task_id=row.task_id, reason=note)]
    if decision.cascade:
        for occurrence in occurrence_events(ctx.session, item.key):
            if occurrence.state.value != LedgerState.ACTIVE.value:
                continue
            note = _cancel_task(item, occurrence, who)
            results.append(
                _result(
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
    item: _Event, decision: Decision, series_task: Task | None
) -> list[EventResult]:
    ctx, row = item.ctx, item.row
    new = row is None
    if row is None:
        row = event_record(
            ctx.session,
            item.key,
            fingerprint=fingerprint(item.key.organizer, item.event),
            version=item.version,
            state=LedgerState.CANCEL_SEEN,
            task_id=None,
            now=ctx.now,
            ends_at=event_ends_at(item.event),
        )
    else:
        set_version(row, item.version, ctx.now)
    _source(item, row, new=new)
    if decision.note_series and series_task is not None:
        _crm_log(
            item,
            series_task.id,
            LogLevel.INFO,
            f"Occurrence {item.key.recurrence_id} cancelled by {item.key.organizer}",
        )
    task_id = series_task.id if decision.note_series and series_task is not None else None
    return [item.result(InboundOutcome.IGNORED, task_id=task_id, reason=decision.reason)]


def _apply_ignore(item: _Event, decision: Decision, _series: Task | None) -> list[EventResult]:
    return [item.result(InboundOutcome.IGNORED, reason=decision.reason)]


def _apply_quarantine(item: _Event, decision: Decision, _series: Task | None) -> list[EventResult]:
    return [item.result(InboundOutcome.QUARANTINED, reason=decision.reason)]


_Apply = Callable[[_Event, Decision, Task | None], list[EventResult]]
_APPLY: dict[Action, _Apply] = {
    Action.CREATE: _apply_create,
    Action.UPDATE: _apply_update,
    Action.REACTIVATE: _apply_update,
    Action.TOUCH: _apply_touch,
    Action.DUPLICATE: _apply_duplicate,
    Action.CANCEL: _apply_cancel,
    Action.RECORD_CANCEL: _apply_record_cancel,
    Action.IGNORE: _apply_ignore,
    Action.QUARANTINE: _apply_quarantine,
}
