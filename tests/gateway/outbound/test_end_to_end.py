"""End to end: CRM changes → planner → outbox → SMTP → a real aiosmtpd server on loopback.

The life of one weekly meeting (create, reschedule, remove an attendee, cancel one
occurrence, cancel the meeting), with the gateway run after each step as ``serve --once``
runs it. Every message is checked: recipient, METHOD in the Content-Type and the
VCALENDAR, SEQUENCE, RECURRENCE-ID, a VTIMEZONE for every TZID, the MIME layout, the
language, and that two independent parsers (vobject, and Thunderbird's ical.js) read the
instants that were meant.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
import vobject

from invitegw.gateway.storage import Store
from invitegw.ics import parse_calendar
from tests.fixtures.icaljs import IcalJs, icaljs_time
from tests.fixtures.smtp_sink import ReceivedMessage, SmtpSink
from tests.gateway.outbound.builders import WARSAW
from tests.gateway.outbound.harness import OutboundHarness, calendar_bytes, parse_message

UTC = dt.UTC


def warsaw(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, tzinfo=WARSAW)


@dataclass(frozen=True)
class Expected:
    """What one received message must be."""

    recipient: str
    method: str
    sequence: int
    start: dt.datetime  # the instant meant (DTSTART of the first VEVENT)
    recurrence_id: dt.datetime | None = None
    language: str = "en"
    subject: str = ""  # for one occurrence: how it starts
    status: str | None = None
    attendees: tuple[str, ...] = ()


def check_mime(message: EmailMessage, method: str) -> None:
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    inline = list(alternative.iter_parts())[2]
    assert inline.get_param("method") == method
    assert inline.get_content_charset() == "utf-8"
    assert (attachment.get_content_type(), attachment.get_filename()) == (
        "application/ics",
        "invite.ics",
    )
    assert attachment.get_payload(decode=True) == inline.get_payload(decode=True)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] is not None
    assert re.fullmatch(r"<[^<>@\s]+@example\.com>", str(message["Message-ID"]))
    assert str(message["From"]).endswith("<sales@example.com>")


def check_vtimezones(text: str) -> None:
    used = set(re.findall(r";TZID=([^:;]+)[:;]", text))
    defined = set(re.findall(r"^TZID:([^\r\n]+)\r?$", text, re.MULTILINE))
    assert used, "a timed meeting in Warsaw writes TZID parameters"
    assert used <= defined, f"TZIDs without VTIMEZONE: {used - defined}"
    assert "RDATE" not in text  # RRULE-based observances only (Outlook's hour shifts)


def check_vobject(data: bytes, expected: Expected) -> None:
    calendar = vobject.readOne(data.decode("utf-8"))
    assert calendar.method.value == expected.method
    event = calendar.vevent
    assert event.dtstart.value.astimezone(UTC) == expected.start.astimezone(UTC)
    assert int(event.sequence.value) == expected.sequence
    if expected.recurrence_id is not None:
        rid = event.contents["recurrence-id"][0].value
        assert rid.astimezone(UTC) == expected.recurrence_id.astimezone(UTC)


def check_icaljs(icaljs: IcalJs, data: bytes, expected: Expected) -> None:
    read = icaljs.read(data)
    assert read["ok"], read["error"]
    assert read["method"] == expected.method
    first = read["events"][0]
    assert first["sequence"] == expected.sequence
    assert icaljs_time(first["start"]) == expected.start.astimezone(UTC)
    assert icaljs_time(first["recurrence_id"]) == (
        expected.recurrence_id.astimezone(UTC) if expected.recurrence_id else None
    )
    # Every TZID resolved through the message's own VTIMEZONE.
    assert first["tzids"]
    assert all(known for _tzid, known in first["tzids"])


def check(received: list[ReceivedMessage], expected: list[Expected], icaljs: IcalJs) -> None:
    assert sorted(r.rcpt_tos for r in received) == sorted((e.recipient,) for e in expected)
    by_recipient = {r.rcpt_tos[0]: r for r in received}
    for want in expected:
        raw = by_recipient[want.recipient].raw
        message = parse_message(raw)
        assert str(message["To"]).endswith(f"<{want.recipient}>")
        check_mime(message, want.method)
        assert message["Content-Language"] == want.language
        if want.recurrence_id is None:
            assert str(message["Subject"]) == want.subject
        else:
            assert str(message["Subject"]).startswith(want.subject)
        data = calendar_bytes(message)
        text = data.decode("utf-8")
        assert re.search(rf"^METHOD:{want.method}\r$", text, re.MULTILINE)
        check_vtimezones(text)
        parsed = parse_calendar(data)
        first = parsed.events[0]
        assert (first.sequence, first.recurrence_id_utc) == (
            want.sequence,
            want.recurrence_id.astimezone(UTC) if want.recurrence_id else None,
        )
        assert first.start_utc == want.start.astimezone(UTC)
        assert (first.status.value if first.status else None) == want.status
        if want.attendees:
            assert tuple(a.email for a in first.attendees) == want.attendees
        if want.recurrence_id is not None:
            assert len(parsed.events) == 1  # the occurrence alone, no master
        check_vobject(data, want)
        check_icaljs(icaljs, data, want)


POLISH = {"olga@example.com", "pawel@example.org"}
EVERYONE = ("olga@example.com", "carl@example.com", "gina@example.org", "pawel@example.org")
REMAINING = ("olga@example.com", "carl@example.com", "pawel@example.org")


def each(
    people: tuple[str, ...],
    method: str,
    sequence: int,
    start: dt.datetime,
    subject: tuple[str, str],
    **more: object,
) -> list[Expected]:
    """The same message to each of ``people``, in their language (``subject``: en, pl)."""
    return [
        Expected(
            who,
            method,
            sequence,
            start,
            language="pl" if who in POLISH else "en",
            subject=f"{subject[1] if who in POLISH else subject[0]}: Project kick-off",
            **more,  # type: ignore[arg-type]
        )
        for who in people
    ]


def step(h: OutboundHarness, sink: SmtpSink, expected: int) -> list[ReceivedMessage]:
    """Run the gateway as ``serve --once`` does; the messages this step produced."""
    before = len(sink.messages)
    h.run()
    h.clock.advance(dt.timedelta(hours=1))
    return sink.wait_for(before + expected)[before:]


@pytest.mark.node
def test_the_life_of_a_weekly_meeting(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path, icaljs: IcalJs
) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    invitation = ("Invitation", "Zaproszenie")
    update = ("Updated invitation", "Zaktualizowane zaproszenie")
    cancelled = ("Cancelled", "Odwołane")

    # 1. Created: an invitation to everyone, the organizer included.
    meeting_id = h.create_meeting()
    expected = each(EVERYONE, "REQUEST", 0, warsaw(1, 10), invitation, status="CONFIRMED")
    check(
        step(h, smtp_sink, 4),
        [dataclasses.replace(e, attendees=EVERYONE) for e in expected],
        icaljs,
    )

    # 2. Rescheduled to 11:00: SEQUENCE 1 for everyone.
    with h.admin() as crm:
        crm.update_meeting(meeting_id, start=warsaw(1, 11), end=warsaw(1, 12))
    expected = each(EVERYONE, "REQUEST", 1, warsaw(1, 11), update, status="CONFIRMED")
    check(step(h, smtp_sink, 4), expected, icaljs)

    # 3. Gina removed: her own CANCEL, the others the new attendee list.
    with h.admin() as crm:
        crm.remove_attendee(meeting_id, "gina@example.org")
    expected = [
        *each(("gina@example.org",), "CANCEL", 1, warsaw(1, 11), cancelled),
        *each(REMAINING, "REQUEST", 1, warsaw(1, 11), update, status="CONFIRMED"),
    ]
    expected = [
        dataclasses.replace(
            e, attendees=("gina@example.org",) if e.method == "CANCEL" else REMAINING
        )
        for e in expected
    ]
    check(step(h, smtp_sink, 4), expected, icaljs)

    # 4. The June 15 occurrence cancelled: that RECURRENCE-ID alone, SEQUENCE 2. Its subject
    # names the occurrence: "Odwołane: Project kick-off (poniedziałek, 15 czerwca ...".
    with h.admin() as crm:
        crm.cancel_occurrence(meeting_id, dt.date(2026, 6, 15))
    expected = each(
        REMAINING,
        "CANCEL",
        2,
        warsaw(15, 11),
        cancelled,
        recurrence_id=warsaw(15, 11),
        status="CANCELLED",
    )
    expected = [dataclasses.replace(e, subject=e.subject + " (") for e in expected]
    check(step(h, smtp_sink, 3), expected, icaljs)

    # 5. The meeting cancelled: SEQUENCE 3, STATUS:CANCELLED, to everyone still invited.
    with h.admin() as crm:
        crm.cancel_meeting(meeting_id)
    expected = each(
        REMAINING, "CANCEL", 3, warsaw(1, 11), cancelled, status="CANCELLED", attendees=REMAINING
    )
    check(step(h, smtp_sink, 3), expected, icaljs)

    # Nothing more afterwards, and the CRM log tells the story.
    h.run()
    assert len(smtp_sink.messages) == 18
    log = [entry.message for entry in h.crm_log()]
    assert any("CANCEL (uninvited) SEQUENCE 1 queued for 1 recipient" in line for line in log)
    assert any("CANCEL SEQUENCE 3 queued for 3 recipients" in line for line in log)
