"""Password hashes, signed sessions, the sign-in limiter and the [admin] settings' checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from invitegw.errors import ConfigError
from invitegw.gateway.config import load_settings
from invitegw.gateway.http.admin.passwords import hash_password, verify_password
from invitegw.gateway.http.admin.sessions import SessionCodec, SignInLimiter, same_token

PBKDF2 = "pbkdf2_sha256$200000$c2FsdHNhbHRzYWx0c2FsdA$"


def test_hashes_verify_and_malformed_ones_never_match() -> None:
    stored = hash_password("s3cret enough!")
    assert verify_password("s3cret enough!", stored)
    assert not verify_password("s3cret enough", stored)
    assert hash_password("x", salt=b"0" * 16) != hash_password("x", salt=b"1" * 16)
    import base64
    import hashlib

    digest = hashlib.pbkdf2_hmac("sha256", b"pw", b"saltsaltsaltsalt", 200_000)
    pbkdf2 = PBKDF2 + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert verify_password("pw", pbkdf2)
    assert not verify_password("pw2", pbkdf2)
    for broken in ("", "scrypt$", "md5$1$a$b", "scrypt$n=2,r=1$AAAA$AAAA", stored + "$x"):
        assert not verify_password("pw", broken)
    # Parameters that would take the machine down are refused, not computed.
    assert not verify_password(
        "pw", "scrypt$n=1073741824,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43
    )


def test_a_session_survives_signing_and_nothing_else_does() -> None:
    now = [1000.0]
    codec = SessionCodec("k" * 40, lifetime=60, clock=lambda: now[0])
    session = codec.signed_in("admin")
    session.set_notice("hello")
    value = codec.dump(session)
    back = codec.load(value)
    assert back is not None
    assert (back.user, back.csrf, back.notice) == ("admin", session.csrf, "hello")
    payload, signature = value.rsplit(".", 1)
    assert codec.load(payload + "." + signature[::-1]) is None
    assert codec.load(payload[:-2] + "." + signature) is None
    assert SessionCodec("other" * 10, 60, clock=lambda: now[0]).load(value) is None
    assert codec.load("garbage") is None
    now[0] += 61
    assert codec.load(value) is None  # expired
    assert codec.new().csrf != codec.new().csrf
    assert same_token(session.csrf, session.csrf)
    assert not same_token(None, session.csrf)
    assert not same_token(session.csrf[:-1], session.csrf)


def test_the_limiter_counts_failures_per_client_in_a_window() -> None:
    now = [0.0]
    limiter = SignInLimiter(attempts=2, window=10, clock=lambda: now[0])
    limiter.failed("a")
    assert limiter.retry_after("a") == 0
    limiter.failed("a")
    assert limiter.retry_after("a") == 11
    assert limiter.retry_after("b") == 0
    now[0] = 10.5
    assert limiter.retry_after("a") == 0
    limiter.failed("b")
    limiter.succeeded("b")
    limiter.failed("b")
    assert limiter.retry_after("b") == 0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "admin.session_key: the console needs a session key of at least 32"),
        ({"INVITEGW_ADMIN__SESSION_KEY": "short"}, "at least 32 characters"),
        ({"INVITEGW_ADMIN__SESSION_KEY": "k" * 32}, "admin.password_hash: set"),
        (
            {"INVITEGW_ADMIN__SESSION_KEY": "k" * 32, "INVITEGW_ADMIN__PROXY_HEADER": "X-User"},
            "admin.trusted_proxies: needed with admin.proxy_header",
        ),
        (
            {
                "INVITEGW_ADMIN__SESSION_KEY": "k" * 32,
                "INVITEGW_ADMIN__PASSWORD_HASH": "x",
                "INVITEGW_ADMIN__TRUSTED_PROXIES": "proxy.example",
            },
            "admin.trusted_proxies[0]: expected an IP address or network",
        ),
    ],
)
def test_an_enabled_console_needs_its_secrets(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        load_settings(None, {"INVITEGW_ADMIN__ENABLED": "true", **env}, cwd=tmp_path)


def test_the_secrets_cannot_be_written_in_the_file(tmp_path: Path) -> None:
    config = tmp_path / "invitegw.toml"
    config.write_text('[admin]\nsession_key = "in the file"\n')
    with pytest.raises(ConfigError, match="INVITEGW_ADMIN__SESSION_KEY"):
        load_settings(config, {}, cwd=tmp_path)
