"""Caps on what one calendar object may make the parser and the expander do.

A calendar object comes from strangers' mail, so every quantity the input controls is
capped: its size, its lines, how deep its components nest, how many components, events and
attendees it holds, and how far a recurrence rule is expanded. Going over a cap raises
:class:`~invitegw.errors.IcsLimitError` naming the cap (``IcsLimitError.limit``), so the
operator can tell a hostile file from a large legitimate one and raise the cap if needed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from invitegw.errors import ConfigError, IcsLimitError

__all__ = ["DEFAULT_LIMITS", "IcsLimits", "over_limit"]


@dataclass(frozen=True, slots=True)
class IcsLimits:
    """Configurable caps (all positive integers).

    The defaults admit every real invitation and published calendar we know of (a 4 KB
    Outlook invitation, a 160-event holiday calendar, a daily meeting for 30 years) while
    keeping a hostile file to well under a second and a few tens of megabytes.

    Attributes:
        max_object_bytes: size of the data handed to the parser (octets, or characters when
            a ``str`` is given).
        max_lines: physical lines of that data.
        max_depth: nesting of BEGIN/END (VCALENDAR > VEVENT > VALARM is 3).
        max_components: components of any kind in the whole input.
        max_events: VEVENTs in the whole input.
        max_attendees: ATTENDEE properties in one VEVENT.
        max_rrules: RRULE properties in one VEVENT (:rfc:`5545` deprecates more than one;
            Zimbra writes two or three; each costs an expansion of its own).
        max_recurrence_instances: instances one expansion may produce.
        max_recurrence_years: how far after DTSTART a rule is expanded; instances later than
            that are treated as "beyond the horizon" (an unbounded series, in effect).
    """

    max_object_bytes: int = 4 * 1024 * 1024
    max_lines: int = 200_000
    max_depth: int = 8
    max_components: int = 10_000
    max_events: int = 2_000
    max_attendees: int = 5_000
    max_rrules: int = 10
    max_recurrence_instances: int = 20_000
    max_recurrence_years: int = 200

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"IcsLimits.{item.name} must be a positive integer: {value!r}")
        if self.max_recurrence_years > 5000:
            raise ConfigError("IcsLimits.max_recurrence_years must be at most 5000")


DEFAULT_LIMITS = IcsLimits()


def over_limit(limit: str, value: int, cap: int, what: str) -> IcsLimitError:
    """The error for ``value`` of ``what`` going over the cap named ``limit``.

    Parameters:
        limit: the :class:`IcsLimits` field name (``"max_events"``).
        value: how many were found (or how big), at the moment the cap was passed.
        cap: the cap in force.
        what: what was counted, in words (``"VEVENT components"``).

    Returns:
        An :class:`~invitegw.errors.IcsLimitError` to raise.
    """
    return IcsLimitError(f"{what}: {value} is over the cap {limit}={cap}", limit=limit)
