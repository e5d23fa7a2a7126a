"""Values every layer shares: the CRM's records and address handling."""

from __future__ import annotations

__all__: list[str] = []
