"""How one account logs in: a password, or an OAuth 2.0 token with a SASL mechanism.

The IMAP client and the SMTP sender take one of these instead of a bare password (a bare
``str`` still works and means :class:`PasswordLogin`). Each carries the account's section
(``where``, for messages that name the setting to change) and, optionally, the
:class:`~invitegw.mailbox.transport.oauth.health.AuthHealth` its outcomes are recorded in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from invitegw.mailbox.transport.oauth.health import AuthHealth
from invitegw.mailbox.transport.oauth.sasl import SaslMechanism
from invitegw.mailbox.transport.oauth.tokens import TokenCache

__all__ = ["Login", "OAuth2Login", "PasswordLogin", "as_login"]


@dataclass(frozen=True, slots=True)
class PasswordLogin:
    """A password (IMAP LOGIN, SMTP AUTH PLAIN/LOGIN).

    Attributes:
        password: the password (hidden from ``repr``).
        where: the account's section (``mailboxes[sales]``), for messages.
        account: the key in ``health`` ("imap:sales").
        health: where outcomes are recorded, if anywhere.
    """

    password: str = field(repr=False)
    where: str = ""
    account: str = ""
    health: AuthHealth | None = field(default=None, repr=False, compare=False)

    def succeeded(self) -> None:
        """Record a successful login."""
        if self.health is not None and self.account:
            self.health.succeeded(self.account)

    def failed(self, message: str) -> None:
        """Record a refused login."""
        if self.health is not None and self.account:
            self.health.failed(self.account, message)


@dataclass(frozen=True, slots=True)
class OAuth2Login:
    """An OAuth 2.0 bearer token sent with XOAUTH2 or OAUTHBEARER.

    Attributes:
        tokens: the account's token cache.
        mechanism: the SASL mechanism.
        where: the account's section, for messages.
        account: the key in ``health``.
        health: where outcomes are recorded, if anywhere.
    """

    tokens: TokenCache
    mechanism: SaslMechanism = SaslMechanism.XOAUTH2
    where: str = ""
    account: str = ""
    health: AuthHealth | None = field(default=None, repr=False, compare=False)

    def succeeded(self) -> None:
        """Record a successful login."""
        if self.health is not None and self.account:
            self.health.succeeded(self.account)

    def failed(self, message: str) -> None:
        """Record a refused login or a token that could not be had."""
        if self.health is not None and self.account:
            self.health.failed(self.account, message)


Login = PasswordLogin | OAuth2Login


def as_login(value: str | Login, *, where: str = "") -> Login:
    """``value`` as a :data:`Login` (a ``str`` is a password).

    Parameters:
        value: a password or a login.
        where: the section for a password given as ``str``.

    Returns:
        The login.
    """
    if isinstance(value, str):
        return PasswordLogin(value, where=where)
    return value
