"""Mail I/O: composing and reading iMIP email, IMAP watching, SMTP sending and listening."""

from __future__ import annotations

from invitegw.mailbox.imap_client import (
    FolderState,
    IdleResult,
    ImapAccount,
    ImapConnection,
    ImapSecurity,
    MessageMeta,
    folder_refusal,
    mapped_errors,
)
from invitegw.mailbox.imap_values import (
    Checkpoint,
    FetchedMessage,
    MemoryCheckpoint,
    MessageHandler,
    Outcome,
    OutcomeKind,
    WatchConfig,
    WatcherEvents,
    WatchEvent,
)
from invitegw.mailbox.imap_watch import ImapWatcher, UidValidityCallback
from invitegw.mailbox.netutil import pick_free_port
from invitegw.mailbox.smtp_envelope import check_envelope_address, envelope_of, serialize
from invitegw.mailbox.smtp_errors import all_refused, map_smtp_exception, reply_error
from invitegw.mailbox.smtp_receive import (
    ListenerConfig,
    ListenerHandler,
    ListenerServer,
    RecipientFilter,
    Spool,
)
from invitegw.mailbox.smtp_send import (
    SendResult,
    SmtpRelayConfig,
    SmtpSender,
    SmtpSession,
    TlsMode,
)

__all__ = [
    "Checkpoint",
    "FetchedMessage",
    "FolderState",
    "IdleResult",
    "ImapAccount",
    "ImapConnection",
    "ImapSecurity",
    "ImapWatcher",
    "ListenerConfig",
    "ListenerHandler",
    "ListenerServer",
    "MemoryCheckpoint",
    "MessageHandler",
    "MessageMeta",
    "Outcome",
    "OutcomeKind",
    "RecipientFilter",
    "SendResult",
    "SmtpRelayConfig",
    "SmtpSender",
    "SmtpSession",
    "Spool",
    "TlsMode",
    "UidValidityCallback",
    "WatchConfig",
    "WatchEvent",
    "WatcherEvents",
    "all_refused",
    "check_envelope_address",
    "envelope_of",
    "folder_refusal",
    "map_smtp_exception",
    "mapped_errors",
    "pick_free_port",
    "reply_error",
    "serialize",
]
