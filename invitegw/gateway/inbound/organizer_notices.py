"""Notices to a meeting's organizer about what came back: counter-proposals, replies by hand.

They travel like every other message the gateway sends: composed now
(:func:`~invitegw.mailbox.mime.compose.compose_notice`, the text and HTML layout reminders use,
with ``Auto-Submitted: auto-generated``) and queued as an outbox row in the caller's
transaction (:func:`~invitegw.gateway.storage.enqueue`), for the dispatcher to send.

Each notice has a Message-ID derived from the message it reports (its Message-ID, else a
digest of its bytes) and from what it says, so the same received message never yields a
second notice: :func:`queue_notice` finds the row already queued (the outbox's unique
Message-ID also stops a concurrent worker) and queues nothing. The outbox row is written in
the unit of work's session: a dry run's rollback takes it back with everything else.

:func:`meeting_title` and :func:`meeting_zone` say how a notice shows the meeting: its
title and times as the gateway last sent them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import hashlib
import html
import logging
import zoneinfo
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from invitegw.domain.addresses import NamedAddress, validate_address
from invitegw.errors import AddressError, GatewayError, MimeError
from invitegw.gateway.config import CalendarSettings
from invitegw.gateway.outbound.snapshot import meeting_from_json
from invitegw.gateway.storage import OutboundMeeting, OutboxMessage, enqueue
from invitegw.mailbox.mime.compose import NoticeEmail, compose_notice
from invitegw.mailbox.mime.envelope import serialize
from invitegw.mailbox.mime.forwards import html_to_text
from invitegw.templates.render import RenderedBody

__all__ = [
    "MAX_QUOTED_CHARS",
    "already_queued",
    "meeting_title",
    "meeting_zone",
    "message_text",
    "notice_message_id",
    "queue_notice",
    "received_key",
    "write_notice",
]

logger = logging.getLogger(__name__)

# How much of a human reply's text the notice quotes (the original is attached whole).
MAX_QUOTED_CHARS = 20_000
_MAX_SUBJECT_CHARS = 200


def received_key(raw: bytes, message_id: str | None) -> str:
    """What names a received message in a notice's Message-ID: its Message-ID, else a digest.

    Parameters:
        raw: the received message.
        message_id: its Message-ID (no angle brackets), if any.

    Returns:
        ``<message-id>``, or ``sha256:`` and the hex digest of the bytes (a digest only when
        there is no Message-ID: notices already queued keep matching).
    """
    if message_id:
        return f"<{message_id}>"
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def meeting_title(meeting: OutboundMeeting, *, fallback: str = "") -> str:
    """The meeting's title as last sent (its snapshot), else ``fallback``."""
    if meeting.snapshot:
        try:
            title = meeting_from_json(meeting.snapshot).title
        except GatewayError:
            title = ""
        if title.strip():
            return " ".join(title.split())
    return " ".join(fallback.split()) or "(no title)"


