"""The bytes of an iMIP message or notice, written without rebuilding the same parts.

:func:`invitation_bytes` returns exactly what ``serialize(compose_invitation(spec), ...)``
returns (and :func:`notice_bytes` what ``serialize(compose_notice(spec), ...)`` returns),
byte for byte, boundaries drawn the same way, but about ten times faster. The email
package spends most of a message's time on parts that are the same for every recipient:
the text and HTML bodies (encoding them, quoted-printable in pure Python, and parsing their
``Content-*`` headers again at every step), and it parses every header it writes.

Here the email package still writes every part and every header, so the output is its
output, but each distinct one only once:

- a body part (text or HTML) is composed and serialised once per body and kept;
- the calendar part and the ``invite.ics`` attachment have headers that depend only on the
  METHOD: those are taken once from a part the email package serialised; the base64 body
  is written as its content manager writes it (57 bytes a line, CRLF after each);
- each header line is folded by the policy once per value (From, Subject and Date repeat
  across a meeting's messages);
- the multipart frames are assembled as :class:`email.generator.BytesGenerator` assembles
  them, with its own boundary maker (so the boundaries are drawn as before).

Anything unusual (Outlook's single-part layout, a header the serialising policy refuses)
goes through :mod:`~invitegw.mailbox.mime.compose` as before, which also raises the same
errors. ``tests/mailbox/test_wire.py`` compares both on generated messages.
"""

from __future__ import annotations

import binascii
import email.errors
import email.policy
import functools
import io
import random
import re
import sys
from collections.abc import Callable, Sequence
from email.contentmanager import _encode_text  # type: ignore[attr-defined]
from email.generator import NLCRE as _LINE_ENDS  # type: ignore[attr-defined]
from email.generator import BytesGenerator
from email.headerregistry import Address, BaseHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime

from invitegw.domain.addresses import NamedAddress, ascii_address
from invitegw.errors import MimeError
from invitegw.mailbox.mime.compose import (
    ICS_FILENAME,
    InvitationEmail,
    NoticeEmail,
    _calendar_text,
    compose_invitation,
    compose_notice,
    format_msgid,
    header_address,
)
from invitegw.mailbox.mime.envelope import serialize

__all__ = ["invitation_bytes", "notice_bytes"]

_NL = b"\r\n"
_STORE = email.policy.SMTP  # the policy the message objects are built with
# What the content manager puts on a base64 line: max_line_length // 4 * 3 bytes.
_BASE64_CHUNK = (_STORE.max_line_length or 78) // 4 * 3
# The generator's boundary: 15 "=", the random number zero-padded to sys.maxsize's width, "==".
_BOUNDARY_DIGITS = f"%0{len(repr(sys.maxsize - 1))}d"
_STAND_IN = "=" * 15 + _BOUNDARY_DIGITS % 0 + "=="
_FAILURES = (email.errors.MessageError, UnicodeError, ValueError, IndexError)


def _policy(international: bool) -> EmailPolicy[EmailMessage]:
    return email.policy.SMTPUTF8 if international else email.policy.SMTP


def _flatten(part: EmailMessage, policy: EmailPolicy[EmailMessage]) -> bytes:
    """``part`` as :class:`BytesGenerator` writes a sub-part of a message."""
    buffer = io.BytesIO()
    BytesGenerator(buffer, False, policy=policy).flatten(part, unixfrom=False, linesep="\r\n")
    return buffer.getvalue()


@functools.lru_cache(maxsize=256)
def _text_part(text: str, subtype: str, international: bool) -> bytes:
    """A text or HTML body part, serialised (once per body).

    The content manager's own encoder chooses the transfer encoding and encodes (what
    ``set_content`` does); the headers for that choice are taken once from a part the email
    package wrote; the payload's lines are written as the generator writes them.
    """
    cte: str
    payload: str
    cte, payload = _encode_text(text, "utf-8", None, _STORE)
    lines: list[str] = _LINE_ENDS.split(payload)
    written = "".join(line + "\r\n" for line in lines[:-1]) + lines[-1]
    return _text_head(subtype, cte, international) + written.encode("ascii", "surrogateescape")


