"""The gateway's mail logins, built from the settings: a password or OAuth 2.0 tokens.

- :func:`mailbox_login` (``[[mailboxes]]``) and :func:`smtp_login` (``[smtp]``) turn an
  account's ``auth`` and ``oauth2`` settings into the
  :data:`~invitegw.mailbox.transport.oauth.login.Login` the IMAP client and the SMTP sender
  take, with a :class:`~invitegw.mailbox.transport.oauth.tokens.TokenCache` over the
  provider's source (:func:`token_source`). A missing secret is a
  :class:`~invitegw.errors.ConfigError` naming its environment variable.
- A mailbox's login is kept per gateway (``gateway.mail_logins``), so every watcher tenure and
  every ``serve --once`` pass of that gateway shares one token cache.
- :func:`report_auth_changes` writes each change of the credentials of a mailbox this
  gateway watches (stopped working, works again) to the CRM's integration log (target
  ``gateway``), besides the log line
  :class:`~invitegw.mailbox.transport.oauth.health.AuthHealth` writes itself. The relay's
  refusals reach the CRM through the dispatcher, on each meeting whose messages wait.
"""

from __future__ import annotations

import dataclasses
import logging
import ssl
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from invitegw.domain.records import LogEntry, LogLevel, LogTarget
from invitegw.errors import ConfigError, GatewayError
from invitegw.gateway.config import (
    AuthMethod,
    MailboxSettings,
    OAuth2Settings,
    OAuthProvider,
    Secret,
    SmtpSettings,
    env_var_for,
)
from invitegw.mailbox.transport.oauth.health import AUTH_HEALTH, AuthHealth, AuthStatus
from invitegw.mailbox.transport.oauth.login import Login, OAuth2Login, PasswordLogin
from invitegw.mailbox.transport.oauth.sasl import SaslMechanism
from invitegw.mailbox.transport.oauth.tokens import TokenCache, TokenError, TokenSource

if TYPE_CHECKING:
    from invitegw.gateway.bootstrap import Gateway

__all__ = [
    "MailLogins",
    "imap_account_key",
    "mailbox_login",
    "report_auth_changes",
    "smtp_login",
    "token_source",
]

logger = logging.getLogger(__name__)

_lock = threading.Lock()


@dataclass
class MailLogins:
    """One gateway's mail logins, kept for its life (``Gateway.mail_logins``).

    ``logins`` maps a mailbox name to the settings it was built from and its login (a new
    login when the settings change); ``accounts`` are the health-registry accounts this
    gateway reports on; ``reporting`` is set once its reporter listens.
    """

    logins: dict[str, tuple[MailboxSettings, Login]] = field(default_factory=dict)
    accounts: set[str] = field(default_factory=set)
    reporting: bool = False


def imap_account_key(mailbox: str) -> str:
    """The health registry's key of a mailbox (``imap:sales``)."""
    return f"imap:{mailbox}"


def _secret(value: Secret | None) -> str | None:
    return value.reveal() if value is not None else None


def _missing(where: str, *names: str) -> ConfigError:
    variables = " or ".join(env_var_for(f"{where}.{name}") for name in names)
    keys = " or ".join(f"{where}.{name}" for name in names)
    return ConfigError(f"{keys}: not set (give {variables} in the environment, or *_FILE)")


def token_source(
    oauth2: OAuth2Settings,
    *,
    where: str,
    user: str,
    ssl_context: ssl.SSLContext | None = None,
) -> TokenSource:
    """The provider's token source for one account.

    Parameters:
        oauth2: the account's ``oauth2`` table.
        where: the account's section (``mailboxes[sales]``, ``smtp``).
        user: the account's login (Google's default delegation subject).
        ssl_context: how the provider's certificate is verified (default: the system's).

    Returns:
        The source (its library is imported at the first token).

    Raises:
        ConfigError: a secret the provider needs is not set, or is unusable.
    """
    o = f"{where}.oauth2"
    timeout = oauth2.timeout.total_seconds()
    try:
        return _build_source(oauth2, o, where, user, timeout, ssl_context)
    except TokenError as exc:
        raise ConfigError(str(exc)) from exc


def _build_source(
    oauth2: OAuth2Settings,
    o: str,
    where: str,
    user: str,
    timeout: float,
    ssl_context: ssl.SSLContext | None,
) -> TokenSource:
    # Imported here: each provider module is small, but none is needed for a password.
    provider = oauth2.provider
    if provider is OAuthProvider.MICROSOFT:
        from invitegw.mailbox.transport.oauth.microsoft import MicrosoftSource

        secret = _secret(oauth2.client_secret)
        key = _secret(oauth2.private_key)
        certificate: str | None = None
        if secret is None and oauth2.certificate is not None:  # a secret wins
            try:
                certificate = oauth2.certificate.read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{o}.certificate: cannot read {oauth2.certificate}") from exc
        if secret is None and (key is None or certificate is None):
            raise _missing(o, "client_secret", "private_key")
        return MicrosoftSource(
            where=where,
            tenant=oauth2.tenant,
            client_id=oauth2.client_id,
            client_secret=secret,
            private_key=key,
            certificate_pem=certificate,
            authority=oauth2.authority,
            scope=oauth2.scope,
            timeout=timeout,
            ssl_context=ssl_context,
        )
    if provider is OAuthProvider.GOOGLE:
        from invitegw.mailbox.transport.oauth.google import GoogleSource

        account_key = _secret(oauth2.service_account_key)
        refresh = _secret(oauth2.refresh_token)
        if account_key is None and (refresh is None or oauth2.client_secret is None):
            raise _missing(o, "service_account_key", "refresh_token")
        return GoogleSource(
            where=where,
            service_account_key=account_key,
            subject=oauth2.subject or user,
            client_id=oauth2.client_id,
            client_secret=_secret(oauth2.client_secret),
            refresh_token=refresh,
            token_url=oauth2.token_url,
            scope=oauth2.scope,
            timeout=timeout,
            ssl_context=ssl_context,
        )
    if provider is OAuthProvider.GENERIC:
        from invitegw.mailbox.transport.oauth.endpoint import TokenEndpointSource

        secret = _secret(oauth2.client_secret)
        refresh = _secret(oauth2.refresh_token)
        if secret is None and refresh is None:
            raise _missing(o, "client_secret", "refresh_token")
        return TokenEndpointSource(
            where=where,
            token_url=oauth2.token_url,
            client_id=oauth2.client_id,
            client_secret=secret,
            refresh_token=refresh,
            scope=oauth2.scope,
            timeout=timeout,
            ssl_context=ssl_context,
        )
    from invitegw.mailbox.transport.oauth.command import CommandSource

    return CommandSource(
        where=where,
        command=oauth2.token_command,
        lifetime=oauth2.token_lifetime.total_seconds(),
        timeout=timeout,
    )


