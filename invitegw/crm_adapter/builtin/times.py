"""Meeting times in the built-in CRM: spans, recurrence rules, occurrences.

Timed meetings are stored as UTC instants plus the zone they are planned in; all-day
meetings as dates with an exclusive end (DTEND, :rfc:`5545` section 3.6.1). Occurrences of
a series are found by expanding its RRULE (:rfc:`5545` section 3.3.10) in the meeting's
zone, so an occurrence keeps its wall-clock time across a daylight-saving change.

Rules are read and expanded by :func:`invitegw.ics.expand`, the gateway's one bounded
RRULE reader (parts range-checked, expansion capped in instances and in years), never by
``dateutil`` directly: a rule typed into the CRM is as untrusted as one from a stranger's
invitation, and one that never matches would otherwise search day by day to year 9999.
"""

from __future__ import annotations

import datetime as dt

from invitegw.crm_adapter.builtin.records import parse_recurrence_key, recurrence_key, zone
from invitegw.crm_adapter.builtin.schema import CrmMeeting, CrmMeetingOccurrence
from invitegw.errors import CrmError, IcsError
from invitegw.ics import Event, IcsLimits, expand

__all__ = [
    "checked_rrule",
    "find_occurrence",
    "meeting_span",
    "set_meeting_span",
    "shift_occurrences",
]

# How far a recurrence is expanded when looking for one occurrence: at most this many
# occurrences before it (a daily meeting for 27 years), within the default 200 years.
LIMITS = IcsLimits(max_recurrence_instances=10_000)


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


def _series(row: CrmMeeting, rule: str) -> Event:
    """The meeting as a recurring VEVENT for the expander (start in the meeting's zone)."""
    start, end = meeting_span(row)
    return Event(uid=f"crm-meeting-{row.id}", start=start, end=end, rrule=rule)


def checked_rrule(rule: str | None, row: CrmMeeting) -> str | None:
    """``rule`` without an ``RRULE:`` prefix, once it reads and expands from the row's start.

    Raises:
        CrmError: the rule is not a valid, expandable RRULE (the reason given).
    """
    if not rule:
        return None
    value = rule.strip()
    if value.upper().startswith("RRULE:"):
        value = value[len("RRULE:") :]
    series = _series(row, value)
    try:
        # Expanding up to the start reads every part and stops at once.
        expand(series, limits=LIMITS, until=series.start)
    except IcsError as exc:
        raise CrmError(f"invalid recurrence rule {rule!r}: {exc}") from exc
    return value


def find_occurrence(row: CrmMeeting, when: dt.date | dt.datetime) -> dt.date | dt.datetime:
    """The occurrence of the series on ``when``: a date (in the meeting's zone), or its start.

    Raises:
        CrmError: the meeting is not recurring, has no occurrence then, or its rule
            cannot be expanded that far (over :data:`LIMITS`).
    """
    if not row.rrule:
        raise CrmError(f"meeting {row.id} is not recurring")
    tz = zone(row.time_zone)
    if isinstance(when, dt.datetime) and when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    day = when.date() if isinstance(when, dt.datetime) else when
    until: dt.date | dt.datetime
    if row.all_day:
        until = day
    elif isinstance(when, dt.datetime):
        until = when.astimezone(tz)
    else:
        until = dt.datetime.combine(day, dt.time.max, tzinfo=tz)
    try:
        occurrences = expand(_series(row, row.rrule), limits=LIMITS, until=until)
    except IcsError as exc:
        raise CrmError(
            f"meeting {row.id}: cannot look for an occurrence on {when.isoformat()}: {exc}"
        ) from exc
    for occurrence in occurrences:
        if row.all_day:
            if occurrence == day:
                return occurrence
        elif isinstance(when, dt.datetime):
            if occurrence == when:
                return occurrence
        elif isinstance(occurrence, dt.datetime) and occurrence.date() == day:
            return occurrence
    raise CrmError(f"meeting {row.id} has no occurrence on {when.isoformat()}")
