"""Load ``invitegw.toml`` and the environment into :class:`Settings`, validating every key.

Sources, first found wins: ``--config FILE``, ``$INVITEGW_CONFIG``, ``./invitegw.toml``,
else the built-in defaults (the embedded setup). Then environment variables override:

- ``INVITEGW_<SECTION>__<KEY>`` sets a key of a section (``INVITEGW_SMTP__PORT=2525``),
  ``INVITEGW_<SECTION>__<SUB>__<KEY>`` a key of a sub-table (``INVITEGW_SMTP__RETRY__FACTOR``,
  ``INVITEGW_CRM__VTIGER__URL``), ``INVITEGW_<KEY>`` a top-level key (``INVITEGW_DATA_DIR``).
- The list sections ``calendars`` and ``mailboxes`` are addressed by entry *name*, upper
  case with ``-`` written as ``_``: ``INVITEGW_MAILBOXES__SALES_EU__PASSWORD`` is the password
  of the mailbox named ``sales-eu``. A name not in the file adds an entry with that name.
- Lists of strings are comma separated; booleans read true/false/yes/no/on/off/1/0; an
  empty value unsets an optional key.
- Passwords and keys (``smtp.password``, ``mailboxes.*.password``, ``database.password``,
  the keys a CRM adapter declares secret, like ``crm.vtiger.access_key``, and the ``oauth2``
  tables' secrets) are read from the environment only: in the file they are an error naming
  the variable to use. A secret setting's variable with ``_FILE`` appended names a file
  holding the value instead
  (``INVITEGW_SMTP__OAUTH2__CLIENT_SECRET_FILE=/run/credentials/invitegw/smtp-secret``):
  how systemd's ``LoadCredential`` and container secrets deliver them. One trailing line
  break is dropped; giving both forms is an error.
- ``[crm]`` holds, beside its own keys, one table per CRM adapter (``[crm.vtiger]``,
  ``INVITEGW_CRM__VTIGER__URL``): the adapter registry says which names exist and which of
  their keys are secrets; the adapter validates its table when it is built.

Every error is a :class:`~invitegw.errors.ConfigError` naming the key
(``smtp.port: expected an integer 1-65535, got 'abc'``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import tomllib
import types
import typing
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from invitegw.errors import ConfigError
from invitegw.gateway.config.fields import RawTable, RawTables, Secret, TableNames, parse_duration
from invitegw.gateway.config.settings import Settings

__all__ = ["ENV_PREFIX", "env_var_for", "load_settings", "resolve_config_path"]

logger = logging.getLogger(__name__)

ENV_PREFIX = "INVITEGW_"
# Variables with our prefix that are not settings.
_NOT_SETTINGS = frozenset({"CONFIG"})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclasses.dataclass(frozen=True, slots=True)
class _EnvValue:
    """A value from an environment variable: always text, converted by the field's type."""

    text: str
    var: str


def resolve_config_path(
    path: Path | str | None, env: Mapping[str, str], cwd: Path | None = None
) -> Path | None:
    """The configuration file to read, or ``None`` for the built-in defaults.

    Parameters:
        path: the ``--config`` argument, if given.
        env: the environment (``INVITEGW_CONFIG``).
        cwd: the directory ``./invitegw.toml`` is looked up in (default: the current one).

    Returns:
        The file, or ``None`` when no file is named and ``./invitegw.toml`` does not exist.

    Raises:
        ConfigError: a file named explicitly does not exist.
    """
    base = cwd or Path.cwd()
    named = path if path is not None else env.get(f"{ENV_PREFIX}CONFIG") or None
    if named is not None:
        candidate = base / Path(named)
        if not candidate.is_file():
            origin = "--config" if path is not None else f"{ENV_PREFIX}CONFIG"
            raise ConfigError(f"{origin}: configuration file {str(named)!r} not found")
        return candidate
    default = base / "invitegw.toml"
    return default if default.is_file() else None


