"""``invitegw admin hash-password``, ``quarantine show|discard`` and ``outbox history``.

- ``admin hash-password`` prints a scrypt hash of a password for
  ``INVITEGW_ADMIN__PASSWORD_HASH`` (the web console's sign-in). On a terminal it asks
  twice without echo; otherwise it reads one line from stdin. The password is never an
  argument (it would stay in the shell's history and the process list).
- ``quarantine show ID``: a quarantined message as the console shows it: reason, headers,
  the plain text (never an HTML part), the calendar events found (``--json``: one object).
- ``quarantine discard ID --yes``: delete it for good; the event log keeps an audit entry
  naming who (``cli:<login>``) and why it had been set aside.
- ``outbox history --meeting ID`` / ``--message MESSAGE-ID``: what each attendee got, when
  and with which SEQUENCE, their answers and the log; or what became of one message.

The console calls the same functions of :mod:`invitegw.gateway.app`.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from invitegw.errors import GatewayError
from invitegw.gateway.commands.common import Subparsers, settings_for

__all__ = ["register", "register_outbox_history", "register_quarantine_extras"]


def register(subparsers: Subparsers) -> None:
    """Add ``admin hash-password``."""
    admin = subparsers.add_parser("admin", help="the web console: hash a password")
    commands = admin.add_subparsers(dest="admin_command", metavar="COMMAND", required=True)
    hashing = commands.add_parser(
        "hash-password", help="print a password hash for INVITEGW_ADMIN__PASSWORD_HASH"
    )
    hashing.set_defaults(func=_hash_password)


def register_quarantine_extras(commands: Any) -> None:
    """Add ``quarantine show`` and ``quarantine discard`` to the quarantine group."""
    show = commands.add_parser("show", help="a quarantined message: reason, headers, events")
    show.add_argument("id", type=int, metavar="ID", help="the quarantine id")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(func=_show)
    discard = commands.add_parser("discard", help="delete a quarantined message (audited)")
    discard.add_argument("id", type=int, metavar="ID", help="the quarantine id")
    discard.add_argument("--yes", action="store_true", help="confirm: it cannot be undone")
    discard.set_defaults(func=_discard)


def register_outbox_history(commands: Any) -> None:
    """Add ``outbox history`` to the outbox group."""
    history = commands.add_parser("history", help="a meeting's or a message's history")
    which = history.add_mutually_exclusive_group(required=True)
    which.add_argument("--meeting", metavar="ID", help="the CRM meeting id")
    which.add_argument("--message", metavar="MESSAGE-ID", help="a Message-ID")
    history.add_argument("--json", action="store_true", help="one JSON object")
    history.set_defaults(func=_history)


def _hash_password(_args: argparse.Namespace) -> int:
    from invitegw.gateway.http.admin.passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise GatewayError("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 12:
        raise GatewayError("password: use at least 12 characters")
    print(hash_password(password))
    return 0


def _show(args: argparse.Namespace) -> int:
    from invitegw.gateway.app.quarantine import quarantine_detail
    from invitegw.gateway.bootstrap import build_gateway
    from invitegw.gateway.commands.output import json_line
    from invitegw.gateway.commands.terminal import for_terminal

    gateway = build_gateway(settings_for(args))
    try:
        detail = quarantine_detail(gateway, args.id)
    finally:
        gateway.close()
    if args.json:
        sys.stdout.write(json_line(detail.to_json()))
        return 0
    entry, view = detail.entry, detail.view
    lines = [f"quarantine {entry.id} ({entry.cause}): {entry.reason}", ""]
    lines += [f"{name}: {value}" for name, value in view.headers]
    lines += [""] + [
        f"event: {e.method} {e.summary!r} at {e.start} SEQUENCE {e.sequence} from "
        f"{e.organizer} (UID {e.uid})"
        for e in view.events
    ]
    lines += [f"problem: {p}" for p in view.problems]
    if view.has_html:
        lines.append("(an HTML part is not shown)")
    lines += ["", view.text]
    print(for_terminal("\n".join(lines)))
    return 0


def _discard(args: argparse.Namespace) -> int:
    from invitegw.gateway.app.quarantine import discard_quarantined
    from invitegw.gateway.bootstrap import build_gateway

    if not args.yes:
        raise GatewayError(
            f"quarantine discard {args.id}: deletes the message for good; add --yes to confirm"
        )
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    gateway = build_gateway(settings_for(args))
    try:
        entry = discard_quarantined(gateway, args.id, by=f"cli:{who}")
    finally:
        gateway.close()
    print(f"quarantine {entry.id} discarded (the event log keeps a note)")
    return 0


def _history(args: argparse.Namespace) -> int:
    from invitegw.gateway.app.history import meeting_history, message_history
    from invitegw.gateway.bootstrap import build_gateway
    from invitegw.gateway.commands.output import json_line
    from invitegw.gateway.commands.terminal import for_terminal

    gateway = build_gateway(settings_for(args))
    try:
        if args.meeting is not None:
            record = meeting_history(gateway, args.meeting).to_json()
        else:
            record = message_history(gateway, args.message).to_json()
    finally:
        gateway.close()
    if args.json:
        sys.stdout.write(json_line(record))
        return 0
    for line in _history_lines(record):
        print(for_terminal(line))
    return 0


def _sent_text(attendee: dict[str, Any]) -> str:
    """What an attendee was sent last, or that nothing was (an adopted meeting)."""
    if attendee["last_sequence_sent"] is None:
        return "nothing sent yet"
    return (
        f"sent SEQUENCE {attendee['last_sequence_sent']} at {attendee['last_sent_at']}"
        f" ({attendee['delivery_state']})"
    )


def _history_lines(record: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if "uid" in record:
        lines.append(
            f"meeting {record['meeting_id']} UID {record['uid']} SEQUENCE {record['sequence']}"
            + (" cancelled" if record["cancelled"] else "")
        )
        lines += [
            f"  {a['address']}: {_sent_text(a)}, answer {a['partstat']}"
            for a in record["attendees"]
        ]
        lines += [
            f"  message {m['id']}: {m['method'] or m['kind']} SEQUENCE {m['sequence']} to "
            f"{m['recipient']}: {m['state']} {m['sent_at'] or ''}"
            for m in record["messages"]
        ]
    else:
        lines.append(f"message {record['message_id']}")
        lines += [
            f"  processed {p['processed_at']} from {p['source']}: {p['outcome']}"
            + (f": {p['reason']}" if p["reason"] else "")
            for p in record["processings"]
        ]
        lines += [f"  quarantine {q['id']}: {q['reason']}" for q in record["quarantine"]]
        lines += [
            f"  invitation {i['uid']} SEQUENCE {i['sequence']}: task {i['task_id']}"
            for i in record["invitations"]
        ]
    lines += [f"  log {e['created_at']} {e['kind']}: {e['text']}" for e in record["log"]]
    return lines
