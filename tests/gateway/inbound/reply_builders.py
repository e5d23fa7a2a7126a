"""A gateway that has sent one meeting, and the mail its attendees send back.

:class:`ReplyHarness` seeds the built-in CRM (Olga organizes; Carl, Gina and Paweł are
invited), runs the outbound side once so the ledger has real reply tokens and the outbox
real invitations, and calls the reply handlers inside one committed transaction, as the
inbound pipeline does. The ``*_email`` builders write what clients send back (stdlib
``email`` and :func:`invitegw.ics.build_reply`); nothing here is sent anywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from invitegw.crm_adapter.builtin.schema import CrmMeetingResponse
from invitegw.domain.records import LogEntry
from invitegw.gateway.bootstrap import inbound_config
from invitegw.gateway.config import InboundSettings
from invitegw.gateway.inbound.attendee_messages import handle_attendee_message
from invitegw.gateway.inbound.bounces import handle_bounce
from invitegw.gateway.inbound.context import InboundMessage, MessageIdentity
from invitegw.gateway.inbound.human_replies import handle_human_reply
from invitegw.gateway.inbound.model import EventResult, ReceivedMessage
from invitegw.gateway.outbound.feed import request_resend
from invitegw.gateway.storage import (
    EventLogEntry,
    OutboundAttendee,
    OutboundMeeting,
    OutboxMessage,
    Store,
)
from invitegw.ics import CalendarObject, Event, parse_calendar
from invitegw.mailbox.mime.extract import Extraction, extract
from tests.gateway.outbound.harness import (
    OutboundHarness,
    Unreachable,
    attendee_row,
    calendar_bytes,
    parse_message,
)

__all__ = [
    "ReplyHarness",
    "calendar_email",
    "drop_property",
    "dsn_email",
    "plain_email",
]

_counter = iter(range(1, 1_000_000))


def _message_id() -> str:
    return f"<reply-{next(_counter)}@client.example.org>"


def calendar_email(
    ics: bytes,
    *,
    sender: str,
    to: str,
    method: str = "REPLY",
    subject: str = "Accepted: Project kick-off",
    message_id: str | None = None,
    when: dt.datetime | None = None,
) -> bytes:
    """An iMIP answer as a mail client sends it: a short text and the calendar part."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or _message_id()
    msg["Date"] = format_datetime(when or dt.datetime(2026, 5, 5, 9, tzinfo=dt.UTC))
    msg.set_content("See the calendar answer.\n")
    msg.add_alternative(
        ics.decode("utf-8"), subtype="calendar", charset="utf-8", params={"method": method}
    )
    return msg.as_bytes()


def plain_email(
    text: str,
    *,
    sender: str,
    to: str,
    subject: str = "Re: Project kick-off",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A message without a calendar (a reply by hand, a vacation notice)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or _message_id()
    msg["Date"] = format_datetime(dt.datetime(2026, 5, 5, 9, tzinfo=dt.UTC))
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    return msg.as_bytes()


def dsn_email(
    *, failed: str, original_message_id: str | None, status: str = "5.1.1", action: str = "failed"
) -> bytes:
    """A delivery status notification (RFC 3464) returning the headers of a message."""
    returned = (
        f"Message-ID: {original_message_id}\r\n" if original_message_id else ""
    ) + "From: Example Sales <sales@example.com>\r\nSubject: Invitation\r\n"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        "To: sales@example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {_message_id()}\r\n"
        "Date: Tue, 05 May 2026 09:00:00 +0000\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is the mail system. Your message could not be delivered.\r\n"
        "--b1\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {failed}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{failed}>: Recipient address rejected\r\n"
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        f"{returned}"
        "--b1--\r\n"
    ).encode("ascii")


def drop_property(ics: bytes, name: str) -> bytes:
    """``ics`` without the property ``name`` (and its folded continuation lines)."""
    pattern = re.compile(rb"^" + name.encode() + rb"[;:][^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*", re.M)
    return pattern.sub(b"", ics)


