"""The typed settings: one frozen dataclass per section of ``invitegw.toml``.

Every field here is a key of the file (``[smtp] port`` is ``SmtpSettings.port``) and can be
overridden by an environment variable (``INVITEGW_SMTP__PORT``); ``invitegw.example.toml``
documents each one, and a test keeps the two in step. Defaults run the embedded setup:
SQLite under ``data_dir``, the built-in CRM, a local SMTP sink on 127.0.0.1:8025.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from invitegw.crm_adapter.registry import BUILTIN_NAME, adapter_names, get_adapter
from invitegw.domain.answer_tokens import parse_keys
from invitegw.domain.records import EntityType
from invitegw.errors import ConfigError
from invitegw.gateway.config.fields import (
    RawTable,
    RawTables,
    Secret,
    check_address,
    check_name,
    check_time_zone,
    meta,
)
from invitegw.gateway.config.oauth import (
    AuthMethod,
    OAuth2Settings,
    OAuthProvider,
    SaslMechanismName,
    check_auth,
)
from invitegw.itip.policy import (
    DuplicatePolicy,
    ExternalInvitationPolicy,
    ForwarderPolicy,
    NonInviteeReplyPolicy,
    OrganizerMode,
)

__all__ = [
    "AdminSettings",
    "AuthMethod",
    "CalendarSettings",
    "CrmSettings",
    "DatabaseSettings",
    "DuplicatePolicy",
    "EmailFieldSettings",
    "ExternalInvitationPolicy",
    "ForwarderPolicy",
    "HooksSettings",
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
    "RetrySettings",
    "SaslMechanismName",
    "Settings",
    "SmtpSettings",
    "TlsMode",
    "WorkerSettings",
]

_SECONDS = dt.timedelta(seconds=1)
_MIB = 1024 * 1024


class TlsMode(StrEnum):
    """How a connection is protected."""

    NONE = "none"  # plain text: loopback and tests only
    STARTTLS = "starttls"  # plain connect, then STARTTLS (RFC 3207 / RFC 2595)
    TLS = "tls"  # TLS from the first byte (implicit TLS, RFC 8314)


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """``[database]``: where the gateway (and the built-in CRM) keep their state."""

    url: str = field(default="", metadata=meta(url=True))
    password: Secret | None = field(default=None, metadata=meta(secret=True))
    pool_size: int = field(default=5, metadata=meta(min=1, max=100))
    busy_timeout: dt.timedelta = field(default=30 * _SECONDS, metadata=meta(min=0, max=3600))

    def _check(self, path: str) -> None:
        if not self.url:
            return
        scheme = self.url.split("://", 1)[0] if "://" in self.url else ""
        if scheme not in {"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"}:
            raise ConfigError(
                f"{path}.url: expected a sqlite:/// or postgresql+psycopg:// URL, "
                f"got scheme {scheme or '(none)'!r}"
            )


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """``[smtp.retry]``: the backoff schedule after a temporary delivery failure."""

    first_delay: dt.timedelta = field(default=60 * _SECONDS, metadata=meta(min=0))
    factor: float = field(default=2.0, metadata=meta(min=1.0, max=10.0))
    max_delay: dt.timedelta = field(default=6 * 3600 * _SECONDS, metadata=meta(min=0))
    max_attempts: int = field(default=12, metadata=meta(min=1, max=1000))
    give_up_after: dt.timedelta = field(default=3 * 86400 * _SECONDS, metadata=meta(min=0))
    jitter: float = field(default=0.1, metadata=meta(min=0.0, max=1.0))


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """``[smtp]``: the relay outbound invitations are handed to."""

    host: str = "127.0.0.1"
    port: int = field(default=8025, metadata=meta(min=1, max=65535))
    tls: TlsMode = TlsMode.NONE
    username: str | None = None
    password: Secret | None = field(default=None, metadata=meta(secret=True))
    # "oauth2": AUTH with a token from [smtp.oauth2] (Microsoft 365, Google Workspace).
    auth: AuthMethod = AuthMethod.PASSWORD
    oauth2: OAuth2Settings | None = None
    local_hostname: str | None = None
    timeout: dt.timedelta = field(default=30 * _SECONDS, metadata=meta(min=1, max=600))
    rate_limit: float = field(default=0.0, metadata=meta(min=0.0))
    batch_size: int = field(default=50, metadata=meta(min=1, max=10000))
    retry: RetrySettings = field(default_factory=RetrySettings)

    def _check(self, path: str) -> None:
        check_auth(path or "smtp", self.auth, self.oauth2, self.username or "")
        if self.auth is AuthMethod.OAUTH2 and self.tls is TlsMode.NONE:
            raise ConfigError(
                f"{path or 'smtp'}.tls: a token is never sent in clear text: set "
                "'starttls' or 'tls' with auth = 'oauth2'"
            )


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    """``[[calendars]]``: a sender identity and the mailbox its replies come back to."""

    name: str = field(metadata=meta(check=check_name))
    address: str = field(metadata=meta(check=check_address))
    display_name: str = ""
    from_address: str | None = field(default=None, metadata=meta(check=check_address))
    reply_to: str | None = field(default=None, metadata=meta(check=check_address))
    organizer_mode: OrganizerMode = OrganizerMode.TOKEN
    token_separator: str = "+"  # noqa: S105 - a separator, not a password
    language: str = "en"
    time_zone: str = field(default="UTC", metadata=meta(check=check_time_zone))
    outlook_compat: bool = False
    alarm_minutes: int | None = field(default=15, metadata=meta(min=0, max=40320))
    reminder_email_lead: dt.timedelta | None = field(default=None, metadata=meta(min=60))
    # "Will you attend? Yes · Maybe · No" links in its invitations (when http.public_url is set).
    answer_links: bool = True

    def _check(self, path: str) -> None:
        if self.token_separator not in {"+", "-", "_", "."}:
            raise ConfigError(
                f"{path}.token_separator: expected one of '+', '-', '_', '.', "
                f"got {self.token_separator!r}"
            )
        if self.token_separator in self.address.split("@", 1)[0]:
            raise ConfigError(
                f"{path}.address: the local part must not contain the token separator "
                f"{self.token_separator!r} (replies are correlated by it)"
            )

    @property
    def sender(self) -> str:
        """The From address: ``from_address`` or the calendar's own address."""
        return self.from_address or self.address

    @property
    def label(self) -> str:
        """The display name, defaulting to the calendar's name."""
        return self.display_name or self.name


