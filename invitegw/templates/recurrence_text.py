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

__all__ = ["RecurrenceSummary", "describe_rrule"]

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_SIMPLE_PARTS = {"FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL", "BYMONTHDAY", "WKST", "BYMONTH"}


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


def _parse(rrule: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in rrule.strip().removeprefix("RRULE:").split(";"):
        if "=" in item:
            key, _, value = item.partition("=")
            parts[key.strip().upper()] = value.strip().upper()
    return parts


def _until_date(value: str) -> dt.date | None:
    digits = value[:8]
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def describe_rrule(
    rrule: str, start: dt.date | dt.datetime, language: str
) -> RecurrenceSummary | None:
    """Summarise ``rrule`` for a reader of ``language``.

    Parameters:
        rrule: the RRULE value (``FREQ=WEEKLY;BYDAY=MO,WE``), with or without ``RRULE:``.
        start: the series start, used for a monthly rule without BYMONTHDAY.
        language: a Babel locale identifier (``pl``).

    Returns:
        The summary, or ``None`` when ``rrule`` has no FREQ.
    """
    parts = _parse(rrule)
    freq = parts.get("FREQ")
    if not freq:
        return None
    if freq not in _FREQS or set(parts) - _SIMPLE_PARTS:
        return RecurrenceSummary(freq="OTHER")
    locale = Locale.parse(language)
    try:
        interval = max(1, int(parts.get("INTERVAL", "1")))
        count = int(parts["COUNT"]) if "COUNT" in parts else None
        month_day = int(parts["BYMONTHDAY"]) if "BYMONTHDAY" in parts else None
    except ValueError:
        return RecurrenceSummary(freq="OTHER")
    day_names = get_day_names("wide", locale=locale)
    weekdays: list[str] = []
    for token in filter(None, parts.get("BYDAY", "").split(",")):
        code = token[-2:]
        if code not in _WEEKDAYS or token[:-2].strip("+-").strip():
            # Ordinal weekdays ("2TU", "-1FR") need a sentence we do not attempt.
            return RecurrenceSummary(freq="OTHER")
        weekdays.append(day_names[_WEEKDAYS.index(code)])
    if freq == "MONTHLY" and month_day is None and not weekdays:
        month_day = start.day
    until = None
    if "UNTIL" in parts:
        until_day = _until_date(parts["UNTIL"])
        until = format_date(until_day, "long", locale=locale) if until_day else None
    return RecurrenceSummary(
        freq=freq,
        interval=interval,
        weekdays=tuple(weekdays),
        month_day=month_day,
        count=count,
        until=until,
    )
