"""Header text decoding and the header facts (identity, automation signals)."""

from __future__ import annotations

import datetime as dt
import email

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invitegw.domain.addresses import NamedAddress
from invitegw.mailbox.mime.headers import read_headers
from invitegw.mailbox.mime.headertext import (
    decode_bytes,
    decode_words,
    message_id_list,
    normalize_message_id,
    parse_date,
    resolve_charset,
    unfold,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain text", "plain text"),
        ("=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "Grüße"),
        ("=?UTF-8?B?w5xiZXJwcsO8ZnVuZw==?=", "Überprüfung"),
        # Whitespace between adjacent encoded words goes (RFC 2047 section 6.2) ...
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
        # ... but not between an encoded word and plain text.
        ("Re: =?utf-8?q?caf=C3=A9?= tomorrow", "Re: café tomorrow"),
        # A UTF-8 character split across two words.
        ("=?utf-8?b?w6k=?= =?utf-8?b?w6k=?=", "éé"),
        ("=?utf-8?b?ww==?= =?utf-8?b?qQ==?=", "é"),
        ("=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "é"),
        ("=?iso-8859-2?q?Zg=B3oszenie?=", "Zgłoszenie"),
        ("=?windows-1257?q?=E0=FE?=", "ąž"),
        ("=?utf-8*de?q?Hallo?=", "Hallo"),
        ("=?utf-8?q?folded?=\r\n =?utf-8?q?_subject?=", "folded subject"),
        # Broken words stay readable rather than raising.
        ("=?no-such-charset?q?caf=E9?=", "café"),
        ("=?utf-8?x?abc?=", "=?utf-8?x?abc?="),
        ("=?utf-8?b?####?=", ""),
    ],
)
def test_decode_words(raw: str, expected: str) -> None:
    assert decode_words(raw) == expected


def test_unfold() -> None:
    assert unfold("a\r\n b\n\tc") == "a b\tc"
    assert unfold("  single  ") == "single"
    assert unfold("x\ny") == "x y"


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("Grüße".encode(), "utf-8", "Grüße"),
        ("Grüße".encode("latin-1"), "iso-8859-1", "Grüße"),
        # Labelled us-ascii / latin-1 but really UTF-8: UTF-8 wins.
        ("Grüße".encode(), "us-ascii", "Grüße"),
        ("Grüße".encode(), "iso-8859-1", "Grüße"),
        ("Grüße".encode("cp1252"), None, "Grüße"),
        ("ąčęėįšųūž".encode("cp1257"), "windows-1257", "ąčęėįšųūž"),
        ("ąčęėįšųūž".encode("cp1257"), "'Windows-1257'", "ąčęėįšųūž"),
        ("日本語".encode("shift_jis"), "shift_jis", "日本語"),
    ],
)
def test_decode_bytes(data: bytes, charset: str | None, expected: str) -> None:
    assert decode_bytes(data, charset) == expected


@pytest.mark.parametrize("label", ["base64", "rot13", "zlib", "no-such", "", None])
def test_resolve_charset_refuses_non_text_codecs(label: str | None) -> None:
    assert resolve_charset(label) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<abc@example.com>", "abc@example.com"),
        ("  <abc@example.com> (comment)", "abc@example.com"),
        ("abc@example.com", "abc@example.com"),
        ("<abc@example.com>\r\n", "abc@example.com"),
        ("<no-at-sign>", None),
        ("<>", None),
        ("two words@example.com", None),
        ("", None),
        (None, None),
        ("<" + "a" * 1000 + "@example.com>", None),
    ],
)
def test_normalize_message_id(raw: str | None, expected: str | None) -> None:
    assert normalize_message_id(raw) == expected


def test_message_id_list() -> None:
    value = "<a@example.com>\r\n <b@example.com> <junk> <c@example.com>"
    assert message_id_list(value) == ("a@example.com", "b@example.com", "c@example.com")
    assert message_id_list("lone@example.com") == ("lone@example.com",)
    assert message_id_list(None) == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "Sat, 01 Mar 2025 10:00:00 +0100",
            dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC),
        ),
        ("1 Mar 2025 10:00:00 -0000", dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)),
        ("Sat, 1 Mar 2025 10:00:00 PST", dt.datetime(2025, 3, 1, 18, 0, tzinfo=dt.UTC)),
        ("yesterday", None),
        ("Sat, 99 Foo 2025 99:99:99 +0100", None),
        (None, None),
    ],
)
def test_parse_date(raw: str | None, expected: dt.datetime | None) -> None:
    value = parse_date(raw)
    assert value == expected
    if value is not None:
        assert value.tzinfo is not None


@given(st.text(max_size=300))
def test_header_text_helpers_never_raise(value: str) -> None:
    decode_words(value)
    normalize_message_id(value)
    message_id_list(value)
    parse_date(value)


def _headers(raw: str) -> tuple[object, list[str]]:
    defects: list[str] = []
    return read_headers(email.message_from_bytes(raw.encode("utf-8")), defects), defects


