"""The standard library's message tree for well-formed mail, built without its line parser.

``email.parser.BytesFeedParser`` reads a message one line at a time through a generator
stack, testing every line against every enclosing boundary, and on Python 3.11 it compiles
a fresh regular expression for every multipart boundary (each is unique, so the ``re``
cache never helps). For the invitations the gateway receives that was about half the
time spent on a message (``bench/inbound.py``). :func:`parse_well_formed` builds the same
:class:`email.message.Message` tree (``compat32``: the same header pairs, payload strings,
preambles and epilogues) by finding header blocks and delimiter lines with ``str.find``.

It only takes what it can prove it reads exactly as the standard parser would. Whatever the
standard parser would treat specially or record a defect for makes it return None, and the
caller parses with the standard library as before:

- a bare CR (the standard parser breaks lines at CR, LF and CRLF; here lines end in LF);
- a header block that ends in a line that is no header field and not blank, a field with
  no name, a first line that is a continuation, a Unix ``From`` line;
- a multipart without a boundary, with a transfer encoding other than 7bit/8bit/binary,
  whose first delimiter is missing or is the close delimiter, without a close delimiter,
  with two delimiter lines in a row, or of type ``multipart/digest`` (its parts default to
  ``message/rfc822``);
- ``message/delivery-status`` (its body is several header blocks);
- nesting deeper than :data:`MAX_DEPTH`, or a message over :data:`MAX_BYTES`.

``tests/mailbox/mime/test_quickparse.py`` compares the two trees over the corpus and over
mutated messages (truncated, missing delimiters, stray CRs, folded parameters).
"""

from __future__ import annotations

import email.policy
import re
from email.message import Message

__all__ = ["MAX_BYTES", "MAX_DEPTH", "parse_well_formed"]

#: Larger messages go to the standard parser, which is fed in chunks (it holds less at
#: its peak than one decoded string of a message with non-ASCII bytes).
MAX_BYTES = 1024 * 1024
#: Deeper trees go to the standard parser (and the extraction's own nesting cap).
MAX_DEPTH = 20

_POLICY = email.policy.compat32
# A header field's first line: a name of printable ASCII but colon (RFC 5322 ftext), then
# the colon. The standard parser also takes an empty name (and records a defect).
_FIELD_RE = re.compile(r"[\041-\071\073-\176]+:")
_PLAIN_CTE = frozenset({"7bit", "8bit", "binary"})


class _DeclinedError(Exception):
    """The message needs the standard parser."""


def parse_well_formed(data: bytes) -> Message | None:
    """The ``compat32`` tree of ``data`` if it is well formed, else None.

    Parameters:
        data: a raw message (CRLF or LF line endings).

    Returns:
        The tree ``email.parser.BytesParser(policy=compat32).parsebytes(data)`` returns, or
        None when the standard parser must read it (see the module's list).
    """
    if len(data) > MAX_BYTES:
        return None
    text = data.decode("ascii", "surrogateescape")
    if text.count("\r") != text.count("\r\n"):
        return None
    try:
        return _entity(text, 0, len(text), 0)
    except _DeclinedError:
        return None


def _entity(text: str, start: int, end: int, depth: int, *, last: bool = False) -> Message:
    """The message whose lines are ``text[start:end]`` (a whole entity, its last EOL kept).

    ``last``: the entity is a multipart's part, so the line break before the next delimiter
    belongs to the delimiter (:rfc:`2046` section 5.1.1). The standard parser takes it from
    the most recently created message of the part: the part itself, the innermost message
    of an encapsulated one, or a multipart's epilogue (an empty one becomes None).
    """
    if depth > MAX_DEPTH:
        raise _DeclinedError
    msg = Message()
    body = _headers(msg, text, start, end)
    kind = msg.get_content_type()
    if kind == "message/delivery-status":
        raise _DeclinedError
    maintype = kind.partition("/")[0]
    if maintype == "message":
        msg.attach(_entity(text, body, end, depth + 1, last=last))
    elif maintype == "multipart":
        _multipart(msg, kind, text, body, end, depth)
        if last:
            msg.epilogue = _strip_eol(msg.epilogue) if msg.epilogue else None
    else:
        msg.set_payload(_strip_eol(text[body:end]) if last else text[body:end])
    return msg


