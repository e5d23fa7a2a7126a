"""``invitegw outbox list|retry``: look at the messages waiting, sent or given up; retry.

``outbox list`` prints the newest messages first as a table (``--json``: an array of the
objects below, the interface scripts rely on); ``--state`` and ``--meeting`` filter.
``outbox retry ID...`` puts dead (or waiting) messages back in the queue now, with a fresh
count of attempts; ``outbox retry --dead`` does it for every dead message. The message is
sent by the next outbox flush (``invitegw serve``, or ``serve --once``).

JSON object: ``id, message_id, state, kind, method, sequence, recurrence_id, sender,
recipient, meeting_id`` (the CRM's), ``attempts, next_attempt_at, sent_at, created_at,
last_error``; times ISO 8601 in UTC with ``Z``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy import select

from invitegw.errors import GatewayError
from invitegw.gateway.bootstrap import build_gateway
from invitegw.gateway.commands.common import settings_for
from invitegw.gateway.commands.crm_output import iso_utc, print_records
from invitegw.gateway.storage import OutboundMeeting, OutboxMessage, OutboxState, requeue

__all__ = ["outbox_record", "register"]

_ERROR_WIDTH = 60


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``outbox list`` and ``outbox retry``."""
    outbox = subparsers.add_parser("outbox", help="the messages to send: list, retry")
    commands = outbox.add_subparsers(dest="outbox_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="list messages, newest first")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.add_argument("--state", choices=[s.value for s in OutboxState], help="only these")
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


def outbox_record(row: OutboxMessage, crm_meeting_id: str | None) -> dict[str, Any]:
    """The JSON object of one outbox message (see the module docstring).

    Parameters:
        row: the outbox row.
        crm_meeting_id: the CRM id of its meeting, if it has one.

    Returns:
        The object.
    """
    return {
        "id": row.id,
        "message_id": row.message_id,
        "state": row.state.value,
        "kind": row.kind,
        "method": row.method,
        "sequence": row.sequence,
        "recurrence_id": row.recurrence_id,
        "sender": row.sender,
        "recipient": row.recipient,
        "meeting_id": crm_meeting_id,
        "attempts": row.attempts,
        "next_attempt_at": iso_utc(row.next_attempt_at),
        "sent_at": iso_utc(row.sent_at),
        "created_at": iso_utc(row.created_at),
        "last_error": row.last_error,
    }


def _short(text: str | None) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= _ERROR_WIDTH else flat[: _ERROR_WIDTH - 1] + "…"


def _list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise GatewayError("--limit: expected a positive number")
    gateway = build_gateway(settings_for(args))
    try:
        with gateway.store.session() as session:
            query = (
                select(OutboxMessage, OutboundMeeting.crm_meeting_id)
                .outerjoin(OutboundMeeting, OutboxMessage.meeting_id == OutboundMeeting.id)
                .order_by(OutboxMessage.id.desc())
                .limit(args.limit)
            )
            if args.state:
                query = query.where(OutboxMessage.state == OutboxState(args.state))
            if args.meeting:
                query = query.where(OutboundMeeting.crm_meeting_id == args.meeting)
            records = [outbox_record(row, crm_id) for row, crm_id in session.execute(query)]
    finally:
        gateway.close()
    print_records(
        records,
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
            _short(r["last_error"]),
        ],
    )
    return 0


def _retry(args: argparse.Namespace) -> int:
    gateway = build_gateway(settings_for(args))
    try:
        with gateway.store.session() as session:
            now = gateway.clock()
            if args.dead:
                count = requeue(session, now=now)
            else:
                count = requeue(session, now=now, row_ids=args.ids)
                if count < len(set(args.ids)):
                    states = dict(
                        session.execute(
                            select(OutboxMessage.id, OutboxMessage.state).where(
                                OutboxMessage.id.in_(args.ids)
                            )
                        ).all()
                    )
                    problems = [
                        f"{i}: {'no such message' if i not in states else states[i].value}"
                        for i in sorted(set(args.ids))
                        if i not in states or states[i] not in (OutboxState.PENDING,)
                    ]
                    raise GatewayError(
                        "only dead or waiting messages can be retried; nothing changed ("
                        + "; ".join(problems)
                        + ")"
                    )
    finally:
        gateway.close()
    if getattr(args, "json", False):
        print(json.dumps({"requeued": count}))
        return 0
    print(f"{count} message{'s' if count != 1 else ''} queued again")
    return 0
