"""``invitegw ingest`` and ``invitegw quarantine list|release``: the inbound pipeline by hand.

``ingest PATH...`` runs the inbound pipeline on .eml and .ics files, mbox files and
Maildir folders (directories are walked; files in them that are obviously not mail, a
README or a picture, are left out and stderr says which), exactly as the IMAP watchers
and the SMTP listener do: a message handled before is skipped, so running it twice is
harmless. ``--dry-run`` decides but writes nothing. Output: one line per event, or with
``--json`` one JSON object per line (JSON Lines) with the keys ``message_id, file, uid,
recurrence_id, method, outcome, task_id, reason, already_processed`` (true: handled by an
earlier run, nothing done now; ``outcome`` is then the earlier one). A summary goes to
stderr, counting apart what this run did and what was handled before, with a hint when
something was quarantined for a cause a person can fix (an unknown sender, no owner). On
a terminal, a progress bar on stderr moves with each message (its rate, the time left).
``--dry-run`` writes nothing, not even a new embedded database: without one it decides
against an empty one in a temporary folder.

``quarantine list`` shows the messages set aside, newest first (``--all`` includes the
released ones; ``--json`` one object per line with ``id, created_at, source, reference,
message_id, size, truncated, reason, released_at``). ``quarantine release ID`` runs the
pipeline again on the stored message once its cause is fixed (say, the forwarder was added
as a CRM user); the outcome is printed as for ``ingest``.

Exit codes: 0 when every input was read and handled (quarantining is handling), 1 when a
file could not be read or the CRM or database was unavailable (``ingest`` stops there:
run it again, what was handled is skipped).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from invitegw.errors import CrmUnavailableError, GatewayError, StorageError
from invitegw.gateway.commands.admin import register_quarantine_extras
from invitegw.gateway.commands.common import Subparsers, settings_for
from invitegw.gateway.commands.output import json_line, print_records, shorten

if TYPE_CHECKING:
    from invitegw.gateway.bootstrap import Gateway
    from invitegw.gateway.inbound.file_source import FileInput
    from invitegw.gateway.inbound.model import MessageResult, ReceivedMessage

__all__ = ["Tally", "event_records", "register"]

_REASON_WIDTH = 70


def register(subparsers: Subparsers) -> None:
    """Add ``ingest`` and ``quarantine list|release``."""
    ingest = subparsers.add_parser(
        "ingest",
        help="run the inbound pipeline on .eml/.ics files, mbox files and Maildir folders",
        description=(
            "Run the inbound pipeline on files, as the watchers do: invitations become CRM "
            "tasks, cancellations cancel them, replies are recorded. Messages handled "
            "before are skipped."
        ),
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="file or folder")
    ingest.add_argument("--dry-run", action="store_true", help="decide, but write nothing")
    ingest.add_argument("--json", action="store_true", help="one JSON object per event per line")
    ingest.add_argument(
        "--owner",
        metavar="EMAIL",
        help="the staff user owning tasks no forwarder claims (as a mailbox's owner does)",
    )
    ingest.set_defaults(func=_ingest)

    quarantine = subparsers.add_parser(
        "quarantine", help="messages set aside: list, show, release, discard"
    )
    commands = quarantine.add_subparsers(
        dest="quarantine_command", metavar="COMMAND", required=True
    )
    listing = commands.add_parser("list", help="list quarantined messages, newest first")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--all", action="store_true", help="include released messages")
    listing.add_argument(
        "--limit", type=int, default=100, metavar="N", help="at most N (default 100)"
    )
    listing.set_defaults(func=_list)
    release = commands.add_parser("release", help="process a quarantined message again")
    release.add_argument("id", type=int, metavar="ID", help="the quarantine id")
    release.add_argument("--json", action="store_true", help="one JSON object per line")
    release.add_argument(
        "--owner",
        metavar="EMAIL",
        help="the staff user owning tasks no forwarder claims (for a message that had none)",
    )
    release.set_defaults(func=_release)
    register_quarantine_extras(commands)


def event_records(result: MessageResult, file: str | None) -> list[dict[str, Any]]:
    """The JSON objects ``ingest --json`` prints for one message (one per event).

    Parameters:
        result: the pipeline's result.
        file: the file (or ``file#n`` for an mbox message) it came from.

    Returns:
        The objects.
    """
    return [
        {
            "message_id": result.message_id,
            "file": file,
            "uid": event.uid,
            "recurrence_id": event.recurrence_id,
            "method": event.method,
            "outcome": event.outcome.value,
            "task_id": event.task_id,
            "reason": event.reason,
            "already_processed": result.already_processed,
        }
        for event in result.events
    ]


def _for_terminal(value: object) -> str:
    """``value`` as one line safe for a terminal (see :mod:`.terminal`, imported when used)."""
    from invitegw.gateway.commands.terminal import for_terminal as escape

    return escape(value)


def _print_result(result: MessageResult, file: str | None, *, as_json: bool, out: TextIO) -> None:
    for record in event_records(result, file):
        if as_json:
            out.write(json_line(record))
            continue
        what = record["outcome"] + (" (handled before)" if result.already_processed else "")
        event = record["uid"] or "-"
        if record["recurrence_id"]:
            event += f" [{record['recurrence_id']}]"
        cells = [file or "-", record["method"] or "-", event, what]
        if record["task_id"]:
            cells.append(f"task {record['task_id']}")
        if record["reason"]:
            cells.append(" ".join(record["reason"].split()))
        out.write("  ".join(_for_terminal(c) for c in cells) + "\n")
    if result.already_processed and result.quarantine_id is not None and not as_json:
        out.write(
            f"  quarantined before as #{result.quarantine_id}: once the cause is fixed, "
            f"`invitegw quarantine release {result.quarantine_id}`\n"
        )
    out.flush()


def _owner(value: str | None) -> str | None:
    from invitegw.domain.addresses import normalize_address

    if value is None:
        return None
    try:
        return normalize_address(value)
    except GatewayError as exc:
        raise GatewayError(f"--owner: {exc}") from exc


class Tally:
    """What an ``ingest`` run did, counted for its summary line.

    Messages handled by an earlier run are counted apart (``handled_before``): their
    events carry the earlier outcome, but nothing was created or changed now.
    """

    def __init__(self) -> None:
        self.messages = 0
        self.handled_before = 0
        self.outcomes: Counter[str] = Counter()
        self.reasons: list[str] = []

    def add(self, result: MessageResult) -> None:
        """Count one message's result.

        Parameters:
            result: what the pipeline did with it.
        """
        self.messages += 1
        if result.already_processed:
            self.handled_before += 1
            return
        self.outcomes.update(e.outcome.value for e in result.events)
        if result.quarantined and result.reason:
            self.reasons.append(result.reason)

    def summary(self, *, dry_run: bool) -> str:
        """The summary line: ``7 messages read: 2 created, 1 quarantined; 4 handled before``.

        The outcomes count events; when this run's messages held more (or fewer) events
        than messages, the count of events is given too (``2 messages read, 3 events: ...``).

        Parameters:
            dry_run: the run decided only.

        Returns:
            The line.
        """
        head = f"{self.messages} {'message' if self.messages == 1 else 'messages'} read"
        events = sum(self.outcomes.values())
        if events and events != self.messages - self.handled_before:
            head += f", {events} events"
        parts = ", ".join(f"{count} {name}" for name, count in sorted(self.outcomes.items()))
        if dry_run:
            parts = f"{parts or 'nothing to do'} (dry run, nothing written)"
        if self.handled_before:
            before = f"{self.handled_before} handled before, skipped"
            parts = f"{parts}; {before}" if parts else before
        return f"{head}: {parts or 'nothing found'}"

    def hints(self) -> list[str]:
        """What a person can do about this run's quarantined messages, one line each."""
        if not self.reasons:
            return []
        lines = []
        if any(r.startswith("unknown sender") for r in self.reasons):
            lines.append(
                "an unknown sender: add them to the CRM (`invitegw crm contact add ADDRESS "
                '--name "..."`), then release the message'
            )
        no_owner = [r for r in self.reasons if r.startswith("no owner")]
        if no_owner and not all("--owner" in r for r in no_owner):
            lines.append(
                "no owner: name the staff user who owns such tasks with `--owner ADDRESS` "
                "(on `ingest`, or on `quarantine release`)"
            )
        lines.append(
            "`invitegw quarantine list` shows what was set aside; "
            "`invitegw quarantine release ID` runs it again once the cause is fixed"
        )
        return lines


def _ingest(args: argparse.Namespace) -> int:
    import dataclasses
    import tempfile

    from invitegw.gateway.bootstrap import build_gateway
    from invitegw.gateway.commands.common import database_exists
    from invitegw.gateway.inbound.file_source import collect_inputs

    owner = _owner(args.owner)
    skipped: list[Path] = []
    inputs = collect_inputs(args.paths, skipped=skipped)
    if skipped:
        listed = ", ".join(str(p) for p in skipped)
        print(f"invitegw: skipped, not mail or calendars: {_for_terminal(listed)}", file=sys.stderr)
    with contextlib.ExitStack() as scope:
        settings = settings_for(args)
        if args.dry_run and not database_exists(settings):
            # A dry run writes nothing: not even the embedded database in this folder.
            folder = Path(scope.enter_context(tempfile.TemporaryDirectory()))
            print(
                f"invitegw: dry run: there is no database at {settings.data_dir} yet; "
                "deciding against an empty one in a temporary folder (an empty CRM)",
                file=sys.stderr,
            )
            settings = dataclasses.replace(settings, data_dir=folder)
        gateway = build_gateway(settings)
        scope.callback(gateway.close)
        return _ingest_inputs(args, gateway, inputs, owner)


def _ingest_inputs(
    args: argparse.Namespace, gateway: Gateway, inputs: list[FileInput], owner: str | None
) -> int:
    from invitegw.gateway.bootstrap import file_source, inbound_pipeline
    from invitegw.gateway.commands.progress import IngestProgress

    tally = Tally()
    progress = IngestProgress(inputs, sys.stderr)

    def on_result(message: ReceivedMessage, result: MessageResult) -> None:
        tally.add(result)
        progress.message([e.outcome.value for e in result.events])
        _print_result(result, message.reference, as_json=args.json, out=sys.stdout)

    def on_error(exc: GatewayError) -> None:  # this file could not be read: go on
        progress.note(f"invitegw: {_for_terminal(exc)}")
        if not progress.enabled:
            print(f"invitegw: {_for_terminal(exc)}", file=sys.stderr)

    with progress:
        try:
            source = file_source(
                gateway,
                inputs,
                inbound_pipeline(gateway),
                owner=owner,
                dry_run=args.dry_run,
                on_result=on_result,
                on_error=on_error,
            )
            report = source.drain()
        except (CrmUnavailableError, StorageError) as exc:
            progress.note(f"invitegw: stopped after {tally.messages} messages")
            print(
                f"invitegw: stopped after {tally.messages} messages: {_for_terminal(exc)}; run "
                "it again when it is back (what was handled is skipped)",
                file=sys.stderr,
            )
            return 1
    print(tally.summary(dry_run=args.dry_run), file=sys.stderr)
    for hint in tally.hints():
        print(f"  hint: {hint}", file=sys.stderr)
    return 0 if report.ok else 1


def _list(args: argparse.Namespace) -> int:
    from invitegw.gateway.app.quarantine import list_quarantine
    from invitegw.gateway.bootstrap import build_gateway

    if args.limit < 1:
        raise GatewayError("--limit: expected a positive number")
    gateway = build_gateway(settings_for(args))
    try:
        entries = list_quarantine(gateway, include_released=args.all, limit=args.limit)
    finally:
        gateway.close()
    print_records(
        [entry.to_json() for entry in entries],
        as_json=args.json,
        empty="the quarantine is empty",
        headers=["ID", "CREATED", "SOURCE", "REFERENCE", "MESSAGE-ID", "REASON", "RELEASED"],
        row=lambda r: [
            r["id"],
            r["created_at"],
            r["source"],
            shorten(r["reference"], 40),
            shorten(r["message_id"], 40),
            shorten(r["reason"], _REASON_WIDTH),
            r["released_at"] or "",
        ],
    )
    return 0


def _release(args: argparse.Namespace) -> int:
    from invitegw.gateway.app.quarantine import release_quarantined
    from invitegw.gateway.bootstrap import build_gateway

    owner = _owner(args.owner)
    gateway = build_gateway(settings_for(args))
    try:
        result = release_quarantined(gateway, args.id, owner=owner)
    finally:
        gateway.close()
    _print_result(result, f"quarantine:{args.id}", as_json=args.json, out=sys.stdout)
    if result.quarantined:
        print(
            f"quarantine {args.id}: still set aside: {_for_terminal(result.reason)}",
            file=sys.stderr,
        )
    return 0
