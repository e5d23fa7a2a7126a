"""Managing the built-in CRM's records: what the port does not do (for people and tests).

The port only reads meetings and parties; people create them. :class:`SqlCrmAdmin` is the
write side used by ``invitegw crm ...`` and by the contract tests' seeding: users,
contacts, accounts, leads, meetings and their attendees and occurrences, plus listings of
tasks and the log. Like the port it works inside the caller's session and never commits.

Addresses are validated and stored in the project's canonical form
(``invitegw.domain.addresses``: lower case, no ``mailto:``), as the gateway compares them.

Every meeting write draws a new ``change_seq`` from the counter row (``builtin.schema``), which
is how the change feed sees it; the counter's row lock is held until the caller commits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from invitegw.crm_adapter.builtin.crm import SqlCrm, SqlCrmOptions, utc_now
from invitegw.crm_adapter.builtin.records import (
    PARTY_ORDER,
    PARTY_TABLES,
    map_crm_errors,
    parse_id,
    recurrence_key,
    rows_with_email,
    task_value,
    zone,
)
from invitegw.crm_adapter.builtin.schema import (
    EMAIL_FIELDS,
    MEETING_CHANGES,
    CrmAccount,
    CrmBase,
    CrmContact,
    CrmCounter,
    CrmLead,
    CrmLog,
    CrmMeeting,
    CrmMeetingAttendee,
    CrmMeetingOccurrence,
    CrmParty,
    CrmTask,
    CrmUser,
)
from invitegw.crm_adapter.builtin.times import (
    checked_rrule,
    find_occurrence,
    meeting_span,
    set_meeting_span,
    shift_occurrences,
)
from invitegw.domain.addresses import validate_address
from invitegw.domain.records import EntityType, LogEntry, MeetingKind, Party, PartyRef, Task
from invitegw.errors import CrmConflictError, CrmError, CrmNotFoundError

__all__ = ["MeetingDraft", "SqlCrmAdmin"]

_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


@dataclass(frozen=True, slots=True)
class MeetingDraft:
    """A meeting to create. Times are aware datetimes, or dates for an all-day meeting
    (``end`` exclusive, as DTEND); ``organizer`` and ``attendees`` are email addresses or
    party references."""

    title: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime
    organizer: str | PartyRef
    attendees: Sequence[str | PartyRef] = ()
    time_zone: str | None = None
    location: str = ""
    description: str = ""
    rrule: str | None = None
    calendar: str | None = None
    kind: MeetingKind = MeetingKind.APPOINTMENT
    sync: bool = True


class SqlCrmAdmin:
    """The write side of the built-in CRM (see the module docstring).

    Parameters:
        session: the caller's session; never committed here.
        clock: returns the current aware time.
    """

    def __init__(self, session: Session, *, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.session = session
        self._clock = clock

    # -- parties -----------------------------------------------------------------------------

    def add_party(
        self,
        entity: EntityType,
        emails: Sequence[str],
        *,
        name: str | None = None,
        sync: bool = True,
        language: str | None = None,
        time_zone: str | None = None,
        account: str | None = None,
        company: str = "",
    ) -> int:
        """Create a user, contact, account or lead.

        Parameters:
            entity: the type.
            emails: its addresses in field order (at most three; users need one).
            name: the display name (default: the first address, or for an account none).
            sync: whether it receives invitations.
            language: preferred language (``pl``, ``en-GB``).
            time_zone: IANA zone.
            account: for a contact: its account's name (created when missing).
            company: for a lead: the company name.

        Returns:
            The new record's id.

        Raises:
            AddressError: an address is invalid.
            CrmConflictError: a record of this type already has the first address.
            CrmError: too many addresses, an unknown zone or a malformed language.
        """
        addresses = [validate_address(e) for e in emails]
        if len(addresses) > len(EMAIL_FIELDS):
            raise CrmError(f"a {entity.value} has at most {len(EMAIL_FIELDS)} email addresses")
        if len({a.lower() for a in addresses}) != len(addresses):
            raise CrmError("the same address is given twice")
        if entity is not EntityType.ACCOUNT and not addresses:
            raise CrmError(f"a {entity.value} needs an email address")
        if entity is EntityType.ACCOUNT and not name:
            raise CrmError("an account needs a name")
        if language is not None and not _LANGUAGE.fullmatch(language):
            raise CrmError(f"invalid language {language!r} (expected a code like 'pl' or 'en-GB')")
        if time_zone is not None:
            zone(time_zone)
        with map_crm_errors(f"adding a {entity.value}"):
            clash = rows_with_email(self.session, entity, addresses[0]) if addresses else ()
            if clash:
                raise CrmConflictError(
                    f"a {entity.value} with address {addresses[0]} already exists "
                    f"(id {clash[0].id})"
                )
            now = self._clock()
            row = PARTY_TABLES[entity]()
            row.name = name or addresses[0]
            row.sync, row.language, row.time_zone = sync, language, time_zone
            row.created_at, row.modified_at = now, now
            for column, address in zip(EMAIL_FIELDS, addresses, strict=False):
                setattr(row, column, address)
            if isinstance(row, CrmContact) and account:
                row.account_id = self._account_named(account, now)
            if isinstance(row, CrmLead):
                row.company = company
            self.session.add(row)
            self.session.flush()
            return row.id

    def _account_named(self, name: str, now: dt.datetime) -> int:
        found = self.session.scalars(
            select(CrmAccount.id).where(func.lower(CrmAccount.name) == name.lower())
        ).first()
        if found is not None:
            return found
        account = CrmAccount(name=name, sync=True, created_at=now, modified_at=now)
        self.session.add(account)
        self.session.flush()
        return account.id

    def set_party_sync(self, ref: PartyRef, sync: bool) -> None:
        """Switch invitations on or off for a party."""
        row = self._party_row(ref)
        row.sync = sync
        row.modified_at = self._clock()
        self.session.flush()

    def resolve(self, who: str | PartyRef, *, users_only: bool = False) -> PartyRef:
        """The party an address (first match in the port's order) or reference stands for.

        Raises:
            AddressError: the address is invalid.
            CrmNotFoundError: no such party.
        """
        if isinstance(who, PartyRef):
            self._party_row(who)
            return who
        address = validate_address(who)
        for entity in (EntityType.USER,) if users_only else PARTY_ORDER:
            rows = rows_with_email(self.session, entity, address)
            if rows:
                return PartyRef(entity, str(rows[0].id))
        kinds = "CRM user" if users_only else "CRM user, contact, account or lead"
        raise CrmNotFoundError(f"no {kinds} has the address {address}")

    def _party_row(self, ref: PartyRef) -> CrmParty:
        ident = parse_id(ref.id)
        row = self.session.get(PARTY_TABLES[ref.type], ident) if ident is not None else None
        if row is None:
            raise CrmNotFoundError(f"no CRM {ref.type.value} with id {ref.id!r}")
        return row

    # -- meetings ----------------------------------------------------------------------------

    def create_meeting(self, draft: MeetingDraft) -> int:
        """Create a meeting; it enters the change feed.

        Returns:
            The new meeting's id.

        Raises:
            AddressError, CrmNotFoundError: an unknown or invalid organizer or attendee.
            CrmError: end before start, an unknown zone, an invalid recurrence rule.
        """
        with map_crm_errors("creating a meeting"):
            organizer = self.resolve(draft.organizer, users_only=True)
            attendees = [self.resolve(a) for a in draft.attendees]
            now = self._clock()
            row = CrmMeeting(
                kind=draft.kind,
                title=_required_text(draft.title, "title"),
                description=draft.description,
                location=draft.location,
                time_zone=draft.time_zone,
                calendar=draft.calendar,
                organizer_id=int(organizer.id),
                sync=draft.sync,
                created_at=now,
            )
            set_meeting_span(row, draft.start, draft.end, draft.time_zone)
            row.rrule = checked_rrule(draft.rrule, row)
            for ref in dict.fromkeys(attendees):
                if ref != organizer:
                    self._attach(row, ref, now)
            self.session.add(row)
            self._touch(row, now)
            return row.id

    def update_meeting(
        self,
        meeting_id: str,
        *,
        title: str | None = None,
        start: dt.date | dt.datetime | None = None,
        end: dt.date | dt.datetime | None = None,
        location: str | None = None,
        description: str | None = None,
        rrule: str | None = None,
        sync: bool | None = None,
    ) -> None:
        """Change a meeting's fields (``None`` leaves one as it is).

        Raises:
            CrmNotFoundError: unknown meeting.
            CrmError: end before start, mixing dates and times, an invalid rule.
        """
        row = self._meeting(meeting_id)
        with map_crm_errors(f"updating meeting {meeting_id}"):
            if title is not None:
                row.title = _required_text(title, "title")
            if location is not None:
                row.location = location
            if description is not None:
                row.description = description
            if sync is not None:
                row.sync = sync
            if start is not None or end is not None:
                old_start, old_end = meeting_span(row)
                new_start = start if start is not None else old_start
                new_end = end if end is not None else new_start + (old_end - old_start)  # type: ignore[operator]
                set_meeting_span(row, new_start, new_end, row.time_zone)
                shift_occurrences(row, old_start, new_start)
            if rrule is not None:
                row.rrule = checked_rrule(rrule or None, row)
            self._touch(row, self._clock())

    def add_attendee(self, meeting_id: str, who: str | PartyRef) -> PartyRef:
        """Invite a party (by address or reference) to a meeting.

        Raises:
            CrmNotFoundError: unknown meeting or party.
            CrmConflictError: already an attendee (or the organizer).
        """
        row = self._meeting(meeting_id)
        with map_crm_errors(f"adding an attendee to meeting {meeting_id}"):
            ref = self.resolve(who)
            if ref == PartyRef(EntityType.USER, str(row.organizer_id)) or self._attendee(row, ref):
                raise CrmConflictError(f"{who} is already in meeting {meeting_id}")
            now = self._clock()
            self._attach(row, ref, now)
            self._touch(row, now)
        return ref

    def remove_attendee(self, meeting_id: str, who: str | PartyRef) -> PartyRef:
        """Remove a party from a meeting's attendees.

        Raises:
            CrmNotFoundError: unknown meeting, party, or not an attendee.
        """
        row = self._meeting(meeting_id)
        with map_crm_errors(f"removing an attendee from meeting {meeting_id}"):
            ref = self.resolve(who)
            attendee = self._attendee(row, ref)
            if attendee is None:
                raise CrmNotFoundError(f"{who} is not an attendee of meeting {meeting_id}")
            row.attendees.remove(attendee)
            self._touch(row, self._clock())
        return ref

    def cancel_meeting(self, meeting_id: str) -> None:
        """Cancel a meeting (it stays, with status cancelled)."""
        row = self._meeting(meeting_id)
        row.cancelled = True
        self._touch(row, self._clock())

    def delete_meeting(self, meeting_id: str) -> None:
        """Delete a meeting (a soft delete: the change feed reports it as deleted)."""
        row = self._meeting(meeting_id)
        row.deleted = True
        self._touch(row, self._clock())

    def cancel_occurrence(
        self, meeting_id: str, when: dt.date | dt.datetime
    ) -> dt.date | dt.datetime:
        """Cancel one occurrence of a recurring meeting.

        Parameters:
            meeting_id: the meeting.
            when: the occurrence's date (in the meeting's zone), or its exact original start.

        Returns:
            The occurrence's RECURRENCE-ID (its original start).

        Raises:
            CrmNotFoundError: unknown meeting.
            CrmError: not recurring, or no occurrence then.
        """
        return self._override(meeting_id, when, cancelled=True)

    def move_occurrence(
        self,
        meeting_id: str,
        when: dt.date | dt.datetime,
        start: dt.date | dt.datetime,
        end: dt.date | dt.datetime,
    ) -> dt.date | dt.datetime:
        """Move one occurrence of a recurring meeting (see :meth:`cancel_occurrence`)."""
        return self._override(meeting_id, when, cancelled=False, start=start, end=end)

    def _override(
        self,
        meeting_id: str,
        when: dt.date | dt.datetime,
        *,
        cancelled: bool,
        start: dt.date | dt.datetime | None = None,
        end: dt.date | dt.datetime | None = None,
    ) -> dt.date | dt.datetime:
        row = self._meeting(meeting_id)
        with map_crm_errors(f"changing an occurrence of meeting {meeting_id}"):
            recurrence_id = find_occurrence(row, when)
            key = recurrence_key(recurrence_id)
            occurrence = next((o for o in row.occurrences if o.recurrence_key == key), None)
            if occurrence is None:
                occurrence = CrmMeetingOccurrence(recurrence_key=key)
                row.occurrences.append(occurrence)
            occurrence.cancelled = cancelled
            if start is not None and end is not None:
                set_meeting_span(occurrence, start, end, row.time_zone, all_day=row.all_day)
            self._touch(row, self._clock())
        return recurrence_id

    def _meeting(self, meeting_id: str) -> CrmMeeting:
        ident = parse_id(meeting_id)
        with map_crm_errors(f"reading meeting {meeting_id}"):
            row = self.session.get(CrmMeeting, ident) if ident is not None else None
        if row is None or row.deleted:
            raise CrmNotFoundError(f"no CRM meeting with id {meeting_id!r}")
        return row

    def _attendee(self, row: CrmMeeting, ref: PartyRef) -> CrmMeetingAttendee | None:
        for attendee in row.attendees:
            if (attendee.party_type, str(attendee.party_id)) == (ref.type, ref.id):
                return attendee
        return None

    def _attach(self, row: CrmMeeting, ref: PartyRef, now: dt.datetime) -> None:
        row.attendees.append(
            CrmMeetingAttendee(party_type=ref.type, party_id=int(ref.id), added_at=now)
        )

    def _touch(self, row: CrmMeeting, now: dt.datetime) -> None:
        """Give the meeting the next change number (holding the counter row until commit)."""
        row.modified_at = now
        with self.session.no_autoflush:  # the meeting row is flushed below, numbered
            value = self.session.execute(
                update(CrmCounter)
                .where(CrmCounter.name == MEETING_CHANGES)
                .values(value=CrmCounter.value + 1)
                .returning(CrmCounter.value)
            ).scalar()
        if value is None:  # a database made without the migrations' seed row
            self.session.add(CrmCounter(name=MEETING_CHANGES, value=1))
            value = 1
        row.change_seq = int(value)
        self.session.flush()

    # -- listings ----------------------------------------------------------------------------

    def list_tasks(self) -> list[tuple[Task, Party, Party | None]]:
        """Every task with its owner and linked party, oldest first."""
        crm = SqlCrm(self.session, SqlCrmOptions(), clock=self._clock)
        out = []
        for row in self.session.scalars(select(CrmTask).order_by(CrmTask.id)):
            task = task_value(row)
            owner = crm.get_party(task.owner)
            assert owner is not None
            party = crm.get_party(task.party) if task.party is not None else None
            out.append((task, owner, party))
        return out

    def counts(self) -> dict[str, int]:
        """How many records of each kind the built-in CRM holds (for ``crm check``)."""
        kinds: dict[str, type[CrmBase]] = {
            "users": CrmUser,
            "contacts": CrmContact,
            "accounts": CrmAccount,
            "leads": CrmLead,
            "meetings": CrmMeeting,
            "tasks": CrmTask,
            "log entries": CrmLog,
        }
        return {
            name: int(self.session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in kinds.items()
        }

    def list_logs(self) -> list[tuple[int, LogEntry]]:
        """Every integration-log entry with its id, oldest first."""
        return [
            (
                row.id,
                LogEntry(
                    target=row.target,
                    target_id=row.target_id,
                    level=row.level,
                    message=row.message,
                    created_at=row.created_at,
                    details=dict(row.details or {}),
                ),
            )
            for row in self.session.scalars(select(CrmLog).order_by(CrmLog.id))
        ]


def _required_text(value: str, what: str) -> str:
    if not value.strip():
        raise CrmError(f"the {what} cannot be empty")
    return value
