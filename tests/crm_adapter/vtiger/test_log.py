"""The integration log and attendee responses: where vtiger lets the gateway write them."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from invitegw.crm_adapter.vtiger import VtigerCrm
from invitegw.domain.records import (
    EntityType,
    LogEntry,
    LogLevel,
    LogTarget,
    NewTask,
    PartyRef,
    ResponseRecord,
    TaskStatus,
    TaskUpdate,
)
from invitegw.errors import CrmNotFoundError
from tests.crm_adapter.vtiger.conftest import Seeder, element_of, make_options
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer

WHEN = dt.datetime(2030, 3, 1, 10, 0, tzinfo=dt.UTC)


def _comments(fake: FakeVtiger) -> list[tuple[str, str]]:
    return [
        (str(r.values["related_to"]), str(r.values["commentcontent"]))
        for r in fake.records.values()
        if r.module == "ModComments"
    ]


def _events_written(fake: FakeVtiger, seed: Seeder) -> list[dict[str, str]]:
    """Writes to Events by anyone but the seeding client (a CRM user)."""
    prefix = fake.modules["Events"].prefix + "x"
    written = []
    for _, op, params in fake.requests:
        if params.get("sessionName") == seed.client.login_info.session:
            continue
        if op in ("revise", "update") and element_of(params).get("id", "").startswith(prefix):
            written.append(params)
        if op in ("create", "delete") and (
            params.get("elementType") == "Events" or params.get("id", "").startswith(prefix)
        ):
            written.append(params)
    return written


def test_a_meeting_log_goes_to_its_account_or_contact(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    account = seed.account("Acme")
    anna = seed.contact("Anna", "Nowak", "anna@acme.example")
    with_account = seed.event("Review", contacts=[anna], parent_id=account)
    with_contact = seed.event("Lunch", contacts=[anna])
    alone = seed.event("Alone")
    crm.log(
        LogEntry(
            LogTarget.MEETING, with_account, LogLevel.INFO, "invitations sent", WHEN, {"to": "2"}
        )
    )
    crm.log(LogEntry(LogTarget.MEETING, with_contact, LogLevel.ERROR, "delivery\nfailed", WHEN))
    crm.log(LogEntry(LogTarget.MEETING, alone, LogLevel.INFO, "nobody to tell", WHEN))
    crm.log(LogEntry(LogTarget.MEETING, "18x424242", LogLevel.INFO, "gone", WHEN))
    assert _comments(fake) == [
        (
            account,
            "[invitegw 2030-03-01 10:00Z info] invitations sent (to=2) "
            f'(meeting "Review" {with_account})',
        ),
        (
            anna,
            f'[invitegw 2030-03-01 10:00Z error] delivery failed (meeting "Lunch" {with_contact})',
        ),
    ]
    assert _events_written(fake, seed) == []


def test_a_gateway_task_logs_into_its_own_description(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    anna = seed.contact("Anna", "Nowak", "anna@acme.example")
    new = NewTask(
        "key-1",
        "Call back",
        WHEN,
        None,
        PartyRef(EntityType.USER, seed.admin),
        description="Notes.",
        party=PartyRef(EntityType.CONTACT, anna),
    )
    task = crm.create_task(new)
    crm.log(LogEntry(LogTarget.TASK, task.id, LogLevel.WARNING, "organizer cancelled", WHEN))
    stored = fake.records[int(task.id.partition("x")[2])].values["description"]
    assert stored.endswith("[invitegw 2030-03-01 10:00Z warning] organizer cancelled")
    assert crm.get_task(task.id).description == "Notes."  # type: ignore[union-attr]
    assert crm.find_task("key-1") is not None
    foreign = seed.client.create(
        "Calendar",
        {
            "subject": "Human task",
            "activitytype": "Task",
            "taskstatus": "Not Started",
            "date_start": "2030-03-01",
            "time_start": "08:00:00",
            "due_date": "2030-03-01",
            "contact_id": anna,
            "assigned_user_id": seed.admin,
        },
    )
    crm.log(LogEntry(LogTarget.TASK, foreign["id"], LogLevel.INFO, "seen", WHEN))
    assert _comments(fake)[-1] == (
        anna,
        f"[invitegw 2030-03-01 10:00Z info] seen (task {foreign['id']})",
    )
    assert fake.records[int(foreign["id"].partition("x")[2])].values["description"] == ""


def test_party_targets_levels_and_the_local_log(
    server: FakeVtigerServer, seed: Seeder, fake: FakeVtiger, caplog: pytest.LogCaptureFixture
) -> None:
    lead = seed.lead("Lena", "Lead", "lena@initech.example")
    caplog.set_level(logging.INFO)
    with VtigerCrm(make_options(server.url, log_min_level=LogLevel.WARNING)) as crm:
        crm.log(LogEntry(LogTarget.PARTY, lead, LogLevel.INFO, "routine", WHEN))
        crm.log(LogEntry(LogTarget.PARTY, lead, LogLevel.WARNING, "bounced", WHEN))
        crm.log(LogEntry(LogTarget.PARTY, seed.admin, LogLevel.ERROR, "about a user", WHEN))
        crm.log(LogEntry(LogTarget.GATEWAY, None, LogLevel.ERROR, "about the gateway", WHEN))
    assert _comments(fake) == [(lead, "[invitegw 2030-03-01 10:00Z warning] bounced")]
    for text in ("routine", "about a user", "about the gateway"):
        assert text in caplog.text


def test_a_response_is_a_comment_on_the_attendees_contact(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    account = seed.account("Acme")
    ewa = seed.contact("Ewa", "Attendee", "ewa@example.test")
    twin = seed.contact("Ewa", "Twin", "ewa@example.test")  # same address, not invited
    lena = seed.lead("Lena", "Lead", "lena@initech.example")
    event = seed.event("Probe", contacts=[twin, ewa], parent_id=account)
    crm.record_response(
        ResponseRecord(event, "EWA@example.test", "ACCEPTED", comment="See you\nthere")
    )
    crm.record_response(
        ResponseRecord(event, "lena@initech.example", "DECLINED", recurrence_id="20300304T090000Z")
    )
    crm.record_response(
        ResponseRecord(event, "stranger@example.org", "TENTATIVE", delegated_to="x@example.org")
    )
    comments = _comments(fake)
    assert comments[0][0] in (ewa, twin)  # a linked contact with that address
    assert (
        comments[0][1]
        == f'[invitegw] EWA@example.test ACCEPTED "Probe" ({event}); comment: See you there'
    )
    assert comments[1] == (
        lena,
        f'[invitegw] lena@initech.example DECLINED "Probe" ({event}); occurrence 20300304T090000Z',
    )
    assert comments[2][0] == account
    assert "delegated to x@example.org" in comments[2][1]
    with pytest.raises(CrmNotFoundError):
        crm.record_response(ResponseRecord("18x424242", "ewa@example.test", "ACCEPTED"))
    assert _events_written(fake, seed) == []


def test_no_port_operation_writes_an_event(crm: VtigerCrm, seed: Seeder, fake: FakeVtiger) -> None:
    anna = seed.contact("Anna", "Nowak", "anna@acme.example")
    event = seed.event("Untouchable", contacts=[anna], invitees=[seed.admin])
    record = fake.records[int(event.partition("x")[2])]
    fake.requests.clear()
    batch = crm.changed_meetings(None)
    crm.get_meeting(event)
    crm.confirm_existing([event])
    crm.find_parties("anna@acme.example")
    task = crm.create_task(NewTask("k", "T", WHEN, None, PartyRef(EntityType.USER, seed.admin)))
    crm.update_task(task.id, TaskUpdate(title="T2"))
    crm.set_task_status(task.id, TaskStatus.CANCELLED)
    crm.record_response(ResponseRecord(event, "anna@acme.example", "ACCEPTED"))
    crm.log(LogEntry(LogTarget.MEETING, event, LogLevel.ERROR, "failed", WHEN))
    assert batch.changes
    assert _events_written(fake, seed) == []
    assert record.invitees == [1]
