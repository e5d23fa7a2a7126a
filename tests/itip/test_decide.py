"""The inbound task rules as plain values: every branch of ``decide``, and its properties."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invitegw.domain.records import EntityType, PartyRef, Task, TaskStatus
from invitegw.ics.model import Event
from invitegw.itip.decide import (
    cancel_refusal,
    creation_refusal,
    decide_event,
    forwarder_refusal,
)
from invitegw.itip.policy import DuplicatePolicy, ExternalInvitationPolicy, ForwarderPolicy
from invitegw.itip.task_content import UNTITLED, content_changes, task_content
from invitegw.itip.task_facts import (
    Action,
    AddressStanding,
    EventFacts,
    LedgerState,
    OnRecord,
    Policies,
    Provenance,
    Version,
    compare_versions,
)

T0 = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
ORGANIZER = AddressStanding("olivia@partner.example", known_party=True)
STAFF = AddressStanding("sam@example.com", is_user=True)
STRANGER = AddressStanding("mallory@elsewhere.example")
DIRECT = Provenance(author=ORGANIZER, organizer=ORGANIZER, from_organizer=True, forwarded=False)
FORWARD = Provenance(author=STAFF, organizer=ORGANIZER, from_organizer=False, forwarded=True)
SPOOF = Provenance(author=STRANGER, organizer=ORGANIZER, from_organizer=False, forwarded=True)
POLICIES = Policies()


def v(sequence: int = 0, minutes: int | None = 0) -> Version:
    return Version(sequence, None if minutes is None else T0 + dt.timedelta(minutes=minutes))


def rec(state: LedgerState = LedgerState.ACTIVE, version: Version | None = None) -> OnRecord:
    return OnRecord(
        state, version or v(), task_id="1" if state is not LedgerState.CANCEL_SEEN else None
    )


def facts(**changes: object) -> EventFacts:
    base = EventFacts(cancels=False, version=v(), provenance=DIRECT)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# -- versions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        (v(1), v(0), 1),
        (v(0), v(1), -1),
        (v(0, 5), v(0, 0), 1),
        (v(0, 0), v(0, 5), -1),
        (v(0, 0), v(0, 0), 0),
        (v(0, None), v(0, 5), 0),
        (v(2, 0), v(1, 99), 1),
    ],
)
def test_compare_versions(new: Version, old: Version, expected: int) -> None:
    assert compare_versions(new, old) == expected


versions = st.builds(
    Version,
    st.integers(0, 5),
    st.one_of(st.none(), st.integers(0, 3).map(lambda m: T0 + dt.timedelta(minutes=m))),
)


@given(versions, versions)
def test_compare_versions_is_antisymmetric(a: Version, b: Version) -> None:
    assert compare_versions(a, b) == -compare_versions(b, a)


# -- who may create -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("author", "policy", "expected"),
    [
        (STAFF, ForwarderPolicy.STAFF, None),
        (STRANGER, ForwarderPolicy.STAFF, "forwarder mallory@elsewhere.example is not a CRM user"),
        (
            AddressStanding("new@example.com", internal=True),
            ForwarderPolicy.STAFF,
            "not a CRM user",
        ),
        (AddressStanding("new@example.com", internal=True), ForwarderPolicy.INTERNAL_DOMAINS, None),
        (STRANGER, ForwarderPolicy.INTERNAL_DOMAINS, "nor in an internal domain"),
        (STRANGER, ForwarderPolicy.ANYONE, None),
        (AddressStanding(None), ForwarderPolicy.ANYONE, "without a usable From"),
    ],
)
def test_forwarder_refusal(
    author: AddressStanding, policy: ForwarderPolicy, expected: str | None
) -> None:
    reason = forwarder_refusal(author, policy)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None
        assert expected in reason


@pytest.mark.parametrize(
    ("sender", "policy", "allowed"),
    [
        (ORGANIZER, ExternalInvitationPolicy.KNOWN_PARTIES, True),
        (STRANGER, ExternalInvitationPolicy.KNOWN_PARTIES, False),
        (STRANGER, ExternalInvitationPolicy.ANYONE, True),
        (ORGANIZER, ExternalInvitationPolicy.NONE, False),
        (STAFF, ExternalInvitationPolicy.NONE, True),  # staff inviting the gateway directly
        (AddressStanding("x@example.com", internal=True), ExternalInvitationPolicy.NONE, True),
    ],
)
def test_direct_invitations_follow_the_external_policy(
    sender: AddressStanding, policy: ExternalInvitationPolicy, allowed: bool
) -> None:
    provenance = Provenance(author=sender, organizer=sender, from_organizer=True, forwarded=False)
    reason = creation_refusal(provenance, Policies(external=policy))
    assert (reason is None) is allowed


def test_without_a_from_the_organizer_is_judged() -> None:
    provenance = Provenance(
        author=AddressStanding(), organizer=ORGANIZER, from_organizer=False, forwarded=False
    )
    assert creation_refusal(provenance, POLICIES) is None


def test_forwards_follow_the_forwarder_policy_not_the_external_one() -> None:
    policies = Policies(external=ExternalInvitationPolicy.NONE)
    assert creation_refusal(FORWARD, policies) is None
    assert creation_refusal(SPOOF, policies) == (
        "forwarder mallory@elsewhere.example is not a CRM user"
    )


def test_cancel_refusal() -> None:
    assert cancel_refusal(DIRECT, trusted_forward=False) is None
    assert cancel_refusal(FORWARD, trusted_forward=True) is None
    reason = cancel_refusal(FORWARD, trusted_forward=False)
    assert reason is not None
    assert "not the organizer's message forwarded by the task's owner" in reason
    unauthenticated = dataclasses.replace(DIRECT, authenticated=False)
    assert "Authentication-Results" in (cancel_refusal(unauthenticated, trusted_forward=True) or "")


# -- REQUEST / PUBLISH --------------------------------------------------------------------------


def test_a_new_invitation_is_created() -> None:
    assert decide_event(facts(), POLICIES).action is Action.CREATE


def test_a_new_invitation_from_a_stranger_is_quarantined() -> None:
    decision = decide_event(facts(provenance=SPOOF), POLICIES)
    assert decision.action is Action.QUARANTINE
    assert decision.reason == "forwarder mallory@elsewhere.example is not a CRM user"


def test_no_owner_is_quarantined() -> None:
    decision = decide_event(facts(owner_found=False), POLICIES)
    assert decision.action is Action.QUARANTINE
    assert (decision.reason or "").startswith("no owner for the task")


def test_an_occurrence_of_a_series_on_record_skips_the_creation_policy() -> None:
    stranger_organizer = Provenance(
        author=STRANGER, organizer=STRANGER, from_organizer=True, forwarded=False
    )
    alone = facts(provenance=stranger_organizer, recurrence_id="20260617T070000Z")
    assert decide_event(alone, POLICIES).action is Action.QUARANTINE
    with_series = dataclasses.replace(alone, series=rec())
    assert decide_event(with_series, POLICIES).action is Action.CREATE


@pytest.mark.parametrize(
    ("version", "changes", "policy", "action"),
    [
        (v(0), ("start",), DuplicatePolicy.UPDATE, Action.DUPLICATE),  # same version
        (v(0, -5), ("start",), DuplicatePolicy.UPDATE, Action.DUPLICATE),  # older DTSTAMP
        (v(1), (), DuplicatePolicy.UPDATE, Action.TOUCH),  # newer, same content
        (v(1), ("start",), DuplicatePolicy.UPDATE, Action.UPDATE),
        (v(0, 5), ("title",), DuplicatePolicy.UPDATE, Action.UPDATE),  # same SEQUENCE, newer
        (v(1), ("start",), DuplicatePolicy.SKIP, Action.DUPLICATE),
        (v(1), ("start",), DuplicatePolicy.CREATE, Action.CREATE),
        (v(1), (), DuplicatePolicy.CREATE, Action.TOUCH),
    ],
)
def test_an_invitation_on_record(
    version: Version, changes: tuple[str, ...], policy: DuplicatePolicy, action: Action
) -> None:
    decision = decide_event(
        facts(version=version, record=rec(version=v(0)), changes=changes),
        Policies(duplicate=policy),
    )
    assert decision.action is action


def test_a_reschedule_says_so() -> None:
    decision = decide_event(facts(version=v(1), record=rec(), changes=("start", "end")), POLICIES)
    assert (
        decision.reason == "rescheduled (start, end changed; SEQUENCE 1, DTSTAMP 20260501T080000Z)"
    )


def test_an_update_from_a_stranger_is_refused() -> None:
    decision = decide_event(
        facts(version=v(1), record=rec(), changes=("start",), provenance=SPOOF), POLICIES
    )
    assert decision.action is Action.QUARANTINE
    assert (decision.reason or "").startswith("update refused: forwarder")


def test_an_update_sent_on_the_organizers_behalf_follows_the_external_policy() -> None:
    service = AddressStanding("noreply@booking.example")
    on_behalf = Provenance(
        author=service, organizer=ORGANIZER, from_organizer=False, forwarded=False
    )
    newer = facts(version=v(1), record=rec(), changes=("start",), provenance=on_behalf)
    assert decide_event(newer, POLICIES).action is Action.UPDATE  # the organizer is known
    stranger = dataclasses.replace(on_behalf, organizer=STRANGER)
    refused = decide_event(dataclasses.replace(newer, provenance=stranger), POLICIES)
    assert refused.action is Action.QUARANTINE
    assert (refused.reason or "").startswith("update refused: unknown sender noreply@")


def test_an_update_by_a_staff_forward_is_accepted() -> None:
    decision = decide_event(
        facts(version=v(1), record=rec(), changes=("start",), provenance=FORWARD), POLICIES
    )
    assert decision.action is Action.UPDATE


@pytest.mark.parametrize(
    ("state", "version", "action"),
    [
        (LedgerState.CANCEL_SEEN, v(1), Action.IGNORE),
        (LedgerState.CANCEL_SEEN, v(0), Action.IGNORE),
        (LedgerState.CANCEL_SEEN, v(1, 99), Action.IGNORE),  # a later DTSTAMP is not enough
        (LedgerState.CANCEL_SEEN, v(2), Action.CREATE),
        (LedgerState.CANCELLED, v(1), Action.IGNORE),
        (LedgerState.CANCELLED, v(2), Action.REACTIVATE),
    ],
)
def test_an_invitation_after_a_cancel(state: LedgerState, version: Version, action: Action) -> None:
    decision = decide_event(facts(version=version, record=rec(state, v(1))), POLICIES)
    assert decision.action is action


def test_a_broken_active_row_without_task_reads_as_no_record() -> None:
    record = OnRecord(LedgerState.ACTIVE, v(3), task_id=None)
    assert decide_event(facts(record=record), POLICIES).action is Action.CREATE


def test_our_own_meeting_is_a_loop() -> None:
    for cancels in (False, True):
        decision = decide_event(facts(our_meeting=True, cancels=cancels), POLICIES)
        assert decision.action is Action.IGNORE
        assert "loop" in (decision.reason or "")


# -- CANCEL -------------------------------------------------------------------------------------


def cancel_facts(**changes: object) -> EventFacts:
    return dataclasses.replace(facts(cancels=True, version=v(1), record=rec()), **changes)  # type: ignore[arg-type]


def test_the_organizers_cancel_cancels_the_series_and_its_occurrences() -> None:
    decision = decide_event(cancel_facts(), POLICIES)
    assert decision == dataclasses.replace(decision, action=Action.CANCEL, cascade=True)


def test_an_occurrence_cancel_does_not_cascade() -> None:
    decision = decide_event(cancel_facts(recurrence_id="20260617T070000Z"), POLICIES)
    assert decision.action is Action.CANCEL
    assert not decision.cascade


@pytest.mark.parametrize(
    ("provenance", "trusted_forward", "action"),
    [
        (DIRECT, False, Action.CANCEL),
        (FORWARD, True, Action.CANCEL),
        (FORWARD, False, Action.QUARANTINE),
        (SPOOF, False, Action.QUARANTINE),
        (dataclasses.replace(DIRECT, authenticated=False), False, Action.QUARANTINE),
    ],
)
def test_who_may_cancel(provenance: Provenance, trusted_forward: bool, action: Action) -> None:
    decision = decide_event(
        cancel_facts(provenance=provenance, trusted_forward=trusted_forward), POLICIES
    )
    assert decision.action is action
    if action is Action.QUARANTINE:
        assert (decision.reason or "").startswith("spoofed CANCEL: ")


def test_a_cancel_naming_another_organizer_is_spoofed() -> None:
    decision = decide_event(cancel_facts(record=None, other_organizer="real@x.example"), POLICIES)
    assert decision.action is Action.QUARANTINE
    assert "is not the organizer on record (real@x.example)" in (decision.reason or "")


@pytest.mark.parametrize(
    ("record", "version", "action"),
    [
        (None, v(1), Action.RECORD_CANCEL),
        (rec(LedgerState.CANCEL_SEEN, v(1)), v(2), Action.RECORD_CANCEL),
        (rec(LedgerState.CANCEL_SEEN, v(1)), v(1), Action.DUPLICATE),
        (rec(LedgerState.CANCELLED, v(1)), v(2), Action.DUPLICATE),
        (rec(LedgerState.ACTIVE, v(3)), v(1), Action.IGNORE),  # stale
        (rec(LedgerState.ACTIVE, v(3, 0)), v(0, 10), Action.CANCEL),  # Exchange: no SEQUENCE
        (rec(LedgerState.ACTIVE, v(3, 0)), v(3, -1), Action.IGNORE),
    ],
)
def test_cancel_versions(record: OnRecord | None, version: Version, action: Action) -> None:
    assert decide_event(cancel_facts(record=record, version=version), POLICIES).action is action


def test_an_occurrence_cancel_with_only_the_series_on_record_notes_it() -> None:
    decision = decide_event(
        cancel_facts(record=None, recurrence_id="20260617T070000Z", series=rec()), POLICIES
    )
    assert decision.action is Action.RECORD_CANCEL
    assert decision.note_series
    assert decision.reason == "cancel of one occurrence recorded; the series task stays"


# -- properties ---------------------------------------------------------------------------------

states = st.sampled_from(list(LedgerState))
people = st.sampled_from([ORGANIZER, STAFF, STRANGER, AddressStanding()])
provenances = st.builds(
    Provenance,
    author=people,
    organizer=people,
    from_organizer=st.booleans(),
    forwarded=st.booleans(),
    authenticated=st.booleans(),
)
all_facts = st.builds(
    EventFacts,
    cancels=st.booleans(),
    version=versions,
    provenance=provenances,
    record=st.one_of(
        st.none(), st.builds(OnRecord, states, versions, st.sampled_from([None, "1"]))
    ),
    recurrence_id=st.sampled_from(["", "20260617T070000Z"]),
    other_organizer=st.sampled_from([None, "real@x.example"]),
    series=st.one_of(st.none(), st.builds(OnRecord, states, versions, st.just("9"))),
    our_meeting=st.booleans(),
    changes=st.sampled_from([(), ("start",), ("title",)]),
    trusted_forward=st.booleans(),
    owner_found=st.booleans(),
)
all_policies = st.builds(
    Policies,
    st.sampled_from(list(DuplicatePolicy)),
    st.sampled_from(list(ForwarderPolicy)),
    st.sampled_from(list(ExternalInvitationPolicy)),
)


@given(all_facts, all_policies)
def test_every_decision_that_sets_aside_or_ignores_says_why(
    item: EventFacts, policies: Policies
) -> None:
    decision = decide_event(item, policies)
    if decision.action in {Action.QUARANTINE, Action.IGNORE, Action.DUPLICATE, Action.TOUCH}:
        assert decision.reason


@given(all_facts, all_policies)
def test_a_stale_copy_never_changes_a_task(item: EventFacts, policies: Policies) -> None:
    if item.record is None or item.our_meeting:
        return
    if compare_versions(item.version, item.record.version) > 0:
        return
    if item.cancels and item.version.dtstamp and item.record.version.dtstamp:
        return  # a CANCEL with a later DTSTAMP is the Exchange case
    decision = decide_event(item, policies)
    assert decision.action not in {Action.UPDATE, Action.REACTIVATE, Action.TOUCH}
    if item.record.task_id is not None or item.record.state is not LedgerState.ACTIVE:
        assert decision.action is not Action.CREATE


@given(all_facts, all_policies)
def test_a_spoofed_cancel_never_cancels(item: EventFacts, policies: Policies) -> None:
    spoofed = not item.provenance.from_organizer and not (
        item.provenance.forwarded and item.trusted_forward
    )
    if item.cancels and (spoofed or not item.provenance.authenticated):
        assert decide_event(item, policies).action not in {Action.CANCEL, Action.RECORD_CANCEL}


@given(all_facts, all_policies)
def test_deciding_is_deterministic(item: EventFacts, policies: Policies) -> None:
    assert decide_event(item, policies) == decide_event(item, policies)


# -- task content -------------------------------------------------------------------------------

WARSAW = dt.timezone(dt.timedelta(hours=2))


def event(**changes: object) -> Event:
    base = Event(
        uid="u",
        start=dt.datetime(2026, 6, 10, 9, tzinfo=WARSAW),
        end=dt.datetime(2026, 6, 10, 10, tzinfo=WARSAW),
        summary="Review",
        location="Room 1",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_task_content_reads_floating_times_in_the_zone_and_drops_a_bad_end() -> None:
    floating = event(
        start=dt.datetime(2026, 6, 10, 9),  # noqa: DTZ001 - a floating time
        end=dt.datetime(2026, 6, 10, 8),  # noqa: DTZ001 - a floating time
    )
    content = task_content(floating, dt.UTC)
    assert content.start == dt.datetime(2026, 6, 10, 9, tzinfo=dt.UTC)
    assert content.end is None
    mixed = task_content(event(end=dt.date(2026, 6, 11)), dt.UTC)
    assert mixed.end is None
    assert task_content(event(summary="  "), dt.UTC).title == UNTITLED
    assert task_content(event(start_given=False), dt.UTC).end is None


def test_content_changes_compare_instants() -> None:
    content = task_content(event(), dt.UTC)
    task = Task(
        id="1",
        title="Review",
        start=dt.datetime(2026, 6, 10, 7, tzinfo=dt.UTC),
        end=dt.datetime(2026, 6, 10, 8, tzinfo=dt.UTC),
        status=TaskStatus.OPEN,
        owner=PartyRef(EntityType.USER, "1"),
        location="Room 1",
    )
    assert content_changes(task, content) == ()
    moved = dataclasses.replace(task, start=dt.date(2026, 6, 10), title="Other", description="x")
    assert content_changes(moved, content) == ("start", "title", "description")
