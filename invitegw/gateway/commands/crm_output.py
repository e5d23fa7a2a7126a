"""How ``invitegw crm task list`` and ``crm log list`` print: a readable table, or JSON.

The JSON shapes are part of the interface (acceptance checks read them):

- task: ``id, title, start_utc, end_utc, status, owner, party {type, email}, uid,
  recurrence_id, sequence, location``; times are ISO 8601 in UTC with ``Z`` (dates for
  all-day tasks), ``owner`` is the owner's address, ``party`` is ``null`` when unlinked.
- log entry: ``id, created_at, level, target, target_id, message, details``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from invitegw.domain.records import LogEntry, LogTarget, Party, Task
from invitegw.gateway.commands.terminal import for_terminal
from invitegw.gateway.storage import EventLogEntry

__all__ = [
    "gateway_log",
    "iso_utc",
    "log_record",
    "print_logs",
    "print_records",
    "print_tasks",
    "task_record",
]


def iso_utc(value: dt.date | dt.datetime | None) -> str | None:
    """``2026-06-03T08:00:00Z`` for a time, ``2026-06-03`` for a date, None for None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def task_record(task: Task, owner: Party, party: Party | None) -> dict[str, Any]:
    """The JSON object of one task (see the module docstring)."""
    return {
        "id": task.id,
        "title": task.title,
        "start_utc": iso_utc(task.start),
        "end_utc": iso_utc(task.end),
        "status": task.status.value,
        "owner": owner.primary_email,
        "party": {"type": party.type.value, "email": party.primary_email} if party else None,
        "uid": task.source_uid,
        "recurrence_id": task.recurrence_id,
        "sequence": task.sequence,
        "location": task.location,
    }


def log_record(ident: int, entry: LogEntry) -> dict[str, Any]:
    """The JSON object of one log entry (see the module docstring)."""
    return {
        "id": ident,
        "created_at": iso_utc(entry.created_at),
        "level": entry.level.value,
        "target": entry.target.value,
        "target_id": entry.target_id,
        "message": entry.message,
        "details": dict(entry.details),
    }


def print_records(
    records: Sequence[dict[str, Any]],
    *,
    as_json: bool,
    empty: str,
    headers: Sequence[str],
    row: Callable[[dict[str, Any]], Sequence[object]],
) -> None:
    """Print records as an aligned table, or as a JSON array.

    Parameters:
        records: the JSON objects.
        as_json: print JSON.
        empty: the line printed when there is nothing.
        headers: the table's column titles.
        row: a record's cells, in the order of ``headers``.
    """
    if as_json:
        print(json.dumps(list(records), indent=2, ensure_ascii=False))
        return
    if not records:
        print(empty)
        return
    cells = [[for_terminal(v) for v in row(r)] for r in records]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    for line in [list(headers), *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def print_tasks(rows: Sequence[tuple[Task, Party, Party | None]], *, as_json: bool) -> None:
    """Print tasks as a table, or as a JSON array.

    Parameters:
        rows: (task, owner, linked party) triples.
        as_json: print JSON.
    """
    print_records(
        [task_record(*row) for row in rows],
        as_json=as_json,
        empty="no tasks",
        headers=["ID", "STATUS", "START (UTC)", "TITLE", "OWNER", "PARTY", "SEQ"],
        row=lambda r: [
            r["id"],
            r["status"],
            r["start_utc"],
            r["title"],
            r["owner"],
            r["party"]["email"] if r["party"] else "",
            r["sequence"],
        ],
    )


def gateway_log(session: Session) -> list[tuple[int, LogEntry]]:
    """The gateway's own event log as integration-log entries, oldest first.

    Parameters:
        session: an open session on the gateway's database.

    Returns:
        (id, entry) pairs; the entry's details carry the event kind and Message-ID.
    """
    rows = session.scalars(select(EventLogEntry).order_by(EventLogEntry.id))
    result = []
    for row in rows:
        if row.meeting_id:
            target, target_id = LogTarget.MEETING, row.meeting_id
        elif row.task_id:
            target, target_id = LogTarget.TASK, row.task_id
        else:
            target, target_id = LogTarget.GATEWAY, None
        details = {key: str(value) for key, value in (row.details or {}).items()}
        details["kind"] = row.kind
        if row.message_id:
            details["message_id"] = row.message_id
        entry = LogEntry(
            target=target,
            target_id=target_id,
            level=row.level,
            message=row.text,
            created_at=row.created_at,
            details=details,
        )
        result.append((row.id, entry))
    return result


def print_logs(rows: Sequence[tuple[int, LogEntry]], *, as_json: bool) -> None:
    """Print log entries as a table, or as a JSON array.

    Parameters:
        rows: (id, entry) pairs.
        as_json: print JSON.
    """
    print_records(
        [log_record(*row) for row in rows],
        as_json=as_json,
        empty="no log entries",
        headers=["ID", "TIME (UTC)", "LEVEL", "ABOUT", "MESSAGE"],
        row=lambda r: [
            r["id"],
            r["created_at"],
            r["level"],
            f"{r['target']} {r['target_id'] or ''}".strip(),
            r["message"],
        ],
    )
