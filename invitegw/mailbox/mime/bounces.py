"""Delivery failure reports: recognise them, and read who failed and which message failed.

A bounce of one of our invitations must update that attendee's delivery state, never be
read as a new invitation, although it usually carries the invitation back in full.

Standard reports are ``multipart/report; report-type=delivery-status`` (:rfc:`6522`) with a
``message/delivery-status`` part (:rfc:`3464`) and the returned message or its headers.
Common non-standard ones are recognised cheaply: Exim's ``X-Failed-Recipients`` header, and
a notification from a mailer daemon (null Return-Path, ``MAILER-DAEMON``, ``postmaster``,
Exchange's ``MicrosoftExchange…`` sender) with an "Undeliverable"-style subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from enum import StrEnum

from invitegw.domain.addresses import NamedAddress, normalize_address
from invitegw.errors import AddressError
from invitegw.mailbox.mime.address_headers import parse_address_header
from invitegw.mailbox.mime.calendar_part import CalendarPart
from invitegw.mailbox.mime.headers import MessageHeaders, first_value, header_index
from invitegw.mailbox.mime.headertext import decode_bytes, normalize_message_id, unfold
from invitegw.mailbox.mime.payload import raw_payload

__all__ = [
    "Bounce",
    "BounceKind",
    "FailedRecipient",
    "delivery_status_fields",
    "headers_message_id",
    "is_delivery_report",
    "looks_like_nonstandard_bounce",
    "recipients_from_status",
    "recipients_from_x_failed",
    "status_field",
]

_REPORT_TYPES = frozenset({"delivery-status", "global-delivery-status"})
_NDR_SUBJECT_RE = re.compile(
    r"^\s*(undeliverable|undelivered|delivery (?:status notification|failure|has failed)|"
    r"returned mail|failure notice|mail delivery (?:failed|failure|system)|"
    r"non[- ]delivery|unzustellbar|nicht zustellbar|niedostarczalne|"
    r"non recapitabile|non remis|impossible de remettre|no se puede entregar)",
    re.IGNORECASE,
)
_DAEMON_LOCALS = frozenset({"mailer-daemon", "mail-daemon", "mailerdaemon", "postmaster"})
_HEADER_PARSER = HeaderParser(policy=compat32)
_MAX_RECIPIENTS = 1000


class BounceKind(StrEnum):
    """How a bounce was recognised."""

    DSN = "dsn"  # multipart/report; report-type=delivery-status (RFC 6522, RFC 3464)
    NON_STANDARD = "non-standard"  # X-Failed-Recipients, or a daemon's "Undeliverable"


@dataclass(frozen=True, slots=True)
class FailedRecipient:
    """One recipient a delivery report speaks of.

    Parameters:
        address: the recipient (Final-Recipient, else Original-Recipient), canonical form
            when it is an address, else as written.
        action: the DSN Action (``failed``, ``delayed``, ``delivered``, ``relayed``,
            ``expanded``), lower-cased; ``failed`` for non-standard bounces.
        status: the DSN Status code (``5.1.1``), or None.
        diagnostic_code: the Diagnostic-Code as written (``smtp; 550 5.1.1 …``), or None.
        original_recipient: the Original-Recipient address, or None.
    """

    address: str
    action: str | None = None
    status: str | None = None
    diagnostic_code: str | None = None
    original_recipient: str | None = None

    @property
    def is_failure(self) -> bool:
        """True for a permanent failure (Action ``failed``, or a 5.x.x status)."""
        if self.action is not None:
            return self.action == "failed"
        return (self.status or "").startswith("5")


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery failure report.

    Calendar objects inside the returned message are in ``returned_calendar_parts`` only,
    never in :attr:`Extraction.calendar_parts <invitegw.mailbox.mime.extract.Extraction>`: the
    pipeline can correlate them (UID) with what it sent, and can never take them for a
    new invitation.

    Parameters:
        kind: how the bounce was recognised.
        recipients: every recipient the report names, with its action; :attr:`failed`
            filters the permanent failures (a delay report has none).
        original_message_id: the Message-ID of the returned message (from its
            ``message/rfc822`` or ``text/rfc822-headers`` part), or None.
        original_envelope_id: the DSN Original-Envelope-Id (the ENVID we gave at MAIL
            FROM, :rfc:`3461` section 4.4), or None.
        reporting_mta: the Reporting-MTA, or None.
        returned_calendar_parts: calendar objects of the returned message, origin
            ``RETURNED``.
    """

    kind: BounceKind
    recipients: tuple[FailedRecipient, ...] = ()
    original_message_id: str | None = None
    original_envelope_id: str | None = None
    reporting_mta: str | None = None
    returned_calendar_parts: tuple[CalendarPart, ...] = ()

    @property
    def failed(self) -> tuple[FailedRecipient, ...]:
        """The recipients whose delivery failed permanently."""
        return tuple(r for r in self.recipients if r.is_failure)


def is_delivery_report(part: Message) -> bool:
    """Tell whether a part is a delivery status report (:rfc:`6522`, :rfc:`6533`).

    Parameters:
        part: a parsed MIME part.

    Returns:
        True for ``multipart/report`` with ``report-type`` ``delivery-status`` or
        ``global-delivery-status``.
    """
    if part.get_content_type() != "multipart/report":
        return False
    report_type = part.get_param("report-type")
    return isinstance(report_type, str) and report_type.strip().lower() in _REPORT_TYPES


