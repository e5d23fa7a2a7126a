"""The gateway's own tables (SQLAlchemy 2 typed ORM).

- Outbound: :class:`OutboundMeeting` and :class:`OutboundAttendee` (the ledger of what was
  sent for each CRM meeting), :class:`OutboxMessage` (one row per message to send) and
  :class:`OutboxBody` (its composed bytes),
  :class:`OutboundReminder` (the reminder emails sent, one per attendee and occurrence).
- Inbound: :class:`InboundEvent` and :class:`InboundEventSource` (the ledger of invitations
  turned into tasks), :class:`ProcessedMessage`, :class:`QuarantinedMessage`,
  :class:`SpooledMessage` (mail the SMTP listener accepted, stored before its 250 reply).
- Bookkeeping: :class:`ImapCheckpoint`, :class:`Cursor` (e.g. the CRM change-feed cursor),
  :class:`Lease` (multi-worker ownership), :class:`EventLogEntry` (the delivery/event log),
  :class:`WorkerHeartbeat` (each ``serve`` process and what it last saw, for ``status``).

Every timestamp is an aware UTC datetime (:class:`~invitegw.sqltypes.UtcDateTime`). The
schema itself is created by the Alembic migrations in ``invitegw/gateway/migrations``; a test
checks that these models and the migrations agree.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    ForeignKey,
    Index,
    LargeBinary,
    UniqueConstraint,
    false,
    select,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from invitegw.domain.records import LogLevel
from invitegw.gateway.storage.packing import PackedBytes
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
    "Cursor",
    "DeliveryState",
    "EventLogEntry",
    "GatewayBase",
    "ImapCheckpoint",
    "InboundEvent",
    "InboundEventSource",
    "InboundState",
    "Lease",
    "OutboundAttendee",
    "OutboundMeeting",
    "OutboundReminder",
    "OutboxBody",
    "OutboxMessage",
    "OutboxState",
    "ProcessedMessage",
    "QuarantinedMessage",
    "SpoolState",
    "SpooledMessage",
    "WorkerHeartbeat",
]

# Column widths: RFC 5321 caps an address at 320 octets (64 + 1 + 255); RFC 5322 caps a
# header line, hence a Message-ID, at 998.
ADDRESS = 320
MESSAGE_ID = 998
JsonDict = dict[str, Any]


class GatewayBase(DeclarativeBase):
    """Declarative base of the gateway's tables."""

    metadata = naming_metadata()
    type_annotation_map = {  # noqa: RUF012
        dt.datetime: UtcDateTime(),
        JsonDict: JSON(),
        int: Int32(),
    }


class OutboxState(StrEnum):
    """Life of an outbox message."""

    PENDING = "pending"  # waiting for next_attempt_at
    SENDING = "sending"  # claimed by a worker until claimed_until
    SENT = "sent"
    DEAD = "dead"  # given up: permanent failure or retries exhausted
    CANCELLED = "cancelled"  # superseded before it was sent


