"""Significant vs minor changes (RFC 5546 section 2.1.4)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from invitegw.errors import IcsError
from invitegw.ics import Alarm, Attendee, ChangeKind, Event, EventStatus, compare_events

START = dt.datetime(2026, 9, 1, 10, tzinfo=ZoneInfo("Europe/Rome"))
BASE = Event(
    uid="c@example.com",
    start=START,
    end=START + dt.timedelta(hours=1),
    summary="Plan",
    description="Agenda",
    location="Room 1",
    attendees=(Attendee("a@example.com"),),
    rrule="FREQ=WEEKLY;COUNT=4",
    tzid="Europe/Rome",
)


def test_identical_is_no_change() -> None:
    change = compare_events(BASE, dataclasses.replace(BASE, sequence=5, extra=(("X", "X:1"),)))
    assert change.kind is ChangeKind.NONE
    assert not change.bumps_sequence


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        (
            {"start": START + dt.timedelta(hours=1), "end": START + dt.timedelta(hours=2)},
            ("start", "end"),
        ),
        ({"end": START + dt.timedelta(hours=2)}, ("end", "duration")),
        ({"rrule": "FREQ=WEEKLY;COUNT=5"}, ("rrule",)),
        ({"exdates": (START + dt.timedelta(days=7),)}, ("exdates",)),
        ({"rdates": (START + dt.timedelta(days=3),)}, ("rdates",)),
        ({"status": EventStatus.CANCELLED}, ("status",)),
        ({"location": "Room 2"}, ("location",)),
    ],
)
def test_significant(changes: dict[str, object], fields: tuple[str, ...]) -> None:
    change = compare_events(BASE, dataclasses.replace(BASE, **changes))  # type: ignore[arg-type]
    assert change.kind is ChangeKind.SIGNIFICANT
    assert change.significant == fields
    assert change.bumps_sequence


@pytest.mark.parametrize(
    "changes",
    [
        {"summary": "Plan B"},
        {"description": "New agenda"},
        {"alarms": (Alarm(),)},
        {"url": "https://example.com"},
        {"transparent": True},
    ],
)
def test_minor(changes: dict[str, object]) -> None:
    change = compare_events(BASE, dataclasses.replace(BASE, **changes))  # type: ignore[arg-type]
    assert change.kind is ChangeKind.MINOR
    assert change.minor == tuple(changes)
    assert not change.bumps_sequence


def test_attendees_are_reported_apart() -> None:
    more = dataclasses.replace(BASE, attendees=(*BASE.attendees, Attendee("b@example.com")))
    change = compare_events(BASE, more)
    assert change.attendees
    assert change.kind is ChangeKind.NONE
    reordered = dataclasses.replace(more, attendees=tuple(reversed(more.attendees)))
    assert not compare_events(more, reordered).attendees


def test_same_instant_in_another_zone() -> None:
    single = dataclasses.replace(BASE, rrule=None)
    in_utc = dataclasses.replace(
        single,
        start=START.astimezone(dt.UTC),
        end=(START + dt.timedelta(hours=1)).astimezone(dt.UTC),
    )
    assert compare_events(single, in_utc).kind is ChangeKind.NONE
    # A recurring meeting moved to UTC would drift by an hour at the next DST change.
    moved = dataclasses.replace(BASE, start=in_utc.start, end=in_utc.end)
    assert compare_events(BASE, moved).significant == ("start", "end")


def test_rule_text_order_and_case_do_not_matter() -> None:
    same = dataclasses.replace(BASE, rrule="count=4;freq=weekly")
    assert compare_events(BASE, same).kind is ChangeKind.NONE


def test_different_events_refused() -> None:
    with pytest.raises(IcsError):
        compare_events(BASE, dataclasses.replace(BASE, uid="other"))
    with pytest.raises(IcsError):
        compare_events(BASE, dataclasses.replace(BASE, recurrence_id=START))