@dataclass(frozen=True, slots=True)
class MailboxSettings:
    """``[[mailboxes]]``: an IMAP mailbox the watcher reads invitations and replies from."""

    name: str = field(metadata=meta(check=check_name))
    host: str
    username: str
    owner: str
    port: int | None = field(default=None, metadata=meta(min=1, max=65535))
    tls: TlsMode = TlsMode.TLS
    password: Secret | None = field(default=None, metadata=meta(secret=True))
    # "oauth2": SASL XOAUTH2/OAUTHBEARER with a token from [mailboxes.oauth2].
    auth: AuthMethod = AuthMethod.PASSWORD
    oauth2: OAuth2Settings | None = None
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    idle: bool = True
    idle_timeout: dt.timedelta = field(default=25 * 60 * _SECONDS, metadata=meta(min=10, max=1740))
    poll_interval: dt.timedelta = field(default=60 * _SECONDS, metadata=meta(min=1))
    batch_size: int = field(default=100, metadata=meta(min=1, max=5000))
    timeout: dt.timedelta = field(default=30 * _SECONDS, metadata=meta(min=1, max=600))

    def _check(self, path: str) -> None:
        check_auth(path, self.auth, self.oauth2, self.username)

    @property
    def effective_port(self) -> int:
        """``port``, or 993 for implicit TLS and 143 otherwise (RFC 8314 section 7.3)."""
        if self.port is not None:
            return self.port
        return 993 if self.tls is TlsMode.TLS else 143


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    """``[listener]``: the SMTP listener that accepts mail for the gateway's addresses."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = field(default=8026, metadata=meta(min=1, max=65535))
    recipients: tuple[str, ...] = ()
    max_message_size: int = field(default=25 * _MIB, metadata=meta(min=1024))
    hostname: str | None = None
    # STARTTLS (RFC 3207) with this certificate chain and key (PEM files).
    tls_certificate: Path | None = None
    tls_key: Path | None = None
    # Refuse mail until the client has started TLS.
    require_starttls: bool = False
    # Sessions at once, and from one client address; beyond: 421 (RFC 5321 section 3.8).
    max_connections: int = field(default=50, metadata=meta(min=1, max=10000))
    max_connections_per_ip: int = field(default=10, metadata=meta(min=1, max=10000))
    # DATA bytes a session keeps in memory; the rest goes to a file in data_dir/incoming.
    spool_threshold: int = field(default=256 * 1024, metadata=meta(min=0))

    def _check(self, path: str) -> None:
        for index, address in enumerate(self.recipients):
            problem = check_address(address)
            if problem:
                raise ConfigError(f"{path}.recipients[{index}]: {problem}")
        if (self.tls_certificate is None) != (self.tls_key is None):
            raise ConfigError(f"{path}.tls_certificate and {path}.tls_key: give both or neither")
        if self.require_starttls and self.tls_certificate is None:
            raise ConfigError(f"{path}.tls_certificate: required when {path}.require_starttls")


@dataclass(frozen=True, slots=True)
class EmailFieldSettings:
    """``[crm.email_fields]``: how many of an entity's email fields invitations go to."""

    user: int = field(default=1, metadata=meta(min=1, max=10))
    contact: int = field(default=1, metadata=meta(min=1, max=10))
    account: int = field(default=1, metadata=meta(min=1, max=10))
    lead: int = field(default=1, metadata=meta(min=1, max=10))

    def count(self, entity: EntityType) -> int:
        """The number of fields used for ``entity``.

        Parameters:
            entity: the entity type.

        Returns:
            How many of its addresses, in field order, get invitations.
        """
        return int(getattr(self, entity.value))


