"""The token sources against the loopback OAuth 2.0 server (tests/fixtures/oauth_server.py).

What runs against what: MSAL (client secret and certificate) and google-auth (service
account with delegation, and a refresh token) send their real HTTP requests to the
loopback server, which checks them the way Entra ID / Google would (secret, signed client
assertion with the certificate's thumbprint, RS256 JWT-bearer assertion with subject and
scope); Microsoft's and Google's own hosts are never contacted (MSAL's instance discovery
is off for a custom authority). The generic source speaks RFC 6749 to the same server, and
``token_command`` runs real child processes.
"""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from pathlib import Path

import pytest
import trustme

from invitegw.mailbox.transport.oauth.command import CommandSource
from invitegw.mailbox.transport.oauth.endpoint import TokenEndpointSource
from invitegw.mailbox.transport.oauth.google import GoogleSource
from invitegw.mailbox.transport.oauth.microsoft import MICROSOFT_SCOPE, MicrosoftSource, thumbprint
from invitegw.mailbox.transport.oauth.tokens import IssuedToken, TokenCache, TokenError
from tests.fixtures.oauth_server import JWT_BEARER, OAuthServer

WHERE = "mailboxes[sales]"


@pytest.fixture(scope="module")
def app_ca() -> trustme.CA:
    """RSA keys for app certificates and service accounts (google-auth signs RS256)."""
    return trustme.CA(key_type=trustme.KeyType.RSA)


def _unique(request: pytest.FixtureRequest, prefix: str) -> str:
    return f"{prefix}-{request.node.name}"[:60]


# -- the cache ---------------------------------------------------------------------------------


class CountingSource:
    description = "a counting source"

    def __init__(self, lifetime: float | None) -> None:
        self.lifetime = lifetime
        self.calls = 0

    def fetch(self) -> IssuedToken:
        self.calls += 1
        return IssuedToken(f"token-{self.calls}", self.lifetime)


def test_cache_reuses_until_shortly_before_expiry_and_drops_a_refused_token() -> None:
    now = [1000.0]
    source = CountingSource(3600)
    cache = TokenCache(source, clock=lambda: now[0])
    assert cache.get() == "token-1"
    now[0] += 3600 - 121  # more than the 120 s margin left: reused
    assert cache.get() == "token-1"
    now[0] += 2  # inside the margin: refreshed before it expires
    assert cache.get() == "token-2"
    cache.invalidate("token-1")  # an old value: no effect
    assert cache.get() == "token-2"
    cache.invalidate("token-2")  # the server refused the current one
    assert cache.get() == "token-3"
    assert source.calls == cache.fetches == 3


def test_short_tokens_get_a_proportional_margin_and_no_lifetime_means_the_default() -> None:
    now = [0.0]
    short = CountingSource(10)
    cache = TokenCache(short, clock=lambda: now[0])
    cache.get()
    now[0] = 8.9  # margin is a tenth of 10 s
    cache.get()
    assert short.calls == 1
    now[0] = 9.1
    cache.get()
    assert short.calls == 2
    silent = CountingSource(None)
    cache = TokenCache(silent, default_lifetime=50, clock=lambda: now[0])
    cache.get()
    now[0] += 44
    cache.get()
    assert silent.calls == 1
    assert "token" not in repr(cache)
    assert "token-" not in repr(IssuedToken("token-9", 1))


# -- generic RFC 6749 endpoint --------------------------------------------------------------


def test_generic_client_credentials(oauth_server: OAuthServer, request: pytest.FixtureRequest):
    client = _unique(request, "generic")
    oauth_server.add_client(client, "box@example.test", secret="s+cret/with=signs")
    source = TokenEndpointSource(
        where=WHERE,
        token_url=oauth_server.token_url,
        client_id=client,
        client_secret="s+cret/with=signs",
        scope="mail",
        ssl_context=oauth_server.client_context(),
    )
    issued = source.fetch()
    assert oauth_server.check(issued.value) == "box@example.test"
    assert issued.lifetime == oauth_server.lifetime
    [sent] = [r for r in oauth_server.requests if r.client_id == client]
    assert (sent.grant_type, sent.scope, sent.issued) == ("client_credentials", "mail", True)


def test_generic_refresh_token_and_a_refusal_in_words(
    oauth_server: OAuthServer, request: pytest.FixtureRequest
) -> None:
    client = _unique(request, "refresh")
    oauth_server.add_client(client, "box@example.test", secret="pw")
    refresh = oauth_server.add_refresh_token(client)
    good = TokenEndpointSource(
        where=WHERE,
        token_url=oauth_server.token_url,
        client_id=client,
        client_secret="pw",
        refresh_token=refresh,
        ssl_context=oauth_server.client_context(),
    )
    assert oauth_server.check(good.fetch().value) == "box@example.test"
    bad = TokenEndpointSource(
        where=WHERE,
        token_url=oauth_server.token_url,
        client_id=client,
        client_secret="pw",
        refresh_token="rt-revoked",
        ssl_context=oauth_server.client_context(),
    )
    with pytest.raises(TokenError) as caught:
        bad.fetch()
    message = str(caught.value)
    assert "mailboxes[sales].oauth2.refresh_token" in message
    assert "rt-revoked" not in message
    assert not caught.value.transient


