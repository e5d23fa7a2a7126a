"""A ``tzinfo`` computed from a producer's own VTIMEZONE (:rfc:`5545` section 3.6.5).

Used when a TZID names no IANA zone (Outlook's "Customized Time Zone", Lotus Notes'
"Central European", CDO's "GMT +0100 (Standard) / GMT +0200 (Daylight)") or when the
producer's definition disagrees with the IANA zone its name maps to: the sender's client
computed the wall-clock times with that definition, so it is the one that gives the right
instant.

Each STANDARD/DAYLIGHT observance has onsets: its DTSTART (local time in TZOFFSETFROM),
its RDATEs, and a yearly RRULE. Onsets are computed per year on demand, never by iterating
from DTSTART (Outlook writes 1601), and only the yearly rule shapes that real zones use are
evaluated (BYMONTH with BYDAY "last Sunday"/"2nd Sunday", BYMONTHDAY, both); any other rule
counts as its DTSTART alone, with a warning. A hostile VTIMEZONE therefore costs nothing.

Local times that occur twice or not at all follow section 3.3.5: a repeated time means its
first occurrence, a skipped time is read with the offset before the gap (as ``zoneinfo``
does with ``fold=0``).
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import functools
import threading
from dataclasses import dataclass

from invitegw.ics.lexer import Component
from invitegw.ics.rrule import Recur, parse_recur
from invitegw.ics.values import parse_date_time, parse_utc_offset, unescape_text

__all__ = ["ObservanceZone", "compile_vtimezone"]

_ZERO = dt.timedelta(0)
_MAX_RDATES = 2000


@dataclass(frozen=True, slots=True)
class _Observance:
    daylight: bool
    offset_from: dt.timedelta
    offset_to: dt.timedelta
    name: str | None
    dtstart: dt.datetime
    onsets: tuple[dt.datetime, ...]  # DTSTART and RDATEs, sorted
    rule: Recur | None
    until: dt.datetime | None  # last possible rule onset, local time

    @property
    def shift(self) -> dt.timedelta:
        """How much later than its DTSTART wall time an onset takes effect on the clock."""
        return max(_ZERO, self.offset_to - self.offset_from)

    def latest_onset(self, local: dt.datetime) -> dt.datetime | None:
        """The latest onset at or before the local wall time ``local``."""
        best: dt.datetime | None = None
        index = bisect.bisect_right(self.onsets, local)
        if index:
            best = self.onsets[index - 1]
        rule = self.rule
        if rule is None or local < self.dtstart:
            return best
        bound = local if self.until is None else min(local, self.until)
        stop = max(bound.year - rule.interval - 2, self.dtstart.year - 1)
        for year in range(bound.year, stop, -1):
            if (year - self.dtstart.year) % rule.interval:
                continue
            candidates = [d for d in _yearly_onsets(rule, self.dtstart, year) if d <= bound]
            candidates = [d for d in candidates if d >= self.dtstart]
            if candidates:
                found = max(candidates)
                return found if best is None or found > best else best
        return best


# Every message from the same producer carries the same VTIMEZONE: its rules' onsets for
# a year are computed once per process. A hostile rule yields at most 12 x 31 onsets a
# year, so the cache stays small.
@functools.lru_cache(maxsize=512)
def _yearly_onsets(rule: Recur, dtstart: dt.datetime, year: int) -> tuple[dt.datetime, ...]:
    """The onsets of a yearly observance rule within ``year`` (local wall times)."""
    hour = rule.byhour[0] if rule.byhour else dtstart.hour
    minute = rule.byminute[0] if rule.byminute else dtstart.minute
    second = min(rule.bysecond[0], 59) if rule.bysecond else dtstart.second
    at = dt.time(hour, minute, second)
    found: list[dt.datetime] = []
    for month in rule.bymonth or (dtstart.month,):
        length = calendar.monthrange(year, month)[1]
        days: set[int] = set()
        if rule.bymonthday:
            days = {d if d > 0 else length + 1 + d for d in rule.bymonthday}
            days = {d for d in days if 1 <= d <= length}
            if rule.byday:
                weekdays = {wd for _, wd in rule.byday}
                days = {d for d in days if dt.date(year, month, d).weekday() in weekdays}
        elif rule.byday:
            for ordinal, weekday in rule.byday:
                first = (weekday - dt.date(year, month, 1).weekday()) % 7 + 1
                matching = list(range(first, length + 1, 7))
                if ordinal is None:
                    days.update(matching)
                elif 1 <= abs(ordinal) <= len(matching):
                    days.add(matching[ordinal - 1] if ordinal > 0 else matching[ordinal])
        elif dtstart.day <= length:
            days = {dtstart.day}
        found.extend(dt.datetime.combine(dt.date(year, month, d), at) for d in days)
    return tuple(found)


def _supported(rule: Recur) -> bool:
    return (
        rule.freq == "YEARLY"
        and rule.interval <= 100
        and not (rule.byyearday or rule.byweekno or rule.bysetpos)
        and len(rule.byhour) <= 1
        and len(rule.byminute) <= 1
        and len(rule.bysecond) <= 1
        and rule.count is None
    )


class ObservanceZone(dt.tzinfo):
    """A zone defined by VTIMEZONE observances.

    Parameters:
        tzid: the VTIMEZONE's TZID (for ``repr`` and ``tzname`` fall-backs).
        observances: the compiled STANDARD/DAYLIGHT sub-components.
    """

    def __init__(self, tzid: str, observances: tuple[_Observance, ...]) -> None:
        self.tzid = tzid
        self._observances = observances
        self._before = min(observances, key=lambda o: o.dtstart)

    def __repr__(self) -> str:
        return f"ObservanceZone({self.tzid!r})"

    def _active(self, local: dt.datetime) -> _Observance | None:
        """The observance in force at a local wall time; ``None`` before every onset."""
        best: _Observance | None = None
        best_at: dt.datetime | None = None
        for observance in self._observances:
            onset = observance.latest_onset(local - observance.shift)
            if onset is None:
                continue
            effective = onset + observance.shift
            if best_at is None or effective > best_at:
                best, best_at = observance, effective
        return best

    def utcoffset(self, value: dt.datetime | None) -> dt.timedelta:
        """The offset at the local time ``value`` (before every onset: the first one's FROM)."""
        if value is None:
            return self._before.offset_to
        observance = self._active(value.replace(tzinfo=None))
        return self._before.offset_from if observance is None else observance.offset_to

    def dst(self, value: dt.datetime | None) -> dt.timedelta:
        """The daylight-saving part of the offset at ``value``."""
        if value is None:
            return _ZERO
        observance = self._active(value.replace(tzinfo=None))
        if observance is None or not observance.daylight:
            return _ZERO
        return observance.offset_to - observance.offset_from

    def tzname(self, value: dt.datetime | None) -> str | None:
        """The TZNAME of the observance in force, else the TZID."""
        if value is None:
            return self.tzid
        observance = self._active(value.replace(tzinfo=None))
        return (observance.name if observance else None) or self.tzid

    def fromutc(self, value: dt.datetime) -> dt.datetime:
        """``value`` (UTC, carrying this zone) as local time in this zone."""
        utc = value.replace(tzinfo=None)
        best: _Observance | None = None
        best_at: dt.datetime | None = None
        for observance in self._observances:
            onset = observance.latest_onset(utc + observance.offset_from)
            if onset is None:
                continue
            instant = onset - observance.offset_from
            if best_at is None or instant > best_at:
                best, best_at = observance, instant
        offset = best.offset_to if best is not None else self._before.offset_from
        return (utc + offset).replace(tzinfo=self)


def compile_vtimezone(component: Component) -> tuple[ObservanceZone | None, list[str]]:
    """The zone a VTIMEZONE defines, cached by its text; and what was wrong with it.

    Parameters:
        component: the VTIMEZONE, as read by the lexer.

    Returns:
        The zone (``None`` when no observance is usable) and warnings in words.
    """
    return _compile_cached(component.text or repr(component), component)


# Keyed by the VTIMEZONE's text: the same sender sends the same definition every time.
# Bounded, so a stream of made-up zones cannot grow it; locked, for threaded callers.
_CACHE: dict[str, tuple[ObservanceZone | None, list[str]]] = {}
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()


def _compile_cached(key: str, component: Component) -> tuple[ObservanceZone | None, list[str]]:
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    result = _compile(component)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = result
    return result


def _compile(component: Component) -> tuple[ObservanceZone | None, list[str]]:
    tzid_prop = component.first("TZID")
    tzid = unescape_text(tzid_prop.value).strip() if tzid_prop else ""
    warnings: list[str] = []
    observances: list[_Observance] = []
    for child in component.children:
        if child.name not in ("STANDARD", "DAYLIGHT"):
            continue
        try:
            observances.append(_observance(child, warnings))
        except (ValueError, OverflowError) as exc:
            warnings.append(
                f"VTIMEZONE {tzid!r}: {child.name} at line {child.line_number} ignored: {exc}"
            )
    if not observances:
        warnings.append(f"VTIMEZONE {tzid!r} has no usable STANDARD or DAYLIGHT")
        return None, warnings
    return ObservanceZone(tzid, tuple(observances)), warnings


def _observance(child: Component, warnings: list[str]) -> _Observance:
    values: dict[str, str] = {}
    for name in ("DTSTART", "TZOFFSETFROM", "TZOFFSETTO"):
        prop = child.first(name)
        if prop is None:
            raise ValueError(f"no {name}")
        values[name] = prop.value
    start_value = parse_date_time(values["DTSTART"]).value
    dtstart = (
        start_value
        if isinstance(start_value, dt.datetime)
        else dt.datetime.combine(start_value, dt.time())
    )
    offset_from = parse_utc_offset(values["TZOFFSETFROM"])
    offset_to = parse_utc_offset(values["TZOFFSETTO"])
    onsets = {dtstart}
    for prop in child.all("RDATE"):
        for item in prop.value.split(","):
            if len(onsets) >= _MAX_RDATES:
                break
            try:
                value = parse_date_time(item.split("/")[0]).value
            except ValueError:
                continue
            onsets.add(
                value
                if isinstance(value, dt.datetime)
                else dt.datetime.combine(value, dtstart.time())
            )
    rule: Recur | None = None
    until: dt.datetime | None = None
    rrule = child.first("RRULE")
    if rrule is not None:
        try:
            parsed = parse_recur(rrule.value)
        except ValueError as exc:
            parsed = None
            warnings.append(f"{child.name} RRULE at line {rrule.line_number} ignored: {exc}")
        if parsed is not None and _supported(parsed):
            rule = parsed
            if parsed.until is not None:
                limit = parsed.until
                if not isinstance(limit, dt.datetime):
                    limit = dt.datetime.combine(limit, dt.time(23, 59, 59))
                until = limit + offset_from if parsed.until_utc else limit
        elif parsed is not None:
            warnings.append(
                f"{child.name} RRULE at line {rrule.line_number} is not a yearly "
                "rule this reader evaluates; only its DTSTART is used"
            )
    name_prop = child.first("TZNAME")
    return _Observance(
        daylight=child.name == "DAYLIGHT",
        offset_from=offset_from,
        offset_to=offset_to,
        name=unescape_text(name_prop.value) if name_prop else None,
        dtstart=dtstart,
        onsets=tuple(sorted(onsets)),
        rule=rule,
        until=until,
    )
