"""Extraction over every email of the third-party corpus ($INVITEGW_CORPUS/MANIFEST.tsv).

Expectations come from the manifest (README.md of the corpus): a row whose ``itip_method``
is ``none`` or that has the feature ``no-calendar-part`` yields no calendar part; every
other row yields a part whose first VCALENDAR has the manifest's METHOD and whose UIDs
include the manifest's. Bounces are the documented exception: their calendar objects are
the returned message's, found in ``bounce.returned_calendar_parts`` and never in
``calendar_parts``. METHOD and UID are read textually, independent of the iCalendar parser.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from invitegw.mailbox.mime import CalendarPart, extract
from tests.mailbox.helpers import first_method, uids

pytestmark = pytest.mark.corpus


def _rows() -> list[object]:
    root = os.environ.get("INVITEGW_CORPUS")
    manifest = Path(root) / "MANIFEST.tsv" if root else None
    if manifest is None or not manifest.is_file():
        return [pytest.param(None, id="corpus-unavailable")]
    with manifest.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["file"].startswith("eml/")]
    return [pytest.param(row, id=row["file"]) for row in rows]


def _matches(part: CalendarPart, method: str, expected_uids: list[str]) -> bool:
    found = first_method(part.data)
    method_ok = found is None if method == "(none)" else found == method
    return method_ok and set(expected_uids) <= set(uids(part.data))


@pytest.mark.parametrize("row", _rows())
def test_corpus_email(row: dict[str, str] | None, corpus_dir: Path) -> None:
    assert row is not None  # corpus_dir skipped otherwise
    result = extract((corpus_dir / row["file"]).read_bytes())
    method = row["itip_method"]
    features = set(row["features"].split(","))
    expected_uids = [u for u in row["uids"].split(";") if u]
    if method == "none" or "no-calendar-part" in features:
        assert result.calendar_parts == ()
        assert result.bounce is None or result.bounce.returned_calendar_parts == ()
        return
    if result.bounce is not None:
        assert result.calendar_parts == ()
        candidates = result.bounce.returned_calendar_parts
    else:
        candidates = result.calendar_parts
    assert candidates, f"no calendar part found; defects: {result.defects}"
    assert any(_matches(p, method, expected_uids) for p in candidates), [
        (p.location, first_method(p.data), uids(p.data)) for p in candidates
    ]


def test_corpus_bounce_is_recognised(corpus_dir: Path) -> None:
    raw = (corpus_dir / "eml" / "bounce-dsn-with-returned-apple-request.eml").read_bytes()
    bounce = extract(raw).bounce
    assert bounce is not None
    assert [r.address for r in bounce.failed] == ["nonexistant@example.com"]
    assert bounce.original_message_id == "20080812191939.51369.1538816694.0@plugh.example.com"


def test_corpus_outlook_forward_names_the_organizer(corpus_dir: Path) -> None:
    raw = (corpus_dir / "eml" / "horde-invite-forwarded-by-outlook-fw.eml").read_bytes()
    result = extract(raw)
    assert result.is_forward
    assert result.original_sender is not None
    assert result.original_sender.address == "c.lee@med.uni-frankfurt.de"
    assert result.forwarder is not None
    assert result.forwarder.address == "ludwig.montag@med.uni-frankfurt.de"
