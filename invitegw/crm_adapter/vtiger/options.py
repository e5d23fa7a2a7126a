"""The ``[crm.vtiger]`` configuration table, validated into a frozen :class:`VtigerOptions`.

The gateway's configuration loader passes the raw ``crm.vtiger`` mapping through;
:meth:`VtigerOptions.from_mapping` checks every key and raises
:class:`~invitegw.errors.ConfigError` naming it (``crm.vtiger.url``). The webservice
access key is a secret: it comes only from the environment variable
``INVITEGW_CRM__VTIGER__ACCESS_KEY``, never from the file.
"""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from invitegw.domain.records import EntityType, LogLevel
from invitegw.errors import ConfigError

__all__ = ["ACCESS_KEY_ENV", "VtigerOptions"]

ACCESS_KEY_ENV = "INVITEGW_CRM__VTIGER__ACCESS_KEY"
_PREFIX = "crm.vtiger"

# vtiger's stock email fields per module (describe, facts sheet "Modules and fields").
_DEFAULT_EMAIL_FIELDS: dict[EntityType, tuple[str, ...]] = {
    EntityType.USER: ("email1", "email2"),
    EntityType.CONTACT: ("email", "secondaryemail"),
    EntityType.ACCOUNT: ("email1", "email2"),
    EntityType.LEAD: ("email", "secondaryemail"),
}
_LEVELS = {level.value: level for level in LogLevel}


