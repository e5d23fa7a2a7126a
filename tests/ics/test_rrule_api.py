"""The one bounded RRULE reader for the whole gateway: validate_rrule and occurrences_between."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given
from hypothesis import strategies as st

from invitegw.errors import IcsLimitError, IcsParseError
from invitegw.ics import IcsLimits, Recur, occurrences_between, validate_rrule

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(month: int, day: int, hour: int = 9, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=BERLIN)


@pytest.mark.parametrize(
    "written",
    [
        "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4",
        " rrule:freq=weekly; byday=mo,we ;count=4; ",
        "COUNT=4;BYDAY=MO,WE;FREQ=WEEKLY",
    ],
)
def test_validate_accepts_the_spellings_people_write(written: str) -> None:
    recur = validate_rrule(written)
    assert isinstance(recur, Recur)
    assert recur.to_text() == "FREQ=WEEKLY;COUNT=4;BYDAY=MO,WE"


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("", "FREQ"),
        ("BYDAY=MO", "FREQ"),
        ("FREQ=FORTNIGHTLY", "FREQ"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20270101", "COUNT and UNTIL"),
        ("FREQ=DAILY;BYMONTHDAY=32", "BYMONTHDAY"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
        ("FREQ=DAILY;FOO=1", "FOO"),
        ("FREQ=DAILY;BYDAY=XX", "BYDAY"),
        ("FREQ=SECONDLY;BYSETPOS=2", "BYSETPOS"),
        ("FREQ=DAILY;UNTIL=20260230", "2026-02-30"),
    ],
)
def test_validate_refuses_with_the_reason(rule: str, why: str) -> None:
    with pytest.raises(IcsParseError) as caught:
        validate_rrule(rule)
    assert caught.value.property == "RRULE"
    assert why in str(caught.value)


def test_validate_with_a_start_runs_the_rule_once_and_boundedly() -> None:
    assert validate_rrule("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", start=berlin(3, 1)).freq == "DAILY"
    assert validate_rrule("FREQ=MONTHLY;BYMONTHDAY=31", start=dt.date(2026, 1, 31)).bymonthday == (
        31,
    )
    with pytest.raises(IcsParseError):
        validate_rrule("FREQ=HOURLY;BYSETPOS=1", start=berlin(3, 1))


def test_occurrences_keep_wall_clock_time_across_dst_and_bounds_are_inclusive() -> None:
    found = occurrences_between("FREQ=WEEKLY;BYDAY=FR", berlin(3, 20), berlin(3, 27), berlin(4, 3))
    assert found == [berlin(3, 27), berlin(4, 3)]
    assert [value.astimezone(dt.UTC).hour for value in found] == [8, 7]  # type: ignore[union-attr]
    # Bounds are instants: a window given in UTC finds the same instances.
    assert occurrences_between(
        "FREQ=WEEKLY;BYDAY=FR",
        berlin(3, 20),
        berlin(3, 27).astimezone(dt.UTC),
        berlin(4, 3).astimezone(dt.UTC),
    ) == [berlin(3, 27), berlin(4, 3)]


def test_occurrences_with_rdates_exdates_several_rules_and_dates() -> None:
    start = dt.date(2026, 1, 1)
    found = occurrences_between(
        ["FREQ=MONTHLY;BYMONTHDAY=1", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=14"],
        start,
        dt.date(2026, 1, 1),
        dt.date(2026, 4, 30),
        rdates=[dt.date(2026, 3, 17)],
        exdates=[dt.date(2026, 1, 1), dt.date(2026, 3, 1)],
    )
    assert found == [
        dt.date(2026, 2, 1),
        dt.date(2026, 2, 14),
        dt.date(2026, 3, 17),
        dt.date(2026, 4, 1),
    ]
    assert occurrences_between([], start, start, dt.date(2026, 12, 31)) == [start]
    assert (
        occurrences_between("FREQ=DAILY", start, dt.date(2025, 1, 1), dt.date(2025, 12, 31)) == []
    )


def test_occurrences_are_bounded() -> None:
    start = berlin(1, 5)
    # A daily series asked about 2100 would need ~27,000 instances before it: over the cap.
    with pytest.raises(IcsLimitError) as caught:
        occurrences_between("FREQ=DAILY", start, berlin(1, 1, year=2100), berlin(1, 9, year=2100))
    assert caught.value.limit == "max_recurrence_instances"
    # ... which a caller may raise.
    found = occurrences_between(
        "FREQ=DAILY",
        start,
        berlin(1, 1, year=2100),
        berlin(1, 3, year=2100),
        limits=IcsLimits(max_recurrence_instances=30_000),
    )
    assert [value.day for value in found] == [1, 2, 3]  # type: ignore[union-attr]
    # Beyond the horizon (max_recurrence_years after the start) there is nothing.
    assert (
        occurrences_between(
            "FREQ=YEARLY", start, berlin(1, 1, year=2300), berlin(12, 31, year=2300)
        )
        == []
    )
    # A rule that never matches ends, with DTSTART only.
    assert occurrences_between(
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", start, start, berlin(1, 1, year=2200)
    ) == [start]


def test_a_bad_rule_is_refused_by_the_expander_too() -> None:
    with pytest.raises(IcsParseError) as caught:
        occurrences_between("FREQ=DAILY;BYHOUR=25", berlin(1, 5), berlin(1, 5), berlin(2, 5))
    assert caught.value.property == "RRULE"


SIMPLE = st.sampled_from(
    [
        "FREQ=DAILY;COUNT=40",
        "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=30",
        "FREQ=MONTHLY;BYDAY=-1FR;COUNT=12",
        "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=10",
        "FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=15;COUNT=6",
        "FREQ=HOURLY;INTERVAL=7;COUNT=50",
    ]
)
MOMENTS = st.datetimes(
    min_value=dt.datetime(2025, 1, 1),  # noqa: DTZ001
    max_value=dt.datetime(2028, 12, 31),  # noqa: DTZ001
).map(lambda value: value.replace(microsecond=0))


@given(rule=SIMPLE, start=MOMENTS, first=MOMENTS, last=MOMENTS)
def test_window_matches_dateutil(
    rule: str, start: dt.datetime, first: dt.datetime, last: dt.datetime
) -> None:
    everything = sorted({start, *rrulestr(rule, dtstart=start)})
    wanted = [value for value in everything if first <= value <= last]
    assert occurrences_between(rule, start, first, last) == wanted


PARTS = st.sampled_from(
    [
        "FREQ=DAILY",
        "FREQ=WEEKLY",
        "FREQ=SECONDLY",
        "FREQ=YEARLY",
        "COUNT=3",
        "COUNT=0",
        "UNTIL=20260601",
        "UNTIL=20260601T000000Z",
        "INTERVAL=2",
        "BYDAY=MO,-1FR",
        "BYDAY=9MO",
        "BYMONTH=2",
        "BYMONTHDAY=30",
        "BYSETPOS=-1",
        "BYHOUR=25",
        "BYWEEKNO=53",
        "WKST=SU",
        "X-NAME=1",
        "junk",
    ]
)


@given(parts=st.lists(PARTS, max_size=5), start=MOMENTS)
def test_a_rule_that_validates_from_a_start_can_be_expanded_from_it(
    parts: list[str], start: dt.datetime
) -> None:
    rule = ";".join(parts)
    refused: IcsParseError | None = None
    try:
        validate_rrule(rule, start=start)
    except IcsParseError as error:
        refused = error
    if refused is not None:
        assert refused.property == "RRULE"
        return
    found = occurrences_between(rule, start, start, start + dt.timedelta(hours=1))
    assert found[0] == start
