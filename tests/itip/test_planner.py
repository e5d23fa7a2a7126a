"""The outbound planner, rule by rule (pure: no servers, no database)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from invitegw.domain.records import LogLevel, Meeting, Party
from invitegw.ics import Method, PartStat, Role, build_cancel, build_request, parse_calendar
from invitegw.ics.model import EventStatus
from invitegw.itip import planner
from invitegw.itip.meeting_events import MAX_DESCRIPTION, MAX_LINE_TEXT
from invitegw.itip.plan_model import LedgerState, Plan, PlannedMessage
from invitegw.itip.planner import plan_meeting
from invitegw.itip.policy import MessageKind
from invitegw.itip.recipients import MeetingPeople, meeting_people
from tests.gateway.outbound.builders import (
    CARL,
    DORA,
    GINA,
    NOW,
    OLGA,
    PAWEL,
    SALES,
    CountingIds,
    at,
    cancelled,
    meeting,
    moved,
    plan,
)

EVERYONE = ["olga@example.com", "carl@example.com", "gina@example.org"]


def sent(result: Plan) -> list[tuple[str, str, str, int]]:
    """(recipient, METHOD, kind, SEQUENCE) of every message, in order."""
    return [
        (m.recipient.address, m.method.value, m.kind.value, m.sequence) for m in result.messages
    ]


def to(result: Plan, address: str) -> list[PlannedMessage]:
    return [m for m in result.messages if m.recipient.address == address]


def ledger(result: Plan) -> LedgerState:
    assert result.ledger is not None
    return result.ledger


def calendar_of(message: PlannedMessage) -> bytes:
    """The calendar object the message will carry, as the dispatcher's writer builds it."""
    if message.method is Method.REQUEST:
        return build_request(message.events, now=NOW)
    (event,) = message.events
    if message.uninvite:
        return build_cancel(event, attendees=event.attendees, now=NOW)
    return build_cancel(event, now=NOW)


def answered(state: LedgerState, address: str, partstat: PartStat) -> LedgerState:
    """The ledger after ``address`` replied (what the inbound side records)."""
    rows = tuple(
        dataclasses.replace(r, partstat=partstat) if r.address == address else r
        for r in state.attendees
    )
    return dataclasses.replace(state, attendees=rows)


def then(previous: Plan, new: Meeting | None, ids: CountingIds, **kw: object) -> Plan:
    return plan(new, ledger(previous), ids=ids, **kw)  # type: ignore[arg-type]


@pytest.fixture
def ids() -> CountingIds:
    return CountingIds()


@pytest.fixture
def created(ids: CountingIds) -> Plan:
    return plan(meeting(), ids=ids)


# -- a new meeting --------------------------------------------------------------------------


def test_a_new_meeting_invites_everyone_and_the_organizer_as_chair(created: Plan) -> None:
    assert created.action == "created"
    assert sent(created) == [(a, "REQUEST", "invitation", 0) for a in EVERYONE]
    master = created.messages[0].events[0]
    chair, *others = master.attendees
    assert (chair.email, chair.role, chair.partstat, chair.rsvp) == (
        "olga@example.com",
        Role.CHAIR,
        PartStat.ACCEPTED,
        False,
    )
    assert [(a.email, a.partstat, a.rsvp) for a in others] == [
        ("carl@example.com", PartStat.NEEDS_ACTION, True),
        ("gina@example.org", PartStat.NEEDS_ACTION, True),
    ]
    state = ledger(created)
    assert (state.sequence, state.calendar, state.cancelled) == (0, "sales", False)
    assert [r.last_sequence_sent for r in state.attendees] == [0, 0, 0]
    assert all(r.invited_at == NOW for r in state.attendees)


def test_token_mode_gives_each_attendee_their_own_organizer_address(created: Plan) -> None:
    tokens = {r.address: r.token for r in ledger(created).attendees}
    assert len(set(tokens.values())) == 3
    for message in created.messages:
        organizer = message.events[0].organizer
        assert organizer is not None
        assert organizer.email == f"sales+{tokens[message.recipient.address]}@example.com"
        assert organizer.cn == "Olga Organizer"
        assert organizer.sent_by == "sales@example.com"  # the From address
        assert message.reply_to == organizer.email


