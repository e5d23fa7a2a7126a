"""The outbound feed: CRM changes become ledger updates and outbox rows (the shell).

:class:`Outbound` reads the CRM's change feed from the stored cursor (``crm.changes``) and
hands each changed meeting to the :class:`~invitegw.gateway.outbound.apply.ChangeApplier`
(plan, compose, store), in one transaction with the cursor advance. A page of the feed is
written in transactions of a few hundred messages (so memory stays flat however many
meetings change at once); the cursor moves with the page's last one. Planning is
idempotent, so a crash in the middle of a page only means that page is read again and its
already written meetings plan to "unchanged".

Also here: :meth:`Outbound.submit` (a meeting handed over directly), the REFRESH resends
(:func:`request_resend`, which the inbound side calls), and, for a CRM whose feed cannot
see deletions (:class:`~invitegw.crm_adapter.port.ExistenceCheck`), the periodic check of
the meetings still tracked: the missing ones are cancelled.

The CRM being unreachable stops the pass (retried by the next one).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import ExistenceCheck, needs_existence_check
from invitegw.domain.addresses import normalize_address
from invitegw.domain.records import Meeting, MeetingChange
from invitegw.errors import GatewayError
from invitegw.gateway.outbound.apply import Applied, ChangeApplier
from invitegw.gateway.storage import (
    OutboundAttendee,
    OutboundMeeting,
    acquire_lease,
    get_cursor,
    release_lease,
    renew_lease,
    set_cursor,
)
from invitegw.gateway.uow import UnitOfWork, UnitsOfWork
from invitegw.itip.plan_model import Plan

__all__ = [
    "EXISTENCE_CURSOR",
    "FEED_CURSOR",
    "POLL_LEASE",
    "FeedOptions",
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


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """How the feed is read (from ``[outbound]`` and ``[worker]``).

    Parameters:
        batch_size: changes asked of the CRM per page (``outbound.feed_batch_size``).
        lease: how long the poll lease is held without renewal (the worker's lease
            duration plus the poll interval).
        existence_interval: how often the meetings still tracked are checked against a CRM
            whose feed cannot see deletions.
        grace: how long after its end a meeting is still checked (``outbound.grace_period``).
    """

    batch_size: int = 200
    lease: dt.timedelta = dt.timedelta(minutes=6)
    existence_interval: dt.timedelta = dt.timedelta(minutes=15)
    grace: dt.timedelta = dt.timedelta(hours=1)


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
    """The outbound feed of one gateway (see the module docstring).

    Parameters:
        units: starts the units of work (session, CRM, time).
        applier: plans, composes and stores one meeting change.
        worker: this worker's name (the poll lease).
        options: how the feed is read.
    """

    def __init__(
        self,
        units: UnitsOfWork,
        applier: ChangeApplier,
        *,
        worker: str,
        options: FeedOptions | None = None,
    ) -> None:
        self.units = units
        self.applier = applier
        self.worker = worker
        self.options = options or FeedOptions()

    def _apply(self, uow: UnitOfWork, meeting_id: str, meeting: Meeting | None) -> Applied:
        # Each meeting is planned at its own time: a page of the feed may take a while,
        # and its messages' DTSTAMP and Date say when they were made.
        at = dataclasses.replace(uow, now=self.units.now())
        return self.applier.apply(at, meeting_id, meeting)

    # -- one meeting -------------------------------------------------------------------------

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
        with self.units.start() as uow:
            return self._apply(uow, meeting.id, meeting).plan

    def submit_deletion(self, meeting_id: str) -> Plan | None:
        """Cancel a meeting the CRM deleted (handed over directly).

        Parameters:
            meeting_id: the CRM id.

        Returns:
            The plan, or ``None`` when its messages could not be built (logged).
        """
        with self.units.start() as uow:
            return self._apply(uow, meeting_id, None).plan

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
        with self.units.start() as uow:
            if not acquire_lease(
                uow.session, POLL_LEASE, self.worker, now=uow.now, duration=self.options.lease
            ):
                report.skipped = True
                return report
        try:
            self._read_feed(report, stop)
            if not (stop and stop.is_set()):
                self._resends(report)
                self._existence_check(report)
        finally:
            with self.units.start() as uow:
                release_lease(uow.session, POLL_LEASE, self.worker)
        return report

    def _read_feed(self, report: OutboundReport, stop: threading.Event | None) -> None:
        while True:
            with self.units.start() as uow:
                cursor = get_cursor(uow.session, FEED_CURSOR)
                batch = uow.crm.changed_meetings(cursor, limit=self.options.batch_size)
            changes = _latest_per_meeting(batch.changes)
            logger.debug("feed after %s: %d change(s), more=%s", cursor, len(changes), batch.more)
            with self.units.start() as uow:
                self._write_page(uow, changes, report)
                if batch.cursor != cursor:
                    set_cursor(uow.session, FEED_CURSOR, batch.cursor, now=self.units.now())
            if not batch.more or batch.cursor == cursor or (stop and stop.is_set()):
                return
            # A long backlog: keep the poll lease while working through it.
            with self.units.start() as uow:
                renew_lease(
                    uow.session, POLL_LEASE, self.worker, now=uow.now, duration=self.options.lease
                )

    def _write_page(
        self, uow: UnitOfWork, changes: Sequence[MeetingChange], report: OutboundReport
    ) -> None:
        """Apply a page of changes, committing every few hundred messages."""
        pending = 0
        for change in changes:
            applied = self._apply(uow, change.meeting_id, change.meeting)
            if applied.plan is not None:
                report.count(applied.plan, applied.queued)
            else:
                report.failed += 1
            pending += applied.queued
            if pending >= _MESSAGES_PER_TRANSACTION:
                uow.session.commit()
                uow.session.expunge_all()
                pending = 0

    def _resends(self, report: OutboundReport) -> None:
        with self.units.start() as uow:
            wanted = list(
                uow.session.scalars(
                    # The few attendees asking (a partial index), then their meetings by id:
                    # a join with DISTINCT read the whole ledger on every pass.
                    select(OutboundMeeting.crm_meeting_id)
                    .where(
                        OutboundMeeting.id.in_(
                            select(OutboundAttendee.meeting_id).where(
                                OutboundAttendee.resend_requested_at.is_not(None)
                            )
                        )
                    )
                    .order_by(OutboundMeeting.id)
                )
            )
        for meeting_id in wanted:
            with self.units.start() as uow:
                applied = self._apply(uow, meeting_id, uow.crm.get_meeting(meeting_id))
                if applied.plan is not None:
                    report.count(applied.plan, applied.queued)
                    report.resent += 1

    # -- deletions a feed cannot see ---------------------------------------------------------

    def _existence_check(self, report: OutboundReport, *, force: bool = False) -> None:
        now = self.units.now()
        options = self.options
        with self.units.start() as uow:
            if not needs_existence_check(uow.crm):
                return
            last = get_cursor(uow.session, EXISTENCE_CURSOR)
            if last and not force:
                due = dt.datetime.fromisoformat(last) + options.existence_interval
                if now < due:
                    return
            tracked = list(
                uow.session.scalars(
                    select(OutboundMeeting.crm_meeting_id).where(
                        OutboundMeeting.cancelled.is_(False),
                        OutboundMeeting.deleted.is_(False),
                        or_(
                            OutboundMeeting.ends_at.is_(None),
                            OutboundMeeting.ends_at >= now - options.grace,
                        ),
                    )
                )
            )
        # A remote CRM answers outside any database transaction (a session that runs no
        # statement holds no connection); one in our database reads within this one.
        with self.units.start() as uow:
            checker = uow.crm
            assert isinstance(checker, ExistenceCheck)
            alive = checker.confirm_existing(tracked) if tracked else set()
        gone = [meeting_id for meeting_id in tracked if meeting_id not in alive]
        if gone:
            logger.info("existence check: %d of %d meeting(s) gone", len(gone), len(tracked))
        for meeting_id in gone:
            with self.units.start() as uow:
                applied = self._apply(uow, meeting_id, None)
                if applied.plan is not None:
                    report.count(applied.plan, applied.queued)
                    report.deleted_found += 1
        with self.units.start() as uow:
            set_cursor(uow.session, EXISTENCE_CURSOR, now.isoformat(), now=now)

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
