"""How the commands print: readable tables for people, JSON Lines for scripts.

One convention for every command that prints records (``outbox list``, ``quarantine
list``, ``crm ... list``, ``ingest``, ``ics inspect``, ``serve --once``): with ``--json``
each record is one JSON object on a line of its own (JSON Lines), written as soon as it is
known, so long runs stream and ``jq`` reads the output as it is (``jq -s`` makes an
array). Nothing else goes to standard output with ``--json``; notes and summaries go to
standard error. Without ``--json`` records are an aligned table (each cell made safe for
a terminal: control characters escaped, URL credentials redacted), or ``empty`` when
there are none.

This module imports only the standard library at import (every command imports it at
start-up); the terminal escaping is imported when a table is printed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from invitegw.gateway.app.json_values import iso_utc

__all__ = ["iso_utc", "json_line", "print_json_lines", "print_records", "shorten"]


def json_line(record: dict[str, Any]) -> str:
    """One record as a JSON Lines line (UTF-8 kept as is), newline included.

    Parameters:
        record: a JSON-serialisable object.

    Returns:
        The line.
    """
    return json.dumps(record, ensure_ascii=False) + "\n"


def print_json_lines(records: Iterable[dict[str, Any]], out: TextIO | None = None) -> None:
    """Write each record as one JSON line, flushing after each (a reader sees it at once).

    Parameters:
        records: the objects.
        out: where to (default: standard output).
    """
    stream = out or sys.stdout
    for record in records:
        stream.write(json_line(record))
        stream.flush()


def shorten(text: str | None, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis.

    Parameters:
        text: any text, or None (printed as nothing).
        width: the most characters to keep.

    Returns:
        The shortened text.
    """
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def print_records(
    records: Sequence[dict[str, Any]],
    *,
    as_json: bool,
    empty: str,
    headers: Sequence[str],
    row: Callable[[dict[str, Any]], Sequence[object]],
) -> None:
    """Print records as an aligned table, or as JSON Lines (see the module docstring).

    Parameters:
        records: the JSON objects.
        as_json: print JSON Lines.
        empty: the line printed (in table mode) when there is nothing.
        headers: the table's column titles.
        row: a record's cells, in the order of ``headers``.
    """
    if as_json:
        print_json_lines(records)  # json.dumps escapes control characters itself
        return
    if not records:
        print(empty)
        return
    from invitegw.gateway.commands.terminal import for_terminal  # (it loads the settings)

    cells = [[for_terminal(v) for v in row(r)] for r in records]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    for line in [list(headers), *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
