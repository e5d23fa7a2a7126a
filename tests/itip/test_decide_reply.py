"""The REPLY rules and what attendee messages share, as plain values, and their properties."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invitegw.domain.records import LogLevel
from invitegw.ics.model import Attendee, Method, PartStat
from invitegw.itip.attendee_facts import (
    MAX_COMMENT,
    InviteeStatus,
    MeetingStanding,
    answering_sender,
    comment_text,
    correlation_refusal,
    ical_recurrence_id,
    method_refusal,
    spoof_reason,
)
from invitegw.itip.decide_reply import (
    RecordedAnswer,
    ReplyAction,
    ReplyFacts,
    decide_reply,
    delegated_to,
    is_stale,
    reply_not_recorded,
    reply_stamp,
)
from invitegw.itip.policy import NonInviteeReplyPolicy

T0 = dt.datetime(2026, 5, 5, 9, tzinfo=dt.UTC)
CARL = "carl@partner.example"


def facts(partstat: PartStat = PartStat.ACCEPTED, **changes: object) -> ReplyFacts:
    base = ReplyFacts(
        sender=CARL,
        attendees=(Attendee(f"mailto:{CARL.upper()}", partstat=partstat),),
        meeting=MeetingStanding(sequence=1),
        invitee=InviteeStatus.INVITED,
        sequence=1,
        stamp=T0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# -- what attendee messages share ---------------------------------------------------------------


def test_a_calendar_service_answers_for_the_one_attendee_it_names() -> None:
    services = ("insideicloud.icloud.com",)
    one = (Attendee("mailto:Carl@Partner.example"),)
    icloud = "noreply@insideicloud.icloud.com"
    assert answering_sender(icloud, one, services) == CARL
    assert answering_sender(icloud, (*one, Attendee("mailto:x@y.example")), services) == icloud
    assert answering_sender(CARL, one, services) == CARL
    assert answering_sender(None, one, services) is None


def test_correlation_and_method_refusals_say_what_is_missing() -> None:
    assert method_refusal(Method.REPLY) is None
    assert method_refusal(Method.ADD) == "unsupported method ADD"
    assert correlation_refusal(Method.COUNTER, "u1", correlated=False, sender=CARL) == (
        "counter-proposal to an unknown invitation (UID 'u1'): "
        "the gateway sent no invitation with this UID or reply address"
    )
    assert correlation_refusal(Method.REFRESH, "u1", correlated=True, sender=None) == (
        "refresh request without a single valid From address: cannot tell who sent it"
    )
    assert correlation_refusal(Method.REPLY, "u1", correlated=True, sender=CARL) is None


def test_spoof_reason_lists_at_most_three_attendees() -> None:
    attendees = tuple(Attendee(f"a{n}@x.example") for n in range(5))
    assert spoof_reason("REPLY", CARL, attendees) == (
        f"spoofed REPLY: it comes from {CARL}, but the attendee in it is a0@x.example, "
        "a1@x.example, a2@x.example and 2 more; release it only after checking with that "
        "attendee"
    )


def test_comment_and_recurrence_text() -> None:
    assert comment_text("  see\n\tyou  there ") == "see you there"
    long = comment_text("x" * (MAX_COMMENT + 10))
    assert len(long) == MAX_COMMENT
    assert long.endswith("…")
    assert ical_recurrence_id(None) is None
    assert ical_recurrence_id(dt.date(2026, 6, 8)) == "20260608"
    aware = dt.datetime(2026, 6, 8, 10, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert ical_recurrence_id(aware) == "20260608T080000Z"
    floating = dt.datetime(2026, 6, 8, 10)  # noqa: DTZ001 - a floating time
    assert ical_recurrence_id(floating) == "20260608T100000"


# -- REPLY ----------------------------------------------------------------------------------------


def test_an_invitees_answer_is_recorded_for_the_series_or_the_occurrence() -> None:
    decision = decide_reply(facts(comment=" See\nyou "))
    assert decision.action is ReplyAction.RECORD
    assert decision.reason == f"{CARL} answered ACCEPTED"
    assert decision.note is None
    assert decision.answer is not None
    assert (decision.answer.attendee, decision.answer.partstat) == (CARL, "ACCEPTED")
    assert (decision.answer.comment, decision.answer.invitee) == ("See you", True)
    occurrence = decide_reply(facts(recurrence_id="20260608T080000Z"))
    assert occurrence.reason == f"{CARL} answered ACCEPTED for the occurrence 20260608T080000Z"
    assert occurrence.answer is not None
    assert occurrence.answer.recurrence_id == "20260608T080000Z"


def test_a_delegation_names_the_valid_delegates() -> None:
    answering = Attendee(
        CARL, partstat=PartStat.DELEGATED, delegated_to=("mailto:Dora@X.example", "not an address")
    )
    decision = decide_reply(facts(attendees=(answering,)))
    assert decision.reason == f"{CARL} answered DELEGATED (delegated to dora@x.example)"
    assert (
        delegated_to(Attendee(CARL, partstat=PartStat.ACCEPTED, delegated_to=("d@x.example",)))
        is None
    )


@pytest.mark.parametrize(
    ("changes", "action", "reason"),
    [
        (
            {"attendees": ()},
            ReplyAction.QUARANTINE,
            "REPLY without an ATTENDEE: it answers for nobody",
        ),
        (
            {"attendees": (Attendee("mallory@x.example", partstat=PartStat.ACCEPTED),)},
            ReplyAction.QUARANTINE,
            f"spoofed REPLY: it comes from {CARL}, but the attendee in it is mallory@x.example; "
            "release it only after checking with that attendee",
        ),
        (
            {"attendees": (Attendee(CARL),)},
            ReplyAction.IGNORE,
            f"reply from {CARL} gives no answer (NEEDS-ACTION)",
        ),
        (
            {"invitee": InviteeStatus.ORGANIZER},
            ReplyAction.IGNORE,
            f"the organizer's own reply ({CARL}): nothing to do",
        ),
        (
            {"recorded": RecordedAnswer(2, None)},
            ReplyAction.STALE,
            "stale reply",
        ),
    ],
    ids=["no-attendee", "spoofed", "needs-action", "organizer", "older-sequence"],
)
def test_replies_that_change_nothing(
    changes: dict[str, object], action: ReplyAction, reason: str
) -> None:
    decision = decide_reply(facts(**changes))
    assert (decision.action, decision.reason, decision.answer) == (action, reason, None)


@pytest.mark.parametrize("deleted", [False, True])
def test_a_reply_to_a_meeting_that_is_off_is_noted_not_recorded(deleted: bool) -> None:
    state = "deleted" if deleted else "cancelled"
    meeting = MeetingStanding(cancelled=not deleted, deleted=deleted)
    decision = decide_reply(facts(PartStat.DECLINED, meeting=meeting))
    assert decision.action is ReplyAction.IGNORE
    assert decision.reason == f"reply to a {state} meeting: not recorded ({CARL} answered DECLINED)"
    assert decision.note is not None
    assert decision.note.kind == "reply-after-cancel"
    assert (
        decision.note.text
        == f"{CARL} answered DECLINED after the meeting was {state}: not recorded"
    )


@pytest.mark.parametrize(
    ("invitee", "who", "flag"),
    [
        (InviteeStatus.NOT_INVITED, "who was not invited", "not invited"),
        (InviteeStatus.REMOVED, "who is no longer invited", "no longer invited"),
    ],
)
def test_a_non_invitee_follows_the_policy(invitee: InviteeStatus, who: str, flag: str) -> None:
    recorded = decide_reply(facts(invitee=invitee, comment="late"))
    assert recorded.action is ReplyAction.RECORD
    assert (
        recorded.reason == f"{CARL} is not invited: answer ACCEPTED recorded as from a non-invitee"
    )
    assert recorded.answer is not None
    assert (recorded.answer.comment, recorded.answer.invitee) == (f"[{flag}] late", False)
    assert recorded.note is not None
    assert (recorded.note.level, recorded.note.kind) == (LogLevel.WARNING, "non-invitee-reply")
    assert recorded.note.text == f"{CARL}, {who}, answered ACCEPTED: recorded as from a non-invitee"

    ignored = decide_reply(facts(invitee=invitee, policy=NonInviteeReplyPolicy.IGNORE))
    assert ignored.action is ReplyAction.IGNORE
    assert ignored.answer is None
    assert ignored.note is not None
    assert ignored.note.text == (
        f"{CARL}, {who}, answered ACCEPTED: ignored (inbound.non_invitee_replies = ignore)"
    )


def test_reply_stamp_and_staleness() -> None:
    floating = dt.datetime(2026, 5, 5, 9)  # noqa: DTZ001 - a floating time
    assert reply_stamp(None, None, T0) == T0
    assert reply_stamp(floating, T0, T0) == T0  # a floating DTSTAMP read as UTC
    assert reply_stamp(None, T0 + dt.timedelta(hours=1), T0) == T0 + dt.timedelta(hours=1)
    assert not is_stale(1, T0, None)
    assert is_stale(0, T0, RecordedAnswer(1, None))
    assert not is_stale(2, T0, RecordedAnswer(1, T0 + dt.timedelta(days=1)))
    assert is_stale(1, T0, RecordedAnswer(1, T0))  # same SEQUENCE, DTSTAMP not newer
    assert not is_stale(1, T0 + dt.timedelta(seconds=1), RecordedAnswer(1, T0))
    assert not is_stale(1, T0, RecordedAnswer(1, None))


def test_the_crm_losing_the_meeting_is_noted_in_the_event_log_only() -> None:
    note, reason = reply_not_recorded("m7", "no such meeting")
    assert (note.text, note.kind, note.to_crm) == (
        "reply not recorded: no such meeting",
        "reply-failed",
        False,
    )
    assert reason == "the CRM meeting m7 no longer exists: reply not recorded"


# -- properties -----------------------------------------------------------------------------------

stamps = st.datetimes(
    min_value=dt.datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=dt.datetime(2027, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    timezones=st.just(dt.UTC),
)
answers = st.builds(RecordedAnswer, st.integers(0, 4), st.none() | stamps)
all_facts = st.builds(
    facts,
    st.sampled_from(list(PartStat)),
    meeting=st.builds(MeetingStanding, st.booleans(), st.booleans(), st.integers(0, 4)),
    invitee=st.sampled_from(list(InviteeStatus)),
    sequence=st.integers(0, 4),
    stamp=stamps,
    recorded=st.none() | answers,
    recurrence_id=st.none() | st.just("20260608T080000Z"),
    policy=st.sampled_from(list(NonInviteeReplyPolicy)),
)


@given(all_facts)
def test_deciding_twice_gives_the_same_decision(reply: ReplyFacts) -> None:
    assert decide_reply(reply) == decide_reply(reply)


@given(all_facts)
def test_a_stale_answer_never_changes_anything(reply: ReplyFacts) -> None:
    decision = decide_reply(reply)
    if reply.invitee is InviteeStatus.INVITED and is_stale(
        reply.sequence, reply.stamp, reply.recorded
    ):
        assert decision.action is not ReplyAction.RECORD
    if decision.action is not ReplyAction.RECORD:
        assert decision.answer is None


@given(all_facts)
def test_an_answer_once_recorded_is_stale_the_second_time(reply: ReplyFacts) -> None:
    decision = decide_reply(reply)
    if decision.answer is None or not decision.answer.invitee:
        return
    again = dataclasses.replace(
        reply, recorded=RecordedAnswer(decision.answer.sequence, decision.answer.stamp)
    )
    assert decide_reply(again).action is ReplyAction.STALE


@given(all_facts)
def test_nothing_is_recorded_for_a_meeting_that_is_off_or_from_an_unlisted_sender(
    reply: ReplyFacts,
) -> None:
    decision = decide_reply(reply)
    if reply.meeting.off or reply.invitee is InviteeStatus.ORGANIZER:
        assert decision.action is not ReplyAction.RECORD
    if decision.action is ReplyAction.RECORD:
        assert decision.answer is not None
        assert decision.answer.attendee == reply.sender
        assert decision.answer.partstat != PartStat.NEEDS_ACTION.value