class _AdapterTables:
    """The ``[crm.<name>]`` tables: one per registered CRM adapter (the registry says which)."""

    what = "a CRM adapter's options table"

    def names(self) -> Collection[str]:
        return adapter_names()

    def secret_keys(self, name: str) -> frozenset[str]:
        return get_adapter(name).secret_keys


def _check_adapter(value: object) -> str | None:
    """A check: ``crm.adapter`` names a registered CRM adapter."""
    if not isinstance(value, str):
        return None
    known = adapter_names()
    if value.strip().lower() in known:
        return None
    return f"expected one of {', '.join(repr(n) for n in known)}, got {value!r}"


@dataclass(frozen=True, slots=True)
class CrmSettings:
    """``[crm]``: which CRM adapter runs, and its settings.

    ``adapter`` names an adapter of :mod:`invitegw.crm_adapter.registry`; each adapter's
    options are its own table, ``[crm.<name>]`` (``[crm.vtiger]``), kept raw in ``tables``
    and validated by the adapter when it is built. Their secret keys come from the
    environment only (``INVITEGW_CRM__<NAME>__<KEY>``).
    """

    adapter: str = field(default=BUILTIN_NAME, metadata=meta(check=_check_adapter))
    email_fields: EmailFieldSettings = field(default_factory=EmailFieldSettings)
    meeting_url: str = ""
    tables: RawTables = field(default_factory=RawTables, metadata=meta(tables=_AdapterTables()))

    def __post_init__(self) -> None:
        # Names are lower case; the environment may say VTIGER (as the old enum accepted).
        object.__setattr__(self, "adapter", self.adapter.strip().lower())

    def table(self, name: str) -> RawTable:
        """The ``[crm.<name>]`` table as read (file and environment), empty when absent.

        Parameters:
            name: an adapter's name.

        Returns:
            The raw table (secrets included, redacted by ``repr``).
        """
        found = self.tables.get(name)
        return found if found is not None else RawTable({})

    @property
    def adapter_table(self) -> RawTable:
        """The configured adapter's own table (see :meth:`table`)."""
        return self.table(self.adapter)

    def _check(self, path: str) -> None:
        if get_adapter(self.adapter).requires_table and not self.adapter_table:
            raise ConfigError(
                f"{path}.{self.adapter}: required when {path}.adapter is {self.adapter!r}"
            )
        if self.meeting_url and (
            not self.meeting_url.startswith(("https://", "http://"))
            or "{id}" not in self.meeting_url
        ):
            raise ConfigError(
                f"{path}.meeting_url: expected an http(s) URL containing {{id}}, "
                f"got {self.meeting_url!r}"
            )