def test_tokens_are_reused_for_every_update(created: Plan, ids: CountingIds) -> None:
    before = {r.address: r.token for r in ledger(created).attendees}
    updated = then(created, meeting(title="Kick-off, v2"), ids)
    after = {r.address: r.token for r in ledger(updated).attendees}
    assert after == before
    for message in updated.messages:
        assert message.organizer.email == f"sales+{before[message.recipient.address]}@example.com"


def test_user_mode_names_the_crm_user_as_organizer(ids: CountingIds) -> None:
    calendar = dataclasses.replace(SALES, organizer_tokens=False, token_separator="-")
    result = plan(meeting(), calendar=calendar, ids=ids)
    for message in result.messages:
        assert message.organizer.email == "olga@example.com"
        assert message.organizer.sent_by == "sales@example.com"
        assert message.reply_to == "olga@example.com"


def test_the_token_separator_and_reply_to_follow_the_calendar(ids: CountingIds) -> None:
    calendar = dataclasses.replace(SALES, token_separator="-", reply_to="desk@example.com")
    result = plan(meeting(), calendar=calendar, ids=ids)
    token = ledger(result).attendees[2].token
    assert result.messages[2].organizer.email == f"sales-{token}@example.com"
    assert result.messages[2].reply_to == "desk@example.com"


@pytest.mark.parametrize(("minutes", "expected"), [(15, [-15]), (0, [0]), (None, [])])
def test_the_valarm_follows_the_calendar(
    ids: CountingIds, minutes: int | None, expected: list[int]
) -> None:
    calendar = dataclasses.replace(SALES, alarm_minutes=minutes)
    master = plan(meeting(), calendar=calendar, ids=ids).messages[0].events[0]
    assert [a.trigger.total_seconds() / 60 for a in master.alarms] == expected


def test_the_number_of_email_fields_is_honoured(ids: CountingIds) -> None:
    two = dataclasses.replace(
        GINA,
        emails=("gina@example.org", "gina.home@example.org", "gina.old@example.org"),
        invite_emails=("gina@example.org", "gina.home@example.org"),
    )
    result = plan(meeting(attendees=(two,)), ids=ids)
    assert [m.recipient.address for m in result.messages] == [
        "olga@example.com",
        "gina@example.org",
        "gina.home@example.org",
    ]


def test_an_entity_whose_sync_is_off_receives_nothing(ids: CountingIds) -> None:
    off = dataclasses.replace(PAWEL, sync=False, invite_emails=())
    result = plan(meeting(attendees=(CARL, off)), ids=ids)
    assert "pawel@example.org" not in [m.recipient.address for m in result.messages]
    listed = [a.email for a in result.messages[0].events[0].attendees]
    assert "pawel@example.org" not in listed
    assert any(n.kind == "sync-off" and "Paweł Nowak" in n.text for n in result.notes)


def test_an_invalid_address_is_skipped_and_logged(ids: CountingIds) -> None:
    broken = dataclasses.replace(DORA, emails=("dora@@example",), invite_emails=("dora@@example",))
    result = plan(meeting(attendees=(GINA, broken)), ids=ids)
    assert [m.recipient.address for m in result.messages] == [
        "olga@example.com",
        "gina@example.org",
    ]
    (note,) = [n for n in result.notes if n.kind == "invalid-address"]
    assert note.level is LogLevel.WARNING
    assert "'dora@@example'" in note.text
    assert "lead Dora Lead" in note.text


def test_an_organizer_with_sync_off_is_listed_but_sent_nothing(ids: CountingIds) -> None:
    quiet = dataclasses.replace(OLGA, invite_emails=())
    result = plan(meeting(organizer=quiet), ids=ids)
    assert [m.recipient.address for m in result.messages] == EVERYONE[1:]
    assert result.messages[0].events[0].attendees[0].role is Role.CHAIR


# -- changes --------------------------------------------------------------------------------


