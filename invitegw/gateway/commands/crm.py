"""``invitegw crm ...``: the built-in CRM (users, contacts, meetings, tasks, log) and ``check``.

Each command runs in one transaction: an error (unknown id, invalid address, end before
start, unknown zone) prints one line and exits 1 with nothing written. ``list`` commands
print a table, or with ``--json`` one JSON object per line. ``crm log list`` and ``crm
check`` work with vtiger too; the others manage the built-in CRM only.
"""

from __future__ import annotations

import argparse

from invitegw.gateway.commands.common import Subparsers, settings_for
from invitegw.gateway.commands.crm_common import crm_session
from invitegw.gateway.commands.crm_meetings import register_meetings
from invitegw.gateway.commands.crm_parties import register_parties

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    """Add ``crm user|contact|meeting|task|log|check ...``."""
    crm = subparsers.add_parser("crm", help="the CRM: manage the built-in one, check vtiger")
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
    check.set_defaults(func=_check)


def _task_list(args: argparse.Namespace) -> int:
    from invitegw.gateway.commands.crm_output import print_tasks

    with crm_session(args) as (_, admin):
        rows = admin.list_tasks()
    print_tasks(rows, as_json=args.json)
    return 0


def _log_list(args: argparse.Namespace) -> int:
    from invitegw.gateway.bootstrap import build_gateway
    from invitegw.gateway.commands.crm_output import gateway_log, print_logs
    from invitegw.gateway.config import CrmAdapterName

    settings = settings_for(args)
    if settings.crm.adapter is not CrmAdapterName.SQL:
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
    from invitegw.gateway.config import CrmAdapterName

    settings = settings_for(args)
    if settings.crm.adapter is CrmAdapterName.VTIGER:
        from invitegw.crm_adapter.vtiger import check_connection, render_check_report
        from invitegw.gateway.bootstrap import vtiger_options

        report = check_connection(vtiger_options(settings))
        print(render_check_report(report))
        return 0 if report.error is None else 1
    with crm_session(args) as (gateway, admin):
        counts = admin.counts()
    print(f"built-in CRM in {gateway.settings.database_url}")
    for name, count in counts.items():
        print(f"  {name + ':':<12} {count}")
    return 0