def looks_like_nonstandard_bounce(headers: MessageHeaders, index: dict[str, list[str]]) -> bool:
    """Tell whether a message that is no RFC 6522 report is still a bounce.

    Parameters:
        headers: the message's header facts.
        index: its header index (:func:`~invitegw.mailbox.mime.headers.header_index`).

    Returns:
        True for Exim's ``X-Failed-Recipients``, or a daemon sender (null Return-Path,
        MAILER-DAEMON, postmaster, Exchange's system mailbox) with a non-delivery subject.
    """
    if "x-failed-recipients" in index:
        return True
    local = headers.from_.address.split("@", 1)[0] if headers.from_ else ""
    daemon = (
        headers.return_path == ""
        or local in _DAEMON_LOCALS
        or local.startswith("microsoftexchange")
    )
    return daemon and bool(_NDR_SUBJECT_RE.match(headers.subject))


def _address(value: str | None) -> str | None:
    if not value:
        return None
    # "rfc822; user@example.com" (RFC 3464 section 2.3.2); other address types as written.
    kind, sep, rest = unfold(value).partition(";")
    text = rest.strip() if sep else kind.strip()
    try:
        return normalize_address(text)
    except AddressError:
        return text or None


def _text_blocks(raw: bytes) -> list[dict[str, list[str]]]:
    text = decode_bytes(raw, "utf-8").replace("\r\n", "\n")
    return [
        header_index(_HEADER_PARSER.parsestr(chunk.strip("\n") + "\n"))
        for chunk in re.split(r"\n[ \t]*\n", text)
        if chunk.strip()
    ]


def _raw(payload: object) -> bytes:
    return payload.encode("ascii", "surrogateescape") if isinstance(payload, str) else b""


def _blocks(part: Message) -> list[dict[str, list[str]]]:
    payload = raw_payload(part)
    if not isinstance(payload, list):
        return _text_blocks(_raw(payload))
    # compat32 splits message/delivery-status into one sub-message per block; for
    # message/global-delivery-status it makes one sub-message whose body holds the rest.
    blocks: list[dict[str, list[str]]] = []
    for block in payload:
        if not isinstance(block, Message):
            continue
        blocks.append(header_index(block))
        rest = block.get_payload(decode=True) if not block.is_multipart() else None
        if isinstance(rest, bytes) and rest.strip():
            blocks.extend(_text_blocks(rest))
    return blocks


def status_field(block: dict[str, list[str]], name: str) -> str | None:
    """One field of a DSN status block, with its folding whitespace collapsed.

    Parameters:
        block: the block's :func:`~invitegw.mailbox.mime.headers.header_index`.
        name: the field name, lower case (``reporting-mta``).

    Returns:
        The value, or None when the block has no such field.
    """
    value = first_value(block, name)
    return " ".join(value.split()) if value is not None else None


def delivery_status_fields(part: Message) -> tuple[dict[str, list[str]], list[FailedRecipient]]:
    """Read a ``message/delivery-status`` part (:rfc:`3464` section 2).

    Parameters:
        part: the status part (``compat32`` parses its blocks as sub-messages; a status
            part it left as text, as for ``message/global-delivery-status``, is split here).

    Returns:
        The per-message fields (Reporting-MTA, Original-Envelope-Id ...) and one
        :class:`FailedRecipient` per per-recipient block.
    """
    blocks = _blocks(part)
    if not blocks:
        return {}, []
    return blocks[0], recipients_from_status(blocks[1:])


def recipients_from_status(blocks: list[dict[str, list[str]]]) -> list[FailedRecipient]:
    """Read the per-recipient blocks of a delivery status (:rfc:`3464` section 2.3).

    Parameters:
        blocks: the blocks after the per-message one, as header indexes.

    Returns:
        One :class:`FailedRecipient` per block that names a recipient (at most 1000).
    """
    found: list[FailedRecipient] = []
    for block in blocks[:_MAX_RECIPIENTS]:
        original = _address(status_field(block, "original-recipient"))
        address = _address(status_field(block, "final-recipient")) or original
        if address is None:
            continue
        action = status_field(block, "action")
        status = status_field(block, "status")
        found.append(
            FailedRecipient(
                address=address,
                action=action.split("(", 1)[0].strip().lower() if action else None,
                status=status.split(" ", 1)[0].split("(", 1)[0].strip() if status else None,
                diagnostic_code=status_field(block, "diagnostic-code"),
                original_recipient=original,
            )
        )
    return found


def recipients_from_x_failed(values: list[str]) -> list[FailedRecipient]:
    """Read Exim's ``X-Failed-Recipients`` header(s).

    Parameters:
        values: the raw header values.

    Returns:
        One failed :class:`FailedRecipient` per address named.
    """
    found: list[NamedAddress] = []
    for value in values:
        found.extend(parse_address_header(value))
    return [FailedRecipient(address=m.address, action="failed") for m in found[:_MAX_RECIPIENTS]]


def headers_message_id(text: str) -> str | None:
    """Read the Message-ID of a returned header block (``text/rfc822-headers``, RFC 6522).

    Parameters:
        text: the decoded part.

    Returns:
        The msg-id without brackets, or None.
    """
    value = _HEADER_PARSER.parsestr(text).get("message-id")
    return normalize_message_id(str(value)) if value is not None else None
