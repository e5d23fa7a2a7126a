"""The CRM port contract on the built-in CRM, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from invitegw.domain.records import EntityType
from invitegw.gateway.storage import Store
from tests.crm_adapter.contract import CrmContract, CrmHarness, HarnessFactory
from tests.crm_adapter.sql_harness import sql_harness


class TestSqlCrmContract(CrmContract):
    """Runs once per engine: ``store`` is parametrized over SQLite and PostgreSQL."""

    @pytest.fixture
    def make_harness(self, store: Store) -> HarnessFactory:
        def make(email_fields: Mapping[EntityType, int] | None = None) -> CrmHarness:
            return sql_harness(store, email_fields)

        return make
