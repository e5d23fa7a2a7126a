"""The console's "check now" buttons against a real Dovecot and the built-in CRM."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from invitegw.gateway.http.admin.passwords import hash_password
from invitegw.gateway.storage import Store
from tests.fixtures.dovecot import DovecotServer
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.admin.harness import SESSION_KEY, csrf_of, signed_in
from tests.gateway.operations.harness import Deployment, private_dovecot, private_dovecot_server

__all__ = ["private_dovecot", "private_dovecot_server"]

pytestmark = [pytest.mark.dovecot, pytest.mark.parametrize("engine_name", ["sqlite"])]


@pytest.fixture
def deployment(
    store: Store, tmp_path: Path, smtp_sink: SmtpSink, private_dovecot: DovecotServer
) -> Iterator[Deployment]:
    from tests.gateway.admin.harness import PASSWORD

    env = {
        "INVITEGW_ADMIN__PASSWORD_HASH": hash_password(PASSWORD),
        "INVITEGW_ADMIN__SESSION_KEY": SESSION_KEY,
    }
    extra = '[http]\nlisten = "127.0.0.1:0"\n[admin]\nenabled = true\n'
    made = Deployment(
        store, tmp_path, smtp_port=smtp_sink.port, dovecot=private_dovecot, extra=extra, env=env
    )
    made.seed()
    made.start()
    try:
        yield made
    finally:
        made.close()


def test_check_now_tries_the_crm_and_the_mailbox_and_says_what_it_found(
    deployment: Deployment, private_dovecot: DovecotServer
) -> None:
    with signed_in(deployment.http_url) as client:
        page = client.get("/admin/connections")
        assert "Check sales now" in page.text
        token = csrf_of(page.text)
        for target, expected in (
            ("crm", "CRM check: works."),
            ("mailbox:sales", "Mailbox sales works"),
            ("mailbox:nope", "Check failed: mailboxes: no mailbox named &#39;nope&#39;"),
        ):
            answer = client.post(
                "/admin/connections/check",
                data={"csrf_token": token, "target": target},
                follow_redirects=True,
            )
            assert answer.status_code == 200
            assert expected in answer.text, target
        private_dovecot.stop()
        answer = client.post(
            "/admin/connections/check",
            data={"csrf_token": token, "target": "mailbox:sales"},
            follow_redirects=True,
        )
        assert "Mailbox sales has a problem" in answer.text
