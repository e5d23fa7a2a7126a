"""``invitegw ics inspect``: records, UTC times for each client shape, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from invitegw.gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]
ICS = ROOT / "tests" / "ics" / "data"
EML = ROOT / "tests" / "mailbox" / "data"
KEYS = {
    "file", "part", "method", "uid", "recurrence_id", "sequence", "dtstamp", "summary",
    "organizer", "attendees", "start", "end", "start_utc", "end_utc", "all_day", "tzid",
    "rrule", "status", "producer",
}  # fmt: skip


def records(capsys: pytest.CaptureFixture[str], *files: Path) -> list[dict[str, object]]:
    assert main(["ics", "inspect", "--json", *map(str, files)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_json_has_exactly_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    found = records(capsys, ICS / "outlook_request_windows_zone.ics")
    assert len(found) == 1
    assert set(found[0]) == KEYS
    attendee = found[0]["attendees"][0]  # type: ignore[index]
    assert set(attendee) == {"email", "cn", "role", "partstat"}


@pytest.mark.parametrize(
    ("path", "start_utc", "end_utc", "tzid"),
    [
        # Outlook: TZID "W. Europe Standard Time", mapped through the CLDR table.
        (ICS / "outlook_request_windows_zone.ics", "2026-03-16T09:00:00Z",
         "2026-03-16T10:30:00Z", "Europe/Berlin"),
        # Outlook's "(UTC+01:00) Amsterdam, Berlin, ..." display-name TZID.
        (ICS / "outlook_request_display_name_zone.ics", None, None, None),
        # Apple: an IANA TZID with its VTIMEZONE.
        (ICS / "apple_request_zone.ics", "2026-10-30T10:00:00Z", "2026-10-30T11:00:00Z",
         "Europe/Paris"),
        # Google: floating times read in X-WR-TIMEZONE.
        (ICS / "google_publish_x_wr_timezone.ics", "2026-01-19T22:00:00Z",
         "2026-01-19T23:00:00Z", "Australia/Sydney"),
    ],
)  # fmt: skip
def test_utc_times_per_client(
    capsys: pytest.CaptureFixture[str],
    path: Path,
    start_utc: str | None,
    end_utc: str | None,
    tzid: str | None,
) -> None:
    first = records(capsys, path)[0]
    assert first["all_day"] is False
    if start_utc is None:  # only that it resolved to a real zone and instant
        assert isinstance(first["start_utc"], str)
        assert first["start_utc"].endswith("Z")
        assert first["tzid"]
        return
    assert (first["start_utc"], first["end_utc"], first["tzid"]) == (start_utc, end_utc, tzid)


def test_all_day_has_dates_and_no_utc(capsys: pytest.CaptureFixture[str]) -> None:
    first = records(capsys, ICS / "google_request_all_day.ics")[0]
    assert first["all_day"] is True
    assert (first["start"], first["end"]) == ("2026-09-04", "2026-09-06")
    assert first["start_utc"] is None
    assert first["end_utc"] is None


def test_email_parts_are_located(capsys: pytest.CaptureFixture[str]) -> None:
    found = records(capsys, EML / "outlook_forward_as_attachment.eml")
    assert found
    assert all("rfc822" in str(r["part"]) for r in found)
    assert found[0]["file"].endswith("outlook_forward_as_attachment.eml")  # type: ignore[union-attr]


def test_two_ics_in_one_message_give_two_records(capsys: pytest.CaptureFixture[str]) -> None:
    found = records(capsys, EML / "generic_two_ics_attachments.eml")
    assert len({r["part"] for r in found}) == 2


def test_readable_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ics", "inspect", str(EML / "outlook_inline_forward_fw.eml")]) == 0
    out = capsys.readouterr().out
    assert "forwarded by" in out
    assert "METHOD REQUEST" in out
    assert "UTC" in out


def test_a_file_without_calendar_is_an_error_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = ICS / "apple_request_zone.ics"
    bad = EML / "outlook_no_calendar.eml"
    assert main(["ics", "inspect", "--json", str(good), str(bad)]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1
    assert f"{bad}: no calendar object found" in captured.err


def test_malformed_calendar_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.ics"
    broken.write_bytes(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026-99-99\r\n")
    assert main(["ics", "inspect", str(broken)]) == 1
    assert str(broken) in capsys.readouterr().err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ics", "inspect", str(tmp_path / "nope.eml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["ics", "inspect"])
    assert exc.value.code == 2


def test_stdin(capsys: pytest.CaptureFixture[str]) -> None:
    data = (ICS / "apple_request_zone.ics").read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "invitegw", "ics", "inspect", "--json", "-"],
        input=data,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tzid"] == "Europe/Paris"


def test_a_delivery_report_shows_the_returned_calendar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bounce = EML / "postfix_dsn_bounce.eml"
    assert main(["ics", "inspect", str(bounce)]) == 0
    out = capsys.readouterr().out
    assert "delivery failure report for nobody-here@example.net" in out
    assert "calendar object at returned:" in out
    [record] = records(capsys, bounce)
    assert str(record["part"]).startswith("returned:")


def test_a_delivery_report_without_calendar_exits_1_naming_file_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "dsn.eml"
    report.write_bytes(
        b"From: MAILER-DAEMON@mx.example.com\r\nTo: sales@example.com\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nIt could not be delivered.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"\r\n--b--\r\n"
    )
    assert main(["ics", "inspect", "--json", str(report)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{report}: a delivery failure report with no calendar object in it" in captured.err


def test_a_folder_skips_what_is_not_mail_but_a_named_file_is_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    examples = ROOT / "examples"
    assert main(["ics", "inspect", "--json", str(examples)]) == 0
    captured = capsys.readouterr()
    files = {Path(json.loads(line)["file"]).name for line in captured.out.splitlines()}
    assert files == {"google-invitation.ics", "outlook-invitation.eml"}
    assert "skipped, not mail or calendars" in captured.err
    assert "README.md" in captured.err
    assert main(["ics", "inspect", str(examples / "README.md")]) == 1
    assert f"{examples / 'README.md'}: " in capsys.readouterr().err