class DeliveryState(StrEnum):
    """Delivery of the latest message to an attendee."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class InboundState(StrEnum):
    """State of an invitation (one organizer, UID and RECURRENCE-ID) seen inbound."""

    ACTIVE = "active"
    CANCELLED = "cancelled"
    # A CANCEL arrived before any REQUEST: kept so a later, older REQUEST is not resurrected.
    CANCEL_SEEN = "cancel-seen"


class SpoolState(StrEnum):
    """A message the SMTP listener accepted, on its way through the inbound pipeline."""

    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


# -- outbound --------------------------------------------------------------------------------


class OutboundMeeting(GatewayBase):
    """What the gateway last sent for one CRM meeting (:rfc:`5546` UID and SEQUENCE)."""

    __tablename__ = "outbound_meetings"
    # The reminder job's due-queue: per calendar, the meetings to look at by now + lead.
    __table_args__ = (Index("ix_outbound_meetings_reminders", "calendar", "reminder_check_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crm_meeting_id: Mapped[str] = mapped_column(BoundedString(64), unique=True)
    calendar: Mapped[str] = mapped_column(BoundedString(64))
    uid: Mapped[str] = mapped_column(BoundedString(255), unique=True)
    sequence: Mapped[int] = mapped_column(default=0)
    snapshot: Mapped[JsonDict | None]
    cancelled: Mapped[bool] = mapped_column(default=False)
    deleted: Mapped[bool] = mapped_column(default=False)
    last_dtstamp: Mapped[dt.datetime | None]
    # When the last occurrence (as last sent) ends; NULL for a series without an end.
    ends_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    # Set while the meeting is known from the baseline only (in the CRM before the first
    # start, nothing sent for it yet); cleared when the gateway first sends for it.
    adopted_at: Mapped[dt.datetime | None]
    # The CRM's send switch was once read on for certain (docs/vtiger.md, the switch).
    switch_on: Mapped[bool] = mapped_column(default=False, server_default=false())
    # When the reminder job must look at this meeting again, at the latest ``lead`` before:
    # the start of its next occurrence as last sent, or the time of the last ledger change
    # (look now). NULL: never (cancelled, deleted, nothing ahead) until the ledger changes.
    reminder_check_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    attendees: Mapped[list[OutboundAttendee]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="OutboundAttendee.id"
    )


class OutboundAttendee(GatewayBase):
    """One attendee of a ledger meeting: address, reply token, what they got and answered."""

    __tablename__ = "outbound_attendees"
    __table_args__ = (
        UniqueConstraint("meeting_id", "address"),
        # Only the attendees whose REFRESH waits (a handful), not every attendee ever.
        Index(
            "ix_outbound_attendees_resend",
            "resend_requested_at",
            sqlite_where=text("resend_requested_at IS NOT NULL"),
            postgresql_where=text("resend_requested_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_meetings.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(BoundedString(ADDRESS))
    name: Mapped[str] = mapped_column(BoundedString(255, overflow="cut"), default="")
    party_type: Mapped[str | None] = mapped_column(BoundedString(16))
    party_id: Mapped[str | None] = mapped_column(BoundedString(64))
    role: Mapped[str] = mapped_column(BoundedString(32), default="REQ-PARTICIPANT")
    # Per organizer + attendee + UID; reused for every update so replies keep correlating.
    token: Mapped[str | None] = mapped_column(BoundedString(64), unique=True)
    language: Mapped[str | None] = mapped_column(BoundedString(16))
    time_zone: Mapped[str | None] = mapped_column(BoundedString(64))
    last_sequence_sent: Mapped[int | None]
    last_sent_at: Mapped[dt.datetime | None]
    # When the first invitation to this address was queued (reminders skip later arrivals).
    invited_at: Mapped[dt.datetime | None]
    # The first invitation's Message-ID: later messages refer to it (one thread per meeting).
    thread_id: Mapped[str | None] = mapped_column(BoundedString(MESSAGE_ID))
    # Set by a REFRESH (RFC 5546 section 3.2.6): the next outbound pass re-sends the REQUEST.
    resend_requested_at: Mapped[dt.datetime | None]
    partstat: Mapped[str] = mapped_column(BoundedString(32), default="NEEDS-ACTION")
    # SEQUENCE and DTSTAMP of the reply that set partstat: older replies are stale.
    partstat_sequence: Mapped[int | None] = mapped_column(Int64(sqlite_integer=True))
    partstat_dtstamp: Mapped[dt.datetime | None]
    removed: Mapped[bool] = mapped_column(default=False)
    delivery_state: Mapped[DeliveryState] = mapped_column(
        enum_type(DeliveryState), default=DeliveryState.PENDING
    )
    delivery_error: Mapped[str | None] = mapped_column(SafeText())
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    meeting: Mapped[OutboundMeeting] = relationship(back_populates="attendees")


class OutboundReminder(GatewayBase):
    """A reminder email queued for one attendee and one occurrence (never twice)."""

    __tablename__ = "outbound_reminders"
    __table_args__ = (UniqueConstraint("attendee_id", "occurrence"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_meetings.id", ondelete="CASCADE"), index=True
    )
    attendee_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_attendees.id", ondelete="CASCADE")
    )
    # The occurrence's original start: UTC "...Z" for a time, ISO for a date.
    occurrence: Mapped[str] = mapped_column(BoundedString(32))
    message_id: Mapped[str] = mapped_column(BoundedString(MESSAGE_ID))
    created_at: Mapped[dt.datetime]


class OutboxMessage(GatewayBase):
    """One message to send, written in the same transaction as the ledger change."""

    __tablename__ = "outbox"
    # Partial indexes: they hold only the rows waiting (a few), not the history (sent rows,
    # millions), so the claim query's plan cannot flip to a scan as the table grows or
    # statistics change. The claim query repeats these WHERE clauses literally.
    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "next_attempt_at",
            "id",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index(
            "ix_outbox_sending",
            "claimed_until",
            sqlite_where=text("state = 'sending'"),
            postgresql_where=text("state = 'sending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[str] = mapped_column(BoundedString(MESSAGE_ID), unique=True)
    kind: Mapped[str] = mapped_column(BoundedString(32), default="invitation")
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_meetings.id"), index=True)
    attendee_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_attendees.id"))
    sender: Mapped[str] = mapped_column(BoundedString(ADDRESS))
    recipient: Mapped[str] = mapped_column(BoundedString(ADDRESS))
    method: Mapped[str | None] = mapped_column(BoundedString(16))
    sequence: Mapped[int | None]
    recurrence_id: Mapped[str | None] = mapped_column(BoundedString(64))
    payload: Mapped[JsonDict | None]
    state: Mapped[OutboxState] = mapped_column(enum_type(OutboxState), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(SafeText())
    claimed_by: Mapped[str | None] = mapped_column(BoundedString(128))
    claimed_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]

    # The composed message lives in its own table (see OutboxBody); ``raw`` reads and
    # writes it as if it were a column, in Python and in queries.
    # Loaded with the rows (one more query per load, not per row), so ``raw`` reads as
    # a column would, also once the session is closed.
    body: Mapped[OutboxBody | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    @hybrid_property
    def raw(self) -> bytes | None:
        """The composed message (``None``: none, or dropped once sent and old enough)."""
        return self.body.raw if self.body is not None else None

    @raw.inplace.setter
    def _raw_setter(self, value: bytes | None) -> None:
        if value is None:
            self.body = None
        elif self.body is None:
            self.body = OutboxBody(raw=value)
        else:
            self.body.raw = value

    @raw.inplace.expression
    @classmethod
    def _raw_expression(cls) -> ColumnElement[bytes | None]:
        return (
            select(OutboxBody.raw)
            .where(OutboxBody.id == cls.id)
            .correlate_except(OutboxBody)
            .scalar_subquery()
        )


class OutboxBody(GatewayBase):
    """The composed bytes of one outbox message, zlib at rest (:mod:`.packing`).

    A table of its own so that ``invitegw prune --keep-sent-bytes`` can delete the bytes
    of delivered mail and the database reuses their pages (emptying a column in place
    frees no page on SQLite: the rows stay as spread out as they were).
    """

    __tablename__ = "outbox_bodies"

    id: Mapped[int] = mapped_column(
        BigId, ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True
    )
    raw: Mapped[bytes] = mapped_column(PackedBytes)


# -- inbound ---------------------------------------------------------------------------------


class InboundEvent(GatewayBase):
    """An invitation occurrence seen inbound, keyed by organizer, UID and RECURRENCE-ID.

    ``recurrence_id`` is ``""`` for the master (so the unique key also holds on engines
    where NULLs never collide). An invitation without a UID is keyed by a fingerprint
    written into ``uid`` by the pipeline.
    """

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("organizer", "uid", "recurrence_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organizer: Mapped[str] = mapped_column(BoundedString(ADDRESS))
    uid: Mapped[str] = mapped_column(BoundedString(512))
    recurrence_id: Mapped[str] = mapped_column(BoundedString(64), default="")
    task_id: Mapped[str | None] = mapped_column(BoundedString(64), index=True)
    # BIGINT: producers send millisecond timestamps as SEQUENCE (Google), see 0005.
    sequence: Mapped[int] = mapped_column(Int64(sqlite_integer=True), default=0)
    dtstamp: Mapped[dt.datetime | None]
    fingerprint: Mapped[str] = mapped_column(BoundedString(128), default="")
    state: Mapped[InboundState] = mapped_column(
        enum_type(InboundState), default=InboundState.ACTIVE
    )
    # When the invitation (its last occurrence) ends, as last received; NULL for a series
    # without an end or a row written before this column: `invitegw prune` keeps those.
    ends_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    sources: Mapped[list[InboundEventSource]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="InboundEventSource.id"
    )


class InboundEventSource(GatewayBase):
    """A message that carried an inbound event, and who forwarded it."""

    __tablename__ = "inbound_event_sources"
    __table_args__ = (UniqueConstraint("event_id", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("inbound_events.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str] = mapped_column(BoundedString(MESSAGE_ID))
    source: Mapped[str] = mapped_column(BoundedString(64))
    forwarder: Mapped[str | None] = mapped_column(BoundedString(ADDRESS))
    received_at: Mapped[dt.datetime]

    event: Mapped[InboundEvent] = relationship(back_populates="sources")


class ProcessedMessage(GatewayBase):
    """A received message the inbound pipeline has finished with (any outcome).

    ``source`` is a mailbox name, ``smtp`` or ``file``; ``uidvalidity``/``uid`` are set for
    IMAP only (the unique key then makes reprocessing after a crash a no-op).
    """

    __tablename__ = "processed_messages"
    __table_args__ = (
        UniqueConstraint("source", "uidvalidity", "uid"),
        Index("ix_processed_messages_source_processed_at", "source", "processed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(BoundedString(64))
    uidvalidity: Mapped[int | None] = mapped_column(Int64())
    uid: Mapped[int | None] = mapped_column(Int64())
    message_id: Mapped[str | None] = mapped_column(BoundedString(MESSAGE_ID), index=True)
    outcome: Mapped[str] = mapped_column(BoundedString(32))
    reason: Mapped[str | None] = mapped_column(SafeText())
    details: Mapped[JsonDict | None]
    processed_at: Mapped[dt.datetime]


class QuarantinedMessage(GatewayBase):
    """A message set aside with a reason a person can act on; nothing is deleted."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(BoundedString(64))
    message_id: Mapped[str | None] = mapped_column(BoundedString(MESSAGE_ID), index=True)
    # Where the original stays (e.g. "sales:Quarantine"), when it stays somewhere.
    reference: Mapped[str | None] = mapped_column(BoundedString(512))
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(default=0)
    truncated: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(SafeText())
    # How it arrived (mailbox owner, SMTP envelope, IMAP position): a release replays it so.
    received: Mapped[JsonDict | None]
    created_at: Mapped[dt.datetime]
    released_at: Mapped[dt.datetime | None]


