"""Failures in words: one line that says what went wrong and which setting to change.

The gateway's operators see these lines in ``mailbox check``/``smtp check``, in the log and
in the CRM's integration log. Providers answer in codes (Microsoft's ``AADSTS7000215``,
Google's ``unauthorized_client``, Exchange's ``NO Basic authentication is disabled``); each
known code is translated here into the step that fixes it, naming the key under the
account's section (``where``: ``mailboxes[sales]`` or ``smtp``).
"""

from __future__ import annotations

import re

__all__ = [
    "explain_aadsts",
    "explain_google",
    "explain_oauth_error",
    "explain_password_refusal",
    "explain_token_refusal",
    "oauth_table",
]

_AADSTS = re.compile(r"AADSTS(\d+)")

# Microsoft Entra ID error codes met in the client-credentials flow, and what fixes them.
# {o} is the account's oauth2 table prefix ("mailboxes[sales].oauth2").
_AADSTS_WORDS: dict[str, str] = {
    "700016": "the application (client id) is not known in this tenant: check {o}.client_id "
    "and {o}.tenant",
    "7000215": "the client secret was refused (often the secret's ID was given instead of its "
    "value): set the secret's value in {o}.client_secret",
    "7000222": "the client secret has expired: create a new one in the app registration and "
    "set it in {o}.client_secret",
    "90002": "the tenant was not found: check {o}.tenant (the directory's GUID or "
    "contoso.onmicrosoft.com)",
    "900023": "the tenant is neither a domain name nor a GUID: check {o}.tenant",
    "90023": "the request to the tenant was refused: check {o}.tenant and {o}.authority",
    "70011": "the scope was refused: set {o}.scope to https://outlook.office365.com/.default "
    "(or leave it unset)",
    "1002012": "the scope was refused (client credentials need a scope ending in /.default): "
    "set {o}.scope to https://outlook.office365.com/.default",
    "500011": "the resource is not in this tenant (Exchange Online missing, or a wrong "
    "scope): check {o}.scope and the tenant's Exchange Online licence",
    "700027": "the certificate's signature was refused: upload {o}.certificate to the app "
    "registration and check {o}.private_key belongs to it",
    "700024": "the client assertion is outside its valid time: check this machine's clock",
    "7000112": "the application is disabled in the tenant: an administrator must enable it",
    "65001": "an administrator has not consented to the application's permissions: grant "
    "admin consent for IMAP.AccessAsApp / SMTP.SendAsApp (docs/mail-providers.md)",
    "53003": "a Conditional Access policy blocked the sign-in: an administrator must exclude "
    "the application or this address",
    "50126": "the credentials were refused: check {o}.client_id and {o}.client_secret",
    "7000218": "the request lacks a client secret or certificate: set {o}.client_secret or "
    "{o}.certificate and {o}.private_key",
}

# RFC 6749 section 5.2 error codes (every standard token endpoint, Google's too).
_OAUTH_WORDS: dict[str, str] = {
    "invalid_client": "the client was refused (unknown, revoked, or a wrong secret): check "
    "{o}.client_id and {o}.client_secret",
    "invalid_grant": "the grant was refused (the refresh token expired or was revoked, or a "
    "delegated subject is unknown): check {o}.refresh_token or {o}.subject",
    "unauthorized_client": "the client may not use this grant or scope: check {o}.scope and "
    "the client's permissions at the provider",
    "unsupported_grant_type": "the token endpoint does not support this flow: check "
    "{o}.provider and {o}.token_url",
    "invalid_scope": "the scope was refused: check {o}.scope",
    "invalid_request": "the token request was refused as malformed: check {o}.token_url and "
    "{o}.client_id",
    "access_denied": "the provider denied access: check the client's permissions",
}

# Google's token endpoint adds its own words to the RFC codes.
_GOOGLE_WORDS: dict[str, str] = {
    "unauthorized_client": "the service account may not act for this mailbox: domain-wide "
    "delegation is "
    "not set up for its client id with the scope https://mail.google.com/ (Admin console > "
    "Security > API controls), or {o}.scope differs",
    "invalid_grant": "the grant was refused: {o}.subject must be an existing user of the "
    "Workspace domain, and a refresh token must not be expired or revoked ({o}.refresh_token)",
}


def oauth_table(where: str) -> str:
    """The key prefix of an account's token settings (``mailboxes[sales].oauth2``).

    Parameters:
        where: the account's section (``mailboxes[sales]`` or ``smtp``).

    Returns:
        The prefix.
    """
    return f"{where}.oauth2"


def _toml_table(where: str) -> str:
    """``[mailboxes.oauth2] for mailbox 'sales'`` for ``mailboxes[sales]``; ``[smtp.oauth2]``."""
    section, _, rest = where.partition("[")
    table = f"[{section}.oauth2]"
    if not rest:
        return table
    return f"{table} for {section.removesuffix('es')} {rest.rstrip(']')!r}"


