"""Metrics and JSON logs on, for a benchmark round (``--ops`` in outbound.py and inbound.py).

"On" is what a production ``serve`` with ``[http] listen`` and ``[logging] format =
"json"`` pays: the gateway's event counters and histograms kept in its registry, and
invitegw's INFO lines written as JSON (to a file here: the bench's output stays readable).
"Off" is the benchmark as it always ran: no registry, logging at WARNING.
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
def json_logs(path: Path) -> Iterator[None]:
    """invitegw's INFO lines as JSON into ``path`` while the block runs."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("invitegw").level)
    with path.open("w", encoding="utf-8") as stream:
        configure_logging(LoggingSettings(format=LogFormat.JSON), stream=stream)
        try:
            yield
        finally:
            for handler in list(root.handlers):
                root.removeHandler(handler)
            for handler in saved[0]:
                root.addHandler(handler)
            root.setLevel(saved[1])
            logging.getLogger("invitegw").setLevel(saved[2])