def test_an_unreachable_endpoint_is_transient(oauth_server: OAuthServer) -> None:
    source = TokenEndpointSource(
        where=WHERE, token_url="https://127.0.0.1:9/token", client_id="c", client_secret="s"
    )
    with pytest.raises(TokenError, match=r"could not be reached.*oauth2\.token_url") as caught:
        source.fetch()
    assert caught.value.transient


# -- Microsoft 365 with MSAL ----------------------------------------------------------------


def _microsoft(oauth_server: OAuthServer, client: str, **kwargs: str) -> MicrosoftSource:
    return MicrosoftSource(
        where=WHERE,
        tenant="ignored-with-an-authority",
        client_id=client,
        authority=oauth_server.authority,
        ssl_context=oauth_server.client_context(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_msal_client_secret(oauth_server: OAuthServer, request: pytest.FixtureRequest) -> None:
    client = _unique(request, "msal")
    oauth_server.add_client(client, "shared@contoso.test", secret="value-not-id")
    source = _microsoft(oauth_server, client, client_secret="value-not-id")
    first = source.fetch()
    second = source.fetch()  # MSAL's own cache is bypassed: ours decides when to refresh
    assert first.value != second.value
    assert oauth_server.check(second.value) == "shared@contoso.test"
    asked = [r for r in oauth_server.requests if r.client_id == client]
    assert [r.scope for r in asked] == [MICROSOFT_SCOPE, MICROSOFT_SCOPE]
    assert {r.grant_type for r in asked} == {"client_credentials"}


def test_msal_certificate_sends_a_signed_assertion_with_the_thumbprint(
    oauth_server: OAuthServer, app_ca: trustme.CA, request: pytest.FixtureRequest
) -> None:
    client = _unique(request, "msal-cert")
    cert = app_ca.issue_cert("invitegw-app.contoso.test", key_type=trustme.KeyType.RSA)
    certificate = cert.cert_chain_pems[0].bytes()
    oauth_server.add_client(client, "shared@contoso.test", certificate_pem=certificate)
    source = _microsoft(
        oauth_server,
        client,
        private_key=cert.private_key_pem.bytes().decode(),
        certificate_pem=certificate.decode(),
    )
    issued = source.fetch()
    assert oauth_server.check(issued.value) == "shared@contoso.test"
    [sent] = [r for r in oauth_server.requests if r.client_id == client]
    assert sent.assertion_claims["iss"] == sent.assertion_claims["sub"] == client
    assert sent.assertion_claims["aud"].endswith("/oauth2/v2.0/token")
    assert "x5t" in sent.assertion_header or "x5t#S256" in sent.assertion_header
    assert len(thumbprint(certificate.decode())) == 40


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("wrong", r"AADSTS7000215.*secret's value.*mailboxes\[sales\]\.oauth2\.client_secret"),
    ],
)
def test_msal_refusals_are_translated(
    oauth_server: OAuthServer, request: pytest.FixtureRequest, secret: str, expected: str
) -> None:
    client = _unique(request, "msal-bad")
    oauth_server.add_client(client, "shared@contoso.test", secret="right")
    with pytest.raises(TokenError, match=expected):
        _microsoft(oauth_server, client, client_secret=secret).fetch()
    with pytest.raises(TokenError, match=r"AADSTS700016.*oauth2\.client_id and .*oauth2\.tenant"):
        _microsoft(oauth_server, client + "-unknown", client_secret=secret).fetch()
    oauth_server.revoke_client(client)
    with pytest.raises(TokenError, match=r"AADSTS7000222.*expired.*oauth2\.client_secret"):
        _microsoft(oauth_server, client, client_secret="right").fetch()


# -- Google with google-auth ----------------------------------------------------------------


def _service_account_key(app_ca: trustme.CA, email: str, token_uri: str) -> tuple[str, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    leaf = app_ca.issue_cert(email.split("@")[0] + ".example.test", key_type=trustme.KeyType.RSA)
    public = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).public_key()
    key = {
        "type": "service_account",
        "client_email": email,
        "private_key_id": "k1",
        "private_key": leaf.private_key_pem.bytes().decode(),
        "client_id": "1234567890",
        "token_uri": token_uri,
    }
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return json.dumps(key), pem


def test_google_service_account_with_delegation(
    oauth_server: OAuthServer, app_ca: trustme.CA, request: pytest.FixtureRequest
) -> None:
    email = _unique(request, "gw").replace("_", "-") + "@proj.iam.gserviceaccount.com"
    key, public = _service_account_key(app_ca, email, "https://oauth2.googleapis.com/token")
    oauth_server.add_service_account(email, public, {"staff@example.test"})
    source = GoogleSource(
        where=WHERE,
        service_account_key=key,
        subject="staff@example.test",
        token_url=oauth_server.token_url,  # the key's token_uri is replaced: no call to Google
        ssl_context=oauth_server.client_context(),
    )
    issued = source.fetch()
    assert oauth_server.check(issued.value) == "staff@example.test"
    assert issued.lifetime is not None
    assert 3500 < issued.lifetime <= 3600
    [sent] = [r for r in oauth_server.requests if r.client_id == email]
    assert sent.grant_type == JWT_BEARER
    assert sent.assertion_claims["sub"] == "staff@example.test"
    assert sent.assertion_claims["scope"] == "https://mail.google.com/"
    undelegated = GoogleSource(
        where=WHERE,
        service_account_key=key,
        subject="boss@example.test",
        token_url=oauth_server.token_url,
        ssl_context=oauth_server.client_context(),
    )
    with pytest.raises(TokenError, match=r"domain-wide delegation is not set up"):
        undelegated.fetch()


