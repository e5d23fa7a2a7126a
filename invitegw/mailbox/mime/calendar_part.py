"""One calendar object found in an email, with where and how it was found.

The value :func:`invitegw.mailbox.mime.extract.extract` hands to the iCalendar parser: decoded
UTF-8 bytes plus the MIME facts the parser and the pipeline need (the ``method=``
parameter as a fallback METHOD, :rfc:`6047` section 2.4; whether the object came wrapped in
a forwarded message or a TNEF stream; a readable location for logs and ``ics inspect``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CalendarPart", "PartOrigin"]


class PartOrigin(StrEnum):
    """How a calendar object travelled in its message."""

    INLINE = "inline"  # a text/calendar body part (the iMIP shape, RFC 6047 section 2.4)
    ATTACHMENT = "attachment"  # a file attached to the message (.ics, .vcs, disposition)
    FORWARDED = "forwarded"  # inside a message/rfc822 part: a forward as attachment
    TNEF = "tnef"  # a file inside an Outlook winmail.dat (application/ms-tnef)
    RETURNED = "returned"  # inside the copy of a message a delivery report returns


@dataclass(frozen=True, slots=True)
class CalendarPart:
    """A calendar object found in an email.

    Parameters:
        data: the object's bytes: transfer-decoded (base64, quoted-printable), transcoded
            from the declared charset to UTF-8, without a byte-order mark. Line endings and
            folding are as the producer wrote them.
        location: a readable MIME path: IMAP-style part numbers (``1.2``), ``/`` steps into
            an encapsulated message or TNEF stream (``2/message-rfc822/1.3``,
            ``3/winmail.dat/attachment-1``).
        content_type: the part's media type, lower-cased (``text/calendar``,
            ``application/ics`` ...; ``application/octet-stream`` inside TNEF).
        filename: the attachment's file name (RFC 2231/2047 decoded), or None.
        mime_method: the ``method=`` Content-Type parameter, upper-cased, or None.
        charset: the declared charset, lower-cased, or None when none was declared.
        encapsulated: True when found inside a message/rfc822 part or a TNEF stream.
        origin: how the object travelled (:class:`PartOrigin`).
        duplicate_locations: where identical copies of this object were also found (they
            are not returned separately).
    """

    data: bytes
    location: str
    content_type: str
    filename: str | None = None
    mime_method: str | None = None
    charset: str | None = None
    encapsulated: bool = False
    origin: PartOrigin = PartOrigin.INLINE
    duplicate_locations: tuple[str, ...] = ()
