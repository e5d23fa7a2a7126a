"""Mail I/O: composing and reading iMIP email, IMAP watching, SMTP sending and listening."""

from __future__ import annotations

__all__: list[str] = []
