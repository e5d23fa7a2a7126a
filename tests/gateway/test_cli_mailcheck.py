"""``invitegw mailbox check`` and ``invitegw smtp check`` end to end: the CLI, the OAuth
Dovecot, the loopback token endpoints (MSAL for the mailboxes, RFC 6749 for the relay) and
an aiosmtpd relay that takes only XOAUTH2. One working and one failing account each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from invitegw.gateway.cli import main
from tests.fixtures.dovecot import DovecotServer, ImapUser
from tests.fixtures.oauth_server import OAuthServer
from tests.fixtures.smtp_sink import SmtpSink

pytestmark = pytest.mark.dovecot

RELAY_LOGIN = "calendar@contoso.test"


def _write(
    tmp_path: Path,
    dovecot: DovecotServer,
    oauth: OAuthServer,
    relay: SmtpSink,
    sales: ImapUser,
    legal: ImapUser,
    prefix: str,
) -> Path:
    def mailbox(name: str, user: ImapUser) -> str:
        return f"""
[[mailboxes]]
name = "{name}"
host = "{dovecot.host}"
port = {dovecot.port}
tls = "none"
username = "{user.name}"
owner = "sales"
auth = "oauth2"

[mailboxes.oauth2]
provider = "microsoft"
tenant = "contoso-test"
authority = "{oauth.authority}"
client_id = "{prefix}-{name}"
"""

    path = tmp_path / "invitegw.toml"
    path.write_text(
        f"""data_dir = "{tmp_path / "data"}"

[smtp]
host = "{relay.host}"
port = {relay.port}
tls = "starttls"
username = "{RELAY_LOGIN}"
auth = "oauth2"

[smtp.oauth2]
provider = "generic"
token_url = "{oauth.token_url}"
client_id = "{prefix}-relay"

[[calendars]]
name = "sales"
address = "sales@example.com"
"""
        + mailbox("sales", sales)
        + mailbox("legal", legal)
    )
    return path


@pytest.fixture
def setup(
    tmp_path: Path,
    dovecot_oauth: DovecotServer,
    oauth_server: OAuthServer,
    make_smtp_sink: Callable[..., SmtpSink],
    tls_ca: trustme.CA,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> tuple[Path, OAuthServer, SmtpSink]:
    prefix = request.node.name[:40]
    relay = make_smtp_sink(starttls=True, oauth=oauth_server.check)
    sales, legal = dovecot_oauth.add_user(), dovecot_oauth.add_user()
    oauth_server.add_client(f"{prefix}-sales", sales.name, secret="sales-secret-value")
    oauth_server.add_client(f"{prefix}-legal", legal.name, secret="legal-secret-value")
    oauth_server.add_client(f"{prefix}-relay", RELAY_LOGIN, secret="relay-secret")
    dovecot_oauth.append(sales, b"Subject: waiting\r\n\r\nhello\r\n")
    ca = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the "system" trust store of this test
    monkeypatch.setenv("INVITEGW_MAILBOXES__SALES__OAUTH2__CLIENT_SECRET", "sales-secret-value")
    # The legal mailbox's secret is the secret's ID, not its value: Entra refuses it.
    secret_file = tmp_path / "legal-secret"
    secret_file.write_text("b7e2c1d0-secret-id\n")
    monkeypatch.setenv("INVITEGW_MAILBOXES__LEGAL__OAUTH2__CLIENT_SECRET_FILE", str(secret_file))
    monkeypatch.setenv("INVITEGW_SMTP__OAUTH2__CLIENT_SECRET", "relay-secret")
    config = _write(tmp_path, dovecot_oauth, oauth_server, relay, sales, legal, prefix)
    return config, oauth_server, relay


def test_mailbox_check_human(
    setup: tuple[Path, OAuthServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _oauth, _relay = setup
    assert main(["--config", str(config), "mailbox", "check", "--yes"]) == 1
    out = capsys.readouterr().out
    sales, legal = out.split("\n\nmailbox legal\n")
    assert "ok    authenticate" in sales
    assert "OAuth 2.0 XOAUTH2 with a token from Microsoft 365" in sales
    assert "ok    capabilities     IDLE yes, MOVE yes, UIDPLUS yes" in sales
    assert "ok    folders created  Processed, Quarantine" in sales
    assert "ok    waiting          1 messages in INBOX" in sales
    assert "mailbox sales: OK" in sales
    assert "FAIL  authenticate" in legal
    assert "(AADSTS7000215)" in legal
    assert "mailboxes[legal].oauth2.client_secret" in legal
    assert legal.rstrip().splitlines()[-1].startswith("mailbox legal: FAILED (authenticate)")
    assert "secret-value" not in out
    assert "b7e2c1d0" not in out


def test_mailbox_check_json_and_no_folders_created_unasked(
    setup: tuple[Path, OAuthServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _oauth, _relay = setup
    assert main(["--config", str(config), "mailbox", "check", "sales", "--json"]) == 1
    [report] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (report["name"], report["ok"], report["error"]) == ("sales", False, None)
    assert report["missing"] == ["Processed", "Quarantine"]
    assert report["created"] == []
    assert report["capabilities"] == {"IDLE": True, "MOVE": True, "UIDPLUS": True}
    assert report["waiting"] == 1
    assert "INBOX" in report["folders"]
    assert main(["--config", str(config), "mailbox", "check", "sales", "--json", "--yes"]) == 0
    [again] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert again["created"] == ["Processed", "Quarantine"]
    assert again["ok"] is True


def test_smtp_check_working_then_revoked(
    setup: tuple[Path, OAuthServer, SmtpSink],
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    config, oauth, relay = setup
    assert main(["--config", str(config), "smtp", "check"]) == 0
    out = capsys.readouterr().out
    assert "ok    auth             calendar@contoso.test: OAuth 2.0 XOAUTH2" in out
    assert "ok    size limit       10485760 bytes" in out
    assert "smtp relay: OK" in out
    assert relay.messages == []
    oauth.revoke_client(f"{request.node.name[:40]}-relay")
    assert main(["--config", str(config), "smtp", "check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert "smtp.oauth2.client_id and smtp.oauth2.client_secret" in report["error"]
    assert [s["name"] for s in report["steps"]][-1] == "auth"
    assert report["auth_mechanisms"] == ["XOAUTH2"]