@dataclass(frozen=True, slots=True)
class InboundSettings:
    """``[inbound]``: what received invitations may do."""

    duplicate_policy: DuplicatePolicy = DuplicatePolicy.UPDATE
    internal_domains: tuple[str, ...] = ()
    forwarders: ForwarderPolicy = ForwarderPolicy.STAFF
    external_invitations: ExternalInvitationPolicy = ExternalInvitationPolicy.KNOWN_PARTIES
    non_invitee_replies: NonInviteeReplyPolicy = NonInviteeReplyPolicy.RECORD
    forward_human_replies: bool = True
    require_authentication_results: bool = False
    trusted_authserv_ids: tuple[str, ...] = ()
    # Calendar services that send invitations and cancellations on the organizer's behalf
    # from an address of their own (Apple iCloud). An address, or a domain for all of it.
    calendar_services: tuple[str, ...] = ("insideicloud.icloud.com", "email.apple.com")

    def _check(self, path: str) -> None:
        for index, entry in enumerate(self.calendar_services):
            domain = entry.rpartition("@")[2]
            if not domain or "." not in domain or any(c.isspace() for c in entry):
                raise ConfigError(
                    f"{path}.calendar_services[{index}]: expected an address or a domain, "
                    f"got {entry!r}"
                )
        if self.require_authentication_results and not self.trusted_authserv_ids:
            raise ConfigError(
                f"{path}.trusted_authserv_ids: required when "
                f"{path}.require_authentication_results is true"
            )
        if self.forwarders is ForwarderPolicy.INTERNAL_DOMAINS and not self.internal_domains:
            raise ConfigError(
                f"{path}.internal_domains: required when {path}.forwarders is 'internal-domains'"
            )


@dataclass(frozen=True, slots=True)
class OutboundSettings:
    """``[outbound]``: the CRM change feed and the outbox dispatcher."""

    poll_interval: dt.timedelta = field(default=60 * _SECONDS, metadata=meta(min=1))
    flush_interval: dt.timedelta = field(default=10 * _SECONDS, metadata=meta(min=1))
    feed_batch_size: int = field(default=200, metadata=meta(min=1, max=10000))
    grace_period: dt.timedelta = field(default=3600 * _SECONDS, metadata=meta(min=0))
    sync_default: bool = True
    claim_timeout: dt.timedelta = field(default=300 * _SECONDS, metadata=meta(min=10))
    reminder_interval: dt.timedelta = field(default=300 * _SECONDS, metadata=meta(min=1))
    existence_check_interval: dt.timedelta = field(default=900 * _SECONDS, metadata=meta(min=60))


@dataclass(frozen=True, slots=True)
class LimitsSettings:
    """``[limits]``: caps on everything received (sizes in bytes, counts per object)."""

    message_bytes: int = field(default=25 * _MIB, metadata=meta(min=1024))
    calendar_bytes: int = field(default=2 * _MIB, metadata=meta(min=1024))
    mime_parts: int = field(default=500, metadata=meta(min=1))
    mime_depth: int = field(default=16, metadata=meta(min=1, max=100))
    mime_lines: int = field(default=1_000_000, metadata=meta(min=1000))
    calendar_parts: int = field(default=50, metadata=meta(min=1))
    tnef_bytes: int = field(default=10 * _MIB, metadata=meta(min=1024))
    components: int = field(default=1000, metadata=meta(min=1))
    events: int = field(default=200, metadata=meta(min=1))
    attendees: int = field(default=500, metadata=meta(min=1))
    recurrence_instances: int = field(default=1000, metadata=meta(min=1))
    quarantine_bytes: int = field(default=25 * _MIB, metadata=meta(min=0))


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """``[worker]``: identity and leases of one gateway process among several."""

    id: str = ""
    lease_duration: dt.timedelta = field(default=60 * _SECONDS, metadata=meta(min=5))
    heartbeat: dt.timedelta = field(default=20 * _SECONDS, metadata=meta(min=1))
    # A loop that does work (a job, a watcher, the spool worker) and made no progress for
    # this long past its own wait is stuck: the systemd watchdog is no longer pinged.
    stall_timeout: dt.timedelta = field(default=300 * _SECONDS, metadata=meta(min=1))

    def _check(self, path: str) -> None:
        if self.heartbeat >= self.lease_duration:
            raise ConfigError(f"{path}.heartbeat: must be shorter than {path}.lease_duration")


