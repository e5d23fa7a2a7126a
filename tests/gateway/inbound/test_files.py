"""Reading ``invitegw ingest`` inputs: .eml, .ics, mbox and Maildir, with the size cap."""

from __future__ import annotations

import mailbox
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

from invitegw.errors import GatewayError
from invitegw.gateway.inbound.file_source import (
    FileInput,
    FileSource,
    InputKind,
    collect_inputs,
    read_input,
    wrap_calendar,
)
from invitegw.gateway.inbound.model import (
    Envelope,
    EventResult,
    InboundOutcome,
    MessageResult,
    ReceivedMessage,
    SourcePosition,
)
from invitegw.gateway.inbound.source import MailSource
from invitegw.mailbox.mime.extract import extract

ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nMETHOD:REQUEST\r\n"
    b"BEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20261201T080000Z\r\nDTSTART:20261202T090000Z\r\n"
    b"DTEND:20261202T100000Z\r\nSUMMARY:Review\r\nORGANIZER:mailto:o@example.org\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _message(subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg["To"] = "b@example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject}@example.org>"
    msg.set_content("hello\nFrom the start of a line\n")
    return msg.as_bytes()


def test_kinds_by_suffix_and_content(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(_message("a"))
    (tmp_path / "b.ics").write_bytes(ICS)
    (tmp_path / "c.txt").write_bytes(b"\xef\xbb\xbf" + ICS)
    (tmp_path / "d").write_bytes(b"From x@y Mon Jan  1 00:00:00 2024\n" + _message("d"))
    (tmp_path / ".hidden.eml").write_bytes(_message("h"))
    found = collect_inputs([tmp_path])
    assert [(f.path.name, f.kind) for f in found] == [
        ("a.eml", InputKind.MESSAGE),
        ("b.ics", InputKind.CALENDAR),
        ("c.txt", InputKind.CALENDAR),
        ("d", InputKind.MBOX),
    ]


def test_a_path_given_twice_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "a.eml"
    path.write_bytes(_message("a"))
    assert len(collect_inputs([path, tmp_path, str(path)])) == 1


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GatewayError, match="no such file or folder"):
        collect_inputs([tmp_path / "nope.eml"])


def test_calendar_file_is_wrapped_into_a_message_the_extractor_reads(tmp_path: Path) -> None:
    path = tmp_path / 'we"ird.ics'
    path.write_bytes(ICS)
    [item] = collect_inputs([path])
    [message] = list(read_input(item, max_bytes=1 << 20, owner="staff@example.com"))
    assert message.source == "file"
    assert message.reference == str(path)
    assert message.owner == "staff@example.com"
    found = extract(message.raw)
    assert len(found.calendar_parts) == 1
    assert b"UID:u1" in found.calendar_parts[0].data
    assert found.headers.from_ is None


def test_wrap_keeps_header_injection_out() -> None:
    raw = wrap_calendar(ICS, name="x\r\nBcc: evil@example.org.ics")
    header = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in header


def test_mbox_yields_each_message_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "box.mbox"
    box = mailbox.mbox(path)
    for subject in ("one", "two", "three"):
        box.add(_message(subject))
    box.close()
    [item] = collect_inputs([path])
    messages = list(read_input(item, max_bytes=1 << 20))
    assert [m.reference for m in messages] == [f"{path}#{i}" for i in (1, 2, 3)]
    assert [extract(m.raw).headers.subject for m in messages] == ["one", "two", "three"]


def test_maildir_reads_new_then_cur(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "md")
    box.add(_message("first"))
    box.close()
    [item] = collect_inputs([tmp_path])
    assert item.kind is InputKind.MAILDIR
    messages = list(read_input(item, max_bytes=1 << 20))
    assert [extract(m.raw).headers.subject for m in messages] == ["first"]