def load_settings(
    path: Path | str | None, env: Mapping[str, str], *, cwd: Path | None = None
) -> Settings:
    """Read, override and validate the configuration once.

    Parameters:
        path: the ``--config`` file, or ``None`` to look for one (see the module docstring).
        env: the environment to take overrides and secrets from (usually ``os.environ``).
        cwd: the directory relative paths are resolved against (default: the current one).

    Returns:
        The validated settings; ``data_dir`` is absolute.

    Raises:
        ConfigError: the file is unreadable or invalid, or a value fails validation.
    """
    base = cwd or Path.cwd()
    source = resolve_config_path(path, env, base)
    data: dict[str, Any] = {}
    if source is not None:
        try:
            with source.open("rb") as handle:
                data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source.name}: invalid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from exc
    _apply_env(data, env)
    settings: Settings = _build(Settings, data, "")
    if not settings.data_dir.is_absolute():
        settings = dataclasses.replace(settings, data_dir=base / settings.data_dir)
    logger.debug("configuration loaded from %s", source or "built-in defaults")
    return settings


def env_var_for(key: str) -> str:
    """The environment variable that sets ``key`` (``mailboxes[sales].password``).

    Parameters:
        key: a dotted key, list entries written ``section[name]``.

    Returns:
        The variable name (``INVITEGW_MAILBOXES__SALES__PASSWORD``).
    """
    parts = key.replace("[", ".").replace("]", "").split(".")
    return ENV_PREFIX + "__".join(p.upper().replace("-", "_") for p in parts if p)


# -- environment overrides -------------------------------------------------------------------


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    """The keys of a section: its fields, except a :class:`RawTables` one (not a key)."""
    return {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("tables") is None}


def _tables_field(cls: type) -> tuple[str, TableNames] | None:
    """The section's :class:`RawTables` field and what its names are, if it has one."""
    for spec in dataclasses.fields(cls):
        names = spec.metadata.get("tables")
        if names is not None:
            return spec.name, names
    return None


def _valid_keys(cls: type, path: str) -> str:
    """``valid keys of crm: a, b`` plus, for a section with named tables, their names."""
    text = f"valid keys{' of ' + path if path else ''}: {', '.join(sorted(_fields(cls)))}"
    tables = _tables_field(cls)
    if tables is not None:
        text += f"; or {tables[1].what}: {', '.join(sorted(tables[1].names()))}"
    return text


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _list_item_type(tp: Any) -> type | None:
    """The dataclass of a ``tuple[Dataclass, ...]`` field, else ``None``."""
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if args and dataclasses.is_dataclass(args[0]) and isinstance(args[0], type):
            return args[0]
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _env_key(name: str) -> str:
    return name.upper().replace("-", "_")


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    top = _fields(Settings)
    hints = _hints(Settings)
    sections = sorted(n for n in top if not _is_scalar(hints[n]))
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX) or var[len(ENV_PREFIX) :] in _NOT_SETTINGS:
            continue
        rest = var[len(ENV_PREFIX) :]
        parts = rest.split("__")
        if len(parts) == 1:
            name = rest.lower()
            if name in top and _is_scalar(hints[name]):
                data[name] = _EnvValue(env[var], var)
            elif name in top:
                raise ConfigError(f"{var}: {name} is a table; set one of its keys")
            else:
                for section in sections:
                    if name.startswith(section + "_"):
                        fixed = f"{ENV_PREFIX}{section.upper()}__{rest[len(section) + 1 :]}"
                        raise ConfigError(f"{var}: not a setting; did you mean {fixed}?")
            continue
        _apply_one(data, parts, _EnvValue(env[var], var))


def _is_scalar(tp: Any) -> bool:
    inner, _ = _unwrap_optional(tp)
    if inner is Secret:
        return True
    return not (
        (isinstance(inner, type) and dataclasses.is_dataclass(inner))
        or _list_item_type(inner) is not None
        or inner in (RawTable, RawTables)
    )


