"""Tasks from inbound invitations: idempotent creation, links checked, status, updates."""

from __future__ import annotations

import datetime as dt

import pytest

from invitegw.crm_adapter.vtiger import VtigerCrm, markers
from invitegw.domain.records import (
    EntityType,
    LogEntry,
    LogLevel,
    LogTarget,
    NewTask,
    PartyRef,
    TaskStatus,
    TaskUpdate,
)
from invitegw.errors import CrmError, CrmNotFoundError
from tests.crm_adapter.vtiger.conftest import Seeder, element_of, make_options, requests_of
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer

START = dt.datetime(2030, 3, 4, 9, 0, tzinfo=dt.UTC)


def _new(seed: Seeder, key: str = "org@example.org/uid-1/", **changes: object) -> NewTask:
    values: dict[str, object] = {
        "idempotency_key": key,
        "title": "Quarterly review",
        "start": START,
        "end": START + dt.timedelta(hours=1),
        "owner": PartyRef(EntityType.USER, seed.admin),
        "description": "Agenda: numbers.",
        "location": "Room 4",
        "organizer_email": "org@example.org",
        "source_uid": "uid-1@example.org",
        "recurrence_id": None,
        "sequence": 2,
        **changes,
    }
    return NewTask(**values)  # type: ignore[arg-type]


