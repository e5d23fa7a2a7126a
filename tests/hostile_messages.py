"""Hostile messages: small to write, costly to read, all under the default size cap.

Each builder returns raw bytes at most ``size`` long (25 MiB by default, the default
``limits.message_bytes``). They are what an attacker sends to make a parser do work out of
proportion to the message: millions of empty MIME parts, millions of header fields or
body lines, nesting as deep as it goes, one enormous line, a calendar of tiny
properties. Used by the cap tests, the fuzz target (as seeds) and ``bench/hostile_mime.py``.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["HOSTILE", "MIB", "empty_parts"]

MIB = 1024 * 1024
_HEAD = (
    b"From: Mallory <mallory@elsewhere.example>\r\n"
    b"To: sam@example.com\r\n"
    b"Subject: hostile\r\n"
    b"Message-ID: <hostile@elsewhere.example>\r\n"
    b"MIME-Version: 1.0\r\n"
)


def empty_parts(count: int) -> bytes:
    """A multipart/mixed of ``count`` empty parts (7 bytes each)."""
    head = _HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    return head + b"--b\r\n\r\n" * count + b"--b--\r\n"


def _fill(size: int, unit: bytes) -> int:
    return max(1, (size - 1024) // len(unit))


def parts_to_size(size: int) -> bytes:
    """As many empty parts as fit in ``size`` bytes (3.7 million in 25 MiB)."""
    return empty_parts(_fill(size, b"--b\r\n\r\n"))


def header_fields(size: int) -> bytes:
    """Millions of tiny header fields, then a one-line body."""
    return _HEAD + b"X: y\r\n" * _fill(size, b"X: y\r\n") + b"\r\nbody\r\n"


def body_lines(size: int) -> bytes:
    """A text/plain body of empty lines."""
    head = _HEAD + b"Content-Type: text/plain\r\n\r\n"
    return head + b"\r\n" * _fill(size, b"\r\n")


def one_line(size: int) -> bytes:
    """A body that is one line of ``size`` bytes."""
    head = _HEAD + b"Content-Type: text/plain\r\n\r\n"
    return head + b"a" * (size - 1024)


def nested_messages(size: int) -> bytes:
    """message/rfc822 inside message/rfc822, as deep as fits."""
    unit = b"Content-Type: message/rfc822\r\n\r\n"
    return _HEAD + unit * _fill(size, unit) + b"Subject: bottom\r\n\r\nend\r\n"


def nested_multiparts(size: int) -> bytes:
    """multipart/mixed inside multipart/mixed, each with its own boundary."""
    levels = min(
        _fill(size, b'Content-Type: multipart/mixed; boundary="b000000"\r\n\r\n--b000000\r\n'),
        200_000,
    )
    out = [_HEAD]
    for n in range(levels):
        out.append(b'Content-Type: multipart/mixed; boundary="b%06d"\r\n\r\n--b%06d\r\n' % (n, n))
    out.append(b"\r\nend\r\n")
    return b"".join(out)


def calendar_properties(size: int) -> bytes:
    """An invitation whose calendar (up to 2 MiB, the default cap) is tiny properties."""
    lines = [
        b"BEGIN:VCALENDAR",
        b"METHOD:REQUEST",
        b"BEGIN:VEVENT",
        b"UID:x",
        b"DTSTART:20260101T000000Z",
    ]
    budget = min(size, 2 * MIB) - 512
    unit = b"X-A:b"
    lines.extend([unit] * max(0, budget // (len(unit) + 2)))
    lines.extend([b"END:VEVENT", b"END:VCALENDAR", b""])
    ics = b"\r\n".join(lines)
    return _HEAD + b"Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n" + ics


def base64_attachment(size: int) -> bytes:
    """Not hostile: an invitation with a base64 attachment filling the size cap."""
    import base64

    data = base64.encodebytes(bytes(range(256)) * ((size * 57 // 78 - 4096) // 256))
    ics = calendar_properties(0).split(b"\r\n\r\n", 1)[1].replace(b"X-A:b\r\n", b"")
    return (
        _HEAD
        + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        + b"Content-Type: text/calendar; method=REQUEST\r\n\r\n"
        + ics
        + b"\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + data.replace(b"\n", b"\r\n")
        + b"--b--\r\n"
    )


# name -> builder(size)
HOSTILE: dict[str, Callable[[int], bytes]] = {
    "empty parts": parts_to_size,
    "100,000 parts": lambda size: empty_parts(100_000),
    "header fields": header_fields,
    "body lines": body_lines,
    "one line": one_line,
    "nested message/rfc822": nested_messages,
    "nested multiparts": nested_multiparts,
    "calendar properties": calendar_properties,
    "base64 attachment": base64_attachment,
}
