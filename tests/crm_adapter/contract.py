"""The CRM port's contract: one suite every adapter must pass.

How an adapter plugs in (see ``test_contract_sql.py``): subclass :class:`CrmContract` in a
``test_contract_<adapter>.py`` module and provide a ``make_harness`` fixture returning a
:data:`HarnessFactory`: called with the email-field counts (per entity type), it returns a
:class:`CrmHarness` holding

- ``crm``: the adapter under test (a :class:`~invitegw.crm_adapter.port.CrmPort`), whose
  every call is visible to the next one (for an adapter that writes inside the caller's
  session, wrap each call in a committed session);
- ``seed``: a :class:`CrmSeeder`, the adapter-specific way a test creates users, contacts,
  meetings ... and reads back what the port wrote but cannot read itself (responses, log).
  The port has no write API for meetings and parties: people make those in the CRM;
- ``capabilities``: the names of the optional capabilities the adapter declares
  (:func:`~invitegw.crm_adapter.port.capabilities_of`); the suite checks that it declares
  exactly these, and the behaviour of each one it declares.

The suite checks behaviour only through the port and the seeder, so it runs unchanged
against the built-in CRM (SQLite and PostgreSQL), vtiger behind a fake server, and the
in-memory test adapter registered only through the registry (``test_contract_memory.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

import pytest

from invitegw.crm_adapter.port import (
    CrmPort,
    ExistenceCheck,
    FeedDeletionStatus,
    FindsPartiesInBatch,
    capabilities_of,
    needs_existence_check,
)
from invitegw.domain.records import (
    EntityType,
    LogEntry,
    LogLevel,
    LogTarget,
    MeetingKind,
    NewTask,
    PartyRef,
    ResponseRecord,
    TaskStatus,
    TaskUpdate,
)
from invitegw.errors import CrmError, CrmNotFoundError

__all__ = ["CrmContract", "CrmHarness", "CrmSeeder", "HarnessFactory", "MeetingSpec"]

WARSAW = ZoneInfo("Europe/Warsaw")
NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class MeetingSpec:
    """A meeting for the seeder to create. Times aware (or dates: all-day, end exclusive)."""

    title: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime
    organizer: PartyRef
    attendees: Sequence[PartyRef] = ()
    time_zone: str | None = None
    location: str = ""
    description: str = ""
    rrule: str | None = None
    calendar: str | None = None
    kind: MeetingKind = MeetingKind.APPOINTMENT
    sync: bool = True


class CrmSeeder(Protocol):
    """What a contract test needs from the CRM beyond the port (adapter-specific)."""

    def add_party(
        self,
        entity: EntityType,
        emails: Sequence[str],
        *,
        name: str,
        sync: bool = True,
        language: str | None = None,
        time_zone: str | None = None,
        account: str | None = None,
    ) -> PartyRef:
        """Create a user/contact/account/lead with these addresses in field order."""

    def add_meeting(self, spec: MeetingSpec) -> str:
        """Create a meeting; returns its id."""

    def update_meeting(
        self,
        meeting_id: str,
        *,
        title: str | None = None,
        start: dt.date | dt.datetime | None = None,
        end: dt.date | dt.datetime | None = None,
        location: str | None = None,
    ) -> None:
        """Change a meeting."""

    def add_attendee(self, meeting_id: str, party: PartyRef) -> None:
        """Invite a party."""

    def remove_attendee(self, meeting_id: str, party: PartyRef) -> None:
        """Uninvite a party."""

    def cancel_meeting(self, meeting_id: str) -> None:
        """Cancel a meeting (it stays, cancelled)."""

    def delete_meeting(self, meeting_id: str) -> None:
        """Delete a meeting."""

    def move_occurrence(
        self,
        meeting_id: str,
        recurrence_id: dt.date | dt.datetime,
        start: dt.date | dt.datetime,
        end: dt.date | dt.datetime,
    ) -> None:
        """Move one occurrence of a recurring meeting."""

    def cancel_occurrence(self, meeting_id: str, recurrence_id: dt.date | dt.datetime) -> None:
        """Cancel one occurrence of a recurring meeting."""

    def response_of(self, meeting_id: str, email: str) -> str | None:
        """The PARTSTAT the CRM shows for that attendee address (read back)."""

    def logs(self) -> list[LogEntry]:
        """The integration log, oldest first (read back)."""


@dataclass
class CrmHarness:
    """An adapter under test and its seeder."""

    crm: CrmPort
    seed: CrmSeeder
    capabilities: frozenset[str] = frozenset()
    extra: dict[str, object] = field(default_factory=dict)


HarnessFactory = Callable[..., CrmHarness]


def _t(day: int, hour: int, tz: ZoneInfo = WARSAW, month: int = 6) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=tz)


def _drain(crm: CrmPort, cursor: str | None, limit: int = 200) -> tuple[list[str], str]:
    """Every change id from ``cursor`` on, following ``more``; and the final cursor."""
    seen: list[str] = []
    for _ in range(1000):
        batch = crm.changed_meetings(cursor, limit=limit)
        seen.extend(change.meeting_id for change in batch.changes)
        cursor = batch.cursor
        if not batch.more:
            return seen, cursor
    raise AssertionError("the change feed never ends")


class CrmContract:
    """The suite. Subclasses provide the ``make_harness`` fixture (see the module doc)."""

    @pytest.fixture
    def h(self, make_harness: HarnessFactory) -> CrmHarness:
        return make_harness()

    @staticmethod
    def _people(h: CrmHarness) -> tuple[PartyRef, PartyRef, PartyRef]:
        organizer = h.seed.add_party(
            EntityType.USER, ["olga@example.com"], name="Olga Organizer", time_zone="Europe/Warsaw"
        )
        colleague = h.seed.add_party(EntityType.USER, ["carl@example.com"], name="Carl Colleague")
        guest = h.seed.add_party(
            EntityType.CONTACT, ["gina@example.org"], name="Gina Guest", language="pl"
        )
        return organizer, colleague, guest

    def _meeting(
        self, h: CrmHarness, **changes: object
    ) -> tuple[str, PartyRef, PartyRef, PartyRef]:
        organizer, colleague, guest = self._people(h)
        spec = MeetingSpec(
            title="Kick-off",
            start=_t(3, 10),
            end=_t(3, 11),
            organizer=organizer,
            attendees=(colleague, guest),
            time_zone="Europe/Warsaw",
            location="Room 1",
            description="Agenda",
        )
        values = {**spec.__dict__, **changes}
        return h.seed.add_meeting(MeetingSpec(**values)), organizer, colleague, guest

    # -- change feed -------------------------------------------------------------------------

    def test_port_is_implemented(self, h: CrmHarness) -> None:
        assert isinstance(h.crm, CrmPort)

    def test_empty_feed(self, h: CrmHarness) -> None:
        batch = h.crm.changed_meetings(None)
        assert batch.changes == ()
        assert isinstance(batch.cursor, str)
        assert not batch.more
        assert h.crm.changed_meetings(batch.cursor).changes == ()

    def test_created_updated_and_deleted_meetings_appear(self, h: CrmHarness) -> None:
        meeting_id, *_ = self._meeting(h)
        first = h.crm.changed_meetings(None)
        (created,) = first.changes
        assert created.meeting_id == meeting_id
        assert created.meeting is not None
        assert created.meeting.title == "Kick-off"

        h.seed.update_meeting(meeting_id, title="Kick-off (moved)", start=_t(4, 10), end=_t(4, 12))
        updated = [
            c for c in h.crm.changed_meetings(first.cursor).changes if c.meeting_id == meeting_id
        ]
        assert updated
        assert updated[-1].meeting is not None
        assert updated[-1].meeting.title == "Kick-off (moved)"
        assert updated[-1].meeting.start == _t(4, 10)
        assert updated[-1].meeting.end == _t(4, 12)

        cursor = _drain(h.crm, first.cursor)[1]
        h.seed.delete_meeting(meeting_id)
        deleted = [c for c in h.crm.changed_meetings(cursor).changes if c.meeting_id == meeting_id]
        assert deleted
        assert deleted[-1].deleted
        assert deleted[-1].meeting is None
        assert h.crm.get_meeting(meeting_id) is None

    def test_attendee_changes_and_cancellation_appear(self, h: CrmHarness) -> None:
        meeting_id, _, colleague, _ = self._meeting(h)
        cursor = _drain(h.crm, None)[1]
        lead = h.seed.add_party(EntityType.LEAD, ["leo@example.net"], name="Leo Lead")
        h.seed.add_attendee(meeting_id, lead)
        seen, cursor = _drain(h.crm, cursor)
        assert meeting_id in seen
        h.seed.remove_attendee(meeting_id, colleague)
        seen, cursor = _drain(h.crm, cursor)
        assert meeting_id in seen
        h.seed.cancel_meeting(meeting_id)
        batch = h.crm.changed_meetings(cursor)
        (change,) = [c for c in batch.changes if c.meeting_id == meeting_id]
        assert change.meeting is not None
        assert change.meeting.cancelled
        assert lead in {p.ref for p in change.meeting.attendees}
        assert colleague not in {p.ref for p in change.meeting.attendees}

    def test_paging_loses_nothing_and_the_cursor_resumes(self, h: CrmHarness) -> None:
        organizer, _, guest = self._people(h)
        ids = [
            h.seed.add_meeting(
                MeetingSpec(f"M{n}", _t(10 + n, 9), _t(10 + n, 10), organizer, (guest,))
            )
            for n in range(5)
        ]
        seen, cursor = _drain(h.crm, None, limit=2)
        assert set(ids) <= set(seen)
        assert [i for i in seen if i in ids][: len(ids)] == ids  # oldest change first
        h.seed.update_meeting(ids[1], location="Elsewhere")
        again, _ = _drain(h.crm, cursor, limit=2)
        assert ids[1] in again
        assert set(again) <= set(ids)

    def test_invalid_cursor_is_an_error(self, h: CrmHarness) -> None:
        with pytest.raises(CrmError):
            h.crm.changed_meetings("definitely not a cursor")

    # -- snapshots ---------------------------------------------------------------------------

    def test_timed_meeting_snapshot(self, h: CrmHarness) -> None:
        meeting_id, organizer, colleague, guest = self._meeting(h, calendar="sales")
        meeting = h.crm.get_meeting(meeting_id)
        assert meeting is not None
        assert meeting.id == meeting_id
        assert meeting.kind is MeetingKind.APPOINTMENT
        assert (meeting.title, meeting.description, meeting.location) == (
            "Kick-off",
            "Agenda",
            "Room 1",
        )
        assert meeting.start == _t(3, 10)
        assert meeting.end == _t(3, 11)
        assert meeting.start.utcoffset() == dt.timedelta(hours=2)  # CEST in June
        assert meeting.time_zone == "Europe/Warsaw"
        assert not meeting.all_day
        assert meeting.calendar == "sales"
        assert meeting.sync
        assert not meeting.cancelled
        assert meeting.rrule is None
        assert meeting.modified_at is not None
        assert meeting.modified_at.tzinfo is not None
        assert meeting.organizer.ref == organizer
        assert meeting.organizer.internal
        assert meeting.organizer.emails == ("olga@example.com",)
        by_ref = {p.ref: p for p in meeting.attendees}
        assert set(by_ref) == {colleague, guest}
        assert by_ref[colleague].internal
        assert not by_ref[guest].internal
        assert by_ref[guest].language == "pl"
        assert by_ref[guest].invite_emails == ("gina@example.org",)

    def test_meeting_in_another_zone_keeps_its_instant(self, h: CrmHarness) -> None:
        start = _t(3, 9, NEW_YORK, month=11)  # the day after US DST ends
        meeting_id, *_ = self._meeting(
            h, start=start, end=start + dt.timedelta(minutes=45), time_zone="America/New_York"
        )
        meeting = h.crm.get_meeting(meeting_id)
        assert meeting is not None
        assert meeting.start == start
        assert meeting.start.utcoffset() == dt.timedelta(hours=-5)
        assert meeting.end - meeting.start == dt.timedelta(minutes=45)  # type: ignore[operator]

    def test_all_day_meeting(self, h: CrmHarness) -> None:
        meeting_id, *_ = self._meeting(h, start=dt.date(2026, 6, 8), end=dt.date(2026, 6, 10))
        meeting = h.crm.get_meeting(meeting_id)
        assert meeting is not None
        assert meeting.all_day
        assert (meeting.start, meeting.end) == (dt.date(2026, 6, 8), dt.date(2026, 6, 10))
        assert not isinstance(meeting.start, dt.datetime)

    def test_recurrence_with_moved_and_cancelled_occurrences(self, h: CrmHarness) -> None:
        meeting_id, *_ = self._meeting(h, rrule="FREQ=WEEKLY;COUNT=6", kind=MeetingKind.SERVICE)
        second, third = _t(10, 10), _t(17, 10)
        h.seed.move_occurrence(meeting_id, second, _t(11, 14), _t(11, 15))
        h.seed.cancel_occurrence(meeting_id, third)
        meeting = h.crm.get_meeting(meeting_id)
        assert meeting is not None
        assert meeting.kind is MeetingKind.SERVICE
        assert meeting.rrule == "FREQ=WEEKLY;COUNT=6"
        by_id = {o.recurrence_id: o for o in meeting.occurrences}
        assert set(by_id) == {second, third}
        assert (by_id[second].cancelled, by_id[second].start, by_id[second].end) == (
            False,
            _t(11, 14),
            _t(11, 15),
        )
        assert by_id[third].cancelled

    def test_organizer_is_never_an_attendee(self, h: CrmHarness) -> None:
        meeting_id, organizer, *_ = self._meeting(h)
        meeting = h.crm.get_meeting(meeting_id)
        assert meeting is not None
        assert organizer not in {p.ref for p in meeting.attendees}

    def test_invite_emails_honour_field_counts_and_sync(self, make_harness: HarnessFactory) -> None:
        h = make_harness(email_fields={EntityType.CONTACT: 2})
        organizer = h.seed.add_party(EntityType.USER, ["olga@example.com"], name="Olga")
        many = h.seed.add_party(
            EntityType.CONTACT,
            ["one@example.org", "two@example.org", "three@example.org"],
            name="Many Addresses",
        )
        opted_out = h.seed.add_party(
            EntityType.CONTACT, ["quiet@example.org"], name="Quiet", sync=False
        )
        lead = h.seed.add_party(EntityType.LEAD, ["l1@example.net", "l2@example.net"], name="Lead")
        meeting_id = h.seed.add_meeting(
            MeetingSpec("Review", _t(5, 9), _t(5, 10), organizer, (many, opted_out, lead))
        )
        meeting = h.crm.get_meeting(meeting_id)
        assert meeting is not None
        by_ref = {p.ref: p for p in meeting.attendees}
        assert by_ref[many].emails == ("one@example.org", "two@example.org", "three@example.org")
        assert by_ref[many].invite_emails == ("one@example.org", "two@example.org")
        assert by_ref[opted_out].invite_emails == ()
        assert not by_ref[opted_out].sync
        assert by_ref[lead].invite_emails == ("l1@example.net",)  # leads keep the default, 1

    def test_meeting_sync_flag(self, h: CrmHarness) -> None:
        meeting_id, *_ = self._meeting(h, sync=False)
        meeting = h.crm.get_meeting(meeting_id)
        assert meeting is not None
        assert not meeting.sync

    def test_unknown_meeting(self, h: CrmHarness) -> None:
        assert h.crm.get_meeting("999999") is None
        assert h.crm.get_meeting("not-an-id") is None

    # -- parties -----------------------------------------------------------------------------

    def test_find_parties_in_any_field_in_the_documented_order(self, h: CrmHarness) -> None:
        shared = "Shared@Example.COM"
        lead = h.seed.add_party(EntityType.LEAD, ["lead@example.net", shared], name="Lead")
        account = h.seed.add_party(EntityType.ACCOUNT, [shared], name="Acme")
        contact_b = h.seed.add_party(EntityType.CONTACT, ["b@example.org", shared], name="B")
        contact_a = h.seed.add_party(
            EntityType.CONTACT, ["a@example.org", "x@example.org", shared], name="A"
        )
        user = h.seed.add_party(EntityType.USER, [shared], name="Staff")
        found = h.crm.find_parties("shared@example.com")
        assert [p.ref for p in found] == [user, contact_b, contact_a, account, lead]
        assert [p.ref for p in h.crm.find_parties("  SHARED@example.com ")] == [
            p.ref for p in found
        ]
        only = h.crm.find_parties(shared, [EntityType.LEAD, EntityType.CONTACT])
        assert [p.ref for p in only] == [lead, contact_b, contact_a]
        assert h.crm.find_parties("X@EXAMPLE.ORG")[0].ref == contact_a
        assert h.crm.find_parties("nobody@example.org") == []

    def test_get_party(self, h: CrmHarness) -> None:
        contact = h.seed.add_party(
            EntityType.CONTACT,
            ["ann@example.org"],
            name="Ann",
            account="Acme Ltd",
            language="it",
            time_zone="Europe/Rome",
        )
        party = h.crm.get_party(contact)
        assert party is not None
        assert (party.ref, party.name, party.language, party.time_zone) == (
            contact,
            "Ann",
            "it",
            "Europe/Rome",
        )
        assert party.account is not None
        account = h.crm.get_party(party.account)
        assert account is not None
        assert account.name == "Acme Ltd"
        assert h.crm.get_party(PartyRef(EntityType.CONTACT, "999999")) is None
        assert h.crm.get_party(PartyRef(EntityType.USER, "nope")) is None

    # -- tasks -------------------------------------------------------------------------------

    def _task(self, h: CrmHarness, key: str = "k1", **changes: object) -> tuple[NewTask, PartyRef]:
        owner = h.seed.add_party(EntityType.USER, [f"owner-{key}@example.com"], name="Owner")
        party = h.seed.add_party(EntityType.CONTACT, [f"org-{key}@example.org"], name="Org")
        values: dict[str, object] = {
            "idempotency_key": key,
            "title": "Visit",
            "start": _t(20, 9),
            "end": _t(20, 10),
            "owner": owner,
            "description": "From an invitation",
            "location": "Their office",
            "organizer_email": f"org-{key}@example.org",
            "party": party,
            "source_uid": f"uid-{key}@example.org",
            "recurrence_id": None,
            "sequence": 2,
        }
        values.update(changes)
        return NewTask(**values), owner  # type: ignore[arg-type]

    def test_create_task_is_idempotent_by_key(self, h: CrmHarness) -> None:
        new, owner = self._task(h)
        task = h.crm.create_task(new)
        assert (task.title, task.start, task.end, task.status) == (
            "Visit",
            _t(20, 9),
            _t(20, 10),
            TaskStatus.OPEN,
        )
        assert (task.owner, task.party, task.source_uid, task.sequence) == (
            owner,
            new.party,
            "uid-k1@example.org",
            2,
        )
        assert task.organizer_email == "org-k1@example.org"
        assert task.idempotency_key == "k1"
        again = h.crm.create_task(new)
        assert again.id == task.id
        assert h.crm.find_task("k1") == task
        assert h.crm.get_task(task.id) == task
        assert h.crm.find_task("other") is None

    def test_all_day_task(self, h: CrmHarness) -> None:
        new, _ = self._task(h, start=dt.date(2026, 6, 20), end=dt.date(2026, 6, 21))
        task = h.crm.create_task(new)
        assert (task.start, task.end) == (dt.date(2026, 6, 20), dt.date(2026, 6, 21))

    def test_update_task_and_status(self, h: CrmHarness) -> None:
        task = h.crm.create_task(self._task(h)[0])
        updated = h.crm.update_task(
            task.id, TaskUpdate(title="Visit (moved)", start=_t(21, 9), end=_t(21, 11), sequence=3)
        )
        assert (updated.title, updated.start, updated.end, updated.sequence) == (
            "Visit (moved)",
            _t(21, 9),
            _t(21, 11),
            3,
        )
        assert updated.location == "Their office"  # None leaves a field as it was
        cancelled = h.crm.set_task_status(task.id, TaskStatus.CANCELLED)
        assert cancelled.status is TaskStatus.CANCELLED
        fetched = h.crm.get_task(task.id)
        assert fetched is not None
        assert (fetched.status, fetched.title) == (TaskStatus.CANCELLED, "Visit (moved)")

    def test_unknown_task(self, h: CrmHarness) -> None:
        assert h.crm.get_task("999999") is None
        with pytest.raises(CrmNotFoundError):
            h.crm.update_task("999999", TaskUpdate(title="x"))
        with pytest.raises(CrmNotFoundError):
            h.crm.set_task_status("999999", TaskStatus.CANCELLED)

    def test_task_with_unknown_owner_or_party(self, h: CrmHarness) -> None:
        new, _ = self._task(h, owner=PartyRef(EntityType.USER, "999999"))
        with pytest.raises(CrmNotFoundError):
            h.crm.create_task(new)
        new, _ = self._task(h, key="k2", party=PartyRef(EntityType.CONTACT, "999999"))
        with pytest.raises(CrmNotFoundError):
            h.crm.create_task(new)
        assert h.crm.find_task("k1") is None

    # -- responses and the log ---------------------------------------------------------------

    def test_record_response(self, h: CrmHarness) -> None:
        meeting_id, *_ = self._meeting(h)
        assert h.seed.response_of(meeting_id, "gina@example.org") in (None, "NEEDS-ACTION")
        h.crm.record_response(
            ResponseRecord(
                meeting_id=meeting_id, attendee_email="GINA@example.org", partstat="ACCEPTED"
            )
        )
        assert h.seed.response_of(meeting_id, "gina@example.org") == "ACCEPTED"
        h.crm.record_response(
            ResponseRecord(
                meeting_id=meeting_id, attendee_email="gina@example.org", partstat="DECLINED"
            )
        )
        assert h.seed.response_of(meeting_id, "gina@example.org") == "DECLINED"
        with pytest.raises(CrmNotFoundError):
            h.crm.record_response(
                ResponseRecord(
                    meeting_id="999999", attendee_email="a@example.org", partstat="ACCEPTED"
                )
            )

    def test_log(self, h: CrmHarness) -> None:
        meeting_id, *_ = self._meeting(h)
        h.crm.log(LogEntry(LogTarget.MEETING, meeting_id, LogLevel.WARNING, "bounce: 550 no user"))
        h.crm.log(LogEntry(LogTarget.GATEWAY, None, LogLevel.INFO, "started"))
        logs = h.seed.logs()
        assert [(e.target, e.target_id, e.level, e.message) for e in logs[-2:]] == [
            (LogTarget.MEETING, meeting_id, LogLevel.WARNING, "bounce: 550 no user"),
            (LogTarget.GATEWAY, None, LogLevel.INFO, "started"),
        ]

    # -- optional capabilities ---------------------------------------------------------------

    def test_declares_exactly_its_capabilities(self, h: CrmHarness) -> None:
        assert capabilities_of(h.crm) == h.capabilities

    def test_batch_lookup_is_find_parties_for_each_address(self, h: CrmHarness) -> None:
        if not isinstance(h.crm, FindsPartiesInBatch):
            pytest.skip("the adapter does not declare FindsPartiesInBatch")
        h.seed.add_party(EntityType.USER, ["Pat@example.com"], name="Pat")
        h.seed.add_party(EntityType.CONTACT, ["pat@example.com", "p2@example.org"], name="P")
        h.seed.add_party(EntityType.LEAD, ["p2@example.org"], name="Lead")
        asked = ["PAT@example.com", "p2@example.org", "nobody@example.org"]
        for types in (None, [EntityType.LEAD, EntityType.CONTACT]):
            many = h.crm.find_parties_many(asked, types)
            assert set(many) == set(asked)
            for email in asked:
                assert many[email] == h.crm.find_parties(email, types)
        assert h.crm.find_parties_many([]) == {}

    def test_existence_check_names_the_meetings_that_exist(self, h: CrmHarness) -> None:
        if not isinstance(h.crm, ExistenceCheck):
            pytest.skip("the adapter does not declare ExistenceCheck")
        kept, organizer, _, guest = self._meeting(h)
        gone = h.seed.add_meeting(MeetingSpec("Gone", _t(5, 9), _t(5, 10), organizer, (guest,)))
        assert h.crm.confirm_existing([kept, gone]) == {kept, gone}
        h.seed.delete_meeting(gone)
        assert h.crm.confirm_existing([kept, gone, "999999", "not-an-id"]) == {kept}
        assert h.crm.confirm_existing([]) == set()

    def test_feed_deletion_status_is_known_once_the_feed_is_read(self, h: CrmHarness) -> None:
        if not isinstance(h.crm, FeedDeletionStatus):
            pytest.skip("the adapter does not declare FeedDeletionStatus")
        self._meeting(h)
        _drain(h.crm, None)
        status = h.crm.feed_reports_deletions
        assert status in (True, False)
        # A feed blind to deletions is useless without the check that finds them.
        assert status or isinstance(h.crm, ExistenceCheck)
        assert needs_existence_check(h.crm) is (isinstance(h.crm, ExistenceCheck) and not status)
