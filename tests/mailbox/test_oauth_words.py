"""SASL XOAUTH2/OAUTHBEARER messages (RFC 7628) and provider answers turned into words."""

from __future__ import annotations

import pytest

from invitegw.mailbox.transport.oauth.explain import (
    explain_aadsts,
    explain_google,
    explain_password_refusal,
    explain_token_refusal,
)
from invitegw.mailbox.transport.oauth.sasl import SaslExchange, SaslMechanism, initial_response


def test_oauthbearer_initial_response_follows_rfc_7628() -> None:
    # RFC 7628 section 4.1's example, without the optional host and port pairs.
    assert initial_response(SaslMechanism.OAUTHBEARER, "user@example.com", "vF9dft4qmT") == (
        b"n,a=user@example.com,\x01auth=Bearer vF9dft4qmT\x01\x01"
    )
    # RFC 5801: ',' and '=' in the identity are escaped.
    assert initial_response(SaslMechanism.OAUTHBEARER, "a,b=c", "t").startswith(b"n,a=a=2Cb=3Dc,")


def test_xoauth2_initial_response() -> None:
    assert initial_response(
        SaslMechanism.XOAUTH2,
        "someuser@example.com",
        "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
    ) == (
        b"user=someuser@example.com\x01"
        b"auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
    )


@pytest.mark.parametrize(
    ("mechanism", "dummy"), [(SaslMechanism.OAUTHBEARER, b"\x01"), (SaslMechanism.XOAUTH2, b"")]
)
def test_an_error_challenge_is_answered_and_kept(mechanism: SaslMechanism, dummy: bytes) -> None:
    exchange = SaslExchange(mechanism, "u@example.com", "secret-token")
    assert b"secret-token" in exchange(b"")
    answer = exchange(b'{"status":"invalid_token","scope":"https://mail.google.com/"}')
    assert answer == dummy  # RFC 7628 section 3.2.3 (OAUTHBEARER); XOAUTH2 wants an empty line
    assert exchange.error == {"status": "invalid_token", "scope": "https://mail.google.com/"}
    assert exchange.error_text == "scope=https://mail.google.com/, status=invalid_token"
    assert "secret-token" not in repr(exchange)


def test_exchange_online_basic_auth_disabled_points_to_oauth2() -> None:
    line = explain_password_refusal("mailboxes[sales]", "NO Basic authentication is disabled")
    assert line.startswith("mailboxes[sales]: Microsoft 365 requires OAuth 2.0: ")
    assert "set auth = \"oauth2\" and [mailboxes.oauth2] for mailbox 'sales'" in line
    smtp = explain_password_refusal(
        "smtp", "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
    )
    assert 'smtp: Microsoft 365 requires OAuth 2.0: set auth = "oauth2" and [smtp.oauth2]' in smtp
    tenant = explain_token_refusal(
        "smtp",
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
        "Tenant.",
        "",
        "XOAUTH2",
    )
    assert "Set-CASMailbox -SmtpClientAuthenticationDisabled $false" in tenant


def test_google_app_password_and_plain_refusals() -> None:
    google = explain_password_refusal(
        "mailboxes[staff]", "534-5.7.9 Application-specific password required."
    )
    assert "app password in mailboxes[staff].password" in google
    plain = explain_password_refusal(
        "mailboxes[x]", "[AUTHENTICATIONFAILED] Authentication failed."
    )
    assert "check mailboxes[x].username and mailboxes[x].password" in plain
    assert "\n" not in plain


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("7000215", "set the secret's value in mailboxes[a].oauth2.client_secret"),
        ("7000222", "has expired"),
        ("700016", "check mailboxes[a].oauth2.client_id and mailboxes[a].oauth2.tenant"),
        ("90002", "tenant was not found"),
        ("70011", "https://outlook.office365.com/.default"),
        ("65001", "admin consent for IMAP.AccessAsApp / SMTP.SendAsApp"),
        ("700027", "upload mailboxes[a].oauth2.certificate"),
    ],
)
def test_aadsts_codes_in_words(code: str, words: str) -> None:
    line = explain_aadsts(
        "mailboxes[a]", "invalid_client", f"AADSTS{code}: Something.\r\nTrace ID: x"
    )
    assert line.startswith(f"Microsoft 365 refused the token request (AADSTS{code}): ")
    assert words in line
    assert "Trace ID" not in line


def test_unknown_codes_keep_the_providers_words() -> None:
    line = explain_aadsts("smtp", "invalid_request", "AADSTS123456: Something new.")
    assert "Something new" in line
    assert "smtp.oauth2" in line
    assert "unauthorized_client" not in explain_google("smtp", "unauthorized_client", "x")
    assert "domain-wide" in explain_google("smtp", "unauthorized_client", "x")
