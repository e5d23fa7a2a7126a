"""Users, contacts, accounts and leads: found by address, read by id.

A lookup by address runs one ``query`` per configured email field of each module
(``WHERE email = '...'``, quoted by :mod:`~invitegw.crm_adapter.vtiger.vtql`), because
those comparisons are what the recordings show working; MySQL compares them without
regard to case, and every row is checked again here. Users are few and read as a whole
(file 23), then kept for a few minutes.

An address that belongs to no record (an extra attendee typed into a meeting's text
field) becomes a contact-typed party whose id is ``email:<address>``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from invitegw.crm_adapter.vtiger import vtql
from invitegw.crm_adapter.vtiger.client import VtigerClient
from invitegw.crm_adapter.vtiger.options import VtigerOptions
from invitegw.crm_adapter.vtiger.records import party_fields, party_from_record
from invitegw.crm_adapter.vtiger.schema import Schema
from invitegw.domain.records import EntityType, Party, PartyRef

__all__ = ["ADDRESS_ID_PREFIX", "Directory", "address_party", "plausible_address"]

logger = logging.getLogger(__name__)

ADDRESS_ID_PREFIX = "email:"
_ORDER = (EntityType.USER, EntityType.CONTACT, EntityType.ACCOUNT, EntityType.LEAD)
_USERS_TTL = 300.0


def plausible_address(value: str) -> bool:
    """A cheap shape check before an address goes into a query (the gateway validates)."""
    local, at, domain = value.rpartition("@")
    return (
        bool(local and at and domain)
        and len(value) <= 254
        and not any(ch.isspace() or ord(ch) < 32 for ch in value)
    )


def address_party(address: str) -> Party:
    """A party for an address that no CRM record carries."""
    return Party(
        type=EntityType.CONTACT,
        id=ADDRESS_ID_PREFIX + address,
        name=address,
        emails=(address,),
        invite_emails=(address,),
    )


def _crm_number(party: Party) -> int:
    _, _, tail = party.id.partition("x")
    return int(tail) if tail.isdigit() else 0


class Directory:
    """Party lookups over the webservice.

    Parameters:
        client: the webservice session.
        options: the adapter options (email fields, invitation counts).
        schema: module prefixes and fields.
        clock: monotonic seconds (injectable), for the users cache.
    """

    def __init__(
        self,
        client: VtigerClient,
        options: VtigerOptions,
        schema: Schema,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._options = options
        self._schema = schema
        self._clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, Party] = {}
        self._users_read_at: float | None = None

    # -- users ---------------------------------------------------------------------------

    def users(self, *, refresh: bool = False) -> dict[str, Party]:
        """Every user by webservice id, read at most every five minutes."""
        with self._lock:
            now = self._clock()
            stale = self._users_read_at is None or now - self._users_read_at > _USERS_TTL
            if refresh or stale:
                info = self._schema.entity(EntityType.USER)
                rows = self._client.query_all(
                    info.name, info.prefix, party_fields(EntityType.USER, self._options)
                )
                self._users = {
                    str(r["id"]): party_from_record(EntityType.USER, r, self._options)
                    for r in rows
                    if r.get("id")
                }
                self._users_read_at = now
            return dict(self._users)

    def user(self, ws_id: str) -> Party | None:
        """One user, re-reading the list once when the id is new to us."""
        found = self.users().get(ws_id)
        if found is None and self._schema.entity(EntityType.USER).owns(ws_id):
            found = self.users(refresh=True).get(ws_id)
        return found

    # -- any party -----------------------------------------------------------------------

    def get(self, ref: PartyRef) -> Party | None:
        """The party, or ``None`` when no such record exists (or it was deleted)."""
        if ref.id.startswith(ADDRESS_ID_PREFIX):
            address = ref.id[len(ADDRESS_ID_PREFIX) :]
            ok = ref.type is EntityType.CONTACT and plausible_address(address)
            return address_party(address) if ok else None
        if ref.type is EntityType.USER:
            return self.user(ref.id)
        info = self._schema.entity(ref.type)
        if not info.owns(ref.id):
            return None
        fields = party_fields(ref.type, self._options)
        text = vtql.select(info.name, fields, f"id = {vtql.ws_id(ref.id)}")
        rows = self._client.query(text, module=info.name)
        return party_from_record(ref.type, rows[0], self._options) if rows else None

    def find(self, email: str, types: Sequence[EntityType] | None = None) -> list[Party]:
        """Every record with ``email`` in one of its configured email fields.

        Ordered as ``types`` lists them (default user, contact, account, lead), then by
        record number. An address that cannot be one matches nothing.
        """
        address = email.strip()
        if not plausible_address(address):
            logger.info("vtiger party lookup skipped: %r is not an address", email)
            return []
        wanted = address.casefold()
        found: list[Party] = []
        for etype in types if types is not None else _ORDER:
            if etype is EntityType.USER:
                matches = [
                    p for p in self.users().values() if wanted in (e.casefold() for e in p.emails)
                ]
            else:
                matches = self._find_records(etype, address)
            found.extend(sorted(matches, key=_crm_number))
        return found

    def _find_records(self, etype: EntityType, address: str) -> list[Party]:
        info = self._schema.entity(etype)
        fields = party_fields(etype, self._options)
        # `=` takes the address verbatim; only a backslash (legal in a quoted local part)
        # forces a LIKE pattern, whose extra matches the check below removes.
        value = vtql.literal(address) if "\\" not in address else vtql.like_exact(address)
        operator = "=" if "\\" not in address else "LIKE"
        by_id: dict[str, Party] = {}
        for column in self._options.email_fields[etype]:
            rows = self._client.query_all(
                info.name, info.prefix, fields, f"{column} {operator} {value}"
            )
            for row in rows:
                if self._has_address(etype, row, address):
                    party = party_from_record(etype, row, self._options)
                    by_id.setdefault(party.id, party)
        return list(by_id.values())

    def _has_address(self, etype: EntityType, row: dict[str, Any], address: str) -> bool:
        wanted = address.casefold()
        return any(
            str(row.get(column) or "").strip().casefold() == wanted
            for column in self._options.email_fields[etype]
        )