def test_a_significant_change_bumps_sequence_and_asks_again(
    created: Plan, ids: CountingIds
) -> None:
    accepted = answered(ledger(created), "gina@example.org", PartStat.ACCEPTED)
    result = plan(meeting(start=at(1, 11), end=at(1, 12)), accepted, ids=ids)
    assert result.action == "updated"
    assert sent(result) == [(a, "REQUEST", "update", 1) for a in EVERYONE]
    assert result.messages[2].changes == ("start", "end")
    gina = result.messages[0].events[0].attendees[2]
    assert gina.partstat is PartStat.NEEDS_ACTION
    assert ledger(result).attendee("gina@example.org").partstat is PartStat.NEEDS_ACTION  # type: ignore[union-attr]


def test_a_minor_change_keeps_sequence_and_answers(created: Plan, ids: CountingIds) -> None:
    accepted = answered(ledger(created), "gina@example.org", PartStat.ACCEPTED)
    later = NOW + dt.timedelta(minutes=5)
    result = plan(meeting(description="Agenda: scope."), accepted, ids=ids, now=later)
    assert result.action == "minor"
    assert sent(result) == [(a, "REQUEST", "update", 0) for a in EVERYONE]
    master = result.messages[2].events[0]
    assert master.dtstamp == later
    assert master.attendees[2].partstat is PartStat.ACCEPTED
    assert result.messages[2].changes == ("description",)


def test_nothing_changed_sends_nothing(created: Plan, ids: CountingIds) -> None:
    result = then(created, meeting(), ids)
    assert (result.action, result.messages) == ("unchanged", ())
    assert ledger(result).sequence == 0


def test_an_added_attendee_is_invited_and_the_others_updated(
    created: Plan, ids: CountingIds
) -> None:
    result = then(created, meeting(attendees=(CARL, GINA, PAWEL)), ids)
    assert result.action == "attendees"
    assert sent(result) == [
        ("olga@example.com", "REQUEST", "update", 0),
        ("carl@example.com", "REQUEST", "update", 0),
        ("gina@example.org", "REQUEST", "update", 0),
        ("pawel@example.org", "REQUEST", "invitation", 0),
    ]
    assert [a.email for a in result.messages[3].events[0].attendees][-1] == "pawel@example.org"


def test_a_removed_attendee_gets_a_cancel_of_their_own(created: Plan, ids: CountingIds) -> None:
    result = then(created, meeting(attendees=(CARL,)), ids)
    assert sent(result) == [
        ("olga@example.com", "REQUEST", "update", 0),
        ("carl@example.com", "REQUEST", "update", 0),
        ("gina@example.org", "CANCEL", "cancellation", 0),
    ]
    cancel = result.messages[2]
    assert cancel.uninvite
    parsed = parse_calendar(calendar_of(cancel))
    (event,) = parsed.events
    assert [a.email for a in event.attendees] == ["gina@example.org"]
    assert event.status is None  # RFC 5546 3.2.5: no STATUS when uninviting some
    assert ledger(result).attendee("gina@example.org").removed  # type: ignore[union-attr]
    # The next pass has nothing left to say to her.
    assert then(result, meeting(attendees=(CARL,)), ids).messages == ()


def test_a_removal_is_not_swallowed_by_an_update_for_everyone(
    created: Plan, ids: CountingIds
) -> None:
    # The title changes in the same edit: the others get the update, Gina still her CANCEL.
    result = then(created, meeting(attendees=(CARL,), title="Kick-off (short)"), ids)
    assert sent(result) == [
        ("olga@example.com", "REQUEST", "update", 0),
        ("carl@example.com", "REQUEST", "update", 0),
        ("gina@example.org", "CANCEL", "cancellation", 0),
    ]


def test_a_removed_attendee_who_comes_back_is_invited_again(
    created: Plan, ids: CountingIds
) -> None:
    removed = then(created, meeting(attendees=(CARL,)), ids)
    back = then(removed, meeting(), ids)
    assert to(back, "gina@example.org")[0].kind is MessageKind.INVITATION


def test_sync_switched_off_for_an_invited_entity_drops_them_silently(
    created: Plan, ids: CountingIds
) -> None:
    off = dataclasses.replace(GINA, sync=False, invite_emails=())
    result = then(created, meeting(attendees=(CARL, off)), ids)
    assert to(result, "gina@example.org") == []
    assert ledger(result).attendee("gina@example.org").removed  # type: ignore[union-attr]


