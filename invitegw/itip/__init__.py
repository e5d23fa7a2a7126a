"""The iTIP rules as pure functions over plain values (RFC 5546)."""

from __future__ import annotations

__all__: list[str] = []
