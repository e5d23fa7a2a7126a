"""Decoding of :rfc:`5545` value types (section 3.3): dates, times, durations, text, addresses.

Every decoder reads strictly first and, where real producers are known to bend the grammar,
leniently second, saying so (``lenient=True`` or a warning text) so the caller can report
it. What cannot be read raises :class:`ValueError` with a short reason; the caller adds the
component, property and line and turns it into :class:`~invitegw.errors.IcsParseError` or a
warning, depending on how much the property matters.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

__all__ = [
    "DateTimeValue",
    "parse_bool",
    "parse_cal_address",
    "parse_date_time",
    "parse_duration",
    "parse_integer",
    "parse_utc_offset",
    "unescape_text",
]

_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATE_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)")
# ISO 8601 extended forms, a missing seconds field, fractions, an explicit offset and a stray
# trailing "T" (seen from Deutsche Bahn, Android exporters and others).
_LENIENT = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[Tt ](\d{2}):?(\d{2})(?::?(\d{2}))?(?:[.,]\d{1,9})?)?"
    r"\s*([Zz]|[+-]\d{2}:?\d{2})?T?"
)
_DURATION = re.compile(
    r"([+-])?P(?:(\d{1,9})W|(?:(\d{1,9})D)?(?:T(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,9})S)?)?)"
)
# "PT-2H" (NS International), "P1W2D", lower case: signs and designators in any order.
_LENIENT_DURATION = re.compile(
    r"([+-])?P([+-])?(?:(\d{1,9})W)?(?:(\d{1,9})D)?"
    r"(?:T([+-])?(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,9})S)?)?",
    re.IGNORECASE,
)
_INTEGER = re.compile(r"[+-]?\d{1,19}")
# What both databases' BIGINT holds: RFC 5545 section 3.3.8 allows 32 bits, but Google has
# sent millisecond timestamps as SEQUENCE (1407317367304), and updates are ordered by them.
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})(?::?(\d{2}))?")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPED = {"n": "\n", "N": "\n", "\\": "\\", ";": ";", ",": ",", ":": ":", '"': '"'}
_MAILTO = re.compile(r"\s*mailto:(?://)?", re.IGNORECASE)
_INNER_MAILTO = re.compile(r"[:;]\s*mailto:(?://)?", re.IGNORECASE)
_MAX_DURATION_DAYS = 100 * 366


class DateTimeValue(NamedTuple):
    """A decoded DATE or DATE-TIME.

    ``value`` is a ``date``, or a naive ``datetime`` (wall clock, or UTC when ``utc``);
    ``lenient`` says the text did not follow the grammar but was read anyway.
    """

    value: dt.date | dt.datetime
    utc: bool
    lenient: bool


def parse_date_time(text: str, *, date_only: bool | None = None) -> DateTimeValue:
    """A DATE (``20260316``) or DATE-TIME (``20260316T100000`` / ``...Z``).

    Parameters:
        text: the raw value.
        date_only: ``True`` when VALUE=DATE was given, ``False`` for VALUE=DATE-TIME,
            ``None`` to decide from the text.

    Returns:
        The value (see :class:`DateTimeValue`).

    Raises:
        ValueError: not a date, or not a real one (30 February).
    """
    text = text.strip()
    match = _DATE_TIME.fullmatch(text)
    if match is not None:
        value = _datetime_value(match.groups(), lenient=False)
        if date_only is True:  # VALUE=DATE said so: the producer meant the day
            assert isinstance(value.value, dt.datetime)
            return DateTimeValue(value.value.date(), False, True)
        return value
    match = _DATE.fullmatch(text)
    if match is not None:
        day_value = _date(*(int(part) for part in match.groups()))
        if date_only is False:
            return DateTimeValue(dt.datetime.combine(day_value, dt.time()), False, True)
        return DateTimeValue(day_value, False, False)
    loose = _LENIENT.fullmatch(text)
    if loose is None:
        raise ValueError(f"not a date or date-time: {text[:40]!r}")
    year, month, day, hour, minute, second, zone = loose.groups()
    if hour is None:
        return DateTimeValue(_date(int(year), int(month), int(day)), False, True)
    value = _datetime_value((year, month, day, hour, minute, second or "00", ""), lenient=True)
    if not zone:
        return value
    naive = value.value
    assert isinstance(naive, dt.datetime)
    if zone.upper() != "Z":
        naive = naive - parse_utc_offset(zone)
    return DateTimeValue(naive, True, True)


def _date(year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"no such date: {year:04d}-{month:02d}-{day:02d}") from None


def _datetime_value(parts: tuple[str | None, ...], *, lenient: bool) -> DateTimeValue:
    year, month, day, hour, minute, second = (int(part or 0) for part in parts[:6])
    if second == 60:  # a leap second: the instant before it is close enough
        second, lenient = 59, True
    day_value = _date(year, month, day)
    try:
        value = dt.datetime.combine(day_value, dt.time(hour, minute, second))
    except ValueError:
        raise ValueError(f"no such time: {hour:02d}:{minute:02d}:{second:02d}") from None
    return DateTimeValue(value, parts[6] == "Z", lenient)


def parse_duration(text: str) -> tuple[dt.timedelta, bool]:
    """A DURATION (``PT15M``, ``-P1D``, ``P2W``).

    Parameters:
        text: the raw value.

    Returns:
        The duration, and whether it was read leniently (``PT-2H``, ``P1W2D``).

    Raises:
        ValueError: not a duration, or longer than a century.
    """
    text = text.strip()
    match = _DURATION.fullmatch(text)
    lenient = False
    if match is not None and any(match.groups()[1:]):
        sign, weeks, days, hours, minutes, seconds = match.groups()
        inner_negative = False
    else:
        loose = _LENIENT_DURATION.fullmatch(text)
        if loose is None or not any(loose.group(3, 4, 6, 7, 8)):
            raise ValueError(f"not a duration: {text[:40]!r}")
        lenient = True
        sign, sign2, weeks, days, sign3, hours, minutes, seconds = loose.groups()
        inner_negative = "-" in (sign2 or "") + (sign3 or "")
    total_days = int(weeks or 0) * 7 + int(days or 0)
    if total_days > _MAX_DURATION_DAYS:
        raise ValueError(f"duration over a century: {text[:40]!r}")
    value = dt.timedelta(
        days=total_days,
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    if value > dt.timedelta(days=_MAX_DURATION_DAYS):
        raise ValueError(f"duration over a century: {text[:40]!r}")
    negative = (sign == "-") != inner_negative
    return (-value if negative else value), lenient


def parse_integer(text: str) -> int:
    """An INTEGER (``0``, ``-3``) within the signed 64-bit range.

    Parameters:
        text: the raw value.

    Returns:
        The number.

    Raises:
        ValueError: not an integer, or out of range.
    """
    text = text.strip()
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"not an integer: {text[:40]!r}")
    value = int(text)
    # RFC 5545 section 3.3.8: an INTEGER is a signed 32-bit number.
    if not _INT_MIN <= value <= _INT_MAX:
        raise ValueError(f"integer out of the 64-bit range: {text[:40]!r}")
    return value


def parse_utc_offset(text: str) -> dt.timedelta:
    """A UTC-OFFSET (``+0100``, ``-0530``, ``+001730``; ``+01:00`` accepted).

    Parameters:
        text: the raw value.

    Returns:
        The offset east of UTC.

    Raises:
        ValueError: not an offset, or not within ±24 hours.
    """
    match = _OFFSET.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a UTC offset: {text[:40]!r}")
    sign, hours, minutes, seconds = match.groups()
    value = dt.timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0))
    if value >= dt.timedelta(hours=24) or int(minutes) > 59:
        raise ValueError(f"not a UTC offset: {text[:40]!r}")
    return -value if sign == "-" else value


def parse_bool(text: str) -> bool | None:
    """A BOOLEAN (``TRUE``/``FALSE``, any case).

    Parameters:
        text: the raw value.

    Returns:
        The truth value, or ``None`` when the text is neither.
    """
    upper = text.strip().upper()
    if upper == "TRUE":
        return True
    if upper == "FALSE":
        return False
    return None


def unescape_text(text: str) -> str:
    r"""A TEXT value with its backslash escapes decoded (section 3.3.11).

    ``\n``/``\N`` become a line break, ``\\ \; \,`` their character; an unknown escape
    (``\:`` from some Outlook versions, ``\x``) keeps the character after the backslash when
    it is punctuation and the backslash too otherwise, so that a Windows path survives.

    Parameters:
        text: the raw value.

    Returns:
        The text.
    """
    if "\\" not in text:
        return text
    return _ESCAPE.sub(_unescape_one, text)


def _unescape_one(match: re.Match[str]) -> str:
    char = match.group(1)
    return _UNESCAPED.get(char, "\\" + char)


def parse_cal_address(text: str) -> str:
    """A CAL-ADDRESS as a bare, lower-cased email address.

    ``mailto:`` (any case) is removed; a bare address is accepted as it is; a parameter
    written into the value by mistake (``ORGANIZER:CN=Desk:mailto:a@example.com``, seen from
    Trenitalia) is skipped. A value that is not an email address at all (an ``urn:`` or
    ``http:`` URI, a name) gives ``""``.

    Parameters:
        text: the raw value.

    Returns:
        The address, or ``""``.
    """
    text = text.strip()
    inner = None if _MAILTO.match(text) else _INNER_MAILTO.search(text)
    if inner is not None:
        text = text[inner.end() :]
    value = _MAILTO.sub("", text, count=1).strip().strip("<>").lower()
    if "@" not in value or any(char.isspace() for char in value):
        return ""
    if ":" in value.split("@", 1)[0]:  # another URI scheme ("sip:a@b")
        return ""
    return value
