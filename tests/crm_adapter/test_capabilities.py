"""The port's optional capabilities: how they are declared, combined and forwarded.

The small classes here are test doubles of adapters that have (or lack) one capability; the
behaviour of each capability on real adapters is the contract suite's
(``contract.py``, "optional capabilities").
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

import pytest

from invitegw.crm_adapter.builtin.crm import SqlCrm
from invitegw.crm_adapter.port import (
    CAPABILITIES,
    CrmPort,
    ExistenceCheck,
    FeedDeletionStatus,
    FindsPartiesInBatch,
    ReadsSendSwitch,
    capabilities_of,
    needs_existence_check,
)
from invitegw.domain.records import (
    EntityType,
    Meeting,
    MeetingKind,
    NewTask,
    Party,
    PartyRef,
    SwitchReading,
)
from invitegw.gateway.dryrun import DryRunCrm
from tests.crm_adapter.memory_adapter import FakeMemoryCrm, MemorySeeder, MemoryWorld

ANN = Party(EntityType.CONTACT, "7", "Ann", ("ann@example.org",))


class BatchDouble:
    """Test double: an adapter with FindsPartiesInBatch."""

    calls: list[list[str]]

    def find_parties_many(
        self, emails: Sequence[str], types: Sequence[EntityType] | None = None
    ) -> dict[str, list[Party]]:
        self.calls.append(list(emails))
        return {e: [ANN] if e == "ann@example.org" else [] for e in emails}


class ExistenceDouble:
    """Test double: an adapter with ExistenceCheck."""

    def confirm_existing(self, meeting_ids: Sequence[str]) -> set[str]:
        return {i for i in meeting_ids if i.startswith("live")}


class StatusDouble:
    """Test double: an adapter with FeedDeletionStatus that changes at run time."""

    status: bool | None = None

    @property
    def feed_reports_deletions(self) -> bool | None:
        return self.status


class SwitchDouble:
    """Test double: an adapter with ReadsSendSwitch (unticked reads uncertain)."""

    def sync_reading(self, meeting: Meeting) -> SwitchReading:
        return SwitchReading.SET if meeting.sync else SwitchReading.MAYBE_DEFAULT


DOUBLES: dict[str, type] = {
    "FindsPartiesInBatch": BatchDouble,
    "ExistenceCheck": ExistenceDouble,
    "FeedDeletionStatus": StatusDouble,
    "ReadsSendSwitch": SwitchDouble,
}


def _adapter(names: Sequence[str], records: MemoryWorld | None = None) -> object:
    """An in-memory adapter (the test fake) with the capabilities ``names`` mixed in."""
    bases = tuple(DOUBLES[n] for n in names)
    cls = type("Adapter+" + "+".join(names), (*bases, FakeMemoryCrm), {})
    crm = cls(records or MemoryWorld(), {})
    crm.calls = []
    return crm


def test_capability_list_is_the_protocols() -> None:
    assert [c.__name__ for c in CAPABILITIES] == list(DOUBLES)


def test_each_capability_is_recognised_alone_and_nothing_else() -> None:
    for name, double in DOUBLES.items():
        assert capabilities_of(double()) == {name}
    assert capabilities_of(object()) == frozenset()
    assert capabilities_of(_adapter([])) == frozenset()  # the fake declares none


def test_the_built_in_crm_declares_the_batch_lookup_only() -> None:
    crm = SqlCrm(None)  # type: ignore[arg-type]  # isinstance looks at methods, not the session
    assert isinstance(crm, CrmPort)
    assert capabilities_of(crm) == {"FindsPartiesInBatch"}


@pytest.mark.parametrize(
    ("names", "status", "expected"),
    [
        ((), None, False),  # the port's default: the feed reports deletions
        (("FeedDeletionStatus",), False, False),  # blind, but nothing to check with
        (("ExistenceCheck",), None, True),  # no status declared: check
        (("ExistenceCheck", "FeedDeletionStatus"), None, True),  # not known yet: check
        (("ExistenceCheck", "FeedDeletionStatus"), False, True),
        (("ExistenceCheck", "FeedDeletionStatus"), True, False),  # the feed sees them now
    ],
)
def test_needs_existence_check(names: tuple[str, ...], status: bool | None, expected: bool) -> None:
    crm = _adapter(names)
    if isinstance(crm, StatusDouble):
        crm.status = status
    assert needs_existence_check(crm) is expected


@pytest.mark.parametrize(
    "names",
    [list(c) for n in range(len(DOUBLES) + 1) for c in itertools.combinations(DOUBLES, n)],
)
def test_dry_run_has_exactly_the_adapters_capabilities(names: list[str]) -> None:
    crm = _adapter(names)
    dry = DryRunCrm(crm)  # type: ignore[arg-type]
    assert isinstance(dry, DryRunCrm)
    assert capabilities_of(dry) == capabilities_of(crm) == set(names)
    assert needs_existence_check(dry) is needs_existence_check(crm)
    if not names:
        assert type(dry) is DryRunCrm


def test_dry_run_forwards_the_capabilities_as_reads() -> None:
    crm = _adapter(list(DOUBLES))
    dry = DryRunCrm(crm)  # type: ignore[arg-type]
    assert isinstance(dry, FindsPartiesInBatch)
    assert isinstance(dry, ExistenceCheck)
    assert isinstance(dry, FeedDeletionStatus)
    assert isinstance(dry, ReadsSendSwitch)
    assert dry.find_parties_many(["ann@example.org", "x@example.org"]) == {
        "ann@example.org": [ANN],
        "x@example.org": [],
    }
    assert isinstance(crm, BatchDouble)
    assert crm.calls == [["ann@example.org", "x@example.org"]]
    assert dry.confirm_existing(["live-1", "dead-2"]) == {"live-1"}
    assert isinstance(crm, StatusDouble)
    assert dry.feed_reports_deletions is None
    crm.status = True  # the adapter learns it later: the dry run says so too
    assert dry.feed_reports_deletions is True
    meeting = Meeting(
        "1", MeetingKind.APPOINTMENT, "M", dt.date(2030, 1, 1), dt.date(2030, 1, 2), ANN, sync=False
    )
    assert dry.sync_reading(meeting) is SwitchReading.MAYBE_DEFAULT


def test_dry_run_still_writes_nowhere() -> None:
    records = MemoryWorld()
    owner = MemorySeeder(records).add_party(EntityType.USER, ["o@example.com"], name="O")
    crm = _adapter(["FindsPartiesInBatch"], records)
    assert isinstance(crm, FakeMemoryCrm)
    dry = DryRunCrm(crm)
    task = dry.create_task(NewTask("k", "Visit", dt.date(2026, 6, 1), None, owner))
    assert task.id == "dry-run-1"
    assert dry.find_task("k") == task
    assert crm.find_task("k") is None
    assert records.tasks == {}
    assert dry.get_party(PartyRef(EntityType.USER, owner.id)) is not None  # reads go through
