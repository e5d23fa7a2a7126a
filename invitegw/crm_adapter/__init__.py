"""The CRM port and its adapters: the built-in CRM (:mod:`~invitegw.crm_adapter.builtin`), vtiger.

The records that cross the port live in :mod:`invitegw.domain.records`; the port and its
optional capabilities in :mod:`~invitegw.crm_adapter.port`; which adapters exist, and how
the gateway builds one by name, in :mod:`~invitegw.crm_adapter.registry`.
"""

from __future__ import annotations

from invitegw.crm_adapter.port import (
    CAPABILITIES,
    CrmPort,
    ExistenceCheck,
    FeedDeletionStatus,
    FindsPartiesInBatch,
    ReadsSendSwitch,
    capabilities_of,
    needs_existence_check,
)

__all__ = [
    "CAPABILITIES",
    "CrmPort",
    "ExistenceCheck",
    "FeedDeletionStatus",
    "FindsPartiesInBatch",
    "ReadsSendSwitch",
    "capabilities_of",
    "needs_existence_check",
]
