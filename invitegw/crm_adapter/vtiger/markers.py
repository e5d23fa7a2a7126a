"""The gateway's block at the end of a task's description.

A vtiger task has no field for the invitation it came from, so the gateway writes a block
under the user-visible description::

    Agenda: numbers.

    [invitegw:<token>]
    invitegw-key: "<idempotency key>"
    invitegw-uid: "<UID of the invitation>"
    invitegw-organizer: "<organizer address>"
    invitegw-recurrence-id: "<RECURRENCE-ID>"
    invitegw-sequence: 2
    [invitegw 2030-03-01 10:00Z info] cancelled by the organizer

The marker line ``[invitegw:<token>]`` is what ``find_task`` looks for with ``LIKE``
(files 40, 41), so a task created just before a crash is found again: that is the
idempotency key. ``<token>`` is the key itself when it is short and plain, otherwise
``sha256-`` and a digest of it. Values are JSON strings so that any text survives. Log
lines (``[invitegw <time> <level>] ...``) follow; tasks have no invitees, so revising a
task's description is safe (unlike an event's).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["LOG_LINE", "TaskBlock", "marker", "marker_token", "parse_block", "render_block"]

_PLAIN = re.compile(r"^[A-Za-z0-9@.:+/=-]{1,120}$")
_MARKER = re.compile(r"^\[invitegw:([^\]\s]+)\]\s*$", re.MULTILINE)
_META = re.compile(r"^invitegw-([a-z][a-z-]*): (.*)$")
LOG_LINE = re.compile(r"^\[invitegw [^\]]*\] ")


def marker_token(key: str) -> str:
    """The token written in the marker for an idempotency key (deterministic)."""
    if _PLAIN.match(key):
        return key
    return "sha256-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:48]


def marker(key: str) -> str:
    """The marker line for an idempotency key: ``[invitegw:<token>]``."""
    return f"[invitegw:{marker_token(key)}]"


@dataclass(frozen=True, slots=True)
class TaskBlock:
    """A task description split into the user's text and the gateway's block."""

    description: str
    token: str | None = None
    meta: Mapping[str, str | int] = field(default_factory=dict)
    log: tuple[str, ...] = ()


def parse_block(text: str) -> TaskBlock:
    """Split a description written by :func:`render_block` (or by a person)."""
    match = _MARKER.search(text or "")
    if match is None:
        return TaskBlock(description=text or "")
    meta: dict[str, str | int] = {}
    log: list[str] = []
    for line in text[match.end() :].splitlines():
        found = _META.match(line)
        if found:
            try:
                value = json.loads(found.group(2))
            except ValueError:
                continue
            if isinstance(value, str | int) and not isinstance(value, bool):
                meta[found.group(1)] = value
        elif LOG_LINE.match(line):
            log.append(line)
    return TaskBlock(text[: match.start()].rstrip(), match.group(1), meta, tuple(log))


def render_block(
    description: str, key: str, meta: Mapping[str, str | int | None], log: Sequence[str] = ()
) -> str:
    """The full description: the user's text, the marker, metadata and log lines."""
    lines = [marker(key), f"invitegw-key: {json.dumps(key)}"]
    for name, value in meta.items():
        if value is not None and value != "":
            lines.append(f"invitegw-{name}: {json.dumps(value)}")
    lines.extend(line.replace("\r", " ").replace("\n", " ") for line in log)
    head = description.rstrip()
    return (head + "\n\n" if head else "") + "\n".join(lines)
