"""Routing: which handler a readable message, and each of its calendar events, goes to.

:func:`route_message` answers for one message the pipeline could read, in its unit of work:

1. the gateway's own message (its Message-ID is in the outbox) → ``ignored``;
2. a delivery failure report → :mod:`~invitegw.gateway.inbound.bounces`;
3. no calendar object: an automatic message (a vacation reply) → ``ignored``; a reply by
   hand to a reply-token address → :mod:`~invitegw.gateway.inbound.human_replies`;
   anything else → quarantined ("no calendar object");
4. every calendar part is parsed, each calendar object on its own (one that cannot be
   read, or a VEVENT the parser dropped, costs only itself: see below), and every VEVENT
   goes by METHOD:
   REPLY, COUNTER, REFRESH → :mod:`~invitegw.gateway.inbound.attendee_messages` (REPLY
   and COUNTER only from a confirmed author when ``inbound.require_authentication_results``
   is set); REQUEST, PUBLISH, CANCEL → :mod:`~invitegw.gateway.inbound.task_events`;
   another METHOD → quarantined.

Each piece of work runs as :mod:`~invitegw.gateway.inbound.savepoints` says: a CRM refusal
undoes that piece only.

**Unusable parts.** A calendar part, a calendar object or a VEVENT that cannot be used is
``dropped`` with its reason when the message's other events were handled and none was
set aside: the message is not quarantined for it, the event log holds the reason as a
warning, and when the part names the UID of a task the message applied, that task's CRM
log says what was left out. When nothing else of the message was handled, or something
else was quarantined, it is quarantined with the rest (the message keeps its bytes for a
release).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from invitegw.domain.records import LogEntry, LogLevel, LogTarget
from invitegw.errors import IcsError, IcsLimitError
from invitegw.gateway.inbound.attendee_messages import handle_attendee_message
from invitegw.gateway.inbound.bounces import handle_bounce
from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.inbound.context import InboundMessage
from invitegw.gateway.inbound.counter_refresh import RequestResend
from invitegw.gateway.inbound.human_replies import handle_human_reply
from invitegw.gateway.inbound.model import EventResult, InboundOutcome
from invitegw.gateway.inbound.parties import MessageParties
from invitegw.gateway.inbound.savepoints import Isolation, in_savepoint
from invitegw.gateway.inbound.task_events import handle_task_event
from invitegw.gateway.inbound.task_writes import event_result
from invitegw.gateway.uow import UnitOfWork
from invitegw.ics.limits import IcsLimits
from invitegw.ics.model import CalendarError, CalendarObject, Event, Method
from invitegw.ics.parse import parse_calendar_objects
from invitegw.itip.keys import recurrence_text
from invitegw.mailbox.mime.calendar_part import CalendarPart
from invitegw.mailbox.mime.extract import Extraction

__all__ = ["Routed", "quarantined", "read_part", "route_message"]

_TASK_METHODS = frozenset({Method.REQUEST, Method.PUBLISH, Method.CANCEL})
_ATTENDEE_METHODS = frozenset({Method.REPLY, Method.COUNTER, Method.REFRESH})
# Methods that speak for an attendee or the organizer: their author must be confirmed
# when inbound.require_authentication_results is set.
_AUTHENTICATED_METHODS = frozenset({Method.REPLY, Method.COUNTER})


@dataclass(frozen=True, slots=True)
class Routed:
    """What became of a message's events, and whether its transaction must be undone.

    ``undo``: the message's only event was refused by the CRM outside any savepoint
    (:class:`~invitegw.gateway.inbound.savepoints.Isolation`): roll back before recording.
    """

    events: list[EventResult]
    undo: bool = False


def quarantined(reason: str, *, method: str | None = None) -> EventResult:
    """A quarantine result not tied to one event."""
    return EventResult(InboundOutcome.QUARANTINED, method=method, reason=reason)


def _dropped(
    reason: str, *, method: str | None = None, uid: str | None = None, rid: str | None = None
) -> EventResult:
    """A part of the message that cannot be used (settled by :func:`_settle_dropped`)."""
    return EventResult(
        InboundOutcome.DROPPED,
        uid=uid or None,
        recurrence_id=rid or None,
        method=method,
        reason=reason,
    )


def route_message(
    unit: UnitOfWork,
    config: InboundConfig,
    message: InboundMessage,
    *,
    ours: bool,
    request_resend: RequestResend,
) -> Routed:
    """Hand a readable message to its handlers (see the module docstring).

    Parameters:
        unit: the message's unit of work.
        config: the inbound settings.
        message: the message.
        ours: its Message-ID is in the outbox.
        request_resend: what a REFRESH asks the outbound side for.

    Returns:
        The results, and whether the transaction must be rolled back before recording.

    Raises:
        CrmUnavailableError: the CRM cannot be reached (nothing is to be committed).
        StorageError: the database failed.
    """
    extraction = message.extraction
    if ours:
        return Routed(
            [
                EventResult(
                    InboundOutcome.IGNORED,
                    reason="the gateway's own message came back (its Message-ID is ours)",
                )
            ]
        )
    if extraction.bounce is not None:
        return Routed(
            in_savepoint(unit.session, lambda: [handle_bounce(unit, config, message)], quarantined)
        )
    if not extraction.calendar_parts:
        return Routed(_without_calendar(unit, config, message))
    return _calendar_events(unit, config, message, request_resend)


def _without_calendar(
    unit: UnitOfWork, config: InboundConfig, message: InboundMessage
) -> list[EventResult]:
    headers = message.extraction.headers
    if headers.is_auto_generated:
        signals = ", ".join(headers.auto_signals) or "automatic"
        return [
            EventResult(
                InboundOutcome.IGNORED,
                reason=f"automatic message without a calendar ({signals})",
            )
        ]

    def human() -> list[EventResult]:
        result = handle_human_reply(unit, config, message)
        return [result] if result is not None else []

    return in_savepoint(unit.session, human, quarantined) or [
        quarantined(_no_calendar_reason(message.extraction))
    ]


def _no_calendar_reason(extraction: Extraction) -> str:
    reason = "no calendar object in the message"
    hints = [
        d
        for d in extraction.defects
        if "calendar" in d.lower() or "tnef" in d.lower() or "icalendar" in d.lower()
    ]
    if hints:
        reason += f" ({hints[0]})"
    return reason


def _part_name(part: CalendarPart) -> str:
    return part.filename or f"part {part.location}"


def read_part(part: CalendarPart, limits: IcsLimits) -> list[CalendarObject | EventResult]:
    """The calendar objects of one calendar part, each one's quarantine if it cannot be read.

    One calendar object that cannot be used costs only itself
    (:func:`~invitegw.ics.parse.parse_calendar_objects`); data that is no calendar at all,
    or over a cap as a whole, is one quarantine for the part.

    Parameters:
        part: the calendar part.
        limits: the caps for calendar objects.

    Returns:
        In file order, each calendar object, or a quarantine result with the reason.
    """
    name = _part_name(part)
    try:
        outcomes = parse_calendar_objects(part.data, mime_method=part.mime_method, limits=limits)
    except IcsLimitError as exc:
        return [_dropped(f"calendar in {name} is over a limit: {exc}")]
    except IcsError as exc:
        return [_dropped(f"malformed calendar in {name}: {exc}")]
    return [_unusable(name, o) if isinstance(o, CalendarError) else o for o in outcomes]


def _unusable(name: str, error: CalendarError) -> EventResult:
    method = error.method.value if error.method is not None else None
    uids = {d.uid for d in error.dropped if d.uid}
    uid = uids.pop() if len(uids) == 1 else None
    if error.limit is not None:
        return _dropped(f"calendar in {name} is over a limit: {error.reason}", method=method)
    return _dropped(f"malformed calendar in {name}: {error.reason}", method=method, uid=uid)


def _settle_dropped(unit: UnitOfWork, events: list[EventResult]) -> list[EventResult]:
    """The unusable parts: ``dropped`` beside events handled, else quarantined with them.

    A dropped part naming the UID of a task the message applied is linked to that task,
    and the task's CRM log says what was left out.
    """
    if all(e.outcome is not InboundOutcome.DROPPED for e in events):
        return events
    others = [e for e in events if e.outcome is not InboundOutcome.DROPPED]
    if not others or any(e.outcome is InboundOutcome.QUARANTINED for e in others):
        return [
            dataclasses.replace(e, outcome=InboundOutcome.QUARANTINED)
            if e.outcome is InboundOutcome.DROPPED
            else e
            for e in events
        ]
    tasks = {e.uid: e.task_id for e in others if e.uid and e.task_id}
    settled: list[EventResult] = []
    for event in events:
        task_id = tasks.get(event.uid or "")
        if event.outcome is InboundOutcome.DROPPED and task_id is not None:
            settled.extend(_note_dropped(unit, dataclasses.replace(event, task_id=task_id)))
        else:
            settled.append(event)
    return settled


def _note_dropped(unit: UnitOfWork, event: EventResult) -> list[EventResult]:
    """Say on the task's CRM log what was left out (a refusal costs only the note)."""

    def note() -> list[EventResult]:
        unit.crm.log(
            LogEntry(
                target=LogTarget.TASK,
                target_id=event.task_id,
                level=LogLevel.WARNING,
                message=f"Part of an invitation left out: {event.reason}",
                created_at=unit.now,
                details={"uid": event.uid or "", "recurrence_id": event.recurrence_id or ""},
            )
        )
        return [event]

    def refused(why: str) -> EventResult:
        return dataclasses.replace(event, reason=f"{event.reason} (not noted on the task: {why})")

    return in_savepoint(unit.session, note, refused)


