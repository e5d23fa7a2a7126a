"""Hypothesis strategies for the iCalendar model (events any builder input could hold)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from invitegw.ics import Alarm, Attendee, CuType, Event, EventStatus, Organizer, PartStat, Role

ZONES = [
    ZoneInfo(key)
    for key in (
        "Europe/Warsaw",
        "America/New_York",
        "Australia/Sydney",
        "Asia/Kolkata",
        "America/Sao_Paulo",
        "Europe/London",
        "Pacific/Auckland",
        "Asia/Tokyo",
    )
]
# Wall-clock times next to DST changes, where a zone handling mistake shows first.
DST_EDGES = [
    dt.datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Warsaw")),  # in the spring gap
    dt.datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Warsaw")),  # repeated hour
    dt.datetime(2026, 3, 8, 2, 0, tzinfo=ZoneInfo("America/New_York")),
    dt.datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York")),
    dt.datetime(2026, 4, 5, 2, 30, tzinfo=ZoneInfo("Australia/Sydney")),
    dt.datetime(2026, 9, 27, 2, 0, tzinfo=ZoneInfo("Pacific/Auckland")),
    dt.datetime(2026, 3, 29, 1, 0, tzinfo=ZoneInfo("Europe/London")),
]
RULES = [
    None,
    "FREQ=WEEKLY;COUNT=3",
    "FREQ=DAILY;COUNT=5;INTERVAL=2",
    "FREQ=MONTHLY;COUNT=4;BYDAY=1MO",
    "FREQ=YEARLY;COUNT=2;BYMONTHDAY=15;BYMONTH=6",
    "FREQ=WEEKLY",
]

# Text as people type it: any character but controls and lone surrogates; line breaks too.
text = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs"), include_characters="\n"),
    max_size=120,
)
single_line = st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=40)
stripped = single_line.map(str.strip).filter(bool)
emails = st.from_regex(
    r"[a-z0-9](?:[a-z0-9._+-]{0,12}[a-z0-9])?@[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?"
    r"\.(?:example|test|org)",
    fullmatch=True,
)
seconds = st.datetimes(
    min_value=dt.datetime(1990, 1, 1),  # noqa: DTZ001
    max_value=dt.datetime(2060, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from([*ZONES, dt.UTC]),
).map(lambda value: value.replace(microsecond=0, fold=0))
edges = st.tuples(st.sampled_from(DST_EDGES), st.integers(-90, 90)).map(
    lambda pair: pair[0] + dt.timedelta(minutes=pair[1])
)
zoned = st.one_of(seconds, edges)
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2060, 12, 31))
languages = st.sampled_from(["en", "de-DE", "pl", "fa-IR"])


@st.composite
def attendees(draw: st.DrawFn) -> tuple[Attendee, ...]:
    addresses = draw(st.lists(emails, max_size=5, unique=True))
    return tuple(
        Attendee(
            email=address,
            cn=draw(st.none() | stripped),
            role=draw(st.sampled_from(Role)),
            partstat=draw(st.sampled_from(PartStat)),
            rsvp=draw(st.booleans()),
            cutype=draw(st.sampled_from(CuType)),
            delegated_to=tuple(draw(st.lists(emails, max_size=2, unique=True))),
            delegated_from=tuple(draw(st.lists(emails, max_size=1))),
            sent_by=draw(st.none() | emails),
            language=draw(st.none() | languages),
        )
        for address in addresses
    )


@st.composite
def alarms(draw: st.DrawFn) -> tuple[Alarm, ...]:
    found = []
    for _ in range(draw(st.integers(0, 2))):
        action = draw(st.sampled_from(["DISPLAY", "AUDIO"]))
        description = draw(stripped if action == "DISPLAY" else st.just("") | stripped)
        if draw(st.booleans()):
            at = draw(seconds).astimezone(dt.UTC)
            found.append(
                Alarm(
                    action=action, description=description, trigger_at=at, trigger=dt.timedelta(0)
                )
            )
        else:
            minutes = draw(st.integers(-7 * 24 * 60, 24 * 60))
            found.append(
                Alarm(action=action, description=description, trigger=dt.timedelta(minutes=minutes))
            )
    return tuple(found)


@st.composite
def events(draw: st.DrawFn) -> Event:
    """An event the builder accepts, already normalised (seconds, fold=0, stripped names)."""
    all_day = draw(st.booleans())
    start: dt.date | dt.datetime = draw(dates) if all_day else draw(zoned)
    length = (
        dt.timedelta(days=draw(st.integers(1, 5)))
        if all_day
        else dt.timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
    )
    end = draw(st.none() | st.just(start + length))
    step = dt.timedelta(days=draw(st.integers(1, 30)))
    exdates = tuple(start + step * n for n in range(1, draw(st.integers(0, 3)) + 1))
    recurrence_id = draw(st.none() | st.just(start - step))
    key = getattr(start, "tzinfo", None)
    zone = key.key if isinstance(key, ZoneInfo) else None
    return Event(
        uid=draw(stripped),
        start=start,
        end=end,
        summary=draw(text.filter(bool)),  # REQUEST and PUBLISH need one
        description=draw(text),
        location=draw(single_line),
        organizer=Organizer(
            draw(emails), cn=draw(st.none() | stripped), sent_by=draw(st.none() | emails)
        ),
        attendees=draw(attendees()),
        sequence=draw(st.integers(0, 10_000)),
        recurrence_id=recurrence_id,
        this_and_future=recurrence_id is not None and draw(st.booleans()),
        rrule=draw(st.sampled_from(RULES)),
        exdates=exdates,
        status=draw(st.none() | st.sampled_from(EventStatus)),
        transparent=draw(st.booleans()),
        url=draw(
            st.none() | st.from_regex(r"https://example\.org/[a-z0-9/]{0,20}", fullmatch=True)
        ),
        comment=draw(text),
        alarms=draw(alarms()),
        tzid=zone,
    )