def _apply_one(data: dict[str, Any], parts: list[str], value: _EnvValue) -> None:
    cls: type = Settings
    node: dict[str, Any] = data
    path = ""
    i = 0
    while i < len(parts):
        name = parts[i].lower()
        fields = _fields(cls)
        if name not in fields and i == len(parts) - 1 and _secret_file(node, fields, name, value):
            return
        if name not in fields:
            tables = _tables_field(cls)
            if name and tables is not None and name in tables[1].names():
                _set_in_table(node, parts[i:], path, value)
                return
            raise ConfigError(
                f"{value.var}: {_join(path, name) if name else path or 'key'} is not a setting; "
                f"{_valid_keys(cls, path)}"
            )
        tp, _ = _unwrap_optional(_hints(cls)[name])
        key = _join(path, name)
        last = i == len(parts) - 1
        item_cls = _list_item_type(tp)
        if item_cls is not None:
            if i + 2 > len(parts) - 1:
                form = f"{ENV_PREFIX}{name.upper()}__<NAME>__<KEY>"
                raise ConfigError(f"{value.var}: {key} entries are set as {form}")
            node, path = _list_entry(node, name, parts[i + 1]), f"{name}[{parts[i + 1].lower()}]"
            cls, i = item_cls, i + 2
            continue
        if last:
            if not _is_scalar(tp):
                raise ConfigError(f"{value.var}: {key} is a table; set one of its keys")
            node[name] = value
            return
        if tp is RawTable:
            table = _child_table(node, name, key)
            for part in parts[i + 1 : -1]:
                table = _child_table(table, part.lower(), key)
            table[parts[-1].lower()] = value
            return
        if not _is_scalar(tp):
            node, path, cls, i = _child_table(node, name, key), key, tp, i + 1
            continue
        raise ConfigError(f"{value.var}: {key} is not a table")


def _secret_file(
    node: dict[str, Any], fields: dict[str, dataclasses.Field[Any]], name: str, value: _EnvValue
) -> bool:
    """``<SECRET>_FILE``: read the secret from the file it names; False if not that form."""
    base = name.removesuffix("_file")
    spec = fields.get(base)
    if base == name or spec is None or not spec.metadata.get("secret"):
        return False
    existing = node.get(base)
    if isinstance(existing, _EnvValue):
        raise ConfigError(f"{value.var} and {existing.var}: both set the same secret; give one")
    path = Path(value.text)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(
            f"{value.var}: cannot read the secret file {value.text!r}: {reason}"
        ) from exc
    node[base] = _EnvValue(text.removesuffix("\n").removesuffix("\r"), value.var)
    return True


def _set_in_table(node: dict[str, Any], parts: list[str], path: str, value: _EnvValue) -> None:
    """``parts`` = [table name, sub-table ..., key]: set it in the named table under ``node``."""
    key = _join(path, parts[0].lower())
    if len(parts) == 1:
        raise ConfigError(f"{value.var}: {key} is a table; set one of its keys")
    table = _child_table(node, parts[0].lower(), key)
    for part in parts[1:-1]:
        table = _child_table(table, part.lower(), key)
    table[parts[-1].lower()] = value


def _child_table(node: dict[str, Any], name: str, key: str) -> dict[str, Any]:
    child = node.setdefault(name, {})
    if not isinstance(child, dict):
        raise ConfigError(f"{key}: expected a table, got {_show(child)}")
    return child


def _list_entry(node: dict[str, Any], section: str, env_name: str) -> dict[str, Any]:
    if section not in node:
        # Overriding a list the file does not set starts from the built-in entries.
        node[section] = [_to_raw(entry) for entry in getattr(Settings(), section)]
    entries = node[section]
    if not isinstance(entries, list):
        raise ConfigError(f"{section}: expected an array of tables ([[{section}]])")
    for entry in entries:
        if isinstance(entry, dict) and _env_key(str(entry.get("name", ""))) == env_name.upper():
            return entry
    created: dict[str, Any] = {"name": env_name.lower()}
    entries.append(created)
    return created


