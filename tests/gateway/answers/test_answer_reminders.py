"""Reminder emails with answer links, followed through the real answer page.

The gateway of :class:`~tests.gateway.answers.harness.AnswerHarness` (the built-in CRM on a
real database, an aiosmtpd sink, the answer page on uvicorn) with a calendar that sends
reminders a day ahead. An attendee who has not answered finds in the reminder the links of
their invitation to the whole meeting; following one (httpx as the browser) records the
answer as the invitation's link does, a REPLY through the inbound rules. An attendee who
answered, or a calendar without links, gets a reminder without them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from invitegw.gateway.bootstrap import build_reminders
from invitegw.gateway.outbound.answer_links import answer_linking
from invitegw.gateway.outbound.apply import Calendars
from invitegw.gateway.outbound.reminders import Reminders
from invitegw.gateway.storage import Store
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.answers.harness import (
    AnswerHarness,
    answer_link,
    body_text,
    confirm,
)
from tests.gateway.outbound.builders import WARSAW
from tests.gateway.outbound.harness import parse_message

GINA = "gina@example.org"
PAWEL = "pawel@example.org"
DAY = dt.timedelta(days=1)
# The first occurrence: Monday June 1, 10:00 in Warsaw.
FIRST = dt.datetime(2026, 6, 1, 10, tzinfo=WARSAW)


@pytest.fixture
def h(store: Store, smtp_sink: SmtpSink, tmp_path: Path) -> Iterator[AnswerHarness]:
    harness = AnswerHarness(store, smtp_sink, tmp_path, calendar={"reminder_email_lead": DAY})
    harness.seed()
    try:
        yield harness
    finally:
        harness.close()


def reminder_job(h: AnswerHarness) -> Reminders:
    """The reminder job as ``build_reminders`` makes it, given the configured answer links."""
    settings = h.settings
    calendars = Calendars(settings.calendars, crm_url=settings.crm.meeting_url)
    return Reminders(
        h.gateway.units,
        calendars.with_reminders(),
        worker=h.gateway.worker,
        lease=settings.worker.lease_duration,
        ids=h.ids,
        links=answer_linking(settings),
    )


def remind(h: AnswerHarness, when: dt.datetime) -> int:
    """Run the reminder job at ``when`` and send what it queued; how many it queued."""
    h.clock.now = when.astimezone(dt.UTC)
    queued = reminder_job(h).run()
    h.dispatcher.flush()
    return queued


def reminder_to(h: AnswerHarness, address: str, since: int) -> bytes:
    """The reminder ``address`` got after the first ``since`` messages (no calendar part)."""
    raw = h.message_to(address, since=since).raw
    parsed = parse_message(raw)
    assert str(parsed["Subject"]).startswith(("Reminder:", "Przypomnienie:"))
    assert all(p.get_content_type() != "text/calendar" for p in parsed.walk())
    return raw


def _has_links(raw: bytes) -> bool:
    return any("/answer/" in body_text(raw, kind) for kind in ("plain", "html"))


def test_a_reminders_link_answers_as_the_invitations_does(h: AnswerHarness) -> None:
    h.create_meeting()
    h.run()
    invitation = h.message_to(GINA).raw
    with httpx.Client(timeout=30) as client:
        pawel = answer_link(h.message_to(PAWEL).raw, "yes")
        assert confirm(client, pawel, "yes").status_code == 200  # Paweł answered already
        h.dispatcher.flush()  # the organizer's notice of Paweł's answer
        sent = len(h.sink.messages)
        assert remind(h, FIRST - dt.timedelta(hours=12)) == 2
        reminder = reminder_to(h, GINA, sent)
        assert not _has_links(reminder_to(h, PAWEL, sent))
        # Gina's reminder carries her invitation's links, in both bodies.
        for answer in ("yes", "maybe", "no"):
            link = answer_link(reminder, answer)
            assert link == answer_link(invitation, answer)
            assert link == answer_link(reminder, answer, "html")
        assert "Will you attend?" in body_text(reminder)
        done = confirm(client, answer_link(reminder, "maybe"), "maybe", comment="If I can")
    assert done.status_code == 200, done.text
    assert "your answer is recorded" in done.text
    assert h.responses() == [(PAWEL, "ACCEPTED", None, ""), (GINA, "TENTATIVE", None, "If I can")]
    assert h.attendee(GINA).partstat == "TENTATIVE"
    # She has answered: next week's reminder has no links.
    sent = len(h.sink.messages)
    assert remind(h, FIRST + 7 * DAY - dt.timedelta(hours=12)) == 2
    assert not _has_links(reminder_to(h, GINA, sent))


def test_after_an_occurrence_moved_the_reminder_keeps_the_whole_meetings_link(
    h: AnswerHarness,
) -> None:
    meeting = h.create_meeting()
    h.run()
    series = answer_link(h.message_to(GINA).raw, "yes")
    with h.admin() as crm:  # one occurrence moves: a message for it alone, SEQUENCE 1
        crm.move_occurrence(
            meeting,
            dt.datetime(2026, 6, 8, 10, tzinfo=WARSAW),
            dt.datetime(2026, 6, 9, 15, tzinfo=WARSAW),
            dt.datetime(2026, 6, 9, 16, tzinfo=WARSAW),
        )
    h.run()
    assert h.attendee(GINA).last_sequence_sent == 1
    sent = len(h.sink.messages)
    assert remind(h, FIRST - dt.timedelta(hours=12)) == 2
    link = answer_link(reminder_to(h, GINA, sent), "yes")
    assert link == series  # SEQUENCE 0, the invitation to the whole meeting: not 1
    with httpx.Client(timeout=30) as client:
        assert confirm(client, link, "yes").status_code == 200
    assert h.responses() == [(GINA, "ACCEPTED", None, "")]
    row = h.attendee(GINA)
    assert (row.partstat, row.partstat_sequence) == ("ACCEPTED", 0)


def test_an_updated_meetings_reminder_carries_the_update_and_the_old_link_is_superseded(
    h: AnswerHarness,
) -> None:
    meeting = h.create_meeting()
    h.run()
    old = answer_link(h.message_to(GINA).raw, "yes")
    with h.admin() as crm:
        crm.update_meeting(meeting, location="Room 7")  # a significant change: SEQUENCE 1
    sent = len(h.sink.messages)
    h.run()
    update = answer_link(h.message_to(GINA, since=sent).raw, "yes")
    sent = len(h.sink.messages)
    remind(h, FIRST - dt.timedelta(hours=12))
    link = answer_link(reminder_to(h, GINA, sent), "yes")
    assert link == update != old
    with httpx.Client(timeout=30) as client:
        assert "has been updated since this link was sent" in client.get(old).text
        assert confirm(client, link, "yes").status_code == 200
    assert h.attendee(GINA).partstat_sequence == 1


def test_no_links_when_the_calendar_carries_none(h: AnswerHarness) -> None:
    h.create_meeting()
    h.run()
    calendar = dataclasses.replace(h.settings.calendars[0], answer_links=False)
    h.with_settings(calendars=(calendar,))
    assert answer_linking(h.settings) is None
    sent = len(h.sink.messages)
    assert remind(h, FIRST - dt.timedelta(hours=12)) == 2
    assert not _has_links(reminder_to(h, GINA, sent))
    assert not _has_links(reminder_to(h, PAWEL, sent))


def test_serves_reminder_job_carries_the_links(h: AnswerHarness) -> None:
    h.create_meeting()
    h.run()
    sent = len(h.sink.messages)
    h.clock.now = (FIRST - dt.timedelta(hours=12)).astimezone(dt.UTC)
    assert build_reminders(h.gateway, ids=h.ids).run() == 2
    h.dispatcher.flush()
    assert _has_links(reminder_to(h, GINA, sent))
