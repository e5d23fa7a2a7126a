"""A readable summary of an :rfc:`5545` RRULE for invitation bodies.

Only the shape the templates need: frequency, interval, weekdays, month day, and the end
(COUNT or UNTIL), with weekday names and dates already in the reader's language. The
templates turn it into a sentence through the gettext catalogs; rules the summary cannot
express (BYSETPOS, BYWEEKNO, ...) still say that the meeting repeats.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from babel import Locale
from babel.dates import format_date, get_day_names

from invitegw.errors import IcsError
from invitegw.ics.recurrence import validate_rrule
from invitegw.ics.rrule import Recur

__all__ = ["RecurrenceSummary", "describe_rrule"]

_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")


@dataclass(frozen=True, slots=True)
class RecurrenceSummary:
    """The parts of a rule a sentence can say, localised.

    ``freq`` is ``DAILY``/``WEEKLY``/``MONTHLY``/``YEARLY``, or ``OTHER`` for rules the
    summary cannot express (the templates then only say that the meeting repeats).
    """

    freq: str
    interval: int = 1
    weekdays: tuple[str, ...] = ()
    month_day: int | None = None
    count: int | None = None
    until: str | None = None


def describe_rrule(
    rrule: str, start: dt.date | dt.datetime, language: str
) -> RecurrenceSummary | None:
    """Summarise ``rrule`` for a reader of ``language``.

    Parameters:
        rrule: the RRULE value (``FREQ=WEEKLY;BYDAY=MO,WE``), with or without ``RRULE:``.
        start: the series start, used for a monthly rule without BYMONTHDAY.
        language: a Babel locale identifier (``pl``).

    Returns:
        The summary (read with :func:`invitegw.ics.validate_rrule`, the one reader every
        layer uses; ``freq="OTHER"`` for a rule it refuses), or ``None`` without a FREQ.
    """
    try:
        rule = validate_rrule(rrule)
    except IcsError:
        # A rule the reader refuses still says the meeting repeats when it names a
        # frequency; without FREQ there is no rule at all.
        return RecurrenceSummary(freq="OTHER") if "FREQ=" in rrule.upper() else None
    if rule.freq not in _FREQS or _beyond_a_sentence(rule):
        return RecurrenceSummary(freq="OTHER")
    locale = Locale.parse(language)
    day_names = get_day_names("wide", locale=locale)
    weekdays = tuple(day_names[day] for _ordinal, day in rule.byday)
    month_day = rule.bymonthday[0] if rule.bymonthday else None
    if rule.freq == "MONTHLY" and month_day is None and not weekdays:
        month_day = start.day
    until = None
    if rule.until is not None:
        until_day = rule.until.date() if isinstance(rule.until, dt.datetime) else rule.until
        until = format_date(until_day, "long", locale=locale)
    return RecurrenceSummary(
        freq=rule.freq,
        interval=rule.interval,
        weekdays=weekdays,
        month_day=month_day,
        count=rule.count,
        until=until,
    )


def _beyond_a_sentence(rule: Recur) -> bool:
    """Parts the sentence cannot say: ordinal weekdays ("2TU"), several month days, BYSETPOS..."""
    return bool(
        any(ordinal is not None for ordinal, _day in rule.byday)
        or len(rule.bymonthday) > 1
        or rule.byyearday
        or rule.byweekno
        or rule.byhour
        or rule.byminute
        or rule.bysecond
        or rule.bysetpos
    )
