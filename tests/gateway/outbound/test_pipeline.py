"""The outbound pipeline on a real database: feed, ledger, outbox, CRM log, resends."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select, text

from invitegw.crm_adapter.builtin.crm import SqlCrm
from invitegw.crm_adapter.port import ExistenceCheck
from invitegw.domain.records import ChangeBatch, LogLevel, Meeting
from invitegw.gateway.bootstrap import build_gateway, build_outbound
from invitegw.gateway.outbound.feed import FEED_CURSOR, POLL_LEASE, request_resend
from invitegw.gateway.storage import (
    OutboundMeeting,
    OutboxState,
    Store,
    acquire_lease,
    set_cursor,
)
from invitegw.ics import parse_calendar
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.outbound.builders import WARSAW
from tests.gateway.outbound.harness import (
    OutboundHarness,
    Unreachable,
    calendar_bytes,
    parse_message,
)


def methods(h: OutboundHarness, since: int) -> list[tuple[str, str, int]]:
    """(recipient, METHOD, SEQUENCE) of the messages received after the first ``since``."""
    out = []
    for message in h.sink.messages[since:]:
        calendar = parse_calendar(calendar_bytes(parse_message(message.raw)))
        out.append((message.rcpt_tos[0], calendar.method.value, calendar.events[0].sequence))
    return sorted(out)


def test_an_invalid_crm_address_is_skipped_and_logged_on_the_meeting(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    meeting_id = h.create_meeting()
    with store.engine.begin() as conn:  # what a careless import would leave in the CRM
        conn.execute(
            text("UPDATE crm_contacts SET email1 = 'gina at example' WHERE name = 'Gina Guest'")
        )
    h.run()
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == [
        "carl@example.com",
        "olga@example.com",
        "pawel@example.org",
    ]
    (warning,) = [e for e in h.crm_log() if e.level is LogLevel.WARNING]
    assert warning.target_id == meeting_id
    assert "'gina at example'" in warning.message
    assert "contact Gina Guest" in warning.message


def test_polling_again_sends_nothing_twice(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    h.create_meeting()
    h.create_meeting(title="Another", attendees=["gina@example.org"])
    first, _ = h.run()
    assert (first.meetings, first.messages) == (2, 6)
    # A crash before the cursor moved: the same page is read again, and plans to nothing.
    with store.session() as session:
        set_cursor(session, FEED_CURSOR, "0", now=h.clock.now)
    again, flush = h.run()
    assert (again.meetings, again.messages, again.actions) == (2, 0, {"unchanged": 2})
    assert flush.handled == 0
    assert len(smtp_sink.messages) == 6


def test_an_update_supersedes_a_message_not_yet_sent(store: Store, tmp_path: Path) -> None:
    h = OutboundHarness(store, Unreachable(), tmp_path)
    h.seed()
    meeting_id = h.create_meeting()
    h.run()
    with h.admin() as crm:
        crm.update_meeting(meeting_id, location="Room 9")
    h.outbound.poll()
    states = h.states()
    assert states[:4] == [OutboxState.CANCELLED] * 4
    assert states[4:] == [OutboxState.PENDING] * 4


def test_submit_plans_a_meeting_handed_over_directly(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    meeting_id = h.create_meeting()
    with store.session() as session:
        meeting = SqlCrm(session).get_meeting(meeting_id)
    assert meeting is not None
    plan = h.outbound.submit(meeting)
    assert plan is not None
    assert (plan.action, len(plan.messages)) == ("created", 4)
    assert h.dispatcher.flush().sent == 4
    # The feed brings the same meeting again: nothing new.
    assert h.outbound.poll().messages == 0
    gone = h.outbound.submit_deletion(meeting_id)
    assert gone is not None
    assert [m.method.value for m in gone.messages] == ["CANCEL"] * 4


def test_a_meeting_whose_invitations_cannot_be_built_is_logged_and_skipped(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    good = h.create_meeting()
    with store.session() as session:
        meeting = SqlCrm(session).get_meeting(good)
    assert meeting is not None
    broken = dataclasses.replace(meeting, id="999", rrule="FREQ=SOMETIMES")
    assert h.outbound.submit(broken) is None
    errors = [e for e in h.crm_log() if e.level is LogLevel.ERROR]
    assert [(e.target_id, e.message.startswith("invitations not sent:")) for e in errors] == [
        ("999", True)
    ]
    assert "RRULE" in errors[0].message
    with store.session() as session:
        assert session.scalars(select(OutboundMeeting.crm_meeting_id)).all() == []
    # The good one goes through the feed as usual.
    assert h.outbound.poll().messages == 4


def test_a_meeting_naming_an_unknown_calendar_uses_the_default(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    meeting_id = h.create_meeting(calendar="marketing")
    h.run()
    assert len(smtp_sink.messages) == 4
    assert all(m.mail_from == "sales@example.com" for m in smtp_sink.messages)
    notes = [e.message for e in h.crm_log() if e.level is LogLevel.WARNING]
    assert notes == ["unknown calendar 'marketing': sent from 'sales' instead"]
    assert meeting_id


def test_a_poll_held_by_another_worker_is_skipped(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    h.create_meeting()
    with store.session() as session:
        assert acquire_lease(
            session, POLL_LEASE, "other", now=h.clock.now, duration=dt.timedelta(minutes=5)
        )
    assert h.outbound.poll().skipped
    h.clock.advance(dt.timedelta(minutes=6))  # the other worker died: its lease expires
    report = h.outbound.poll()
    assert (report.skipped, report.messages) == (False, 4)


def test_no_invitations_for_a_meeting_already_over(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    h.create_meeting(
        start=dt.datetime(2026, 4, 6, 10, tzinfo=WARSAW),
        end=dt.datetime(2026, 4, 6, 11, tzinfo=WARSAW),
        rrule=None,
    )
    poll, _flush = h.run()
    assert (poll.meetings, poll.messages) == (1, 0)
    assert smtp_sink.messages == []
    assert any(
        "not sent: the meeting ended on 2026-04-06 09:00 UTC" in e.message for e in h.crm_log()
    )


def test_a_refresh_resends_the_current_request_to_that_attendee(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    meeting_id = h.create_meeting()
    h.run()
    with store.session() as session:
        uid = session.scalars(select(OutboundMeeting.uid)).one()
        assert request_resend(session, uid=uid, address="MAILTO:Gina@Example.org", now=h.clock.now)
        assert not request_resend(
            session, uid="nope@example.com", address="gina@example.org", now=h.clock.now
        )
        assert not request_resend(session, uid=uid, address="stranger@example.org", now=h.clock.now)
    report, _flush = h.run()
    assert (report.resent, report.messages) == (1, 1)
    assert methods(h, 4) == [("gina@example.org", "REQUEST", 0)]
    # Once only; and a removed attendee cannot ask.
    assert h.run()[0].messages == 0
    with h.admin() as crm:
        crm.remove_attendee(meeting_id, "gina@example.org")
    h.run()
    with store.session() as session:
        assert not request_resend(session, uid=uid, address="gina@example.org", now=h.clock.now)


class FeedBlindToDeletions:
    """The built-in CRM as a CRM whose feed cannot see deletions (like stock vtiger 8)."""

    feed_reports_deletions = False

    def __init__(self, crm: SqlCrm, calls: list[Sequence[str]]) -> None:
        self._crm = crm
        self._calls = calls

    def __getattr__(self, name: str) -> object:
        return getattr(self._crm, name)

    def changed_meetings(self, cursor: str | None, *, limit: int = 200) -> ChangeBatch:
        batch = self._crm.changed_meetings(cursor, limit=limit)
        kept = tuple(c for c in batch.changes if c.meeting is not None)
        return dataclasses.replace(batch, changes=kept)

    def confirm_existing(self, meeting_ids: Sequence[str]) -> set[str]:
        self._calls.append(list(meeting_ids))
        return {i for i in meeting_ids if self._crm.get_meeting(i) is not None}

    def get_meeting(self, meeting_id: str) -> Meeting | None:
        return self._crm.get_meeting(meeting_id)


def test_deletions_the_feed_cannot_see_are_found_and_cancelled(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    calls: list[Sequence[str]] = []
    h.gateway = build_gateway(h.settings, store=store, clock=h.clock)
    h.gateway.crm_factory = lambda session: FeedBlindToDeletions(SqlCrm(session), calls)  # type: ignore[assignment, return-value]
    h.outbound = build_outbound(h.gateway, ids=h.ids)
    assert isinstance(FeedBlindToDeletions(SqlCrm(None), calls), ExistenceCheck)  # type: ignore[arg-type]
    h.seed()
    kept = h.create_meeting()
    doomed = h.create_meeting(title="Doomed")
    h.run()
    assert calls == [[kept, doomed]]  # the first pass checks at once
    with h.admin() as crm:
        crm.delete_meeting(doomed)
    assert h.run()[0].messages == 0  # the feed says nothing, the check is not due yet
    assert len(calls) == 1
    h.clock.advance(h.settings.outbound.existence_check_interval)
    report, flush = h.run()
    assert (report.deleted_found, report.messages, flush.sent) == (1, 4, 4)
    assert calls[-1] == [kept, doomed]
    assert methods(h, 8) == [
        (who, "CANCEL", 1)
        for who in sorted(
            ["carl@example.com", "gina@example.org", "olga@example.com", "pawel@example.org"]
        )
    ]
    # Cancelled now: no longer checked.
    h.clock.advance(h.settings.outbound.existence_check_interval)
    h.run()
    assert calls[-1] == [kept]
