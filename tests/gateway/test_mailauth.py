"""OAuth 2.0 settings, secrets from files, logins built by the gateway, and what is reported.

The service test runs two mailboxes of one gateway on the OAuth Dovecot: one client is
revoked, its mailbox is reported (health registry, log, the CRM's integration log) and the
other mailbox keeps being watched. Secrets and tokens are looked for in the whole log and
in ``check-config``'s output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import tomllib
from pathlib import Path

import pytest
import trustme

from invitegw.crm_adapter.builtin.admin import SqlCrmAdmin
from invitegw.domain.records import LogLevel, LogTarget
from invitegw.errors import ConfigError
from invitegw.gateway.bootstrap import imap_source
from invitegw.gateway.cli import main
from invitegw.gateway.config import (
    AuthMethod,
    MailboxSettings,
    OAuth2Settings,
    OAuthProvider,
    Secret,
    TlsMode,
    load_settings,
)
from invitegw.gateway.inbound.imap_service import MailboxService
from invitegw.gateway.mailauth import mailbox_login, smtp_login
from invitegw.gateway.storage import Store
from invitegw.mailbox.transport.oauth import AUTH_HEALTH, AuthStatus, OAuth2Login, PasswordLogin
from tests.fixtures.dovecot import DEFAULT_PASSWORD, DovecotServer, ImapUser
from tests.fixtures.oauth_server import OAuthServer
from tests.gateway.inbound.service_harness import (
    WAIT,
    RecordingPipeline,
    gateway_for,
    inbound_settings,
    mail,
)

MAILBOX_TOML = """
[[calendars]]
name = "sales"
address = "sales@example.com"

[[mailboxes]]
name = "shared"
host = "outlook.office365.com"
username = "shared@contoso.com"
owner = "sales"
auth = "oauth2"

