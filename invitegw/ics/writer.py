"""Writing content lines (:rfc:`5545` section 3.1): escaping, parameter quoting, folding.

Our own, small and strict, rather than icalendar's serializer: icalendar rewrites a
literal backslash-N in text as a line break (its escaping first turns ``\\N`` into
``\\n``), which breaks the round trip a property test checks; and we want to refuse control
characters instead of passing them on. Folding is at 75 octets, never inside a UTF-8
sequence and never between a backslash and the character it escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from invitegw.errors import IcsBuildError

__all__ = ["CRLF", "check_text", "content_line", "escape_text", "fold", "param_value"]

CRLF = "\r\n"
_LIMIT = 75
# Control characters RFC 5545 section 3.1 forbids in values (HTAB and line breaks are
# written as allowed or escaped).
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# RFC 5545 needs quotes around ":;," only; a backslash is plain text there, but common
# readers (icalendar among them) take it as an escape outside quotes, so it is quoted too.
_NEEDS_QUOTES = re.compile(r"[:;,\\]")


def check_text(value: str, what: str) -> None:
    """Refuse control characters in ``value``.

    Parameters:
        value: text for the output.
        what: what it is, for the error message.

    Raises:
        IcsBuildError: ``value`` holds one, naming ``what`` it is.
    """
    match = _FORBIDDEN.search(value)
    if match is not None:
        raise IcsBuildError(f"{what} contains the control character {match.group()!r}")


def escape_text(value: str, what: str = "text") -> str:
    r"""A TEXT value escaped (section 3.3.11): ``\ ; ,`` and line breaks.

    Parameters:
        value: the text.
        what: what it is, for the error message.

    Returns:
        The escaped value.

    Raises:
        IcsBuildError: the text holds a control character.
    """
    check_text(value, what)
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def param_value(value: str, what: str = "parameter") -> str:
    """A parameter value, quoted when needed, with :rfc:`6868` escapes for ``^ " newline``.

    Parameters:
        value: the parameter's value.
        what: what it is, for the error message.

    Returns:
        The value as written after ``NAME=``.

    Raises:
        IcsBuildError: the value holds a control character.
    """
    check_text(value, what)
    escaped = (
        value.replace("^", "^^")
        .replace('"', "^'")
        .replace("\r\n", "^n")
        .replace("\r", "^n")
        .replace("\n", "^n")
    )
    if _NEEDS_QUOTES.search(escaped) or escaped != escaped.strip():
        return f'"{escaped}"'
    return escaped


def content_line(
    name: str, value: str, params: Iterable[tuple[str, str | Sequence[str]]] = ()
) -> str:
    """``NAME;PARAM=value:value`` (unfolded); ``value`` must already be escaped.

    Parameter values are quoted and escaped here; a sequence becomes a comma list.

    Parameters:
        name: the property name.
        value: the escaped value.
        params: (name, value or values) pairs, in the order to write.

    Returns:
        The content line, unfolded.

    Raises:
        IcsBuildError: a parameter value holds a control character.
    """
    parts = [name]
    for key, item in params:
        if isinstance(item, str):
            parts.append(f";{key}={param_value(item, f'{name};{key}')}")
        else:
            joined = ",".join(param_value(v, f"{name};{key}") for v in item)
            parts.append(f";{key}={joined}")
    parts.append(":")
    parts.append(value)
    return "".join(parts)


def fold(line: str) -> str:
    """``line`` folded into physical lines of at most 75 octets, joined with CRLF + space.

    Parameters:
        line: one unfolded content line.

    Returns:
        The folded line (no final CRLF).
    """
    if line.isascii():
        return _fold_ascii(line)
    encoded_length = len(line.encode("utf-8"))
    if encoded_length <= _LIMIT:
        return line
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    limit = _LIMIT
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            if len(current) > 1 and current[-1] == "\\" and _odd_backslashes(current):
                carry = current.pop()
                chunks.append("".join(current))
                current, size = [carry], 1
            else:
                chunks.append("".join(current))
                current, size = [], 0
            limit = _LIMIT - 1  # continuation lines start with a space
        current.append(char)
        size += width
    chunks.append("".join(current))
    return (CRLF + " ").join(chunks)


def _fold_ascii(line: str) -> str:
    """:func:`fold` for ASCII text (one octet a character), by slicing: most lines are."""
    if len(line) <= _LIMIT:
        return line
    chunks: list[str] = []
    start, limit = 0, _LIMIT
    while len(line) - start > limit:
        end = start + limit
        # Never split an escape: an odd run of backslashes at the cut carries one over.
        run = len(line[start:end]) - len(line[start:end].rstrip("\\"))
        if run % 2 == 1 and end - start > 1:
            end -= 1
        chunks.append(line[start:end])
        start, limit = end, _LIMIT - 1  # continuation lines start with a space
    chunks.append(line[start:])
    return (CRLF + " ").join(chunks)


def _odd_backslashes(chars: list[str]) -> bool:
    """Whether the trailing run of backslashes is odd (its last one escapes what follows)."""
    count = 0
    for char in reversed(chars):
        if char != "\\":
            break
        count += 1
    return count % 2 == 1
