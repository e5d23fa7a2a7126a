"""Parties: found by any email field, read by id, opt-outs and invitation addresses."""

from __future__ import annotations

from invitegw.crm_adapter.vtiger import VtigerCrm
from invitegw.domain.records import EntityType, PartyRef
from tests.crm_adapter.vtiger.conftest import Seeder, make_options
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock


def test_an_address_is_found_in_every_kind_of_record_in_order(
    crm: VtigerCrm, seed: Seeder, fake: FakeVtiger
) -> None:
    shared = "desk@acme.example"
    lead = seed.lead("Lena", "Lead", shared)
    account = seed.account("Acme", "office@acme.example", email2=shared)
    contact_b = seed.contact("Jan", "Kowalski", "jan@acme.example", secondaryemail=shared)
    contact_a = seed.contact("Anna", "Nowak", shared)
    user = fake.add_user("desk", "Front", "Desk", "front@acme.example", "k", email2=shared)
    found = crm.find_parties("DESK@acme.example")
    assert [(p.type, p.id) for p in found] == [
        (EntityType.USER, user),
        (EntityType.CONTACT, contact_b),
        (EntityType.CONTACT, contact_a),
        (EntityType.ACCOUNT, account),
        (EntityType.LEAD, lead),
    ]
    only = crm.find_parties(shared, [EntityType.LEAD, EntityType.CONTACT])
    assert [p.id for p in only] == [lead, contact_b, contact_a]
    assert crm.find_parties("nobody@nowhere.example") == []
    assert crm.find_parties("not an address") == []


def test_party_fields_opt_out_and_invitation_addresses(
    server: FakeVtigerServer, seed: Seeder
) -> None:
    account = seed.account("Globex", "hello@globex.example", email2="sales@globex.example")
    hank = seed.contact(
        "Hank",
        "Scorpio",
        "hank@globex.example",
        secondaryemail="h@home.example",
        emailoptout="1",
        account_id=account,
    )
    jan = seed.contact("Jan", "Kowalski", "jan@acme.example", secondaryemail="jk@private.example")
    with VtigerCrm(make_options(server.url, invite_email_count={t: 2 for t in EntityType})) as crm:
        opted_out = crm.get_party(PartyRef(EntityType.CONTACT, hank))
        two = crm.get_party(PartyRef(EntityType.CONTACT, jan))
        company = crm.get_party(PartyRef(EntityType.ACCOUNT, account))
        admin = crm.get_party(PartyRef(EntityType.USER, seed.admin))
    assert opted_out is not None
    assert opted_out.name == "Hank Scorpio"
    assert opted_out.emails == ("hank@globex.example", "h@home.example")
    assert (opted_out.sync, opted_out.invite_emails) == (False, ())
    assert opted_out.account == PartyRef(EntityType.ACCOUNT, account)
    assert two is not None
    assert two.invite_emails == ("jan@acme.example", "jk@private.example")
    assert company is not None
    assert company.name == "Globex"
    assert company.emails == ("hello@globex.example", "sales@globex.example")
    assert admin is not None
    assert admin.internal
    assert (admin.language, admin.time_zone) == ("en", "UTC")


def test_missing_and_foreign_ids_are_none(crm: VtigerCrm, seed: Seeder) -> None:
    gone = seed.contact("Gone", "Away", "gone@example.org")
    seed.delete(gone)
    event = seed.event("Not a party")
    assert crm.get_party(PartyRef(EntityType.CONTACT, gone)) is None
    assert crm.get_party(PartyRef(EntityType.CONTACT, event)) is None
    assert crm.get_party(PartyRef(EntityType.USER, "19x404")) is None
    assert crm.get_party(PartyRef(EntityType.ACCOUNT, "email:x@example.org")) is None
    address = crm.get_party(PartyRef(EntityType.CONTACT, "email:x@example.org"))
    assert address is not None
    assert address.invite_emails == ("x@example.org",)


def test_users_are_cached_and_reread_for_a_new_id(
    server: FakeVtigerServer, fake: FakeVtiger
) -> None:
    monotonic = ManualClock(0)
    with VtigerCrm(make_options(server.url), clock=monotonic) as crm:
        assert crm.find_parties("late@corp.example") == []
        late = fake.add_user("late", "Late", "Joiner", "late@corp.example", "k")
        assert crm.get_party(PartyRef(EntityType.USER, late)) is not None  # a new id: re-read
        fake.users[int(late.partition("x")[2])]["status"] = "Inactive"
        cached = crm.get_party(PartyRef(EntityType.USER, late))
        monotonic.advance(301)
        fresh = crm.get_party(PartyRef(EntityType.USER, late))
    assert cached is not None
    assert cached.sync is True  # read a moment ago: kept for five minutes
    assert fresh is not None
    assert (fresh.sync, fresh.invite_emails) == (False, ())  # an inactive user gets nothing


def test_more_than_100_matches_are_all_found(crm: VtigerCrm, seed: Seeder) -> None:
    made = [seed.contact(f"Twin {n:03}", "Shared", "shared@example.org") for n in range(104)]
    found = crm.find_parties("shared@example.org", [EntityType.CONTACT])
    assert [p.id for p in found] == made
