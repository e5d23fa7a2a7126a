"""The ledger's JSON snapshot of a meeting reads back as the same meeting."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from invitegw.errors import GatewayError
from invitegw.gateway.outbound.snapshot import meeting_from_json, meeting_to_json, time_from_json
from tests.gateway.outbound.builders import at, cancelled, meeting, moved


def test_a_meeting_round_trips_through_json_without_its_attendees() -> None:
    original = meeting(occurrences=(moved(8, 14), cancelled(15)))
    stored = json.loads(json.dumps(meeting_to_json(original)))
    back = meeting_from_json(stored)
    assert back == dataclasses.replace(original, attendees=())
    # Times come back in the meeting's own zone, not as fixed offsets.
    assert back.start == at(1, 10)
    assert getattr(back.start.tzinfo, "key", None) == "Europe/Warsaw"  # type: ignore[union-attr]


def test_an_all_day_meeting_round_trips() -> None:
    day = dt.date(2026, 6, 1)
    original = meeting(start=day, end=day + dt.timedelta(days=1), time_zone=None, rrule=None)
    assert meeting_from_json(meeting_to_json(original)) == dataclasses.replace(
        original, attendees=()
    )


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(GatewayError, match="timezone-aware"):
        meeting_to_json(meeting(start=dt.datetime(2026, 6, 1, 10)))  # noqa: DTZ001


@pytest.mark.parametrize("bad", [{"v": 99}, {"v": 1, "title": "no start"}])
def test_an_unreadable_snapshot_is_a_clear_error(bad: dict[str, object]) -> None:
    with pytest.raises(GatewayError, match="snapshot"):
        meeting_from_json(bad)


def test_an_unreadable_time_is_a_clear_error() -> None:
    with pytest.raises(GatewayError, match="unreadable time"):
        time_from_json("2026-06-01T10:00:00|Not/AZone")
