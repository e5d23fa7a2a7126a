"""Plain values for the outbound tests: parties, meetings, a calendar, deterministic ids."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import zoneinfo

from invitegw.domain.records import EntityType, Meeting, MeetingKind, MeetingOccurrence, Party
from invitegw.itip.plan_model import CalendarProfile, LedgerState, Plan
from invitegw.itip.planner import plan_meeting

WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")
NOW = dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC)
GRACE = dt.timedelta(hours=1)

OLGA = Party(
    EntityType.USER,
    "1",
    "Olga Organizer",
    ("olga@example.com",),
    ("olga@example.com",),
    language="pl",
    time_zone="Europe/Warsaw",
)
CARL = Party(EntityType.USER, "2", "Carl Colleague", ("carl@example.com",), ("carl@example.com",))
GINA = Party(EntityType.CONTACT, "3", "Gina Guest", ("gina@example.org",), ("gina@example.org",))
PAWEL = Party(
    EntityType.CONTACT,
    "4",
    "Paweł Nowak",
    ("pawel@example.org",),
    ("pawel@example.org",),
    language="pl",
    time_zone="Europe/Warsaw",
)
DORA = Party(EntityType.LEAD, "5", "Dora Lead", ("dora@example.test",), ("dora@example.test",))

SALES = CalendarProfile(
    name="sales",
    address="sales@example.com",
    sender="sales@example.com",
    label="Example Sales",
    language="en",
    time_zone="Europe/Warsaw",
    alarm_minutes=15,
    crm_url="https://crm.example.com/meetings/{id}",
)


def at(day: int, hour: int, minute: int = 0, month: int = 6) -> dt.datetime:
    """A time in Warsaw in 2026."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=WARSAW)


def meeting(**changes: object) -> Meeting:
    """A weekly Monday meeting in Warsaw, organized by Olga with Carl and Gina."""
    base = Meeting(
        id="7",
        kind=MeetingKind.APPOINTMENT,
        title="Project kick-off",
        start=at(1, 10),
        end=at(1, 11),
        organizer=OLGA,
        attendees=(CARL, GINA),
        description="Agenda: scope, plan.",
        location="Room 4",
        time_zone="Europe/Warsaw",
        rrule="FREQ=WEEKLY;COUNT=6",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def cancelled(day: int) -> MeetingOccurrence:
    """The occurrence of the weekly meeting on June ``day``, cancelled."""
    return MeetingOccurrence(recurrence_id=at(day, 10), cancelled=True)


def moved(day: int, hour: int) -> MeetingOccurrence:
    """The occurrence of June ``day`` moved to ``hour`` the same day."""
    return MeetingOccurrence(recurrence_id=at(day, 10), start=at(day, hour), end=at(day, hour + 1))


class CountingIds:
    """Deterministic UIDs, tokens and Message-IDs."""

    def __init__(self) -> None:
        self._next = itertools.count(1)

    def uid(self, domain: str) -> str:
        return f"uid-{next(self._next)}@{domain}"

    def token(self) -> str:
        return f"t{next(self._next):015d}"

    def message_id(self, domain: str) -> str:
        return f"msg-{next(self._next)}@{domain}"


def plan(
    new: Meeting | None,
    ledger: LedgerState | None = None,
    *,
    now: dt.datetime = NOW,
    calendar: CalendarProfile = SALES,
    ids: CountingIds | None = None,
) -> Plan:
    """Run the planner with the test calendar and clock."""
    return plan_meeting(
        new,
        ledger,
        meeting_id="7",
        calendar=calendar,
        now=now,
        grace=GRACE,
        ids=ids or CountingIds(),
    )