def _to_raw(obj: Any) -> dict[str, Any]:
    """A settings entry as the file would write it (only keys that differ from defaults)."""
    out: dict[str, Any] = {}
    for spec in dataclasses.fields(obj):
        value = getattr(obj, spec.name)
        if spec.default is not dataclasses.MISSING and value == spec.default:
            continue
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, dt.timedelta):
            value = value.total_seconds()
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[spec.name] = value
    return out


# -- conversion and validation ---------------------------------------------------------------


def _build(cls: type[Any], data: Mapping[str, Any], path: str) -> Any:
    fields = _fields(cls)
    hints = _hints(cls)
    tables = _tables_field(cls)
    named: dict[str, Any] = {}
    for name in data:
        if name in fields:
            continue
        if tables is not None and name in tables[1].names():
            named[name] = data[name]
            continue
        raise ConfigError(f"{_join(path, name)}: unknown key; {_valid_keys(cls, path)}")
    kwargs: dict[str, Any] = {}
    if tables is not None:
        kwargs[tables[0]] = _raw_tables(named, path, tables[1])
    for name, spec in fields.items():
        key = _join(path, name)
        if name not in data:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{key}: required")
            continue
        kwargs[name] = _convert(hints[name], data[name], key, spec.metadata)
    obj = cls(**kwargs)
    check = getattr(obj, "_check", None)
    if check is not None:
        check(path)
    return obj


def _label(key: str, raw: object) -> str:
    return f"{key} (from {raw.var})" if isinstance(raw, _EnvValue) else key


def _show(raw: object) -> str:
    return repr(raw.text) if isinstance(raw, _EnvValue) else repr(raw)


def _convert(tp: Any, raw: Any, key: str, md: Mapping[str, Any]) -> Any:
    inner, optional = _unwrap_optional(tp)
    if md.get("secret"):
        if not isinstance(raw, _EnvValue):
            raise ConfigError(
                f"{key}: secrets are not read from the configuration file; "
                f"set {env_var_for(key)} in the environment "
                f"(or {env_var_for(key)}_FILE naming a file that holds it)"
            )
        return Secret(raw.text) if raw.text else None
    if optional and isinstance(raw, _EnvValue) and raw.text == "":
        return None
    if md.get("url") and isinstance(raw, str) and _url_password(raw):
        raise ConfigError(
            f"{key}: a password in the URL is not read from the configuration file; "
            f"set {env_var_for(key.rsplit('.', 1)[0] + '.password')} in the environment"
        )
    value = _convert_type(inner, raw, key, md)
    _check_bounds(value, raw, key, md)
    check = md.get("check")
    problem = check(value) if check is not None else None
    if problem:
        raise ConfigError(f"{_label(key, raw)}: {problem}")
    return value


