"""Meeting times in the built-in CRM: spans, recurrence rules, occurrences.

Timed meetings are stored as UTC instants plus the zone they are planned in; all-day
meetings as dates with an exclusive end (DTEND, :rfc:`5545` section 3.6.1). Occurrences of
a series are found by expanding its RRULE (:rfc:`5545` section 3.3.10) in the meeting's
zone, so an occurrence keeps its wall-clock time across a daylight-saving change.
"""

from __future__ import annotations

import datetime as dt

from dateutil.rrule import rrulestr

from invitegw.crm_adapter.builtin.records import parse_recurrence_key, recurrence_key, zone
from invitegw.crm_adapter.builtin.schema import CrmMeeting, CrmMeetingOccurrence
from invitegw.errors import CrmError

__all__ = [
    "checked_rrule",
    "find_occurrence",
    "meeting_span",
    "series_start",
    "set_meeting_span",
    "shift_occurrences",
]

# How far a recurrence is expanded when looking for one occurrence.
_MAX_OCCURRENCES = 10_000


def meeting_span(row: CrmMeeting) -> tuple[dt.date | dt.datetime, dt.date | dt.datetime]:
    if row.all_day:
        assert row.start_date is not None
        assert row.end_date is not None
        return row.start_date, row.end_date
    assert row.start_at is not None
    assert row.end_at is not None
    tz = zone(row.time_zone)
    return row.start_at.astimezone(tz), row.end_at.astimezone(tz)


def set_meeting_span(
    row: CrmMeeting | CrmMeetingOccurrence,
    start: dt.date | dt.datetime,
    end: dt.date | dt.datetime,
    time_zone: str | None,
    *,
    all_day: bool | None = None,
) -> None:
    """Store start/end: aware times as UTC instants, dates for all-day (end exclusive)."""
    zone(time_zone)
    timed = isinstance(start, dt.datetime)
    if isinstance(end, dt.datetime) != timed:
        raise CrmError("start and end must both be dates (all-day) or both be times")
    if all_day is not None and all_day == timed:
        raise CrmError("an occurrence must have the same kind of start as its series")
    if timed:
        assert isinstance(start, dt.datetime)
        assert isinstance(end, dt.datetime)
        if start.tzinfo is None or end.tzinfo is None:
            raise CrmError("meeting times must be timezone-aware")
        if end < start:
            raise CrmError("the meeting ends before it starts")
        row.start_at, row.end_at, row.start_date, row.end_date = start, end, None, None
    else:
        if end <= start:
            raise CrmError("an all-day meeting must end after the day it starts")
        row.start_at, row.end_at = None, None
        row.start_date, row.end_date = start, end
    if isinstance(row, CrmMeeting):
        row.all_day = not timed


def shift_occurrences(
    row: CrmMeeting, old_start: dt.date | dt.datetime, new_start: dt.date | dt.datetime
) -> None:
    """Keep a moved series' exceptions on the same occurrences (moved by the same offset).

    A RECURRENCE-ID names an occurrence by its original start (:rfc:`5545` section
    3.8.4.4), so when the series starts at another time, its exceptions' ids move with it;
    the offset is taken in wall-clock time, as the occurrences themselves are.
    """
    if not row.occurrences or type(old_start) is not type(new_start):
        return
    tz = zone(row.time_zone)
    if isinstance(old_start, dt.datetime) and isinstance(new_start, dt.datetime):
        offset = new_start.astimezone(tz).replace(tzinfo=None) - old_start.astimezone(tz).replace(
            tzinfo=None
        )
    else:
        offset = new_start - old_start
    if not offset:
        return
    for occurrence in row.occurrences:
        original = parse_recurrence_key(occurrence.recurrence_key, tz)
        if isinstance(original, dt.datetime):
            moved: dt.date | dt.datetime = (original.replace(tzinfo=None) + offset).replace(
                tzinfo=tz
            )
        else:
            moved = original + offset
        occurrence.recurrence_key = recurrence_key(moved)


def series_start(row: CrmMeeting) -> dt.datetime:
    start, _ = meeting_span(row)
    if isinstance(start, dt.datetime):
        return start
    return dt.datetime.combine(start, dt.time())  # floating midnight for an all-day series


def checked_rrule(rule: str | None, row: CrmMeeting) -> str | None:
    if not rule:
        return None
    value = rule.strip()
    if value.upper().startswith("RRULE:"):
        value = value[len("RRULE:") :]
    try:
        rrulestr(value, dtstart=series_start(row))
    except (ValueError, TypeError) as exc:
        raise CrmError(f"invalid recurrence rule {rule!r}: {exc}") from exc
    return value


def find_occurrence(row: CrmMeeting, when: dt.date | dt.datetime) -> dt.date | dt.datetime:
    if not row.rrule:
        raise CrmError(f"meeting {row.id} is not recurring")
    tz = zone(row.time_zone)
    if isinstance(when, dt.datetime) and when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    rule = rrulestr(row.rrule, dtstart=series_start(row))
    for count, occurrence in enumerate(rule):
        if count >= _MAX_OCCURRENCES:
            break
        if row.all_day:
            day = occurrence.date()
            target = when.date() if isinstance(when, dt.datetime) else when
            if day == target:
                return day
            if day > target:
                break
            continue
        local = occurrence.astimezone(tz)
        if isinstance(when, dt.datetime):
            if local == when:
                return local
            if local > when:
                break
        elif local.date() == when:
            return local
        elif local.date() > when:
            break
    raise CrmError(f"meeting {row.id} has no occurrence on {when.isoformat()}")
