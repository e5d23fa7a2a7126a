"""TZIDs real producers write, read to the right instant; and what is noted about them.

Every expected UTC value below was worked out by hand from the zone the producer meant
(summer and winter, so that a zone with the right offset but the wrong DST rules shows).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from invitegw.ics import CalendarObject, ZoneNoteKind, parse_calendar
from invitegw.ics.tzids import _DISPLAY_NAMES, _ENTOURAGE, NameKind, guess_zone, iana_zone

SUMMER = "20260715T090000"
WINTER = "20260115T090000"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def calendar(tzid: str, wall: str, vtimezone: str = "", *, extra_event: str = "") -> bytes:
    """One VEVENT at ``wall`` in ``tzid`` (quoted, as producers quote names with commas)."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\n"
        + vtimezone.replace("\n", "\r\n")
        + "BEGIN:VEVENT\r\nUID:tz@example.com\r\nDTSTAMP:20260101T000000Z\r\n"
        + f'DTSTART;TZID="{tzid}":{wall}\r\nEND:VEVENT\r\n'
        + extra_event
        + "END:VCALENDAR\r\n"
    ).encode()


def parsed(tzid: str, wall: str, vtimezone: str = "") -> CalendarObject:
    return parse_calendar(calendar(tzid, wall, vtimezone))


# (TZID as written, wall time, the instant meant)
WITHOUT_VTIMEZONE = [
    # vendor prefixes: the longest IANA suffix
    ("/Europe/Stockholm", SUMMER, "2026-07-15T07:00"),
    ("/freeassociation.sourceforge.net/Tzfile/Europe/Berlin", SUMMER, "2026-07-15T07:00"),
    ("/freeassociation.sourceforge.net/Europe/Berlin", WINTER, "2026-01-15T08:00"),
    ("/mozilla.org/20070129_1/Europe/Paris", SUMMER, "2026-07-15T07:00"),
    ("/mozilla.org/20070129_1/Europe/Paris", WINTER, "2026-01-15T08:00"),
    ("/softwarestudio.org/Olson_20011030_5/America/New_York", SUMMER, "2026-07-15T13:00"),
    ("/citadel.org/20190914_1/Europe/Berlin", SUMMER, "2026-07-15T07:00"),
    ("/mozilla.org/20050126_1/America/Argentina/Buenos_Aires", SUMMER, "2026-07-15T12:00"),
    (
        "/freeassociation.sourceforge.net/Tzfile/America/Indiana/Indianapolis",
        WINTER,
        "2026-01-15T14:00",
    ),
    ("/MOZILLA.ORG/20070129_1/europe/paris", SUMMER, "2026-07-15T07:00"),
    # Windows display names without their (UTC+hh:mm) prefix
    ("Brussels, Copenhagen, Madrid, Paris", SUMMER, "2026-07-15T07:00"),
    ("Brussels, Copenhagen, Madrid, Paris", WINTER, "2026-01-15T08:00"),
    ("Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", SUMMER, "2026-07-15T07:00"),
    ("amsterdam,berlin , bern,ROME, stockholm,  vienna", WINTER, "2026-01-15T08:00"),
    ("Western/Central Europe", SUMMER, "2026-07-15T07:00"),
    ("Eastern Time (US & Canada)", SUMMER, "2026-07-15T13:00"),
    ("Eastern Time (US and Canada)", WINTER, "2026-01-15T14:00"),
    ("Pacific Time (US & Canada); Tijuana", SUMMER, "2026-07-15T16:00"),
    ("Pacific Time (US & Canada), Tijuana", WINTER, "2026-01-15T17:00"),
    ("Pacific Time (US & Canada) ;Tijuana", SUMMER, "2026-07-15T16:00"),
    ("Canberra, Melbourne, Sydney", SUMMER, "2026-07-14T23:00"),  # winter down under
    ("Canberra, Melbourne, Sydney", WINTER, "2026-01-14T22:00"),
    ("Chennai, Kolkata, Mumbai, New Delhi", SUMMER, "2026-07-15T03:30"),
    ("Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London", SUMMER, "2026-07-15T08:00"),
    ("(GMT) Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London", WINTER, "2026-01-15T09:00"),
    ("(GMT+01.00) Brussels / Copenhagen / Madrid / Paris", SUMMER, "2026-07-15T07:00"),
    ("Eastern Time (US & Canada) - Custom", SUMMER, "2026-07-15T13:00"),
    ("Amsterdam, Berlin, Bern, Rom, Stockholm, Wien", SUMMER, "2026-07-15T07:00"),  # German
    # Entourage / Outlook for Mac
    ("GMT -0500 (Standard) / GMT -0400 (Daylight)", SUMMER, "2026-07-15T13:00"),
    ("GMT -0500 (Standard) / GMT -0400 (Daylight)", WINTER, "2026-01-15T14:00"),
    ("GMT +0100 (Standard) / GMT +0200 (Daylight)", SUMMER, "2026-07-15T07:00"),
    ("GMT -0800 (Standard) / GMT -0700 (Daylight)", WINTER, "2026-01-15T17:00"),
    ("GMT +1000 (Standard) / GMT +1100 (Daylight)", WINTER, "2026-01-14T22:00"),
    # Windows ids, also cut short (Lotus Notes) and in older spellings
    ("Central Europe Standard Time", SUMMER, "2026-07-15T07:00"),
    ("Central European", WINTER, "2026-01-15T08:00"),
    ("W. Europe", SUMMER, "2026-07-15T07:00"),
    ("Eastern", WINTER, "2026-01-15T14:00"),
    ("A.U.S. Eastern Standard Time", SUMMER, "2026-07-14T23:00"),
    ("Transitional Islamic State of Afghanistan Standard Time", SUMMER, "2026-07-15T04:30"),
    # CLDR metazone names
    ("Eastern Time", SUMMER, "2026-07-15T13:00"),
    ("Central European Summer Time", SUMMER, "2026-07-15T07:00"),
]


