"""``invitegw prune --older-than 180d [--keep-sent-bytes 14d] [--dry-run] [--json] ...``.

Deletes what grows and is no longer needed (see :mod:`invitegw.gateway.app.prune`):
ended meetings' ledgers, old processed messages, sent outbox rows, the event log, released
quarantine entries, the finished spool; and the bytes of mail sent more than
``--keep-sent-bytes`` ago (the outbox row stays). Prints one line per kind (``--json``: one object).
"""

from __future__ import annotations

import argparse
import json

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``prune``."""
    parser = subparsers.add_parser(
        "prune", help="delete ledgers of ended meetings, old logs, sent mail, released quarantine"
    )
    parser.add_argument(
        "--older-than",
        required=True,
        metavar="AGE",
        help="retention period, like 180d (what is older and no longer needed goes)",
    )
    parser.add_argument(
        "--keep-sent-bytes",
        default="14d",
        metavar="AGE",
        help="drop the composed bytes of mail sent longer ago than this (the row stays; "
        "default 14d)",
    )
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    parser.add_argument(
        "--include-unreleased",
        action="store_true",
        help="also delete quarantined messages nobody released",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_prune)


def _prune(args: argparse.Namespace) -> int:
    from invitegw.errors import ConfigError
    from invitegw.gateway.app.prune import prune
    from invitegw.gateway.bootstrap import build_gateway
    from invitegw.gateway.commands.common import settings_for
    from invitegw.gateway.config import parse_duration

    try:
        older_than = parse_duration(args.older_than)
    except ValueError as exc:
        raise ConfigError(f"--older-than: {exc}") from None
    if older_than.days < 1:
        raise ConfigError(f"--older-than: at least one day, got {args.older_than!r}")
    try:
        keep_sent_bytes = parse_duration(args.keep_sent_bytes)
    except ValueError as exc:
        raise ConfigError(f"--keep-sent-bytes: {exc}") from None
    gateway = build_gateway(settings_for(args))
    try:
        report = prune(
            gateway.store,
            older_than=older_than,
            now=gateway.clock(),
            dry_run=args.dry_run,
            include_unreleased=args.include_unreleased,
            keep_sent_bytes=keep_sent_bytes,
        )
    finally:
        gateway.close()
    if args.json:
        print(json.dumps(report.to_json(), sort_keys=True))
        return 0
    verb = "would delete" if report.dry_run else "deleted"
    print(f"before {report.cutoff:%Y-%m-%d %H:%M} UTC: {verb} {report.total} row(s)")
    for name, count in report.deleted.items():
        print(f"  {name:<20} {count}")
    return 0
