"""VALARM components of a VEVENT to :class:`~invitegw.ics.model.Alarm` values (section 3.6.6).

Lenient like the rest of the reader: ``TRIGGER:PT-2H`` (NS International) is read as two
hours before; ``RELATED=END`` is turned into an offset from the start when the event has an
end; an absolute ``TRIGGER;VALUE=DATE-TIME`` becomes ``trigger_at``. An alarm without a
usable TRIGGER is dropped with a warning; a missing ACTION reads as DISPLAY.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from invitegw.ics.lexer import Component, Property
from invitegw.ics.model import Alarm, DateOrDateTime
from invitegw.ics.values import parse_duration, unescape_text

__all__ = ["read_alarms"]


def read_alarms(
    component: Component,
    start: DateOrDateTime,
    end: DateOrDateTime | None,
    absolute: Callable[[Property], DateOrDateTime],
    warnings: list[str],
) -> tuple[Alarm, ...]:
    """The alarms of one VEVENT.

    Parameters:
        component: the VEVENT.
        start: its start (for ``RELATED=END``).
        end: its end, if any.
        absolute: reads a DATE-TIME property in the calendar's zones (raises ValueError).
        warnings: where to add what was repaired or dropped.

    Returns:
        The alarms, in order; sub-components other than VALARM are named in a warning.
    """
    alarms: list[Alarm] = []
    others: list[str] = []
    for child in component.children:
        if child.name != "VALARM":
            others.append(child.name)
            continue
        alarm = _alarm(child, start, end, absolute, warnings)
        if alarm is not None:
            alarms.append(alarm)
    if others:
        warnings.append(
            f"VEVENT at line {component.line_number}: sub-components "
            f"{', '.join(sorted(set(others)))} ignored"
        )
    return tuple(alarms)


def _alarm(
    child: Component,
    start: DateOrDateTime,
    end: DateOrDateTime | None,
    absolute: Callable[[Property], DateOrDateTime],
    warnings: list[str],
) -> Alarm | None:
    trigger = child.first("TRIGGER")
    if trigger is None:
        warnings.append(f"VALARM at line {child.line_number} has no TRIGGER: ignored")
        return None
    action_prop = child.first("ACTION")
    action = action_prop.value.strip().upper() if action_prop else "DISPLAY"
    description = child.first("DESCRIPTION")
    text = unescape_text(description.value) if description else ""
    value = trigger.value.strip()
    try:
        if (trigger.param("VALUE") or "").upper() == "DATE-TIME" or value[:1].isdigit():
            at = absolute(trigger)
            if not isinstance(at, dt.datetime) or at.tzinfo is None:
                raise ValueError("an absolute TRIGGER must be a UTC date-time")
            return Alarm(
                action=action,
                description=text,
                trigger_at=at.astimezone(dt.UTC),
                trigger=dt.timedelta(0),
            )
        offset, lenient = parse_duration(value)
    except ValueError as exc:
        warnings.append(f"line {trigger.line_number}: VALARM TRIGGER ignored: {exc}")
        return None
    if lenient:
        warnings.append(f"line {trigger.line_number}: VALARM TRIGGER {value!r} read leniently")
    if (trigger.param("RELATED") or "").upper() == "END":
        if end is None:
            warnings.append(
                f"line {trigger.line_number}: VALARM relative to an end the event "
                "does not have: read relative to start"
            )
        else:
            try:
                offset += end - start
            except TypeError:  # a floating end with a zoned start: no usable length
                warnings.append(
                    f"line {trigger.line_number}: VALARM relative to an end of "
                    "another kind: read relative to start"
                )
    return Alarm(trigger=offset, action=action, description=text)