@functools.lru_cache(maxsize=64)
def _text_head(subtype: str, cte: str, international: bool) -> bytes:
    part = EmailMessage(policy=_STORE)
    part.set_content("x\n", subtype=subtype, charset="utf-8", cte=cte)
    del part["MIME-Version"]
    flat = _flatten(part, _policy(international))
    return flat[: flat.index(_NL + _NL) + 4]


@functools.lru_cache(maxsize=32)
def _base64_heads(method: str, international: bool) -> tuple[bytes, bytes]:
    """The header blocks of the calendar part and of the attachment, for ``method``."""
    calendar = EmailMessage(policy=_STORE)
    params = {"method": method}
    calendar.set_content("x", subtype="calendar", charset="utf-8", cte="base64", params=params)
    attachment = EmailMessage(policy=_STORE)
    attachment.set_content(
        b"x",
        maintype="application",
        subtype="ics",
        filename=ICS_FILENAME,
        params={"name": ICS_FILENAME},
        disposition="attachment",
    )
    heads = []
    for part in (calendar, attachment):
        del part["MIME-Version"]
        flat = _flatten(part, _policy(international))
        heads.append(flat[: flat.index(_NL + _NL) + 4])
    return heads[0], heads[1]


def _base64_body(data: bytes) -> bytes:
    return b"".join(
        binascii.b2a_base64(data[i : i + _BASE64_CHUNK])[:-1] + _NL
        for i in range(0, len(data), _BASE64_CHUNK)
    )


def _crlf_text(data: bytes) -> bytes:
    """What the content manager encodes for a text part: its lines, each ended by CRLF."""
    return b"".join(line + _NL for line in data.splitlines())


@functools.lru_cache(maxsize=64)
def _header_class(name: str) -> Callable[[str, object], BaseHeader]:
    # The registry builds a new class for every header it makes (``header_factory[name]``);
    # calling the class is all ``header_factory(name, value)`` does besides.
    made: Callable[[str, object], BaseHeader] = _STORE.header_factory[name]  # type: ignore[index]
    return made


@functools.lru_cache(maxsize=4096)
def _header_line(name: str, value: str, international: bool) -> bytes:
    return _policy(international).fold_binary(name, _header_class(name)(name, value))


@functools.lru_cache(maxsize=4096)
def _address_line(name: str, mailbox: NamedAddress, international: bool) -> bytes:
    address: Address = header_address(mailbox)
    return _policy(international).fold_binary(name, _header_class(name)(name, address))


def _headers(
    spec: InvitationEmail | NoticeEmail, international: bool, content_type: str, boundary: str
) -> bytes:
    """The top-level header block, in the order ``compose`` sets the headers."""
    if spec.date.tzinfo is None:
        raise MimeError("the message date must be timezone-aware")
    lines = [
        _address_line("From", spec.sender, international),
        _address_line("To", spec.recipient, international),
    ]
    if spec.reply_to is not None:
        lines.append(_address_line("Reply-To", spec.reply_to, international))
    values = [
        ("Subject", " ".join(spec.body.subject.split())),
        ("Date", format_datetime(spec.date)),
        ("Message-ID", format_msgid(spec.message_id)),
    ]
    if spec.in_reply_to:
        values.append(("In-Reply-To", format_msgid(spec.in_reply_to)))
    if spec.references:
        values.append(("References", " ".join(format_msgid(ref) for ref in spec.references)))
    values += [
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "OOF, AutoReply"),
        ("MIME-Version", "1.0"),
    ]
    lines += [_header_line(name, value, international) for name, value in values]
    lines.append(_content_type_line(content_type, boundary, international))
    lines.append(_header_line("Content-Language", spec.body.language, international))
    return b"".join(lines) + _NL


def _boundary(text: bytes) -> str:
    """``BytesGenerator._make_boundary(text)``: the same random draw, the same result.

    The generator compiles a regular expression for each boundary to see whether a line of
    ``text`` is that boundary; a boundary that does not occur in ``text`` at all cannot, so
    the expression is needed only when it does (then the generator's loop, as it is).
    """
    token = random.randrange(sys.maxsize)
    boundary = "=" * 15 + _BOUNDARY_DIGITS % token + "=="
    if b"--" + boundary.encode("ascii") not in text:
        return boundary
    found, counter = boundary, 0
    while re.search(f"^--{re.escape(found)}(--)?$".encode("ascii"), text, re.MULTILINE):
        found = f"{boundary}.{counter}"
        counter += 1
    return found


