"""Turning a wall-clock time with a TZID into an aware time, for one calendar object.

The rules (:rfc:`5545` sections 3.2.19, 3.3.5 and 3.6.5, and what real clients send):

1. ``...Z`` is UTC whatever TZID says.
2. A TZID that *is* a zone's name, an IANA name (``Europe/Berlin``, also behind a vendor
   prefix) or a Windows one (``W. Europe Standard Time``, or its display name): the IANA
   zone, even when the VTIMEZONE disagrees: producers copy VTIMEZONEs once and keep
   sending them after the rules change, or truncate them (eM Client sends
   America/New_York with the 2007 onsets and no rule; Exchange sends this year's rule for
   a meeting in 2005), as Thunderbird and icalendar also conclude. The disagreement is
   reported as a :class:`~invitegw.ics.model.ZoneNote` (and a warning).
3. Any other TZID with a VTIMEZONE (a custom label, a name we only guessed from): the
   VTIMEZONE is what the sender's client used, so it decides, as :rfc:`5545` says. If the
   guessed IANA zone gives the same offsets (at the time being read and half a year
   later), that zone is used (and recorded as ``tzid``), since it also knows the other
   dates of a series; if they disagree, the VTIMEZONE is used and a note says so.
4. A TZID without a VTIMEZONE: the IANA zone it names or suggests, else the calendar's
   X-WR-TIMEZONE (Google), else the time stays *floating* with a note. A wall-clock time
   is never read as UTC just because its zone is unknown.
5. A time without TZID and without ``Z`` is floating, unless the calendar has an
   X-WR-TIMEZONE naming an IANA zone (Google's exports), which then applies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from invitegw.ics.lexer import Component
from invitegw.ics.model import ZoneNote, ZoneNoteKind
from invitegw.ics.tzids import NameKind, ZoneGuess, guess_zone
from invitegw.ics.values import unescape_text
from invitegw.ics.vtimezone import ObservanceZone, compile_vtimezone

__all__ = ["Localized", "ZoneResolver"]

_HALF_YEAR = dt.timedelta(days=182)


@dataclass(frozen=True, slots=True)
class Localized:
    """A time read in its zone: the value, the IANA zone name (or ``None``), the TZID."""

    value: dt.datetime
    tzid: str | None
    original_tzid: str | None


@dataclass(slots=True)
class _Choice:
    zone: dt.tzinfo | None
    iana: str | None


@dataclass(slots=True)
class ZoneResolver:
    """Resolves the TZIDs of one VCALENDAR; collects warnings about what it decided.

    ``notes`` hold the decisions worth recording beside a task (a VTIMEZONE that
    disagrees with the zone's name, a zone guessed from a name alone, a floating time), as
    :class:`~invitegw.ics.model.ZoneNote` values, one per TZID; their text is among the
    ``warnings`` too.

    Parameters:
        vtimezones: the calendar's VTIMEZONE components.
        x_wr_timezone: the calendar's X-WR-TIMEZONE value, if any.
    """

    vtimezones: list[Component]
    x_wr_timezone: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[ZoneNote] = field(default_factory=list)
    _notes_by_tzid: dict[str, list[ZoneNote]] = field(default_factory=dict)
    _by_tzid: dict[str, Component] = field(default_factory=dict)
    _choices: dict[str, _Choice] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)
    _default: dt.tzinfo | None = None
    _default_name: str | None = None

    def __post_init__(self) -> None:
        for component in self.vtimezones:
            prop = component.first("TZID")
            if prop is None:
                self.warnings.append(f"VTIMEZONE at line {component.line_number} has no TZID")
                continue
            # Outlook escapes the commas of its display names in TZID (it is TEXT) but not
            # in the TZID parameter, which is quoted instead: index both spellings.
            for key in {prop.value.strip(), unescape_text(prop.value).strip()}:
                self._by_tzid.setdefault(key, component)
                self._by_tzid.setdefault(key.lower(), component)
        if self.x_wr_timezone:
            guess = guess_zone(self.x_wr_timezone)
            if guess is None:
                self.warnings.append(f"X-WR-TIMEZONE {self.x_wr_timezone!r} is not a known zone")
            else:
                self._default, self._default_name = guess.zone, guess.iana

    def localize(self, naive: dt.datetime, *, utc: bool, tzid: str | None) -> Localized:
        """``naive`` as read from a property with optional ``Z`` and TZID.

        Parameters:
            naive: the wall-clock (or UTC) value as written.
            utc: the value ended in ``Z``.
            tzid: the TZID parameter, if any.

        Returns:
            The aware (or floating) value with the zone it resolved to.
        """
        if utc:
            if tzid:
                self._warn_once(
                    f"utc:{tzid}", f"a UTC time also carries TZID={tzid!r}: read as UTC"
                )
            return Localized(naive.replace(tzinfo=dt.UTC), None, None)
        if not tzid:
            if self._default is None:
                return Localized(naive, None, None)
            self._warn_once("x-wr", f"floating times read in X-WR-TIMEZONE {self.x_wr_timezone!r}")
            return Localized(naive.replace(tzinfo=self._default), self._default_name, None)
        choice = self._choices.get(tzid)
        if choice is None:
            choice = self._choose(tzid, naive)
            self._choices[tzid] = choice
        if choice.zone is None:
            return Localized(naive, None, tzid)
        return Localized(naive.replace(tzinfo=choice.zone), choice.iana, tzid)

    def notes_for(self, tzids: list[str]) -> tuple[ZoneNote, ...]:
        """The notes about the TZIDs in ``tzids`` (as passed to :meth:`localize`).

        Parameters:
            tzids: TZID parameters as written, repeats allowed.

        Returns:
            Their notes, in the order the TZIDs were first resolved.
        """
        wanted = set(tzids)
        return tuple(note for note in self.notes if note.tzid in wanted)

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(text)

    def _note(
        self,
        tzid: str,
        kind: ZoneNoteKind,
        guess: ZoneGuess | None,
        text: str,
        difference: tuple[dt.datetime, dt.timedelta | None, dt.timedelta | None] | None = None,
    ) -> None:
        at, ours, theirs = difference if difference is not None else (None, None, None)
        self.notes.append(
            ZoneNote(
                tzid=tzid,
                kind=kind,
                zone=guess.iana if guess is not None else None,
                how=guess.how if guess is not None else "",
                at=at,
                vtimezone_offset=ours,
                zone_offset=theirs,
                text=text,
            )
        )
        self.warnings.append(text)

    def _choose(self, tzid: str, sample: dt.datetime) -> _Choice:
        component = self._by_tzid.get(tzid.strip()) or self._by_tzid.get(tzid.strip().lower())
        cdo = component.first("X-MICROSOFT-CDO-TZID") if component else None
        guess = guess_zone(tzid, cdo.value if cdo else None)
        if component is None:
            return self._without_vtimezone(tzid, guess)
        zone, warnings = compile_vtimezone(component)
        self.warnings.extend(warnings)
        if zone is None:
            return self._without_vtimezone(tzid, guess)
        if guess is None:
            return _Choice(zone, None)
        difference = _difference(zone, guess, sample)
        if guess.authoritative:
            if difference is not None:
                at, ours, theirs = difference
                self._note(
                    tzid,
                    ZoneNoteKind.IANA_OVER_VTIMEZONE,
                    guess,
                    f"TZID {tzid!r}: its VTIMEZONE disagrees with the IANA zone "
                    f"{guess.iana or guess.zone} ({guess.how}) at {at.isoformat()} "
                    f"(UTC{_offset(ours)} against UTC{_offset(theirs)}); the IANA zone is used",
                    difference,
                )
            elif guess.kind is not NameKind.IANA:
                self.warnings.append(
                    f"TZID {tzid!r} read as {guess.iana or guess.zone} "
                    f"({guess.how}; agrees with its VTIMEZONE)"
                )
            return _Choice(guess.zone, guess.iana)
        if difference is None:
            self.warnings.append(
                f"TZID {tzid!r} read as {guess.iana or guess.zone} "
                f"({guess.how}; agrees with its VTIMEZONE)"
            )
            return _Choice(guess.zone, guess.iana)
        at, ours, theirs = difference
        self._note(
            tzid,
            ZoneNoteKind.VTIMEZONE_OVER_GUESS,
            guess,
            f"TZID {tzid!r}: its VTIMEZONE disagrees with "
            f"{guess.iana or guess.zone} ({guess.how}) at {at.isoformat()} "
            f"(UTC{_offset(ours)} against UTC{_offset(theirs)}); the VTIMEZONE is used",
            difference,
        )
        return _Choice(zone, None)

    def _without_vtimezone(self, tzid: str, guess: ZoneGuess | None) -> _Choice:
        if guess is not None:
            if guess.kind is NameKind.WINDOWS or guess.kind is NameKind.FIXED:
                self.warnings.append(
                    f"TZID {tzid!r} has no VTIMEZONE; read as "
                    f"{guess.iana or guess.zone} ({guess.how})"
                )
            elif guess.kind is NameKind.GUESS:
                self._note(
                    tzid,
                    ZoneNoteKind.GUESSED_WITHOUT_VTIMEZONE,
                    guess,
                    f"TZID {tzid!r} has no VTIMEZONE; read as "
                    f"{guess.iana or guess.zone} ({guess.how})",
                )
            return _Choice(guess.zone, guess.iana)
        if self._default is not None:
            self._note(
                tzid,
                ZoneNoteKind.X_WR_TIMEZONE,
                None,
                f"TZID {tzid!r} is unknown and has no VTIMEZONE; read in "
                f"X-WR-TIMEZONE {self.x_wr_timezone!r}",
            )
            return _Choice(self._default, self._default_name)
        self._note(
            tzid,
            ZoneNoteKind.FLOATING,
            None,
            f"TZID {tzid!r} is unknown and has no VTIMEZONE; its times are "
            "kept floating (wall clock, zone unknown)",
        )
        return _Choice(None, None)


def _difference(
    zone: ObservanceZone, guess: ZoneGuess, sample: dt.datetime
) -> tuple[dt.datetime, dt.timedelta | None, dt.timedelta | None] | None:
    """Where the VTIMEZONE and the guessed zone give different offsets, if they do.

    Compared at the time being read and half a year later, so that a VTIMEZONE with
    another (or no) daylight-saving rule shows even when the first time falls in a season
    where the two agree.
    """
    for moment in (sample, sample + _HALF_YEAR):
        try:
            ours = moment.replace(tzinfo=zone).utcoffset()
            theirs = moment.replace(tzinfo=guess.zone).utcoffset()
        except (OverflowError, ValueError):
            return moment, None, None
        if ours != theirs:
            return moment, ours, theirs
    return None


def _offset(value: dt.timedelta | None) -> str:
    if value is None:
        return "?"
    minutes = int(value.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