@pytest.mark.parametrize(("tzid", "wall", "instant"), WITHOUT_VTIMEZONE)
def test_real_tzids_without_vtimezone_give_the_instant_meant(
    tzid: str, wall: str, instant: str
) -> None:
    event = parsed(tzid, wall).events[0]
    assert not event.floating
    assert event.start_utc == utc(instant)
    assert event.original_tzid == tzid
    assert event.tzid is not None  # an IANA zone, so that later dates of a series are right


@pytest.mark.parametrize(
    ("tzid", "zone", "kind"),
    [
        ("/Europe/Stockholm", "Europe/Stockholm", NameKind.IANA),
        ("/mozilla.org/20070129_1/Europe/Paris", "Europe/Paris", NameKind.IANA),
        ("W. Europe Standard Time", "Europe/Berlin", NameKind.WINDOWS),
        ("India Standard Time", "Asia/Kolkata", NameKind.WINDOWS),  # not CLDR's Asia/Calcutta
        ("Brussels, Copenhagen, Madrid, Paris", "Europe/Paris", NameKind.WINDOWS),
        ("Brussels\\, Copenhagen\\, Madrid\\, Paris", "Europe/Paris", NameKind.WINDOWS),
        ("Pacific Time (US & Canada)\\; Tijuana", "America/Los_Angeles", NameKind.WINDOWS),
        (
            "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
            "Europe/Berlin",
            NameKind.WINDOWS,
        ),
        ("Western/Central Europe", "Europe/Berlin", NameKind.GUESS),
        ("GMT -0500 (Standard) / GMT -0400 (Daylight)", "America/New_York", NameKind.GUESS),
        ("W. Europe", "Europe/Berlin", NameKind.GUESS),
        ("Eastern Time", "America/New_York", NameKind.GUESS),
        ("Amsterdam, Berlin, Bern, Rom, Stockholm, Wien", "Europe/Berlin", NameKind.GUESS),
    ],
)
def test_names_and_guesses_are_told_apart(tzid: str, zone: str, kind: NameKind) -> None:
    guess = guess_zone(tzid)
    assert guess is not None
    assert (guess.iana, guess.kind) == (zone, kind)
    assert guess.authoritative is (kind in (NameKind.IANA, NameKind.WINDOWS))


