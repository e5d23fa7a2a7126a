"""Reminder emails: external attendees, once per occurrence, never for what is off."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import update

from invitegw.gateway.bootstrap import build_reminders
from invitegw.gateway.outbound.reminders import due_occurrences
from invitegw.gateway.storage import OutboundAttendee, OutboxState, Store
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.outbound.builders import WARSAW, at, cancelled, meeting, moved
from tests.gateway.outbound.harness import OutboundHarness, parse_message

DAY = dt.timedelta(days=1)
# The first occurrence: Monday June 1, 10:00 in Warsaw.
FIRST = dt.datetime(2026, 6, 1, 10, tzinfo=WARSAW)


def test_due_occurrences_skip_cancelled_and_follow_moved_ones() -> None:
    series = meeting(occurrences=(cancelled(8), moved(15, 14)))
    window = due_occurrences(
        series, after=at(1, 0).astimezone(dt.UTC), until=at(22, 0).astimezone(dt.UTC), zone="UTC"
    )
    assert [(o.key, o.start, o.end) for o in window] == [
        ("2026-06-01T08:00:00Z", at(1, 10), at(1, 11)),
        ("2026-06-15T08:00:00Z", at(15, 14), at(15, 15)),
    ]
    # The window is (after, until]: an occurrence starting at `after` is already under way.
    assert due_occurrences(series, after=at(1, 10), until=at(1, 12), zone="UTC") == []


def test_due_occurrences_of_an_all_day_meeting_use_its_zone() -> None:
    day = dt.date(2026, 6, 1)
    single = meeting(start=day, end=day + DAY, rrule=None, time_zone=None)
    (only,) = due_occurrences(
        single,
        after=dt.datetime(2026, 5, 31, 12, tzinfo=dt.UTC),
        until=dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC),
        zone="Europe/Warsaw",
    )
    assert (only.start, only.starts_at) == (day, dt.datetime(2026, 5, 31, 22, tzinfo=dt.UTC))


@pytest.fixture
def h(store: Store, smtp_sink: SmtpSink, tmp_path: Path) -> OutboundHarness:
    harness = OutboundHarness(store, smtp_sink, tmp_path, calendar={"reminder_email_lead": DAY})
    harness.seed()
    return harness


def reminders(h: OutboundHarness) -> list[tuple[str, str]]:
    """(recipient, Subject) of the reminders received so far."""
    found = []
    for message in h.sink.messages:
        parsed = parse_message(message.raw)
        if not any(p.get_content_type() == "text/calendar" for p in parsed.walk()):
            found.append((message.rcpt_tos[0], str(parsed["Subject"])))
    return sorted(found)


def run_at(h: OutboundHarness, when: dt.datetime) -> int:
    h.clock.now = when.astimezone(dt.UTC)
    queued = build_reminders(h.gateway, ids=h.ids).run()
    h.dispatcher.flush()
    return queued


def test_external_attendees_get_one_reminder_per_occurrence(h: OutboundHarness) -> None:
    h.create_meeting()
    h.run()
    assert run_at(h, FIRST - DAY - dt.timedelta(minutes=1)) == 0  # not yet
    assert run_at(h, FIRST - DAY + dt.timedelta(minutes=1)) == 2
    got = reminders(h)
    assert [who for who, _subject in got] == ["gina@example.org", "pawel@example.org"]
    assert got[0][1].startswith("Reminder: Project kick-off")
    assert got[1][1].startswith("Przypomnienie: Project kick-off")  # Paweł reads Polish
    assert run_at(h, FIRST - dt.timedelta(hours=2)) == 0  # once only
    # A week later, the next occurrence.
    assert run_at(h, FIRST + 6 * DAY + dt.timedelta(hours=1)) == 2
    assert len(reminders(h)) == 4
    kinds = {r.kind for r in h.outbox() if r.state is OutboxState.SENT}
    assert kinds == {"invitation", "reminder"}


def test_the_reminder_threads_on_the_invitation_and_replies_to_the_token(
    h: OutboundHarness,
) -> None:
    h.create_meeting(attendees=["gina@example.org"])
    h.run()
    invitation = next(m for m in h.sink.messages if m.rcpt_tos == ("gina@example.org",))
    run_at(h, FIRST - dt.timedelta(hours=12))
    reminder = parse_message(h.sink.messages[-1].raw)
    original = parse_message(invitation.raw)
    assert str(reminder["In-Reply-To"]) == str(original["Message-ID"])
    assert str(reminder["Reply-To"]) == str(original["Reply-To"])
    assert reminder["Auto-Submitted"] == "auto-generated"


def test_no_reminder_for_declined_removed_or_late_invitees(h: OutboundHarness) -> None:
    meeting_id = h.create_meeting()
    h.run()
    with h.store.session() as session:
        session.execute(
            update(OutboundAttendee)
            .where(OutboundAttendee.address == "gina@example.org")
            .values(partstat="DECLINED")
        )
    with h.admin() as crm:
        crm.remove_attendee(meeting_id, "pawel@example.org")
    h.run()
    assert run_at(h, FIRST - dt.timedelta(hours=1)) == 0
    # Someone invited once the reminder was due has just had the invitation.
    with h.admin() as crm:
        crm.add_attendee(meeting_id, "pawel@example.org")
    h.run()
    assert run_at(h, FIRST - dt.timedelta(minutes=30)) == 0
    assert reminders(h) == []


def test_no_reminder_for_a_cancelled_occurrence_or_meeting(h: OutboundHarness) -> None:
    meeting_id = h.create_meeting()
    h.run()
    with h.admin() as crm:
        crm.cancel_occurrence(meeting_id, dt.date(2026, 6, 1))
    h.run()
    assert run_at(h, FIRST - dt.timedelta(hours=1)) == 0
    with h.admin() as crm:
        crm.cancel_meeting(meeting_id)
    h.run()
    assert run_at(h, FIRST + 7 * DAY - dt.timedelta(hours=1)) == 0
    assert reminders(h) == []


def test_a_calendar_without_a_lead_sends_no_reminders(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    h.create_meeting()
    h.run()
    assert run_at(h, FIRST - dt.timedelta(hours=1)) == 0
    with_lead = dataclasses.replace(h.settings.calendars[0], reminder_email_lead=DAY)
    h.with_settings(calendars=(with_lead,))
    assert run_at(h, FIRST - dt.timedelta(hours=1)) == 2