def _url_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def _convert_type(tp: Any, raw: Any, key: str, md: Mapping[str, Any]) -> Any:
    item_cls = _list_item_type(tp)
    if item_cls is not None:
        if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
            raise ConfigError(f"{key}: expected an array of tables ([[{key}]]), got {_show(raw)}")
        out = []
        for index, entry in enumerate(raw):
            name = entry.get("name")
            where = name if isinstance(name, str) and name else str(index)
            out.append(_build(item_cls, entry, f"{key}[{where}]"))
        return tuple(out)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(raw, dict):
            raise ConfigError(f"{key}: expected a table ([{key}]), got {_show(raw)}")
        return _build(tp, raw, key)
    if tp is RawTable:
        if not isinstance(raw, dict):
            raise ConfigError(f"{key}: expected a table ([{key}]), got {_show(raw)}")
        secret_keys: frozenset[str] = md.get("secret_keys", frozenset())
        return RawTable(_raw_table(raw, key, secret_keys), secret_keys)
    if typing.get_origin(tp) is tuple:
        return _convert_str_list(raw, key)
    text = raw.text if isinstance(raw, _EnvValue) else None
    expected = _expected(tp, md)
    try:
        if tp is bool:
            if text is not None and text.strip().lower() in _TRUE | _FALSE:
                return text.strip().lower() in _TRUE
            if isinstance(raw, bool):
                return raw
        elif tp is int:
            if text is not None:
                return int(text.strip())
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
        elif tp is float:
            if text is not None:
                return float(text.strip())
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return float(raw)
        elif tp is str:
            if text is not None or isinstance(raw, str):
                return text if text is not None else raw
        elif tp is Path:
            if text is not None or isinstance(raw, str):
                return Path(text if text is not None else raw)
        elif tp is dt.timedelta:
            if text is not None or isinstance(raw, str):
                return parse_duration(text if text is not None else raw)
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return dt.timedelta(seconds=raw)
        elif isinstance(tp, type) and issubclass(tp, Enum):
            word = (text if text is not None else raw) if isinstance(raw, str | _EnvValue) else None
            if isinstance(word, str):
                return tp(word.strip().lower())
    except ValueError:
        pass
    raise ConfigError(f"{_label(key, raw)}: expected {expected}, got {_show(raw)}")


def _convert_str_list(raw: Any, key: str) -> tuple[str, ...]:
    if isinstance(raw, _EnvValue):
        return tuple(part.strip() for part in raw.text.split(",") if part.strip())
    if isinstance(raw, list) and all(isinstance(e, str) for e in raw):
        return tuple(raw)
    raise ConfigError(f"{key}: expected an array of strings, got {_show(raw)}")


def _raw_tables(named: Mapping[str, Any], path: str, names: TableNames) -> RawTables:
    out: dict[str, RawTable] = {}
    for name, raw in named.items():
        key = _join(path, name)
        if not isinstance(raw, dict):
            raise ConfigError(f"{key}: expected a table ([{key}]), got {_show(raw)}")
        secret_keys = names.secret_keys(name)
        out[name] = RawTable(_raw_table(raw, key, secret_keys), secret_keys)
    return RawTables(out)


def _raw_table(raw: Mapping[str, Any], key: str, secret_keys: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name in secret_keys and not isinstance(value, _EnvValue):
            raise ConfigError(
                f"{key}.{name}: secrets are not read from the configuration file; "
                f"set {env_var_for(f'{key}.{name}')} in the environment"
            )
        if isinstance(value, _EnvValue):
            out[name] = value.text
        elif isinstance(value, dict):
            out[name] = _raw_table(value, f"{key}.{name}", frozenset())
        else:
            out[name] = value
    return out


def _expected(tp: Any, md: Mapping[str, Any]) -> str:
    low, high = md.get("min"), md.get("max")
    if tp is bool:
        return "true or false"
    if tp is dt.timedelta:
        return "a duration (seconds, or like '90s', '5m', '6h', '2d')" + _range(low, high, "s")
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    noun = {int: "an integer", float: "a number", str: "a string", Path: "a path"}.get(tp, str(tp))
    return noun + _range(low, high, "")


def _range(low: float | None, high: float | None, unit: str) -> str:
    def num(v: float) -> str:
        return f"{v:g}{unit}"

    if low is not None and high is not None:
        return f" {num(low)}-{num(high)}"
    if low is not None:
        return f" >= {num(low)}"
    if high is not None:
        return f" <= {num(high)}"
    return ""


def _check_bounds(value: Any, raw: Any, key: str, md: Mapping[str, Any]) -> None:
    low, high = md.get("min"), md.get("max")
    if low is None and high is None:
        return
    number = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if not isinstance(number, int | float) or isinstance(number, bool):
        return
    if (low is not None and number < low) or (high is not None and number > high):
        tp = type(value) if not isinstance(value, dt.timedelta) else dt.timedelta
        raise ConfigError(f"{_label(key, raw)}: expected {_expected(tp, md)}, got {_show(raw)}")
