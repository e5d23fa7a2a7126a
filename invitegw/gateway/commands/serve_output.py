"""What ``invitegw serve --once`` prints: one readable line per job, or one JSON object each.

Readable: ``crm-poll: 1 meeting changed (1 created), 4 messages queued``, ``outbox: 4
sent``. JSON Lines: ``{"job", "ok", "error", "result"}`` with ``result`` the job's report
as an object (its counters by name; a number for ``reminders``; null when the job
failed). The outbox job's result also says how many messages are still waiting to be sent
(``waiting``), the last error among them (``waiting_reason``) and when the next attempt is
due (``next_attempt_at``), so a relay that refused everything is never silent:
:func:`waiting_note` is the line ``serve --once`` adds on stderr then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.commands.output import iso_utc
from invitegw.gateway.outbound.dispatch import DispatchReport
from invitegw.gateway.outbound.feed import OutboundReport
from invitegw.gateway.scheduler import JobOutcome
from invitegw.gateway.storage import OutboxMessage, OutboxState

__all__ = ["Waiting", "job_line", "job_record", "waiting_messages", "waiting_note"]


@dataclass(frozen=True, slots=True)
class Waiting:
    """The outbox messages still waiting to be sent after a run."""

    count: int = 0
    reason: str | None = None
    next_attempt_at: dt.datetime | None = None


def waiting_messages(gateway: Gateway) -> Waiting:
    """How many outbox messages wait, why the latest attempt failed, when the next is due.

    Parameters:
        gateway: the assembled gateway.

    Returns:
        The count (0: nothing waits), the newest error and the earliest next attempt.
    """
    pending = OutboxMessage.state == OutboxState.PENDING
    with gateway.store.session() as session:
        count, due = session.execute(
            select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(pending)
        ).one()
        reason = session.scalars(
            select(OutboxMessage.last_error)
            .where(pending, OutboxMessage.last_error.is_not(None))
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        ).first()
    return Waiting(count=int(count or 0), reason=reason, next_attempt_at=due)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# The planner's one-word actions (itip.plan_model.Plan.action), as the poll's line says them.
_ACTIONS = {
    "occurrences": "with occurrences changed",
    "attendees": "with attendees changed",
    "minor": "with a minor change",
    "past": "already over",
    "sync-off": "with invitations off",
    "too-large": "too large to send",
}


def _poll_text(report: OutboundReport) -> str:
    if report.skipped:
        return "skipped: another worker is polling the CRM"
    parts = []
    if report.baseline or report.adopted:
        parts.append(
            f"baseline: {_plural(report.adopted, 'existing meeting')} adopted without "
            "sending (`invitegw outbound invite-upcoming` invites them)"
        )
    changed_count = report.meetings - report.adopted
    if changed_count:
        actions = ", ".join(
            f"{n} {_ACTIONS.get(action, action)}"
            for action, n in sorted(report.actions.items())
            if action != "adopted"
        )
        changed = _plural(changed_count, "meeting") + " changed"
        parts.append(f"{changed} ({actions})" if actions else changed)
    if report.messages:
        parts.append(_plural(report.messages, "message") + " queued")
    elif changed_count:
        parts.append("nothing to send (`invitegw crm log list` says why)")
    if report.resent:
        parts.append(f"{report.resent} sent again on request")
    if report.deleted_found:
        parts.append(_plural(report.deleted_found, "deleted meeting") + " found")
    if report.failed:
        parts.append(f"{report.failed} could not be built (see `invitegw crm log list`)")
    return ", ".join(parts) or "no changes in the CRM"


def _dispatch_text(report: DispatchReport, waiting: Waiting | None) -> str:
    parts = []
    if report.sent:
        parts.append(f"{report.sent} sent")
    if report.retried:
        parts.append(f"{report.retried} to try again later")
    if report.dead:
        parts.append(f"{report.dead} given up (see `invitegw outbox list --state dead`)")
    if report.released:
        parts.append(f"{report.released} handed back unsent")
    text = ", ".join(parts) or "nothing to send"
    if waiting is not None and waiting.count:
        text += f"; {waiting.count} waiting"
    return text


def _text(result: object, waiting: Waiting | None) -> str:
    if isinstance(result, OutboundReport):
        return _poll_text(result)
    if isinstance(result, DispatchReport):
        return _dispatch_text(result, waiting)
    if isinstance(result, int) and not isinstance(result, bool):
        return f"{_plural(result, 'reminder')} queued" if result else "nothing due"
    if result is None:
        return "done"
    if dataclasses.is_dataclass(result) and type(result).__str__ is object.__str__:
        fields = dataclasses.asdict(result)  # type: ignore[arg-type]
        return ", ".join(f"{k} {v}" for k, v in fields.items() if v) or "nothing to do"
    return str(result)


def job_line(outcome: JobOutcome, waiting: Waiting | None = None) -> str:
    """One job's readable line: ``outbox: 4 sent``.

    Parameters:
        outcome: how the job's run ended.
        waiting: the outbox's waiting messages (added to the outbox job's line).

    Returns:
        The line.
    """
    if not outcome.ok:
        return f"{outcome.name}: FAILED: {outcome.error}"
    return f"{outcome.name}: {_text(outcome.result, waiting)}"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return iso_utc(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _result_object(result: object) -> Any:
    if isinstance(result, OutboundReport):
        fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
        fields.pop("plans")  # kept for a preview only
        return _plain(fields)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return _plain(dataclasses.asdict(result))
    return _plain(result)


def job_record(outcome: JobOutcome, waiting: Waiting | None = None) -> dict[str, Any]:
    """One job's JSON object (see the module docstring).

    Parameters:
        outcome: how the job's run ended.
        waiting: the outbox's waiting messages (added to the outbox job's result).

    Returns:
        The object.
    """
    result = _result_object(outcome.result) if outcome.ok else None
    if (
        isinstance(result, dict)
        and isinstance(outcome.result, DispatchReport)
        and waiting is not None
    ):
        result = {
            **result,
            "waiting": waiting.count,
            "waiting_reason": waiting.reason,
            "next_attempt_at": iso_utc(waiting.next_attempt_at),
        }
    return {"job": outcome.name, "ok": outcome.ok, "error": outcome.error, "result": result}


def waiting_note(waiting: Waiting, relay: str) -> str | None:
    """The stderr line when messages stayed unsent: how many, why, what happens next.

    Parameters:
        waiting: the outbox's waiting messages.
        relay: ``host:port`` of the configured relay.

    Returns:
        The line, or None when nothing waits.
    """
    if not waiting.count:
        return None
    why = f": {waiting.reason}" if waiting.reason else ""
    when = ""
    if waiting.next_attempt_at is not None:
        when = f" from {waiting.next_attempt_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    return (
        f"invitegw: {_plural(waiting.count, 'message')} not sent yet (relay {relay}{why}); "
        f"the next `invitegw serve` (or `serve --once`) tries again{when}. "
        "`invitegw outbox list` shows them."
    )
