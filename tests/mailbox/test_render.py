"""Invitation bodies: languages, right-to-left, autoescaping, audiences, dates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from invitegw.itip.policy import MessageKind
from invitegw.templates.recurrence_text import RecurrenceSummary, describe_rrule
from invitegw.templates.render import (
    SUPPORTED_LANGUAGES,
    Audience,
    MessageView,
    pick_language,
    render_message,
)

START = dt.datetime(2026, 12, 3, 13, 30, tzinfo=dt.UTC)
# CLDR puts narrow and thin no-break spaces around times; compare with plain spaces.
_SPACES = re.compile("[\u00a0\u2009\u202f]")


def plain(text: str) -> str:
    return _SPACES.sub(" ", text)


def view(**changes: object) -> MessageView:
    base = MessageView(
        kind=MessageKind.INVITATION,
        audience=Audience.INTERNAL,
        language="en",
        title="Quarterly review",
        start=START,
        end=START + dt.timedelta(hours=1),
        time_zone="Europe/Warsaw",
        organizer_name="Anna Kowalska",
        organizer_email="sales+t1@example.com",
        location="Room 4",
        description="Agenda",
        attendees=(("Bob Builder", "bob@example.org"), ("", "carol@example.org")),
        crm_url="https://crm.example.com/meetings/17",
        calendar_name="Sales",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lang", "subject", "time_text"),
    [
        ("en", "Invitation: Quarterly review", "2:30 – 3:30 PM"),
        ("pl", "Zaproszenie: Quarterly review", "14:30–15:30"),
        ("it", "Invito: Quarterly review", "14:30–15:30"),
        ("fa", "دعوت‌نامه: Quarterly review", "14:30 تا 15:30"),
    ],
)
def test_each_language_renders_its_own_words_and_local_time(
    lang: str, subject: str, time_text: str
) -> None:
    body = render_message(view(language=lang))
    assert body.language == lang
    assert body.subject == subject
    # 13:30 UTC is 14:30 in Warsaw in December: the body shows the reader's zone.
    assert time_text in plain(body.text)
    assert time_text in plain(body.html)
    assert f'lang="{lang}"' in body.html


def test_persian_is_right_to_left_and_others_left_to_right() -> None:
    fa = render_message(view(language="fa"))
    assert fa.direction == "rtl"
    assert '<html lang="fa" dir="rtl">' in fa.html
    assert '<body dir="rtl"' in fa.html
    pl = render_message(view(language="pl"))
    assert pl.direction == "ltr"
    assert 'dir="ltr"' in pl.html


def test_unsupported_language_falls_back_to_english() -> None:
    body = render_message(view(language="xx"))
    assert body.language == "en"
    assert body.subject.startswith("Invitation:")


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("pl-PL",), "pl"),
        ((None, "it_IT"), "it"),
        (("de", "fa"), "fa"),
        (("de", None, ""), "en"),
        (("PL",), "pl"),
    ],
)
def test_pick_language(candidates: tuple[str | None, ...], expected: str) -> None:
    assert pick_language(*candidates) == expected


def test_html_is_autoescaped_and_text_is_not() -> None:
    hostile = '<script>alert("x")</script>'
    body = render_message(view(title=hostile, description=hostile, location=hostile))
    assert "<script>" not in body.html
    assert "&lt;script&gt;" in body.html
    assert hostile in body.text


def test_external_recipients_get_no_crm_link_but_reply_guidance() -> None:
    internal = render_message(view())
    external = render_message(view(audience=Audience.EXTERNAL))
    assert "https://crm.example.com/meetings/17" in internal.text
    assert "https://crm.example.com/meetings/17" in internal.html
    assert "crm.example.com" not in external.text
    assert "crm.example.com" not in external.html
    assert "Accept, Tentative or Decline" in external.text
    # Attendee addresses are shown to staff only.
    assert "bob@example.org" in internal.text
    assert "bob@example.org" not in external.text


@pytest.mark.parametrize(
    ("kind", "extra", "subject", "headline"),
    [
        (MessageKind.UPDATE, {}, "Updated invitation: Quarterly review", "has updated"),
        (MessageKind.CANCELLATION, {}, "Cancelled: Quarterly review", "has cancelled"),
        (MessageKind.CANCELLATION, {"removed": True}, "Cancelled:", "no longer invited"),
        (MessageKind.REMINDER, {}, "Reminder: Quarterly review", "coming up"),
    ],
)
def test_kinds(kind: MessageKind, extra: dict[str, object], subject: str, headline: str) -> None:
    body = render_message(view(kind=kind, **extra))
    assert body.subject.startswith(subject)
    assert headline in body.text


def test_cancelled_occurrence_names_its_date_in_subject_and_body() -> None:
    occurrence = dt.datetime(2026, 12, 10, 13, 30, tzinfo=dt.UTC)
    body = render_message(view(kind=MessageKind.CANCELLATION, occurrence=occurrence))
    assert "December 10, 2026" in body.subject
    expected = "The occurrence on Thursday, December 10, 2026, 2:30 PM has been cancelled"
    assert expected in plain(body.text)


def test_update_lists_what_changed() -> None:
    body = render_message(view(kind=MessageKind.UPDATE, changes=("start", "location")))
    assert "What changed: time and place" in body.text
    pl = render_message(view(kind=MessageKind.UPDATE, language="pl", changes=("start",)))
    assert "Co się zmieniło: termin" in pl.text


def test_all_day_meetings_show_dates_only() -> None:
    one_day = render_message(view(start=dt.date(2026, 12, 3), end=dt.date(2026, 12, 4)))
    assert "When: Thursday, December 3, 2026\n" in one_day.text
    assert "PM" not in one_day.text
    two_days = render_message(view(start=dt.date(2026, 12, 3), end=dt.date(2026, 12, 5)))
    assert re.search(r"When: Thu.*Dec.* 3 – Fri.*Dec.* 4, 2026", plain(two_days.text))


def test_meeting_over_midnight_shows_both_dates() -> None:
    start = dt.datetime(2026, 12, 3, 22, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
    body = render_message(view(start=start, end=start + dt.timedelta(hours=3)))
    expected = "Thursday, December 3, 2026, 10:00 PM – Friday, December 4, 2026, 1:00 AM"
    assert expected in plain(body.text)


def test_unknown_display_zone_falls_back_to_utc() -> None:
    body = render_message(view(time_zone="Mars/Olympus"))
    assert "1:30 – 2:30 PM" in plain(body.text)


@pytest.mark.parametrize(
    ("rrule", "lang", "expected"),
    [
        ("FREQ=DAILY", "en", "Repeats: Daily"),
        (
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=5",
            "en",
            "Repeats: Every 2 weeks: Monday and Wednesday, 5 times in all",
        ),
        (
            "FREQ=WEEKLY;BYDAY=TU;UNTIL=20270131T235959Z",
            "pl",
            "Powtarza się: Co tydzień: wtorek, do 31 stycznia 2027",
        ),
        ("FREQ=MONTHLY;INTERVAL=3", "it", "Si ripete: Ogni 3 mesi, il giorno 3"),
        ("FREQ=YEARLY;INTERVAL=5", "pl", "Powtarza się: Co 5 lat"),
        ("FREQ=MONTHLY;BYDAY=2TU", "en", "Repeats: Repeats on a custom schedule"),
    ],
)
def test_recurrence_sentence(rrule: str, lang: str, expected: str) -> None:
    body = render_message(view(rrule=rrule, language=lang))
    assert expected in body.text


def test_describe_rrule_structure() -> None:
    assert describe_rrule("RRULE:FREQ=WEEKLY;BYDAY=FR", START, "en") == RecurrenceSummary(
        freq="WEEKLY", weekdays=("Friday",)
    )
    assert describe_rrule("INTERVAL=2", START, "en") is None
    assert describe_rrule("FREQ=HOURLY", START, "en") == RecurrenceSummary(freq="OTHER")
    assert describe_rrule("FREQ=DAILY;INTERVAL=x", START, "en") == RecurrenceSummary(freq="OTHER")


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize("audience", list(Audience))
def test_every_combination_renders_without_leftovers(
    lang: str, kind: MessageKind, audience: Audience
) -> None:
    body = render_message(view(language=lang, kind=kind, audience=audience, rrule="FREQ=DAILY"))
    for text in (body.subject, body.text, body.html):
        assert "%(" not in text
        assert "{{" not in text
        assert "{%" not in text
    assert "\n" not in body.subject


@pytest.mark.parametrize(
    ("zone", "expected"),
    [("UTC", "UTC"), ("Etc/UTC", "UTC"), ("GMT", "UTC"), ("Etc/GMT+5", "UTC-05:00")],
)
@pytest.mark.parametrize("lang", ["en", "pl", "it", "fa"])
def test_a_zone_without_a_region_is_written_utc(zone: str, expected: str, lang: str) -> None:
    body = render_message(view(time_zone=zone, language=lang))
    assert expected in body.text
    assert "Unknown" not in body.text
    assert "Nieznany" not in body.text
    assert "نامشخص" not in body.text


def test_a_regional_zone_keeps_its_localized_name() -> None:
    assert "Central European" in render_message(view(time_zone="Europe/Warsaw")).text
