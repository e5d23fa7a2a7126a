"""Bounded recurrence expansion and the end of a series."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from invitegw.errors import IcsLimitError, IcsParseError
from invitegw.ics import Event, IcsLimits, expand, last_occurrence_end

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2026, 3, 20, 9, tzinfo=BERLIN)


def series(rule: str | None, **kwargs: object) -> Event:
    return Event(
        uid="s@example.com", start=START, end=START + dt.timedelta(hours=1), rrule=rule, **kwargs
    )  # type: ignore[arg-type]


def test_weekly_keeps_wall_clock_across_dst() -> None:
    starts = expand(series("FREQ=WEEKLY;COUNT=3"))
    assert [s.isoformat() for s in starts] == [  # type: ignore[union-attr]
        "2026-03-20T09:00:00+01:00",
        "2026-03-27T09:00:00+01:00",
        "2026-04-03T09:00:00+02:00",
    ]


def test_rdate_exdate_and_until() -> None:
    event = series(
        "FREQ=DAILY;UNTIL=20260323T080000Z",
        rdates=(dt.datetime(2026, 4, 1, 12, tzinfo=dt.UTC),),
        exdates=(dt.datetime(2026, 3, 21, 8, tzinfo=dt.UTC),),
    )
    starts = [s.astimezone(dt.UTC) for s in expand(event)]  # type: ignore[union-attr]
    assert starts == [
        dt.datetime(2026, 3, 20, 8, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 22, 8, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 23, 8, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 1, 12, tzinfo=dt.UTC),
    ]
    assert last_occurrence_end(event) == dt.datetime(2026, 4, 1, 13, tzinfo=dt.UTC)


def test_expand_until_a_date() -> None:
    starts = expand(series("FREQ=DAILY"), until=START + dt.timedelta(days=2))
    assert len(starts) == 3


def test_dtstart_always_counts() -> None:
    # The 20th of March 2026 is a Friday, not a Monday: it is still the first instance.
    starts = expand(series("FREQ=WEEKLY;BYDAY=MO;COUNT=2"))
    assert starts[0] == START
    assert len(starts) == 3


def test_all_day_and_floating() -> None:
    day = Event(uid="d", start=dt.date(2026, 1, 31), rrule="FREQ=MONTHLY;COUNT=3;BYMONTHDAY=-1")
    assert expand(day) == [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31)]
    assert last_occurrence_end(day) == dt.date(2026, 4, 1)
    floating = Event(uid="f", start=dt.datetime(2026, 1, 1, 8), rrule="FREQ=DAILY;COUNT=2")  # noqa: DTZ001
    assert expand(floating)[-1] == dt.datetime(2026, 1, 2, 8)  # noqa: DTZ001


def test_last_occurrence_end_of_simple_and_unbounded() -> None:
    assert last_occurrence_end(series(None)) == START + dt.timedelta(hours=1)
    assert last_occurrence_end(series("FREQ=WEEKLY")) is None
    assert last_occurrence_end(series("FREQ=YEARLY;UNTIL=25000101T000000Z")) is None
    exception = series("FREQ=DAILY", recurrence_id=START)
    assert last_occurrence_end(exception) == START + dt.timedelta(hours=1)
    assert last_occurrence_end(series("FREQ=YEARLY;COUNT=3")) == dt.datetime(
        2028, 3, 20, 10, tzinfo=BERLIN
    )


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",  # never matches: dateutil alone would search to 9999
        "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30;COUNT=5",
        "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-6;COUNT=3",
    ],
)
def test_rules_that_never_match_end(rule: str) -> None:
    assert expand(series(rule)) == [START]


def test_huge_count_hits_the_cap() -> None:
    with pytest.raises(IcsLimitError) as caught:
        expand(series("FREQ=SECONDLY;COUNT=1000000000"))
    assert caught.value.limit == "max_recurrence_instances"
    with pytest.raises(IcsLimitError):
        expand(series("FREQ=DAILY;COUNT=50"), limits=IcsLimits(max_recurrence_instances=10))


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=SECONDLY;BYSETPOS=2",
        "FREQ=HOURLY;INTERVAL=24;BYHOUR=5",
        "BYDAY=MO",
        "FREQ=DAILY;COUNT=2;UNTIL=20270101",
        "FREQ=DAILY;BYMONTHDAY=32",
        "FREQ=DAILY;INTERVAL=0",
    ],
)
def test_unexpandable_rules(rule: str) -> None:
    with pytest.raises(IcsParseError) as caught:
        expand(series(rule))
    assert caught.value.property == "RRULE"


def test_horizon_makes_far_counts_unbounded() -> None:
    event = series("FREQ=YEARLY;COUNT=150")
    assert last_occurrence_end(event, limits=IcsLimits(max_recurrence_years=100)) is None
    assert last_occurrence_end(event) == dt.datetime(2175, 3, 20, 10, tzinfo=BERLIN)