def test_a_refresh_resends_the_current_request_to_that_attendee(
    created: Plan, ids: CountingIds
) -> None:
    state = ledger(created)
    rows = tuple(
        dataclasses.replace(r, resend=r.address == "gina@example.org") for r in state.attendees
    )
    result = plan(meeting(), dataclasses.replace(state, attendees=rows), ids=ids)
    assert (result.action, sent(result)) == (
        "resent",
        [("gina@example.org", "REQUEST", "update", 0)],
    )
    assert not ledger(result).attendee("gina@example.org").resend  # type: ignore[union-attr]


def test_messages_thread_on_the_first_invitation(created: Plan, ids: CountingIds) -> None:
    first = to(created, "gina@example.org")[0]
    assert first.thread_id is None
    updated = then(created, meeting(title="New title"), ids)
    assert to(updated, "gina@example.org")[0].thread_id == first.message_id


# -- occurrences ----------------------------------------------------------------------------


def test_a_cancelled_occurrence_goes_out_alone_with_its_recurrence_id(
    created: Plan, ids: CountingIds
) -> None:
    result = then(created, meeting(occurrences=(cancelled(15),)), ids)
    assert result.action == "occurrences"
    assert sent(result) == [(a, "CANCEL", "cancellation", 1) for a in EVERYONE]
    message = result.messages[1]
    assert message.occurrence == at(15, 10)
    parsed = parse_calendar(calendar_of(message))
    (event,) = parsed.events  # no master component
    assert (event.recurrence_id, event.sequence, event.status) == (
        at(15, 10),
        1,
        EventStatus.CANCELLED,
    )


def test_a_moved_occurrence_goes_out_alone_with_its_new_time(
    created: Plan, ids: CountingIds
) -> None:
    result = then(created, meeting(occurrences=(moved(8, 14),)), ids)
    assert sent(result) == [(a, "REQUEST", "update", 1) for a in EVERYONE]
    (event,) = parse_calendar(calendar_of(result.messages[0])).events
    assert (event.recurrence_id, event.start, event.end, event.sequence) == (
        at(8, 10),
        at(8, 14),
        at(8, 15),
        1,
    )
    assert event.rrule is None


def test_later_full_requests_carry_exdates_and_exceptions(created: Plan, ids: CountingIds) -> None:
    occurrences = (moved(8, 14), cancelled(15))
    step = then(created, meeting(occurrences=occurrences), ids)
    result = then(step, meeting(occurrences=occurrences, location="Room 5"), ids)
    assert sent(result) == [(a, "REQUEST", "update", 2) for a in EVERYONE]
    master, exception = parse_calendar(calendar_of(result.messages[0])).events
    assert master.exdates == (at(15, 10),)
    assert (exception.recurrence_id, exception.start, exception.sequence) == (
        at(8, 10),
        at(8, 14),
        2,
    )
    # Someone invited later gets the same consistent series.
    joined = then(
        result,
        meeting(occurrences=occurrences, location="Room 5", attendees=(CARL, GINA, PAWEL)),
        ids,
    )
    (pawel,) = to(joined, "pawel@example.org")
    assert pawel.kind is MessageKind.INVITATION
    assert [e.recurrence_id for e in pawel.events] == [None, at(8, 10)]


def test_a_restored_occurrence_is_a_significant_change(created: Plan, ids: CountingIds) -> None:
    step = then(created, meeting(occurrences=(cancelled(15),)), ids)
    result = then(step, meeting(), ids)
    assert result.action == "updated"
    assert sent(result) == [(a, "REQUEST", "update", 2) for a in EVERYONE]
    assert result.messages[0].events[0].exdates == ()


