"""The outbound pipeline: CRM changes become ledger updates and outbox rows (the shell).

:class:`Outbound` reads the CRM's change feed from the stored cursor (``crm.changes``),
plans each changed meeting (:func:`~invitegw.itip.planner.plan_meeting`) and writes the
ledger update and the composed messages in one transaction with the cursor advance. A
page of the feed is written in transactions of a few hundred messages (so memory stays
flat however many meetings change at once); the cursor moves with the page's last one.
Planning is idempotent, so a crash in the middle of a page only means that page is read
again and its already written meetings plan to "unchanged".

Also here: :meth:`Outbound.submit` (a meeting handed over directly), the REFRESH resends
(:func:`request_resend`, which the inbound side calls), and, for a CRM whose feed cannot
see deletions (:class:`~invitegw.crm_adapter.port.ExistenceCheck`), the periodic check of
the meetings still tracked: the missing ones are cancelled.

A meeting whose messages cannot be built (an invalid recurrence rule, say) is skipped
with an error in its CRM log; the CRM being unreachable stops the pass (retried by the
next one).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import CrmPort, ExistenceCheck, needs_existence_check
from invitegw.domain.addresses import normalize_address
from invitegw.domain.records import LogLevel, Meeting, MeetingChange
from invitegw.errors import ConfigError, CrmUnavailableError, GatewayError, StorageError
from invitegw.gateway.outbound.ledger import (
    calendar_profile,
    crm_note,
    ledger_state,
    load_ledger,
    store_plan,
)
from invitegw.gateway.storage import (
    OutboundAttendee,
    OutboundMeeting,
    acquire_lease,
    get_cursor,
    release_lease,
    renew_lease,
    set_cursor,
)
from invitegw.itip.plan_model import CalendarProfile, IdSource, Plan, RandomIds
from invitegw.itip.planner import plan_meeting

if TYPE_CHECKING:  # the composition root imports this module (request_resend), not the reverse
    from invitegw.gateway.bootstrap import Gateway

__all__ = [
    "EXISTENCE_CURSOR",
    "FEED_CURSOR",
    "POLL_LEASE",
    "Outbound",
    "OutboundReport",
    "request_resend",
]

logger = logging.getLogger(__name__)

FEED_CURSOR = "crm.changes"
EXISTENCE_CURSOR = "crm.existence-checked"
POLL_LEASE = "job:crm-poll"
# Messages written per transaction: bounds the memory a large batch of changes takes.
_MESSAGES_PER_TRANSACTION = 500


@dataclass
class OutboundReport:
    """What one outbound pass did."""

    meetings: int = 0
    messages: int = 0
    failed: int = 0
    deleted_found: int = 0
    resent: int = 0
    skipped: bool = False
    actions: dict[str, int] = field(default_factory=dict)

    def count(self, plan: Plan, queued: int) -> None:
        """Add one planned meeting."""
        self.meetings += 1
        self.messages += queued
        self.actions[plan.action] = self.actions.get(plan.action, 0) + 1


def request_resend(session: Session, *, uid: str, address: str, now: dt.datetime) -> bool:
    """Have the next outbound pass send ``address`` the current REQUEST again (same SEQUENCE).

    What a REFRESH asks for (:rfc:`5546` section 3.2.6). Only an attendee who is invited
    (not removed) to a meeting still on (not cancelled or deleted) gets it.

    Parameters:
        session: the caller's unit of work (the inbound pipeline's).
        uid: the meeting's UID, as the REFRESH carries it.
        address: the attendee's address (any case, with or without ``mailto:``).
        now: the current time.

    Returns:
        True when the resend was recorded; False for an unknown UID or attendee, or a
        meeting that is off.
    """
    try:
        wanted = normalize_address(address)
    except GatewayError:
        return False
    row = session.scalars(
        select(OutboundAttendee)
        .join(OutboundMeeting, OutboundAttendee.meeting_id == OutboundMeeting.id)
        .where(
            OutboundMeeting.uid == uid,
            OutboundMeeting.cancelled.is_(False),
            OutboundMeeting.deleted.is_(False),
            OutboundAttendee.address == wanted,
            OutboundAttendee.removed.is_(False),
        )
    ).first()
    if row is None:
        return False
    row.resend_requested_at = now
    row.updated_at = now
    session.flush()
    logger.info("resend of %s requested for %s", uid, wanted)
    return True


class Outbound:
    """The outbound pipeline of one gateway (see the module docstring).

    Parameters:
        gateway: the assembled gateway (settings, store, CRM, clock).
        ids: where UIDs, reply tokens and Message-IDs come from (tests inject their own).
    """

    def __init__(self, gateway: Gateway, *, ids: IdSource | None = None) -> None:
        self.gateway = gateway
        self.ids = ids or RandomIds()
        self._profiles: dict[str, CalendarProfile] = {}

    # -- calendars ---------------------------------------------------------------------------

    def calendar(self, name: str | None) -> tuple[CalendarProfile, str | None]:
        """The profile of calendar ``name``; the default one (and why) when it is unknown.

        Parameters:
            name: the calendar a meeting names (``None``: the default).

        Returns:
            (profile, a warning to log or ``None``).
        """
        settings = self.gateway.settings
        warning = None
        try:
            chosen = settings.calendar(name)
        except ConfigError:
            chosen = settings.default_calendar
            warning = f"unknown calendar {name!r}: sent from {chosen.name!r} instead"
        profile = self._profiles.get(chosen.name)
        if profile is None:
            profile = calendar_profile(chosen, crm_url=settings.crm.meeting_url)
            self._profiles[chosen.name] = profile
        return profile, warning

    # -- one meeting -------------------------------------------------------------------------

    def _apply(
        self, session: Session, crm: CrmPort, meeting_id: str, meeting: Meeting | None
    ) -> tuple[Plan | None, int]:
        """Plan one meeting and write the result (inside a savepoint of ``session``)."""
        now = self.gateway.clock()
        try:
            with session.begin_nested():
                row = load_ledger(session, meeting_id)
                ledger = ledger_state(row) if row is not None else None
                name: str | None = None
                if ledger is not None:
                    name = ledger.calendar
                else:
                    name = meeting.calendar if meeting is not None else None
                calendar, warning = self.calendar(name)
                plan = plan_meeting(
                    meeting,
                    ledger,
                    meeting_id=meeting_id,
                    calendar=calendar,
                    now=now,
                    grace=self.gateway.settings.outbound.grace_period,
                    ids=self.ids,
                    max_attendees=self.gateway.settings.limits.attendees,
                )
                stored = store_plan(session, plan, row=row, calendar=calendar, crm=crm, now=now)
                if warning:
                    crm_note(
                        crm,
                        session,
                        meeting_id=meeting_id,
                        level=LogLevel.WARNING,
                        text=warning,
                        kind="calendar",
                        now=now,
                    )
        except (CrmUnavailableError, StorageError):
            raise
        except GatewayError as exc:
            logger.warning("meeting %s: not sent: %s", meeting_id, exc)
            crm_note(
                crm,
                session,
                meeting_id=meeting_id,
                level=LogLevel.ERROR,
                text=f"invitations not sent: {exc}",
                kind="failed",
                now=now,
            )
            return None, 0
        logger.info(
            "meeting %s: %s, %d message(s) queued (SEQUENCE %s)",
            meeting_id,
            plan.action,
            stored.queued,
            plan.ledger.sequence if plan.ledger else "-",
        )
        return plan, stored.queued

    def submit(self, meeting: Meeting) -> Plan | None:
        """Plan and queue one meeting handed over directly (not through the feed).

        Parameters:
            meeting: the CRM snapshot.

        Returns:
            The plan, or ``None`` when its messages could not be built (logged).

        Raises:
            CrmUnavailableError: the CRM's log cannot be written now.
            StorageError: the database failed.
        """
        with self.gateway.store.session() as session:
            plan, _queued = self._apply(session, self.gateway.crm(session), meeting.id, meeting)
        return plan

    def submit_deletion(self, meeting_id: str) -> Plan | None:
        """Cancel a meeting the CRM deleted (handed over directly).

        Parameters:
            meeting_id: the CRM id.

        Returns:
            The plan, or ``None`` when its messages could not be built (logged).
        """
        with self.gateway.store.session() as session:
            plan, _queued = self._apply(session, self.gateway.crm(session), meeting_id, None)
        return plan

    # -- the feed ----------------------------------------------------------------------------

    def poll(self, *, stop: threading.Event | None = None) -> OutboundReport:
        """One pass: the feed up to its end, the REFRESH resends, the existence check if due.

        Parameters:
            stop: set to end the pass early (between transactions).

        Returns:
            What the pass did (``skipped`` when another worker holds the poll).

        Raises:
            CrmUnavailableError: the CRM cannot be reached (nothing is lost).
            StorageError: the database failed.
        """
        report = OutboundReport()
        settings = self.gateway.settings
        worker = self.gateway.worker
        lease_for = settings.worker.lease_duration + settings.outbound.poll_interval
        with self.gateway.store.session() as session:
            if not acquire_lease(
                session, POLL_LEASE, worker, now=self.gateway.clock(), duration=lease_for
            ):
                report.skipped = True
                return report
        try:
            self._read_feed(report, stop)
            if not (stop and stop.is_set()):
                self._resends(report)
                self._existence_check(report)
        finally:
            with self.gateway.store.session() as session:
                release_lease(session, POLL_LEASE, worker)
        return report

    def _read_feed(self, report: OutboundReport, stop: threading.Event | None) -> None:
        settings = self.gateway.settings
        store = self.gateway.store
        while True:
            with store.session() as session:
                cursor = get_cursor(session, FEED_CURSOR)
                batch = self.gateway.crm(session).changed_meetings(
                    cursor, limit=settings.outbound.feed_batch_size
                )
            changes = _latest_per_meeting(batch.changes)
            logger.debug("feed after %s: %d change(s), more=%s", cursor, len(changes), batch.more)
            with store.session() as session:
                crm = self.gateway.crm(session)
                pending = 0
                for change in changes:
                    plan, queued = self._apply(session, crm, change.meeting_id, change.meeting)
                    if plan is not None:
                        report.count(plan, queued)
                    else:
                        report.failed += 1
                    pending += queued
                    if pending >= _MESSAGES_PER_TRANSACTION:
                        session.commit()
                        session.expunge_all()
                        pending = 0
                if batch.cursor != cursor:
                    set_cursor(session, FEED_CURSOR, batch.cursor, now=self.gateway.clock())
            if not batch.more or batch.cursor == cursor or (stop and stop.is_set()):
                return
            # A long backlog: keep the poll lease while working through it.
            with store.session() as session:
                renew_lease(
                    session,
                    POLL_LEASE,
                    self.gateway.worker,
                    now=self.gateway.clock(),
                    duration=settings.worker.lease_duration + settings.outbound.poll_interval,
                )

    def _resends(self, report: OutboundReport) -> None:
        with self.gateway.store.session() as session:
            wanted = list(
                session.scalars(
                    select(OutboundMeeting.crm_meeting_id)
                    .join(OutboundAttendee, OutboundAttendee.meeting_id == OutboundMeeting.id)
                    .where(OutboundAttendee.resend_requested_at.is_not(None))
                    .distinct()
                )
            )
        for meeting_id in wanted:
            with self.gateway.store.session() as session:
                crm = self.gateway.crm(session)
                plan, queued = self._apply(session, crm, meeting_id, crm.get_meeting(meeting_id))
                if plan is not None:
                    report.count(plan, queued)
                    report.resent += 1

    # -- deletions a feed cannot see ---------------------------------------------------------

    def _existence_check(self, report: OutboundReport, *, force: bool = False) -> None:
        now = self.gateway.clock()
        settings = self.gateway.settings.outbound
        with self.gateway.store.session() as session:
            crm = self.gateway.crm(session)
            if not needs_existence_check(crm):
                return
            last = get_cursor(session, EXISTENCE_CURSOR)
            if last and not force:
                due = dt.datetime.fromisoformat(last) + settings.existence_check_interval
                if now < due:
                    return
            tracked = list(
                session.scalars(
                    select(OutboundMeeting.crm_meeting_id).where(
                        OutboundMeeting.cancelled.is_(False),
                        OutboundMeeting.deleted.is_(False),
                        or_(
                            OutboundMeeting.ends_at.is_(None),
                            OutboundMeeting.ends_at >= now - settings.grace_period,
                        ),
                    )
                )
            )
        # A remote CRM answers outside any database transaction (a session that runs no
        # statement holds no connection); one in our database reads within this one.
        with self.gateway.store.session() as session:
            checker = self.gateway.crm(session)
            assert isinstance(checker, ExistenceCheck)
            alive = checker.confirm_existing(tracked) if tracked else set()
        gone = [meeting_id for meeting_id in tracked if meeting_id not in alive]
        if gone:
            logger.info("existence check: %d of %d meeting(s) gone", len(gone), len(tracked))
        for meeting_id in gone:
            with self.gateway.store.session() as session:
                plan, queued = self._apply(session, self.gateway.crm(session), meeting_id, None)
                if plan is not None:
                    report.count(plan, queued)
                    report.deleted_found += 1
        with self.gateway.store.session() as session:
            set_cursor(session, EXISTENCE_CURSOR, now.isoformat(), now=now)

    def check_existence(self) -> OutboundReport:
        """Run the existence check now, whatever its interval (``invitegw`` commands, tests).

        Returns:
            What it did.
        """
        report = OutboundReport()
        self._existence_check(report, force=True)
        return report


def _latest_per_meeting(changes: Sequence[MeetingChange]) -> list[MeetingChange]:
    """One change per meeting, its latest, in feed order of those (overlap is allowed)."""
    latest: dict[str, MeetingChange] = {}
    for change in changes:
        latest.pop(change.meeting_id, None)
        latest[change.meeting_id] = change
    return list(latest.values())
