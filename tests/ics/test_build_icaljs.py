"""What we build, read by ical.js (Thunderbird's parser): the same instants, every TZID known."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from invitegw.ics import (
    Attendee,
    Event,
    Organizer,
    PartStat,
    build_cancel,
    build_reply,
    build_request,
)
from tests.fixtures.icaljs import IcalJs, icaljs_time

pytestmark = pytest.mark.node

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
BASE = Event(
    uid="tb@example.com",
    start=dt.datetime(2026, 10, 25, 9, tzinfo=ZoneInfo("Europe/Berlin")),  # the day DST ends
    end=dt.datetime(2026, 10, 25, 10, tzinfo=ZoneInfo("Europe/Berlin")),
    summary="Check",
    organizer=Organizer("org@example.com", cn="Org"),
    attendees=(Attendee("guest@example.org", cn="Guest", rsvp=True),),
    rrule="FREQ=WEEKLY;COUNT=3",
)
ZONED = [
    BASE,
    dataclasses.replace(
        BASE, start=dt.datetime(2026, 3, 8, 3, tzinfo=ZoneInfo("America/New_York")), end=None
    ),
    # 02:30 on this day happens twice; RFC 5545 section 3.3.5 means the first, ical.js reads
    # the second. 03:30, just after the change, is unambiguous.
    dataclasses.replace(
        BASE, start=dt.datetime(2026, 4, 5, 3, 30, tzinfo=ZoneInfo("Australia/Sydney")), end=None
    ),
    dataclasses.replace(
        BASE, start=dt.datetime(2026, 7, 1, 9, tzinfo=ZoneInfo("Asia/Kolkata")), end=None
    ),
]


@pytest.mark.parametrize("event", ZONED, ids=lambda e: str(e.start.tzinfo))
def test_icaljs_reads_our_zones(icaljs: IcalJs, event: Event) -> None:
    for data in (
        build_request(event, now=NOW),
        build_cancel(event, now=NOW),
        build_reply(event, "guest@example.org", PartStat.ACCEPTED, now=NOW),
    ):
        result = icaljs.read(data)
        assert result["ok"], result["error"]
        (read,) = result["events"]
        assert icaljs_time(read["start"]) == event.start.astimezone(dt.UTC)  # type: ignore[union-attr]
        assert all(known for _, known in read["tzids"])


def test_icaljs_reads_all_day(icaljs: IcalJs) -> None:
    event = dataclasses.replace(BASE, start=dt.date(2026, 12, 24), end=dt.date(2026, 12, 25))
    (read,) = icaljs.read(build_request(event, now=NOW))["events"]
    assert icaljs_time(read["start"]) == dt.date(2026, 12, 24)
    assert read["attendees"][0]["partstat"] == "NEEDS-ACTION"
