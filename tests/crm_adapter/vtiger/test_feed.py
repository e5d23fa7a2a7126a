"""The change feed and meeting snapshots (beyond the facts-sheet quirks)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pytest

from invitegw.crm_adapter.vtiger import FeedCursor, VtigerCrm
from invitegw.domain.records import EntityType, MeetingKind
from invitegw.errors import CrmError
from tests.crm_adapter.vtiger.conftest import Seeder, make_options, requests_of
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock


def _ids(batch) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.meeting_id for c in batch.changes]


def test_an_empty_crm_then_new_meetings(crm: VtigerCrm, seed: Seeder, clock: ManualClock) -> None:
    empty = crm.changed_meetings(None)
    assert empty.changes == ()
    assert empty.more is False
    clock.advance(2)
    made = seed.event("First")
    assert _ids(crm.changed_meetings(empty.cursor)) == [made]


def test_batches_are_oldest_first_and_resume_where_they_stopped(
    crm: VtigerCrm, seed: Seeder, clock: ManualClock
) -> None:
    made = []
    for n in range(5):
        made.append(seed.event(f"Meeting {n}"))
        clock.advance(1)
    seed.revise(made[0], subject="Meeting 0, moved")  # now the newest change
    clock.advance(2)
    seen, flags, cursor = [], [], None
    for _ in range(5):
        batch = crm.changed_meetings(cursor, limit=2)
        seen.extend(_ids(batch))
        flags.append(batch.more)
        cursor = batch.cursor
        if not batch.more:
            break
    assert seen == [*made[1:], made[0]]
    assert flags == [True, True, False]
    clock.advance(5)
    assert crm.changed_meetings(cursor).changes == ()


def test_a_change_is_reported_with_its_new_snapshot(
    crm: VtigerCrm, seed: Seeder, clock: ManualClock
) -> None:
    event = seed.event("Review")
    first = crm.changed_meetings(None)
    clock.advance(3)
    seed.revise(event, eventstatus="Not Held", location="Room 7")
    (change,) = crm.changed_meetings(first.cursor).changes
    assert change.meeting is not None
    assert change.meeting.cancelled is True
    assert change.meeting.location == "Room 7"


def test_the_cursor_is_checked() -> None:
    assert FeedCursor.decode(None) == FeedCursor()
    cursor = FeedCursor("2026-11-23 16:00:00", 7, frozenset({("18x5", "2026-11-23 16:00:00")}), 9)
    assert FeedCursor.decode(cursor.encode()) == cursor
    for bad in ("", "[]", '{"v":2}', '{"v":1,"s":"yesterday"}', '{"v":1,"a":3}'):
        with pytest.raises(CrmError):
            FeedCursor.decode(bad)


def test_activity_types_select_meetings_and_services(
    server: FakeVtigerServer, seed: Seeder
) -> None:
    meeting = seed.event("A meeting")
    call = seed.event("A call", activitytype="Call")
    visit = seed.event("A visit", activitytype="Mobile Call")
    with VtigerCrm(make_options(server.url)) as default:
        assert _ids(default.changed_meetings(None)) == [meeting]
        assert default.get_meeting(call) is None
        assert default.confirm_existing([meeting, call]) == {meeting}
    options = make_options(
        server.url,
        meeting_activity_types=("Meeting", "Call"),
        service_activity_types=("Mobile Call",),
    )
    with VtigerCrm(options) as wider:
        kinds = {
            c.meeting_id: c.meeting.kind for c in wider.changed_meetings(None).changes if c.meeting
        }
    assert kinds == {
        meeting: MeetingKind.APPOINTMENT,
        call: MeetingKind.APPOINTMENT,
        visit: MeetingKind.SERVICE,
    }


@pytest.mark.parametrize(
    ("means", "checked", "expected"),
    [("send", "1", True), ("send", "0", False), ("skip", "1", False), ("skip", "0", True)],
)
def test_the_sync_field_switches_a_meeting(
    server: FakeVtigerServer,
    seed: Seeder,
    fake: FakeVtiger,
    means: str,
    checked: str,
    expected: bool,
) -> None:
    fake.add_field("Events", "cf_853", "boolean")
    event = seed.event("Switchable", cf_853=checked)
    with VtigerCrm(make_options(server.url, sync_field="cf_853", sync_field_means=means)) as crm:
        meeting = crm.get_meeting(event)
    assert meeting is not None
    assert meeting.sync is expected


def test_a_configured_field_vtiger_lacks_is_a_clear_error(server: FakeVtigerServer) -> None:
    with (
        VtigerCrm(make_options(server.url, attendees_field="cf_999")) as crm,
        pytest.raises(CrmError, match=r"crm\.vtiger\.attendees_field.*cf_999"),
    ):
        crm.changed_meetings(None)


def test_attendees_are_linked_contacts_and_extra_addresses(
    server: FakeVtigerServer, seed: Seeder, fake: FakeVtiger
) -> None:
    fake.add_field("Events", "cf_854", "text")
    anna = seed.contact("Anna", "Nowak", "anna@acme.example")
    hank = seed.contact("Hank", "Scorpio", "hank@globex.example", emailoptout="1")
    lena = seed.lead("Lena", "Lead", "lena@initech.example")
    extra = "Bob <bob@example.org>; lena@initech.example,\nADMIN@example.test, not-an-address"
    event = seed.event("Kick-off", contacts=[anna, hank], cf_854=extra)
    with VtigerCrm(make_options(server.url, attendees_field="cf_854")) as crm:
        meeting = crm.get_meeting(event)
    assert meeting is not None
    assert meeting.organizer.emails == ("admin@example.test",)
    by_id = {p.id: p for p in meeting.attendees}
    assert list(by_id) == [anna, hank, "email:bob@example.org", lena]  # never the organizer
    assert by_id[hank].sync is False
    assert by_id[hank].invite_emails == ()
    assert by_id[lena].type is EntityType.LEAD
    assert by_id["email:bob@example.org"].invite_emails == ("bob@example.org",)


def test_contact_enumeration_is_bounded_and_says_so(
    server: FakeVtigerServer, seed: Seeder, caplog: pytest.LogCaptureFixture
) -> None:
    contacts = [seed.contact(f"C{n}", "Attendee", f"c{n}@example.test") for n in range(4)]
    event = seed.event("Crowded", contacts=contacts)
    with VtigerCrm(make_options(server.url, contact_enumeration_limit=2)) as crm:
        caplog.set_level(logging.WARNING)
        meeting = crm.get_meeting(event)
    assert meeting is not None
    assert len(meeting.attendees) == 2
    assert "stopped listing linked contacts after 2" in caplog.text
    with VtigerCrm(make_options(server.url)) as crm:
        full = crm.get_meeting(event)
    assert full is not None
    assert [p.id for p in full.attendees] == contacts


def test_the_feed_never_joins_the_contact_links(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    contacts = [seed.contact(f"C{n}", "Attendee", f"c{n}@example.test") for n in range(3)]
    for n in range(60):  # 60 events x 3 links: a joined query would fold pages short
        seed.event(f"Linked {n}", contacts=contacts)
    batch = crm.changed_meetings(None, limit=1000)
    assert len(batch.changes) == 60
    feed_queries = [p["query"] for p in requests_of(fake, "query") if "modifiedtime" in p["query"]]
    assert feed_queries
    assert all("contact_id" not in q and "*" not in q for q in feed_queries)


def test_all_day_meetings_and_odd_owners(crm: VtigerCrm, seed: Seeder) -> None:
    all_day = seed.event("Offsite", "2030-05-04 00:00:00", "2030-05-05 00:00:00", notime="1")
    orphan = seed.event("The team's", assigned_user_id="20x3")  # assigned to a group
    meeting = crm.get_meeting(all_day)
    assert meeting is not None
    assert meeting.all_day
    assert (meeting.start, meeting.end) == (dt.date(2030, 5, 4), dt.date(2030, 5, 6))
    other = crm.get_meeting(orphan)
    assert other is not None
    assert other.organizer.id == seed.admin  # the user who last changed it


def test_the_existence_check_falls_back_to_one_query_per_id(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    alive = [seed.event(f"Alive {n}") for n in range(3)]
    gone = seed.event("Gone")
    seed.delete(gone)
    fake.refuse_in = True
    assert crm.confirm_existing([*alive, gone, "12x4", "garbage"]) == set(alive)
    per_id = [p["query"] for p in requests_of(fake, "query") if " id = " in p["query"]]
    assert len(per_id) == 4


def test_a_refused_sync_does_not_stop_the_feed(
    server: FakeVtigerServer, seed: Seeder, fake: FakeVtiger, caplog: pytest.LogCaptureFixture
) -> None:
    fake.sync_mode = "patched"
    fake.add_user("gw", "Gate", "Way", "gw@corp.example", "gw-key")  # not an administrator
    event = seed.event("Seen by a plain user")
    options = dataclasses.replace(make_options(server.url), username="gw", access_key="gw-key")
    with VtigerCrm(options) as crm:
        assert _ids(crm.changed_meetings(None)) == [event]
        assert crm.feed_reports_deletions is False
    assert "vtiger sync refused" in caplog.text


def _sync_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "invitegw.crm_adapter.vtiger.feed" and r.levelno == logging.WARNING
    ]


def test_the_sync_fallback_is_logged_once_per_process(
    crm: VtigerCrm,
    seed: Seeder,
    fake: FakeVtiger,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="invitegw")
    cursor = None
    for n in range(4):  # four passes of one process (serve), each with a change to read
        seed.event(f"Pass {n}")
        clock.advance(30)
        batch = crm.changed_meetings(cursor)
        assert [c.meeting.title for c in batch.changes if c.meeting] == [f"Pass {n}"]
        cursor = batch.cursor
    assert len(requests_of(fake, "sync")) == 1
    [warning] = _sync_warnings(caplog)
    assert "not supported by this server (HTTP 500" in warning
    assert "existence check" in warning
    assert crm.feed_reports_deletions is False


def test_a_refused_sync_is_one_warning_that_names_the_refusal(
    server: FakeVtigerServer,
    seed: Seeder,
    fake: FakeVtiger,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.sync_mode = "patched"
    fake.add_user("gw", "Gate", "Way", "gw@corp.example", "gw-key")  # not an administrator
    options = dataclasses.replace(make_options(server.url), username="gw", access_key="gw-key")
    caplog.set_level(logging.INFO, logger="invitegw")
    with VtigerCrm(options) as crm:
        cursor = None
        for n in range(3):
            seed.event(f"Pass {n}")
            clock.advance(30)
            cursor = crm.changed_meetings(cursor).cursor
    [warning] = _sync_warnings(caplog)
    assert warning.startswith("vtiger sync refused (ACCESS_DENIED: ")
    assert "HTTP 500" not in warning


def test_a_per_user_sync_does_not_stand_in_for_the_existence_check(
    server: FakeVtigerServer, seed: Seeder, fake: FakeVtiger, clock: ManualClock
) -> None:
    fake.sync_mode = "patched"
    gone = seed.event("Goes")
    with VtigerCrm(make_options(server.url, sync_type="user")) as crm:
        first = crm.changed_meetings(None)
        clock.advance(5)
        seed.delete(gone)
        clock.advance(5)
        later = crm.changed_meetings(first.cursor)
        # The API user's own deletion is reported, but other users' would not be: the
        # gateway must keep running its existence check.
        assert [c.meeting_id for c in later.changes if c.deleted] == [gone]
        assert crm.feed_reports_deletions is False
    assert requests_of(fake, "sync")[-1]["syncType"] == "user"


def test_a_group_meeting_is_organized_by_whoever_changed_it_last(
    server: FakeVtigerServer, seed: Seeder, fake: FakeVtiger, caplog: pytest.LogCaptureFixture
) -> None:
    ewa = fake.add_user("ewa", "Ewa", "Planner", "ewa@corp.example", "ewa-key")
    event = seed.event("The team's", assigned_user_id="20x3")  # a group: no address of its own
    with VtigerCrm(make_options(server.url)) as crm:
        first = crm.get_meeting(event)
        assert first is not None
        assert first.organizer.id == seed.admin  # modifiedby: the admin made it
        options = dataclasses.replace(
            make_options(server.url), username="ewa", access_key="ewa-key"
        )
        with VtigerCrm(options) as as_ewa:
            as_ewa.client.revise(
                {"id": event, "location": "Room 2"},
                module="Events",
                extra={"contactidlist": "", "inviteesid": ""},
            )
        second = crm.get_meeting(event)
    assert second is not None
    assert second.organizer.id == ewa  # Ewa edited it last: she organizes it now
    assert second.organizer.emails == ("ewa@corp.example",)
    # A user was found: nothing to warn about.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
