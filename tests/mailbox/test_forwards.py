"""Forward detection: subject prefixes and quoted header blocks in several languages."""

from __future__ import annotations

import pytest

from invitegw.domain.addresses import NamedAddress
from invitegw.mailbox.mime import ForwardKind, extract
from invitegw.mailbox.mime.forwards import (
    find_inline_forward,
    has_forward_prefix,
    has_reply_prefix,
    html_to_text,
)

ORIGINAL = NamedAddress("Olivia Organizer", "olivia@example.org")


@pytest.mark.parametrize(
    "subject",
    ["FW: x", "Fw: x", "Fwd: x", "FWD:x", "WG: x", "PD: x", "I: x", "TR: x", "RV: x",
     "[Fwd: x]", "  fw : x", "Fw[2]: x", "ENC: x", "VS: x", "Doorst: x"],
)  # fmt: skip
def test_forward_prefixes(subject: str) -> None:
    assert has_forward_prefix(subject)
    assert not has_reply_prefix(subject)


@pytest.mark.parametrize(
    "subject", ["RE: FW: x", "AW: WG: x", "Odp: PD: x", "Weekly sync", "Fwdr: x", "FWIW x", ""]
)
def test_not_forward_prefixes(subject: str) -> None:
    assert not has_forward_prefix(subject)


@pytest.mark.parametrize("subject", ["RE: x", "Re: x", "AW: x", "Odp: x", "R: x", "SV: x"])
def test_reply_prefixes(subject: str) -> None:
    assert has_reply_prefix(subject)


