"""The answer-link settings: public_url checked, keys from the environment only, and links
only when both are there."""

from __future__ import annotations

from pathlib import Path

import pytest

from invitegw.errors import ConfigError
from invitegw.gateway.config import Settings, load_settings
from invitegw.gateway.outbound.answer_links import answer_linking
from tests.gateway.answers.harness import KEYS, NEW_KEY

CALENDAR = '[[calendars]]\nname = "sales"\naddress = "sales@example.com"\n'


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "invitegw.toml"
    path.write_text(CALENDAR + text)
    return load_settings(path, env or {}, cwd=tmp_path)


def test_links_need_public_url_and_keys(tmp_path: Path) -> None:
    assert answer_linking(_load(tmp_path, "")) is None
    settings = _load(
        tmp_path,
        '[http]\npublic_url = "https://calendar.example.com/"\n',
        {"INVITEGW_HTTP__ANSWER_KEYS": KEYS},
    )
    linking = answer_linking(settings)
    assert linking is not None
    assert linking.base_url == "https://calendar.example.com"
    assert linking.calendars == frozenset({"sales"})
    assert "ew-answer-key" not in repr(settings)  # the keys are redacted


def test_a_calendar_can_turn_links_off(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        'answer_links = false\n[http]\npublic_url = "https://calendar.example.com"\n',
    )
    assert answer_linking(settings) is None  # no keys needed either


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ('[http]\npublic_url = "https://c.example.com"\n', {}, "http.answer_keys: required"),
        ('[http]\npublic_url = "ftp://c.example.com"\n', {}, "http.public_url: expected an http"),
        ('[http]\npublic_url = "https://c.example.com/?x=1"\n', {}, "http.public_url: expected no"),
        ("", {"INVITEGW_HTTP__ANSWER_KEYS": "short"}, "http.answer_keys: key 1 has 5"),
        (f'[http]\nanswer_keys = "{NEW_KEY}"\n', {}, "INVITEGW_HTTP__ANSWER_KEYS"),
    ],
)
def test_bad_answer_settings_are_clear_errors(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
        _load(tmp_path, text, env)


def test_keys_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "answer-keys"
    secret.write_text(KEYS.replace(",", "\n") + "\n")
    settings = _load(
        tmp_path,
        '[http]\npublic_url = "https://calendar.example.com"\n',
        {"INVITEGW_HTTP__ANSWER_KEYS_FILE": str(secret)},
    )
    assert answer_linking(settings) is not None
