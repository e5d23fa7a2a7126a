"""``invitegw crm ...``: the built-in CRM (users, contacts, meetings, tasks, log) and ``check``.

``crm check`` works on any adapter: it runs the configured adapter's own ``check`` hook
(:mod:`invitegw.crm_adapter.registry`). The other commands are about the built-in CRM
(``crm.adapter = "sql"``) and use its admin API; ``crm log list`` on another adapter shows
the gateway's own log of what it did. Each command runs in one transaction: an error
(unknown id, invalid address, end before start, unknown zone) prints one line and exits 1
with nothing written. ``list`` commands print a table, or with ``--json`` one JSON object
per line.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from invitegw.gateway.commands.common import Subparsers, settings_for
from invitegw.gateway.commands.crm_common import crm_session
from invitegw.gateway.commands.crm_meetings import register_meetings
from invitegw.gateway.commands.crm_parties import register_parties

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from invitegw.crm_adapter.registry import SessionOpener
    from invitegw.gateway.config import Settings

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    """Add ``crm user|contact|meeting|task|log|check ...``."""
    crm = subparsers.add_parser(
        "crm", help="the CRM: manage the built-in one; check the configured one"
    )
    groups = crm.add_subparsers(dest="crm_group", metavar="GROUP", required=True)
    register_parties(groups)
    register_meetings(groups)
    task = groups.add_parser("task", help="tasks").add_subparsers(
        dest="crm_command", metavar="COMMAND", required=True
    )
    task_list = task.add_parser("list", help="list tasks")
    task_list.add_argument("--json", action="store_true", help="one JSON object per line")
    task_list.set_defaults(func=_task_list)
    log = groups.add_parser("log", help="the integration log").add_subparsers(
        dest="crm_command", metavar="COMMAND", required=True
    )
    log_list = log.add_parser(
        "list",
        help="list log entries (with a remote CRM: the gateway's own log of what it did)",
    )
    log_list.add_argument("--json", action="store_true", help="one JSON object per line")
    log_list.set_defaults(func=_log_list)
    check = groups.add_parser(
        "check", help="connect to the configured CRM and report what was found"
    )
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(func=_check)


def _task_list(args: argparse.Namespace) -> int:
    from invitegw.gateway.commands.crm_output import print_tasks

    with crm_session(args) as (_, admin):
        rows = admin.list_tasks()
    print_tasks(rows, as_json=args.json)
    return 0


def _log_list(args: argparse.Namespace) -> int:
    from invitegw.crm_adapter.registry import BUILTIN_NAME
    from invitegw.gateway.bootstrap import build_gateway
    from invitegw.gateway.commands.crm_output import gateway_log, print_logs

    settings = settings_for(args)
    if settings.crm.adapter != BUILTIN_NAME:
        # A remote CRM keeps its own log (vtiger: comments on the linked contact); the
        # gateway's event log has every entry, including those with nothing to link to.
        gateway = build_gateway(settings)
        try:
            with gateway.store.session() as session:
                rows = gateway_log(session)
        finally:
            gateway.close()
        print_logs(rows, as_json=args.json)
        return 0
    with crm_session(args) as (_, admin):
        rows = admin.list_logs()
    print_logs(rows, as_json=args.json)
    return 0


def _check(args: argparse.Namespace) -> int:
    from invitegw.crm_adapter.registry import CrmCheckContext, get_adapter
    from invitegw.gateway.bootstrap import build_gateway, crm_options
    from invitegw.gateway.commands.terminal import for_terminal, for_terminal_lines

    settings = settings_for(args)
    spec = get_adapter(settings.crm.adapter)
    options = crm_options(settings)
    if spec.check is None:
        # Nothing more to look at than what building the gateway does (it builds the adapter).
        build_gateway(settings).close()
        text, ok = f"{spec.name}: {spec.summary}; built, no further check", True
    else:
        result = spec.check(options, CrmCheckContext(settings.database_url, _session(settings)))
        text, ok = result.text, result.ok
    if getattr(args, "json", False):
        from invitegw.gateway.commands.output import json_line

        sys.stdout.write(json_line({"adapter": spec.name, "ok": ok, "report": text}))
    else:
        print(for_terminal_lines(text) if "\n" in text else for_terminal(text))
    return 0 if ok else 1


def _session(settings: Settings) -> SessionOpener:
    """Opens a transaction on the gateway's database, building the gateway only then."""
    from invitegw.gateway.bootstrap import build_gateway

    @contextlib.contextmanager
    def open_session() -> Iterator[Session]:
        gateway = build_gateway(settings)
        try:
            with gateway.store.session() as session:
                yield session
        finally:
            gateway.close()

    return open_session
