"""Mail I/O: composing and reading iMIP email, IMAP watching, SMTP sending and listening."""

from __future__ import annotations

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
    "ListenerConfig",
    "ListenerHandler",
    "ListenerServer",
    "RecipientFilter",
    "SendResult",
    "SmtpRelayConfig",
    "SmtpSender",
    "SmtpSession",
    "Spool",
    "TlsMode",
    "envelope_of",
    "pick_free_port",
]
