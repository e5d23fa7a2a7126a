"""Bounded expansion of RRULE, RDATE and EXDATE (:rfc:`5545` sections 3.3.10, 3.8.5).

This is the one reader of recurrence rules the gateway needs: :func:`validate_rrule` checks
a rule (from a message or from the CRM) and :func:`occurrences_between` lists the instances
of a rule between two instants; :func:`expand` and :func:`last_occurrence_end` do the same
for an :class:`~invitegw.ics.model.Event`. All of them are bounded by the same
:class:`~invitegw.ics.limits.IcsLimits`; nothing else should hand a rule to ``dateutil``.

``dateutil`` does the rule arithmetic, but cannot be trusted with strangers' rules as they
are: a rule that never matches (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``) makes it search
day by day up to year 9999, and ``FREQ=SECONDLY`` with ``BYSETPOS`` never ends at all. So:

- the rule is checked part by part first (:func:`~invitegw.ics.rrule.parse_recur`);
  BYSETPOS is refused with sub-daily frequencies;
- the expansion runs on wall-clock times moved forward by a whole number of 400-year
  Gregorian cycles (weekdays and leap years repeat exactly), to just before year 9999, so
  that ``dateutil`` stops by itself after at most ``max_recurrence_years`` + 400 years
  whatever the rule; instances are moved back afterwards, and those more than
  ``max_recurrence_years`` after DTSTART are beyond the horizon;
- at most ``max_recurrence_instances`` instances are produced, all rules of an event
  together, else :class:`~invitegw.errors.IcsLimitError` names that cap.

An event with several RRULEs (Zimbra writes them; :rfc:`5545` section 3.8.5.3 deprecates
but does not forbid it) has the union of their instances, plus RDATE, minus EXDATE.
Instances are wall-clock times in the event's own zone (a meeting at 09:00 stays at 09:00
across a DST change); DTSTART always counts as the first instance (section 3.3.10).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from dateutil import rrule as du

from invitegw.errors import IcsParseError
from invitegw.ics.limits import DEFAULT_LIMITS, IcsLimits, over_limit
from invitegw.ics.model import DateOrDateTime, Event
from invitegw.ics.rrule import FREQUENCIES, Recur, parse_recur

__all__ = ["expand", "last_occurrence_end", "occurrences_between", "validate_rrule"]

_SUB_DAILY = ("SECONDLY", "MINUTELY", "HOURLY")
_CYCLE = 400  # years after which the Gregorian calendar repeats exactly
_MAX_YEAR = 9999
_DU_FREQ = {name: index for index, name in enumerate(reversed(FREQUENCIES))}


@dataclass(frozen=True, slots=True)
class _Expansion:
    instances: list[DateOrDateTime]
    complete: bool  # False when the rule runs beyond the horizon


def expand(
    event: Event,
    *,
    limits: IcsLimits = DEFAULT_LIMITS,
    until: DateOrDateTime | None = None,
) -> list[DateOrDateTime]:
    """The start of every instance of ``event``, in order.

    Parameters:
        event: a master event (an exception, with ``recurrence_id``, is its own instance).
        limits: the caps in force.
        until: stop after this start (same kind as ``event.start``); by default, the end of
            the rule or the horizon (``max_recurrence_years`` after DTSTART).

    Returns:
        The instance starts (``date``, naive or aware ``datetime`` like ``event.start``).

    Raises:
        IcsParseError: the RRULE cannot be read or expanded.
        IcsLimitError: more than ``max_recurrence_instances`` instances.
    """
    return _expand(event, limits, until).instances


def last_occurrence_end(
    event: Event, *, limits: IcsLimits = DEFAULT_LIMITS
) -> DateOrDateTime | None:
    """When the last instance of ``event`` ends; ``None`` for an unbounded series.

    A series whose COUNT or UNTIL reaches beyond ``max_recurrence_years`` counts as
    unbounded. The end is the instance start plus the event's duration (DTEND - DTSTART;
    one day for an all-day event without DTEND, none for a time without DTEND).

    Parameters:
        event: a master event, or an exception (then its own end).
        limits: the caps in force.

    Returns:
        The end, of the same kind as ``event.start``, or ``None``.

    Raises:
        IcsParseError: the RRULE cannot be read or expanded.
        IcsLimitError: more than ``max_recurrence_instances`` instances.
    """
    key = (
        _with_zone(event.start),
        _with_zone(event.end),
        _with_zone(event.recurrence_id),
        event.rrules,
        tuple(_with_zone(value) for value in event.rdates),
        tuple(_with_zone(value) for value in event.exdates),
        limits,
    )
    found = _LAST_ENDS.get(key, _MISSING)
    if found is _MISSING:
        found = _last_occurrence_end(event, limits)
        if len(_LAST_ENDS) >= _LAST_ENDS_KEPT:
            _LAST_ENDS.clear()
        _LAST_ENDS[key] = found
    return found  # type: ignore[return-value]


# Every message of a meeting (and the planner before them) asks for the same series' end;
# expanding it again for each recipient was a good part of building their calendars. Only
# what the expansion reads is in the key.
_MISSING = object()
_LAST_ENDS_KEPT = 512
_LAST_ENDS: dict[object, object] = {}


def _with_zone(value: DateOrDateTime | None) -> tuple[object, object, int]:
    # Aware datetimes compare equal across zones when they are the same instant (and
    # whatever their fold), but a rule expands differently in each: both are in the key.
    return value, getattr(value, "tzinfo", None), getattr(value, "fold", 0)


def _last_occurrence_end(event: Event, limits: IcsLimits) -> DateOrDateTime | None:
    duration = dt.timedelta(0) if isinstance(event.start, dt.datetime) else dt.timedelta(days=1)
    if event.end is not None:
        # A floating end with a zoned start (or the reverse) has no usable length.
        with contextlib.suppress(TypeError):
            duration = event.end - event.start
    if event.recurrence_id is None and not all(recur.bounded for _, recur in _recurs(event)):
        return None
    expansion = _expand(event, limits, None)
    if not expansion.complete:
        return None
    last: DateOrDateTime = max(expansion.instances, key=_sort_key)
    return last + duration


def validate_rrule(
    value: str, *, start: DateOrDateTime | None = None, limits: IcsLimits = DEFAULT_LIMITS
) -> Recur:
    """Check one RRULE value the way the expander will read it.

    Lenient on case, blanks, a trailing semicolon and an ``RRULE:`` prefix; strict on
    meaning (:rfc:`5545` section 3.3.10): FREQ is required, every part is range-checked,
    COUNT and UNTIL exclude each other, BYSETPOS is refused with a sub-daily FREQ. With
    ``start``, the rule is also run from it (bounded by ``limits``), so that a rule that
    passes here can be expanded from that start.

    Parameters:
        value: the rule (``FREQ=WEEKLY;BYDAY=MO,WE``), with or without ``RRULE:``.
        start: the series start (DTSTART) the rule will be expanded from, if known.
        limits: the caps in force.

    Returns:
        The checked rule; ``Recur.to_text()`` writes it in the customary order.

    Raises:
        IcsParseError: the rule is not valid or cannot be expanded (``property`` is
            ``RRULE``; the message says why).
    """
    text = value.strip()
    if text[:6].upper() == "RRULE:":
        text = text[6:].strip()
    try:
        recur = parse_recur(text)
    except ValueError as exc:
        raise IcsParseError(str(exc), component="VEVENT", property="RRULE", line=text) from None
    if recur.bysetpos and recur.freq in _SUB_DAILY:
        raise IcsParseError(
            f"BYSETPOS with FREQ={recur.freq} is not expanded",
            component="VEVENT",
            property="RRULE",
            line=text,
        )
    if start is not None:
        event = Event(uid="", start=start, rrule=text)
        # Up to DTSTART only: dateutil builds the rule and looks for its first instance.
        _rule_instances(event, text, recur, limits, start, budget=1)
    return recur


def occurrences_between(
    rrules: str | Sequence[str],
    start: DateOrDateTime,
    window_start: DateOrDateTime,
    window_end: DateOrDateTime,
    *,
    rdates: Sequence[DateOrDateTime] = (),
    exdates: Sequence[DateOrDateTime] = (),
    limits: IcsLimits = DEFAULT_LIMITS,
) -> list[DateOrDateTime]:
    """The starts of a series' instances from ``window_start`` to ``window_end``, inclusive.

    The series is DTSTART ``start`` with the rule(s) (their union when several), RDATEs
    and EXDATEs, as :func:`expand` reads an event: DTSTART counts as an instance, times
    keep their wall-clock time in ``start``'s zone, and aware values compare as instants.
    The work is bounded: instances are generated from ``start`` up to ``window_end`` (not
    beyond), at most ``max_recurrence_instances`` of them and none later than
    ``max_recurrence_years`` after ``start``.

    Parameters:
        rrules: one RRULE value, or several; an empty sequence for RDATEs alone.
        start: the series start (a ``date``, a floating or an aware ``datetime``).
        window_start: the first instant (or day) wanted.
        window_end: the last instant (or day) wanted.
        rdates: extra instance starts (RDATE).
        exdates: excluded instance starts (EXDATE).
        limits: the caps in force.

    Returns:
        The instance starts in the window, in order, of the same kind as ``start``.

    Raises:
        IcsParseError: a rule is not valid or cannot be expanded.
        IcsLimitError: more than ``max_recurrence_instances`` instances up to ``window_end``.
    """
    rules = (rrules,) if isinstance(rrules, str) else tuple(rrules)
    rules = tuple(rule.strip().removeprefix("RRULE:") for rule in rules)
    event = Event(
        uid="",
        start=start,
        rrule=rules[0] if rules else None,
        more_rrules=rules[1:],
        rdates=tuple(rdates),
        exdates=tuple(exdates),
    )
    instances = _expand(event, limits, window_end).instances
    lower = _sort_key(_like(start, window_start))
    upper = _sort_key(_like(start, window_end))
    # expand() keeps DTSTART when everything is excluded; a window holds instances only.
    excluded = {_sort_key(_like(start, value)) for value in exdates}
    return [
        value
        for value in instances
        if lower <= _sort_key(value) <= upper and _sort_key(value) not in excluded
    ]


def _recurs(event: Event) -> list[tuple[str, Recur]]:
    found = []
    for text in event.rrules:
        try:
            found.append((text, parse_recur(text)))
        except ValueError as exc:
            raise IcsParseError(str(exc), component="VEVENT", property="RRULE", line=text) from None
    return found


def _expand(event: Event, limits: IcsLimits, until: DateOrDateTime | None) -> _Expansion:
    start = event.start
    instances: list[DateOrDateTime] = [start]
    complete = True
    if event.recurrence_id is None:
        # All rules share the one cap on distinct instances; each rule may make at most
        # that many, so the work is bounded by max_rrules times the cap.
        distinct: set[dt.datetime] = set()
        for text, recur in _recurs(event):
            budget = limits.max_recurrence_instances + 1 - len(distinct)
            generated, rule_complete = _rule_instances(
                event, text, recur, limits, until, budget=budget
            )
            instances.extend(generated)
            complete = complete and rule_complete
            distinct.update(_sort_key(value) for value in generated)
            _check_count(len(distinct), limits)
        instances.extend(_like(start, value) for value in event.rdates)
    excluded = {_sort_key(_like(start, value)) for value in event.exdates}
    seen: dict[dt.datetime, DateOrDateTime] = {}
    for value in instances:
        key = _sort_key(value)
        if key not in excluded and (until is None or key <= _sort_key(_like(start, until))):
            seen.setdefault(key, value)
    _check_count(len(seen), limits)
    ordered = [seen[key] for key in sorted(seen)]
    if not ordered:  # every instance excluded: the series is empty, DTSTART stands
        ordered = [start]
    return _Expansion(ordered, complete)


def _check_count(count: int, limits: IcsLimits) -> None:
    if count > limits.max_recurrence_instances:
        raise over_limit(
            "max_recurrence_instances",
            count,
            limits.max_recurrence_instances,
            "recurrence instances",
        )


def _sort_key(value: DateOrDateTime) -> dt.datetime:
    """Instances compare as instants when aware, as wall times otherwise."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    return dt.datetime.combine(value, dt.time())


