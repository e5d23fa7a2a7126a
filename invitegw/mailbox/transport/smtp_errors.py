"""SMTP replies and failures in terms of the gateway's error tree.

A 5xx reply is :class:`~invitegw.errors.DeliveryError` (permanent); a 4xx reply, and every
failure of the connection, TLS or AUTH, is :class:`~invitegw.errors.TransientDeliveryError`:
the relay or its configuration may be fixed and the message retried (RFC 5321 section 4.2.1).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping

from invitegw.errors import DeliveryError, TransientDeliveryError

__all__ = ["all_refused", "map_smtp_exception", "reply_error"]


def reply_error(code: int, reply: bytes | str, recipient: str | None = None) -> DeliveryError:
    """The error for an SMTP reply: transient for 4xx, permanent otherwise.

    Parameters:
        code: the reply code.
        reply: the reply text.
        recipient: the recipient it concerns, if any.

    Returns:
        The error (to raise, or to report per recipient).
    """
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    where = f" for {recipient}" if recipient else ""
    cls = TransientDeliveryError if 400 <= code < 500 else DeliveryError
    return cls(f"relay answered {code} {text}{where}".strip(), code=code, recipient=recipient)


def map_smtp_exception(exc: BaseException) -> DeliveryError:
    """The error an ``smtplib``, ``ssl`` or ``OSError`` failure means for delivery.

    Parameters:
        exc: the foreign exception.

    Returns:
        The error; raise it ``from exc``.
    """
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # The relay refused our credentials: a configuration problem, not the message's.
        return TransientDeliveryError(
            f"relay refused AUTH ({exc.smtp_code}); check the SMTP credentials",
            code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return reply_error(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return TransientDeliveryError(f"relay lacks a required extension: {exc}")
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return TransientDeliveryError(f"TLS with the relay failed: {exc}")
    if isinstance(exc, TimeoutError):
        return TransientDeliveryError("the relay timed out")
    return TransientDeliveryError(f"relay connection failed: {exc}")


def all_refused(refused: Mapping[str, DeliveryError]) -> DeliveryError:
    """One error for a message whose every recipient was refused.

    Parameters:
        refused: recipient → its error (at least one).

    Returns:
        The only error, or a summary that is transient when any refusal was temporary
        (only then can a retry help).
    """
    if len(refused) == 1:
        return next(iter(refused.values()))
    transient: list[DeliveryError] = [
        e for e in refused.values() if isinstance(e, TransientDeliveryError)
    ]
    first = (transient or list(refused.values()))[0]
    cls = TransientDeliveryError if transient else DeliveryError
    summary = "; ".join(str(e) for e in refused.values())
    return cls(f"every recipient refused: {summary}", code=first.code)
