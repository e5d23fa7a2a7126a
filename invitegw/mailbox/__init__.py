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
    envelope_of,
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
    "envelope_of",
    "folder_refusal",
    "mapped_errors",
    "pick_free_port",
]
