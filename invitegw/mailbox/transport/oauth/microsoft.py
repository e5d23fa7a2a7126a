"""Microsoft 365 app-only tokens (client credentials) with MSAL, Microsoft's own library.

A service that watches shared mailboxes signs in as itself, not as a user: an app
registration in Microsoft Entra ID with the ``IMAP.AccessAsApp`` / ``SMTP.SendAsApp``
application permissions, authenticated by a client secret or a certificate, asks for the
scope ``https://outlook.office365.com/.default`` (docs/mail-providers.md). MSAL builds the
request (a client assertion JWT for a certificate), caches the token in memory and
understands Entra's answers; ``msal`` is imported only when an account uses this provider.

The authority defaults to ``https://login.microsoftonline.com/<tenant>``; another one
(a national cloud, or a test endpoint on loopback) skips MSAL's instance discovery,
which would otherwise ask Microsoft whether that host is known.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import ssl
import threading
from typing import Any

from invitegw.mailbox.transport.oauth.explain import explain_aadsts
from invitegw.mailbox.transport.oauth.httpsession import requests_session
from invitegw.mailbox.transport.oauth.tokens import IssuedToken, TokenError

__all__ = ["MICROSOFT_AUTHORITY", "MICROSOFT_SCOPE", "MicrosoftSource", "thumbprint"]

logger = logging.getLogger(__name__)

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
MICROSOFT_SCOPE = "https://outlook.office365.com/.default"


def thumbprint(certificate_pem: str) -> str:
    """The certificate's SHA-1 thumbprint, as Entra ID lists it (hex).

    Parameters:
        certificate_pem: the public certificate (PEM).

    Returns:
        The thumbprint.

    Raises:
        ValueError: not a PEM certificate.
    """
    der = ssl.PEM_cert_to_DER_cert(certificate_pem.strip() + "\n")
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


class MicrosoftSource:
    """App-only tokens for Exchange Online (see the module docstring).

    Parameters:
        where: the account's section, for messages.
        tenant: the directory (GUID or ``contoso.onmicrosoft.com``).
        client_id: the app registration's application (client) id.
        client_secret: the secret's value, or ``None`` with a certificate.
        private_key: the certificate's private key (PEM), with ``certificate_pem``.
        certificate_pem: the public certificate uploaded to the app registration.
        authority: overrides ``https://login.microsoftonline.com/<tenant>``.
        scope: the scope (default ``https://outlook.office365.com/.default``).
        timeout: seconds per HTTP request.
        ssl_context: how Entra's certificate is verified.
    """

    def __init__(
        self,
        *,
        where: str,
        tenant: str,
        client_id: str,
        client_secret: str | None = None,
        private_key: str | None = None,
        certificate_pem: str | None = None,
        authority: str = "",
        scope: str = MICROSOFT_SCOPE,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if client_secret is None and (private_key is None or certificate_pem is None):
            raise TokenError(
                f"{where}: Microsoft 365 needs {where}.oauth2.client_secret, or "
                f"{where}.oauth2.certificate with {where}.oauth2.private_key"
            )
        self._where = where
        self._client_id = client_id
        self._authority = authority.rstrip("/") or f"{MICROSOFT_AUTHORITY}/{tenant}"
        self._scope = scope or MICROSOFT_SCOPE
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._credential: str | dict[str, str]
        if client_secret is not None:
            self._credential = client_secret
        else:
            assert private_key is not None
            assert certificate_pem is not None
            try:
                print_ = thumbprint(certificate_pem)
            except ValueError as exc:
                raise TokenError(
                    f"{where}.oauth2.certificate: not a PEM certificate ({exc})"
                ) from exc
            self._credential = {"private_key": private_key, "thumbprint": print_}
        self._app: Any = None
        self._lock = threading.Lock()
        kind = "secret" if client_secret is not None else "certificate"
        self._description = f"Microsoft 365 ({self._authority}, client credentials with a {kind})"

    def __repr__(self) -> str:
        return f"MicrosoftSource({self._description!r})"

    @property
    def description(self) -> str:
        """The authority and the credential kind."""
        return self._description

    def _application(self) -> Any:
        if self._app is not None:
            return self._app
        msal = importlib.import_module("msal")
        custom = not self._authority.lower().startswith(MICROSOFT_AUTHORITY)
        try:
            self._app = msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._credential,
                authority=self._authority,
                http_client=requests_session(self._ssl_context, self._timeout),
                # A custom authority is not in Microsoft's list of known hosts: asking
                # Microsoft about it would leave this network, and fail for a test one.
                instance_discovery=False if custom else None,
            )
        except ValueError as exc:
            # MSAL's tenant discovery failed: an unknown tenant or an unreachable authority.
            raise TokenError(
                f"{self._where}: Microsoft 365 does not know the tenant or authority "
                f"{self._authority}: check {self._where}.oauth2.tenant "
                f"({str(exc).splitlines()[0][:200]})"
            ) from exc
        except OSError as exc:  # requests' ConnectionError is an OSError
            raise TokenError(
                f"{self._where}: {self._authority} could not be reached ({exc})", transient=True
            ) from exc
        return self._app

    def fetch(self) -> IssuedToken:
        """Ask MSAL for a new token (bypassing its cache: ours decides when to refresh).

        Returns:
            The token and its lifetime.

        Raises:
            TokenError: Entra refused (the AADSTS code in words) or was unreachable.
        """
        with self._lock:
            app = self._application()
            # MSAL answers from its own cache while the token is valid; when we fetch, the
            # cached one was refused or is about to expire: drop it first.
            cache = app.token_cache
            for entry in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(entry)
            try:
                result = app.acquire_token_for_client(scopes=[self._scope])
            except OSError as exc:
                raise TokenError(
                    f"{self._where}: {self._authority} could not be reached ({exc})",
                    transient=True,
                ) from exc
            except Exception as exc:  # MSAL's and PyJWT's own errors stop at this adapter
                key = f"{self._where}.oauth2.private_key"
                raise TokenError(
                    f"{self._where}: MSAL could not build the token request "
                    f"({type(exc).__name__}: {str(exc)[:160]}); with a certificate, {key} "
                    "must be the certificate's RSA key"
                ) from exc
            if isinstance(result, dict) and result.get("access_token"):
                lifetime = result.get("expires_in")
                return IssuedToken(
                    str(result["access_token"]),
                    float(lifetime) if isinstance(lifetime, int | float) else None,
                )
            result = result if isinstance(result, dict) else {}
            raise TokenError(
                f"{self._where}: "
                + explain_aadsts(
                    self._where,
                    str(result.get("error") or ""),
                    str(result.get("error_description") or ""),
                )
            )