def test_a_task_is_created_linked_and_read_back(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    anna = seed.contact("Anna", "Nowak", "anna@acme.example")
    task = crm.create_task(_new(seed, party=PartyRef(EntityType.CONTACT, anna)))
    create = requests_of(fake, "create")[-1]
    element = element_of(create)
    assert element["activitytype"] == "Task"
    assert element["taskstatus"] == "Not Started"
    assert create["contactidlist"] == anna.partition("x")[2]  # a bare crmid, never 12x4
    assert "[invitegw:org@example.org/uid-1/]" in element["description"]
    assert task.title == "Quarterly review"
    assert (task.start, task.end) == (START, START + dt.timedelta(hours=1))
    assert task.status is TaskStatus.OPEN
    assert task.owner == PartyRef(EntityType.USER, seed.admin)
    assert task.party == PartyRef(EntityType.CONTACT, anna)
    assert task.description == "Agenda: numbers."
    assert task.location == "Room 4"
    assert (task.organizer_email, task.source_uid, task.sequence) == (
        "org@example.org",
        "uid-1@example.org",
        2,
    )
    assert task.idempotency_key == "org@example.org/uid-1/"
    assert crm.get_task(task.id) == task


def test_creating_twice_gives_one_task_even_after_a_crash(
    server: FakeVtigerServer, seed: Seeder, fake: FakeVtiger
) -> None:
    with VtigerCrm(make_options(server.url)) as first:
        task = first.create_task(_new(seed))
    creates = len(requests_of(fake, "create"))
    with VtigerCrm(make_options(server.url)) as restarted:  # the gateway crashed and came back
        assert restarted.find_task("org@example.org/uid-1/") == task
        assert restarted.create_task(_new(seed)) == task
    assert len(requests_of(fake, "create")) == creates
    assert [r.crmid for r in fake.records.values() if r.module == "Calendar"] == [
        int(task.id.partition("x")[2])
    ]


@pytest.mark.parametrize(
    "key", ["o'brien@example.org/50%_off/20300304T090000Z", "a\\b c", "x" * 300, "_", "%"]
)
def test_any_key_is_found_again_and_only_its_own_task(
    crm: VtigerCrm, seed: Seeder, key: str
) -> None:
    other = crm.create_task(_new(seed, key=key + "-other", title="Other"))
    task = crm.create_task(_new(seed, key=key))
    assert task.id != other.id
    assert crm.find_task(key) == task
    assert crm.find_task(key + "-other") == other
    assert crm.find_task(key + "-missing") is None


def test_a_racing_worker_leaves_one_task(crm: VtigerCrm, seed: Seeder, fake: FakeVtiger) -> None:
    # Another worker's create lands between our search and our create.
    def other_worker(module: str) -> None:
        fake.create(1, module, _task_element(seed), {})

    fake.before_create = other_worker
    task = crm.create_task(_new(seed))
    left = [r for r in fake.records.values() if r.module == "Calendar" and r.deleted_at is None]
    assert len(left) == 1
    assert task.id == f"9x{left[0].crmid}"
    assert requests_of(fake, "delete")


def _task_element(seed: Seeder) -> dict[str, str]:
    return {
        "subject": "Quarterly review",
        "activitytype": "Task",
        "taskstatus": "Not Started",
        "date_start": "2030-03-04",
        "time_start": "09:00:00",
        "due_date": "2030-03-04",
        "description": markers.render_block("", "org@example.org/uid-1/", {}),
        "assigned_user_id": seed.admin,
    }


def test_references_are_checked_before_and_after_the_write(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    gone = seed.contact("Gone", "Away", "gone@example.org")
    seed.delete(gone)
    creates = len(requests_of(fake, "create"))
    with pytest.raises(CrmNotFoundError):
        crm.create_task(_new(seed, party=PartyRef(EntityType.CONTACT, gone)))
    with pytest.raises(CrmNotFoundError):
        crm.create_task(_new(seed, key="k2", owner=PartyRef(EntityType.USER, "19x77")))
    assert len(requests_of(fake, "create")) == creates
    account = seed.account("Acme")
    fake.drop_references = True  # vtiger stores a bad reference as empty, silently
    with pytest.raises(CrmError, match="parent_id was sent as"):
        crm.create_task(_new(seed, key="k3", party=PartyRef(EntityType.ACCOUNT, account)))


def test_status_values_and_the_cancelled_stand_in(
    server: FakeVtigerServer, seed: Seeder, fake: FakeVtiger
) -> None:
    with VtigerCrm(make_options(server.url)) as crm:
        task = crm.create_task(_new(seed))
        cancelled = crm.set_task_status(task.id, TaskStatus.CANCELLED)
        assert cancelled.status is TaskStatus.CANCELLED
        assert fake.records[int(task.id.partition("x")[2])].values["taskstatus"] == "Deferred"
        assert crm.set_task_status(task.id, TaskStatus.DONE).status is TaskStatus.DONE
        with pytest.raises(CrmNotFoundError):
            crm.set_task_status("9x424242", TaskStatus.OPEN)
    with VtigerCrm(make_options(server.url, task_cancelled_status="Cancelled")) as custom:
        custom.set_task_status(task.id, TaskStatus.CANCELLED)
        assert custom.get_task(task.id).status is TaskStatus.CANCELLED  # type: ignore[union-attr]
        assert any("Cancelled" in w for w in custom.schema.warnings)


def test_updates_keep_the_marker_and_the_log(crm: VtigerCrm, seed: Seeder) -> None:
    task = crm.create_task(_new(seed))
    crm.log(LogEntry(LogTarget.TASK, task.id, LogLevel.INFO, "created from an invitation"))
    moved = START + dt.timedelta(days=1)
    updated = crm.update_task(
        task.id,
        TaskUpdate(
            title="Quarterly review (moved)",
            description="New agenda.",
            start=moved,
            end=moved + dt.timedelta(hours=2),
            sequence=3,
        ),
    )
    assert (updated.title, updated.description, updated.sequence) == (
        "Quarterly review (moved)",
        "New agenda.",
        3,
    )
    assert (updated.start, updated.end) == (moved, moved + dt.timedelta(hours=2))
    assert crm.find_task("org@example.org/uid-1/") == updated
    record = crm.client.retrieve(task.id, module="Calendar")
    assert "created from an invitation" in record["description"]
    with pytest.raises(CrmNotFoundError):
        crm.update_task("9x424242", TaskUpdate(title="x"))


def test_all_day_task_without_end(crm: VtigerCrm, seed: Seeder) -> None:
    task = crm.create_task(_new(seed, start=dt.date(2030, 3, 4), end=None))
    assert (task.start, task.end) == (dt.date(2030, 3, 4), None)
    assert crm.get_task(task.id) == task


def test_get_task_ignores_other_modules(crm: VtigerCrm, seed: Seeder) -> None:
    event = seed.event("Not a task")
    assert crm.get_task(event) is None
    assert crm.get_task("garbage") is None
