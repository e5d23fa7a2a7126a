"""The builder: every kind of message, its shape, its escaping and folding, its refusals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from invitegw.errors import IcsBuildError
from invitegw.ics import (
    Alarm,
    Attendee,
    CuType,
    Event,
    EventStatus,
    Method,
    Organizer,
    PartStat,
    Role,
    build_calendar,
    build_cancel,
    build_publish,
    build_reply,
    build_request,
    parse_calendar,
)
from tests.ics.checks import vobject_read

WARSAW = ZoneInfo("Europe/Warsaw")
NOW = dt.datetime(2026, 6, 1, 12, 0, 5, 123456, tzinfo=dt.UTC)
START = dt.datetime(2026, 7, 1, 9, 0, tzinfo=WARSAW)
ORGANIZER = Organizer("anna@example.com", cn="Nowak, Anna", sent_by="desk@example.com")
BOB = Attendee("bob@example.org", cn="Bob Ek", rsvp=True)
ROOM = Attendee("room7@example.com", cn="Room 7", role=Role.NON_PARTICIPANT, cutype=CuType.ROOM)
CHAIR = Attendee("anna@example.com", cn="Nowak, Anna", role=Role.CHAIR, partstat=PartStat.ACCEPTED)
MEETING = Event(
    uid="meeting-1@example.com",
    start=START,
    end=START + dt.timedelta(hours=1),
    summary="Budget; Q3, and more",
    description="First line\nSecond line — żółć",
    location="Room 7",
    organizer=ORGANIZER,
    attendees=(CHAIR, BOB, ROOM),
    sequence=3,
    rrule="FREQ=WEEKLY;COUNT=6;BYDAY=WE",
    exdates=(START + dt.timedelta(days=14),),
    status=EventStatus.CONFIRMED,
    alarms=(Alarm(trigger=dt.timedelta(minutes=-10), description="Soon"),),
    tzid="Europe/Warsaw",
)


def lines(data: bytes) -> list[str]:
    """Unfolded content lines."""
    return data.decode().replace("\r\n ", "").split("\r\n")[:-1]


def props(data: bytes, name: str) -> list[str]:
    """The ``name`` properties outside VTIMEZONE components."""
    found, depth = [], 0
    for line in lines(data):
        depth += line == "BEGIN:VTIMEZONE"
        depth -= line == "END:VTIMEZONE"
        if not depth and re.match(rf"{name}[;:]", line):
            found.append(line)
    return found


def check_format(data: bytes) -> None:
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    for physical in data.split(b"\r\n")[:-1]:
        assert len(physical) <= 75
        physical.decode("utf-8")  # no UTF-8 character split across a fold


def test_request_shape() -> None:
    data = build_request(MEETING, now=NOW)
    check_format(data)
    text = lines(data)
    assert text[:5] == [
        "BEGIN:VCALENDAR",
        "METHOD:REQUEST",
        "PRODID:-//invitegw//invitegw//EN",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
    ]
    assert props(data, "DTSTAMP") == ["DTSTAMP:20260601T120005Z"]
    assert props(data, "SEQUENCE") == ["SEQUENCE:3"]
    assert props(data, "DTSTART") == ["DTSTART;TZID=Europe/Warsaw:20260701T090000"]
    assert props(data, "ORGANIZER") == [
        'ORGANIZER;CN="Nowak, Anna";SENT-BY="mailto:desk@example.com":mailto:anna@example.com'
    ]
    assert props(data, "ATTENDEE")[1] == (
        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;"
        "CN=Bob Ek:mailto:bob@example.org"
    )
    assert props(data, "SUMMARY") == [r"SUMMARY:Budget\; Q3\, and more"]
    assert props(data, "EXDATE") == ["EXDATE;TZID=Europe/Warsaw:20260715T090000"]
    assert "BEGIN:VALARM" in text
    assert props(data, "TRIGGER") == ["TRIGGER:-PT10M"]


def test_vtimezone_is_rule_based_and_covers_the_series() -> None:
    data = build_request(MEETING, now=NOW)
    text = lines(data)
    assert text.count("BEGIN:VTIMEZONE") == 1
    assert "TZID:Europe/Warsaw" in text
    assert props(data, "RDATE") == []
    rules = [line for line in text if line.startswith("RRULE:FREQ=YEARLY")]
    assert rules == [
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    ]
    # Spring onset as Outlook and Thunderbird write it: 02:00 local standard time.
    assert "DTSTART:20250330T020000" in text
    assert "DTSTART:20251026T030000" in text


def test_request_round_trip() -> None:
    parsed = parse_calendar(build_request(MEETING, now=NOW))
    assert parsed.method is Method.REQUEST
    assert parsed.warnings == ()
    expected = dataclasses.replace(
        MEETING, dtstamp=NOW.replace(microsecond=0), original_tzid="Europe/Warsaw"
    )
    assert parsed.events == (expected,)


def test_cancel_whole_meeting() -> None:
    data = build_cancel(MEETING, now=NOW)
    check_format(data)
    event = parse_calendar(data).events[0]
    assert props(data, "METHOD") == ["METHOD:CANCEL"]
    assert event.status is EventStatus.CANCELLED
    assert [a.email for a in event.attendees] == [a.email for a in MEETING.attendees]
    assert event.alarms == ()  # RFC 5546 section 3.2.5: no VALARM in a CANCEL
    assert event.rrule == MEETING.rrule


def test_cancel_one_occurrence() -> None:
    moved = START + dt.timedelta(days=7)
    occurrence = dataclasses.replace(
        MEETING,
        start=moved,
        end=moved + dt.timedelta(hours=1),
        recurrence_id=moved,
        rrule=None,
        exdates=(),
        sequence=4,
    )
    event = parse_calendar(build_cancel(occurrence, now=NOW)).events[0]
    assert event.recurrence_id == moved
    assert event.rrule is None
    assert event.sequence == 4
    assert event.status is EventStatus.CANCELLED


def test_cancel_for_one_attendee() -> None:
    data = build_cancel(MEETING, attendees=["Gone@Example.net"], now=NOW)
    event = parse_calendar(data).events[0]
    assert [a.email for a in event.attendees] == ["gone@example.net"]
    assert event.status is None  # uninviting some attendees: no STATUS (RFC 5546 3.2.5)
    kept = parse_calendar(build_cancel(MEETING, attendees=[BOB], now=NOW)).events[0]
    assert kept.attendees[0].cn == "Bob Ek"


def test_reply() -> None:
    data = build_reply(
        MEETING, "BOB@example.org", PartStat.DECLINED, comment="Away, sorry", now=NOW
    )
    check_format(data)
    calendar = parse_calendar(data)
    event = calendar.events[0]
    assert calendar.method is Method.REPLY
    (only,) = event.attendees
    assert (only.email, only.cn, only.partstat, only.rsvp) == (
        "bob@example.org",
        "Bob Ek",
        PartStat.DECLINED,
        False,
    )
    assert event.comment == "Away, sorry"
    assert event.organizer == ORGANIZER
    assert event.sequence == 3
    assert event.alarms == ()
    assert event.rrule is None


def test_publish_has_no_attendees() -> None:
    data = build_publish(MEETING, now=NOW)
    assert props(data, "ATTENDEE") == []
    assert parse_calendar(data).method is Method.PUBLISH


def test_all_day_and_utc_need_no_vtimezone() -> None:
    all_day = dataclasses.replace(
        MEETING,
        start=dt.date(2026, 12, 24),
        end=dt.date(2026, 12, 25),
        rrule=None,
        exdates=(),
        tzid=None,
    )
    data = build_request(all_day, now=NOW)
    assert "BEGIN:VTIMEZONE" not in lines(data)
    assert props(data, "DTSTART") == ["DTSTART;VALUE=DATE:20261224"]
    utc_start = dt.datetime(2026, 5, 5, 10, tzinfo=dt.UTC)
    in_utc = dataclasses.replace(all_day, start=utc_start, end=utc_start + dt.timedelta(hours=1))
    data = build_request(in_utc, now=NOW)
    assert props(data, "DTSTART") == ["DTSTART:20260505T100000Z"]
    assert "BEGIN:VTIMEZONE" not in lines(data)


def test_other_zones_are_written_in_utc() -> None:
    fixed = dt.datetime(2026, 5, 5, 10, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    event = dataclasses.replace(MEETING, start=fixed, end=None, rrule=None, exdates=(), tzid=None)
    assert props(build_request(event, now=NOW), "DTSTART") == ["DTSTART:20260505T070000Z"]


def test_until_is_written_in_utc_for_a_zoned_start() -> None:
    event = dataclasses.replace(MEETING, rrule="FREQ=WEEKLY;UNTIL=20260729T090000")
    assert props(build_request(event, now=NOW), "RRULE") == [
        "RRULE:FREQ=WEEKLY;UNTIL=20260729T070000Z"
    ]
    day = dataclasses.replace(
        MEETING,
        start=dt.date(2026, 7, 1),
        end=None,
        exdates=(),
        tzid=None,
        rrule="FREQ=DAILY;UNTIL=20260710T000000Z",
    )
    assert props(build_request(day, now=NOW), "RRULE") == ["RRULE:FREQ=DAILY;UNTIL=20260710"]


def test_text_escaping_round_trips() -> None:
    tricky = "a\\N is not a line break; but this,\nis — and \\\\ two backslashes \\"
    event = dataclasses.replace(MEETING, summary=tricky, description="x" * 200 + "ż" * 100)
    parsed = parse_calendar(build_request(event, now=NOW)).events[0]
    assert parsed.summary == tricky
    assert parsed.description == event.description


def test_folding_keeps_escapes_and_characters_whole() -> None:
    event = dataclasses.replace(MEETING, summary=("ab\\" * 40) + "€" * 60)
    data = build_request(event, now=NOW)
    check_format(data)
    for physical in data.split(b"\r\n"):
        text = physical.decode()
        # a fold never falls between a backslash and the character it escapes
        assert not (text.endswith("\\") and not text.endswith("\\\\"))
    assert parse_calendar(data).events[0].summary == event.summary


def test_summary_is_required_where_the_method_needs_it() -> None:
    untitled = dataclasses.replace(MEETING, summary="")
    with pytest.raises(IcsBuildError, match="needs a SUMMARY"):
        build_request(untitled, now=NOW)
    with pytest.raises(IcsBuildError, match="needs a SUMMARY"):
        build_publish(untitled, now=NOW)
    assert props(build_cancel(untitled, now=NOW), "SUMMARY") == []


def test_same_input_same_bytes() -> None:
    assert build_request(MEETING, now=NOW) == build_request(MEETING, now=NOW)


def test_dtstamp_defaults_to_the_events_own() -> None:
    stamped = dataclasses.replace(MEETING, dtstamp=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    assert props(build_request(stamped), "DTSTAMP") == ["DTSTAMP:20260102T030405Z"]


def test_master_with_exceptions() -> None:
    moved = START + dt.timedelta(days=7)
    exception = dataclasses.replace(
        MEETING,
        start=moved + dt.timedelta(hours=2),
        end=moved + dt.timedelta(hours=3),
        recurrence_id=moved,
        rrule=None,
        exdates=(),
    )
    calendar = parse_calendar(build_request([MEETING, exception], now=NOW))
    assert [event.recurrence_id for event in calendar.events] == [None, moved]


def test_several_zones_get_one_vtimezone_each() -> None:
    other = dataclasses.replace(
        MEETING,
        uid="other@example.com",
        start=dt.datetime(2026, 7, 1, 9, tzinfo=ZoneInfo("America/New_York")),
        end=None,
        tzid=None,
    )
    data = build_calendar(Method.PUBLISH, [MEETING, other], now=NOW)
    zones = [line for line in lines(data) if line.startswith("TZID:")]
    assert zones == ["TZID:America/New_York", "TZID:Europe/Warsaw"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"uid": " "}, "needs a UID"),
        ({"end": START - dt.timedelta(hours=1)}, "not after start"),
        ({"end": START}, "not after start"),
        ({"start": START.replace(tzinfo=None), "end": None}, "tzid 'Europe/Warsaw' given"),
        (
            {"start": START.replace(tzinfo=None), "end": None, "tzid": None, "exdates": ()},
            "floating time",
        ),
        ({"tzid": "Europe/Paris"}, "differs from the start's zone"),
        ({"organizer": Organizer("not-an-address")}, "not an email address"),
        ({"organizer": None}, "needs an ORGANIZER"),
        ({"attendees": ()}, "at least one ATTENDEE"),
        (
            {"attendees": (Attendee("a@b.example"), Attendee("bad address@x.example"))},
            "not an email address",
        ),
        ({"status": EventStatus.CANCELLED}, "STATUS:CANCELLED"),
        ({"summary": "bell\x07"}, "control character"),
        ({"rrule": "FREQ=FORTNIGHTLY"}, "RRULE"),
        ({"alarms": (Alarm(action="EMAIL"),)}, "only DISPLAY and AUDIO"),
        ({"alarms": (Alarm(description=""),)}, "needs a description"),
        ({"end": dt.date(2026, 7, 2)}, "both be dates or both date-times"),
        ({"sequence": -1}, "SEQUENCE"),
    ],
)
def test_refusals(change: dict[str, object], message: str) -> None:
    with pytest.raises(IcsBuildError, match=re.escape(message)):
        build_request(dataclasses.replace(MEETING, **change), now=NOW)  # type: ignore[arg-type]


def test_message_level_refusals() -> None:
    other = dataclasses.replace(MEETING, uid="another@example.com")
    with pytest.raises(IcsBuildError, match="share one UID"):
        build_request([MEETING, other], now=NOW)
    with pytest.raises(IcsBuildError, match="share UID"):
        build_request([MEETING, MEETING], now=NOW)
    with pytest.raises(IcsBuildError, match="no event"):
        build_calendar(Method.REQUEST, [], now=NOW)
    with pytest.raises(IcsBuildError, match="aware"):
        build_request(MEETING, now=dt.datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(IcsBuildError, match="needs an answer"):
        build_reply(MEETING, "bob@example.org", PartStat.NEEDS_ACTION, now=NOW)
    with pytest.raises(IcsBuildError, match="must list the ATTENDEEs"):
        build_cancel(dataclasses.replace(MEETING, attendees=()), now=NOW)
    with pytest.raises(IcsBuildError, match="control character"):
        build_request(MEETING, producer="x\x00", now=NOW)


def test_independent_parser_reads_every_kind() -> None:
    messages = [
        build_request(MEETING, now=NOW),
        build_cancel(MEETING, now=NOW),
        build_cancel(MEETING, attendees=["bob@example.org"], now=NOW),
        build_reply(MEETING, "bob@example.org", PartStat.TENTATIVE, now=NOW),
        build_publish(MEETING, now=NOW),
    ]
    for data in messages:
        parsed = vobject_read(data)
        parsed.validate()
        start = parsed.vevent.dtstart.value
        assert start.astimezone(dt.UTC) == dt.datetime(2026, 7, 1, 7, tzinfo=dt.UTC)