def _headers(msg: Message, text: str, start: int, end: int) -> int:
    """Set ``msg``'s header fields from the block at ``start``; return where its body starts."""
    lines: list[str] = []
    pos = start
    while pos < end:
        stop = text.find("\n", pos, end)
        stop = end if stop < 0 else stop + 1
        line = text[pos:stop]
        first = line[0]
        if first in " \t":
            if not lines:
                raise _DeclinedError  # a first line that is a continuation
            lines.append(line)
        elif first == "\n" or line.startswith("\r\n"):
            _flush(msg, lines)
            return stop  # the blank line ends the block and is not part of the body
        elif _FIELD_RE.match(line) and not line.startswith("From "):
            _flush(msg, lines)
            lines = [line]
        else:
            raise _DeclinedError  # a body with no blank line before it, or a Unix From line
        pos = stop
    _flush(msg, lines)
    return end


def _flush(msg: Message, lines: list[str]) -> None:
    if lines:
        msg.set_raw(*_POLICY.header_source_parse(lines))


def _multipart(msg: Message, kind: str, text: str, start: int, end: int, depth: int) -> None:
    """Split ``text[start:end]`` at ``msg``'s delimiter lines into its parts."""
    boundary = msg.get_boundary()
    cte = str(msg.get("content-transfer-encoding", "8bit")).lower()
    if boundary is None or cte not in _PLAIN_CTE or kind == "multipart/digest":
        raise _DeclinedError
    delimiters = list(_delimiter_lines(text, start, end, "--" + boundary))
    if not delimiters or delimiters[0][2] or not delimiters[-1][2]:
        raise _DeclinedError  # no first delimiter, the first one closes, or no close delimiter
    if any(closes for _, _, closes in delimiters[:-1]):
        raise _DeclinedError  # a close delimiter before the last one: the rest is epilogue
    first_line = delimiters[0][0]
    if first_line > start:
        msg.preamble = _strip_eol(text[start:first_line])
    part_start = delimiters[0][1]
    for line_start, line_end, _ in delimiters[1:]:
        if line_start == part_start:
            raise _DeclinedError  # two delimiter lines in a row
        msg.attach(_entity(text, part_start, line_start, depth + 1, last=True))
        part_start = line_end
    close_end = delimiters[-1][1]
    # The close delimiter's own line break is not epilogue; without one, it ends the text.
    msg.epilogue = text[close_end:end]


def _delimiter_lines(
    text: str, start: int, end: int, separator: str
) -> list[tuple[int, int, bool]]:
    """Each line of ``text[start:end]`` the standard parser reads as a delimiter line.

    A delimiter line is the separator at the start of a line, ``--`` if it closes, spaces or
    tabs, and the line's end. Returns (line start, line end after its EOL, closes).
    """
    found: list[tuple[int, int, bool]] = []
    size = len(separator)
    pos = start
    while True:
        at = text.find(separator, pos, end)
        if at < 0:
            return found
        pos = at + size
        if at != start and text[at - 1] != "\n":
            continue
        stop = text.find("\n", pos, end)
        stop = end if stop < 0 else stop + 1
        tail = text[pos:stop]
        closes = tail.startswith("--")
        if closes:
            tail = tail[2:]
        if tail.rstrip("\r\n").strip(" \t"):
            continue  # more than the delimiter on the line (a longer boundary, say)
        found.append((at, stop, closes))
        pos = stop


def _strip_eol(value: str) -> str:
    """``value`` without one final line break (RFC 2046: it belongs to the delimiter)."""
    if value.endswith("\r\n"):
        return value[:-2]
    if value.endswith("\n"):
        return value[:-1]
    return value
