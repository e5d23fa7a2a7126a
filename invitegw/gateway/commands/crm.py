"""``invitegw crm ...``: manage the built-in CRM (users, contacts, meetings; list tasks, log).

``crm check`` works on any adapter: it runs the configured adapter's own ``check`` hook
(:mod:`invitegw.crm_adapter.registry`). The other commands are about the built-in CRM
(``crm.adapter = "sql"``) and use its admin API; ``crm log list`` on another adapter shows
the gateway's own log of what it did.

Each command runs in one transaction: an error (unknown id, invalid address, end before
start, unknown zone) prints one line and exits 1 with nothing written. Times are ISO 8601:
``2026-06-03T10:00`` is read in ``--tz`` (else the organizer's zone, else the default
calendar's); an offset (``...+02:00``, ``...Z``) is honoured. With ``--all-day`` start and
end are dates and the end is the last day (inclusive).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import TypeAlias

from sqlalchemy.orm import Session

from invitegw.crm_adapter.builtin.admin import MeetingDraft, SqlCrmAdmin
from invitegw.crm_adapter.builtin.records import zone
from invitegw.crm_adapter.port import CrmPort
from invitegw.crm_adapter.registry import (
    BUILTIN_NAME,
    CrmCheckContext,
    SessionOpener,
    get_adapter,
)
from invitegw.domain.records import EntityType, Meeting, MeetingKind
from invitegw.errors import ConfigError, CrmError, CrmNotFoundError
from invitegw.gateway.bootstrap import Gateway, build_gateway, crm_options
from invitegw.gateway.commands.common import settings_for
from invitegw.gateway.commands.crm_output import gateway_log, print_logs, print_tasks
from invitegw.gateway.commands.terminal import for_terminal_lines
from invitegw.gateway.config import Settings

__all__ = ["parse_when", "register"]

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(subparsers: Subparsers) -> None:
    """Add ``crm user|contact|meeting|task|log ...``."""
    crm = subparsers.add_parser("crm", help="manage the built-in CRM")
    groups = crm.add_subparsers(dest="crm_group", metavar="GROUP", required=True)
    _register_parties(groups)
    _register_meetings(groups)
    task = groups.add_parser("task", help="tasks").add_subparsers(
        dest="crm_command", metavar="COMMAND", required=True
    )
    task_list = task.add_parser("list", help="list tasks")
    task_list.add_argument("--json", action="store_true", help="print JSON")
    task_list.set_defaults(func=_task_list)
    log = groups.add_parser("log", help="the integration log").add_subparsers(
        dest="crm_command", metavar="COMMAND", required=True
    )
    log_list = log.add_parser(
        "list",
        help="list log entries (with a remote CRM: the gateway's own log of what it did)",
    )
    log_list.add_argument("--json", action="store_true", help="print JSON")
    log_list.set_defaults(func=_log_list)
    check = groups.add_parser(
        "check", help="connect to the configured CRM and report what was found"
    )
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(func=_check)


def _register_parties(groups: Subparsers) -> None:
    user = groups.add_parser("user", help="staff users").add_subparsers(
        dest="crm_command", metavar="COMMAND", required=True
    )
    add = user.add_parser("add", help="add a user (prints the id)")
    add.add_argument("email")
    add.add_argument("--name", required=True)
    add.add_argument("--lang", help="preferred language (en, pl, it, fa ...)")
    add.add_argument("--tz", help="IANA time zone (the default for meetings they organize)")
    add.set_defaults(func=_user_add)

    contact = groups.add_parser("contact", help="external contacts").add_subparsers(
        dest="crm_command", metavar="COMMAND", required=True
    )
    add = contact.add_parser("add", help="add a contact (prints the id)")
    add.add_argument("email")
    add.add_argument("--name")
    add.add_argument("--account", metavar="NAME", help="their company (created when missing)")
    add.add_argument(
        "--email", dest="extra", action="append", default=[], metavar="EXTRA", help="more addresses"
    )
    add.add_argument("--no-sync", action="store_true", help="never send them invitations")
    add.add_argument("--lang", help="preferred language")
    add.set_defaults(func=_contact_add)


def _register_meetings(groups: Subparsers) -> None:
    meeting = groups.add_parser("meeting", help="meetings").add_subparsers(
        dest="crm_command", metavar="COMMAND", required=True
    )
    create = meeting.add_parser("create", help="create a meeting (prints the id)")
    create.add_argument("--title", required=True)
    create.add_argument("--start", required=True, metavar="ISO")
    create.add_argument("--end", metavar="ISO", help="required unless --all-day")
    when = create.add_mutually_exclusive_group()
    when.add_argument("--tz", metavar="ZONE", help="IANA zone the meeting is planned in")
    when.add_argument("--all-day", action="store_true", help="START and END are dates")
    create.add_argument("--organizer", required=True, metavar="EMAIL", help="a CRM user")
    create.add_argument("--attendee", action="append", required=True, metavar="EMAIL")
    create.add_argument("--location", default="")
    create.add_argument("--description", default="")
    create.add_argument("--rrule", metavar="RULE", help="RFC 5545 RRULE, e.g. FREQ=WEEKLY;COUNT=4")
    create.add_argument("--calendar", metavar="NAME", help="a configured calendar")
    create.add_argument("--kind", choices=[k.value for k in MeetingKind], default="appointment")
    create.add_argument("--no-sync", action="store_true", help="send no invitations for it")
    create.set_defaults(func=_meeting_create)

    update = meeting.add_parser("update", help="change a meeting")
    update.add_argument("id")
    update.add_argument("--title")
    update.add_argument("--start", metavar="ISO")
    update.add_argument("--end", metavar="ISO")
    update.add_argument("--location")
    update.add_argument("--description")
    update.set_defaults(func=_meeting_update)

    for name, func, text in (
        ("add-attendee", _add_attendee, "invite someone"),
        ("remove-attendee", _remove_attendee, "uninvite someone"),
    ):
        sub = meeting.add_parser(name, help=text)
        sub.add_argument("id")
        sub.add_argument("email")
        sub.set_defaults(func=func)
    cancel = meeting.add_parser("cancel", help="cancel a meeting")
    cancel.add_argument("id")
    cancel.set_defaults(func=_meeting_cancel)
    occurrence = meeting.add_parser("cancel-occurrence", help="cancel one occurrence")
    occurrence.add_argument("id")
    occurrence.add_argument("--date", required=True, metavar="ISO", help="its date (or start)")
    occurrence.set_defaults(func=_cancel_occurrence)


# -- parsing -----------------------------------------------------------------------------------


def parse_when(text: str, option: str, tz: str | None, *, all_day: bool) -> dt.date | dt.datetime:
    """An ISO 8601 date or time from the command line.

    Parameters:
        text: the argument.
        option: its option name, for the message.
        tz: the zone a time without offset is read in.
        all_day: a date is expected (and a time refused).

    Returns:
        A date (all-day) or an aware datetime.

    Raises:
        CrmError: the text is not such a value.
    """
    value = text.strip()
    try:
        if all_day:
            return dt.date.fromisoformat(value)
        if len(value) == 10:
            raise ValueError("a date without a time")
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        shape = "a date like 2026-06-03" if all_day else "a time like 2026-06-03T10:00"
        raise CrmError(f"{option}: expected {shape}, got {text!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(tz))
    return parsed


@contextlib.contextmanager
def _crm_session(args: argparse.Namespace) -> Iterator[tuple[Gateway, SqlCrmAdmin]]:
    """The gateway and the built-in CRM's admin API, in one transaction."""
    settings = settings_for(args)
    if settings.crm.adapter != BUILTIN_NAME:
        raise ConfigError(
            f"crm.adapter: the crm commands manage the built-in CRM, but the configured "
            f"adapter is {settings.crm.adapter!r}"
        )
    gateway = build_gateway(settings)
    try:
        with gateway.store.session() as session:
            yield gateway, SqlCrmAdmin(session, clock=gateway.clock)
    finally:
        gateway.close()


