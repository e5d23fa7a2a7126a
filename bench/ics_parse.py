"""Parse and build throughput of invitegw.ics against bare icalendar (prints figures).

The input is a 4 KB Outlook-style invitation of our own (the test fixture
``outlook_request_windows_zone.ics`` with more attendees and a longer agenda). The raw limit
measured in the same run is icalendar's own ``Calendar.from_ical`` / ``to_ical``.

Run: ``.venv/bin/python bench/ics_parse.py [--seconds 1.0]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path

import icalendar

from invitegw.ics import build_request, parse_calendar, tzbuild

FIXTURE = Path(__file__).resolve().parents[1] / "tests/ics/data/outlook_request_windows_zone.ics"
NOW = dt.datetime(2026, 3, 2, 8, 15, tzinfo=dt.UTC)


def invitation() -> bytes:
    """The fixture grown to about 4 KB: six more attendees and a longer description."""
    text = FIXTURE.read_bytes().decode()
    extra = "".join(
        f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Guest Number {n}:m\r\n"
        f" ailto:guest.number.{n}@example.org\r\n"
        for n in range(1, 7)
    )
    agenda = "DESCRIPTION;LANGUAGE=en-US:" + "Item of the agenda\\, to discuss. " * 12
    text = text.replace("DESCRIPTION;LANGUAGE=en-US:", extra + agenda, 1)
    return text.encode()


def rate(label: str, action: Callable[[], object], seconds: float) -> float:
    """Best of three runs of ``seconds`` each; prints and returns microseconds per call."""
    best = float("inf")
    for _ in range(3):
        count = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            action()
            count += 1
        best = min(best, (time.perf_counter() - started) / count)
    print(f"  {label:<52} {best * 1e6:9.1f} us   {1 / best:9.0f}/s")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    seconds = parser.parse_args().seconds
    data = invitation()
    print(f"invitation: {len(data)} bytes")

    print("parse")
    raw = rate(
        "icalendar Calendar.from_ical (raw limit)",
        lambda: icalendar.Calendar.from_ical(data),
        seconds,
    )
    ours = rate("invitegw parse_calendar", lambda: parse_calendar(data), seconds)
    print(f"  -> invitegw takes {ours / raw:.2f}x icalendar's time")

    event = parse_calendar(data).events[0]
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    event_start = event.start
    assert isinstance(event_start, dt.datetime)
    calendar = icalendar.Calendar.from_ical(data)
    print("build")
    raw = rate("icalendar to_ical of the parsed calendar (raw limit)", calendar.to_ical, seconds)
    ours = rate(
        "invitegw build_request (VTIMEZONE cached)", lambda: build_request(event, now=NOW), seconds
    )
    print(f"  -> invitegw takes {ours / raw:.2f}x icalendar's time")

    print("VTIMEZONE generation, uncached")
    naive = event_start.replace(tzinfo=None)
    rate(
        "icalendar Timezone.from_tzinfo (1970-2038 default)",
        lambda: icalendar.Timezone.from_tzinfo(berlin),
        seconds,
    )

    def fresh() -> None:
        tzbuild._cached.cache_clear()  # measure the computation, not the cache
        tzbuild.vtimezone_lines(berlin, naive, naive)

    rate("invitegw RRULE-based VTIMEZONE (3-year window)", fresh, seconds)


if __name__ == "__main__":
    main()
