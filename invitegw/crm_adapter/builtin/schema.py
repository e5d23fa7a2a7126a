"""Tables of the built-in CRM (SQLAlchemy 2 typed ORM), in the gateway's database.

Parties (users, contacts, accounts, leads) each have three email fields, a sync flag (may
they receive invitations), a language and a time zone. Meetings have attendees (any party
type), per-occurrence overrides (moved or cancelled), and a ``change_seq`` that orders the
change feed: it is drawn from :class:`CrmCounter` inside the writing transaction, which
serialises writers, so sequence numbers become visible in commit order and a reader that
remembers the highest one it saw never skips a change. Deleting a meeting is a soft delete
(``deleted``), so deletions appear in the feed too.

The schema is created by the gateway's Alembic migrations (their environment combines this
metadata with the gateway's); this module imports nothing from the gateway.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from invitegw.domain.records import EntityType, LogLevel, LogTarget, MeetingKind, TaskStatus
from invitegw.sqltypes import (
    BigId,
    BoundedString,
    Int32,
    Int64,
    SafeText,
    UtcDateTime,
    enum_type,
    naming_metadata,
)

__all__ = [
    "EMAIL_FIELDS",
    "MEETING_CHANGES",
    "CrmAccount",
    "CrmBase",
    "CrmContact",
    "CrmCounter",
    "CrmLead",
    "CrmLog",
    "CrmMeeting",
    "CrmMeetingAttendee",
    "CrmMeetingOccurrence",
    "CrmMeetingResponse",
    "CrmParty",
    "CrmSpan",
    "CrmTask",
    "CrmUser",
]

EMAIL_FIELDS = ("email1", "email2", "email3")
# The counter row that numbers meeting changes (seeded by the migration).
MEETING_CHANGES = "meeting_changes"
ADDRESS = 320


class CrmBase(DeclarativeBase):
    """Declarative base of the built-in CRM's tables."""

    metadata = naming_metadata()
    type_annotation_map = {  # noqa: RUF012
        dt.datetime: UtcDateTime(),
        dt.date: Date(),
        dict[str, Any]: JSON(),
        int: Int32(),
    }


