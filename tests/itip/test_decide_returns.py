"""The COUNTER, REFRESH, bounce and reply-by-hand rules, as plain values."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invitegw.domain.records import LogLevel
from invitegw.ics.model import Attendee
from invitegw.itip.attendee_facts import InviteeStatus, MeetingStanding
from invitegw.itip.decide_bounce import (
    MAX_ERROR,
    BounceFacts,
    FailedDelivery,
    Failure,
    attendee_failures,
    decide_bounce,
    error_text,
    outbox_failure,
)
from invitegw.itip.decide_counter_refresh import (
    CounterAction,
    CounterFacts,
    Proposal,
    RefreshAction,
    RefreshFacts,
    decide_counter,
    decide_refresh,
    proposed_span,
    refresh_refused,
)
from invitegw.itip.decide_human_reply import (
    HumanReplyAction,
    HumanReplyFacts,
    decide_human_reply,
    forward_text,
)
from invitegw.itip.policy import NonInviteeReplyPolicy

WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")
CARL = "carl@partner.example"
OLGA = "olga@example.com"
START = dt.datetime(2026, 6, 10, 13, tzinfo=dt.UTC)


# -- COUNTER ------------------------------------------------------------------------------------


def counter(**changes: object) -> CounterFacts:
    base = CounterFacts(
        sender=CARL,
        attendees=(Attendee(CARL),),
        meeting=MeetingStanding(sequence=2),
        invitee=InviteeStatus.INVITED,
        proposal=Proposal(start=START, end=START + dt.timedelta(hours=1), sequence=2),
        zone=WARSAW,
        organizer=OLGA,
        title="Project kick-off",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_counter_is_passed_on_to_the_organizer_with_what_it_proposes() -> None:
    proposal = Proposal(
        start=START,
        end=START + dt.timedelta(hours=1),
        location=" Room\n 2 ",
        summary="Kick-off",
        comment="Later, please",
        recurrence_id="20260610T110000Z",
        sequence=1,
    )
    decision = decide_counter(counter(proposal=proposal))
    assert decision.action is CounterAction.FORWARD
    assert decision.reason == f"counter-proposal from {CARL} logged and passed on to {OLGA}"
    notice = decision.notice
    assert notice is not None
    assert notice.subject == f'Counter-proposal from {CARL}: "Project kick-off"'
    assert notice.line == (
        f"counter-proposal from {CARL}: proposed time: 2026-06-10 15:00–16:00 (Europe/Warsaw); "
        "location: Room 2; title: Kick-off; comment: Later, please; "
        "for the occurrence 20260610T110000Z; made on an older version of the invitation "
        "(SEQUENCE 1, current 2)"
    )
    assert notice.text.startswith(f'{CARL} proposes a change to the meeting "Project kick-off".')
    assert "  Proposed time: 2026-06-10 15:00–16:00 (Europe/Warsaw)\n" in notice.text
    assert decision.note is not None
    assert decision.note.text == f"{notice.line}; passed on to the organizer {OLGA}"
    assert notice.already() == f"counter-proposal from {CARL} already passed on to {OLGA}"
    note, reason = notice.failed("bad address")
    assert (note.level, reason) == (
        LogLevel.WARNING,
        "counter-proposal logged; the notice to the organizer failed: bad address",
    )


@pytest.mark.parametrize(
    ("changes", "action", "reason"),
    [
        (
            {"attendees": (Attendee("mallory@x.example"),)},
            CounterAction.QUARANTINE,
            f"spoofed COUNTER: it comes from {CARL}, but the attendee in it is mallory@x.example;"
            " release it only after checking with that attendee",
        ),
        (
            {"meeting": MeetingStanding(cancelled=True)},
            CounterAction.IGNORE,
            "counter-proposal for a cancelled meeting: not passed on",
        ),
        (
            {"invitee": InviteeStatus.NOT_INVITED, "policy": NonInviteeReplyPolicy.IGNORE},
            CounterAction.IGNORE,
            f"counter-proposal from {CARL}, who is not invited: ignored "
            "(inbound.non_invitee_replies = ignore)",
        ),
        (
            {"organizer": None},
            CounterAction.LOG,
            "counter-proposal logged; no organizer address on record to pass it on to",
        ),
    ],
    ids=["spoofed", "cancelled", "non-invitee-ignored", "no-organizer"],
)
def test_counters_that_are_not_passed_on(
    changes: dict[str, object], action: CounterAction, reason: str
) -> None:
    decision = decide_counter(counter(**changes))
    assert (decision.action, decision.reason, decision.notice) == (action, reason, None)


def test_a_non_invitees_counter_is_passed_on_marked_as_such() -> None:
    decision = decide_counter(counter(invitee=InviteeStatus.REMOVED, attendees=()))
    assert decision.action is CounterAction.FORWARD
    assert decision.notice is not None
    assert decision.notice.line.startswith(f"counter-proposal from {CARL} (not invited): ")


def test_proposed_spans() -> None:
    assert proposed_span(dt.date(2026, 6, 10), None, WARSAW) == "2026-06-10"
    floating = dt.datetime(2026, 6, 10, 9)  # noqa: DTZ001 - a floating time
    assert proposed_span(floating, floating + dt.timedelta(hours=1), WARSAW) == (
        "2026-06-10 09:00–10:00"
    )
    assert proposed_span(START, START + dt.timedelta(days=1), WARSAW) == (
        "2026-06-10 15:00–2026-06-11 15:00 (Europe/Warsaw)"
    )
    assert decide_counter(counter(proposal=Proposal(START, start_given=False))).notice is not None


# -- REFRESH ------------------------------------------------------------------------------------


def test_refresh() -> None:
    base = RefreshFacts(CARL, (), MeetingStanding(), InviteeStatus.INVITED)
    resend = decide_refresh(base)
    assert resend.action is RefreshAction.RESEND
    assert resend.reason == f"the current invitation will be sent to {CARL} again"
    assert resend.log_text == f"{CARL} asked for the invitation again (REFRESH)"
    spoofed = decide_refresh(dataclasses.replace(base, attendees=(Attendee("m@x.example"),)))
    assert spoofed.action is RefreshAction.QUARANTINE
    off = decide_refresh(dataclasses.replace(base, meeting=MeetingStanding(deleted=True)))
    assert off.reason == f"refresh request from {CARL}: the meeting is cancelled, nothing re-sent"
    for status in (InviteeStatus.REMOVED, InviteeStatus.NOT_INVITED, InviteeStatus.ORGANIZER):
        outsider = decide_refresh(dataclasses.replace(base, invitee=status))
        assert outsider.action is RefreshAction.IGNORE
        assert outsider.reason == (
            f"refresh request from {CARL}, who is not invited: nothing re-sent"
        )
    assert refresh_refused(CARL) == (
        f"refresh request from {CARL}: the invitation cannot be re-sent"
    )


@given(
    st.builds(
        RefreshFacts,
        st.just(CARL),
        st.lists(st.sampled_from([Attendee(CARL), Attendee("m@x.example")]), max_size=2).map(tuple),
        st.builds(MeetingStanding, st.booleans(), st.booleans()),
        st.sampled_from(list(InviteeStatus)),
    )
)
def test_only_an_invitee_of_a_meeting_still_on_gets_a_resend(facts: RefreshFacts) -> None:
    decision = decide_refresh(facts)
    if decision.action is RefreshAction.RESEND:
        assert facts.invitee is InviteeStatus.INVITED
        assert not facts.meeting.off
    assert decide_refresh(facts) == decision


# -- bounces --------------------------------------------------------------------------------------


GINA = "gina@partner.example"


def test_the_error_of_a_failed_delivery() -> None:
    assert error_text(None) == "delivery failed"
    assert error_text(FailedDelivery(GINA)) == "delivery failed"
    assert error_text(FailedDelivery(GINA, status="5.1.1", diagnostic="smtp;\n 550 no")) == (
        "5.1.1 smtp; 550 no"
    )
    assert len(error_text(FailedDelivery(GINA, diagnostic="x" * 5000))) == MAX_ERROR


def test_an_outbox_message_has_one_recipient_whatever_address_the_report_uses() -> None:
    alias = FailedDelivery(
        "g.alias@partner.example", original_recipient=f"mailto:{GINA}", status="5.1.1"
    )
    other = FailedDelivery("other@x.example", status="5.2.2")
    assert outbox_failure(GINA, [other, alias]) == Failure(GINA, "5.1.1")
    assert outbox_failure(GINA, [other]) == Failure(GINA, "5.2.2")
    assert outbox_failure(GINA, []) is None


def test_failures_by_returned_invitation_count_for_attendees_only() -> None:
    failed = [
        FailedDelivery("nobody@x.example", status="5.1.1"),
        FailedDelivery("alias@x.example", original_recipient=GINA, status="5.1.2"),
        FailedDelivery("not an address", status="5.0.0"),
    ]
    assert attendee_failures(failed, {GINA, CARL}) == [Failure(GINA, "5.1.2")]


def test_bounce_decisions() -> None:
    unknown = decide_bounce(BounceFacts("m1@x", None))
    assert (unknown.record, unknown.reason) == (
        False,
        "delivery failure report for a message the gateway did not send (m1@x): ignored",
    )
    ours = decide_bounce(BounceFacts(None, None, ours=True))
    assert ours.reason == (
        "delivery failure report for a message that is not about a meeting (no Message-ID): ignored"
    )
    delayed = decide_bounce(BounceFacts("m1@x", "7", actions=("delayed", None)))
    assert delayed.reason == (
        "delivery report for meeting 7 without a permanent failure of an attendee "
        "(actions: delayed, unknown): nothing recorded"
    )
    recorded = decide_bounce(
        BounceFacts("m1@x", "7", failures=(Failure(GINA, "5.1.1"), Failure(CARL, "5.2.2")))
    )
    assert recorded.record
    assert recorded.reason == f"delivery failure recorded for {GINA}, {CARL}"
    assert [(n.level, n.text, n.kind) for n in recorded.notes] == [
        (LogLevel.ERROR, f"delivery to {GINA} failed: 5.1.1", "bounce"),
        (LogLevel.ERROR, f"delivery to {CARL} failed: 5.2.2", "bounce"),
    ]


# -- replies by hand ------------------------------------------------------------------------------


def test_a_reply_by_hand_is_forwarded_to_the_organizer() -> None:
    decision = decide_human_reply(HumanReplyFacts(CARL, organizer=OLGA))
    assert decision.action is HumanReplyAction.FORWARD
    assert decision.reason == f"forwarded to the organizer {OLGA}"
    forward = decision.forward
    assert forward is not None
    note, _ = forward.forwarded()
    assert note.text == f"a reply by mail from {CARL} was forwarded to the organizer {OLGA}"
    assert forward.already() == f"already forwarded to the organizer {OLGA}"
    assert forward.subject("Kick-off", "Re: x") == f'Reply from {CARL} about "Kick-off": Re: x'
    assert forward.failed("7", "bad") == (
        f"a reply from {CARL} to meeting 7 cannot be forwarded to the organizer {OLGA}: bad; "
        "forward it by hand"
    )


@pytest.mark.parametrize(
    ("facts", "reason", "note_kind"),
    [
        (
            HumanReplyFacts(CARL, automatic=True, auto_signals=("Auto-Submitted: auto-replied",)),
            "automatic reply (Auto-Submitted: auto-replied) to a reply address: not forwarded",
            "auto-reply",
        ),
        (
            HumanReplyFacts("sales@example.com", own_address=True, organizer=OLGA),
            "the gateway's own message came back to a reply address: not forwarded",
            None,
        ),
        (
            HumanReplyFacts(None, forwarding=False, organizer=OLGA),
            "reply from an unknown sender not forwarded (inbound.forward_human_replies = false)",
            "reply-not-forwarded",
        ),
        (
            HumanReplyFacts(CARL),
            f"reply from {CARL} not forwarded: no organizer address on record",
            "reply-not-forwarded",
        ),
    ],
    ids=["automatic", "own", "forwarding-off", "no-organizer"],
)
def test_replies_by_hand_that_are_not_forwarded(
    facts: HumanReplyFacts, reason: str, note_kind: str | None
) -> None:
    decision = decide_human_reply(facts)
    assert (decision.action, decision.reason, decision.forward) == (
        HumanReplyAction.IGNORE,
        reason,
        None,
    )
    assert (decision.note.kind if decision.note else None) == note_kind
    if facts.automatic:
        assert decision.note is not None
        assert not decision.note.to_crm  # the event log only


@given(
    st.builds(
        HumanReplyFacts,
        st.none() | st.just(CARL),
        st.booleans(),
        st.just(()),
        st.booleans(),
        st.booleans(),
        st.none() | st.just(OLGA),
    )
)
def test_an_automatic_reply_is_never_forwarded(facts: HumanReplyFacts) -> None:
    decision = decide_human_reply(facts)
    if decision.action is HumanReplyAction.FORWARD:
        assert not facts.automatic
        assert facts.forwarding
        assert decision.forward is not None
        assert decision.forward.organizer == facts.organizer


def test_the_forward_text() -> None:
    text = forward_text(
        sender=CARL,
        invited=GINA,
        title="Kick-off",
        subject="Re:  can we\n move it?",
        date=START,
        body=None,
    )
    assert text.splitlines() == [
        f'{CARL} replied to the invitation "Kick-off" without answering it in the calendar,',
        "so the gateway passes the message on to you. To answer, reply to this message.",
        "",
        f"Note: that reply address was given to {GINA}; this message comes from {CARL}.",
        "",
        f"From: {CARL}",
        "Subject: Re: can we move it?",
        "Date: 2026-06-10T13:00:00+00:00",
        "",
        "(no readable text: see the attached original)",
    ]
