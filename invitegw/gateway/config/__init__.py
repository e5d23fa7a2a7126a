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
    AuthMethod,
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
    OAuth2Settings,
    OAuthProvider,
    OrganizerMode,
    OutboundSettings,
    RetrySettings,
    SaslMechanismName,
    Settings,
    SmtpSettings,
    TlsMode,
    WorkerSettings,
)

__all__ = [
    "ENV_PREFIX",
    "AuthMethod",
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
    "OAuth2Settings",
    "OAuthProvider",
    "OrganizerMode",
    "OutboundSettings",
    "RawTable",
    "RawTables",
    "RetrySettings",
    "SaslMechanismName",
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
