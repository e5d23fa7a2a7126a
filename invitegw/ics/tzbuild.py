"""VTIMEZONE components for what we send, written as Outlook and Thunderbird write them.

:rfc:`5545` section 3.6.5 lets a VTIMEZONE list every onset (one RDATE per year) or state
the rule (a yearly RRULE). icalendar's ``Timezone.from_tzinfo`` writes the former, 1970 to
2038, about 1.5 KB per zone, the shape linked to Outlook showing meetings an hour off. We
write the latter: one STANDARD and one DAYLIGHT observance, each with
``RRULE:FREQ=YEARLY;BYMONTH=..;BYDAY=..``, covering the event's dates (from the year
before its first date to the year after its last), plus dated onsets only where the zone's
rules changed within that span.

Transitions are found from ``zoneinfo`` by sampling the offset weekly and bisecting to the
second; onsets are written as the RFC asks, in local time *before* the change (spring
forward in Berlin: ``DTSTART:...T020000`` with ``TZOFFSETFROM:+0100``). Results are cached
per (zone, first year, last year), so a zone costs its computation once per process.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

from invitegw.ics.rrule import WEEKDAYS

__all__ = ["vtimezone_lines"]

_WEEK = dt.timedelta(days=7)
_SECOND = dt.timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class _Transition:
    utc: dt.datetime  # first instant of the new offset (aware, UTC)
    before: dt.timedelta
    after: dt.timedelta
    daylight: bool
    name: str

    @property
    def local(self) -> dt.datetime:
        """The onset as RFC 5545 writes it: local time in the offset before the change."""
        return (self.utc + self.before).replace(tzinfo=None)

    def ordinals(self) -> set[int]:
        """The BYDAY ordinals that name this onset's day: its week of the month, -1 if last."""
        day = self.local.day
        found = {(day - 1) // 7 + 1}
        if day + 7 > calendar.monthrange(self.local.year, self.local.month)[1]:
            found.add(-1)
        return found

    def signature(self) -> tuple[object, ...]:
        local = self.local
        return (
            self.daylight,
            self.before,
            self.after,
            self.name,
            local.month,
            local.weekday(),
            local.time(),
        )


@dataclass(slots=True)
class _Group:
    transitions: list[_Transition]
    ordinals: set[int]


def vtimezone_lines(
    zone: zoneinfo.ZoneInfo, first: dt.datetime, last: dt.datetime
) -> tuple[str, ...]:
    """The content lines of a VTIMEZONE for ``zone`` covering ``first`` to ``last``.

    Parameters:
        zone: the IANA zone.
        first: the earliest time the calendar holds in that zone.
        last: the latest (for an unbounded series, any late date: the rules written then
            continue without end).

    Returns:
        Unfolded content lines from ``BEGIN:VTIMEZONE`` to ``END:VTIMEZONE``.
    """
    first_year = max(first.year - 1, 1900)
    last_year = min(max(last.year, first.year) + 1, 2200)
    return _cached(zone.key, first_year, last_year)


@functools.lru_cache(maxsize=512)
def _cached(key: str, first_year: int, last_year: int) -> tuple[str, ...]:
    zone = zoneinfo.ZoneInfo(key)
    transitions = _transitions(zone, first_year, last_year)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{key}"]
    if not transitions or transitions[0].utc.year > first_year:
        start = dt.datetime(first_year, 1, 1, tzinfo=dt.UTC)
        moment = start.astimezone(zone)
        offset = moment.utcoffset() or dt.timedelta(0)
        kind = "STANDARD"
        lines += [
            f"BEGIN:{kind}",
            f"TZNAME:{_name(moment.tzname(), offset)}",
            f"TZOFFSETFROM:{_offset(offset)}",
            f"TZOFFSETTO:{_offset(offset)}",
            "DTSTART:19700101T000000" if first_year >= 1970 else f"DTSTART:{start:%Y%m%dT%H%M%S}",
            f"END:{kind}",
        ]
    for group in _groups(transitions):
        lines += _observance(group, open_ended=group.transitions[-1].utc.year >= last_year)
    lines.append("END:VTIMEZONE")
    return tuple(lines)


def _transitions(zone: zoneinfo.ZoneInfo, first_year: int, last_year: int) -> list[_Transition]:
    found: list[_Transition] = []
    cursor = dt.datetime(first_year, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(last_year + 1, 1, 1, tzinfo=dt.UTC)
    offset = _offset_at(zone, cursor)
    while cursor < end:
        step = min(cursor + _WEEK, end)
        next_offset = _offset_at(zone, step)
        if next_offset != offset:
            low, high = cursor, step  # offset(low) == offset, offset(high) != offset
            while high - low > _SECOND:
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if _offset_at(zone, middle) == offset:
                    low = middle
                else:
                    high = middle
            after = _offset_at(zone, high)
            moment = high.astimezone(zone)
            # DAYLIGHT is the observance that moves clocks forward: zoneinfo calls Irish
            # winter time "DST" (a negative one), which Outlook would misread.
            found.append(
                _Transition(high, offset, after, after > offset, _name(moment.tzname(), after))
            )
            offset = after
            cursor = high
            continue
        cursor = step
    return found


def _offset_at(zone: zoneinfo.ZoneInfo, utc: dt.datetime) -> dt.timedelta:
    return utc.astimezone(zone).utcoffset() or dt.timedelta(0)


def _groups(transitions: list[_Transition]) -> list[_Group]:
    """Transitions gathered into yearly rules (consecutive years, same shape)."""
    groups: list[_Group] = []
    open_groups: dict[tuple[object, ...], _Group] = {}
    for transition in transitions:
        key = transition.signature()
        group = open_groups.get(key)
        ordinals = transition.ordinals()
        if (
            group is not None
            and transition.local.year == group.transitions[-1].local.year + 1
            and group.ordinals & ordinals
        ):
            group.transitions.append(transition)
            group.ordinals &= ordinals
            continue
        group = _Group([transition], ordinals)
        open_groups[key] = group
        groups.append(group)
    return groups


def _observance(group: _Group, *, open_ended: bool) -> list[str]:
    head = group.transitions[0]
    last = group.transitions[-1]
    kind = "DAYLIGHT" if head.daylight else "STANDARD"
    lines = [
        f"BEGIN:{kind}",
        f"TZNAME:{head.name}",
        f"TZOFFSETFROM:{_offset(head.before)}",
        f"TZOFFSETTO:{_offset(head.after)}",
        f"DTSTART:{head.local:%Y%m%dT%H%M%S}",
    ]
    if len(group.transitions) > 1:
        ordinal = -1 if -1 in group.ordinals else min(group.ordinals)
        rule = (
            f"RRULE:FREQ=YEARLY;BYMONTH={head.local.month};"
            f"BYDAY={ordinal}{WEEKDAYS[head.local.weekday()]}"
        )
        if not open_ended:
            # UNTIL is UTC (RFC 5545 section 3.3.10), but some readers (dateutil's tzical
            # among them) compare it with the local onset: the later of the two includes
            # the last onset either way, and the next one is a year off.
            until = max(last.utc.replace(tzinfo=None), last.local)
            rule += f";UNTIL={until:%Y%m%dT%H%M%S}Z"
        lines.append(rule)
    lines.append(f"END:{kind}")
    return lines


def _offset(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")


def _name(name: str | None, offset: dt.timedelta) -> str:
    """A TZNAME that is plain text (zoneinfo gives "+0530"-style names for some zones)."""
    if name and all(char.isalnum() or char in "+-" for char in name):
        return name
    return "UTC" + _offset(offset)
