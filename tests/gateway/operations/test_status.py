"""``invitegw status``: healthy, degraded (Dovecot stopped, a dead message, the CRM away), down.

One worker runs as ``serve`` assembles it (heartbeat, watcher, jobs) on SQLite and on
PostgreSQL; ``status --json`` reads the same database through the CLI, as an operator on
another host would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from invitegw.gateway.app.status import Health, deployment_status, quarantine_cause
from invitegw.gateway.storage import OutboxState, Store, enqueue
from invitegw.mailbox.transport.imap_values import WatchEvent
from invitegw.mailbox.transport.netutil import pick_free_port
from tests.fixtures.dovecot import DovecotServer
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.operations.harness import (
    WAIT,
    Deployment,
    private_dovecot,
    private_dovecot_server,
)

__all__ = ["private_dovecot", "private_dovecot_server"]

pytestmark = pytest.mark.dovecot


@pytest.fixture
def deployment(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path, private_dovecot: DovecotServer
) -> Iterator[Deployment]:
    made = Deployment(store, tmp_path, smtp_port=smtp_sink.port, dovecot=private_dovecot)
    try:
        yield made
    finally:
        made.close()


def _dead_message(store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    with store.session() as session:
        row = enqueue(
            session,
            message_id="<dead-1@example.com>",
            sender="sales@example.com",
            recipient="gina@example.org",
            now=now,
            raw=b"Subject: x\r\n\r\nx\r\n",
        )
        row.state = OutboxState.DEAD
        row.last_error = "550 5.1.1 no such user"


def _unreachable_crm_config(deployment: Deployment, tmp_path: Path) -> Path:
    """The same deployment's configuration, with vtiger as the CRM on a closed port."""
    port = pick_free_port("127.0.0.1")
    config = tmp_path / "vtiger.toml"
    config.write_text(
        deployment.config.read_text()
        + f'[crm]\nadapter = "vtiger"\n[crm.vtiger]\nurl = "http://127.0.0.1:{port}"\n'
        'username = "admin"\n'
    )
    deployment.env["INVITEGW_CRM__VTIGER__ACCESS_KEY"] = "not-a-real-key"
    return config


def test_status_healthy_then_degraded_then_down(
    deployment: Deployment, private_dovecot: DovecotServer, tmp_path: Path
) -> None:
    deployment.start()
    code, data = deployment.status()
    assert data["health"] == "healthy", data["problems"]
    assert code == 0
    assert data["schema"]["up_to_date"] is True
    (worker,) = data["workers"]
    assert worker["worker"] == "worker-1"
    assert worker["alive"]
    assert worker["mode"] == "serve"
    assert data["crm"]["reachable"] is True
    (mailbox,) = data["mailboxes"]
    assert mailbox["name"] == "sales"
    assert mailbox["connected"] is True
    assert mailbox["lease_holder"] == "worker-1"
    assert mailbox["last_idle"] is not None
    assert mailbox["waiting"] == 0
    assert data["outbox"]["dead"] == 0

    # Degraded: Dovecot stops, a message is dead, the CRM does not answer.
    service = deployment.mailbox
    lost = service.events.count(WatchEvent.DISCONNECTED)
    private_dovecot.stop()
    assert service.events.wait_for(WatchEvent.DISCONNECTED, lost + 1, WAIT)
    _dead_message(deployment.store)
    deployment.ops.monitor.write_heartbeat()
    code, data = deployment.status(config=_unreachable_crm_config(deployment, tmp_path))
    assert data["health"] == "degraded"
    assert code == 1
    problems = "\n".join(data["problems"])
    assert "mailbox sales: not connected" in problems
    assert "1 dead message" in problems
    assert "CRM (vtiger) unreachable" in problems
    assert data["crm"]["reachable"] is False
    assert data["mailboxes"][0]["connected"] is False
    assert data["mailboxes"][0]["last_error"]
    assert data["outbox"]["by_state"]["dead"] == 1

    # Back: Dovecot returns, the watcher reconnects; the dead message stays a problem.
    connected = service.events.count(WatchEvent.CONNECTED)
    private_dovecot.start()
    assert service.events.wait_for(WatchEvent.CONNECTED, connected + 1, WAIT)
    deployment.ops.monitor.write_heartbeat()
    code, data = deployment.status()
    assert data["mailboxes"][0]["connected"] is True
    assert data["problems"] == [p for p in data["problems"] if "dead message" in p]

    # Down: the only worker stopped cleanly.
    deployment.stop()
    code, data = deployment.status()
    assert (code, data["health"]) == (2, "down")
    assert any("no worker is alive" in p for p in data["problems"])
    assert data["workers"][0]["stopped_at"] is not None


def test_status_in_words_names_the_problems(deployment: Deployment) -> None:
    _dead_message(deployment.store)
    code, text = deployment.cli("status", "--no-crm-check")
    assert code == 2  # nothing runs yet
    assert text.startswith("invitegw status: DOWN")
    assert "! no worker is alive" in text
    assert "! outbox: 1 dead message(s)" in text
    assert "dead 1" in text


def test_an_unreachable_database_is_down(tmp_path: Path) -> None:
    from invitegw.gateway.config import load_settings

    port = pick_free_port("127.0.0.1")
    config = tmp_path / "pg.toml"
    config.write_text(f'[database]\nurl = "postgresql+psycopg://nobody@127.0.0.1:{port}/x"\n')
    report = deployment_status(load_settings(config, {}))
    assert report.health is Health.DOWN
    assert report.exit_code == 2
    assert report.problems[0].startswith("database:")


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("message over 1024 bytes (4096 bytes)", "size_limit"),
        ("malformed calendar in invite.ics: bad line", "malformed"),
        ("no calendar object and no reply to us", "no_calendar"),
        ("REQUEST from x@example.org is not confirmed by the trusted server", "untrusted_sender"),
        ("no owner for the task", "no_owner"),
        ("processing failed 5 times: boom", "processing_failed"),
        ("something new", "other"),
    ],
)
def test_quarantine_causes_are_bounded(reason: str, cause: str) -> None:
    assert quarantine_cause(reason) == cause
