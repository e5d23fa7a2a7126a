"""The planner's first-start rules: meetings adopted at the baseline, and the send switch.

Pure: plain values in, plans out (issue 11). An adopted meeting was in the CRM before the
gateway's first start; nothing was sent for it. A send switch read "off" may be nobody's
choice (:class:`SwitchReading.MAYBE_DEFAULT`): an invited meeting is not cancelled on it
unless the switch was seen on before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from invitegw.domain.records import Meeting, SwitchReading
from invitegw.itip.plan_model import LedgerState, Plan
from invitegw.itip.planner import adopt_meeting, invite_adopted, plan_meeting
from invitegw.itip.policy import MessageKind
from tests.gateway.outbound.builders import (
    GINA,
    GRACE,
    NOW,
    PAWEL,
    SALES,
    CountingIds,
    at,
    cancelled,
    meeting,
)

EVERYONE = {"olga@example.com", "carl@example.com", "gina@example.org"}


def adopted(new: Meeting | None = None, ids: CountingIds | None = None, **kw: object) -> Plan:
    return adopt_meeting(
        new or meeting(),
        meeting_id="7",
        calendar=SALES,
        now=NOW,
        ids=ids or CountingIds(),
        **kw,  # type: ignore[arg-type]
    )


def state(result: Plan) -> LedgerState:
    assert result.ledger is not None
    return result.ledger


def replan(
    new: Meeting | None,
    ledger: LedgerState,
    switch: SwitchReading = SwitchReading.NO_SWITCH,
    now: dt.datetime = NOW,
) -> Plan:
    return plan_meeting(
        new,
        ledger,
        meeting_id="7",
        calendar=SALES,
        now=now,
        grace=GRACE,
        ids=CountingIds(),
        switch=switch,
    )


def recipients(result: Plan) -> set[str]:
    return {m.recipient.address for m in result.messages}


# -- adopted at the baseline ------------------------------------------------------------------


def test_adopting_sends_nothing_and_remembers_everyone_unsent() -> None:
    result = adopted()
    assert (result.action, result.messages, result.notes) == ("adopted", (), ())
    ledger = state(result)
    assert ledger.adopted_at == NOW
    assert {r.address for r in ledger.attendees} == EVERYONE
    assert all(r.last_sequence_sent is None and r.token for r in ledger.attendees)
    assert not ledger.invited_anyone


def test_an_adopted_meeting_that_does_not_change_stays_silent() -> None:
    ledger = state(adopted())
    again = replan(meeting(), ledger)
    assert (again.action, again.messages) == ("unchanged", ())
    assert state(again).adopted_at == NOW


def test_its_first_real_change_sends_everyone_the_whole_meeting_as_an_invitation() -> None:
    ledger = state(adopted())
    result = replan(meeting(start=at(1, 11), end=at(1, 12)), ledger)
    assert result.action == "updated"
    assert recipients(result) == EVERYONE
    assert {(m.kind, m.sequence, m.occurrence) for m in result.messages} == {
        (MessageKind.INVITATION, 1, None)
    }
    assert state(result).adopted_at is None  # taken over: later changes are updates
    assert any(n.kind == "adopted-changed" for n in result.notes)
    later = replan(meeting(start=at(1, 12), end=at(1, 13)), state(result))
    assert {m.kind for m in later.messages} == {MessageKind.UPDATE}


def test_a_minor_change_or_a_new_attendee_also_takes_it_over() -> None:
    ledger = state(adopted())
    retitled = replan(meeting(title="Kick-off (final)"), ledger)
    assert recipients(retitled) == EVERYONE
    assert {m.kind for m in retitled.messages} == {MessageKind.INVITATION}
    joined = replan(meeting(attendees=(*meeting().attendees, PAWEL)), ledger)
    assert recipients(joined) == EVERYONE | {"pawel@example.org"}


def test_one_occurrence_cancelled_sends_the_whole_series_not_an_orphan_occurrence() -> None:
    ledger = state(adopted())
    result = replan(meeting(occurrences=(cancelled(8),)), ledger)
    assert recipients(result) == EVERYONE
    assert all(m.occurrence is None and m.kind is MessageKind.INVITATION for m in result.messages)


def test_cancelling_or_deleting_an_adopted_meeting_sends_nothing() -> None:
    ledger = state(adopted())
    off = replan(meeting(cancelled=True), ledger)
    assert (off.action, off.messages) == ("cancelled", ())
    assert [n.kind for n in off.notes] == ["adopted-off"]
    gone = replan(None, ledger)
    assert (gone.action, gone.messages) == ("unchanged", ())
    assert state(gone).deleted


def test_an_adopted_meeting_switched_on_by_a_mass_update_stays_silent() -> None:
    # Adopted while its new checkbox read 0; the administrator ticks every record.
    ledger = state(adopted(meeting(sync=False), switch=SwitchReading.MAYBE_DEFAULT))
    assert ledger.cancelled
    assert not ledger.switch_on
    ticked = replan(meeting(), ledger, SwitchReading.SET)
    assert (ticked.action, ticked.messages) == ("unchanged", ())
    assert state(ticked).switch_on
    assert not state(ticked).cancelled


def test_invite_adopted_sends_the_invitation_on_request() -> None:
    ledger = state(adopted())
    result = invite_adopted(
        meeting(), ledger, calendar=SALES, now=NOW, grace=GRACE, ids=CountingIds()
    )
    assert result.action == "invited"
    assert recipients(result) == EVERYONE
    assert {(m.kind, m.sequence) for m in result.messages} == {(MessageKind.INVITATION, 0)}
    assert state(result).adopted_at is None


def test_invite_adopted_sends_nothing_for_a_meeting_over() -> None:
    ledger = state(adopted())
    late = NOW + dt.timedelta(days=120)
    result = invite_adopted(
        meeting(), ledger, calendar=SALES, now=late, grace=GRACE, ids=CountingIds()
    )
    assert result.messages == ()
    assert state(result).adopted_at == NOW  # still adopted: nothing went out


# -- the send switch --------------------------------------------------------------------------


def invited(switch: SwitchReading = SwitchReading.NO_SWITCH) -> LedgerState:
    first = replan(meeting(), None, switch)  # type: ignore[arg-type]
    assert recipients(first) == EVERYONE
    return state(first)


def test_an_invited_meetings_switch_reading_unset_for_the_first_time_is_held() -> None:
    ledger = invited()  # sent before the switch field existed
    held = replan(meeting(sync=False), ledger, SwitchReading.MAYBE_DEFAULT)
    assert held.action == "unchanged"
    assert held.messages == ()
    assert [n.kind for n in held.notes] == ["switch-held"]
    assert not state(held).cancelled
    # The warning is written once; real changes still reach everyone.
    moved = replan(
        meeting(sync=False, start=at(1, 12), end=at(1, 13)),
        state(held),
        SwitchReading.MAYBE_DEFAULT,
    )
    assert moved.action == "updated"
    assert recipients(moved) == EVERYONE
    assert "switch-held" not in [n.kind for n in moved.notes]


def test_turned_off_after_it_was_seen_on_is_a_persons_choice_and_cancels() -> None:
    ledger = invited(SwitchReading.SET)
    assert ledger.switch_on
    off = replan(meeting(sync=False), ledger, SwitchReading.MAYBE_DEFAULT)
    assert off.action == "sync-off"
    assert recipients(off) == EVERYONE
    assert {m.method.value for m in off.messages} == {"CANCEL"}
    assert [n.kind for n in off.notes if n.kind != "queued"] == ["switch-off"]


def test_seen_on_later_then_turned_off_cancels_too() -> None:
    ledger = invited()
    ticked = replan(meeting(), ledger, SwitchReading.SET)  # the mass update
    assert ticked.messages == ()
    assert state(ticked).switch_on
    off = replan(meeting(sync=False), state(ticked), SwitchReading.MAYBE_DEFAULT)
    assert off.action == "sync-off"
    assert recipients(off) == EVERYONE


def test_a_certain_off_reading_cancels_at_once() -> None:
    # A "do not send" box ticked, or the built-in CRM's own switch.
    for switch in (SwitchReading.SET, SwitchReading.NO_SWITCH):
        off = replan(meeting(sync=False), invited(), switch)
        assert off.action == "sync-off"
        assert recipients(off) == EVERYONE


def test_a_meeting_never_invited_with_the_switch_unset_sends_nothing() -> None:
    never = replan(meeting(sync=False), None, SwitchReading.MAYBE_DEFAULT)  # type: ignore[arg-type]
    assert (never.action, never.messages) == ("sync-off", ())
    ticked = replan(meeting(), state(never), SwitchReading.SET)
    assert ticked.action == "revived"
    assert recipients(ticked) == EVERYONE


def test_the_adopted_flag_survives_a_meeting_with_only_muted_people() -> None:
    lonely = meeting(attendees=(dataclasses.replace(GINA, sync=False),))
    ledger = state(adopted(lonely))
    result = replan(dataclasses.replace(lonely, title="New title"), ledger)
    assert recipients(result) == {"olga@example.com"}
    assert state(result).adopted_at is None