[mailboxes.oauth2]
provider = "microsoft"
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
"""
SECRET_VAR = "INVITEGW_MAILBOXES__SHARED__OAUTH2__CLIENT_SECRET"


def _config(tmp_path: Path, text: str = MAILBOX_TOML) -> Path:
    path = tmp_path / "invitegw.toml"
    path.write_text(text)
    return path


# -- settings ----------------------------------------------------------------------------------


def test_a_secret_from_the_environment_or_from_a_file(tmp_path: Path) -> None:
    path = _config(tmp_path)
    direct = load_settings(path, {SECRET_VAR: "from-env"}, cwd=tmp_path)
    oauth2 = direct.mailboxes[0].oauth2
    assert oauth2 is not None
    assert oauth2.client_secret == Secret("from-env")
    secret_file = tmp_path / "client-secret"
    secret_file.write_text("from-file\n")  # systemd credentials often end with a newline
    filed = load_settings(path, {SECRET_VAR + "_FILE": str(secret_file)}, cwd=tmp_path)
    assert filed.mailboxes[0].oauth2 == dataclasses.replace(
        oauth2, client_secret=Secret("from-file")
    )
    password_file = tmp_path / "smtp-password"
    password_file.write_text("pw")
    smtp = load_settings(None, {"INVITEGW_SMTP__PASSWORD_FILE": str(password_file)}, cwd=tmp_path)
    assert smtp.smtp.password == Secret("pw")


def test_secret_file_mistakes_are_named(tmp_path: Path) -> None:
    path = _config(tmp_path)
    with pytest.raises(ConfigError, match=rf"{SECRET_VAR}_FILE: cannot read the secret file"):
        load_settings(path, {SECRET_VAR + "_FILE": str(tmp_path / "missing")}, cwd=tmp_path)
    both = {SECRET_VAR: "a", SECRET_VAR + "_FILE": str(path)}
    with pytest.raises(ConfigError, match="both set the same secret"):
        load_settings(path, both, cwd=tmp_path)
    in_file = MAILBOX_TOML + 'client_secret = "oops"\n'
    with pytest.raises(ConfigError, match=rf"set {SECRET_VAR} in the environment .*_FILE"):
        load_settings(_config(tmp_path, in_file), {}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            MAILBOX_TOML.replace('tenant = "contoso.onmicrosoft.com"\n', ""),
            r"oauth2\.tenant: required",
        ),
        (
            MAILBOX_TOML.split("[mailboxes.oauth2]")[0],
            r"mailboxes\[shared\]\.oauth2: required when",
        ),
        (MAILBOX_TOML + 'mechanism = "oauthbearer"\n', "accepts only 'xoauth2'"),
        (
            MAILBOX_TOML.replace('provider = "microsoft"', 'provider = "generic"'),
            r"oauth2\.token_url: required",
        ),
        (
            MAILBOX_TOML.replace('provider = "microsoft"', 'provider = "generic"')
            + 'token_url = "http://idp.example.com/token"\n',
            r"https:// URL \(http:// only on loopback\)",
        ),
        (
            '[smtp]\nusername = "a@b.c"\nauth = "oauth2"\n[smtp.oauth2]\nprovider = "command"\n'
            'token_command = "vault read"\n',
            r"smtp\.tls: a token is never sent in clear text",
        ),
    ],
)
def test_oauth2_settings_are_checked(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(_config(tmp_path, text), {}, cwd=tmp_path)


def test_a_missing_secret_names_its_variable(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path), {}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=rf"{SECRET_VAR} or .*PRIVATE_KEY.*_FILE"):
        mailbox_login(None, settings.mailboxes[0])


def test_logins_from_settings(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path), {SECRET_VAR: "CLIENT-SECRET-321"}, cwd=tmp_path)
    login = mailbox_login(None, settings.mailboxes[0])
    assert isinstance(login, OAuth2Login)
    assert login.where == "mailboxes[shared]"
    assert "Microsoft 365" in login.tokens.source.description
    assert "CLIENT-SECRET-321" not in repr(login)
    password = load_settings(None, {"INVITEGW_SMTP__USERNAME": "u", "INVITEGW_SMTP__PASSWORD": "p"})
    assert isinstance(smtp_login(password.smtp), PasswordLogin)
    assert "'p'" not in repr(smtp_login(password.smtp))


def test_check_config_redacts_oauth_secrets_and_writes_valid_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "key.json"
    secret_file.write_text('{"type": "service_account", "private_key": "KEY-MATERIAL-777"}')
    text = MAILBOX_TOML.replace('provider = "microsoft"', 'provider = "google"')
    monkeypatch.setenv(SECRET_VAR, "CLIENT-SECRET-555")
    monkeypatch.setenv(
        "INVITEGW_MAILBOXES__SHARED__OAUTH2__SERVICE_ACCOUNT_KEY_FILE", str(secret_file)
    )
    assert main(["--config", str(_config(tmp_path, text)), "check-config"]) == 0
    out = capsys.readouterr().out
    assert "CLIENT-SECRET-555" not in out
    assert "KEY-MATERIAL-777" not in out
    assert f'client_secret = "<redacted>"  # secret, from {SECRET_VAR} or {SECRET_VAR}_FILE' in out
    assert "[mailboxes.oauth2]" in out
    data = tomllib.loads(out)
    assert data["mailboxes"][0]["oauth2"]["provider"] == "google"


# -- a gateway with two mailboxes, one revoked -----------------------------------------------


@pytest.fixture
def trusted_ca(tls_ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The system's trust store for this test: the session's test CA (SSL_CERT_FILE)."""
    path = tmp_path / "test-ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))


