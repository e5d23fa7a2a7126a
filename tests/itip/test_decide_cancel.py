"""Partial CANCELs and cancelled occurrences in a PUBLISH, as plain values.

:rfc:`5546` section 3.2.5: a CANCEL that uninvites some attendees lists only them and has
no STATUS:CANCELLED; the task is cancelled only when we are among them (or the whole
meeting is cancelled). A cancelled occurrence inside a PUBLISH that carries its series is
part of that publication.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invitegw.itip.decide import decide_event
from invitegw.itip.decide_cancel import removed_others
from invitegw.itip.policy import ExternalInvitationPolicy
from invitegw.itip.task_facts import (
    Action,
    AddressStanding,
    EventFacts,
    LedgerState,
    OnRecord,
    Policies,
    Provenance,
    Version,
)

T0 = dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC)
ORGANIZER = AddressStanding("olivia@partner.example", known_party=True)
SERVICE = AddressStanding("calendar-noreply@cal.example")
STRANGER = AddressStanding("mallory@elsewhere.example")
DIRECT = Provenance(author=ORGANIZER, organizer=ORGANIZER, from_organizer=True, forwarded=False)
# A feed sent by a calendar server for the organizer: not from the organizer, not a forward.
ON_BEHALF = Provenance(author=SERVICE, organizer=ORGANIZER, from_organizer=False, forwarded=False)
OURS = {"sam@example.com", "sales@example.com"}
ACTIVE = OnRecord(LedgerState.ACTIVE, Version(0, T0), task_id="7")
RID = "20260617T070000Z"


def cancel(**changes: object) -> EventFacts:
    base = EventFacts(cancels=True, version=Version(1, T0), provenance=DIRECT, record=ACTIVE)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# -- whom a CANCEL uninvites --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("is_cancel", "status_cancelled", "attendees", "removed"),
    [
        # only others listed, no STATUS: they are removed, the meeting goes on for us
        (
            True,
            False,
            ["bob@partner.example", "carol@partner.example"],
            ("bob@partner.example", "carol@partner.example"),
        ),
        # we are among them: we are uninvited
        (True, False, ["bob@partner.example", "sam@example.com"], ()),
        # the calendar's (mailbox's) address among them
        (True, False, ["sales@example.com"], ()),
        # STATUS:CANCELLED: the whole meeting, whoever is listed
        (True, True, ["bob@partner.example"], ()),
        # no attendee list at all (sabre, Outlook): the whole meeting
        (True, False, [], ()),
        # a REQUEST with STATUS:CANCELLED is never a partial cancel
        (False, False, ["bob@partner.example"], ()),
        # blanks do not count; repeats are named once
        (
            True,
            False,
            ["", "bob@partner.example", "bob@partner.example"],
            ("bob@partner.example",),
        ),
    ],
)
def test_removed_others(
    is_cancel: bool, status_cancelled: bool, attendees: list[str], removed: tuple[str, ...]
) -> None:
    assert (
        removed_others(
            is_cancel=is_cancel, status_cancelled=status_cancelled, attendees=attendees, ours=OURS
        )
        == removed
    )


def test_the_organizer_listed_alone_is_no_one_removed() -> None:
    organizer = "olivia@partner.example"
    alone = removed_others(
        is_cancel=True,
        status_cancelled=False,
        attendees=[organizer],
        ours=OURS,
        organizer=organizer,
    )
    with_bob = removed_others(
        is_cancel=True,
        status_cancelled=False,
        attendees=[organizer, "bob@partner.example"],
        ours=OURS,
        organizer=organizer,
    )

    assert alone == ()
    assert with_bob == ("bob@partner.example",)


addresses = st.sampled_from(["a@x.example", "b@x.example", "sam@example.com", ""])


@given(st.lists(addresses, max_size=5), st.booleans())
def test_we_are_never_left_out_of_a_cancel_naming_us(attendees: list[str], status: bool) -> None:
    removed = removed_others(
        is_cancel=True, status_cancelled=status, attendees=attendees, ours=OURS
    )
    assert not (set(removed) & OURS)
    if "sam@example.com" in attendees or status or not any(attendees):
        assert removed == ()


# -- what the rules do with it ------------------------------------------------------------------


def test_a_cancel_removing_others_notes_them_and_keeps_the_task() -> None:
    decision = decide_event(cancel(removed=("bob@partner.example",)), Policies())

    assert decision.action is Action.NOTE_REMOVED
    assert decision.reason == (
        "the CANCEL removes other attendees (bob@partner.example); the task stays"
    )
    assert not decision.note_series


def test_a_cancel_removing_others_from_one_occurrence_notes_the_series() -> None:
    decision = decide_event(
        cancel(removed=("bob@partner.example",), record=None, recurrence_id=RID, series=ACTIVE),
        Policies(),
    )

    assert decision.action is Action.NOTE_REMOVED
    assert decision.note_series
    assert "the series task stays" in (decision.reason or "")


@pytest.mark.parametrize(
    "record",
    [
        None,
        OnRecord(LedgerState.CANCEL_SEEN, Version(0, T0)),
        OnRecord(LedgerState.CANCELLED, Version(0, T0), task_id="7"),
    ],
)
def test_a_partial_cancel_for_no_active_task_is_not_remembered(record: OnRecord | None) -> None:
    # Seen first, it must not be recorded as a cancel (the REQUEST that follows would then
    # be "cancelled before it arrived").
    decision = decide_event(cancel(removed=("bob@partner.example",), record=record), Policies())

    assert decision.action is Action.IGNORE
    assert "nothing of ours is cancelled" in (decision.reason or "")


def test_a_spoofed_partial_cancel_is_still_quarantined() -> None:
    spoofed = Provenance(
        author=STRANGER, organizer=ORGANIZER, from_organizer=False, forwarded=False
    )
    decision = decide_event(
        cancel(removed=("bob@partner.example",), provenance=spoofed), Policies()
    )

    assert decision.action is Action.QUARANTINE
    assert (decision.reason or "").startswith("spoofed CANCEL: ")


def test_a_cancelled_occurrence_in_a_publication_follows_the_series() -> None:
    occurrence = cancel(
        provenance=ON_BEHALF, record=None, recurrence_id=RID, series=ACTIVE, in_publication=True
    )

    as_cancel = decide_event(dataclasses.replace(occurrence, in_publication=False), Policies())
    in_publication = decide_event(occurrence, Policies())

    assert as_cancel.action is Action.QUARANTINE
    assert (as_cancel.reason or "").startswith("spoofed CANCEL: the message comes from")
    assert in_publication.action is Action.RECORD_CANCEL
    assert in_publication.note_series
    assert in_publication.reason == "cancel of one occurrence recorded; the series task stays"


def test_a_publication_from_someone_who_may_not_publish_is_refused() -> None:
    stranger = Provenance(
        author=STRANGER, organizer=STRANGER, from_organizer=False, forwarded=False
    )
    occurrence = cancel(
        provenance=stranger, record=None, recurrence_id=RID, series=None, in_publication=True
    )

    decision = decide_event(occurrence, Policies(external=ExternalInvitationPolicy.NONE))

    assert decision.action is Action.QUARANTINE
    assert (decision.reason or "").startswith("cancelled occurrence in a PUBLISH refused: ")


def test_a_publication_still_needs_a_confirmed_sender_when_asked() -> None:
    unconfirmed = dataclasses.replace(ON_BEHALF, authenticated=False)
    occurrence = cancel(
        provenance=unconfirmed, record=None, recurrence_id=RID, series=ACTIVE, in_publication=True
    )

    decision = decide_event(occurrence, Policies())

    assert decision.action is Action.QUARANTINE
    assert "Authentication-Results" in (decision.reason or "")


states = st.sampled_from(list(LedgerState))
records = st.one_of(
    st.none(), st.builds(OnRecord, states, st.just(Version(0, T0)), st.sampled_from([None, "7"]))
)


@given(records, st.sampled_from(["", RID]), st.one_of(st.none(), st.just(ACTIVE)))
def test_a_partial_cancel_never_cancels_nor_is_remembered(
    record: OnRecord | None, rid: str, series: OnRecord | None
) -> None:
    decision = decide_event(
        cancel(removed=("bob@partner.example",), record=record, recurrence_id=rid, series=series),
        Policies(),
    )

    assert decision.action not in {Action.CANCEL, Action.RECORD_CANCEL}
    assert decision.reason
