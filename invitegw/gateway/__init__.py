"""The imperative shell: configuration, storage, pipelines, scheduler, CLI."""

from __future__ import annotations

__all__: list[str] = []
