"""Address normalisation, validation, equality, plus tokens and header parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invitegw.domain.addresses import (
    NamedAddress,
    add_plus_token,
    normalize_address,
    same_address,
    split_plus_token,
    validate_address,
)
from invitegw.errors import AddressError
from invitegw.mailbox.mime.address_headers import header_is_ambiguous, parse_address_header


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane@example.com", "jane@example.com"),
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("mailto:Jane@example.com", "jane@example.com"),
        ("MAILTO:JANE@EXAMPLE.COM", "jane@example.com"),
        ("<jane@example.com>", "jane@example.com"),
        ("<mailto:jane@example.com>", "jane@example.com"),
        ("mailto:<jane@example.com>", "jane@example.com"),
        ("mailto:jane%2Bsales@example.com?subject=hi", "jane+sales@example.com"),
        ("jane@bücher.example", "jane@bücher.example"),
        ("jane@xn--bcher-kva.example", "jane@bücher.example"),
        ("jane@BÜCHER.example", "jane@bücher.example"),
        ("jane@example.com.", "jane@example.com"),
    ],
)
def test_normalize_address(value: str, expected: str) -> None:
    assert normalize_address(value) == expected


@pytest.mark.parametrize(
    "value", ["", "   ", "mailto:", "jane", "@example.com", "jane@", "a b@example.com", "x@y,z@w"]
)
def test_normalize_address_rejects_non_addresses(value: str) -> None:
    with pytest.raises(AddressError):
        normalize_address(value)


def test_validate_address_returns_canonical_form() -> None:
    assert validate_address("MAILTO:Jane.Doe@Example.COM") == "jane.doe@example.com"
    assert validate_address("jane@xn--bcher-kva.example") == "jane@bücher.example"
    # RFC 2606 .test is accepted: fixtures use it and it never resolves.
    assert validate_address("sam@example.test") == "sam@example.test"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("jane..doe@example.com", "two periods"),
        ("jane@localhost", "period"),
        ("jane@[192.0.2.1]", "bracketed"),
        ("jane@example.invalid", "special-use"),
        ("not an address", "@-sign"),
        ("a" * 65 + "@example.com", "too long"),
    ],
)
def test_validate_address_says_why(value: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        validate_address(value)


def test_validate_address_caps_length_before_validating() -> None:
    with pytest.raises(AddressError, match="longer than 254"):
        validate_address("a" * 300 + "@example.com")


def test_same_address() -> None:
    assert same_address("mailto:Jane@Example.com", "jane@example.com")
    assert same_address("<jane@bücher.example>", "JANE@xn--bcher-kva.example")
    assert not same_address("jane@example.com", "john@example.com")
    assert not same_address("jane@example.com", "not an address")


def test_plus_tokens_round_trip() -> None:
    tokenised = add_plus_token("Sales@CRM.example.com", "T8K2Q")
    assert tokenised == "sales+t8k2q@crm.example.com"
    assert split_plus_token(tokenised) == ("sales@crm.example.com", "t8k2q")
    assert split_plus_token("mailto:SALES+t8k2q@crm.example.com") == (
        "sales@crm.example.com",
        "t8k2q",
    )


def test_plus_token_on_a_plus_mailbox_splits_at_the_last_plus() -> None:
    tokenised = add_plus_token("gw+sales@crm.example.com", "ab12")
    assert tokenised == "gw+sales+ab12@crm.example.com"
    assert split_plus_token(tokenised) == ("gw+sales@crm.example.com", "ab12")


@pytest.mark.parametrize("address", ["sales@x.example", "sales+@x.example", "+tok@x.example"])
def test_split_plus_token_without_a_token(address: str) -> None:
    base, token = split_plus_token(address)
    assert token is None
    assert base == address


@pytest.mark.parametrize("token", ["", "has space", "a@b", "a+b", "-leading", "x" * 33, "ü"])
def test_add_plus_token_rejects_bad_tokens(token: str) -> None:
    with pytest.raises(AddressError, match="token"):
        add_plus_token("sales@crm.example.com", token)


def test_add_plus_token_keeps_the_local_part_within_64_octets() -> None:
    with pytest.raises(AddressError, match="64 octets"):
        add_plus_token("a" * 60 + "@crm.example.com", "abcdef")


@given(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True))
def test_plus_token_round_trip_property(token: str) -> None:
    assert split_plus_token(add_plus_token("sales@crm.example.com", token)) == (
        "sales@crm.example.com",
        token,
    )


def test_parse_address_header_real_world_shapes() -> None:
    value = (
        '"Doe, Jane" <Jane@Example.com>, john@example.org (John Smith),\r\n'
        " =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>, undisclosed-recipients:;,"
        " <MAILTO:sam@example.com>, broken <, Only A Name"
    )
    assert parse_address_header(value) == [
        NamedAddress("Doe, Jane", "jane@example.com"),
        NamedAddress("John Smith", "john@example.org"),
        NamedAddress("Jörg Müller", "joerg@example.de"),
        NamedAddress("", "sam@example.com"),
    ]


def test_parse_address_header_encoded_name_hiding_a_comma() -> None:
    # The encoded word decodes to "Doe, Jane": splitting before decoding keeps it one name.
    value = "=?utf-8?q?Doe=2C_Jane?= <jane@example.com>, john@example.org"
    assert parse_address_header(value) == [
        NamedAddress("Doe, Jane", "jane@example.com"),
        NamedAddress("", "john@example.org"),
    ]


@pytest.mark.parametrize("value", [None, "", "   ", "undisclosed-recipients:;", "<>"])
def test_parse_address_header_empty(value: str | None) -> None:
    assert parse_address_header(value) == []


def test_mailbox_is_a_name_address_tuple() -> None:
    name, address = parse_address_header("Jane <jane@example.com>")[0]
    assert (name, address) == ("Jane", "jane@example.com")


def test_header_is_ambiguous_flags_the_cve_2023_27043_shape() -> None:
    crafted = "alice@example.org)<bob@example.net>"
    assert header_is_ambiguous(crafted, parse_address_header(crafted)[:1])
    plain = '"bob@example.net" <alice@example.org>'
    assert not header_is_ambiguous(plain, parse_address_header(plain))


@given(st.text(max_size=200))
def test_address_functions_raise_only_address_error(value: str) -> None:
    for func in (normalize_address, validate_address):
        try:
            result = func(value)
        except AddressError:
            continue
        assert result == result.lower().strip()
        assert "@" in result
    assert all(m.address for m in parse_address_header(value))


_LIST_PIECES = st.sampled_from(
    ["Jane Doe", '"Doe, Jane"', "=?utf-8?q?J=C3=B6rg?=", "", " ", "<", ">", ",", "@", "(", ")",
     '"', ":", ";", "\\", "jane@example.com", "bob@x.example", "<sam@example.com>", ".", "'"]
)  # fmt: skip


@given(st.lists(_LIST_PIECES, max_size=8).map(" ".join))
def test_fast_address_list_path_agrees_with_the_stdlib(value: str) -> None:
    from email.utils import getaddresses

    from invitegw.mailbox.mime.address_headers import _simple_pairs

    fast = _simple_pairs(value)
    if fast is not None:
        slow = [(" ".join(n.split()), a) for n, a in getaddresses([value])]
        assert [(" ".join(n.split()), a) for n, a in fast] == slow


@pytest.mark.parametrize("separator", ["+", "-", "_", "."])
def test_tokens_use_the_configured_separator(separator: str) -> None:
    tokenised = add_plus_token("Sales@example.com", "k3x9q", separator=separator)
    assert tokenised == f"sales{separator}k3x9q@example.com"
    assert split_plus_token(tokenised, separator=separator) == ("sales@example.com", "k3x9q")


def test_an_unknown_separator_is_refused() -> None:
    with pytest.raises(AddressError, match="separator"):
        add_plus_token("sales@example.com", "k3x9q", separator="=")
    with pytest.raises(AddressError, match="separator"):
        split_plus_token("sales=k3x9q@example.com", separator="=")
