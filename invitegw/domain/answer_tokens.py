"""Answer links: the signed token that says which attendee answers which invitation.

Every invitation (REQUEST) can carry "Will you attend? Yes · Maybe · No" links for
people whose mail program shows no Accept/Decline buttons. Each link carries an
:class:`AnswerToken`: the attendee's reply token (random, unique per meeting and
attendee: it names both, :mod:`invitegw.itip.plan_model`), the SEQUENCE of the
invitation and the occurrence it is about (RECURRENCE-ID, none for the series), signed
with HMAC-SHA256 under a key from the environment (:class:`AnswerKeys`).

- Nothing of the token can be changed without the key: another attendee, another
  meeting, another occurrence or another SEQUENCE is another signature.
- Keys rotate: the first key signs, every key verifies, so links already mailed keep
  working while an old key stays in the list.
- The signature is computed over a fixed context string first, so a signature made for
  anything else with the same key never passes as one of these (and the form value of
  :meth:`AnswerKeys.form_value` never passes as a token).

The token is text of URL-safe characters only (``1.<reply token>.<sequence>.<occurrence
or ->.<signature>``), short enough for a plain-text body (about 85 characters). Pure: no
I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_TOKEN_CHARS",
    "MIN_KEY_CHARS",
    "AnswerKeys",
    "AnswerToken",
    "AnswerTokenError",
    "parse_keys",
]

# A key must carry at least this many characters (32 random bytes, base64: 43).
MIN_KEY_CHARS = 32
# Anything longer is not one of our tokens (checked before any work is done).
MAX_TOKEN_CHARS = 160
_VERSION = "1"
_TOKEN_CONTEXT = b"invitegw answer link v1\0"
_FORM_CONTEXT = b"invitegw answer form v1\0"
_SHAPE = re.compile(
    r"1\.(?P<reply>[a-z0-9]{1,64})\.(?P<seq>[0-9]{1,9})\.(?P<rid>[0-9]{8}(?:T[0-9]{6}Z?)?|-)"
    r"\.(?P<sig>[A-Za-z0-9_-]{43})"
)
_RECURRENCE_ID = re.compile(r"[0-9]{8}(?:T[0-9]{6}Z?)?")
_REPLY_TOKEN = re.compile(r"[a-z0-9]{1,64}")


class AnswerTokenError(ValueError):
    """A token that is not one of ours: malformed, cut, changed, or signed by no key."""


@dataclass(frozen=True, slots=True)
class AnswerToken:
    """What an answer link names.

    Parameters:
        reply_token: the ledger attendee's reply token (names the meeting and the attendee).
        sequence: the SEQUENCE of the invitation the link was in.
        recurrence_id: the occurrence (iCalendar text, ``20260608T080000Z``), None for the
            series.
    """

    reply_token: str
    sequence: int
    recurrence_id: str | None = None

    def __post_init__(self) -> None:
        if not _REPLY_TOKEN.fullmatch(self.reply_token):
            raise AnswerTokenError(f"not a reply token: {self.reply_token!r}")
        if not 0 <= self.sequence <= 999_999_999:
            raise AnswerTokenError(f"SEQUENCE out of range: {self.sequence}")
        if self.recurrence_id is not None and not _RECURRENCE_ID.fullmatch(self.recurrence_id):
            raise AnswerTokenError(f"not a RECURRENCE-ID: {self.recurrence_id!r}")

    @property
    def payload(self) -> str:
        """The signed text: version, reply token, SEQUENCE, occurrence (``-``: none)."""
        return f"{_VERSION}.{self.reply_token}.{self.sequence}.{self.recurrence_id or '-'}"


def parse_keys(text: str) -> tuple[str, ...]:
    """The keys in ``text``, newest first: separated by commas, spaces or line breaks.

    Parameters:
        text: the secret's value (``INVITEGW_HTTP__ANSWER_KEYS`` or its ``_FILE``).

    Returns:
        The keys, in order.

    Raises:
        ValueError: no key, or a key shorter than :data:`MIN_KEY_CHARS`.
    """
    keys = tuple(part for part in re.split(r"[\s,]+", text) if part)
    if not keys:
        raise ValueError("no key given")
    for index, key in enumerate(keys, start=1):
        if len(key) < MIN_KEY_CHARS:
            raise ValueError(
                f"key {index} has {len(key)} characters; at least {MIN_KEY_CHARS} are "
                "needed (for example 32 random bytes in base64)"
            )
    return keys


def _mac(key: str, context: bytes, text: str) -> str:
    digest = hmac.new(key.encode(), context + text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AnswerKeys:
    """Signs with the first key, verifies with any (see the module docstring).

    Parameters:
        keys: the keys, newest first (:func:`parse_keys`).

    Raises:
        ValueError: no key, or one too short.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = parse_keys(",".join(keys))

    def __repr__(self) -> str:
        return f"AnswerKeys(<{len(self._keys)} keys>)"

    def sign(self, token: AnswerToken) -> str:
        """The link text for ``token``, signed with the newest key."""
        payload = token.payload
        return f"{payload}.{_mac(self._keys[0], _TOKEN_CONTEXT, payload)}"

    def verify(self, text: str) -> AnswerToken:
        """The token ``text`` carries, when one of the keys signed it.

        Parameters:
            text: the token as it came in the link.

        Returns:
            The token.

        Raises:
            AnswerTokenError: malformed, or signed by none of the keys.
        """
        if len(text) > MAX_TOKEN_CHARS:
            raise AnswerTokenError("token too long")
        shape = _SHAPE.fullmatch(text)
        if shape is None:
            raise AnswerTokenError("malformed token")
        payload = text[: shape.start("sig") - 1]
        signature = shape.group("sig")
        # Every key is tried (no early exit): the time taken says nothing about which.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(_mac(key, _TOKEN_CONTEXT, payload), signature)
        if not matched:
            raise AnswerTokenError("bad signature")
        rid = shape.group("rid")
        return AnswerToken(
            reply_token=shape.group("reply"),
            sequence=int(shape.group("seq")),
            recurrence_id=None if rid == "-" else rid,
        )

    def form_value(self, text: str) -> str:
        """The anti-forgery value the answer page's form carries for token ``text``."""
        return _mac(self._keys[0], _FORM_CONTEXT, text)

    def check_form_value(self, text: str, value: str) -> bool:
        """Whether ``value`` is the form value of token ``text`` under any of the keys."""
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(_mac(key, _FORM_CONTEXT, text), value)
        return matched