class SpooledMessage(GatewayBase):
    """A message the SMTP listener accepted: durably here before the 250 reply."""

    __tablename__ = "inbound_spool"
    __table_args__ = (Index("ix_inbound_spool_due", "state", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mail_from: Mapped[str] = mapped_column(BoundedString(MESSAGE_ID))
    rcpt_to: Mapped[list[str]] = mapped_column(JSON)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]
    received_at: Mapped[dt.datetime]
    state: Mapped[SpoolState] = mapped_column(enum_type(SpoolState), default=SpoolState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(SafeText())
    claimed_by: Mapped[str | None] = mapped_column(BoundedString(128))
    claimed_until: Mapped[dt.datetime | None]
    processed_at: Mapped[dt.datetime | None]


# -- bookkeeping -----------------------------------------------------------------------------


class ImapCheckpoint(GatewayBase):
    """How far a mailbox has been read: its UIDVALIDITY and the last UID handled."""

    __tablename__ = "imap_checkpoints"

    mailbox: Mapped[str] = mapped_column(BoundedString(64), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(Int64())
    last_uid: Mapped[int] = mapped_column(Int64(), default=0)
    updated_at: Mapped[dt.datetime]


class Cursor(GatewayBase):
    """A named position in an external feed (``crm.changes``: the CRM change-feed cursor)."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(BoundedString(128), primary_key=True)
    value: Mapped[str] = mapped_column(SafeText())
    updated_at: Mapped[dt.datetime]


class Lease(GatewayBase):
    """Exclusive ownership of a named resource (a mailbox, a job) by one worker, with expiry."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(BoundedString(128), primary_key=True)
    holder: Mapped[str] = mapped_column(BoundedString(128))
    acquired_at: Mapped[dt.datetime]
    heartbeat_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class EventLogEntry(GatewayBase):
    """The gateway's own event and delivery log (the CRM keeps its integration log too)."""

    __tablename__ = "event_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(index=True)
    level: Mapped[LogLevel] = mapped_column(enum_type(LogLevel, 16))
    kind: Mapped[str] = mapped_column(BoundedString(64))
    meeting_id: Mapped[str | None] = mapped_column(BoundedString(64), index=True)
    task_id: Mapped[str | None] = mapped_column(BoundedString(64))
    message_id: Mapped[str | None] = mapped_column(BoundedString(MESSAGE_ID))
    text: Mapped[str] = mapped_column(SafeText())
    details: Mapped[JsonDict | None]


class WorkerHeartbeat(GatewayBase):
    """One ``invitegw serve`` process: who it is and what it last saw (``invitegw status``).

    Written at start, at every heartbeat and at a clean stop; ``serve --once`` writes one
    row at the end of its pass. ``state`` holds the process's own view, which no other
    table has: each mailbox watcher's connection, last IDLE event and last error, the SMTP
    listener, each job's last run and outcome.
    """

    __tablename__ = "worker_heartbeats"

    worker: Mapped[str] = mapped_column(BoundedString(128), primary_key=True)
    host: Mapped[str] = mapped_column(BoundedString(255, overflow="cut"))
    pid: Mapped[int]
    version: Mapped[str] = mapped_column(BoundedString(64, overflow="cut"))
    mode: Mapped[str] = mapped_column(BoundedString(16), default="serve")  # serve | once
    started_at: Mapped[dt.datetime]
    heartbeat_at: Mapped[dt.datetime] = mapped_column(index=True)
    stopped_at: Mapped[dt.datetime | None]
    state: Mapped[JsonDict | None]
