"""``quickparse.parse_well_formed`` builds exactly the standard parser's tree, or declines.

Every message here is parsed both ways. When the quick parser returns a tree it must equal
the standard library's (``compat32``) field for field: header pairs, payload strings,
preambles, epilogues, defaults and defects (none). Declining is always allowed; what is
checked about declining is that the well-formed messages the gateway meets every day are
taken (else the speed-up would silently be gone) and that each malformed shape is not.
"""

from __future__ import annotations

import email.parser
import email.policy
import random
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from invitegw.mailbox.mime import quickparse
from invitegw.mailbox.mime.quickparse import parse_well_formed
from tests.gateway.inbound.service_mails import (
    DEFAULT_START,
    forward_as_attachment,
    google_invitation,
    outlook_invitation,
    two_ics,
)
from tests.mailbox.helpers import build_tnef, calendar, tnef_email

DATA = Path(__file__).parent / "data"


def shape(msg: Message) -> Any:
    """Everything the extraction can see of a parsed tree, as comparable values.

    The payload is read raw: ``get_payload()`` turns surrogate-escaped bytes into U+FFFD,
    which would hide a payload built differently.
    """
    payload = msg._payload
    return (
        msg.get_unixfrom(),
        list(msg.raw_items()),
        msg.get_default_type(),
        msg.preamble,
        msg.epilogue,
        [type(d).__name__ for d in msg.defects],
        [shape(p) for p in payload] if isinstance(payload, list) else payload,
    )


def standard(data: bytes) -> Message:
    return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)


def assert_same_or_declined(data: bytes) -> bool:
    """The quick tree equals the standard one; True when the quick parser took it."""
    quick = parse_well_formed(data)
    if quick is None:
        return False
    assert shape(quick) == shape(standard(data))
    return True


def generated() -> Iterator[bytes]:
    start = DEFAULT_START
    yield outlook_invitation(sender="a@partner.example", to="o@example.com", start=start)
    yield google_invitation(sender="a@partner.example", to="o@example.com", start=start)
    original = outlook_invitation(sender="a@partner.example", to="s@example.com", start=start)
    yield forward_as_attachment(
        original, forwarder="s@example.com", to="crm@example.com", subject="Fw"
    )
    yield two_ics(
        sender="a@partner.example", to="o@example.com", uids=("u1", "u2"), summaries=("A", "B")
    )
    yield tnef_email(build_tnef([("invite.ics", calendar("tnef-uid"))]))


def own_samples() -> Iterator[tuple[str, bytes]]:
    for path in sorted(DATA.glob("*.eml")):
        yield path.name, path.read_bytes()


def test_own_samples_and_generated_mail_are_taken_and_identical() -> None:
    taken = [name for name, raw in own_samples() if assert_same_or_declined(raw)]
    # The everyday shapes must take the quick path; the DSN (delivery-status) must not.
    assert "gmail_inline_and_invite_ics.eml" in taken
    assert "outlook_forward_as_attachment.eml" in taken
    assert "postfix_dsn_bounce.eml" not in taken
    for raw in generated():
        assert assert_same_or_declined(raw), raw[:200]


def test_corpus_messages_identical(corpus_dir: Path) -> None:
    messages = sorted((corpus_dir / "eml").glob("*.eml"))
    assert messages, f"no .eml files under {corpus_dir}"
    taken = sum(assert_same_or_declined(path.read_bytes()) for path in messages)
    # Most real-world mail is well formed; a quick path that declines it all is no path.
    assert taken >= len(messages) // 2, f"quick path took {taken} of {len(messages)}"


