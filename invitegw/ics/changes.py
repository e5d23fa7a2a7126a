"""How two versions of one event differ: significantly, in minor ways, or not at all.

:rfc:`5546` section 2.1.4: the organizer increments SEQUENCE when a change is significant
enough that attendees must answer again (date, time, duration, recurrence, location,
cancellation); a change of wording does not bump it (the newer DTSTAMP tells the versions
apart). The outbound planner uses :func:`compare_events` to decide.

Significant fields: ``start``, ``end``, ``duration``, ``rrule`` (every RRULE, as a set),
``rdates``, ``exdates``, ``status``, ``location``. Minor: ``summary``, ``description``,
``url``, ``comment``, ``alarms``, ``transparent``, ``organizer``. Attendee changes are
reported apart (``attendees``): they decide who gets what, not the SEQUENCE of the others'
copy.
Times compare as instants, so moving a meeting into another zone at the same instant is no
change, except for a recurring one, whose later instances would move with the zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from invitegw.errors import IcsError
from invitegw.ics.model import DateOrDateTime, Event

__all__ = ["ChangeKind", "EventChange", "compare_events"]


class ChangeKind(StrEnum):
    """The weight of a change (:rfc:`5546` section 2.1.4)."""

    NONE = "none"
    MINOR = "minor"
    SIGNIFICANT = "significant"


@dataclass(frozen=True, slots=True)
class EventChange:
    """What changed between two versions of an event.

    ``significant`` and ``minor`` name the fields that changed, in a fixed order;
    ``attendees`` is true when the attendee list (or an attendee's parameters) changed.
    """

    significant: tuple[str, ...] = ()
    minor: tuple[str, ...] = ()
    attendees: bool = False

    @property
    def kind(self) -> ChangeKind:
        """SIGNIFICANT if any significant field changed, else MINOR if any field did."""
        if self.significant:
            return ChangeKind.SIGNIFICANT
        if self.minor:
            return ChangeKind.MINOR
        return ChangeKind.NONE

    @property
    def bumps_sequence(self) -> bool:
        """Whether the organizer must increment SEQUENCE for this change."""
        return bool(self.significant)


def compare_events(old: Event, new: Event) -> EventChange:
    """How ``new`` differs from ``old`` (two versions of the same event).

    Parameters:
        old: the version last sent.
        new: the version to send.

    Returns:
        The changed fields, by weight.

    Raises:
        IcsError: the two are different events (UID or RECURRENCE-ID differ).
    """
    if old.uid != new.uid or not _same_time(old.recurrence_id, new.recurrence_id):
        raise IcsError(
            "compare_events needs two versions of one event (same UID and RECURRENCE-ID)"
        )
    recurring = bool(old.rrule or new.rrule or old.rdates or new.rdates)
    significant: list[str] = []
    if not _same_time(old.start, new.start, keep_zone=recurring):
        significant.append("start")
    if not _same_time(old.end, new.end, keep_zone=recurring):
        significant.append("end")
    if _duration(old) != _duration(new):
        significant.append("duration")
    if _normal_rules(old.rrules) != _normal_rules(new.rrules):
        significant.append("rrule")
    if _instants(old.rdates) != _instants(new.rdates):
        significant.append("rdates")
    if _instants(old.exdates) != _instants(new.exdates):
        significant.append("exdates")
    if old.status != new.status:
        significant.append("status")
    if old.location != new.location:
        significant.append("location")
    minor = [
        name
        for name in (
            "summary",
            "description",
            "url",
            "comment",
            "alarms",
            "transparent",
            "organizer",
        )
        if getattr(old, name) != getattr(new, name)
    ]
    attendees = sorted(old.attendees, key=lambda a: a.email) != sorted(
        new.attendees, key=lambda a: a.email
    )
    return EventChange(tuple(significant), tuple(minor), attendees)


def _key(value: DateOrDateTime) -> tuple[object, ...]:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return ("floating", value)
        return ("aware", value.astimezone(dt.UTC).replace(tzinfo=None))
    return ("date", value)


def _zone_name(value: DateOrDateTime | None) -> object:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return getattr(value.tzinfo, "key", value.tzinfo)
    return None


def _same_time(
    old: DateOrDateTime | None, new: DateOrDateTime | None, *, keep_zone: bool = False
) -> bool:
    if old is None or new is None:
        return old is new
    if _key(old) != _key(new):
        return False
    return not keep_zone or _zone_name(old) == _zone_name(new)


def _duration(event: Event) -> dt.timedelta | None:
    if event.end is None:
        return None
    try:
        return event.end - event.start
    except TypeError:
        return None


def _normal_rules(rules: tuple[str, ...]) -> frozenset[frozenset[str]]:
    """Each rule's parts, order and case aside; the rules' order aside too (a union)."""
    return frozenset(
        frozenset(part.strip().upper() for part in rule.split(";") if part.strip())
        for rule in rules
    )


def _instants(values: tuple[DateOrDateTime, ...]) -> frozenset[tuple[object, ...]]:
    return frozenset(_key(value) for value in values)
