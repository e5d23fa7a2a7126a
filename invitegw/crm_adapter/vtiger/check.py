"""``invitegw crm check`` for vtiger: connect, look around, report in plain text.

:func:`check_connection` logs in and gathers what an administrator needs to see (vtiger
version, the API user, the server's zone and clock, the modules, whether ``sync`` works,
the latest changed meetings, configuration warnings) or the one error that stopped it.
:func:`render_check_report` turns that into text. The CLI wiring is the gateway's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from invitegw.crm_adapter.vtiger import vtql
from invitegw.crm_adapter.vtiger.client import VtigerApiError, VtigerClient
from invitegw.crm_adapter.vtiger.options import VtigerOptions
from invitegw.crm_adapter.vtiger.records import is_true, stamp_to_server
from invitegw.crm_adapter.vtiger.schema import EVENTS, MODULES, Schema
from invitegw.errors import CrmError

__all__ = ["CheckReport", "SampleMeeting", "check_connection", "render_check_report"]

_REQUIRED = (*MODULES, "ModComments")


@dataclass(frozen=True, slots=True)
class SampleMeeting:
    """One recently changed Events record, as stored (server-zone times).

    ``sends`` is what the ``sync_field`` switch says (``None`` without one).
    """

    id: str
    title: str
    activity_type: str
    start: str
    modified: str
    sends: bool | None = None


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``check_connection`` found; ``error`` is set when it could not finish."""

    endpoint: str
    error: str | None = None
    user: str = ""
    user_id: str = ""
    user_email: str = ""
    user_time_zone: str = ""
    vtiger_version: str = ""
    api_version: str = ""
    server_time_zone: str = ""
    server_time: str = ""
    modules: tuple[str, ...] = ()
    missing_modules: tuple[str, ...] = ()
    sync: str = ""
    sample: tuple[SampleMeeting, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the adapter can work with this vtiger."""
        return self.error is None and not self.missing_modules


def check_connection(
    options: VtigerOptions, client: VtigerClient | None = None, *, sample_size: int = 5
) -> CheckReport:
    """Log in to vtiger and report what the adapter will work with.

    Parameters:
        options: the validated options.
        client: a client to use (else one is made and closed here).
        sample_size: how many recently changed meetings to list.

    Returns:
        The report; a failure is described in ``error``, never raised.
    """
    own = client is None
    session = client or VtigerClient(options)
    report = CheckReport(endpoint=options.endpoint, server_time_zone=options.server_time_zone)
    try:
        login = session.login_info
        report = replace(
            report,
            user=login.username,
            user_id=login.user_id,
            user_email=login.email,
            user_time_zone=login.time_zone,
            vtiger_version=login.vtiger_version,
            api_version=login.api_version,
        )
        types = session.listtypes().get("types") or []
        modules = tuple(str(t) for t in types)
        missing = tuple(m for m in _REQUIRED if m not in modules)
        report = replace(report, modules=modules, missing_modules=missing)
        if missing:
            return report
        schema = Schema(session, options)
        schema.module(EVENTS)
        warnings = list(schema.warnings)
        now = session.last_response_date or dt.datetime.now(dt.UTC)
        server_now = stamp_to_server(now, options.zone)
        columns = ("id", "subject", "activitytype", "date_start", "time_start", "modifiedtime")
        switch = options.sync_field
        text = vtql.select(
            EVENTS,
            (*columns, switch) if switch else columns,
            order_by="modifiedtime",
            descending=True,
            limit=max(1, min(sample_size, vtql.PAGE_SIZE)),
        )
        rows = session.query(text, module=EVENTS)
        sample = tuple(
            SampleMeeting(
                id=str(r.get("id") or ""),
                title=str(r.get("subject") or ""),
                activity_type=str(r.get("activitytype") or ""),
                start=f"{r.get('date_start') or ''} {r.get('time_start') or ''}".strip(),
                modified=str(r.get("modifiedtime") or ""),
                sends=_sends(options, r.get(switch)) if switch else None,
            )
            for r in rows
        )
        if sample and max(s.modified for s in sample) > _plus(server_now, 120):
            warnings.append(
                f"the newest modifiedtime ({max(s.modified for s in sample)}) is ahead of the "
                f"server clock read as {options.server_time_zone} ({server_now}): is "
                "crm.vtiger.server_time_zone vtiger's $default_timezone?"
            )
        report = replace(
            report,
            server_time=server_now,
            sample=sample,
            sync=_probe_sync(session, options, now),
            warnings=tuple(warnings),
            notes=_switch_notes(schema, options),
        )
    except CrmError as exc:
        report = replace(report, error=str(exc))
    finally:
        if own:
            session.close()
    return report


def _plus(stamp: str, seconds: int) -> str:
    value = dt.datetime.fromisoformat(stamp) + dt.timedelta(seconds=seconds)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _sends(options: VtigerOptions, value: object) -> bool:
    ticked = is_true(value)
    return ticked if options.sync_field_means == "send" else not ticked


def _switch_notes(schema: Schema, options: VtigerOptions) -> tuple[str, ...]:
    """What an administrator must know before mapping the send switch (docs/vtiger.md)."""
    name = options.sync_field
    if not name or options.sync_field_means != "send":
        # A "do not send" box reads unticked (= send) wherever nobody set it: safe to add.
        return ()
    events = schema.module(EVENTS)
    default = events.defaults.get(name, "")
    shown = "ticked" if is_true(default) else "unticked"
    return (
        f'crm.vtiger.sync_field {name} ("{events.label(name)}", {shown} by default in the '
        'web form): vtiger reads it unticked, that is "do not send", on every meeting '
        "that existed before the field and on every meeting created through the "
        "webservice; tick it on the existing meetings (mass edit) before mapping it, or "
        "an edit of an invited meeting cancels it for everyone (docs/vtiger.md)",
    )


def _probe_sync(client: VtigerClient, options: VtigerOptions, now: dt.datetime) -> str:
    if options.sync_operation == "off":
        return "off (crm.vtiger.sync_operation); deletions found by the existence check"
    try:
        answer = client.sync(EVENTS, int(now.timestamp()) - 60, options.sync_type)
    except VtigerApiError as exc:
        # A refusal is a finding to report, not a failed check: the gateway works without.
        return f"refused ({exc.code}: {exc.vtiger_message}); deletions found by the existence check"
    if answer is None:
        return (
            "unsupported (HTTP 500, stock vtiger 8 on PHP 8); deletions found by the "
            "existence check"
        )
    if options.sync_type != "application":
        return (
            f"supported for the API user's own meetings only (sync_type = "
            f"{options.sync_type!r}); other deletions found by the existence check"
        )
    return "supported; the change feed reports deletions"


def render_check_report(report: CheckReport) -> str:
    """The report as plain text for ``invitegw crm check``."""
    lines = [f"vtiger at {report.endpoint}"]
    if report.vtiger_version:
        lines.append(f"  version:     {report.vtiger_version} (webservice {report.api_version})")
    if report.user:
        lines.append(
            f"  user:        {report.user} ({report.user_id}, {report.user_email or 'no email'};"
            f" preference time zone {report.user_time_zone or '-'})"
        )
    if report.server_time:
        lines.append(f"  server zone: {report.server_time_zone} (server time {report.server_time})")
    if report.modules:
        state = (
            "missing " + ", ".join(report.missing_modules)
            if report.missing_modules
            else "all present"
        )
        lines.append(f"  modules:     {', '.join(_REQUIRED)}: {state}")
    if report.sync:
        lines.append(f"  sync:        {report.sync}")
    if report.server_time:
        lines.append(f"  latest changed events ({len(report.sample)}):")
        lines.extend(
            f"    {s.id:<10} modified {s.modified}  {s.activity_type:<11} {s.start}  "
            + ("" if s.sends is None else "sends  " if s.sends else "silent ")
            + s.title
            for s in report.sample
        )
    lines.extend(f"  warning: {w}" for w in report.warnings)
    lines.extend(f"  note: {n}" for n in report.notes)
    if report.error:
        lines.append(f"error: {report.error}")
    lines.append("OK" if report.ok else "FAILED")
    return "\n".join(lines)
