"""The log format of ``serve``: text for people, or one JSON object per line with stable keys.

``[logging] format = "json"`` writes each record as one line::

    {"time": "2026-12-07T10:00:00.123Z", "level": "info", "logger": "invitegw.events",
     "event": "inbound.message", "message": "message from sales: created",
     "message_id": "abc@example.org", "meeting": null, "mailbox": "sales",
     "outcome": "created", "duration_ms": 41.2, "error": null}

Every line has every key of :data:`KEYS` (``null`` when it does not apply), so a log
collector can rely on them; ``event`` is ``log`` for a line that is not one of the
gateway's events (:mod:`invitegw.gateway.metrics` writes those). Only these keys are
written: nothing else a record carries, so no secret or message body reaches the log by
way of an attribute. A traceback is in ``traceback``.

Under systemd (``$JOURNAL_STREAM`` names the standard error stream) each line starts with
its syslog priority (``<3>`` …, sd-daemon(3)): journald stores the level and adds the
time itself, so text lines leave the time out.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from invitegw.gateway.commands.terminal import SafeLogFilter
from invitegw.gateway.config import LogFormat, LoggingSettings

__all__ = ["KEYS", "JournalPrefix", "JsonFormatter", "configure_logging", "under_journald"]

KEYS = ("event", "message_id", "meeting", "mailbox", "outcome", "duration_ms", "error")
"""The stable keys of every JSON line, beside ``time``, ``level``, ``logger``, ``message``."""

_PRIORITY = {  # syslog priorities (RFC 5424 section 6.2.1) by logging level
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_JOURNAL_TEXT = "%(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with exactly the keys the module docstring lists."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        data: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = record.__dict__
        for key in KEYS:
            data[key] = fields.get(key)
        if data["event"] is None:
            data["event"] = "log"
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class JournalPrefix(logging.Formatter):
    """Puts the syslog priority before each line another formatter made (journald reads it).

    Parameters:
        inner: the formatter that makes the line.
    """

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        """``<N>`` and the inner formatter's line (each line of a traceback prefixed too)."""
        priority = _PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        text = self.inner.format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines() or [""])


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (not the one at start)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass  # StreamHandler.__init__ sets it; the property always answers sys.stderr


def under_journald(stream: TextIO) -> bool:
    """Whether ``stream`` is the journal stream systemd gave us (``$JOURNAL_STREAM``).

    Parameters:
        stream: the stream logs go to.

    Returns:
        True when its device and inode are the ones ``$JOURNAL_STREAM`` names.
    """
    value = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not device.isdigit() or not inode.isdigit():
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return info.st_dev == int(device) and info.st_ino == int(inode)


def configure_logging(
    settings: LoggingSettings, *, verbosity: int = 0, stream: TextIO | None = None
) -> Callable[[], None]:
    """Replace the root logger's handlers by one that writes ``settings.format``.

    URL credentials are redacted and control characters escaped in every line (the
    filter of :mod:`invitegw.gateway.commands.terminal`).

    Parameters:
        settings: ``[logging]``.
        verbosity: ``-v`` count: 1 raises invitegw's loggers to INFO at least, 2 to DEBUG.
        stream: where lines go (default: standard error, as it is at each record).

    Returns:
        A function that puts the previous handlers and levels back (a command run in a
        process that goes on, as in the tests, leaves logging as it found it).
    """
    out = stream if stream is not None else sys.stderr
    journal = under_journald(out)
    formatter: logging.Formatter
    if settings.format is LogFormat.JSON:
        formatter = JsonFormatter()
    else:
        formatter = logging.Formatter(_JOURNAL_TEXT if journal else _TEXT)
    if journal:
        formatter = JournalPrefix(formatter)
    # Standard error is looked up at each record: a process that replaces sys.stderr
    # later (a test harness, a daemonizing wrapper) still gets the lines.
    handler: logging.Handler = (
        logging.StreamHandler(out) if stream is not None else _StderrHandler()
    )
    handler.setFormatter(formatter)
    handler.addFilter(SafeLogFilter())
    root = logging.getLogger()
    named = ["invitegw", *settings.logger_levels]
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in named})
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    level = logging.getLevelName(settings.level.value.upper())
    if verbosity >= 2:
        level = logging.DEBUG
    elif verbosity == 1:
        level = min(level, logging.INFO)
    logging.getLogger("invitegw").setLevel(level)
    for name, value in settings.logger_levels.items():
        logging.getLogger(name).setLevel(logging.getLevelName(value.value.upper()))

    def restore() -> None:
        root.removeHandler(handler)
        for old in saved[0]:
            root.addHandler(old)
        root.setLevel(saved[1])
        for name, old_level in saved[2].items():
            logging.getLogger(name).setLevel(old_level)

    return restore
