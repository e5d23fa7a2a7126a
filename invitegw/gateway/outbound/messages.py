"""The compose step: planned messages as email bytes (the calendar, the body, the MIME; pure).

Between the planner and the ledger: :func:`compose_plan` turns every
:class:`~invitegw.itip.plan_model.PlannedMessage` of a plan into a :class:`ComposedMessage`,
the exact bytes the dispatcher will hand to the relay (``email.policy.SMTP``, CRLF), which
the ledger then stores as they are. :func:`write_invitation` does it for one message: the
iTIP object (:mod:`invitegw.ics.build`), the body in the recipient's language and time zone
(:mod:`invitegw.templates.render`: attendee's language, else the calendar's; attendee's
zone, else the meeting's, else the calendar's), and the iMIP layout
(:mod:`invitegw.mailbox.mime.compose`, written out by :mod:`invitegw.mailbox.mime.wire`).
:func:`write_reminder` does the same for a reminder email (no calendar object: it must not
look like an update to the receiving client; the answer links of an attendee who has not
answered, when the reminder job is given them).

Bodies do not depend on who reads them beyond language, zone and audience, so rendered
bodies are cached: a meeting with fifty external attendees renders its body once (unless
each carries its own answer links: :mod:`~invitegw.gateway.outbound.answer_links`).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Protocol

from invitegw.domain.addresses import NamedAddress
from invitegw.ics.build import build_cancel, build_request
from invitegw.ics.model import Method
from invitegw.itip.plan_model import (
    CalendarProfile,
    LedgerAttendee,
    MeetingDetails,
    Plan,
    PlannedMessage,
)
from invitegw.itip.policy import MessageKind
from invitegw.mailbox.mime.compose import InvitationEmail, NoticeEmail
from invitegw.mailbox.mime.wire import invitation_bytes, notice_bytes
from invitegw.templates.render import (
    AnswerLinks,
    Audience,
    MessageView,
    RenderedBody,
    pick_language,
    render_message,
)

__all__ = [
    "ComposedMessage",
    "LinkMaker",
    "compose_plan",
    "from_mailbox",
    "render_body",
    "write_invitation",
    "write_reminder",
]


class LinkMaker(Protocol):
    """Makes a recipient's answer links (:class:`~invitegw.gateway.outbound.answer_links.
    AnswerLinking`), or says the message carries none."""

    def links_for(self, message: PlannedMessage, calendar: CalendarProfile) -> AnswerLinks | None:
        """The links for ``message``'s recipient, or ``None``."""
        ...


@dataclass(frozen=True, slots=True)
class ComposedMessage:
    """A planned message and its email, ready to be stored in the outbox."""

    planned: PlannedMessage
    raw: bytes


def compose_plan(
    plan: Plan,
    calendar: CalendarProfile,
    now: dt.datetime,
    *,
    links: LinkMaker | None = None,
) -> list[ComposedMessage]:
    """Every message of ``plan`` as email bytes, in the plan's order.

    Parameters:
        plan: the planner's decision.
        calendar: the sending calendar.
        now: the Date header and DTSTAMP.
        links: how answer links are made (``None``: no links).

    Returns:
        The composed messages.

    Raises:
        IcsBuildError: a message's calendar object cannot be built.
        MimeError: a message cannot be composed.
    """
    return [
        ComposedMessage(m, write_invitation(m, calendar, now, links=links)) for m in plan.messages
    ]


@functools.lru_cache(maxsize=1024)
def render_body(view: MessageView) -> RenderedBody:
    """:func:`~invitegw.templates.render.render_message`, remembered (views are values).

    Parameters:
        view: what to say.

    Returns:
        The rendered body.
    """
    return render_message(view)


def from_mailbox(calendar: CalendarProfile, organizer_name: str) -> NamedAddress:
    """The From header: the calendar's own address, named after the organizer.

    Parameters:
        calendar: the sending calendar.
        organizer_name: the CRM user's name.

    Returns:
        ``"Olga Organizer via Sales" <sales@example.com>`` (or the calendar's label alone).
    """
    name = f"{organizer_name} via {calendar.label}" if organizer_name else calendar.label
    return NamedAddress(name, calendar.sender)


def _view(
    details: MeetingDetails,
    recipient: LedgerAttendee,
    calendar: CalendarProfile,
    *,
    kind: MessageKind,
    start: dt.date | dt.datetime,
    end: dt.date | dt.datetime | None,
    rrule: str | None = None,
    occurrence: dt.date | dt.datetime | None = None,
    removed: bool = False,
    changes: tuple[str, ...] = (),
    answer_links: AnswerLinks | None = None,
) -> MessageView:
    internal = recipient.internal
    return MessageView(
        kind=kind,
        audience=Audience.INTERNAL if internal else Audience.EXTERNAL,
        language=pick_language(recipient.language, calendar.language),
        title=details.title,
        start=start,
        end=end,
        time_zone=recipient.time_zone or details.time_zone,
        organizer_name=details.organizer_name,
        organizer_email=details.organizer_email,
        location=details.location,
        description=details.description,
        attendees=details.attendees,
        rrule=rrule,
        occurrence=occurrence,
        removed=removed,
        crm_url=details.crm_url if internal else None,
        calendar_name=calendar.label,
        changes=changes,
        answer_links=answer_links,
    )


def _calendar_object(message: PlannedMessage, now: dt.datetime) -> bytes:
    if message.method is Method.REQUEST:
        return build_request(message.events, now=now)
    (event,) = message.events
    if message.uninvite:
        return build_cancel(event, attendees=event.attendees, now=now)
    return build_cancel(event, now=now)


def write_invitation(
    message: PlannedMessage,
    calendar: CalendarProfile,
    now: dt.datetime,
    *,
    links: LinkMaker | None = None,
) -> bytes:
    """The email for one planned message, serialised for SMTP.

    Parameters:
        message: the planned message.
        calendar: the sending calendar.
        now: the Date header and DTSTAMP.
        links: how answer links are made (``None``: no links; the calendar part is the
            same either way).

    Returns:
        The message bytes (CRLF line ends).

    Raises:
        IcsBuildError: the events cannot make a valid calendar object.
        MimeError: an address, the Message-ID or the body cannot be written.
    """
    recipient = message.recipient
    body = render_body(
        _view(
            message.details,
            recipient,
            calendar,
            kind=message.kind,
            start=message.start,
            end=message.end,
            rrule=message.rrule,
            occurrence=message.occurrence,
            removed=message.uninvite,
            changes=message.changes,
            answer_links=links.links_for(message, calendar) if links is not None else None,
        )
    )
    sender = from_mailbox(calendar, message.details.organizer_name)
    thread = (message.thread_id,) if message.thread_id else ()
    spec = InvitationEmail(
        method=message.method,
        calendar=_calendar_object(message, now),
        body=body,
        sender=sender,
        recipient=NamedAddress(recipient.name, recipient.address),
        message_id=message.message_id,
        date=now,
        reply_to=NamedAddress(message.organizer.cn or "", message.reply_to),
        in_reply_to=message.thread_id,
        references=thread,
        outlook_compat=calendar.outlook_compat,
    )
    return invitation_bytes(spec)


def write_reminder(
    details: MeetingDetails,
    recipient: LedgerAttendee,
    calendar: CalendarProfile,
    *,
    start: dt.date | dt.datetime,
    end: dt.date | dt.datetime | None,
    message_id: str,
    reply_to: str,
    now: dt.datetime,
    answer_links: AnswerLinks | None = None,
) -> bytes:
    """A reminder email for one occurrence (text and HTML, no calendar object).

    Parameters:
        details: the meeting as the body shows it.
        recipient: the attendee it goes to.
        calendar: the sending calendar.
        start: the occurrence's start.
        end: its end.
        message_id: the Message-ID.
        reply_to: the Reply-To address (the attendee's tokenised ORGANIZER).
        now: the Date header.
        answer_links: the attendee's answer links (``None``: none), the invitation's own.

    Returns:
        The message bytes.

    Raises:
        MimeError: an address or the Message-ID cannot be written.
    """
    body = render_body(
        _view(
            details,
            recipient,
            calendar,
            kind=MessageKind.REMINDER,
            start=start,
            end=end,
            answer_links=answer_links,
        )
    )
    sender = from_mailbox(calendar, details.organizer_name)
    thread = (recipient.thread_id,) if recipient.thread_id else ()
    spec = NoticeEmail(
        body=body,
        sender=sender,
        recipient=NamedAddress(recipient.name, recipient.address),
        message_id=message_id,
        date=now,
        reply_to=NamedAddress(details.organizer_name, reply_to),
        in_reply_to=recipient.thread_id,
        references=thread,
    )
    return notice_bytes(spec)
