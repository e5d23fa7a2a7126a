"""SMTP with OAuth 2.0: an aiosmtpd relay that takes only AUTH XOAUTH2 after STARTTLS and
checks each token with the loopback OAuth server (tests/fixtures/smtp_sink.py, ``oauth=``).

Invitations go out through it from the real outbound pipeline; an expired token costs one
refresh and the send goes on; a revoked client is one clear, transient error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from invitegw.errors import RelayAuthError, TransientDeliveryError
from invitegw.gateway.bootstrap import smtp_sender
from invitegw.gateway.config import (
    AuthMethod,
    OAuth2Settings,
    OAuthProvider,
    Secret,
    TlsMode,
)
from invitegw.gateway.outbound.dispatch import Dispatcher
from invitegw.gateway.storage import OutboxState, Store
from invitegw.mailbox.transport.oauth import AuthHealth, OAuth2Login, TokenCache
from invitegw.mailbox.transport.oauth.endpoint import TokenEndpointSource
from invitegw.mailbox.transport.smtp_probe import probe_relay
from invitegw.mailbox.transport.smtp_send import SmtpRelayConfig, SmtpSender
from invitegw.mailbox.transport.smtp_send import TlsMode as SmtpTls
from tests.fixtures.oauth_server import OAuthServer
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.outbound.harness import OutboundHarness

SENDER = "calendar@contoso.test"


@pytest.fixture
def relay(make_smtp_sink: Callable[..., SmtpSink], oauth_server: OAuthServer) -> SmtpSink:
    return make_smtp_sink(starttls=True, oauth=oauth_server.check)


def _client(oauth_server: OAuthServer, name: str, login: str = SENDER) -> str:
    oauth_server.add_client(name, login, secret=f"{name}-secret")
    return name


def _login(oauth_server: OAuthServer, client: str, health: AuthHealth | None = None) -> OAuth2Login:
    source = TokenEndpointSource(
        where="smtp",
        token_url=oauth_server.token_url,
        client_id=client,
        client_secret=f"{client}-secret",
        ssl_context=oauth_server.client_context(),
    )
    return OAuth2Login(
        TokenCache(source, account="smtp"), where="smtp", account="smtp", health=health
    )


def _sender(relay: SmtpSink, login: OAuth2Login) -> SmtpSender:
    config = SmtpRelayConfig(
        relay.host, relay.port, tls=SmtpTls.STARTTLS, username=SENDER, timeout=10
    )
    return SmtpSender(config, password=login, ssl_context=relay.client_context())


def _message(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = "guest@example.org"
    message["Subject"] = f"Invitation {n}"
    message["Message-ID"] = f"<oauth-{n}@contoso.test>"
    message.set_content("Hello.")
    return message


def test_send_with_xoauth2(relay: SmtpSink, oauth_server: OAuthServer) -> None:
    login = _login(oauth_server, _client(oauth_server, "smtp-send"))
    result = _sender(relay, login).send(_message(1))
    assert result.accepted == ("guest@example.org",)
    [received] = relay.wait_for(1)
    assert (received.login, received.tls) == (SENDER, True)
    assert relay.oauth_refusals == 0


def test_an_expired_token_is_refreshed_once_and_the_send_goes_on(
    relay: SmtpSink, oauth_server: OAuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    health = AuthHealth()
    login = _login(oauth_server, _client(oauth_server, "smtp-expiry"), health)
    sender = _sender(relay, login)
    sender.send(_message(1))
    assert oauth_server.expire(SENDER) >= 1
    sender.send(_message(2))  # a new connection: the cached token is refused, then renewed
    assert len(relay.wait_for(2)) == 2
    assert relay.oauth_refusals == 1
    assert login.tokens.fetches == 2
    assert "the relay refused the token" in caplog.text
    status = health.get("smtp")
    assert status is not None
    assert status.ok


def test_a_revoked_client_is_a_clear_transient_error(
    relay: SmtpSink, oauth_server: OAuthServer
) -> None:
    health = AuthHealth()
    client = _client(oauth_server, "smtp-revoked")
    login = _login(oauth_server, client, health)
    sender = _sender(relay, login)
    sender.send(_message(1))
    oauth_server.revoke_client(client)
    with pytest.raises(RelayAuthError) as caught:
        sender.send(_message(2))
    assert isinstance(caught.value, TransientDeliveryError)
    assert caught.value.recipient is None  # the relay, not the message: the outbox defers
    assert "smtp.oauth2.client_id and smtp.oauth2.client_secret" in str(caught.value)
    status = health.get("smtp")
    assert status is not None
    assert not status.ok


def test_a_token_for_another_login_is_refused_after_one_refresh(
    relay: SmtpSink, oauth_server: OAuthServer
) -> None:
    login = _login(oauth_server, _client(oauth_server, "smtp-other", "someone@contoso.test"))
    with pytest.raises(RelayAuthError, match=r"535 5\.7\.3 .*status=401") as caught:
        _sender(relay, login).send(_message(1))
    assert "even after a refresh" in str(caught.value)
    assert relay.oauth_refusals == 2
    assert login.tokens.fetches == 2


def test_the_probe_authenticates_and_sends_nothing(
    relay: SmtpSink, oauth_server: OAuthServer
) -> None:
    login = _login(oauth_server, _client(oauth_server, "smtp-probe"))
    config = SmtpRelayConfig(
        relay.host, relay.port, tls=SmtpTls.STARTTLS, username=SENDER, timeout=10
    )
    probe = probe_relay(config, login, ssl_context=relay.client_context())
    assert probe.ok, probe.error
    assert [s.name for s in probe.steps] == ["connect", "ehlo", "tls", "auth", "size limit"]
    assert probe.auth_mechanisms == ["XOAUTH2"]
    assert probe.size_limit == 10 * 1024 * 1024
    assert relay.messages == []


def test_invitations_go_out_through_the_oauth_relay(
    store: Store, relay: SmtpSink, oauth_server: OAuthServer, tmp_path: Path
) -> None:
    client = _client(oauth_server, f"gateway-{store.engine.dialect.name}")
    oauth2 = OAuth2Settings(
        provider=OAuthProvider.GENERIC,
        token_url=oauth_server.token_url,
        client_id=client,
        client_secret=Secret(f"{client}-secret"),
    )
    h = OutboundHarness(
        store,
        relay,
        tmp_path,
        tls=TlsMode.STARTTLS,
        username=SENDER,
        auth=AuthMethod.OAUTH2,
        oauth2=oauth2,
    )
    # One context for the relay and the token endpoint: both use the session's test CA.
    sender = smtp_sender(h.settings, ssl_context=relay.client_context())
    h.dispatcher = Dispatcher(h.gateway, sender=sender, rng=lambda: 0.5)
    h.seed()
    h.create_meeting()
    _poll, flush = h.run()
    assert flush.sent == len(relay.wait_for(flush.sent)) >= 3  # attendees and organizer
    assert {m.login for m in relay.messages} == {SENDER}
    assert set(h.states()) == {OutboxState.SENT}
    assert oauth_server.issued(client) == 1  # one token for the whole batch
