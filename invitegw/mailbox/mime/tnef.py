"""Attachments inside TNEF (``winmail.dat``, ``application/ms-tnef``), read with tnefparse.

Outlook wraps a message in TNEF ([MS-OXTNEF]) when it is sent in rich-text format; an
``.ics`` file attached to such a message is only visible inside it.

tnefparse 1.4 trusts the counts in the stream: a MAPI property block claiming 2**32
properties, or a multi-valued property claiming 2**32 values, makes it loop for hours
(``decode_mapi`` keeps iterating past the end of the data). So the stream is first walked
here, object by object ([MS-OXTNEF] section 2.1.3), and only what the extraction needs is
handed over, rebuilt with correct lengths and checksums: the OEM code page, and per
attachment its rendering marker, title, data and (when its counts are consistent with its
length) its MAPI property block, which carries the long file name. Message-level MAPI
properties, recipient tables and dates are never parsed.
"""

from __future__ import annotations

import logging
import struct
import warnings
from dataclasses import dataclass

from tnefparse.tnef import TNEF

from invitegw.mailbox.mime.headertext import decode_bytes, resolve_charset

__all__ = ["TnefAttachment", "TnefContents", "read_tnef"]

logger = logging.getLogger(__name__)

_SIGNATURE = 0x223E9F78
_LVL_MESSAGE = 0x01
_LVL_ATTACHMENT = 0x02
_ATT_MESSAGE_CLASS = 0x8008
_ATT_ATTACH_DATA = 0x800F
_ATT_ATTACH_TITLE = 0x8010
_ATT_ATTACH_RENDDATA = 0x9002
_ATT_ATTACHMENT = 0x9005
_ATT_TNEF_VERSION = 0x9006
_ATT_OEM_CODEPAGE = 0x9007
_KEEP_AT_ATTACHMENT = (_ATT_ATTACH_RENDDATA, _ATT_ATTACH_TITLE, _ATT_ATTACH_DATA)
_OBJECT_OVERHEAD = 11  # level (1) + id (2) + type (2) + length (4) + checksum (2)
_MAPI_FIXED_SIZE = {
    0x0002: 2, 0x000B: 2,  # short, boolean
    0x0003: 4, 0x0004: 4, 0x000A: 4,  # int, float, error
    0x0005: 8, 0x0006: 8, 0x0007: 8, 0x0014: 8, 0x0040: 8,  # double .. systime
    0x0048: 16,  # CLSID
    0x0001: 0,  # null
}  # fmt: skip
_MAPI_VARIABLE = frozenset({0x0000, 0x000D, 0x001E, 0x001F, 0x0102})
_MAPI_ATTACH_DATA_OBJ = 0x3701
_IMESSAGE_SIG = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
_MEETING_CLASSES = ("ipm.microsoft schedule.", "ipm.schedule.meeting.")


@dataclass(frozen=True, slots=True)
class TnefAttachment:
    """One file attached inside a TNEF stream.

    Parameters:
        number: 1-based position among the stream's attachments.
        filename: the long file name when the stream has one, else the title ("" if none).
        data: the file's bytes.
    """

    number: int
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class TnefContents:
    """What a TNEF stream holds that matters to extraction.

    Parameters:
        message_class: the MAPI message class (``IPM.Note``, ``IPM.Microsoft
            Schedule.MtgReq`` ...), or None.
        attachments: the attached files, in stream order.
    """

    message_class: str | None
    attachments: tuple[TnefAttachment, ...]

    @property
    def is_meeting(self) -> bool:
        """True when the stream is an Outlook meeting item (its data are MAPI properties)."""
        cls = (self.message_class or "").lower()
        return cls.startswith(_MEETING_CLASSES)


