"""TZID names to zones, and zones computed from producers' VTIMEZONEs."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from invitegw.ics import parse_calendar
from invitegw.ics.lexer import read_components
from invitegw.ics.limits import DEFAULT_LIMITS
from invitegw.ics.tzids import guess_zone
from invitegw.ics.vtimezone import ObservanceZone, compile_vtimezone

GUESSES = {
    "Europe/Berlin": "Europe/Berlin",
    "europe/berlin": "Europe/Berlin",
    "/mozilla.org/20050126_1/Europe/Berlin": "Europe/Berlin",
    "/freeassociation.sourceforge.net/Tzfile/America/New_York": "America/New_York",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Pacific Standard Time": "America/Los_Angeles",
    "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna": "Europe/Berlin",
    "(UTC-05:00) Eastern Time (US & Canada)": "America/New_York",
    "(GMT-05.00) Eastern Time (US & Canada)": "America/New_York",
    "(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi": "Asia/Kolkata",
    "(UTC+10:00) Canberra, Melbourne, Sydney": "Australia/Sydney",
    "(UTC-07:00) Arizona": "America/Phoenix",
    "(UTC-03:00) Brasilia": "America/Sao_Paulo",
    "(GMT+01.00) Sarajevo/Warsaw/Zagreb": "Europe/Warsaw",
    "GMT+0100": "Etc/GMT-1",
    "GMT-05.00": "Etc/GMT+5",
    "UTC": "UTC",
}


@pytest.mark.parametrize("name", sorted(GUESSES))
def test_guess(name: str) -> None:
    guess = guess_zone(name)
    assert guess is not None
    assert guess.iana == GUESSES[name]


@pytest.mark.parametrize(
    "name",
    [
        "Customized Time Zone",
        "My Office Time",
        "America",
        "../../etc/passwd",
        "",
        "x" * 300,
        "(UTC+01:00) Atlantis",
        "GMT +0100 (Standard) / GMT +0900 (Daylight)",
        "(UTC+99:00)",
    ],
)
def test_no_guess(name: str) -> None:
    assert guess_zone(name) is None


def test_cdo_number_is_a_last_resort() -> None:
    guess = guess_zone("GMT +0100 (Standard) / GMT +0200 (Daylight)", "4")
    assert guess is not None
    assert guess.iana == "Europe/Berlin"
    assert guess_zone("Europe/Paris", "4").iana == "Europe/Paris"  # type: ignore[union-attr]


def test_display_name_offset_must_match() -> None:
    # "Sydney" exists, but not at UTC+01:00.
    assert guess_zone("(UTC+01:00) Sydney") is None


def _zone(text: str) -> ObservanceZone:
    roots, _ = read_components(text, DEFAULT_LIMITS)
    zone, warnings = compile_vtimezone(roots[0])
    assert zone is not None, warnings
    return zone


OUTLOOK_US = """BEGIN:VTIMEZONE
TZID:Eastern Standard Time
BEGIN:STANDARD
DTSTART:16010101T020000
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""


def test_outlook_rules_match_iana_every_half_hour() -> None:
    ours = _zone(OUTLOOK_US)
    iana = ZoneInfo("America/New_York")
    moment = dt.datetime(2026, 1, 1)  # noqa: DTZ001
    while moment < dt.datetime(2027, 1, 1):  # noqa: DTZ001
        assert moment.replace(tzinfo=ours).utcoffset() == moment.replace(tzinfo=iana).utcoffset()
        instant = moment.replace(tzinfo=dt.UTC)
        assert instant.astimezone(ours).replace(tzinfo=None) == instant.astimezone(iana).replace(
            tzinfo=None
        )
        moment += dt.timedelta(minutes=30)


def test_gap_and_fold_follow_rfc_5545() -> None:
    ours = _zone(OUTLOOK_US)
    # 02:30 on 8 March 2026 does not exist: read with the offset before the gap.
    assert dt.datetime(2026, 3, 8, 2, 30, tzinfo=ours).utcoffset() == dt.timedelta(hours=-5)
    # 01:30 on 1 November 2026 happens twice: the first one (daylight time) is meant.
    assert dt.datetime(2026, 11, 1, 1, 30, tzinfo=ours).utcoffset() == dt.timedelta(hours=-4)
    assert dt.datetime(2026, 7, 1, tzinfo=ours).dst() == dt.timedelta(hours=1)
    assert dt.datetime(2026, 1, 1, tzinfo=ours).dst() == dt.timedelta(0)