def test_an_entourage_name_without_daylight_saving_is_a_fixed_offset() -> None:
    event = parsed("GMT +0530 (Standard) / GMT +0530 (Daylight)", SUMMER).events[0]
    assert event.start_utc == utc("2026-07-15T03:30")
    assert event.start.utcoffset() == dt.timedelta(hours=5, minutes=30)  # type: ignore[union-attr]
    assert event.tzid is None  # no IANA zone is that offset alone


def test_a_display_name_whose_offset_is_wrong_is_not_that_zone() -> None:
    # Amsterdam is never UTC+02:00 in winter: not the W. Europe display name, no city fits.
    assert guess_zone("(UTC+02:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna") is None
    assert guess_zone("(UTC-05:00) Brussels, Copenhagen, Madrid, Paris") is None


def test_a_windows_display_name_reads_as_its_windows_id() -> None:
    # One zone, one name: an update sent with the id must not look like a zone change.
    for display, windows_id in [
        ("(UTC+01:00) Sarajevo, Skopje, Warsaw, Zagreb", "Central European Standard Time"),
        ("(UTC-06:00) Central Time (US & Canada)", "Central Standard Time"),
        ("(UTC+02:00) Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius", "FLE Standard Time"),
    ]:
        by_display, by_id = guess_zone(display), guess_zone(windows_id)
        assert by_display is not None
        assert by_id is not None
        assert by_display.iana == by_id.iana


# -- properties over the tables and the database ---------------------------------------------

_VENDORS = [
    "",
    "mozilla.org/20070129_1/",
    "mozilla.org/20050126_1/",
    "freeassociation.sourceforge.net/Tzfile/",
    "freeassociation.sourceforge.net/",
    "softwarestudio.org/Olson_20011030_5/",
    "citadel.org/20190914_1/",
]
_ZONES = sorted(name for name in zoneinfo.available_timezones() if iana_zone(name) is not None)


@given(
    zone=st.sampled_from(_ZONES),
    vendor=st.sampled_from(_VENDORS),
    lower=st.booleans(),
)
def test_any_iana_name_behind_any_vendor_prefix(zone: str, vendor: str, lower: bool) -> None:
    written = f"/{vendor}{zone.lower() if lower else zone}"
    guess = guess_zone(written)
    assert guess is not None
    assert guess.iana == zone
    assert guess.authoritative


def _standard_offset_now(zone: ZoneInfo) -> dt.timedelta:
    moment = dt.datetime(2026, 1, 15, 12, tzinfo=zone)
    offset, dst = moment.utcoffset(), moment.dst()
    assert offset is not None
    assert dst is not None
    return offset - dst if dst >= dt.timedelta(0) else offset


