"""The gateway's database: models, engine setup, the unit of work, schema migrations.

Entry points: :func:`open_store` (an engine for SQLite or PostgreSQL) and
:meth:`Store.session` (one transaction); :func:`ensure_schema` / :func:`upgrade` for the
Alembic migrations; small typed operations on the outbox, leases, cursors, checkpoints, the
spool, processed messages, the quarantine and the event log.
"""

from __future__ import annotations

from invitegw.gateway.storage.engine import (
    create_engine_for,
    describe_db_error,
    map_storage_errors,
    normalize_url,
)
from invitegw.gateway.storage.inbox import (
    append_processed,
    claim_spooled,
    finish_spooled,
    quarantine_message,
    spool_message,
)
from invitegw.gateway.storage.mail_state import StoreCheckpoint, StoreSpool
from invitegw.gateway.storage.models import (
    Cursor,
    DeliveryState,
    EventLogEntry,
    GatewayBase,
    ImapCheckpoint,
    InboundEvent,
    InboundEventSource,
    InboundState,
    Lease,
    OutboundAttendee,
    OutboundMeeting,
    OutboundReminder,
    OutboxBody,
    OutboxMessage,
    OutboxState,
    ProcessedMessage,
    QuarantinedMessage,
    SpooledMessage,
    SpoolState,
    WorkerHeartbeat,
)
from invitegw.gateway.storage.outbox import (
    cancel_unsent,
    claim_due,
    claim_rows,
    enqueue,
    enqueue_many,
    mark_dead,
    mark_retry,
    mark_sent,
    release_claims,
    requeue,
)
from invitegw.gateway.storage.schema import (
    SchemaStatus,
    current_revision,
    ensure_schema,
    head_revision,
    schema_status,
    upgrade,
)
from invitegw.gateway.storage.state import (
    acquire_lease,
    get_checkpoint,
    get_cursor,
    log_event,
    log_events,
    release_lease,
    renew_lease,
    set_checkpoint,
    set_cursor,
)
from invitegw.gateway.storage.store import Store, open_store

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
    "SchemaStatus",
    "SpoolState",
    "SpooledMessage",
    "Store",
    "StoreCheckpoint",
    "StoreSpool",
    "WorkerHeartbeat",
    "acquire_lease",
    "append_processed",
    "cancel_unsent",
    "claim_due",
    "claim_rows",
    "claim_spooled",
    "create_engine_for",
    "current_revision",
    "describe_db_error",
    "enqueue",
    "enqueue_many",
    "ensure_schema",
    "finish_spooled",
    "get_checkpoint",
    "get_cursor",
    "head_revision",
    "log_event",
    "log_events",
    "map_storage_errors",
    "mark_dead",
    "mark_retry",
    "mark_sent",
    "normalize_url",
    "open_store",
    "quarantine_message",
    "release_claims",
    "release_lease",
    "renew_lease",
    "requeue",
    "schema_status",
    "set_checkpoint",
    "set_cursor",
    "spool_message",
    "upgrade",
]
