"""Mail I/O: composing and reading iMIP email, IMAP watching, SMTP sending and listening."""

from __future__ import annotations

from invitegw.mailbox.addresses import (
    Mailbox,
    add_plus_token,
    normalize_address,
    parse_address_header,
    same_address,
    split_plus_token,
    validate_address,
)
from invitegw.mailbox.bounces import Bounce, BounceKind, FailedRecipient
from invitegw.mailbox.calendar_part import CalendarPart, PartOrigin
from invitegw.mailbox.compose import (
    ICS_FILENAME,
    InvitationEmail,
    NoticeEmail,
    compose_invitation,
    compose_notice,
    format_msgid,
    header_address,
)
from invitegw.mailbox.extract import Extraction, MimeLimits, extract
from invitegw.mailbox.forwards import ForwardKind
from invitegw.mailbox.headers import MessageHeaders
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
from invitegw.mailbox.render import (
    SUPPORTED_LANGUAGES,
    Audience,
    MessageKind,
    MessageView,
    RenderedBody,
    pick_language,
    render_message,
)
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
    "ICS_FILENAME",
    "SUPPORTED_LANGUAGES",
    "Audience",
    "Bounce",
    "BounceKind",
    "CalendarPart",
    "Checkpoint",
    "Extraction",
    "FailedRecipient",
    "FetchedMessage",
    "FolderState",
    "ForwardKind",
    "IdleResult",
    "ImapAccount",
    "ImapConnection",
    "ImapSecurity",
    "ImapWatcher",
    "InvitationEmail",
    "ListenerConfig",
    "ListenerHandler",
    "ListenerServer",
    "Mailbox",
    "MemoryCheckpoint",
    "MessageHandler",
    "MessageHeaders",
    "MessageKind",
    "MessageMeta",
    "MessageView",
    "MimeLimits",
    "NoticeEmail",
    "Outcome",
    "OutcomeKind",
    "PartOrigin",
    "RecipientFilter",
    "RenderedBody",
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
    "add_plus_token",
    "all_refused",
    "check_envelope_address",
    "compose_invitation",
    "compose_notice",
    "envelope_of",
    "extract",
    "folder_refusal",
    "format_msgid",
    "header_address",
    "map_smtp_exception",
    "mapped_errors",
    "normalize_address",
    "parse_address_header",
    "pick_free_port",
    "pick_language",
    "render_message",
    "reply_error",
    "same_address",
    "serialize",
    "split_plus_token",
    "validate_address",
]
