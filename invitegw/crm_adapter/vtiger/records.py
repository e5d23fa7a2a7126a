"""vtiger records as the port's values: server-zone times and parties.

vtiger's webservice does no time-zone conversion at all (facts sheet, "Date, time and
time zones"): ``date_start``/``time_start``/``due_date``/``time_end`` and
``createdtime``/``modifiedtime`` are stored and returned in the server's zone
(``$default_timezone``), whatever the API user's ``time_zone`` preference says. So every
time crossing the webservice is converted here, both ways, with the configured
``server_time_zone``. Values come back as strings; booleans are ``"0"``/``"1"``.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

from invitegw.crm_adapter.vtiger.options import VtigerOptions
from invitegw.domain.records import EntityType, Party, PartyRef
from invitegw.errors import CrmError

__all__ = [
    "MODULE_OF",
    "from_server",
    "is_true",
    "party_fields",
    "party_from_record",
    "stamp_from_server",
    "stamp_to_server",
    "to_server",
    "user_zone",
]

# The module behind each entity type.
MODULE_OF: Mapping[EntityType, str] = {
    EntityType.USER: "Users",
    EntityType.CONTACT: "Contacts",
    EntityType.ACCOUNT: "Accounts",
    EntityType.LEAD: "Leads",
}
_NAME_FIELDS: Mapping[EntityType, tuple[str, ...]] = {
    EntityType.USER: ("first_name", "last_name", "user_name"),
    EntityType.CONTACT: ("firstname", "lastname"),
    EntityType.ACCOUNT: ("accountname",),
    EntityType.LEAD: ("firstname", "lastname", "company"),
}
_STAMP = "%Y-%m-%d %H:%M:%S"
_STAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def is_true(value: Any) -> bool:
    """vtiger's boolean: ``"1"`` (also ``1``, ``"on"``, ``true``) is true."""
    return str(value).strip().lower() in ("1", "on", "true", "yes")


def to_server(value: dt.date | dt.datetime, zone: zoneinfo.ZoneInfo) -> tuple[str, str]:
    """``(YYYY-MM-DD, HH:MM:SS)`` in the server's zone for an aware datetime or a date.

    Raises:
        CrmError: a naive datetime (its zone would be a guess).
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise CrmError(f"refusing a naive datetime for vtiger: {value.isoformat()}")
        local = value.astimezone(zone)
        return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")
    return value.isoformat(), "00:00:00"


def from_server(date_text: Any, time_text: Any, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """An aware datetime from vtiger's date and time fields (server zone).

    Raises:
        CrmError: the values are not ``YYYY-MM-DD`` and ``HH:MM[:SS]``.
    """
    try:
        day = dt.date.fromisoformat(str(date_text).strip())
        clock = dt.time.fromisoformat(str(time_text).strip() or "00:00:00")
    except ValueError as exc:
        raise CrmError(f"vtiger sent an unreadable date/time: {date_text!r} {time_text!r}") from exc
    return dt.datetime.combine(day, clock.replace(tzinfo=None), tzinfo=zone)


def stamp_from_server(text: Any, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """``createdtime``/``modifiedtime`` as an aware UTC datetime, ``None`` if unreadable."""
    value = str(text).strip()
    if not _STAMP_RE.match(value):
        return None
    try:
        naive = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return naive.replace(tzinfo=zone).astimezone(dt.UTC)


def stamp_to_server(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """An aware datetime as a server-zone ``YYYY-MM-DD HH:MM:SS`` text (whole seconds)."""
    return value.astimezone(zone).strftime(_STAMP)


def user_zone(record: Mapping[str, Any], field: str = "time_zone") -> str | None:
    """An IANA zone from a record's field (a user's preference), if it names one we know."""
    name = str(record.get(field) or "").strip()
    if not name:
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return name


def party_fields(etype: EntityType, options: VtigerOptions) -> tuple[str, ...]:
    """The columns to select for a party of this type."""
    extra: tuple[str, ...] = {
        EntityType.USER: ("status",),
        EntityType.CONTACT: ("emailoptout", "account_id"),
        EntityType.ACCOUNT: ("emailoptout",),
        EntityType.LEAD: ("emailoptout",),
    }[etype]
    optional = (options.language_fields.get(etype), options.time_zone_fields.get(etype))
    fields = (
        "id",
        *_NAME_FIELDS[etype],
        *options.email_fields[etype],
        *extra,
        *(name for name in optional if name),
    )
    return tuple(dict.fromkeys(fields))


def _name(etype: EntityType, record: Mapping[str, Any]) -> str:
    parts = [str(record.get(f) or "").strip() for f in _NAME_FIELDS[etype]]
    if etype in (EntityType.USER, EntityType.LEAD):
        name = " ".join(p for p in parts[:2] if p) or parts[2]
    else:
        name = " ".join(p for p in parts if p)
    return name or str(record.get("label") or record.get("id") or "")


def _language(value: Any) -> str | None:
    # vtiger stores e.g. "en_us", "pl_pl": keep the primary language subtag.
    text = str(value or "").strip().lower()
    head = text.replace("-", "_").split("_")[0]
    return head if head.isalpha() and 2 <= len(head) <= 3 else None


def party_from_record(
    etype: EntityType, record: Mapping[str, Any], options: VtigerOptions
) -> Party:
    """A :class:`Party` from a vtiger record of the entity type's module.

    ``emails`` lists every configured email field that is filled, in field order;
    ``invite_emails`` the first N of them (``invite_email_count``), none when the record
    opted out (``emailoptout`` on contacts, accounts and leads; an inactive user).
    """
    emails: list[str] = []
    for name in options.email_fields[etype]:
        value = str(record.get(name) or "").strip()
        if value and value.lower() not in (e.lower() for e in emails):
            emails.append(value)
    if etype is EntityType.USER:
        sync = str(record.get("status") or "Active").strip().lower() == "active"
    else:
        sync = not is_true(record.get("emailoptout"))
    account = None
    if etype is EntityType.CONTACT and record.get("account_id"):
        account = PartyRef(EntityType.ACCOUNT, str(record["account_id"]))
    invite = tuple(emails[: options.invite_email_count[etype]]) if sync else ()
    language_field = options.language_fields.get(etype)
    zone_field = options.time_zone_fields.get(etype)
    return Party(
        type=etype,
        id=str(record.get("id") or ""),
        name=_name(etype, record),
        emails=tuple(emails),
        invite_emails=invite,
        sync=sync,
        language=_language(record.get(language_field)) if language_field else None,
        time_zone=user_zone(record, zone_field) if zone_field else None,
        account=account,
    )
