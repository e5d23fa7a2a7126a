"""The built-in CRM: tables in the gateway's own database."""

from __future__ import annotations

__all__: list[str] = []
