"""``invitegw crm user add|list`` and ``crm contact add|list``: the built-in CRM's people.

``add`` prints the new record's id; ``list`` prints a table, or with ``--json`` one object
per line (see :mod:`~invitegw.gateway.commands.crm_output` for the keys).
"""

from __future__ import annotations

import argparse

from invitegw.gateway.commands.common import Subparsers
from invitegw.gateway.commands.crm_common import crm_options, crm_session

__all__ = ["register_parties"]


def register_parties(groups: Subparsers) -> None:
    """Add ``crm user add|list`` and ``crm contact add|list``.

    Parameters:
        groups: the ``crm`` command's sub-parsers.
    """
    user = groups.add_parser("user", help="staff users").add_subparsers(
        dest="crm_command", metavar="COMMAND", required=True
    )
    add = user.add_parser("add", help="add a user (prints the id)")
    add.add_argument("email")
    add.add_argument("--name", required=True)
    add.add_argument("--lang", help="preferred language (en, pl, it, fa ...)")
    add.add_argument("--tz", help="IANA time zone (the default for meetings they organize)")
    add.set_defaults(func=_user_add)
    listing = user.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=_user_list)

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
    listing = contact.add_parser("list", help="list contacts")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=_contact_list)


def _user_add(args: argparse.Namespace) -> int:
    from invitegw.domain.records import EntityType

    with crm_session(args) as (_, admin):
        ident = admin.add_party(
            EntityType.USER, [args.email], name=args.name, language=args.lang, time_zone=args.tz
        )
    print(ident)
    return 0


def _contact_add(args: argparse.Namespace) -> int:
    from invitegw.domain.records import EntityType

    with crm_session(args) as (_, admin):
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


def _user_list(args: argparse.Namespace) -> int:
    from invitegw.crm_adapter.builtin.listing import list_users
    from invitegw.gateway.commands.crm_output import print_users

    with crm_session(args) as (gateway, admin):
        users = list_users(admin.session, crm_options(gateway))
    print_users(users, as_json=args.json)
    return 0


def _contact_list(args: argparse.Namespace) -> int:
    from invitegw.crm_adapter.builtin.listing import list_contacts
    from invitegw.gateway.commands.crm_output import print_contacts

    with crm_session(args) as (gateway, admin):
        contacts = list_contacts(admin.session, crm_options(gateway))
    print_contacts(contacts, as_json=args.json)
    return 0
