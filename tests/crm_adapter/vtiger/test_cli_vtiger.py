"""The CLI on a vtiger configuration: ``crm check`` and ``crm log list`` (the gateway's log)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from invitegw.domain.records import LogLevel
from invitegw.gateway.bootstrap import build_gateway
from invitegw.gateway.cli import main
from invitegw.gateway.config import load_settings
from invitegw.gateway.storage import log_event
from tests.crm_adapter.vtiger.conftest import ACCESS_KEY, Seeder
from tests.crm_adapter.vtiger.replay_server import FakeVtigerServer


@pytest.fixture
def vtiger_config(
    tmp_path: Path, server: FakeVtigerServer, monkeypatch: pytest.MonkeyPatch
) -> Path:
    config = tmp_path / "invitegw.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        "[crm]\n"
        'adapter = "vtiger"\n'
        "[crm.vtiger]\n"
        f'url = "{server.url}"\n'
        'username = "admin"\n'
        "timeout = 5\n"
    )
    monkeypatch.setenv("INVITEGW_CRM__VTIGER__ACCESS_KEY", ACCESS_KEY)
    return config


def test_crm_check_reports_vtiger(
    vtiger_config: Path, seed: Seeder, capsys: pytest.CaptureFixture[str]
) -> None:
    seed.event("Kick-off with Acme")
    assert main(["--config", str(vtiger_config), "crm", "check"]) == 0
    out = capsys.readouterr().out
    assert "8.3.0" in out
    assert "Kick-off with Acme" in out


def test_crm_check_names_a_wrong_key(
    vtiger_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INVITEGW_CRM__VTIGER__ACCESS_KEY", "wrong-key")
    assert main(["--config", str(vtiger_config), "crm", "check"]) == 1
    assert "INVALID_USER_CREDENTIALS" in capsys.readouterr().out


def test_crm_check_without_access_key_is_a_config_error(
    vtiger_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("INVITEGW_CRM__VTIGER__ACCESS_KEY")
    assert main(["--config", str(vtiger_config), "crm", "check"]) == 1
    assert "INVITEGW_CRM__VTIGER__ACCESS_KEY" in capsys.readouterr().err


def test_log_list_shows_the_gateways_own_log(
    vtiger_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(vtiger_config, os.environ)
    gateway = build_gateway(settings)
    try:
        with gateway.store.session() as session:
            log_event(
                session,
                now=dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC),
                level=LogLevel.WARNING,
                kind="dead",
                text="delivery to bob@example.org failed: 550 no such user",
                meeting_id="18x5",
                message_id="out.1@example.com",
            )
    finally:
        gateway.close()
    assert main(["--config", str(vtiger_config), "crm", "log", "list", "--json"]) == 0
    [entry] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert entry["target"] == "meeting"
    assert entry["target_id"] == "18x5"
    assert entry["level"] == "warning"
    assert "550" in entry["message"]


def test_crm_check_on_the_built_in_crm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["crm", "user", "add", "olga@example.com", "--name", "Olga"]) == 0
    capsys.readouterr()
    assert main(["crm", "check"]) == 0
    out = capsys.readouterr().out
    assert "built-in CRM" in out
    assert "users:" in out
