"""``invitegw db upgrade|current``: the database schema (Alembic migrations)."""

from __future__ import annotations

import argparse
import json

from invitegw.gateway.commands.common import Subparsers, settings_for

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    """Add ``db upgrade`` and ``db current``."""
    parser = subparsers.add_parser("db", help="database schema: upgrade, current revision")
    commands = parser.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    up = commands.add_parser("upgrade", help="apply the migrations this version ships")
    up.add_argument("--json", action="store_true", help="print one JSON object")
    up.set_defaults(func=_upgrade)
    current = commands.add_parser("current", help="show the database's schema revision")
    current.add_argument("--json", action="store_true", help="print one JSON object")
    current.set_defaults(func=_current)


def _upgrade(args: argparse.Namespace) -> int:
    from invitegw.gateway.bootstrap import open_settings_store
    from invitegw.gateway.storage import schema_status, upgrade

    with open_settings_store(settings_for(args)) as store:
        before = schema_status(store).current
        after = upgrade(store)
    if getattr(args, "json", False):
        record = {"before": before, "after": after.current, "upgraded": before != after.current}
        print(json.dumps(record, sort_keys=True))
        return 0
    if before == after.current:
        print(f"database schema already at {after.current} (newest)")
    else:
        print(f"database schema upgraded from {before or '(empty)'} to {after.current}")
    return 0


def _current(args: argparse.Namespace) -> int:
    from invitegw.gateway.bootstrap import open_settings_store
    from invitegw.gateway.storage import schema_status

    with open_settings_store(settings_for(args)) as store:
        status = schema_status(store)
    if getattr(args, "json", False):
        record = {"current": status.current, "head": status.head, "up_to_date": status.up_to_date}
        print(json.dumps(record, sort_keys=True))
        return 0 if status.up_to_date else 1
    state = "up to date" if status.up_to_date else "outdated: run `invitegw db upgrade`"
    print(f"current: {status.current or '(empty)'}")
    print(f"newest:  {status.head}")
    print(state)
    return 0 if status.up_to_date else 1
