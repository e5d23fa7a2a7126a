"""One VEVENT component to one :class:`~invitegw.ics.model.Event`, with every client's quirks.

What matters decides how strict we are. DTSTART is the event: when it is missing or not a
real date the event cannot be used (:class:`~invitegw.errors.IcsParseError` naming VEVENT,
DTSTART and the line; the caller drops the event with a warning if others remain). Every
other property is read leniently: a bad value becomes a warning and, where the model has no
place for it, stays in ``Event.extra`` as the producer wrote it.

Quirks handled here (others are in :mod:`invitegw.ics.timezones`): DURATION instead of
DTEND; DTEND before DTSTART or of another value type; SEQUENCE missing but Exchange's
``X-MICROSOFT-CDO-APPT-SEQUENCE`` present; ``ORGANIZER;CN=x`` without an address;
``TRIGGER:PT-2H``; ``TRIGGER;RELATED=END``; several SUMMARYs; several RRULEs (Zimbra;
all kept, in ``Event.rrule`` and ``Event.more_rrules``, up to ``max_rrules``); unknown
STATUS, ROLE, PARTSTAT and CUTYPE values (RFC 5545 says how to read the last three).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from invitegw.errors import IcsError, IcsParseError
from invitegw.ics.alarms import read_alarms
from invitegw.ics.lexer import Component, Property
from invitegw.ics.limits import IcsLimits, over_limit
from invitegw.ics.model import (
    Attendee,
    CuType,
    DateOrDateTime,
    Event,
    EventStatus,
    Method,
    Organizer,
    PartStat,
    Role,
)
from invitegw.ics.rrule import parse_recur
from invitegw.ics.timezones import Localized, ZoneResolver
from invitegw.ics.values import (
    parse_bool,
    parse_cal_address,
    parse_date_time,
    parse_duration,
    parse_integer,
    unescape_text,
)

__all__ = ["EventReader"]

# Event times outside these years are refused: nothing real is there, and arithmetic with
# offsets near year 1 or 9999 overflows.
MIN_YEAR, MAX_YEAR = 1601, 9000
_TEXT_FIELDS = {"SUMMARY": "summary", "DESCRIPTION": "description", "LOCATION": "location"}
_ONE_DAY = dt.timedelta(days=1)
_E = TypeVar("_E", Role, PartStat, CuType)
# RFC 5546 section 3.2: methods whose VEVENT may omit DTSTART.
_START_OPTIONAL = frozenset({Method.REPLY, Method.CANCEL, Method.REFRESH, Method.DECLINECOUNTER})


class _Fields:
    """The model's fields being gathered for one VEVENT."""

    def __init__(self) -> None:
        self.uid: str | None = None
        self.summary = ""
        self.description = ""
        self.location = ""
        self.url: str | None = None
        self.organizer: Organizer | None = None
        self.sequence: int | None = None
        self.cdo_sequence: int | None = None
        self.dtstamp: dt.datetime | None = None
        self.recurrence_id: DateOrDateTime | None = None
        self.this_and_future = False
        self.rrule: str | None = None
        self.more_rrules: list[str] = []
        self.status: EventStatus | None = None
        self.transparent = False
        self.extra: list[tuple[str, str]] = []
        self.attendees: list[Attendee] = []
        self.seen: set[str] = set()
        self.rdates: list[DateOrDateTime] = []
        self.exdates: list[DateOrDateTime] = []
        self.comments: list[str] = []