def test_an_attendee_behind_on_updates_gets_the_whole_series(
    created: Plan, ids: CountingIds
) -> None:
    early = meeting(start=at(1, 9), end=at(1, 10))
    state = ledger(then(created, early, ids))
    rows = tuple(
        dataclasses.replace(r, last_sequence_sent=0) if r.address == "carl@example.com" else r
        for r in state.attendees
    )
    lagging = dataclasses.replace(state, attendees=rows)
    off = dataclasses.replace(cancelled(15), recurrence_id=at(15, 9))
    result = plan(dataclasses.replace(early, occurrences=(off,)), lagging, ids=ids)
    carl = to(result, "carl@example.com")
    assert [(m.method, m.occurrence) for m in carl] == [(Method.REQUEST, None)]
    assert carl[0].events[0].exdates == (at(15, 9),)
    gina = to(result, "gina@example.org")
    assert [(m.method, m.occurrence) for m in gina] == [(Method.CANCEL, at(15, 9))]


# -- cancellation, deletion, sync -----------------------------------------------------------


def test_a_cancelled_meeting_gets_a_cancel_to_everyone_invited(
    created: Plan, ids: CountingIds
) -> None:
    result = then(created, meeting(cancelled=True), ids)
    assert result.action == "cancelled"
    assert sent(result) == [(a, "CANCEL", "cancellation", 1) for a in EVERYONE]
    (event,) = parse_calendar(calendar_of(result.messages[2])).events
    assert event.status is EventStatus.CANCELLED
    assert event.recurrence_id is None
    assert [a.email for a in event.attendees] == EVERYONE
    assert ledger(result).cancelled
    # After that, nothing more: neither a change nor the deletion sends anything.
    assert then(result, meeting(cancelled=True, title="Gone"), ids).messages == ()
    deleted = then(result, None, ids)
    assert deleted.messages == ()
    assert ledger(deleted).deleted


def test_a_deleted_meeting_is_cancelled_from_the_last_snapshot(
    created: Plan, ids: CountingIds
) -> None:
    removed = then(created, meeting(attendees=(CARL,)), ids)
    result = then(removed, None, ids)
    assert result.action == "deleted"
    # Gina was already uninvited: she gets nothing more.
    assert sent(result) == [
        ("olga@example.com", "CANCEL", "cancellation", 1),
        ("carl@example.com", "CANCEL", "cancellation", 1),
    ]
    assert result.messages[0].events[0].summary == "Project kick-off"
    assert ledger(result).deleted


def test_deleting_a_meeting_never_seen_sends_nothing() -> None:
    result = plan(None)
    assert (result.action, result.messages, result.ledger) == ("unchanged", (), None)


def test_sync_switched_off_after_invitations_cancels(created: Plan, ids: CountingIds) -> None:
    result = then(created, meeting(sync=False), ids)
    assert result.action == "sync-off"
    assert sent(result) == [(a, "CANCEL", "cancellation", 1) for a in EVERYONE]
    # Switched on again: invited afresh, with a higher SEQUENCE.
    revived = then(result, meeting(), ids)
    assert revived.action == "revived"
    assert sent(revived) == [(a, "REQUEST", "invitation", 2) for a in EVERYONE]


def test_a_meeting_with_sync_off_from_the_start_sends_nothing(ids: CountingIds) -> None:
    result = plan(meeting(sync=False), ids=ids)
    assert (result.action, result.messages) == ("sync-off", ())
    assert ledger(result).cancelled
    assert any("not synchronised" in n.text for n in result.notes)


# -- the past -------------------------------------------------------------------------------


def test_no_mail_for_a_meeting_that_is_over_but_the_ledger_moves_on(ids: CountingIds) -> None:
    single = meeting(rrule=None, start=at(1, 10, month=5), end=at(1, 11, month=5))
    result = plan(single, ids=ids)
    assert result.messages == ()
    assert any(n.kind == "past" for n in result.notes)
    state = ledger(result)
    assert state.snapshot == single
    assert [r.last_sequence_sent for r in state.attendees] == [None, None, None]
    # Moved into the future later: everyone is invited then.
    future = then(result, meeting(rrule=None), ids)
    assert sent(future) == [(a, "REQUEST", "invitation", 1) for a in EVERYONE]


def test_the_grace_period_still_covers_a_meeting_that_just_ended(ids: CountingIds) -> None:
    just = meeting(
        rrule=None, start=NOW - dt.timedelta(hours=2), end=NOW - dt.timedelta(minutes=30)
    )
    assert len(plan(just, ids=ids).messages) == 3


