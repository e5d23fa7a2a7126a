"""Text from messages, made safe for a terminal: control characters escaped, URLs redacted.

A received message's UID, Message-ID, Subject or file name is the sender's text. Printed
as it is, an ESC sequence in it is run by the terminal (it can retitle the window, hide
the lines before it, rewrite what the operator sees, or worse on some terminals); a
carriage return overwrites the line; a bidirectional override reorders it. Every
human-readable output of the CLI goes through :func:`for_terminal` (one value, one line)
or a :func:`terminal_stream` (whole lines), and so does every log line
(:func:`install_log_filter`). JSON output stays JSON: ``json.dumps`` escapes C0 controls
itself.

Escapes are written ``\\u001b``: readable, and the same text a JSON string would hold.
"""

from __future__ import annotations

import logging
import re
from typing import TextIO

from invitegw.gateway.config.redact import redact_urls

__all__ = [
    "SafeLogFilter",
    "escape_controls",
    "for_terminal",
    "for_terminal_lines",
    "install_log_filter",
    "terminal_stream",
]

# C0 controls but TAB and LF, DEL, C1 controls (U+009B is a CSI on some terminals), the
# Arabic letter mark, LRM/RLM, the line and paragraph separators, bidi embeddings,
# overrides and isolates.
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE_RE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_OR_LF_RE = re.compile(f"[{_UNSAFE}\n]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every character a terminal would act on written as ``\\uXXXX``.

    Parameters:
        text: any text.
        keep_newlines: leave line feeds as they are (for whole lines of output).

    Returns:
        The text, unchanged when it holds nothing unsafe.
    """
    pattern = _UNSAFE_RE if keep_newlines else _UNSAFE_OR_LF_RE
    return pattern.sub(_escape, text)


def for_terminal(value: object) -> str:
    """One value as a single safe line: controls (line feeds too) escaped, URLs redacted.

    Parameters:
        value: anything; ``None`` becomes ``""``.

    Returns:
        The text to print.
    """
    if value is None:
        return ""
    return escape_controls(redact_urls(str(value)))


def for_terminal_lines(text: str) -> str:
    """Whole lines of output made safe: as :func:`for_terminal`, line feeds kept.

    Parameters:
        text: one or more lines.

    Returns:
        The text to print.
    """
    return escape_controls(redact_urls(text), keep_newlines=True)


class _SafeStream:
    """A text stream that escapes what it is given, line feeds aside."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(for_terminal_lines(text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()


def terminal_stream(stream: TextIO) -> TextIO:
    """``stream``, escaping every control character written to it but line feeds.

    Parameters:
        stream: where whole lines of human-readable output go (``sys.stdout``).

    Returns:
        A stream with ``write``, ``flush`` and ``isatty``.
    """
    return _SafeStream(stream)  # type: ignore[return-value]


class SafeLogFilter(logging.Filter):
    """Redacts URL credentials and escapes controls in every record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message in place; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format: leave it to the handler to report
            return True
        safe = for_terminal_lines(message)
        if safe != message or record.args:
            record.msg, record.args = safe, None
        if record.exc_info and not record.exc_text:
            # A traceback quotes exception messages, which may quote the message's text.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = for_terminal_lines(text)
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Put a :class:`SafeLogFilter` on every handler of ``logger`` (the root by default).

    On the handlers rather than the logger: a filter on a logger does not see records
    that propagate to it from other loggers (``sqlalchemy``, ``httpx``).

    Parameters:
        logger: the logger whose handlers to guard.
    """
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, SafeLogFilter) for f in handler.filters):
            handler.addFilter(SafeLogFilter())
