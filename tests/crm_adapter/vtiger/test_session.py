"""One webservice session for the process's life, renewed when vtiger ends it, and a quiet
logout at the end (stock vtiger 8 on PHP 8 answers logout with HTTP 500: issue 11).

The adapter talks HTTP to the fake vtiger, whose sessions end the way vtiger's
``SessionManager`` ends them (idle 30 minutes, life span 24 hours) on the fake's clock.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from invitegw.crm_adapter.vtiger import VtigerClient, VtigerCrm
from invitegw.domain.records import EntityType, PartyRef
from invitegw.gateway.bootstrap import build_gateway, build_scheduler
from invitegw.gateway.config import load_settings
from invitegw.gateway.storage import Store
from tests.crm_adapter.vtiger.conftest import ACCESS_KEY, Seeder, make_options, requests_of
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.outbound.harness import write_config

IDLE = 1800  # vtiger's $maxWebServiceSessionIdleTime
LIFE = 86400  # vtiger's $maxWebServiceSessionLifeSpan


def _adapter_records(caplog: pytest.LogCaptureFixture, at_least: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("invitegw.crm_adapter") and r.levelno >= at_least
    ]


def test_one_session_serves_many_feed_passes(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger, clock: ManualClock
) -> None:
    cursor = None
    for n in range(4):
        seed.event(f"Meeting {n}")
        clock.advance(60)
        cursor = crm.changed_meetings(cursor).cursor
    used = {p.get("sessionName") for _, op, p in fake.requests if "sessionName" in p}
    assert used - {seed.client.login_info.session} == {crm.client.login_info.session}
    assert len(requests_of(fake, "login")) == 2  # the seeder's and the adapter's, once each
    assert requests_of(fake, "logout") == []


@pytest.mark.parametrize(
    ("pause", "code"),
    [(IDLE + 60, "SESSION_LEFT_IDLE"), (None, "SESSION_EXPIRED")],
    ids=["idle", "life-span"],
)
def test_a_reused_session_that_vtiger_ends_is_renewed_once(
    crm: VtigerCrm,
    seed: Seeder,
    fake: FakeVtiger,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
    pause: int | None,
    code: str,
) -> None:
    contact = seed.contact("Anna", "Nowak", "anna@acme.example")
    ref = PartyRef(EntityType.CONTACT, contact)
    assert crm.get_party(ref) is not None
    old = crm.client.login_info.session
    logins = len(requests_of(fake, "login"))
    caplog.set_level(logging.INFO, logger="invitegw.crm_adapter.vtiger.client")
    if pause is not None:
        clock.advance(pause)
    else:
        # Busy all day, never idle: vtiger still ends the session 24 h after the login.
        for _ in range(LIFE // (IDLE - 100) + 2):
            clock.advance(IDLE - 100)
            crm.client.listtypes()
            if crm.client.login_info.session != old:
                break
    party = crm.get_party(ref)
    assert party is not None
    assert party.name == "Anna Nowak"
    assert crm.client.login_info.session != old
    assert len(requests_of(fake, "login")) == logins + 1
    assert [m for m in caplog.messages if "ended the session" in m] == [
        f"vtiger ended the session ({code}); logging in again"
    ]


def test_closing_on_stock_vtiger_is_quiet_and_harmless(
    server: FakeVtigerServer, fake: FakeVtiger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="invitegw")
    crm = VtigerCrm(make_options(server.url))
    session = crm.client.login_info.session
    crm.client.listtypes()
    caplog.clear()
    crm.close()
    crm.close()  # a second close does nothing
    assert len(requests_of(fake, "logout")) == 1
    assert session in fake.sessions  # HTTP 500: vtiger keeps the session (until idle)
    assert _adapter_records(caplog, logging.INFO) == []
    debug = _adapter_records(caplog, logging.DEBUG)
    assert any("logout" in m and "HTTP 500" in m for m in debug)


def test_a_logout_that_times_out_is_harmless(
    server: FakeVtigerServer, fake: FakeVtiger, caplog: pytest.LogCaptureFixture
) -> None:
    client = VtigerClient(make_options(server.url, timeout=0.2))
    client.login_info  # noqa: B018 - log in
    fake.delay = 0.6
    caplog.set_level(logging.DEBUG, logger="invitegw")
    caplog.clear()
    client.close()
    fake.delay = 0.0
    assert _adapter_records(caplog, logging.INFO) == []
    assert any("timed out" in m for m in _adapter_records(caplog, logging.DEBUG))


def test_a_patched_logout_ends_the_session(server: FakeVtigerServer, fake: FakeVtiger) -> None:
    fake.logout_mode = "patched"
    client = VtigerClient(make_options(server.url))
    session = client.login_info.session
    client.close()
    assert session not in fake.sessions


@pytest.fixture
def gateway_config(
    tmp_path: Path,
    store: Store,
    smtp_sink: SmtpSink,
    server: FakeVtigerServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    extra = (
        "[crm]\n"
        'adapter = "vtiger"\n'
        "[crm.vtiger]\n"
        f'url = "{server.url}"\n'
        'username = "admin"\n'
        "timeout = 5\n"
    )
    monkeypatch.setenv("INVITEGW_CRM__VTIGER__ACCESS_KEY", ACCESS_KEY)
    return write_config(tmp_path / "invitegw.toml", store, smtp_sink.port, extra)


def test_the_gateway_keeps_one_session_across_passes_and_renews_it(
    gateway_config: Path,
    seed: Seeder,
    fake: FakeVtiger,
    clock: ManualClock,
    smtp_sink: SmtpSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="invitegw")
    anna = seed.contact("Anna", "Nowak", "anna.nowak@example.org")
    seeder_logins = len(requests_of(fake, "login"))
    gateway = build_gateway(load_settings(gateway_config, os.environ))
    try:
        scheduler = build_scheduler(gateway)
        assert all(o.ok for o in scheduler.run_once())  # the first start: the baseline
        for n in range(3):
            seed.event(f"Review {n}", contacts=[anna])
            clock.advance(120)
            assert all(o.ok for o in scheduler.run_once()), n
        assert len(requests_of(fake, "login")) == seeder_logins + 1
        clock.advance(IDLE + 60)  # a quiet half hour: vtiger ends the idle session
        seed.event("After the pause", contacts=[anna])
        assert all(o.ok for o in scheduler.run_once())
        assert len(requests_of(fake, "login")) == seeder_logins + 3  # seeder and gateway
        assert requests_of(fake, "logout") == []
    finally:
        gateway.close()
    assert len(requests_of(fake, "logout")) == 1
    to_anna = [m for m in smtp_sink.messages if "anna.nowak@example.org" in m.rcpt_tos]
    assert len(to_anna) == 4  # every meeting reached her, the one after the pause too
    # Stock vtiger: sync fails, tried and reported once for the process, not per pass.
    assert len(requests_of(fake, "sync")) == 1
    fallback = [m for m in _adapter_records(caplog, logging.WARNING) if "sync" in m]
    assert len(fallback) == 1
