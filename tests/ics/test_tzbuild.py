"""Generated VTIMEZONEs give the IANA offsets, read by our reader and by dateutil's."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dateutil_tz

from invitegw.ics.lexer import read_components
from invitegw.ics.limits import DEFAULT_LIMITS
from invitegw.ics.tzbuild import vtimezone_lines
from invitegw.ics.vtimezone import compile_vtimezone

ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "Europe/Dublin",
    "America/New_York",
    "America/Santiago",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Asia/Tehran",
    "Asia/Kathmandu",
    "Africa/Casablanca",
    "Asia/Gaza",
    "Pacific/Chatham",
    "America/St_Johns",
    "Europe/Moscow",
]


def naive(year: int, month: int, day: int) -> dt.datetime:
    """A wall-clock time (the generator takes local times)."""
    return dt.datetime(year, month, day)  # noqa: DTZ001


def _samples(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    moment = first.replace(tzinfo=dt.UTC)
    end = last.replace(tzinfo=dt.UTC)
    found = []
    while moment <= end:
        found.append(moment)
        moment += dt.timedelta(hours=5, minutes=17)  # walks across every hour of the day
    return found


@pytest.mark.parametrize("key", ZONES)
def test_generated_vtimezone_matches_iana(key: str) -> None:
    zone = ZoneInfo(key)
    first, last = naive(2026, 2, 1), naive(2027, 3, 1)
    lines = vtimezone_lines(zone, first, last)
    assert lines[0] == "BEGIN:VTIMEZONE"
    assert lines[-1] == "END:VTIMEZONE"
    assert not any(line.startswith("RDATE") for line in lines)
    text = "\n".join(lines) + "\n"
    roots, _ = read_components(text, DEFAULT_LIMITS)
    ours, warnings = compile_vtimezone(roots[0])
    assert ours is not None
    assert not warnings
    theirs = dateutil_tz.tzical(io.StringIO(text.replace("\n", "\r\n"))).get()
    for instant in _samples(first, last):
        # Compare local wall times: utcoffset() of a repeated local time is ambiguous.
        expected = instant.astimezone(zone).replace(tzinfo=None)
        assert instant.astimezone(ours).replace(tzinfo=None) == expected, instant
        assert instant.astimezone(theirs).replace(tzinfo=None) == expected, instant


def test_standard_and_daylight_once_each_for_a_steady_zone() -> None:
    lines = vtimezone_lines(
        ZoneInfo("America/New_York"),
        naive(2026, 5, 1),
        naive(2026, 5, 1),
    )
    assert lines.count("BEGIN:STANDARD") == 1
    assert lines.count("BEGIN:DAYLIGHT") == 1
    assert "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU" in lines
    assert "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU" in lines
    assert "DTSTART:20250309T020000" in lines  # 02:00 local standard time


def test_zone_without_dst() -> None:
    lines = vtimezone_lines(
        ZoneInfo("Asia/Tokyo"),
        naive(2026, 5, 1),
        naive(2026, 5, 1),
    )
    assert lines == (
        "BEGIN:VTIMEZONE",
        "TZID:Asia/Tokyo",
        "BEGIN:STANDARD",
        "TZNAME:JST",
        "TZOFFSETFROM:+0900",
        "TZOFFSETTO:+0900",
        "DTSTART:19700101T000000",
        "END:STANDARD",
        "END:VTIMEZONE",
    )


def test_rule_change_inside_the_window_ends_the_old_rule() -> None:
    # The USA moved its DST dates in 2007: the 2005-2006 rule gets an UNTIL (here the UTC
    # instant of the last onset, later than its local time).
    lines = vtimezone_lines(
        ZoneInfo("America/Chicago"),
        naive(2006, 6, 1),
        naive(2008, 6, 1),
    )
    rules = [line for line in lines if line.startswith("RRULE")]
    assert "RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;UNTIL=20060402T080000Z" in rules
    assert "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU" in rules