class EventReader:
    """Reads the VEVENTs of one calendar object.

    Parameters:
        method: the calendar's iTIP method (it decides whether DTSTART may be absent).
        resolver: the calendar's TZID resolver.
        limits: the caps in force.
        warnings: where to add what was repaired or ignored (shared with the calendar).
    """

    def __init__(
        self, method: Method, resolver: ZoneResolver, limits: IcsLimits, warnings: list[str]
    ) -> None:
        self._method = method
        self._resolver = resolver
        self._limits = limits
        self._warnings = warnings
        self._tzids: list[str] = []  # the TZIDs the event being read uses
        self._handlers: dict[str, Callable[[Property, _Fields], None]] = {
            "UID": self._uid,
            "SUMMARY": self._text,
            "DESCRIPTION": self._text,
            "LOCATION": self._text,
            "COMMENT": self._comment,
            "URL": self._url,
            "ORGANIZER": self._organizer,
            "ATTENDEE": self._attendee,
            "SEQUENCE": self._sequence,
            "X-MICROSOFT-CDO-APPT-SEQUENCE": self._cdo_sequence,
            "DTSTAMP": self._dtstamp,
            "RECURRENCE-ID": self._recurrence_id,
            "RRULE": self._rrule,
            "RDATE": self._rdate,
            "EXDATE": self._exdate,
            "STATUS": self._status,
            "TRANSP": self._transp,
        }

    def read(self, component: Component) -> Event:
        """The event a VEVENT describes.

        Raises:
            IcsParseError: no usable DTSTART (nor a RECURRENCE-ID to stand in for it).
            IcsLimitError: more ATTENDEEs than ``max_attendees``.
        """
        self._tzids = []
        start, given = self._start(component)
        fields = _Fields()
        end_prop = duration_prop = None
        for prop in component.properties:
            name = prop.name
            if name == "DTSTART":
                continue
            if name == "DTEND":
                end_prop = end_prop or prop
                continue
            if name == "DURATION":
                duration_prop = duration_prop or prop
                continue
            handler = self._handlers.get(name)
            if handler is None:
                fields.extra.append((name, prop.line))
                continue
            try:
                handler(prop, fields)
            except IcsError:  # a cap (IcsLimitError is a ValueError too): not a bad value
                raise
            except ValueError as exc:
                self._warn(prop, f"ignored: {exc}")
                fields.extra.append((name, prop.line))
        value = start.value if isinstance(start, Localized) else start
        end = self._end(value, end_prop, duration_prop) if given else None
        alarms = read_alarms(component, value, end, self._absolute, self._warnings)
        sequence = fields.sequence
        if sequence is None and fields.cdo_sequence is not None:
            sequence = fields.cdo_sequence
            self._warnings.append(
                f"VEVENT at line {component.line_number}: SEQUENCE taken "
                "from X-MICROSOFT-CDO-APPT-SEQUENCE"
            )
        if fields.uid is None:
            self._warnings.append(f"VEVENT at line {component.line_number} has no UID")
        return Event(
            uid=fields.uid or "",
            start=value,
            end=end,
            summary=fields.summary,
            description=fields.description,
            location=fields.location,
            organizer=fields.organizer,
            attendees=tuple(fields.attendees),
            sequence=sequence or 0,
            dtstamp=fields.dtstamp,
            recurrence_id=fields.recurrence_id,
            this_and_future=fields.this_and_future,
            rrule=fields.rrule,
            more_rrules=tuple(fields.more_rrules),
            rdates=tuple(fields.rdates),
            exdates=tuple(fields.exdates),
            status=fields.status,
            transparent=fields.transparent,
            url=fields.url,
            comment="\n".join(fields.comments),
            alarms=alarms,
            tzid=start.tzid if isinstance(start, Localized) else None,
            original_tzid=start.original_tzid if isinstance(start, Localized) else None,
            extra=tuple(fields.extra),
            start_given=given,
            zone_notes=self._resolver.notes_for(self._tzids),
        )

    def identity(self, component: Component) -> tuple[str | None, DateOrDateTime | None]:
        """UID and RECURRENCE-ID of a VEVENT that could not be read, where they are readable.

        Parameters:
            component: the VEVENT.

        Returns:
            (UID or ``None``, RECURRENCE-ID or ``None``); never raises for a bad value.
        """
        uid_prop = component.first("UID")
        uid = (unescape_text(uid_prop.value).strip() or None) if uid_prop is not None else None
        recurrence_prop = component.first("RECURRENCE-ID")
        recurrence_id: DateOrDateTime | None = None
        if recurrence_prop is not None:
            try:
                recurrence_id = self._plain(self.time(recurrence_prop))
            except ValueError:
                recurrence_id = None
        return uid, recurrence_id

    # -- warnings and times ---------------------------------------------------------------

    def _warn(self, prop: Property, text: str) -> None:
        self._warnings.append(f"line {prop.line_number}: VEVENT {prop.name} {text}")

    def time(self, prop: Property, value: str | None = None) -> DateOrDateTime | Localized:
        """One DATE or DATE-TIME of ``prop`` (its value, or ``value`` from a list).

        Raises:
            ValueError: not a real date, or outside the years we accept.
        """
        kind = (prop.param("VALUE") or "").upper()
        text = prop.value if value is None else value
        if kind == "PERIOD" or "/" in text:
            text = text.split("/", 1)[0]
        parsed = parse_date_time(text, date_only={"DATE": True, "DATE-TIME": False}.get(kind))
        if parsed.lenient:
            self._warn(
                prop, f"value {text.strip()[:40]!r} read leniently as {parsed.value.isoformat()}"
            )
        if not MIN_YEAR <= parsed.value.year <= MAX_YEAR:
            raise ValueError(f"year {parsed.value.year} is outside {MIN_YEAR}..{MAX_YEAR}")
        if not isinstance(parsed.value, dt.datetime):
            return parsed.value
        tzid = prop.param("TZID")
        if tzid and not parsed.utc:
            self._tzids.append(tzid)
        return self._resolver.localize(parsed.value, utc=parsed.utc, tzid=tzid)

    def _start(self, component: Component) -> tuple[DateOrDateTime | Localized, bool]:
        """DTSTART, or what stands in for it; and whether DTSTART was given."""
        prop = component.first("DTSTART")
        given = prop is not None
        if prop is None:
            prop = component.first("RECURRENCE-ID")
            if self._method in _START_OPTIONAL:
                prop = prop or component.first("DTSTAMP")
            elif prop is not None:
                self._warnings.append(
                    f"VEVENT at line {component.line_number} has no "
                    "DTSTART; its RECURRENCE-ID stands in for it"
                )
        if prop is None:
            raise IcsParseError(
                "no DTSTART",
                component="VEVENT",
                property="DTSTART",
                line_number=component.line_number,
            )
        try:
            return self.time(prop), given
        except ValueError as exc:
            raise IcsParseError(
                str(exc),
                component="VEVENT",
                property=prop.name,
                line_number=prop.line_number,
                line=prop.line,
            ) from None

    def _absolute(self, prop: Property) -> DateOrDateTime:
        return self._plain(self.time(prop))

    def _plain(self, value: DateOrDateTime | Localized) -> DateOrDateTime:
        return value.value if isinstance(value, Localized) else value

    def _end(
        self, start: DateOrDateTime, end_prop: Property | None, duration_prop: Property | None
    ) -> DateOrDateTime | None:
        end: DateOrDateTime | None = None
        if end_prop is not None:
            if duration_prop is not None:
                self._warn(duration_prop, "ignored: DTEND is given too")
            try:
                end = self._plain(self.time(end_prop))
            except ValueError as exc:
                self._warn(end_prop, f"ignored: {exc}")
                end_prop = None
        if end is None and duration_prop is not None:
            try:
                duration, lenient = parse_duration(duration_prop.value)
            except ValueError as exc:
                self._warn(duration_prop, f"ignored: {exc}")
                return None
            if lenient:
                self._warn(duration_prop, f"{duration_prop.value.strip()!r} read leniently")
            if not isinstance(start, dt.datetime):
                duration = dt.timedelta(days=duration.days)
            end = start + duration
        if end is None:
            return None
        prop = end_prop or duration_prop
        assert prop is not None
        end = self._match_type(start, end, prop)
        if end is None:
            return None
        try:
            before = end < start
        except TypeError:  # one floating, one aware
            self._warn(prop, "mixes a floating and a zoned time with DTSTART; kept as written")
            return end
        if before:
            self._warn(prop, "ignored: it is before DTSTART")
            return None
        if end == start and not isinstance(start, dt.datetime):
            self._warn(prop, "equals the all-day DTSTART: read as a one-day event")
            return start + _ONE_DAY
        return end

    def _match_type(
        self, start: DateOrDateTime, end: DateOrDateTime, prop: Property
    ) -> DateOrDateTime | None:
        start_is_time = isinstance(start, dt.datetime)
        if start_is_time == isinstance(end, dt.datetime):
            return end
        self._warn(prop, "has another value type than DTSTART: converted")
        if isinstance(end, dt.datetime):
            day = end.date()
            return day if end.time() == dt.time() else day + _ONE_DAY
        assert isinstance(start, dt.datetime)
        return dt.datetime.combine(end, dt.time(), tzinfo=start.tzinfo)

    # -- property handlers ----------------------------------------------------------------

    def _once(self, prop: Property, fields: _Fields) -> bool:
        if prop.name in fields.seen:
            self._warn(prop, "repeated: the first one is used")
            fields.extra.append((prop.name, prop.line))
            return False
        fields.seen.add(prop.name)
        return True

    def _uid(self, prop: Property, fields: _Fields) -> None:
        if self._once(prop, fields):
            fields.uid = unescape_text(prop.value).strip()

    def _text(self, prop: Property, fields: _Fields) -> None:
        if self._once(prop, fields):
            setattr(fields, _TEXT_FIELDS[prop.name], unescape_text(prop.value))

    def _comment(self, prop: Property, fields: _Fields) -> None:
        fields.comments.append(unescape_text(prop.value))

    def _url(self, prop: Property, fields: _Fields) -> None:
        if self._once(prop, fields) and prop.value.strip():
            fields.url = prop.value.strip()

    def _organizer(self, prop: Property, fields: _Fields) -> None:
        if not self._once(prop, fields):
            return
        email = parse_cal_address(prop.value)
        if not email:
            self._warn(prop, f"has no email address ({prop.value.strip()[:60]!r})")
        sent_by = parse_cal_address(prop.param("SENT-BY") or "") or None
        fields.organizer = Organizer(email=email, cn=_cn(prop), sent_by=sent_by)

    def _attendee(self, prop: Property, fields: _Fields) -> None:
        if len(fields.attendees) >= self._limits.max_attendees:
            raise over_limit(
                "max_attendees",
                len(fields.attendees) + 1,
                self._limits.max_attendees,
                "ATTENDEEs in one VEVENT",
            )
        email = parse_cal_address(prop.value)
        if not email:
            self._warn(prop, f"has no email address ({prop.value.strip()[:60]!r})")
        elif any(attendee.email == email for attendee in fields.attendees):
            self._warn(prop, f"{email} listed again: the first entry is kept")
            return
        fields.attendees.append(
            Attendee(
                email=email,
                cn=_cn(prop),
                role=_enum(Role, prop.param("ROLE"), Role.REQ_PARTICIPANT),
                partstat=_enum(PartStat, prop.param("PARTSTAT"), PartStat.NEEDS_ACTION),
                rsvp=parse_bool(prop.param("RSVP") or "") is True,
                cutype=_enum(CuType, prop.param("CUTYPE"), CuType.INDIVIDUAL, CuType.UNKNOWN),
                delegated_to=_addresses(prop.param_list("DELEGATED-TO")),
                delegated_from=_addresses(prop.param_list("DELEGATED-FROM")),
                sent_by=parse_cal_address(prop.param("SENT-BY") or "") or None,
                language=prop.param("LANGUAGE") or None,
            )
        )

    def _sequence(self, prop: Property, fields: _Fields) -> None:
        if not self._once(prop, fields):
            return
        value = parse_integer(prop.value)
        if value < 0:
            raise ValueError(f"negative SEQUENCE {value}")
        fields.sequence = value

    def _cdo_sequence(self, prop: Property, fields: _Fields) -> None:
        fields.extra.append((prop.name, prop.line))
        try:
            value = parse_integer(prop.value)
        except ValueError:
            return
        if value >= 0 and fields.cdo_sequence is None:
            fields.cdo_sequence = value

    def _dtstamp(self, prop: Property, fields: _Fields) -> None:
        if not self._once(prop, fields):
            return
        value = self._plain(self.time(prop))
        if not isinstance(value, dt.datetime):
            raise ValueError("DTSTAMP is a date, not a date-time")
        if value.tzinfo is None:
            # RFC 5545 section 3.8.7.2: DTSTAMP is UTC; a missing Z is a slip of the producer.
            self._warn(prop, "has no Z: read as UTC")
            value = value.replace(tzinfo=dt.UTC)
        fields.dtstamp = value.astimezone(dt.UTC)

    def _recurrence_id(self, prop: Property, fields: _Fields) -> None:
        if not self._once(prop, fields):
            return
        fields.recurrence_id = self._plain(self.time(prop))
        if (prop.param("RANGE") or "").upper() == "THISANDFUTURE":
            fields.this_and_future = True

    def _rrule(self, prop: Property, fields: _Fields) -> None:
        text = prop.value.strip()
        if fields.rrule is not None:
            if text == fields.rrule or text in fields.more_rrules:
                self._warn(prop, "repeated: the same rule is kept once")
                return
            if len(fields.more_rrules) + 2 > self._limits.max_rrules:
                raise over_limit(
                    "max_rrules",
                    len(fields.more_rrules) + 2,
                    self._limits.max_rrules,
                    "RRULEs in one VEVENT",
                )
            # RFC 5545 section 3.8.5.3 deprecates several RRULEs (Zimbra writes them); the
            # set of instances is still their union (RFC 2445 section 4.8.5.4).
            self._warn(prop, "is one of several: the instances of all of them are used")
        try:
            parse_recur(text)
        except ValueError as exc:
            self._warn(prop, f"cannot be expanded ({exc}); kept as written")
        if fields.rrule is None:
            fields.rrule = text
        else:
            fields.more_rrules.append(text)

    def _dates(self, prop: Property, target: list[DateOrDateTime]) -> None:
        for item in prop.value.split(","):
            if not item.strip():
                continue
            if len(target) >= self._limits.max_recurrence_instances:
                raise over_limit(
                    "max_recurrence_instances",
                    len(target) + 1,
                    self._limits.max_recurrence_instances,
                    f"{prop.name} values",
                )
            target.append(self._plain(self.time(prop, item)))

    def _rdate(self, prop: Property, fields: _Fields) -> None:
        self._dates(prop, fields.rdates)

    def _exdate(self, prop: Property, fields: _Fields) -> None:
        self._dates(prop, fields.exdates)

    def _status(self, prop: Property, fields: _Fields) -> None:
        if not self._once(prop, fields):
            return
        value = prop.value.strip().upper()
        if value in EventStatus.__members__.values():
            fields.status = EventStatus(value)
        else:
            self._warn(prop, f"{value[:30]!r} is not a VEVENT status: kept in extra")
            fields.extra.append((prop.name, prop.line))

    def _transp(self, prop: Property, fields: _Fields) -> None:
        if self._once(prop, fields):
            fields.transparent = prop.value.strip().upper() == "TRANSPARENT"


def _cn(prop: Property) -> str | None:
    value = prop.param("CN")
    if value is None:
        return None
    value = value.strip()
    return value or None


def _addresses(values: list[str]) -> tuple[str, ...]:
    return tuple(address for value in values if (address := parse_cal_address(value)))


def _enum(kind: type[_E], value: str | None, default: _E, unknown: _E | None = None) -> _E:
    if value is None:
        return default
    try:
        return kind(value.strip().upper())
    except ValueError:
        return unknown if unknown is not None else default
