"""What goes on the SMTP wire: the envelope a message implies, and its bytes.

Envelope paths end up on the ``MAIL FROM``/``RCPT TO`` command lines, so they are checked
strictly (no spaces, controls or angle brackets: no command injection). Messages are
serialised with ``email.policy.SMTP`` (CRLF line ends, RFC 5322 section 2.3), or
``email.policy.SMTPUTF8`` when an address is not ASCII (RFC 6531): ``smtplib`` sends bytes
exactly as given.
"""

from __future__ import annotations

import copy
import email.errors
import email.policy
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import getaddresses

from invitegw.domain.addresses import ascii_address
from invitegw.errors import AddressError, MimeError

__all__ = ["check_envelope_address", "envelope_of", "serialize"]

# RFC 5321 section 4.5.3.1.3: a path is at most 256 octets including the angle brackets.
_MAX_PATH = 254


def check_envelope_address(address: str) -> str:
    """Return ``address`` when it is fit for an SMTP path.

    Parameters:
        address: a bare address (no angle brackets, no display name).

    Returns:
        The address, unchanged.

    Raises:
        AddressError: empty, too long, no local part or domain, or containing spaces,
            control characters or angle brackets.
    """
    if (
        not address
        or len(address) > _MAX_PATH
        or "@" not in address
        or address.startswith("@")
        or address.endswith("@")
        or any(ch.isspace() or ord(ch) < 32 or ch in "<>" for ch in address)
    ):
        raise AddressError(f"not a usable envelope address: {address[:80]!r}")
    return address


def envelope_of(message: EmailMessage) -> tuple[str, list[str]]:
    """The envelope (MAIL FROM, RCPT TO) a message's headers imply.

    The sender is ``Sender`` or else the first ``From`` address; the recipients are
    ``To``, ``Cc`` and ``Bcc``, de-duplicated case-insensitively, in order.

    Parameters:
        message: the message.

    Returns:
        (sender, recipients).

    Raises:
        AddressError: no sender, no recipient, or an address unfit for an SMTP path.
    """
    senders = getaddresses([str(v) for v in message.get_all("Sender", [])]) or getaddresses(
        [str(v) for v in message.get_all("From", [])]
    )
    sender = next((addr for _name, addr in senders if addr), "")
    if not sender:
        raise AddressError("the message has no From or Sender address")
    recipients: list[str] = []
    seen: set[str] = set()
    for header in ("To", "Cc", "Bcc"):
        for _name, addr in getaddresses([str(v) for v in message.get_all(header, [])]):
            if addr and addr.lower() not in seen:
                seen.add(addr.lower())
                recipients.append(check_envelope_address(addr))
    if not recipients:
        raise AddressError("the message has no To, Cc or Bcc address")
    return check_envelope_address(sender), recipients


def serialize(message: EmailMessage, addresses: Sequence[str]) -> bytes:
    """The bytes to send for ``message``: CRLF line ends, no ``Bcc`` header.

    ``Bcc`` is removed from the transmitted copy, as ``smtplib.send_message`` does; the
    caller's message is not changed.

    Parameters:
        message: the message.
        addresses: the envelope addresses; one that stays non-ASCII on the wire (a
            non-ASCII local part, :func:`~invitegw.domain.addresses.ascii_address`)
            selects ``SMTPUTF8``.

    Returns:
        The serialised message.

    Raises:
        MimeError: the message cannot be written with that policy.
    """
    if "Bcc" in message:
        # copy.copy shares the header list, but ``del`` rebinds it: the original keeps Bcc.
        message = copy.copy(message)
        del message["Bcc"]
    international = not all(ascii_address(a).isascii() for a in addresses)
    policy = email.policy.SMTPUTF8 if international else email.policy.SMTP
    try:
        return message.as_bytes(policy=policy)
    except (email.errors.MessageError, UnicodeError, ValueError) as exc:
        # e.g. a non-ASCII address in a header while the envelope is plain ASCII
        raise MimeError(f"the message cannot be serialised for SMTP: {exc}") from exc
