"""The outbound pipeline: CRM changes to queued invitations, and their sending."""

from __future__ import annotations

__all__: list[str] = []
