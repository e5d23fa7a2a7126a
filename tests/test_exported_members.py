"""Every public package keeps a sorted, complete ``__all__`` (as httpx checks its own)."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import invitegw


def _isort_key(name: str) -> tuple[int, str]:
    """ruff RUF022's order: CONSTANTS, then CamelCase classes, then everything else."""
    if name.isupper() or (name.upper() == name and "_" in name):
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def _modules() -> list[str]:
    names = ["invitegw"]
    for info in pkgutil.walk_packages(invitegw.__path__, "invitegw."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        assert not name.startswith("invitegw") or isinstance(module, types.ModuleType)
        return
    expected = sorted(exported, key=_isort_key)
    assert list(exported) == expected, f"{name}.__all__ is not sorted as ruff RUF022 sorts"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names missing {member!r}"


@pytest.mark.parametrize("name", [n for n in _modules() if n.count(".") <= 1])
def test_package_reexports_are_complete(name: str) -> None:
    """A subpackage's ``__all__`` lists every public name it imports from its modules."""
    module = importlib.import_module(name)
    exported = set(getattr(module, "__all__", ()))
    for attr, value in vars(module).items():
        if attr.startswith("_") or isinstance(value, types.ModuleType):
            continue
        origin = getattr(value, "__module__", None)
        if origin and origin.startswith("invitegw") and origin != name:
            assert attr in exported, f"{name} imports {attr} from {origin} but does not export it"
