"""Content lines to a component tree (:rfc:`5545` sections 3.1 and 3.4), with line numbers.

This is the first stage of :mod:`invitegw.ics.parse`. It unfolds lines, splits each into
name, parameters and raw value, and nests BEGIN/END into :class:`Component` trees, keeping
the input line every property came from so that an error can say where it is.

Why not ``icalendar.Calendar.from_ical``: it keeps no line numbers; it decodes every value of
every property (we need a dozen); and it caches every VTIMEZONE it meets in a process-wide
table keyed by TZID, so one sender's "Customized Time Zone" would decide how the next
sender's identically named zone is read, and a stream of made-up TZIDs would grow that table
without bound. The splitting itself is icalendar's where it matters: a line with quoted or
escaped parameters, or anything unusual, goes through ``icalendar``'s ``Contentline``.
Simple lines (the vast majority) take a regular-expression fast path with the same result.

Being lenient here: bare LF or CR line ends, a UTF-8 BOM, blank lines, lower-case names, a
missing END (closed at the end with a warning, or at the next BEGIN:VCALENDAR when a
VCALENDAR is open), an END that closes an outer component (inner ones closed with a
warning). Every quantity is capped (:class:`IcsLimits`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from icalendar.parser import Contentline

from invitegw.errors import IcsParseError
from invitegw.ics.limits import IcsLimits, over_limit

__all__ = ["Component", "Property", "read_components", "split_line"]

ParamValue = str | list[str]

_LINE_BREAK = re.compile(r"\r\n|\n|\r")
_NAME = re.compile(r"[A-Za-z0-9-]+")
# One parameter: ;NAME=value[,value...] where a value is quoted or free of ";:,\"^\\".
_PARAM = re.compile(r';([A-Za-z0-9-]+)=((?:"[^"]*"|[^";:,^\\]*)(?:,(?:"[^"]*"|[^";:,^\\]*))*)')
_MAX_WARNINGS = 100


@dataclass(slots=True)
class Property:
    """One content line: upper-case name, parameters (upper-case keys), raw value."""

    name: str
    params: dict[str, ParamValue]
    value: str
    line_number: int
    line: str

    def param(self, key: str) -> str | None:
        """The first value of parameter ``key`` (upper-case), or ``None``."""
        value = self.params.get(key)
        if isinstance(value, list):
            return value[0] if value else None
        return value

    def param_list(self, key: str) -> list[str]:
        """Every value of parameter ``key`` (a comma-separated list), possibly empty."""
        value = self.params.get(key)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]


@dataclass(slots=True)
class Component:
    """A BEGIN/END block: name, properties in order, sub-components in order."""

    name: str
    line_number: int
    properties: list[Property] = field(default_factory=list)
    children: list[Component] = field(default_factory=list)
    # Logical lines [first, last] of this block in the unfolded input; a cache key.
    text: str = ""

    def first(self, name: str) -> Property | None:
        """The first property called ``name``, or ``None``."""
        for prop in self.properties:
            if prop.name == name:
                return prop
        return None

    def all(self, name: str) -> list[Property]:
        """Every property called ``name``, in order."""
        return [prop for prop in self.properties if prop.name == name]


@dataclass(slots=True)
class _Reader:
    limits: IcsLimits
    warnings: list[str]
    roots: list[Component] = field(default_factory=list)
    stack: list[Component] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # logical-line index of each BEGIN
    logical: list[str] = field(default_factory=list)  # kept only while inside a VTIMEZONE
    components: int = 0
    events: int = 0
    in_vtimezone: int = 0

    def warn(self, text: str) -> None:
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(text)
        elif len(self.warnings) == _MAX_WARNINGS:
            self.warnings.append("further warnings suppressed")

    def begin(self, name: str, number: int, line: str) -> None:
        limits = self.limits
        if name == "VCALENDAR" and any(open_.name == "VCALENDAR" for open_ in self.stack):
            # A VCALENDAR never nests: the open one lacks its END (files glued together).
            # Closing it keeps the next calendar object a calendar object of its own.
            self.warn(
                f"line {number}: BEGIN:VCALENDAR inside an open VCALENDAR: "
                "the open one is closed first"
            )
            self.end("VCALENDAR", number, "END:VCALENDAR")
        if len(self.stack) >= limits.max_depth:
            raise over_limit("max_depth", len(self.stack) + 1, limits.max_depth, "nesting depth")
        self.components += 1
        if self.components > limits.max_components:
            raise over_limit("max_components", self.components, limits.max_components, "components")
        if name == "VEVENT":
            self.events += 1
            if self.events > limits.max_events:
                raise over_limit("max_events", self.events, limits.max_events, "VEVENT components")
        component = Component(name or "X-UNNAMED", number)
        if self.stack:
            self.stack[-1].children.append(component)
        else:
            self.roots.append(component)
        self.stack.append(component)
        if name == "VTIMEZONE":
            self.in_vtimezone += 1
        self.starts.append(len(self.logical))
        if self.in_vtimezone:
            self.logical.append(line)

    def end(self, name: str, number: int, line: str) -> None:
        if self.in_vtimezone:
            self.logical.append(line)
        names = [component.name for component in self.stack]
        if name not in names:
            self.warn(f"line {number}: END:{name} without a matching BEGIN ignored")
            return
        while self.stack:
            component = self.stack.pop()
            start = self.starts.pop()
            if component.name == "VTIMEZONE":
                component.text = "\n".join(self.logical[start:])
                self.in_vtimezone -= 1
                if not self.in_vtimezone:
                    self.logical.clear()
            if component.name == name:
                return
            self.warn(
                f"line {number}: {component.name} (line {component.line_number}) "
                f"was not closed before END:{name}"
            )

    def close_all(self) -> None:
        while self.stack:
            component = self.stack[-1]
            self.warn(f"{component.name} (line {component.line_number}) was never closed")
            self.end(component.name, component.line_number, f"END:{component.name}")


def _split_params(section: str) -> dict[str, ParamValue] | None:
    """Parameters of the simple kind, or ``None`` when the slow path must decide."""
    if "^" in section:
        return None  # RFC 6868 escapes: icalendar's splitter decodes them
    params: dict[str, ParamValue] = {}
    pos = 0
    while pos < len(section):
        match = _PARAM.match(section, pos)
        if match is None:
            return None
        pos = match.end()
        raw = match.group(2)
        if '"' not in raw and "," not in raw:
            params[match.group(1).upper()] = raw
            continue
        values = [part[1:-1] if part.startswith('"') else part for part in _split_values(raw)]
        params[match.group(1).upper()] = values[0] if len(values) == 1 else values
    return params


def _split_values(raw: str) -> list[str]:
    values: list[str] = []
    current = ""
    quoted = False
    for char in raw:
        if char == '"':
            quoted = not quoted
            current += char
        elif char == "," and not quoted:
            values.append(current)
            current = ""
        else:
            current += char
    values.append(current)
    return values


def _slow_split(line: str) -> tuple[str, dict[str, ParamValue], str]:
    """icalendar's own splitting, for lines the fast path does not handle."""
    try:
        name, parameters, value = Contentline(line).raw_parts()  # type: ignore[no-untyped-call]
    except (ValueError, TypeError, IndexError, KeyError, AssertionError) as exc:
        raise IcsParseError(f"not a content line ({exc.__class__.__name__})") from exc
    params: dict[str, ParamValue] = {}
    for key, item in parameters.items():
        if isinstance(item, list | tuple):
            params[str(key).upper()] = [str(v) for v in item]
        else:
            params[str(key).upper()] = str(item)
    return name.upper(), params, value


