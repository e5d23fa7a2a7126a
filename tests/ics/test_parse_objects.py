"""One unusable VCALENDAR costs only itself (parse_calendar_objects), and a dropped VEVENT is
reported as a value (CalendarObject.dropped) as well as in words."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invitegw.errors import IcsLimitError, IcsParseError
from invitegw.ics import (
    CalendarError,
    CalendarObject,
    DroppedEvent,
    IcsLimits,
    Method,
    parse_calendar_objects,
    parse_calendars,
)


def vcalendar(*events: str, method: str = "REQUEST", producer: str = "-//t//EN") -> str:
    head = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{producer}\r\n"
    if method:
        head += f"METHOD:{method}\r\n"
    return head + "".join(events) + "END:VCALENDAR\r\n"


def vevent(uid: str, start: str = "DTSTART:20260301T100000Z", *lines: str) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{start}\r\n"
        + "".join(f"{line}\r\n" for line in lines)
        + "END:VEVENT\r\n"
    )


GOOD_A = vcalendar(vevent("a@example.com"), producer="-//A//EN")
BAD_START = vcalendar(vevent("b@example.com", "DTSTART:20260230T100000Z"), method="CANCEL")
GOOD_C = vcalendar(vevent("c@example.com", "DTSTART;VALUE=DATE:20260401"), producer="-//C//EN")


def test_a_malformed_calendar_object_is_set_aside_and_the_others_kept() -> None:
    data = (GOOD_A + BAD_START + GOOD_C).encode()
    first, bad, third = parse_calendar_objects(data)
    assert isinstance(first, CalendarObject)
    assert isinstance(third, CalendarObject)
    assert [first.producer, third.producer] == ["-//A//EN", "-//C//EN"]
    assert third.events[0].start == dt.date(2026, 4, 1)
    assert isinstance(bad, CalendarError)
    assert bad.index == 1
    assert bad.method is Method.CANCEL
    assert bad.line_number == GOOD_A.count("\r\n") + 1  # its BEGIN:VCALENDAR
    assert "DTSTART" in bad.reason
    assert "2026-02-30" in bad.reason
    assert bad.limit is None
    (dropped,) = bad.dropped
    assert (dropped.uid, dropped.property) == ("b@example.com", "DTSTART")
    # The old contract stands: parse_calendars raises the bad object's error.
    with pytest.raises(IcsParseError) as caught:
        parse_calendars(data)
    assert str(caught.value) == bad.reason


def test_a_calendar_over_a_per_event_cap_is_set_aside_with_the_cap() -> None:
    crowd = [f"ATTENDEE:mailto:p{i}@example.com" for i in range(3)]
    crowded = vcalendar(vevent("crowd@example.com", "DTSTART:20260301T100000Z", *crowd))
    limits = IcsLimits(max_attendees=2)
    good, over = parse_calendar_objects((GOOD_A + crowded).encode(), limits=limits)
    assert isinstance(good, CalendarObject)
    assert isinstance(over, CalendarError)
    assert over.limit == "max_attendees"
    with pytest.raises(IcsLimitError):
        parse_calendars((GOOD_A + crowded).encode(), limits=limits)


def test_caps_on_the_whole_data_still_raise() -> None:
    data = (GOOD_A + GOOD_C).encode()
    with pytest.raises(IcsLimitError) as caught:
        parse_calendar_objects(data, limits=IcsLimits(max_events=1))
    assert caught.value.limit == "max_events"
    with pytest.raises(IcsParseError, match="no VCALENDAR"):
        parse_calendar_objects(b"BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n")


def test_glued_files_with_a_missing_end_stay_two_calendar_objects() -> None:
    unterminated = GOOD_A.replace("END:VCALENDAR\r\n", "")
    outcomes = parse_calendar_objects((unterminated + GOOD_C).encode())
    assert [type(outcome) for outcome in outcomes] == [CalendarObject, CalendarObject]
    assert [o.events[0].uid for o in outcomes if isinstance(o, CalendarObject)] == [
        "a@example.com",
        "c@example.com",
    ]
    first = outcomes[0]
    assert isinstance(first, CalendarObject)
    assert any("inside an open VCALENDAR" in w for w in first.warnings)


def test_stray_events_come_last_and_data_warnings_go_to_the_first_usable() -> None:
    stray = vevent("stray@example.com")
    outcomes = parse_calendar_objects(("\r\n" + BAD_START + "X-NOISE:1\r\n" + stray).encode())
    bad, stray_calendar = outcomes
    assert isinstance(bad, CalendarError)
    assert bad.index == 0
    assert isinstance(stray_calendar, CalendarObject)
    assert stray_calendar.events[0].uid == "stray@example.com"
    assert any("outside any VCALENDAR" in w for w in stray_calendar.warnings)


def test_mime_method_applies_to_each_object() -> None:
    no_method = vcalendar(vevent("n@example.com"), method="")
    outcomes = parse_calendar_objects((no_method + BAD_START).encode(), mime_method="PUBLISH")
    good, bad = outcomes
    assert isinstance(good, CalendarObject)
    assert good.method is Method.PUBLISH
    assert isinstance(bad, CalendarError)
    assert bad.method is Method.CANCEL  # its own METHOD


KINDS = {
    "good": GOOD_A,
    "other": GOOD_C,
    "bad": BAD_START,
    "empty": vcalendar(),  # no VEVENT: usable, with no events
    "bad-only-event": vcalendar(vevent("x@example.com", "DTSTART:nonsense")),
}


@given(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=6))
def test_each_object_reads_as_it_reads_alone(kinds: list[str]) -> None:
    outcomes = parse_calendar_objects("".join(KINDS[kind] for kind in kinds).encode())
    assert len(outcomes) == len(kinds)
    for index, (kind, outcome) in enumerate(zip(kinds, outcomes, strict=True)):
        alone = parse_calendar_objects(KINDS[kind].encode())[0]
        assert type(outcome) is type(alone)
        if isinstance(outcome, CalendarError):
            assert isinstance(alone, CalendarError)
            assert outcome.index == index
            # Same reason but for where in the data it is (line numbers move).
            assert outcome.reason.split(": ", 1)[1] == alone.reason.split(": ", 1)[1]
        else:
            assert outcome == alone  # warnings and zone notes are not compared


# -- dropped VEVENTs ----------------------------------------------------------------------------


def test_dropped_events_are_values_and_still_warnings() -> None:
    data = vcalendar(
        vevent("ok@example.com"),
        vevent(
            "moved@example.com",
            "DTSTART;TZID=Europe/Berlin:20260230T100000",
            "RECURRENCE-ID;TZID=Europe/Berlin:20260227T100000",
        ),
        vevent("nostart@example.com", "SUMMARY:no start at all"),
        vevent("badid@example.com", "DTSTART:x", "RECURRENCE-ID:also-bad"),
    ).encode()
    (calendar,) = parse_calendars(data)
    assert [event.uid for event in calendar.events] == ["ok@example.com"]
    moved, nostart, badid = calendar.dropped
    assert isinstance(moved, DroppedEvent)
    assert moved.uid == "moved@example.com"
    assert moved.recurrence_id == dt.datetime(2026, 2, 27, 9, tzinfo=dt.UTC)
    assert moved.property == "DTSTART"
    assert moved.line_number == 10  # where that VEVENT begins
    assert "2026-02-30" in moved.reason
    assert (nostart.uid, nostart.recurrence_id, nostart.property) == (
        "nostart@example.com",
        None,
        "DTSTART",
    )
    assert "no DTSTART" in nostart.reason
    assert (badid.uid, badid.recurrence_id) == ("badid@example.com", None)
    # The words the inbound pipeline reads today are unchanged: the prefix, then the reason.
    words = [w.removeprefix("VEVENT dropped: ") for w in calendar.warnings if "dropped" in w]
    assert words == [dropped.reason for dropped in calendar.dropped]


def test_no_dropped_events_is_an_empty_tuple() -> None:
    (calendar,) = parse_calendars(GOOD_A.encode())
    assert calendar.dropped == ()
