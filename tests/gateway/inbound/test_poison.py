"""Poison messages: no value read from a message can make the database refuse a write.

Every column a received message fills (the inbound ledger, its sources, the processed
records, the quarantine, the event log, the built-in CRM's tasks, answers and log, the
outbound ledger's answer columns) is walked with an oversized or unstorable value (over
the column's width, NUL, a lone surrogate, a SEQUENCE over 2^31-1), on SQLite and on
PostgreSQL. Each message must end processed or quarantined with a reason, the stored
values must fit their columns, and the next message must be processed as usual.

A database error the message's content causes anyway (here: a CRM handing the database
an integer out of range) quarantines the message instead of leaving it to be retried for
ever.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import BigInteger, Enum, Integer, String, Text, select
from sqlalchemy.orm import Session

from invitegw.crm_adapter.builtin.schema import CrmBase
from invitegw.crm_adapter.port import CrmPort
from invitegw.domain.records import NewTask, Task
from invitegw.gateway.bootstrap import inbound_pipeline
from invitegw.gateway.inbound.model import Envelope, InboundOutcome, MessageResult
from invitegw.gateway.storage import GatewayBase, Store
from invitegw.ics import PartStat, build_reply
from invitegw.sqltypes import BoundedString, Int64, SafeText
from tests.gateway.inbound.builders import CONTACT, calendar, invitation, plain, vevent
from tests.gateway.inbound.harness import InboundHarness
from tests.gateway.inbound.reply_builders import ReplyHarness, calendar_email

LONG = 3000
GINA = "gina@example.org"

# What a message can carry that no column would take as it is.
NUL = "before\x00after"
SURROGATE = "bad \udc80 byte"


def _long_address(size: int = LONG) -> str:
    return "x" * 60 + "@" + ".".join(["d" * 60] * (size // 61)) + ".example"


def _invitation(**fields: Any) -> bytes:
    headers = fields.pop("headers", ())
    message_id = fields.pop("message_id", None)
    from_ = fields.pop("from_", f"Olivia Organizer <{CONTACT}>")
    return invitation(
        calendar("REQUEST", vevent(**fields)),
        headers=headers,
        message_id=message_id,
        from_=from_,
    )


# name -> the raw message; each targets one or more message-derived columns.
INVITATIONS: dict[str, Callable[[], bytes]] = {
    # inbound_events.uid (hashed by the ledger), crm_tasks.source_uid (512 wide)
    "long UID": lambda: _invitation(uid="u" * LONG),
    # inbound_events.sequence, crm_tasks.sequence (PostgreSQL integer)
    "SEQUENCE 2^31": lambda: _invitation(uid="seq-31", sequence=2**31),
    "SEQUENCE 2^63": lambda: _invitation(uid="seq-63", sequence=2**63),
    "SEQUENCE 19 digits": lambda: _invitation(uid="seq-19", sequence=9_999_999_999_999_999_999),
    # inbound_events.organizer, crm_tasks.organizer_email (320 wide)
    "long ORGANIZER": lambda: _invitation(uid="org", organizer=_long_address()),
    # processed_messages/quarantine/inbound_event_sources/event_log .message_id (998)
    "long Message-ID": lambda: _invitation(uid="mid", message_id="m" * LONG + "@example.org"),
    # crm_tasks.title/description/location (text): NUL and a lone surrogate
    "NUL in SUMMARY": lambda: _invitation(uid="nul", summary=NUL, location=NUL, description=NUL),
    "NUL in UID": lambda: _invitation(uid="u" + NUL),
    # inbound_event_sources.forwarder (320 wide): a staff member forwarding it
    "long From": lambda: _invitation(
        uid="from", from_=f"Someone <{_long_address()}>", organizer=CONTACT
    ),
    # RECURRENCE-ID (64 wide): parsed, but a hostile one must not pass either
    "odd RECURRENCE-ID": lambda: _invitation(
        uid="rid", recurrence_id="RECURRENCE-ID;TZID=" + "Z" * LONG + ":20260610T090000"
    ),
    # crm_tasks.location etc. from a Subject full of 8-bit bytes (surrogates in compat32)
    "8-bit Subject": lambda: _invitation(uid="subj").replace(
        b"Subject: Invitation: Quarterly review", b"Subject: \xff\xfe\x00 review"
    ),
}


def _check_widths(session: Session) -> None:
    """Every stored text value fits its column, and no text holds NUL."""
    for metadata in (GatewayBase.metadata, CrmBase.metadata):
        for table in metadata.sorted_tables:
            for column in table.columns:
                kind = column.type
                kind = getattr(kind, "impl", kind)  # a TypeDecorator's own type
                if not isinstance(kind, String):  # Text and Enum are String too
                    continue
                width = kind.length
                for (value,) in session.execute(select(column).where(column.is_not(None))):
                    assert "\x00" not in value, f"{table.name}.{column.name} holds NUL"
                    if width is not None:
                        assert len(value) <= width, f"{table.name}.{column.name} over {width}"


def _settled(result: MessageResult) -> None:
    assert result.events, "no outcome"
    for event in result.events:
        if event.outcome is InboundOutcome.QUARANTINED:
            assert event.reason, "quarantined without a reason"


@pytest.mark.parametrize("name", list(INVITATIONS))
def test_an_oversized_value_never_stops_the_pipeline(
    store: Store, tmp_path: Path, name: str
) -> None:
    gw = InboundHarness(store, tmp_path)
    result = gw.handle(INVITATIONS[name]())
    _settled(result)
    # Processed once: handling it again answers from the record (no retry loop, no twin).
    again = gw.handle(INVITATIONS[name]())
    assert again.already_processed or again.events[0].outcome is InboundOutcome.DUPLICATE
    # The next message goes through as usual.
    after = gw.handle(_invitation(uid="after-the-poison"))
    assert [e.outcome for e in after.events] == [InboundOutcome.CREATED]
    with store.session() as session:
        _check_widths(session)


def test_a_timestamp_sequence_is_kept_and_orders_updates(store: Store, tmp_path: Path) -> None:
    # Google has sent millisecond timestamps as SEQUENCE: 64 bits on both engines.
    gw = InboundHarness(store, tmp_path)
    first = gw.handle(_invitation(uid="google", sequence=1407317367304))
    assert [e.outcome for e in first.events] == [InboundOutcome.CREATED]
    later = gw.handle(_invitation(uid="google", sequence=1407317367305, summary="Moved"))
    assert [e.outcome for e in later.events] == [InboundOutcome.UPDATED]
    (row,) = gw.ledger()
    assert row.sequence == 1407317367305
    assert gw.task(first.events[0].task_id).sequence == 1407317367305


def test_a_sequence_over_64_bits_is_read_as_a_warning_not_stored(
    store: Store, tmp_path: Path
) -> None:
    gw = InboundHarness(store, tmp_path)
    result = gw.handle(INVITATIONS["SEQUENCE 19 digits"]())
    assert [e.outcome for e in result.events] == [InboundOutcome.CREATED]
    (row,) = gw.ledger()
    assert row.sequence == 0
    assert gw.task(result.events[0].task_id).sequence == 0


def test_a_long_uid_is_stored_hashed_where_it_does_not_fit(store: Store, tmp_path: Path) -> None:
    gw = InboundHarness(store, tmp_path)
    result = gw.handle(INVITATIONS["long UID"]())
    task = gw.task(result.events[0].task_id)
    assert task.source_uid is not None
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", task.source_uid)
    (row,) = gw.ledger()
    assert row.uid == task.source_uid  # the ledger's hash and the column's agree


def test_a_long_message_id_still_dedupes(store: Store, tmp_path: Path) -> None:
    gw = InboundHarness(store, tmp_path)
    raw = INVITATIONS["long Message-ID"]()
    first = gw.handle(raw)
    again = gw.handle(raw, source="other")  # not by position: by the (hashed) Message-ID
    assert first.events[0].outcome is InboundOutcome.CREATED
    assert again.already_processed


def _reply_variants(h: ReplyHarness) -> dict[str, bytes]:
    event = h.invited_event(GINA)
    ics = build_reply(event, GINA, PartStat.ACCEPTED, comment="fine")
    to = h.token_address(GINA)

    def sub(old: bytes, new: bytes) -> bytes:
        assert old in ics, old
        return calendar_email(ics.replace(old, new), sender=GINA, to=to)

    long_partstat = b"PARTSTAT=X-" + b"P" * LONG
    delegated = b'PARTSTAT=DELEGATED;DELEGATED-TO="mailto:' + _long_address().encode() + b'"'
    return {
        # crm_meeting_responses.partstat, outbound_attendees.partstat (32 wide)
        "long PARTSTAT": sub(b"PARTSTAT=ACCEPTED", long_partstat),
        # crm_meeting_responses.delegated_to (320 wide)
        "long DELEGATED-TO": sub(b"PARTSTAT=ACCEPTED", delegated),
        # crm_meeting_responses.comment (text)
        "NUL in COMMENT": sub(b"COMMENT:fine", b"COMMENT:" + NUL.encode()),
        # outbound_attendees.partstat_sequence (bigint)
        "SEQUENCE 2^40 in a REPLY": sub(b"SEQUENCE:0", b"SEQUENCE:1099511627776"),
    }


@pytest.mark.parametrize(
    "name", ["long PARTSTAT", "long DELEGATED-TO", "NUL in COMMENT", "SEQUENCE 2^40 in a REPLY"]
)
def test_an_oversized_value_in_an_answer_never_stops_the_pipeline(
    store: Store, tmp_path: Path, name: str
) -> None:
    h = ReplyHarness(store, tmp_path)
    pipeline = inbound_pipeline(h.gateway)
    raw = _reply_variants(h)[name]
    result = pipeline.handle(h.received(raw, owner="sales"))
    _settled(result)
    assert not result.already_processed
    after = pipeline.handle(h.received(plain(subject="hello", message_id="after@x.example")))
    assert after.events  # handled, whatever the outcome
    with store.session() as session:
        _check_widths(session)


def test_a_long_envelope_and_reference_are_kept_within_their_columns(
    store: Store, tmp_path: Path
) -> None:
    gw = InboundHarness(store, tmp_path)
    raw = plain(subject="no calendar here", from_="mallory@elsewhere.example")
    result = gw.handle(
        raw,
        reference="/very/long/path/" + "p" * LONG,
        envelope=Envelope(sender=_long_address(), recipients=(_long_address(),)),
    )
    assert result.events[0].outcome is InboundOutcome.QUARANTINED
    (row,) = gw.quarantine()
    assert row.reference is not None
    assert len(row.reference) <= 512
    with store.session() as session:
        _check_widths(session)


# -- a data error that gets through anyway ------------------------------------------------------


@dataclasses.dataclass
class _OutOfRangeCrm:
    """The built-in CRM, handing the database a SEQUENCE no integer column holds."""

    inner: CrmPort

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create_task(self, task: NewTask) -> Task:
        return self.inner.create_task(dataclasses.replace(task, sequence=2**70))


def test_a_data_error_quarantines_the_message_and_the_next_goes_through(
    store: Store, tmp_path: Path
) -> None:
    gw = InboundHarness(store, tmp_path)
    real = gw.gateway.crm_factory
    gw.pipeline = inbound_pipeline(
        dataclasses.replace(gw.gateway, crm_factory=lambda s: _OutOfRangeCrm(real(s)))
    )
    result = gw.handle(_invitation(uid="poison"))
    (event,) = result.events
    assert event.outcome is InboundOutcome.QUARANTINED
    assert "database refused a value" in (event.reason or "")
    assert result.quarantine_id is not None
    assert gw.tasks() == []  # the transaction that tried was rolled back whole
    # Not retried for ever: the record answers the next delivery of the same message.
    poison = _invitation(uid="poison", message_id="poison@x.example")
    assert gw.handle(poison).events[0].outcome is InboundOutcome.QUARANTINED
    assert gw.handle(poison).already_processed
    gw.pipeline = inbound_pipeline(gw.gateway)
    after = gw.handle(_invitation(uid="after"))
    assert [e.outcome for e in after.events] == [InboundOutcome.CREATED]


# -- every column is bounded ------------------------------------------------------------------


def test_every_text_and_integer_column_is_bounded() -> None:
    """A new column cannot slip past the bounds: no plain VARCHAR, TEXT or INTEGER."""
    loose = [
        f"{table.name}.{column.name}: {column.type!r}"
        for metadata in (GatewayBase.metadata, CrmBase.metadata)
        for table in metadata.sorted_tables
        for column in table.columns
        # Ids and references to them are the database's own numbers.
        if type(column.type) in {String, Text, Integer, BigInteger}
        and not (column.primary_key or column.foreign_keys)
    ]
    assert loose == []

    tasks = CrmBase.metadata.tables["crm_tasks"].c
    assert isinstance(tasks.source_uid.type, BoundedString)
    assert isinstance(tasks.title.type, SafeText)
    assert isinstance(tasks.sequence.type, Int64)
    assert isinstance(CrmBase.metadata.tables["crm_meetings"].c.kind.type, Enum)
