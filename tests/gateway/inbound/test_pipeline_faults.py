"""The inbound pipeline's edges: loops, other methods, a CRM that refuses or is down, bugs.

The CRM here is the built-in one wrapped by a small fake of the port that refuses or fails
on cue (the pipeline only sees ``CrmPort``), so each failure path runs against the real
database on both engines.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from invitegw.crm_adapter.port import CrmPort
from invitegw.domain.records import LogEntry, NewTask, Party, Task
from invitegw.errors import CrmError, CrmUnavailableError
from invitegw.gateway.bootstrap import inbound_pipeline
from invitegw.gateway.inbound import pipeline as pipeline_module
from invitegw.gateway.inbound import routing, task_events
from invitegw.gateway.inbound.model import MessageResult, SourcePosition
from invitegw.gateway.inbound.pipeline import InboundPipeline
from invitegw.gateway.storage import (
    InboundEvent,
    OutboundMeeting,
    ProcessedMessage,
    QuarantinedMessage,
    Store,
    enqueue,
)
from tests.gateway.inbound.builders import calendar, invitation, vevent
from tests.gateway.inbound.harness import InboundHarness


@pytest.fixture
def gw(store: Store, tmp_path: Path) -> InboundHarness:
    return InboundHarness(store, tmp_path)


def outcomes(result: MessageResult) -> list[str]:
    return [e.outcome.value for e in result.events]


class FlakyCrm:
    """The built-in CRM, except for what a test tells it to refuse or fail."""

    def __init__(self, inner: CrmPort, behaviour: dict[str, Any]) -> None:
        self._inner = inner
        self._behaviour = behaviour

    def __getattr__(self, name: str) -> Any:
        # It overrides find_parties: forwarding the batch capability (FindsPartiesInBatch)
        # would go around that override, so it does not declare it (isinstance asks
        # hasattr, which comes here).
        if name == "find_parties_many":
            raise AttributeError(name)
        return getattr(self._inner, name)

    def create_task(self, task: NewTask) -> Task:
        if task.title in self._behaviour.get("refuse_titles", ()):
            raise CrmError(f"validation failed for {task.title!r}")
        if self._behaviour.get("down"):
            raise CrmUnavailableError("CRM answered 503")
        return self._inner.create_task(task)

    def log(self, entry: LogEntry) -> None:
        if self._behaviour.get("refuse_logs"):
            raise CrmError("the log is read-only")
        self._inner.log(entry)

    def find_parties(self, email: str, types: Any = None) -> list[Party]:
        if self._behaviour.get("bug"):
            raise RuntimeError("a bug in an adapter")
        return self._inner.find_parties(email, types)


def flaky(gw: InboundHarness, **behaviour: Any) -> InboundPipeline:
    inner = gw.gateway.crm_factory

    def factory(session: Session) -> CrmPort:
        return FlakyCrm(inner(session), behaviour)  # type: ignore[return-value]

    gateway = dataclasses.replace(gw.gateway, crm_factory=factory)
    return inbound_pipeline(gateway)


def test_a_refused_event_is_quarantined_and_the_others_stay(gw: InboundHarness) -> None:
    pipeline = flaky(gw, refuse_titles={"Bad one"})
    raw = invitation(
        calendar("REQUEST", vevent(uid="good@x", summary="Good one")),
        calendar("REQUEST", vevent(uid="bad@x", summary="Bad one")),
    )
    result = pipeline.handle(gw.received(raw))

    assert outcomes(result) == ["created", "quarantined"]
    assert result.events[1].reason == (
        "the CRM refused the change: validation failed for 'Bad one'"
    )
    assert [t.title for t, _, _ in gw.tasks()] == ["Good one"]
    assert [row.uid for row in gw.ledger()] == ["good@x"]  # the refused one left no row
    assert len(gw.quarantine()) == 1


def test_a_messages_only_event_refused_leaves_nothing_but_the_quarantine(
    gw: InboundHarness,
) -> None:
    raw = invitation(calendar("REQUEST", vevent(uid="bad@x", summary="Bad one")))
    result = flaky(gw, refuse_titles={"Bad one"}).handle(
        gw.received(raw, position=SourcePosition(1, 3))
    )

    assert outcomes(result) == ["quarantined"]
    assert result.events[0].uid == "bad@x"
    assert result.events[0].method == "REQUEST"
    assert result.reason == "the CRM refused the change: validation failed for 'Bad one'"
    assert gw.tasks() == []
    assert gw.ledger() == []
    [row] = gw.quarantine()
    assert row.reason == result.reason
    assert gw.count(ProcessedMessage) == 1
    again = gw.pipeline.handle(gw.received(raw, position=SourcePosition(1, 3)))
    assert again.already_processed
    assert outcomes(again) == ["quarantined"]


def test_a_lone_refused_event_is_read_and_decided_once(
    gw: InboundHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lone event runs without a savepoint; its refusal is kept and the transaction
    # rolled back, without extracting, parsing or deciding the message a second time.
    calls: dict[str, int] = {"extract": 0, "parse": 0, "decide": 0}

    def counted(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(pipeline_module, "extract", counted("extract", pipeline_module.extract))
    monkeypatch.setattr(
        routing, "parse_calendar_objects", counted("parse", routing.parse_calendar_objects)
    )
    monkeypatch.setattr(task_events, "decide_event", counted("decide", task_events.decide_event))
    raw = invitation(calendar("REQUEST", vevent(uid="bad@x", summary="Bad one")))
    result = flaky(gw, refuse_titles={"Bad one"}).handle(gw.received(raw))

    assert outcomes(result) == ["quarantined"]
    assert calls == {"extract": 1, "parse": 1, "decide": 1}
    assert gw.tasks() == []
    assert gw.ledger() == []
    assert gw.count(ProcessedMessage) == 1


def test_a_refusal_after_a_write_undoes_the_events_writes(gw: InboundHarness) -> None:
    assert outcomes(gw.handle(invitation(calendar("REQUEST", vevent(sequence=0))))) == ["created"]
    newer = invitation(
        calendar("REQUEST", vevent(sequence=1, summary="Moved review")), message_id="m2@x"
    )
    result = flaky(gw, refuse_logs=True).handle(gw.received(newer))

    assert outcomes(result) == ["quarantined"]
    assert result.reason == "the CRM refused the change: the log is read-only"
    [(task, _, _)] = gw.tasks()
    assert task.title == "Quarterly review"  # the update before the refused log is undone
    [row] = gw.ledger()
    assert row.sequence == 0
    dry = flaky(gw, refuse_logs=True).handle(gw.received(newer), dry_run=True)
    assert outcomes(dry) == ["quarantined"]
    assert dry.dry_run


def test_an_unreachable_crm_commits_nothing_and_raises(gw: InboundHarness) -> None:
    pipeline = flaky(gw, down=True)
    raw = invitation()
    with pytest.raises(CrmUnavailableError):
        pipeline.handle(gw.received(raw, position=SourcePosition(1, 5)))

    assert gw.count(ProcessedMessage) == 0
    assert gw.count(InboundEvent) == 0
    assert outcomes(gw.pipeline.handle(gw.received(raw, position=SourcePosition(1, 5)))) == [
        "created"
    ]


def test_an_unexpected_failure_quarantines_the_message(gw: InboundHarness) -> None:
    raw = invitation(message_id="bug@x")
    result = flaky(gw, bug=True).handle(gw.received(raw))

    assert outcomes(result) == ["quarantined"]
    assert (result.reason or "").startswith("internal error while processing the message")
    assert result.message_id == "bug@x"
    [row] = gw.quarantine()
    assert row.message_id == "bug@x"
    assert gw.tasks() == []
    assert gw.pipeline.handle(gw.received(raw)).already_processed


def test_our_own_message_is_ignored(gw: InboundHarness) -> None:
    with gw.store.session() as session:
        enqueue(
            session,
            message_id="sent-1@example.com",
            sender="sales@example.com",
            recipient="olivia@partner.example",
            now=gw.clock(),
        )
    result = gw.handle(invitation(message_id="sent-1@example.com"))

    assert outcomes(result) == ["ignored"]
    assert "own message" in (result.reason or "")
    assert gw.tasks() == []


def test_our_own_meeting_uid_is_a_loop(gw: InboundHarness) -> None:
    now = gw.clock()
    with gw.store.session() as session:
        session.add(
            OutboundMeeting(
                crm_meeting_id="9",
                calendar="sales",
                uid="ours-1@example.com",
                created_at=now,
                updated_at=now,
            )
        )
    result = gw.handle(invitation(calendar("REQUEST", vevent(uid="ours-1@example.com"))))

    assert outcomes(result) == ["ignored"]
    assert "loop" in (result.reason or "")
    assert gw.tasks() == []


def test_publish_makes_a_task_and_status_cancelled_cancels_it(gw: InboundHarness) -> None:
    created = gw.handle(invitation(calendar("PUBLISH", vevent()), method="PUBLISH"))
    cancelled = gw.handle(
        invitation(calendar("PUBLISH", vevent(sequence=1, status="CANCELLED")), method="PUBLISH")
    )

    assert outcomes(created) == ["created"]
    assert outcomes(cancelled) == ["cancelled"]
    assert gw.task(created.events[0].task_id).status.value == "cancelled"


def test_no_message_id_is_known_by_its_bytes(gw: InboundHarness) -> None:
    raw = invitation(message_id="")
    first = gw.handle(raw)
    again = gw.handle(raw)

    assert first.message_id is None
    assert outcomes(first) == ["created"]
    assert again.already_processed


def test_a_floating_time_is_read_in_the_calendars_zone(gw: InboundHarness) -> None:
    result = gw.handle(
        invitation(
            calendar(
                "REQUEST",
                vevent(start="DTSTART:20260610T090000", end="DTEND:20260610T100000"),
            )
        )
    )

    task = gw.task(result.events[0].task_id)
    assert task.start == dt.datetime(2026, 6, 10, 7, tzinfo=dt.UTC)


def test_an_all_day_invitation(gw: InboundHarness) -> None:
    result = gw.handle(
        invitation(
            calendar(
                "REQUEST",
                vevent(start="DTSTART;VALUE=DATE:20260610", end="DTEND;VALUE=DATE:20260611"),
            )
        )
    )

    task = gw.task(result.events[0].task_id)
    assert task.start == dt.date(2026, 6, 10)
    assert task.end == dt.date(2026, 6, 11)


def test_a_truncated_quarantine_cannot_be_released(gw: InboundHarness) -> None:
    gw.with_inbound()
    gw.settings = dataclasses.replace(
        gw.settings, limits=dataclasses.replace(gw.settings.limits, quarantine_bytes=10)
    )
    gw.gateway = dataclasses.replace(gw.gateway, settings=gw.settings)
    pipeline = inbound_pipeline(gw.gateway)
    result = pipeline.handle(gw.received(invitation(calendar("ADD", vevent()), method="ADD")))
    [row] = gw.quarantine()

    assert row.truncated
    from invitegw.gateway.inbound.pipeline import QuarantineReleaseError

    with pytest.raises(QuarantineReleaseError, match="not kept whole"):
        pipeline.release(row.id)
    with pytest.raises(QuarantineReleaseError, match="no quarantined message"):
        pipeline.release(row.id + 100)
    assert result.quarantine_id == row.id
    assert gw.count(QuarantinedMessage) == 1


def test_sent_on_behalf_of_a_known_organizer_is_a_direct_invitation(gw: InboundHarness) -> None:
    on_behalf = invitation(from_="Bookings <noreply@booking.example>")
    result = gw.handle(on_behalf)
    spoofed_cancel = gw.handle(
        invitation(
            calendar("CANCEL", vevent(sequence=1)),
            method="CANCEL",
            from_="noreply@booking.example",
        )
    )

    assert outcomes(result) == ["created"]
    assert gw.sources()[0].forwarder is None
    assert outcomes(spoofed_cancel) == ["quarantined"]  # only the organizer may cancel
