"""One meeting change applied: ledger, planner, compose, ledger again (the shell).

:class:`ChangeApplier` is the outbound path for one meeting, each step taking what the
previous one gave:

1. the ledger row, read and locked (:func:`~invitegw.gateway.outbound.ledger.load_ledger`)
   and turned into a value;
2. the sending calendar (:class:`Calendars`: the one the meeting names, else the default
   with a warning for its log; the ``[[calendars]]`` entries made into profiles once);
3. the plan (:func:`~invitegw.itip.planner.plan_meeting`, pure);
4. the messages as email bytes (:func:`~invitegw.gateway.outbound.messages.compose_plan`,
   pure) - before anything is written, so a meeting whose messages cannot be built changes
   nothing;
5. the ledger, the outbox and the logs (:func:`~invitegw.gateway.outbound.ledger.store_plan`).

All of it runs in a savepoint of the caller's unit of work: the feed writes a page of
meetings per transaction, and one meeting that fails leaves the others of the page alone.
A meeting whose messages cannot be built (an invalid recurrence rule, say) gets an error
in its CRM log instead; the CRM or the database failing is raised (the pass stops, and the
next one reads the change again).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from invitegw.crm_adapter.port import CrmPort, ReadsSendSwitch
from invitegw.domain.records import LogLevel, Meeting, SwitchReading
from invitegw.errors import CrmUnavailableError, GatewayError, StorageError
from invitegw.gateway.config import CalendarSettings
from invitegw.gateway.outbound.ledger import (
    StoredPlan,
    crm_note,
    ledger_state,
    load_ledger,
    store_plan,
)
from invitegw.gateway.outbound.messages import LinkMaker, compose_plan
from invitegw.gateway.uow import UnitOfWork
from invitegw.itip.plan_model import CalendarProfile, IdSource, LedgerState, Plan
from invitegw.itip.planner import adopt_meeting, invite_adopted, plan_meeting
from invitegw.itip.policy import OrganizerMode

__all__ = ["Applied", "Calendars", "ChangeApplier", "Intent", "calendar_profile", "switch_of"]

logger = logging.getLogger(__name__)


# -- the sending calendars -------------------------------------------------------------------


def calendar_profile(calendar: CalendarSettings, *, crm_url: str = "") -> CalendarProfile:
    """The planner's view of a configured calendar.

    Parameters:
        calendar: the ``[[calendars]]`` entry.
        crm_url: the CRM's meeting link template (``crm.meeting_url``).

    Returns:
        The profile.
    """
    return CalendarProfile(
        name=calendar.name,
        address=calendar.address,
        sender=calendar.sender,
        label=calendar.label,
        reply_to=calendar.reply_to,
        organizer_tokens=calendar.organizer_mode is OrganizerMode.TOKEN,
        token_separator=calendar.token_separator,
        language=calendar.language,
        time_zone=calendar.time_zone,
        alarm_minutes=calendar.alarm_minutes,
        outlook_compat=calendar.outlook_compat,
        reminder_lead=calendar.reminder_email_lead,
        crm_url=crm_url,
    )


class Calendars:
    """The configured calendars by name, as profiles (the first is the default).

    Parameters:
        calendars: the ``[[calendars]]`` entries (at least one, names unique: the settings
            check both).
        crm_url: the CRM's meeting link template (``crm.meeting_url``).
    """

    def __init__(self, calendars: Sequence[CalendarSettings], *, crm_url: str = "") -> None:
        self._profiles = {c.name: calendar_profile(c, crm_url=crm_url) for c in calendars}
        self._default = self._profiles[calendars[0].name]

    def choose(self, name: str | None) -> tuple[CalendarProfile, str | None]:
        """The profile of calendar ``name``; the default one (and why) when it is unknown.

        Parameters:
            name: the calendar a meeting names (``None``: the default).

        Returns:
            (profile, a warning for the meeting's log, or ``None``).
        """
        if name is None:
            return self._default, None
        found = self._profiles.get(name)
        if found is not None:
            return found, None
        chosen = self._default
        return chosen, f"unknown calendar {name!r}: sent from {chosen.name!r} instead"

    def with_reminders(self) -> dict[str, CalendarProfile]:
        """The calendars that send reminder emails (``reminder_email_lead`` set), by name.

        Returns:
            The profiles.
        """
        return {name: p for name, p in self._profiles.items() if p.reminder_lead is not None}


# -- one meeting change -----------------------------------------------------------------------


class Intent(StrEnum):
    """Why a meeting is planned: a change, the baseline, or the administrator's invitation.

    ``ADOPT``: a meeting the gateway does not know yet is adopted (known, nothing sent);
    one it knows is planned as usual. ``INVITE``: a meeting adopted at the baseline is
    sent to everyone (``invitegw outbound invite-upcoming``); any other as usual.
    """

    PLAN = "plan"
    ADOPT = "adopt"
    INVITE = "invite"


def switch_of(crm: CrmPort, meeting: Meeting | None) -> SwitchReading:
    """How certain ``meeting.sync`` is, as the CRM says (certain without the capability).

    Parameters:
        crm: the CRM port.
        meeting: the snapshot (``None``: a deletion).

    Returns:
        The reading.
    """
    if meeting is not None and isinstance(crm, ReadsSendSwitch):
        return crm.sync_reading(meeting)
    return SwitchReading.NO_SWITCH


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying one change gave: the plan (``None``: not sent, logged) and the queue."""

    plan: Plan | None
    queued: int = 0


class ChangeApplier:
    """Applies one meeting change at a time (see the module docstring).

    Parameters:
        calendars: the sending calendars.
        grace: how long after its last occurrence ended a meeting still gets mail.
        max_attendees: more addresses than this and nothing is sent (``limits.attendees``).
        ids: where UIDs, reply tokens and Message-IDs come from.
        links: how answer links are made (``None``: invitations carry none).
    """

    def __init__(
        self,
        calendars: Calendars,
        *,
        grace: dt.timedelta,
        max_attendees: int,
        ids: IdSource,
        links: LinkMaker | None = None,
    ) -> None:
        self.calendars = calendars
        self.grace = grace
        self.max_attendees = max_attendees
        self.ids = ids
        self.links = links

    def apply(
        self,
        uow: UnitOfWork,
        meeting_id: str,
        meeting: Meeting | None,
        intent: Intent = Intent.PLAN,
    ) -> Applied:
        """Plan one meeting and store the result, in a savepoint of ``uow``'s session.

        Parameters:
            uow: the unit of work (its ``now`` is the messages' DTSTAMP and Date).
            meeting_id: the CRM meeting id.
            meeting: its current snapshot, or ``None`` when it was deleted.
            intent: why it is planned (see :class:`Intent`).

        Returns:
            The plan and how many messages were queued; no plan when the messages could
            not be built (the meeting's CRM log says why).

        Raises:
            CrmUnavailableError: the CRM cannot be reached.
            StorageError: the database failed.
        """
        try:
            with uow.session.begin_nested():
                plan, stored = self._plan_and_store(uow, meeting_id, meeting, intent)
        except (CrmUnavailableError, StorageError):
            raise
        except GatewayError as exc:
            logger.warning("meeting %s: not sent: %s", meeting_id, exc)
            crm_note(
                uow.crm,
                uow.session,
                meeting_id=meeting_id,
                level=LogLevel.ERROR,
                text=f"invitations not sent: {exc}",
                kind="failed",
                now=uow.now,
            )
            return Applied(None)
        logger.info(
            "meeting %s: %s, %d message(s) queued (SEQUENCE %s)",
            meeting_id,
            plan.action,
            stored.queued,
            plan.ledger.sequence if plan.ledger else "-",
        )
        return Applied(plan, stored.queued)

    def _plan_and_store(
        self, uow: UnitOfWork, meeting_id: str, meeting: Meeting | None, intent: Intent
    ) -> tuple[Plan, StoredPlan]:
        session, now = uow.session, uow.now
        row = load_ledger(session, meeting_id)
        ledger = ledger_state(row) if row is not None else None
        if ledger is not None:
            name: str | None = ledger.calendar
        else:
            name = meeting.calendar if meeting is not None else None
        calendar, warning = self.calendars.choose(name)
        plan = self._decide(uow, meeting_id, meeting, ledger, calendar, intent)
        composed = compose_plan(plan, calendar, now, links=self.links)
        stored = store_plan(
            session, plan, composed, row=row, sender=calendar.sender, crm=uow.crm, now=now
        )
        if warning and plan.action != "adopted":
            crm_note(
                uow.crm,
                session,
                meeting_id=meeting_id,
                level=LogLevel.WARNING,
                text=warning,
                kind="calendar",
                now=now,
            )
        return plan, stored

    def _decide(
        self,
        uow: UnitOfWork,
        meeting_id: str,
        meeting: Meeting | None,
        ledger: LedgerState | None,
        calendar: CalendarProfile,
        intent: Intent,
    ) -> Plan:
        switch = switch_of(uow.crm, meeting)
        if intent is Intent.ADOPT and ledger is None and meeting is not None:
            return adopt_meeting(
                meeting,
                meeting_id=meeting_id,
                calendar=calendar,
                now=uow.now,
                ids=self.ids,
                switch=switch,
            )
        adopted = ledger is not None and ledger.adopted_at is not None
        if intent is Intent.INVITE and adopted and ledger is not None and meeting is not None:
            return invite_adopted(
                meeting,
                ledger,
                calendar=calendar,
                now=uow.now,
                grace=self.grace,
                ids=self.ids,
                max_attendees=self.max_attendees,
                switch=switch,
            )
        return plan_meeting(
            meeting,
            ledger,
            meeting_id=meeting_id,
            calendar=calendar,
            now=uow.now,
            grace=self.grace,
            ids=self.ids,
            max_attendees=self.max_attendees,
            switch=switch,
        )
