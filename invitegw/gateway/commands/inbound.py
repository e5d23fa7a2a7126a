"""``invitegw ingest`` and ``invitegw quarantine list|release``: the inbound pipeline by hand.

``ingest PATH...`` runs the inbound pipeline on .eml and .ics files, mbox files and
Maildir folders (directories are walked), exactly as the IMAP watchers and the SMTP
listener do: a message handled before is skipped, so running it twice is harmless.
``--dry-run`` decides but writes nothing. Output: one line per event, or with ``--json``
one JSON object per line (JSON Lines) with the keys ``message_id, file, uid,
recurrence_id, method, outcome, task_id, reason`` (and ``already_processed``); a summary
of the outcomes goes to stderr. On a terminal, a progress bar on stderr moves with each
message (its rate and the time left). ``--dry-run`` writes nothing, not even a new
embedded database: without one it decides against an empty database in a temporary folder.

``quarantine list`` shows the messages set aside, newest first (``--all`` includes the
released ones; ``--json`` an array of ``id, created_at, source, reference, message_id,
size, truncated, reason, released_at``). ``quarantine release ID`` runs the pipeline again
on the stored message once its cause is fixed (say, the forwarder was added as a CRM
user); the outcome is printed as for ``ingest``.

Exit codes: 0 when every input was read and handled (quarantining is handling), 1 when a
file could not be read or the CRM or database was unavailable (``ingest`` stops there:
run it again, what was handled is skipped).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from invitegw.domain.addresses import normalize_address
from invitegw.errors import CrmUnavailableError, GatewayError, StorageError
from invitegw.gateway.bootstrap import Gateway, build_gateway, file_source, inbound_pipeline
from invitegw.gateway.commands.common import database_exists, settings_for
from invitegw.gateway.commands.crm_output import iso_utc, print_records
from invitegw.gateway.commands.progress import IngestProgress
from invitegw.gateway.commands.terminal import for_terminal
from invitegw.gateway.inbound.file_source import FileInput, collect_inputs
from invitegw.gateway.inbound.model import MessageResult, ReceivedMessage
from invitegw.gateway.storage import QuarantinedMessage

__all__ = ["event_records", "quarantine_record", "register"]

_REASON_WIDTH = 70


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    ingest.add_argument("--json", action="store_true", help="one JSON object per line")
    ingest.add_argument(
        "--owner",
        metavar="EMAIL",
        help="the staff user owning tasks no forwarder claims (as a mailbox's owner does)",
    )
    ingest.set_defaults(func=_ingest)

    quarantine = subparsers.add_parser("quarantine", help="messages set aside: list, release")
    commands = quarantine.add_subparsers(
        dest="quarantine_command", metavar="COMMAND", required=True
    )
    listing = commands.add_parser("list", help="list quarantined messages, newest first")
    listing.add_argument("--json", action="store_true", help="print JSON")
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


def quarantine_record(row: QuarantinedMessage) -> dict[str, Any]:
    """The JSON object of one quarantined message (see the module docstring)."""
    return {
        "id": row.id,
        "created_at": iso_utc(row.created_at),
        "source": row.source,
        "reference": row.reference,
        "message_id": row.message_id,
        "size": row.size,
        "truncated": row.truncated,
        "reason": row.reason,
        "released_at": iso_utc(row.released_at),
    }


def _short(text: str | None, width: int = _REASON_WIDTH) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _print_result(result: MessageResult, file: str | None, *, as_json: bool, out: TextIO) -> None:
    for record in event_records(result, file):
        if as_json:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
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
        out.write("  ".join(for_terminal(c) for c in cells) + "\n")
    if result.already_processed and result.quarantine_id is not None and not as_json:
        out.write(
            f"  quarantined before as #{result.quarantine_id}: once the cause is fixed, "
            f"`invitegw quarantine release {result.quarantine_id}`\n"
        )
    out.flush()


def _owner(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalize_address(value)
    except GatewayError as exc:
        raise GatewayError(f"--owner: {exc}") from exc


def _ingest(args: argparse.Namespace) -> int:
    owner = _owner(args.owner)
    inputs = collect_inputs(args.paths)
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
    outcomes: Counter[str] = Counter()
    messages = 0
    progress = IngestProgress(inputs, sys.stderr)

    def on_result(message: ReceivedMessage, result: MessageResult) -> None:
        nonlocal messages
        messages += 1
        events = [e.outcome.value for e in result.events]
        outcomes.update(events)
        progress.message(events)
        _print_result(result, message.reference, as_json=args.json, out=sys.stdout)

    def on_error(exc: GatewayError) -> None:  # this file could not be read: go on
        progress.note(f"invitegw: {for_terminal(exc)}")
        if not progress.enabled:
            print(f"invitegw: {for_terminal(exc)}", file=sys.stderr)

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
            progress.note(f"invitegw: stopped after {messages} messages")
            print(
                f"invitegw: stopped after {messages} messages: {for_terminal(exc)}; run it "
                "again when it is back (what was handled is skipped)",
                file=sys.stderr,
            )
            return 1
    summary = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
    verb = "decided (dry run, nothing written)" if args.dry_run else "handled"
    noun = "message" if messages == 1 else "messages"
    print(f"{messages} {noun} {verb}: {summary or 'nothing'}", file=sys.stderr)
    return 0 if report.ok else 1


def _list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise GatewayError("--limit: expected a positive number")
    gateway = build_gateway(settings_for(args))
    try:
        with gateway.store.session() as session:
            query = select(QuarantinedMessage).order_by(QuarantinedMessage.id.desc())
            if not args.all:
                query = query.where(QuarantinedMessage.released_at.is_(None))
            records = [quarantine_record(row) for row in session.scalars(query.limit(args.limit))]
    finally:
        gateway.close()
    print_records(
        records,
        as_json=args.json,
        empty="the quarantine is empty",
        headers=["ID", "CREATED", "SOURCE", "REFERENCE", "MESSAGE-ID", "REASON", "RELEASED"],
        row=lambda r: [
            r["id"],
            r["created_at"],
            r["source"],
            _short(r["reference"], 40),
            _short(r["message_id"], 40),
            _short(r["reason"]),
            r["released_at"] or "",
        ],
    )
    return 0


def _release(args: argparse.Namespace) -> int:
    owner = _owner(args.owner)
    gateway: Gateway = build_gateway(settings_for(args))
    try:
        result = inbound_pipeline(gateway).release(args.id, owner=owner)
    finally:
        gateway.close()
    _print_result(result, f"quarantine:{args.id}", as_json=args.json, out=sys.stdout)
    if result.quarantined:
        print(
            f"quarantine {args.id}: still set aside: {for_terminal(result.reason)}",
            file=sys.stderr,
        )
    return 0
