"""A MIME leaf's bytes: transfer decoding, charset transcoding, and calendar sniffing.

Lenient in what it accepts, as real mail needs: base64 with broken padding or stray characters,
quoted-printable with soft breaks in odd places, unknown or missing charsets, byte-order
marks. Each repair leaves a readable note for the message's defect list; none raises.
"""

from __future__ import annotations

import binascii
import re
from email.message import Message

from invitegw.mailbox.mime.headertext import decode_bytes, resolve_charset

__all__ = [
    "calendar_key",
    "decoded_payload",
    "looks_like_calendar",
    "payload_prefix",
    "raw_payload",
    "to_utf8",
    "transfer_encoding",
]

_B64_JUNK_RE = re.compile(rb"[^A-Za-z0-9+/]")
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_VCALENDAR = b"BEGIN:VCALENDAR"
_PREFIX_CHARS = 256
_TRAILING_WS_RE = re.compile(rb"[ \t]+\n")


def transfer_encoding(part: Message) -> str:
    """Read a part's Content-Transfer-Encoding (:rfc:`2045` section 6.1).

    Parameters:
        part: a ``compat32`` part.

    Returns:
        The encoding lower-cased, comments and blanks removed; ``7bit`` when absent.
    """
    value = part.get("content-transfer-encoding")
    if value is None:
        return "7bit"
    return str(value).split("(", 1)[0].strip().strip("\"'").lower() or "7bit"


def raw_payload(part: Message) -> object:
    """Return the payload exactly as parsed.

    ``get_payload()`` cannot give this: for a body holding 8-bit bytes, ``compat32``
    re-decodes it with the part's charset parameter, and raises ``TypeError`` when that
    parameter is an RFC 2231 triple. The stdlib's own generator reads ``_payload`` too.

    Parameters:
        part: a ``compat32`` part.

    Returns:
        A ``str`` (8-bit bytes as surrogate escapes), a list of parts, or None.
    """
    return getattr(part, "_payload", None)


def _body_bytes(part: Message) -> bytes:
    payload = raw_payload(part)
    if isinstance(payload, bytes):
        return payload
    if not isinstance(payload, str):
        return b""
    try:
        return payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # a constructed message holding real text, not parsed bytes
        return payload.encode("utf-8", "surrogateescape")


def _b64decode(data: bytes, notes: list[str], where: str) -> bytes:
    # RFC 2045 section 6.8: characters outside the alphabet (line breaks) are ignored,
    # which binascii does itself; only when it refuses the padding is the data cleaned:
    # padding may be missing or wrong in real mail (some tools drop the "=").
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        pass
    core = _B64_JUNK_RE.sub(b"", data.split(b"=", 1)[0])
    if len(core) % 4 == 1:
        notes.append(f"part {where}: base64 ends with a dangling character, dropped")
        core = core[:-1]
    try:
        return binascii.a2b_base64(core + b"=" * (-len(core) % 4))
    except (binascii.Error, ValueError) as exc:
        notes.append(f"part {where}: undecodable base64 ({exc})")
        return b""


def decoded_payload(part: Message, notes: list[str], where: str) -> bytes:
    """Undo the part's Content-Transfer-Encoding (:rfc:`2045` section 6).

    Parameters:
        part: a non-multipart ``compat32`` part.
        notes: defect notes are appended here.
        where: the part's location, for the notes.

    Returns:
        The decoded bytes (raw bytes for 7bit/8bit/binary or an unknown encoding).
    """
    data = _body_bytes(part)
    cte = transfer_encoding(part)
    if cte == "base64":
        return _b64decode(data, notes, where)
    if cte == "quoted-printable":
        return binascii.a2b_qp(data)
    if cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
        decoded = part.get_payload(decode=True)  # the stdlib knows uuencode; never raises
        return decoded if isinstance(decoded, bytes) else data
    if cte not in ("7bit", "8bit", "binary"):
        notes.append(f"part {where}: unknown Content-Transfer-Encoding {cte!r}, read as 8bit")
    return data