@dataclass(frozen=True, slots=True)
class VtigerOptions:
    """Everything the vtiger adapter needs to know; see ``docs/vtiger.md`` for each key.

    ``access_key`` is kept out of ``repr`` so a logged options object leaks nothing.
    """

    url: str
    username: str
    access_key: str = field(repr=False)
    server_time_zone: str = "UTC"
    timeout: float = 30.0
    connect_timeout: float = 10.0
    meeting_activity_types: tuple[str, ...] = ("Meeting",)
    service_activity_types: tuple[str, ...] = ()
    cancelled_event_statuses: tuple[str, ...] = ("Not Held",)
    sync_field: str | None = None
    sync_field_means: str = "send"
    attendees_field: str | None = None
    calendar_field: str | None = None
    meeting_time_zone_field: str | None = None
    language_fields: Mapping[EntityType, str] = field(
        default_factory=lambda: {EntityType.USER: "language"}
    )
    time_zone_fields: Mapping[EntityType, str] = field(
        default_factory=lambda: {EntityType.USER: "time_zone"}
    )
    contact_enumeration_limit: int = 25
    email_fields: Mapping[EntityType, tuple[str, ...]] = field(
        default_factory=lambda: dict(_DEFAULT_EMAIL_FIELDS)
    )
    invite_email_count: Mapping[EntityType, int] = field(
        default_factory=lambda: dict.fromkeys(EntityType, 1)
    )
    task_open_status: str = "Not Started"
    task_cancelled_status: str = "Deferred"
    task_done_status: str = "Completed"
    sync_operation: str = "auto"
    sync_type: str = "application"
    feed_overlap_seconds: int = 1
    allow_event_updates: bool = False
    log_to_crm: bool = True
    log_min_level: LogLevel = LogLevel.INFO
    max_query_pages: int = 1000

    @property
    def endpoint(self) -> str:
        """The webservice URL: ``<url>/webservice.php``."""
        base = self.url.rstrip("/")
        return base if base.endswith("/webservice.php") else f"{base}/webservice.php"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The server's time zone (vtiger's ``$default_timezone``)."""
        return zoneinfo.ZoneInfo(self.server_time_zone)

    @property
    def activity_types(self) -> tuple[str, ...]:
        """Every Events ``activitytype`` the gateway treats as a meeting."""
        return self.meeting_activity_types + self.service_activity_types

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> VtigerOptions:
        """Validate the ``[crm.vtiger]`` table.

        Parameters:
            mapping: the raw table (TOML values).
            env: the environment (default ``os.environ``); holds the access key.

        Returns:
            The validated options.

        Raises:
            ConfigError: a key is unknown, missing or invalid; the message names it.
        """
        environ = os.environ if env is None else env
        reader = _Reader(mapping)
        key = environ.get(ACCESS_KEY_ENV, "")
        in_file = mapping.get("access_key")
        # A loader that folds INVITEGW_* variables into the table hands the same value back;
        # anything else in the file is a secret where it must not be.
        if in_file is not None and in_file != key:
            raise ConfigError(
                f"{_PREFIX}.access_key: the access key comes only from the environment "
                f"({ACCESS_KEY_ENV}), not from the configuration file"
            )
        reader.seen.add("access_key")
        if not key.strip():
            raise ConfigError(
                f"{_PREFIX}.access_key: set {ACCESS_KEY_ENV} to the webservice access key of "
                "the vtiger user (My Preferences > Access Key)"
            )
        options = cls(
            url=reader.url("url"),
            username=reader.text("username", required=True),
            access_key=key.strip(),
            server_time_zone=reader.zone("server_time_zone", "UTC"),
            timeout=reader.number("timeout", 30.0),
            connect_timeout=reader.number("connect_timeout", 10.0),
            meeting_activity_types=reader.texts("meeting_activity_types", ("Meeting",)),
            service_activity_types=reader.texts("service_activity_types", (), allow_empty=True),
            cancelled_event_statuses=reader.texts("cancelled_event_statuses", ("Not Held",)),
            sync_field=reader.field_name("sync_field"),
            sync_field_means=reader.choice("sync_field_means", ("send", "skip"), "send"),
            attendees_field=reader.field_name("attendees_field"),
            calendar_field=reader.field_name("calendar_field"),
            meeting_time_zone_field=reader.field_name("meeting_time_zone_field"),
            language_fields=reader.field_per_type("language_fields", EntityType.USER, "language"),
            time_zone_fields=reader.field_per_type(
                "time_zone_fields", EntityType.USER, "time_zone"
            ),
            contact_enumeration_limit=reader.integer("contact_enumeration_limit", 25, 0, 500),
            email_fields=reader.email_fields(),
            invite_email_count=reader.invite_counts(),
            task_open_status=reader.text("task_open_status", default="Not Started"),
            task_cancelled_status=reader.text("task_cancelled_status", default="Deferred"),
            task_done_status=reader.text("task_done_status", default="Completed"),
            sync_operation=reader.choice("sync_operation", ("auto", "off"), "auto"),
            sync_type=reader.choice("sync_type", ("application", "user", ""), "application"),
            feed_overlap_seconds=reader.integer("feed_overlap_seconds", 1, 1, 3600),
            allow_event_updates=reader.boolean("allow_event_updates", False),
            log_to_crm=reader.boolean("log_to_crm", True),
            log_min_level=_LEVELS[
                reader.choice("log_min_level", tuple(_LEVELS), LogLevel.INFO.value)
            ],
            max_query_pages=reader.integer("max_query_pages", 1000, 1, 100_000),
        )
        reader.reject_unknown()
        if set(options.meeting_activity_types) & set(options.service_activity_types):
            raise ConfigError(
                f"{_PREFIX}.service_activity_types: a type cannot be both a meeting and a "
                "service activity"
            )
        return options


class _Reader:
    """Typed access to the raw table; remembers which keys were read."""

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"{_PREFIX}: expected a table")
        self.mapping = mapping
        self.seen: set[str] = set()

    def _get(self, key: str) -> Any:
        self.seen.add(key)
        return self.mapping.get(key)

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.mapping) - self.seen)
        if unknown:
            raise ConfigError(f"{_PREFIX}.{unknown[0]}: unknown key")

    def text(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self._get(key)
        if value is None:
            if required:
                raise ConfigError(f"{_PREFIX}.{key}: required")
            return default
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{_PREFIX}.{key}: expected a non-empty string")
        if any(ord(ch) < 32 for ch in value):
            raise ConfigError(f"{_PREFIX}.{key}: control characters are not allowed")
        return value.strip()

    def url(self, key: str) -> str:
        value = self.text(key, required=True)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{_PREFIX}.{key}: expected an http(s) URL, got {value!r}")
        if parts.username or parts.password:
            raise ConfigError(f"{_PREFIX}.{key}: credentials do not belong in the URL")
        if parts.query or parts.fragment:
            raise ConfigError(f"{_PREFIX}.{key}: the vtiger base URL takes no query string")
        return value

    def zone(self, key: str, default: str) -> str:
        value = self.text(key, default=default)
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"{_PREFIX}.{key}: unknown IANA time zone {value!r}") from exc
        return value

    def number(self, key: str, default: float) -> float:
        value = _from_text(self._get(key), float)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{_PREFIX}.{key}: expected a positive number of seconds")
        return float(value)

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = _from_text(self._get(key), int)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{_PREFIX}.{key}: expected an integer from {low} to {high}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = _from_text(self._get(key), bool)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(f"{_PREFIX}.{key}: expected true or false")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self._get(key)
        if value is None:
            return default
        if value not in choices:
            shown = ", ".join(repr(c) for c in choices)
            raise ConfigError(f"{_PREFIX}.{key}: expected one of {shown}")
        return str(value)

    def texts(
        self, key: str, default: tuple[str, ...], *, allow_empty: bool = False
    ) -> tuple[str, ...]:
        value = _from_text(self._get(key), list)
        if value is None:
            return default
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, str) and v.strip() for v in value
        ):
            raise ConfigError(f"{_PREFIX}.{key}: expected a list of non-empty strings")
        if not value and not allow_empty:
            raise ConfigError(f"{_PREFIX}.{key}: the list must not be empty")
        return tuple(dict.fromkeys(v.strip() for v in value))

    def field_name(self, key: str) -> str | None:
        value = self._get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not _is_field_name(value):
            raise ConfigError(f"{_PREFIX}.{key}: expected a vtiger field name such as cf_853")
        return value

    def _per_type(self, key: str) -> Mapping[str, Any] | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ConfigError(f"{_PREFIX}.{key}: expected a table keyed by entity type")
        for name in value:
            if name not in {t.value for t in EntityType}:
                raise ConfigError(f"{_PREFIX}.{key}.{name}: unknown entity type")
        return value

    def email_fields(self) -> dict[EntityType, tuple[str, ...]]:
        result = dict(_DEFAULT_EMAIL_FIELDS)
        table = self._per_type("email_fields") or {}
        for name, listed in table.items():
            fields = _from_text(listed, list)
            if (
                not isinstance(fields, list | tuple)
                or not fields
                or not all(isinstance(f, str) and _is_field_name(f) for f in fields)
            ):
                raise ConfigError(
                    f"{_PREFIX}.email_fields.{name}: expected a non-empty list of field names"
                )
            result[EntityType(name)] = tuple(dict.fromkeys(fields))
        return result

    def field_per_type(
        self, key: str, default_type: EntityType, default_field: str
    ) -> dict[EntityType, str]:
        result = {default_type: default_field}
        for name, value in (self._per_type(key) or {}).items():
            if not isinstance(value, str) or not _is_field_name(value):
                raise ConfigError(f"{_PREFIX}.{key}.{name}: expected a vtiger field name")
            result[EntityType(name)] = value
        return result

    def invite_counts(self) -> dict[EntityType, int]:
        value = self.mapping.get("invite_email_count")
        if value is None or isinstance(value, Mapping):
            counts = dict.fromkeys(EntityType, 1)
            for name, count in (self._per_type("invite_email_count") or {}).items():
                counts[EntityType(name)] = _count(f"invite_email_count.{name}", count)
            return counts
        self.seen.add("invite_email_count")
        return dict.fromkeys(EntityType, _count("invite_email_count", value))


def _count(key: str, raw: Any) -> int:
    value = _from_text(raw, int)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise ConfigError(f"{_PREFIX}.{key}: expected an integer from 0 to 10")
    return value


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def _from_text(value: Any, kind: type) -> Any:
    """Read a value set through the environment (always text) as ``kind``.

    The gateway's loader passes ``INVITEGW_CRM__VTIGER__*`` variables through as strings;
    a TOML value already has its type and is returned as it is.
    """
    if not isinstance(value, str) or kind is str:
        return value
    text = value.strip()
    if kind is list:
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind is bool:
        word = text.lower()
        return True if word in _TRUE else False if word in _FALSE else value
    try:
        return int(text) if kind is int else float(text)
    except ValueError:
        return value


def _is_field_name(value: str) -> bool:
    # vtiger field names are lower-case identifiers (``email1``, ``cf_853``); they end up
    # inside VTQL, so nothing else may pass.
    return value.isascii() and value.replace("_", "a").isalnum() and value[0].isalpha()
