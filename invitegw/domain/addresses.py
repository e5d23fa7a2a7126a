"""Email addresses: normalisation, validation, equality, plus-address tokens.

One canonical form is used everywhere the gateway compares addresses (ORGANIZER and ATTENDEE
values, From/Sender headers, CRM contacts): no ``mailto:`` scheme, no angle brackets, no
surrounding whitespace, the whole address lower-cased and the domain in its Unicode form
(IDNA 2008 with UTS 46 mapping, as ``email-validator`` normalises it), so that
``MAILTO:Jane@Bücher.example`` and ``<jane@xn--bcher-kva.example>`` compare equal.

Lower-casing the local part is a deliberate simplification: :rfc:`5321` section 2.4 lets a
server treat local parts case-sensitively, but no mail system the gateway meets does, and
calendar clients change the case of ``mailto:`` values freely.

Validation (syntax only unless asked) is delegated to ``email-validator``; its result is
cached, because the inbound pipeline validates every attendee of every invitation and the
same few addresses come back again and again.

Plus-address tokens (``sales+t8k2q@company.example``) correlate replies with the invitation
they answer even when a client strips ORGANIZER parameters (replies come back to the token
address whatever the client keeps of the invitation).
"""

from __future__ import annotations

import functools
import logging
import re
import urllib.parse
from typing import NamedTuple

import email_validator
import idna

from invitegw.errors import AddressError

__all__ = [
    "NamedAddress",
    "add_plus_token",
    "ascii_address",
    "normalize_address",
    "same_address",
    "split_plus_token",
    "validate_address",
]

logger = logging.getLogger(__name__)

# RFC 5321 section 4.5.3.1: 64 octets of local part, 255 of domain, 254 for a path.
_MAX_LOCAL = 64
_MAX_ADDRESS = 254
# A plus token is a short opaque key; keep it to characters that survive every client
# unchanged and that lower-casing (our canonical form) cannot alter.
_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_CACHE_SIZE = 8192
# Subaddress separators mail servers use (Postfix recipient_delimiter, Exim, qmail's "-").
_SEPARATORS = frozenset("+-_.")


class NamedAddress(NamedTuple):
    """An address with its display name, as an address header gives it (RFC 2047 decoded).

    Named for what it is (not ``Mailbox``, which in this project means an IMAP mailbox).

    A ``tuple[str, str]`` of ``(name, address)``; ``address`` is in the canonical form of
    :func:`normalize_address`, ``name`` is ``""`` when the header gave none.
    """

    name: str
    address: str


def _strip_scheme(value: str) -> str:
    text = value.strip()
    if text[:1] == "<" and text[-1:] == ">":
        text = text[1:-1].strip()
    if text[:7].lower() == "mailto:":
        # RFC 6068: a mailto URI may carry ?headers and percent-encoded characters.
        text = text[7:].split("?", 1)[0]
        if "%" in text:
            text = urllib.parse.unquote(text)
        text = text.strip()
    if text[:1] == "<" and text[-1:] == ">":
        text = text[1:-1].strip()
    return text


def _unicode_domain(domain: str) -> str:
    """The lower-case Unicode (U-label) form of ``domain``, as email-validator writes it."""
    if domain.isascii() and "xn--" not in domain:
        return domain.lower()
    try:
        return idna.decode(idna.encode(domain, uts46=True))
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise AddressError(f"invalid internationalised domain {domain!r}: {exc}") from exc


@functools.lru_cache(maxsize=_CACHE_SIZE)
def ascii_address(address: str) -> str:
    """``address`` as it goes on the wire: the domain as A-labels when the local part is ASCII.

    A contact stored as ``x@bücher.de`` (the canonical form keeps U-labels) needs no
    SMTPUTF8 relay: ``x@xn--bcher-kva.de`` is the same mailbox (:rfc:`5890`, IDNA 2008
    with UTS 46 mapping). Only a non-ASCII local part needs SMTPUTF8 (:rfc:`6531`), so
    such an address is returned unchanged.

    Parameters:
        address: a bare address.

    Returns:
        The ASCII form, or ``address`` itself (already ASCII, a non-ASCII local part, or
        a domain IDNA cannot encode: the relay will say what it thinks of it).
    """
    if address.isascii():
        return address
    local, at, domain = address.rpartition("@")
    if not at or not local.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except (idna.IDNAError, UnicodeError, ValueError):
        return address