class ReplyHarness:
    """One meeting sent (its invitations queued), and the handlers to answer it with.

    Each handler runs in a unit of work of its own, as the pipeline runs it (a dry run's
    unit keeps CRM writes in memory and rolls the session back).
    """

    def __init__(self, store: Store, tmp_path: Path, **inbound: Any) -> None:
        self.outbound = OutboundHarness(store, Unreachable(), tmp_path)  # type: ignore[arg-type]
        if inbound:
            self.outbound.with_settings(inbound=InboundSettings(**inbound))
        self.store = store
        self.outbound.seed()
        self.meeting_id = self.outbound.create_meeting()
        self.outbound.outbound.poll()

    @property
    def gateway(self) -> Any:
        return self.outbound.gateway

    @property
    def now(self) -> dt.datetime:
        return self.outbound.clock.now

    # -- what was sent ----------------------------------------------------------------------

    def attendee(self, address: str) -> OutboundAttendee:
        return attendee_row(self.store, address)

    def token_address(self, address: str) -> str:
        """The calendar's address with ``address``'s reply token."""
        return f"sales+{self.attendee(address).token}@example.com"

    def invitation(self, address: str) -> OutboxMessage:
        """The first invitation queued for ``address``."""
        with self.store.session() as session:
            row = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.recipient == address)
                .order_by(OutboxMessage.id)
            ).first()
            assert row is not None
            session.expunge(row)
            return row

    def invited_event(self, address: str) -> Event:
        """The master VEVENT of the invitation ``address`` received."""
        raw = self.invitation(address).raw
        assert raw is not None
        return parse_calendar(calendar_bytes(parse_message(raw))).events[0]

    def uid(self) -> str:
        with self.store.session() as session:
            return session.scalars(select(OutboundMeeting.uid)).one()

    # -- what was recorded ------------------------------------------------------------------

    def responses(self) -> list[tuple[str, str, str | None, str | None, str]]:
        """(attendee, PARTSTAT, RECURRENCE-ID, DELEGATED-TO, comment) recorded in the CRM."""
        with self.store.session() as session:
            return [
                (r.attendee_email, r.partstat, r.recurrence_id, r.delegated_to, r.comment)
                for r in session.scalars(select(CrmMeetingResponse).order_by(CrmMeetingResponse.id))
            ]

    def crm_log(self) -> list[LogEntry]:
        return self.outbound.crm_log()

    def outbox(self, kind: str | None = None) -> list[OutboxMessage]:
        rows = self.outbound.outbox()
        return [r for r in rows if kind is None or r.kind == kind]

    def event_log(self) -> list[EventLogEntry]:
        with self.store.session() as session:
            rows = list(session.scalars(select(EventLogEntry).order_by(EventLogEntry.id)))
            session.expunge_all()
            return rows

    def counts(self) -> dict[str, int]:
        """Rows in every table a handler may write (for the dry-run test)."""
        return {
            "responses": len(self.responses()),
            "crm_log": len(self.crm_log()),
            "outbox": len(self.outbox()),
            "event_log": len(self.event_log()),
        }

    # -- handling ---------------------------------------------------------------------------

    def received(self, raw: bytes, **fields: Any) -> ReceivedMessage:
        return ReceivedMessage(raw=raw, source="file", **fields)

    def message(self, raw: bytes, extraction: Extraction, **fields: Any) -> InboundMessage:
        """``raw`` as the pipeline hands it to a handler."""
        identity = MessageIdentity.of(raw, extraction.headers.message_id)
        return InboundMessage(self.received(raw, **fields), extraction, identity)

    def attendee_message(
        self, raw: bytes, *, dry_run: bool = False, event_index: int = 0, **fields: Any
    ) -> EventResult:
        """Handle one calendar answer as the pipeline would (one transaction)."""
        extraction = extract(raw)
        (part,) = extraction.calendar_parts
        calendar = parse_calendar(part.data, mime_method=part.mime_method)
        return self._attendee(raw, extraction, calendar, event_index, dry_run, fields)

    def _attendee(
        self,
        raw: bytes,
        extraction: Extraction,
        calendar: CalendarObject,
        event_index: int,
        dry_run: bool,
        fields: dict[str, Any],
    ) -> EventResult:
        with self.gateway.units.start(dry_run=dry_run) as unit:
            return handle_attendee_message(
                unit,
                inbound_config(self.gateway.settings),
                self.message(raw, extraction, **fields),
                calendar,
                calendar.events[event_index],
                request_resend=request_resend,
            )

    def bounce(self, raw: bytes, *, dry_run: bool = False) -> EventResult:
        extraction = extract(raw)
        assert extraction.bounce is not None
        with self.gateway.units.start(dry_run=dry_run) as unit:
            return handle_bounce(
                unit, inbound_config(self.gateway.settings), self.message(raw, extraction)
            )

    def human(self, raw: bytes, *, dry_run: bool = False, **fields: Any) -> EventResult | None:
        extraction = extract(raw)
        assert not extraction.calendar_parts
        with self.gateway.units.start(dry_run=dry_run) as unit:
            return handle_human_reply(
                unit,
                inbound_config(self.gateway.settings),
                self.message(raw, extraction, **fields),
            )

    def replace_event(self, address: str, **changes: Any) -> Event:
        """The invitation's event with ``changes`` (a later SEQUENCE, an occurrence ...)."""
        return dataclasses.replace(self.invited_event(address), **changes)

    def iter_attendees(self) -> Iterator[OutboundAttendee]:
        with self.store.session() as session:
            rows = list(session.scalars(select(OutboundAttendee).order_by(OutboundAttendee.id)))
            session.expunge_all()
        yield from rows
