"""The inbound half of ``invitegw demo``: what the people at the other end send back.

The messages are the ones real clients send, built here: an attendee's REPLY to the
invitation the demo's gateway sent her (to the organizer's reply-token address), and an
external contact's own invitation, which the organizer forwards to the gateway (as an
attachment, as Outlook's "Forward as attachment" does), then reschedules, then cancels.
Each is handed to the inbound pipeline as the SMTP listener hands over what it accepted.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from invitegw.gateway.bootstrap import Gateway, inbound_pipeline
from invitegw.gateway.inbound.model import Envelope, MessageResult, ReceivedMessage
from invitegw.ics import PartStat, build_reply, parse_calendar
from invitegw.mailbox.mime.extract import extract

__all__ = ["InboundStep", "external_invitation", "forwarded", "hand_over", "reply_to"]

GATEWAY_ADDRESS = "crm@example.com"


@dataclass(frozen=True, slots=True)
class InboundStep:
    """One message the demo handed to the inbound pipeline, and what became of it."""

    step: str
    text: str
    result: MessageResult


def _message(sender: str, to: str, subject: str, now: dt.datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1].rstrip(">"))
    return message


def reply_to(invitation: bytes, attendee: str, name: str, now: dt.datetime) -> bytes:
    """The attendee's "Accept" on ``invitation`` (a message the gateway sent), as Gmail sends it.

    Parameters:
        invitation: the invitation email the attendee received.
        attendee: the attendee's address.
        name: the attendee's display name.
        now: the reply's time (its DTSTAMP and Date).

    Returns:
        The REPLY email, addressed to the invitation's ORGANIZER (the reply-token address).
    """
    [part, *_] = extract(invitation).calendar_parts
    event = parse_calendar(part.data, mime_method=part.mime_method).events[0]
    calendar = build_reply(event, attendee, PartStat.ACCEPTED, comment="See you there.", now=now)
    assert event.organizer is not None  # the gateway always writes one
    message = _message(
        f"{name} <{attendee}>", event.organizer.email, f"Accepted: {event.summary}", now
    )
    message.set_content(f"{name} has accepted this invitation.")
    message.add_alternative(
        calendar, maintype="text", subtype="calendar", params={"method": "REPLY"}
    )
    return message.as_bytes()


def external_invitation(
    organizer: str,
    name: str,
    attendee: str,
    *,
    uid: str,
    sequence: int,
    start: dt.datetime,
    summary: str,
    now: dt.datetime,
    cancel: bool = False,
) -> bytes:
    """An invitation (or its cancellation) from an outside organizer, as Outlook sends it.

    Parameters:
        organizer: the organizer's address.
        name: the organizer's display name.
        attendee: the one attendee (a staff member).
        uid: the meeting's UID.
        sequence: its SEQUENCE.
        start: the start (one hour long).
        summary: its title.
        now: DTSTAMP and Date.
        cancel: a CANCEL instead of a REQUEST.

    Returns:
        The email.
    """
    method = "CANCEL" if cancel else "REQUEST"
    utc = "%Y%m%dT%H%M%SZ"
    end = start + dt.timedelta(hours=1)
    calendar = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            f"METHOD:{method}",
            "PRODID:Microsoft Exchange Server 2010",
            "VERSION:2.0",
            "BEGIN:VEVENT",
            f"ORGANIZER;CN={name}:mailto:{organizer}",
            f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{attendee}",
            f"SUMMARY:{summary}",
            f"DTSTART:{start.astimezone(dt.UTC):{utc}}",
            f"DTEND:{end.astimezone(dt.UTC):{utc}}",
            f"UID:{uid}",
            f"SEQUENCE:{sequence}",
            f"DTSTAMP:{now.astimezone(dt.UTC):{utc}}",
            f"STATUS:{'CANCELLED' if cancel else 'CONFIRMED'}",
            "LOCATION:Nowak i Syn, ul. Długa 5, Kraków",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    subject = f"{'Canceled' if cancel else 'Invitation'}: {summary}"
    message = _message(f"{name} <{organizer}>", attendee, subject, now)
    message.set_content(f"{summary}, {start:%A %d %B %H:%M}.")
    message.add_alternative(
        calendar.encode(), maintype="text", subtype="calendar", params={"method": method}
    )
    return message.as_bytes()


def forwarded(raw: bytes, forwarder: str, name: str, now: dt.datetime) -> bytes:
    """``raw`` forwarded as an attachment by ``forwarder`` to the gateway's address.

    Parameters:
        raw: the message forwarded.
        forwarder: who forwards it.
        name: the forwarder's display name.
        now: the Date.

    Returns:
        The forward.
    """
    inner = extract(raw).headers.subject
    message = _message(f"{name} <{forwarder}>", GATEWAY_ADDRESS, f"FW: {inner}", now)
    message.set_content("Please put this in the CRM.")
    original = email.message_from_bytes(raw, policy=email.policy.default)
    message.add_attachment(original)
    return message.as_bytes()


def hand_over(gateway: Gateway, raw: bytes, *, mail_from: str, rcpt_to: str) -> MessageResult:
    """Run the inbound pipeline on ``raw`` as the SMTP listener would after accepting it.

    Parameters:
        gateway: the demo's gateway.
        raw: the message.
        mail_from: the envelope sender.
        rcpt_to: the envelope recipient.

    Returns:
        What the pipeline did.
    """
    return inbound_pipeline(gateway).handle(
        ReceivedMessage(
            raw=raw,
            source="smtp",
            reference="demo",
            envelope=Envelope(sender=mail_from, recipients=(rcpt_to,)),
            size=len(raw),
            received_at=gateway.clock(),
        )
    )