class CrmParty:
    """Columns every party table has: name, three email fields, sync, language, zone."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(BoundedString(255, overflow="cut"))
    email1: Mapped[str | None] = mapped_column(BoundedString(ADDRESS))
    email2: Mapped[str | None] = mapped_column(BoundedString(ADDRESS))
    email3: Mapped[str | None] = mapped_column(BoundedString(ADDRESS))
    sync: Mapped[bool] = mapped_column(default=True)
    language: Mapped[str | None] = mapped_column(BoundedString(16))
    time_zone: Mapped[str | None] = mapped_column(BoundedString(64))
    created_at: Mapped[dt.datetime]
    modified_at: Mapped[dt.datetime]

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Index, ...]:
        # Addresses are matched case-insensitively, in any field: index lower(emailN).
        table = str(getattr(cls, "__tablename__", ""))
        return tuple(
            Index(f"ix_{table}_{name}_lower", func.lower(getattr(cls, name)))
            for name in EMAIL_FIELDS
        )

    @property
    def emails(self) -> tuple[str, ...]:
        """The addresses in field order, empty fields left out."""
        return tuple(e for e in (self.email1, self.email2, self.email3) if e)


class CrmSpan:
    """When something happens: UTC instants for a timed span, dates for an all-day one."""

    start_at: Mapped[dt.datetime | None]
    end_at: Mapped[dt.datetime | None]
    start_date: Mapped[dt.date | None]
    end_date: Mapped[dt.date | None]


class CrmUser(CrmParty, CrmBase):
    """A staff member: meeting organizer, task owner, internal attendee."""

    __tablename__ = "crm_users"


class CrmAccount(CrmParty, CrmBase):
    """A company (an external party)."""

    __tablename__ = "crm_accounts"


class CrmContact(CrmParty, CrmBase):
    """A person at a company (an external party)."""

    __tablename__ = "crm_contacts"

    account_id: Mapped[int | None] = mapped_column(ForeignKey("crm_accounts.id"), index=True)
    account: Mapped[CrmAccount | None] = relationship()


class CrmLead(CrmParty, CrmBase):
    """A prospect not yet a contact (an external party)."""

    __tablename__ = "crm_leads"

    company: Mapped[str] = mapped_column(BoundedString(255, overflow="cut"), default="")


class CrmMeeting(CrmSpan, CrmBase):
    """An appointment or service activity.

    Timed meetings keep ``start_at``/``end_at`` (UTC instants) and the ``time_zone`` they
    are planned in; all-day meetings keep ``start_date``/``end_date`` (end exclusive, as
    DTEND in :rfc:`5545` section 3.6.1).
    """

    __tablename__ = "crm_meetings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[MeetingKind] = mapped_column(enum_type(MeetingKind, 16))
    title: Mapped[str] = mapped_column(SafeText())
    description: Mapped[str] = mapped_column(SafeText(), default="")
    location: Mapped[str] = mapped_column(SafeText(), default="")
    all_day: Mapped[bool] = mapped_column(default=False)
    time_zone: Mapped[str | None] = mapped_column(BoundedString(64))
    rrule: Mapped[str | None] = mapped_column(BoundedString(512))
    calendar: Mapped[str | None] = mapped_column(BoundedString(64))
    organizer_id: Mapped[int] = mapped_column(ForeignKey("crm_users.id"), index=True)
    sync: Mapped[bool] = mapped_column(default=True)
    cancelled: Mapped[bool] = mapped_column(default=False)
    deleted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime]
    modified_at: Mapped[dt.datetime]
    change_seq: Mapped[int] = mapped_column(Int64(), index=True)

    organizer: Mapped[CrmUser] = relationship()
    attendees: Mapped[list[CrmMeetingAttendee]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="CrmMeetingAttendee.id"
    )
    occurrences: Mapped[list[CrmMeetingOccurrence]] = relationship(
        cascade="all, delete-orphan", order_by="CrmMeetingOccurrence.recurrence_key"
    )


class CrmMeetingAttendee(CrmBase):
    """A party invited to a meeting, and their latest answer."""

    __tablename__ = "crm_meeting_attendees"
    __table_args__ = (UniqueConstraint("meeting_id", "party_type", "party_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("crm_meetings.id", ondelete="CASCADE"), index=True
    )
    party_type: Mapped[EntityType] = mapped_column(enum_type(EntityType, 16))
    party_id: Mapped[int] = mapped_column(Int64())
    partstat: Mapped[str] = mapped_column(BoundedString(32), default="NEEDS-ACTION")
    responded_at: Mapped[dt.datetime | None]
    added_at: Mapped[dt.datetime]

    meeting: Mapped[CrmMeeting] = relationship(back_populates="attendees")


class CrmMeetingOccurrence(CrmSpan, CrmBase):
    """One occurrence of a recurring meeting that was moved or cancelled.

    ``recurrence_key`` is the original start in UTC (``2026-05-04T08:00:00Z``) or the
    original date of an all-day series (``2026-05-04``).
    """

    __tablename__ = "crm_meeting_occurrences"
    __table_args__ = (UniqueConstraint("meeting_id", "recurrence_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("crm_meetings.id", ondelete="CASCADE"), index=True
    )
    recurrence_key: Mapped[str] = mapped_column(BoundedString(32))
    cancelled: Mapped[bool] = mapped_column(default=False)
    location: Mapped[str | None] = mapped_column(SafeText())


class CrmTask(CrmSpan, CrmBase):
    """A task, created by the gateway from an inbound invitation (once per key)."""

    __tablename__ = "crm_tasks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(BoundedString(255), unique=True)
    title: Mapped[str] = mapped_column(SafeText())
    description: Mapped[str] = mapped_column(SafeText(), default="")
    location: Mapped[str] = mapped_column(SafeText(), default="")
    all_day: Mapped[bool] = mapped_column(default=False)
    status: Mapped[TaskStatus] = mapped_column(enum_type(TaskStatus, 16))
    owner_id: Mapped[int] = mapped_column(ForeignKey("crm_users.id"), index=True)
    party_type: Mapped[EntityType | None] = mapped_column(enum_type(EntityType, 16))
    party_id: Mapped[int | None] = mapped_column(Int64())
    organizer_email: Mapped[str | None] = mapped_column(BoundedString(ADDRESS))
    source_uid: Mapped[str | None] = mapped_column(BoundedString(512), index=True)
    recurrence_id: Mapped[str | None] = mapped_column(BoundedString(64))
    # BIGINT: the SEQUENCE of an inbound invitation (Google sends millisecond timestamps).
    sequence: Mapped[int] = mapped_column(Int64(sqlite_integer=True), default=0)
    created_at: Mapped[dt.datetime]
    modified_at: Mapped[dt.datetime]

    owner: Mapped[CrmUser] = relationship()


class CrmMeetingResponse(CrmBase):
    """An attendee's answer to a meeting invitation, as received (history of replies)."""

    __tablename__ = "crm_meeting_responses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("crm_meetings.id", ondelete="CASCADE"), index=True
    )
    attendee_email: Mapped[str] = mapped_column(BoundedString(ADDRESS))
    partstat: Mapped[str] = mapped_column(BoundedString(32))
    recurrence_id: Mapped[str | None] = mapped_column(BoundedString(64))
    delegated_to: Mapped[str | None] = mapped_column(BoundedString(ADDRESS))
    comment: Mapped[str] = mapped_column(SafeText(), default="")
    # The attendee row it matched; NULL for a reply from someone not invited.
    attendee_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_meeting_attendees.id", ondelete="SET NULL")
    )
    received_at: Mapped[dt.datetime]
    recorded_at: Mapped[dt.datetime]


class CrmLog(CrmBase):
    """The integration log users read beside a meeting or task."""

    __tablename__ = "crm_logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(index=True)
    level: Mapped[LogLevel] = mapped_column(enum_type(LogLevel, 16))
    target: Mapped[LogTarget] = mapped_column(enum_type(LogTarget, 16))
    target_id: Mapped[str | None] = mapped_column(BoundedString(64), index=True)
    message: Mapped[str] = mapped_column(SafeText())
    details: Mapped[dict[str, Any] | None]


class CrmCounter(CrmBase):
    """Named counters; ``meeting_changes`` numbers the change feed (see the module doc)."""

    __tablename__ = "crm_counters"

    name: Mapped[str] = mapped_column(BoundedString(64), primary_key=True)
    value: Mapped[int] = mapped_column(Int64(), default=0)
