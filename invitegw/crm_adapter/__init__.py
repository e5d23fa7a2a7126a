"""The CRM port and its adapters: the built-in CRM (:mod:`~invitegw.crm_adapter.builtin`), vtiger.

The records that cross the port live in :mod:`invitegw.domain.records`.
"""

from __future__ import annotations

from invitegw.crm_adapter.port import CrmPort, ExistenceCheck

__all__ = ["CrmPort", "ExistenceCheck"]
