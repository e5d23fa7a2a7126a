"""Fixtures of the CRM adapter tests: the test-only third adapter, registered for one test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from invitegw.crm_adapter import registry
from tests.crm_adapter import memory_adapter


@pytest.fixture
def fake_memory() -> Iterator[registry.CrmAdapterSpec[memory_adapter.FakeMemoryOptions]]:
    """``fake_memory`` registered (through the registry only) for the test, then removed."""
    registry.register(memory_adapter.SPEC)
    try:
        yield memory_adapter.SPEC
    finally:
        registry.unregister(memory_adapter.SPEC.name)
        memory_adapter.WORLDS.clear()