BLOCKS = {
    "gmail-en": (
        "FYI\n\n---------- Forwarded message ---------\n"
        "From: Olivia Organizer <olivia@example.org>\nDate: Fri, Feb 28, 2025 at 5:00 PM\n"
        "Subject: Demo\nTo: <sam@example.com>\n"
    ),
    "gmail-de": (
        "---------- Weitergeleitete Nachricht ---------\n"
        "Von: Olivia Organizer <olivia@example.org>\nDate: Fr., 28. Feb. 2025 um 17:00\n"
    ),
    "gmail-pl": (
        "---------- Przekazana wiadomość ---------\n"
        "Od: Olivia Organizer <olivia@example.org>\nDate: pt., 28 lut 2025 o 17:00\n"
    ),
    "gmail-it": (
        "---------- Messaggio inoltrato ---------\n"
        "Da: Olivia Organizer <olivia@example.org>\nDate: ven 28 feb 2025 alle ore 17:00\n"
    ),
    "gmail-fr": (
        "---------- Message transféré ---------\n"
        "De : Olivia Organizer <olivia@example.org>\nDate: ven. 28 févr. 2025 à 17:00\n"
    ),
    "apple-en": (
        "Begin forwarded message:\n\n"
        "From: Olivia Organizer <olivia@example.org>\nSubject: Demo\n"
        "Date: 28 February 2025 at 17:00:00 CET\nTo: Sam Staff <sam@example.com>\n"
    ),
    "apple-de": (
        "Anfang der weitergeleiteten Nachricht:\n\n"
        "Von: Olivia Organizer <olivia@example.org>\nBetreff: Demo\n"
    ),
    "apple-pl": (
        "Początek przekazanej wiadomości:\n\n"
        "Od: Olivia Organizer <olivia@example.org>\nTemat: Demo\n"
    ),
    "apple-it": "Inizio messaggio inoltrato:\n\nDa: Olivia Organizer <olivia@example.org>\n",
    "apple-fr": (
        "Début du message réexpédié :\n\nDe: Olivia Organizer <olivia@example.org>\nObjet: Demo\n"
    ),
    "outlook-en": (
        "Please file.\n\n________________________________\n"
        "From: Olivia Organizer <olivia@example.org>\nSent: Friday, February 28, 2025 5:00 PM\n"
        "To: Sam Staff <sam@example.com>\nSubject: Demo\n"
    ),
    "outlook-de": (
        "________________________________\nVon: Olivia Organizer <olivia@example.org>\n"
        "Gesendet: Freitag, 28. Februar 2025 17:00\nAn: Sam Staff <sam@example.com>\n"
        "Betreff: Demo\n"
    ),
    "outlook-pl": (
        "Od: Olivia Organizer <olivia@example.org>\nWysłane: piątek, 28 lutego 2025 17:00\n"
        "Do: Sam Staff <sam@example.com>\nTemat: Demo\n"
    ),
    "outlook-it": (
        "Da: Olivia Organizer <olivia@example.org>\nInviato: venerdì 28 febbraio 2025 17:00\n"
        "A: Sam Staff <sam@example.com>\nOggetto: Demo\n"
    ),
    "outlook-fr": (
        "De : Olivia Organizer <olivia@example.org>\nEnvoyé : vendredi 28 février 2025 17:00\n"
        "À : Sam Staff <sam@example.com>\nObjet : Demo\n"
    ),
    "outlook-classic-mailto": (
        "-----Original Message-----\n"
        "From: Olivia Organizer [mailto:olivia@example.org]\nSent: Friday, February 28, 2025\n"
    ),
    "thunderbird-en": (
        "-------- Forwarded Message --------\nSubject: \tDemo\n"
        "Date: \tFri, 28 Feb 2025 17:00:00 +0100\n"
        "From: \tOlivia Organizer <olivia@example.org>\nTo: \tsam@example.com\n"
    ),
    "samsung-de-one-line": (
        "Von meinem Smartphone gesendet\n-------- Ursprüngliche Nachricht --------"
        "Von: Olivia Organizer <olivia@example.org> Datum: 28.02.25 17:00 (GMT+01:00) "
        "An: Sam Staff <sam@example.com> Betreff: Demo"
    ),
    "quoted-with-markers": (
        "> ---------- Forwarded message ---------\n"
        "> From: *Olivia Organizer* <olivia@example.org>\n> Date: Fri, Feb 28, 2025\n"
    ),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_inline_forward_blocks(name: str) -> None:
    assert find_inline_forward(BLOCKS[name]) == (True, ORIGINAL)


def test_inline_forward_with_name_only() -> None:
    body = "________________________________\nFrom: Organizer, Olivia\nSent: Friday\n"
    assert find_inline_forward(body) == (True, None)


def test_inline_forward_bare_address() -> None:
    body = "---------- Forwarded message ---------\nFrom: olivia@example.org\n"
    assert find_inline_forward(body) == (True, NamedAddress("", "olivia@example.org"))


@pytest.mark.parametrize(
    "body",
    [
        "",
        "Hello, see you on Monday.\nFrom: the desk of Sam",
        "From: Olivia <olivia@example.org>\n\nNothing that looks like a Sent line here.",
    ],
)
def test_no_inline_forward(body: str) -> None:
    assert find_inline_forward(body) == (False, None)


def test_reply_quote_is_not_a_forward_but_an_explicit_marker_is() -> None:
    assert find_inline_forward(BLOCKS["outlook-en"], reply=True) == (False, None)
    assert find_inline_forward(BLOCKS["gmail-en"], reply=True) == (True, ORIGINAL)


def test_html_to_text_for_outlook_html_bodies() -> None:
    markup = (
        "<html><head><style>p{color:red}</style></head><body><p>Please file.</p>"
        "<hr><b>From:</b> Olivia Organizer &lt;olivia@example.org&gt;<br>"
        "<b>Sent:</b> Friday, February 28, 2025<br><b>To:</b> Sam</body></html>"
    )
    text = html_to_text(markup)
    assert "color" not in text
    assert find_inline_forward(text) == (True, ORIGINAL)


def test_html_only_forward_message() -> None:
    raw = (
        b"From: Sam Staff <sam@example.com>\r\nSubject: WG: Demo\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Bitte anlegen.</p><div>________________________________<br>"
        b"<b>Von:</b> Olivia Organizer &lt;olivia@example.org&gt;<br>"
        b"<b>Gesendet:</b> Freitag<br></div>\r\n"
    )
    result = extract(raw)
    assert result.forward_kind is ForwardKind.INLINE
    assert result.original_sender == ORIGINAL
    assert result.forwarder == NamedAddress("Sam Staff", "sam@example.com")


def test_subject_only_forward() -> None:
    raw = b"From: Sam Staff <sam@example.com>\r\nSubject: Fwd: Demo\r\n\r\nsee below\r\n"
    result = extract(raw)
    assert result.forward_kind is ForwardKind.SUBJECT
    assert result.forwarder == NamedAddress("Sam Staff", "sam@example.com")
    assert result.original_sender is None


def test_the_attachment_with_the_calendar_names_the_original_sender() -> None:
    raw = (
        b"From: Sam Staff <sam@example.com>\r\nSubject: two forwards\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: Someone Else <else@example.net>\r\nSubject: chatter\r\n\r\nhi\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: Olivia Organizer <olivia@example.org>\r\nSubject: invite\r\n"
        b"Content-Type: text/calendar\r\n\r\n"
        b"BEGIN:VCALENDAR\r\nUID:x@example.org\r\nEND:VCALENDAR\r\n"
        b"--b--\r\n"
    )
    result = extract(raw)
    assert result.forward_kind is ForwardKind.ATTACHED
    assert result.original_sender == ORIGINAL
    assert [p.location for p in result.calendar_parts] == ["2/message-rfc822/1"]
