"""``[mailboxes.oauth2]`` and ``[smtp.oauth2]``: where an account's OAuth 2.0 tokens come from.

Used when the account says ``auth = "oauth2"``. One table per account; ``provider`` picks
the flow and which keys matter (the others are ignored):

- ``microsoft``: Microsoft 365 app-only (client credentials, MSAL): ``tenant``,
  ``client_id``, and ``client_secret`` or ``certificate`` + ``private_key``;
- ``google``: Google Workspace (google-auth): ``service_account_key`` with ``subject``
  (domain-wide delegation), or ``client_id`` + ``client_secret`` + ``refresh_token``;
- ``generic``: any RFC 6749 token endpoint: ``token_url``, ``client_id``, and
  ``client_secret`` and/or ``refresh_token``;
- ``command``: ``token_command`` prints a token.

Secrets (``client_secret``, ``private_key``, ``service_account_key``, ``refresh_token``)
come from the environment, or from a file named by ``<VARIABLE>_FILE`` (systemd
``LoadCredential``, container secrets), never from the TOML file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from invitegw.errors import ConfigError
from invitegw.gateway.config.fields import Secret, meta

__all__ = ["AuthMethod", "OAuth2Settings", "OAuthProvider", "SaslMechanismName"]

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class AuthMethod(StrEnum):
    """How an account logs in (``auth``)."""

    PASSWORD = "password"  # noqa: S105 - the name of a method, not a password
    OAUTH2 = "oauth2"


class OAuthProvider(StrEnum):
    """Where tokens come from (``oauth2.provider``)."""

    MICROSOFT = "microsoft"
    GOOGLE = "google"
    GENERIC = "generic"
    COMMAND = "command"


class SaslMechanismName(StrEnum):
    """How the token is sent (``oauth2.mechanism``): Exchange Online knows only XOAUTH2."""

    XOAUTH2 = "xoauth2"
    OAUTHBEARER = "oauthbearer"


def _check_url(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return f"not a URL: {value!r}"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return None  # a token endpoint on this machine (tests, a local sidecar)
    return f"expected an https:// URL (http:// only on loopback), got {value!r}"


@dataclass(frozen=True, slots=True)
class OAuth2Settings:
    """``[mailboxes.oauth2]`` / ``[smtp.oauth2]`` (see the module docstring)."""

    provider: OAuthProvider
    mechanism: SaslMechanismName = SaslMechanismName.XOAUTH2
    # "" means the provider's scope for mail (Microsoft: https://outlook.office365.com/.default,
    # Google: https://mail.google.com/); generic endpoints get none unless given.
    scope: str = ""
    tenant: str = ""
    authority: str = field(default="", metadata=meta(check=_check_url))
    client_id: str = ""
    client_secret: Secret | None = field(default=None, metadata=meta(secret=True))
    certificate: Path | None = None
    private_key: Secret | None = field(default=None, metadata=meta(secret=True))
    service_account_key: Secret | None = field(default=None, metadata=meta(secret=True))
    subject: str = ""
    refresh_token: Secret | None = field(default=None, metadata=meta(secret=True))
    token_url: str = field(default="", metadata=meta(check=_check_url))
    token_command: str = ""
    token_lifetime: dt.timedelta = field(
        default=dt.timedelta(minutes=5), metadata=meta(min=10, max=86400)
    )
    timeout: dt.timedelta = field(default=dt.timedelta(seconds=30), metadata=meta(min=1, max=600))

    def check_for(self, path: str) -> None:
        """The non-secret keys ``provider`` needs (secrets are checked at first use).

        Parameters:
            path: the table's key (``mailboxes[sales].oauth2``).

        Raises:
            ConfigError: a key the provider needs is missing.
        """
        needed: tuple[str, ...] = ()
        if self.provider is OAuthProvider.MICROSOFT:
            if not (self.tenant or self.authority):
                raise ConfigError(f"{path}.tenant: required with provider = 'microsoft'")
            needed = ("client_id",)
        elif self.provider is OAuthProvider.GENERIC:
            needed = ("token_url", "client_id")
        elif self.provider is OAuthProvider.COMMAND:
            needed = ("token_command",)
        for name in needed:
            if not getattr(self, name):
                raise ConfigError(
                    f"{path}.{name}: required with provider = '{self.provider.value}'"
                )
        if self.provider is OAuthProvider.MICROSOFT and (
            self.mechanism is SaslMechanismName.OAUTHBEARER
        ):
            raise ConfigError(
                f"{path}.mechanism: Exchange Online accepts only 'xoauth2', got 'oauthbearer'"
            )


def check_auth(path: str, auth: AuthMethod, oauth2: OAuth2Settings | None, user: str) -> None:
    """The rule every account section shares: ``auth = "oauth2"`` needs its table.

    Parameters:
        path: the section (``mailboxes[sales]`` or ``smtp``).
        auth: the account's ``auth``.
        oauth2: its ``oauth2`` table.
        user: its login name (the SASL identity).

    Raises:
        ConfigError: the table or the login name is missing, or the table is incomplete.
    """
    if auth is not AuthMethod.OAUTH2:
        return
    if oauth2 is None:
        raise ConfigError(
            f"{path}.oauth2: required when {path}.auth is 'oauth2' (add the table with "
            f"provider = 'microsoft', 'google', 'generic' or 'command')"
        )
    if not user:
        raise ConfigError(f"{path}.username: required with auth = 'oauth2' (the mailbox)")
    oauth2.check_for(f"{path}.oauth2")
