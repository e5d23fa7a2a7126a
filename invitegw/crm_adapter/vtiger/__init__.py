"""The vtiger CRM adapter: :class:`VtigerCrm` over vtiger's REST webservice.

Built against vtiger 8.3 on PHP 8 as it really behaves (the facts sheet and recordings
in the project's shared folder): a session reused and renewed, errors mapped into our
tree, VTQL quoted and paged past the 100-row cap, times converted to and from the
server's zone, and no write ever to an Events record unless the administrator allows it.
``docs/vtiger.md`` says what to configure and what vtiger cannot tell us.
"""

from __future__ import annotations

from invitegw.crm_adapter.vtiger.adapter import VtigerCrm
from invitegw.crm_adapter.vtiger.check import (
    CheckReport,
    SampleMeeting,
    check_connection,
    render_check_report,
)
from invitegw.crm_adapter.vtiger.client import (
    LoginInfo,
    VtigerApiError,
    VtigerClient,
    VtigerConflictError,
    VtigerNotFoundError,
)
from invitegw.crm_adapter.vtiger.feed import FeedCursor
from invitegw.crm_adapter.vtiger.meetings import SwitchReading
from invitegw.crm_adapter.vtiger.options import ACCESS_KEY_ENV, VtigerOptions
from invitegw.crm_adapter.vtiger.vtql import VtqlError

__all__ = [
    "ACCESS_KEY_ENV",
    "CheckReport",
    "FeedCursor",
    "LoginInfo",
    "SampleMeeting",
    "SwitchReading",
    "VtigerApiError",
    "VtigerClient",
    "VtigerConflictError",
    "VtigerCrm",
    "VtigerNotFoundError",
    "VtigerOptions",
    "VtqlError",
    "check_connection",
    "render_check_report",
]
