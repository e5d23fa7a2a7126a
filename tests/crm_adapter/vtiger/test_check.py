"""``check_connection``: what an administrator sees from ``invitegw crm check``."""

from __future__ import annotations

import dataclasses
import socket

from invitegw.crm_adapter.vtiger import check_connection, render_check_report
from tests.crm_adapter.vtiger.conftest import ACCESS_KEY, Seeder, make_options
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock


def test_a_healthy_vtiger(server: FakeVtigerServer, seed: Seeder, clock: ManualClock) -> None:
    seed.event("Older")
    clock.advance(60)
    seed.event("Newest")
    report = check_connection(make_options(server.url), sample_size=1)
    assert report.ok
    assert (report.user, report.user_id, report.vtiger_version) == ("admin", "19x1", "8.3.0")
    assert report.server_time == "2026-11-23 16:01:00"
    assert [s.title for s in report.sample] == ["Newest"]
    assert "unsupported" in report.sync
    text = render_check_report(report)
    assert "8.3.0" in text
    assert "Newest" in text
    assert text.endswith("OK")


def test_patched_sync_and_configuration_warnings(
    server: FakeVtigerServer, fake: FakeVtiger
) -> None:
    fake.sync_mode = "patched"
    report = check_connection(make_options(server.url, task_cancelled_status="Cancelled"))
    assert report.ok
    assert report.sync.startswith("supported")
    assert any("task_cancelled_status" in w for w in report.warnings)


def test_one_clear_error(server: FakeVtigerServer) -> None:
    wrong_key = dataclasses.replace(make_options(server.url), access_key="not-the-key")
    report = check_connection(wrong_key)
    assert not report.ok
    assert report.error is not None
    assert "INVALID_USER_CREDENTIALS" in report.error
    assert render_check_report(report).endswith("FAILED")
    missing_field = check_connection(make_options(server.url, sync_field="cf_404"))
    assert missing_field.error is not None
    assert "crm.vtiger.sync_field" in missing_field.error
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = check_connection(make_options(f"http://127.0.0.1:{port}"))
    assert unreachable.error is not None
    assert "cannot reach" in unreachable.error


def test_a_wrong_server_zone_is_flagged(clock: ManualClock) -> None:
    fake = FakeVtiger(clock=clock, zone="Asia/Tokyo", access_key=ACCESS_KEY)
    server = FakeVtigerServer(fake)
    try:
        seeder = Seeder(server.url, fake)
        seeder.event("Stored in Tokyo time")
        seeder.close()
        report = check_connection(make_options(server.url))  # but configured as UTC
    finally:
        server.close()
    assert any("server_time_zone" in w for w in report.warnings)


def test_a_refused_sync_is_reported_not_a_failure(
    server: FakeVtigerServer, fake: FakeVtiger
) -> None:
    fake.sync_mode = "patched"
    fake.add_user("gw", "Gate", "Way", "gw@corp.example", "gw-key")  # not an administrator
    options = dataclasses.replace(make_options(server.url), username="gw", access_key="gw-key")
    report = check_connection(options)
    assert report.ok
    assert report.sync.startswith("refused (ACCESS_DENIED")
    per_user = check_connection(make_options(server.url, sync_type="user"))
    assert per_user.sync.startswith("supported for the API user's own meetings only")
