"""Caps: whole-message caps refuse the message; per-part caps skip the part with a note."""

from __future__ import annotations

import pytest

from invitegw.errors import ConfigError, MimeLimitError
from invitegw.mailbox.mime import MimeLimits, extract
from tests.mailbox.helpers import calendar, load


def _nested(depth: int) -> bytes:
    head = [b"From: a@example.com\r\nSubject: deep\r\n"]
    for level in range(depth):
        head.append(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
        )
    head.append(b"Content-Type: text/plain\r\n\r\nbottom\r\n")
    for level in reversed(range(depth)):
        head.append(b"--b%d--\r\n" % level)
    return b"".join(head)


def _many_parts(count: int) -> bytes:
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart\r\n" for _ in range(count))
    return (
        b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + parts
        + b"--b--\r\n"
    )


def test_defaults_accept_real_messages() -> None:
    assert extract(load("gmail_inline_and_invite_ics.eml"), limits=MimeLimits()).calendar_parts


def test_message_size_cap() -> None:
    raw = load("outlook_multipart_base64.eml")
    with pytest.raises(MimeLimitError, match="max_message_bytes=1000"):
        extract(raw, limits=MimeLimits(max_message_bytes=1000))


def test_part_count_cap() -> None:
    extract(_many_parts(9), limits=MimeLimits(max_parts=10))
    with pytest.raises(MimeLimitError, match="max_parts=10"):
        extract(_many_parts(10), limits=MimeLimits(max_parts=10))


def test_nesting_cap() -> None:
    extract(_nested(5), limits=MimeLimits(max_depth=6))
    with pytest.raises(MimeLimitError, match="max_depth=4"):
        extract(_nested(5), limits=MimeLimits(max_depth=4))


def test_pathological_nesting_is_a_limit_error_not_a_crash() -> None:
    with pytest.raises(MimeLimitError):
        extract(_nested(3000))


def test_oversized_calendar_part_is_skipped_with_a_note() -> None:
    big = calendar("big@example.org", summary="x" * 5000)
    raw = (
        b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/calendar\r\n\r\n" + big + b"\r\n"
        b"--b\r\nContent-Type: text/calendar\r\n\r\n" + calendar("small@example.org") + b"\r\n"
        b"--b--\r\n"
    )
    result = extract(raw, limits=MimeLimits(max_calendar_bytes=2000))
    assert [p.location for p in result.calendar_parts] == ["2"]
    assert any("max_calendar_bytes=2000" in d and "part 1" in d for d in result.defects)


def test_calendar_part_count_cap() -> None:
    parts = b"".join(
        b"--b\r\nContent-Type: text/calendar\r\n\r\n" + calendar(f"n{i}@example.org") + b"\r\n"
        for i in range(5)
    )
    raw = b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    result = extract(raw + parts + b"--b--\r\n", limits=MimeLimits(max_calendar_parts=3))
    assert len(result.calendar_parts) == 3
    assert any("2 calendar object(s) skipped" in d for d in result.defects)


@pytest.mark.parametrize(
    "kwargs", [{"max_parts": 0}, {"max_depth": -1}, {"max_message_bytes": True}, {"max_parts": 1.5}]
)
def test_invalid_limits_are_a_config_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="MimeLimits"):
        MimeLimits(**kwargs)  # type: ignore[arg-type]
