"""Show the effective settings as TOML, with every secret redacted (``check-config``).

Secrets are the fields marked secret and the credentials of any URL in a value
(:func:`~invitegw.gateway.config.redact.redact_urls`).

The output reads back as a configuration file (secrets aside: they stay in the
environment), so it doubles as a way to freeze the settings a deployment runs with.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from enum import Enum
from pathlib import Path
from typing import Any

from invitegw.gateway.config.fields import REDACTED, RawTable, Secret, format_duration
from invitegw.gateway.config.loader import env_var_for
from invitegw.gateway.config.redact import redact_urls

__all__ = ["dump_settings"]


def dump_settings(settings: Any) -> str:
    """The settings as TOML text; secrets show as ``<redacted>``, unset ones as comments.

    Parameters:
        settings: a :class:`~invitegw.gateway.config.Settings` (or any section of it).

    Returns:
        TOML text ending with a newline.
    """
    lines: list[str] = []
    _table(settings, "", lines)
    return "\n".join(lines).strip() + "\n"


def _table(obj: Any, path: str, lines: list[str], header: str | None = None) -> None:
    # ``path`` names entries for the environment (mailboxes[sales].oauth2); ``header`` is
    # the TOML table name (mailboxes.oauth2: a sub-table of the last [[mailboxes]] entry).
    header = path if header is None else header
    nested: list[tuple[str, str, Any]] = []
    for spec in dataclasses.fields(obj):
        value = getattr(obj, spec.name)
        key = f"{path}.{spec.name}" if path else spec.name
        title = f"{header}.{spec.name}" if header else spec.name
        if spec.metadata.get("tables") is not None:
            # Named tables are written as the section's own sub-tables: [crm.vtiger].
            nested.extend(
                (f"{path}.{name}" if path else name, f"{header}.{name}" if header else name, t)
                for name, t in value.items()
            )
        elif spec.metadata.get("secret"):
            shown = f'"{REDACTED}"' if value is not None else None
            var = env_var_for(key)
            _scalar(lines, spec.name, shown, f"secret, from {var} or {var}_FILE")
        elif _is_table(value):
            nested.append((key, title, value))
        elif value is None:
            _scalar(lines, spec.name, None, None)
        else:
            _scalar(lines, spec.name, _value(value), None)
    for key, title, value in nested:
        if isinstance(value, RawTable):
            lines.extend(["", f"[{title}]"])
            for name, item in value.redacted().items():
                _scalar(lines, name, _value(item), None)
        elif isinstance(value, tuple):
            for index, entry in enumerate(value):
                lines.extend(["", f"[[{title}]]"])
                _table(entry, f"{key}[{getattr(entry, 'name', index)}]", lines, title)
        else:
            lines.extend(["", f"[{title}]"])
            _table(value, key, lines, title)


def _is_table(value: Any) -> bool:
    if isinstance(value, RawTable) or dataclasses.is_dataclass(value):
        return True
    return isinstance(value, tuple) and bool(value) and dataclasses.is_dataclass(value[0])


def _scalar(lines: list[str], name: str, shown: str | None, note: str | None) -> None:
    if shown is None:
        lines.append(f"# {name} = (not set){' - ' + note if note else ''}")
    else:
        lines.append(f"{name} = {shown}{'  # ' + note if note else ''}")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.timedelta):
        return json.dumps(format_duration(value))
    if isinstance(value, Enum):
        return json.dumps(str(value.value))
    if isinstance(value, Secret):
        return json.dumps(REDACTED)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    # A URL may carry a password (database.url from INVITEGW_DATABASE__URL): never shown.
    return json.dumps(redact_urls(str(value)), ensure_ascii=False)