def payload_prefix(part: Message) -> bytes:
    """Decode the start of a part cheaply, for sniffing its content.

    Parameters:
        part: a non-multipart ``compat32`` part.

    Returns:
        About the first 256 decoded bytes (fewer when the part is shorter).
    """
    cte = transfer_encoding(part)
    payload = raw_payload(part)
    if not isinstance(payload, str):
        return b""
    head = payload[: _PREFIX_CHARS * 2].lstrip()
    try:
        raw = head.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        raw = head.encode("utf-8", "surrogateescape")
    if cte == "base64":
        core = _B64_JUNK_RE.sub(b"", raw)
        try:
            return binascii.a2b_base64(core[: len(core) // 4 * 4])
        except (binascii.Error, ValueError):
            return b""
    if cte == "quoted-printable":
        return binascii.a2b_qp(raw)
    return raw[:_PREFIX_CHARS]


def looks_like_calendar(prefix: bytes) -> bool:
    """Tell whether data is iCalendar by its first line.

    Parameters:
        prefix: the first decoded bytes of a part.

    Returns:
        True when they start, after a byte-order mark and blank space, with
        ``BEGIN:VCALENDAR`` (any case).
    """
    head = prefix[:_PREFIX_CHARS]
    if head.startswith(_UTF8_BOM):
        head = head[3:]
    elif head[:2] in _UTF16_BOMS:
        head = head[2:].replace(b"\x00", b"")
    return head.lstrip()[: len(_VCALENDAR)].upper() == _VCALENDAR


def to_utf8(data: bytes, charset: str | None, notes: list[str], where: str) -> bytes:
    """Transcode calendar bytes to UTF-8 (:rfc:`5545` section 3.1.4), stripping any BOM.

    A byte-order mark overrides the declared charset; without one, the declared charset
    is used, with UTF-8 preferred where a single-byte label is plainly wrong (see
    :func:`~invitegw.mailbox.mime.headertext.decode_bytes`).

    Parameters:
        data: the transfer-decoded bytes.
        charset: the declared charset label, or None.
        notes: defect notes are appended here.
        where: the part's location, for the notes.

    Returns:
        UTF-8 bytes without a BOM.
    """
    if data.startswith(_UTF8_BOM):
        return data[3:]
    if data[:2] in _UTF16_BOMS:
        return data.decode("utf-16", errors="replace").encode("utf-8", errors="replace")
    if data.isascii():
        return data
    codec = resolve_charset(charset)
    if charset and codec is None:
        notes.append(f"part {where}: unknown charset {charset!r}, read as UTF-8")
    if codec in ("utf-8", None):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return data
    text = decode_bytes(data, charset)
    if "\ufffd" in text and b"\xef\xbf\xbd" not in data:
        notes.append(f"part {where}: bytes invalid in charset {charset or 'utf-8'!r} replaced")
    return text.encode("utf-8", errors="replace")


def calendar_key(data: bytes) -> bytes:
    """A comparison key for one calendar object: line endings, folding and blanks ignored.

    Google and Horde attach the same object inline and as ``invite.ics``, in different
    transfer encodings and line endings; the key is equal for both copies. (Plain
    ``bytes.replace`` calls, gated by ``in`` tests: a regex pass costs ten times more.)

    Parameters:
        data: one calendar object's UTF-8 bytes.

    Returns:
        The key: unfolded, LF line endings, no trailing blanks, no empty lines.
    """
    text = data.replace(b"\r\n", b"\n")
    if b"\r" in text:
        text = text.replace(b"\r", b"\n")
    # RFC 5545 section 3.1: unfolding removes a line break and the one blank after it.
    text = text.replace(b"\n ", b"").replace(b"\n\t", b"")
    if b" \n" in text or b"\t\n" in text:
        text = _TRAILING_WS_RE.sub(b"\n", text)
    while b"\n\n" in text:
        text = text.replace(b"\n\n", b"\n")
    return text.strip()