def _oauth_mailbox(dovecot: DovecotServer, oauth: OAuthServer, name: str) -> MailboxSettings:
    user = dovecot.add_user()
    client = f"gw-{name}-{user.name}"
    oauth.add_client(client, user.name, secret=f"SECRET-{client}")
    return MailboxSettings(
        name=name,
        host=dovecot.host,
        port=dovecot.port,
        username=user.name,
        owner="olga@example.com",
        tls=TlsMode.NONE,
        auth=AuthMethod.OAUTH2,
        oauth2=OAuth2Settings(
            provider=OAuthProvider.GENERIC,
            token_url=oauth.token_url,
            client_id=client,
            client_secret=Secret(f"SECRET-{client}"),
        ),
        poll_interval=dt.timedelta(seconds=30),
    )


@pytest.mark.dovecot
@pytest.mark.usefixtures("trusted_ca")
def test_a_revoked_mailbox_is_reported_and_the_other_keeps_working(
    store: Store,
    dovecot_oauth: DovecotServer,
    oauth_server: OAuthServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    suffix = store.engine.dialect.name
    revoked = _oauth_mailbox(dovecot_oauth, oauth_server, f"revoked-{suffix}")
    working = _oauth_mailbox(dovecot_oauth, oauth_server, f"working-{suffix}")
    gateway = gateway_for(store, inbound_settings(tmp_path, mailboxes=(revoked, working)))
    pipeline = RecordingPipeline()
    services = [MailboxService(imap_source(gateway, box, pipeline)) for box in (revoked, working)]
    refused = threading.Event()

    def on_change(status: AuthStatus) -> None:
        if status.account == f"imap:{revoked.name}" and not status.ok:
            refused.set()

    unsubscribe = AUTH_HEALTH.subscribe(on_change)
    for service in services:
        service.start()
    try:
        assert all(s.wait_until(lambda s: s.holding, WAIT) for s in services)
        dovecot_oauth.append(_user(revoked), mail(1, "Before"))
        dovecot_oauth.append(_user(working), mail(2, "Before"))
        pipeline.wait_for(2)
        assert revoked.oauth2 is not None
        oauth_server.revoke_client(revoked.oauth2.client_id)
        dovecot_oauth.kick(_user(revoked))
        assert refused.wait(WAIT)
        dovecot_oauth.append(_user(working), mail(3, "After"))
        pipeline.wait_for(3)
        assert "After 3" in pipeline.subjects()
        assert all(s.holding for s in services)  # the revoked one keeps retrying
    finally:
        unsubscribe()
        for service in services:
            service.stop()
        gateway.close()
    status = AUTH_HEALTH.get(f"imap:{revoked.name}")
    assert status is not None
    assert not status.ok
    assert f"mailboxes[{revoked.name}].oauth2.client_secret" in status.message
    good = AUTH_HEALTH.get(f"imap:{working.name}")
    assert good is not None
    assert good.ok
    with store.session() as session:
        entries = [e for _id, e in SqlCrmAdmin(session).list_logs()]
    mine = [
        e for e in entries if e.target is LogTarget.GATEWAY and revoked.name in (e.target_id or "")
    ]
    [entry] = mine  # once per outage, not once per retry or per reworded refusal
    others = [e for e in entries if e.target is LogTarget.GATEWAY and e not in mine]
    assert all(working.name not in (e.target_id or "") for e in others)
    assert (entry.level, entry.target_id) == (LogLevel.ERROR, f"imap:{revoked.name}")
    assert "oauth2.client_secret" in entry.message
    assert "credentials of imap:" in caplog.text  # the ERROR line of the health registry
    for box in (revoked, working):
        assert box.oauth2 is not None
        client = box.oauth2.client_id
        for secret in (f"SECRET-{client}", *oauth_server.tokens_of(client)):
            assert secret not in caplog.text


def _user(box: MailboxSettings) -> ImapUser:
    return ImapUser(box.username, DEFAULT_PASSWORD)


def test_provider_libraries_load_only_when_an_account_uses_them() -> None:
    import subprocess
    import sys

    code = (
        "import sys, invitegw.gateway.cli as cli; cli.build_parser(); "
        "print(','.join(m for m in ('msal', 'google.auth', 'requests', 'jwt') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
