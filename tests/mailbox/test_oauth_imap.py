"""IMAP with OAuth 2.0 against a real Dovecot whose ``oauth2`` passdb asks the loopback
OAuth server to introspect every token (tests/fixtures/dovecot.py ``dovecot_oauth``).

Tokens come from the generic RFC 6749 source (client credentials) talking to the same
server, so a revoked client or an expired token is refused by Dovecot for real. Tests wait
on the watcher's events and the handler's records, never on sleeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from invitegw.errors import MailboxAuthError
from invitegw.mailbox.transport.imap_client import ImapAccount, ImapConnection, ImapSecurity
from invitegw.mailbox.transport.imap_values import MemoryCheckpoint, WatchEvent
from invitegw.mailbox.transport.imap_watch import ImapWatcher
from invitegw.mailbox.transport.oauth import (
    AuthHealth,
    OAuth2Login,
    SaslMechanism,
    TokenCache,
)
from invitegw.mailbox.transport.oauth.endpoint import TokenEndpointSource
from tests.fixtures.dovecot import DovecotServer, ImapUser
from tests.fixtures.oauth_server import OAuthServer
from tests.mailbox.test_imap_watch import WAIT, Handler, config_for, mail

pytestmark = pytest.mark.dovecot


def _account(server: DovecotServer, user: ImapUser) -> ImapAccount:
    return ImapAccount(
        server.host, user.name, port=server.port, security=ImapSecurity.PLAIN, timeout=10
    )


def _login(
    oauth_server: OAuthServer,
    user: ImapUser,
    health: AuthHealth,
    *,
    mechanism: SaslMechanism = SaslMechanism.XOAUTH2,
    clock: Callable[[], float] | None = None,
) -> OAuth2Login:
    client = f"client-{user.name}"
    oauth_server.add_client(client, user.name, secret=f"secret-{user.name}")
    source = TokenEndpointSource(
        where=f"mailboxes[{user.name}]",
        token_url=oauth_server.token_url,
        client_id=client,
        client_secret=f"secret-{user.name}",
        ssl_context=oauth_server.client_context(),
    )
    cache = TokenCache(source, account=f"imap:{user.name}", **({"clock": clock} if clock else {}))
    return OAuth2Login(
        cache,
        mechanism,
        where=f"mailboxes[{user.name}]",
        account=f"imap:{user.name}",
        health=health,
    )


@pytest.fixture
def watchers() -> Iterator[list[ImapWatcher]]:
    started: list[ImapWatcher] = []
    yield started
    for watcher in started:
        watcher.stop(timeout=WAIT)
        assert not watcher.running


def _watch(
    started: list[ImapWatcher],
    server: DovecotServer,
    user: ImapUser,
    login: OAuth2Login,
    handler: Handler,
    **overrides: Any,
) -> ImapWatcher:
    watcher = ImapWatcher(
        _account(server, user), login, config_for(user, **overrides), handler, MemoryCheckpoint()
    )
    started.append(watcher)
    watcher.start()
    return watcher


def _wait(watcher: ImapWatcher, event: WatchEvent, count: int = 1) -> None:
    assert watcher.events.wait_for(event, count, WAIT), f"{event} x{count} (error: {watcher.error})"


@pytest.mark.parametrize("mechanism", list(SaslMechanism))
def test_xoauth2_and_oauthbearer_log_in(
    dovecot_oauth: DovecotServer, oauth_server: OAuthServer, mechanism: SaslMechanism
) -> None:
    user = dovecot_oauth.add_user()
    health = AuthHealth()
    login = _login(oauth_server, user, health, mechanism=mechanism)
    before = oauth_server.introspections
    connection = ImapConnection.connect(_account(dovecot_oauth, user), login)
    try:
        assert connection.select("INBOX").exists == 0
    finally:
        connection.close()
    assert oauth_server.introspections > before  # Dovecot really asked about the token
    status = health.get(f"imap:{user.name}")
    assert status is not None
    assert status.ok


def test_watch_with_idle_and_move_over_oauth(
    dovecot_oauth: DovecotServer, oauth_server: OAuthServer, watchers: list[ImapWatcher]
) -> None:
    user = dovecot_oauth.add_user()
    handler = Handler()
    watcher = _watch(
        watchers, dovecot_oauth, user, _login(oauth_server, user, AuthHealth()), handler
    )
    _wait(watcher, WatchEvent.IDLE)
    dovecot_oauth.append(user, mail(1))
    handler.wait_for(1)
    _wait(watcher, WatchEvent.HANDLED)
    assert dovecot_oauth.uids(user, "INBOX") == []
    assert len(dovecot_oauth.uids(user, "Processed")) == 1


def test_token_refused_mid_watch_is_refreshed_once_on_reconnect(
    dovecot_oauth: DovecotServer,
    oauth_server: OAuthServer,
    watchers: list[ImapWatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    user = dovecot_oauth.add_user()
    health = AuthHealth()
    login = _login(oauth_server, user, health)
    handler = Handler()
    watcher = _watch(watchers, dovecot_oauth, user, login, handler)
    _wait(watcher, WatchEvent.IDLE)
    assert login.tokens.fetches == 1
    # Introspection starts refusing the token the watcher logged in with; the session
    # lasts until the server ends it, and the reconnect must not reuse the cached token.
    assert oauth_server.expire(user.name) == 1
    dovecot_oauth.kick(user)
    _wait(watcher, WatchEvent.CONNECTED, 2)
    assert login.tokens.fetches == 2
    assert "refused the token" in caplog.text
    dovecot_oauth.append(user, mail(2))
    handler.wait_for(1)
    status = health.get(f"imap:{user.name}")
    assert status is not None
    assert status.ok
    assert status.failures == 0


def test_an_expired_token_is_replaced_before_the_reconnect_without_a_refusal(
    dovecot_oauth: DovecotServer,
    oauth_server: OAuthServer,
    watchers: list[ImapWatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    now = [0.0]
    user = dovecot_oauth.add_user()
    login = _login(oauth_server, user, AuthHealth(), clock=lambda: now[0])
    watcher = _watch(watchers, dovecot_oauth, user, login, Handler())
    _wait(watcher, WatchEvent.IDLE)
    now[0] += oauth_server.lifetime  # an hour in IDLE: the token is past its expiry
    dovecot_oauth.kick(user)
    _wait(watcher, WatchEvent.CONNECTED, 2)
    assert login.tokens.fetches == 2
    assert "refused the token" not in caplog.text


def test_a_revoked_client_is_reported_while_another_mailbox_keeps_working(
    dovecot_oauth: DovecotServer, oauth_server: OAuthServer, watchers: list[ImapWatcher]
) -> None:
    revoked_user, working_user = dovecot_oauth.add_user(), dovecot_oauth.add_user()
    health = AuthHealth()
    changes: list[Any] = []
    health.subscribe(changes.append)
    revoked_login = _login(oauth_server, revoked_user, health)
    revoked = _watch(watchers, dovecot_oauth, revoked_user, revoked_login, Handler())
    handler = Handler()
    working = _watch(
        watchers, dovecot_oauth, working_user, _login(oauth_server, working_user, health), handler
    )
    _wait(revoked, WatchEvent.IDLE)
    _wait(working, WatchEvent.IDLE)
    oauth_server.revoke_client(f"client-{revoked_user.name}")
    dovecot_oauth.kick(revoked_user)
    _wait(revoked, WatchEvent.DISCONNECTED, 3)  # keeps trying, with backoff
    status = health.get(f"imap:{revoked_user.name}")
    assert status is not None
    assert not status.ok
    assert status.failures >= 2
    assert f"mailboxes[{revoked_user.name}].oauth2.client_secret" in status.message
    assert [c.account for c in changes if not c.ok] == [f"imap:{revoked_user.name}"]
    dovecot_oauth.append(working_user, mail(3))
    handler.wait_for(1)
    assert revoked.running
    assert revoked.error is None
    assert working.running
    other = health.get(f"imap:{working_user.name}")
    assert other is not None
    assert other.ok


def test_a_refused_token_is_one_clear_line(
    dovecot_oauth: DovecotServer, oauth_server: OAuthServer
) -> None:
    user = dovecot_oauth.add_user()
    other = dovecot_oauth.add_user()
    # The client may use another mailbox only: the endpoint issues tokens, Dovecot refuses.
    login = _login(oauth_server, other, AuthHealth())
    with pytest.raises(MailboxAuthError) as caught:
        ImapConnection.connect(_account(dovecot_oauth, user), login)
    message = str(caught.value)
    assert "refused the OAuth 2.0 token (XOAUTH2) even after a refresh" in message
    assert "\n" not in message
    assert login.tokens.fetches == 2  # refreshed once, not in a loop


def test_a_mechanism_the_server_lacks_is_named(
    dovecot: DovecotServer, oauth_server: OAuthServer, imap_user: ImapUser
) -> None:
    # The plain fixture offers PLAIN and LOGIN only.
    login = _login(oauth_server, imap_user, AuthHealth())
    with pytest.raises(MailboxAuthError, match=r"does not offer AUTH=XOAUTH2 .*oauth2\.mechanism"):
        ImapConnection.connect(_account(dovecot, imap_user), login)
    assert login.tokens.fetches == 0


@pytest.fixture(scope="module")
def dovecot_noidle() -> Iterator[DovecotServer]:
    """A Dovecot that advertises neither IDLE nor AUTH=XOAUTH2 (an older server)."""
    from tests.fixtures.dovecot import NO_MOVE_CAPABILITIES, _start_server

    server = _start_server(capabilities=NO_MOVE_CAPABILITIES.replace(" IDLE", "") + " MOVE")
    try:
        yield server
    finally:
        server.cleanup()


def test_without_idle_the_watcher_polls_and_says_so_once(
    dovecot_noidle: DovecotServer, watchers: list[ImapWatcher], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    user = dovecot_noidle.add_user()
    handler = Handler()
    watcher = ImapWatcher(
        _account(dovecot_noidle, user),
        user.password,
        config_for(user, poll_interval=0.2),
        handler,
        MemoryCheckpoint(),
    )
    watchers.append(watcher)
    watcher.start()
    _wait(watcher, WatchEvent.POLLED)
    dovecot_noidle.kick(user)
    _wait(watcher, WatchEvent.CONNECTED, 2)
    dovecot_noidle.append(user, mail(1))
    handler.wait_for(1)
    assert watcher.events.count(WatchEvent.IDLE) == 0
    assert caplog.text.count("does not offer IDLE (RFC 2177): polling every") == 1


def test_the_probe_notes_polling_and_creates_folders_only_when_asked(
    dovecot_noidle: DovecotServer,
) -> None:
    from invitegw.mailbox.transport.imap_probe import probe_mailbox

    user = dovecot_noidle.add_user()
    account = _account(dovecot_noidle, user)
    asked: list[list[str]] = []

    def refuse(missing: list[str]) -> bool:
        asked.append(missing)
        return False

    probe = probe_mailbox(
        account, user.password, config_for(user), where="mailboxes[x]", create=refuse
    )
    assert asked == [["Processed", "Quarantine"]]
    assert probe.missing == ["Processed", "Quarantine"]
    assert not probe.ok
    assert probe.capabilities == {"IDLE": False, "MOVE": True, "UIDPLUS": True}
    assert probe.notes == [
        "the server does not offer IDLE: the watcher will poll every 60 s "
        "(mailboxes[x].poll_interval)"
    ]
    assert "Processed" not in dovecot_noidle.list_folders(user)
    created = probe_mailbox(
        account, user.password, config_for(user), where="mailboxes[x]", create=lambda _m: True
    )
    assert created.ok
    assert created.created == ["Processed", "Quarantine"]
    assert {"Processed", "Quarantine"} <= set(dovecot_noidle.list_folders(user))
