"""What the inbound side reads of the settings, handed to it as one value.

The composition root (:func:`invitegw.gateway.bootstrap.inbound_config`) builds an
:class:`InboundConfig` from the validated settings once; the pipeline and its handlers read
it instead of reaching for the assembled gateway: the ``[inbound]`` policies, the
``[limits]`` caps, the ``[[calendars]]`` (reply addresses, time zones, notice senders) and
the ``[[mailboxes]]`` owners (a released message's owner).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from zoneinfo import ZoneInfo

from invitegw.gateway.config import CalendarSettings, InboundSettings, LimitsSettings
from invitegw.ics.limits import IcsLimits
from invitegw.itip.task_facts import Policies
from invitegw.mailbox.mime.extract import MimeLimits

__all__ = ["InboundConfig"]


@dataclass(frozen=True)
class InboundConfig:
    """The inbound side's settings, as plain values (see the module docstring).

    Parameters:
        calendars: ``[[calendars]]``, the first one the default.
        inbound: ``[inbound]``.
        limits: ``[limits]``.
        mime_limits: the MIME extraction caps (from ``[limits]``).
        mailbox_owners: ``[[mailboxes]]`` name → its ``owner``.
        mailbox_addresses: ``[[mailboxes]]`` name → the address it receives for (its
            ``username`` when that is an address), if known.
    """

    calendars: tuple[CalendarSettings, ...]
    inbound: InboundSettings = field(default_factory=InboundSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    mime_limits: MimeLimits = field(default_factory=MimeLimits)
    mailbox_owners: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))
    mailbox_addresses: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @cached_property
    def policies(self) -> Policies:
        """The ``[inbound]`` policies the task rules take."""
        inbound = self.inbound
        return Policies(
            duplicate=inbound.duplicate_policy,
            forwarders=inbound.forwarders,
            external=inbound.external_invitations,
        )

    @cached_property
    def ics_limits(self) -> IcsLimits:
        """The caps for the calendar objects of a received message."""
        limits = self.limits
        return IcsLimits(
            max_object_bytes=2 * limits.calendar_bytes,
            max_components=limits.components,
            max_events=limits.events,
            max_attendees=limits.attendees,
            max_recurrence_instances=limits.recurrence_instances,
        )

    @cached_property
    def returned_ics_limits(self) -> IcsLimits:
        """The caps for an invitation a delivery failure report returns."""
        limits = self.limits
        return IcsLimits(
            max_object_bytes=limits.calendar_bytes,
            max_events=limits.events,
            max_attendees=limits.attendees,
        )

    @cached_property
    def floating_zone(self) -> dt.tzinfo:
        """The zone floating times (no TZID) are read in: the first calendar's."""
        return ZoneInfo(self.calendars[0].time_zone)

    def mailbox_owner(self, name: str) -> str | None:
        """The ``owner`` of the mailbox called ``name``, if it is one and has one."""
        return self.mailbox_owners.get(name)

    def mailbox_address(self, name: str) -> str | None:
        """The address the mailbox called ``name`` receives for, if it is one and known."""
        return self.mailbox_addresses.get(name)

    def calendar_address(self, name: str) -> str | None:
        """The address of the calendar called ``name``, if there is one."""
        return next((c.address for c in self.calendars if c.name == name), None)

    def calendar(self, name: str | None) -> CalendarSettings:
        """The calendar called ``name``; the default (first) one for None or an unknown name.

        Parameters:
            name: a calendar name, as a ledger meeting keeps it.

        Returns:
            Its settings.
        """
        return next((c for c in self.calendars if c.name == name), self.calendars[0])
