"""Building blocks of the settings dataclasses: secrets, raw tables, durations, checks.

Each setting is a dataclass field whose ``metadata`` (built by :func:`meta`) tells the
loader its bounds, whether it is a secret (read only from the environment) and an optional
check. The loader (``config.loader``) reads these, so a new setting needs no loader code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from invitegw.domain.addresses import validate_address
from invitegw.errors import AddressError

__all__ = [
    "REDACTED",
    "Check",
    "RawTable",
    "RawTables",
    "Secret",
    "TableNames",
    "check_address",
    "check_name",
    "check_time_zone",
    "format_duration",
    "meta",
    "parse_duration",
]

REDACTED: Final = "<redacted>"

# A check returns the problem in words (no key: the loader adds it), or None when fine.
Check = Callable[[Any], "str | None"]


@dataclass(frozen=True, slots=True)
class Secret:
    """A password or key read from the environment; never shown by ``repr`` or ``str``."""

    value: str

    def reveal(self) -> str:
        """The secret itself, for the one place that hands it to a server.

        Returns:
            The plain value.
        """
        return self.value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED


class RawTable(Mapping[str, Any]):
    """A settings table passed through unvalidated to the component that owns it.

    A CRM adapter's ``[crm.<name>]`` table is one: the adapter validates it with its own
    options class. Keys named in ``secret_keys`` come from the environment only and are
    redacted by ``repr``.
    """

    __slots__ = ("_data", "_secret_keys")

    def __init__(self, data: Mapping[str, Any], secret_keys: frozenset[str] = frozenset()):
        self._data = dict(data)
        self._secret_keys = secret_keys

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._data) == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._data)))

    @property
    def secret_keys(self) -> frozenset[str]:
        """Keys whose values are secrets."""
        return self._secret_keys

    def redacted(self) -> dict[str, Any]:
        """A copy with every secret value replaced by a placeholder.

        Returns:
            A plain dict safe to print.
        """
        return {k: REDACTED if k in self._secret_keys else v for k, v in self._data.items()}

    def __repr__(self) -> str:
        return f"RawTable({self.redacted()!r})"


class TableNames(Protocol):
    """Which named tables a section holds beside its own keys, and their secret keys.

    A section with a :class:`RawTables` field (``[crm]``: one table per CRM adapter,
    ``[crm.vtiger]``) asks this which names are valid and which keys of each are secrets.
    """

    @property
    def what(self) -> str:
        """What the tables are, for error messages (``"a CRM adapter's table"``)."""
        ...

    def names(self) -> Collection[str]:
        """The names a table may have."""
        ...

    def secret_keys(self, name: str) -> frozenset[str]:
        """The keys of table ``name`` read only from the environment."""
        ...


class RawTables(Mapping[str, RawTable]):
    """Named :class:`RawTable` s kept beside a section's own keys (``[crm.<adapter>]``).

    The field holding them is not itself a key: the file writes ``[crm.vtiger]``, not
    ``[crm.tables.vtiger]``. Its ``meta(tables=...)`` says which names are valid.
    """

    __slots__ = ("_tables",)

    def __init__(self, tables: Mapping[str, RawTable] | None = None):
        self._tables = dict(tables or {})

    def __getitem__(self, key: str) -> RawTable:
        return self._tables[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._tables) == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._tables)))

    def __repr__(self) -> str:
        return f"RawTables({self._tables!r})"


def meta(
    *,
    min: float | None = None,
    max: float | None = None,
    secret: bool = False,
    check: Check | None = None,
    secret_keys: frozenset[str] = frozenset(),
    url: bool = False,
    tables: TableNames | None = None,
) -> dict[str, Any]:
    """Field metadata for one setting.

    Parameters:
        min: smallest allowed value (numbers; durations in seconds).
        max: largest allowed value.
        secret: the value is read from the environment only, and redacted when shown.
        check: extra validation; returns a message or ``None``.
        secret_keys: for a :class:`RawTable`, the keys that are secrets.
        url: a URL that may carry a password only when it comes from the environment.
        tables: for a :class:`RawTables` field, which named tables the section may hold.

    Returns:
        The mapping to pass as ``dataclasses.field(metadata=...)``.
    """
    return {
        "min": min,
        "max": max,
        "secret": secret,
        "check": check,
        "secret_keys": secret_keys,
        "url": url,
        "tables": tables,
    }


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    """Read ``"90"``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"2d"`` as a duration.

    Parameters:
        text: a number of seconds, or numbers with units ms/s/m/h/d/w.

    Returns:
        The duration.

    Raises:
        ValueError: the text is not a duration.
    """
    cleaned = text.strip().lower()
    if not cleaned:
        raise ValueError("empty duration")
    try:
        return dt.timedelta(seconds=float(cleaned))
    except ValueError:
        pass
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(cleaned):
        if cleaned[pos : match.start()].strip():
            raise ValueError(f"not a duration: {text!r}")
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos == 0 or cleaned[pos:].strip():
        raise ValueError(f"not a duration: {text!r}")
    return dt.timedelta(seconds=total)


def format_duration(value: dt.timedelta) -> str:
    """Write a duration the way :func:`parse_duration` reads it (``"1h30m"``).

    Parameters:
        value: the duration.

    Returns:
        The shortest exact text.
    """
    ms = round(value.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = round(_UNIT_SECONDS[unit] * 1000)
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    if ms:
        parts.append(f"{ms}ms")
    return "".join(parts)


def check_address(value: object) -> str | None:
    """A check: the value is a syntactically valid email address (no DNS lookup)."""
    if not isinstance(value, str):
        return None
    try:
        validate_address(value)
    except AddressError as exc:
        return str(exc)
    return None


def check_time_zone(value: object) -> str | None:
    """A check: the value names an IANA time zone."""
    if not isinstance(value, str):
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r} (expected an IANA name like 'Europe/Warsaw')"
    return None


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


def check_name(value: object) -> str | None:
    """A check: a list entry's name (letters, digits, ``_`` and ``-``; used in env names)."""
    if isinstance(value, str) and not _NAME.fullmatch(value):
        return f"expected letters, digits, '_' or '-' (at most 63), got {value!r}"
    return None
