"""Model values to content lines: times, durations, people, alarms (:rfc:`5545` section 3.3).

The pieces :mod:`invitegw.ics.build` assembles. Times are written as the RFC prefers for
interoperability: an IANA zone as ``TZID=<name>`` with the local wall time (its VTIMEZONE is
added by the builder), UTC as ``...Z``, an all-day value as ``VALUE=DATE``. An aware time in
any other zone (a fixed offset, a zone read from someone's VTIMEZONE) is written in UTC, the
one form every client reads the same way. Sub-second precision is dropped (iCalendar has
none).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Sequence

from invitegw.errors import IcsBuildError
from invitegw.ics.model import Alarm, Attendee, DateOrDateTime, Organizer
from invitegw.ics.writer import content_line, escape_text

__all__ = [
    "address",
    "alarm_lines",
    "attendee_line",
    "duration_text",
    "organizer_line",
    "time_line",
    "utc_text",
    "zone_key",
]

_ADDRESS = re.compile(r"[^@\s\"<>();:,\\]+@[^@\s\"<>();:,\\]+\.[^@\s\"<>();:,\\]+")
_UTC_KEYS = frozenset(
    {
        "UTC",
        "Etc/UTC",
        "Etc/UCT",
        "Etc/Zulu",
        "Zulu",
        "UCT",
        "Universal",
        "Etc/Universal",
        "Etc/GMT",
        "GMT",
    }
)


def zone_key(value: DateOrDateTime) -> str | None:
    """The IANA name ``value`` is written with (``TZID=``).

    Parameters:
        value: a date or time.

    Returns:
        The zone key, or ``None`` for a date, a UTC or floating time, or another zone.
    """
    if not isinstance(value, dt.datetime):
        return None
    zone = value.tzinfo
    if isinstance(zone, zoneinfo.ZoneInfo) and zone.key not in _UTC_KEYS:
        return zone.key
    return None


def time_line(name: str, value: DateOrDateTime, params: Sequence[tuple[str, str]] = ()) -> str:
    """``DTSTART;TZID=Europe/Berlin:20260316T100000`` and the like.

    Parameters:
        name: the property name.
        value: the date or aware time.
        params: further parameters (``RANGE``).

    Returns:
        The content line.

    Raises:
        IcsBuildError: a floating (naive) time: receivers would read it in their own zone.
    """
    if not isinstance(value, dt.datetime):
        return content_line(name, f"{value:%Y%m%d}", [*params, ("VALUE", "DATE")])
    if value.tzinfo is None:
        raise IcsBuildError(f"{name} is a floating time ({value.isoformat()}): give it a zone")
    key = zone_key(value)
    if key is not None:
        return content_line(name, f"{value:%Y%m%dT%H%M%S}", [("TZID", key), *params])
    utc = value.astimezone(dt.UTC)
    return content_line(name, f"{utc:%Y%m%dT%H%M%S}Z", params)


def utc_text(value: dt.datetime) -> str:
    """An aware time as ``YYYYMMDDTHHMMSSZ``.

    Parameters:
        value: an aware time.

    Returns:
        The UTC DATE-TIME text.
    """
    return f"{value.astimezone(dt.UTC):%Y%m%dT%H%M%S}Z"


def duration_text(value: dt.timedelta) -> str:
    """A DURATION value (section 3.3.6): ``-PT15M``, ``P1DT2H``, ``PT0S``.

    Parameters:
        value: the duration (whole seconds are written).

    Returns:
        The DURATION text.
    """
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}P"
    if days:
        text += f"{days}D"
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    if clock or not days:
        text += "T" + (clock or "0S")
    return text


def address(email: str, what: str) -> str:
    """``mailto:`` + ``email`` after a syntax check.

    Parameters:
        email: a bare address.
        what: what it is, for the error message.

    Returns:
        The CAL-ADDRESS.

    Raises:
        IcsBuildError: not an email address.
    """
    if not _ADDRESS.fullmatch(email or ""):
        raise IcsBuildError(f"{what} is not an email address: {email!r}")
    return f"mailto:{email}"


def organizer_line(organizer: Organizer) -> str:
    """ORGANIZER with CN and SENT-BY (section 3.8.4.3).

    Parameters:
        organizer: the organizer.

    Returns:
        The content line.

    Raises:
        IcsBuildError: an address is not one, or the name holds a control character.
    """
    params: list[tuple[str, str]] = []
    if organizer.cn:
        params.append(("CN", organizer.cn))
    if organizer.sent_by:
        params.append(("SENT-BY", address(organizer.sent_by, "ORGANIZER SENT-BY")))
    return content_line("ORGANIZER", address(organizer.email, "ORGANIZER"), params)


def attendee_line(attendee: Attendee) -> str:
    """ATTENDEE with CUTYPE, ROLE, PARTSTAT, RSVP, CN and the rest (section 3.8.4.1).

    Parameters:
        attendee: the attendee.

    Returns:
        The content line.

    Raises:
        IcsBuildError: an address is not one, or the name holds a control character.
    """
    params: list[tuple[str, str | Sequence[str]]] = [
        ("CUTYPE", attendee.cutype.value),
        ("ROLE", attendee.role.value),
        ("PARTSTAT", attendee.partstat.value),
        ("RSVP", "TRUE" if attendee.rsvp else "FALSE"),
    ]
    if attendee.cn:
        params.append(("CN", attendee.cn))
    if attendee.delegated_to:
        params.append(("DELEGATED-TO", [address(a, "DELEGATED-TO") for a in attendee.delegated_to]))
    if attendee.delegated_from:
        params.append(
            ("DELEGATED-FROM", [address(a, "DELEGATED-FROM") for a in attendee.delegated_from])
        )
    if attendee.sent_by:
        params.append(("SENT-BY", address(attendee.sent_by, "ATTENDEE SENT-BY")))
    if attendee.language:
        params.append(("LANGUAGE", attendee.language))
    return content_line("ATTENDEE", address(attendee.email, "ATTENDEE"), params)


def alarm_lines(alarm: Alarm) -> list[str]:
    """A VALARM (section 3.6.6); DISPLAY and AUDIO only (EMAIL alarms mail people).

    Parameters:
        alarm: the alarm.

    Returns:
        The component's content lines.

    Raises:
        IcsBuildError: another ACTION, a DISPLAY without description, a naive absolute time.
    """
    action = alarm.action.upper()
    if action not in ("DISPLAY", "AUDIO"):
        raise IcsBuildError(f"VALARM ACTION {alarm.action!r}: only DISPLAY and AUDIO are sent")
    lines = ["BEGIN:VALARM", f"ACTION:{action}"]
    if alarm.trigger_at is not None:
        if alarm.trigger_at.tzinfo is None:
            raise IcsBuildError("VALARM trigger_at must be an aware time")
        lines.append(content_line("TRIGGER", utc_text(alarm.trigger_at), [("VALUE", "DATE-TIME")]))
    else:
        lines.append(content_line("TRIGGER", duration_text(alarm.trigger)))
    if action == "DISPLAY" and not alarm.description:
        raise IcsBuildError("a DISPLAY VALARM needs a description")
    if alarm.description:
        lines.append(
            content_line("DESCRIPTION", escape_text(alarm.description, "VALARM DESCRIPTION"))
        )
    lines.append("END:VALARM")
    return lines