def meeting_zone(meeting: OutboundMeeting, calendar: CalendarSettings) -> zoneinfo.ZoneInfo:
    """The zone to show the meeting's times in: its own, else its calendar's, else UTC.

    Parameters:
        meeting: the ledger meeting.
        calendar: the calendar it was sent from.

    Returns:
        The zone.
    """
    names: list[str | None] = []
    if meeting.snapshot:
        with contextlib.suppress(GatewayError):
            names.append(meeting_from_json(meeting.snapshot).time_zone)
    names.append(calendar.time_zone)
    for name in names:
        if not name:
            continue
        try:
            return zoneinfo.ZoneInfo(name)
        except (KeyError, ValueError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def notice_message_id(purpose: str, key: str, domain: str) -> str:
    """A stable Message-ID (without brackets) for the notice ``purpose`` about ``key``.

    Parameters:
        purpose: what kind of notice (``counter``, ``reply``): a visible prefix.
        key: what the notice is about (:func:`received_key`, plus the event for a COUNTER).
        domain: the calendar's domain.

    Returns:
        ``purpose-<32 hex digits>@domain``.
    """
    digest = hashlib.sha256(f"{purpose}\0{key}".encode()).hexdigest()[:32]
    return f"{purpose}-{digest}@{domain}"


def message_text(raw: bytes, limit: int = MAX_QUOTED_CHARS) -> str | None:
    """The readable text of a message (its plain body, else its HTML as text), capped.

    Parameters:
        raw: the message bytes.
        limit: the most characters returned (the rest is cut with a note).

    Returns:
        The text, or ``None`` when the message has no readable text body.
    """
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain", "html"))
        if body is None:
            return None
        content = body.get_content()
    except (LookupError, ValueError, TypeError, AttributeError, AssertionError) as exc:
        logger.debug("no readable text in the reply: %s", exc)
        return None
    if not isinstance(content, str):
        return None
    if body.get_content_subtype() == "html":
        content = html_to_text(content)
    text = content.replace("\r\n", "\n").strip()
    if len(text) > limit:
        text = text[:limit].rstrip() + "\n[… cut; the whole message is attached]"
    return text


def _attach_original(message: EmailMessage, original: bytes) -> None:
    if original.isascii():
        parsed = email.message_from_bytes(original, policy=email.policy.SMTP)
        message.add_attachment(parsed, filename="original.eml")
    else:
        # message/rfc822 may not be base64-encoded (RFC 2046 section 5.2.1): 8-bit originals
        # travel as a file, so no relay without 8BITMIME can refuse the notice.
        message.add_attachment(
            original, maintype="application", subtype="octet-stream", filename="original.eml"
        )
    for part in message.walk():
        if part is not message:
            del part["MIME-Version"]


def _body(subject: str, text: str) -> RenderedBody:
    """A notice's body: the text as is, and in HTML escaped in a ``pre``."""
    return RenderedBody(
        subject=" ".join(subject.split())[:_MAX_SUBJECT_CHARS],
        text=text if text.endswith("\n") else text + "\n",
        html=(
            '<!DOCTYPE html>\n<html lang="en" dir="ltr"><body>'
            '<pre style="white-space: pre-wrap; font-family: inherit">'
            f"{html.escape(text)}</pre></body></html>\n"
        ),
        language="en",
        direction="ltr",
    )


def write_notice(
    *,
    calendar: CalendarSettings,
    organizer: str,
    subject: str,
    text: str,
    message_id: str,
    now: dt.datetime,
    reply_to: str | None = None,
    original: bytes | None = None,
) -> bytes:
    """A notice to the organizer, serialised for SMTP.

    Parameters:
        calendar: the calendar the meeting was sent from (the From address).
        organizer: the organizer's address (validated by the caller).
        subject: the subject line.
        text: the body (plain text; the HTML part shows it escaped).
        message_id: the notice's Message-ID.
        now: the Date header.
        reply_to: where the organizer's answer should go (the attendee), if anywhere.
        original: the reported message, attached whole.

    Returns:
        The message bytes.

    Raises:
        MimeError: an address or the Message-ID cannot be written.
    """
    body = _body(subject, text)
    reply_mailbox = None
    if reply_to:
        try:
            reply_mailbox = NamedAddress("", validate_address(reply_to))
        except AddressError:
            reply_mailbox = None
    spec = NoticeEmail(
        body=body,
        sender=NamedAddress(calendar.label, calendar.sender),
        recipient=NamedAddress("", organizer),
        message_id=message_id,
        date=now,
        reply_to=reply_mailbox,
    )
    message = compose_notice(spec)
    if original is not None:
        try:
            _attach_original(message, original)
        except (ValueError, TypeError, LookupError) as exc:
            raise MimeError(f"the original message cannot be attached: {exc}") from exc
    return serialize(message, [calendar.sender, organizer])


def already_queued(session: Session, message_id: str) -> bool:
    """Whether a notice with ``message_id`` (no angle brackets) is in the outbox already."""
    bracketed = f"<{message_id}>"
    return (
        session.scalar(select(OutboxMessage.id).where(OutboxMessage.message_id == bracketed))
        is not None
    )


def queue_notice(
    session: Session,
    *,
    message_id: str,
    raw: bytes,
    sender: str,
    organizer: str,
    kind: str,
    meeting_row_id: int,
    now: dt.datetime,
) -> bool:
    """Queue a notice once: nothing when a row with this Message-ID exists already.

    Parameters:
        session: the caller's unit of work.
        message_id: the notice's Message-ID (without brackets).
        raw: the composed notice.
        sender: the envelope sender (the calendar's From address).
        organizer: the one recipient.
        kind: the outbox kind (``counter-notice``, ``reply-forward``).
        meeting_row_id: the ledger meeting it concerns (for the delivery log).
        now: the current time.

    Returns:
        True when queued now; False when it had been queued before.
    """
    bracketed = f"<{message_id}>"
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.message_id == bracketed)):
        return False
    try:
        with session.begin_nested():
            # No attendee_id: the dispatcher must not take the organizer's delivery for an
            # attendee's.
            enqueue(
                session,
                message_id=bracketed,
                sender=sender,
                recipient=organizer,
                now=now,
                kind=kind,
                meeting_id=meeting_row_id,
                raw=raw,
            )
    except IntegrityError:
        return False  # another worker queued it first
    return True