def test_rdates_until_and_history() -> None:
    text = """BEGIN:VTIMEZONE
TZID:Historic
BEGIN:STANDARD
DTSTART:19000101T000000
TZOFFSETFROM:+0017
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19800406T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RDATE:19810405T020000
RRULE:FREQ=YEARLY;UNTIL=19850331T010000Z;BYMONTH=3;BYDAY=-1SU
TZNAME:SUMMER
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:19800928T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYMONTH=9;BYDAY=-1SU
TZNAME:WINTER
END:STANDARD
END:VTIMEZONE
"""
    zone = _zone(text)
    assert dt.datetime(1899, 6, 1, tzinfo=zone).utcoffset() == dt.timedelta(minutes=17)
    assert dt.datetime(1981, 5, 1, tzinfo=zone).utcoffset() == dt.timedelta(hours=2)
    assert dt.datetime(1985, 5, 1, tzinfo=zone).utcoffset() == dt.timedelta(hours=2)
    assert dt.datetime(1986, 5, 1, tzinfo=zone).utcoffset() == dt.timedelta(hours=1)  # rule over
    assert dt.datetime(1984, 5, 1, tzinfo=zone).tzname() == "SUMMER"


def test_unusable_observances_are_reported() -> None:
    roots, _ = read_components(
        "BEGIN:VTIMEZONE\nTZID:Broken\nBEGIN:STANDARD\nTZOFFSETTO:+0100\nEND:STANDARD\n"
        "END:VTIMEZONE\n",
        DEFAULT_LIMITS,
    )
    zone, warnings = compile_vtimezone(roots[0])
    assert zone is None
    assert any("no DTSTART" in w for w in warnings)


def _calendar(tzid: str, vtimezone: str, start: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\n"
        + vtimezone.replace("\n", "\r\n")
        + f"BEGIN:VEVENT\r\nUID:z\r\nDTSTART;TZID={tzid}:{start}\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode()


def test_iana_name_wins_over_a_stale_vtimezone() -> None:
    # A VTIMEZONE with only the 2007 onsets (as eM Client sends): fixed at UTC-5 ever since.
    stale = (
        "BEGIN:VTIMEZONE\nTZID:America/New_York\nBEGIN:STANDARD\nDTSTART:20071104T020000\n"
        "TZOFFSETFROM:-0400\nTZOFFSETTO:-0500\nEND:STANDARD\nBEGIN:DAYLIGHT\n"
        "DTSTART:20070311T020000\nTZOFFSETFROM:-0500\nTZOFFSETTO:-0400\nEND:DAYLIGHT\n"
        "END:VTIMEZONE\n"
    )
    calendar = parse_calendar(_calendar("America/New_York", stale, "20260613T115500"))
    assert calendar.events[0].start_utc == dt.datetime(2026, 6, 13, 15, 55, tzinfo=dt.UTC)
    assert any("IANA zone is used" in w for w in calendar.warnings)


def test_vtimezone_wins_over_a_guessed_name_that_disagrees() -> None:
    # Named after Central European cities (a guess: the list is no Windows display name)
    # but defined as New Zealand time: the sender's client used the latter (RFC 5545).
    odd = (
        "BEGIN:VTIMEZONE\nTZID:Berlin and Paris office\nBEGIN:STANDARD\n"
        "DTSTART:19700405T030000\nTZOFFSETFROM:+1300\nTZOFFSETTO:+1200\nEND:STANDARD\n"
        "END:VTIMEZONE\n"
    )
    calendar = parse_calendar(_calendar('"Berlin and Paris office"', odd, "20261120T130000"))
    event = calendar.events[0]
    assert event.start_utc == dt.datetime(2026, 11, 20, 1, tzinfo=dt.UTC)
    assert event.tzid is None
    assert any("VTIMEZONE is used" in w for w in calendar.warnings)


def test_hostile_observance_rules_cost_nothing() -> None:
    text = (
        "BEGIN:VTIMEZONE\nTZID:Hostile\nBEGIN:STANDARD\nDTSTART:00010101T000000\n"
        "TZOFFSETFROM:+0100\nTZOFFSETTO:+0100\nRRULE:FREQ=SECONDLY\nEND:STANDARD\n"
        "BEGIN:DAYLIGHT\nDTSTART:00010101T000000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\n"
        "RRULE:FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10\n"
        "END:DAYLIGHT\nEND:VTIMEZONE\n"
    )
    calendar = parse_calendar(_calendar("Hostile", text, "20260105T100000"))
    assert calendar.events[0].start_utc == dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC)
    assert any("only its DTSTART is used" in w for w in calendar.warnings)
