"""Address headers (From, To, Cc, Reply-To ...) read leniently into :class:`NamedAddress` pairs.

Real headers carry unquoted commas in names, RFC 2047 encoded words (:rfc:`2047`), group
syntax, comments, bare addresses and plain garbage (:rfc:`5322` section 3.4). The
addresses found are normalised with :func:`invitegw.domain.addresses.normalize_address`.
"""

from __future__ import annotations

import functools
import logging
import re
from email.utils import getaddresses

from invitegw.domain.addresses import NamedAddress, normalize_address
from invitegw.errors import AddressError
from invitegw.mailbox.mime.headertext import decode_words, unfold

__all__ = ["header_is_ambiguous", "parse_address_header"]

logger = logging.getLogger(__name__)

_CACHE_SIZE = 8192
# One entry of a plain address list: "Quoted Name" <addr> | Name <addr> | addr.
_ENTRY = (
    r'\s*(?:(?:"([^"\\]*)"|([^",<>()\\;:@]*?))\s*<([^<>\s,"()\\;:]+@[^<>\s,"()\\;:]+)>'
    r'|([^\s<>",()\\;:]+@[^\s<>",()\\;:]+))\s*'
)
_SIMPLE_ENTRY_RE = re.compile(_ENTRY)
_SIMPLE_LIST_RE = re.compile(f"{_ENTRY}(?:,{_ENTRY})*")
# Display names and "addresses" in the wild reach absurd lengths in hostile input.
_MAX_HEADER_CHARS = 16_384


def _count_bare_ats(value: str) -> int:
    """Count ``@`` outside quoted strings and comments (RFC 5322 section 3.2.4, 3.2.2)."""
    if '"' not in value and "(" not in value and "\\" not in value:
        return value.count("@")  # nothing quoted, nothing commented: the common header
    count = depth = 0
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif ch == "@" and not depth:
            count += 1
    return count


def _simple_pairs(text: str) -> list[tuple[str, str]] | None:
    """``getaddresses`` for the plain lists most headers are, ten times faster; else None.

    Only lists of ``Name <addr>``, ``"Quoted, Name" <addr>`` and bare ``addr`` entries
    qualify; comments, groups, escapes and empty entries go to the stdlib parser.
    """
    if not _SIMPLE_LIST_RE.fullmatch(text):
        return None
    pairs = []
    for match in _SIMPLE_ENTRY_RE.finditer(text):
        quoted, plain, bracketed, bare = match.groups()
        if bare is not None:
            pairs.append(("", bare))
        else:
            name = quoted if quoted is not None else " ".join((plain or "").split())
            pairs.append((name, bracketed))
    return pairs


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse_address_header(value: str) -> tuple[NamedAddress, ...]:
    text = unfold(value)[:_MAX_HEADER_CHARS]
    found: list[NamedAddress] = []
    pairs = _simple_pairs(text)
    for name, addr in pairs if pairs is not None else getaddresses([text]):
        if not addr:
            continue  # group names ("undisclosed-recipients:;"), stray words
        try:
            canonical = normalize_address(addr)
        except AddressError:
            logger.debug("skipping unparsable address %r in header", addr)
            continue
        found.append(NamedAddress(decode_words(name).strip() if name else "", canonical))
    return tuple(found)


def parse_address_header(value: str | None) -> list[NamedAddress]:
    """Parse an address-list header value (From, To, Cc, Reply-To ...) leniently.

    Real headers carry unquoted commas in names, RFC 2047 words, group syntax, comments,
    bare addresses and plain garbage; entries that yield no address are skipped rather than
    failing the whole header. Names are decoded after the list is split (an encoded word
    may hide a comma).

    Parameters:
        value: the raw (possibly folded) header value; None or ``""`` gives ``[]``.

    Returns:
        ``(display name, canonical address)`` pairs in header order (see :class:`NamedAddress`).
        Addresses are normalised, not validated: call :func:`validate_address` before
        trusting or mailing one.
    """
    if not value:
        return []
    return list(_parse_address_header(value))


def header_is_ambiguous(value: str, parsed: list[NamedAddress]) -> bool:
    """Tell whether an address header holds more ``@`` than the addresses parsed from it.

    The stdlib parser of Python < 3.12.6 reads ``alice@a.example)<bob@b.example>`` and
    similar crafted values differently from MTAs (CVE-2023-27043). A From header where the
    counts disagree must not be trusted as identifying one sender.

    Parameters:
        value: the raw header value.
        parsed: what :func:`parse_address_header` made of it.

    Returns:
        True when ``@`` signs outside quotes and comments outnumber the parsed addresses.
    """
    return _count_bare_ats(unfold(value)[:_MAX_HEADER_CHARS]) > len(parsed)
