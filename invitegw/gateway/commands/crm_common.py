"""What the ``invitegw crm ...`` commands share: one transaction on the built-in CRM, times.

Light at import: the database and the CRM are imported when a command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from invitegw.errors import ConfigError, CrmError
from invitegw.gateway.commands.common import settings_for

if TYPE_CHECKING:
    from invitegw.crm_adapter.builtin.admin import SqlCrmAdmin
    from invitegw.crm_adapter.builtin.crm import SqlCrmOptions
    from invitegw.crm_adapter.port import CrmPort
    from invitegw.domain.records import Meeting
    from invitegw.gateway.bootstrap import Gateway

__all__ = ["builtin_crm", "crm_options", "crm_session", "find_meeting", "parse_when"]


def parse_when(text: str, option: str, tz: str | None, *, all_day: bool) -> dt.date | dt.datetime:
    """An ISO 8601 date or time from the command line.

    Parameters:
        text: the argument.
        option: its option name, for the message.
        tz: the zone a time without offset is read in.
        all_day: a date is expected (and a time refused).

    Returns:
        A date (all-day) or an aware datetime.

    Raises:
        CrmError: the text is not such a value.
    """
    from invitegw.crm_adapter.builtin.records import zone

    value = text.strip()
    try:
        if all_day:
            return dt.date.fromisoformat(value)
        if len(value) == 10:
            raise ValueError("a date without a time")
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        shape = "a date like 2026-06-03" if all_day else "a time like 2026-06-03T10:00"
        raise CrmError(f"{option}: expected {shape}, got {text!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(tz))
    return parsed


@contextlib.contextmanager
def crm_session(
    args: argparse.Namespace, *, baseline_first: bool = False
) -> Iterator[tuple[Gateway, SqlCrmAdmin]]:
    """The gateway and the built-in CRM's admin API, in one transaction.

    Parameters:
        args: the parsed command line (``--config``).
        baseline_first: take the outbound baseline first when no pass has read the CRM
            yet (``crm meeting create``): meetings already in the CRM (an import) are
            adopted without sending, and the one created now, through the gateway, is new
            and invited by the next pass.

    Yields:
        (gateway, admin); the transaction commits when the block ends without an error.

    Raises:
        ConfigError: the configured CRM is not the built-in one.
    """
    from invitegw.crm_adapter.builtin.admin import SqlCrmAdmin
    from invitegw.crm_adapter.registry import BUILTIN_NAME
    from invitegw.gateway.bootstrap import build_gateway

    settings = settings_for(args)
    if settings.crm.adapter != BUILTIN_NAME:
        raise ConfigError(
            f"crm.adapter: the crm commands manage the built-in CRM, but the configured "
            f"adapter is {settings.crm.adapter!r}"
        )
    gateway = build_gateway(settings)
    try:
        if baseline_first:
            from invitegw.gateway.bootstrap import build_outbound

            build_outbound(gateway).ensure_baseline()
        with gateway.store.session() as session:
            yield gateway, SqlCrmAdmin(session, clock=gateway.clock)
    finally:
        gateway.close()


def crm_options(gateway: Gateway) -> SqlCrmOptions:
    """The built-in CRM's options as configured (``[crm.email_fields]``).

    Parameters:
        gateway: the assembled gateway.

    Returns:
        The options.
    """
    from invitegw.crm_adapter.builtin.crm import SqlCrmOptions
    from invitegw.gateway.bootstrap import crm_build_context

    counts = crm_build_context(gateway.settings).email_counts
    return SqlCrmOptions(email_fields=dict(counts))


def builtin_crm(gateway: Gateway, admin: SqlCrmAdmin) -> CrmPort:
    """The built-in CRM's port in the admin's transaction, as the gateway builds it.

    Parameters:
        gateway: the assembled gateway.
        admin: the admin API of the open transaction.

    Returns:
        The port.
    """
    return gateway.crm(admin.session)


def find_meeting(gateway: Gateway, admin: SqlCrmAdmin, meeting_id: str) -> Meeting:
    """The meeting ``meeting_id``.

    Parameters:
        gateway: the assembled gateway.
        admin: the admin API of the open transaction.
        meeting_id: the CRM id.

    Returns:
        Its snapshot.

    Raises:
        CrmNotFoundError: there is no such meeting.
    """
    from invitegw.errors import CrmNotFoundError

    meeting = builtin_crm(gateway, admin).get_meeting(meeting_id)
    if meeting is None:
        raise CrmNotFoundError(f"no CRM meeting with id {meeting_id!r}")
    return meeting
