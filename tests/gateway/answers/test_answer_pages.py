"""The answer page over HTTP (uvicorn on loopback, httpx as the browser): what GET shows and
never changes, what POST records (as a REPLY would), and what it refuses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from invitegw.gateway.storage import EventLogEntry, Store
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.answers.harness import (
    AnswerHarness,
    answer_link,
    body_text,
    confirm,
    form_value,
)
from tests.gateway.outbound.builders import WARSAW
from tests.gateway.outbound.harness import parse_message
from tests.gateway.outbound.test_end_to_end import check_mime

GINA = "gina@example.org"
PAWEL = "pawel@example.org"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def h(store: Store, smtp_sink: SmtpSink, tmp_path: Path) -> Iterator[AnswerHarness]:
    harness = AnswerHarness(store, smtp_sink, tmp_path)
    harness.seed()
    try:
        yield harness
    finally:
        harness.close()


def test_get_shows_the_meeting_and_changes_nothing_post_records_as_a_reply(
    h: AnswerHarness,
) -> None:
    meeting = h.create_meeting()
    h.run()
    link = answer_link(h.message_to(GINA).raw, "no")
    with httpx.Client(timeout=30) as client:
        for _ in range(3):  # a link scanner, a preview, the person
            page = client.get(link)
            assert page.status_code == 200
        assert "Project kick-off" in page.text
        assert 'value="no" checked' in page.text
        assert "10:00" in page.text  # in Gina's zone: the meeting's (she has none)
        assert "Central European Time" in page.text
        assert h.responses() == []
        assert h.attendee(GINA).partstat == "NEEDS-ACTION"
        done = confirm(client, link, "no", comment="Away that week")
    assert done.status_code == 200, done.text
    assert "your answer is recorded" in done.text
    assert h.responses() == [(GINA, "DECLINED", None, "Away that week")]
    row = h.attendee(GINA)
    assert (row.partstat, row.partstat_sequence) == ("DECLINED", 0)
    with h.store.session() as session:
        entry = session.scalars(
            select(EventLogEntry).where(EventLogEntry.kind == "reply-recorded")
        ).one()
        assert entry.meeting_id == meeting
        assert entry.message_id is not None
        assert entry.message_id.startswith("answer-")
    sent = len(h.sink.messages)
    h.dispatcher.flush()
    notice = h.message_to("olga@example.com", since=sent)
    assert str(parse_message(notice.raw)["Subject"]) == "Declined: Project kick-off"
    assert "Away that week" in body_text(notice.raw)


def test_a_second_post_of_the_same_answer_changes_nothing_a_new_answer_is_recorded(
    h: AnswerHarness,
) -> None:
    h.create_meeting()
    h.run()
    raw = h.message_to(GINA).raw
    with httpx.Client(timeout=30) as client:
        assert confirm(client, answer_link(raw, "yes"), "yes").status_code == 200
        again = confirm(client, answer_link(raw, "yes"), "yes")
        assert again.status_code == 200
        assert h.responses() == [(GINA, "ACCEPTED", None, "")]
        h.clock.advance(dt.timedelta(minutes=5))
        assert confirm(client, answer_link(raw, "maybe"), "maybe").status_code == 200
    assert h.responses() == [(GINA, "ACCEPTED", None, ""), (GINA, "TENTATIVE", None, "")]
    notices = [m for m in h.outbox() if m.kind == "answer-notice"]
    assert len(notices) == 2  # one per recorded answer, none for the repeat


def test_links_are_in_both_bodies_one_set_per_attendee(h: AnswerHarness) -> None:
    h.create_meeting()
    h.run()
    raw = h.message_to(GINA).raw
    check_mime(parse_message(raw), "REQUEST")  # the layout the end-to-end tests require
    assert answer_link(raw, "yes") == answer_link(raw, "yes", "html")
    assert answer_link(h.message_to(PAWEL).raw, "no") != answer_link(raw, "no")
    assert "Czy weźmiesz udział?" in body_text(h.message_to(PAWEL).raw)  # Polish
    assert "/answer/" not in body_text(h.message_to("olga@example.com").raw)  # the CHAIR's copy


def test_a_tampered_link_gets_a_clear_page_and_records_nothing(h: AnswerHarness) -> None:
    h.create_meeting()
    h.run()
    link = answer_link(h.message_to(GINA).raw, "no")
    other = answer_link(h.message_to(PAWEL).raw, "no")
    base, signature = link.split("?")[0].rsplit(".", 1)
    forged = base.replace(base.rsplit("/", 1)[1].split(".")[1], "t000000000000099")
    with httpx.Client(timeout=30) as client:
        for bad in (
            f"{base}.{signature[:-2]}xx",  # changed signature
            f"{forged}.{signature}",  # Gina's signature on another reply token
            f"{other.split('?')[0].rsplit('.', 1)[0]}.{signature}",  # on Paweł's
        ):
            page = client.get(bad)
            assert page.status_code == 400
            assert "This link is not valid" in page.text
            posted = client.post(bad, data={"answer": "no", "form": "x"})
            assert posted.status_code == 400
        # Gina's form value does not answer for Paweł.
        gina_form = form_value(client.get(link).text)
        posted = client.post(other.split("?")[0], data={"answer": "no", "form": gina_form})
        assert posted.status_code == 400
    assert h.responses() == []


def test_pages_carry_the_security_headers_and_no_script(h: AnswerHarness) -> None:
    h.create_meeting()
    h.run()
    link = answer_link(h.message_to(GINA).raw, "maybe")
    with httpx.Client(timeout=30) as client:
        for response in (client.get(link), client.get(link.replace("/answer/", "/answer/x"))):
            csp = response.headers["content-security-policy"]
            assert "default-src 'none'" in csp
            assert "script-src" not in csp  # none at all: default-src 'none'
            assert "frame-ancestors 'none'" in csp
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert "<script" not in response.text
            assert "style=" not in response.text


def test_cross_site_posts_oversized_bodies_and_floods_are_refused(h: AnswerHarness) -> None:
    h.create_meeting()
    h.run()
    link = answer_link(h.message_to(GINA).raw, "no")
    target = link.split("?")[0]
    with httpx.Client(timeout=30) as client:
        form = form_value(client.get(link).text)
        data = {"answer": "no", "form": form}
        cross = client.post(target, data=data, headers={"origin": "https://evil.example"})
        assert cross.status_code == 403
        fetch = client.post(target, data=data, headers={"sec-fetch-site": "cross-site"})
        assert fetch.status_code == 403
        big = client.post(target, content=b"answer=no&comment=" + b"x" * 9000, headers=FORM)
        assert big.status_code == 400
        assert h.responses() == []
        long_comment = client.post(target, data={**data, "comment": "y" * 2000})
        assert long_comment.status_code == 200
    assert h.responses() == [(GINA, "DECLINED", None, "y" * 500)]


def test_a_superseded_link_says_what_changed(h: AnswerHarness) -> None:
    meeting = h.create_meeting()
    h.run()
    old = answer_link(h.message_to(GINA).raw, "yes")
    with h.admin() as crm:
        crm.update_meeting(
            meeting,
            start=dt.datetime(2026, 6, 1, 12, tzinfo=WARSAW),
            end=dt.datetime(2026, 6, 1, 13, tzinfo=WARSAW),
            location="Room 7",
        )
    sent = len(h.sink.messages)
    h.run()
    new = answer_link(h.message_to(GINA, since=sent).raw, "yes")
    with httpx.Client(timeout=30) as client:
        page = client.get(old)
        assert "has been updated since this link was sent" in page.text
        assert "What changed: time and place" in page.text
        assert 'name="form"' not in page.text  # no form: it cannot answer
        posted = client.post(old.split("?")[0], data={"answer": "yes", "form": "x"})
        assert posted.status_code == 400  # no form value: the page never offered one
        assert h.responses() == []
        assert confirm(client, new, "yes").status_code == 200
    assert h.responses() == [(GINA, "ACCEPTED", None, "")]
    assert h.attendee(GINA).partstat_sequence == 1


def test_removed_attendees_and_meetings_over_are_refused(h: AnswerHarness) -> None:
    meeting = h.create_meeting(rrule=None)
    h.run()
    gina = answer_link(h.message_to(GINA).raw, "yes")
    pawel = answer_link(h.message_to(PAWEL).raw, "yes")
    with httpx.Client(timeout=30) as client:
        pawel_form = form_value(client.get(pawel).text)
        with h.admin() as crm:
            crm.remove_attendee(meeting, GINA)
        h.run()
        assert "no longer invited" in client.get(gina).text
        h.clock.now = dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)  # after the end (11:00 Warsaw)
        page = client.get(pawel)
        assert "To spotkanie już się odbyło" in page.text  # in Paweł's language
        posted = client.post(pawel.split("?")[0], data={"answer": "yes", "form": pawel_form})
        assert posted.status_code == 409
        assert "To spotkanie już się odbyło" in posted.text
    assert h.responses() == []


def test_a_moved_occurrence_has_its_own_links_and_answer(h: AnswerHarness) -> None:
    meeting = h.create_meeting()
    h.run()
    series = answer_link(h.message_to(GINA).raw, "yes")
    with h.admin() as crm:
        crm.move_occurrence(
            meeting,
            dt.datetime(2026, 6, 8, 10, tzinfo=WARSAW),
            dt.datetime(2026, 6, 9, 15, tzinfo=WARSAW),
            dt.datetime(2026, 6, 9, 16, tzinfo=WARSAW),
        )
    sent = len(h.sink.messages)
    h.run()
    occurrence = answer_link(h.message_to(GINA, since=sent).raw, "no")
    with httpx.Client(timeout=30) as client:
        page = client.get(occurrence)
        assert "for the occurrence on Monday, June 8, 2026" in page.text
        assert "Tuesday, June 9, 2026" in page.text  # where it moved to
        assert confirm(client, occurrence, "no").status_code == 200
        assert confirm(client, series, "yes").status_code == 200  # the series link still answers
        assert "Your answer on record: No." in client.get(occurrence).text
        assert "Your answer on record: Yes." in client.get(series).text
    assert h.responses() == [
        (GINA, "DECLINED", "20260608T080000Z", ""),
        (GINA, "ACCEPTED", None, ""),
    ]
    assert h.attendee(GINA).partstat == "ACCEPTED"  # the series' answer


def test_a_flood_of_posts_on_one_link_is_stopped(h: AnswerHarness) -> None:
    h.create_meeting()
    h.run()
    target = answer_link(h.message_to(GINA).raw, "no").split("?")[0]
    with httpx.Client(timeout=30) as client:
        codes = [client.post(target, data={"answer": "no"}).status_code for _ in range(21)]
    assert codes == [400] * 20 + [429]  # no form value: refused, then no longer even read
    assert h.responses() == []
