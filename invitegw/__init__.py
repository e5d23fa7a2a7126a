"""invitegw: an email and iCalendar invitation gateway between a CRM and mail clients."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
