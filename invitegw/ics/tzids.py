"""What IANA zone a producer's TZID means (:rfc:`5545` section 3.2.19), by name alone.

Producers write anything in TZID: an IANA name (Google, Apple, Thunderbird), one with a
vendor prefix (``/mozilla.org/20050126_1/Europe/Berlin``), a Windows zone name (Exchange:
``W. Europe Standard Time``, mapped with the CLDR table icalendar 7 ships), a Windows
display name (Outlook: ``(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna``,
older ``(GMT-05.00) Eastern Time (US & Canada)``), a bare offset (``GMT+0100``), or a
VTIMEZONE carrying Exchange 2003's numeric ``X-MICROSOFT-CDO-TZID``.

The answer here is a guess from the name; :mod:`invitegw.ics.timezones` checks it against
the producer's VTIMEZONE when there is one. Lookups are cached; nothing here does I/O
beyond reading the zoneinfo database through :mod:`zoneinfo`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

__all__ = ["ZoneGuess", "fixed_offset_zone", "guess_zone", "iana_zone"]

_LABEL = re.compile(
    r"\(?\s*(?:UTC|GMT)\s*(?:([+-])\s*(\d{1,2})(?:[:.]?(\d{2}))?)?\s*\)?\s*[:\-]?\s*(.*)",
    re.IGNORECASE | re.DOTALL,
)
_FIXED = re.compile(r"(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?:[:.]?(\d{2}))?", re.IGNORECASE)
_WINDOWS = {name.lower(): zone for name, zone in WINDOWS_TO_OLSON.items()}

# Windows display names that name a region rather than a city (matched as substrings of the
# lower-cased label, after the offset).
_REGIONS = {
    "coordinated universal time": "UTC",
    "greenwich mean time": "Europe/London",
    "eastern time (us": "America/New_York",
    "eastern time (u.s": "America/New_York",
    "central time (us": "America/Chicago",
    "central time (u.s": "America/Chicago",
    "mountain time (us": "America/Denver",
    "mountain time (u.s": "America/Denver",
    "pacific time (us": "America/Los_Angeles",
    "pacific time (u.s": "America/Los_Angeles",
    "atlantic time (canada)": "America/Halifax",
    "alaska": "America/Anchorage",
    "hawaii": "Pacific/Honolulu",
    "arizona": "America/Phoenix",
    "newfoundland": "America/St_Johns",
    "saskatchewan": "America/Regina",
    "indiana (east)": "America/Indiana/Indianapolis",
    "central america": "America/Guatemala",
    "brasilia": "America/Sao_Paulo",
    "mid-atlantic": "Atlantic/South_Georgia",
    "cape verde": "Atlantic/Cape_Verde",
    "west central africa": "Africa/Lagos",
    "international date line west": "Etc/GMT+12",
    "greenland": "America/Nuuk",
    "e. europe": "Europe/Chisinau",
    "baja california": "America/Tijuana",
    "eastern europe": "Europe/Bucharest",
}

# Exchange 2003 CDO zone numbers (CdoTimeZoneId), where the documented meaning is clear.
_CDO = {
    "0": "UTC",
    "1": "Europe/London",
    "3": "Europe/Paris",
    "4": "Europe/Berlin",
    "5": "Europe/Bucharest",
    "6": "Europe/Prague",
    "7": "Europe/Athens",
    "8": "America/Sao_Paulo",
    "9": "America/Halifax",
    "10": "America/New_York",
    "11": "America/Chicago",
    "12": "America/Denver",
    "13": "America/Los_Angeles",
    "14": "America/Anchorage",
    "15": "Pacific/Honolulu",
    "16": "Pacific/Midway",
    "17": "Pacific/Auckland",
    "18": "Australia/Brisbane",
    "19": "Australia/Adelaide",
    "20": "Asia/Tokyo",
    "21": "Asia/Singapore",
    "22": "Asia/Bangkok",
    "23": "Asia/Kolkata",
    "24": "Asia/Dubai",
    "25": "Asia/Tehran",
    "26": "Asia/Baghdad",
    "27": "Asia/Jerusalem",
    "28": "America/St_Johns",
    "29": "Atlantic/Azores",
}


class ZoneGuess:
    """A guessed zone: an IANA name, or a fixed offset when the TZID is one.

    ``how`` says in words how the name was understood, for a warning. ``authoritative``
    is true when the TZID *is* an IANA name (possibly with a vendor prefix): the IANA
    database then knows the zone better than any VTIMEZONE a producer copied once.
    """

    __slots__ = ("authoritative", "how", "iana", "zone")

    def __init__(
        self, zone: dt.tzinfo, iana: str | None, how: str, *, authoritative: bool = False
    ) -> None:
        self.zone = zone
        self.iana = iana
        self.how = how
        self.authoritative = authoritative


@functools.lru_cache(maxsize=1)
def _available() -> dict[str, str]:
    """Lower-cased IANA names -> canonical spelling, and last components -> full name."""
    names: dict[str, str] = {}
    for name in zoneinfo.available_timezones():
        names[name.lower()] = name
    for name in sorted(zoneinfo.available_timezones(), key=len, reverse=True):
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "Canada/")):
            names.setdefault("city:" + name.rsplit("/", 1)[1].lower(), name)
    return names


@functools.lru_cache(maxsize=1024)
def iana_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The IANA zone called ``name`` (any case); only names the database lists are opened.

    Parameters:
        name: a candidate IANA name.

    Returns:
        The zone, or ``None``.
    """
    canonical = _available().get(name.strip().lower())
    if canonical is None or name.lower().startswith("city:"):
        return None
    try:
        return zoneinfo.ZoneInfo(canonical)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def fixed_offset_zone(offset: dt.timedelta) -> dt.tzinfo:
    """A zone for a constant offset: ``Etc/GMT-1`` style for whole hours, else fixed.

    Parameters:
        offset: the offset east of UTC.

    Returns:
        UTC, an ``Etc/GMT...`` zone, or a ``datetime.timezone``.
    """
    if offset == dt.timedelta(0):
        return dt.UTC
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    if not rest and -12 <= hours <= 14:
        # POSIX sign: Etc/GMT-1 is one hour ahead of UTC.
        zone = iana_zone(f"Etc/GMT{-hours:+d}")
        if zone is not None:
            return zone
    return dt.timezone(offset)


