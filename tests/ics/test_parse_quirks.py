"""Lenient in what we accept, precise in what we report: every known quirk, and the errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from invitegw.errors import IcsParseError
from invitegw.ics import CuType, EventStatus, Method, MethodSource, PartStat, parse_calendar

DATA = Path(__file__).parent / "data"


def cal(
    *lines: str, sep: str = "\r\n", head: tuple[str, ...] = ("VERSION:2.0", "PRODID:t")
) -> bytes:
    return sep.join(("BEGIN:VCALENDAR", *head, *lines, "END:VCALENDAR", "")).encode()


def event(*lines: str, start: str = "DTSTART:20260301T100000Z") -> tuple[str, ...]:
    return ("BEGIN:VEVENT", "UID:q@example.com", start, *lines, "END:VEVENT")


def test_quirks_fixture() -> None:
    calendar = parse_calendar((DATA / "generic_request_quirks.ics").read_bytes())
    assert calendar.method is Method.REQUEST  # written "method:request"
    (good,) = calendar.events
    assert good.uid == "quirks-1@example.com"
    assert good.start_utc == dt.datetime(2026, 3, 18, 17, tzinfo=dt.UTC)
    assert good.end_utc == dt.datetime(2026, 3, 18, 18, 30, tzinfo=dt.UTC)  # DURATION:PT1H30M
    assert good.summary.endswith("and not folded")
    assert good.organizer is not None
    assert (good.organizer.email, good.organizer.cn) == ("", "Events Desk")
    assert good.attendees[0].email == "pia.soler@example.org"
    assert good.attendees[0].partstat is PartStat.TENTATIVE
    assert good.alarms[0].trigger == dt.timedelta(hours=-2)  # TRIGGER:PT-2H
    assert good.exdates == ()  # 30 February ignored, with a warning
    assert good.status is None
    extra = dict(good.extra)
    assert extra["STATUS"] == "status:NEEDS ACTION"
    assert extra["X-EXAMPLE-CUSTOM"] == "x-example-custom;x-param=1:kept as written"
    warnings = "\n".join(calendar.warnings)
    assert "blank line" in warnings
    assert "line 15: VEVENT EXDATE ignored: no such date: 2026-02-30" in warnings
    assert "PT-2H" in warnings
    assert "line 26: VEVENT/DTSTART: no such date: 2026-02-30" in warnings


def test_invalid_dtstart_on_the_only_event_is_an_error_naming_property_and_line() -> None:
    data = cal(*event("SUMMARY:x", start="DTSTART;TZID=Europe/Berlin:20260230T100000"))
    with pytest.raises(IcsParseError) as caught:
        parse_calendar(data)
    error = caught.value
    assert (error.component, error.property, error.line_number) == ("VEVENT", "DTSTART", 6)
    assert "2026-02-30" in str(error)
    assert "line 6" in str(error)


def test_missing_dtstart_in_a_request_is_an_error() -> None:
    with pytest.raises(IcsParseError, match="no DTSTART"):
        parse_calendar(cal("METHOD:REQUEST", "BEGIN:VEVENT", "UID:x", "END:VEVENT"))


def test_reply_and_cancel_may_omit_dtstart() -> None:
    reply = parse_calendar(
        cal(
            "METHOD:REPLY",
            "BEGIN:VEVENT",
            "UID:r@example.com",
            "DTSTAMP:20260102T030405Z",
            "ATTENDEE;PARTSTAT=DECLINED:mailto:b@example.com",
            "END:VEVENT",
        )
    )
    event = reply.events[0]
    assert not event.start_given
    assert event.start == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)  # the DTSTAMP
    assert event.end is None
    cancel = parse_calendar(
        cal(
            "METHOD:CANCEL",
            "BEGIN:VEVENT",
            "UID:c@example.com",
            "DTSTAMP:20260102T030405Z",
            "RECURRENCE-ID;VALUE=DATE:20260110",
            "SEQUENCE:2",
            "END:VEVENT",
        )
    )
    assert cancel.events[0].start == dt.date(2026, 1, 10)
    assert not cancel.events[0].start_given


def test_bare_lf_bom_and_lower_case() -> None:
    data = b"\xef\xbb\xbf" + cal(
        "begin:vevent",
        "uid:l@example.com",
        "dtstart;value=date:20260401",
        "summary:Low",
        "end:vevent",
        sep="\n",
    )
    event = parse_calendar(data).events[0]
    assert (event.uid, event.start, event.summary) == ("l@example.com", dt.date(2026, 4, 1), "Low")


def test_folding_with_tabs_and_long_lines() -> None:
    data = cal(*event("SUMMARY:one", "\ttwo", " three", "DESCRIPTION:" + "x" * 500))
    parsed = parse_calendar(data).events[0]
    assert parsed.summary == "onetwothree"
    assert parsed.description == "x" * 500


def test_text_escapes_and_unicode() -> None:
    data = cal(*event(r"SUMMARY:a\, b\; c\\d\nnew line — ż", r"LOCATION:C:\temp"))
    parsed = parse_calendar(data).events[0]
    assert parsed.summary == "a, b; c\\d\nnew line — ż"
    assert parsed.location == "C:\\temp"


def test_organizer_without_value_and_non_mailto_addresses() -> None:
    data = cal(
        *event(
            "ORGANIZER;CN=Car Rental Ltd",
            "ATTENDEE;CN=Room:urn:uuid:1234",
            "ATTENDEE:MAILTO:Big@Example.COM",
            "ATTENDEE:mailto:big@example.com",
            "ATTENDEE;PARTSTAT=X-MAYBE;ROLE=X-BOSS;CUTYPE=X-ROBOT:mailto:c@example.com",
        )
    )
    calendar = parse_calendar(data)
    parsed = calendar.events[0]
    assert parsed.organizer is not None
    assert parsed.organizer.email == ""
    assert [a.email for a in parsed.attendees] == ["", "big@example.com", "c@example.com"]
    odd = parsed.attendees[2]
    assert (odd.partstat, odd.cutype) == (PartStat.NEEDS_ACTION, CuType.UNKNOWN)
    assert any("listed again" in w for w in calendar.warnings)


def test_parameter_written_into_the_address() -> None:
    data = cal(*event("ORGANIZER:CN=Desk:mailto:Desk@Example.com"))
    organizer = parse_calendar(data).events[0].organizer
    assert organizer is not None
    assert organizer.email == "desk@example.com"


def test_value_date_with_a_time_means_the_day() -> None:
    calendar = parse_calendar(cal(*event(start="DTSTART;VALUE=DATE:20200612T000000")))
    assert calendar.events[0].start == dt.date(2020, 6, 12)
    assert any("leniently" in w for w in calendar.warnings)


def test_dtend_before_dtstart_and_all_day_same_day() -> None:
    backwards = parse_calendar(cal(*event("DTEND:20260301T090000Z"))).events[0]
    assert backwards.end is None
    same = parse_calendar(
        cal(
            *event(
                "DTEND;VALUE=DATE:20260301",
                start="DTSTART;VALUE=DATE:20260301",
            )
        )
    ).events[0]
    assert same.end == dt.date(2026, 3, 2)
    mixed = parse_calendar(
        cal(
            *event(
                "DTEND:20260303T000000",
                start="DTSTART;VALUE=DATE:20260301",
            )
        )
    ).events[0]
    assert mixed.end == dt.date(2026, 3, 3)


def test_utc_wins_over_tzid_and_dtstamp_without_z() -> None:
    calendar = parse_calendar(
        cal(
            *event(
                "DTEND;TZID=Europe/Berlin:20260301T120000Z",
                "DTSTAMP:20260201T080000",
                start="DTSTART;TZID=Europe/Berlin:20260301T110000Z",
            )
        )
    )
    parsed = calendar.events[0]
    assert parsed.start_utc == dt.datetime(2026, 3, 1, 11, tzinfo=dt.UTC)
    assert parsed.dtstamp == dt.datetime(2026, 2, 1, 8, tzinfo=dt.UTC)


def test_lenient_dates_are_read_and_reported() -> None:
    calendar = parse_calendar(cal(*event(start="DTSTART:2026-07-01T125700")))
    assert calendar.events[0].start == dt.datetime(2026, 7, 1, 12, 57)  # noqa: DTZ001
    assert any("leniently" in w for w in calendar.warnings)
    trailing = parse_calendar(cal(*event(start="DTSTART:20131009T170000T")))
    assert trailing.events[0].start == dt.datetime(2013, 10, 9, 17)  # noqa: DTZ001


def test_sequence_summary_and_status_oddities() -> None:
    calendar = parse_calendar(
        cal(
            *event(
                "SEQUENCE:-2",
                "SUMMARY:first",
                "SUMMARY:second",
                "STATUS:cancelled",
                "X-MICROSOFT-CDO-APPT-SEQUENCE:5",
            )
        )
    )
    parsed = calendar.events[0]
    assert parsed.sequence == 5  # the negative SEQUENCE is ignored, the CDO one used
    assert parsed.summary == "first"
    assert parsed.status is EventStatus.CANCELLED


def test_unclosed_and_misnested_components_are_repaired() -> None:
    data = (
        "BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\nBEGIN:VEVENT\r\nUID:u@example.com\r\n"
        "DTSTART:20260101T100000Z\r\nBEGIN:VALARM\r\nTRIGGER:-PT5M\r\nEND:VEVENT\r\n"
        "END:NOTHING\r\n"
    )
    calendar = parse_calendar(data)
    assert calendar.method is Method.CANCEL
    assert calendar.events[0].uid == "u@example.com"
    text = "\n".join(calendar.warnings)
    assert "VALARM (line 6) was not closed" in text
    assert "never closed" in text
    assert "END:NOTHING without a matching BEGIN" in text


def test_not_icalendar_at_all() -> None:
    with pytest.raises(IcsParseError, match="not iCalendar data"):
        parse_calendar(b"Hello, this is an email body.\r\n")
    with pytest.raises(IcsParseError, match="no VCALENDAR"):
        parse_calendar(b"BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n")
    with pytest.raises(IcsParseError):
        parse_calendar(b"")


def test_bare_vevent_is_read_as_a_calendar() -> None:
    calendar = parse_calendar(
        b"BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20260101T100000Z\r\nEND:VEVENT\r\n"
    )
    assert calendar.events[0].uid == "b"
    assert calendar.producer is None


def test_other_components_are_named() -> None:
    calendar = parse_calendar(
        cal("BEGIN:VTODO", "UID:t", "END:VTODO", "BEGIN:VFREEBUSY", "END:VFREEBUSY")
    )
    assert calendar.events == ()
    assert calendar.other_components == ("VTODO", "VFREEBUSY")


def test_encodings() -> None:
    latin1 = cal(*event("SUMMARY:Café")).decode().encode("latin-1")
    calendar = parse_calendar(latin1)
    assert calendar.events[0].summary == "Café"
    assert any("Windows-1252" in w for w in calendar.warnings)
    utf16 = cal(*event("SUMMARY:Zoë")).decode().encode("utf-16")
    assert parse_calendar(utf16).events[0].summary == "Zoë"
    with_nul = cal(*event("SUMMARY:a\x00b"))
    assert parse_calendar(with_nul).events[0].summary == "ab"


def test_calendar_properties_are_kept() -> None:
    calendar = parse_calendar(cal("X-WR-CALNAME:Team", "CALSCALE:GREGORIAN", *event()))
    assert ("X-WR-CALNAME", "X-WR-CALNAME:Team") in calendar.extra
    assert calendar.version == "2.0"


def test_mime_method_disagreeing_and_unknown_methods() -> None:
    data = cal("METHOD:x-custom", *event())
    calendar = parse_calendar(data, mime_method="CANCEL")
    assert (calendar.method, calendar.method_source) == (Method.CANCEL, MethodSource.MIME)
    assert any("x-custom" in w.lower() for w in calendar.warnings)
    conflicting = parse_calendar(cal("METHOD:REQUEST", *event()), mime_method="publish")
    assert conflicting.method is Method.REQUEST
    assert any("differs" in w for w in conflicting.warnings)


def test_alarm_variants() -> None:
    data = cal(
        *event(
            "DTEND:20260301T110000Z",
            "BEGIN:VALARM",
            "ACTION:AUDIO",
            "TRIGGER;RELATED=END:PT5M",
            "END:VALARM",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "DESCRIPTION:x",
            "TRIGGER;VALUE=DATE-TIME:20260301T083000Z",
            "END:VALARM",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "TRIGGER:soon",
            "END:VALARM",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "END:VALARM",
        )
    )
    calendar = parse_calendar(data)
    after_end, absolute = calendar.events[0].alarms
    assert after_end.trigger == dt.timedelta(hours=1, minutes=5)
    assert absolute.trigger_at == dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)
    assert sum("VALARM" in w for w in calendar.warnings) == 2


def test_rrule_kept_even_when_unreadable() -> None:
    calendar = parse_calendar(cal(*event("RRULE:FREQ=SOMETIMES", "RRULE:FREQ=DAILY")))
    parsed = calendar.events[0]
    assert parsed.rrule == "FREQ=SOMETIMES"
    assert parsed.more_rrules == ("FREQ=DAILY",)
    assert parsed.rrules == ("FREQ=SOMETIMES", "FREQ=DAILY")
    assert not any(name == "RRULE" for name, _ in parsed.extra)
    assert any("cannot be expanded" in w for w in calendar.warnings)