class LogFormat(StrEnum):
    """How log lines are written."""

    TEXT = "text"  # for people (journald adds the time and the priority)
    JSON = "json"  # one JSON object per line, stable keys, for log collectors


class LogLevelName(StrEnum):
    """A logging level by name."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """``[logging]``: the format of ``serve``'s log lines and the levels per logger."""

    format: LogFormat = LogFormat.TEXT
    level: LogLevelName = LogLevelName.INFO
    # "logger=level" pairs: "invitegw.gateway.inbound=debug", "uvicorn=warning".
    levels: tuple[str, ...] = ()

    def _check(self, path: str) -> None:
        for index, entry in enumerate(self.levels):
            name, _, level = entry.partition("=")
            if not name.strip() or level.strip().lower() not in set(LogLevelName):
                raise ConfigError(
                    f"{path}.levels[{index}]: expected 'logger=level' with a level of "
                    f"{', '.join(m.value for m in LogLevelName)}, got {entry!r}"
                )

    @property
    def logger_levels(self) -> dict[str, LogLevelName]:
        """``levels`` as a mapping of logger name to level."""
        out: dict[str, LogLevelName] = {}
        for entry in self.levels:
            name, _, level = entry.partition("=")
            out[name.strip()] = LogLevelName(level.strip().lower())
        return out