def _crm(gateway: Gateway, admin: SqlCrmAdmin) -> CrmPort:
    """The built-in CRM's port in the admin's transaction, as the gateway builds it."""
    return gateway.crm(admin.session)


def _meeting(gateway: Gateway, admin: SqlCrmAdmin, meeting_id: str) -> Meeting:
    meeting = _crm(gateway, admin).get_meeting(meeting_id)
    if meeting is None:
        raise CrmNotFoundError(f"no CRM meeting with id {meeting_id!r}")
    return meeting


# -- handlers ----------------------------------------------------------------------------------


def _user_add(args: argparse.Namespace) -> int:
    with _crm_session(args) as (_, admin):
        ident = admin.add_party(
            EntityType.USER, [args.email], name=args.name, language=args.lang, time_zone=args.tz
        )
    print(ident)
    return 0


def _contact_add(args: argparse.Namespace) -> int:
    with _crm_session(args) as (_, admin):
        ident = admin.add_party(
            EntityType.CONTACT,
            [args.email, *args.extra],
            name=args.name,
            sync=not args.no_sync,
            language=args.lang,
            account=args.account,
        )
    print(ident)
    return 0


def _meeting_create(args: argparse.Namespace) -> int:
    with _crm_session(args) as (gateway, admin):
        settings = gateway.settings
        calendar = settings.calendar(args.calendar).name if args.calendar else None
        organizer = admin.resolve(args.organizer, users_only=True)
        organizer_party = _crm(gateway, admin).get_party(organizer)
        tz = args.tz or (organizer_party and organizer_party.time_zone)
        tz = tz or settings.calendar(calendar).time_zone
        zone(tz)
        start = parse_when(args.start, "--start", tz, all_day=args.all_day)
        if args.end is None and not args.all_day:
            raise CrmError("--end: required for a meeting that is not --all-day")
        end = parse_when(args.end or args.start, "--end", tz, all_day=args.all_day)
        if args.all_day:
            end = end + dt.timedelta(days=1)  # the last day given; DTEND is exclusive
        ident = admin.create_meeting(
            MeetingDraft(
                title=args.title,
                start=start,
                end=end,
                organizer=organizer,
                attendees=list(args.attendee),
                time_zone=tz,
                location=args.location,
                description=args.description,
                rrule=args.rrule,
                calendar=calendar,
                kind=MeetingKind(args.kind),
                sync=not args.no_sync,
            )
        )
    print(ident)
    return 0


