"""Every cap, and hostile inputs that must end quickly with our own error."""

from __future__ import annotations

import pytest

from invitegw.errors import ConfigError, IcsError, IcsLimitError
from invitegw.ics import IcsLimits, parse_calendars


def calendar(body: str) -> bytes:
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{body}END:VCALENDAR\r\n".encode()


def vevent(uid: str, extra: str = "") -> str:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:20260101T100000Z\r\n{extra}END:VEVENT\r\n"


@pytest.mark.parametrize(
    ("limits", "data", "cap"),
    [
        (IcsLimits(max_object_bytes=100), calendar(vevent("a")), "max_object_bytes"),
        (IcsLimits(max_lines=5), calendar(vevent("a")), "max_lines"),
        (
            IcsLimits(max_depth=3),
            calendar("BEGIN:VEVENT\r\nBEGIN:VALARM\r\nBEGIN:X\r\n"),
            "max_depth",
        ),
        (IcsLimits(max_components=2), calendar(vevent("a") + vevent("b")), "max_components"),
        (IcsLimits(max_events=1), calendar(vevent("a") + vevent("b")), "max_events"),
        (
            IcsLimits(max_attendees=2),
            calendar(
                vevent("a", "".join(f"ATTENDEE:mailto:p{i}@example.com\r\n" for i in range(3)))
            ),
            "max_attendees",
        ),
        (
            IcsLimits(max_recurrence_instances=3),
            calendar(vevent("a", "EXDATE:" + ",".join(["20260102T100000Z"] * 4) + "\r\n")),
            "max_recurrence_instances",
        ),
    ],
)
def test_each_cap(limits: IcsLimits, data: bytes, cap: str) -> None:
    with pytest.raises(IcsLimitError) as caught:
        parse_calendars(data, limits=limits)
    assert caught.value.limit == cap
    assert cap in str(caught.value)


def test_defaults_accept_the_same_data() -> None:
    data = calendar(vevent("a", "ATTENDEE:mailto:p@example.com\r\n") + vevent("b"))
    assert len(parse_calendars(data)[0].events) == 2


def test_str_input_is_capped_too() -> None:
    with pytest.raises(IcsLimitError):
        parse_calendars("x" * 101, limits=IcsLimits(max_object_bytes=100))


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_limits_must_be_positive_integers(bad: object) -> None:
    with pytest.raises(ConfigError, match="max_events"):
        IcsLimits(max_events=bad)  # type: ignore[arg-type]


def test_deep_nesting() -> None:
    data = ("BEGIN:VCALENDAR\r\n" + "BEGIN:VEVENT\r\n" * 100_000).encode()
    with pytest.raises(IcsLimitError, match="max_depth"):
        parse_calendars(data)


def test_millions_of_short_lines() -> None:
    data = b"BEGIN:VCALENDAR\r\n" + b"X:1\r\n" * 1_000_000
    with pytest.raises(IcsLimitError, match=r"max_lines|max_object_bytes"):
        parse_calendars(data)


def test_one_huge_line() -> None:
    data = calendar(vevent("a", "X-BIG;" + "A=b;" * 200_000 + "X=y:z\r\n"))
    calendars = parse_calendars(data)
    assert calendars[0].events[0].uid == "a"


def test_many_components_within_the_caps() -> None:
    data = calendar("".join(vevent(f"e{i}") for i in range(1500)))
    assert len(parse_calendars(data)[0].events) == 1500


def test_hostile_rrule_is_only_text_for_the_parser() -> None:
    data = calendar(vevent("a", "RRULE:FREQ=SECONDLY;COUNT=1000000000\r\n"))
    event = parse_calendars(data)[0].events[0]
    assert event.rrule == "FREQ=SECONDLY;COUNT=1000000000"


def test_every_error_is_ours() -> None:
    for data in (b"\xff\xfe\x00", b":::", b"\x00" * 50, b"END:VCALENDAR\r\n"):
        with pytest.raises(IcsError):
            parse_calendars(data)
    empty = parse_calendars(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR")[0]
    assert empty.events == ()
