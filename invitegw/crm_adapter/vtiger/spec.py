"""vtiger's entry in the adapter registry (``crm.adapter = "vtiger"``, ``[crm.vtiger]``).

A remote CRM: one :class:`~invitegw.crm_adapter.vtiger.adapter.VtigerCrm` (one webservice
session) serves the whole process and logs out when the gateway closes. The webservice
access key is a secret: the settings loader reads it only from
``INVITEGW_CRM__VTIGER__ACCESS_KEY`` into the table, and it is redacted when shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from invitegw.crm_adapter.registry import (
    CrmAdapterSpec,
    CrmBinding,
    CrmBuildContext,
    CrmCheckContext,
    CrmCheckResult,
)
from invitegw.crm_adapter.vtiger.adapter import VtigerCrm
from invitegw.crm_adapter.vtiger.check import check_connection, render_check_report
from invitegw.crm_adapter.vtiger.options import ACCESS_KEY_ENV, VtigerOptions

__all__ = ["SPEC", "parse_options"]


def parse_options(table: Mapping[str, Any]) -> VtigerOptions:
    """Validate ``[crm.vtiger]``.

    The loader has already folded ``INVITEGW_CRM__VTIGER__*`` variables (the access key
    among them) into the table it read from its own environment, so that table is the one
    source: the adapter is not left to look at ``os.environ`` again.

    Parameters:
        table: the raw table, secrets included.

    Returns:
        The validated options.

    Raises:
        ConfigError: the table is invalid or the access key is missing (names the key).
    """
    key = table.get("access_key")
    return VtigerOptions.from_mapping(table, {ACCESS_KEY_ENV: str(key) if key else ""})


def build(options: VtigerOptions, _context: CrmBuildContext) -> CrmBinding:
    """One adapter for the process, logged out by the binding's ``close``.

    Parameters:
        options: the validated options.
        _context: unused (vtiger has its own ``invite_email_count`` and keeps its own times).

    Returns:
        The binding.
    """
    crm = VtigerCrm(options)
    return CrmBinding.process_wide(crm, close=crm.close)


def check(options: VtigerOptions, _context: CrmCheckContext) -> CrmCheckResult:
    """``invitegw crm check``: log in, look around, report (no database needed).

    Parameters:
        options: the validated options.
        _context: unused.

    Returns:
        The report; not ok when the connection or a required module failed.
    """
    report = check_connection(options)
    return CrmCheckResult(render_check_report(report), ok=report.error is None)


SPEC: CrmAdapterSpec[VtigerOptions] = CrmAdapterSpec(
    name="vtiger",
    summary="vtiger CRM 8 through its REST webservice",
    parse_options=parse_options,
    build=build,
    secret_keys=frozenset({"access_key", "password"}),
    requires_table=True,
    check=check,
)
