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
from invitegw.mailbox.extract import Extraction, MimeLimits, extract
from invitegw.mailbox.forwards import ForwardKind
from invitegw.mailbox.headers import MessageHeaders

__all__ = [
    "Bounce",
    "BounceKind",
    "CalendarPart",
    "Extraction",
    "FailedRecipient",
    "ForwardKind",
    "Mailbox",
    "MessageHeaders",
    "MimeLimits",
    "PartOrigin",
    "add_plus_token",
    "extract",
    "normalize_address",
    "parse_address_header",
    "same_address",
    "split_plus_token",
    "validate_address",
]
