"""Configuration: ``invitegw.toml`` plus environment overrides, as typed settings.

``load_settings(path, env)`` reads and validates everything once; the result is passed down
explicitly (no global configuration object). See ``invitegw.example.toml`` for every key.
"""

from __future__ import annotations

from invitegw.gateway.config.dump import dump_settings
from invitegw.gateway.config.fields import (
    RawTable,
    RawTables,
    Secret,
    format_duration,
    parse_duration,
)
from invitegw.gateway.config.loader import (
    ENV_PREFIX,
    env_var_for,
    load_settings,
    resolve_config_path,
)
from invitegw.gateway.config.settings import (
    CalendarSettings,
    CrmSettings,
    DatabaseSettings,
    DuplicatePolicy,
    EmailFieldSettings,
    ExternalInvitationPolicy,
    ForwarderPolicy,
    HttpSettings,
    InboundSettings,
    LimitsSettings,
    ListenerSettings,
    LogFormat,
    LoggingSettings,
    LogLevelName,
    MailboxSettings,
    NonInviteeReplyPolicy,
    OrganizerMode,
    OutboundSettings,
    RetrySettings,
    Settings,
    SmtpSettings,
    TlsMode,
    WorkerSettings,
)

__all__ = [
    "ENV_PREFIX",
    "CalendarSettings",
    "CrmSettings",
    "DatabaseSettings",
    "DuplicatePolicy",
    "EmailFieldSettings",
    "ExternalInvitationPolicy",
    "ForwarderPolicy",
    "HttpSettings",
    "InboundSettings",
    "LimitsSettings",
    "ListenerSettings",
    "LogFormat",
    "LogLevelName",
    "LoggingSettings",
    "MailboxSettings",
    "NonInviteeReplyPolicy",
    "OrganizerMode",
    "OutboundSettings",
    "RawTable",
    "RawTables",
    "RetrySettings",
    "Secret",
    "Settings",
    "SmtpSettings",
    "TlsMode",
    "WorkerSettings",
    "dump_settings",
    "env_var_for",
    "format_duration",
    "load_settings",
    "parse_duration",
    "resolve_config_path",
]
