"""Attendee messages: one VEVENT of a REPLY, COUNTER or REFRESH about one of our invitations.

:func:`handle_attendee_message` finds the invitation the message answers (a reply token in
the addresses it was sent to, else the UID: :mod:`~invitegw.gateway.inbound.
reply_correlation`), decides who answers (the From; a calendar service answering for the
one ATTENDEE it names speaks for that attendee: :func:`~invitegw.itip.attendee_facts.
answering_sender`) and hands the message to its method's handler:

- REPLY (:rfc:`5546` section 3.2.3): :mod:`~invitegw.gateway.inbound.attendee_replies`;
- COUNTER and REFRESH (sections 3.2.7, 3.2.6): :mod:`~invitegw.gateway.inbound.
  counter_refresh`.

A message about no invitation of ours, or without a usable From, is quarantined with the
reason. Every write goes to the unit of work (nothing is committed here).
"""

from __future__ import annotations

import dataclasses

from invitegw.gateway.inbound.attendee_context import AttendeeMessage
from invitegw.gateway.inbound.attendee_replies import apply_reply
from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.inbound.context import InboundMessage
from invitegw.gateway.inbound.counter_refresh import RequestResend, apply_counter, apply_refresh
from invitegw.gateway.inbound.model import EventResult, InboundOutcome
from invitegw.gateway.inbound.reply_correlation import correlate
from invitegw.gateway.uow import UnitOfWork
from invitegw.ics.model import CalendarObject, Event, Method
from invitegw.itip.attendee_facts import (
    answering_sender,
    canonical_address,
    correlation_refusal,
    ical_recurrence_id,
    method_refusal,
)

__all__ = ["handle_attendee_message"]


def _addresses(message: InboundMessage, event: Event) -> list[str | None]:
    """Where a reply token may be: envelope recipients, To, Cc, the calendar's ORGANIZER."""
    headers = message.extraction.headers
    return [
        *message.received.envelope.recipients,
        *(m.address for m in headers.to),
        *(m.address for m in headers.cc),
        event.organizer.email if event.organizer is not None else None,
    ]


def handle_attendee_message(
    unit: UnitOfWork,
    config: InboundConfig,
    message: InboundMessage,
    calendar: CalendarObject,
    event: Event,
    *,
    request_resend: RequestResend,
) -> EventResult:
    """Apply one VEVENT of a REPLY, COUNTER or REFRESH (see the module docstring).

    Parameters:
        unit: the caller's unit of work; nothing is committed here.
        config: the inbound settings (calendars, policies).
        message: the received message (its From, To, Cc, envelope recipients).
        calendar: the calendar object (its ``method`` is REPLY, COUNTER or REFRESH).
        event: the VEVENT (one RECURRENCE-ID) to apply.
        request_resend: what a REFRESH asks the outbound side for.

    Returns:
        ``reply_recorded``, ``counter_logged``, ``refresh_sent``, ``duplicate`` (a stale
        reply), ``ignored`` or ``quarantined``, with a reason.

    Raises:
        CrmUnavailableError: the CRM cannot take the write now (the caller retries).
        StorageError: the database failed.
    """
    method = calendar.method
    base = EventResult(
        outcome=InboundOutcome.QUARANTINED,
        uid=event.uid,
        recurrence_id=ical_recurrence_id(event.recurrence_id),
        method=method.value,
    )
    refusal = method_refusal(method)
    if refusal is not None:
        return dataclasses.replace(base, reason=refusal)
    headers = message.extraction.headers
    sender = answering_sender(
        canonical_address(headers.from_.address) if headers.from_ is not None else None,
        event.attendees,
        config.inbound.calendar_services,
    )
    found = correlate(
        unit.session,
        config.calendars,
        addresses=_addresses(message, event),
        uid=event.uid,
        sender=sender,
    )
    refusal = correlation_refusal(method, event.uid, correlated=found is not None, sender=sender)
    if found is None or sender is None:
        meeting_id = found.meeting.crm_meeting_id if found is not None else None
        return dataclasses.replace(base, meeting_id=meeting_id, reason=refusal)
    answer = AttendeeMessage(unit, config, message, calendar, event, found.meeting, sender)
    if method is Method.REPLY:
        return apply_reply(answer)
    if method is Method.COUNTER:
        return apply_counter(answer)
    return apply_refresh(answer, request_resend)
