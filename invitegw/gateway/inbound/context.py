"""One readable received message as it travels through the pipeline, and what names it.

:class:`MessageIdentity` is computed once per message (its Message-ID, the key it is
recorded under, the digest of its body) and passed along: dedupe, the handlers and the
recording all read it. :class:`InboundMessage` is a message the pipeline could read: how it
arrived, what it holds, what names it, and whether its author is confirmed. Each handler
gets it with the unit of work it writes in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from invitegw.gateway.inbound.model import ReceivedMessage
from invitegw.itip.keys import body_digest, key_address
from invitegw.mailbox.mime.extract import Extraction

__all__ = ["InboundMessage", "MessageIdentity", "message_key"]


def message_key(raw: bytes, message_id: str | None) -> str:
    """What a message is recorded under: its Message-ID, else a digest of its bytes.

    Parameters:
        raw: the message.
        message_id: its Message-ID (normalized, no angle brackets), if any.

    Returns:
        The Message-ID, or ``sha256:`` and the hex digest of the bytes (CRLF read as LF).
    """
    if message_id:
        return message_id
    return "sha256:" + hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


@dataclass(frozen=True, slots=True)
class MessageIdentity:
    """What names one received message (computed once, see the module docstring).

    Parameters:
        message_id: the Message-ID (normalized, no angle brackets), if any.
        key: :func:`message_key`: the processed record's ``message_id`` and the ledger's
            source key.
        digest: the body digest (:func:`~invitegw.itip.keys.body_digest`): the same
            Message-ID with another body is another message.
    """

    message_id: str | None
    key: str
    digest: str

    @classmethod
    def of(
        cls, raw: bytes, message_id: str | None, *, digest: str | None = None
    ) -> MessageIdentity:
        """The identity of ``raw`` with ``message_id``.

        Parameters:
            raw: the message.
            message_id: its Message-ID, if any.
            digest: its body digest when already known.

        Returns:
            The identity.
        """
        return cls(
            message_id=message_id,
            key=message_key(raw, message_id),
            digest=digest if digest is not None else body_digest(raw),
        )


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A received message the pipeline could read.

    Parameters:
        received: how a source received it.
        extraction: what it holds (headers, calendar parts, a bounce ...).
        identity: what names it.
        authenticated: its From is confirmed by a trusted Authentication-Results header
            (True when the settings do not ask for one).
    """

    received: ReceivedMessage
    extraction: Extraction
    identity: MessageIdentity
    authenticated: bool = True

    @property
    def author(self) -> str | None:
        """The From address in ledger form, if the message has a usable one."""
        sender = self.extraction.headers.from_
        return key_address(sender.address) or None if sender is not None else None

    @property
    def original_sender(self) -> str | None:
        """The forwarded message's From (ledger form), when the message forwards one."""
        sender = self.extraction.original_sender
        return key_address(sender.address) or None if sender is not None else None

    @property
    def message_id(self) -> str | None:
        """The Message-ID (normalized, no angle brackets), if any."""
        return self.identity.message_id