def _check_public_url(value: str) -> str | None:
    """The problem with ``http.public_url`` (an http(s) URL, no query or fragment), if any."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parses the port
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"expected an http:// or https:// URL with a host, got {value!r}"
    if parts.query or parts.fragment or parts.username or parts.password:
        return f"expected no query, fragment or login in the URL, got {value!r}"
    return None


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """``[http]``: the HTTP endpoints of ``serve`` (/healthz, /readyz, /metrics)."""

    # "host:port" ("[::1]:8080" for IPv6); empty: no HTTP server.
    listen: str = ""
    # The address people reach this server at (https://calendar.example.com): answer links
    # are built on it; empty: invitations carry no answer links.
    public_url: str = ""
    # The keys answer links are signed with, newest first (environment only).
    answer_keys: Secret | None = field(default=None, metadata=meta(secret=True))

    def _check(self, path: str) -> None:
        if self.listen:
            try:
                self.address  # noqa: B018 - parses and validates
            except ValueError as exc:
                raise ConfigError(f"{path}.listen: {exc}") from None
        problem = _check_public_url(self.public_url) if self.public_url else None
        if problem:
            raise ConfigError(f"{path}.public_url: {problem}")
        if self.answer_keys is not None:
            try:
                parse_keys(self.answer_keys.reveal())
            except ValueError as exc:
                raise ConfigError(f"{path}.answer_keys: {exc}") from None

    @property
    def address(self) -> tuple[str, int] | None:
        """``listen`` as (host, port), or ``None`` when the server is off.

        Raises:
            ValueError: ``listen`` is not ``host:port`` with a port 0-65535.
        """
        if not self.listen:
            return None
        host, sep, port = self.listen.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"expected 'host:port' (e.g. '127.0.0.1:8080'), got {self.listen!r}")
        return host, int(port)


@dataclass(frozen=True, slots=True)
class AdminSettings:
    """``[admin]``: the web console under ``/admin`` (off unless ``enabled``).

    Sign-in takes the password whose hash is ``password_hash`` (``invitegw admin
    hash-password`` prints one) or, from the addresses in ``trusted_proxies`` only, the
    user a reverse proxy names in ``proxy_header``. Sessions are cookies signed with
    ``session_key``. Both secrets come from the environment only.
    """

    enabled: bool = False
    user: str = "admin"
    password_hash: Secret | None = field(default=None, metadata=meta(secret=True))
    session_key: Secret | None = field(default=None, metadata=meta(secret=True))
    session_lifetime: dt.timedelta = field(
        default=8 * 3600 * _SECONDS, metadata=meta(min=60, max=7 * 86400)
    )
    # A header a trusted reverse proxy sets to the signed-in user (e.g. "X-Forwarded-User").
    proxy_header: str = ""
    trusted_proxies: tuple[str, ...] = ()
    # Failed sign-ins allowed per client address in ``sign_in_window``.
    sign_in_attempts: int = field(default=5, metadata=meta(min=1, max=1000))
    sign_in_window: dt.timedelta = field(default=300 * _SECONDS, metadata=meta(min=1))

    def _check(self, path: str) -> None:
        if not self.enabled:
            return
        if self.session_key is None or len(self.session_key.reveal()) < 32:
            raise ConfigError(
                f"{path}.session_key: the console needs a session key of at least 32 "
                "characters in INVITEGW_ADMIN__SESSION_KEY"
            )
        if self.password_hash is None and not self.proxy_header:
            raise ConfigError(
                f"{path}.password_hash: set INVITEGW_ADMIN__PASSWORD_HASH (`invitegw admin "
                f"hash-password`) or {path}.proxy_header with {path}.trusted_proxies"
            )
        if self.proxy_header and not self.trusted_proxies:
            raise ConfigError(f"{path}.trusted_proxies: needed with {path}.proxy_header")
        for index, address in enumerate(self.trusted_proxies):
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise ConfigError(
                    f"{path}.trusted_proxies[{index}]: expected an IP address or network, "
                    f"got {address!r}"
                ) from None


@dataclass(frozen=True, slots=True)
class HooksSettings:
    """``[hooks]``: ``POST /hooks/vtiger``, which a vtiger workflow calls on every save.

    Off while ``vtiger_secret`` (environment only: ``INVITEGW_HOOKS__VTIGER_SECRET``) is
    unset. Calls for one record within ``debounce`` are handled once.
    """

    vtiger_secret: Secret | None = field(default=None, metadata=meta(secret=True))
    debounce: dt.timedelta = field(default=0.5 * _SECONDS, metadata=meta(min=0, max=60))


def _default_calendars() -> tuple[CalendarSettings, ...]:
    return (CalendarSettings(name="default", address="calendar@example.com"),)


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration, validated once at start and passed down explicitly."""

    data_dir: Path = Path("data")
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    calendars: tuple[CalendarSettings, ...] = field(default_factory=_default_calendars)
    mailboxes: tuple[MailboxSettings, ...] = ()
    listener: ListenerSettings = field(default_factory=ListenerSettings)
    crm: CrmSettings = field(default_factory=CrmSettings)
    inbound: InboundSettings = field(default_factory=InboundSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    hooks: HooksSettings = field(default_factory=HooksSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)

    def _check(self, path: str) -> None:
        if not self.calendars:
            raise ConfigError("calendars: at least one calendar is required")
        links = any(c.answer_links for c in self.calendars)
        if self.http.public_url and self.http.answer_keys is None and links:
            raise ConfigError(
                "http.answer_keys: required for answer links (http.public_url is set): "
                "set INVITEGW_HTTP__ANSWER_KEYS (or set answer_links = false in every "
                "calendar)"
            )
        _unique("calendars", [c.name for c in self.calendars])
        _unique("mailboxes", [m.name for m in self.mailboxes])
        names = {c.name for c in self.calendars}
        for box in self.mailboxes:
            if box.owner not in names and check_address(box.owner):
                raise ConfigError(
                    f"mailboxes[{box.name}].owner: expected a staff user's email address or "
                    f"a calendar name ({', '.join(sorted(names))}), got {box.owner!r}"
                )

    @property
    def embedded_database(self) -> bool:
        """True when ``database.url`` is unset: the SQLite file under ``data_dir``."""
        return not self.database.url

    @property
    def database_url(self) -> str:
        """The effective database URL (without the password, which is kept apart)."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.data_dir / 'invitegw.sqlite3'}"

    @property
    def default_calendar(self) -> CalendarSettings:
        """The first calendar: used for meetings that name none."""
        return self.calendars[0]

    def calendar(self, name: str | None) -> CalendarSettings:
        """The calendar called ``name`` (the default calendar for ``None``).

        Parameters:
            name: a calendar name, as a CRM meeting carries it.

        Returns:
            Its settings.

        Raises:
            ConfigError: no calendar has that name.
        """
        if name is None:
            return self.default_calendar
        for calendar in self.calendars:
            if calendar.name == name:
                return calendar
        raise ConfigError(
            f"calendars: no calendar named {name!r} "
            f"(configured: {', '.join(c.name for c in self.calendars)})"
        )


def _unique(section: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        # Environment variable names fold case and '-' to '_', so these must stay distinct.
        key = name.upper().replace("-", "_")
        if key in seen:
            raise ConfigError(f"{section}[{name}]: duplicate name (names compare as {key})")
        seen.add(key)
