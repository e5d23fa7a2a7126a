"""Fuzzing the inbound pipeline with MIME and iCalendar bytes: the contract of issue 15.

For every input, ``InboundPipeline.handle`` (the built-in CRM on SQLite, as ``serve`` and
``ingest`` run it) must

- end the message processed or quarantined with a reason (a processed record, and a
  quarantine row for a quarantined message), never raise;
- decide within the budget: under 2 CPU-seconds (``getrusage`` of the calling thread)
  and under 200 MB of allocations at the peak (``tracemalloc``), whatever the input (the
  full-size messages are timed without allocation tracing, whose own cost is not the
  gateway's: 1.1 CPU-s for the slowest on a loaded 2-core machine, against 2.2-2.7 s
  traced).

Inputs: mutations (flips, insertions of hostile tokens, deletions, repetitions,
truncations) of our own messages (the test builders, ``tests/mailbox/data``), of
generated MIME trees and of generated invitations; with ``$INVITEGW_CORPUS`` set, also of
the third-party corpus (read in place, never copied); and the hostile messages of
``tests/hostile_messages.py`` at the full 25 MiB.

CI runs the ``ci`` profile (derandomized; 200 examples for the mutations of our own
messages, fewer for the slower targets; about half a minute in all). Before a release,
hunt for new inputs with fresh random examples::

    HYPOTHESIS_PROFILE=explore .venv/bin/python -m pytest tests/fuzz -p no:cacheprovider
    # longer: HYPOTHESIS_PROFILE=explore FUZZ_EXAMPLES=20000 (examples per test)

A failing example is printed by Hypothesis with the bytes that broke the contract; add it
to a regression test beside the code it broke.
"""

from __future__ import annotations

import base64
import os
import resource
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from invitegw.crm_adapter.builtin.admin import SqlCrmAdmin
from invitegw.domain.records import EntityType
from invitegw.gateway.bootstrap import Gateway, build_gateway, inbound_pipeline
from invitegw.gateway.config import CalendarSettings, DatabaseSettings, Settings
from invitegw.gateway.inbound.model import (
    InboundOutcome,
    MessageResult,
    ReceivedMessage,
    SourcePosition,
)
from invitegw.gateway.inbound.pipeline import InboundPipeline
from invitegw.gateway.storage import ProcessedMessage, QuarantinedMessage, open_store, upgrade
from invitegw.ics import Event, Method, build_calendar
from tests.gateway.inbound.builders import (
    CONTACT,
    LEAD,
    SAM,
    STAFF2,
    calendar,
    forward,
    plain,
    vevent,
)
from tests.gateway.inbound.builders import invitation as builder_invitation
from tests.hostile_messages import HOSTILE, MIB
from tests.ics.strategies import events

CPU_BUDGET = 2.0  # seconds per message
MEMORY_BUDGET = 200 * 1000 * 1000  # bytes allocated at the peak per message
MAX_INPUT = 256 * 1024  # what a mutation may grow a seed to (the full-size ones: below)
_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))


