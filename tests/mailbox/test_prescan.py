"""Whole-message caps decided on the raw bytes, before the standard library parses them.

A refusal "counted before parsing" proves the parse never ran; what passes the raw count is
still checked exactly by the walk. What must not be refused: bodies full of lines starting
with ``--`` (signatures, rules, diffs), base64 attachments as large as the size cap.
"""

from __future__ import annotations

import base64

import pytest

from invitegw.errors import MimeLimitError
from invitegw.mailbox.mime import MimeLimits, extract
from invitegw.mailbox.mime.prescan import prescan
from tests.hostile_messages import HOSTILE, MIB, empty_parts
from tests.mailbox.helpers import calendar

_HEAD = b"From: a@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"


def _parts(
    count: int, boundary: bytes = b"b", eol: bytes = b"\r\n", declare: bytes | None = None
) -> bytes:
    declared = declare if declare is not None else b'boundary="' + boundary + b'"'
    head = _HEAD.replace(b"\r\n", eol) + b"Content-Type: multipart/mixed; " + declared + eol + eol
    part = b"--" + boundary + eol + b"Content-Type: text/plain" + eol + eol + b"x" + eol
    return head + part * count + b"--" + boundary + b"--" + eol


@pytest.mark.parametrize(
    "name", ["empty parts", "100,000 parts", "header fields", "body lines", "nested message/rfc822"]
)
def test_a_hostile_message_is_refused_before_parsing(name: str) -> None:
    raw = HOSTILE[name](25 * MIB - 1)
    with pytest.raises(MimeLimitError, match="counted before parsing"):
        extract(raw)


def test_the_part_count_is_exact_enough_at_the_cap() -> None:
    limits = MimeLimits(max_parts=50)
    assert extract(_parts(49), limits=limits)  # 1 + 49 parts: at the cap
    with pytest.raises(MimeLimitError, match="max_parts=50"):
        prescan(_parts(60), limits)


@pytest.mark.parametrize("eol", [b"\r\n", b"\n", b"\r"])
def test_every_line_ending_is_counted(eol: bytes) -> None:
    with pytest.raises(MimeLimitError, match="counted before parsing"):
        prescan(_parts(600, eol=eol), MimeLimits())
    with pytest.raises(MimeLimitError, match="max_lines=1000"):
        prescan(b"Subject: x" + eol * 2 + eol * 1500, MimeLimits(max_lines=1000))


def test_an_rfc2231_boundary_is_counted_and_a_continued_one_assumed_the_worst() -> None:
    declared = b"boundary*=utf-8''b"
    with pytest.raises(MimeLimitError, match="counted before parsing"):
        prescan(_parts(600, declare=declared), MimeLimits())
    continued = b'boundary*0="b"'
    with pytest.raises(MimeLimitError, match="counted before parsing"):
        prescan(_parts(600, declare=continued), MimeLimits())


def test_lines_starting_with_dashes_in_a_body_are_not_parts() -> None:
    body = b"-- \r\nsignature\r\n" * 400 + b"--- a/file\r\n+++ b/file\r\n" * 400
    raw = _HEAD + b"Content-Type: text/plain\r\n\r\n" + body
    extract(raw)  # no MimeLimitError
    inner = _parts(3) + b"--b\r\nContent-Type: text/plain\r\n\r\n" + body + b"--b--\r\n"
    extract(inner)


def test_a_large_base64_attachment_under_the_size_cap_passes() -> None:
    data = base64.encodebytes(bytes(range(256)) * (18 * MIB // 256)).replace(b"\n", b"\r\n")
    raw = (
        _HEAD
        + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        + b"Content-Type: text/calendar; method=REQUEST\r\n\r\n"
        + calendar("big@example.com")
        + b"\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + data
        + b"--b--\r\n"
    )
    assert len(raw) < 25 * MIB
    assert len(extract(raw).calendar_parts) == 1


def test_a_hundred_thousand_parts_are_refused_with_the_count() -> None:
    with pytest.raises(MimeLimitError, match=r"at least 100001"):
        prescan(empty_parts(100_000), MimeLimits())
