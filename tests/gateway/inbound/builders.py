"""Test emails for the inbound pipeline, built with the stdlib ``email`` package.

``vevent``/``calendar`` write iCalendar text (CRLF, folded by nobody: short lines);
``invitation`` wraps a calendar in an iMIP email (``text/calendar; method=...`` and,
optionally, an ``invite.ics`` attachment); ``forward`` wraps a whole message in a
``message/rfc822`` part as Outlook and Thunderbird forward it; ``plain`` is a message
without a calendar.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

__all__ = [
    "CONTACT",
    "LEAD",
    "SAM",
    "STAFF2",
    "STRANGER",
    "calendar",
    "forward",
    "invitation",
    "plain",
    "vevent",
]

SAM = "sam@example.com"  # a CRM user: the mailbox owner
STAFF2 = "tina@example.com"  # another CRM user
CONTACT = "olivia@partner.example"  # a CRM contact: the usual organizer
LEAD = "lena@lead.example"  # a CRM lead
STRANGER = "mallory@elsewhere.example"  # unknown to the CRM

_ids = itertools.count(1)


def vevent(
    *,
    uid: str | None = "meet-1@partner.example",
    organizer: str | None = CONTACT,
    sequence: int | None = 0,
    dtstamp: str = "20260501T080000Z",
    start: str = "DTSTART;TZID=Europe/Warsaw:20260610T090000",
    end: str | None = "DTEND;TZID=Europe/Warsaw:20260610T100000",
    summary: str = "Quarterly review",
    location: str = "Room 1",
    description: str = "",
    recurrence_id: str | None = None,
    rrule: str | None = None,
    status: str | None = None,
    attendees: Sequence[str] = (SAM,),
    extra: Sequence[str] = (),
) -> str:
    """One VEVENT (times as whole content lines, e.g. ``DTSTART:20260610T070000Z``)."""
    lines = ["BEGIN:VEVENT"]
    if uid is not None:
        lines.append(f"UID:{uid}")
    lines.append(f"DTSTAMP:{dtstamp}")
    if sequence is not None:
        lines.append(f"SEQUENCE:{sequence}")
    if recurrence_id:
        lines.append(recurrence_id)
    lines.append(start)
    if end:
        lines.append(end)
    if rrule:
        lines.append(f"RRULE:{rrule}")
    lines.append(f"SUMMARY:{summary}")
    if location:
        lines.append(f"LOCATION:{location}")
    if description:
        lines.append(f"DESCRIPTION:{description}")
    if status:
        lines.append(f"STATUS:{status}")
    if organizer:
        lines.append(f"ORGANIZER;CN=Organizer:mailto:{organizer}")
    lines.extend(f"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{a}" for a in attendees)
    lines.extend(extra)
    lines.append("END:VEVENT")
    return "\r\n".join(lines)


def calendar(method: str | None = "REQUEST", *events: str) -> str:
    """A VCALENDAR holding ``events`` (one default VEVENT when none are given)."""
    body = events or (vevent(),)
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//invitegw tests//EN"]
    if method:
        head.append(f"METHOD:{method}")
    return "\r\n".join([*head, *body, "END:VCALENDAR", ""])


def _headers(
    msg: EmailMessage,
    *,
    from_: str,
    to: str,
    subject: str,
    message_id: str | None,
    headers: Iterable[tuple[str, str]],
) -> None:
    msg["From"] = from_
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC))
    if message_id != "":
        msg["Message-ID"] = f"<{message_id or f'test-{next(_ids)}@mail.example'}>"
    for name, value in headers:
        msg[name] = value


def invitation(
    *calendars: str,
    from_: str = f"Olivia Organizer <{CONTACT}>",
    to: str = SAM,
    subject: str = "Invitation: Quarterly review",
    message_id: str | None = None,
    method: str | None = "REQUEST",
    attachments_only: bool = False,
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """An iMIP email: text + the first calendar inline, further ones as ``.ics`` files.

    ``message_id=""`` leaves the Message-ID out.
    """
    msg = EmailMessage()
    _headers(msg, from_=from_, to=to, subject=subject, message_id=message_id, headers=headers)
    msg.set_content("You are invited.\n")
    items = calendars or (calendar(method),)
    for index, text in enumerate(items):
        if index == 0 and not attachments_only:
            params = {"method": method} if method else {}
            msg.add_alternative(text.encode("utf-8"), "text", "calendar", params=params)
        else:
            name = "invite.ics" if index == 0 else f"invite-{index + 1}.ics"
            msg.add_attachment(text.encode("utf-8"), "application", "ics", filename=name)
    return msg.as_bytes(policy=SMTP)


def forward(
    original: bytes,
    *,
    from_: str,
    to: str = SAM,
    subject: str = "Fwd: Invitation: Quarterly review",
    message_id: str | None = None,
) -> bytes:
    """``original`` forwarded as an attachment (``message/rfc822``)."""
    msg = EmailMessage()
    _headers(msg, from_=from_, to=to, subject=subject, message_id=message_id, headers=())
    msg.set_content("Please add this to the CRM.\n")
    msg.add_attachment(message_from_bytes(original))
    return msg.as_bytes(policy=SMTP)


def plain(
    *,
    from_: str = f"Olivia Organizer <{CONTACT}>",
    to: str = SAM,
    subject: str = "Hello",
    body: str = "Just a note.\n",
    message_id: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A message without a calendar."""
    msg = EmailMessage()
    _headers(msg, from_=from_, to=to, subject=subject, message_id=message_id, headers=headers)
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP)
