"""The ical.js fixture reads zones, all-day values and attendees as Thunderbird does."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.fixtures.icaljs import IcalJs, icaljs_time

pytestmark = pytest.mark.node

SAMPLE = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//invitegw//tests//EN\r\nMETHOD:REQUEST\r\n"
    b"BEGIN:VTIMEZONE\r\nTZID:Europe/Warsaw\r\n"
    b"BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
    b"TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
    b"BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
    b"TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
    b"BEGIN:VEVENT\r\nUID:a@example.com\r\nDTSTAMP:20261123T120000Z\r\n"
    b"DTSTART;TZID=Europe/Warsaw:20260701T090000\r\nDTEND;TZID=Europe/Warsaw:20260701T100000\r\n"
    b"SUMMARY:Zoned\r\nSEQUENCE:2\r\n"
    b"ATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:anna@example.com\r\nEND:VEVENT\r\n"
    b"BEGIN:VEVENT\r\nUID:b@example.com\r\nDTSTAMP:20261123T120000Z\r\n"
    b"DTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261225\r\nSUMMARY:All day\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_reads_what_we_mean(icaljs: IcalJs) -> None:
    result = icaljs.read(SAMPLE)
    assert result["ok"], result["error"]
    assert result["method"] == "REQUEST"
    zoned, all_day = result["events"]
    assert icaljs_time(zoned["start"]) == dt.datetime(2026, 7, 1, 7, 0, tzinfo=dt.UTC)
    assert zoned["sequence"] == 2
    assert zoned["tzids"] == [["Europe/Warsaw", True], ["Europe/Warsaw", True]]
    assert zoned["attendees"][0]["partstat"] == "ACCEPTED"
    assert icaljs_time(all_day["start"]) == dt.date(2026, 12, 24)


def test_reports_what_it_refuses(icaljs: IcalJs) -> None:
    result = icaljs.read(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n")
    assert not result["ok"]
    assert result["error"]
