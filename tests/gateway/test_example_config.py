"""``invitegw.example.toml`` loads, and documents every field of ``Settings`` (no drift)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from pathlib import Path
from typing import Any

from invitegw.crm_adapter.registry import adapter_names, get_adapter
from invitegw.gateway.config import RawTable, Settings, env_var_for, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "invitegw.example.toml"


def _settings_keys(cls: type, prefix: str = "") -> tuple[set[str], set[str]]:
    """(plain keys, secret keys) of a settings dataclass, dotted, list entries as ``x[]``."""
    keys: set[str] = set()
    secrets: set[str] = set()
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        key = f"{prefix}{spec.name}"
        tp = hints[spec.name]
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = args[0] if typing.get_origin(tp) is not tuple and len(args) == 1 else tp
        item = typing.get_args(tp)[0] if typing.get_origin(tp) is tuple else None
        if spec.metadata.get("tables") is not None:
            continue  # named tables ([crm.<adapter>]) are the adapters' own: see below
        if spec.metadata.get("secret"):
            secrets.add(key)
        elif inner is RawTable:
            keys.add(key)
        elif isinstance(inner, type) and dataclasses.is_dataclass(inner):
            sub, sub_secrets = _settings_keys(inner, key + ".")
            keys |= sub
            secrets |= sub_secrets
        elif isinstance(item, type) and dataclasses.is_dataclass(item):
            sub, sub_secrets = _settings_keys(item, key + "[].")
            keys |= sub
            secrets |= sub_secrets
        else:
            keys.add(key)
    return keys, secrets


def _file_keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and prefix == "crm." and name in adapter_names():
            continue  # an adapter's own table, checked by the adapter
        if isinstance(value, dict):
            keys |= _file_keys(value, key + ".")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for entry in value:
                keys |= _file_keys(entry, key + "[].")
        else:
            keys.add(key)
    return keys


def test_example_loads(tmp_path: Path) -> None:
    settings = load_settings(EXAMPLE, {}, cwd=tmp_path)
    assert settings.calendars[0].name == "sales"
    assert settings.mailboxes[0].owner == "sales"


def test_example_sets_every_key_and_names_every_secret_variable() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    keys, secrets = _settings_keys(Settings)
    found = _file_keys(data)
    assert keys - found == set(), "keys of Settings missing from the example"
    assert found - keys == set(), "keys in the example that Settings does not have"
    for key in sorted(secrets):
        variable = env_var_for(key.replace("[]", "[sales]"))
        assert variable in text, f"the example does not say where {key} comes from"


def test_example_adapter_tables_name_their_secret_variables() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    tables = [n for n in tomllib.loads(text)["crm"] if n in adapter_names()]
    assert "vtiger" in tables
    for name in tables:
        # vtiger lists "password" as a secret only to refuse one written in the file (it
        # logs in with the access key): there is no such key to document.
        for secret in sorted(get_adapter(name).secret_keys - {"password"}):
            variable = env_var_for(f"crm.{name}.{secret}")
            assert variable in text, f"the example does not say where crm.{name}.{secret} is"


def test_every_key_in_the_example_has_a_comment_above_it() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    assignment = re.compile(r"^[a-z_]+ = ")
    for number, line in enumerate(lines):
        if assignment.match(line):
            above = lines[number - 1].strip()
            assert above.startswith("#"), f"line {number + 1} ({line!r}) has no comment above"
