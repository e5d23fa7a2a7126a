"""The two SASL mechanisms that carry an OAuth 2.0 bearer token (IMAP and SMTP alike).

- ``OAUTHBEARER`` (RFC 7628): a GS2 header naming the user, then ``auth=Bearer <token>``
  between ``^A`` separators (section 3.1). Google supports it.
- ``XOAUTH2``: Google's and Microsoft's older form, ``user=<u>^Aauth=Bearer <token>^A^A``.
  Exchange Online supports only this one.

When the server refuses the token it sends one more challenge holding a JSON error
(RFC 7628 section 3.2.2: ``{"status": "invalid_token", ...}``); the client must answer it
(``^A`` for OAUTHBEARER, section 3.2.3; an empty line for XOAUTH2) before the server's final
NO or 535. :class:`SaslExchange` does that and keeps the error for the report.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

__all__ = ["SaslExchange", "SaslMechanism", "initial_response"]


class SaslMechanism(StrEnum):
    """The SASL mechanism a token is sent with (``[mailboxes.oauth2] mechanism``)."""

    XOAUTH2 = "xoauth2"
    OAUTHBEARER = "oauthbearer"

    @property
    def wire_name(self) -> str:
        """The name in ``AUTHENTICATE``/``AUTH`` and in capability lists."""
        return self.value.upper()


def _gs2_name(user: str) -> str:
    # RFC 5801 section 4: ',' and '=' in the authzid are written =2C and =3D.
    return user.replace("=", "=3D").replace(",", "=2C")


def initial_response(mechanism: SaslMechanism, user: str, token: str) -> bytes:
    """The client's first (and, when the token is accepted, only) message.

    Parameters:
        mechanism: XOAUTH2 or OAUTHBEARER.
        user: the mailbox or relay login (the authorization identity).
        token: the bearer token.

    Returns:
        The raw bytes, before base64 (the IMAP and SMTP libraries encode them).
    """
    if mechanism is SaslMechanism.OAUTHBEARER:
        # RFC 7628 section 3.1: gs2-header kvsep *kvpair kvsep; host/port are optional.
        text = f"n,a={_gs2_name(user)},\x01auth=Bearer {token}\x01\x01"
    else:
        text = f"user={user}\x01auth=Bearer {token}\x01\x01"
    return text.encode("utf-8")


class SaslExchange:
    """The client side of one XOAUTH2/OAUTHBEARER exchange, as a challenge callback.

    ``imapclient.IMAPClient.sasl_login`` and ``smtplib.SMTP.auth`` call it with each server
    challenge (``None`` or empty for the first step). After a refusal :attr:`error` holds
    the server's JSON error, when it sent one.

    Parameters:
        mechanism: XOAUTH2 or OAUTHBEARER.
        user: the login.
        token: the bearer token.
    """

    def __init__(self, mechanism: SaslMechanism, user: str, token: str) -> None:
        self.mechanism = mechanism
        self._first = initial_response(mechanism, user, token)
        self._sent_first = False
        self.error: dict[str, Any] | None = None

    def __repr__(self) -> str:  # the token stays out of every repr
        return f"SaslExchange({self.mechanism.wire_name})"

    def __call__(self, challenge: bytes | None = None) -> bytes:
        """The answer to ``challenge``.

        Parameters:
            challenge: the decoded server challenge (``None``/empty for the first step).

        Returns:
            The initial response first; afterwards the dummy answer to an error challenge.
        """
        if not self._sent_first:
            self._sent_first = True
            return self._first
        self.error = _parse_error(challenge or b"")
        return b"\x01" if self.mechanism is SaslMechanism.OAUTHBEARER else b""

    def smtp_callback(self, challenge: bytes | None = None) -> str:
        """The same for ``smtplib.SMTP.auth``, which wants ``str`` (ASCII)."""
        return self(challenge).decode("ascii")

    @property
    def error_text(self) -> str:
        """The server's error in words (``invalid_token``), or ``""``."""
        if not self.error:
            return ""
        parts = [f"{key}={value}" for key, value in sorted(self.error.items()) if value]
        return ", ".join(str(p) for p in parts)


def _parse_error(challenge: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(challenge.decode("utf-8", "replace"))
    except ValueError:
        return {"status": challenge.decode("utf-8", "replace")[:200]}
    return parsed if isinstance(parsed, dict) else {"status": str(parsed)[:200]}
