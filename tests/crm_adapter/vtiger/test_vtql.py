"""VTQL building: quoting, patterns, the trailing semicolon (pure, no server)."""

from __future__ import annotations

import datetime as dt

import pytest

from invitegw.crm_adapter.vtiger import vtql
from tests.crm_adapter.vtiger import fake_vtql

# A naive server-zone time, as vtiger stores them.
SERVER_TIME = dt.datetime.fromisoformat("2026-11-23 16:17:59")


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("anna@acme.example", "'anna@acme.example'"),
        ("o'brien@acme.example", "'o''brien@acme.example'"),
        ("''", "''''''"),
        ("50%_off@example.org", "'50%_off@example.org'"),
    ],
)
def test_literals_double_quotes_and_survive_the_lexer(value: str, quoted: str) -> None:
    assert vtql.literal(value) == quoted
    # The fake's lexer is vtiger's token pattern: the literal is one token, read back whole.
    tokens = fake_vtql.tokenize(f"SELECT id FROM Contacts WHERE email = {quoted};")
    assert tokens[-2] == quoted
    assert fake_vtql.mysql_string(quoted) == value


@pytest.mark.parametrize("bad", ["", "a\\b@example.org", "x\ny@example.org", "a" * 1001])
def test_values_no_literal_can_carry_are_refused(bad: str) -> None:
    with pytest.raises(vtql.VtqlError):
        vtql.literal(bad)


def test_like_patterns_turn_special_characters_into_single_wildcards() -> None:
    assert vtql.like_contains("[invitegw:a_b%c\\d]") == "'%[invitegw:a_b_c_d]%'"
    assert vtql.like_exact("o'brien@x.example") == "'o''brien@x.example'"
    for text in ("[invitegw:a_b%c\\d]", "50% off", "back\\slash"):
        pattern = fake_vtql.mysql_string(vtql.like_contains(text))
        assert fake_vtql.like(pattern, f"before {text} after")  # never a false negative


def test_select_ends_with_a_semicolon_and_related_queries_do_not() -> None:
    text = vtql.select(
        "Events",
        ("id", "subject"),
        vtql.and_("modifiedtime >= " + vtql.datetime_literal(SERVER_TIME), ""),
        order_by="modifiedtime",
        offset=100,
        limit=100,
    )
    assert text == (
        "SELECT id, subject FROM Events WHERE modifiedtime >= '2026-11-23 16:17:59' "
        "ORDER BY modifiedtime LIMIT 100, 100;"
    )
    assert fake_vtql.parse(text).limit == (100, 100)
    assert vtql.select("Users", None) == "SELECT * FROM Users;"
    assert vtql.related_query("Contacts", ("id", "email")) == "SELECT id, email FROM Contacts"


def test_names_and_ids_are_checked() -> None:
    with pytest.raises(vtql.VtqlError):
        vtql.select("Contacts; DROP", None)
    with pytest.raises(vtql.VtqlError):
        vtql.select("Contacts", ("email = 'x' OR 1",))
    with pytest.raises(vtql.VtqlError):
        vtql.ws_id("12x4' OR id > '0")
    assert vtql.ws_id("12x4") == "'12x4'"
    assert vtql.crmid("18x5") == 5
    with pytest.raises(vtql.VtqlError):
        vtql.datetime_literal(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