def _meeting_update(args: argparse.Namespace) -> int:
    with _crm_session(args) as (gateway, admin):
        meeting = _meeting(gateway, admin, args.id)
        start = end = None
        if args.start is not None:
            start = parse_when(args.start, "--start", meeting.time_zone, all_day=meeting.all_day)
        if args.end is not None:
            end = parse_when(args.end, "--end", meeting.time_zone, all_day=meeting.all_day)
            if meeting.all_day:
                end = end + dt.timedelta(days=1)
        admin.update_meeting(
            args.id,
            title=args.title,
            start=start,
            end=end,
            location=args.location,
            description=args.description,
        )
    return 0


def _add_attendee(args: argparse.Namespace) -> int:
    with _crm_session(args) as (_, admin):
        admin.add_attendee(args.id, args.email)
    return 0


def _remove_attendee(args: argparse.Namespace) -> int:
    with _crm_session(args) as (_, admin):
        admin.remove_attendee(args.id, args.email)
    return 0


def _meeting_cancel(args: argparse.Namespace) -> int:
    with _crm_session(args) as (_, admin):
        admin.cancel_meeting(args.id)
    return 0


def _cancel_occurrence(args: argparse.Namespace) -> int:
    with _crm_session(args) as (gateway, admin):
        meeting = _meeting(gateway, admin, args.id)
        text = args.date.strip()
        when: dt.date | dt.datetime
        if len(text) == 10:
            when = parse_when(text, "--date", meeting.time_zone, all_day=True)
        else:
            when = parse_when(text, "--date", meeting.time_zone, all_day=False)
        recurrence_id = admin.cancel_occurrence(args.id, when)
    print(recurrence_id.isoformat())
    return 0


def _task_list(args: argparse.Namespace) -> int:
    with _crm_session(args) as (_, admin):
        rows = admin.list_tasks()
    print_tasks(rows, as_json=args.json)
    return 0


def _log_list(args: argparse.Namespace) -> int:
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
    with _crm_session(args) as (_, admin):
        rows = admin.list_logs()
    print_logs(rows, as_json=args.json)
    return 0


def _check(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    spec = get_adapter(settings.crm.adapter)
    options = crm_options(settings)
    as_json = getattr(args, "json", False)
    if spec.check is None:
        # Nothing more to look at than what building the gateway does (it builds the adapter).
        build_gateway(settings).close()
        text = f"{spec.name}: {spec.summary}; built, no further check"
        ok = True
    else:
        result = spec.check(options, CrmCheckContext(settings.database_url, _session(settings)))
        text, ok = result.text, result.ok
    if as_json:
        print(json.dumps({"adapter": spec.name, "ok": ok, "report": text}))
    else:
        print(for_terminal_lines(text))
    return 0 if ok else 1


def _session(settings: Settings) -> SessionOpener:
    """Opens a transaction on the gateway's database, building the gateway only then."""

    @contextlib.contextmanager
    def open_session() -> Iterator[Session]:
        gateway = build_gateway(settings)
        try:
            with gateway.store.session() as session:
                yield session
        finally:
            gateway.close()

    return open_session