def explain_aadsts(where: str, error: str, description: str) -> str:
    """Microsoft's answer in words.

    Parameters:
        where: the account's section.
        error: the OAuth error code (``invalid_client``).
        description: Microsoft's ``error_description`` (starts with ``AADSTS<code>:``).

    Returns:
        One line naming the setting.
    """
    o = oauth_table(where)
    match = _AADSTS.search(description)
    code = match.group(1) if match else ""
    first = description.split("\r\n", 1)[0].split("\n", 1)[0].strip()
    words = _AADSTS_WORDS.get(code)
    if words is not None:
        return f"Microsoft 365 refused the token request (AADSTS{code}): {words.format(o=o)}"
    fallback = _OAUTH_WORDS.get(error)
    detail = f" ({first[:200]})" if first else ""
    if fallback is not None:
        return f"Microsoft 365 refused the token request: {fallback.format(o=o)}{detail}"
    return f"Microsoft 365 refused the token request: {error or 'error'}{detail}"


def explain_google(where: str, error: str, description: str) -> str:
    """Google's token endpoint answer in words (see :func:`explain_oauth_error`)."""
    o = oauth_table(where)
    words = _GOOGLE_WORDS.get(error) or _OAUTH_WORDS.get(error)
    detail = f" ({description[:200]})" if description else ""
    if words is None:
        return f"Google refused the token request: {error or 'error'}{detail}"
    return f"Google refused the token request: {words.format(o=o)}{detail}"


def explain_oauth_error(where: str, provider: str, error: str, description: str) -> str:
    """A standard token endpoint's error response (RFC 6749 section 5.2) in words.

    Parameters:
        where: the account's section.
        provider: who answered ("the token endpoint https://...").
        error: the ``error`` code.
        description: the ``error_description``, if any.

    Returns:
        One line naming the setting.
    """
    o = oauth_table(where)
    words = _OAUTH_WORDS.get(error)
    detail = f" ({description[:200]})" if description else ""
    if words is None:
        return f"{provider} refused the token request: {error or 'error'}{detail}"
    return f"{provider} refused the token request: {words.format(o=o)}{detail}"


def explain_password_refusal(where: str, server_text: str) -> str:
    """A refused password login in words, spotting providers that want OAuth 2.0.

    Parameters:
        where: the account's section.
        server_text: the server's refusal (``NO Basic authentication is disabled``).

    Returns:
        One line naming the setting.
    """
    text = server_text.strip()
    lowered = text.lower()
    table = _toml_table(where)
    if "basic authentication is disabled" in lowered or (
        "5.7.139" in lowered and "basic" in lowered
    ):
        return (
            f'{where}: Microsoft 365 requires OAuth 2.0: set auth = "oauth2" and {table} '
            f'(provider = "microsoft", tenant, client_id; see docs/mail-providers.md) '
            f"[server: {text[:160]}]"
        )
    if "smtpclientauthentication is disabled" in lowered:
        return (
            f"{where}: SMTP AUTH is disabled for this tenant or mailbox: an Exchange "
            "administrator must run Set-CASMailbox -SmtpClientAuthenticationDisabled $false "
            f"(docs/mail-providers.md) [server: {text[:160]}]"
        )
    if "application-specific password required" in lowered or "5.7.9" in lowered:
        return (
            f"{where}: Google requires an app password or OAuth 2.0: set an app password in "
            f'{where}.password, or auth = "oauth2" and {table} (provider = "google") '
            f"[server: {text[:160]}]"
        )
    keys = (
        f"{where}.username and {where}.password"
        if where.startswith(("mailboxes[", "smtp"))
        else "the username and password"
    )
    return f"{where}: the server refused the login: check {keys} [server: {text[:160]}]"


def explain_token_refusal(where: str, server_text: str, sasl_error: str, mechanism: str) -> str:
    """A bearer token the server refused (after one refresh) in words.

    Parameters:
        where: the account's section.
        server_text: the server's final answer (``NO AUTHENTICATE failed.``).
        sasl_error: the JSON error challenge in words (``status=invalid_token``), if any.
        mechanism: the SASL mechanism used.

    Returns:
        One line naming the setting.
    """
    o = oauth_table(where)
    detail = "; ".join(p for p in (server_text.strip()[:160], sasl_error[:160]) if p)
    lowered = server_text.lower()
    if "smtpclientauthentication is disabled" in lowered:
        return (
            f"{where}: SMTP AUTH is disabled for this tenant or mailbox: an Exchange "
            "administrator must run Set-CASMailbox -SmtpClientAuthenticationDisabled $false "
            f"[server: {detail}]"
        )
    return (
        f"{where}: the server refused the OAuth 2.0 token ({mechanism}) even after a refresh: "
        f"check that the application may use this mailbox ({where}.username; for Exchange "
        f"Online the service principal and its FullAccess/SendAs permission) and {o}.scope "
        f"[server: {detail}]"
    )
