"""Delivery failures of our invitations, and replies by hand to a reply address."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from invitegw.domain.records import LogLevel
from invitegw.gateway.config import InboundSettings
from invitegw.gateway.inbound.model import Envelope, InboundOutcome
from invitegw.gateway.storage import DeliveryState, Store
from tests.gateway.inbound.reply_builders import ReplyHarness, dsn_email, plain_email

GINA = "gina@example.org"
CARL = "carl@example.com"
OLGA = "olga@example.com"


# -- bounces --------------------------------------------------------------------------------


def test_a_bounce_of_our_invitation_marks_the_delivery_failed(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    sent = h.invitation(GINA)
    result = h.bounce(dsn_email(failed=GINA, original_message_id=sent.message_id))
    assert result.outcome is InboundOutcome.IGNORED
    assert result.reason == f"delivery failure recorded for {GINA}"
    assert result.meeting_id == h.meeting_id
    row = h.attendee(GINA)
    assert row.delivery_state is DeliveryState.FAILED
    assert row.delivery_error is not None
    assert row.delivery_error.startswith("5.1.1")
    (entry,) = [e for e in h.crm_log() if e.level is LogLevel.ERROR]
    assert entry.target_id == h.meeting_id
    assert entry.message.startswith(f"delivery to {GINA} failed: 5.1.1")
    assert h.attendee(CARL).delivery_state is not DeliveryState.FAILED


def test_a_bounce_naming_an_alias_is_the_failure_of_the_message_recipient(
    store: Store, tmp_path: Path
) -> None:
    h = ReplyHarness(store, tmp_path)
    sent = h.invitation(GINA)
    result = h.bounce(
        dsn_email(failed="g.guest@mail.example.org", original_message_id=sent.message_id)
    )
    assert result.reason == f"delivery failure recorded for {GINA}"
    assert h.attendee(GINA).delivery_state is DeliveryState.FAILED


def test_a_bounce_of_a_message_we_did_not_send_is_ignored(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    before = h.counts()
    result = h.bounce(dsn_email(failed=GINA, original_message_id="<someone-else@example.net>"))
    assert result.outcome is InboundOutcome.IGNORED
    assert "did not send" in (result.reason or "")
    assert result.meeting_id is None
    assert h.counts() == before
    assert h.attendee(GINA).delivery_state is not DeliveryState.FAILED


def test_a_delay_report_records_nothing(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    sent = h.invitation(GINA)
    result = h.bounce(
        dsn_email(
            failed=GINA, original_message_id=sent.message_id, status="4.4.1", action="delayed"
        )
    )
    assert result.outcome is InboundOutcome.IGNORED
    assert "without a permanent failure" in (result.reason or "")
    assert h.attendee(GINA).delivery_state is not DeliveryState.FAILED


def test_a_bounce_in_a_dry_run_writes_nothing(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    before = h.counts()
    sent = h.invitation(GINA)
    result = h.bounce(dsn_email(failed=GINA, original_message_id=sent.message_id), dry_run=True)
    assert result.reason == f"delivery failure recorded for {GINA}"
    assert h.counts() == before
    assert h.attendee(GINA).delivery_state is not DeliveryState.FAILED


# -- replies by hand ------------------------------------------------------------------------


def test_a_reply_by_hand_is_forwarded_to_the_organizer_once(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    raw = plain_email(
        "Can we move this to 3pm?", sender="Gina Guest <gina@example.org>", to=h.token_address(GINA)
    )
    result = h.human(raw)
    assert result is not None
    assert result.outcome is InboundOutcome.IGNORED
    assert result.reason == f"forwarded to the organizer {OLGA}"
    assert result.meeting_id == h.meeting_id
    (forward,) = h.outbox("reply-forward")
    assert forward.recipient == OLGA
    assert forward.attendee_id is None
    assert forward.raw is not None
    notice = email.message_from_bytes(forward.raw, policy=email.policy.default)
    assert notice["To"] == OLGA
    assert notice["Reply-To"] == GINA
    assert notice["Auto-Submitted"] == "auto-generated"
    assert "Project kick-off" in notice["Subject"]
    body = notice.get_body(preferencelist=("plain",))
    assert body is not None
    assert "Can we move this to 3pm?" in body.get_content()
    (attached,) = list(notice.iter_attachments())
    assert attached.get_content_type() == "message/rfc822"
    assert any("forwarded to the organizer" in e.message for e in h.crm_log())

    again = h.human(raw)  # the same message seen on a later pass
    assert again is not None
    assert again.outcome is InboundOutcome.IGNORED
    assert again.reason == f"already forwarded to the organizer {OLGA}"
    assert len(h.outbox("reply-forward")) == 1


def test_a_reply_by_hand_from_someone_else_says_so(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    raw = plain_email(
        "I am Gina's assistant: she is out this week. Zażółć.",
        sender="assistant@example.org",
        to=h.token_address(GINA),
    )
    result = h.human(raw)
    assert result is not None
    assert result.reason == f"forwarded to the organizer {OLGA}"
    (forward,) = h.outbox("reply-forward")
    assert forward.recipient == OLGA  # never the sender, never the display name's address
    assert forward.raw is not None
    notice = email.message_from_bytes(forward.raw, policy=email.policy.default)
    body = notice.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert f"that reply address was given to {GINA}" in text
    assert "Zażółć" in text


def test_a_vacation_auto_reply_is_never_forwarded(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    raw = plain_email(
        "I am out of the office until Monday.",
        sender=GINA,
        to=h.token_address(GINA),
        subject="Out of office: Project kick-off",
        headers={"Auto-Submitted": "auto-replied"},
    )
    result = h.human(raw)
    assert result is not None
    assert result.outcome is InboundOutcome.IGNORED
    assert "automatic reply" in (result.reason or "")
    assert h.outbox("reply-forward") == []


def test_forwarding_can_be_switched_off(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    h.outbound.with_settings(inbound=InboundSettings(forward_human_replies=False))
    raw = plain_email("Can we move this?", sender=GINA, to=h.token_address(GINA))
    result = h.human(raw)
    assert result is not None
    assert result.outcome is InboundOutcome.IGNORED
    assert "forward_human_replies = false" in (result.reason or "")
    assert h.outbox("reply-forward") == []
    assert any("not forwarded" in e.message for e in h.crm_log())


def test_a_message_to_no_reply_address_is_not_ours_to_decide(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    for to in ("sales@example.com", "sales+unknown-token@example.com", "other+tok@example.com"):
        assert h.human(plain_email("Hello", sender=GINA, to=to)) is None
    assert h.outbox("reply-forward") == []


def test_the_reply_token_in_the_envelope_is_enough(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    raw = plain_email("See you", sender=CARL, to="Sales <sales@example.com>")
    result = h.human(raw, envelope=Envelope(recipients=(h.token_address(CARL),)))
    assert result is not None
    assert result.reason == f"forwarded to the organizer {OLGA}"


def test_a_reply_by_hand_in_a_dry_run_writes_nothing(store: Store, tmp_path: Path) -> None:
    h = ReplyHarness(store, tmp_path)
    before = h.counts()
    raw = plain_email("Can we move this to 3pm?", sender=GINA, to=h.token_address(GINA))
    result = h.human(raw, dry_run=True)
    assert result is not None
    assert result.reason == f"forwarded to the organizer {OLGA}"
    assert h.counts() == before