def _like(start: DateOrDateTime, value: DateOrDateTime) -> DateOrDateTime:
    """``value`` in the same kind as ``start`` (date, floating, or start's zone)."""
    if not isinstance(start, dt.datetime):
        return value.date() if isinstance(value, dt.datetime) else value
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, start.timetz())
    if start.tzinfo is None:
        return value.replace(tzinfo=None)
    if value.tzinfo is None:
        return value.replace(tzinfo=start.tzinfo)
    return value.astimezone(start.tzinfo)


def _wall(start: DateOrDateTime) -> dt.datetime:
    if isinstance(start, dt.datetime):
        return start.replace(tzinfo=None)
    return dt.datetime.combine(start, dt.time())


def _until_wall(recur: Recur, start: DateOrDateTime) -> dt.datetime | None:
    """UNTIL as a wall-clock time comparable with the instances."""
    if recur.until is None:
        return None
    until = recur.until
    if not isinstance(until, dt.datetime):
        return dt.datetime.combine(until, dt.time(23, 59, 59))
    if recur.until_utc and isinstance(start, dt.datetime) and start.tzinfo is not None:
        return until.replace(tzinfo=dt.UTC).astimezone(start.tzinfo).replace(tzinfo=None)
    return until


def _rule_instances(
    event: Event,
    text: str,
    recur: Recur,
    limits: IcsLimits,
    until: DateOrDateTime | None,
    *,
    budget: int,
) -> tuple[list[DateOrDateTime], bool]:
    """One rule's instances from DTSTART on (up to ``until``), at most ``budget`` + 1.

    More than ``budget`` would be over the cap: the caller's count check then raises.
    """
    if recur.bysetpos and recur.freq in _SUB_DAILY:
        raise IcsParseError(
            f"BYSETPOS with FREQ={recur.freq} is not expanded",
            component="VEVENT",
            property="RRULE",
            line=text,
        )
    start = event.start
    wall = _wall(start)
    shift = max(0, (_MAX_YEAR + 1 - limits.max_recurrence_years - wall.year) // _CYCLE) * _CYCLE
    rule_until = _until_wall(recur, start)
    complete = True
    if rule_until is not None and rule_until.year + shift > _MAX_YEAR:
        rule_until, complete = None, False
    elif rule_until is None and recur.count is None:
        complete = False
    stop = _wall(_like(start, until)) if until is not None else None
    try:
        rule = du.rrule(
            cast(Any, _DU_FREQ[recur.freq]),
            dtstart=_moved(wall, shift),
            interval=recur.interval,
            count=recur.count,
            until=_moved(rule_until, shift) if rule_until is not None else None,
            wkst=recur.wkst,
            cache=False,
            **_by_parts(recur, all_day=not isinstance(start, dt.datetime)),
        )
        horizon = _years_later(wall, limits.max_recurrence_years)
        produced: list[dt.datetime] = []
        for item in itertools.islice(rule, max(budget, 0) + 1):
            moved = _moved(item, -shift)
            if stop is not None and moved > stop:
                break
            if moved > horizon:
                complete = False
                break
            produced.append(moved)
    except (ValueError, OverflowError) as exc:
        raise IcsParseError(
            f"cannot expand: {exc}", component="VEVENT", property="RRULE", line=text
        ) from None
    _check_count(len(produced), limits)
    if recur.count is not None and len(produced) < recur.count and stop is None:
        complete = False  # the horizon (or the end of the calendar) came first
    return [_back(start, item) for item in produced], complete


def _years_later(value: dt.datetime, years: int) -> dt.datetime:
    day = min(value.day, 28) if value.month == 2 else value.day
    return value.replace(year=min(value.year + years, _MAX_YEAR), day=day)


def _moved(value: dt.datetime, years: int) -> dt.datetime:
    return value.replace(year=value.year + years) if years else value


def _back(start: DateOrDateTime, wall: dt.datetime) -> DateOrDateTime:
    if not isinstance(start, dt.datetime):
        return wall.date()
    return wall.replace(tzinfo=start.tzinfo)


def _by_parts(recur: Recur, *, all_day: bool) -> dict[str, Any]:
    ordinals_allowed = recur.freq in ("MONTHLY", "YEARLY") and not recur.byweekno
    weekdays = [
        du.weekday(day, ordinal if ordinals_allowed else None) for ordinal, day in recur.byday
    ]
    parts: dict[str, Any] = {
        "bysetpos": recur.bysetpos or None,
        "bymonth": recur.bymonth or None,
        "bymonthday": recur.bymonthday or None,
        "byyearday": recur.byyearday or None,
        "byweekno": recur.byweekno or None,
        "byweekday": list(dict.fromkeys(weekdays)) or None,
    }
    if not all_day:
        parts["byhour"] = recur.byhour or None
        parts["byminute"] = recur.byminute or None
        parts["bysecond"] = [s for s in recur.bysecond if s < 60] or None
    return parts
