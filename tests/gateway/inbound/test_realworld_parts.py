"""Real invitations, inbound: one bad part of a message, and events with several RRULEs.

A message whose calendar holds an unusable VCALENDAR or VEVENT beside good ones applies
the good ones and leaves the bad one out with its reason (``dropped``: the event log's
warning, and the task's log when it names the task's UID), without quarantining the
message; alone, or beside a quarantine, it is quarantined. An event with several RRULEs
(Zimbra) recurs on their union: the ledger keeps the union's last end, which is what
``invitegw prune`` reads. The calendars are written here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from invitegw.domain.records import LogLevel
from invitegw.gateway.storage import Store
from tests.gateway.inbound.builders import STRANGER, calendar, invitation, vevent
from tests.gateway.inbound.harness import InboundHarness


@pytest.fixture
def gw(store: Store, tmp_path: Path) -> InboundHarness:
    return InboundHarness(store, tmp_path)


def outcomes(result: object) -> list[str]:
    return [e.outcome.value for e in result.events]  # type: ignore[attr-defined]


BAD_DATE = "DTSTART;TZID=Europe/Warsaw:20260230T090000"  # 30 February


# -- one unusable part --------------------------------------------------------------------------


def test_an_unusable_vcalendar_beside_a_good_one_is_left_out_not_quarantined(
    gw: InboundHarness,
) -> None:
    good = calendar("REQUEST", vevent(uid="good@partner.example"))
    bad = calendar("REQUEST", vevent(uid="bad@partner.example", start=BAD_DATE, end=None))
    result = gw.handle(invitation(good + bad, attachments_only=True))

    assert outcomes(result) == ["created", "dropped"]
    assert not result.quarantined
    assert result.quarantine_id is None
    assert gw.quarantine() == []
    dropped = result.events[1]
    assert dropped.uid == "bad@partner.example"
    assert (dropped.reason or "").startswith("malformed calendar in invite.ics: ")
    assert "DTSTART" in (dropped.reason or "")
    # The admin sees it: a warning in the event log, and the processed record's events.
    warning = gw.event_log()[-1]
    assert (warning.kind, warning.level) == ("inbound-dropped", "warning")
    assert "bad@partner.example" in warning.text
    [processed] = gw.processed()
    assert processed.outcome == "created"
    assert [e["outcome"] for e in processed.details["events"]] == ["created", "dropped"]


def test_a_dropped_occurrence_of_an_applied_series_is_noted_on_its_task(
    gw: InboundHarness,
) -> None:
    series = vevent(uid="series@partner.example", rrule="FREQ=WEEKLY;COUNT=5")
    broken_occurrence = vevent(
        uid="series@partner.example",
        recurrence_id="RECURRENCE-ID;TZID=Europe/Warsaw:20260617T090000",
        start=BAD_DATE,
        end=None,
    )
    result = gw.handle(invitation(calendar("REQUEST", series, broken_occurrence)))

    assert outcomes(result) == ["dropped", "created"]
    task_id = result.events[1].task_id
    assert result.events[0].task_id == task_id
    assert result.events[0].recurrence_id == "20260617T070000Z"
    assert gw.quarantine() == []
    [note] = [log for log in gw.crm_logs() if log.target_id == task_id]
    assert note.level is LogLevel.WARNING
    assert note.message.startswith("Part of an invitation left out: malformed event in ")


def test_a_message_with_nothing_usable_is_still_quarantined(gw: InboundHarness) -> None:
    bad = calendar("REQUEST", vevent(uid="bad@partner.example", start=BAD_DATE, end=None))
    result = gw.handle(invitation(bad + bad.replace("bad@", "worse@"), attachments_only=True))

    assert outcomes(result) == ["quarantined", "quarantined"]
    assert len(gw.quarantine()) == 1
    assert gw.tasks() == []


def test_an_unusable_part_beside_a_quarantined_event_is_quarantined_with_it(
    gw: InboundHarness,
) -> None:
    refused = calendar("REQUEST", vevent(uid="good@partner.example", organizer=STRANGER))
    bad = calendar("REQUEST", vevent(uid="bad@partner.example", start=BAD_DATE, end=None))
    result = gw.handle(invitation(refused + bad, attachments_only=True, from_=STRANGER))

    assert outcomes(result) == ["quarantined", "quarantined"]
    [row] = gw.quarantine()
    assert "unknown sender" in row.reason
    assert "malformed calendar in invite.ics" in row.reason


def test_a_release_applies_what_was_set_aside_and_keeps_the_bad_part_out(
    gw: InboundHarness,
) -> None:
    refused = calendar("REQUEST", vevent(uid="good@partner.example", organizer=STRANGER))
    bad = calendar("REQUEST", vevent(uid="bad@partner.example", start=BAD_DATE, end=None))
    first = gw.handle(invitation(refused + bad, attachments_only=True, from_=STRANGER))
    gw.add_user(STRANGER)  # now a CRM user: may invite
    assert first.quarantine_id is not None
    released = gw.pipeline.release(first.quarantine_id)

    assert outcomes(released) == ["created", "dropped"]
    assert not released.quarantined
    assert gw.quarantine()[0].released_at is not None


# -- several RRULEs -----------------------------------------------------------------------------


def zimbra(*rules: str, uid: str = "zimbra-1@partner.example") -> bytes:
    first, *more = rules
    event = vevent(uid=uid, rrule=first, extra=[f"RRULE:{rule}" for rule in more])
    return invitation(calendar("REQUEST", event))


def test_an_event_with_several_rrules_ends_with_the_last_of_their_union(
    gw: InboundHarness,
) -> None:
    # 10 and 17 June by the first rule; the 10th of each month to November by the second.
    result = gw.handle(zimbra("FREQ=WEEKLY;COUNT=2", "FREQ=MONTHLY;BYMONTHDAY=10;COUNT=6"))

    assert outcomes(result) == ["created"]
    [row] = gw.ledger()
    # 10 November 2026, 10:00 in Warsaw (CET, UTC+1); the first rule alone: 17 June.
    assert row.ends_at is not None
    assert row.ends_at.replace(tzinfo=dt.UTC) == dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC)
    task = gw.task(result.events[0].task_id)
    assert task.start == dt.datetime(2026, 6, 10, 7, tzinfo=dt.UTC)


def test_a_second_rrule_without_an_end_keeps_the_meeting_open(gw: InboundHarness) -> None:
    gw.handle(zimbra("FREQ=WEEKLY;COUNT=2", "FREQ=MONTHLY;BYMONTHDAY=10"))

    [row] = gw.ledger()
    assert row.ends_at is None  # never over: prune keeps it


def test_an_occurrence_of_the_second_rule_is_an_occurrence_of_the_series(
    gw: InboundHarness,
) -> None:
    series = gw.handle(zimbra("FREQ=WEEKLY;COUNT=2", "FREQ=MONTHLY;BYMONTHDAY=10;COUNT=6"))
    cancel = vevent(
        uid="zimbra-1@partner.example",
        sequence=1,
        recurrence_id="RECURRENCE-ID;TZID=Europe/Warsaw:20260810T090000",
        start="DTSTART;TZID=Europe/Warsaw:20260810T090000",
        end="DTEND;TZID=Europe/Warsaw:20260810T100000",
    )
    result = gw.handle(invitation(calendar("CANCEL", cancel), method="CANCEL"))

    assert outcomes(result) == ["ignored"]
    assert result.events[0].task_id == series.events[0].task_id
    assert result.events[0].reason == "cancel of one occurrence recorded; the series task stays"
