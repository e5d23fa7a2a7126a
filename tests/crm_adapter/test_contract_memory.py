"""The CRM port contract on a third adapter: the in-memory test fake, found by the registry.

The harness builds the adapter the way the gateway does, by name: ``get_adapter`` (the
adapter was only registered, see ``conftest.py``), its ``parse_options`` on a table, its
``build`` with a build context; nothing of the gateway's shell knows it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from invitegw.crm_adapter.registry import CrmBuildContext, get_adapter
from invitegw.domain.records import EntityType
from tests.crm_adapter.contract import CrmContract, CrmHarness, HarnessFactory
from tests.crm_adapter.memory_adapter import MemorySeeder, world
from tests.crm_adapter.sql_harness import fixed_clock

_worlds = itertools.count(1)


class TestFakeMemoryContract(CrmContract):
    """The suite against ``fake_memory``, built through the registry."""

    @pytest.fixture
    def make_harness(self, fake_memory: Any) -> HarnessFactory:
        def make(email_fields: Mapping[EntityType, int] | None = None) -> CrmHarness:
            name = f"contract-{next(_worlds)}"
            world(name).clock = fixed_clock(dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC))
            spec = get_adapter("fake_memory")
            options = spec.parse_options({"world": name, "token": "t0ken"})
            counts = {e: (email_fields or {}).get(e, 1) for e in EntityType}
            context = CrmBuildContext(clock=world(name).clock, email_counts=counts)
            binding = spec.build(options, context)
            assert binding.shared is not None  # a process-wide ("remote") adapter
            return CrmHarness(
                crm=binding.shared, seed=MemorySeeder(world(name)), capabilities=frozenset()
            )

        return make
