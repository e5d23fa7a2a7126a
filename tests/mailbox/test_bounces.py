"""Delivery failure reports: standard DSNs and common non-standard bounces."""

from __future__ import annotations

import pytest

from invitegw.mailbox.mime import BounceKind, FailedRecipient, extract
from tests.mailbox.helpers import calendar, uids

RETURNED = (
    "From: Sales Calendar <sales@crm.example.com>\r\nTo: gone@example.net\r\n"
    "Subject: Invitation: Kick-off\r\nMessage-ID: <outbox-7@crm.example.com>\r\n"
    "Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n"
    + calendar("ours-7@crm.example.com").decode()
)


def test_exim_x_failed_recipients() -> None:
    raw = (
        "Return-path: <>\r\nFrom: Mail Delivery System <Mailer-Daemon@mx.example.com>\r\n"
        "To: sales@crm.example.com\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n"
        "X-Failed-Recipients: gone@example.net, Other@Example.net\r\n"
        "Auto-Submitted: auto-replied\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThis message was created automatically.\r\n"
        f"--b\r\nContent-Type: message/rfc822\r\n\r\n{RETURNED}--b--\r\n"
    ).encode()
    result = extract(raw)
    bounce = result.bounce
    assert bounce is not None
    assert bounce.kind is BounceKind.NON_STANDARD
    assert bounce.recipients == (
        FailedRecipient("gone@example.net", action="failed"),
        FailedRecipient("other@example.net", action="failed"),
    )
    assert bounce.original_message_id == "outbox-7@crm.example.com"
    assert result.calendar_parts == ()
    assert [uids(p.data) for p in bounce.returned_calendar_parts] == [["ours-7@crm.example.com"]]


@pytest.mark.parametrize(
    ("sender", "subject"),
    [
        (
            "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@example.com>",
            "Undeliverable: Invitation: Kick-off",
        ),
        ("postmaster@example.com", "Unzustellbar: Einladung"),
        ("MAILER-DAEMON@example.com", "Niedostarczalne: Zaproszenie"),
        ("postmaster@example.com", "Non recapitabile: Invito"),
        ("postmaster@example.com", "Non remis : Invitation"),
    ],
)
def test_exchange_style_ndr_with_returned_message(sender: str, subject: str) -> None:
    raw = (
        f"From: {sender}\r\nTo: sales@crm.example.com\r\nSubject: {subject}\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/html\r\n\r\n<p>Delivery has failed.</p>\r\n"
        f"--b\r\nContent-Type: message/rfc822\r\n\r\n{RETURNED}--b--\r\n"
    ).encode()
    result = extract(raw)
    assert result.bounce is not None
    assert result.bounce.kind is BounceKind.NON_STANDARD
    assert result.bounce.original_message_id == "outbox-7@crm.example.com"
    assert result.calendar_parts == ()
    assert len(result.bounce.returned_calendar_parts) == 1
    assert result.headers.is_auto_generated
    assert not result.is_forward


def test_a_person_forwarding_with_an_undeliverable_subject_is_not_a_bounce() -> None:
    raw = (
        "From: Sam Staff <sam@example.com>\r\nSubject: Undeliverable invitations, please check\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: message/rfc822\r\n\r\n{RETURNED}--b--\r\n"
    ).encode()
    result = extract(raw)
    assert result.bounce is None
    assert len(result.calendar_parts) == 1


def test_dsn_with_text_rfc822_headers_and_a_delay() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.com\r\nSubject: Delayed Mail (still being retried)\r\n"
        b"Content-Type: multipart/report; report-type=Delivery-Status; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nStill trying.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.com\r\n\r\n"
        b"Final-Recipient: rfc822; slow@example.net\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
        b"\r\n"
        b"Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\n"
        b"Status: 5.1.1 (user unknown)\r\n"
        b"--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"From: sales@crm.example.com\r\nMessage-ID: <outbox-9@crm.example.com>\r\n"
        b"--b--\r\n"
    )
    bounce = extract(raw).bounce
    assert bounce is not None
    assert bounce.kind is BounceKind.DSN
    assert [(r.address, r.action, r.status) for r in bounce.recipients] == [
        ("slow@example.net", "delayed", "4.4.1"),
        ("gone@example.net", "failed", "5.1.1"),
    ]
    assert [r.address for r in bounce.failed] == ["gone@example.net"]
    assert bounce.original_message_id == "outbox-9@crm.example.com"


def test_global_delivery_status_is_read() -> None:
    raw = (
        "From: MAILER-DAEMON@mx.example.com\r\nSubject: Undelivered\r\n"
        "Content-Type: multipart/report; report-type=global-delivery-status; boundary=b\r\n"
        "\r\n--b\r\nContent-Type: message/global-delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        "Final-Recipient: utf-8; jörg@example.de\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b--\r\n"
    ).encode()
    bounce = extract(raw).bounce
    assert bounce is not None
    assert [(r.address, r.status) for r in bounce.failed] == [("jörg@example.de", "5.1.1")]


def test_read_receipt_report_is_auto_generated_but_not_a_bounce() -> None:
    raw = (
        b"From: Sam Staff <sam@example.com>\r\nSubject: Read: Kick-off\r\n"
        b"Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n"
        b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n--b--\r\n"
    )
    result = extract(raw)
    assert result.bounce is None
    assert result.headers.is_auto_generated
    assert "multipart/report" in result.headers.auto_signals


def test_failed_recipient_is_failure_without_action() -> None:
    assert FailedRecipient("a@example.com", status="5.0.0").is_failure
    assert not FailedRecipient("a@example.com", status="4.0.0").is_failure
