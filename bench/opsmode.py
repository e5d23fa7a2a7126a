"""Metrics and JSON logs on, for a benchmark round (``--ops`` in outbound.py and inbound.py).

"Off" is ``serve`` as it runs by default: invitegw's INFO lines as text, no metrics.
"On" is ``serve`` with ``[http] listen`` and ``[logging] format = "json"``: the gateway's
event counters and histograms kept in its registry, and the same INFO lines (plus one
event line per message) as JSON. Both write to a file, so the bench's output stays
readable and the two pay the same for the lines themselves.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from invitegw.gateway.config import HttpSettings, LogFormat, LoggingSettings, Settings
from invitegw.gateway.logs import configure_logging


def with_metrics(settings: Settings) -> Settings:
    """``settings`` with ``[http] listen`` set: the gateway then keeps its metrics."""
    return dataclasses.replace(settings, http=HttpSettings(listen="127.0.0.1:0"))


@contextmanager
def json_logs(path: Path, *, json: bool = True) -> Iterator[None]:
    """invitegw's INFO lines into ``path`` while the block runs (JSON, or ``serve``'s text)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("invitegw").level)
    with path.open("a", encoding="utf-8") as stream:
        form = LogFormat.JSON if json else LogFormat.TEXT
        configure_logging(LoggingSettings(format=form), stream=stream)
        try:
            yield
        finally:
            for handler in list(root.handlers):
                root.removeHandler(handler)
            for handler in saved[0]:
                root.addHandler(handler)
            root.setLevel(saved[1])
            logging.getLogger("invitegw").setLevel(saved[2])
