"""The composition root: what build_gateway wires from the settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from invitegw.crm_adapter.builtin.crm import SqlCrm
from invitegw.crm_adapter.vtiger import VtigerCrm
from invitegw.domain.records import EntityType
from invitegw.errors import ConfigError, SchemaOutdatedError
from invitegw.gateway.bootstrap import (
    build_gateway,
    crm_build_context,
    mime_limits,
    worker_id,
)
from invitegw.gateway.config import load_settings
from invitegw.gateway.storage import Store


def test_embedded_default_is_upgraded_and_wired(tmp_path: Path) -> None:
    settings = load_settings(None, {"INVITEGW_WORKER__ID": "w-1"}, cwd=tmp_path)

    def clock() -> dt.datetime:
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    gateway = build_gateway(settings, clock=clock)
    try:
        assert gateway.schema is not None
        assert gateway.schema.up_to_date
        assert gateway.worker == "w-1"
        with gateway.store.session() as session:
            crm = gateway.crm(session)
            assert isinstance(crm, SqlCrm)
            assert crm.session is session
    finally:
        gateway.close()


def test_a_configured_database_is_not_upgraded_silently(tmp_path: Path) -> None:
    env = {"INVITEGW_DATABASE__URL": f"sqlite:///{tmp_path / 'other.sqlite3'}"}
    with pytest.raises(SchemaOutdatedError, match="run `invitegw db upgrade`"):
        build_gateway(load_settings(None, env, cwd=tmp_path))


def test_injected_parts_win(tmp_path: Path, store: Store) -> None:
    settings = load_settings(None, {"INVITEGW_CRM__EMAIL_FIELDS__LEAD": "2"}, cwd=tmp_path)
    fake = object()
    gateway = build_gateway(settings, store=store, crm=fake)  # type: ignore[arg-type]
    with store.session() as session:
        assert gateway.crm(session) is fake
    assert crm_build_context(settings).email_counts[EntityType.LEAD] == 2
    assert worker_id(settings)  # host:pid when worker.id is empty


def test_vtiger_needs_its_access_key(tmp_path: Path, store: Store) -> None:
    env = {"INVITEGW_CRM__ADAPTER": "vtiger", "INVITEGW_CRM__VTIGER__URL": "http://127.0.0.1:1"}
    with pytest.raises(ConfigError, match=r"crm\.vtiger\.access_key"):
        build_gateway(load_settings(None, env, cwd=tmp_path), store=store)


def test_vtiger_adapter_from_the_settings_environment(tmp_path: Path, store: Store) -> None:
    env = {
        "INVITEGW_CRM__ADAPTER": "vtiger",
        "INVITEGW_CRM__VTIGER__URL": "http://127.0.0.1:1",
        "INVITEGW_CRM__VTIGER__USERNAME": "admin",
        "INVITEGW_CRM__VTIGER__ACCESS_KEY": "k1",
    }
    gateway = build_gateway(load_settings(None, env, cwd=tmp_path), store=store)
    try:
        with gateway.store.session() as session:
            crm = gateway.crm(session)
        assert isinstance(crm, VtigerCrm)
        assert crm.options.access_key == "k1"
    finally:
        gateway.close()


def test_mime_limits_come_from_the_settings(tmp_path: Path) -> None:
    env = {"INVITEGW_LIMITS__MIME_DEPTH": "5", "INVITEGW_LIMITS__MESSAGE_BYTES": "4096"}
    limits = mime_limits(load_settings(None, env, cwd=tmp_path))
    assert (limits.max_depth, limits.max_message_bytes) == (5, 4096)
