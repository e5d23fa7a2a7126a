"""A standard OAuth 2.0 token endpoint: client credentials or a refresh token (RFC 6749).

For any provider other than Microsoft and Google (Keycloak, Okta, Zitadel, a company's own
authorization server): ``POST`` to the token endpoint with ``grant_type=client_credentials``
(section 4.4) or ``grant_type=refresh_token`` (section 6), the client authenticated with
HTTP Basic (section 2.3.1, which every server must accept), and read ``access_token`` and
``expires_in`` from the JSON answer (section 5.1) or ``error`` from the refusal (5.2).

A server may answer a refresh with a new refresh token and revoke the old one (section 6):
the new one is kept in memory for the next refresh (it cannot be written back to the
environment it came from; a restart starts again from the configured one).
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any
from urllib.parse import quote_plus

import httpx

from invitegw.mailbox.transport.oauth.explain import explain_oauth_error
from invitegw.mailbox.transport.oauth.tokens import IssuedToken, TokenError

__all__ = ["TokenEndpointSource", "parse_token_response"]

logger = logging.getLogger(__name__)

_MAX_BODY = 64 * 1024


def parse_token_response(response: httpx.Response, *, where: str, provider: str) -> dict[str, Any]:
    """The JSON of a token endpoint's answer, or the refusal as :class:`TokenError`.

    Parameters:
        response: the HTTP response.
        where: the account's section, for the message.
        provider: who answered, for the message.

    Returns:
        The successful answer (it has an ``access_token``).

    Raises:
        TokenError: a refusal (4xx with an ``error``), a server error (transient), or an
            answer that is not a token.
    """
    body: Any = None
    if len(response.content) <= _MAX_BODY:
        try:
            body = response.json()
        except ValueError:
            body = None
    if response.status_code >= 500:
        raise TokenError(
            f"{where}: {provider} answered HTTP {response.status_code}; trying again later",
            transient=True,
        )
    if isinstance(body, dict) and response.status_code == 200 and body.get("access_token"):
        return body
    if isinstance(body, dict) and body.get("error"):
        raise TokenError(
            f"{where}: "
            + explain_oauth_error(
                where, provider, str(body["error"]), str(body.get("error_description") or "")
            )
        )
    raise TokenError(
        f"{where}: {provider} answered HTTP {response.status_code} without a token: "
        f"check {where}.oauth2.token_url"
    )


def lifetime_of(body: dict[str, Any]) -> float | None:
    """``expires_in`` as seconds, when the answer has a usable one."""
    value = body.get("expires_in")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class TokenEndpointSource:
    """Tokens from a standard token endpoint (see the module docstring).

    Parameters:
        where: the account's section (``mailboxes[sales]``), for messages.
        token_url: the endpoint (https, or http on loopback).
        client_id: the client.
        client_secret: the client's secret (``None`` for a public client with a refresh
            token).
        refresh_token: use the refresh-token grant instead of client credentials.
        scope: space-separated scopes to ask for ("" asks for the client's default).
        timeout: seconds for the request.
        ssl_context: how the endpoint's certificate is verified.
    """

    def __init__(
        self,
        *,
        where: str,
        token_url: str,
        client_id: str,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        scope: str = "",
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._where = where
        self._url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._refresh_token = refresh_token
        self._scope = scope
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        grant = "refresh token" if refresh_token else "client credentials"
        self._description = f"the token endpoint {token_url} ({grant})"

    def __repr__(self) -> str:
        return f"TokenEndpointSource({self._description!r})"

    @property
    def description(self) -> str:
        """The endpoint and the grant."""
        return self._description

    def fetch(self) -> IssuedToken:
        """POST the grant and read the token.

        Returns:
            The token and its lifetime.

        Raises:
            TokenError: refused, unreachable, or not a token.
        """
        with self._lock:
            data = {"grant_type": "client_credentials"}
            if self._refresh_token:
                data = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
            if self._scope:
                data["scope"] = self._scope
            auth: httpx.BasicAuth | None = None
            if self._secret is not None:
                # RFC 6749 section 2.3.1: every server must accept HTTP Basic, with id
                # and secret form-urlencoded first.
                auth = httpx.BasicAuth(quote_plus(self._client_id), quote_plus(self._secret))
            else:
                data["client_id"] = self._client_id  # a public client names itself
            context: ssl.SSLContext | bool = self._ssl_context or ssl.create_default_context()
            try:
                with httpx.Client(verify=context, timeout=self._timeout) as client:
                    response = client.post(
                        self._url,
                        data=data,
                        auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                        headers={"Accept": "application/json"},
                    )
            except httpx.HTTPError as exc:
                raise TokenError(
                    f"{self._where}: the token endpoint {self._url} could not be reached "
                    f"({type(exc).__name__}: {exc}); check {self._where}.oauth2.token_url",
                    transient=True,
                ) from exc
            body = parse_token_response(response, where=self._where, provider=self._description)
            rotated = body.get("refresh_token")
            if self._refresh_token and isinstance(rotated, str) and rotated != self._refresh_token:
                logger.info(
                    "%s: the token endpoint issued a new refresh token; it is kept in memory",
                    self._where,
                )
                self._refresh_token = rotated
            return IssuedToken(str(body["access_token"]), lifetime_of(body))
