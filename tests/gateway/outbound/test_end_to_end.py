"""End to end: CRM changes → planner → outbox → SMTP → a real aiosmtpd server on loopback.

The life of one weekly meeting (create, reschedule, remove an attendee, cancel one
occurrence, cancel the meeting), with the gateway run after each step as ``serve --once``
runs it. Every message is checked: recipient, METHOD in the Content-Type and the
VCALENDAR, SEQUENCE, RECURRENCE-ID, a VTIMEZONE for every TZID, the MIME layout, the
language, and that two independent parsers (vobject, and Thunderbird's ical.js) read the
instants that were meant.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
import vobject

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


@pytest.mark.node
def test_the_life_of_a_weekly_meeting(store, smtp_sink: SmtpSink, tmp_path, icaljs: IcalJs) -> None:
    h = OutboundHarness(store, smtp_sink, tmp_path)
    h.seed()
    everyone = ("olga@example.com", "carl@example.com", "gina@example.org", "pawel@example.org")
    pl = {"olga@example.com", "pawel@example.org"}

    def subject(prefix_en: str, prefix_pl: str, who: str, title: str = "Project kick-off") -> str:
        return f"{prefix_pl if who in pl else prefix_en}: {title}"

    # 1. Created: an invitation to everyone, the organizer included.
    meeting_id = h.create_meeting()
    h.run()
    step1 = smtp_sink.wait_for(4)
    check(
        step1,
        [
            Expected(
                who,
                "REQUEST",
                0,
                warsaw(1, 10),
                language="pl" if who in pl else "en",
                subject=subject("Invitation", "Zaproszenie", who),
                status="CONFIRMED",
                attendees=everyone,
            )
            for who in everyone
        ],
        icaljs,
    )

    # 2. Rescheduled to 11:00: SEQUENCE 1 for everyone.
    h.clock.advance(dt.timedelta(hours=1))
    with h.admin() as crm:
        crm.update_meeting(meeting_id, start=warsaw(1, 11), end=warsaw(1, 12))
    h.run()
    step2 = smtp_sink.wait_for(8)[4:]
    check(
        step2,
        [
            Expected(
                who,
                "REQUEST",
                1,
                warsaw(1, 11),
                language="pl" if who in pl else "en",
                subject=subject("Updated invitation", "Zaktualizowane zaproszenie", who),
                status="CONFIRMED",
            )
            for who in everyone
        ],
        icaljs,
    )

    # 3. Gina removed: her own CANCEL, the others the new attendee list.
    h.clock.advance(dt.timedelta(hours=1))
    with h.admin() as crm:
        crm.remove_attendee(meeting_id, "gina@example.org")
    h.run()
    remaining = ("olga@example.com", "carl@example.com", "pawel@example.org")
    step3 = smtp_sink.wait_for(12)[8:]
    check(
        step3,
        [
            Expected(
                "gina@example.org",
                "CANCEL",
                1,
                warsaw(1, 11),
                subject="Cancelled: Project kick-off",
                attendees=("gina@example.org",),
            ),
            *(
                Expected(
                    who,
                    "REQUEST",
                    1,
                    warsaw(1, 11),
                    language="pl" if who in pl else "en",
                    subject=subject("Updated invitation", "Zaktualizowane zaproszenie", who),
                    status="CONFIRMED",
                    attendees=remaining,
                )
                for who in remaining
            ),
        ],
        icaljs,
    )

    # 4. The June 15 occurrence cancelled: that RECURRENCE-ID alone, SEQUENCE 2.
    h.clock.advance(dt.timedelta(hours=1))
    with h.admin() as crm:
        crm.cancel_occurrence(meeting_id, dt.date(2026, 6, 15))
    h.run()
    step4 = smtp_sink.wait_for(15)[12:]
    check(
        step4,
        [
            Expected(
                who,
                "CANCEL",
                2,
                warsaw(15, 11),
                recurrence_id=warsaw(15, 11),
                language="pl" if who in pl else "en",
                # The occurrence is named: "Odwołane: Project kick-off (poniedziałek, 15 ...".
                subject=subject("Cancelled", "Odwołane", who) + " (",
                status="CANCELLED",
            )
            for who in remaining
        ],
        icaljs,
    )

    # 5. The meeting cancelled: SEQUENCE 3, STATUS:CANCELLED, to everyone still invited.
    h.clock.advance(dt.timedelta(hours=1))
    with h.admin() as crm:
        crm.cancel_meeting(meeting_id)
    h.run()
    step5 = smtp_sink.wait_for(18)[15:]
    check(
        step5,
        [
            Expected(
                who,
                "CANCEL",
                3,
                warsaw(1, 11),
                language="pl" if who in pl else "en",
                subject=subject("Cancelled", "Odwołane", who),
                status="CANCELLED",
                attendees=remaining,
            )
            for who in remaining
        ],
        icaljs,
    )

    # Nothing more afterwards, and the CRM log tells the story.
    h.run()
    assert len(smtp_sink.messages) == 18
    log = [entry.message for entry in h.crm_log()]
    assert any("CANCEL (uninvited) SEQUENCE 1 queued for 1 recipient" in line for line in log)
    assert any("CANCEL SEQUENCE 3 queued for 3 recipients" in line for line in log)
