"""Checks shared by the ics tests: vobject as an independent reader, and our own errors."""

from __future__ import annotations

from typing import Any

import vobject
import vobject.icalendar

from invitegw.errors import IcsError


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


def assert_own_error(error: IcsError, where: str = "") -> None:
    """An error the parser raised on purpose, not its last-resort wrapper of a foreign one."""
    assert "unexpected parser failure" not in str(error), f"{where}: {error}"
