"""The gateway on vtiger, end to end: ``invitegw serve --once`` against the fake vtiger.

A meeting created, rescheduled and cancelled in (the fake) vtiger leads the outbound flow to
send REQUEST, REQUEST with SEQUENCE + 1 and CANCEL to the attendees over SMTP (a real
aiosmtpd sink on loopback). Inbound: an invitation ingested creates exactly one vtiger task
linked to the contact found by address, and the organizer's CANCEL sets that task to the
configured cancelled status.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from invitegw.gateway.cli import main
from invitegw.gateway.outbound import EXISTENCE_CURSOR
from invitegw.gateway.storage import Store, get_cursor, set_cursor
from invitegw.ics import parse_calendar
from invitegw.mailbox import extract
from tests.crm_adapter.vtiger.conftest import ACCESS_KEY, Seeder
from tests.crm_adapter.vtiger.replay_server import FakeVtigerServer, ManualClock
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.outbound.harness import write_config


@pytest.fixture
def config(
    tmp_path: Path,
    store: Store,
    smtp_sink: SmtpSink,
    server: FakeVtigerServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    extra = (
        "[crm]\n"
        'adapter = "vtiger"\n'
        "[crm.vtiger]\n"
        f'url = "{server.url}"\n'
        'username = "admin"\n'
        "timeout = 5\n"
    )
    monkeypatch.setenv("INVITEGW_CRM__VTIGER__ACCESS_KEY", ACCESS_KEY)
    return write_config(tmp_path / "invitegw.toml", store, smtp_sink.port, extra)


def serve_once(config: Path) -> None:
    assert main(["--config", str(config), "serve", "--once"]) == 0


def calendars_by_recipient(sink: SmtpSink, start: int) -> dict[str, tuple[str, int, str]]:
    """recipient -> (METHOD, SEQUENCE, DTSTART in UTC) of the messages after ``start``."""
    found = {}
    for received in sink.messages[start:]:
        [part] = extract(received.raw).calendar_parts
        calendar = parse_calendar(part.data, mime_method=part.mime_method)
        [event] = calendar.events
        start_utc = event.start_utc.isoformat() if event.start_utc else ""
        for rcpt in received.rcpt_tos:
            found[rcpt.lower()] = (calendar.method.value, event.sequence, start_utc)
    return found


def test_meeting_created_rescheduled_and_cancelled_in_vtiger(
    config: Path, seed: Seeder, clock: ManualClock, smtp_sink: SmtpSink
) -> None:
    anna = seed.contact("Anna", "Nowak", "anna.nowak@example.org")
    meeting = seed.event(
        "Contract review", "2030-01-15 09:00:00", "2030-01-15 10:00:00", contacts=[anna]
    )
    serve_once(config)
    first = calendars_by_recipient(smtp_sink, 0)
    # The contact and the assigned user (the organizer, as CHAIR) get the invitation.
    assert set(first) == {"anna.nowak@example.org", "admin@example.test"}
    assert first["anna.nowak@example.org"] == ("REQUEST", 0, "2030-01-15T09:00:00+00:00")

    clock.advance(60)
    seed.revise(meeting, contacts=[anna], time_start="11:00:00", time_end="12:00:00")
    seen = len(smtp_sink.messages)
    serve_once(config)
    second = calendars_by_recipient(smtp_sink, seen)
    assert second["anna.nowak@example.org"] == ("REQUEST", 1, "2030-01-15T11:00:00+00:00")

    clock.advance(60)
    seed.revise(meeting, contacts=[anna], eventstatus="Not Held")
    seen = len(smtp_sink.messages)
    serve_once(config)
    third = calendars_by_recipient(smtp_sink, seen)
    assert third["anna.nowak@example.org"][:2] == ("CANCEL", 2)
    assert third["admin@example.test"][:2] == ("CANCEL", 2)

    # Nothing changed: another pass sends nothing.
    seen = len(smtp_sink.messages)
    serve_once(config)
    assert len(smtp_sink.messages) == seen


def test_meeting_deleted_in_stock_vtiger_is_cancelled(
    config: Path, seed: Seeder, clock: ManualClock, smtp_sink: SmtpSink, store: Store
) -> None:
    # Stock vtiger 8 on PHP 8: `sync` answers HTTP 500, so the feed cannot see deletions;
    # the gateway's existence check over the meetings it tracks finds it instead.
    anna = seed.contact("Anna", "Nowak", "anna.nowak@example.org")
    meeting = seed.event(
        "Site visit", "2030-02-01 09:00:00", "2030-02-01 10:00:00", contacts=[anna]
    )
    serve_once(config)
    assert calendars_by_recipient(smtp_sink, 0)["anna.nowak@example.org"][0] == "REQUEST"
    clock.advance(60)
    seed.delete(meeting)
    seen = len(smtp_sink.messages)
    serve_once(config)
    # The check runs every outbound.existence_check_interval (15 min): not yet.
    assert len(smtp_sink.messages) == seen
    with store.session() as session:
        last = get_cursor(session, EXISTENCE_CURSOR)
        assert last is not None
        earlier = dt.datetime.fromisoformat(last) - dt.timedelta(minutes=16)
        set_cursor(session, EXISTENCE_CURSOR, earlier.isoformat(), now=earlier)
    serve_once(config)
    cancels = calendars_by_recipient(smtp_sink, seen)
    assert cancels["anna.nowak@example.org"][:2] == ("CANCEL", 1)