def test_oversized_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.eml"
    path.write_bytes(_message("big") + b"x" * 200_000)
    [item] = collect_inputs([path])
    [message] = list(read_input(item, max_bytes=100_000))
    assert message.oversized
    assert message.size == path.stat().st_size
    assert len(message.raw) < path.stat().st_size


# -- the files as a mail source -------------------------------------------------------------------


class _Recording:
    """A FAKE pipeline (test-only): records what it is handed, answers ``ignored``."""

    def __init__(self) -> None:
        self.seen: list[tuple[ReceivedMessage, bool]] = []

    def handle(self, message: ReceivedMessage, *, dry_run: bool = False) -> MessageResult:
        self.seen.append((message, dry_run))
        return MessageResult(None, (EventResult(InboundOutcome.IGNORED),))


def test_the_file_source_hands_every_message_over_and_reports_unreadable_inputs(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.eml").write_bytes(_message("a"))
    (tmp_path / "b.ics").write_bytes(ICS)
    inputs = collect_inputs([tmp_path])
    inputs.insert(1, FileInput(tmp_path / "gone.eml", InputKind.MESSAGE))  # removed since
    pipeline = _Recording()
    results: list[str | None] = []
    errors: list[str] = []
    done: list[int] = []
    source: MailSource = FileSource(
        inputs,
        pipeline,
        max_bytes=1 << 20,
        owner="sam@example.com",
        dry_run=True,
        on_result=lambda message, _result: results.append(message.reference),
        on_error=lambda exc: errors.append(str(exc)),
        on_input=done.append,
    )
    report = source.drain()

    assert source.name == "file"
    assert not report.ok
    assert str(report) == "2 messages from 3 inputs, 1 unreadable"
    assert results == [str(tmp_path / "a.eml"), str(tmp_path / "b.ics")]
    assert [e.startswith(f"{tmp_path / 'gone.eml'}: cannot read") for e in errors] == [True]
    assert done == [1, 2, 3]
    for message, dry_run in pipeline.seen:
        assert dry_run
        assert (message.source, message.owner) == ("file", "sam@example.com")
        assert message.position is None
        assert message.envelope == Envelope()


def test_a_stop_ends_the_file_source_between_inputs(tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(_message("a"))
    (tmp_path / "b.eml").write_bytes(_message("b"))
    stop = threading.Event()
    pipeline = _Recording()
    source = FileSource(
        collect_inputs([tmp_path]),
        pipeline,
        max_bytes=1 << 20,
        on_result=lambda _m, _r: stop.set(),
    )
    assert str(source.drain(stop)) == "1 messages from 1 inputs"
    assert len(pipeline.seen) == 1


def test_an_opaque_source_key_is_a_stable_position_that_fits_a_bigint() -> None:
    one = SourcePosition.from_key("AAMkAGI2TG93AAA=")
    assert one == SourcePosition.from_key("AAMkAGI2TG93AAA=")
    assert one != SourcePosition.from_key("AAMkAGI2TG93AAB=")
    assert one.epoch == 0
    assert 0 <= one.number < 2**63


def test_a_walked_folder_leaves_out_what_is_obviously_not_mail(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Examples\n\nInvitations: see below.\n")
    (tmp_path / "settings.json").write_text('{"from": "a@example.org"}\n')
    (tmp_path / "notes").write_text("just some notes, no header\n")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (tmp_path / "saved").write_bytes(_message("saved"))  # a header, no suffix: mail
    (tmp_path / "broken.eml").write_bytes(b"not really mail")  # the suffix says mail
    skipped: list[Path] = []
    found = collect_inputs([tmp_path], skipped=skipped)
    assert [f.path.name for f in found] == ["broken.eml", "saved"]
    assert sorted(p.name for p in skipped) == ["README.md", "notes", "picture.png", "settings.json"]
    # Named one by one, every file is read (and the pipeline says why it is not mail).
    [named] = collect_inputs([tmp_path / "README.md"], skipped=skipped)
    assert named.kind is InputKind.MESSAGE
