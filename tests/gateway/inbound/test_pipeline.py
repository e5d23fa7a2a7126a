"""The inbound pipeline on SQLite and PostgreSQL with the built-in CRM: every task rule.

Each test sends real emails (built with the stdlib ``email`` package) through
``InboundPipeline.handle`` and checks the outcome, the CRM tasks, the ledger and the
records, all committed by the pipeline's one transaction.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from invitegw.domain.records import EntityType, TaskStatus
from invitegw.gateway.inbound.model import SourcePosition
from invitegw.gateway.inbound.pipeline import QuarantineReleaseError
from invitegw.gateway.storage import InboundEvent, ProcessedMessage, QuarantinedMessage, Store
from invitegw.itip.policy import DuplicatePolicy, ExternalInvitationPolicy, ForwarderPolicy
from tests.gateway.inbound.builders import (
    CONTACT,
    LEAD,
    SAM,
    STAFF2,
    STRANGER,
    calendar,
    forward,
    invitation,
    plain,
    vevent,
)
from tests.gateway.inbound.harness import InboundHarness

WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.fixture
def gw(store: Store, tmp_path: Path) -> InboundHarness:
    return InboundHarness(store, tmp_path)


def outcomes(result: object) -> list[str]:
    return [e.outcome.value for e in result.events]  # type: ignore[attr-defined]


# -- created once -------------------------------------------------------------------------------


def test_a_direct_invitation_from_a_contact_becomes_one_task(gw: InboundHarness) -> None:
    result = gw.handle(invitation(calendar("REQUEST", vevent(description="Agenda: numbers"))))

    assert outcomes(result) == ["created"]
    assert not result.quarantined
    [(task, owner, party)] = gw.tasks()
    assert result.events[0].task_id == task.id
    assert task.title == "Quarterly review"
    assert task.description == "Agenda: numbers"
    assert task.location == "Room 1"
    assert task.start == dt.datetime(2026, 6, 10, 9, tzinfo=WARSAW)
    assert task.end == dt.datetime(2026, 6, 10, 10, tzinfo=WARSAW)
    assert task.organizer_email == CONTACT
    assert task.source_uid == "meet-1@partner.example"
    assert owner.emails == (SAM,)
    assert party is not None
    assert party.type is EntityType.CONTACT
    assert party.emails == (CONTACT,)
    [row] = gw.ledger()
    assert (row.organizer, row.uid, row.recurrence_id) == (CONTACT, "meet-1@partner.example", "")
    assert row.task_id == task.id
    [processed] = gw.processed()
    assert processed.outcome == "created"
    assert [e.kind for e in gw.event_log()] == ["inbound-created"]
    assert gw.quarantine() == []


def test_the_same_message_twice_is_handled_once(gw: InboundHarness) -> None:
    raw = invitation()
    first = gw.handle(raw, position=SourcePosition(7, 1))
    again = gw.handle(raw, position=SourcePosition(7, 1))
    elsewhere = gw.handle(raw, source="file")  # same Message-ID and body, other source

    assert outcomes(first) == ["created"]
    assert again.already_processed
    assert elsewhere.already_processed
    assert outcomes(again) == ["created"]  # what was decided then
    assert len(gw.tasks()) == 1
    assert gw.count(ProcessedMessage) == 1


def test_a_reused_message_id_with_other_content_is_a_new_message(gw: InboundHarness) -> None:
    gw.handle(invitation(message_id="same@x.example"))
    other = gw.handle(
        invitation(calendar("REQUEST", vevent(uid="other@x")), message_id="same@x.example")
    )

    assert not other.already_processed
    assert outcomes(other) == ["created"]
    assert len(gw.tasks()) == 2


def test_an_invitation_without_uid_is_keyed_by_its_fingerprint(gw: InboundHarness) -> None:
    first = gw.handle(invitation(calendar("REQUEST", vevent(uid=None))))
    second = gw.handle(
        invitation(calendar("REQUEST", vevent(uid=None, summary="quarterly  REVIEW")))
    )

    assert outcomes(first) == ["created"]
    assert outcomes(second) == ["duplicate"]
    [row] = gw.ledger()
    assert row.uid.startswith("fp:")
    assert len(gw.tasks()) == 1


def test_several_ics_in_one_message_make_several_tasks(gw: InboundHarness) -> None:
    raw = invitation(
        calendar("REQUEST", vevent(uid="a@x", summary="First")),
        calendar("REQUEST", vevent(uid="b@x", summary="Second")),
        calendar("REQUEST", vevent(uid="c@x", summary="Third")),
    )
    result = gw.handle(raw)

    assert outcomes(result) == ["created", "created", "created"]
    assert sorted(t.title for t, _, _ in gw.tasks()) == ["First", "Second", "Third"]


# -- forwards -----------------------------------------------------------------------------------


def test_an_outlook_forward_as_rfc822_is_owned_by_the_staff_forwarder(gw: InboundHarness) -> None:
    original = invitation(to="someone@example.com")
    result = gw.handle(
        forward(original, from_=f"Tina <{STAFF2}>", to="crm@example.com"), owner=None
    )

    assert outcomes(result) == ["created"]
    [(_task, owner, party)] = gw.tasks()
    assert owner.emails == (STAFF2,)
    assert party is not None
    assert party.emails == (CONTACT,)
    [source] = gw.sources()
    assert source.forwarder == STAFF2


def test_forwarded_by_two_staff_members_makes_one_task(gw: InboundHarness) -> None:
    original = invitation(to="team@example.com")
    first = gw.handle(forward(original, from_=SAM, to="crm@example.com"), source="smtp")
    second = gw.handle(forward(original, from_=STAFF2, to="crm@example.com"), source="smtp")

    assert outcomes(first) == ["created"]
    assert outcomes(second) == ["duplicate"]
    assert second.events[0].task_id == first.events[0].task_id
    assert len(gw.tasks()) == 1
    assert [s.forwarder for s in gw.sources()] == [SAM, STAFF2]


def test_an_unknown_forwarder_is_quarantined_then_released_once_a_user(
    gw: InboundHarness,
) -> None:
    raw = forward(invitation(), from_=STRANGER, to="crm@example.com")
    result = gw.handle(raw, source="smtp", owner=None)

    assert outcomes(result) == ["quarantined"]
    assert result.reason == f"forwarder {STRANGER} is not a CRM user"
    [row] = gw.quarantine()
    assert result.quarantine_id == row.id
    assert row.raw == raw
    assert gw.tasks() == []

    still = gw.pipeline.release(row.id)
    assert still.quarantined
    assert gw.quarantine()[0].released_at is None

    gw.add_user(STRANGER)
    released = gw.pipeline.release(row.id)
    assert outcomes(released) == ["created"]
    assert gw.quarantine()[0].released_at is not None
    [(_task, owner, _)] = gw.tasks()
    assert owner.emails == (STRANGER,)


def test_forwarders_from_internal_domains_may_create_when_allowed(
    gw: InboundHarness,
) -> None:
    gw.with_inbound(forwarders=ForwarderPolicy.INTERNAL_DOMAINS, internal_domains=("example.com",))
    result = gw.handle(forward(invitation(), from_="newbie@example.com"))

    assert outcomes(result) == ["created"]
    [(_, owner, _)] = gw.tasks()
    assert owner.emails == (SAM,)  # not a CRM user: the mailbox owner owns it


# -- who may create -----------------------------------------------------------------------------


def test_an_unknown_external_sender_is_quarantined(gw: InboundHarness) -> None:
    raw = invitation(calendar("REQUEST", vevent(organizer=STRANGER)), from_=f"Mallory <{STRANGER}>")
    result = gw.handle(raw)

    assert outcomes(result) == ["quarantined"]
    assert result.reason == (
        f"unknown sender {STRANGER}: not a contact, account or lead in the CRM"
    )
    assert gw.tasks() == []


def test_external_policy_anyone_and_none(gw: InboundHarness) -> None:
    raw = invitation(calendar("REQUEST", vevent(organizer=STRANGER)), from_=STRANGER)
    gw.with_inbound(external_invitations=ExternalInvitationPolicy.NONE)
    refused = gw.handle(raw)
    assert "external_invitations is 'none'" in (refused.reason or "")

    again = gw.handle(raw)  # known by its Message-ID and body: what was decided then
    assert again.already_processed
    assert again.quarantined

    gw.with_inbound(external_invitations=ExternalInvitationPolicy.ANYONE)
    assert refused.quarantine_id is not None
    accepted = gw.pipeline.release(refused.quarantine_id)
    assert outcomes(accepted) == ["created"]
    with pytest.raises(QuarantineReleaseError, match="released already"):
        gw.pipeline.release(refused.quarantine_id)


def test_a_lead_is_a_known_party(gw: InboundHarness) -> None:
    result = gw.handle(invitation(calendar("REQUEST", vevent(organizer=LEAD)), from_=LEAD))

    assert outcomes(result) == ["created"]
    [(_, _, party)] = gw.tasks()
    assert party is not None
    assert party.type is EntityType.LEAD


def test_no_owner_is_quarantined(gw: InboundHarness) -> None:
    result = gw.handle(invitation(), owner=None, source="smtp")

    assert outcomes(result) == ["quarantined"]
    assert (result.reason or "").startswith("no owner for the task")


# -- versions -----------------------------------------------------------------------------------


def test_a_higher_sequence_reschedules_the_task(gw: InboundHarness) -> None:
    created = gw.handle(invitation())
    moved = gw.handle(
        invitation(
            calendar(
                "REQUEST",
                vevent(
                    sequence=1,
                    dtstamp="20260502T080000Z",
                    start="DTSTART;TZID=Europe/Warsaw:20260611T140000",
                    end="DTEND;TZID=Europe/Warsaw:20260611T150000",
                ),
            )
        )
    )

    assert outcomes(moved) == ["updated"]
    assert (moved.events[0].reason or "").startswith("rescheduled (start, end changed")
    task = gw.task(created.events[0].task_id)
    assert task.start == dt.datetime(2026, 6, 11, 14, tzinfo=WARSAW)
    assert task.sequence == 1
    assert len(gw.tasks()) == 1
    assert gw.ledger()[0].sequence == 1


def test_equal_sequence_newer_dtstamp_updates_the_wording(gw: InboundHarness) -> None:
    created = gw.handle(invitation())
    renamed = gw.handle(
        invitation(calendar("REQUEST", vevent(dtstamp="20260502T080000Z", summary="Q2 review")))
    )

    assert outcomes(renamed) == ["updated"]
    assert gw.task(created.events[0].task_id).title == "Q2 review"


def test_a_stale_copy_changes_nothing(gw: InboundHarness) -> None:
    gw.handle(invitation(calendar("REQUEST", vevent(sequence=2, dtstamp="20260503T080000Z"))))
    stale = gw.handle(invitation(calendar("REQUEST", vevent(sequence=1, summary="Old name"))))

    assert outcomes(stale) == ["duplicate"]
    assert "older copy" in (stale.events[0].reason or "")
    [(task, _, _)] = gw.tasks()
    assert task.title == "Quarterly review"


def test_a_newer_copy_with_the_same_content_is_a_duplicate(gw: InboundHarness) -> None:
    gw.handle(invitation())
    same = gw.handle(invitation(calendar("REQUEST", vevent(sequence=1))))

    assert outcomes(same) == ["duplicate"]
    assert gw.ledger()[0].sequence == 1


def test_policy_skip_keeps_the_first_task(gw: InboundHarness) -> None:
    gw.with_inbound(duplicate_policy=DuplicatePolicy.SKIP)
    gw.handle(invitation())
    skipped = gw.handle(invitation(calendar("REQUEST", vevent(sequence=1, location="Room 2"))))

    assert outcomes(skipped) == ["duplicate"]
    assert "'skip'" in (skipped.events[0].reason or "")
    [(task, _, _)] = gw.tasks()
    assert task.location == "Room 1"


def test_policy_create_makes_a_further_task(gw: InboundHarness) -> None:
    gw.with_inbound(duplicate_policy=DuplicatePolicy.CREATE)
    first = gw.handle(invitation())
    further = gw.handle(invitation(calendar("REQUEST", vevent(sequence=1, location="Room 2"))))
    again = gw.handle(invitation(calendar("REQUEST", vevent(sequence=1, location="Room 2"))))

    assert outcomes(further) == ["created"]
    assert further.events[0].task_id != first.events[0].task_id
    assert outcomes(again) == ["duplicate"]
    assert sorted(t.location for t, _, _ in gw.tasks()) == ["Room 1", "Room 2"]


def test_an_exception_only_request_gets_its_own_task(gw: InboundHarness) -> None:
    series = gw.handle(invitation(calendar("REQUEST", vevent(rrule="FREQ=WEEKLY;COUNT=5"))))
    moved = vevent(
        recurrence_id="RECURRENCE-ID;TZID=Europe/Warsaw:20260617T090000",
        start="DTSTART;TZID=Europe/Warsaw:20260618T090000",
        end="DTEND;TZID=Europe/Warsaw:20260618T100000",
        sequence=1,
    )
    occurrence = gw.handle(invitation(calendar("REQUEST", moved)))
    again = gw.handle(invitation(calendar("REQUEST", moved)))

    assert outcomes(occurrence) == ["created"]
    assert occurrence.events[0].recurrence_id == "20260617T070000Z"
    assert occurrence.events[0].task_id != series.events[0].task_id
    assert outcomes(again) == ["duplicate"]
    series_task = gw.task(series.events[0].task_id)
    assert series_task.start == dt.datetime(2026, 6, 10, 9, tzinfo=WARSAW)
    assert gw.task(occurrence.events[0].task_id).recurrence_id == "20260617T070000Z"
    assert len(gw.tasks()) == 2


# -- cancels ------------------------------------------------------------------------------------


def cancel(**fields: object) -> str:
    values: dict[str, object] = {"sequence": 1, "dtstamp": "20260505T080000Z"}
    values.update(fields)
    return calendar("CANCEL", vevent(**values))  # type: ignore[arg-type]


def test_the_organizers_cancel_cancels_the_task(gw: InboundHarness) -> None:
    created = gw.handle(invitation())
    cancelled = gw.handle(invitation(cancel(), method="CANCEL", subject="Cancelled"))

    assert outcomes(cancelled) == ["cancelled"]
    assert cancelled.events[0].task_id == created.events[0].task_id
    assert gw.task(created.events[0].task_id).status is TaskStatus.CANCELLED
    assert gw.ledger()[0].state.value == "cancelled"
    assert any("cancelled by" in log.message for log in gw.crm_logs())


def test_a_spoofed_cancel_is_quarantined(gw: InboundHarness) -> None:
    created = gw.handle(invitation())
    spoofed = gw.handle(invitation(cancel(), method="CANCEL", from_=STRANGER))

    assert outcomes(spoofed) == ["quarantined"]
    assert (spoofed.reason or "").startswith("spoofed CANCEL: the message comes from")
    assert gw.task(created.events[0].task_id).status is TaskStatus.OPEN
    assert len(gw.quarantine()) == 1


def test_a_cancel_naming_another_organizer_is_spoofed(gw: InboundHarness) -> None:
    gw.handle(invitation())
    spoofed = gw.handle(invitation(cancel(organizer=STRANGER), method="CANCEL", from_=STRANGER))

    assert outcomes(spoofed) == ["quarantined"]
    assert f"is not the organizer on record ({CONTACT})" in (spoofed.reason or "")


def test_the_owner_may_forward_the_organizers_cancel(gw: InboundHarness) -> None:
    created = gw.handle(invitation())
    original = invitation(cancel(), method="CANCEL", to="team@example.com")
    by_other_staff = gw.handle(forward(original, from_=STAFF2))
    by_owner = gw.handle(forward(original, from_=SAM))

    assert outcomes(by_other_staff) == ["quarantined"]
    assert outcomes(by_owner) == ["cancelled"]
    assert gw.task(created.events[0].task_id).status is TaskStatus.CANCELLED


ICLOUD = "Olivia Organizer <noreply@insideicloud.icloud.com>"


def test_icloud_sends_for_the_organizer_and_may_cancel(gw: InboundHarness) -> None:
    # iCloud mails invitations and cancellations from an address of its own, for the
    # ORGANIZER named in the calendar (inbound.calendar_services).
    created = gw.handle(invitation(from_=ICLOUD))
    cancelled = gw.handle(invitation(cancel(), method="CANCEL", from_=ICLOUD))

    assert outcomes(created) == ["created"]
    assert outcomes(cancelled) == ["cancelled"]
    assert gw.task(created.events[0].task_id).status is TaskStatus.CANCELLED


def test_icloud_cannot_cancel_someone_elses_meeting(gw: InboundHarness) -> None:
    created = gw.handle(invitation())
    other = gw.handle(invitation(cancel(organizer=STRANGER), method="CANCEL", from_=ICLOUD))

    assert outcomes(other) == ["quarantined"]
    assert gw.task(created.events[0].task_id).status is TaskStatus.OPEN


def test_an_icloud_cancel_forwarded_by_the_owner_cancels(gw: InboundHarness) -> None:
    created = gw.handle(invitation(from_=ICLOUD))
    original = invitation(cancel(), method="CANCEL", from_=ICLOUD)
    cancelled = gw.handle(forward(original, from_=SAM))

    assert outcomes(cancelled) == ["cancelled"]
    assert gw.task(created.events[0].task_id).status is TaskStatus.CANCELLED


def test_without_the_service_listed_icloud_cancels_are_set_aside(gw: InboundHarness) -> None:
    gw.with_inbound(calendar_services=())
    created = gw.handle(invitation(from_=ICLOUD))
    refused = gw.handle(invitation(cancel(), method="CANCEL", from_=ICLOUD))

    assert outcomes(refused) == ["quarantined"]
    assert gw.task(created.events[0].task_id).status is TaskStatus.OPEN


def test_a_cancel_before_the_request_is_remembered(gw: InboundHarness) -> None:
    early = gw.handle(invitation(cancel(sequence=1), method="CANCEL"))
    late = gw.handle(invitation(calendar("REQUEST", vevent(sequence=1))))
    newer = gw.handle(invitation(calendar("REQUEST", vevent(sequence=2))))

    assert outcomes(early) == ["ignored"]
    assert early.events[0].reason == "cancel for an unknown meeting recorded"
    assert outcomes(late) == ["ignored"]
    assert "does not bring it back" in (late.events[0].reason or "")
    assert outcomes(newer) == ["created"]
    assert len(gw.tasks()) == 1


def test_a_higher_sequence_after_a_cancel_reactivates(gw: InboundHarness) -> None:
    created = gw.handle(invitation())
    gw.handle(invitation(cancel(sequence=1), method="CANCEL"))
    equal = gw.handle(invitation(calendar("REQUEST", vevent(sequence=1))))
    back = gw.handle(invitation(calendar("REQUEST", vevent(sequence=2, location="Room 9"))))

    assert outcomes(equal) == ["ignored"]
    assert outcomes(back) == ["updated"]
    task = gw.task(created.events[0].task_id)
    assert task.status is TaskStatus.OPEN
    assert task.location == "Room 9"


def test_cancelling_a_series_cancels_its_occurrences(gw: InboundHarness) -> None:
    series = gw.handle(invitation(calendar("REQUEST", vevent(rrule="FREQ=WEEKLY;COUNT=5"))))
    occurrence = gw.handle(
        invitation(
            calendar(
                "REQUEST",
                vevent(
                    recurrence_id="RECURRENCE-ID;TZID=Europe/Warsaw:20260617T090000",
                    start="DTSTART;TZID=Europe/Warsaw:20260617T110000",
                    end="DTEND;TZID=Europe/Warsaw:20260617T120000",
                ),
            )
        )
    )
    result = gw.handle(invitation(cancel(), method="CANCEL"))

    assert outcomes(result) == ["cancelled", "cancelled"]
    assert gw.task(series.events[0].task_id).status is TaskStatus.CANCELLED
    assert gw.task(occurrence.events[0].task_id).status is TaskStatus.CANCELLED


def test_cancelling_one_occurrence_leaves_the_series(gw: InboundHarness) -> None:
    series = gw.handle(invitation(calendar("REQUEST", vevent(rrule="FREQ=WEEKLY;COUNT=5"))))
    result = gw.handle(
        invitation(
            cancel(recurrence_id="RECURRENCE-ID;TZID=Europe/Warsaw:20260617T090000"),
            method="CANCEL",
        )
    )

    assert outcomes(result) == ["ignored"]
    assert "the series task stays" in (result.events[0].reason or "")
    assert gw.task(series.events[0].task_id).status is TaskStatus.OPEN


def test_authentication_results_are_required_when_configured(gw: InboundHarness) -> None:
    gw.with_inbound(require_authentication_results=True, trusted_authserv_ids=("mx.example.com",))
    created = gw.handle(invitation())  # creating does not need it
    forged = gw.handle(
        invitation(
            cancel(),
            method="CANCEL",
            headers=[
                ("Authentication-Results", "evil.example; dkim=pass header.d=partner.example")
            ],
        )
    )
    vouched = gw.handle(
        invitation(
            cancel(),
            method="CANCEL",
            headers=[
                ("Authentication-Results", "mx.example.com; dkim=pass header.d=partner.example")
            ],
        )
    )

    assert outcomes(created) == ["created"]
    assert outcomes(forged) == ["quarantined"]
    assert "Authentication-Results" in (forged.reason or "")
    assert outcomes(vouched) == ["cancelled"]


# -- loops, bad input ---------------------------------------------------------------------------


def test_a_malformed_calendar_is_quarantined_with_the_line(gw: InboundHarness) -> None:
    broken = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "BEGIN:VEVENT",
            "UID:x",
            "DTSTART:not-a-date",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    result = gw.handle(invitation(broken, attachments_only=True))

    assert outcomes(result) == ["quarantined"]
    assert (result.reason or "").startswith("malformed calendar in invite.ics: ")
    assert "line" in (result.reason or "")
    assert gw.tasks() == []


def test_one_malformed_part_does_not_stop_the_others(gw: InboundHarness) -> None:
    result = gw.handle(invitation(calendar("REQUEST", vevent()), "BEGIN:VCALENDAR\r\nnonsense\r\n"))

    # The unusable part is left out with its reason; the message is not set aside for it.
    assert sorted(outcomes(result)) == ["created", "dropped"]
    assert not result.quarantined
    assert len(gw.tasks()) == 1
    assert gw.quarantine() == []


def test_one_unusable_calendar_object_costs_only_itself(gw: InboundHarness) -> None:
    # One part, two VCALENDARs: the second has no usable VEVENT. The first still makes its
    # task; the second is left out with its reason (the part is not lost whole, and the
    # message is not quarantined for it).
    broken = calendar("REQUEST", vevent(uid="broken@x", start="DTSTART:not-a-date"))
    good = calendar("REQUEST", vevent(uid="good@x"))
    result = gw.handle(invitation(good + broken, attachments_only=True))

    assert outcomes(result) == ["created", "dropped"]
    assert (result.events[1].reason or "").startswith("malformed calendar in invite.ics: ")
    assert result.events[1].uid == "broken@x"
    assert [t.source_uid for t, _, _ in gw.tasks()] == ["good@x"]
    assert gw.quarantine() == []
    assert [e.kind for e in gw.event_log()] == ["inbound-created", "inbound-dropped"]


def test_a_dropped_vevent_is_left_out_beside_the_events_kept(gw: InboundHarness) -> None:
    both = calendar(
        "REQUEST",
        vevent(uid="kept@x"),
        vevent(uid="dropped@x", start="DTSTART:20260230T090000Z", end=None),
    )
    result = gw.handle(invitation(both, attachments_only=True))

    assert outcomes(result) == ["dropped", "created"]
    assert not result.quarantined
    assert result.events[0].method == "REQUEST"
    assert result.events[0].uid == "dropped@x"
    assert (result.events[0].reason or "").startswith("malformed event in invite.ics: line ")
    assert "DTSTART" in (result.events[0].reason or "")
    assert [t.source_uid for t, _, _ in gw.tasks()] == ["kept@x"]


def test_no_calendar_is_quarantined(gw: InboundHarness) -> None:
    result = gw.handle(plain())

    assert outcomes(result) == ["quarantined"]
    assert result.reason == "no calendar object in the message"


def test_a_vacation_reply_is_ignored(gw: InboundHarness) -> None:
    result = gw.handle(plain(subject="Out of office", headers=[("Auto-Submitted", "auto-replied")]))

    assert outcomes(result) == ["ignored"]
    assert "Auto-Submitted: auto-replied" in (result.reason or "")
    assert gw.quarantine() == []


def test_an_oversized_message_is_quarantined(gw: InboundHarness) -> None:
    header = b"From: a@b.example\r\nMessage-ID: <big@x>\r\nSubject: big\r\n\r\n"
    result = gw.handle(header, oversized=True, size=90_000_000)

    assert outcomes(result) == ["quarantined"]
    assert (
        result.reason == f"message over {gw.settings.limits.message_bytes} bytes (90000000 bytes)"
    )
    assert result.message_id == "big@x"


def test_unreadable_mime_is_quarantined(gw: InboundHarness) -> None:
    result = gw.handle(b"   \r\n")

    assert outcomes(result) == ["quarantined"]
    assert (result.reason or "").startswith("unreadable message: ")


def test_an_unsupported_method_is_quarantined(gw: InboundHarness) -> None:
    result = gw.handle(invitation(calendar("ADD", vevent()), method="ADD"))

    assert outcomes(result) == ["quarantined"]
    assert (result.reason or "").startswith("unsupported method ADD")


# -- dry run and crashes ------------------------------------------------------------------------


def test_a_dry_run_decides_but_writes_nothing(gw: InboundHarness) -> None:
    raw = invitation(
        calendar("REQUEST", vevent(uid="a@x")), calendar("REQUEST", vevent(uid="a@x", sequence=1))
    )
    result = gw.handle(raw, dry_run=True)
    spoofed = gw.handle(forward(invitation(), from_=STRANGER), dry_run=True)

    assert result.dry_run
    assert outcomes(result) == ["created", "duplicate"]
    assert result.events[0].task_id == "dry-run-1"
    assert outcomes(spoofed) == ["quarantined"]
    assert spoofed.quarantine_id is None
    assert gw.tasks() == []
    assert gw.count(InboundEvent) == 0
    assert gw.count(ProcessedMessage) == 0
    assert gw.count(QuarantinedMessage) == 0
    assert gw.event_log() == []
    assert outcomes(gw.handle(raw)) == ["created", "duplicate"]


def test_a_task_already_in_the_crm_under_its_key_is_adopted(gw: InboundHarness) -> None:
    # A remote CRM wrote the task, then the gateway crashed before its own commit: the
    # retry finds the task by its idempotency key instead of creating a second one.
    from invitegw.domain.records import NewTask, PartyRef
    from invitegw.itip.keys import EventKey, task_key

    key = task_key(EventKey(CONTACT, "meet-1@partner.example", ""))
    with gw.store.session() as session:
        crm = gw.gateway.crm(session)
        [sam] = crm.find_parties(SAM)
        early = crm.create_task(
            NewTask(
                idempotency_key=key,
                title="Quarterly review",
                start=dt.datetime(2026, 6, 10, 7, tzinfo=dt.UTC),
                end=None,
                owner=PartyRef(sam.type, sam.id),
            )
        )
    result = gw.handle(invitation())

    assert outcomes(result) == ["created"]
    assert result.events[0].task_id == early.id
    assert len(gw.tasks()) == 1


def test_after_the_commit_the_same_message_is_a_no_op(gw: InboundHarness) -> None:
    # The worker committed the CRM write and the ledger, then died before moving the IMAP
    # message: the restart sees the same message at the same place again.
    raw = invitation()
    gw.handle(raw, position=SourcePosition(3, 42))
    again = gw.handle(raw, position=SourcePosition(3, 42))
    moved_copy = gw.handle(raw, position=SourcePosition(4, 1))  # UIDVALIDITY changed: re-scan

    assert again.already_processed
    assert moved_copy.already_processed  # known by its Message-ID and body
    assert len(gw.tasks()) == 1