@functools.lru_cache(maxsize=2048)
def guess_zone(tzid: str, cdo_id: str | None = None) -> ZoneGuess | None:
    """What ``tzid`` (and a VTIMEZONE's ``X-MICROSOFT-CDO-TZID``) most likely means.

    Parameters:
        tzid: the TZID as written (quotes removed, escapes decoded).
        cdo_id: the ``X-MICROSOFT-CDO-TZID`` of its VTIMEZONE, if any.

    Returns:
        The guess, or ``None`` when the name says nothing we can use.
    """
    name = tzid.strip().strip('"').strip()
    if not name or len(name) > 200:
        return None
    zone = iana_zone(name)
    if zone is not None:
        return ZoneGuess(zone, zone.key, "IANA name", authoritative=True)
    if name.startswith("/"):
        parts = [part for part in name.split("/") if part]
        for start in range(1, len(parts)):
            zone = iana_zone("/".join(parts[start:]))
            if zone is not None:
                return ZoneGuess(
                    zone, zone.key, "IANA name with a vendor prefix", authoritative=True
                )
    windows = _WINDOWS.get(name.lower())
    if windows is not None and (zone := iana_zone(windows)) is not None:
        return ZoneGuess(zone, zone.key, "Windows zone name (CLDR map)")
    guess = _from_label(name)
    if guess is not None:
        return guess
    if cdo_id is not None and (mapped := _CDO.get(cdo_id.strip())) is not None:
        zone = iana_zone(mapped)
        if zone is not None:
            return ZoneGuess(zone, zone.key, f"X-MICROSOFT-CDO-TZID {cdo_id.strip()}")
    return None


def _from_label(name: str) -> ZoneGuess | None:
    """``(UTC+01:00) Amsterdam, Berlin, ...``, ``(GMT-05.00) Eastern Time``, ``GMT+0100``."""
    match = _LABEL.fullmatch(name)
    if match is None:
        return None
    sign, hours, minutes, rest = match.groups()
    offset = dt.timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    if sign == "-":
        offset = -offset
    if offset > dt.timedelta(hours=14) or offset < dt.timedelta(hours=-12):
        return None
    rest = rest.strip().lower()
    if not rest:
        if _FIXED.fullmatch(name) or name.strip("() ").upper() in ("UTC", "GMT"):
            zone = fixed_offset_zone(offset)
            return ZoneGuess(zone, getattr(zone, "key", None), "fixed UTC offset")
        return None
    for key, candidate in _REGIONS.items():
        if key in rest:
            named = iana_zone(candidate)
            if named is not None and _has_standard_offset(named, offset):
                return ZoneGuess(named, named.key, "Windows display name")
    available = _available()
    for city in re.split(r"\s*(?:,|/|;| and |&)\s*", rest):
        full = available.get("city:" + city.strip(" .()").replace(" ", "_"))
        named = iana_zone(full) if full is not None else None
        if named is not None and _has_standard_offset(named, offset):
            return ZoneGuess(named, named.key, "Windows display name (city)")
    return None


def _has_standard_offset(zone: zoneinfo.ZoneInfo, offset: dt.timedelta) -> bool:
    """Whether ``zone`` has the label's (standard) offset in January or July of late."""
    for month in (1, 7):
        moment = dt.datetime(2025, month, 15, 12, tzinfo=zone)
        if moment.utcoffset() == offset:
            return True
    return False
