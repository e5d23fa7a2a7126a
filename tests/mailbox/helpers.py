"""Helpers for the mailbox tests: fixture loading, textual iCalendar peeks, a TNEF writer.

The iCalendar peeks read lines textually on purpose: the extraction tests must not depend
on the iCalendar parser they feed.
"""

from __future__ import annotations

import base64
import re
import struct
from pathlib import Path

DATA = Path(__file__).parent / "data"

_FOLD_RE = re.compile(rb"\r?\n[ \t]")


def load(name: str) -> bytes:
    """The bytes of a fixture email in ``tests/mailbox/data``."""
    return (DATA / name).read_bytes()


def unfolded_lines(data: bytes) -> list[str]:
    text = _FOLD_RE.sub(b"", data).decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def uids(data: bytes) -> list[str]:
    """The UID values of every component, in order, read textually."""
    return [
        line.split(":", 1)[1].strip() for line in unfolded_lines(data) if line.startswith("UID")
    ]


def first_method(data: bytes) -> str | None:
    """The METHOD of the first VCALENDAR, read textually (None when it has none)."""
    for line in unfolded_lines(data):
        if line.upper().startswith("END:VCALENDAR"):
            return None
        if line.upper().startswith("METHOD") and ":" in line:
            return line.split(":", 1)[1].strip().upper()
    return None


def property_value(data: bytes, name: str) -> str | None:
    """The first value of a property, read textually."""
    for line in unfolded_lines(data):
        head, sep, value = line.partition(":")
        if sep and head.split(";", 1)[0].upper() == name:
            return value
    return None


# -- TNEF ([MS-OXTNEF] section 2.1.3): just enough to carry attachments --------------------

_LVL_MESSAGE, _LVL_ATTACHMENT = 1, 2


def _tnef_object(level: int, attr_id: int, attr_type: int, payload: bytes) -> bytes:
    checksum = sum(payload) & 0xFFFF
    header = struct.pack("<BHHI", level, attr_id, attr_type, len(payload))
    return header + payload + struct.pack("<H", checksum)


def mapi_long_filename(name: str) -> bytes:
    """An attachment MAPI property block holding PR_ATTACH_LONG_FILENAME (PT_STRING8)."""
    value = name.encode("cp1252") + b"\x00"
    padded = value + b"\x00" * (-len(value) % 4)
    return struct.pack("<IHHII", 1, 0x001E, 0x3707, 1, len(value)) + padded


def build_tnef(
    attachments: list[tuple[str, bytes]] | None = None,
    *,
    message_class: str = "IPM.Note",
    long_names: dict[int, str] | None = None,
    extra_message_objects: list[tuple[int, int, bytes]] | None = None,
    extra_attachment_objects: list[tuple[int, int, bytes]] | None = None,
) -> bytes:
    """A TNEF stream: version, OEM code page, message class, then each (title, data).

    ``long_names`` maps a 0-based attachment index to a MAPI long file name.
    ``extra_*_objects`` are (attribute id, type, payload) triples appended raw, for
    malformed-input tests.
    """
    out = [struct.pack("<IH", 0x223E9F78, 0x1234)]
    out.append(_tnef_object(_LVL_MESSAGE, 0x9006, 0x0008, struct.pack("<I", 0x00010000)))
    out.append(_tnef_object(_LVL_MESSAGE, 0x9007, 0x0006, struct.pack("<II", 1252, 0)))
    out.append(_tnef_object(_LVL_MESSAGE, 0x8008, 0x0007, message_class.encode("ascii") + b"\x00"))
    for attr_id, attr_type, payload in extra_message_objects or []:
        out.append(_tnef_object(_LVL_MESSAGE, attr_id, attr_type, payload))
    for index, (title, data) in enumerate(attachments or []):
        out.append(_tnef_object(_LVL_ATTACHMENT, 0x9002, 0x0006, b"\x01\x00" + b"\xff" * 12))
        out.append(_tnef_object(_LVL_ATTACHMENT, 0x8010, 0x0001, title.encode() + b"\x00"))
        out.append(_tnef_object(_LVL_ATTACHMENT, 0x800F, 0x0006, data))
        if long_names and index in long_names:
            out.append(
                _tnef_object(_LVL_ATTACHMENT, 0x9005, 0x0006, mapi_long_filename(long_names[index]))
            )
        for attr_id, attr_type, payload in extra_attachment_objects or []:
            out.append(_tnef_object(_LVL_ATTACHMENT, attr_id, attr_type, payload))
    return b"".join(out)


def tnef_email(tnef: bytes, *, filename: str = "winmail.dat") -> bytes:
    """An Outlook-shaped RTF message carrying ``tnef`` as its winmail.dat."""
    encoded = base64.encodebytes(tnef).decode("ascii").replace("\n", "\r\n")
    return (
        "From: Olivia Organizer <olivia@example.org>\r\n"
        "To: sam@example.com\r\n"
        "Subject: Workshop\r\n"
        "Date: Sat, 1 Mar 2025 09:00:00 +0100\r\n"
        "Message-ID: <tnef-fixture@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="_000_tnef_fixture_"\r\n'
        "X-MS-TNEF-Correlator: <tnef-fixture@example.org>\r\n"
        "\r\n"
        "--_000_tnef_fixture_\r\n"
        'Content-Type: text/plain; charset="us-ascii"\r\n'
        "\r\n"
        "See attached.\r\n"
        "--_000_tnef_fixture_\r\n"
        f'Content-Type: application/ms-tnef; name="{filename}"\r\n'
        f'Content-Disposition: attachment; filename="{filename}"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        f"{encoded}"
        "--_000_tnef_fixture_--\r\n"
    ).encode("ascii")


def calendar(uid: str, summary: str = "Workshop", method: str = "REQUEST") -> bytes:
    """A small calendar object (CRLF)."""
    return (
        "BEGIN:VCALENDAR\r\nPRODID:-//Example Corp//Tests//EN\r\nVERSION:2.0\r\n"
        f"METHOD:{method}\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250301T090000Z\r\n"
        "DTSTART:20250310T130000Z\r\nDTEND:20250310T140000Z\r\n"
        f"SUMMARY:{summary}\r\nORGANIZER:mailto:olivia@example.org\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
