"""MIME header parameters (:rfc:`2045` section 5.1, :rfc:`2231`): parsed once per part, fast.

``Message.get_param()`` re-parses the whole header on every call, and the extraction asks
each part for up to four parameters (``name``, ``filename``, ``charset``, ``method``).
:func:`header_params` parses a header once; plain values (tokens and quoted strings,
nearly every real header) take a regex path checked against the stdlib by a property
test, anything else (RFC 2231 continuations and charsets, escapes) the stdlib's parser.
"""

from __future__ import annotations

import re
from email.message import Message
from email.utils import collapse_rfc2231_value

from invitegw.mailbox.mime.headertext import decode_words

__all__ = ["header_params", "param_filename", "param_method", "param_text", "simple_params"]

# "; name=token" or '; name="quoted"' (RFC 2045 section 5.1), then an optional lone ";".
_PARAM_RE = re.compile(
    r';[ \t]*(?:([!#$%&\'+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*(?:"([^"]*)"|([^;\s"<]+))[ \t]*)?'
)
_METHOD_RE = re.compile(r"[A-Za-z][A-Za-z-]{0,31}")


def simple_params(value: str) -> dict[str, object] | None:
    """Parse the parameters of a plain header value.

    Parameters:
        value: a Content-Type or Content-Disposition value on one line.

    Returns:
        Lower-cased name -> value (first occurrence wins, as ``get_param`` does); None
        when the value is not plain (RFC 2231, escapes, folding, stray quotes) and the
        stdlib must parse it.
    """
    start = value.find(";")
    if start < 0:
        return {} if '"' not in value else None
    rest = value[start:]
    if '"' in value[:start] or "*" in rest or "\\" in rest or "\n" in rest or "\r" in rest:
        return None  # RFC 2231 parameters, escapes, folding: the stdlib's job
    found: dict[str, object] = {}
    pos = 0
    for match in _PARAM_RE.finditer(rest):
        if match.start() != pos:
            return None
        name, quoted, token = match.groups()
        if name is not None:
            found.setdefault(name.lower(), quoted if quoted is not None else token)
        pos = match.end()
    return found if pos == len(rest) else None


def header_params(part: Message, header: str) -> dict[str, object]:
    """Parse a header's parameters once.

    Parameters:
        part: a ``compat32`` part.
        header: ``content-type`` or ``content-disposition``.

    Returns:
        Lower-cased name -> value; RFC 2231 values as (charset, language, value)
        triples; ``{}`` when the header is absent or unparsable.
    """
    value = part.get(header)
    if value is None:
        return {}
    if isinstance(value, str):
        simple = simple_params(value)
        if simple is not None:
            return simple
    try:
        found = part.get_params(header=header)
    except (ValueError, LookupError, TypeError, UnicodeError, IndexError):
        return {}
    return {str(key).lower(): value for key, value in (found or [])[1:]}


def param_text(value: object) -> str | None:
    """Turn a parameter value into lower-case text (charset names, tokens).

    Parameters:
        value: a value from :func:`header_params`.

    Returns:
        The value unquoted, stripped and lower-cased, or None when empty or absent.
    """
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = collapse_rfc2231_value(value)
    if not isinstance(value, str):
        return None
    return value.strip().strip("\"'").lower() or None


def param_filename(value: object) -> str | None:
    """Turn a ``filename``/``name`` parameter into a file name.

    Parameters:
        value: a value from :func:`header_params` (RFC 2231 or RFC 2047 encoded or not).

    Returns:
        The decoded name without NUL characters, or None.
    """
    if isinstance(value, tuple):
        value = collapse_rfc2231_value(value)
    if not value or not isinstance(value, str):
        return None
    return decode_words(value).strip().replace("\x00", "") or None


def param_method(value: object) -> str | None:
    """Turn a ``method=`` parameter (:rfc:`6047` section 2.4) into an iTIP method name.

    Parameters:
        value: a value from :func:`header_params`.

    Returns:
        The method upper-cased, or None when absent or not a plausible method token.
    """
    text = param_text(value)
    return text.upper() if text and _METHOD_RE.fullmatch(text) else None
