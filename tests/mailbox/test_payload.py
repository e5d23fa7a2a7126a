"""Transfer decoding, charset transcoding, calendar sniffing and the duplicate key."""

from __future__ import annotations

import base64
import email

import pytest

from invitegw.mailbox.mime.payload import (
    calendar_key,
    decoded_payload,
    looks_like_calendar,
    to_utf8,
    transfer_encoding,
)

CAL = b"BEGIN:VCALENDAR\r\nSUMMARY:A long\r\n  folded line\r\nEND:VCALENDAR\r\n"


@pytest.mark.parametrize(
    "variant",
    [
        CAL,
        CAL.replace(b"\r\n", b"\n"),
        CAL.replace(b"\r\n", b"\r"),
        b"\n\n" + CAL.replace(b"\r\n", b"\n") + b"\n\n",
        CAL.replace(b"BEGIN:VCALENDAR\r\n", b"BEGIN:VCALENDAR \t\r\n"),
        b"BEGIN:VCALENDAR\r\nSUMMARY:A long folded line\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nSUMMARY:A long\r\n\t folded line\r\nEND:VCALENDAR\r\n",
    ],
)
def test_calendar_key_ignores_line_endings_folding_and_blanks(variant: bytes) -> None:
    assert calendar_key(variant) == calendar_key(CAL)


@pytest.mark.parametrize(
    "other",
    [
        CAL.replace(b"A long", b"A short"),
        CAL.replace(b"SUMMARY", b"LOCATION"),
        CAL + b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
    ],
)
def test_calendar_key_tells_different_objects_apart(other: bytes) -> None:
    assert calendar_key(other) != calendar_key(CAL)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (b"BEGIN:VCALENDAR\r\n", True),
        (b"  \r\n\tbegin:vcalendar\n", True),
        (b"\xef\xbb\xbfBEGIN:VCALENDAR", True),
        ("BEGIN:VCALENDAR".encode("utf-16"), True),
        (b"BEGIN:VCARD\r\n", False),
        (b"Hello BEGIN:VCALENDAR", False),
        (b"", False),
    ],
)
def test_looks_like_calendar(prefix: bytes, expected: bool) -> None:
    assert looks_like_calendar(prefix) is expected


def test_to_utf8_notes_unknown_charsets_and_replacements() -> None:
    notes: list[str] = []
    assert to_utf8("Grüße".encode(), "x-klingon", notes, "2") == "Grüße".encode()
    assert notes == ["part 2: unknown charset 'x-klingon', read as UTF-8"]
    notes.clear()
    assert to_utf8(b"caf\xe9", "utf-8", notes, "3") == "café".encode()  # cp1252 fallback
    notes.clear()
    assert to_utf8(b"\x81\x8d", "utf-8", notes, "4") == "\ufffd\ufffd".encode()
    assert notes == ["part 4: bytes invalid in charset 'utf-8' replaced"]


def _part(cte: str, body: str) -> email.message.Message:
    return email.message_from_string(f"Content-Transfer-Encoding: {cte}\n\n{body}")


@pytest.mark.parametrize(
    ("cte", "body", "expected"),
    [
        ("base64", base64.b64encode(b"hello world").decode(), b"hello world"),
        ("BASE64 (comment)", "aGVsbG8=", b"hello"),
        ("base64", "aGVs\r\nbG8", b"hello"),  # missing padding
        ("base64", "aGVsbG8gd", b"hello "),  # dangling character dropped
        ("quoted-printable", "caf=C3=A9 =\nau lait", "café au lait".encode()),
        ("8bit", "plain", b"plain"),
        ("x-uuencode", "begin 644 f\n%:&5L;&\\`\n`\nend\n", b"hello"),
    ],
)
def test_decoded_payload(cte: str, body: str, expected: bytes) -> None:
    notes: list[str] = []
    assert decoded_payload(_part(cte, body), notes, "1") == expected


def test_unknown_transfer_encoding_is_read_as_8bit_with_a_note() -> None:
    notes: list[str] = []
    assert decoded_payload(_part("x-gzip64", "data"), notes, "1") == b"data"
    assert notes == ["part 1: unknown Content-Transfer-Encoding 'x-gzip64', read as 8bit"]
    assert transfer_encoding(email.message_from_string("\n\nx")) == "7bit"
