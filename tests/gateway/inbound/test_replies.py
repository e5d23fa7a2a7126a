"""Attendee answers to our invitations: REPLY, COUNTER and REFRESH on a real database."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from invitegw.domain.records import LogLevel
from invitegw.gateway.inbound.model import Envelope, InboundOutcome
from invitegw.gateway.storage import Store
from invitegw.ics import Attendee, Method, PartStat, build_calendar, build_reply
from invitegw.itip.attendee_facts import ical_recurrence_id
from invitegw.itip.policy import NonInviteeReplyPolicy
from tests.gateway.inbound.reply_builders import ReplyHarness, calendar_email, drop_property

GINA = "gina@example.org"
CARL = "carl@example.com"
STAMP = dt.datetime(2026, 5, 5, 9, tzinfo=dt.UTC)


def reply(
    h: ReplyHarness,
    who: str,
    partstat: PartStat,
    *,
    sender: str | None = None,
    now: dt.datetime = STAMP,
    comment: str | None = None,
    **changes: object,
) -> bytes:
    """``who`` answers the invitation they got, from ``sender`` (default: themselves)."""
    event = h.replace_event(who, **changes)
    ics = build_reply(event, who, partstat, now=now, comment=comment)
    return calendar_email(ics, sender=sender or who, to=h.token_address(who))


@pytest.mark.parametrize("partstat", [PartStat.ACCEPTED, PartStat.DECLINED, PartStat.TENTATIVE])
def test_an_answer_is_recorded_on_the_crm_meeting_and_the_ledger(
    store: Store, tmp_path: Path, partstat: PartStat
) -> None:
    h = ReplyHarness(store, tmp_path)
    result = h.attendee_message(reply(h, GINA, partstat, comment="See you there"))
    assert result.outcome is InboundOutcome.REPLY_RECORDED
    assert result.meeting_id == h.meeting_id
    assert result.uid == h.uid()
    assert result.method == "REPLY"
    assert result.recurrence_id is None
    assert h.responses() == [(GINA, partstat.value, None, None, "See you there")]
    row = h.attendee(GINA)
    assert (row.partstat, row.partstat_sequence, row.partstat_dtstamp) == (
        partstat.value,
        0,
        STAMP,
    )
    assert h.attendee(CARL).partstat == "NEEDS-ACTION"


def test_an_outlook_com_reply_without_organizer_is_accepted(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    ics = drop_property(
        build_reply(h.invited_event(GINA), GINA, PartStat.ACCEPTED, now=STAMP), "ORGANIZER"
    )
    assert b"ORGANIZER" not in ics
    result = h.attendee_message(calendar_email(ics, sender=GINA, to=h.token_address(GINA)))
    assert result.outcome is InboundOutcome.REPLY_RECORDED
    assert h.responses() == [(GINA, "ACCEPTED", None, None, "")]


def test_icloud_answers_for_its_user_from_its_own_address(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    ics = build_reply(h.invited_event(GINA), GINA, PartStat.TENTATIVE, now=STAMP)
    icloud = "noreply@insideicloud.icloud.com"
    result = h.attendee_message(calendar_email(ics, sender=icloud, to=h.token_address(GINA)))
    assert result.outcome is InboundOutcome.REPLY_RECORDED
    assert h.responses() == [(GINA, "TENTATIVE", None, None, "")]


def test_an_unlisted_service_answering_for_someone_is_spoofed(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path, calendar_services=())
    ics = build_reply(h.invited_event(GINA), GINA, PartStat.TENTATIVE, now=STAMP)
    icloud = "noreply@insideicloud.icloud.com"
    result = h.attendee_message(calendar_email(ics, sender=icloud, to=h.token_address(GINA)))
    assert result.outcome is InboundOutcome.QUARANTINED
    assert h.responses() == []


def test_without_any_token_the_uid_correlates(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    ics = drop_property(
        build_reply(h.invited_event(GINA), GINA, PartStat.DECLINED, now=STAMP), "ORGANIZER"
    )
    result = h.attendee_message(calendar_email(ics, sender=GINA, to="olga@example.com"))
    assert result.outcome is InboundOutcome.REPLY_RECORDED
    assert h.attendee(GINA).partstat == "DECLINED"


def test_the_token_in_the_envelope_recipient_correlates(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    ics = drop_property(
        build_reply(h.invited_event(CARL), CARL, PartStat.ACCEPTED, now=STAMP), "ORGANIZER"
    )
    ics = ics.replace(h.uid().encode(), b"uid-rewritten@client.example")  # only the token is left
    raw = calendar_email(ics, sender=CARL, to="Sales <sales@example.com>")
    result = h.attendee_message(raw, envelope=Envelope(recipients=(h.token_address(CARL),)))
    assert result.outcome is InboundOutcome.QUARANTINED  # the token's meeting has another UID
    assert "unknown invitation" in (result.reason or "")
    ics = drop_property(
        build_reply(h.invited_event(CARL), CARL, PartStat.ACCEPTED, now=STAMP), "ORGANIZER"
    )
    raw = calendar_email(ics, sender=CARL, to="Sales <sales@example.com>")
    result = h.attendee_message(raw, envelope=Envelope(recipients=(h.token_address(CARL),)))
    assert result.outcome is InboundOutcome.REPLY_RECORDED


def test_a_reply_to_an_unknown_invitation_is_quarantined(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    event = h.replace_event(GINA, uid="someone-else@elsewhere.example")
    ics = drop_property(build_reply(event, GINA, PartStat.ACCEPTED, now=STAMP), "ORGANIZER")
    result = h.attendee_message(calendar_email(ics, sender=GINA, to="sales@example.com"))
    assert result.outcome is InboundOutcome.QUARANTINED
    assert (result.reason or "").startswith("reply to an unknown invitation")
    assert h.responses() == []


def test_a_spoofed_reply_is_quarantined_with_a_reason(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    raw = reply(h, GINA, PartStat.DECLINED, sender='"Gina Guest" <mallory@evil.example>')
    result = h.attendee_message(raw)
    assert result.outcome is InboundOutcome.QUARANTINED
    assert "spoofed REPLY" in (result.reason or "")
    assert "mallory@evil.example" in (result.reason or "")
    assert GINA in (result.reason or "")
    assert h.responses() == []
    assert h.attendee(GINA).partstat == "NEEDS-ACTION"


def test_other_attendees_in_a_reply_are_ignored(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    event = h.invited_event(GINA)
    ics = build_calendar(
        Method.REPLY,
        [
            dataclasses.replace(
                event,
                attendees=(
                    Attendee(email=CARL, partstat=PartStat.DECLINED),
                    Attendee(email=GINA, partstat=PartStat.ACCEPTED),
                ),
                rrule=None,
            )
        ],
        now=STAMP,
    )
    result = h.attendee_message(calendar_email(ics, sender=GINA, to=h.token_address(GINA)))
    assert result.outcome is InboundOutcome.REPLY_RECORDED
    assert h.responses() == [(GINA, "ACCEPTED", None, None, "")]
    assert h.attendee(CARL).partstat == "NEEDS-ACTION"


def test_an_invitee_answering_through_a_colleagues_token_counts_for_themselves(
    store: Store, tmp_path: Path
) -> None:
    h = ReplyHarness(store, tmp_path)
    ics = build_reply(h.invited_event(CARL), CARL, PartStat.TENTATIVE, now=STAMP)
    result = h.attendee_message(calendar_email(ics, sender=CARL, to=h.token_address(GINA)))
    assert result.outcome is InboundOutcome.REPLY_RECORDED
    assert (h.attendee(CARL).partstat, h.attendee(GINA).partstat) == ("TENTATIVE", "NEEDS-ACTION")


def test_a_non_invitee_reply_is_recorded_flagged(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)  # inbound.non_invitee_replies = record (the default)
    dora = "dora@example.test"
    ics = build_reply(h.invited_event(GINA), dora, PartStat.ACCEPTED, now=STAMP)
    result = h.attendee_message(calendar_email(ics, sender=dora, to=h.token_address(GINA)))
    assert result.outcome is InboundOutcome.REPLY_RECORDED
    assert "not invited" in (result.reason or "")
    ((who, partstat, _rid, _to, comment),) = h.responses()
    assert (who, partstat) == (dora, "ACCEPTED")
    assert comment.startswith("[not invited]")
    (warning,) = [e for e in h.crm_log() if e.level is LogLevel.WARNING and dora in e.message]
    assert warning.target_id == h.meeting_id
    assert h.attendee(GINA).partstat == "NEEDS-ACTION"


def test_a_non_invitee_reply_is_ignored_when_the_policy_says_so(
    store: Store, tmp_path: Path
) -> None:
    h = ReplyHarness(store, tmp_path, non_invitee_replies=NonInviteeReplyPolicy.IGNORE)
    dora = "dora@example.test"
    ics = build_reply(h.invited_event(GINA), dora, PartStat.ACCEPTED, now=STAMP)
    result = h.attendee_message(calendar_email(ics, sender=dora, to=h.token_address(GINA)))
    assert result.outcome is InboundOutcome.IGNORED
    assert "non_invitee_replies = ignore" in (result.reason or "")
    assert h.responses() == []
    assert any(dora in e.message for e in h.crm_log())  # logged on the meeting


def test_a_delegated_reply_is_recorded_as_such(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    event = h.invited_event(GINA)
    gina = dataclasses.replace(event.attendee(GINA), delegated_to=("dora@example.test",))
    event = dataclasses.replace(event, attendees=(gina,))
    ics = build_reply(event, GINA, PartStat.DELEGATED, now=STAMP)
    assert b"DELEGATED-TO" in ics
    result = h.attendee_message(calendar_email(ics, sender=GINA, to=h.token_address(GINA)))
    assert result.outcome is InboundOutcome.REPLY_RECORDED
    assert h.responses() == [(GINA, "DELEGATED", None, "dora@example.test", "")]
    assert h.attendee(GINA).partstat == "DELEGATED"


def test_a_stale_reply_changes_nothing(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    later = STAMP + dt.timedelta(hours=1)
    assert h.attendee_message(reply(h, GINA, PartStat.ACCEPTED, now=later)).outcome is (
        InboundOutcome.REPLY_RECORDED
    )
    for stamp in (STAMP, later):  # older, then equal DTSTAMP at the same SEQUENCE
        result = h.attendee_message(reply(h, GINA, PartStat.DECLINED, now=stamp))
        assert (result.outcome, result.reason) == (InboundOutcome.DUPLICATE, "stale reply")
    assert h.attendee(GINA).partstat == "ACCEPTED"
    newer = later + dt.timedelta(minutes=1)
    result = h.attendee_message(reply(h, GINA, PartStat.DECLINED, now=newer))
    assert result.outcome is InboundOutcome.REPLY_RECORDED
    assert h.attendee(GINA).partstat == "DECLINED"


def test_a_reply_to_an_older_sequence_is_stale(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    h.attendee_message(reply(h, GINA, PartStat.ACCEPTED, sequence=2))
    result = h.attendee_message(
        reply(h, GINA, PartStat.DECLINED, sequence=1, now=STAMP + dt.timedelta(days=1))
    )
    assert (result.outcome, result.reason) == (InboundOutcome.DUPLICATE, "stale reply")
    row = h.attendee(GINA)
    assert (row.partstat, row.partstat_sequence) == ("ACCEPTED", 2)


def test_a_reply_for_one_occurrence_carries_its_recurrence_id(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    master = h.invited_event(GINA)
    assert isinstance(master.start, dt.datetime)
    occurrence = master.start + dt.timedelta(weeks=1)
    raw = reply(h, GINA, PartStat.DECLINED, recurrence_id=occurrence, rrule=None)
    result = h.attendee_message(raw)
    assert result.outcome is InboundOutcome.REPLY_RECORDED
    assert result.recurrence_id == ical_recurrence_id(occurrence) == "20260608T080000Z"
    assert h.responses() == [(GINA, "DECLINED", "20260608T080000Z", None, "")]
    assert h.attendee(GINA).partstat == "NEEDS-ACTION"  # the series answer is unchanged
    again = reply(h, GINA, PartStat.ACCEPTED, recurrence_id=occurrence, rrule=None)
    assert h.attendee_message(again).outcome is InboundOutcome.DUPLICATE  # same DTSTAMP
    other = reply(
        h, GINA, PartStat.ACCEPTED, recurrence_id=occurrence + dt.timedelta(weeks=1), rrule=None
    )
    assert h.attendee_message(other).outcome is InboundOutcome.REPLY_RECORDED


def test_a_reply_to_a_cancelled_meeting_is_logged_not_recorded(
    store: Store, tmp_path: Path
) -> None:
    h = ReplyHarness(store, tmp_path)
    with h.outbound.admin() as crm:
        crm.cancel_meeting(h.meeting_id)
    h.outbound.outbound.poll()
    result = h.attendee_message(reply(h, GINA, PartStat.ACCEPTED))
    assert result.outcome is InboundOutcome.IGNORED
    assert (result.reason or "").startswith("reply to a cancelled meeting")
    assert h.responses() == []
    assert any("after the meeting was cancelled" in e.message for e in h.crm_log())


def test_a_reply_without_an_answer_is_ignored(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    event = h.invited_event(GINA)
    ics = build_calendar(
        Method.REPLY,
        [dataclasses.replace(event, attendees=(Attendee(email=GINA),), rrule=None)],
        now=STAMP,
    )
    result = h.attendee_message(calendar_email(ics, sender=GINA, to=h.token_address(GINA)))
    assert result.outcome is InboundOutcome.IGNORED
    assert h.responses() == []


# -- COUNTER and REFRESH --------------------------------------------------------------------


def counter(h: ReplyHarness, who: str = GINA, *, sender: str | None = None) -> bytes:
    event = h.invited_event(who)
    start = event.start + dt.timedelta(hours=4)  # type: ignore[operator]
    end = start + dt.timedelta(hours=1)
    proposal = dataclasses.replace(
        event,
        start=start,
        end=end,
        attendees=(Attendee(email=who, partstat=PartStat.TENTATIVE),),
        comment="Afternoons suit me better",
        rrule=None,
    )
    ics = build_calendar(Method.COUNTER, [proposal], now=STAMP)
    return calendar_email(
        ics, sender=sender or who, to=h.token_address(who), method="COUNTER", subject="New time"
    )


def test_a_counter_is_logged_and_the_organizer_gets_one_notice(
    store: Store, tmp_path: Path
) -> None:
    h = ReplyHarness(store, tmp_path)
    raw = counter(h)
    result = h.attendee_message(raw)
    assert result.outcome is InboundOutcome.COUNTER_LOGGED
    assert result.method == "COUNTER"
    (entry,) = [e for e in h.crm_log() if "counter-proposal" in e.message]
    assert entry.target_id == h.meeting_id
    assert GINA in entry.message
    assert "2026-06-01 14:00–15:00 (Europe/Warsaw)" in entry.message
    (notice,) = h.outbox("counter-notice")
    assert notice.recipient == "olga@example.com"
    assert notice.attendee_id is None
    assert notice.raw is not None
    text = notice.raw.decode()
    assert "Afternoons suit me better" in text
    assert "Reply-To: gina@example.org" in text
    assert "Auto-Submitted: auto-generated" in text
    again = h.attendee_message(raw)  # the same message on a later pass
    assert again.outcome is InboundOutcome.COUNTER_LOGGED
    assert len(h.outbox("counter-notice")) == 1
    assert h.responses() == []


def test_a_spoofed_counter_is_quarantined(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    result = h.attendee_message(counter(h, sender="mallory@evil.example"))
    assert result.outcome is InboundOutcome.QUARANTINED
    assert "spoofed COUNTER" in (result.reason or "")
    assert h.outbox("counter-notice") == []


def refresh(h: ReplyHarness, who: str, *, sender: str | None = None) -> bytes:
    event = h.invited_event(GINA)
    asking = dataclasses.replace(event, attendees=(Attendee(email=who),))
    ics = build_calendar(Method.REFRESH, [asking], now=STAMP)
    return calendar_email(ics, sender=sender or who, to=h.token_address(GINA), method="REFRESH")


def test_a_refresh_asks_for_the_invitation_again(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    result = h.attendee_message(refresh(h, GINA))
    assert result.outcome is InboundOutcome.REFRESH_SENT
    assert h.attendee(GINA).resend_requested_at == h.now
    assert h.attendee(CARL).resend_requested_at is None
    before = len(h.outbox())
    report = h.outbound.outbound.poll()
    assert report.resent == 1
    (resent,) = h.outbox()[before:]
    assert (resent.recipient, resent.method) == (GINA, "REQUEST")


def test_a_refresh_from_someone_not_invited_sends_nothing(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    result = h.attendee_message(refresh(h, "dora@example.test"))
    assert result.outcome is InboundOutcome.IGNORED
    assert "not invited" in (result.reason or "")
    assert all(row.resend_requested_at is None for row in h.iter_attendees())


# -- dry run --------------------------------------------------------------------------------


def test_a_dry_run_decides_but_writes_nothing(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    before = h.counts()
    dora = "dora@example.test"
    cases = [
        (reply(h, GINA, PartStat.ACCEPTED), InboundOutcome.REPLY_RECORDED),
        (
            calendar_email(
                build_reply(h.invited_event(GINA), dora, PartStat.ACCEPTED, now=STAMP),
                sender=dora,
                to=h.token_address(GINA),
            ),
            InboundOutcome.REPLY_RECORDED,
        ),
        (counter(h), InboundOutcome.COUNTER_LOGGED),
        (refresh(h, GINA), InboundOutcome.REFRESH_SENT),
    ]
    for raw, expected in cases:
        assert h.attendee_message(raw, dry_run=True).outcome is expected
    assert h.counts() == before
    assert h.attendee(GINA).partstat == "NEEDS-ACTION"
    assert h.attendee(GINA).resend_requested_at is None
