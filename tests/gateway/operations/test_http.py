"""The HTTP endpoints of ``serve``: /healthz, /readyz flipping with Dovecot, /metrics as counted.

A worker assembled as ``serve`` does (``[http] listen`` on a free loopback port) runs the
real inbound pipeline on a Dovecot mailbox and the real outbound jobs against an aiosmtpd
sink; the endpoints are read with httpx and ``/metrics`` is parsed with
``prometheus_client``'s own parser, then compared with what the database holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from invitegw.gateway.bootstrap import build_outbound
from invitegw.gateway.storage import (
    OutboxMessage,
    OutboxState,
    ProcessedMessage,
    QuarantinedMessage,
    Store,
)
from invitegw.mailbox.transport.imap_values import WatchEvent
from tests.fixtures.dovecot import DovecotServer
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.admin.harness import meeting
from tests.gateway.inbound.service_mails import google_invitation, malformed
from tests.gateway.operations.harness import (
    WAIT,
    Deployment,
    private_dovecot,
    private_dovecot_server,
)

__all__ = ["private_dovecot", "private_dovecot_server"]

pytestmark = pytest.mark.dovecot

HTTP = '[http]\nlisten = "127.0.0.1:0"\n'


@pytest.fixture
def deployment(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path, private_dovecot: DovecotServer
) -> Iterator[Deployment]:
    made = Deployment(
        store, tmp_path, smtp_port=smtp_sink.port, dovecot=private_dovecot, extra=HTTP
    )
    made.seed()
    try:
        yield made
    finally:
        made.close()


def _get(deployment: Deployment, path: str) -> httpx.Response:
    return httpx.get(deployment.http_url + path, timeout=WAIT)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page, keyed by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_healthz_and_readyz_flip_with_the_mailbox(
    deployment: Deployment, private_dovecot: DovecotServer
) -> None:
    deployment.start()
    assert _get(deployment, "/healthz").json()["alive"] is True
    ready = _get(deployment, "/readyz")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"]) == {"database", "crm", "mailbox:sales"}

    service = deployment.mailbox
    lost = service.events.count(WatchEvent.DISCONNECTED)
    private_dovecot.stop()
    assert service.events.wait_for(WatchEvent.DISCONNECTED, lost + 1, WAIT)
    down = _get(deployment, "/readyz")
    assert down.status_code == 503
    (failed,) = down.json()["failed"]
    assert failed.startswith("mailbox:sales: ")
    assert _get(deployment, "/healthz").status_code == 200  # alive, only not ready

    connected = service.events.count(WatchEvent.CONNECTED)
    private_dovecot.start()
    assert service.events.wait_for(WatchEvent.CONNECTED, connected + 1, WAIT)
    back = _get(deployment, "/readyz")
    assert back.status_code == 200, back.text


def test_metrics_show_what_the_database_holds(
    deployment: Deployment, private_dovecot: DovecotServer, smtp_sink: SmtpSink
) -> None:
    build_outbound(deployment.gateway).ensure_baseline()  # the first start, on an empty CRM
    meeting(deployment.store)
    deployment.start()  # the first poll queues the invitations, the outbox job sends them
    smtp_sink.wait_for(2, timeout=WAIT)

    user = deployment.user
    assert user is not None
    first = google_invitation(sender="gina@example.org", to="olga@example.com", summary="A")
    mails = [
        first,
        google_invitation(sender="gina@example.org", to="olga@example.com", summary="B"),
        first,  # the same message again: already processed
        malformed(sender="gina@example.org", to="olga@example.com"),
        google_invitation(sender="mallory@evil.example", to="olga@example.com", summary="C"),
    ]
    handled = deployment.mailbox.events.count(WatchEvent.HANDLED)
    for raw in mails:
        private_dovecot.append(user, raw)
    assert deployment.mailbox.events.wait_for(WatchEvent.HANDLED, handled + len(mails), WAIT)

    deployment.ops.monitor.write_heartbeat()  # the jobs' last runs, without waiting a beat
    page = _get(deployment, "/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    found = samples(page.text)

    with deployment.store.session() as session:
        processed = dict(
            session.execute(
                select(ProcessedMessage.outcome, func.count())
                .where(ProcessedMessage.source == "sales")
                .group_by(ProcessedMessage.outcome)
            ).all()
        )
        quarantined = session.scalar(
            select(func.count()).where(QuarantinedMessage.released_at.is_(None))
        )
        outbox = dict(
            session.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            ).all()
        )
        sent = session.scalar(
            select(func.count()).where(
                OutboxMessage.state == OutboxState.SENT, OutboxMessage.kind == "invitation"
            )
        )

    received = {
        dict(labels)["outcome"]: value
        for (name, labels), value in found.items()
        if name == "invitegw_messages_received_total" and dict(labels)["source"] == "sales"
    }
    assert received.pop("already_processed") == 1
    assert received == {outcome: float(n) for outcome, n in processed.items()}
    assert sum(processed.values()) == len(mails) - 1
    assert found[("invitegw_pipeline_duration_seconds_count", (("source", "sales"),))] == len(mails)
    quarantine_total = sum(
        v for (name, _), v in found.items() if name == "invitegw_quarantine_messages"
    )
    assert quarantine_total == quarantined
    assert quarantined
    assert quarantined >= 1
    for state, count in outbox.items():
        assert found[("invitegw_outbox_messages", (("state", state.value),))] == count
    assert found[("invitegw_messages_sent_total", (("kind", "invitation"),))] == sent
    assert sent
    assert sent >= 2
    assert found[("invitegw_send_duration_seconds_count", ())] == sent
    assert found[("invitegw_database_up", ())] == 1
    assert found[("invitegw_workers_alive", ())] == 1
    assert found[("invitegw_mailbox_connected", (("mailbox", "sales"),))] == 1
    assert found[("invitegw_imap_lag_seconds", (("mailbox", "sales"),))] >= 0
    assert found[("invitegw_lease_changes_total", (("change", "taken"), ("lease", "imap:sales")))]
    assert ("invitegw_crm_poll_lag_seconds", ()) in found
    # Bounded labels: no address, UID or Message-ID in any label.
    for _name, labels in found:
        for _key, value in labels:
            assert "@" not in value