def _label(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    return f"(UTC{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d})"


@pytest.mark.parametrize(("display", "target"), sorted(_DISPLAY_NAMES.items()))
@settings(max_examples=12)  # per display name: 12 spellings each
@given(
    case=st.sampled_from([str, str.lower, str.upper]),
    separator=st.sampled_from([", ", ",", " , ", " / ", "; "]),
    conjunction=st.sampled_from(["&", "and", " & "]),
    prefixed=st.booleans(),
)
def test_every_display_name_in_any_spelling(
    display: str,
    target: str,
    case: object,
    separator: str,
    conjunction: str,
    prefixed: bool,
) -> None:
    # The zone the name stands for: its Windows id read as producers' ids are read.
    meant = guess_zone(target) if target in WINDOWS_TO_OLSON else None
    zone = meant.zone if meant is not None else iana_zone(target)
    assert isinstance(zone, ZoneInfo), f"{display!r} -> {target!r} is no zone"
    written = display.replace(", ", separator)
    written = re.sub(r"\s*&\s*|\band\b", f" {conjunction.strip()} ", written)
    written = case(written)  # type: ignore[operator]
    if prefixed:
        written = f"{_label(_standard_offset_now(zone))} {written}"
    guess = guess_zone(written)
    assert guess is not None, written
    assert guess.iana == zone.key, written


@pytest.mark.parametrize(("pair", "zone_name"), sorted(_ENTOURAGE.items()))
def test_every_entourage_pair_names_a_zone_that_had_those_offsets(
    pair: tuple[int, int], zone_name: str
) -> None:
    standard, daylight = (dt.timedelta(minutes=minutes) for minutes in pair)

    def text(offset: dt.timedelta) -> str:
        minutes = int(offset.total_seconds()) // 60
        return f"GMT {'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"

    guess = guess_zone(f"{text(standard)} (Standard) / {text(daylight)} (Daylight)")
    assert guess is not None
    assert guess.iana == zone_name
    zone = ZoneInfo(zone_name)
    seen = {
        (
            dt.datetime(year, 1, 15, tzinfo=zone).utcoffset(),
            dt.datetime(year, 7, 15, tzinfo=zone).utcoffset(),
        )
        for year in range(2000, 2027)
    }
    # Some year had exactly this standard and this daylight offset (either hemisphere).
    assert (standard, daylight) in seen or (daylight, standard) in seen


@given(st.text(max_size=80))
def test_any_text_gives_a_usable_zone_or_none(text: str) -> None:
    guess = guess_zone(text)
    if guess is not None:
        assert dt.datetime(2026, 7, 1, tzinfo=guess.zone).utcoffset() is not None


# -- the producer's VTIMEZONE against the name ----------------------------------------------

STALE_NEW_YORK = (
    # eM Client's shape: the 2007 onsets and no rule, so UTC-5 all of 2026.
    "BEGIN:VTIMEZONE\nTZID:{tzid}\nBEGIN:STANDARD\nDTSTART:20071104T020000\n"
    "TZOFFSETFROM:-0400\nTZOFFSETTO:-0500\nEND:STANDARD\nBEGIN:DAYLIGHT\n"
    "DTSTART:20070311T020000\nTZOFFSETFROM:-0500\nTZOFFSETTO:-0400\nEND:DAYLIGHT\n"
    "END:VTIMEZONE\n"
)
CET_ONLY = (
    "BEGIN:VTIMEZONE\nTZID:{tzid}\nBEGIN:STANDARD\nDTSTART:19701025T030000\n"
    "TZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE\n"
)


@pytest.mark.parametrize(
    ("tzid", "vtimezone", "instant", "zone"),
    [
        # an IANA name: the IANA zone, not the stale VTIMEZONE (13:00Z would be UTC-4)
        ("America/New_York", STALE_NEW_YORK, "2026-07-15T13:00", "America/New_York"),
        # a Windows id: likewise
        ("Eastern Standard Time", STALE_NEW_YORK, "2026-07-15T13:00", "America/New_York"),
        # a Windows display name: likewise
        (
            "(UTC-05:00) Eastern Time (US & Canada)",
            STALE_NEW_YORK,
            "2026-07-15T13:00",
            "America/New_York",
        ),
        # a vendor-prefixed IANA name with a VTIMEZONE of another region altogether
        (
            "/mozilla.org/20070129_1/America/New_York",
            CET_ONLY,
            "2026-07-15T13:00",
            "America/New_York",
        ),
    ],
)
def test_a_zone_name_wins_over_its_vtimezone_and_the_difference_is_noted(
    tzid: str, vtimezone: str, instant: str, zone: str
) -> None:
    calendar = parsed(tzid, SUMMER, vtimezone.format(tzid=tzid))
    event = calendar.events[0]
    assert event.start_utc == utc(instant)
    assert event.tzid == zone
    (note,) = calendar.zone_notes
    assert note.kind is ZoneNoteKind.IANA_OVER_VTIMEZONE
    assert (note.tzid, note.zone) == (tzid, zone)
    assert note.at is not None
    assert note.vtimezone_offset is not None
    assert note.zone_offset is not None
    # The offsets noted are the two zones' own at the moment noted.
    assert note.zone_offset == note.at.replace(tzinfo=ZoneInfo(zone)).utcoffset()
    assert note.vtimezone_offset != note.zone_offset
    assert note.text in calendar.warnings
    assert event.zone_notes == (note,)


@pytest.mark.parametrize(
    ("tzid", "vtimezone", "instant", "guessed"),
    [
        # a custom label: RFC 5545, the VTIMEZONE decides; nothing to disagree with
        ("My Office Time", STALE_NEW_YORK, "2026-07-15T14:00", None),
        # a name only guessed from (a region, a city list, offsets): likewise, noted
        ("Western/Central Europe", STALE_NEW_YORK, "2026-07-15T14:00", "Europe/Berlin"),
        ("Berlin, Paris office", STALE_NEW_YORK, "2026-07-15T14:00", "Europe/Berlin"),
        (
            "GMT +0100 (Standard) / GMT +0200 (Daylight)",
            CET_ONLY,
            "2026-07-15T08:00",
            "Europe/Berlin",
        ),
    ],
)
def test_a_custom_or_guessed_name_yields_to_its_vtimezone(
    tzid: str, vtimezone: str, instant: str, guessed: str | None
) -> None:
    calendar = parsed(tzid, SUMMER, vtimezone.format(tzid=tzid))
    event = calendar.events[0]
    assert event.start_utc == utc(instant)
    assert event.tzid is None
    assert [note.zone for note in calendar.zone_notes] == ([guessed] if guessed else [])
    for note in calendar.zone_notes:
        assert note.kind is ZoneNoteKind.VTIMEZONE_OVER_GUESS
        assert note.at is not None
        assert note.vtimezone_offset == note.at.replace(tzinfo=event.start.tzinfo).utcoffset()  # type: ignore[union-attr]
        assert note.zone_offset == note.at.replace(tzinfo=ZoneInfo(note.zone or "")).utcoffset()


def test_an_unknown_name_uses_the_vtimezone_the_message_carries() -> None:
    # UTC+05:45 with no DST: no IANA zone is guessed from the name, the VTIMEZONE decides.
    vtimezone = (
        "BEGIN:VTIMEZONE\nTZID:Company HQ\nBEGIN:STANDARD\nDTSTART:19860101T000000\n"
        "TZOFFSETFROM:+0545\nTZOFFSETTO:+0545\nEND:STANDARD\nEND:VTIMEZONE\n"
    )
    assert guess_zone("Company HQ") is None
    calendar = parsed("Company HQ", SUMMER, vtimezone)
    event = calendar.events[0]
    assert event.start_utc == utc("2026-07-15T03:15")
    assert event.tzid is None
    assert calendar.zone_notes == ()


def test_a_guessed_name_that_agrees_with_its_vtimezone_reads_as_the_iana_zone() -> None:
    cet = (
        "BEGIN:VTIMEZONE\nTZID:W. Europe\nBEGIN:STANDARD\nDTSTART:19701025T030000\n"
        "TZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\n"
        "END:STANDARD\nBEGIN:DAYLIGHT\nDTSTART:19700329T020000\nTZOFFSETFROM:+0100\n"
        "TZOFFSETTO:+0200\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\nEND:DAYLIGHT\n"
        "END:VTIMEZONE\n"
    )
    calendar = parsed("W. Europe", SUMMER, cet)
    assert calendar.events[0].tzid == "Europe/Berlin"
    assert calendar.events[0].start_utc == utc("2026-07-15T07:00")
    assert calendar.zone_notes == ()


def test_notes_without_vtimezone_and_per_event() -> None:
    second = (
        "BEGIN:VEVENT\r\nUID:other@example.com\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART;TZID=Nowhere Special:20260301T100000\r\nEND:VEVENT\r\n"
    )
    calendar = parse_calendar(calendar_with(second))
    guessed, unknown = calendar.events
    assert [note.kind for note in calendar.zone_notes] == [
        ZoneNoteKind.GUESSED_WITHOUT_VTIMEZONE,
        ZoneNoteKind.FLOATING,
    ]
    (note,) = guessed.zone_notes
    assert (note.tzid, note.zone, note.how) == (
        "Western/Central Europe",
        "Europe/Berlin",
        "region name",
    )
    assert unknown.floating
    assert [n.kind for n in unknown.zone_notes] == [ZoneNoteKind.FLOATING]


def calendar_with(extra_event: str) -> bytes:
    return calendar("Western/Central Europe", SUMMER, extra_event=extra_event)


def test_an_exact_iana_name_needs_no_note() -> None:
    calendar = parsed("Europe/Berlin", SUMMER)
    assert calendar.zone_notes == ()
    assert calendar.events[0].zone_notes == ()
