"""What a received event makes of a CRM task: its fields, and which of them a newer copy changes.

Pure: :func:`task_content` reads the title, description, location, start and end an event
gives (floating times in the zone given); :func:`content_changes` compares them with the
task on record, which is what :mod:`invitegw.itip.decide` needs to tell a newer copy with
the same content from one that reschedules or renames the task.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from invitegw.domain.records import Task
from invitegw.ics.model import DateOrDateTime, Event

__all__ = ["UNTITLED", "TaskContent", "content_changes", "task_content"]

UNTITLED = "(no title)"


@dataclass(frozen=True, slots=True)
class TaskContent:
    """The task fields an event gives: title, description, location, start and end."""

    title: str
    description: str
    location: str
    start: DateOrDateTime
    end: DateOrDateTime | None


def task_content(event: Event, floating_zone: ZoneInfo | dt.tzinfo) -> TaskContent:
    """The task fields an event gives.

    Floating times (no zone) are read in ``floating_zone``; an end before the start, or of
    another kind than the start (a date against a time), is dropped.

    Parameters:
        event: the event.
        floating_zone: the zone for floating times (the owner's, or the calendar's).

    Returns:
        The content.
    """

    def aware(value: DateOrDateTime) -> DateOrDateTime:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=floating_zone)
        return value

    start = aware(event.start)
    end = aware(event.end) if event.end is not None and event.start_given else None
    if end is not None and (
        isinstance(end, dt.datetime) != isinstance(start, dt.datetime) or end < start
    ):
        end = None
    return TaskContent(
        title=event.summary.strip() or UNTITLED,
        description=event.description,
        location=event.location,
        start=start,
        end=end,
    )


def _same_time(a: DateOrDateTime | None, b: DateOrDateTime | None) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, dt.datetime) != isinstance(b, dt.datetime):
        return False
    return a == b


def content_changes(task: Task, content: TaskContent) -> tuple[str, ...]:
    """The task fields ``content`` would change.

    Parameters:
        task: the task on record.
        content: what the newer copy gives (:func:`task_content`).

    Returns:
        The names of the changed fields, in a fixed order (``start``, ``end``,
        ``location``, ``title``, ``description``).
    """
    changed = []
    if not _same_time(task.start, content.start):
        changed.append("start")
    if not _same_time(task.end, content.end):
        changed.append("end")
    if task.location != content.location:
        changed.append("location")
    if task.title != content.title:
        changed.append("title")
    if task.description != content.description:
        changed.append("description")
    return tuple(changed)
