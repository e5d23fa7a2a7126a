"""iMIP email composition (:rfc:`6047`): one invitation, update or cancellation per recipient.

The default layout is the one Thunderbird and Google send, which Outlook, Gmail, Apple Mail
and Thunderbird all turn into Accept/Decline buttons::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain
    │   ├── text/html
    │   └── text/calendar; method=REQUEST; charset=UTF-8   (base64)
    └── application/ics; name=invite.ics                    (the same object, base64)

The METHOD parameter equals the VCALENDAR's METHOD (:rfc:`6047` section 2.4). The
"Outlook compatibility" layout is a single ``text/calendar; method=...`` body with
``Content-class: urn:content-classes:calendarmessage``, as Exchange itself sends.

Headers are built with :class:`email.message.EmailMessage` and structured address objects,
so a display name from the CRM cannot inject a header. The result serialises with
``email.policy.SMTP`` (CRLF line ends), ready for ``smtplib``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from invitegw.domain.addresses import NamedAddress, ascii_address
from invitegw.errors import MimeError
from invitegw.ics.model import Method
from invitegw.templates.render import RenderedBody

__all__ = [
    "ICS_FILENAME",
    "InvitationEmail",
    "NoticeEmail",
    "compose_invitation",
    "compose_notice",
    "format_msgid",
    "header_address",
]

ICS_FILENAME = "invite.ics"
_METHOD_LINE = re.compile(rb"^METHOD:([A-Za-z-]+)\r?$", re.MULTILINE)
_MSGID_BODY = re.compile(r"^[!-;=?-~]+@[!-;=?-~]+$")  # RFC 5322 msg-id without the brackets


def header_address(mailbox: NamedAddress) -> Address:
    """``mailbox`` as a structured header value.

    Raises:
        MimeError: the address has no ``@`` or contains characters a header forbids.
    """
    # An ASCII local part with an internationalised domain goes out as A-labels, so the
    # message needs no SMTPUTF8 relay (RFC 6531 is for non-ASCII local parts).
    local, sep, domain = ascii_address(mailbox.address).rpartition("@")
    if not sep or not local or not domain:
        raise MimeError(f"not an email address: {mailbox.address!r}")
    # Display names come from the CRM: fold any line break into a space.
    name = " ".join(mailbox.name.split())
    try:
        return Address(display_name=name, username=local, domain=domain)
    except (ValueError, IndexError) as exc:
        raise MimeError(f"cannot use {mailbox.address!r} in a header: {exc}") from exc


@dataclass(frozen=True, slots=True)
class InvitationEmail:
    """What one iMIP message consists of.

    ``calendar`` is the serialised iCalendar object (``ics.build``): UTF-8, CRLF, its
    METHOD equal to ``method``. ``message_id`` is the stable id the outbox row carries,
    with or without angle brackets.
    """

    method: Method
    calendar: bytes
    body: RenderedBody
    sender: NamedAddress
    recipient: NamedAddress
    message_id: str
    date: dt.datetime
    reply_to: NamedAddress | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    outlook_compat: bool = False
    attach_ics: bool = True


@dataclass(frozen=True, slots=True)
class NoticeEmail:
    """A message without a calendar object: a reminder, a notice to an organizer.

    The same header rules as :class:`InvitationEmail` apply (Auto-Submitted, a stable
    Message-ID, threading through In-Reply-To and References).
    """

    body: RenderedBody
    sender: NamedAddress
    recipient: NamedAddress
    message_id: str
    date: dt.datetime
    reply_to: NamedAddress | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


def format_msgid(value: str) -> str:
    """``value`` as an RFC 5322 msg-id, ``<left@right>``.

    Raises:
        MimeError: ``value`` is not of the form ``left@right`` in visible ASCII.
    """
    bare = value.strip().removeprefix("<").removesuffix(">")
    if not _MSGID_BODY.match(bare):
        raise MimeError(f"not a valid Message-ID: {value!r}")
    return f"<{bare}>"


def _calendar_text(spec: InvitationEmail) -> str:
    found = _METHOD_LINE.findall(spec.calendar)
    if len(found) != 1 or found[0].decode("ascii").upper() != spec.method.value:
        raise MimeError(
            f"the calendar's METHOD {[m.decode('ascii') for m in found]} does not match "
            f"the message method {spec.method.value}"
        )
    try:
        return spec.calendar.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MimeError("the calendar object is not valid UTF-8") from exc


def _set_headers(msg: EmailMessage, spec: InvitationEmail | NoticeEmail) -> None:
    if spec.date.tzinfo is None:
        raise MimeError("the message date must be timezone-aware")
    msg["From"] = header_address(spec.sender)
    msg["To"] = header_address(spec.recipient)
    if spec.reply_to is not None:
        msg["Reply-To"] = header_address(spec.reply_to)
    msg["Subject"] = " ".join(spec.body.subject.split())
    msg["Date"] = format_datetime(spec.date)
    msg["Message-ID"] = format_msgid(spec.message_id)
    if spec.in_reply_to:
        msg["In-Reply-To"] = format_msgid(spec.in_reply_to)
    if spec.references:
        msg["References"] = " ".join(format_msgid(ref) for ref in spec.references)
    # RFC 3834: a machine sent this; Exchange: do not answer it with out-of-office notes.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"


def compose_invitation(spec: InvitationEmail) -> EmailMessage:
    """Build the iMIP message described by ``spec``.

    Parameters:
        spec: the parts of the message.

    Returns:
        The message; serialise it with ``msg.as_bytes(policy=email.policy.SMTP)``.

    Raises:
        MimeError: an address or Message-ID is unusable, or the calendar's METHOD does not
            match ``spec.method``.
    """
    ics_text = _calendar_text(spec)
    params = {"method": spec.method.value}
    if spec.outlook_compat:
        msg = EmailMessage(policy=policy.SMTP)
        _set_headers(msg, spec)
        msg.set_content(ics_text, subtype="calendar", charset="utf-8", cte="base64", params=params)
        msg["Content-class"] = "urn:content-classes:calendarmessage"
        msg["Content-Language"] = spec.body.language
        return msg
    msg = _text_and_html(spec)
    msg.add_alternative(ics_text, subtype="calendar", charset="utf-8", cte="base64", params=params)
    if spec.attach_ics:
        msg.add_attachment(
            spec.calendar,
            maintype="application",
            subtype="ics",
            filename=ICS_FILENAME,
            params={"name": ICS_FILENAME},
        )
    return _finished(msg, spec.body.language)


def _text_and_html(spec: InvitationEmail | NoticeEmail) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    _set_headers(msg, spec)
    msg.set_content(spec.body.text, subtype="plain", charset="utf-8")
    msg.add_alternative(spec.body.html, subtype="html", charset="utf-8")
    return msg


def _finished(msg: EmailMessage, language: str) -> EmailMessage:
    # set_content() drops Content-* headers, so the language goes on last.
    msg["Content-Language"] = language
    for part in msg.walk():
        # EmailMessage gives every sub-part a MIME-Version; RFC 2045 wants it only on top.
        if part is not msg:
            del part["MIME-Version"]
    return msg


def compose_notice(spec: NoticeEmail) -> EmailMessage:
    """Build a plain ``multipart/alternative`` (text and HTML) message: no calendar part.

    Parameters:
        spec: the parts of the message.

    Returns:
        The message; serialise it with ``msg.as_bytes(policy=email.policy.SMTP)``.

    Raises:
        MimeError: an address or Message-ID is unusable, or the date is naive.
    """
    return _finished(_text_and_html(spec), spec.body.language)
