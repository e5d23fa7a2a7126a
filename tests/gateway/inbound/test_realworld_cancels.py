"""Real invitations, inbound: partial CANCELs and cancelled occurrences in a PUBLISH.

Through ``InboundPipeline.handle`` with the built-in CRM on SQLite and PostgreSQL. The
messages are written here in the shapes clients send (:rfc:`5546` section 3.2.5: a CANCEL
uninviting some attendees lists only them and has no STATUS:CANCELLED; Google and
Outlook publish a cancelled occurrence beside its series, often without ORGANIZER).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from invitegw.domain.records import TaskStatus
from invitegw.gateway.bootstrap import build_gateway, inbound_pipeline
from invitegw.gateway.config import MailboxSettings
from invitegw.gateway.inbound.model import Envelope
from invitegw.gateway.storage import Store
from tests.gateway.inbound.builders import CONTACT, SAM, calendar, forward, invitation, vevent
from tests.gateway.inbound.harness import InboundHarness

BOB = "bob@partner.example"
CAROL = "carol@partner.example"
FEED = "Partner calendar <calendar-noreply@cal.partner.example>"
OCCURRENCE = "RECURRENCE-ID;TZID=Europe/Warsaw:20260617T090000"


@pytest.fixture
def gw(store: Store, tmp_path: Path) -> InboundHarness:
    return InboundHarness(store, tmp_path)


def outcomes(result: object) -> list[str]:
    return [e.outcome.value for e in result.events]  # type: ignore[attr-defined]


def request(sequence: int = 0, **fields: object) -> bytes:
    values: dict[str, object] = {"sequence": sequence, "attendees": (SAM, BOB, CAROL)}
    values.update(fields)
    return invitation(calendar("REQUEST", vevent(**values)))  # type: ignore[arg-type]


def cancel(*attendees: str, status: str | None = None, **fields: object) -> bytes:
    values: dict[str, object] = {
        "sequence": 1,
        "dtstamp": "20260505T080000Z",
        "attendees": attendees,
        "status": status,
    }
    values.update(fields)
    text = calendar("CANCEL", vevent(**values))  # type: ignore[arg-type]
    return invitation(text, method="CANCEL", subject="Cancelled")


# -- a CANCEL that uninvites others -------------------------------------------------------------


def test_a_cancel_removing_other_attendees_keeps_the_task_and_names_them(
    gw: InboundHarness,
) -> None:
    created = gw.handle(request())
    task_id = created.events[0].task_id
    removed = gw.handle(cancel(BOB, CAROL))
    # The organizer then sends the remaining attendees the updated REQUEST.
    updated = gw.handle(request(1, location="Room 2", attendees=(SAM,)))

    assert outcomes(removed) == ["ignored"]
    assert removed.events[0].task_id == task_id
    assert removed.events[0].reason == (
        f"the CANCEL removes other attendees ({BOB}, {CAROL}); the task stays"
    )
    assert not removed.quarantined
    assert outcomes(updated) == ["updated"]
    task = gw.task(task_id)
    assert task.status is TaskStatus.OPEN
    assert task.location == "Room 2"
    [row] = gw.ledger()
    assert row.state.value == "active"
    assert len(gw.sources()) == 3  # every message that carried it
    notes = [log.message for log in gw.crm_logs() if log.target_id == task_id]
    assert (
        f"CANCEL from {CONTACT}: the CANCEL removes other attendees ({BOB}, {CAROL}); "
        "the task stays" in notes
    )


@pytest.mark.parametrize(
    ("attendees", "status"),
    [
        ((BOB, SAM), None),  # we are among those uninvited
        (("sales@example.com",), None),  # the calendar's address
        ((BOB, CAROL), "CANCELLED"),  # the whole meeting (Outlook, Google)
        ((), None),  # no attendee list at all (sabre)
    ],
    ids=["owner-listed", "calendar-listed", "status-cancelled", "no-attendees"],
)
def test_a_cancel_that_uninvites_us_cancels_the_task(
    gw: InboundHarness, attendees: tuple[str, ...], status: str | None
) -> None:
    created = gw.handle(request())
    cancelled = gw.handle(cancel(*attendees, status=status))

    assert outcomes(cancelled) == ["cancelled"]
    assert gw.task(created.events[0].task_id).status is TaskStatus.CANCELLED


def test_the_envelope_recipient_counts_as_us(gw: InboundHarness) -> None:
    # Delivered by SMTP for tina@example.com, who is listed: she was uninvited.
    envelope = Envelope(sender=CONTACT, recipients=("tina@example.com",))
    created = gw.handle(request(), owner=None, envelope=envelope)
    cancelled = gw.handle(cancel("tina@example.com"), owner=None, envelope=envelope)

    assert outcomes(created) == ["created"]
    assert outcomes(cancelled) == ["cancelled"]


def test_the_mailboxs_own_address_counts_as_us(gw: InboundHarness) -> None:
    # The mailbox "inbox" receives for crm@example.com (its login), owned by Sam.
    mailbox = MailboxSettings(name="inbox", host="127.0.0.1", username="crm@example.com", owner=SAM)
    gw.settings = dataclasses.replace(gw.settings, mailboxes=(mailbox,))
    gw.gateway = build_gateway(gw.settings, store=gw.store, clock=gw.clock)
    gw.pipeline = inbound_pipeline(gw.gateway)
    created = gw.handle(request(attendees=("crm@example.com", BOB)))
    cancelled = gw.handle(cancel("crm@example.com"))

    assert outcomes(cancelled) == ["cancelled"]
    assert gw.task(created.events[0].task_id).status is TaskStatus.CANCELLED


def test_a_partial_cancel_seen_first_does_not_stop_the_request(gw: InboundHarness) -> None:
    early = gw.handle(cancel(BOB))
    late = gw.handle(request(1))

    assert outcomes(early) == ["ignored"]
    assert "nothing of ours is cancelled" in (early.events[0].reason or "")
    assert outcomes(late) == ["created"]
    assert [row.state.value for row in gw.ledger()] == ["active"]


def test_a_partial_cancel_of_one_occurrence_is_noted_on_the_series(gw: InboundHarness) -> None:
    series = gw.handle(request(rrule="FREQ=WEEKLY;COUNT=5"))
    removed = gw.handle(cancel(BOB, recurrence_id=OCCURRENCE))

    assert outcomes(removed) == ["ignored"]
    series_id = series.events[0].task_id
    assert removed.events[0].task_id == series_id
    assert gw.task(series_id).status is TaskStatus.OPEN
    assert len(gw.ledger()) == 1  # nothing remembered for the occurrence
    assert any(
        log.target_id == series_id and "(occurrence 20260617T070000Z)" in log.message
        for log in gw.crm_logs()
    )


def test_the_owner_forwarding_a_cancel_that_names_them_cancels(gw: InboundHarness) -> None:
    created = gw.handle(request())
    original = invitation(
        calendar("CANCEL", vevent(sequence=1, attendees=(SAM,))), method="CANCEL", to=SAM
    )
    cancelled = gw.handle(forward(original, from_=SAM))

    assert outcomes(cancelled) == ["cancelled"]
    assert gw.task(created.events[0].task_id).status is TaskStatus.CANCELLED


# -- a cancelled occurrence published beside its series -----------------------------------------


def publication(*, occurrence_organizer: str | None) -> bytes:
    uid = "feed-1@cal.partner.example"
    series = vevent(uid=uid, rrule="FREQ=WEEKLY;COUNT=5", attendees=())
    cancelled = vevent(
        uid=uid,
        organizer=occurrence_organizer,
        status="CANCELLED",
        recurrence_id=OCCURRENCE,
        start="DTSTART;TZID=Europe/Warsaw:20260617T090000",
        end="DTEND;TZID=Europe/Warsaw:20260617T100000",
        attendees=(),
    )
    return invitation(calendar("PUBLISH", series, cancelled), method="PUBLISH", from_=FEED)


@pytest.mark.parametrize("occurrence_organizer", [None, CONTACT], ids=["no-organizer", "organizer"])
def test_a_cancelled_occurrence_in_a_publication_is_part_of_it(
    gw: InboundHarness, occurrence_organizer: str | None
) -> None:
    result = gw.handle(publication(occurrence_organizer=occurrence_organizer))

    assert outcomes(result) == ["created", "ignored"]
    assert not result.quarantined
    series_id = result.events[0].task_id
    assert result.events[1].task_id == series_id
    assert result.events[1].reason == "cancel of one occurrence recorded; the series task stays"
    assert gw.task(series_id).status is TaskStatus.OPEN
    # One meeting, one organizer: the occurrence is keyed under the series' organizer.
    assert {(row.organizer, row.recurrence_id) for row in gw.ledger()} == {
        (CONTACT, ""),
        (CONTACT, "20260617T070000Z"),
    }
    assert any(
        log.target_id == series_id and "Occurrence 20260617T070000Z cancelled" in log.message
        for log in gw.crm_logs()
    )
    assert gw.quarantine() == []


def test_the_same_publication_again_changes_nothing(gw: InboundHarness) -> None:
    gw.handle(publication(occurrence_organizer=None))
    again = gw.handle(publication(occurrence_organizer=None))

    assert outcomes(again) == ["duplicate", "duplicate"]
    assert gw.quarantine() == []


def test_a_cancelled_occurrence_alone_from_a_feed_is_still_a_spoofed_cancel(
    gw: InboundHarness,
) -> None:
    # Not inside a publication of its series: judged as a CANCEL, which only the
    # organizer may send.
    gw.handle(publication(occurrence_organizer=None))
    alone = vevent(
        uid="feed-1@cal.partner.example",
        status="CANCELLED",
        sequence=1,
        recurrence_id="RECURRENCE-ID;TZID=Europe/Warsaw:20260624T090000",
        start="DTSTART;TZID=Europe/Warsaw:20260624T090000",
        end="DTEND;TZID=Europe/Warsaw:20260624T100000",
        attendees=(),
    )
    result = gw.handle(invitation(calendar("PUBLISH", alone), method="PUBLISH", from_=FEED))

    assert outcomes(result) == ["quarantined"]
    assert (result.reason or "").startswith("spoofed CANCEL: ")
