"""``invitegw status`` (the deployment's health) and ``invitegw health`` (one process's).

``status [--json] [--no-crm-check]`` reads the database: exit code 0 healthy, 1 degraded,
2 down (see :mod:`invitegw.gateway.app.status`); the problems come first, one line each,
then every section, the first start's last (the baseline: taken or not, when, how many
meetings it adopted; the meetings the send switch holds). ``--json`` prints one object.

``health [--url URL] [--ready]`` asks a running ``serve`` over HTTP (``/healthz``, or
``/readyz``): exit 0 when it answers 200, 1 otherwise. It is what a container's health
check runs; the URL defaults to ``[http] listen``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``status``."""
    parser = subparsers.add_parser(
        "status",
        help="is the gateway healthy? workers, CRM, mailboxes, listener, outbox, quarantine",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--no-crm-check", action="store_true", help="do not ask the CRM whether it answers"
    )
    parser.set_defaults(func=_status)
    health = subparsers.add_parser(
        "health", help="ask a running serve whether it is alive (exit 0) or not (exit 1)"
    )
    health.add_argument("--url", help="the endpoint (default: /healthz on [http] listen)")
    health.add_argument("--ready", action="store_true", help="ask /readyz instead of /healthz")
    health.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="default: 5")
    health.set_defaults(func=_health)


def _health(args: argparse.Namespace) -> int:
    import httpx

    from invitegw.errors import ConfigError

    url = args.url
    if url is None:
        from invitegw.gateway.commands.common import settings_for

        address = settings_for(args, creates_database=False).http.address
        if address is None:
            raise ConfigError("http.listen: not set, so serve has no HTTP endpoint; give --url")
        host, port = address
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
        host = f"[{host}]" if ":" in host else host
        url = f"http://{host}:{port}/{'readyz' if args.ready else 'healthz'}"
    try:
        answer = httpx.get(url, timeout=args.timeout, trust_env=False)
    except httpx.HTTPError as exc:
        print(f"invitegw health: {url}: {exc or type(exc).__name__}")
        return 1
    print(f"invitegw health: {url}: {answer.status_code} {answer.text.strip()[:300]}")
    return 0 if answer.status_code == 200 else 1


def _status(args: argparse.Namespace) -> int:
    from invitegw.gateway.app.status import deployment_status
    from invitegw.gateway.commands.common import settings_for

    settings = settings_for(args, creates_database=False)
    report = deployment_status(settings, check_crm=not args.no_crm_check)
    if args.json:
        print(json.dumps(report.to_json(), sort_keys=True))
    else:
        print(render(report.to_json()))
    return report.exit_code


def _ago(value: str | None, now: dt.datetime) -> str:
    if not value:
        return "never"
    seconds = int((now - dt.datetime.fromisoformat(value)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{max(seconds, 0)} s ago"


def render(data: dict[str, Any]) -> str:
    """The report for people.

    Parameters:
        data: :meth:`StatusReport.to_json`'s value.

    Returns:
        The text, without a final newline.
    """
    now = dt.datetime.fromisoformat(data["checked_at"])
    lines = [f"invitegw status: {data['health'].upper()}"]
    lines += [f"  ! {problem}" for problem in data["problems"]]
    schema = data.get("schema") or {}
    if schema:
        state = "up to date" if schema["up_to_date"] else f"newest is {schema['head']}"
        lines.append(f"schema      {schema['current'] or '(empty)'} ({state})")
    workers = data.get("workers") or []
    alive = [w for w in workers if w["alive"]]
    lines.append(f"workers     {len(alive)} alive of {len(workers)} known")
    for w in workers:
        flag = "alive" if w["alive"] else "stopped" if w["stopped_at"] else "silent"
        lines.append(
            f"  {w['worker']:<28} {w['mode']:<5} {flag:<7} heartbeat {_ago(w['heartbeat_at'], now)}"
            f", version {w['version']}"
        )
    crm = data.get("crm")
    if crm:
        answer = {True: "reachable", False: "UNREACHABLE", None: "not checked"}[crm["reachable"]]
        lines.append(f"crm         {crm['adapter']}: {answer} ({crm['detail']})")
        lines.append(f"            last successful poll {_ago(crm['last_poll'], now)}")
    for box in data.get("mailboxes") or []:
        state = "connected" if box["connected"] else "NOT connected"
        holder = box["lease_holder"] or "nobody"
        lines.append(f"mailbox     {box['name']}: {state}, held by {holder}")
        waiting = "-" if box["waiting"] is None else box["waiting"]
        lines.append(
            f"            last IDLE {_ago(box['last_idle'], now)}, last drained "
            f"{_ago(box['last_drain'], now)}, last message {_ago(box['last_message'], now)}, "
            f"waiting {waiting}"
        )
        if box["last_error"]:
            lines.append(f"            last error: {box['last_error']}")
    listener = data.get("listener") or {}
    if listener.get("enabled"):
        where = ", ".join(listener["up_on"]) or "NO worker"
        lines.append(
            f"listener    {listener['address']}: up on {where}; "
            f"{listener['spool_waiting']} spooled message(s) waiting"
        )
    outbox = data.get("outbox") or {}
    if outbox:
        states = ", ".join(f"{k} {v}" for k, v in sorted(outbox["by_state"].items()))
        oldest = _ago(outbox["oldest_pending"], now) if outbox["oldest_pending"] else "-"
        lines.append(f"outbox      {states}; oldest waiting since {oldest}")
    quarantine = data.get("quarantine") or {}
    if quarantine:
        causes = ", ".join(f"{k} {v}" for k, v in sorted(quarantine["by_cause"].items()))
        lines.append(
            f"quarantine  {quarantine['count']} message(s), {quarantine['bytes']} bytes"
            + (f": {causes}" if causes else "")
        )
    reminders = data.get("reminders") or {}
    if reminders:
        lines.append(
            f"reminders   {reminders['queued']} queued to send; reminder job last ran "
            f"{_ago(reminders['last_run'], now)}"
        )
    if data.get("first_start"):
        lines += _first_start(data["first_start"], now)
    lines += [f"warning     {w}" for w in data.get("warnings") or []]
    return "\n".join(lines)


def _at(value: str | None, now: dt.datetime) -> str:
    if not value:
        return "at an unknown time"
    moment = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({_ago(value, now)})"


def _first_start(first: dict[str, Any], now: dt.datetime) -> list[str]:
    """The baseline's line and the send switch's (``first_start`` of the report)."""
    state = first["baseline"]
    if state == "taken":
        count = first["adopted"]
        adopted = (
            "how many meetings it adopted was not recorded"
            if count is None
            else f"{count} existing meeting(s) adopted, nothing sent for them"
        )
        baseline = f"taken {_at(first['taken_at'], now)}: {adopted}"
    elif state == "in-progress":
        baseline = f"in progress since {_at(first['started_at'], now)} (the next pass carries on)"
    else:
        baseline = (
            "not taken: the first pass adopts the CRM's meetings without sending "
            "(`invitegw outbound preview` shows it)"
        )
    lines = [f"baseline    {baseline}"]
    held = first["held"]
    if held:
        named = ", ".join(first["held_meetings"])
        more = ", ..." if held > len(first["held_meetings"]) else ""
        lines.append(
            f"send switch {held} meeting(s) held: the switch reads off but was never seen on; "
            f"nothing cancelled, updates go on (meetings {named}{more})"
        )
    else:
        lines.append("send switch no meeting held")
    return lines
