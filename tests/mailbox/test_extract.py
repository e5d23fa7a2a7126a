"""Extraction from each client's shape of invitation email (our own fixtures)."""

from __future__ import annotations

import base64
import email

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invitegw.domain.addresses import NamedAddress
from invitegw.errors import MimeError
from invitegw.mailbox.mime import CalendarPart, Extraction, ForwardKind, PartOrigin, extract
from invitegw.mailbox.mime.params import simple_params
from tests.mailbox.helpers import calendar, first_method, load, property_value, uids

ORGANIZER = NamedAddress("Olivia Organizer", "olivia@example.org")
STAFF = NamedAddress("Sam Staff", "sam@example.com")


def _only(result: Extraction) -> CalendarPart:
    assert len(result.calendar_parts) == 1, result.calendar_parts
    return result.calendar_parts[0]


def test_outlook_multipart_alternative_base64() -> None:
    result = extract(load("outlook_multipart_base64.eml"))
    part = _only(result)
    assert part.location == "3"
    assert part.content_type == "text/calendar"
    assert part.origin is PartOrigin.INLINE
    assert part.mime_method == "REQUEST"
    assert part.charset == "utf-8"
    assert not part.encapsulated
    assert uids(part.data) == ["040000008200E00074C5B7101A82E00800000000FIXTURE0001"]
    assert part.data.startswith(b"BEGIN:VCALENDAR\r\n")
    assert result.headers.message_id == "FIXTURE0001@mail.example.org"
    assert result.headers.from_ == ORGANIZER
    assert result.headers.subject == "Quarterly review"
    assert not result.is_forward
    assert result.bounce is None
    assert result.defects == ()


def test_outlook_single_part_calendar_body() -> None:
    part = _only(extract(load("outlook_single_part_calendar.eml")))
    assert part.location == "1"
    assert part.origin is PartOrigin.INLINE
    assert part.mime_method == "REQUEST"
    assert property_value(part.data, "SUMMARY") == "Budget call"


def test_gmail_inline_and_invite_ics_are_one_object() -> None:
    part = _only(extract(load("gmail_inline_and_invite_ics.eml")))
    # Document order: the inline text/calendar comes first; the attachment is its copy.
    assert part.location == "1.3"
    assert part.duplicate_locations == ("2",)
    assert part.origin is PartOrigin.INLINE
    assert part.mime_method == "REQUEST"
    assert uids(part.data) == ["fixture0003@example.org"]


def test_apple_application_x_any_attachment() -> None:
    part = _only(extract(load("apple_x_any_attachment.eml")))
    assert part.content_type == "application/x-any"
    assert part.filename == "Lunch.ics"
    assert part.origin is PartOrigin.ATTACHMENT
    assert part.mime_method is None
    assert first_method(part.data) == "PUBLISH"


def test_thunderbird_8bit_utf8_with_duplicate_attachment() -> None:
    result = extract(load("thunderbird_8bit.eml"))
    part = _only(result)
    assert part.location == "1.2"
    assert part.duplicate_locations == ("2",)
    assert property_value(part.data, "SUMMARY") == "Überprüfung der Jahresplanung"
    assert property_value(part.data, "LOCATION") == "Besprechungsraum Süd"
    assert result.headers.subject == "Einladung: Überprüfung der Jahresplanung"


def test_windows_1257_is_transcoded_to_utf8() -> None:
    part = _only(extract(load("lotus_windows1257.eml")))
    assert part.charset == "windows-1257"
    part.data.decode("utf-8")  # strict: raises if the bytes were not transcoded
    assert property_value(part.data, "SUMMARY") == "Susitikimas dėl ūkio plano"
    assert property_value(part.data, "LOCATION") == "Šiaulių g. 5, Kaunas"


def test_quoted_printable_with_soft_breaks() -> None:
    part = _only(extract(load("zimbra_quoted_printable.eml")))
    summary = "Réunion de l'équipe — planification trimestrielle détaillée"
    assert property_value(part.data, "SUMMARY") == summary
    assert property_value(part.data, "LOCATION") == "Salle Émile, 3ᵉ étage"
    assert b"=\r\n" not in part.data


def test_forward_as_attachment() -> None:
    result = extract(load("outlook_forward_as_attachment.eml"))
    part = _only(result)
    assert part.location == "2/message-rfc822/1"
    assert part.origin is PartOrigin.FORWARDED
    assert part.encapsulated
    assert uids(part.data) == ["fixture-0008-forwarded@example.org"]
    assert result.forward_kind is ForwardKind.ATTACHED
    assert result.is_forward
    assert result.forwarder == STAFF
    assert result.original_sender == ORGANIZER


