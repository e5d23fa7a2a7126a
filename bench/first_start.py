"""The first start against a CRM that already has meetings: baseline and preview cost.

200 meetings with 50 attendees each are in the built-in CRM (one SQLite database) before
the gateway's first pass, as after an import. Timed, on copies of that database:

- ``outbound preview``: the first pass as a dry run (the baseline decided, nothing kept);
- the first pass itself (``serve --once``'s poll): the baseline, every meeting adopted,
  nothing queued;
- the next pass: nothing changed, nothing to do;
- ``outbound invite-upcoming`` for the calendar: every adopted meeting invited (the
  messages built and queued, not sent).

Run: ``.venv/bin/python bench/first_start.py [--meetings 200] [--attendees 50]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.outbound import _with_database, sales_calendar, seed
from invitegw.gateway.bootstrap import build_gateway, build_outbound
from invitegw.gateway.config import Settings, SmtpSettings
from invitegw.gateway.outbound.feed import OutboundReport

T = TypeVar("T")


def _settings(folder: Path, database: Path) -> Settings:
    settings = Settings(
        data_dir=folder,
        smtp=SmtpSettings(host="127.0.0.1", port=9),  # never reached: nothing is sent
        calendars=(sales_calendar(),),
    )
    return _with_database(settings, database)


def _timed(action: Callable[[], T]) -> tuple[T, float]:
    began = time.perf_counter()
    result = action()
    return result, time.perf_counter() - began


def _line(label: str, report: OutboundReport, seconds: float) -> str:
    return (
        f"{label:<28} {seconds:7.2f} s  meetings {report.meetings:4d}  adopted "
        f"{report.adopted:4d}  messages {report.messages:6d}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=200)
    parser.add_argument("--attendees", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        template = folder / "template.sqlite3"
        seed(template, args.meetings, args.attendees, baseline_taken=False)
        database = folder / "gateway.sqlite3"
        shutil.copyfile(template, database)
        gateway = build_gateway(_settings(folder, database))
        try:
            outbound = build_outbound(gateway)
            preview, t_preview = _timed(outbound.preview)
            first, t_first = _timed(outbound.poll)
            again, t_again = _timed(outbound.poll)
            invited, t_invite = _timed(lambda: outbound.invite_upcoming(["sales"]))
        finally:
            gateway.close()
    print(f"first start: {args.meetings} meetings x {args.attendees} attendees in the CRM")
    print(_line("preview (dry run)", preview, t_preview))
    print(_line("first pass (baseline)", first, t_first))
    print(_line("next pass (no change)", again, t_again))
    print(_line("invite-upcoming (queued)", invited, t_invite))
    ok = first.baseline and first.messages == 0 and preview.messages == 0 and not again.meetings
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