def split_line(line: str) -> tuple[str, dict[str, ParamValue], str]:
    """``line`` as (upper-case name, parameters, raw value).

    Raises:
        IcsParseError: the line is not ``name *(";" param) ":" value``.
    """
    match = _NAME.match(line)
    if match is not None:
        end = match.end()
        if end < len(line) and line[end] == ":":
            return match.group().upper(), {}, line[end + 1 :]
        if end < len(line) and line[end] == ";":
            colon = _value_colon(line, end)
            if colon is not None:
                params = _split_params(line[end:colon])
                if params is not None:
                    return match.group().upper(), params, line[colon + 1 :]
    return _slow_split(line)


def _value_colon(line: str, start: int) -> int | None:
    """Index of the colon ending the parameters (outside quotes), or ``None``."""
    colon = line.find(":", start)
    if colon < 0:
        return None
    if line.find('"', start, colon) < 0:
        # Nothing quoted before the first colon (most lines): it ends the parameters,
        # unless a backslash comes first (the slow path decides those).
        return None if line.find("\\", start, colon) >= 0 else colon
    quoted = False
    index = start
    # Parameter sections are short; this loop never sees the (possibly long) value.
    while index < len(line):
        char = line[index]
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return index
        elif char == "\\" and not quoted:
            return None
        index += 1
    return None


def read_components(text: str, limits: IcsLimits) -> tuple[list[Component], list[str]]:
    """Unfold ``text`` and nest its BEGIN/END blocks.

    Parameters:
        text: decoded iCalendar data (any line ends; a leading BOM is ignored).
        limits: the caps in force.

    Returns:
        The top-level components (normally VCALENDARs) and warnings about what was repaired.

    Raises:
        IcsParseError: nothing that looks like iCalendar data.
        IcsLimitError: a cap was passed (lines, depth, components, events).
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    physical = _LINE_BREAK.split(text)
    if len(physical) > limits.max_lines:
        raise over_limit("max_lines", len(physical), limits.max_lines, "lines")
    reader = _Reader(limits, [])
    blank = pending_blank = 0
    outside = 0
    parts: list[str] = []
    start = 0
    for index, raw in enumerate(physical):
        if raw[:1] in (" ", "\t"):
            if parts:
                parts.append(raw[1:])
            continue
        if not raw.strip():
            # Only a blank line with content after it is worth a warning.
            pending_blank += 1 if parts else 0
            continue
        blank += pending_blank
        pending_blank = 0
        if parts:
            outside += _feed(reader, "".join(parts), start + 1)
        parts = [raw]
        start = index
    if parts:
        outside += _feed(reader, "".join(parts), start + 1)
    reader.close_all()
    if blank:
        reader.warn(f"{blank} blank line(s) ignored")
    if outside:
        reader.warn(f"{outside} line(s) outside any component ignored")
    if not reader.roots:
        raise IcsParseError("no BEGIN:VCALENDAR (or any component) found: not iCalendar data")
    return reader.roots, reader.warnings


def _feed(reader: _Reader, line: str, number: int) -> int:
    """Handle one logical line; returns 1 when it was outside every component."""
    try:
        name, params, value = split_line(line)
    except IcsParseError as exc:
        where = reader.stack[-1].name if reader.stack else None
        if not reader.stack:
            return 1
        reader.warn(
            f"line {number}: {where}: unreadable line skipped ({exc.message}): {line[:80]!r}"
        )
        return 0
    if name == "BEGIN":
        reader.begin(value.strip().upper(), number, line)
        return 0
    if name == "END":
        reader.end(value.strip().upper(), number, line)
        return 0
    if not reader.stack:
        return 1
    if reader.in_vtimezone:
        reader.logical.append(line)
    reader.stack[-1].properties.append(Property(name, params, value, number, line))
    return 0
