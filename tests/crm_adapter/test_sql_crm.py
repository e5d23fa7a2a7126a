"""The built-in CRM beyond the contract: transactions, concurrent writers, the admin API."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, text

from invitegw.crm_adapter.builtin.admin import MeetingDraft, SqlCrmAdmin
from invitegw.crm_adapter.builtin.crm import SqlCrm
from invitegw.crm_adapter.builtin.schema import CrmTask
from invitegw.domain.records import EntityType, NewTask, PartyRef
from invitegw.errors import AddressError, CrmConflictError, CrmError, CrmNotFoundError
from invitegw.gateway.storage import Store, open_store, upgrade

WARSAW = ZoneInfo("Europe/Warsaw")
T0 = dt.datetime(2026, 3, 23, 10, 0, tzinfo=WARSAW)  # a Monday, the week before DST starts


@contextlib.contextmanager
def admin(store: Store) -> Iterator[SqlCrmAdmin]:
    with store.session() as session:
        yield SqlCrmAdmin(session)


def _setup(store: Store) -> tuple[PartyRef, str, str]:
    with admin(store) as a:
        olga = PartyRef(EntityType.USER, str(a.add_party(EntityType.USER, ["olga@example.com"])))
        a.add_party(EntityType.CONTACT, ["gina@example.org"], name="Gina")
        first = a.create_meeting(
            MeetingDraft("A", T0, T0 + dt.timedelta(hours=1), olga, ["gina@example.org"])
        )
        second = a.create_meeting(MeetingDraft("B", T0, T0 + dt.timedelta(hours=1), olga))
    return olga, str(first), str(second)


def _drain(store: Store, cursor: str | None) -> tuple[list[str], str]:
    with store.session() as session:
        batch = SqlCrm(session).changed_meetings(cursor)
    return [c.meeting_id for c in batch.changes], batch.cursor


def test_the_adapter_never_commits(store: Store) -> None:
    olga, _, _ = _setup(store)

    def write_then_fail() -> None:
        with store.session() as session:
            crm = SqlCrm(session)
            crm.create_task(NewTask("k", "T", T0, None, olga))
            raise RuntimeError("the gateway's own write failed")

    with pytest.raises(RuntimeError):
        write_then_fail()
    with store.session() as session:
        assert SqlCrm(session).find_task("k") is None


def test_feed_is_exact_after_draining(store: Store) -> None:
    _, first, second = _setup(store)
    seen, cursor = _drain(store, None)
    assert seen == [first, second]
    assert _drain(store, cursor) == ([], cursor)
    with admin(store) as a:
        a.update_meeting(first, location="Room 2")
    assert _drain(store, cursor)[0] == [first]


def _wait_until_blocked(store: Store, worker: threading.Thread) -> None:
    """Return once ``worker`` waits for a lock another transaction holds."""
    deadline = time.monotonic() + 10
    if store.is_sqlite:
        # SQLite offers no view of waiting connections; the worker must still be waiting
        # on BEGIN IMMEDIATE after a while (it would finish in milliseconds otherwise).
        worker.join(timeout=0.5)
        assert worker.is_alive()
        return
    with store.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            if waiting.scalar():
                return
            conn.rollback()
            time.sleep(0.01)
    raise AssertionError("the second writer never blocked")


def test_writers_commit_in_change_order_so_the_cursor_never_skips(store: Store) -> None:
    _, first, second = _setup(store)
    _, cursor = _drain(store, None)
    done: list[BaseException | None] = []

    def second_writer() -> None:
        try:
            with admin(store) as a:
                a.update_meeting(second, title="B2")
            done.append(None)
        except BaseException as exc:
            done.append(exc)

    with store.session() as session:
        SqlCrmAdmin(session).update_meeting(first, title="A2")  # takes the next number
        worker = threading.Thread(target=second_writer)
        worker.start()
        _wait_until_blocked(store, worker)
        if not store.is_sqlite:
            # Neither change is committed: a reader sees nothing, and keeps its cursor.
            assert _drain(store, cursor) == ([], cursor)
        assert not done
    worker.join(timeout=30)
    assert done == [None]
    seen, _ = _drain(store, cursor)
    assert seen == [first, second]


@pytest.mark.postgres
def test_concurrent_create_task_with_the_same_key_makes_one(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        upgrade(store)
        olga, _, _ = _setup(store)
        new = NewTask("same-key", "Visit", T0, None, olga)
        results: list[object] = []

        def other() -> None:
            with store.session() as session:
                results.append(SqlCrm(session).create_task(new).id)

        with store.session() as session:
            mine = SqlCrm(session).create_task(new).id
            worker = threading.Thread(target=other)
            worker.start()
            _wait_until_blocked(store, worker)  # its INSERT waits on our unique key
        worker.join(timeout=30)
        assert results == [mine]
        with store.session() as session:
            assert len(session.scalars(select(CrmTask)).all()) == 1
    finally:
        store.dispose()


def test_cancel_occurrence_by_local_date_across_dst(store: Store) -> None:
    olga, _, _ = _setup(store)
    with admin(store) as a:
        weekly = str(
            a.create_meeting(
                MeetingDraft(
                    "Weekly",
                    T0,
                    T0 + dt.timedelta(hours=1),
                    olga,
                    time_zone="Europe/Warsaw",
                    rrule="RRULE:FREQ=WEEKLY;COUNT=4",
                )
            )
        )
    with admin(store) as a:
        occurrence = a.cancel_occurrence(weekly, dt.date(2026, 3, 30))
    # 10:00 local on both sides of the switch to summer time: 09:00 UTC, then 08:00 UTC.
    assert occurrence == dt.datetime(2026, 3, 30, 10, 0, tzinfo=WARSAW)
    with store.session() as session:
        meeting = SqlCrm(session).get_meeting(weekly)
    assert meeting is not None
    assert meeting.rrule == "FREQ=WEEKLY;COUNT=4"
    (cancelled,) = meeting.occurrences
    assert cancelled.recurrence_id == dt.datetime(2026, 3, 30, 8, 0, tzinfo=dt.UTC)
    assert cancelled.cancelled
    with pytest.raises(CrmError, match="has no occurrence on 2026-03-31"), admin(store) as a:
        a.cancel_occurrence(weekly, dt.date(2026, 3, 31))


def _create(store: Store, **changes: object) -> int:
    values: dict[str, object] = {
        "title": "X",
        "start": T0,
        "end": T0 + dt.timedelta(hours=1),
        "organizer": "olga@example.com",
    }
    values.update(changes)
    with admin(store) as a:
        return a.create_meeting(MeetingDraft(**values))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"end": T0 - dt.timedelta(minutes=1)}, CrmError, "ends before it starts"),
        ({"organizer": "gina@example.org"}, CrmNotFoundError, "no CRM user has the address"),
        ({"organizer": "not an address"}, AddressError, "invalid email address"),
        ({"attendees": ["who@example.org"]}, CrmNotFoundError, "no CRM user, contact"),
        ({"time_zone": "Mars/Base"}, CrmError, "unknown time zone 'Mars/Base'"),
        ({"rrule": "FREQ=SOMETIMES"}, CrmError, "invalid recurrence rule"),
        ({"title": "  "}, CrmError, "title cannot be empty"),
        ({"end": dt.date(2026, 3, 24)}, CrmError, "both be dates"),
        ({"start": dt.date(2026, 3, 24), "end": dt.date(2026, 3, 24)}, CrmError, "all-day"),
    ],
)
def test_meeting_validation(
    store: Store, changes: dict[str, object], error: type[Exception], match: str
) -> None:
    _setup(store)
    with pytest.raises(error, match=match):
        _create(store, **changes)


def test_party_validation(store: Store) -> None:
    _setup(store)
    with pytest.raises(CrmConflictError, match="already exists"), admin(store) as a:
        a.add_party(EntityType.USER, ["OLGA@example.com"])
    with pytest.raises(CrmError, match="at most 3"), admin(store) as a:
        a.add_party(EntityType.CONTACT, [f"c{n}@example.org" for n in range(4)])
    with pytest.raises(CrmError, match="invalid language"), admin(store) as a:
        a.add_party(EntityType.CONTACT, ["c@example.org"], language="Polish")
    with pytest.raises(CrmError, match="unknown time zone"), admin(store) as a:
        a.add_party(EntityType.CONTACT, ["c@example.org"], time_zone="Nowhere")
    with pytest.raises(CrmError, match="not recurring"), admin(store) as a:
        a.cancel_occurrence("1", dt.date(2026, 3, 23))
    with pytest.raises(CrmNotFoundError, match="no CRM meeting"), admin(store) as a:
        a.cancel_meeting("4242")
    with pytest.raises(CrmConflictError, match="already in meeting"), admin(store) as a:
        a.add_attendee("1", "gina@example.org")
    with pytest.raises(CrmNotFoundError, match="not an attendee"), admin(store) as a:
        a.remove_attendee("2", "gina@example.org")


def test_find_parties_many_is_find_parties_for_each_address_in_one_query(store: Store) -> None:
    shared = "Shared@Example.COM"
    with admin(store) as a:
        lead = a.add_party(EntityType.LEAD, ["lead@example.net", shared], name="Lead")
        account = a.add_party(EntityType.ACCOUNT, [shared], name="Acme")
        contact = a.add_party(
            EntityType.CONTACT, ["a@example.org", "X@example.org"], name="A", account="Acme"
        )
        user = a.add_party(EntityType.USER, [shared, "a@example.org"], name="Staff", sync=False)
    asked = [
        "shared@example.com",
        " A@EXAMPLE.org ",
        "x@example.org",
        "nobody@example.org",
        "lead@example.net",
    ]
    statements: list[str] = []
    with store.session() as session:
        crm = SqlCrm(session)

        def note(_c: object, _cur: object, statement: str, *_rest: object) -> None:
            statements.append(statement)

        event.listen(store.engine, "before_cursor_execute", note)
        try:
            many = crm.find_parties_many(asked)
        finally:
            event.remove(store.engine, "before_cursor_execute", note)
        # Four addresses per query.
        assert [s.split()[0] for s in statements if not s.startswith("BEGIN")] == ["SELECT"] * 2
        assert many == {address: crm.find_parties(address) for address in asked}
        refs = {k: [(p.type, int(p.id)) for p in v] for k, v in many.items()}
        assert refs == {
            "shared@example.com": [
                (EntityType.USER, user),
                (EntityType.ACCOUNT, account),
                (EntityType.LEAD, lead),
            ],
            " A@EXAMPLE.org ": [(EntityType.USER, user), (EntityType.CONTACT, contact)],
            "x@example.org": [(EntityType.CONTACT, contact)],
            "nobody@example.org": [],
            "lead@example.net": [(EntityType.LEAD, lead)],
        }
        [staff, person] = many[" A@EXAMPLE.org "]
        assert staff.invite_emails == ()
        assert not staff.sync
        assert person.emails == ("a@example.org", "x@example.org")
        assert person.account == PartyRef(EntityType.ACCOUNT, str(account))
        only = crm.find_parties_many(asked[:2], [EntityType.LEAD, EntityType.CONTACT])
        assert [p.type for p in only["shared@example.com"]] == [EntityType.LEAD]
        assert crm.find_parties_many([]) == {}
        assert crm.find_parties_many(asked[:1]) == {asked[0]: many[asked[0]]}
