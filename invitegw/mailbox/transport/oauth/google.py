"""Google Workspace tokens with google-auth, Google's own library.

Two flows, both for the scope ``https://mail.google.com/`` (the only one Gmail's IMAP and
SMTP accept):

- a **service account with domain-wide delegation**: the service account's JSON key signs
  a JWT naming the mailbox as its subject (RFC 7523 JWT bearer grant); a Workspace
  administrator has allowed the account's client id that scope (docs/mail-providers.md);
- a **refresh token** from an installed-app consent (a user ran the consent once) with the
  OAuth client's id and secret.

google-auth is imported only when an account uses this provider. Its token endpoint is the
key's ``token_uri`` (``https://oauth2.googleapis.com/token``) unless ``token_url`` replaces it.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import ssl
import threading
from typing import Any

from invitegw.mailbox.transport.oauth.explain import explain_google
from invitegw.mailbox.transport.oauth.httpsession import requests_session
from invitegw.mailbox.transport.oauth.tokens import IssuedToken, TokenError

__all__ = ["GOOGLE_SCOPE", "GOOGLE_TOKEN_URL", "GoogleSource"]

GOOGLE_SCOPE = "https://mail.google.com/"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL


class GoogleSource:
    """Tokens for a Google Workspace mailbox (see the module docstring).

    Parameters:
        where: the account's section, for messages.
        service_account_key: the service account's JSON key (domain-wide delegation).
        subject: the mailbox the service account acts for.
        client_id: the OAuth client (refresh-token flow).
        client_secret: its secret (refresh-token flow).
        refresh_token: the refresh token (refresh-token flow).
        token_url: replaces the key's ``token_uri`` / Google's token endpoint.
        scope: the scope (default ``https://mail.google.com/``).
        timeout: seconds per HTTP request.
        ssl_context: how Google's certificate is verified.

    Raises:
        TokenError: neither flow's parts are all given, or the key is not a service
            account key.
    """

    def __init__(
        self,
        *,
        where: str,
        service_account_key: str | None = None,
        subject: str = "",
        client_id: str = "",
        client_secret: str | None = None,
        refresh_token: str | None = None,
        token_url: str = "",
        scope: str = GOOGLE_SCOPE,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._where = where
        self._scope = scope or GOOGLE_SCOPE
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._credentials: Any = None
        self._info: dict[str, Any] | None = None
        o = f"{where}.oauth2"
        if service_account_key is not None:
            try:
                info = json.loads(service_account_key)
            except ValueError as exc:
                raise TokenError(
                    f"{o}.service_account_key: not JSON (give the service account's key file)"
                ) from exc
            if not isinstance(info, dict) or info.get("type") != "service_account":
                raise TokenError(f"{o}.service_account_key: not a service account key")
            if token_url:
                info = {**info, "token_uri": token_url}
            info.setdefault("token_uri", GOOGLE_TOKEN_URL)
            if not subject:
                raise TokenError(f"{o}.subject: the mailbox to act for is required")
            self._info = info
            self._subject = subject
            self._description = (
                f"Google (service account {info.get('client_email', '?')} for {subject})"
            )
        elif client_id and client_secret is not None and refresh_token is not None:
            self._client_id = client_id
            self._client_secret = client_secret
            self._refresh_token = refresh_token
            self._token_url = token_url or GOOGLE_TOKEN_URL
            self._description = f"Google (refresh token of client {client_id})"
        else:
            raise TokenError(
                f"{o}: Google needs service_account_key (with subject), or client_id, "
                f"client_secret and refresh_token"
            )

    def __repr__(self) -> str:
        return f"GoogleSource({self._description!r})"

    @property
    def description(self) -> str:
        """The flow and who it acts for."""
        return self._description

    def _make_credentials(self) -> Any:
        if self._info is not None:
            service_account = importlib.import_module("google.oauth2.service_account")
            try:
                return service_account.Credentials.from_service_account_info(
                    self._info, scopes=[self._scope], subject=self._subject
                )
            except ValueError as exc:
                raise TokenError(
                    f"{self._where}.oauth2.service_account_key: unusable ({exc})"
                ) from exc
        user = importlib.import_module("google.oauth2.credentials")
        return user.Credentials(
            token=None,
            refresh_token=self._refresh_token,
            token_uri=self._token_url,
            client_id=self._client_id,
            client_secret=self._client_secret,
            scopes=[self._scope],
        )

    def fetch(self) -> IssuedToken:
        """Refresh the credentials and return the new token.

        Returns:
            The token and its lifetime.

        Raises:
            TokenError: Google refused (in words) or was unreachable.
        """
        exceptions = importlib.import_module("google.auth.exceptions")
        transport = importlib.import_module("google.auth.transport.requests")
        with self._lock:
            if self._credentials is None:
                self._credentials = self._make_credentials()
            credentials = self._credentials
            request = transport.Request(session=requests_session(self._ssl_context, self._timeout))
            try:
                credentials.refresh(request)
            except exceptions.RefreshError as exc:
                error, description = _refresh_error(exc)
                raise TokenError(
                    f"{self._where}: " + explain_google(self._where, error, description)
                ) from exc
            except exceptions.TransportError as exc:
                raise TokenError(
                    f"{self._where}: Google's token endpoint could not be reached ({exc})",
                    transient=True,
                ) from exc
            lifetime: float | None = None
            expiry = getattr(credentials, "expiry", None)
            if isinstance(expiry, dt.datetime):
                # google-auth keeps expiry as naive UTC.
                now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                lifetime = (expiry - now).total_seconds()
            return IssuedToken(str(credentials.token or ""), lifetime)


def _refresh_error(exc: Exception) -> tuple[str, str]:
    """(error, error_description) of a google-auth ``RefreshError``."""
    for arg in exc.args[1:]:
        if isinstance(arg, dict) and arg.get("error"):
            return str(arg["error"]), str(arg.get("error_description") or "")
    text = str(exc.args[0]) if exc.args else str(exc)
    error, _, description = text.partition(":")
    return error.strip(), description.strip()
