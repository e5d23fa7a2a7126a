"""The *Other attendees* text area: every form people type, and what vtiger's web form does
to ``Name <address>`` (it keeps ``Name`` only: issue 11), noted once on the meeting's log.
"""

from __future__ import annotations

import logging

import pytest

from invitegw.crm_adapter.vtiger import VtigerCrm
from invitegw.crm_adapter.vtiger.attendee_text import Skipped, SkipReason, parse_attendee_text
from tests.crm_adapter.vtiger.conftest import Seeder, element_of, make_options, requests_of
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock

FIELD = "cf_854"
LENA = "lena@prospect.example"
BOB = "bob@example.org"


@pytest.mark.parametrize(
    "text",
    [
        f"Lena Lead ({LENA}), Bob Builder ({BOB})",
        f"Lena Lead {LENA}\nBob Builder {BOB}",
        f"{LENA}; {BOB}",
        f"{LENA}, {BOB}",
        f"{LENA}\r\n{BOB}\n",
        f'"Lead, Lena" {LENA}; "Bob" {BOB}',
        f"Lena Lead <{LENA}>, Bob Builder <{BOB}>",
        f"{LENA} (Lena Lead)\n\nmailto:{BOB}",
        f"LENA@Prospect.Example, {BOB}, {LENA}",
        f"Lena Lead &lt;{LENA}&gt;, {BOB}",
    ],
    ids=[
        "name-parens",
        "name-space",
        "semicolons",
        "commas",
        "lines",
        "quoted-names",
        "angle-brackets",
        "address-then-name",
        "repeats-and-case",
        "html-escaped",
    ],
)
def test_every_form_people_type_is_read(text: str) -> None:
    parsed = parse_attendee_text(text)
    assert parsed.addresses == (LENA, BOB)
    assert parsed.clean


def test_what_cannot_be_used_is_skipped_with_its_reason() -> None:
    parsed = parse_attendee_text(
        f"Lena Lead \n{BOB}, carl@, Dora Dean (dora@@example.org); ann@localhost,\n, <>"
    )
    assert parsed.addresses == (BOB,)
    assert parsed.skipped == (
        Skipped("Lena Lead", SkipReason.NO_ADDRESS),
        Skipped("carl@", SkipReason.NOT_AN_ADDRESS),
        Skipped("dora@@example.org", SkipReason.NOT_AN_ADDRESS),
        Skipped("ann@localhost", SkipReason.NOT_AN_ADDRESS),
    )


def test_an_unclosed_bracket_does_not_swallow_the_next_lines() -> None:
    parsed = parse_attendee_text(f"Lena Lead ({LENA}\n{BOB}")
    assert parsed.addresses == (LENA, BOB)


def test_limits_are_counted_not_silent() -> None:
    text = ", ".join(f"p{n}@example.org" for n in range(5))
    parsed = parse_attendee_text(text, limit=3)
    assert len(parsed.addresses) == 3
    assert parsed.dropped == 2
    long = parse_attendee_text(f"{LENA}, {BOB}", max_chars=len(LENA) + 4)
    assert long.truncated
    assert long.addresses == (LENA,)


@pytest.fixture
def field(fake: FakeVtiger) -> str:
    fake.add_field("Events", FIELD, "text", label="Other attendees")
    return FIELD


def _notes(fake: FakeVtiger) -> list[tuple[str, str]]:
    return [
        (str(r.values["related_to"]), str(r.values["commentcontent"]))
        for r in fake.records.values()
        if r.module == "ModComments"
    ]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "invitegw.crm_adapter.vtiger.crmlog" and r.levelno >= logging.WARNING
    ]


def test_the_web_form_drops_the_address_and_the_meeting_log_says_so_once(
    server: FakeVtigerServer,
    seed: Seeder,
    fake: FakeVtiger,
    clock: ManualClock,
    field: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="invitegw")
    account = seed.account("Prospect Ltd")
    typed = f"Lena Lead <{LENA}>\nBob Builder ({BOB})"
    event = fake.ui_save(
        seed.admin,
        "Events",
        {
            "subject": "Demo",
            "activitytype": "Meeting",
            "eventstatus": "Planned",
            "date_start": "2030-01-15",
            "time_start": "09:00:00",
            "due_date": "2030-01-15",
            "time_end": "10:00:00",
            "duration_hours": "1",
            "assigned_user_id": seed.admin,
            "parent_id": account,
            field: typed,
        },
    )["id"]
    assert fake.records[int(event.partition("x")[2])].values[field] == (
        f"Lena Lead \nBob Builder ({BOB})"
    )
    options = make_options(server.url, attendees_field=field)
    with VtigerCrm(options) as crm:
        cursor = None
        for n in range(3):  # three passes, each seeing the meeting changed
            batch = crm.changed_meetings(cursor)
            [meeting] = [c.meeting for c in batch.changes if c.meeting]
            assert [p.id for p in meeting.attendees] == [f"email:{BOB}"]
            cursor = batch.cursor
            clock.advance(60)
            seed.revise(event, location=f"Room {n}")
    [(related, text)] = _notes(fake)
    assert related == account
    assert ' warning] Other attendees (cf_854): not invited: "Lena Lead" (no address' in text
    assert "vtiger's web form removes <...>" in text
    assert f'(meeting "Demo" {event})' in text
    assert len(_warnings(caplog)) == 1

    caplog.clear()
    with VtigerCrm(options) as later:  # a new process (serve --once from cron)
        assert later.get_meeting(event) is not None
    assert len(_notes(fake)) == 1  # found in vtiger, not written again
    assert _warnings(caplog) == []

    # A person fixes Lena (the forms the web form keeps) and mistypes Carl: a new note.
    fake.ui_save(seed.admin, "Events", {field: f"Lena Lead ({LENA}), {BOB}, carl@"}, ws_id=event)
    with VtigerCrm(options) as crm:
        meeting = crm.get_meeting(event)
        assert meeting is not None
        assert [p.id for p in meeting.attendees] == [f"email:{LENA}", f"email:{BOB}"]
        crm.get_meeting(event)
    notes = _notes(fake)
    assert len(notes) == 2
    assert '"carl@" (not an email address)' in notes[1][1]
    assert "Lena" not in notes[1][1]


def test_a_value_written_through_the_webservice_keeps_its_brackets(
    server: FakeVtigerServer, seed: Seeder, fake: FakeVtiger, field: str
) -> None:
    event = seed.event("API", **{field: f"Lena Lead <{LENA}>"})
    assert fake.records[int(event.partition("x")[2])].values[field] == f"Lena Lead <{LENA}>"
    with VtigerCrm(make_options(server.url, attendees_field=field)) as crm:
        meeting = crm.get_meeting(event)
    assert meeting is not None
    assert [p.id for p in meeting.attendees] == [f"email:{LENA}"]
    assert _notes(fake) == []


def test_a_note_never_writes_to_the_event_and_stays_local_without_a_related_record(
    server: FakeVtigerServer,
    seed: Seeder,
    fake: FakeVtiger,
    field: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="invitegw")
    event = seed.event("Alone", **{field: "Lena Lead"})
    options = make_options(server.url, attendees_field=field, allow_event_updates=True)
    fake.requests.clear()
    with VtigerCrm(options) as crm:
        crm.changed_meetings(None)
        crm.get_meeting(event)
    written = [element_of(p)["id"] for p in requests_of(fake, "revise") if "element" in p] + [
        p.get("elementType") for p in requests_of(fake, "create")
    ]
    assert written == []  # no comment target, and never the event itself
    [warning] = _warnings(caplog)
    assert '"Lena Lead" (no address' in warning
