"""Everything the inbound pipeline needs from one raw email, in one pass over its MIME tree.

:func:`extract` finds every calendar object in a message: ``text/calendar`` and
``text/x-vcalendar`` parts (the iMIP shape, :rfc:`6047` section 2.4), ``.ics``/``.vcs``
files under any content type, objects inside forwarded ``message/rfc822`` parts and inside
Outlook TNEF streams, and parts whose content is plainly iCalendar whatever they are
labelled. It also reads the header facts (:mod:`~invitegw.mailbox.mime.headers`), tells a
forward from a direct message (:mod:`~invitegw.mailbox.mime.forwards`) and a delivery failure
from an invitation (:mod:`~invitegw.mailbox.mime.bounces`). It does not interpret iCalendar:
``ics.parse`` does that with the bytes handed over here.

Choices:

- **Speed.** The message is parsed with the ``compat32`` policy (ten times faster than
  ``policy.default``, measured on real mail) and only the headers that matter are decoded, by
  hand.
- **Duplicates.** The same object present twice (Google and Horde send it inline and as
  ``invite.ics``) is returned once, in document order; the copy's location is recorded
  in :attr:`CalendarPart.duplicate_locations`. "The same" means equal after line endings,
  folding and blank lines are ignored (:func:`~invitegw.mailbox.mime.payload.calendar_key`).
- **Bounces.** In a delivery failure report every calendar object is moved to
  :attr:`Bounce.returned_calendar_parts`; :attr:`Extraction.calendar_parts` is empty, so
  no pipeline can mistake a returned invitation for a new one.
- **Caps** (:class:`MimeLimits`). A message over the size, part-count or nesting cap is
  refused whole with :class:`~invitegw.errors.MimeLimitError` naming the cap: such a
  message is hostile or broken, and quarantining it is right. A single calendar part or
  TNEF stream over its cap, or calendar parts beyond the count cap, are skipped with a
  defect note, and the rest of the message is still extracted.
- **Errors.** Malformed MIME yields a best-effort result with readable
  :attr:`Extraction.defects`. Input that is no message at all raises
  :class:`~invitegw.errors.MimeError`. No other exception escapes.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import logging
import re
from dataclasses import dataclass, field, replace
from email.message import Message

from invitegw.domain.addresses import NamedAddress
from invitegw.errors import ConfigError, MimeError, MimeLimitError
from invitegw.ics.model import CALENDAR_FILE_SUFFIXES
from invitegw.mailbox.mime.address_headers import parse_address_header
from invitegw.mailbox.mime.bounces import (
    Bounce,
    BounceKind,
    FailedRecipient,
    delivery_status_fields,
    headers_message_id,
    is_delivery_report,
    looks_like_nonstandard_bounce,
    recipients_from_x_failed,
    status_field,
)
from invitegw.mailbox.mime.calendar_part import CalendarPart, PartOrigin
from invitegw.mailbox.mime.forwards import (
    ForwardKind,
    find_inline_forward,
    has_forward_prefix,
    has_reply_prefix,
    html_to_text,
)
from invitegw.mailbox.mime.headers import MessageHeaders, first_value, header_index, read_headers
from invitegw.mailbox.mime.headertext import decode_bytes, normalize_message_id
from invitegw.mailbox.mime.params import header_params, param_filename, param_method, param_text
from invitegw.mailbox.mime.payload import (
    calendar_key,
    decoded_payload,
    looks_like_calendar,
    payload_prefix,
    raw_payload,
    to_utf8,
    transfer_encoding,
)
from invitegw.mailbox.mime.prescan import prescan
from invitegw.mailbox.mime.quickparse import parse_well_formed
from invitegw.mailbox.mime.tnef import read_tnef

__all__ = ["Extraction", "MimeLimits", "extract"]

logger = logging.getLogger(__name__)

_CALENDAR_TYPES = frozenset(
    {
        "text/calendar",
        "text/x-vcalendar",
        "text/vcalendar",
        "text/icalendar",
        "text/x-icalendar",
        "application/ics",
        "application/x-ics",
        "application/calendar",
        "application/ical",
    }
)
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_NEVER_SNIFFED = ("image/", "audio/", "video/", "font/", "model/", "multipart/", "message/")
_SAFE_LABEL_RE = re.compile(r"[^\w.+-]+")


@dataclass(frozen=True, slots=True)
class MimeLimits:
    """Caps on what one message may make the extraction do.

    Parameters:
        max_message_bytes: the raw message; over it, :class:`MimeLimitError`.
        max_parts: MIME entities counted over the whole tree, encapsulated messages
            included; over it, :class:`MimeLimitError`.
        max_depth: nesting of multiparts, encapsulated messages and TNEF streams; over it,
            :class:`MimeLimitError`.
        max_calendar_bytes: one decoded calendar object; a larger one is skipped with a
            defect note.
        max_calendar_parts: calendar objects kept from one message (after removing
            duplicates); further ones are skipped with a defect note.
        max_tnef_bytes: one decoded TNEF stream; a larger one is skipped with a note.
        max_body_scan_chars: body text searched for a forwarded header block.
        max_lines: lines in the raw message (header fields and body lines alike: the
            parser keeps each one as an object of its own); over it,
            :class:`MimeLimitError`.

    The whole-message caps (size, parts, lines) are checked on the raw bytes before
    parsing (:mod:`~invitegw.mailbox.mime.prescan`), so they bound the work, not only the
    result; the walk then checks parts and depth exactly.
    """

    max_message_bytes: int = 25 * 1024 * 1024
    max_parts: int = 500
    max_depth: int = 16
    max_calendar_bytes: int = 2 * 1024 * 1024
    max_calendar_parts: int = 50
    max_tnef_bytes: int = 10 * 1024 * 1024
    max_body_scan_chars: int = 65_536
    max_lines: int = 1_000_000

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"MimeLimits.{name} must be a positive integer, not {value!r}")


_DEFAULT_LIMITS = MimeLimits()


@dataclass(frozen=True, slots=True)
class Extraction:
    """What one email holds for the inbound pipeline.

    Parameters:
        headers: the header facts (identity, addresses, automation signals).
        calendar_parts: every distinct calendar object, in document order; empty for a
            bounce (see :attr:`Bounce.returned_calendar_parts`).
        forward_kind: how the message forwards another (:class:`ForwardKind`), or None.
        forwarder: the outer From when the message is a forward, else None.
        original_sender: the forwarded message's From (the ``message/rfc822`` part's
            header, or the quoted header block of an inline forward), when found.
        bounce: the delivery failure report, or None.
        defects: readable notes of what was wrong with the message and how it was read.
    """

    headers: MessageHeaders
    calendar_parts: tuple[CalendarPart, ...] = ()
    forward_kind: ForwardKind | None = None
    forwarder: NamedAddress | None = None
    original_sender: NamedAddress | None = None
    bounce: Bounce | None = None
    defects: tuple[str, ...] = ()

    @property
    def is_forward(self) -> bool:
        """True when the message forwards another one (attached, inline, or by subject)."""
        return self.forward_kind is not None


@dataclass(slots=True)
class _Forward:
    sender: NamedAddress | None
    has_calendar: bool = False


@dataclass(slots=True)
class _Walk:
    """The mutable state of one pass over a message tree."""

    limits: MimeLimits
    bounce_mode: bool
    dsn: bool = False
    defects: list[str] = field(default_factory=list)
    parts: int = 0
    found: list[CalendarPart] = field(default_factory=list)
    keys: dict[bytes, int] = field(default_factory=dict)
    skipped_over_count: int = 0
    forwards: list[_Forward] = field(default_factory=list)
    body_plain: Message | None = None
    body_html: Message | None = None
    status_fields: dict[str, list[str]] | None = None
    status_recipients: list[FailedRecipient] = field(default_factory=list)
    returned_message_id: str | None = None

    # -- tree ---------------------------------------------------------------------------

    def entity(
        self, part: Message, number: str, prefix: str, depth: int, origin: PartOrigin | None
    ) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise MimeLimitError(
                f"message has more than max_parts={self.limits.max_parts} MIME parts"
            )
        if depth > self.limits.max_depth:
            raise MimeLimitError(
                f"MIME nesting deeper than max_depth={self.limits.max_depth} "
                f"at part {prefix}{number or '1'}"
            )
        where = f"{prefix}{number or '1'}"
        for defect in part.defects:
            self.defects.append(f"part {where}: {_describe(defect)}")
        ctype = part.get_content_type()
        payload = raw_payload(part)
        if ctype in _STATUS_TYPES:
            if self.status_fields is None and origin is not PartOrigin.FORWARDED:
                self.status_fields, self.status_recipients = delivery_status_fields(part)
            return
        if ctype in _MESSAGE_TYPES:
            self.encapsulated(part, where, depth, origin)
            return
        if isinstance(payload, list):
            if not ctype.startswith("multipart/"):
                return  # message/partial, message/external-body: nothing of ours inside
            # RFC 6522: the message itself, or one of its top-level parts, is the report.
            top = origin is None and depth <= 1
            if top and ctype == "multipart/report" and is_delivery_report(part):
                self.dsn = self.bounce_mode = True
            for index, child in enumerate(payload, start=1):
                if isinstance(child, Message):
                    child_number = f"{number}.{index}" if number else str(index)
                    self.entity(child, child_number, prefix, depth + 1, origin)
            return
        self.leaf(part, ctype, where, depth, origin)

    def encapsulated(
        self, part: Message, where: str, depth: int, origin: PartOrigin | None
    ) -> None:
        inner = _inner_message(part, self.defects, where)
        if inner is None:
            return
        returned = self.bounce_mode or origin is PartOrigin.RETURNED
        inner_origin = PartOrigin.RETURNED if returned else PartOrigin.FORWARDED
        index = header_index(inner)
        if returned:
            if self.returned_message_id is None:
                self.returned_message_id = normalize_message_id(first_value(index, "message-id"))
            self.entity(inner, "", f"{where}/message-rfc822/", depth + 1, inner_origin)
            return
        senders = parse_address_header(first_value(index, "from"))
        forward = _Forward(senders[0] if len(senders) == 1 else None)
        if origin is None:
            self.forwards.append(forward)
        before = len(self.found)
        self.entity(inner, "", f"{where}/message-rfc822/", depth + 1, inner_origin)
        forward.has_calendar = len(self.found) > before

    def leaf(
        self, part: Message, ctype: str, where: str, depth: int, origin: PartOrigin | None
    ) -> None:
        params = header_params(part, "content-type")
        disposition_params = header_params(part, "content-disposition")
        filename = param_filename(disposition_params.get("filename") or params.get("name"))
        name = (filename or "").lower()
        if ctype in _TNEF_TYPES or name == "winmail.dat":
            self.tnef(part, where, filename, depth)
            return
        if ctype == "text/rfc822-headers":
            if self.bounce_mode and self.returned_message_id is None:
                data = decoded_payload(part, self.defects, where)
                self.returned_message_id = headers_message_id(decode_bytes(data, None))
            return
        disposition = part.get_content_disposition() if disposition_params else None
        if ctype in _CALENDAR_TYPES or name.endswith(CALENDAR_FILE_SUFFIXES):
            # iMIP's text/calendar body part often carries a name= too (Horde, Google);
            # only an explicit attachment disposition or a non-calendar type makes a file.
            inline = ctype in _CALENDAR_TYPES and disposition != "attachment"
            kind = PartOrigin.INLINE if inline else PartOrigin.ATTACHMENT
            self.calendar(part, ctype, where, filename, params, origin or kind)
            return
        attached = disposition == "attachment" or filename is not None
        sniffable = not ctype.startswith(_NEVER_SNIFFED) and ctype != "text/html"
        if sniffable and looks_like_calendar(payload_prefix(part)):
            self.defects.append(f"part {where}: iCalendar data labelled {ctype}")
            self.calendar(part, ctype, where, filename, params, origin or PartOrigin.ATTACHMENT)
            return
        if origin is None and not attached:
            if ctype == "text/plain" and self.body_plain is None:
                self.body_plain = part
            elif ctype == "text/html" and self.body_html is None:
                self.body_html = part

    # -- calendar objects ----------------------------------------------------------------

    def calendar(
        self,
        part: Message,
        ctype: str,
        where: str,
        filename: str | None,
        params: dict[str, object],
        origin: PartOrigin,
    ) -> None:
        raw = decoded_payload(part, self.defects, where)
        if self.too_big(len(raw), "max_calendar_bytes", where, "calendar object"):
            return
        charset = param_text(params.get("charset"))
        self.add(
            CalendarPart(
                data=to_utf8(raw, charset, self.defects, where),
                location=where,
                content_type=ctype,
                filename=filename,
                mime_method=param_method(params.get("method")),
                charset=charset,
                encapsulated="/" in where,  # only message and TNEF steps add a "/"
                origin=PartOrigin.RETURNED if self.bounce_mode else origin,
            )
        )

    def tnef(
        self,
        part: Message,
        where: str,
        filename: str | None,
        depth: int,
    ) -> None:
        if depth + 1 > self.limits.max_depth:
            raise MimeLimitError(f"TNEF at part {where} is deeper than max_depth")
        raw = decoded_payload(part, self.defects, where)
        if self.too_big(len(raw), "max_tnef_bytes", where, "TNEF stream"):
            return
        contents = read_tnef(raw, self.defects, where)
        label = _SAFE_LABEL_RE.sub("_", filename or "winmail.dat")
        before = len(self.found)
        for attachment in contents.attachments:
            location = f"{where}/{label}/attachment-{attachment.number}"
            name = attachment.filename.lower()
            if not (name.endswith(CALENDAR_FILE_SUFFIXES) or looks_like_calendar(attachment.data)):
                continue
            if self.too_big(
                len(attachment.data), "max_calendar_bytes", location, "calendar object"
            ):
                continue
            self.add(
                CalendarPart(
                    data=to_utf8(attachment.data, None, self.defects, location),
                    location=location,
                    content_type="application/octet-stream",
                    filename=attachment.filename or None,
                    encapsulated=True,
                    origin=PartOrigin.RETURNED if self.bounce_mode else PartOrigin.TNEF,
                )
            )
        if contents.is_meeting and len(self.found) == before:
            self.defects.append(
                f"part {where}: TNEF holds an Outlook meeting item "
                f"({contents.message_class}) as MAPI properties, not iCalendar: not converted"
            )

    def too_big(self, size: int, cap: str, where: str, what: str) -> bool:
        """Note and report a single part over a per-part cap (it is skipped, not fatal)."""
        limit: int = getattr(self.limits, cap)
        if size <= limit:
            return False
        self.defects.append(f"part {where}: {what} of {size} bytes skipped (over {cap}={limit})")
        return True

    def add(self, candidate: CalendarPart) -> None:
        if not candidate.data.strip():
            self.defects.append(f"part {candidate.location}: empty calendar part skipped")
            return
        if not self.found:
            # Keys are only needed once there is something to compare with: most messages
            # carry one calendar object, and the key costs as much as decoding it.
            self.found.append(candidate)
            return
        if not self.keys:
            self.keys[calendar_key(self.found[0].data)] = 0
        key = calendar_key(candidate.data)
        index = self.keys.get(key)
        if index is not None:
            kept = self.found[index]
            self.found[index] = replace(
                kept,
                mime_method=kept.mime_method or candidate.mime_method,
                duplicate_locations=(*kept.duplicate_locations, candidate.location),
            )
            return
        if len(self.found) >= self.limits.max_calendar_parts:
            self.skipped_over_count += 1
            return
        self.keys[key] = len(self.found)
        self.found.append(candidate)

    # -- after the walk ----------------------------------------------------------------

    def body_text(self) -> str:
        part = self.body_plain or self.body_html
        if part is None:
            return ""
        limit = self.limits.max_body_scan_chars
        data = decoded_payload(part, [], "body")[: limit * 4]
        text = decode_bytes(data, param_text(header_params(part, "content-type").get("charset")))
        if part is not self.body_plain:
            text = html_to_text(text[: limit * 4])
        return text[:limit]


def _describe(defect: object) -> str:
    doc = (type(defect).__doc__ or type(defect).__name__).strip().splitlines()[0]
    return f"{type(defect).__name__}: {doc}"


def _inner_message(part: Message, defects: list[str], where: str) -> Message | None:
    payload = raw_payload(part)
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        defects.append(f"part {where}: empty {part.get_content_type()} part")
        return None
    if transfer_encoding(part) in ("base64", "quoted-printable") and not inner.keys():
        # RFC 2046 section 5.2.1 forbids encoding message/rfc822, but some clients do:
        # the parser then sees the encoded text as a header-less body.
        defects.append(f"part {where}: encoded message/rfc822 decoded")
        data = decoded_payload(_as_leaf(part, inner), defects, where)
        return email.message_from_bytes(data)
    return inner


def _as_leaf(part: Message, inner: Message) -> Message:
    leaf = Message()
    leaf["Content-Transfer-Encoding"] = transfer_encoding(part)
    body = raw_payload(inner)
    leaf.set_payload(body if isinstance(body, str) else "")
    return leaf


def _body_sender(walk: _Walk, subject: str) -> tuple[ForwardKind | None, NamedAddress | None]:
    attached = next((f for f in walk.forwards if f.has_calendar), None) or (
        walk.forwards[0] if walk.forwards else None
    )
    if attached is not None:
        return ForwardKind.ATTACHED, attached.sender
    found, sender = find_inline_forward(walk.body_text(), reply=has_reply_prefix(subject))
    if found:
        return ForwardKind.INLINE, sender
    if has_forward_prefix(subject):
        return ForwardKind.SUBJECT, None
    return None, None


def _extract(msg: Message, limits: MimeLimits) -> Extraction:
    if not msg.keys():
        raise MimeError("not an email message: no header fields")
    defects: list[str] = []
    index = header_index(msg)
    headers = read_headers(msg, defects, index=index)
    if "from" not in index:
        defects.append("message has no From header")
    walk = _Walk(
        limits=limits,
        bounce_mode=looks_like_nonstandard_bounce(headers, index),
        defects=defects,
    )
    walk.entity(msg, "", "", 0, None)
    bounce_mode, dsn = walk.bounce_mode, walk.dsn
    if walk.skipped_over_count:
        defects.append(
            f"{walk.skipped_over_count} calendar object(s) skipped "
            f"(over max_calendar_parts={limits.max_calendar_parts})"
        )
    if msg.get_content_type() == "multipart/report" or bounce_mode:
        signal = "delivery failure report" if bounce_mode else "multipart/report"
        headers = replace(
            headers,
            is_auto_generated=True,
            suppress_auto_response=True,
            auto_signals=(*headers.auto_signals, signal),
        )
    if bounce_mode:
        fields = walk.status_fields or {}
        recipients = walk.status_recipients or recipients_from_x_failed(
            index.get("x-failed-recipients", [])
        )
        bounce = Bounce(
            kind=BounceKind.DSN if dsn else BounceKind.NON_STANDARD,
            recipients=tuple(recipients),
            original_message_id=walk.returned_message_id,
            original_envelope_id=status_field(fields, "original-envelope-id"),
            reporting_mta=status_field(fields, "reporting-mta"),
            # Parts met before the report part was reached are returned ones too.
            returned_calendar_parts=tuple(
                replace(p, origin=PartOrigin.RETURNED) for p in walk.found
            ),
        )
        return Extraction(headers=headers, bounce=bounce, defects=tuple(defects))
    kind, original = _body_sender(walk, headers.subject)
    return Extraction(
        headers=headers,
        calendar_parts=tuple(walk.found),
        forward_kind=kind,
        forwarder=headers.from_ if kind is not None else None,
        original_sender=original,
        defects=tuple(defects),
    )


_FEED_CHUNK = 64 * 1024


def _parse(data: bytes) -> Message:
    """The stdlib's tree: built by :mod:`.quickparse` when well formed, else by its parser.

    The stdlib parser is fed in chunks: ``email.message_from_bytes`` decodes the whole
    message into one string and reads it through a ``StringIO`` (four bytes per
    character): fed in pieces, the parser holds about half as much at its peak (a 25 MiB
    one-line body: 126 MB instead of 256 MB).
    """
    quick = parse_well_formed(data)
    if quick is not None:
        return quick
    parser = email.parser.BytesFeedParser(policy=email.policy.compat32)
    view = memoryview(data)
    for start in range(0, len(data), _FEED_CHUNK):
        parser.feed(bytes(view[start : start + _FEED_CHUNK]))
    return parser.close()


def extract(raw: bytes, *, limits: MimeLimits | None = None) -> Extraction:
    """Read one raw RFC 5322 message: its calendar objects, header facts, forward, bounce.

    Parameters:
        raw: the message as received (bytes, CRLF or LF line endings).
        limits: the caps to apply; the :class:`MimeLimits` defaults when None.

    Returns:
        The :class:`Extraction`.

    Raises:
        MimeLimitError: the message is over a whole-message cap (size, parts, lines,
            nesting); the message names the cap.
        MimeError: the input is not an email message at all (no header fields, not
            bytes). Malformed MIME otherwise yields a best-effort result with defects.
    """
    caps = limits if limits is not None else _DEFAULT_LIMITS
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MimeError(f"expected the message as bytes, got {type(raw).__name__}")
    data = bytes(raw)
    if len(data) > caps.max_message_bytes:
        raise MimeLimitError(
            f"message of {len(data)} bytes is over max_message_bytes={caps.max_message_bytes}"
        )
    if not data.strip():
        raise MimeError("not an email message: empty input")
    prescan(data, caps)
    try:
        msg = _parse(data)
        result = _extract(msg, caps)
    except MimeError:
        raise
    except RecursionError as exc:
        raise MimeLimitError("MIME structure nested too deeply to parse") from exc
    except Exception as exc:
        # The stdlib parser and tnefparse meet hostile bytes here; whatever they raise,
        # the caller gets the one error type the contract promises, with the cause.
        logger.warning("unexpected failure extracting a message", exc_info=True)
        raise MimeError(
            f"unexpected failure reading the message: {type(exc).__name__}: {exc}"
        ) from exc
    logger.debug(
        "extracted message %s: %d calendar part(s), forward=%s, bounce=%s, %d defect(s)",
        result.headers.message_id,
        len(result.calendar_parts),
        result.forward_kind,
        result.bounce.kind if result.bounce else None,
        len(result.defects),
    )
    return result
