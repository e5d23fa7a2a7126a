"""Mail on the wire: the IMAP client and watcher, the SMTP sender and the SMTP listener."""

from __future__ import annotations

from invitegw.mailbox.transport.imap_client import (
    FolderState,
    IdleResult,
    ImapAccount,
    ImapConnection,
    ImapSecurity,
    MessageMeta,
    folder_refusal,
    mapped_errors,
)
from invitegw.mailbox.transport.imap_values import (
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
from invitegw.mailbox.transport.imap_watch import (
    ImapWatcher,
    UidValidityCallback,
)
from invitegw.mailbox.transport.netutil import (
    pick_free_port,
)
from invitegw.mailbox.transport.smtp_errors import (
    all_refused,
    map_smtp_exception,
    reply_error,
)
from invitegw.mailbox.transport.smtp_receive import (
    ListenerConfig,
    ListenerHandler,
    ListenerServer,
    RecipientFilter,
    Spool,
)
from invitegw.mailbox.transport.smtp_send import (
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
    "folder_refusal",
    "map_smtp_exception",
    "mapped_errors",
    "pick_free_port",
    "reply_error",
]