def _content_type_line(content_type: str, boundary: str, international: bool) -> bytes:
    """The folded ``Content-Type: multipart/...; boundary="..."`` line.

    Every boundary the generator draws has the same shape (15 ``=``, 19 digits, ``==``),
    so the line is folded once with a stand-in of that shape and the boundary put in its
    place; a boundary of another shape (a clash suffix) is folded on its own.
    """
    if len(boundary) != len(_STAND_IN) or not boundary[15:-2].isdigit():
        return _header_line("Content-Type", f'{content_type}; boundary="{boundary}"', international)
    line = _header_line("Content-Type", f'{content_type}; boundary="{_STAND_IN}"', international)
    return line.replace(_STAND_IN.encode("ascii"), boundary.encode("ascii"))


def _multipart(parts: Sequence[bytes]) -> tuple[str, bytes]:
    """A boundary no part contains and the multipart body, as the generator writes them."""
    boundary = _boundary(_NL.join(parts))
    dash = b"--" + boundary.encode("ascii")
    body = dash + _NL + (_NL + dash + _NL).join(parts) + _NL + dash + b"--" + _NL
    return boundary, body


def _is_international(spec: InvitationEmail | NoticeEmail) -> bool:
    addresses = (spec.sender.address, spec.recipient.address)
    return not all(ascii_address(a).isascii() for a in addresses)


def invitation_bytes(spec: InvitationEmail) -> bytes:
    """``serialize(compose_invitation(spec), [sender, recipient])``, faster.

    Parameters:
        spec: the parts of the message.

    Returns:
        The message bytes (CRLF line ends), identical to the composed and serialised one.

    Raises:
        MimeError: as :func:`~invitegw.mailbox.mime.compose.compose_invitation` and
            :func:`~invitegw.mailbox.mime.envelope.serialize` raise it.
    """
    addresses = [spec.sender.address, spec.recipient.address]
    if spec.outlook_compat:
        return serialize(compose_invitation(spec), addresses)
    _calendar_text(spec)  # the METHOD and UTF-8 checks, with their errors
    international = _is_international(spec)
    calendar_head, attachment_head = _base64_heads(spec.method.value, international)
    body = spec.body
    try:
        parts = [
            _text_part(body.text, "plain", international),
            _text_part(body.html, "html", international),
            calendar_head + _base64_body(_crlf_text(spec.calendar)),
        ]
        if not spec.attach_ics:
            boundary, alternative = _multipart(parts)
            return _headers(spec, international, "multipart/alternative", boundary) + alternative
        inner_boundary, inner = _multipart(parts)
        head = _content_type_line("multipart/alternative", inner_boundary, international)
        alternative = head + _NL + inner
        boundary, outer = _multipart([alternative, attachment_head + _base64_body(spec.calendar)])
        return _headers(spec, international, "multipart/mixed", boundary) + outer
    except _FAILURES:
        return serialize(compose_invitation(spec), addresses)


def notice_bytes(spec: NoticeEmail) -> bytes:
    """``serialize(compose_notice(spec), [sender, recipient])``, faster.

    Parameters:
        spec: the parts of the message.

    Returns:
        The message bytes (CRLF line ends), identical to the composed and serialised one.

    Raises:
        MimeError: as :func:`~invitegw.mailbox.mime.compose.compose_notice` and
            :func:`~invitegw.mailbox.mime.envelope.serialize` raise it.
    """
    international = _is_international(spec)
    try:
        boundary, body = _multipart(
            [
                _text_part(spec.body.text, "plain", international),
                _text_part(spec.body.html, "html", international),
            ]
        )
        return _headers(spec, international, "multipart/alternative", boundary) + body
    except _FAILURES:
        return serialize(compose_notice(spec), [spec.sender.address, spec.recipient.address])