def mutations(raw: bytes, rng: random.Random) -> Iterator[bytes]:
    """Damaged variants of ``raw``: cut short, lines dropped or doubled, stray CR and LF."""
    lines = raw.splitlines(keepends=True)
    for _ in range(12):
        yield raw[: rng.randrange(1, len(raw))]
        cut = rng.randrange(len(lines))
        yield b"".join(lines[:cut] + lines[cut + 1 :])
        yield b"".join([*lines[:cut], lines[cut], *lines[cut:]])
        at = rng.randrange(len(raw))
        yield raw[:at] + rng.choice([b"\r", b"\n", b"\r\n", b" ", b"--", b":"]) + raw[at:]
    yield raw.replace(b"\r\n", b"\n")
    yield raw.replace(b"\r\n", b"\r")
    yield raw.replace(b"\r\n\r\n", b"\r\n", 1)
    yield b"From someone Mon Jan  1 00:00:00 2024\r\n" + raw


def test_mutated_messages_identical_or_declined() -> None:
    rng = random.Random(7)
    bases = [raw for _, raw in own_samples()] + list(generated())
    checked = 0
    for raw in bases:
        for variant in mutations(raw, rng):
            if variant.strip():
                assert_same_or_declined(variant)
                checked += 1
    assert checked > 500


def test_corpus_mutations_identical_or_declined(corpus_dir: Path) -> None:
    rng = random.Random(11)
    for path in sorted((corpus_dir / "eml").glob("*.eml")):
        for variant in mutations(path.read_bytes(), rng):
            if variant.strip():
                assert_same_or_declined(variant)


MULTIPART = (
    b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
    b"preamble\r\n--B\r\nContent-Type: text/plain\r\n\r\none\r\n--B\r\n\r\ntwo\r\n--B--\r\n"
    b"epilogue\r\n"
)


def test_a_plain_multipart_is_taken_with_preamble_and_epilogue() -> None:
    msg = parse_well_formed(MULTIPART)
    assert msg is not None
    assert msg.preamble == "preamble"
    assert msg.epilogue == "epilogue\r\n"
    assert [p.get_payload() for p in msg.get_payload()] == ["one", "two"]
    assert shape(msg) == shape(standard(MULTIPART))


@pytest.mark.parametrize(
    ("label", "raw"),
    [
        ("bare CR", MULTIPART.replace(b"one", b"o\rne")),
        ("no close delimiter", MULTIPART.replace(b"--B--", b"--B")),
        ("close delimiter first", MULTIPART.replace(b"preamble\r\n--B\r\n", b"--B--\r\n", 1)),
        ("no boundary", MULTIPART.replace(b"; boundary=B", b"")),
        (
            "base64 multipart",
            MULTIPART.replace(b"\r\n\r\npre", b"\r\nContent-Transfer-Encoding: base64\r\n\r\npre"),
        ),
        ("digest", MULTIPART.replace(b"multipart/mixed", b"multipart/digest")),
        ("two delimiters in a row", MULTIPART.replace(b"--B\r\n\r\ntwo", b"--B\r\n--B\r\n\r\ntwo")),
        ("no blank line after headers", b"From: a@example.com\r\nnot a header\r\nbody\r\n"),
        ("first line a continuation", b" folded\r\nFrom: a@example.com\r\n\r\nbody\r\n"),
        ("unix From line", b"From a@example.com Mon\r\nSubject: x\r\n\r\nbody\r\n"),
        ("empty field name", b"From: a@example.com\r\n: x\r\n\r\nbody\r\n"),
        (
            "delivery-status",
            b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
            b"Final-Recipient: rfc822; a@example.com\r\n",
        ),
    ],
)
def test_malformed_shapes_are_declined(label: str, raw: bytes) -> None:
    assert parse_well_formed(raw) is None, label
    standard(raw)  # and the standard parser still reads it


def test_size_and_depth_caps_decline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quickparse, "MAX_BYTES", len(MULTIPART) - 1)
    assert parse_well_formed(MULTIPART) is None
    monkeypatch.undo()
    nested = b"Subject: x\r\n\r\nbody\r\n"
    for _ in range(quickparse.MAX_DEPTH + 2):
        nested = b"Content-Type: message/rfc822\r\n\r\n" + nested
    assert parse_well_formed(nested) is None
    assert_same_or_declined(nested)
