"""What IANA zone a producer's TZID means (:rfc:`5545` section 3.2.19), by name alone.

Producers write anything in TZID. What real invitations hold, and how each is read, in the
order tried:

1. an IANA name (Google, Apple, Thunderbird), any case: that zone;
2. an IANA name behind a vendor prefix (``/mozilla.org/20070129_1/Europe/Paris``,
   ``/freeassociation.sourceforge.net/Tzfile/Europe/Berlin``, ``/citadel.org/...``, or
   just ``/Europe/Stockholm``): the longest suffix that is an IANA name;
3. a Windows zone id (Exchange: ``W. Europe Standard Time``), also in the spellings of
   older Windows versions (``A.U.S. Eastern Standard Time``): the CLDR ``windowsZones``
   map icalendar 7 ships (``icalendar.timezone.windows_to_olson``), under today's IANA
   name (CLDR's ``Asia/Calcutta`` is read as ``Asia/Kolkata``, by Babel's CLDR aliases);
4. a Windows display name, with or without its ``(UTC+01:00)``/``(GMT+01.00)`` prefix, in
   today's and in Windows XP/2003's wording (``Brussels, Copenhagen, Madrid, Paris``,
   ``Pacific Time (US & Canada); Tijuana``); Zimbra writes the same with ``" / "``
   between the cities. No installed library has these names, so :data:`_DISPLAY_NAMES`
   holds them (source: Microsoft's "Microsoft Time Zone Index Values" and "Default Time
   Zones" lists), each mapped to a Windows id and so through the CLDR map;
5. a bare offset (``GMT+0100``, ``UTC``): a fixed-offset zone.

Those are names (*authoritative*: the IANA database knows the zone better than a
VTIMEZONE a producer copied once). What follows are guesses, which a VTIMEZONE that
disagrees overrides (:mod:`invitegw.ics.timezones`):

6. Exchange 2003's numeric ``X-MICROSOFT-CDO-TZID`` on the VTIMEZONE;
7. Entourage / Outlook for Mac's ``GMT -0500 (Standard) / GMT -0400 (Daylight)``: the
   main zone with those two offsets (:data:`_ENTOURAGE`);
8. a Windows id cut short (Lotus Notes' ``W. Europe``, ``FLE``, ``Eastern``) or written
   with ``Daylight`` for ``Standard``;
9. a CLDR metazone name in English (``Eastern Time``, ``Central European Summer Time``)
   from Babel's CLDR data, when the name leads to one zone;
10. a display name with something added (``..., Tijuana`` in another wording, a
    ``- Custom`` suffix), a region (``Western/Central Europe``), or a list of cities
    (``Amsterdam, Berlin, Bern, Rom, Stockholm, Wien`` from a German Outlook).

Matching ignores case, spacing around punctuation, ``&`` versus ``and``, and ``,``/``;``/
``/`` as separators. When a label carries an offset, a guessed zone must have had that
standard offset at some time since 1970. Lookups are cached; nothing here does I/O beyond
reading the zoneinfo database and Babel's CLDR data.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from enum import StrEnum

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

__all__ = ["NameKind", "ZoneGuess", "fixed_offset_zone", "guess_zone", "iana_zone"]


class NameKind(StrEnum):
    """How a TZID was recognised: as a name of a zone, or by a guess."""

    IANA = "IANA name"
    WINDOWS = "Windows name"
    FIXED = "fixed offset"
    GUESS = "guess"


class ZoneGuess:
    """A zone a TZID was understood to mean: an IANA zone, or a fixed offset.

    ``how`` says in words how the name was understood, for a warning. ``kind`` says whether
    it *is* a name of that zone (IANA, possibly with a vendor prefix, or Windows) or only a
    guess; ``authoritative`` is true for the names: the IANA database then knows the zone
    better than any VTIMEZONE a producer copied once.
    """

    __slots__ = ("how", "iana", "kind", "zone")

    def __init__(self, zone: dt.tzinfo, iana: str | None, how: str, kind: NameKind) -> None:
        self.zone = zone
        self.iana = iana
        self.how = how
        self.kind = kind

    @property
    def authoritative(self) -> bool:
        """True when the TZID is an IANA or Windows name of the zone, not a guess."""
        return self.kind in (NameKind.IANA, NameKind.WINDOWS)

    def __repr__(self) -> str:
        return f"ZoneGuess({self.iana or self.zone!s}, {self.how!r}, {self.kind.name})"


# -- tables -----------------------------------------------------------------------------------

# Windows ids as older Windows versions spelled them (Microsoft Time Zone Index Values,
# KB 973627), where dots and spaces alone do not make the difference.
_LEGACY_WINDOWS_IDS = {
    "Transitional Islamic State of Afghanistan Standard Time": "Afghanistan Standard Time",
    "Fiji Islands Standard Time": "Fiji Standard Time",
    "Newfoundland and Labrador Standard Time": "Newfoundland Standard Time",
    "Mexico Standard Time": "Central Standard Time (Mexico)",
    "Mexico Standard Time 2": "Mountain Standard Time (Mexico)",
    "Armenian Standard Time": "Caucasus Standard Time",
    "Mid-Atlantic Standard Time": "UTC-02",
    "Kamchatka Standard Time": "Russia Time Zone 11",
    "Jerusalem Standard Time": "Israel Standard Time",
}

# Windows display names (the registry's "Display" value) without their offset prefix:
# today's wording, then the Windows XP/2003 one (Microsoft Time Zone Index Values,
# KB 973627; "Default Time Zones", Windows hardware documentation). Each maps to its
# Windows id, read through the CLDR map; an IANA name is given instead where the id has
# changed meaning since (Samoa Standard Time was UTC-11 when it named Midway and Samoa).
_DISPLAY_NAMES = {
    "International Date Line West": "Dateline Standard Time",
    "Coordinated Universal Time-11": "UTC-11",
    "Aleutian Islands": "Aleutian Standard Time",
    "Hawaii": "Hawaiian Standard Time",
    "Marquesas Islands": "Marquesas Standard Time",
    "Alaska": "Alaskan Standard Time",
    "Coordinated Universal Time-09": "UTC-09",
    "Baja California": "Pacific Standard Time (Mexico)",
    "Tijuana, Baja California": "Pacific Standard Time (Mexico)",
    "Coordinated Universal Time-08": "UTC-08",
    "Pacific Time (US & Canada)": "Pacific Standard Time",
    "Pacific Time (US & Canada); Tijuana": "Pacific Standard Time",
    "Arizona": "US Mountain Standard Time",
    "Chihuahua, La Paz, Mazatlan": "Mountain Standard Time (Mexico)",
    "Chihuahua, La Paz, Mazatlan - New": "Mountain Standard Time (Mexico)",
    "La Paz, Mazatlan": "Mountain Standard Time (Mexico)",
    "Mountain Time (US & Canada)": "Mountain Standard Time",
    "Yukon": "Yukon Standard Time",
    "Central America": "Central America Standard Time",
    "Central Time (US & Canada)": "Central Standard Time",
    "Easter Island": "Easter Island Standard Time",
    "Guadalajara, Mexico City, Monterrey": "Central Standard Time (Mexico)",
    "Guadalajara, Mexico City, Monterrey - New": "Central Standard Time (Mexico)",
    "Saskatchewan": "Canada Central Standard Time",
    "Bogota, Lima, Quito": "SA Pacific Standard Time",
    "Bogota, Lima, Quito, Rio Branco": "SA Pacific Standard Time",
    "Chetumal": "Eastern Standard Time (Mexico)",
    "Eastern Time (US & Canada)": "Eastern Standard Time",
    "Haiti": "Haiti Standard Time",
    "Havana": "Cuba Standard Time",
    "Indiana (East)": "US Eastern Standard Time",
    "Turks and Caicos": "Turks And Caicos Standard Time",
    "Asuncion": "Paraguay Standard Time",
    "Atlantic Time (Canada)": "Atlantic Standard Time",
    "Caracas": "Venezuela Standard Time",
    "Caracas, La Paz": "America/Caracas",
    "Cuiaba": "Central Brazilian Standard Time",
    "Manaus": "Central Brazilian Standard Time",
    "Georgetown, La Paz, Manaus, San Juan": "SA Western Standard Time",
    "Georgetown, La Paz, San Juan": "SA Western Standard Time",
    "Santiago": "Pacific SA Standard Time",
    "Newfoundland": "Newfoundland Standard Time",
    "Newfoundland and Labrador": "Newfoundland Standard Time",
    "Araguaina": "Tocantins Standard Time",
    "Brasilia": "E. South America Standard Time",
    "Cayenne, Fortaleza": "SA Eastern Standard Time",
    "Georgetown": "SA Eastern Standard Time",
    "City of Buenos Aires": "Argentina Standard Time",
    "Buenos Aires": "Argentina Standard Time",
    "Buenos Aires, Georgetown": "Argentina Standard Time",
    "Greenland": "Greenland Standard Time",
    "Montevideo": "Montevideo Standard Time",
    "Punta Arenas": "Magallanes Standard Time",
    "Saint Pierre and Miquelon": "Saint Pierre Standard Time",
    "Salvador": "Bahia Standard Time",
    "Coordinated Universal Time-02": "UTC-02",
    "Mid-Atlantic": "UTC-02",
    "Mid-Atlantic - Old": "UTC-02",
    "Azores": "Azores Standard Time",
    "Cabo Verde Is.": "Cape Verde Standard Time",
    "Cape Verde Is.": "Cape Verde Standard Time",
    "Cape Verde Islands": "Cape Verde Standard Time",
    "Coordinated Universal Time": "Etc/UTC",
    "Dublin, Edinburgh, Lisbon, London": "GMT Standard Time",
    "Greenwich Mean Time: Dublin, Edinburgh, Lisbon, London": "GMT Standard Time",
    "Monrovia, Reykjavik": "Greenwich Standard Time",
    "Casablanca, Monrovia": "Greenwich Standard Time",
    "Casablanca, Monrovia, Reykjavik": "Greenwich Standard Time",
    "Sao Tome": "Sao Tome Standard Time",
    "Casablanca": "Morocco Standard Time",
    "Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna": "W. Europe Standard Time",
    "Belgrade, Bratislava, Budapest, Ljubljana, Prague": "Central Europe Standard Time",
    "Brussels, Copenhagen, Madrid, Paris": "Romance Standard Time",
    "Sarajevo, Skopje, Warsaw, Zagreb": "Central European Standard Time",
    "Sarajevo, Skopje, Sofija, Vilnius, Warsaw, Zagreb": "Central European Standard Time",
    "West Central Africa": "W. Central Africa Standard Time",
    "Windhoek": "Namibia Standard Time",
    "Amman": "Jordan Standard Time",
    "Athens, Bucharest": "GTB Standard Time",
    "Athens, Bucharest, Istanbul": "GTB Standard Time",
    "Athens, Istanbul, Minsk": "GTB Standard Time",
    "Athens, Beirut, Istanbul, Minsk": "GTB Standard Time",
    "Bucharest": "E. Europe Standard Time",
    "Beirut": "Middle East Standard Time",
    "Cairo": "Egypt Standard Time",
    "Chisinau": "E. Europe Standard Time",
    "E. Europe": "E. Europe Standard Time",
    "Damascus": "Syria Standard Time",
    "Gaza, Hebron": "West Bank Standard Time",
    "Harare, Pretoria": "South Africa Standard Time",
    "Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius": "FLE Standard Time",
    "Helsinki, Kiev, Riga, Sofia, Tallinn, Vilnius": "FLE Standard Time",
    "Jerusalem": "Israel Standard Time",
    "Juba": "South Sudan Standard Time",
    "Kaliningrad": "Kaliningrad Standard Time",
    "Khartoum": "Sudan Standard Time",
    "Tripoli": "Libya Standard Time",
    "Baghdad": "Arabic Standard Time",
    "Istanbul": "Turkey Standard Time",
    "Kuwait, Riyadh": "Arab Standard Time",
    "Minsk": "Belarus Standard Time",
    "Moscow, St. Petersburg": "Russian Standard Time",
    "Moscow, St. Petersburg, Volgograd": "Russian Standard Time",
    "Nairobi": "E. Africa Standard Time",
    "Volgograd": "Volgograd Standard Time",
    "Tehran": "Iran Standard Time",
    "Abu Dhabi, Muscat": "Arabian Standard Time",
    "Astrakhan, Ulyanovsk": "Astrakhan Standard Time",
    "Baku": "Azerbaijan Standard Time",
    "Baku, Tbilisi, Yerevan": "Caucasus Standard Time",
    "Izhevsk, Samara": "Russia Time Zone 3",
    "Port Louis": "Mauritius Standard Time",
    "Saratov": "Saratov Standard Time",
    "Tbilisi": "Georgian Standard Time",
    "Yerevan": "Caucasus Standard Time",
    "Kabul": "Afghanistan Standard Time",
    "Ashgabat, Tashkent": "West Asia Standard Time",
    "Tashkent": "West Asia Standard Time",
    "Ekaterinburg": "Ekaterinburg Standard Time",
    "Islamabad, Karachi": "Pakistan Standard Time",
    "Islamabad, Karachi, Tashkent": "Pakistan Standard Time",
    "Qyzylorda": "Qyzylorda Standard Time",
    "Chennai, Kolkata, Mumbai, New Delhi": "India Standard Time",
    "Sri Jayawardenepura": "Sri Lanka Standard Time",
    "Kathmandu": "Nepal Standard Time",
    "Astana": "Central Asia Standard Time",
    "Astana, Dhaka": "Central Asia Standard Time",
    "Dhaka": "Bangladesh Standard Time",
    "Omsk": "Omsk Standard Time",
    "Almaty, Novosibirsk": "Asia/Almaty",
    "Yangon (Rangoon)": "Myanmar Standard Time",
    "Rangoon": "Myanmar Standard Time",
    "Bangkok, Hanoi, Jakarta": "SE Asia Standard Time",
    "Barnaul, Gorno-Altaysk": "Altai Standard Time",
    "Hovd": "W. Mongolia Standard Time",
    "Krasnoyarsk": "North Asia Standard Time",
    "Novosibirsk": "N. Central Asia Standard Time",
    "Tomsk": "Tomsk Standard Time",
    "Beijing, Chongqing, Hong Kong, Urumqi": "China Standard Time",
    "Irkutsk": "North Asia East Standard Time",
    "Irkutsk, Ulaan Bataar": "North Asia East Standard Time",
    "Irkutsk, Ulaanbaatar": "North Asia East Standard Time",
    "Kuala Lumpur, Singapore": "Singapore Standard Time",
    "Perth": "W. Australia Standard Time",
    "Taipei": "Taipei Standard Time",
    "Ulaanbaatar": "Ulaanbaatar Standard Time",
    "Eucla": "Aus Central W. Standard Time",
    "Chita": "Transbaikal Standard Time",
    "Osaka, Sapporo, Tokyo": "Tokyo Standard Time",
    "Pyongyang": "North Korea Standard Time",
    "Seoul": "Korea Standard Time",
    "Yakutsk": "Yakutsk Standard Time",
    "Adelaide": "Cen. Australia Standard Time",
    "Darwin": "AUS Central Standard Time",
    "Brisbane": "E. Australia Standard Time",
    "Canberra, Melbourne, Sydney": "AUS Eastern Standard Time",
    "Guam, Port Moresby": "West Pacific Standard Time",
    "Hobart": "Tasmania Standard Time",
    "Vladivostok": "Vladivostok Standard Time",
    "Lord Howe Island": "Lord Howe Standard Time",
    "Bougainville Island": "Bougainville Standard Time",
    "Chokurdakh": "Russia Time Zone 10",
    "Magadan": "Magadan Standard Time",
    "Magadan, Solomon Is., New Caledonia": "Pacific/Guadalcanal",
    "Magadan, Solomon Islands, New Caledonia": "Pacific/Guadalcanal",
    "Norfolk Island": "Norfolk Standard Time",
    "Sakhalin": "Sakhalin Standard Time",
    "Solomon Is., New Caledonia": "Central Pacific Standard Time",
    "Anadyr, Petropavlovsk-Kamchatsky": "Russia Time Zone 11",
    "Petropavlovsk-Kamchatsky": "Russia Time Zone 11",
    "Petropavlovsk-Kamchatsky - Old": "Russia Time Zone 11",
    "Auckland, Wellington": "New Zealand Standard Time",
    "Coordinated Universal Time+12": "UTC+12",
    "Fiji": "Fiji Standard Time",
    "Fiji, Kamchatka, Marshall Is.": "Pacific/Fiji",
    "Chatham Islands": "Chatham Islands Standard Time",
    "Coordinated Universal Time+13": "UTC+13",
    "Nuku'alofa": "Tonga Standard Time",
    "Samoa": "Samoa Standard Time",
    "Midway Island, Samoa": "Pacific/Pago_Pago",
    "Kiritimati Island": "Line Islands Standard Time",
}

# Region labels (no offset, no city) seen in invitations, each read as the Windows zone of
# that region. A guess: a VTIMEZONE that disagrees overrides it.
_REGION_LABELS = {
    "Western/Central Europe": "W. Europe Standard Time",
    "Central Europe": "Central Europe Standard Time",
    "Western Europe": "GMT Standard Time",
    "Eastern Europe": "E. Europe Standard Time",
    "Greenwich Mean Time": "GMT Standard Time",
}

# Windows display names that name a region rather than a city (matched as substrings of the
# lower-cased label, after the offset, which must match).
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

# Entourage / Outlook for Mac names give only the standard and daylight offsets (minutes):
# the zone most people with that pair live in, as the DST rules then follow (US rules for
# the North American pairs, EU rules for the European ones). A pair without DST is a fixed
# offset and needs no table.
_ENTOURAGE = {
    (0, 60): "Europe/London",
    (60, 120): "Europe/Berlin",
    (120, 180): "Europe/Helsinki",
    (180, 240): "Europe/Moscow",
    (210, 270): "Asia/Tehran",
    (-60, 0): "Atlantic/Azores",
    (-180, -120): "America/Sao_Paulo",
    (-210, -150): "America/St_Johns",
    (-240, -180): "America/Halifax",
    (-300, -240): "America/New_York",
    (-360, -300): "America/Chicago",
    (-420, -360): "America/Denver",
    (-480, -420): "America/Los_Angeles",
    (-540, -480): "America/Anchorage",
    (-600, -540): "America/Adak",
    (570, 630): "Australia/Adelaide",
    (600, 660): "Australia/Sydney",
    (720, 780): "Pacific/Auckland",
}

_LABEL = re.compile(
    r"\(?\s*(?:UTC|GMT)\s*(?:([+-])\s*(\d{1,2})(?:[:.]?(\d{2}))?)?\s*\)?\s*[:\-]?\s*(.*)",
    re.IGNORECASE | re.DOTALL,
)
_FIXED = re.compile(r"(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?:[:.]?(\d{2}))?", re.IGNORECASE)
_ENTOURAGE_NAME = re.compile(
    r"(?:GMT|UTC)\s*([+-])\s*(\d{2})[:.]?(\d{2})\s*\(\s*standard\s*\)\s*/\s*"
    r"(?:GMT|UTC)\s*([+-])\s*(\d{2})[:.]?(\d{2})\s*\(\s*daylight\s*\)",
    re.IGNORECASE,
)
_SAMPLE_YEARS = range(1970, 2036)


# -- the database and the tables, indexed -----------------------------------------------------


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


def _compact(name: str) -> str:
    """A Windows id without case, spaces and dots (``A.U.S. Eastern`` = ``AUS Eastern``)."""
    return re.sub(r"[\s.]+", "", name.lower())


@functools.lru_cache(maxsize=1)
def _canonical_names() -> dict[str, str]:
    """CLDR's alias -> canonical IANA name (``Asia/Calcutta`` -> ``Asia/Kolkata``), via Babel.

    The CLDR Windows map keeps CLDR's stable ids, some of which IANA has since renamed;
    reading them under today's name keeps one zone one name whichever way it was written.
    """
    try:
        from babel.core import get_global
    except ImportError:  # pragma: no cover - babel is a dependency of the gateway
        return {}
    available = _available()
    return {
        alias: canonical
        for alias, canonical in get_global("zone_aliases").items()
        if canonical.lower() in available
    }


def _target(value: str) -> str:
    """A table value (a Windows id or an IANA name) as a canonical IANA name."""
    name = WINDOWS_TO_OLSON.get(value, value)
    return _canonical_names().get(name, name)


@functools.lru_cache(maxsize=1)
def _windows() -> dict[str, str]:
    """Compacted Windows ids (today's and older spellings) -> IANA name (CLDR map)."""
    table = {_compact(name): _target(name) for name in WINDOWS_TO_OLSON}
    for old, new in _LEGACY_WINDOWS_IDS.items():
        table.setdefault(_compact(old), _target(new))
    return table


def _display_key(text: str) -> str:
    """``text`` with case, spacing, ``&``/``and`` and the list separators made uniform."""
    text = text.lower().replace("&", " and ").replace("u.s.", "us")
    text = re.sub(r"\(\s*rtz\s*\d+\s*\)", " ", text)  # "(RTZ 2)": Russian zone numbers
    text = re.sub(r"\s*([,;/:()])\s*", r"\1", text)
    text = re.sub(r"[;/]", ",", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip(" ,.:-")


@functools.lru_cache(maxsize=1)
def _display_names() -> dict[str, str]:
    """Normalised display names -> IANA name."""
    return {_display_key(name): _target(value) for name, value in _DISPLAY_NAMES.items()}


@functools.lru_cache(maxsize=1)
def _region_labels() -> dict[str, str]:
    return {_display_key(name): _target(value) for name, value in _REGION_LABELS.items()}


@functools.lru_cache(maxsize=1)
def _display_cities() -> dict[str, frozenset[str]]:
    """Each city of a display name -> the IANA names of the display names listing it."""
    cities: dict[str, set[str]] = {}
    for key, zone in _display_names().items():
        for city in key.split(","):
            if city and "(" not in city and "time" not in city:
                cities.setdefault(city, set()).add(zone)
    return {city: frozenset(zones) for city, zones in cities.items()}


@functools.lru_cache(maxsize=1)
def _metazone_names() -> dict[str, str]:
    """CLDR English metazone names (``eastern time``) -> one IANA name, via Babel.

    A metazone covers several zones; the name is read as the zone its CLDR standard name
    maps to when that is also a Windows id of one of them (``Eastern Standard Time``),
    else as the Windows zones of the metazone when they all agree on their offsets since
    2010, else not at all. A name shared by several metazones (``Greenwich Mean Time``) is
    left out.
    """
    try:
        from babel import Locale
        from babel.core import get_global
    except ImportError:  # pragma: no cover - babel is a dependency of the gateway
        return {}
    members: dict[str, list[str]] = {}
    for member, meta in get_global("meta_zones").items():
        members.setdefault(meta, []).append(member)
    windows_targets = {_target(name) for name in WINDOWS_TO_OLSON}
    found: dict[str, str | None] = {}
    for meta, names in Locale("en").meta_zones.items():
        zone = _metazone_zone(
            meta,
            sorted(members.get(meta, ())),
            names.get("long", {}).get("standard"),
            windows_targets,
        )
        if zone is None:
            continue
        for label in names.get("long", {}).values():
            key = _display_key(str(label))
            found[key] = zone if found.get(key, zone) == zone else None
    return {key: zone for key, zone in found.items() if zone is not None}


def _metazone_zone(
    meta: str, zones: list[str], standard: object, windows_targets: set[str]
) -> str | None:
    direct = _target(standard) if isinstance(standard, str) else None
    if direct is not None and direct in zones:
        return direct  # but CLDR's "Arabian" is not Windows' (Riyadh, not Dubai)
    named = [zone for zone in zones if zone.rsplit("/", 1)[-1] == meta]
    if len(named) == 1:
        return named[0]  # the metazone "Moscow" is named after Europe/Moscow
    candidates = [zone for zone in zones if zone in windows_targets] or zones
    opened = [zone for name in candidates if (zone := iana_zone(name)) is not None]
    if not opened or len({_recent_offsets(zone) for zone in opened}) != 1:
        return None
    return opened[0].key


# -- offsets ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _recent_offsets(zone: zoneinfo.ZoneInfo) -> tuple[dt.timedelta | None, ...]:
    return tuple(
        dt.datetime(year, month, 15, 12, tzinfo=zone).utcoffset()
        for year in range(2010, 2036)
        for month in (1, 7)
    )


@functools.lru_cache(maxsize=1024)
def _standard_offsets(zone: zoneinfo.ZoneInfo) -> frozenset[dt.timedelta]:
    """Every standard offset ``zone`` had in January or July since 1970.

    A display name's offset is the standard one; a zone whose DST is negative in the
    database (Europe/Dublin) also counts its winter offset.
    """
    found: set[dt.timedelta] = set()
    for year in _SAMPLE_YEARS:
        for month in (1, 7):
            moment = dt.datetime(year, month, 15, 12, tzinfo=zone)
            offset, dst = moment.utcoffset(), moment.dst()
            if offset is None or dst is None:
                continue
            found.add(offset - dst)
            if dst < dt.timedelta(0):
                found.add(offset)
    return frozenset(found)


def _offset_fits(zone: dt.tzinfo, offset: dt.timedelta | None) -> bool:
    if offset is None:
        return True
    if isinstance(zone, zoneinfo.ZoneInfo):
        return offset in _standard_offsets(zone)
    return zone.utcoffset(None) == offset


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


# -- the guess --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2048)
def guess_zone(tzid: str, cdo_id: str | None = None) -> ZoneGuess | None:
    """What ``tzid`` (and a VTIMEZONE's ``X-MICROSOFT-CDO-TZID``) most likely means.

    Parameters:
        tzid: the TZID as written (quotes removed, escapes decoded).
        cdo_id: the ``X-MICROSOFT-CDO-TZID`` of its VTIMEZONE, if any.

    Returns:
        The zone with how it was recognised (see the module docstring for the order), or
        ``None`` when the name says nothing we can use.
    """
    name = tzid.strip().strip('"').strip()
    if not name or len(name) > 200:
        return None
    # Outlook escapes the commas of a display name as TEXT (RFC 5545 section 3.3.11) in
    # the VTIMEZONE; some producers copy that spelling into the TZID parameter too.
    name = name.replace("\\,", ",").replace("\\;", ";")
    named = _named(name)
    if named is not None:
        return named
    offset, rest = _split_label(name)
    if offset is not None and not rest:
        if _FIXED.fullmatch(name) or name.strip("() ").upper() in ("UTC", "GMT"):
            fixed = fixed_offset_zone(offset)
            return ZoneGuess(fixed, getattr(fixed, "key", None), "fixed UTC offset", NameKind.FIXED)
        return None
    if offset is not None and (named := _named(rest)) is not None:
        return named  # "(GMT -05.00) America/New_York"
    display = _display_names().get(_display_key(rest))
    zone = iana_zone(display) if display is not None else None
    if zone is not None and _offset_fits(zone, offset):
        return ZoneGuess(zone, zone.key, "Windows display name", NameKind.WINDOWS)
    if cdo_id is not None and (mapped := _CDO.get(cdo_id.strip())) is not None:
        cdo_zone = iana_zone(mapped)
        if cdo_zone is not None:
            return ZoneGuess(
                cdo_zone, cdo_zone.key, f"X-MICROSOFT-CDO-TZID {cdo_id.strip()}", NameKind.GUESS
            )
    return _guessed(name, rest, offset)


def _named(name: str) -> ZoneGuess | None:
    """An IANA name, one behind a vendor prefix, or a Windows id."""
    zone = iana_zone(name)
    if zone is not None:
        return ZoneGuess(zone, zone.key, "IANA name", NameKind.IANA)
    if "/" in name:
        parts = [part for part in name.split("/") if part.strip()]
        leading = name.startswith("/")
        # The longest suffix that is an IANA name. "/Europe/Stockholm" has only a slash in
        # front; without a leading slash the whole name was tried above, and a suffix needs
        # two components, so that the last city of "Sarajevo/Warsaw/Zagreb" is not taken.
        first, shortest = (0, 1) if leading else (1, 2)
        for start in range(first, len(parts) - shortest + 1):
            zone = iana_zone("/".join(parts[start:]))
            if zone is not None:
                how = (
                    "IANA name with a leading slash"
                    if leading and start == 0
                    else "IANA name with a vendor prefix"
                )
                return ZoneGuess(zone, zone.key, how, NameKind.IANA)
    windows = _windows().get(_compact(name))
    if windows is not None and (zone := iana_zone(windows)) is not None:
        return ZoneGuess(zone, zone.key, "Windows zone name (CLDR map)", NameKind.WINDOWS)
    return None


def _split_label(name: str) -> tuple[dt.timedelta | None, str]:
    """``(UTC+01:00) rest`` -> (+1 hour, ``rest``); a name without the prefix: (None, name)."""
    match = _LABEL.fullmatch(name)
    if match is None:
        return None, name
    sign, hours, minutes, rest = match.groups()
    offset = dt.timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    if sign == "-":
        offset = -offset
    if offset > dt.timedelta(hours=14) or offset < dt.timedelta(hours=-12):
        return None, name
    return offset, rest.strip()


def _guess(zone_name: str | None, how: str, offset: dt.timedelta | None) -> ZoneGuess | None:
    zone = iana_zone(zone_name) if zone_name else None
    if zone is None or not _offset_fits(zone, offset):
        return None
    return ZoneGuess(zone, zone.key, how, NameKind.GUESS)


def _guessed(name: str, rest: str, offset: dt.timedelta | None) -> ZoneGuess | None:
    """The guesses, in order (module docstring, items 7 to 10)."""
    entourage = _ENTOURAGE_NAME.search(name)
    if entourage is not None:
        return _entourage(entourage)
    key = _display_key(rest)
    windows = _windows()
    for written in dict.fromkeys((name, rest)):
        # Lotus Notes cuts the id short ("W. Europe"); some write "Daylight" for "Standard".
        for candidate in (f"{written} Standard Time", re.sub(r"(?i)daylight", "Standard", written)):
            zone_name = windows.get(_compact(candidate))
            if zone_name is not None and candidate != written:
                return _guess(zone_name, "Windows zone name, shortened", offset)
    guess = _guess(_metazone_names().get(key), "CLDR metazone name", offset)
    if guess is not None:
        return guess
    guess = _guess(_region_labels().get(key), "region name", offset)
    if guess is not None:
        return guess
    segments = key.split(",")
    # Something added after a known display name: "..., Tijuana", "... - Custom".
    shorter = [",".join(segments[:count]) for count in range(len(segments) - 1, 0, -1)]
    head = re.sub(r"\s*-\s*[^-,()]*$", "", key)
    shorter += [head] if head != key else []
    for prefix in shorter:
        guess = _guess(_display_names().get(prefix), "Windows display name, extended", offset)
        if guess is not None:
            return guess
    lowered = rest.lower()
    for region, zone_name in _REGIONS.items():
        if region in lowered and (guess := _guess(zone_name, "Windows display name", offset)):
            return guess
    return _cities(segments, offset)


def _entourage(match: re.Match[str]) -> ZoneGuess | None:
    values = match.groups()
    standard, daylight = (
        (-1 if sign == "-" else 1) * (int(hours) * 60 + int(minutes))
        for sign, hours, minutes in (values[:3], values[3:])
    )
    if standard == daylight:
        zone = fixed_offset_zone(dt.timedelta(minutes=standard))
        return ZoneGuess(zone, getattr(zone, "key", None), "Entourage offsets", NameKind.GUESS)
    return _guess(_ENTOURAGE.get((standard, daylight)), "Entourage offsets", None)


def _cities(segments: list[str], offset: dt.timedelta | None) -> ZoneGuess | None:
    """A list of cities: the display name most of them belong to, else the first IANA city."""
    segments = [city for segment in segments for city in segment.split(" and ")]
    votes: dict[str, int] = {}
    for city in segments:
        for zone_name in _display_cities().get(city.strip(" .()"), ()):
            votes[zone_name] = votes.get(zone_name, 0) + 1
    ranked = sorted(votes.items(), key=lambda item: (-item[1], item[0]))
    if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
        guess = _guess(ranked[0][0], "Windows display name (cities)", offset)
        if guess is not None:
            return guess
    available = _available()
    for city in segments:
        full = available.get("city:" + city.strip(" .()").replace(" ", "_"))
        guess = _guess(full, "Windows display name (city)", offset)
        if guess is not None:
            return guess
    return None
