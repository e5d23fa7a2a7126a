"""Each client's invitation shape (our own fixtures in tests/ics/data) parses to exact UTC."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from invitegw.ics import (
    CalendarObject,
    EventStatus,
    Method,
    MethodSource,
    PartStat,
    Role,
    expand,
    last_occurrence_end,
    parse_calendar,
    parse_calendars,
)
from invitegw.ics.vtimezone import ObservanceZone

DATA = Path(__file__).parent / "data"


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


def load(name: str, **kwargs: object) -> CalendarObject:
    return parse_calendar((DATA / name).read_bytes(), **kwargs)  # type: ignore[arg-type]


# file -> (method, UTC start, UTC end, IANA zone or None, producer's TZID)
ZONED = {
    "outlook_request_windows_zone.ics": (
        Method.REQUEST,
        utc(2026, 3, 16, 9),
        utc(2026, 3, 16, 10, 30),
        "Europe/Berlin",
        "W. Europe Standard Time",
    ),
    "outlook_request_display_name_zone.ics": (
        Method.REQUEST,
        utc(2026, 7, 14, 12, 30),
        utc(2026, 7, 14, 13),
        "Europe/Berlin",  # the display name of W. Europe Standard Time
        "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
    ),
    "outlook_reply_no_organizer.ics": (
        Method.REPLY,
        utc(2026, 11, 3, 17),
        utc(2026, 11, 3, 18),
        "America/Los_Angeles",
        "Pacific Standard Time",
    ),
    "exchange_cancel_cdo_sequence.ics": (
        Method.CANCEL,
        utc(2026, 6, 15, 12),
        utc(2026, 6, 15, 15),
        "Europe/London",
        "GMT Standard Time",
    ),
    "exchange2003_request_cdo_tzid.ics": (
        Method.REQUEST,
        utc(2026, 3, 10, 15),
        utc(2026, 3, 10, 16),
        "America/New_York",
        "GMT -0500 (Standard) / GMT -0400 (Daylight)",
    ),
    "outlook_request_custom_zone.ics": (
        Method.REQUEST,
        utc(2026, 3, 27, 7),
        utc(2026, 3, 27, 8),
        None,
        "Customized Time Zone",
    ),
    "google_request_utc.ics": (
        Method.REQUEST,
        utc(2026, 12, 8, 22),
        utc(2026, 12, 8, 22, 30),
        "America/Chicago",
        "America/Chicago",
    ),
    "apple_request_zone.ics": (
        Method.REQUEST,
        utc(2026, 10, 30, 10),
        utc(2026, 10, 30, 11),
        "Europe/Paris",
        "Europe/Paris",
    ),
    "thunderbird_request_series.ics": (
        Method.REQUEST,
        utc(2026, 3, 3, 8),
        utc(2026, 3, 3, 9),
        "Europe/Vienna",
        "Europe/Vienna",
    ),
    "zimbra_request_recurring.ics": (
        Method.REQUEST,
        utc(2026, 1, 5, 14),
        utc(2026, 1, 5, 15),
        "Europe/Berlin",
        "(GMT+01.00) Amsterdam / Berlin / Bern / Rome / Stockholm / Vienna",
    ),
    "lotus_request_custom_zone.ics": (
        Method.REQUEST,
        utc(2026, 5, 5, 6, 30),
        utc(2026, 5, 5, 7, 30),
        "Europe/Berlin",  # "W. Europe Standard Time" cut short; agrees with its VTIMEZONE
        "W. Europe",
    ),
}


@pytest.mark.parametrize("name", sorted(ZONED))
def test_zoned_invitation_gives_exact_utc(name: str) -> None:
    method, start, end, zone, original = ZONED[name]
    calendar = load(name)
    assert calendar.method is method
    assert calendar.method_source is MethodSource.CALENDAR
    (event,) = calendar.events
    assert event.start_utc == start
    assert event.end_utc == end
    assert event.tzid == zone
    assert event.original_tzid == original
    assert not event.all_day
    assert not event.floating


def test_custom_vtimezone_is_evaluated_not_guessed() -> None:
    # The DAYLIGHT rule says "last Friday of March"; the 27th of March 2026 is one.
    event = load("outlook_request_custom_zone.ics").events[0]
    assert isinstance(event.start, dt.datetime)
    assert isinstance(event.start.tzinfo, ObservanceZone)
    day_before = event.start.replace(day=26)
    assert day_before.utcoffset() == dt.timedelta(hours=2)
    assert event.start.utcoffset() == dt.timedelta(hours=3)


def test_outlook_invitation_people_and_extras() -> None:
    calendar = load("outlook_request_windows_zone.ics")
    event = calendar.events[0]
    assert calendar.producer == "Microsoft Exchange Server 2010"
    assert event.uid.startswith("040000008200E00074C5B7101A82E008")
    assert event.organizer is not None
    assert (event.organizer.email, event.organizer.cn) == (
        "greta.organiser@example.com",
        "Greta Organiser",
    )
    assert [a.email for a in event.attendees] == [
        "paul.planner@example.org",
        "quinn@example.org",
        "room.tulip@example.com",
    ]
    assert event.attendees[2].role is Role.OPT_PARTICIPANT
    assert all(a.rsvp and a.partstat is PartStat.NEEDS_ACTION for a in event.attendees)
    assert event.location == "Tulip room, second floor"
    assert event.description.startswith("Hello all,\n\nLet us walk")
    assert event.status is EventStatus.CONFIRMED
    assert event.dtstamp == utc(2026, 3, 2, 8, 15)
    assert event.alarms[0].trigger == dt.timedelta(minutes=-15)
    names = [name for name, _ in event.extra]
    assert "X-MICROSOFT-CDO-BUSYSTATUS" in names
    assert "X-ALT-DESC" in names
    assert dict(event.extra)["CLASS"] == "CLASS:PUBLIC"
    assert any("W. Europe Standard Time" in w for w in calendar.warnings)


def test_exchange_cancel_takes_sequence_from_cdo_property() -> None:
    calendar = load("exchange_cancel_cdo_sequence.ics")
    event = calendar.events[0]
    assert event.sequence == 3
    assert event.status is EventStatus.CANCELLED
    assert event.transparent
    assert any("X-MICROSOFT-CDO-APPT-SEQUENCE" in w for w in calendar.warnings)


def test_reply_without_organizer() -> None:
    event = load("outlook_reply_no_organizer.ics").events[0]
    assert event.organizer is None
    assert event.attendee("Rita.Fern@example.net") is not None
    assert event.attendees[0].partstat is PartStat.ACCEPTED
    assert event.comment == "Happy to join.\n"


def test_google_x_wr_timezone_applies_to_floating_times_and_unknown_tzids() -> None:
    calendar = load("google_publish_x_wr_timezone.ics")
    floating, unknown, in_utc = calendar.events
    assert floating.start_utc == utc(2026, 1, 19, 22)  # 09:00 in Sydney (UTC+11 in summer)
    assert floating.tzid == "Australia/Sydney"
    assert floating.original_tzid is None
    assert unknown.start_utc == utc(2026, 1, 20, 22)
    assert unknown.original_tzid == "Made/Up_Zone"
    assert in_utc.start_utc == utc(2026, 1, 22, 1)
    assert in_utc.tzid is None
    assert any("Made/Up_Zone" in w for w in calendar.warnings)


def test_unknown_tzid_without_vtimezone_stays_floating() -> None:
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:f@example.com\r\n"
        b"DTSTART;TZID=Somewhere Special:20260301T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    calendar = parse_calendar(data)
    event = calendar.events[0]
    assert event.floating  # never read as UTC
    assert event.start == dt.datetime(2026, 3, 1, 9)  # noqa: DTZ001
    assert event.original_tzid == "Somewhere Special"
    assert any("kept floating" in w for w in calendar.warnings)


def test_all_day_event() -> None:
    event = load("google_request_all_day.ics").events[0]
    assert event.all_day
    assert event.start == dt.date(2026, 9, 4)
    assert event.end == dt.date(2026, 9, 6)
    assert event.start_utc is None
    assert event.tzid is None


def test_floating_event_with_duration_and_no_method() -> None:
    calendar = load("thunderbird_publish_floating.ics")
    assert calendar.method is Method.PUBLISH
    assert calendar.method_source is MethodSource.DEFAULT
    event = calendar.events[0]
    assert event.floating
    assert event.start == dt.datetime(2026, 2, 12, 8, 30)  # noqa: DTZ001
    assert event.end == dt.datetime(2026, 2, 12, 9, 15)  # noqa: DTZ001


def test_no_method_falls_back_to_mime_method() -> None:
    data = (DATA / "generic_publish_no_method.ics").read_bytes()
    calendar = parse_calendar(data, mime_method="request")
    assert calendar.method is Method.REQUEST
    assert calendar.method_source is MethodSource.MIME
    default = parse_calendar(data)
    assert (default.method, default.method_source) == (Method.PUBLISH, MethodSource.DEFAULT)
    assert default.producer == "-//Example Org//Event Export 2.3//EN"
    talk, workshop = default.events
    assert talk.start_utc == utc(2026, 11, 12, 17)
    assert workshop.start_utc == utc(2026, 11, 13, 10)  # Lisbon is UTC+0 in November
    assert workshop.tzid == "Europe/Lisbon"


def test_master_and_exception() -> None:
    master, moved = load("outlook_request_master_exceptions.ics").events
    assert master.uid == moved.uid
    assert master.recurrence_id is None
    assert master.rrule is not None
    assert moved.recurrence_id is not None
    assert moved.recurrence_id_utc == utc(2026, 3, 26, 9)
    assert moved.start_utc == utc(2026, 3, 27, 13)
    assert moved.location == "Sala 5"
    # Thursdays from the 5th of March to the 31st, without the 19th.
    starts = [value.astimezone(dt.UTC) for value in expand(master)]  # type: ignore[union-attr]
    assert starts == [utc(2026, 3, 5, 9), utc(2026, 3, 12, 9), utc(2026, 3, 26, 9)]


def test_exception_without_master() -> None:
    (event,) = load("google_request_exception_without_master.ics").events
    assert event.recurrence_id_utc == utc(2026, 6, 4, 14)
    assert event.start_utc == utc(2026, 6, 4, 17, 30)
    assert event.rrule is None
    assert event.sequence == 2


def test_unrelated_events_in_one_calendar() -> None:
    calendar = load("google_publish_x_wr_timezone.ics")
    assert len({event.uid for event in calendar.events}) == 3


def test_series_instances_and_last_occurrence() -> None:
    event = load("thunderbird_request_series.ics").events[0]
    starts = expand(event)
    assert len(starts) == 8  # nine Tuesdays, the 7th of April excluded
    assert dt.datetime(2026, 4, 7, 9, tzinfo=ZoneInfo("Europe/Vienna")) not in starts
    assert last_occurrence_end(event) == utc(2026, 4, 28, 8)
    zimbra = load("zimbra_request_recurring.ics").events[0]
    assert last_occurrence_end(zimbra) == utc(2026, 6, 1, 14)


def test_lotus_and_zimbra_people() -> None:
    lotus = load("lotus_request_custom_zone.ics").events[0]
    assert lotus.organizer is not None
    assert lotus.organizer.cn == "Rolf Adler/Sales/Example"
    assert lotus.attendees[0].role is Role.CHAIR
    assert lotus.attendees[1].cn is None
    assert lotus.extra[-1][0] == "X-LOTUS-CHILD-UID"


def test_apple_invitation_details() -> None:
    event = load("apple_request_zone.ics").events[0]
    assert event.location == "Café du Port"
    assert event.summary == "Café meeting — préparation"
    assert event.url == "https://example.fr/agenda"
    assert event.attendees[0].role is Role.CHAIR
    assert event.attendees[0].partstat is PartStat.ACCEPTED


def test_parse_calendars_returns_every_vcalendar() -> None:
    one = (DATA / "google_request_all_day.ics").read_bytes()
    two = (DATA / "apple_request_zone.ics").read_bytes()
    calendars = parse_calendars(one + two)
    assert [c.producer for c in calendars] == [
        "-//Google Inc//Google Calendar 70.9054//EN",
        "-//Apple Inc.//macOS 15.1//EN",
    ]
    first = parse_calendar(one + two)
    assert first.producer == calendars[0].producer
    assert any("1 more VCALENDAR" in w for w in first.warnings)
