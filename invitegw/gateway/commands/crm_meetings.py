"""``invitegw crm meeting ...``: create, change, cancel, list and show built-in CRM meetings.

Times are ISO 8601: ``2026-06-03T10:00`` is read in ``--tz`` (else the organizer's zone,
else the default calendar's); an offset (``...+02:00``, ``...Z``) is honoured. With
``--all-day`` start and end are dates and the end is the last day (inclusive). ``create``
prints the new meeting's id, ``cancel-occurrence`` the occurrence's RECURRENCE-ID; the
gateway sends the invitations on its next pass (``invitegw serve``, ``serve --once``).
"""

from __future__ import annotations

import argparse
import datetime as dt

from invitegw.gateway.commands.common import Subparsers
from invitegw.gateway.commands.crm_common import (
    builtin_crm,
    crm_options,
    crm_session,
    find_meeting,
    parse_when,
)

__all__ = ["MEETING_KINDS", "register_meetings"]

# The values of domain.records.MeetingKind (a test checks they agree).
MEETING_KINDS = ("appointment", "service")


def register_meetings(groups: Subparsers) -> None:
    """Add ``crm meeting create|update|add-attendee|remove-attendee|cancel|... |list|show``.

    Parameters:
        groups: the ``crm`` command's sub-parsers.
    """
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
    create.add_argument("--kind", choices=MEETING_KINDS, default="appointment")
    create.add_argument("--no-sync", action="store_true", help="send no invitations for it")
    create.set_defaults(func=_create)

    update = meeting.add_parser("update", help="change a meeting")
    update.add_argument("id")
    update.add_argument("--title")
    update.add_argument("--start", metavar="ISO", help="the end moves with it unless --end")
    update.add_argument("--end", metavar="ISO")
    update.add_argument("--location")
    update.add_argument("--description")
    update.set_defaults(func=_update)

    for name, func, text in (
        ("add-attendee", _add_attendee, "invite someone (a CRM user, contact or lead)"),
        ("remove-attendee", _remove_attendee, "uninvite someone"),
    ):
        sub = meeting.add_parser(name, help=text)
        sub.add_argument("id")
        sub.add_argument("email")
        sub.set_defaults(func=func)
    cancel = meeting.add_parser("cancel", help="cancel a meeting")
    cancel.add_argument("id")
    cancel.set_defaults(func=_cancel)
    occurrence = meeting.add_parser(
        "cancel-occurrence", help="cancel one occurrence of a recurring meeting"
    )
    occurrence.add_argument("id")
    occurrence.add_argument("--date", required=True, metavar="ISO", help="its date (or start)")
    occurrence.set_defaults(func=_cancel_occurrence)

    listing = meeting.add_parser("list", help="list meetings")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=_list)
    show = meeting.add_parser("show", help="one meeting: attendees and their answers")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(func=_show)


def _create(args: argparse.Namespace) -> int:
    from invitegw.crm_adapter.builtin.admin import MeetingDraft
    from invitegw.crm_adapter.builtin.records import zone
    from invitegw.domain.records import MeetingKind
    from invitegw.errors import CrmError

    with crm_session(args, baseline_first=True) as (gateway, admin):
        settings = gateway.settings
        calendar = settings.calendar(args.calendar).name if args.calendar else None
        organizer = admin.resolve(args.organizer, users_only=True)
        organizer_party = builtin_crm(gateway, admin).get_party(organizer)
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


def _update(args: argparse.Namespace) -> int:
    with crm_session(args) as (gateway, admin):
        meeting = find_meeting(gateway, admin, args.id)
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
    with crm_session(args) as (_, admin):
        admin.add_attendee(args.id, args.email)
    return 0


def _remove_attendee(args: argparse.Namespace) -> int:
    with crm_session(args) as (_, admin):
        admin.remove_attendee(args.id, args.email)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    with crm_session(args) as (_, admin):
        admin.cancel_meeting(args.id)
    return 0


def _cancel_occurrence(args: argparse.Namespace) -> int:
    from invitegw.errors import CrmError

    with crm_session(args) as (gateway, admin):
        meeting = find_meeting(gateway, admin, args.id)
        if not meeting.rrule:
            raise CrmError(
                f"meeting {args.id} does not repeat: it has no occurrences to cancel "
                f"(`invitegw crm meeting cancel {args.id}` cancels the meeting)"
            )
        text = args.date.strip()
        when: dt.date | dt.datetime
        if len(text) == 10:
            when = parse_when(text, "--date", meeting.time_zone, all_day=True)
        else:
            when = parse_when(text, "--date", meeting.time_zone, all_day=False)
        recurrence_id = admin.cancel_occurrence(args.id, when)
    print(recurrence_id.isoformat())
    return 0


def _list(args: argparse.Namespace) -> int:
    from invitegw.crm_adapter.builtin.listing import list_meetings
    from invitegw.gateway.commands.crm_output import print_meetings

    with crm_session(args) as (gateway, admin):
        meetings = list_meetings(admin.session, crm_options(gateway))
    print_meetings(meetings, as_json=args.json)
    return 0


def _show(args: argparse.Namespace) -> int:
    from invitegw.crm_adapter.builtin.listing import list_meetings
    from invitegw.errors import CrmNotFoundError
    from invitegw.gateway.commands.crm_output import print_meeting

    with crm_session(args) as (gateway, admin):
        found = list_meetings(admin.session, crm_options(gateway), meeting_id=args.id)
    if not found:
        raise CrmNotFoundError(f"no CRM meeting with id {args.id!r}")
    print_meeting(found[0], as_json=args.json)
    return 0