def test_an_endless_series_is_never_over(ids: CountingIds) -> None:
    endless = meeting(rrule="FREQ=WEEKLY", start=at(1, 10, month=1), end=at(1, 11, month=1))
    result = plan(endless, ids=ids)
    assert len(result.messages) == 3
    assert ledger(result).ends_at is None


def test_the_ledger_keeps_when_the_series_ends(created: Plan) -> None:
    # Six Mondays from June 1: the last one, July 6, ends at 11:00 in Warsaw.
    assert ledger(created).ends_at == dt.datetime(2026, 7, 6, 9, 0, tzinfo=dt.UTC)


def test_the_plan_notes_say_who_gets_what(created: Plan) -> None:
    (note,) = [n for n in created.notes if n.kind == "queued"]
    assert note.text == (
        "REQUEST SEQUENCE 0 queued for 3 recipients: "
        "olga@example.com, carl@example.com, gina@example.org"
    )


def test_an_occurrence_of_an_all_day_series(ids: CountingIds) -> None:
    day = dt.date(2026, 6, 1)
    all_day = meeting(start=day, end=day + dt.timedelta(days=1), time_zone=None)
    first = plan(all_day, ids=ids)
    occurrence = dataclasses.replace(cancelled(8), recurrence_id=dt.date(2026, 6, 8))
    result = then(first, dataclasses.replace(all_day, occurrences=(occurrence,)), ids)
    (event,) = parse_calendar(calendar_of(result.messages[0])).events
    assert (event.recurrence_id, event.start, event.end) == (
        dt.date(2026, 6, 8),
        dt.date(2026, 6, 8),
        dt.date(2026, 6, 9),
    )


def test_an_attendee_who_is_also_the_organizer_is_listed_once(ids: CountingIds) -> None:
    twin = Party(OLGA.type, "9", "Olga again", OLGA.emails, OLGA.invite_emails)
    result = plan(meeting(attendees=(twin, GINA)), ids=ids)
    assert [m.recipient.address for m in result.messages] == [
        "olga@example.com",
        "gina@example.org",
    ]


# -- caps -----------------------------------------------------------------------------------


def test_a_meeting_with_too_many_addresses_sends_nothing_and_says_why(
    created: Plan, ids: CountingIds
) -> None:
    crowd = tuple(
        Party(GINA.type, str(100 + n), f"Guest {n}", (f"g{n}@example.org",), (f"g{n}@example.org",))
        for n in range(5)
    )
    result = plan_meeting(
        meeting(attendees=crowd),
        ledger(created),
        meeting_id="7",
        calendar=SALES,
        now=NOW,
        grace=dt.timedelta(hours=1),
        ids=ids,
        max_attendees=5,
    )
    assert (result.action, result.messages, result.ledger) == ("too-large", (), ledger(created))
    (note,) = result.notes
    assert note.level is LogLevel.ERROR
    assert "6 addresses, more than the 5 allowed" in note.text


def test_long_crm_text_is_capped(ids: CountingIds) -> None:
    result = plan(meeting(title="T" * 2000, description="D" * 100_000), ids=ids)
    master = result.messages[0].events[0]
    assert len(master.summary) == MAX_LINE_TEXT
    assert master.summary.endswith("…")
    assert len(master.description) == MAX_DESCRIPTION


# -- the rules at a glance ------------------------------------------------------------------

