"""The outbox's message bytes, compressed at rest (zlib) and given back exactly as composed.

A composed invitation is mostly text the compressor finds twice (the plain and the HTML
body say the same; the calendar object is attached twice, base64 both times), so zlib
keeps about a third of it. :class:`PackedBytes` is the column type: the ORM hands it the
composed bytes and gets them back, byte for byte; the database holds
``MAGIC + zlib(bytes)``. A value without the marker is returned as stored, so rows written
before compression (and any database the migration has not converted yet) stay readable:
a MIME message never starts with a NUL byte, which the marker does.
"""

from __future__ import annotations

import zlib
from typing import Any, Final

from sqlalchemy import Dialect, LargeBinary
from sqlalchemy.types import TypeDecorator

__all__ = ["MAGIC", "PackedBytes", "pack", "unpack"]

# NUL, "Z", format version 1: zlib (RFC 1950) of the whole message follows.
MAGIC: Final = b"\x00Z1"
# zlib's default speed/size trade: 0.1 ms for an 8 KB invitation; level 9 saves ~1 %.
_LEVEL: Final = 6
# A stored message inflates to at most this (the outbox never holds anything bigger:
# the composer caps a message well below it); a corrupt value cannot exhaust memory.
MAX_UNPACKED: Final = 64 * 1024 * 1024


def pack(raw: bytes) -> bytes:
    """The stored form of ``raw``.

    Parameters:
        raw: the composed message.

    Returns:
        ``MAGIC`` and the zlib stream.
    """
    return MAGIC + zlib.compress(raw, _LEVEL)


def unpack(stored: bytes) -> bytes:
    """The composed message back from its stored form (a value without the marker as is).

    Parameters:
        stored: what the column holds.

    Returns:
        The exact bytes :func:`pack` was given.

    Raises:
        ValueError: the stored value is damaged or inflates beyond ``MAX_UNPACKED``.
    """
    if not stored.startswith(MAGIC):
        return stored
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(stored[len(MAGIC) :], MAX_UNPACKED)
    except zlib.error as exc:
        raise ValueError(f"a stored message is damaged: {exc}") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise ValueError("a stored message is damaged or too large")
    return raw


class PackedBytes(TypeDecorator[bytes]):
    """A ``LargeBinary`` column whose values are :func:`pack` ed on the way in."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        """Compress."""
        if value is None:
            return None
        return pack(bytes(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        """Decompress (a value stored before compression as it is)."""
        if value is None:
            return None
        return unpack(bytes(value))
