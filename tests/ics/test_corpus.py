"""The parser against the third-party corpus ($INVITEGW_CORPUS/MANIFEST.tsv, ``ics/`` rows).

Every bare iCalendar file is parsed and compared with the manifest's expected columns
(the majority answer of three independent parsers; see the corpus README). Rows whose
``parsers_agree`` is ``yes`` must agree on every column; the others may differ, but must
never fail with anything but our own :class:`~invitegw.errors.IcsError`. ``eml/`` rows are
read through ``invitegw.mailbox.mime.extract`` first (the first calendar part, as the manifest
was made) and held to the same standard; the figures are printed at the end.

Run: ``INVITEGW_CORPUS=<corpus folder> .venv/bin/python -m pytest tests/ics/test_corpus.py``
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from invitegw.errors import IcsError
from invitegw.ics import CalendarObject, Event, MethodSource, parse_calendars
from invitegw.mailbox.mime import extract
from tests.ics.checks import assert_own_error

pytestmark = pytest.mark.corpus

COLUMNS = (
    "itip_method",
    "n_vevents",
    "uids",
    "dtstart_utc",
    "organizer_email",
    "sequence",
    "status",
)


def rows(corpus: Path, folder: str = "ics/") -> Iterator[dict[str, str]]:
    with (corpus / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["file"].startswith(folder):
                yield row


def calendar_rows(corpus: Path) -> Iterator[dict[str, str]]:
    """Every row with calendar data: the bare objects, then the emails that carry one."""
    yield from rows(corpus, "ics/")
    for row in rows(corpus, "eml/"):
        if row["itip_method"] != "none":
            yield row


def _start(event: Event) -> str:
    value = event.start
    if not isinstance(value, dt.datetime):
        return f"date:{value.isoformat()}"
    if value.tzinfo is None:
        return f"floating:{value.isoformat()}"
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(event: Event) -> str:
    if event.status is not None:
        return event.status.value
    # A value that is no VEVENT status is kept in extra as the producer wrote it.
    raw = [line for name, line in event.extra if name == "STATUS"]
    return raw[0].split(":", 1)[1].strip() if raw else ""


def observed(calendars: list[CalendarObject]) -> dict[str, str]:
    """Our answer for each manifest column."""
    first_calendar = calendars[0]
    events = [event for calendar in calendars for event in calendar.events]
    first = events[0] if events else None
    has_method = first_calendar.method_source is MethodSource.CALENDAR
    return {
        "itip_method": first_calendar.method.value if has_method else "(none)",
        "n_vevents": str(len(events)),
        "uids": ";".join(dict.fromkeys(event.uid for event in events if event.uid)),
        "dtstart_utc": _start(first) if first and first.start_given else "",
        "organizer_email": first.organizer.email if first and first.organizer else "",
        "sequence": str(first.sequence) if first else "",
        "status": _status(first) if first else "",
    }


# Rows where we read a time zone on purpose otherwise than the three parsers did, with the
# value we give instead (see invitegw.ics.timezones and tzids):
DEPARTURES = {
    # TZID "New Zealand Standard Time" (a Windows zone id) with a VTIMEZONE describing
    # Central European time: the name wins over its VTIMEZONE (a ZoneNote reports it);
    # 13:00 in Auckland on 20 November 2019 (NZDT, +13).
    "ics/khal-windows-tzid-format.ics": {"dtstart_utc": "2019-11-20T00:00:00Z"},
    # TZID "FLE" without a VTIMEZONE (the three parsers read floating): Windows' "FLE
    # Standard Time" cut short, Europe/Kyiv; 09:00 on 26 October 2021 is EEST (+3).
    "eml/anonymized-invite-windows1257-no-method.eml": {"dtstart_utc": "2021-10-26T06:00:00Z"},
}


def expected(row: dict[str, str]) -> dict[str, str]:
    """The manifest's columns, in the form we normalise to.

    UIDs are compared without surrounding blanks (we strip them; one RFC 2446 example
    writes "UID: guid..."); an absent SEQUENCE is 0 (RFC 5545 section 3.8.7.4). The
    :data:`DEPARTURES` replace the manifest's value where we read a zone on purpose
    otherwise.
    """
    found = {column: row[column] for column in COLUMNS}
    found["uids"] = ";".join(uid.strip() for uid in row["uids"].split(";") if uid.strip())
    if found["sequence"] == "" and found["n_vevents"] not in ("", "0"):
        found["sequence"] = "0"
    found.update(DEPARTURES.get(row["file"], {}))
    return found


def compare(corpus: Path, row: dict[str, str]) -> tuple[list[str], str | None]:
    """The columns that differ, and the error when the file did not parse."""
    data = (corpus / row["file"]).read_bytes()
    method = None
    if row["file"].startswith("eml/"):
        found = extract(data)
        parts = found.calendar_parts or (
            found.bounce.returned_calendar_parts if found.bounce else ()
        )
        if not parts:
            return list(COLUMNS), "no calendar part extracted"
        data, method = parts[0].data, parts[0].mime_method
    try:
        ours = observed(parse_calendars(data, mime_method=method))
    except IcsError as error:
        return list(COLUMNS), f"{error.__class__.__name__}: {error}"
    wanted = expected(row)
    return [c for c in COLUMNS if not _same(c, ours[c], wanted[c])], None


def _same(column: str, ours: str, wanted: str) -> bool:
    """Equal, or (ORGANIZER only) the address the manifest's raw value carries.

    The manifest keeps ORGANIZER's value as written, lower-cased with a leading ``mailto:``
    removed; a producer that typed a parameter into the value (Trenitalia writes
    ``ORGANIZER:CN=ORGANIZER:mailto:webmaster@...``) leaves ``cn=organizer:mailto:...``
    there, where we read the address itself.
    """
    if ours == wanted:
        return True
    return column == "organizer_email" and bool(ours) and wanted.endswith(f":mailto:{ours}")


def test_every_agreed_row_agrees(corpus_dir: Path) -> None:
    """Bare objects and emails alike (emails through ``mailbox.mime.extract`` first)."""
    failures = []
    checked = 0
    for row in calendar_rows(corpus_dir):
        if row["parsers_agree"] != "yes":
            continue
        checked += 1
        differing, error = compare(corpus_dir, row)
        if differing:
            failures.append(f"{row['file']}: {error or ', '.join(differing)}")
    assert checked > 100, "the manifest has fewer agreed rows than expected"
    assert not failures, "\n".join(failures)


def test_no_row_fails_with_a_foreign_error(corpus_dir: Path) -> None:
    for row in rows(corpus_dir):
        try:
            parse_calendars((corpus_dir / row["file"]).read_bytes())
        except IcsError as error:
            assert_own_error(error, row["file"])


def test_raw_messages_do_not_crash_the_parser(corpus_dir: Path) -> None:
    """Robustness only: a whole email handed to the parser by mistake gives our error or the
    plain-text calendar part it happens to contain, never a crash."""
    for path in sorted((corpus_dir / "eml").glob("*.eml")):
        try:
            parse_calendars(path.read_bytes())
        except IcsError as error:
            assert_own_error(error, path.name)


def test_agreement_report(corpus_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    totals = {"yes": [0, 0], "no": [0, 0]}
    per_column = dict.fromkeys(COLUMNS, 0)
    lines = []
    count = 0
    for row in rows(corpus_dir):
        count += 1
        differing, error = compare(corpus_dir, row)
        bucket = totals["yes" if row["parsers_agree"] == "yes" else "no"]
        bucket[1] += 1
        bucket[0] += not differing
        for column in COLUMNS:
            per_column[column] += column not in differing
        if differing:
            lines.append(
                f"  {row['parsers_agree']:>3} {row['file']}: {error or ', '.join(differing)}"
            )
    assert count > 0, "no ics/ rows in the manifest"
    emails = {"yes": [0, 0], "no": [0, 0]}
    for row in rows(corpus_dir, "eml/"):
        if row["itip_method"] == "none":  # no calendar in that message
            continue
        differing, error = compare(corpus_dir, row)
        bucket = emails["yes" if row["parsers_agree"] == "yes" else "no"]
        bucket[1] += 1
        bucket[0] += not differing
        if differing:
            lines.append(
                f"  {row['parsers_agree']:>3} {row['file']}: {error or ', '.join(differing)}"
            )
    with capsys.disabled():
        print(
            f"\ncorpus ics/ rows: {count}; full agreement on parsers_agree=yes rows "
            f"{totals['yes'][0]}/{totals['yes'][1]}, on =no rows {totals['no'][0]}/"
            f"{totals['no'][1]}"
        )
        print("  per column: " + ", ".join(f"{c} {n}/{count}" for c, n in per_column.items()))
        print(
            f"eml/ rows (extracted): yes {emails['yes'][0]}/{emails['yes'][1]}, "
            f"no {emails['no'][0]}/{emails['no'][1]}"
        )
        print("\n".join(lines))