def test_google_refresh_token(oauth_server: OAuthServer, request: pytest.FixtureRequest) -> None:
    client = _unique(request, "installed")
    oauth_server.add_client(client, "staff@example.test", secret="gsecret")
    refresh = oauth_server.add_refresh_token(client)
    source = GoogleSource(
        where=WHERE,
        client_id=client,
        client_secret="gsecret",
        refresh_token=refresh,
        token_url=oauth_server.token_url,
        ssl_context=oauth_server.client_context(),
    )
    assert oauth_server.check(source.fetch().value) == "staff@example.test"
    [sent] = [r for r in oauth_server.requests if r.client_id == client]
    assert (sent.grant_type, sent.scope) == ("refresh_token", "https://mail.google.com/")


def test_google_needs_one_complete_flow() -> None:
    with pytest.raises(TokenError, match="service_account_key"):
        GoogleSource(where=WHERE, client_id="only-an-id")
    with pytest.raises(TokenError, match="not a service account key"):
        GoogleSource(where=WHERE, service_account_key='{"type": "authorized_user"}', subject="a")


# -- token_command ----------------------------------------------------------------------------


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "token.py"
    path.write_text(textwrap.dedent(body))
    return f"{sys.executable} {path}"


def test_token_command_bare_token_and_json(tmp_path: Path) -> None:
    bare = CommandSource(
        where=WHERE,
        command=_script(tmp_path, "print('tok-from-vault')\nprint('ignored')\n"),
        lifetime=120,
        timeout=10,
    )
    assert bare.fetch() == IssuedToken("tok-from-vault", 120)
    shaped = CommandSource(
        where=WHERE,
        command=_script(
            tmp_path, "import json; print(json.dumps({'access_token': 'j', 'expires_in': 99}))"
        ),
        lifetime=120,
        timeout=10,
    )
    assert shaped.fetch() == IssuedToken("j", 99.0)


def test_token_command_failures_name_the_setting(tmp_path: Path) -> None:
    failing = CommandSource(
        where=WHERE,
        command=_script(tmp_path, "import sys; sys.stderr.write('vault sealed\\n'); sys.exit(3)"),
        lifetime=60,
        timeout=10,
    )
    with pytest.raises(TokenError, match=r"oauth2\.token_command: .* exited with 3: vault sealed"):
        failing.fetch()
    with pytest.raises(TokenError, match="not found"):
        CommandSource(where=WHERE, command="/nonexistent/tool", lifetime=60, timeout=5).fetch()
    slow = CommandSource(
        where=WHERE,
        command=_script(tmp_path, "import time; time.sleep(30)"),
        lifetime=60,
        timeout=0.5,
    )
    with pytest.raises(TokenError, match="did not finish") as caught:
        slow.fetch()
    assert caught.value.transient


def test_no_token_or_secret_reaches_the_log(
    oauth_server: OAuthServer, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    client = _unique(request, "quiet")
    oauth_server.add_client(client, "shared@contoso.test", secret="SECRET-VALUE-123")
    caplog.set_level(logging.DEBUG)
    cache = TokenCache(
        _microsoft(oauth_server, client, client_secret="SECRET-VALUE-123"), account="imap:q"
    )
    token = cache.get()
    cache.invalidate(token)
    token2 = cache.get()
    with pytest.raises(TokenError):
        _microsoft(oauth_server, client, client_secret="SECRET-WRONG-456").fetch()
    text = caplog.text
    for secret in ("SECRET-VALUE-123", "SECRET-WRONG-456", token, token2):
        assert secret not in text


def test_health_tells_listeners_once_per_outage() -> None:
    from invitegw.mailbox.transport.oauth import AuthHealth

    health = AuthHealth()
    told: list[tuple[str, bool]] = []
    unsubscribe = health.subscribe(lambda s: told.append((s.account, s.ok)))
    health.succeeded("imap:a")  # the first success is no change worth telling
    health.failed("imap:a", "refused")
    health.failed("imap:a", "refused, worded differently")
    health.failed("imap:b", "other account")
    health.succeeded("imap:a")
    unsubscribe()
    health.failed("imap:a", "after unsubscribing")
    assert told == [("imap:a", False), ("imap:b", False), ("imap:a", True)]
    status = health.get("imap:a")
    assert status is not None
    assert (status.ok, status.failures, status.message) == (False, 1, "after unsubscribing")
    assert set(health.snapshot()) == {"imap:a", "imap:b"}