class _Reader:
    """Bounds-checked little-endian reads over one buffer."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def u16(self) -> int:
        value: int = struct.unpack_from("<H", self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack_from("<I", self.take(4))[0]
        return value

    def left(self) -> int:
        return len(self.data) - self.pos


def _mapi_block_is_sane(block: bytes) -> bool:
    """Walk a MAPI property block as tnefparse would, refusing counts the data cannot hold.

    Also refuses embedded Outlook items (attachment data objects that are messages):
    tnefparse parses those recursively, unchecked.
    """
    reader = _Reader(block)
    try:
        count = reader.u32()
        if count > reader.left() // 4:
            return False
        for _ in range(count):
            ptype, pname = reader.u16(), reader.u16()
            if pname >= 0x8000:  # named property: GUID, kind, then id or name
                reader.take(16)
                if reader.u32() == 0:
                    reader.take(4)
                else:
                    length = reader.u32()
                    reader.take(length + (-length % 4))
            values: int | None = None
            if ptype & 0x1000:
                ptype ^= 0x1000
                values = reader.u32()
                if values > reader.left() // 2:
                    return False
            for _ in range(values or 1):
                if ptype in _MAPI_FIXED_SIZE:
                    reader.take(_MAPI_FIXED_SIZE[ptype])
                    continue
                if ptype not in _MAPI_VARIABLE:
                    return False
                items = 1 if values else reader.u32()
                if items > reader.left() // 4:
                    return False
                for _ in range(items):
                    length = reader.u32()
                    chunk = reader.take(length + (-length % 4))
                    if pname == _MAPI_ATTACH_DATA_OBJ and chunk.startswith(_IMESSAGE_SIG):
                        return False
            if (values or 1) % 2 and ptype in (0x0002, 0x000B):
                reader.take(2)
    except (ValueError, struct.error):
        return False
    return True


def _object(level: int, name: int, kind: int, payload: bytes) -> bytes:
    checksum = sum(payload) & 0xFFFF
    return (
        struct.pack("<BHHI", level, name, kind, len(payload))
        + payload
        + struct.pack("<H", checksum)
    )


def _sanitize(data: bytes, notes: list[str], where: str) -> tuple[bytes, str | None]:
    """The stream reduced to what extraction needs, and the message class."""
    reader = _Reader(data)
    if reader.u32() != _SIGNATURE:
        raise ValueError("not a TNEF stream (bad signature)")
    out = [data[:6]]
    reader.take(2)  # legacy key
    message_class: str | None = None
    codepage = "cp1252"
    in_attachment = skipped = False
    while reader.left() >= _OBJECT_OVERHEAD:
        level, name, kind, length = struct.unpack_from("<BHHI", reader.take(9))
        if length > reader.left() - 2:
            notes.append(f"part {where}: TNEF object 0x{name:04x} truncated")
            break
        payload = reader.take(length)
        reader.take(2)  # checksum: recomputed for what is kept
        if level == _LVL_MESSAGE and name == _ATT_OEM_CODEPAGE and len(payload) >= 4:
            number = struct.unpack_from("<I", payload)[0]
            if resolve_charset(f"cp{number}") is not None:
                codepage = f"cp{number}"
                out.append(_object(level, name, kind, payload))
        elif level == _LVL_MESSAGE and name == _ATT_MESSAGE_CLASS:
            message_class = decode_bytes(payload, codepage).rstrip("\x00").strip() or None
        elif level == _LVL_ATTACHMENT:
            if name == _ATT_ATTACH_RENDDATA:
                in_attachment = True
            if not in_attachment:
                continue  # tnefparse needs the rendering marker before anything else
            if name in _KEEP_AT_ATTACHMENT:
                out.append(_object(level, name, kind, payload))
            elif name == _ATT_ATTACHMENT:
                if _mapi_block_is_sane(payload):
                    out.append(_object(level, name, kind, payload))
                else:
                    skipped = True
    if reader.left():
        notes.append(f"part {where}: TNEF stream truncated ({reader.left()} stray bytes)")
    # tnefparse stops when 12 bytes or fewer remain, dropping a last object with a data
    # of 0 or 1 byte; a trailing version object (harmless, 15 bytes) keeps it in reach.
    out.append(_object(_LVL_MESSAGE, _ATT_TNEF_VERSION, 0x0008, struct.pack("<I", 0x00010000)))
    if skipped:
        notes.append(
            f"part {where}: TNEF attachment properties malformed or an embedded Outlook "
            "item: not searched"
        )
    return b"".join(out), message_class


def _filename(attachment: object, notes: list[str], where: str) -> str:
    for getter in ("long_filename", "name"):
        try:
            value = getattr(attachment, getter)
            value = value() if callable(value) else value
        except (UnicodeDecodeError, ValueError, TypeError, AttributeError):
            continue
        if isinstance(value, bytes):
            value = decode_bytes(value, None)
        if isinstance(value, str) and value.strip("\x00").strip():
            return value.strip("\x00").strip()
    notes.append(f"part {where}: TNEF attachment without a readable name")
    return ""


def read_tnef(data: bytes, notes: list[str], where: str) -> TnefContents:
    """Read the attachments of a TNEF stream; a damaged stream yields what could be read.

    Parameters:
        data: the decoded ``winmail.dat`` bytes.
        notes: readable defect notes are appended here (a damaged stream is a defect of
            the message, not an error: the rest of the message is still extracted).
        where: the MIME location of the TNEF part, for the notes.

    Returns:
        The message class and the attached files.
    """
    try:
        clean, message_class = _sanitize(data, notes, where)
    except (ValueError, struct.error) as exc:
        notes.append(f"part {where}: unreadable TNEF ({exc})")
        return TnefContents(None, ())
    try:
        with warnings.catch_warnings():
            # tnefparse uses datetime.utcfromtimestamp (deprecated in 3.12) for MAPI times.
            warnings.simplefilter("ignore", DeprecationWarning)
            parsed = TNEF(clean, do_checksum=True)
    except Exception as exc:  # a third-party parser on hostile bytes: anything goes
        logger.debug("tnefparse failed on %s", where, exc_info=True)
        notes.append(f"part {where}: unreadable TNEF ({type(exc).__name__}: {exc})")
        return TnefContents(message_class, ())
    files = []
    for number, attachment in enumerate(parsed.attachments, start=1):
        payload = attachment.data
        if not isinstance(payload, bytes):
            continue
        files.append(TnefAttachment(number, _filename(attachment, notes, where), payload))
    return TnefContents(message_class, tuple(files))
