"""The gateway on vtiger, end to end: ``invitegw serve --once`` against the fake vtiger.

A meeting created, rescheduled and cancelled in (the fake) vtiger leads the outbound flow to
send REQUEST, REQUEST with SEQUENCE + 1 and CANCEL to the attendees over SMTP (a real
aiosmtpd sink on loopback). Inbound: an invitation ingested creates exactly one vtiger task
linked to the contact found by address, and the organizer's CANCEL sets that task to the
configured cancelled status.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from invitegw.gateway.cli import main
from invitegw.gateway.outbound.feed import EXISTENCE_CURSOR
from invitegw.gateway.storage import Store, get_cursor, set_cursor
from invitegw.ics import PartStat, build_reply, parse_calendar
from invitegw.mailbox.mime import extract
from tests.crm_adapter.vtiger.conftest import ACCESS_KEY, Seeder
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock
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
    path = write_config(tmp_path / "invitegw.toml", store, smtp_sink.port, extra)
    # The first start's baseline, while vtiger has no meeting: what the tests make is new.
    assert main(["--config", str(path), "outbound", "baseline"]) == 0
    return path


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


def invitation_email(method: str, sequence: int, start: str, *, sender: str) -> bytes:
    """An Outlook-shaped iMIP message from ``sender`` about one meeting, UID fixed."""
    calendar = (
        "BEGIN:VCALENDAR\r\nMETHOD:{method}\r\nPRODID:Microsoft Exchange Server 2010\r\n"
        "VERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\n"
        "DTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
        "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n"
        "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\n"
        "TZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\n"
        "END:DAYLIGHT\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\n"
        "ORGANIZER;CN=Anna Nowak:mailto:anna.nowak@example.org\r\n"
        "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Sales:mailto:"
        "sales@example.com\r\n"
        "SUMMARY;LANGUAGE=en-US:Supplier visit\r\n"
        "DTSTART;TZID=W. Europe Standard Time:{start}\r\n"
        "DTEND;TZID=W. Europe Standard Time:{end}\r\n"
        "UID:040000008200E00074C5B7101A82E00800000000C0FFEE\r\n"
        "CLASS:PUBLIC\r\nPRIORITY:5\r\nDTSTAMP:2030010{day}T080000Z\r\n"
        "TRANSP:OPAQUE\r\nSTATUS:{status}\r\nSEQUENCE:{seq}\r\nLOCATION;LANGUAGE=en-US:Gate 2\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).format(
        method=method,
        start=start,
        end=start[:9] + f"{int(start[9:11]) + 1:02d}" + start[11:],
        seq=sequence,
        day=sequence + 1,
        status="CANCELLED" if method == "CANCEL" else "CONFIRMED",
    )
    message = EmailMessage()
    message["From"] = f"Anna Nowak <{sender}>"
    message["To"] = "Sales <sales@example.com>"
    message["Subject"] = ("Canceled: " if method == "CANCEL" else "") + "Supplier visit"
    message["Message-ID"] = f"<{method.lower()}-{sequence}@mail.example.org>"
    message["Date"] = "Tue, 01 Jan 2030 08:00:00 +0000"
    message.set_content("Supplier visit at gate 2.")
    message.add_alternative(
        calendar.encode(), maintype="text", subtype="calendar", params={"method": method}
    )
    return message.as_bytes()


def vtiger_tasks(fake: FakeVtiger) -> list[dict[str, Any]]:
    """The Calendar records of activitytype Task, as vtiger's query answers them."""
    return fake.query("SELECT * FROM Calendar WHERE activitytype = 'Task';")


def test_invitation_ingested_becomes_one_vtiger_task_and_its_cancel_cancels_it(
    config: Path, seed: Seeder, fake: FakeVtiger, tmp_path: Path
) -> None:
    anna = seed.contact("Anna", "Nowak", "anna.nowak@example.org")
    request = tmp_path / "request.eml"
    request.write_bytes(
        invitation_email("REQUEST", 0, "20300301T090000", sender="anna.nowak@example.org")
    )
    ingest = ["--config", str(config), "ingest", "--owner", "admin@example.test"]
    assert main([*ingest, str(request)]) == 0
    [task] = vtiger_tasks(fake)
    assert task["subject"] == "Supplier visit"
    assert task["contact_id"] == anna
    # 09:00 in Berlin's zone is 08:00 UTC: the server keeps UTC (the default).
    assert (task["date_start"], task["time_start"]) == ("2030-03-01", "08:00:00")
    assert task["taskstatus"] != "Deferred"

    # Seen again (a second pass, a second copy): still one task.
    assert main([*ingest, str(request)]) == 0
    again = tmp_path / "again.eml"
    again.write_bytes(request.read_bytes().replace(b"request-0@", b"copy-0@"))
    assert main([*ingest, str(again)]) == 0
    assert len(vtiger_tasks(fake)) == 1

    # A CANCEL claiming to be Anna's, sent by someone else, changes nothing.
    spoofed = tmp_path / "spoofed.eml"
    spoofed.write_bytes(
        invitation_email("CANCEL", 1, "20300301T090000", sender="mallory@example.net")
    )
    assert main([*ingest, str(spoofed)]) == 0
    [task] = vtiger_tasks(fake)
    assert task["taskstatus"] != "Deferred"

    # Anna cancels from Outlook: the task gets the configured cancelled status.
    cancel = tmp_path / "cancel.eml"
    cancel.write_bytes(
        invitation_email("CANCEL", 1, "20300301T090000", sender="anna.nowak@example.org")
    )
    assert main([*ingest, str(cancel)]) == 0
    [task] = vtiger_tasks(fake)
    assert task["taskstatus"] == "Deferred"


def test_an_attendees_accept_comes_back_as_a_comment_on_her_vtiger_contact(
    config: Path, seed: Seeder, fake: FakeVtiger, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    anna = seed.contact("Anna", "Nowak", "anna.nowak@example.org")
    seed.event("Contract review", "2030-01-15 09:00:00", "2030-01-15 10:00:00", contacts=[anna])
    serve_once(config)
    [invitation] = [m for m in smtp_sink.messages if "anna.nowak@example.org" in m.rcpt_tos]
    [part] = extract(invitation.raw).calendar_parts
    event = parse_calendar(part.data, mime_method=part.mime_method).events[0]
    assert event.organizer is not None
    # Anna clicks Accept: her client answers the ORGANIZER, the calendar's reply-token address.
    reply = EmailMessage()
    reply["From"] = "Anna Nowak <anna.nowak@example.org>"
    reply["To"] = event.organizer.email
    reply["Subject"] = "Accepted: Contract review"
    reply["Message-ID"] = "<accept-1@mail.example.org>"
    reply.set_content("Anna Nowak has accepted.")
    reply.add_alternative(
        build_reply(event, "anna.nowak@example.org", PartStat.ACCEPTED),
        maintype="text",
        subtype="calendar",
        params={"method": "REPLY"},
    )
    path = tmp_path / "accept.eml"
    path.write_bytes(reply.as_bytes())
    assert main(["--config", str(config), "ingest", str(path)]) == 0
    comments = [
        (str(r.values["related_to"]), str(r.values["commentcontent"]))
        for r in fake.records.values()
        if r.module == "ModComments"
    ]
    accepted = [text for related, text in comments if related == anna and "ACCEPTED" in text]
    assert len(accepted) == 1, comments
    assert "Contract review" in accepted[0]
