"""RECUR values (:rfc:`5545` section 3.3.10): read, check and write a recurrence rule.

The rule is kept as text in the model (``Event.rrule``); this module turns it into a checked
:class:`Recur` for the expander (:mod:`invitegw.ics.recurrence`), the VTIMEZONE reader and
the builder. Every part is range-checked here, so that nothing unbounded reaches
``dateutil``. Lenient on case, spaces and a trailing semicolon; strict on meaning.

Code outside ``ics`` should not call this module or ``dateutil.rrule`` directly: it checks a
rule with :func:`invitegw.ics.recurrence.validate_rrule` and lists instances with
:func:`invitegw.ics.recurrence.occurrences_between`, which also refuse what cannot be
expanded and keep the expansion within :class:`~invitegw.ics.limits.IcsLimits`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from invitegw.ics.values import parse_date_time

__all__ = ["FREQUENCIES", "WEEKDAYS", "Recur", "parse_recur"]

FREQUENCIES = ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_MAX_LIST = 400
# Name -> (lowest, highest, zero allowed); negative values mirror the positive range.
_RANGES: dict[str, tuple[int, int, bool]] = {
    "BYSECOND": (0, 60, True),
    "BYMINUTE": (0, 59, True),
    "BYHOUR": (0, 23, True),
    "BYMONTHDAY": (-31, 31, False),
    "BYYEARDAY": (-366, 366, False),
    "BYWEEKNO": (-53, 53, False),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (-366, 366, False),
}


@dataclass(frozen=True, slots=True)
class Recur:
    """A checked recurrence rule.

    ``until`` is as written: a ``date``, or a naive ``datetime`` that is UTC when
    ``until_utc``. ``byday`` holds (ordinal or ``None``, weekday index 0=Monday).
    """

    freq: str
    interval: int = 1
    count: int | None = None
    until: dt.date | dt.datetime | None = None
    until_utc: bool = False
    byday: tuple[tuple[int | None, int], ...] = ()
    bymonth: tuple[int, ...] = ()
    bymonthday: tuple[int, ...] = ()
    byyearday: tuple[int, ...] = ()
    byweekno: tuple[int, ...] = ()
    byhour: tuple[int, ...] = ()
    byminute: tuple[int, ...] = ()
    bysecond: tuple[int, ...] = ()
    bysetpos: tuple[int, ...] = ()
    wkst: int = 0

    @property
    def bounded(self) -> bool:
        """True when COUNT or UNTIL ends the rule."""
        return self.count is not None or self.until is not None

    def to_text(self, *, until: str | None = None) -> str:
        """The rule as RECUR text, parts in the customary order.

        Parameters:
            until: the UNTIL value to write (already formatted); by default the one read.
        """
        parts = [f"FREQ={self.freq}"]
        if until is None and self.until is not None:
            until = _format_until(self.until, utc=self.until_utc)
        if until is not None:
            parts.append(f"UNTIL={until}")
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        for name in ("BYSECOND", "BYMINUTE", "BYHOUR"):
            values = getattr(self, name.lower())
            if values:
                parts.append(f"{name}={','.join(str(v) for v in values)}")
        if self.byday:
            days = ",".join(f"{'' if n is None else n}{WEEKDAYS[d]}" for n, d in self.byday)
            parts.append(f"BYDAY={days}")
        for name in ("BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS"):
            values = getattr(self, name.lower())
            if values:
                parts.append(f"{name}={','.join(str(v) for v in values)}")
        if self.wkst != 0:
            parts.append(f"WKST={WEEKDAYS[self.wkst]}")
        return ";".join(parts)


def _format_until(value: dt.date | dt.datetime, *, utc: bool) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y%m%dT%H%M%S") + ("Z" if utc else "")
    return value.strftime("%Y%m%d")


def parse_recur(text: str) -> Recur:
    """Read and check a RECUR value (``FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20261231T235959Z``).

    Parameters:
        text: the RRULE value.

    Returns:
        The checked rule.

    Raises:
        ValueError: the rule is not one (missing FREQ, unknown part, value out of range,
            COUNT and UNTIL together, ...), with the reason.
    """
    parts: dict[str, str] = {}
    for chunk in text.replace(" ", "").split(";"):
        if not chunk:
            continue
        name, sep, value = chunk.partition("=")
        name = name.upper()
        if not sep:
            raise ValueError(f"RRULE part without '=': {chunk[:30]!r}")
        if name in parts:
            raise ValueError(f"RRULE part {name} given twice")
        parts[name] = value.upper() if name != "UNTIL" else value
    freq = parts.pop("FREQ", None)
    if freq not in FREQUENCIES:
        raise ValueError(f"RRULE needs FREQ as one of {', '.join(FREQUENCIES)}: {freq!r}")
    kwargs: dict[str, object] = {"freq": freq}
    if "INTERVAL" in parts:
        kwargs["interval"] = _number(parts.pop("INTERVAL"), "INTERVAL", 1, 1_000_000)
    if "COUNT" in parts:
        kwargs["count"] = _number(parts.pop("COUNT"), "COUNT", 0, 10**12)
    if "UNTIL" in parts:
        if "count" in kwargs:
            raise ValueError("RRULE has both COUNT and UNTIL")
        until = parse_date_time(parts.pop("UNTIL"))
        kwargs["until"] = until.value
        kwargs["until_utc"] = until.utc
    if "WKST" in parts:
        wkst = parts.pop("WKST")
        if wkst not in WEEKDAYS:
            raise ValueError(f"RRULE WKST is not a weekday: {wkst!r}")
        kwargs["wkst"] = WEEKDAYS.index(wkst)
    if "BYDAY" in parts:
        kwargs["byday"] = _byday(parts.pop("BYDAY"))
    for name, (low, high, zero) in _RANGES.items():
        if name in parts:
            kwargs[name.lower()] = _number_list(parts.pop(name), name, low, high, zero=zero)
    if parts:
        unknown = sorted(name for name in parts if not name.startswith("X-"))
        if unknown:
            raise ValueError(f"RRULE part(s) not understood: {', '.join(unknown)}")
    return Recur(**kwargs)  # type: ignore[arg-type]


def _number(text: str, name: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[+-]?\d{1,13}", text):
        raise ValueError(f"RRULE {name} is not a number: {text[:20]!r}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"RRULE {name}={value} is out of range {low}..{high}")
    return value


def _number_list(text: str, name: str, low: int, high: int, *, zero: bool) -> tuple[int, ...]:
    items = [item for item in text.split(",") if item]
    if not items or len(items) > _MAX_LIST:
        raise ValueError(f"RRULE {name} needs 1..{_MAX_LIST} values")
    values = []
    for item in items:
        value = _number(item, name, low, high)
        if value == 0 and not zero:
            raise ValueError(f"RRULE {name} may not be 0")
        values.append(value)
    return tuple(dict.fromkeys(values))


def _byday(text: str) -> tuple[tuple[int | None, int], ...]:
    items = [item for item in text.split(",") if item]
    if not items or len(items) > _MAX_LIST:
        raise ValueError(f"RRULE BYDAY needs 1..{_MAX_LIST} values")
    days: list[tuple[int | None, int]] = []
    for item in items:
        match = _BYDAY.fullmatch(item)
        if match is None:
            raise ValueError(f"RRULE BYDAY value not understood: {item[:20]!r}")
        ordinal = int(match.group(1)) if match.group(1) else None
        if ordinal is not None and not (1 <= abs(ordinal) <= 53):
            raise ValueError(f"RRULE BYDAY ordinal out of range: {item!r}")
        days.append((ordinal, WEEKDAYS.index(match.group(2))))
    return tuple(dict.fromkeys(days))
