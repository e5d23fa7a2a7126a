"""Parse iCalendar data from any client into the model (:rfc:`5545`, :rfc:`5546`).

Two entry points, bytes (or text) in:

- :func:`parse_calendar_objects`: one outcome per calendar object (VCALENDAR) in the data,
  in file order: the :class:`~invitegw.ics.model.CalendarObject`, or a
  :class:`~invitegw.ics.model.CalendarError` (its index and reason) for one that cannot be
  used, so that one broken VCALENDAR in a file with several costs only itself;
- :func:`parse_calendars`: every calendar object, or the first one's error (the contract
  the inbound path was written against); :func:`parse_calendar` the first object.

The stages:

1. decode: UTF-8 (a BOM is dropped), UTF-16 with a BOM, else Windows-1252 with a warning;
2. :mod:`~invitegw.ics.lexer`: content lines to components, with line numbers and caps;
3. per VCALENDAR: METHOD (falling back to the MIME ``method=`` parameter, then PUBLISH,
   :rfc:`5546` section 1.4), PRODID, the VTIMEZONEs and X-WR-TIMEZONE for
   :mod:`~invitegw.ics.timezones`, and each VEVENT through :mod:`~invitegw.ics.normalize`.

A VEVENT that cannot be used (no real DTSTART) is dropped, named in
``CalendarObject.dropped`` (and, in words, in a ``"VEVENT dropped: "`` warning), while
others remain; when none remains the calendar object cannot be used. Whatever the input,
only :class:`~invitegw.errors.IcsParseError` or :class:`~invitegw.errors.IcsLimitError`
leave this module.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from invitegw.errors import IcsError, IcsLimitError, IcsParseError
from invitegw.ics.lexer import Component, read_components
from invitegw.ics.limits import DEFAULT_LIMITS, IcsLimits, over_limit
from invitegw.ics.model import (
    CalendarError,
    CalendarObject,
    DroppedEvent,
    Event,
    Method,
    MethodSource,
)
from invitegw.ics.normalize import EventReader
from invitegw.ics.timezones import ZoneResolver
from invitegw.ics.values import unescape_text

__all__ = ["CalendarOutcome", "parse_calendar", "parse_calendar_objects", "parse_calendars"]

CalendarOutcome = CalendarObject | CalendarError

logger = logging.getLogger(__name__)

_KNOWN_CALENDAR_PROPS = ("METHOD", "PRODID", "VERSION")
_MAX_WARNINGS = 200


def parse_calendar_objects(
    data: bytes | str, *, mime_method: str | None = None, limits: IcsLimits = DEFAULT_LIMITS
) -> list[CalendarOutcome]:
    """Every calendar object (VCALENDAR) in ``data``, each read on its own.

    Item *i* of the result is the *i*-th calendar object of the data (components outside
    any VCALENDAR, read as one more, come last): a :class:`CalendarObject`, or a
    :class:`CalendarError` with ``index`` *i* and the reason when that object cannot be
    used (no VEVENT in it is usable, a per-event cap is passed, a parser fault). The
    others are returned all the same. Warnings about the data as a whole (its encoding,
    repaired lines) go to the first usable object.

    Parameters:
        data: the calendar data (a ``text/calendar`` part's payload, an ``.ics`` file).
        mime_method: the ``method=`` parameter of the MIME part, used when a VCALENDAR
            has no METHOD (:rfc:`6047` section 2.4).
        limits: the caps in force.

    Returns:
        One outcome per calendar object, in file order (at least one).

    Raises:
        IcsParseError: the data as a whole is not iCalendar (no VCALENDAR at all).
        IcsLimitError: the data as a whole goes over a cap (size, lines, nesting,
            components, events); the error names it.
    """
    outcomes = _guarded(data, mime_method, limits)
    return [
        outcome.calendar_error() if isinstance(outcome, _Failure) else outcome
        for outcome in outcomes
    ]


def parse_calendars(
    data: bytes | str, *, mime_method: str | None = None, limits: IcsLimits = DEFAULT_LIMITS
) -> list[CalendarObject]:
    """Every VCALENDAR in ``data``, normalised; the first one's error if any cannot be used.

    :func:`parse_calendar_objects` returns the usable ones beside the errors instead.

    Parameters:
        data: the calendar data (a ``text/calendar`` part's payload, an ``.ics`` file).
        mime_method: the ``method=`` parameter of the MIME part, used when the VCALENDAR
            has no METHOD (:rfc:`6047` section 2.4).
        limits: the caps in force.

    Returns:
        One :class:`CalendarObject` per VCALENDAR, in file order (at least one).

    Raises:
        IcsParseError: the data is not iCalendar, or no event in a calendar is usable.
        IcsLimitError: the data goes over a cap (the error names it).
    """
    calendars: list[CalendarObject] = []
    for outcome in _guarded(data, mime_method, limits):
        if isinstance(outcome, _Failure):
            raise outcome.error
        calendars.append(outcome)
    return calendars


def parse_calendar(
    data: bytes | str, *, mime_method: str | None = None, limits: IcsLimits = DEFAULT_LIMITS
) -> CalendarObject:
    """The first VCALENDAR in ``data`` (see :func:`parse_calendars`).

    When the data holds several, the first is returned with a warning naming how many
    were left out.

    Parameters:
        data: the calendar data.
        mime_method: the MIME part's ``method=`` parameter, if any.
        limits: the caps in force.

    Returns:
        The first calendar object.

    Raises:
        IcsParseError: as :func:`parse_calendars`.
        IcsLimitError: as :func:`parse_calendars`.
    """
    calendars = parse_calendars(data, mime_method=mime_method, limits=limits)
    first = calendars[0]
    if len(calendars) > 1:
        note = f"{len(calendars) - 1} more VCALENDAR(s) in the data were left out"
        first = dataclasses.replace(first, warnings=(*first.warnings, note))
    return first


def _decode(data: bytes | str, limits: IcsLimits) -> tuple[str, list[str]]:
    if len(data) > limits.max_object_bytes:
        raise over_limit("max_object_bytes", len(data), limits.max_object_bytes, "calendar data")
    warnings: list[str] = []
    if isinstance(data, str):
        text = data
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
        warnings.append("calendar data is UTF-16: decoded")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            text = data.decode("cp1252", errors="replace")
            warnings.append(f"calendar data is not UTF-8 (byte {exc.start}): read as Windows-1252")
    if "\x00" in text:
        text = text.replace("\x00", "")
        warnings.append("NUL characters removed")
    return text, warnings


@dataclass(slots=True)
class _Failure:
    """A calendar object that could not be used, with the error that says why."""

    index: int
    error: IcsError
    line_number: int
    method: Method
    dropped: tuple[DroppedEvent, ...] = ()

    def calendar_error(self) -> CalendarError:
        return CalendarError(
            index=self.index,
            reason=str(self.error),
            line_number=self.line_number,
            method=self.method,
            limit=self.error.limit if isinstance(self.error, IcsLimitError) else None,
            dropped=self.dropped,
        )


class _NoUsableEventError(Exception):
    """Every VEVENT of a calendar object was dropped (internal to this module)."""

    def __init__(self, error: IcsParseError, dropped: tuple[DroppedEvent, ...]) -> None:
        super().__init__(str(error))
        self.error = error
        self.dropped = dropped


def _guarded(
    data: bytes | str, mime_method: str | None, limits: IcsLimits
) -> list[CalendarObject | _Failure]:
    try:
        return _parse(data, mime_method, limits)
    except IcsError:
        raise
    except Exception as exc:  # the boundary: nothing foreign may escape the parser
        raise _unexpected(exc) from exc


def _unexpected(exc: Exception) -> IcsParseError:
    logger.warning("unexpected failure parsing calendar data", exc_info=exc)
    return IcsParseError(f"unexpected parser failure ({exc.__class__.__name__}: {str(exc)[:120]})")


def _parse(
    data: bytes | str, mime_method: str | None, limits: IcsLimits
) -> list[CalendarObject | _Failure]:
    text, warnings = _decode(data, limits)
    roots, lexer_warnings = read_components(text, limits)
    warnings.extend(lexer_warnings)
    calendars = [root for root in roots if root.name == "VCALENDAR"]
    strays = [root for root in roots if root.name != "VCALENDAR"]
    if strays:
        if any(root.name == "VEVENT" for root in strays):
            warnings.append("components outside any VCALENDAR read as one more calendar")
            calendars.append(Component("VCALENDAR", strays[0].line_number, children=strays))
        else:
            names = ", ".join(sorted({root.name for root in strays}))
            warnings.append(f"components outside any VCALENDAR ignored: {names}")
    if not calendars:
        raise IcsParseError("no VCALENDAR found", component="VCALENDAR")
    method = _mime_method(mime_method, warnings)
    results: list[CalendarObject | _Failure] = []
    pending = warnings  # the data's own warnings, for the first usable calendar object
    for index, component in enumerate(calendars):
        outcome = _one(index, component, method, limits, pending)
        if isinstance(outcome, CalendarObject):
            pending = []
        results.append(outcome)
    return results


def _one(
    index: int,
    component: Component,
    mime_method: Method | None,
    limits: IcsLimits,
    warnings: list[str],
) -> CalendarObject | _Failure:
    """One calendar object, or why it cannot be used."""
    dropped: tuple[DroppedEvent, ...] = ()
    try:
        return _calendar(component, mime_method, limits, warnings)
    except _NoUsableEventError as exc:
        error: IcsError = exc.error
        dropped = exc.dropped
    except IcsError as exc:
        error = exc
    except Exception as exc:  # a fault of ours in one object must not cost the others
        error = _unexpected(exc)
        error.__cause__ = exc
    method, _ = _method(component, mime_method, [])
    return _Failure(index, error, component.line_number, method, dropped)


def _mime_method(value: str | None, warnings: list[str]) -> Method | None:
    if value is None or not value.strip():
        return None
    try:
        return Method(value.strip().upper())
    except ValueError:
        warnings.append(f"MIME method={value[:30]!r} is not an iTIP method: ignored")
        return None


def _calendar(
    component: Component, mime_method: Method | None, limits: IcsLimits, warnings: list[str]
) -> CalendarObject:
    warnings = list(warnings)
    method, source = _method(component, mime_method, warnings)
    producer_prop = component.first("PRODID")
    producer = unescape_text(producer_prop.value).strip() if producer_prop else None
    version_prop = component.first("VERSION")
    version = version_prop.value.strip() if version_prop else "2.0"
    if version != "2.0":
        warnings.append(f"VERSION {version[:20]!r} is not 2.0: read as iCalendar 2.0")
    x_wr = component.first("X-WR-TIMEZONE")
    vtimezones = [child for child in component.children if child.name == "VTIMEZONE"]
    resolver = ZoneResolver(vtimezones, unescape_text(x_wr.value).strip() if x_wr else None)
    reader_warnings: list[str] = []
    reader = EventReader(method, resolver, limits, reader_warnings)
    events: list[Event] = []
    errors: list[IcsParseError] = []
    dropped: list[DroppedEvent] = []
    others: list[str] = []
    for child in component.children:
        if child.name == "VEVENT":
            try:
                events.append(reader.read(child))
            except IcsParseError as exc:
                errors.append(exc)
                uid, recurrence_id = reader.identity(child)
                dropped.append(
                    DroppedEvent(
                        reason=str(exc),
                        uid=uid,
                        recurrence_id=recurrence_id,
                        line_number=child.line_number,
                        property=exc.property,
                    )
                )
        elif child.name != "VTIMEZONE" and child.name not in others:
            others.append(child.name)
    if errors and not events:
        raise _NoUsableEventError(errors[0], tuple(dropped))
    warnings.extend(resolver.warnings)
    warnings.extend(reader_warnings)
    # Kept in words too, for readers of the warnings (`ics inspect`, the logs); the inbound
    # pipeline reads the structured `dropped` records.
    warnings.extend(f"VEVENT dropped: {error}" for error in errors)
    if len(warnings) > _MAX_WARNINGS:
        warnings = [*warnings[:_MAX_WARNINGS], f"{len(warnings) - _MAX_WARNINGS} more warnings"]
    extra = tuple(
        (prop.name, prop.line)
        for prop in component.properties
        if prop.name not in _KNOWN_CALENDAR_PROPS
    )
    return CalendarObject(
        method=method,
        events=tuple(events),
        producer=producer,
        version="2.0",
        method_source=source,
        other_components=tuple(others),
        extra=extra,
        warnings=tuple(warnings),
        dropped=tuple(dropped),
        zone_notes=tuple(resolver.notes),
    )


def _method(
    component: Component, mime_method: Method | None, warnings: list[str]
) -> tuple[Method, MethodSource]:
    prop = component.first("METHOD")
    if prop is not None:
        value = prop.value.strip().upper()
        try:
            method = Method(value)
        except ValueError:
            warnings.append(
                f"line {prop.line_number}: METHOD {value[:30]!r} is not an iTIP method: ignored"
            )
        else:
            if mime_method is not None and mime_method != method:
                warnings.append(
                    f"METHOD {method} differs from the MIME method={mime_method}: "
                    "the calendar's is used"
                )
            return method, MethodSource.CALENDAR
    if mime_method is not None:
        warnings.append(f"no METHOD in the calendar: MIME method={mime_method} used")
        return mime_method, MethodSource.MIME
    return Method.PUBLISH, MethodSource.DEFAULT
