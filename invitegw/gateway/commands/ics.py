"""``invitegw ics inspect PATH... [--json]``: what is in an invitation.

For each .eml or .ics file (``-`` reads standard input), every calendar object found and
every event in it: readable by default, or with ``--json`` one JSON object per event per
line (JSON Lines). A folder is walked (as ``ingest`` walks it: mbox files and Maildir
folders message by message); files in it that are obviously not mail or calendars (a
README, a picture) are left out, and stderr says which. A file named on the command line
is always read. Exit code 0 when every file parsed, 1 when some file had an error (each
one named on stderr with the reason), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from invitegw.gateway.commands.common import Subparsers
from invitegw.gateway.commands.output import json_line

if TYPE_CHECKING:
    from invitegw.gateway.inspection import Inspection
    from invitegw.ics import CalendarObject, Event

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    """Add ``ics inspect``."""
    ics = subparsers.add_parser("ics", help="iCalendar tools")
    commands = ics.add_subparsers(dest="ics_command", metavar="COMMAND", required=True)
    inspect = commands.add_parser(
        "inspect",
        help="show every calendar object in .eml/.ics files",
        description="Show every calendar object (and every event in it) found in each file.",
    )
    inspect.add_argument(
        "files", nargs="+", metavar="PATH", help=".eml or .ics file, a folder, or - (stdin)"
    )
    inspect.add_argument("--json", action="store_true", help="one JSON object per event")
    inspect.set_defaults(func=_inspect)


def _read(name: str, cap: int) -> bytes:
    if name == "-":
        data = sys.stdin.buffer.read(cap + 1)
    else:
        with Path(name).open("rb") as handle:
            data = handle.read(cap + 1)
    if len(data) > cap:
        raise ValueError(f"larger than {cap} bytes")
    return data


def _warn(text: str) -> None:
    """One line on stderr, made safe for a terminal (file names and errors are the sender's)."""
    from invitegw.gateway.commands.terminal import for_terminal

    print(for_terminal(text), file=sys.stderr)


def _sources(names: list[str], cap: int) -> Iterator[tuple[str, bytes | None]]:
    """(name, bytes) of each file to inspect; bytes None when it could not be read."""
    from invitegw.errors import GatewayError
    from invitegw.gateway.inbound.file_source import InputKind, collect_inputs, read_input

    for name in names:
        if name == "-" or not Path(name).is_dir():
            try:
                yield name, _read(name, cap)
            except (OSError, ValueError) as exc:
                _warn(f"{name}: cannot read: {exc}")
                yield name, None
            continue
        skipped: list[Path] = []
        try:
            inputs = collect_inputs([name], skipped=skipped)
        except GatewayError as exc:
            _warn(f"{name}: {exc}")
            yield name, None
            continue
        if skipped:
            listed = ", ".join(str(p) for p in skipped)
            _warn(f"{name}: skipped, not mail or calendars: {listed}")
        for item in inputs:
            if item.kind in (InputKind.MBOX, InputKind.MAILDIR):
                try:
                    for message in read_input(item, max_bytes=cap):
                        if message.oversized:
                            _warn(f"{message.reference}: larger than {cap} bytes")
                            yield message.reference or str(item.path), None
                        else:
                            yield message.reference or str(item.path), message.raw
                except GatewayError as exc:
                    _warn(f"{item.path}: {exc}")
                    yield str(item.path), None
            else:
                yield from _sources([str(item.path)], cap)


def _inspect(args: argparse.Namespace) -> int:
    from invitegw.gateway.commands.terminal import terminal_stream
    from invitegw.gateway.inspection import inspect_bytes
    from invitegw.mailbox.mime import MimeLimits

    limits = MimeLimits()
    failed = False
    for name, data in _sources(args.files, limits.max_message_bytes):
        if data is None:
            failed = True
            continue
        inspection = inspect_bytes(name, data, mime_limits=limits)
        if args.json:
            _print_json(inspection, sys.stdout)
        else:
            _print_readable(inspection, terminal_stream(sys.stdout))
        sys.stdout.flush()
        for problem in _problems(inspection):
            _warn(f"{name}: {problem}")
        failed = failed or not inspection.ok
    return 1 if failed else 0


def _problems(inspection: Inspection) -> list[str]:
    problems = [f"{obj.part}: {obj.error}" for obj in inspection.objects if obj.error]
    if inspection.error:
        problems.insert(0, inspection.error)
    if not problems and not inspection.ok:  # never exit 1 without saying why
        problems.append("no calendar object found")
    return problems


def _print_json(inspection: Inspection, out: TextIO) -> None:
    from invitegw.gateway.inspection import event_record

    for obj in inspection.objects:
        if obj.calendar is None:
            continue
        for event in obj.calendar.events:
            record = event_record(inspection.name, obj.part, obj.calendar, event)
            out.write(json_line(record))


def _when(event: Event) -> str:
    if not event.start_given:
        return "(no start given)"
    end = f" – {event.end.isoformat()}" if event.end is not None else ""
    text = f"{event.start.isoformat()}{end}"
    if event.all_day:
        return f"{text} (all day)"
    if event.floating:
        return f"{text} (floating: the reader's own local time)"
    start_utc, end_utc = event.start_utc, event.end_utc
    assert start_utc is not None
    utc = start_utc.strftime("%Y-%m-%d %H:%M")
    if end_utc is not None:
        utc += end_utc.strftime(" – %Y-%m-%d %H:%M")
    return f"{text} = {utc} UTC"


def _print_event(event: Event, out: TextIO) -> None:
    out.write(f"    event {event.summary or '(no summary)'!r}\n")
    out.write(f"      uid: {event.uid}\n")
    if event.recurrence_id is not None:
        out.write(f"      recurrence-id: {event.recurrence_id.isoformat()}\n")
    stamp = event.dtstamp.isoformat() if event.dtstamp else "-"
    out.write(f"      sequence: {event.sequence}   dtstamp: {stamp}\n")
    out.write(f"      when: {_when(event)}\n")
    if event.original_tzid or event.tzid:
        resolved = event.tzid or "(the sender's own VTIMEZONE definition)"
        out.write(f"      zone: {event.original_tzid or event.tzid} -> {resolved}\n")
    if event.rrule:
        out.write(f"      repeats: {event.rrule}\n")
    if event.status:
        out.write(f"      status: {event.status.value}\n")
    if event.location:
        out.write(f"      location: {event.location}\n")
    if event.organizer:
        cn = f" ({event.organizer.cn})" if event.organizer.cn else ""
        out.write(f"      organizer: {event.organizer.email or '(no address)'}{cn}\n")
    for attendee in event.attendees:
        cn = f" ({attendee.cn})" if attendee.cn else ""
        out.write(
            f"      attendee: {attendee.email}{cn} {attendee.role.value} "
            f"{attendee.partstat.value}\n"
        )


def _print_calendar(part: str, calendar: CalendarObject, out: TextIO) -> None:
    source = (
        ""
        if calendar.method_source.value == "calendar"
        else f" (from {calendar.method_source.value})"
    )
    out.write(f"  calendar object at {part}: METHOD {calendar.method.value}{source}\n")
    out.write(f"    producer: {calendar.producer or '(none)'}\n")
    for warning in calendar.warnings:
        out.write(f"    note: {warning}\n")
    if calendar.other_components:
        out.write(f"    also holds: {', '.join(calendar.other_components)}\n")
    for event in calendar.events:
        _print_event(event, out)


def _print_readable(inspection: Inspection, out: TextIO) -> None:
    out.write(f"{inspection.name}\n")
    found = inspection.extraction
    if found is not None:
        headers = found.headers
        sender = headers.from_.address if headers.from_ else "(unknown)"
        out.write(f"  from: {sender}   subject: {headers.subject or '(none)'}\n")
        if found.is_forward and found.forwarder is not None:
            original = found.original_sender.address if found.original_sender else "unknown"
            out.write(f"  forwarded by {found.forwarder.address}; originally from {original}\n")
    for note in inspection.notes:
        out.write(f"  note: {note}\n")
    for obj in inspection.objects:
        if obj.calendar is None:
            out.write(f"  calendar object at {obj.part}: ERROR {obj.error}\n")
        else:
            _print_calendar(obj.part, obj.calendar, out)
    if inspection.error:
        out.write(f"  ERROR {inspection.error}\n")
