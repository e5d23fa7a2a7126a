"""OAuth 2.0 for IMAP and SMTP: tokens, where they come from, and how they are sent.

- :mod:`.tokens`: :class:`TokenCache` (in memory, refreshed shortly before expiry and once
  after a refusal) over a :class:`TokenSource`;
- the sources, each imported lazily with its library: :mod:`.microsoft` (MSAL, app-only),
  :mod:`.google` (google-auth: service account with delegation, or a refresh token),
  :mod:`.endpoint` (any RFC 6749 token endpoint), :mod:`.command` (``token_command``);
- :mod:`.sasl`: XOAUTH2 and OAUTHBEARER (RFC 7628);
- :mod:`.login`: :class:`PasswordLogin` / :class:`OAuth2Login`, what the IMAP client and the
  SMTP sender take;
- :mod:`.health`: :class:`AuthHealth`, whether each account's credentials work;
- :mod:`.explain`: provider answers (``AADSTS…``, ``Basic authentication is disabled``) in
  words that name the setting to change.
"""

from __future__ import annotations

from invitegw.mailbox.transport.oauth.health import (
    AUTH_HEALTH,
    AuthHealth,
    AuthListener,
    AuthStatus,
)
from invitegw.mailbox.transport.oauth.login import Login, OAuth2Login, PasswordLogin, as_login
from invitegw.mailbox.transport.oauth.sasl import SaslExchange, SaslMechanism
from invitegw.mailbox.transport.oauth.tokens import (
    IssuedToken,
    TokenCache,
    TokenError,
    TokenSource,
)

__all__ = [
    "AUTH_HEALTH",
    "AuthHealth",
    "AuthListener",
    "AuthStatus",
    "IssuedToken",
    "Login",
    "OAuth2Login",
    "PasswordLogin",
    "SaslExchange",
    "SaslMechanism",
    "TokenCache",
    "TokenError",
    "TokenSource",
    "as_login",
]