def _calendar_events(
    unit: UnitOfWork, config: InboundConfig, message: InboundMessage, resend: RequestResend
) -> Routed:
    parsed = [
        (part, read_part(part, config.ics_limits)) for part in message.extraction.calendar_parts
    ]
    alone = sum(len(c.events) for _, p in parsed for c in p if isinstance(c, CalendarObject)) == 1
    isolation = Isolation(unit.session, alone=alone)
    parties = MessageParties(unit.crm, config, message)
    route = _EventRoute(unit, config, message, parties, isolation, resend)
    events: list[EventResult] = []
    for part, outcomes in parsed:
        events.extend(route.part_events(part, outcomes))
    # (A refused only event is quarantined, so the unusable parts are quarantined with it.)
    return Routed(_settle_dropped(unit, events), isolation.undo)


@dataclass(frozen=True, slots=True)
class _EventRoute:
    """Where the calendar events of one message go (see the module docstring)."""

    unit: UnitOfWork
    config: InboundConfig
    message: InboundMessage
    parties: MessageParties
    isolation: Isolation
    request_resend: RequestResend

    def part_events(
        self, part: CalendarPart, outcomes: list[CalendarObject | EventResult]
    ) -> list[EventResult]:
        name = _part_name(part)
        events: list[EventResult] = []
        for calendar in outcomes:
            if isinstance(calendar, EventResult):  # a calendar object that cannot be used
                events.append(calendar)
                continue
            method = calendar.method.value
            for dropped in calendar.dropped:
                events.append(
                    _dropped(
                        f"malformed event in {name}: {dropped.reason}",
                        method=method,
                        uid=dropped.uid,
                        rid=recurrence_text(dropped.recurrence_id),
                    )
                )
            if not calendar.events and not calendar.dropped:
                held = ", ".join(calendar.other_components)
                events.append(
                    _dropped(
                        f"no event in the calendar in {name}"
                        + (f" (it holds {held})" if held else ""),
                        method=method,
                    )
                )
            for event in calendar.events:
                events.extend(self.event(calendar, event))
        return events

    def event(self, calendar: CalendarObject, event: Event) -> list[EventResult]:
        """One event through its handler, kept apart from the message's other work."""

        def refused(reason: str) -> EventResult:
            return EventResult(
                InboundOutcome.QUARANTINED,
                uid=event.uid or None,
                method=calendar.method.value,
                reason=reason,
            )

        return self.isolation.run(lambda: self.dispatch(calendar, event), refused)

    def dispatch(self, calendar: CalendarObject, event: Event) -> list[EventResult]:
        """The handler of the event's METHOD."""
        method = calendar.method
        if method in _ATTENDEE_METHODS:
            if method in _AUTHENTICATED_METHODS and not self.message.authenticated:
                author = self.message.author or "an unknown sender"
                reason = (
                    f"{method.value} from {author} is not confirmed by a trusted "
                    "Authentication-Results header (inbound.require_authentication_results)"
                )
                return [event_result(InboundOutcome.QUARANTINED, calendar, event, reason=reason)]
            return [
                handle_attendee_message(
                    self.unit,
                    self.config,
                    self.message,
                    calendar,
                    event,
                    request_resend=self.request_resend,
                )
            ]
        if method not in _TASK_METHODS:
            reason = (
                f"unsupported method {method.value}: only REQUEST, PUBLISH and CANCEL "
                "make or change tasks"
            )
            return [event_result(InboundOutcome.QUARANTINED, calendar, event, reason=reason)]
        return handle_task_event(
            self.unit, self.config, self.message, self.parties, calendar, event
        )
