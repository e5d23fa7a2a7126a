"""Properties over generated models and hostile bytes (hypothesis, in the default run)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invitegw.errors import IcsError
from invitegw.ics import (
    CalendarObject,
    Event,
    IcsLimits,
    Method,
    build_calendar,
    expand,
    last_occurrence_end,
    parse_calendars,
)
from tests.ics.checks import assert_own_error, vobject_read
from tests.ics.strategies import events, seconds

DATA = Path(__file__).parent / "data"
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
FIXTURES = [path.read_bytes() for path in sorted(DATA.glob("*.ics"))]


def expected(event: Event, method: Method) -> Event:
    """What the parser gives back for ``event`` built with ``method``."""
    return dataclasses.replace(
        event,
        dtstamp=NOW,
        original_tzid=event.tzid,
        attendees=() if method is Method.PUBLISH else event.attendees,
        alarms=event.alarms if method in (Method.REQUEST, Method.PUBLISH) else (),
    )


@given(event=events(), method=st.sampled_from([Method.REQUEST, Method.PUBLISH, Method.CANCEL]))
def test_parse_of_build_is_the_model(event: Event, method: Method) -> None:
    data = build_calendar(method, [event], now=NOW)
    (calendar,) = parse_calendars(data)
    assert calendar.method is method
    assert calendar.warnings == ()
    assert calendar.events == (expected(event, method),)


@given(event=events())
def test_output_lines_are_folded_crlf_utf8(event: Event) -> None:
    data = build_calendar(Method.REQUEST, [event], now=NOW)
    assert data.endswith(b"\r\n")
    physical = data.split(b"\r\n")[:-1]
    for line in physical:
        assert b"\r" not in line
        assert b"\n" not in line
        assert len(line) <= 75
        line.decode("utf-8")


@given(event=events())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_an_independent_parser_agrees(event: Event) -> None:
    data = build_calendar(Method.REQUEST, [event], now=NOW)
    parsed = vobject_read(data)
    vevent = parsed.vevent
    assert vevent.uid.value == event.uid
    start = vevent.dtstart.value
    if not isinstance(event.start, dt.datetime):
        assert start == event.start
    elif _exists(event.start) and event.start.year < 2038:
        # Skipped: a wall time in a DST gap or fold (dateutil, under vobject, reads it
        # otherwise than RFC 5545 section 3.3.5 says and zoneinfo and we do), and years from
        # 2038 on, where vobject stops applying a VTIMEZONE's daylight rules.
        assert start.astimezone(dt.UTC) == event.start.astimezone(dt.UTC)
    if event.summary:
        assert vevent.summary.value == event.summary
    assert int(vevent.sequence.value) == event.sequence
    assert len(getattr(vevent, "attendee_list", [])) == len(event.attendees)


def _exists(value: dt.datetime) -> bool:
    """Whether the wall time ``value`` occurs exactly once in its zone.

    Not in a DST gap, and not in the repeated hour when clocks go back: there RFC 5545
    section 3.3.5 means the first occurrence (as zoneinfo's ``fold=0`` and we read it),
    while dateutil/pytz under vobject may take the second.
    """
    back = value.astimezone(dt.UTC).astimezone(value.tzinfo)
    if back.replace(tzinfo=None) != value.replace(tzinfo=None):
        return False
    return value.replace(fold=0).utcoffset() == value.replace(fold=1).utcoffset()


@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        result = parse_calendars(data)
    except IcsError as error:
        assert_own_error(error)
    else:
        assert all(isinstance(item, CalendarObject) for item in result)


@given(
    fixture=st.sampled_from(FIXTURES),
    cuts=st.lists(
        st.tuples(st.integers(0, 5000), st.integers(0, 40), st.binary(max_size=12)),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_calendars(fixture: bytes, cuts: list[tuple[int, int, bytes]]) -> None:
    data = bytearray(fixture)
    for position, length, insert in cuts:
        position %= len(data) + 1
        data[position : position + length] = insert
    try:
        parse_calendars(bytes(data))
    except IcsError as error:
        assert_own_error(error)


@given(
    fixture=st.sampled_from(FIXTURES),
    swaps=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)), min_size=1, max_size=4),
    noise=st.sampled_from(
        [
            "BEGIN:VEVENT",
            "END:VEVENT",
            "END:VCALENDAR",
            "BEGIN:VALARM",
            "DTSTART;TZID=Nowhere:20260101T000000",
            "RRULE:FREQ=SECONDLY",
            "DTEND:2026",
            'ATTENDEE;CN="x:mailto:y',
            "TZID:",
            " folded",
        ]
    ),
)
def test_shuffled_lines(fixture: bytes, swaps: list[tuple[int, int]], noise: str) -> None:
    lines = fixture.split(b"\r\n")
    for first, second in swaps:
        i, j = first % len(lines), second % len(lines)
        lines[i], lines[j] = lines[j], noise.encode()
    try:
        parse_calendars(b"\r\n".join(lines))
    except IcsError as error:
        assert_own_error(error)


NAMES = st.sampled_from(
    [
        "BEGIN",
        "END",
        "DTSTART",
        "DTEND",
        "DURATION",
        "RRULE",
        "RDATE",
        "EXDATE",
        "TZID",
        "UID",
        "ATTENDEE",
        "ORGANIZER",
        "TRIGGER",
        "TZOFFSETFROM",
        "TZOFFSETTO",
        "RECURRENCE-ID",
        "SEQUENCE",
        "METHOD",
        "DTSTAMP",
        "X-MICROSOFT-CDO-TZID",
        "STATUS",
        "SUMMARY",
        "X-WR-TIMEZONE",
    ]
)
VALUES = st.sampled_from(
    [
        "VCALENDAR",
        "VEVENT",
        "VTIMEZONE",
        "STANDARD",
        "DAYLIGHT",
        "VALARM",
        "20260230T100000",
        "20260301T100000Z",
        "20260301",
        "-PT15M",
        "PT-2H",
        "+0100",
        "-0530",
        "FREQ=YEARLY;BYDAY=-1SU",
        "FREQ=SECONDLY;BYSETPOS=2",
        "mailto:a@example.com",
        "Europe/Berlin",
        "W. Europe Standard Time",
        "(UTC+01:00) Amsterdam",
        "REQUEST",
        "CANCEL",
        "99999999999999999999",
        "",
        ":",
        "\\",
    ]
)
PARAMS = st.sampled_from(
    [
        "",
        ";TZID=Europe/Berlin",
        ";VALUE=DATE",
        ';TZID="X"',
        ";RELATED=END",
        ';CN="a:b"',
        ";RANGE=THISANDFUTURE",
        ";VALUE=PERIOD",
        ";X=^n^'",
    ]
)


@given(st.lists(st.tuples(NAMES, PARAMS, VALUES), max_size=60))
def test_grammar_shaped_noise(lines: list[tuple[str, str, str]]) -> None:
    text = "BEGIN:VCALENDAR\r\n" + "".join(f"{n}{p}:{v}\r\n" for n, p, v in lines)
    try:
        parse_calendars(text)
    except IcsError as error:
        assert_own_error(error)


PARTS = st.sampled_from(
    [
        "INTERVAL=2",
        "INTERVAL=0",
        "COUNT=3",
        "COUNT=100000000",
        "UNTIL=20270101T000000Z",
        "UNTIL=20270101",
        "BYDAY=MO,WE",
        "BYDAY=-1SU",
        "BYDAY=5FR",
        "BYMONTHDAY=31",
        "BYMONTHDAY=30",
        "BYMONTH=2",
        "BYYEARDAY=366",
        "BYWEEKNO=53",
        "BYSETPOS=-1",
        "BYSETPOS=7",
        "BYHOUR=25",
        "BYHOUR=9,17",
        "BYMINUTE=0,30",
        "WKST=SU",
        "BYEASTER=1",
    ]
)


@given(
    freq=st.sampled_from(["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "SECONDLY"]),
    parts=st.lists(PARTS, max_size=4, unique=True),
    start=seconds,
)
@settings(max_examples=60)
def test_any_rule_expands_within_the_caps(freq: str, parts: list[str], start: dt.datetime) -> None:
    event = Event(uid="r", start=start, rrule=";".join([f"FREQ={freq}", *parts]))
    limits = IcsLimits(max_recurrence_instances=500, max_recurrence_years=30)
    try:
        instances = expand(event, limits=limits)
        last_occurrence_end(event, limits=limits)
    except IcsError:
        return
    assert instances[0] == start
    assert len(instances) <= 500


@pytest.mark.parametrize("fixture", FIXTURES[:3], ids=["a", "b", "c"])
def test_fixtures_survive_every_truncation(fixture: bytes) -> None:
    for end in range(0, len(fixture), 7):
        try:
            parse_calendars(fixture[:end])
        except IcsError as error:
            assert_own_error(error)
