"""The values of ``invitegw status``: the verdict, each section, the report, causes.

Frozen dataclasses a front end prints (:meth:`StatusReport.to_json` gives plain JSON
values); :func:`quarantine_cause` turns the pipeline's free-text quarantine reasons into
a bounded set, for the report and for metric labels.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "CrmStatus",
    "FirstStartStatus",
    "Health",
    "MailboxStatus",
    "StatusReport",
    "WorkerStatus",
    "quarantine_cause",
]

# Bounded causes for the quarantine's free-text reasons (first match wins).
_CAUSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("size_limit", ("over a limit", " bytes (", "over the size")),
    ("malformed", ("malformed", "unreadable", "mime")),
    ("no_calendar", ("without a calendar", "no calendar")),
    ("untrusted_sender", ("not confirmed", "unknown sender", "authentic", "not trusted")),
    ("unsupported_method", ("unsupported method",)),
    ("unknown_invitation", ("unknown invitation",)),
    ("no_owner", ("no owner",)),
    ("processing_failed", ("processing failed",)),
    ("reply_not_matched", ("reply from", "without a single valid from")),
)


def quarantine_cause(reason: str) -> str:
    """A bounded cause for a quarantine reason (a metric label, a status line).

    Parameters:
        reason: the reason text the pipeline stored.

    Returns:
        One of ``size_limit``, ``malformed``, ``no_calendar``, ``untrusted_sender``,
        ``unsupported_method``, ``unknown_invitation``, ``no_owner``,
        ``processing_failed``, ``reply_not_matched``, ``other``.
    """
    text = reason.lower()
    for cause, words in _CAUSES:
        if any(word in text for word in words):
            return cause
    return "other"


class Health(StrEnum):
    """The verdict; :attr:`exit_code` is the command's."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 degraded, 2 down."""
        return {"healthy": 0, "degraded": 1, "down": 2}[self.value]


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """One worker's heartbeat."""

    worker: str
    host: str
    pid: int
    version: str
    mode: str
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    stopped_at: dt.datetime | None
    alive: bool
    stalled: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CrmStatus:
    """The CRM: does it answer, and when was it last polled successfully."""

    adapter: str
    reachable: bool | None  # None: not checked
    detail: str
    last_poll: dt.datetime | None
    last_poll_error: str | None = None


@dataclass(frozen=True, slots=True)
class FirstStartStatus:
    """The first start: the baseline of the CRM's meetings, and what the send switch holds.

    ``baseline`` is ``not-taken`` (the first pass takes it), ``in-progress`` (since
    ``started_at``; the next pass carries on) or ``taken`` (at ``taken_at``, the latest
    when ``outbound baseline`` was run again). ``adopted``: the meetings it adopted,
    nothing sent for them (``None`` when an older version took it). ``held``: meetings
    still ahead whose send switch reads off but was never seen on since their invitations
    went out (nothing cancelled, updates go on); ``held_meetings`` names the first few.
    """

    baseline: str
    started_at: dt.datetime | None = None
    taken_at: dt.datetime | None = None
    adopted: int | None = None
    held: int = 0
    held_meetings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    """One ``[[mailboxes]]`` entry as the workers see it."""

    name: str
    connected: bool
    lease_holder: str | None
    last_idle: str | None
    last_drain: str | None
    last_message: dt.datetime | None
    waiting: int | None
    last_error: str | None
    auth_error: str | None = None


@dataclass(frozen=True)
class StatusReport:
    """Everything ``invitegw status`` shows (see the module docstring)."""

    health: Health
    problems: tuple[str, ...]
    checked_at: dt.datetime
    schema: dict[str, Any] = field(default_factory=dict)
    workers: tuple[WorkerStatus, ...] = ()
    crm: CrmStatus | None = None
    mailboxes: tuple[MailboxStatus, ...] = ()
    listener: dict[str, Any] = field(default_factory=dict)
    outbox: dict[str, Any] = field(default_factory=dict)
    quarantine: dict[str, Any] = field(default_factory=dict)
    reminders: dict[str, Any] = field(default_factory=dict)
    first_start: FirstStartStatus | None = None
    warnings: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        """The command's exit code."""
        return self.health.exit_code

    def to_json(self) -> dict[str, Any]:
        """The report as JSON values (times ISO 8601 UTC)."""
        data: dict[str, Any] = _jsonable(asdict(self))
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    if isinstance(value, StrEnum):
        return value.value
    return value
