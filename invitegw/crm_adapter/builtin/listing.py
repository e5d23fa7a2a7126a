"""Listings of the built-in CRM for people: its users, contacts and meetings.

What ``invitegw crm user list``, ``crm contact list``, ``crm meeting list`` and ``crm
meeting show`` print. The port reads one record at a time, as the pipelines need; these
read every record of a kind, oldest first, with what a person wants to see beside it (a
contact's account, each attendee's answer). They work inside the caller's session and
never write.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from invitegw.crm_adapter.builtin.crm import SqlCrmOptions
from invitegw.crm_adapter.builtin.records import (
    PARTY_TABLES,
    load_parties,
    map_crm_errors,
    meeting_value,
    party_value,
)
from invitegw.crm_adapter.builtin.schema import CrmContact, CrmMeeting
from invitegw.domain.records import EntityType, Meeting, Party

__all__ = ["ContactListing", "MeetingListing", "list_contacts", "list_meetings", "list_users"]


@dataclass(frozen=True, slots=True)
class ContactListing:
    """A contact and the name of its account (None without one)."""

    contact: Party
    account: str | None


@dataclass(frozen=True, slots=True)
class MeetingListing:
    """A meeting and each attendee's answer (``partstat`` by attendee address)."""

    meeting: Meeting
    answers: dict[str, str]


def list_users(session: Session, options: SqlCrmOptions | None = None) -> list[Party]:
    """Every staff user, oldest first.

    Parameters:
        session: an open session on the CRM's database.
        options: how many address fields count (the defaults when None).

    Returns:
        The users.
    """
    counts = options or SqlCrmOptions()
    table = PARTY_TABLES[EntityType.USER]
    with map_crm_errors("listing users"):
        rows = session.scalars(select(table).order_by(table.id)).all()
    return [party_value(EntityType.USER, row, counts.email_count(EntityType.USER)) for row in rows]


def list_contacts(session: Session, options: SqlCrmOptions | None = None) -> list[ContactListing]:
    """Every contact with its account's name, oldest first.

    Parameters:
        session: an open session on the CRM's database.
        options: how many address fields count (the defaults when None).

    Returns:
        The contacts.
    """
    fields = (options or SqlCrmOptions()).email_count(EntityType.CONTACT)
    query = select(CrmContact).options(selectinload(CrmContact.account)).order_by(CrmContact.id)
    with map_crm_errors("listing contacts"):
        rows = session.scalars(query).all()
        return [
            ContactListing(
                contact=party_value(EntityType.CONTACT, row, fields),
                account=row.account.name if row.account is not None else None,
            )
            for row in rows
        ]


def list_meetings(
    session: Session, options: SqlCrmOptions | None = None, *, meeting_id: str | None = None
) -> list[MeetingListing]:
    """Every meeting not deleted (or only ``meeting_id``), oldest first, with the answers.

    Parameters:
        session: an open session on the CRM's database.
        options: how many address fields count (the defaults when None).
        meeting_id: only this meeting.

    Returns:
        The meetings (cancelled ones too: ``meeting.cancelled``).
    """
    counts = (options or SqlCrmOptions()).counts
    query = (
        select(CrmMeeting)
        .where(CrmMeeting.deleted.is_(False))
        .options(
            selectinload(CrmMeeting.organizer),
            selectinload(CrmMeeting.attendees),
            selectinload(CrmMeeting.occurrences),
        )
        .order_by(CrmMeeting.id)
    )
    if meeting_id is not None:
        if not meeting_id.isdigit():
            return []
        query = query.where(CrmMeeting.id == int(meeting_id))
    with map_crm_errors("listing meetings"):
        rows = session.scalars(query).all()
        parties = load_parties(
            session, [(a.party_type, a.party_id) for r in rows for a in r.attendees]
        )
        listings = []
        for row in rows:
            meeting = meeting_value(row, parties, counts)
            status = {(a.party_type, str(a.party_id)): a.partstat for a in row.attendees}
            answers = {
                party.primary_email or party.name: status.get((party.type, party.id), "")
                for party in meeting.attendees
            }
            listings.append(MeetingListing(meeting=meeting, answers=answers))
    return listings
