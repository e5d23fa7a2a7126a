"""Caps checked on the raw bytes, before the standard library parses a message.

``email.message_from_bytes`` builds the whole tree first: a 25 MiB message of 3.7 million
empty parts took 33 CPU-seconds and 1.3 GB before the part count could be compared with
``max_parts``. :func:`prescan` counts what the parser would build, with ``bytes.count``
and a few regular expressions (milliseconds for 25 MiB), and refuses a message over a cap
there, so the work is bounded and not only the result.

What is counted is an upper bound of what the parse makes, so a message that passes here
is still checked exactly by the walk (``extract._Walk``):

- **Entities.** A multipart's children each start at a delimiter line, ``--`` and the
  boundary at the start of a line (:rfc:`2046` section 5.1.1); an encapsulated message
  (``message/rfc822``, ``message/global``) adds its inner message. The count is every
  line starting with ``--`` and a boundary some Content-Type declares (close delimiters
  aside), plus every ``Content-Type: message/...`` header, plus the message itself. Only
  when the cheap count of all lines starting with ``--`` is over the cap are the
  declared boundaries looked at, so an ordinary message costs one ``bytes.count``.
- **Lines.** The parser keeps every header field and every body line as a string of its
  own until the part ends: millions of empty lines cost a gigabyte however few parts
  they are in. Lines are counted against ``max_lines`` (with ``bytes.count``).
"""

from __future__ import annotations

import re
from typing import Protocol

from invitegw.errors import MimeLimitError

__all__ = ["prescan"]

# boundary=..., quoted or not; boundary*=charset''value (RFC 2231) too.
_BOUNDARY_RE = re.compile(
    rb"""boundary\*?\s*=\s*(?:"([^"\r\n]{1,200})"|(?:[\w.-]*'[\w-]*')?([^\s;"']{1,200}))""",
    re.IGNORECASE,
)
# A boundary split into RFC 2231 continuations (boundary*0=...) is not read here.
_CONTINUED_RE = re.compile(rb"boundary\*0", re.IGNORECASE)
_MESSAGE_TYPE_RE = re.compile(rb"^content-type:[ \t]*message/", re.IGNORECASE | re.MULTILINE)


class _Caps(Protocol):
    @property
    def max_parts(self) -> int: ...

    @property
    def max_lines(self) -> int: ...


def prescan(data: bytes, limits: _Caps) -> None:
    """Refuse ``data`` if its raw bytes already show it over a cap.

    Parameters:
        data: the raw message.
        limits: the caps (``max_parts``, ``max_lines``).

    Raises:
        MimeLimitError: more lines, or (at least) more MIME parts, than the caps allow.
    """
    # A bare CR ends a line for the parser too (CRLF counted once).
    lines = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    if lines > limits.max_lines:
        raise MimeLimitError(
            f"message has more than max_lines={limits.max_lines} lines ({lines}, "
            "counted before parsing)"
        )
    cap = limits.max_parts
    dashes = _line_starts(data, b"--")
    messages = data.count(b"essage/")  # a cheap bound of the message/* headers
    if 1 + dashes + messages <= cap:
        return
    if messages:
        messages = sum(1 for _ in _MESSAGE_TYPE_RE.finditer(data))
    parts = 1 + messages + _delimiters(data, cap)
    if parts > cap:
        raise MimeLimitError(
            f"message has more than max_parts={cap} MIME parts (at least {parts}, counted "
            "before parsing)"
        )


def _delimiters(data: bytes, cap: int) -> int:
    """Lines opening a part of a declared boundary (a bound: prefixes count twice)."""
    boundaries: set[bytes] = set()
    for match in _BOUNDARY_RE.finditer(data):
        boundaries.add(match.group(1) or match.group(2))
        if len(boundaries) > cap:
            return len(boundaries)  # each declares a multipart: over the cap already
    if _CONTINUED_RE.search(data):
        # Its boundary is not known here: every line starting with "--" may open a part.
        return _line_starts(data, b"--")
    count = 0
    for boundary in boundaries:
        opening = b"--" + boundary
        count += _line_starts(data, opening) - _line_starts(data, opening + b"--")
        if count > cap:
            break
    return count


def _line_starts(data: bytes, prefix: bytes) -> int:
    """Lines (after LF, or after a bare CR) starting with ``prefix``."""
    return data.count(b"\n" + prefix) + data.count(b"\r" + prefix)
