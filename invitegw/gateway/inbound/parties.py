"""Who the addresses of one received message are in the CRM, looked up once per message.

:class:`MessageParties` answers the questions the task rules need the CRM for: which
records hold an address (:meth:`~MessageParties.parties`), its standing for the rules
(:meth:`~MessageParties.standing`), who owns a new task (:meth:`~MessageParties.owner`)
and which contact, account or lead it is linked to (:meth:`~MessageParties.party`).

Choices (documented for operators):

- **Owner of a new task.** The author (From) when a CRM user (a staff member forwarding it,
  or a staff organizer inviting the gateway); else the owner of the mailbox it arrived in
  (a staff address, or a calendar name whose address is a CRM user); else the first
  envelope recipient that is a CRM user (SMTP, plus tokens removed); else, for an
  occurrence, the owner of its series task. None of these: quarantined ("no owner").
- **Party.** The first contact, account or lead (in that order) with the organizer's
  address, else with the original sender's, else with the From's.
"""

from __future__ import annotations

from invitegw.crm_adapter.port import CrmPort, FindsPartiesInBatch
from invitegw.domain.addresses import split_plus_token
from invitegw.domain.records import EntityType, Party, PartyRef, Task
from invitegw.errors import AddressError
from invitegw.gateway.inbound.config import InboundConfig
from invitegw.gateway.inbound.context import InboundMessage
from invitegw.itip.keys import key_address
from invitegw.itip.task_facts import AddressStanding

__all__ = ["MessageParties"]


class MessageParties:
    """The CRM records behind one message's addresses (see the module docstring).

    Parameters:
        crm: the unit of work's CRM.
        config: the inbound settings (internal domains, calendars).
        message: the message.
    """

    def __init__(self, crm: CrmPort, config: InboundConfig, message: InboundMessage) -> None:
        self._crm = crm
        self._config = config
        self._message = message
        self._parties: dict[str, list[Party]] = {}

    def parties(self, address: str | None) -> list[Party]:
        """The CRM records with ``address`` (looked up once per message).

        When the CRM has the :class:`~invitegw.crm_adapter.port.FindsPartiesInBatch`
        capability (the built-in CRM: one query), the first look-up also fetches every
        address the message's events are likely to ask about: the From, the forwarded
        message's From, the mailbox owner and the envelope recipients.
        """
        if not address:
            return []
        found = self._parties.get(address)
        if found is not None:
            return found
        crm = self._crm
        if isinstance(crm, FindsPartiesInBatch):
            wanted = [address, *(a for a in self._likely_addresses() if a not in self._parties)]
            self._parties.update(crm.find_parties_many(list(dict.fromkeys(wanted))))
        else:
            self._parties[address] = self._crm.find_parties(address)
        return self._parties[address]

    def _owner_address(self) -> str | None:
        owner = self._message.received.owner
        if not owner:
            return None
        return owner if "@" in owner else self._config.calendar_address(owner)

    def _recipients(self) -> list[str]:
        found = []
        for recipient in self._message.received.envelope.recipients:
            try:
                found.append(split_plus_token(recipient)[0])
            except AddressError:
                continue
        return found

    def _likely_addresses(self) -> list[str]:
        """The addresses :meth:`owner`, :meth:`standing` and :meth:`party` usually need."""
        message = self._message
        likely = [message.author, message.original_sender]
        if message.received.owner:
            likely.append(key_address(self._owner_address()))
        likely.extend(self._recipients())
        return [a for a in likely if a]

    def mailbox_addresses(self) -> set[str]:
        """The addresses the message was delivered for, in the ledger's form.

        The owner of the mailbox it arrived in, the mailbox's own address, and the
        envelope recipients (plus tokens removed): with the task's owner and the
        forwarder, the addresses a CANCEL must name to uninvite us.
        """
        received = self._message.received
        found = {key_address(self._owner_address()), *map(key_address, self._recipients())}
        found.add(key_address(self._config.mailbox_address(received.source)))
        found.discard("")
        return found

    def user(self, address: str | None) -> PartyRef | None:
        """The CRM user with ``address``, if any."""
        return next((p.ref for p in self.parties(address) if p.type is EntityType.USER), None)

    def standing(self, address: str | None) -> AddressStanding:
        """``address`` with what the CRM and the settings say of it."""
        if not address:
            return AddressStanding()
        parties = self.parties(address)
        domain = address.rsplit("@", 1)[-1]
        internal = any(
            domain == d or domain.endswith("." + d)
            for d in (x.strip().lower().lstrip("@") for x in self._config.inbound.internal_domains)
            if d
        )
        return AddressStanding(
            address=address,
            is_user=any(p.type is EntityType.USER for p in parties),
            internal=internal,
            known_party=any(p.type is not EntityType.USER for p in parties),
        )

    def owner(self, series_task: Task | None) -> PartyRef | None:
        """Who owns a new task (see the module docstring)."""
        found = self.user(self._message.author)
        if found is not None:
            return found
        if self._message.received.owner:
            address = self._owner_address()
            found = self.user(key_address(address) if address else None)
            if found is not None:
                return found
        for base in self._recipients():
            found = self.user(base)
            if found is not None:
                return found
        return series_task.owner if series_task is not None else None

    def party(self, *addresses: str | None) -> PartyRef | None:
        """The first contact, account or lead with the first of ``addresses`` that has one."""
        for address in addresses:
            for party in self.parties(address):
                if party.type is not EntityType.USER:
                    return party.ref
        return None
