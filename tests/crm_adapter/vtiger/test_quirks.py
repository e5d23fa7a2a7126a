"""One test per quirk in the vtiger facts sheet, through the fake vtiger over real HTTP."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import zoneinfo

import pytest

from invitegw.crm_adapter.port import CrmPort, ExistenceCheck
from invitegw.crm_adapter.vtiger import VtigerApiError, VtigerClient, VtigerCrm
from invitegw.domain.records import EntityType, LogEntry, LogLevel, LogTarget, NewTask, PartyRef
from invitegw.errors import CrmConflictError, CrmError, CrmNotFoundError, CrmUnavailableError
from tests.crm_adapter.vtiger.conftest import ACCESS_KEY, Seeder, make_options, requests_of
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock

WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")


def test_session_expiry_logs_in_again_once_and_retries(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    contact = seed.contact("Anna", "Nowak", "anna@acme.example")
    assert crm.get_party(PartyRef(EntityType.CONTACT, contact)) is not None
    logins = len(requests_of(fake, "login"))
    fake.expire_sessions()
    party = crm.get_party(PartyRef(EntityType.CONTACT, contact))
    assert party is not None
    assert party.name == "Anna Nowak"
    assert len(requests_of(fake, "login")) == logins + 1


def test_a_session_refused_twice_is_an_error_not_a_loop(crm: VtigerCrm, fake: FakeVtiger) -> None:
    crm.client.login_info  # noqa: B018 - log in first
    logins = len(requests_of(fake, "login"))
    fake.sessions_valid = False
    with pytest.raises(VtigerApiError) as caught:
        crm.client.listtypes()
    assert caught.value.code == "INVALID_SESSIONID"
    assert len(requests_of(fake, "login")) == logins + 1


def test_sync_http_500_falls_back_to_the_existence_check(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger, clock: ManualClock
) -> None:
    keep = seed.event("Stays")
    gone = seed.event("Goes")
    first = crm.changed_meetings(None)
    assert {c.meeting_id for c in first.changes} == {keep, gone}
    clock.advance(5)
    seed.delete(gone)
    clock.advance(5)
    later = crm.changed_meetings(first.cursor)
    assert [c for c in later.changes if c.deleted] == []  # the feed cannot see it ...
    assert crm.feed_reports_deletions is False
    assert isinstance(crm, CrmPort)
    assert isinstance(crm, ExistenceCheck)  # how the gateway knows to ask
    assert crm.confirm_existing([keep, gone]) == {keep}  # ... the existence check does
    assert any(p.get("operation") == "sync" for p in requests_of(fake, "sync"))


def test_patched_sync_reports_deletions_in_the_feed(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger, clock: ManualClock
) -> None:
    fake.sync_mode = "patched"
    gone = seed.event("Goes")
    first = crm.changed_meetings(None)
    clock.advance(5)
    seed.delete(gone)
    clock.advance(5)
    later = crm.changed_meetings(first.cursor)
    assert [c.meeting_id for c in later.changes if c.deleted] == [gone]
    assert crm.feed_reports_deletions is True
    assert requests_of(fake, "sync")[-1]["syncType"] == "application"


def test_two_changes_in_the_same_second_are_not_lost(
    crm: VtigerCrm, seed: Seeder, clock: ManualClock
) -> None:
    first_event = seed.event("First")
    batch = crm.changed_meetings(None)
    assert [c.meeting_id for c in batch.changes] == [first_event]
    # Same second on the server: the second event and a second edit of the first.
    second_event = seed.event("Second")
    seed.revise(first_event, subject="First, edited")
    again = crm.changed_meetings(batch.cursor)
    titles = {c.meeting_id: c.meeting.title for c in again.changes if c.meeting}
    assert titles == {first_event: "First, edited", second_event: "Second"}
    clock.advance(3)
    settled = crm.changed_meetings(again.cursor)  # re-reads the once-open second
    clock.advance(3)
    quiet = crm.changed_meetings(settled.cursor)
    assert quiet.changes == ()


def test_more_than_100_rows_are_paged(crm: VtigerCrm, seed: Seeder, clock: ManualClock) -> None:
    made = []
    for n in range(105):
        made.append(seed.event(f"Bulk {n:03}"))
        if n % 10 == 0:
            clock.advance(1)
    batch = crm.changed_meetings(None, limit=1000)
    assert [c.meeting_id for c in batch.changes] == made
    assert batch.more is False


def test_more_than_100_changes_in_one_second_with_any_tie_order(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    fake.reverse_ties = True  # MySQL promises no order among equal modifiedtimes
    made = {seed.event(f"Same second {n:03}") for n in range(130)}
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        batch = crm.changed_meetings(cursor, limit=40)
        seen.extend(c.meeting_id for c in batch.changes)
        cursor = batch.cursor
        if not batch.more:
            break
    assert set(seen) == made
    assert len(seen) == len(made)


def test_access_denied_for_a_missing_record_is_not_found(crm: VtigerCrm, seed: Seeder) -> None:
    gone = seed.event("Deleted")
    seed.delete(gone)
    assert crm.get_meeting(gone) is None
    assert crm.get_task("9x999999") is None
    with pytest.raises(CrmNotFoundError):
        crm.client.retrieve(gone, module="Events")
    with pytest.raises(CrmNotFoundError):
        crm.set_task_status("9x999999", crm.tasks._status("Deferred"))


def test_duplicate_account_name_is_a_conflict(crm: VtigerCrm, seed: Seeder) -> None:
    seed.account("Acme Sp. z o.o.")
    element = {"accountname": "Acme Sp. z o.o.", "assigned_user_id": seed.admin}
    with pytest.raises(CrmConflictError) as caught:
        crm.client.create("Accounts", element)
    assert caught.value.code == 0  # type: ignore[attr-defined]


def test_event_writes_always_carry_the_attendee_lists(
    server: FakeVtigerServer, seed: Seeder, fake: FakeVtiger
) -> None:
    ewa = seed.contact("Ewa", "Attendee", "ewa@example.test")
    jan = seed.contact("Jan", "Attendee", "jan@example.test")
    event = seed.event("Probe", contacts=[ewa, jan])
    record = fake.records[int(event.partition("x")[2])]
    # What the fake reproduces: a write without inviteesid drops the user invitees.
    seed.client.revise({"id": event, "location": "Online"}, module="Events")
    assert record.invitees == []
    assert sorted(record.links) == [int(ewa.partition("x")[2]), int(jan.partition("x")[2])]
    seed.revise(event, contacts=[ewa, jan], invitees=[seed.admin])
    # An adapter allowed to write events sends both lists, as bare crmids.
    with VtigerCrm(make_options(server.url, allow_event_updates=True)) as crm:
        crm.log(LogEntry(LogTarget.MEETING, event, LogLevel.INFO, "invitations sent"))
    revise = requests_of(fake, "revise")[-1]
    assert revise["inviteesid"] == "1"
    assert sorted(revise["contactidlist"].split(";")) == sorted(
        [ewa.partition("x")[2], jan.partition("x")[2]]
    )
    assert record.invitees == [1]
    assert len(record.links) == 2
    assert record.values["description"].endswith("invitations sent")


def test_times_are_in_server_time_and_a_warsaw_meeting_round_trips(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    warsaw_user = fake.add_user(
        "ewa", "Ewa", "Planner", "ewa@corp.example", "k2", time_zone="Europe/Warsaw"
    )
    # Stored as 09:00 server time (UTC), whatever the user's zone (files 69-77).
    event = seed.event(
        "TZ probe", "2030-07-15 09:00:00", "2030-07-15 10:00:00", assigned_user_id=warsaw_user
    )
    meeting = crm.get_meeting(event)
    assert meeting is not None
    assert meeting.time_zone == "Europe/Warsaw"
    assert meeting.start == dt.datetime(2030, 7, 15, 11, 0, tzinfo=WARSAW)
    assert meeting.start.tzinfo == WARSAW
    assert meeting.start.hour == 11
    task = crm.create_task(
        NewTask(
            idempotency_key="tz-probe",
            title="Call back",
            start=dt.datetime(2030, 7, 15, 11, 0, tzinfo=WARSAW),
            end=dt.datetime(2030, 7, 15, 11, 30, tzinfo=WARSAW),
            owner=PartyRef(EntityType.USER, warsaw_user),
        )
    )
    stored = fake.records[int(task.id.partition("x")[2])].values
    assert (stored["date_start"], stored["time_start"], stored["time_end"]) == (
        "2030-07-15",
        "09:00:00",
        "09:30:00",
    )
    assert task.start == dt.datetime(2030, 7, 15, 11, 0, tzinfo=WARSAW)
    assert task.end == dt.datetime(2030, 7, 15, 11, 30, tzinfo=WARSAW)


def test_a_server_in_another_zone_is_read_in_that_zone(clock: ManualClock) -> None:
    fake = FakeVtiger(clock=clock, zone="Europe/Warsaw", access_key=ACCESS_KEY)
    server = FakeVtigerServer(fake)
    try:
        seeder = Seeder(server.url, fake)
        event = seeder.event("Warsaw server", "2030-01-15 09:00:00", "2030-01-15 10:00:00")
        with VtigerCrm(make_options(server.url, server_time_zone="Europe/Warsaw")) as crm:
            meeting = crm.get_meeting(event)
            batch = crm.changed_meetings(None)
        seeder.close()
    finally:
        server.close()
    assert meeting is not None
    assert meeting.start == dt.datetime(2030, 1, 15, 8, 0, tzinfo=dt.UTC)
    assert meeting.modified_at == dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC)
    assert [c.meeting_id for c in batch.changes] == [event]


def test_an_address_with_a_quote_is_found(crm: VtigerCrm, seed: Seeder, fake: FakeVtiger) -> None:
    contact = seed.contact("Jan", "O'Brien", "o'brien@acme.example")
    seed.contact("Someone", "Else", "obrien@acme.example")
    found = crm.find_parties("O'Brien@ACME.example")
    assert [p.id for p in found] == [contact]
    assert any(
        "email = 'o''brien@acme.example'" in p["query"].lower() for p in requests_of(fake, "query")
    )


def test_an_address_with_a_backslash_never_reaches_a_literal(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    contact = seed.contact("Odd", "Local", '"a\\b"@example.org')
    assert [p.id for p in crm.find_parties('"a\\b"@example.org')] == [contact]
    assert not any("\\" in p["query"] for p in requests_of(fake, "query"))


def test_an_unreachable_server_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    crm = VtigerCrm(make_options(f"http://127.0.0.1:{port}"))
    with pytest.raises(CrmUnavailableError) as caught:
        crm.changed_meetings(None)
    assert f"127.0.0.1:{port}" in str(caught.value)
    crm.close()


def test_a_slow_server_times_out_as_unavailable(server: FakeVtigerServer, fake: FakeVtiger) -> None:
    fake.delay = 0.6
    client = VtigerClient(make_options(server.url, timeout=0.2))
    with pytest.raises(CrmUnavailableError, match="timed out"):
        client.listtypes()
    fake.delay = 0.0
    client.close()


def test_http_5xx_is_unavailable_and_4xx_or_html_is_an_error(
    server: FakeVtigerServer, fake: FakeVtiger
) -> None:
    client = VtigerClient(make_options(server.url))
    client.login_info  # noqa: B018
    fake.fail_next.append((503, b"<html>maintenance</html>"))
    with pytest.raises(CrmUnavailableError, match="HTTP 503"):
        client.listtypes()
    fake.fail_next.append((200, b"<html>a login page</html>"))
    with pytest.raises(CrmError) as caught:
        client.listtypes()
    assert not isinstance(caught.value, CrmUnavailableError)
    wrong = VtigerClient(make_options(server.url + "/vtiger"))
    with pytest.raises(CrmError, match="HTTP 404"):
        wrong.listtypes()
    client.close()
    wrong.close()


def test_a_wrong_access_key_is_refused_and_no_secret_is_logged(
    server: FakeVtigerServer, fake: FakeVtiger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = VtigerClient(make_options(server.url))
    session = good.login_info.session
    good.listtypes()
    bad = VtigerClient(make_options(server.url))
    object.__setattr__(bad.options, "access_key", "wrong-key")
    with pytest.raises(VtigerApiError, match="INVITEGW_CRM__VTIGER__ACCESS_KEY") as caught:
        bad.listtypes()
    assert caught.value.code == "INVALID_USER_CREDENTIALS"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "vtiger listtypes -: ok" in logged
    for secret in (ACCESS_KEY, session, *(p["accessKey"] for p in requests_of(fake, "login"))):
        assert secret not in logged
    good.close()
    bad.close()
