"""Use cases on the CRM connection: check it.

``invitegw crm check`` and the web console's "check now" call :func:`check_crm`: it runs
the configured adapter's own ``check`` hook (:mod:`invitegw.crm_adapter.registry`), which
logs in and reports what it found (version, user, zone, modules, recent meetings for
vtiger). An adapter without a hook is checked by building it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from invitegw.crm_adapter.registry import CrmCheckContext, CrmCheckResult, get_adapter

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from invitegw.crm_adapter.registry import SessionOpener
    from invitegw.gateway.config import Settings

__all__ = ["check_crm"]


def check_crm(settings: Settings) -> CrmCheckResult:
    """Connect to the configured CRM and report what was found.

    Takes the settings, not an assembled gateway: a check must work when the gateway
    cannot be assembled (the reason is what the administrator needs to read).

    Parameters:
        settings: the configuration.

    Returns:
        The report for a person and whether all is well.

    Raises:
        ConfigError: the adapter's options are invalid (names the key).
        StorageError: the gateway's database cannot be opened (a database-backed CRM).
    """
    # The composition root is imported when a check runs, not when the CLI starts.
    from invitegw.gateway.bootstrap import build_gateway, crm_options

    spec = get_adapter(settings.crm.adapter)
    options = crm_options(settings)
    if spec.check is None:
        # Nothing more to look at than what building the gateway does (it builds the adapter).
        build_gateway(settings).close()
        return CrmCheckResult(f"{spec.name}: {spec.summary}; built, no further check", ok=True)
    return spec.check(options, CrmCheckContext(settings.database_url, _session(settings)))


def _session(settings: Settings) -> SessionOpener:
    """Opens a transaction on the gateway's database, building the gateway only then."""
    from invitegw.gateway.bootstrap import build_gateway

    @contextlib.contextmanager
    def open_session() -> Iterator[Session]:
        gateway = build_gateway(settings)
        try:
            with gateway.store.session() as session:
                yield session
        finally:
            gateway.close()

    return open_session
