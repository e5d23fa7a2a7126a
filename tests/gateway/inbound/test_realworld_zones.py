"""Real invitations, inbound: TZIDs as producers write them, end to end to the task's time.

Vendor-prefixed IANA names (Evolution's ``/freeassociation.sourceforge.net/Tzfile/...``)
and Outlook display names become tasks at the instant meant; a VTIMEZONE that disagrees
with the IANA zone of its name loses to the zone (a producer's stale copy) and the
disagreement is a warning on the task's log; a name that is no zone's (a custom label) is
read by the message's own VTIMEZONE, as :rfc:`5545` says. The VTIMEZONEs are written here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from invitegw.domain.records import LogLevel
from invitegw.gateway.storage import Store
from tests.gateway.inbound.builders import calendar, invitation, vevent
from tests.gateway.inbound.harness import InboundHarness


@pytest.fixture
def gw(store: Store, tmp_path: Path) -> InboundHarness:
    return InboundHarness(store, tmp_path)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


# Central European time as Outlook writes it (the TZID's commas escaped, as TEXT).
CET_RULES = [
    "BEGIN:STANDARD",
    "DTSTART:16010101T030000",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
    "END:STANDARD",
    "BEGIN:DAYLIGHT",
    "DTSTART:16010101T020000",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
    "END:DAYLIGHT",
]


def vtimezone(tzid: str, *rules: str) -> str:
    return "\r\n".join(["BEGIN:VTIMEZONE", f"TZID:{tzid}", *(rules or CET_RULES), "END:VTIMEZONE"])


def fixed(offset: str) -> tuple[str, ...]:
    """A VTIMEZONE body with one offset all year (no daylight saving)."""
    return (
        "BEGIN:STANDARD",
        "DTSTART:19700101T000000",
        f"TZOFFSETFROM:{offset}",
        f"TZOFFSETTO:{offset}",
        "END:STANDARD",
    )


def at(tzid: str, *components: str, sequence: int = 0, uid: str = "tz-1@partner.example") -> bytes:
    """A REQUEST for 10 June 2026, 09:00-10:00 wall clock in ``tzid``."""
    event = vevent(
        uid=uid,
        sequence=sequence,
        start=f"DTSTART;TZID={tzid}:20260610T090000",
        end=f"DTEND;TZID={tzid}:20260610T100000",
    )
    return invitation(calendar("REQUEST", *components, event))


def zone_logs(gw: InboundHarness, task_id: str | None) -> list[tuple[LogLevel, str]]:
    return [
        (log.level, log.message)
        for log in gw.crm_logs()
        if log.target_id == task_id and log.message.startswith("Time zone: ")
    ]


@pytest.mark.parametrize(
    "message",
    [
        at("/freeassociation.sourceforge.net/Tzfile/Europe/Berlin"),
        at(
            "/freeassociation.sourceforge.net/Tzfile/Europe/Berlin",
            vtimezone("/freeassociation.sourceforge.net/Tzfile/Europe/Berlin"),
        ),
        at('"Brussels, Copenhagen, Madrid, Paris"'),
        at(
            '"Brussels, Copenhagen, Madrid, Paris"',
            vtimezone(r"Brussels\, Copenhagen\, Madrid\, Paris"),
        ),
    ],
    ids=[
        "evolution-prefix",
        "evolution-prefix-vtimezone",
        "outlook-name",
        "outlook-name-vtimezone",
    ],
)
def test_vendor_prefixes_and_outlook_names_make_the_task_at_the_instant_meant(
    gw: InboundHarness, message: bytes
) -> None:
    result = gw.handle(message)

    assert [e.outcome.value for e in result.events] == ["created"]
    task = gw.task(result.events[0].task_id)
    assert task.start == utc("2026-06-10T07:00")  # CEST, UTC+2
    assert task.end == utc("2026-06-10T08:00")
    assert [level for level, _ in zone_logs(gw, task.id)] in ([], [LogLevel.INFO])


def test_a_stale_vtimezone_loses_to_the_iana_zone_and_the_task_log_says_so(
    gw: InboundHarness,
) -> None:
    # A copy without daylight saving (UTC+1 all year) under the IANA name.
    result = gw.handle(at("Europe/Berlin", vtimezone("Europe/Berlin", *fixed("+0100"))))

    task_id = result.events[0].task_id
    assert gw.task(task_id).start == utc("2026-06-10T07:00")  # the IANA zone: UTC+2
    [(level, text)] = zone_logs(gw, task_id)
    assert level is LogLevel.WARNING
    assert "its VTIMEZONE disagrees with the IANA zone Europe/Berlin" in text
    assert "UTC+01:00 against UTC+02:00" in text
    assert text.endswith("the IANA zone is used")


def test_a_custom_name_is_read_by_the_messages_vtimezone(gw: InboundHarness) -> None:
    # Not an IANA nor a Windows name: RFC 5545, the VTIMEZONE decides (UTC+05:45).
    result = gw.handle(at('"Company HQ"', vtimezone("Company HQ", *fixed("+0545"))))

    task = gw.task(result.events[0].task_id)
    assert task.start == utc("2026-06-10T03:15")
    assert task.end == utc("2026-06-10T04:15")
    assert zone_logs(gw, task.id) == []


def test_a_guessed_name_that_disagrees_yields_to_the_vtimezone_with_a_warning(
    gw: InboundHarness,
) -> None:
    # "Berlin, Paris office" suggests Europe/Berlin, but the sender's VTIMEZONE is UTC-5.
    office = vtimezone("Berlin, Paris office", *fixed("-0500"))
    result = gw.handle(at('"Berlin, Paris office"', office))

    task_id = result.events[0].task_id
    assert gw.task(task_id).start == utc("2026-06-10T14:00")
    [(level, text)] = zone_logs(gw, task_id)
    assert level is LogLevel.WARNING
    assert text.endswith("the VTIMEZONE is used")


def test_a_zone_guessed_without_vtimezone_is_noted(gw: InboundHarness) -> None:
    result = gw.handle(at('"Western/Central Europe"'))

    task_id = result.events[0].task_id
    assert gw.task(task_id).start == utc("2026-06-10T07:00")
    [(level, text)] = zone_logs(gw, task_id)
    assert level is LogLevel.INFO
    assert "has no VTIMEZONE; read as Europe/Berlin" in text


def test_an_update_in_a_disagreeing_zone_is_noted_too(gw: InboundHarness) -> None:
    created = gw.handle(at("Europe/Berlin"))
    moved = gw.handle(
        invitation(
            calendar(
                "REQUEST",
                vtimezone("Europe/Berlin", *fixed("+0100")),
                vevent(
                    uid="tz-1@partner.example",
                    sequence=1,
                    start="DTSTART;TZID=Europe/Berlin:20260611T090000",
                    end="DTEND;TZID=Europe/Berlin:20260611T100000",
                ),
            )
        )
    )

    task_id = created.events[0].task_id
    assert [e.outcome.value for e in moved.events] == ["updated"]
    assert gw.task(task_id).start == utc("2026-06-11T07:00")
    assert [level for level, _ in zone_logs(gw, task_id)] == [LogLevel.WARNING]
