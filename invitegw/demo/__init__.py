"""``invitegw demo``: the gateway both ways on the embedded setup."""

from __future__ import annotations

__all__: list[str] = []
