"""Planned messages as email: MIME layout, headers, language, zone, audience, reminders."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from email.message import EmailMessage

import pytest

from invitegw.gateway.outbound.messages import compose_plan, write_invitation, write_reminder
from invitegw.ics import parse_calendar
from invitegw.itip.plan_model import Plan, PlannedMessage
from tests.gateway.outbound.builders import (
    CARL,
    GINA,
    NOW,
    PAWEL,
    SALES,
    CountingIds,
    at,
    meeting,
    plan,
)


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def part(message: EmailMessage, content_type: str) -> EmailMessage:
    found = [p for p in message.walk() if p.get_content_type() == content_type]
    assert len(found) == 1, f"{content_type}: {len(found)} parts"
    return found[0]  # type: ignore[return-value]


def text_of(message: EmailMessage, content_type: str = "text/plain") -> str:
    return str(part(message, content_type).get_content())


def to(result: Plan, address: str) -> PlannedMessage:
    (found,) = [m for m in result.messages if m.recipient.address == address]
    return found


@pytest.fixture
def created() -> Plan:
    return plan(meeting(attendees=(CARL, GINA, PAWEL)), ids=CountingIds())


def test_the_mime_layout_and_headers(created: Plan) -> None:
    planned = to(created, "gina@example.org")
    raw = write_invitation(planned, SALES, NOW)
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only, as smtplib sends it
    message = parsed(raw)
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    calendar_part = part(message, "text/calendar")
    assert calendar_part.get_param("method") == "REQUEST"
    assert calendar_part.get_content_charset() == "utf-8"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_payload(decode=True) == calendar_part.get_payload(decode=True)
    assert str(message["From"]) == "Olga Organizer via Example Sales <sales@example.com>"
    assert str(message["To"]) == "Gina Guest <gina@example.org>"
    organizer = planned.organizer.email
    assert str(message["Reply-To"]) == f"Olga Organizer <{organizer}>"
    assert str(message["Subject"]) == "Invitation: Project kick-off"
    assert str(message["Message-ID"]) == f"<{planned.message_id}>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] is not None
    calendar = parse_calendar(calendar_part.get_payload(decode=True))
    assert calendar.method.value == "REQUEST"
    assert calendar.events[0].organizer is not None
    assert calendar.events[0].organizer.email == organizer


def test_the_body_speaks_the_attendees_language_else_the_calendars(created: Plan) -> None:
    polish = parsed(write_invitation(to(created, "pawel@example.org"), SALES, NOW))
    assert str(polish["Subject"]) == "Zaproszenie: Project kick-off"
    assert polish["Content-Language"] == "pl"
    english = parsed(write_invitation(to(created, "gina@example.org"), SALES, NOW))
    assert english["Content-Language"] == "en"
    italian = dataclasses.replace(SALES, language="it")
    assert (
        parsed(write_invitation(to(created, "gina@example.org"), italian, NOW))["Content-Language"]
        == "it"
    )


def test_times_are_shown_in_the_attendees_zone_else_the_meetings_else_the_calendars() -> None:
    tokyo = dataclasses.replace(GINA, time_zone="Asia/Tokyo")
    result = plan(meeting(attendees=(CARL, tokyo), rrule=None), ids=CountingIds())
    # 10:00 in Warsaw (CEST) is 17:00 in Tokyo.
    assert "5:00" in text_of(parsed(write_invitation(to(result, "gina@example.org"), SALES, NOW)))
    assert "10:00" in text_of(parsed(write_invitation(to(result, "carl@example.com"), SALES, NOW)))
    # No zone on the attendee or the meeting: the calendar's (here New York: 04:00).
    ny = dataclasses.replace(SALES, time_zone="America/New_York")
    zoneless = plan(meeting(attendees=(CARL,), rrule=None, time_zone=None), calendar=ny)
    assert "4:00" in text_of(parsed(write_invitation(to(zoneless, "carl@example.com"), ny, NOW)))


def test_only_staff_get_the_crm_link(created: Plan) -> None:
    link = "https://crm.example.com/meetings/7"
    staff = parsed(write_invitation(to(created, "carl@example.com"), SALES, NOW))
    assert link in text_of(staff)
    assert link in text_of(staff, "text/html")
    guest = parsed(write_invitation(to(created, "gina@example.org"), SALES, NOW))
    assert link not in text_of(guest)
    assert "crm.example.com" not in text_of(guest, "text/html")


def test_crm_text_cannot_inject_markup_or_headers() -> None:
    evil = meeting(title="Hi <b>there</b>\r\nBcc: x@example.net", rrule=None)
    result = plan(evil, ids=CountingIds())
    message = parsed(write_invitation(to(result, "gina@example.org"), SALES, NOW))
    assert message["Bcc"] is None
    assert "<b>there</b>" not in text_of(message, "text/html")
    assert "&lt;b&gt;there&lt;/b&gt;" in text_of(message, "text/html")


def test_the_outlook_profile_sends_a_single_calendar_body(created: Plan) -> None:
    outlook = dataclasses.replace(SALES, outlook_compat=True)
    message = parsed(write_invitation(to(created, "gina@example.org"), outlook, NOW))
    assert message.get_content_type() == "text/calendar"
    assert message.get_param("method") == "REQUEST"
    assert message["Content-class"] == "urn:content-classes:calendarmessage"


def test_updates_refer_to_the_first_invitation(created: Plan) -> None:
    assert created.ledger is not None
    first = to(created, "gina@example.org")
    updated = plan(meeting(attendees=(CARL, GINA, PAWEL), title="Kick-off v2"), created.ledger)
    message = parsed(write_invitation(to(updated, "gina@example.org"), SALES, NOW))
    assert str(message["Subject"]) == "Updated invitation: Kick-off v2"
    assert str(message["In-Reply-To"]) == f"<{first.message_id}>"
    assert str(message["References"]) == f"<{first.message_id}>"


def test_the_compose_step_writes_every_message_of_a_plan_in_order(created: Plan) -> None:
    composed = compose_plan(created, SALES, NOW)
    assert [c.planned for c in composed] == list(created.messages)
    written = [parsed(c.raw) for c in composed]
    assert [str(m["Message-ID"]) for m in written] == [
        f"<{c.planned.message_id}>" for c in composed
    ]
    assert [str(m["To"]) for m in written] == [
        "Olga Organizer <olga@example.com>",
        "Carl Colleague <carl@example.com>",
        "Gina Guest <gina@example.org>",
        "Paweł Nowak <pawel@example.org>",
    ]


def test_a_cancellation_says_so(created: Plan) -> None:
    assert created.ledger is not None
    result = plan(meeting(attendees=(CARL, GINA, PAWEL), cancelled=True), created.ledger)
    message = parsed(write_invitation(to(result, "gina@example.org"), SALES, NOW))
    assert str(message["Subject"]) == "Cancelled: Project kick-off"
    assert part(message, "text/calendar").get_param("method") == "CANCEL"


def test_a_reminder_has_no_calendar_object(created: Plan) -> None:
    planned = to(created, "pawel@example.org")
    raw = write_reminder(
        planned.details,
        planned.recipient,
        SALES,
        start=at(8, 10),
        end=at(8, 11),
        message_id="reminder-1@example.com",
        reply_to=planned.organizer.email,
        now=NOW,
    )
    message = parsed(raw)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.walk()][1:] == ["text/plain", "text/html"]
    assert str(message["Subject"]).startswith("Przypomnienie: Project kick-off")
    assert "8 czerwca 2026" in text_of(message)
    assert message["Auto-Submitted"] == "auto-generated"
