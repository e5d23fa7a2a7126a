"""``invitegw outbound preview|baseline|invite-upcoming``: the first start, under control.

- ``outbound preview`` runs the next outbound pass as a dry run and prints who would get
  what: the baseline when the first start is due (every meeting adopted, nothing sent),
  the meetings changed since the last pass, REFRESH resends, deletions found. Nothing is
  written, sent or logged. The table shows the messages (``--all``: every meeting, the
  adopted and unchanged ones too); a summary goes to stderr.
- ``outbound baseline`` adopts every meeting the CRM's feed has that the gateway does not
  know yet, sending nothing for them ("from now on"): what the first ``serve`` does by
  itself, and what to run after filling the built-in CRM by an import. With
  ``--include-upcoming CALENDAR`` (repeatable) it then invites that calendar's adopted
  meetings still ahead, as ``invite-upcoming`` does.
- ``outbound invite-upcoming --calendar NAME`` (or ``--all-calendars``) invites everyone
  to the adopted meetings of those calendars still ahead (takes the baseline first when
  it is due); ``--dry-run`` shows what it would send.

``--json``: one object per meeting per line (JSON Lines): ``meeting_id, action, title,
calendar, uid, sequence, messages`` (each ``to, method, kind, sequence, recurrence_id``),
``notes``; then, for ``baseline`` and ``invite-upcoming``, nothing else on stdout: the
summary goes to stderr in both modes.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from invitegw.gateway.commands.common import Subparsers, settings_for

if TYPE_CHECKING:
    from invitegw.gateway.app.outbound import PassSummary

__all__ = ["register"]

# Actions left out of the table unless --all: nothing is sent for them.
_QUIET = frozenset({"adopted", "unchanged"})


def register(subparsers: Subparsers) -> None:
    """Add ``outbound preview``, ``outbound baseline`` and ``outbound invite-upcoming``."""
    outbound = subparsers.add_parser(
        "outbound", help="the CRM feed: preview the next pass, baseline, invite upcoming"
    )
    commands = outbound.add_subparsers(dest="outbound_command", metavar="COMMAND", required=True)
    preview = commands.add_parser(
        "preview", help="who would get what on the next pass (nothing is sent)"
    )
    preview.add_argument("--json", action="store_true", help="one JSON object per meeting")
    preview.add_argument("--all", action="store_true", help="list adopted and unchanged too")
    preview.set_defaults(func=_preview)
    baseline = commands.add_parser(
        "baseline", help="adopt the meetings the CRM has now: nothing is sent for them"
    )
    baseline.add_argument("--json", action="store_true", help="one JSON object per meeting")
    baseline.add_argument("--dry-run", action="store_true", help="decide only")
    baseline.add_argument(
        "--include-upcoming",
        action="append",
        default=[],
        metavar="CALENDAR",
        help="then invite this calendar's adopted meetings still ahead (repeatable)",
    )
    baseline.set_defaults(func=_baseline)
    invite = commands.add_parser(
        "invite-upcoming", help="invite everyone to adopted meetings still ahead"
    )
    which = invite.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--calendar", action="append", metavar="NAME", help="this calendar's (repeatable)"
    )
    which.add_argument("--all-calendars", action="store_true", help="every calendar's")
    invite.add_argument("--json", action="store_true", help="one JSON object per meeting")
    invite.add_argument("--dry-run", action="store_true", help="show what would be sent")
    invite.set_defaults(func=_invite)


def _preview(args: argparse.Namespace) -> int:
    from invitegw.gateway.app.outbound import preview_outbound
    from invitegw.gateway.bootstrap import build_gateway

    gateway = build_gateway(settings_for(args))
    try:
        summary = preview_outbound(gateway)
    finally:
        gateway.close()
    _print(summary, as_json=args.json, every=args.all, what="next pass (preview, nothing sent)")
    return 0


def _baseline(args: argparse.Namespace) -> int:
    from invitegw.gateway.app.outbound import invite_upcoming, take_baseline
    from invitegw.gateway.bootstrap import build_gateway

    gateway = build_gateway(settings_for(args))
    try:
        if args.include_upcoming:
            # The baseline first (when due), then the invitations: one use case does both.
            summary = invite_upcoming(gateway, args.include_upcoming, dry_run=args.dry_run)
        else:
            summary = take_baseline(gateway, dry_run=args.dry_run)
    finally:
        gateway.close()
    # The summary names the baseline itself ("baseline: N existing meetings adopted ...").
    what = "outbound (dry run, nothing written)" if args.dry_run else "outbound"
    _print(summary, as_json=args.json, every=False, what=what)
    return 1 if summary.skipped else 0


def _invite(args: argparse.Namespace) -> int:
    from invitegw.gateway.app.outbound import invite_upcoming
    from invitegw.gateway.bootstrap import build_gateway

    gateway = build_gateway(settings_for(args))
    calendars = None if args.all_calendars else list(args.calendar)
    try:
        summary = invite_upcoming(gateway, calendars, dry_run=args.dry_run)
    finally:
        gateway.close()
    what = "invite-upcoming (dry run, nothing sent)" if args.dry_run else "invite-upcoming"
    _print(summary, as_json=args.json, every=False, what=what)
    return 1 if summary.skipped else 0


def _print(summary: PassSummary, *, as_json: bool, every: bool, what: str) -> None:
    from invitegw.gateway.commands.output import print_json_lines, print_records
    from invitegw.gateway.commands.terminal import for_terminal

    if as_json:
        print_json_lines(m.to_json() for m in summary.meetings)
    else:
        rows = [
            {"meeting": m, "mail": mail}
            for m in summary.meetings
            for mail in (m.mails or ((None,) if every or m.action not in _QUIET else ()))
        ]
        print_records(
            rows,
            as_json=False,
            empty="nothing to send",
            headers=["MEETING", "ACTION", "TITLE", "METHOD", "KIND", "SEQ", "TO"],
            row=lambda r: [
                r["meeting"].meeting_id,
                r["meeting"].action,
                r["meeting"].title[:40],
                r["mail"].method if r["mail"] else "-",
                r["mail"].kind if r["mail"] else "",
                r["mail"].sequence if r["mail"] else "",
                r["mail"].to if r["mail"] else "",
            ],
        )
    print(for_terminal(f"{what}: {_summary_text(summary)}"), file=sys.stderr)


def _summary_text(summary: PassSummary) -> str:
    if summary.skipped:
        return "skipped: another worker is polling the CRM (try again shortly)"
    parts = []
    if summary.baseline:
        parts.append(
            f"baseline: {summary.adopted} existing meeting"
            f"{'' if summary.adopted == 1 else 's'} adopted without sending"
        )
    elif summary.adopted:
        parts.append(f"{summary.adopted} meeting(s) adopted without sending")
    others = summary.planned - summary.adopted
    parts.append(f"{others} meeting(s) planned, {summary.messages} message(s) to send")
    if summary.failed:
        parts.append(f"{summary.failed} could not be built (see `invitegw crm log list`)")
    return "; ".join(parts)