def _login(
    *,
    where: str,
    account: str,
    user: str,
    auth: AuthMethod,
    password: Secret | None,
    oauth2: OAuth2Settings | None,
    health: AuthHealth,
    ssl_context: ssl.SSLContext | None,
) -> Login:
    if auth is AuthMethod.PASSWORD or oauth2 is None:
        if password is None:
            raise _missing(where, "password")
        return PasswordLogin(password.reveal(), where=where, account=account, health=health)
    source = token_source(oauth2, where=where, user=user, ssl_context=ssl_context)
    tokens = TokenCache(
        source, account=account, default_lifetime=oauth2.token_lifetime.total_seconds()
    )
    return OAuth2Login(
        tokens,
        SaslMechanism(oauth2.mechanism.value),
        where=where,
        account=account,
        health=health,
    )


def mailbox_login(
    gateway: Gateway | None,
    mailbox: MailboxSettings,
    *,
    health: AuthHealth | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Login:
    """The login of one ``[[mailboxes]]`` entry (kept per gateway: one token cache).

    Parameters:
        gateway: the gateway whose logins are shared and whose CRM hears of failures
            (``None``: a login of its own, e.g. for ``mailbox check``).
        mailbox: the mailbox's settings.
        health: the registry outcomes go to (default: the process's).
        ssl_context: how the token provider's certificate is verified.

    Returns:
        The login.

    Raises:
        ConfigError: the password or a secret of its ``oauth2`` table is not set.
    """

    def build() -> Login:
        return _login(
            where=f"mailboxes[{mailbox.name}]",
            account=imap_account_key(mailbox.name),
            user=mailbox.username,
            auth=mailbox.auth,
            password=mailbox.password,
            oauth2=mailbox.oauth2,
            health=health or AUTH_HEALTH,
            ssl_context=ssl_context,
        )

    if gateway is None:
        return build()
    report_auth_changes(gateway)
    with _lock:
        held = gateway.mail_logins
        held.accounts.add(imap_account_key(mailbox.name))
        found = held.logins.get(mailbox.name)
        if found is None or found[0] != mailbox:
            found = (mailbox, build())
            held.logins[mailbox.name] = found
        return found[1]


def smtp_login(
    smtp: SmtpSettings,
    *,
    health: AuthHealth | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Login | None:
    """The relay's login from ``[smtp]``, or ``None`` when no AUTH is configured.

    Parameters:
        smtp: the relay's settings.
        health: the registry outcomes go to (default: the process's).
        ssl_context: how the token provider's certificate is verified.

    Returns:
        The login, or ``None`` (no ``username``: the relay takes mail without AUTH).

    Raises:
        ConfigError: the password or a secret of ``[smtp.oauth2]`` is not set.
    """
    if not smtp.username:
        return None
    if smtp.auth is AuthMethod.PASSWORD and smtp.password is None:
        return None  # SmtpSender names the missing password itself
    return _login(
        where="smtp",
        account="smtp",
        user=smtp.username,
        auth=smtp.auth,
        password=smtp.password,
        oauth2=smtp.oauth2,
        health=health or AUTH_HEALTH,
        ssl_context=ssl_context,
    )


def report_auth_changes(gateway: Gateway, health: AuthHealth | None = None) -> None:
    """Write credential changes to the gateway's CRM integration log (once per gateway).

    Parameters:
        gateway: the gateway (its CRM, store and clock).
        health: the registry to listen to (default: the process's).
    """
    with _lock:
        held = gateway.mail_logins
        if held.reporting:
            return
        registry = health or AUTH_HEALTH
        accounts = held.accounts

        def report(status: AuthStatus) -> None:
            if status.account not in accounts:
                return  # another gateway's account (several gateways in one process: tests)
            if status.ok:
                level, text = LogLevel.INFO, f"{status.account}: the credentials work again"
            else:
                level, text = LogLevel.ERROR, f"{status.account}: {status.message}"
            entry = LogEntry(
                target=LogTarget.GATEWAY,
                target_id=status.account,
                level=level,
                message=text,
                details={"account": status.account, "failures": str(status.failures)},
            )
            try:
                with gateway.units.start() as unit:
                    unit.crm.log(dataclasses.replace(entry, created_at=unit.now))
            except GatewayError as exc:
                logger.warning("the CRM's integration log did not take %r: %s", text, exc)

        gateway.closers.append(registry.subscribe(report))
        held.reporting = True
