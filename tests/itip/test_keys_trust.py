"""Ledger keys, idempotency keys, body digests, and the Authentication-Results check."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from invitegw.ics.model import Event
from invitegw.itip.keys import (
    MAX_UID,
    EventKey,
    body_digest,
    event_key,
    fingerprint,
    key_address,
    recurrence_text,
    task_key,
)
from invitegw.itip.trust import is_authenticated, parse_authentication_results

PLUS2 = dt.timezone(dt.timedelta(hours=2))


def event(**fields: object) -> Event:
    values: dict[str, object] = {"uid": "u-1", "start": dt.datetime(2026, 6, 10, 9, tzinfo=PLUS2)}
    values.update(fields)
    return Event(**values)  # type: ignore[arg-type]


def test_recurrence_text_is_the_same_for_the_same_instant() -> None:
    assert recurrence_text(None) == ""
    assert recurrence_text(dt.datetime(2026, 6, 17, 9, tzinfo=PLUS2)) == "20260617T070000Z"
    assert recurrence_text(dt.datetime(2026, 6, 17, 7, tzinfo=dt.UTC)) == "20260617T070000Z"
    floating = dt.datetime(2026, 6, 17, 9)  # noqa: DTZ001 - a floating time
    assert recurrence_text(floating) == "20260617T090000"
    assert recurrence_text(dt.date(2026, 6, 17)) == "20260617"


def test_key_address() -> None:
    assert key_address("MAILTO:Olivia@Partner.Example") == "olivia@partner.example"
    assert key_address(None) == ""
    assert key_address("not an address") == "not an address"
    assert key_address("x" * 400 + "@a.example").startswith("sha256:")


def test_event_keys() -> None:
    assert event_key("o@x", event()) == EventKey("o@x", "u-1", "")
    long_uid = event_key("o@x", event(uid="u" * (MAX_UID + 1)))
    assert long_uid.uid.startswith("sha256:")
    no_uid = event_key("o@x", event(uid="", summary="A  Review"))
    assert no_uid.uid == fingerprint("o@x", event(uid="", summary="a review"))
    assert no_uid.uid != fingerprint("p@x", event(uid="", summary="a review"))
    occurrence = event_key("o@x", event(recurrence_id=dt.date(2026, 6, 17)))
    assert occurrence.recurrence_id == "20260617"


def test_fingerprint_compares_instants() -> None:
    utc = event(uid="", start=dt.datetime(2026, 6, 10, 7, tzinfo=dt.UTC))
    assert fingerprint("o@x", utc) == fingerprint("o@x", event(uid=""))


@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=20))
def test_task_keys_are_deterministic_and_distinct(organizer: str, uid: str, rid: str) -> None:
    key = EventKey(organizer, uid, rid)
    assert task_key(key) == task_key(EventKey(organizer, uid, rid))
    assert task_key(key) != task_key(key, generation="s1-x")
    assert task_key(key).startswith("inbound:")


def test_body_digest_ignores_headers_and_line_endings() -> None:
    a = b"Received: by a\r\nSubject: x\r\n\r\nbody line\r\nmore\r\n"
    b = b"Received: by b\nReceived: by c\nSubject: x\n\nbody line\nmore\n"
    assert body_digest(a) == body_digest(b)
    assert body_digest(a) != body_digest(a.replace(b"more", b"less"))


TRUSTED = ("mx.example.com",)


def test_parse_authentication_results() -> None:
    [dkim, spf] = parse_authentication_results(
        "mx.example.com 1; dkim=pass (good signature) header.d=partner.example "
        'header.i="@partner.example"; spf=fail smtp.mailfrom=x@y.example'
    )
    assert (dkim.authserv_id, dkim.method, dkim.result) == ("mx.example.com", "dkim", "pass")
    assert dkim.get("header.d") == "partner.example"
    assert dkim.get("header.i") == "@partner.example"
    assert spf.result == "fail"
    assert parse_authentication_results("mx.example.com; none") == []
    assert parse_authentication_results("") == []


def test_only_a_trusted_aligned_pass_authenticates() -> None:
    author = "olivia@partner.example"
    assert is_authenticated(["mx.example.com; dkim=pass header.d=partner.example"], TRUSTED, author)
    assert is_authenticated(
        ["mx.example.com; dmarc=pass header.from=partner.example"], TRUSTED, author
    )
    assert is_authenticated(
        ["MX.example.com; spf=pass smtp.mailfrom=b@partner.example"], TRUSTED, author
    )
    sub = "olivia@mail.partner.example"
    assert is_authenticated(["mx.example.com; dkim=pass header.d=partner.example"], TRUSTED, sub)
    assert not is_authenticated(
        ["evil.example; dkim=pass header.d=partner.example"], TRUSTED, author
    )
    assert not is_authenticated(
        ["mx.example.com; dkim=fail header.d=partner.example"], TRUSTED, author
    )
    assert not is_authenticated(
        ["mx.example.com; dkim=pass header.d=other.example"], TRUSTED, author
    )
    assert not is_authenticated(
        ["mx.example.com; dkim=pass header.d=example"], TRUSTED, "a@badexample"
    )
    assert not is_authenticated([], TRUSTED, author)
    assert not is_authenticated(["mx.example.com; dkim=pass header.d=x.example"], TRUSTED, None)


def test_a_forged_pass_below_the_mx_fail_does_not_win() -> None:
    author = "olivia@partner.example"
    mx_fail = "mx.example.com; dmarc=fail header.from=partner.example"
    forged = "mx.example.com; dmarc=pass header.from=partner.example"
    assert not is_authenticated([mx_fail, forged], TRUSTED, author)
    # Between them, a header of another server: the forged one is outside the top run.
    assert not is_authenticated([mx_fail, "relay.example; none", forged], TRUSTED, author)
    # The MX said nothing useful ("none"), the forged pass below it still does not count.
    lower_only = ["mx.example.com; none", "other.example; none", forged]
    assert not is_authenticated(lower_only, TRUSTED, author)
    # A forged DKIM pass beside the MX's own DKIM fail, in the same run: the fail decides.
    dkim_fail = "mx.example.com; dkim=fail header.d=partner.example"
    dkim_pass = "mx.example.com; dkim=pass header.d=partner.example"
    assert not is_authenticated([dkim_fail, dkim_pass], TRUSTED, author)
    # On top, the MX's own pass; a lower fail (another hop's, or forged) does not count.
    assert is_authenticated([forged, "relay.example; none", mx_fail], TRUSTED, author)


def test_milters_writing_one_header_each_are_read_together() -> None:
    author = "olivia@partner.example"
    top = [
        "mx.example.com; spf=none smtp.mailfrom=bounce@esp.example",
        "mx.example.com; dkim=pass header.d=partner.example",
        "mx.example.com; dmarc=pass header.from=partner.example",
    ]
    assert is_authenticated(top, TRUSTED, author)
    assert is_authenticated(["mx2.example.com; none", *top], (*TRUSTED, "mx2.example.com"), author)
    # DMARC's verdict decides over an aligned DKIM pass.
    refused = [*top[:2], "mx.example.com; dmarc=fail header.from=partner.example"]
    assert not is_authenticated(refused, TRUSTED, author)


@given(st.text(max_size=200))
def test_any_header_value_parses_without_error(value: str) -> None:
    parse_authentication_results(value)
    is_authenticated([value], TRUSTED, "a@b.example")


@given(
    st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b" ", b"\t", b"a"]), max_size=60).map(b"".join)
)
def test_body_digest_read_in_pieces_is_the_digest_of_the_whole_body(raw: bytes) -> None:
    # The digest is stored in processed records: reading the body in pieces (to spare a
    # 25 MiB message three copies) must give exactly what the one-piece formula gave.
    import hashlib
    import re

    import invitegw.itip.keys as keys

    match = re.search(rb"\r?\n\r?\n", raw)
    body = raw[match.end() :] if match else b""
    whole = hashlib.sha256(body.replace(b"\r\n", b"\n").rstrip()).hexdigest()
    chunk = keys._DIGEST_CHUNK
    try:
        keys._DIGEST_CHUNK = 3  # pieces smaller than a CRLF pair's neighbourhood
        assert body_digest(raw) == whole
    finally:
        keys._DIGEST_CHUNK = chunk
    assert body_digest(raw) == whole
