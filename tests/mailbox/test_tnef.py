"""Calendar objects inside TNEF (winmail.dat), and hostile TNEF streams."""

from __future__ import annotations

import struct

import pytest
from tnefparse.tnef import TNEF

from invitegw.mailbox.mime import MimeLimits, PartOrigin, extract
from invitegw.mailbox.mime.tnef import read_tnef
from tests.mailbox.helpers import build_tnef, calendar, tnef_email, uids


def test_our_tnef_writer_produces_what_tnefparse_reads() -> None:
    stream = build_tnef([("INVITE~1.ICS", b"data")], long_names={0: "invite.ics"})
    parsed = TNEF(stream)
    assert [(a.long_filename(), a.data) for a in parsed.attachments] == [("invite.ics", b"data")]


def test_ics_inside_winmail_dat() -> None:
    stream = build_tnef(
        [("notes.txt", b"just notes"), ("INVITE~1.ICS", calendar("tnef-1@example.org"))],
        long_names={1: "Workshop invitation.ics"},
    )
    result = extract(tnef_email(stream))
    [part] = result.calendar_parts
    assert part.location == "2/winmail.dat/attachment-2"
    assert part.filename == "Workshop invitation.ics"
    assert part.origin is PartOrigin.TNEF
    assert part.encapsulated
    assert uids(part.data) == ["tnef-1@example.org"]
    assert result.defects == ()


def test_calendar_inside_tnef_found_by_content() -> None:
    stream = build_tnef([("ATT00001.DAT", calendar("tnef-2@example.org"))])
    [part] = extract(tnef_email(stream, filename="WINMAIL.DAT")).calendar_parts
    assert part.location == "2/WINMAIL.DAT/attachment-1"
    assert uids(part.data) == ["tnef-2@example.org"]


def test_tnef_without_calendar_yields_nothing_without_error() -> None:
    result = extract(tnef_email(build_tnef([("report.pdf", b"%PDF-1.4 not really")])))
    assert result.calendar_parts == ()
    assert result.defects == ()


def test_outlook_meeting_item_in_tnef_is_reported_not_converted() -> None:
    result = extract(tnef_email(build_tnef(message_class="IPM.Microsoft Schedule.MtgReq")))
    assert result.calendar_parts == ()
    assert any("Outlook meeting item" in d for d in result.defects)


@pytest.mark.parametrize(
    "stream",
    [
        b"",
        b"\x00\x01\x02",
        b"not tnef at all, just text",
        struct.pack("<IH", 0x223E9F78, 0) + b"\x02\x02\x90\x06\x00\xff\xff\xff\x7f",
    ],
)
def test_damaged_tnef_is_a_defect_not_an_error(stream: bytes) -> None:
    result = extract(tnef_email(stream))
    assert result.calendar_parts == ()
    assert any("TNEF" in d for d in result.defects), result.defects


@pytest.mark.timeout(60)
def test_hostile_mapi_counts_do_not_hang() -> None:
    # tnefparse 1.4 loops over 2**32 properties here (decode_mapi "continue"s past the end
    # of the data); the sanitiser must keep such blocks away from it.
    huge_count = struct.pack("<I", 0xFFFFFFFF)
    huge_multivalue = struct.pack("<IHHI", 1, 0x1002, 0x3701, 0xFFFFFFFF)
    stream = build_tnef(
        [("INVITE.ICS", calendar("tnef-3@example.org"))],
        extra_message_objects=[(0x9003, 0x0006, huge_count), (0x9004, 0x0006, huge_count)],
        extra_attachment_objects=[(0x9005, 0x0006, huge_multivalue)],
    )
    result = extract(tnef_email(stream))
    assert [uids(p.data) for p in result.calendar_parts] == [["tnef-3@example.org"]]
    assert any("malformed" in d for d in result.defects)


def test_read_tnef_keeps_message_class() -> None:
    notes: list[str] = []
    contents = read_tnef(build_tnef([("a.ics", b"x")]), notes, "2")
    assert contents.message_class == "IPM.Note"
    assert not contents.is_meeting
    assert [(a.number, a.filename, a.data) for a in contents.attachments] == [(1, "a.ics", b"x")]
    assert notes == []


def test_oversized_tnef_is_skipped_with_a_note() -> None:
    stream = build_tnef([("INVITE.ICS", calendar("big@example.org"))])
    result = extract(tnef_email(stream), limits=MimeLimits(max_tnef_bytes=64))
    assert result.calendar_parts == ()
    assert any("max_tnef_bytes=64" in d for d in result.defects)
