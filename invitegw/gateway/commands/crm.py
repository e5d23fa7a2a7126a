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
import sys

from invitegw.gateway.commands.common import Subparsers, settings_for
from invitegw.gateway.commands.crm_common import crm_session
from invitegw.gateway.commands.crm_meetings import register_meetings
from invitegw.gateway.commands.crm_parties import register_parties

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
    from invitegw.gateway.app.crm import check_crm
    from invitegw.gateway.commands.terminal import for_terminal_lines

    settings = settings_for(args)
    result = check_crm(settings)
    if getattr(args, "json", False):
        from invitegw.gateway.commands.output import json_line

        record = {"adapter": settings.crm.adapter, "ok": result.ok, "report": result.text}
        sys.stdout.write(json_line(record))
    else:
        print(for_terminal_lines(result.text))
    return 0 if result.ok else 1
