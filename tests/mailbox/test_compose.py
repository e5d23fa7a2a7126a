"""iMIP composition: structure, METHOD agreement, headers, CRLF, no header injection."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import email
from email import policy
from email.message import EmailMessage

import pytest

from invitegw.domain.addresses import NamedAddress
from invitegw.errors import MimeError
from invitegw.ics.model import Method
from invitegw.mailbox.mime.compose import (
    ICS_FILENAME,
    InvitationEmail,
    compose_invitation,
    format_msgid,
)
from invitegw.templates.render import RenderedBody

# A hand-written calendar object: composition treats it as opaque bytes.
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//invitegw//tests//EN\r\nMETHOD:{method}\r\n"
    "BEGIN:VEVENT\r\nUID:meeting-1@example.com\r\nDTSTAMP:20261123T120000Z\r\n"
    "DTSTART:20261203T133000Z\r\nDTEND:20261203T143000Z\r\nSUMMARY:Przegląd kwartalny\r\n"
    "ORGANIZER;CN=Anna:mailto:sales+t1@example.com\r\n"
    "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)
BODY = RenderedBody(
    subject="Zaproszenie: Przegląd kwartalny",
    text="Anna zaprasza Cię na spotkanie.\n",
    html='<!DOCTYPE html><html lang="pl"><body><p>Anna</p></body></html>\n',
    language="pl",
    direction="ltr",
)


def spec(**changes: object) -> InvitationEmail:
    method = changes.get("method", Method.REQUEST)
    assert isinstance(method, Method)
    changes.setdefault("calendar", ICS.format(method=method.value).encode())
    base = InvitationEmail(
        method=method,
        calendar=b"",
        body=BODY,
        sender=NamedAddress("Anna Kowalska (Sales)", "sales@example.com"),
        recipient=NamedAddress("Bob Builder", "bob@example.org"),
        reply_to=NamedAddress("Anna Kowalska", "sales+t1@example.com"),
        message_id="out.1.meeting-1@example.com",
        date=dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def wire(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=policy.SMTP)


def reparse(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(wire(msg), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize("method", [Method.REQUEST, Method.CANCEL])
def test_default_layout(method: Method) -> None:
    msg = reparse(compose_invitation(spec(method=method)))
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = msg.get_payload()  # type: ignore[misc]
    assert alternative.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in alternative.get_payload()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    calendar = alternative.get_payload()[2]
    assert calendar.get_param("method") == method.value
    assert calendar.get_content_charset() == "utf-8"
    assert calendar["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == ICS_FILENAME
    expected = ICS.format(method=method.value).encode()
    # Both copies carry the very same bytes, CRLF included.
    assert calendar.get_payload(decode=True) == expected
    assert attachment.get_payload(decode=True) == expected


def test_headers() -> None:
    msg = reparse(compose_invitation(spec()))
    assert msg["From"] == '"Anna Kowalska (Sales)" <sales@example.com>'
    assert msg["To"] == "Bob Builder <bob@example.org>"
    assert msg["Reply-To"] == "Anna Kowalska <sales+t1@example.com>"
    assert msg["Subject"] == "Zaproszenie: Przegląd kwartalny"
    assert msg["Message-ID"] == "<out.1.meeting-1@example.com>"
    assert msg["Date"] == "Mon, 23 Nov 2026 12:00:00 +0000"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Content-Language"] == "pl"
    assert msg["MIME-Version"] == "1.0"
    # Only the top level says MIME-Version (RFC 2045 section 4).
    assert sum(1 for part in msg.walk() if part["MIME-Version"]) == 1


def test_wire_format_is_crlf_and_short_lines() -> None:
    raw = wire(compose_invitation(spec()))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


def test_outlook_compat_is_a_single_calendar_body() -> None:
    msg = reparse(compose_invitation(spec(outlook_compat=True)))
    assert msg.get_content_type() == "text/calendar"
    assert msg.get_param("method") == "REQUEST"
    assert msg["Content-class"] == "urn:content-classes:calendarmessage"
    assert msg["Content-Language"] == "pl"
    assert base64.b64decode(msg.get_payload()) == ICS.format(method="REQUEST").encode()


def test_without_attachment() -> None:
    msg = reparse(compose_invitation(spec(attach_ics=False)))
    assert msg.get_content_type() == "multipart/alternative"


def test_threading_headers() -> None:
    msg = reparse(
        compose_invitation(
            spec(in_reply_to="first@example.com", references=("first@example.com", "<b@x.y>"))
        )
    )
    assert msg["In-Reply-To"] == "<first@example.com>"
    assert msg["References"] == "<first@example.com> <b@x.y>"


def test_method_mismatch_is_refused() -> None:
    with pytest.raises(MimeError, match="does not match"):
        compose_invitation(spec(calendar=ICS.format(method="CANCEL").encode()))


def test_calendar_must_be_utf8() -> None:
    with pytest.raises(MimeError, match="UTF-8"):
        compose_invitation(spec(calendar=ICS.format(method="REQUEST").encode("iso-8859-2")))


def test_display_names_cannot_inject_headers() -> None:
    hostile = NamedAddress("Bob\r\nBcc: victim@example.net", "bob@example.org")
    msg = reparse(compose_invitation(spec(recipient=hostile)))
    assert msg["Bcc"] is None
    assert "victim@example.net" in msg["To"]  # kept as harmless display text
    assert msg["To"].addresses[0].addr_spec == "bob@example.org"


@pytest.mark.parametrize("address", ["not-an-address", "@example.com", "bob@"])
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(MimeError):
        compose_invitation(spec(recipient=NamedAddress("", address)))


def test_naive_date_is_refused() -> None:
    with pytest.raises(MimeError, match="timezone-aware"):
        compose_invitation(spec(date=dt.datetime(2026, 11, 23, 12, 0)))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("value", "expected"),
    [("a@b", "<a@b>"), ("<a.b@c.d>", "<a.b@c.d>"), (" x@y ", "<x@y>")],
)
def test_format_msgid(value: str, expected: str) -> None:
    assert format_msgid(value) == expected


@pytest.mark.parametrize("value", ["no-at-sign", "a b@c", "a@b\r\nX: y", ""])
def test_format_msgid_refuses(value: str) -> None:
    with pytest.raises(MimeError):
        format_msgid(value)
