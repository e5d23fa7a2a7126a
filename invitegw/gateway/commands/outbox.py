"""``invitegw outbox list|retry``: look at the messages waiting, sent or given up; retry.

``outbox list`` prints the newest messages first as a table (``--json``: one object per
line, JSON Lines, the interface scripts rely on); ``--state`` and ``--meeting`` filter.
``outbox retry ID...`` puts dead (or waiting) messages back in the queue now, with a fresh
count of attempts; ``outbox retry --dead`` does it for every dead message. The message is
sent by the next outbox flush (``invitegw serve``, or ``serve --once``).

JSON object: ``id, message_id, state, kind, method, sequence, recurrence_id, sender,
recipient, meeting_id`` (the CRM's), ``attempts, next_attempt_at, sent_at, created_at,
last_error``; times ISO 8601 in UTC with ``Z``.
"""

from __future__ import annotations

import argparse
import sys

from invitegw.errors import GatewayError
from invitegw.gateway.commands.admin import register_outbox_history
from invitegw.gateway.commands.common import Subparsers, settings_for
from invitegw.gateway.commands.output import print_records, shorten

__all__ = ["OUTBOX_STATES", "register"]

_ERROR_WIDTH = 60
# The values of storage.OutboxState, spelled out so that parsing the command line needs no
# database code (a test checks they agree).
OUTBOX_STATES = ("pending", "sending", "sent", "dead", "cancelled")


def register(subparsers: Subparsers) -> None:
    """Add ``outbox list`` and ``outbox retry``."""
    outbox = subparsers.add_parser("outbox", help="the messages to send: list, retry, history")
    commands = outbox.add_subparsers(dest="outbox_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="list messages, newest first")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--state", choices=OUTBOX_STATES, help="only these")
    listing.add_argument("--meeting", metavar="ID", help="only this CRM meeting's messages")
    listing.add_argument(
        "--limit", type=int, default=100, metavar="N", help="at most N (default 100)"
    )
    listing.set_defaults(func=_list)
    retry = commands.add_parser("retry", help="send dead messages again")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", type=int, default=[], metavar="ID", help="message ids")
    which.add_argument("--dead", action="store_true", help="every dead message")
    retry.add_argument("--json", action="store_true", help='print {"requeued": N}')
    retry.set_defaults(func=_retry)
    register_outbox_history(commands)


def _list(args: argparse.Namespace) -> int:
    from invitegw.gateway.app.outbox import list_outbox
    from invitegw.gateway.bootstrap import build_gateway

    if args.limit < 1:
        raise GatewayError("--limit: expected a positive number")
    gateway = build_gateway(settings_for(args))
    try:
        entries = list_outbox(gateway, state=args.state, meeting_id=args.meeting, limit=args.limit)
    finally:
        gateway.close()
    print_records(
        [entry.to_json() for entry in entries],
        as_json=args.json,
        empty="the outbox is empty",
        headers=["ID", "STATE", "KIND", "METHOD", "SEQ", "TO", "MEETING", "TRIES", "NEXT", "ERROR"],
        row=lambda r: [
            r["id"],
            r["state"],
            r["kind"],
            r["method"] or "",
            r["sequence"],
            r["recipient"],
            r["meeting_id"],
            r["attempts"],
            r["next_attempt_at"] if r["state"] == "pending" else "",
            shorten(r["last_error"], _ERROR_WIDTH),
        ],
    )
    return 0


def _retry(args: argparse.Namespace) -> int:
    from invitegw.gateway.app.outbox import retry_outbox
    from invitegw.gateway.bootstrap import build_gateway

    gateway = build_gateway(settings_for(args))
    try:
        count = retry_outbox(gateway, ids=args.ids, every_dead=args.dead)
    finally:
        gateway.close()
    if getattr(args, "json", False):
        from invitegw.gateway.commands.output import json_line

        sys.stdout.write(json_line({"requeued": count}))
        return 0
    print(f"{count} message{'s' if count != 1 else ''} queued again")
    return 0
