"""Reading the *Other attendees* text area (``attendees_field``) the way people fill it in.

vtiger's web form removes anything that looks like an HTML tag from a text area, so
``Lena Lead <lena@prospect.example>`` typed there is stored as ``Lena Lead `` and the
address is lost without a word (docs/vtiger.md); a value written through the webservice keeps
its ``<...>``. So this parser takes every form a person is likely to type, and says what
it could not use instead of guessing:

- **Entries** are separated by line breaks, commas and semicolons; a comma or semicolon
  inside ``"..."``, ``(...)`` or ``<...>`` does not separate. A line break always does, so
  an unclosed bracket cannot swallow the lines after it.
- **An entry** is a bare address, ``Name (address)``, ``Name address``, ``"Name" address``,
  ``address (Name)`` or ``Name <address>``: every word holding an ``@`` must be an
  address (a ``mailto:`` prefix is allowed), the other words are the name, which the
  gateway does not need.
- **Skipped**: an entry without any ``@`` (a name whose address the web form removed, or
  never typed), and an ``@``-word that is not a valid address. Each comes back in
  :attr:`AttendeeText.skipped` for the meeting's log.

Addresses are validated and normalised with the project's address module (syntax only):
this is the vtiger adapter's one import of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from invitegw.domain.addresses import validate_address
from invitegw.errors import AddressError

__all__ = [
    "MAX_ADDRESSES",
    "MAX_CHARS",
    "AttendeeText",
    "SkipReason",
    "Skipped",
    "canonical_address",
    "parse_attendee_text",
]

MAX_ADDRESSES = 100
MAX_CHARS = 20_000
_MAX_SHOWN = 80  # characters of a skipped entry kept for the log
_CLOSERS = {'"': '"', "(": ")", "<": ">"}
_WORD_BREAK = re.compile(r'[\s<>()"\[\],;]+')
# Entities only: a value stored HTML-escaped (vtiger escapes some values it returns, such
# as a comment's label) reads as typed; nothing else is decoded.
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&#039;": "'", "&amp;": "&"}
_ENTITY = re.compile("|".join(re.escape(e) for e in _ENTITIES))


class SkipReason(StrEnum):
    """Why a piece of the text was not used."""

    NO_ADDRESS = "no address"
    NOT_AN_ADDRESS = "not an email address"


@dataclass(frozen=True, slots=True)
class Skipped:
    """One entry (or word) that was not used, whitespace collapsed and shortened."""

    text: str
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class AttendeeText:
    """What the field holds: addresses (canonical, first occurrence) and what was skipped.

    ``dropped`` counts valid addresses beyond the limit; ``truncated`` is set when the text
    was longer than :data:`MAX_CHARS` and its end was not read.
    """

    addresses: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    dropped: int = 0
    truncated: bool = False

    @property
    def clean(self) -> bool:
        """True when everything in the text was used."""
        return not (self.skipped or self.dropped or self.truncated)


def canonical_address(value: str) -> str | None:
    """The canonical form of one address, or ``None`` when it is not a valid one.

    Parameters:
        value: a bare address or a ``mailto:`` URI.

    Returns:
        The validated, normalised address (lower case), or ``None``.
    """
    try:
        return validate_address(value)
    except AddressError:
        return None


def _entries(text: str) -> list[str]:
    """Split ``text`` into entries (module docstring)."""
    entries: list[str] = []
    current: list[str] = []
    closer: str | None = None
    for ch in text:
        if ch in "\r\n" or (closer is None and ch in ",;"):
            entries.append("".join(current))
            current, closer = [], None
            continue
        current.append(ch)
        if closer is not None:
            if ch == closer:
                closer = None
        elif ch in _CLOSERS:
            closer = _CLOSERS[ch]
    entries.append("".join(current))
    return [entry for entry in (e.strip() for e in entries) if entry]


def _shown(text: str) -> str:
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) <= _MAX_SHOWN else collapsed[: _MAX_SHOWN - 3] + "..."


def parse_attendee_text(
    text: str, *, limit: int = MAX_ADDRESSES, max_chars: int = MAX_CHARS
) -> AttendeeText:
    """Read the addresses out of an *Other attendees* value (module docstring).

    Parameters:
        text: the field's value as vtiger returns it.
        limit: the most addresses to return; more are counted in ``dropped``.
        max_chars: the most characters to read.

    Returns:
        The addresses, in order and without repeats, and what was skipped.
    """
    truncated = len(text) > max_chars
    body = _ENTITY.sub(lambda m: _ENTITIES[m.group(0)], text[:max_chars])
    addresses: list[str] = []
    seen: set[str] = set()
    skipped: list[Skipped] = []
    dropped = 0
    for entry in _entries(body):
        words = [w for w in _WORD_BREAK.split(entry) if w]
        if not words:
            continue  # only quotes or brackets: nothing a person meant as an attendee
        with_at = [w for w in words if "@" in w]
        if not with_at:
            skipped.append(Skipped(_shown(entry), SkipReason.NO_ADDRESS))
            continue
        for word in with_at:
            candidate = word[7:] if word[:7].lower() == "mailto:" else word
            address = canonical_address(candidate)
            if address is None:
                skipped.append(Skipped(_shown(word), SkipReason.NOT_AN_ADDRESS))
            elif address not in seen:
                seen.add(address)
                if len(addresses) < limit:
                    addresses.append(address)
                else:
                    dropped += 1
    return AttendeeText(tuple(addresses), tuple(dict.fromkeys(skipped)), dropped, truncated)
