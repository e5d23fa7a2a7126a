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

**The first start.** The first pass of a gateway database over a CRM (no feed cursor
yet) takes the *baseline*: every meeting the feed reports is adopted (a ledger row, nothing
sent; :func:`~invitegw.itip.planner.adopt_meeting`), so installing the gateway does not
mail every upcoming meeting the CRM already has. A ``cursors`` row (``outbound.baseline``)
records it: ``started ...`` while it runs (a crash resumes it), ``taken ... adopted N``
after (:mod:`.first_start` reads it for ``status`` and the console).
:meth:`Outbound.take_baseline` does it on request (``invitegw outbound baseline``: after
filling the built-in CRM by an import, say); :meth:`Outbound.invite_upcoming` invites the
adopted meetings still ahead of a calendar (``invitegw outbound invite-upcoming``);
:meth:`Outbound.preview` runs the next pass as a dry run (the same code, in one
transaction rolled back at the end, with a CRM that keeps its log lines in memory) and
returns every plan.

The CRM being unreachable stops the pass (retried by the next one).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import ExistenceCheck, needs_existence_check
from invitegw.domain.addresses import normalize_address
from invitegw.domain.records import Meeting, MeetingChange
from invitegw.errors import GatewayError
from invitegw.gateway.outbound.apply import Applied, ChangeApplier, Intent
from invitegw.gateway.outbound.first_start import (
    BASELINE_CURSOR,
    adopted_since,
    parse_marker,
    started_marker,
    taken_marker,
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
from invitegw.gateway.uow import UnitOfWork, UnitsOfWork
from invitegw.itip.plan_model import Plan

__all__ = [
    "BASELINE_CURSOR",
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
# Starts the units of work of one pass: real ones, or one dry-run unit over and over.
UnitStarter = Callable[[], AbstractContextManager[UnitOfWork]]
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
    # The baseline was taken (completed) by this pass; how many meetings it adopted.
    baseline: bool = False
    adopted: int = 0
    # Every plan, kept only for a preview.
    plans: list[Plan] | None = None

    def count(self, plan: Plan, queued: int) -> None:
        """Add one planned meeting."""
        self.meetings += 1
        self.messages += queued
        self.actions[plan.action] = self.actions.get(plan.action, 0) + 1
        if plan.action == "adopted":
            self.adopted += 1
        if self.plans is not None:
            self.plans.append(plan)


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

    def _apply(
        self,
        uow: UnitOfWork,
        meeting_id: str,
        meeting: Meeting | None,
        intent: Intent = Intent.PLAN,
    ) -> Applied:
        # Each meeting is planned at its own time: a page of the feed may take a while,
        # and its messages' DTSTAMP and Date say when they were made.
        at = dataclasses.replace(uow, now=self.units.now())
        return self.applier.apply(at, meeting_id, meeting, intent)

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

    def refresh(self, meeting_id: str) -> Plan | None:
        """Read one meeting from the CRM now and plan it (the vtiger hook's instant change).

        The regular poll stays the safety net: it reads the same change later and plans
        it to "unchanged". A meeting the CRM no longer shows (or a record that is no
        meeting) is left to that poll, which knows deletions from other records.

        Parameters:
            meeting_id: the CRM id.

        Returns:
            The plan, or ``None`` when the CRM shows no such meeting or its messages could
            not be built (logged).

        Raises:
            CrmUnavailableError: the CRM cannot be reached.
            StorageError: the database failed.
        """
        with self.units.start() as uow:
            meeting = uow.crm.get_meeting(meeting_id)
            if meeting is None:
                return None
            return self._apply(uow, meeting.id, meeting).plan

    # -- the feed ----------------------------------------------------------------------------

    def poll(self, *, stop: threading.Event | None = None) -> OutboundReport:
        """One pass: the feed up to its end, the REFRESH resends, the existence check if due.

        The first pass over a CRM takes the baseline instead of sending (module docstring).

        Parameters:
            stop: set to end the pass early (between transactions).

        Returns:
            What the pass did (``skipped`` when another worker holds the poll).

        Raises:
            CrmUnavailableError: the CRM cannot be reached (nothing is lost).
            StorageError: the database failed.
        """
        report = OutboundReport()
        with self._leased(report):
            if not report.skipped:
                self._pass(self.units.start, report, stop)
        return report

    def preview(self) -> OutboundReport:
        """The next pass as a dry run: every plan, nothing written, sent or logged.

        The same code as :meth:`poll` (the baseline when it is due, the feed, the resends,
        the existence check when due), in one unit of work rolled back at the end; the
        CRM's log lines stay in memory. The poll lease is not taken: a pass running at the
        same time may make part of the preview out of date.

        Returns:
            What the pass would do, with ``plans`` (every meeting's plan, in order).
        """
        report = OutboundReport(plans=[])
        with self.units.start(dry_run=True) as uow:
            self._pass(lambda: nullcontext(uow), report, None)
        return report

    def take_baseline(self, *, dry_run: bool = False) -> OutboundReport:
        """Adopt every meeting the feed has after its cursor that the gateway does not know.

        What the first pass does by itself; on request it also adopts what was added to
        the CRM since (an import into the built-in CRM). Meetings the gateway knows are
        planned as usual (their messages are queued). Held under the poll lease.

        Parameters:
            dry_run: decide only (the report keeps the plans).

        Returns:
            What it did (``skipped`` when another worker holds the poll).
        """
        report = OutboundReport(plans=[] if dry_run else None)
        with self._leased(report, dry_run=dry_run) as start:
            if not report.skipped:
                self._baseline(start, report, None)
        return report

    def ensure_baseline(self) -> OutboundReport | None:
        """Take the baseline when no pass ever read the feed (before a first meeting is made).

        Returns:
            The baseline's report, or ``None`` when it was not due.
        """
        with self.units.start() as uow:
            if not _baseline_due(uow):
                return None
        return self.take_baseline()

    def invite_upcoming(
        self, calendars: Collection[str] | None, *, dry_run: bool = False
    ) -> OutboundReport:
        """Invite everyone to the adopted meetings still ahead (the administrator's request).

        Takes the baseline first when it is due. Only meetings adopted at a baseline and
        never sent, not cancelled, whose last occurrence has not ended, are invited, each
        from the CRM's current snapshot.

        Parameters:
            calendars: only meetings of these calendars (``None``: every calendar).
            dry_run: decide only (the report keeps the plans).

        Returns:
            What it did (``skipped`` when another worker holds the poll).
        """
        report = OutboundReport(plans=[] if dry_run else None)
        with self._leased(report, dry_run=dry_run) as start:
            if report.skipped:
                return report
            with start() as uow:
                due = _baseline_due(uow)
            if due:
                self._baseline(start, report, None)
            for meeting_id in self._adopted_ahead(start, calendars):
                with start() as uow:
                    meeting = uow.crm.get_meeting(meeting_id)
                    applied = self._apply(uow, meeting_id, meeting, Intent.INVITE)
                    if applied.plan is not None:
                        report.count(applied.plan, applied.queued)
        return report

    @contextmanager
    def _leased(self, report: OutboundReport, *, dry_run: bool = False) -> Iterator[UnitStarter]:
        """The poll lease around a block (a dry run: one unit rolled back, no lease)."""
        if dry_run:
            with self.units.start(dry_run=True) as uow:
                yield lambda: nullcontext(uow)
            return
        with self.units.start() as uow:
            if not acquire_lease(
                uow.session, POLL_LEASE, self.worker, now=uow.now, duration=self.options.lease
            ):
                report.skipped = True
        if report.skipped:
            yield self.units.start
            return
        try:
            yield self.units.start
        finally:
            with self.units.start() as uow:
                release_lease(uow.session, POLL_LEASE, self.worker)

    def _pass(
        self, start: UnitStarter, report: OutboundReport, stop: threading.Event | None
    ) -> None:
        with start() as uow:
            due = _baseline_due(uow)
        if due:
            finished = self._baseline(start, report, stop)
        else:
            finished = self._read_feed(start, report, stop, Intent.PLAN)
        if finished and not (stop and stop.is_set()):
            self._resends(start, report)
            self._existence_check(start, report)

    def _baseline(
        self, start: UnitStarter, report: OutboundReport, stop: threading.Event | None
    ) -> bool:
        with start() as uow:
            marker = get_cursor(uow.session, BASELINE_CURSOR) or ""
            if not marker.startswith("started"):
                set_cursor(uow.session, BASELINE_CURSOR, started_marker(uow.now), now=uow.now)
        if not self._read_feed(start, report, stop, Intent.ADOPT):
            return False
        with start() as uow:
            # Counted in the ledger: a baseline resumed after a crash counts what the
            # interrupted pass adopted too (this pass's report does not).
            began = parse_marker(get_cursor(uow.session, BASELINE_CURSOR)).started_at
            adopted = adopted_since(uow.session, began) if began else report.adopted
            set_cursor(uow.session, BASELINE_CURSOR, taken_marker(uow.now, adopted), now=uow.now)
        report.baseline = True
        logger.info("baseline taken: %d meeting(s) adopted, nothing sent for them", report.adopted)
        return True

    def _read_feed(
        self,
        start: UnitStarter,
        report: OutboundReport,
        stop: threading.Event | None,
        intent: Intent,
    ) -> bool:
        """The feed up to its end; False when stopped before it."""
        while True:
            with start() as uow:
                cursor = get_cursor(uow.session, FEED_CURSOR)
                batch = uow.crm.changed_meetings(cursor, limit=self.options.batch_size)
            changes = _latest_per_meeting(batch.changes)
            logger.debug("feed after %s: %d change(s), more=%s", cursor, len(changes), batch.more)
            with start() as uow:
                self._write_page(uow, changes, report, intent)
                if batch.cursor != cursor:
                    set_cursor(uow.session, FEED_CURSOR, batch.cursor, now=self.units.now())
            if not batch.more or batch.cursor == cursor:
                return True
            if stop and stop.is_set():
                return False
            # A long backlog: keep the poll lease while working through it.
            with start() as uow:
                if not uow.dry_run:
                    renew_lease(
                        uow.session,
                        POLL_LEASE,
                        self.worker,
                        now=uow.now,
                        duration=self.options.lease,
                    )

    def _write_page(
        self,
        uow: UnitOfWork,
        changes: Sequence[MeetingChange],
        report: OutboundReport,
        intent: Intent,
    ) -> None:
        """Apply a page of changes, committing every few hundred messages."""
        pending = 0
        for change in changes:
            applied = self._apply(uow, change.meeting_id, change.meeting, intent)
            if applied.plan is not None:
                report.count(applied.plan, applied.queued)
            else:
                report.failed += 1
            pending += applied.queued
            if pending >= _MESSAGES_PER_TRANSACTION:
                if uow.dry_run:
                    uow.session.flush()  # a dry run never commits
                else:
                    uow.session.commit()
                uow.session.expunge_all()
                pending = 0

    def _adopted_ahead(self, start: UnitStarter, calendars: Collection[str] | None) -> list[str]:
        """The adopted meetings never sent, not off, not over (of ``calendars``)."""
        with start() as uow:
            query = select(OutboundMeeting.crm_meeting_id).where(
                OutboundMeeting.adopted_at.is_not(None),
                OutboundMeeting.cancelled.is_(False),
                OutboundMeeting.deleted.is_(False),
                or_(OutboundMeeting.ends_at.is_(None), OutboundMeeting.ends_at > uow.now),
            )
            if calendars is not None:
                query = query.where(OutboundMeeting.calendar.in_(sorted(calendars)))
            return list(uow.session.scalars(query.order_by(OutboundMeeting.id)))

    def _resends(self, start: UnitStarter, report: OutboundReport) -> None:
        with start() as uow:
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
            with start() as uow:
                applied = self._apply(uow, meeting_id, uow.crm.get_meeting(meeting_id))
                if applied.plan is not None:
                    report.count(applied.plan, applied.queued)
                    report.resent += 1

    # -- deletions a feed cannot see ---------------------------------------------------------

    def _existence_check(
        self, start: UnitStarter, report: OutboundReport, *, force: bool = False
    ) -> None:
        now = self.units.now()
        options = self.options
        with start() as uow:
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
                        # Adopted and never sent: nobody to cancel it for, no need to ask.
                        OutboundMeeting.adopted_at.is_(None),
                        or_(
                            OutboundMeeting.ends_at.is_(None),
                            OutboundMeeting.ends_at >= now - options.grace,
                        ),
                    )
                )
            )
        # A remote CRM answers outside any database transaction (a session that runs no
        # statement holds no connection); one in our database reads within this one.
        with start() as uow:
            checker = uow.crm
            assert isinstance(checker, ExistenceCheck)
            alive = checker.confirm_existing(tracked) if tracked else set()
        gone = [meeting_id for meeting_id in tracked if meeting_id not in alive]
        if gone:
            logger.info("existence check: %d of %d meeting(s) gone", len(gone), len(tracked))
        for meeting_id in gone:
            with start() as uow:
                applied = self._apply(uow, meeting_id, None)
                if applied.plan is not None:
                    report.count(applied.plan, applied.queued)
                    report.deleted_found += 1
        with start() as uow:
            set_cursor(uow.session, EXISTENCE_CURSOR, now.isoformat(), now=now)

    def check_existence(self) -> OutboundReport:
        """Run the existence check now, whatever its interval (``invitegw`` commands, tests).

        Returns:
            What it did.
        """
        report = OutboundReport()
        self._existence_check(self.units.start, report, force=True)
        return report


def _baseline_due(uow: UnitOfWork) -> bool:
    """Whether the next pass takes (or resumes) the baseline: no feed read yet, or one
    started and not finished."""
    marker = get_cursor(uow.session, BASELINE_CURSOR)
    if marker is not None:
        return marker.startswith("started")
    return get_cursor(uow.session, FEED_CURSOR) is None


def _latest_per_meeting(changes: Sequence[MeetingChange]) -> list[MeetingChange]:
    """One change per meeting, its latest, in feed order of those (overlap is allowed)."""
    latest: dict[str, MeetingChange] = {}
    for change in changes:
        latest.pop(change.meeting_id, None)
        latest[change.meeting_id] = change
    return list(latest.values())