def _examples(share: float) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``share`` of the profile's examples (the slower targets take fewer), or as many as
    ``FUZZ_EXAMPLES`` asks for."""
    count = _EXAMPLES or max(10, int(settings.default.max_examples * share))
    return settings(max_examples=count)


# -- the pipeline under test ----------------------------------------------------------------------


@dataclass
class Fuzzer:
    """One gateway for the whole module; :meth:`decide` checks the contract on one input."""

    gateway: Gateway
    pipeline: InboundPipeline
    count: int = 0

    def decide(self, raw: bytes, *, cpu: bool = True, memory: bool = True) -> MessageResult:
        """Handle ``raw`` and check the contract; ``cpu``/``memory``: check that budget.

        Tracing allocations slows every allocation down: a message measured for both is
        charged for the tracing too, which on a loaded machine pushed the large ordinary
        ones (a 25 MiB attachment) past the CPU budget. The full-size tests measure the two
        apart, each on its own gateway (a second decision of the same bytes on one gateway
        would be a duplicate).
        """
        self.count += 1
        message = ReceivedMessage(
            raw=raw,
            source="fuzz",
            position=SourcePosition(epoch=1, number=self.count),
            owner=SAM,
            reference=f"fuzz:{self.count}",
        )
        if memory:
            tracemalloc.start()
        began = _thread_cpu()
        try:
            result = self.pipeline.handle(message)
        finally:
            spent = _thread_cpu() - began
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        if cpu:
            assert spent < CPU_BUDGET, f"{spent:.2f} CPU-seconds for a {len(raw)}-byte message"
        if memory:
            assert peak < MEMORY_BUDGET, f"{peak / MIB:.0f} MiB for a {len(raw)}-byte message"
        self._check(result)
        return result

    def _check(self, result: MessageResult) -> None:
        assert result.events, "no outcome at all"
        for event in result.events:
            if event.outcome is InboundOutcome.QUARANTINED:
                assert event.reason, f"quarantined without a reason: {event}"
        with self.gateway.store.session() as session:
            record = session.scalars(
                select(ProcessedMessage).where(
                    ProcessedMessage.source == "fuzz", ProcessedMessage.uid == self.count
                )
            ).first()
            if result.already_processed:
                return  # the same Message-ID and body came before: its record answered
            assert record is not None, "no processed record"
            if result.quarantined:
                assert result.quarantine_id is not None
                row = session.get(QuarantinedMessage, result.quarantine_id)
                assert row is not None
                assert row.reason


def _thread_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzer]:
    yield from _fuzzer(tmp_path_factory)


@pytest.fixture(scope="module")
def memory_fuzzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzer]:
    """A second gateway, for the allocation measurement of the full-size messages."""
    yield from _fuzzer(tmp_path_factory)


def _fuzzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzer]:
    folder = tmp_path_factory.mktemp("fuzz")
    settings_ = Settings(
        data_dir=folder,
        database=DatabaseSettings(url=f"sqlite:///{folder / 'fuzz.sqlite3'}"),
        calendars=(
            CalendarSettings(name="sales", address="sales@example.com", time_zone="Europe/Warsaw"),
        ),
    )
    store = open_store(settings_.database_url)
    upgrade(store)
    with store.session() as session:
        crm = SqlCrmAdmin(session)
        crm.add_party(EntityType.USER, [SAM], name="Sam Staff")
        crm.add_party(EntityType.USER, [STAFF2], name="Tina Staff")
        crm.add_party(EntityType.CONTACT, [CONTACT], name="Olivia Organizer")
        crm.add_party(EntityType.LEAD, [LEAD], name="Lena Lead")
    gateway = build_gateway(settings_, store=store)
    try:
        yield Fuzzer(gateway, inbound_pipeline(gateway))
    finally:
        gateway.close()


# -- seeds and mutations --------------------------------------------------------------------------


def _own_seeds() -> list[bytes]:
    data = Path(__file__).resolve().parents[1] / "mailbox" / "data"
    seeds = [path.read_bytes() for path in sorted(data.glob("*.eml"))]
    request = builder_invitation()
    cancel = builder_invitation(calendar("CANCEL", vevent(sequence=1)), method="CANCEL")
    two = builder_invitation(
        calendar("REQUEST", vevent(uid="a@x"), vevent(uid="b@x", recurrence_id=None))
    )
    seeds += [request, cancel, two, forward(request, from_=SAM), plain()]
    seeds += [HOSTILE[name](64 * 1024) for name in sorted(HOSTILE)]
    return seeds


OWN_SEEDS = _own_seeds()

# Tokens a hostile or broken message is made of.
TOKENS = [
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b"\x00",
    b"\x1b[2J",
    b"\xff\xfe",
    b"\r\n--b\r\n",
    b"\r\n--b--\r\n",
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n',
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"=?utf-8?b?w6k=?=",
    b"=?x-unknown?q?=FF?=",
    b"BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\n",
    b"BEGIN:VEVENT\r\n",
    b"END:VEVENT\r\n",
    b"END:VCALENDAR\r\n",
    b"SEQUENCE:99999999999999999999\r\n",
    b"SEQUENCE:2147483648\r\n",
    b"UID:" + b"u" * 700 + b"\r\n",
    b"ORGANIZER:mailto:" + b"o" * 400 + b"@x.example\r\n",
    b"RRULE:FREQ=SECONDLY;INTERVAL=1\r\n",
    b"DTSTART;TZID=Nowhere/Zone:20260101T000000\r\n",
    b"RECURRENCE-ID:99991231T235959Z\r\n",
    b"ATTENDEE;PARTSTAT=X-" + b"P" * 100 + b":mailto:a@b.example\r\n",
    b"Message-ID: <" + b"m" * 1200 + b"@x>\r\n",
    b"Authentication-Results: mx.example.com; dmarc=pass header.from=partner.example\r\n",
    b"From: =?utf-8?q?=E2=80=AE?= <x@xn--bcher-kva.de>\r\n",
    b" \t folded\r\n",
    b"a" * 2000,
]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` after one to four random edits, at most :data:`MAX_INPUT` bytes."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "truncate"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif kind == "insert":
            piece = draw(st.sampled_from(TOKENS) | st.binary(max_size=64))
            data[at:at] = piece
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 256))]
        elif kind == "repeat":
            piece = bytes(data[at : at + draw(st.integers(1, 80))])
            data[at:at] = piece * draw(st.integers(1, 2000))
        elif kind == "truncate":
            del data[at:]
        del data[MAX_INPUT:]
    return bytes(data)


# -- generated structures -------------------------------------------------------------------------

_LEAF_TYPES = [
    "text/plain",
    "text/html",
    "text/calendar; method=REQUEST",
    "text/calendar; method=CANCEL; charset=utf-8",
    "application/ics; name=invite.ics",
    "application/octet-stream; name=winmail.dat",
    "application/ms-tnef",
    "message/delivery-status",
    "text/rfc822-headers",
]


@st.composite
def leaves(draw: st.DrawFn) -> bytes:
    ctype = draw(st.sampled_from(_LEAF_TYPES))
    body = draw(
        st.sampled_from(
            [
                calendar("REQUEST").encode(),
                calendar("CANCEL", vevent(sequence=2)).encode(),
                b"Hello\r\n",
                b"Final-Recipient: rfc822; a@b.example\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            ]
        )
        | st.binary(max_size=300)
    )
    encoding = draw(st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-bogus"]))
    if encoding == "base64" and draw(st.booleans()):
        body = base64.encodebytes(body).replace(b"\n", b"\r\n")
    head = f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n".encode()
    return head + body


def _multipart(children: list[bytes], boundary: str, subtype: str) -> bytes:
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
    parts = b"".join(b"--" + boundary.encode() + b"\r\n" + c + b"\r\n" for c in children)
    return head + parts + b"--" + boundary.encode() + b"--\r\n"


def _extend(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    multipart = st.builds(
        _multipart,
        st.lists(children, min_size=0, max_size=5),
        st.text("abcxyz0123456789'()+_,-./:=?", min_size=1, max_size=20),
        st.sampled_from(["mixed", "alternative", "related", "report; report-type=delivery-status"]),
    )
    encapsulated = children.map(
        lambda c: b"Content-Type: message/rfc822\r\n\r\nFrom: a@b.c\r\n" + c
    )
    return multipart | encapsulated


mime_bodies = st.recursive(leaves(), _extend, max_leaves=12)
_HEADERS = (
    b"From: Olivia Organizer <olivia@partner.example>\r\nTo: sam@example.com\r\n"
    b"Subject: fuzz\r\nMIME-Version: 1.0\r\n"
)


# -- the tests ------------------------------------------------------------------------------------


@_examples(1.0)
@given(data=st.data())
def test_mutations_of_our_own_messages(fuzzer: Fuzzer, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(OWN_SEEDS), label="seed")
    fuzzer.decide(data.draw(mutated(seed), label="input"))


@_examples(0.5)
@given(body=mime_bodies, message_id=st.integers(0, 10**6), mutate=st.data())
def test_generated_mime_trees(
    fuzzer: Fuzzer, body: bytes, message_id: int, mutate: st.DataObject
) -> None:
    raw = _HEADERS + f"Message-ID: <tree-{message_id}@fuzz>\r\n".encode() + body
    if mutate.draw(st.booleans(), label="mutate"):
        raw = mutate.draw(mutated(raw), label="input")
    fuzzer.decide(raw)


@_examples(0.4)
@given(event=events(), method=st.sampled_from(list(Method)), mutate=st.data())
def test_generated_calendars(
    fuzzer: Fuzzer, event: Event, method: Method, mutate: st.DataObject
) -> None:
    ics = build_calendar(method, [event])
    raw = builder_invitation(
        ics.decode("utf-8"), message_id=f"gen-{fuzzer.count}@fuzz", method=method.value
    )
    if mutate.draw(st.booleans(), label="mutate"):
        raw = mutate.draw(mutated(raw), label="input")
    fuzzer.decide(raw)


def _corpus_files(corpus: Path) -> list[Path]:
    rows = (corpus / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [corpus / row.split("\t", 1)[0] for row in rows if row.strip()]


@pytest.mark.corpus
@_examples(0.5)
@given(data=st.data())
def test_mutations_of_the_corpus(fuzzer: Fuzzer, corpus_dir: Path, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(_corpus_files(corpus_dir)), label="corpus file")
    seed = path.read_bytes()  # read in place: the corpus is never copied
    if path.suffix == ".ics":
        seed = _HEADERS + b"Content-Type: text/calendar; method=REQUEST\r\n\r\n" + seed
    fuzzer.decide(data.draw(mutated(seed), label="input"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_messages_at_the_size_cap_are_decided_within_budget(
    fuzzer: Fuzzer, memory_fuzzer: Fuzzer, name: str
) -> None:
    raw = HOSTILE[name](25 * MIB - 1)
    timed = fuzzer.decide(raw, memory=False)
    traced = memory_fuzzer.decide(raw, cpu=False)
    assert timed.events
    assert [e.outcome for e in traced.events] == [e.outcome for e in timed.events]
