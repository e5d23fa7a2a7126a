"""The built-in CRM's recurrence rules: read and expanded by the bounded ics expander only.

A rule typed into the CRM is untrusted input: one that never matches, or sub-daily with
BYSETPOS, would keep ``dateutil`` searching for centuries (or for ever); here it is refused
or answered at once, and a search past the instance cap says so.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from invitegw.crm_adapter.builtin.schema import CrmMeeting
from invitegw.crm_adapter.builtin.times import LIMITS, checked_rrule, find_occurrence
from invitegw.errors import CrmError

WARSAW = ZoneInfo("Europe/Warsaw")


def _timed(rule: str | None, start: dt.datetime, minutes: int = 60) -> CrmMeeting:
    return CrmMeeting(
        id=7,
        all_day=False,
        time_zone="Europe/Warsaw",
        start_at=start.astimezone(dt.UTC),
        end_at=(start + dt.timedelta(minutes=minutes)).astimezone(dt.UTC),
        rrule=rule,
    )


def _all_day(rule: str, day: dt.date) -> CrmMeeting:
    return CrmMeeting(
        id=8,
        all_day=True,
        time_zone=None,
        start_date=day,
        end_date=day + dt.timedelta(days=1),
        rrule=rule,
    )


START = dt.datetime(2026, 3, 23, 9, 0, tzinfo=WARSAW)  # a Monday, before the DST change


def test_a_rule_is_kept_without_its_prefix() -> None:
    row = _timed(None, START)
    assert checked_rrule(" RRULE:FREQ=WEEKLY;COUNT=4", row) == "FREQ=WEEKLY;COUNT=4"
    assert checked_rrule("", row) is None
    assert checked_rrule(None, row) is None


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=FORTNIGHTLY", "FREQ"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20260401T000000Z", "both COUNT and UNTIL"),
        # dateutil would search these for ever: refused before any expansion.
        ("FREQ=SECONDLY;BYSETPOS=1", "BYSETPOS with FREQ=SECONDLY"),
        ("FREQ=MINUTELY;BYSETPOS=-1;BYSECOND=0", "BYSETPOS with FREQ=MINUTELY"),
    ],
)
def test_invalid_rules_are_refused_with_the_reason(rule: str, reason: str) -> None:
    with pytest.raises(CrmError, match="invalid recurrence rule") as caught:
        checked_rrule(rule, _timed(None, START))
    assert reason in str(caught.value)


def test_an_occurrence_keeps_its_wall_clock_time_across_dst() -> None:
    row = _timed("FREQ=WEEKLY;COUNT=6", START)
    after_dst = find_occurrence(row, dt.date(2026, 4, 6))  # CEST from 29 March
    assert after_dst == dt.datetime(2026, 4, 6, 9, 0, tzinfo=WARSAW)
    assert after_dst.utcoffset() == dt.timedelta(hours=2)  # type: ignore[union-attr]
    assert find_occurrence(row, START) == START  # DTSTART is the first occurrence
    exact = dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC)  # the same instant, given in UTC
    assert find_occurrence(row, exact) == dt.datetime(2026, 3, 30, 9, 0, tzinfo=WARSAW)
    naive = dt.datetime(2026, 4, 13, 9, 0)  # noqa: DTZ001 - read in the meeting's zone
    assert find_occurrence(row, naive) == dt.datetime(2026, 4, 13, 9, 0, tzinfo=WARSAW)


@pytest.mark.parametrize(
    "when",
    [
        dt.date(2026, 3, 24),  # a Tuesday
        dt.date(2026, 5, 4),  # after COUNT=6
        dt.datetime(2026, 3, 30, 9, 30, tzinfo=WARSAW),  # the right day, not the start
    ],
)
def test_no_occurrence_then(when: dt.date | dt.datetime) -> None:
    with pytest.raises(CrmError, match="meeting 7 has no occurrence on"):
        find_occurrence(_timed("FREQ=WEEKLY;COUNT=6", START), when)


def test_all_day_series() -> None:
    row = _all_day("FREQ=MONTHLY;BYMONTHDAY=1", dt.date(2026, 1, 1))
    assert find_occurrence(row, dt.date(2026, 7, 1)) == dt.date(2026, 7, 1)
    assert find_occurrence(row, dt.datetime(2027, 2, 1, 15, 0, tzinfo=WARSAW)) == dt.date(
        2027, 2, 1
    )
    with pytest.raises(CrmError, match="no occurrence"):
        find_occurrence(row, dt.date(2026, 7, 2))


def test_a_rule_that_never_matches_is_answered_at_once() -> None:
    # February 30th: dateutil alone would search day by day up to year 9999.
    row = _timed("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", START)
    assert checked_rrule(row.rrule, row) == row.rrule
    with pytest.raises(CrmError, match="no occurrence"):
        find_occurrence(row, dt.date(2030, 3, 1))


def test_a_search_past_the_cap_says_so() -> None:
    row = _timed("FREQ=HOURLY", START, minutes=30)
    far = START + dt.timedelta(hours=LIMITS.max_recurrence_instances + 5)
    with pytest.raises(CrmError, match="max_recurrence_instances") as caught:
        find_occurrence(row, far)
    assert "meeting 7: cannot look for an occurrence" in str(caught.value)
    near = START + dt.timedelta(hours=100)
    assert find_occurrence(row, near) == near.astimezone(WARSAW)


def test_not_recurring() -> None:
    with pytest.raises(CrmError, match="meeting 7 is not recurring"):
        find_occurrence(_timed(None, START), START)
