"""Several RRULEs in one VEVENT (Zimbra writes them; RFC 5545 section 3.8.5.3 deprecates it):
the instances are the union of all rules, plus RDATE, minus EXDATE, within the same caps."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given
from hypothesis import strategies as st

from invitegw.errors import IcsLimitError
from invitegw.ics import (
    Event,
    IcsLimits,
    PartStat,
    build_reply,
    build_request,
    compare_events,
    expand,
    last_occurrence_end,
    parse_calendar,
)
from invitegw.ics.model import Attendee, Organizer

WARSAW = ZoneInfo("Europe/Warsaw")


def zimbra_like(*rules: str, extra: str = "") -> bytes:
    """A Zimbra-shaped request: a VTIMEZONE, then the RRULEs before DTSTART, as it writes."""
    body = "".join(f"RRULE:{rule}\r\n" for rule in rules)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:Zimbra-Calendar-Provider\r\n"
        "METHOD:REQUEST\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Warsaw\r\nBEGIN:STANDARD\r\n"
        "DTSTART:19701025T030000\r\nTZOFFSETTO:+0100\r\nTZOFFSETFROM:+0200\r\n"
        "RRULE:FREQ=YEARLY;WKST=MO;INTERVAL=1;BYMONTH=10;BYDAY=-1SU\r\nTZNAME:CET\r\n"
        "END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETTO:+0200\r\n"
        "TZOFFSETFROM:+0100\r\nRRULE:FREQ=YEARLY;WKST=MO;INTERVAL=1;BYMONTH=3;BYDAY=-1SU\r\n"
        "TZNAME:CEST\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\n"
        "UID:5e1a9c1e-0b7f-4d7e-9a55-multi@example.org\r\n"
        + body
        + "SUMMARY:Team sync\r\nORGANIZER;CN=Ola:mailto:ola@example.org\r\n"
        "DTSTART;TZID=Europe/Warsaw:20260302T100000\r\n"
        "DTEND;TZID=Europe/Warsaw:20260302T110000\r\n"
        + extra
        + "DTSTAMP:20260220T120000Z\r\nSEQUENCE:2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


WEEKLY = "FREQ=WEEKLY;UNTIL=20260330T235959Z"
MONTHLY = "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=2"


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 10, tzinfo=WARSAW)


def test_every_rule_is_read_and_kept() -> None:
    calendar = parse_calendar(zimbra_like(WEEKLY, MONTHLY))
    (event,) = calendar.events
    assert event.rrule == WEEKLY  # the first, as before
    assert event.more_rrules == (MONTHLY,)
    assert event.rrules == (WEEKLY, MONTHLY)
    assert any("one of several" in w for w in calendar.warnings)


def test_instances_are_the_union_plus_rdate_minus_exdate() -> None:
    extra = (
        "EXDATE;TZID=Europe/Warsaw:20260316T100000\r\nRDATE;TZID=Europe/Warsaw:20260320T100000\r\n"
    )
    (event,) = parse_calendar(zimbra_like(WEEKLY, MONTHLY, extra=extra)).events
    # Mondays 2, 9, 16, 23, 30 March (weekly) and the 15th of March and April (monthly);
    # the 16th excluded, the 20th added. 30 March is after the change to summer time.
    assert expand(event) == [
        at(3, 2),
        at(3, 9),
        at(3, 15),
        at(3, 20),
        at(3, 23),
        at(3, 30),
        at(4, 15),
    ]
    assert at(3, 30).astimezone(dt.UTC).hour == 8
    assert last_occurrence_end(event) == at(4, 15) + dt.timedelta(hours=1)


def test_one_unbounded_rule_makes_the_series_unbounded() -> None:
    (event,) = parse_calendar(zimbra_like(MONTHLY, "FREQ=YEARLY")).events
    assert last_occurrence_end(event) is None
    assert expand(event, until=at(4, 30)) == [at(3, 2), at(3, 15), at(4, 15)]


def test_the_same_rule_twice_counts_once() -> None:
    calendar = parse_calendar(zimbra_like(WEEKLY, WEEKLY))
    assert calendar.events[0].rrules == (WEEKLY,)
    assert any("repeated" in w for w in calendar.warnings)


def test_rules_share_the_instance_cap() -> None:
    event = Event(
        uid="cap",
        start=at(3, 2),
        rrule="FREQ=DAILY;COUNT=6",
        more_rrules=("FREQ=WEEKLY;COUNT=6;BYDAY=SA",),
    )
    # Six daily (2-7 March) and six Saturdays (7 March to 11 April): eleven distinct starts.
    assert len(expand(event)) == 11
    assert len(expand(event, limits=IcsLimits(max_recurrence_instances=11))) == 11
    with pytest.raises(IcsLimitError) as caught:
        expand(event, limits=IcsLimits(max_recurrence_instances=10))
    assert caught.value.limit == "max_recurrence_instances"
    # Each rule alone stays under the lower cap (DTSTART, a Monday, counts in both):
    # it is the union that goes over.
    low = IcsLimits(max_recurrence_instances=10)
    alone = [dataclasses.replace(event, rrule=rule, more_rrules=()) for rule in event.rrules]
    assert [len(expand(series, limits=low)) for series in alone] == [6, 7]


def test_many_rules_hit_their_own_cap() -> None:
    rules = [f"FREQ=YEARLY;COUNT=2;BYMONTH={month}" for month in range(1, 12)]
    with pytest.raises(IcsLimitError) as caught:
        parse_calendar(zimbra_like(*rules))
    assert caught.value.limit == "max_rrules"
    limits = IcsLimits(max_rrules=11)
    assert len(parse_calendar(zimbra_like(*rules), limits=limits).events[0].rrules) == 11
    with pytest.raises(IcsLimitError):
        parse_calendar(zimbra_like(*rules[:3]), limits=IcsLimits(max_rrules=2))


def test_replacing_the_first_rule_with_none_ends_the_series() -> None:
    (event,) = parse_calendar(zimbra_like(WEEKLY, MONTHLY)).events
    single = dataclasses.replace(event, rrule=None)
    assert single.rrules == ()
    assert expand(single) == [at(3, 2)]


def test_the_builder_writes_every_rule_and_a_reply_none() -> None:
    (event,) = parse_calendar(zimbra_like(WEEKLY, MONTHLY)).events
    event = dataclasses.replace(event, attendees=(Attendee("bo@example.org"),))
    written = build_request(event, now=dt.datetime(2026, 2, 21, tzinfo=dt.UTC))
    again = parse_calendar(written).events[0]
    assert len(again.rrules) == 2
    assert expand(again) == expand(event)
    reply = parse_calendar(build_reply(event, "bo@example.org", PartStat.ACCEPTED)).events[0]
    assert reply.rrules == ()
    assert reply.organizer == Organizer("ola@example.org", cn="Ola")


def test_a_rule_added_or_dropped_is_a_significant_change_and_order_is_not() -> None:
    one = Event(uid="c", start=at(3, 2), rrule=WEEKLY)
    two = dataclasses.replace(one, more_rrules=(MONTHLY,))
    swapped = dataclasses.replace(one, rrule=MONTHLY, more_rrules=(WEEKLY,))
    assert "rrule" in compare_events(one, two).significant
    assert "rrule" in compare_events(two, one).significant
    assert "rrule" not in compare_events(two, swapped).significant


# Rules dateutil itself can be trusted with (bounded, simple), to check the union against.
RULES = st.sampled_from(
    [
        "FREQ=DAILY;COUNT=5",
        "FREQ=DAILY;INTERVAL=3;COUNT=7",
        "FREQ=WEEKLY;COUNT=4;BYDAY=TU,TH",
        "FREQ=WEEKLY;INTERVAL=2;UNTIL=20260601T000000",
        "FREQ=MONTHLY;COUNT=5;BYMONTHDAY=-1",
        "FREQ=MONTHLY;COUNT=3;BYDAY=2WE",
        "FREQ=YEARLY;COUNT=3;BYMONTH=2,8;BYMONTHDAY=29",
        "FREQ=HOURLY;INTERVAL=11;COUNT=9",
    ]
)


@given(
    rules=st.lists(RULES, min_size=1, max_size=4, unique=True),
    start=st.datetimes(
        min_value=dt.datetime(2024, 1, 1),  # noqa: DTZ001
        max_value=dt.datetime(2027, 12, 31),  # noqa: DTZ001
    ).map(lambda value: value.replace(microsecond=0)),
)
def test_union_matches_dateutil_rule_by_rule(rules: list[str], start: dt.datetime) -> None:
    event = Event(uid="u", start=start, rrule=rules[0], more_rrules=tuple(rules[1:]))
    wanted = {start}
    for rule in rules:
        wanted.update(rrulestr(rule, dtstart=start))
    assert expand(event) == sorted(wanted)