def test_outlook_inline_forward_with_ics_attached() -> None:
    result = extract(load("outlook_inline_forward_fw.eml"))
    part = _only(result)
    assert part.filename == "Site visit.ics"
    assert part.origin is PartOrigin.ATTACHMENT
    assert result.forward_kind is ForwardKind.INLINE
    assert result.forwarder == STAFF
    assert result.original_sender == ORGANIZER


def test_gmail_inline_forward() -> None:
    result = extract(load("gmail_inline_forward.eml"))
    assert uids(_only(result).data) == ["fixture0010@example.org"]
    assert result.forward_kind is ForwardKind.INLINE
    assert result.forwarder == STAFF
    assert result.original_sender == ORGANIZER


def test_dsn_bounce_of_our_invitation_is_not_an_invitation() -> None:
    result = extract(load("postfix_dsn_bounce.eml"))
    assert result.calendar_parts == ()
    bounce = result.bounce
    assert bounce is not None
    assert bounce.kind == "dsn"
    assert bounce.original_message_id == "outbox-42.t8k2q@crm.example.com"
    assert bounce.original_envelope_id == "outbox-42"
    assert bounce.reporting_mta == "dns; mx.crm.example.com"
    [failed] = bounce.failed
    assert failed.address == "nobody-here@example.net"
    assert failed.status == "5.1.1"
    assert failed.action == "failed"
    assert failed.diagnostic_code == (
        "smtp; 550 5.1.1 <nobody-here@example.net>: Recipient address rejected: User unknown"
    )
    [returned] = bounce.returned_calendar_parts
    assert returned.origin is PartOrigin.RETURNED
    assert returned.location == "3/message-rfc822/2"
    assert uids(returned.data) == ["invitegw-fixture-0011@crm.example.com"]
    assert result.headers.is_auto_generated
    assert not result.is_forward


def test_auto_reply() -> None:
    result = extract(load("exchange_auto_reply.eml"))
    assert result.calendar_parts == ()
    headers = result.headers
    assert headers.is_auto_generated
    assert headers.suppress_auto_response
    assert headers.auto_submitted == "auto-generated"
    assert headers.in_reply_to == ("outbox-42.t8k2q@crm.example.com",)
    assert headers.references == (
        "outbox-41.t8k2q@crm.example.com",
        "outbox-42.t8k2q@crm.example.com",
    )
    assert result.bounce is None


def test_two_different_ics_attachments_in_document_order() -> None:
    result = extract(load("generic_two_ics_attachments.eml"))
    assert [p.filename for p in result.calendar_parts] == ["morning.ics", "afternoon.ics"]
    assert [uids(p.data) for p in result.calendar_parts] == [
        ["fixture-0013-a@example.org"],
        ["fixture-0013-b@example.org"],
    ]
    assert [p.content_type for p in result.calendar_parts] == [
        "application/octet-stream",
        "text/calendar",
    ]
    assert [p.mime_method for p in result.calendar_parts] == [None, "PUBLISH"]


def test_no_calendar_and_a_quoted_reply_is_not_a_forward() -> None:
    result = extract(load("outlook_no_calendar.eml"))
    assert result.calendar_parts == ()
    # "RE:" with Outlook's quoted header block: a reply, not a forward.
    assert not result.is_forward
    assert result.original_sender is None


# -- shapes built in the test -----------------------------------------------------------


def _message(*parts: str, headers: str = "") -> bytes:
    body = "".join(f"--b\r\n{p}\r\n" for p in parts)
    return (
        "From: Olivia Organizer <olivia@example.org>\r\nTo: sam@example.com\r\n"
        f"Subject: Test\r\nMessage-ID: <t@example.org>\r\n{headers}"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"{body}--b--\r\n"
    ).encode()


def test_mixed_case_content_type_and_method() -> None:
    cal = base64.b64encode(calendar("mixed@example.org")).decode()
    raw = _message(
        "Content-Type: TeXt/CaLeNdAr; METHOD=request; Charset=UTF-8\r\n"
        f"Content-Transfer-Encoding: BASE64\r\n\r\n{cal}"
    )
    part = _only(extract(raw))
    assert part.content_type == "text/calendar"
    assert part.mime_method == "REQUEST"
    assert part.charset == "utf-8"
    assert uids(part.data) == ["mixed@example.org"]


def test_text_x_vcalendar_and_vcs_name() -> None:
    raw = _message(
        "Content-Type: text/x-vCalendar; name=event.vcs\r\n\r\n"
        + calendar("vcs@example.org").decode()
    )
    part = _only(extract(raw))
    assert part.content_type == "text/x-vcalendar"
    assert part.filename == "event.vcs"


def test_calendar_labelled_as_plain_text_is_sniffed() -> None:
    raw = _message(
        "Content-Type: application/octet-stream\r\n\r\n" + calendar("s@x.example").decode()
    )
    result = extract(raw)
    assert uids(_only(result).data) == ["s@x.example"]
    assert any("labelled application/octet-stream" in d for d in result.defects)


