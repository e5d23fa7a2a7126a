"""Answer-link tokens: signed, unforgeable, not transferable, keys rotate."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invitegw.domain.answer_tokens import (
    AnswerKeys,
    AnswerToken,
    AnswerTokenError,
    parse_keys,
)

KEY_A = "a" * 32 + "-first-key"
KEY_B = "b" * 32 + "-second-key"
GINA = AnswerToken("t000000000000007", 1, None)


def test_a_signed_token_verifies_and_round_trips() -> None:
    keys = AnswerKeys([KEY_A])
    text = keys.sign(GINA)
    assert keys.verify(text) == GINA
    occurrence = AnswerToken("t000000000000007", 3, "20260608T080000Z")
    assert keys.verify(keys.sign(occurrence)) == occurrence
    assert len(text) < 100
    assert all(c.isalnum() or c in "._-" for c in text)  # URL-safe as it is


@pytest.mark.parametrize(
    "other",
    [
        AnswerToken("t000000000000008", 1, None),  # another attendee (or meeting)
        AnswerToken("t000000000000007", 2, None),  # another SEQUENCE
        AnswerToken("t000000000000007", 1, "20260608T080000Z"),  # another occurrence
    ],
)
def test_a_signature_is_not_valid_for_another_attendee_sequence_or_occurrence(
    other: AnswerToken,
) -> None:
    keys = AnswerKeys([KEY_A])
    signature = keys.sign(GINA).rsplit(".", 1)[1]
    forged = f"{other.payload}.{signature}"
    with pytest.raises(AnswerTokenError, match="bad signature"):
        keys.verify(forged)


def test_a_token_signed_with_an_unknown_key_is_refused() -> None:
    text = AnswerKeys([KEY_B]).sign(GINA)
    with pytest.raises(AnswerTokenError):
        AnswerKeys([KEY_A]).verify(text)


def test_rotation_signs_with_the_newest_and_verifies_with_any() -> None:
    old = AnswerKeys([KEY_A]).sign(GINA)
    rotated = AnswerKeys([KEY_B, KEY_A])
    assert rotated.verify(old) == GINA  # links already mailed keep working
    new = rotated.sign(GINA)
    assert new != old
    assert AnswerKeys([KEY_B]).verify(new) == GINA
    with pytest.raises(AnswerTokenError):
        AnswerKeys([KEY_A]).verify(new)  # the old key alone no longer verifies new links


def test_the_form_value_is_tied_to_the_token_and_is_no_token() -> None:
    keys = AnswerKeys([KEY_A])
    text = keys.sign(GINA)
    value = keys.form_value(text)
    assert keys.check_form_value(text, value)
    other = keys.sign(AnswerToken("t000000000000008", 1, None))
    assert not keys.check_form_value(other, value)
    assert not keys.check_form_value(text, "")
    with pytest.raises(AnswerTokenError):  # a form value never passes as a signature
        keys.verify(f"{GINA.payload}.{value}")


@given(st.text(max_size=300))
def test_anything_else_is_refused_with_a_clear_error(text: str) -> None:
    with pytest.raises(AnswerTokenError):
        AnswerKeys([KEY_A]).verify(text)


@given(st.integers(0, 200), st.sampled_from(["-", "x", "0", "A", "_"]))
def test_every_single_character_change_is_refused(position: int, replacement: str) -> None:
    keys = AnswerKeys([KEY_A])
    text = keys.sign(GINA)
    index = position % len(text)
    changed = text[:index] + replacement + text[index + 1 :]
    if changed == text:
        return
    with pytest.raises(AnswerTokenError):
        keys.verify(changed)


def test_keys_are_parsed_and_checked() -> None:
    assert parse_keys(f" {KEY_A},\n{KEY_B}\n") == (KEY_A, KEY_B)
    with pytest.raises(ValueError, match="at least 32"):
        parse_keys("short")
    with pytest.raises(ValueError, match="no key"):
        parse_keys(" , ")
    assert "a" * 32 not in repr(AnswerKeys([KEY_A]))


def test_token_fields_are_checked() -> None:
    with pytest.raises(AnswerTokenError):
        AnswerToken("Not-A-Token", 0)
    with pytest.raises(AnswerTokenError):
        AnswerToken("t1", -1)
    with pytest.raises(AnswerTokenError):
        AnswerToken("t1", 0, "2026-06-08")