@functools.lru_cache(maxsize=_CACHE_SIZE)
def normalize_address(value: str) -> str:
    """Return the canonical form of an address, without validating it fully.

    Parameters:
        value: a bare address, ``<address>``, or a ``mailto:`` URI in any case.

    Returns:
        The address lower-cased, scheme and brackets removed, the domain in Unicode form.

    Raises:
        AddressError: when the value has no local part or no domain, contains whitespace
            or angle brackets inside, or has an undecodable internationalised domain.
    """
    text = _strip_scheme(value)
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise AddressError(f"not an email address: {value!r}")
    if any(c.isspace() or c in "<>," for c in text):
        raise AddressError(f"not a single email address: {value!r}")
    return f"{local.lower()}@{_unicode_domain(domain.rstrip('.'))}"


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _validate_syntax(text: str) -> str:
    try:
        # test_environment lets the RFC 2606 ``.test`` domain through (our fixtures use it;
        # it never resolves, so it can do no harm) and keeps the check off the network.
        # strict adds the RFC 5321 section 4.5.3.1.1 cap of 64 octets before the "@".
        result = email_validator.validate_email(
            text, check_deliverability=False, test_environment=True, strict=True
        )
    except email_validator.EmailNotValidError as exc:
        raise AddressError(f"invalid email address {text!r}: {exc}") from exc
    return result.normalized.lower()


def validate_address(value: str, *, check_deliverability: bool = False) -> str:
    """Validate an address and return its canonical form.

    Parameters:
        value: a bare address, ``<address>``, or a ``mailto:`` URI.
        check_deliverability: also ask DNS whether the domain accepts mail. Off by default
            (and never in tests): it touches the network.

    Returns:
        The canonical form (see :func:`normalize_address`).

    Raises:
        AddressError: with the reason ``email-validator`` gives (syntax, length, reserved
            domain, no MX when deliverability is checked).
    """
    text = _strip_scheme(value)
    if len(text) > _MAX_ADDRESS:
        raise AddressError(f"invalid email address: longer than {_MAX_ADDRESS} characters")
    if not check_deliverability:
        return _validate_syntax(text)
    try:
        result = email_validator.validate_email(text, check_deliverability=True, strict=True)
    except email_validator.EmailNotValidError as exc:
        raise AddressError(f"invalid email address {text!r}: {exc}") from exc
    return result.normalized.lower()


def same_address(a: str, b: str) -> bool:
    """Tell whether two values name the same mailbox (``mailto:`` vs bare, case, IDNA).

    Parameters:
        a: an address or ``mailto:`` URI.
        b: another one.

    Returns:
        True when both normalise to the same canonical form; False when they differ or
        either is not an address at all.
    """
    try:
        return normalize_address(a) == normalize_address(b)
    except AddressError:
        return False


def add_plus_token(address: str, token: str, *, separator: str = "+") -> str:
    """Add a correlation token to an address: ``sales@x`` + ``t8k2q`` -> ``sales+t8k2q@x``.

    The token is appended after any plus part the address already has, so a calendar
    mailbox that is itself a plus address keeps working (:func:`split_plus_token` splits at
    the last ``+``).

    Parameters:
        address: the calendar mailbox.
        token: 1-32 characters of ``a-z``, ``0-9``, ``_`` and ``-``, starting alphanumeric
            (upper case is accepted and lower-cased).
        separator: the subaddress separator the mail server uses (``+``, ``-``, ``_``,
            ``.``; a calendar's ``token_separator``).

    Returns:
        The tokenised address in canonical form.

    Raises:
        AddressError: when the address is not one, the token has other characters, or the
            local part would exceed 64 octets (:rfc:`5321` section 4.5.3.1.1).
    """
    if separator not in _SEPARATORS:
        raise AddressError(f"invalid subaddress separator {separator!r}")
    canonical = normalize_address(address)
    tok = token.lower()
    if not _TOKEN_RE.fullmatch(tok):
        raise AddressError(f"invalid plus-address token {token!r}")
    local, _, domain = canonical.rpartition("@")
    new_local = f"{local}{separator}{tok}"
    if len(new_local.encode("utf-8")) > _MAX_LOCAL:
        raise AddressError(f"local part {new_local!r} would be longer than {_MAX_LOCAL} octets")
    return f"{new_local}@{domain}"


def split_plus_token(address: str, *, separator: str = "+") -> tuple[str, str | None]:
    """Split a correlation token off an address: ``sales+t8k2q@x`` -> ``("sales@x", "t8k2q")``.

    Parameters:
        address: an address or ``mailto:`` URI.
        separator: the subaddress separator (see :func:`add_plus_token`).

    Returns:
        The canonical address without its last plus part, and that part (None when the
        local part has no ``+`` or nothing follows it).

    Raises:
        AddressError: when the value is not an address.
    """
    if separator not in _SEPARATORS:
        raise AddressError(f"invalid subaddress separator {separator!r}")
    canonical = normalize_address(address)
    local, _, domain = canonical.rpartition("@")
    base, plus, token = local.rpartition(separator)
    if not plus or not base or not token:
        return canonical, None
    return f"{base}@{domain}", token
