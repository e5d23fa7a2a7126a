"""vobject, an independent iCalendar parser, used to cross-check what we build."""

from __future__ import annotations

from typing import Any

import vobject
import vobject.icalendar


def vobject_read(data: bytes) -> Any:
    """``data`` as vobject reads it, with a fresh TZID table.

    vobject keeps every VTIMEZONE it meets in a process-wide table and the first definition
    of a TZID wins, so an earlier calendar's Europe/Warsaw (built for other years) would
    decide how this one is read. The table is emptied first.
    """
    table = vars(vobject.icalendar)["__tzidMap"]
    table.clear()
    vobject.icalendar.registerTzid("UTC", vobject.icalendar.utc)
    return vobject.readOne(data.decode("utf-8"))
