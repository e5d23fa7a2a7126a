"""Which CRM adapters exist, and how the gateway builds the configured one by name.

An adapter describes itself with a :class:`CrmAdapterSpec`: its name (the value of
``crm.adapter``, and the name of its ``[crm.<name>]`` options table), the keys of that
table that are secrets (read only from the environment, as
``INVITEGW_CRM__<NAME>__<KEY>``), how it validates the table into its options, how it
builds the CRM for the gateway (:class:`CrmBinding`: a per-session factory for a CRM in the
gateway's database, one process-wide adapter with a close hook for a remote one) and an
optional ``check`` for ``invitegw crm check``. The settings, the composition root and the
CLI find adapters here by name and know none of them.

Three sources, in this order:

- the built-ins: ``sql`` (the built-in CRM, :mod:`invitegw.crm_adapter.builtin`) and
  ``vtiger``. Each is named here with the module holding its spec, imported only when the
  adapter is asked for, so ``invitegw --help`` imports neither;
- adapters given to :func:`register` (tests, applications embedding the gateway);
- installed packages, through the ``invitegw.crm_adapters`` entry-point group: an entry
  point named like the adapter, whose object is its :class:`CrmAdapterSpec`, loaded only
  when asked for.

A name is lower-case letters, digits and ``_`` (it is a TOML key and part of environment
variable names), and not one of ``[crm]``'s own keys.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from invitegw.crm_adapter.port import CrmPort
from invitegw.domain.records import EntityType
from invitegw.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "BUILTIN_NAME",
    "ENTRY_POINT_GROUP",
    "RESERVED_NAMES",
    "CrmAdapterSpec",
    "CrmBinding",
    "CrmBuildContext",
    "CrmCheckContext",
    "CrmCheckResult",
    "SessionOpener",
    "adapter_names",
    "get_adapter",
    "register",
    "rescan_entry_points",
    "unregister",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "invitegw.crm_adapters"
# The built-in CRM's name: existing configurations say ``adapter = "sql"``.
BUILTIN_NAME = "sql"
# Name -> "module:attribute" of the spec; imported on first use only.
_BUILTINS: dict[str, str] = {
    BUILTIN_NAME: "invitegw.crm_adapter.builtin.spec:SPEC",
    "vtiger": "invitegw.crm_adapter.vtiger.spec:SPEC",
}
# Keys of the [crm] table itself: an adapter with such a name could have no options table.
RESERVED_NAMES = frozenset({"adapter", "email_fields", "meeting_url"})
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")

OptionsT = TypeVar("OptionsT")
Clock = Callable[[], dt.datetime]
# Opens a transaction on the gateway's database (a context manager yielding the session).
SessionOpener: TypeAlias = "Callable[[], AbstractContextManager[Session]]"


def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class CrmBuildContext:
    """What the gateway hands an adapter's ``build``, besides the adapter's own options.

    Attributes:
        clock: the gateway's clock (aware, UTC); an adapter that stamps records uses it.
        email_counts: ``[crm.email_fields]``: per entity type, how many of a record's
            addresses (in field order) invitations go to. An adapter with a setting of its
            own for this (vtiger's ``invite_email_count``) may ignore it.
    """

    clock: Clock
    email_counts: Mapping[EntityType, int]


@dataclass(frozen=True, slots=True)
class CrmBinding:
    """A built adapter, as the gateway holds it for the life of the process.

    Build one with :meth:`per_session` or :meth:`process_wide`.

    Attributes:
        for_session: the CRM for one unit of work (its database session).
        close: releases what the adapter holds (a remote CRM logs out); called once, when
            the gateway closes.
        shared: the one adapter of a process-wide binding, else ``None``.
    """

    for_session: Callable[[Session], CrmPort]
    close: Callable[[], None] = _nothing
    shared: CrmPort | None = None

    @classmethod
    def per_session(cls, make: Callable[[Session], CrmPort]) -> CrmBinding:
        """A CRM in the gateway's database: a new adapter per unit of work, in its session.

        Parameters:
            make: builds the adapter on a session (it writes there and never commits).

        Returns:
            The binding.
        """
        return cls(for_session=make)

    @classmethod
    def process_wide(cls, crm: CrmPort, close: Callable[[], None] | None = None) -> CrmBinding:
        """A remote CRM: one adapter (one connection, one login) for the whole process.

        Parameters:
            crm: the adapter; it ignores the unit of work's session.
            close: called when the gateway closes.

        Returns:
            The binding.
        """

        def same(_session: Session) -> CrmPort:
            return crm

        return cls(for_session=same, close=close or _nothing, shared=crm)


@dataclass(frozen=True, slots=True)
class CrmCheckContext:
    """What ``invitegw crm check`` hands an adapter's ``check`` hook.

    Attributes:
        database: the gateway's database URL, as the settings show it.
        session: opens a transaction on the gateway's database (the schema checked first),
            for a CRM that lives there; a remote CRM's check does not need it (and then
            needs no database at all).
    """

    database: str
    session: SessionOpener


@dataclass(frozen=True, slots=True)
class CrmCheckResult:
    """What a ``check`` hook found: a report for a person, and whether all is well."""

    text: str
    ok: bool


@dataclass(frozen=True)
class CrmAdapterSpec(Generic[OptionsT]):
    """One CRM adapter, as the registry knows it (see the module docstring).

    Attributes:
        name: ``crm.adapter``'s value and the options table's name (``[crm.<name>]``).
        summary: one line for people (``check-config``, error messages).
        parse_options: validates the ``[crm.<name>]`` table (an empty mapping when the
            file has none; secrets already read from the environment into it) into the
            adapter's options. Raises :class:`~invitegw.errors.ConfigError` naming the key
            as ``crm.<name>.<key>``.
        build: builds the binding from the options and the :class:`CrmBuildContext`.
            Raises ``ConfigError`` when the options cannot work.
        secret_keys: keys of the table read only from the environment (refused in the
            file, redacted by ``check-config``).
        requires_table: the adapter cannot run without a ``[crm.<name>]`` table.
        check: ``invitegw crm check``: connect and report; ``None`` when the adapter has
            nothing to check beyond being built.
    """

    name: str
    summary: str
    parse_options: Callable[[Mapping[str, Any]], OptionsT]
    build: Callable[[OptionsT, CrmBuildContext], CrmBinding]
    secret_keys: frozenset[str] = field(default_factory=frozenset)
    requires_table: bool = False
    check: Callable[[OptionsT, CrmCheckContext], CrmCheckResult] | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name) or self.name in RESERVED_NAMES:
            raise ValueError(
                f"CRM adapter name {self.name!r}: expected 1-32 lower-case letters, digits "
                f"or '_' starting with a letter, and none of {sorted(RESERVED_NAMES)}"
            )


_lock = threading.RLock()  # re-entrant: a spec module may call register() on import
_registered: dict[str, CrmAdapterSpec[Any]] = {}
_loaded: dict[str, CrmAdapterSpec[Any]] = {}
_entry_points: dict[str, EntryPoint] | None = None


def register(spec: CrmAdapterSpec[Any]) -> None:
    """Make ``spec`` known under its name (for tests and embedding applications).

    Parameters:
        spec: the adapter.

    Raises:
        ValueError: the name is a built-in's, or already registered.
    """
    with _lock:
        if spec.name in _BUILTINS or spec.name in _registered:
            raise ValueError(f"a CRM adapter named {spec.name!r} is already registered")
        _registered[spec.name] = spec


def unregister(name: str) -> None:
    """Forget an adapter given to :func:`register` (a no-op for any other name).

    Parameters:
        name: the adapter's name.
    """
    with _lock:
        _registered.pop(name, None)


def rescan_entry_points() -> None:
    """Read the ``invitegw.crm_adapters`` entry points again (after installing a package)."""
    global _entry_points
    with _lock:
        _entry_points = None
        _loaded.clear()


def adapter_names() -> tuple[str, ...]:
    """Every known adapter's name, sorted; imports no adapter.

    Returns:
        The names.
    """
    with _lock:
        return tuple(sorted({*_BUILTINS, *_registered, *_installed()}))


def get_adapter(name: str) -> CrmAdapterSpec[Any]:
    """The adapter called ``name``, importing it on first use.

    Parameters:
        name: the adapter's name (``crm.adapter``).

    Returns:
        Its spec.

    Raises:
        ConfigError: no such adapter, or it cannot be loaded (the message says why).
    """
    with _lock:
        if name in _registered:
            return _registered[name]
        if name in _loaded:
            return _loaded[name]
        if name in _BUILTINS:
            point = EntryPoint(name=name, value=_BUILTINS[name], group=ENTRY_POINT_GROUP)
        else:
            found = _installed().get(name)
            if found is None:
                names = sorted({*_BUILTINS, *_registered, *_installed()})
                known = ", ".join(repr(n) for n in names)
                raise ConfigError(f"unknown CRM adapter {name!r} (known: {known})")
            point = found
        spec = _load(point)
        _loaded[name] = spec
        return spec


def _installed() -> dict[str, EntryPoint]:
    """The entry points of installed adapters, by name (read once; the caller holds the lock)."""
    global _entry_points
    if _entry_points is None:
        found: dict[str, EntryPoint] = {}
        for point in entry_points(group=ENTRY_POINT_GROUP):
            if point.name in _BUILTINS:
                logger.warning(
                    "ignoring the entry point %s = %s: %r is a built-in CRM adapter",
                    point.name,
                    point.value,
                    point.name,
                )
                continue
            found.setdefault(point.name, point)
        _entry_points = found
    return _entry_points


def _load(point: EntryPoint) -> CrmAdapterSpec[Any]:
    try:
        spec = point.load()
    except Exception as exc:  # an installed package's import error: say which, keep going
        raise ConfigError(
            f"crm.adapter: the CRM adapter {point.name!r} ({point.value}) cannot be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(spec, CrmAdapterSpec):
        raise ConfigError(
            f"crm.adapter: {point.value} is not a CrmAdapterSpec (the CRM adapter {point.name!r})"
        )
    if spec.name != point.name:
        raise ConfigError(
            f"crm.adapter: {point.value} describes the adapter {spec.name!r}, "
            f"registered as {point.name!r}"
        )
    return spec