def test_read_headers_identity_and_addresses() -> None:
    headers, defects = _headers(
        "From: =?utf-8?q?J=C3=B6rg?= <Joerg@Example.DE>\n"
        "Sender: Assistant <assistant@example.de>\n"
        "Reply-To: a@example.de, b@example.de\n"
        "To: Sam <sam@example.com>\nCc: c@example.com\n"
        "Subject: =?utf-8?q?Termin_=C3=A4ndern?=\n"
        "Date: Sat, 01 Mar 2025 10:00:00 +0100\n"
        "Message-ID: <m1@example.de>\nIn-Reply-To: <m0@example.de>\n"
        "References: <a@example.de> <m0@example.de>\n"
        "Return-Path: <Bounce@Example.de>\n"
        "Authentication-Results: mx.example.com; dkim=pass header.d=example.de\n"
        "Authentication-Results: relay.example.com; spf=pass\n\nbody\n"
    )
    assert defects == []
    assert headers.message_id == "m1@example.de"
    assert headers.from_ == NamedAddress("Jörg", "joerg@example.de")
    assert headers.sender == NamedAddress("Assistant", "assistant@example.de")
    assert [m.address for m in headers.reply_to] == ["a@example.de", "b@example.de"]
    assert headers.to == (NamedAddress("Sam", "sam@example.com"),)
    assert headers.cc == (NamedAddress("", "c@example.com"),)
    assert headers.subject == "Termin ändern"
    assert headers.date == dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
    assert headers.in_reply_to == ("m0@example.de",)
    assert headers.references == ("a@example.de", "m0@example.de")
    assert headers.return_path == "bounce@example.de"
    assert headers.authentication_results == (
        "mx.example.com; dkim=pass header.d=example.de",
        "relay.example.com; spf=pass",
    )
    assert not headers.is_auto_generated
    assert not headers.suppress_auto_response


def test_read_headers_undeclared_8bit_header_is_read_as_utf8() -> None:
    headers, _ = _headers("From: Jörg <j@example.de>\nSubject: Grüße aus Köln\n\nx\n")
    assert headers.subject == "Grüße aus Köln"
    assert headers.from_ == NamedAddress("Jörg", "j@example.de")


@pytest.mark.parametrize(
    ("from_value", "note"),
    [
        ("a@example.com, b@example.com", "2 mailboxes"),
        ("alice@example.org)<bob@example.net>", "mailboxes"),
        ("Nobody", "no usable address"),
    ],
)
def test_read_headers_untrusted_from(from_value: str, note: str) -> None:
    headers, defects = _headers(f"From: {from_value}\nSubject: x\n\nx\n")
    assert headers.from_ is None
    assert any(note in d for d in defects), defects


def test_read_headers_notes_invalid_message_id_and_date() -> None:
    headers, defects = _headers("From: a@example.com\nMessage-ID: nonsense\nDate: soon\n\nx\n")
    assert headers.message_id is None
    assert headers.date is None
    assert any("Message-ID" in d for d in defects)
    assert any("Date" in d for d in defects)


@pytest.mark.parametrize(
    ("extra", "signal"),
    [
        ("Auto-Submitted: auto-replied; reason=vacation", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: Auto-Generated (calendar)", "Auto-Submitted: auto-generated"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: junk", "Precedence: junk"),
        ("Precedence: list", "Precedence: list"),
        ("X-Autoreply: yes", "x-autoreply: present"),
        ("X-Autorespond: on", "x-autorespond: present"),
        ("Return-Path: <>", "Return-Path: <>"),
        ("Subject: Automatic reply: Kick-off", "Subject: automatic reply"),
        ("Subject: Abwesenheitsnotiz: Kick-off", "Subject: automatic reply"),
        ("Subject: Réponse automatique : Kick-off", "Subject: automatic reply"),
    ],
)
def test_auto_generated_signals(extra: str, signal: str) -> None:
    headers, _ = _headers(f"From: a@example.com\n{extra}\n\nx\n")
    assert headers.is_auto_generated
    assert headers.suppress_auto_response
    assert signal in headers.auto_signals


def test_mailer_daemon_is_auto_generated() -> None:
    headers, _ = _headers("From: MAILER-DAEMON@mx.example.com\nSubject: x\n\nx\n")
    assert headers.is_auto_generated
    assert "From: MAILER-DAEMON" in headers.auto_signals


@pytest.mark.parametrize(
    "extra",
    [
        "X-Auto-Response-Suppress: All",
        "X-Auto-Response-Suppress: DR, OOF, AutoReply",
        "List-Id: Sales team <sales.lists.example.com>",
        "List-Post: <mailto:sales@lists.example.com>",
    ],
)
def test_requests_for_no_auto_response_are_not_auto_generated(extra: str) -> None:
    # X-Auto-Response-Suppress asks us not to answer; it does not say a robot wrote it
    # (Exchange sets it on ordinary messages too), so the invitation stays usable.
    headers, _ = _headers(f"From: a@example.com\n{extra}\n\nx\n")
    assert not headers.is_auto_generated
    assert headers.suppress_auto_response
    assert headers.auto_signals


@pytest.mark.parametrize(
    "extra",
    ["Auto-Submitted: no", "Precedence: first-class", "X-Auto-Response-Suppress: None"],
)
def test_human_mail_is_not_auto(extra: str) -> None:
    headers, _ = _headers(f"From: a@example.com\n{extra}\nSubject: Automatically yours\n\nx\n")
    assert not headers.is_auto_generated
    assert not headers.suppress_auto_response
    assert headers.auto_signals == ()
    assert headers.auto_submitted in (None, "no")
