"""The model's derived values: all-day, floating, UTC conversion, attendee lookup."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from invitegw.ics.model import Attendee, Event, to_utc


def test_zoned_start_converts_to_utc() -> None:
    start = dt.datetime(2026, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
    event = Event(uid="u1", start=start, end=start + dt.timedelta(hours=1))
    assert event.start_utc == dt.datetime(2026, 7, 1, 7, 0, tzinfo=dt.UTC)
    assert event.end_utc == dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC)
    assert not event.all_day
    assert not event.floating


def test_all_day_and_floating_have_no_utc() -> None:
    all_day = Event(uid="u2", start=dt.date(2026, 7, 1), end=dt.date(2026, 7, 2))
    floating = Event(uid="u3", start=dt.datetime(2026, 7, 1, 9, 0))  # noqa: DTZ001
    assert all_day.all_day
    assert all_day.start_utc is None
    assert floating.floating
    assert floating.start_utc is None
    assert to_utc(dt.date(2026, 1, 1)) is None


def test_attendee_lookup_is_case_insensitive() -> None:
    event = Event(
        uid="u4",
        start=dt.date(2026, 7, 1),
        attendees=(Attendee(email="anna@example.com"),),
    )
    assert event.attendee("Anna@Example.COM") == Attendee(email="anna@example.com")
    assert event.attendee("bob@example.com") is None