def test_bom_is_stripped_and_utf16_transcoded() -> None:
    cal = calendar("bom@example.org", summary="Grüße")
    utf8_bom = base64.b64encode(b"\xef\xbb\xbf" + cal).decode()
    utf16 = base64.b64encode(cal.decode().encode("utf-16")).decode()
    raw = _message(
        f"Content-Type: text/calendar\r\nContent-Transfer-Encoding: base64\r\n\r\n{utf8_bom}",
        "Content-Type: application/octet-stream; name=u16.ics\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{utf16}",
    )
    result = extract(raw)
    # Both copies decode to the same UTF-8 bytes: one object.
    part = _only(result)
    assert part.data == cal
    assert part.duplicate_locations == ("2",)


def test_rfc2047_and_rfc2231_filenames() -> None:
    raw = _message(
        'Content-Type: application/octet-stream; name="=?utf-8?q?Sitzung_=C3=BCbermorgen.ics?="'
        "\r\n\r\n" + calendar("a@example.org").decode(),
        "Content-Type: application/octet-stream\r\n"
        "Content-Disposition: attachment; filename*=utf-8''R%C3%A9union.ics\r\n\r\n"
        + calendar("b@example.org").decode(),
    )
    result = extract(raw)
    assert [p.filename for p in result.calendar_parts] == ["Sitzung übermorgen.ics", "Réunion.ics"]


def test_latin1_declared_charset_with_utf8_content_is_read_as_utf8() -> None:
    cal = calendar("l@example.org", summary="Café")
    raw = _message(
        "Content-Type: text/calendar; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + cal.decode()
    )
    assert property_value(_only(extract(raw)).data, "SUMMARY") == "Café"


def test_broken_base64_padding_is_repaired() -> None:
    cal = base64.b64encode(calendar("pad@example.org")).decode().rstrip("=")
    raw = _message(f"Content-Type: text/calendar\r\nContent-Transfer-Encoding: base64\r\n\r\n{cal}")
    assert uids(_only(extract(raw)).data) == ["pad@example.org"]


def test_encoded_message_rfc822_is_decoded() -> None:
    inner = (
        b"From: Olivia Organizer <olivia@example.org>\r\nSubject: Inner\r\n"
        b"Content-Type: text/calendar; method=REQUEST\r\n\r\n" + calendar("enc@example.org")
    )
    raw = _message(
        "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(inner).decode(),
        headers="",
    )
    result = extract(raw)
    assert uids(_only(result).data) == ["enc@example.org"]
    assert result.original_sender == ORGANIZER
    assert any("encoded message/rfc822" in d for d in result.defects)


def test_empty_calendar_part_is_noted_not_returned() -> None:
    result = extract(_message("Content-Type: text/calendar\r\n\r\n   "))
    assert result.calendar_parts == ()
    assert any("empty calendar part" in d for d in result.defects)


def test_malformed_mime_gives_a_best_effort_result_with_defects() -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/calendar\r\n\r\n" + calendar("cut@example.org")
    )  # no closing boundary
    result = extract(raw)
    assert uids(_only(result).data) == ["cut@example.org"]
    assert any("CloseBoundaryNotFoundDefect" in d for d in result.defects)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty input"),
        (b"   \r\n", "empty input"),
        (b"just some text without any header\n", "no header fields"),
    ],
)
def test_not_a_message_raises_mime_error(raw: bytes, message: str) -> None:
    with pytest.raises(MimeError, match=message):
        extract(raw)


def test_non_bytes_input_raises_mime_error() -> None:
    with pytest.raises(MimeError, match="bytes"):
        extract("From: a@example.com\n\nx")  # type: ignore[arg-type]


def test_missing_from_is_a_defect() -> None:
    result = extract(b"Subject: nobody\r\n\r\nhello\r\n")
    assert result.headers.from_ is None
    assert "message has no From header" in result.defects


_PARAM_PIECES = st.sampled_from(
    ["text/calendar", ";", " ", "charset", "=", "utf-8", '"UTF-8"', "method", "REQUEST",
     "name", '"a b.ics"', '"x;y"', "*", "'", "<x>", "\\", '"', "\t", "Method", "a=b=c"]
)  # fmt: skip


@given(st.lists(_PARAM_PIECES, max_size=10).map("".join))
def test_fast_parameter_path_agrees_with_the_stdlib(value: str) -> None:
    fast = simple_params(value)
    if fast is None:
        return
    message = email.message_from_string(f"Content-Type: {value}\n\nx")
    slow: dict[str, object] = {}
    for key, item in (message.get_params() or [])[1:]:
        if key:  # stdlib reports an empty ";;" slot as ("", ""); nothing looks it up
            slow.setdefault(key, item)
    assert fast == slow
