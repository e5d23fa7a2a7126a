"""Password hashes for the console's sign-in: scrypt (or PBKDF2) from :mod:`hashlib`.

``invitegw admin hash-password`` prints :func:`hash_password`'s result; the administrator
puts it in ``INVITEGW_ADMIN__PASSWORD_HASH``. Two formats are read:

- ``scrypt$n=<N>,r=<r>,p=<p>$<salt>$<hash>`` (what :func:`hash_password` writes);
- ``pbkdf2_sha256$<iterations>$<salt>$<hash>``;

salt and hash in unpadded URL-safe base64. :func:`verify_password` compares in constant
time and never raises on a malformed hash (it is simply no match).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["hash_password", "verify_password"]

_N, _R, _P = 2**15, 8, 1
_DKLEN = 32
_MAXMEM = 128 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """An scrypt hash of ``password`` in the format above.

    Parameters:
        password: the password.
        salt: 16 random bytes by default.

    Returns:
        The hash text.
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM, dklen=_DKLEN
    )
    return f"scrypt$n={_N},r={_R},p={_P}${_b64(salt)}${_b64(digest)}"


def _scrypt(password: bytes, params: str, salt: bytes, size: int) -> bytes:
    values = dict(part.split("=", 1) for part in params.split(","))
    n, r, p = int(values["n"]), int(values["r"]), int(values["p"])
    if not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
        raise ValueError("scrypt parameters out of range")
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=size)


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the hash ``stored`` (constant-time comparison).

    Parameters:
        password: what was typed.
        stored: the configured hash.

    Returns:
        True on a match; False otherwise, and for a hash that cannot be read.
    """
    try:
        scheme, params, salt_text, hash_text = stored.strip().split("$")
        salt, expected = _unb64(salt_text), _unb64(hash_text)
        if not 16 <= len(expected) <= 64:
            return False
        if scheme == "scrypt":
            actual = _scrypt(password.encode(), params, salt, len(expected))
        elif scheme == "pbkdf2_sha256":
            iterations = int(params)
            if not 100_000 <= iterations <= 10_000_000:
                return False
            actual = hashlib.pbkdf2_hmac(
                "sha256", password.encode(), salt, iterations, len(expected)
            )
        else:
            return False
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(actual, expected)