# (rule, the CRM before (None: never seen), the CRM now (None: deleted),
#  [(recipient, METHOD, kind, SEQUENCE, RECURRENCE-ID day or None)])
ALL = ["olga@example.com", "carl@example.com", "gina@example.org"]
RULES = [
    ("new meeting", None, meeting(), [(a, "REQUEST", "invitation", 0, None) for a in ALL]),
    (
        "significant change",
        meeting(),
        meeting(location="Room 9"),
        [(a, "REQUEST", "update", 1, None) for a in ALL],
    ),
    (
        "minor change",
        meeting(),
        meeting(title="Renamed"),
        [(a, "REQUEST", "update", 0, None) for a in ALL],
    ),
    ("no change", meeting(), meeting(), []),
    (
        "attendee added",
        meeting(attendees=(CARL,)),
        meeting(),
        [
            ("olga@example.com", "REQUEST", "update", 0, None),
            ("carl@example.com", "REQUEST", "update", 0, None),
            ("gina@example.org", "REQUEST", "invitation", 0, None),
        ],
    ),
    (
        "attendee removed",
        meeting(),
        meeting(attendees=(CARL,)),
        [
            ("olga@example.com", "REQUEST", "update", 0, None),
            ("carl@example.com", "REQUEST", "update", 0, None),
            ("gina@example.org", "CANCEL", "cancellation", 0, None),
        ],
    ),
    (
        "meeting cancelled",
        meeting(),
        meeting(cancelled=True),
        [(a, "CANCEL", "cancellation", 1, None) for a in ALL],
    ),
    ("meeting deleted", meeting(), None, [(a, "CANCEL", "cancellation", 1, None) for a in ALL]),
    (
        "occurrence cancelled",
        meeting(),
        meeting(occurrences=(cancelled(8),)),
        [(a, "CANCEL", "cancellation", 1, 8) for a in ALL],
    ),
    (
        "occurrence moved",
        meeting(),
        meeting(occurrences=(moved(8, 15),)),
        [(a, "REQUEST", "update", 1, 8) for a in ALL],
    ),
    (
        "sync switched off after invitations",
        meeting(),
        meeting(sync=False),
        [(a, "CANCEL", "cancellation", 1, None) for a in ALL],
    ),
    ("sync off from the start", None, meeting(sync=False), []),
    (
        "entity sync off",
        None,
        meeting(attendees=(CARL, dataclasses.replace(GINA, sync=False, invite_emails=()))),
        [(a, "REQUEST", "invitation", 0, None) for a in ALL[:2]],
    ),
    (
        "two email fields",
        None,
        meeting(
            attendees=(
                dataclasses.replace(
                    GINA,
                    emails=("gina@example.org", "gi@example.org"),
                    invite_emails=("gina@example.org", "gi@example.org"),
                ),
            )
        ),
        [
            ("olga@example.com", "REQUEST", "invitation", 0, None),
            ("gina@example.org", "REQUEST", "invitation", 0, None),
            ("gi@example.org", "REQUEST", "invitation", 0, None),
        ],
    ),
    (
        "over for long",
        None,
        meeting(rrule=None, start=at(1, 9, month=5), end=at(1, 10, month=5)),
        [],
    ),
]


@pytest.mark.parametrize(("rule", "before", "now", "expected"), RULES, ids=[r[0] for r in RULES])
def test_the_rules(
    rule: str,
    before: Meeting | None,
    now: Meeting | None,
    expected: list[tuple[str, str, str, int, int | None]],
) -> None:
    ids = CountingIds()
    previous = ledger(plan(before, ids=ids)) if before is not None else None
    result = plan(now, previous, ids=ids)
    got = [
        (
            m.recipient.address,
            m.method.value,
            m.kind.value,
            m.sequence,
            m.occurrence.day if isinstance(m.occurrence, dt.datetime) else None,
        )
        for m in result.messages
    ]
    assert got == expected, rule


def test_a_refresh_for_a_meeting_that_is_over_is_answered_once(ids: CountingIds) -> None:
    over = meeting(rrule=None, start=at(1, 9, month=5), end=at(1, 10, month=5))
    state = ledger(plan(over, ids=ids))
    asked = dataclasses.replace(
        state, attendees=tuple(dataclasses.replace(r, resend=True) for r in state.attendees)
    )
    result = plan(over, asked, ids=ids)
    assert result.messages == ()
    assert not any(r.resend for r in ledger(result).attendees)


def test_the_people_of_a_meeting_are_worked_out_once_per_plan(
    monkeypatch: pytest.MonkeyPatch, ids: CountingIds
) -> None:
    calls: list[Meeting] = []

    def counted(meeting: Meeting) -> MeetingPeople:
        calls.append(meeting)
        return meeting_people(meeting)

    monkeypatch.setattr(planner, "meeting_people", counted)
    first = plan(meeting(), ids=ids)
    then(first, meeting(title="Renamed", attendees=(CARL,)), ids)
    assert len(calls) == 2  # one per plan
