"""Outbound throughput: CRM changes to invitations in an SMTP sink, against the raw limits.

200 meetings with 50 attendees each (the organizer gets a copy too: 51 messages a meeting)
are created in the built-in CRM at once; then, timed, the gateway runs end to end: the
change feed, the planner, the ledger and outbox (one SQLite database), the dispatcher and
SMTP into a local aiosmtpd sink that runs in its own process and discards what it gets.

Measured in the same run, alternating round by round with it:

- the **minimal pipeline**: a straightforward script that builds the same calendars with
  icalendar (the VTIMEZONE built once and reused), composes the same MIME with the email
  package (bodies from f-strings, no templates) and sends them over one SMTP connection to
  the same sink, with no database;
- **bare smtplib**: the minimal pipeline's messages, already built, sent over one
  connection (the floor the relay and the socket set).

Peak memory: a child process runs the gateway's pipeline on 50 and on 200 meetings and
reports its peak resident set size; it must stay flat as meetings grow.

Run: ``.venv/bin/python bench/outbound.py [--meetings 200] [--attendees 50] [--rounds 3]``

By meeting size (most CRM meetings have one or two external attendees), invitegw and the
minimal pipeline side by side in the same run, wall and CPU, with PASS/FAIL lines:
``.venv/bin/python bench/outbound.py --sizes 1,10,100 [--messages 1500] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import icalendar

from bench.opsmode import json_logs, with_metrics
from invitegw.crm_adapter.builtin.admin import MeetingDraft, SqlCrmAdmin
from invitegw.crm_adapter.builtin.crm import SqlCrm
from invitegw.domain.records import EntityType, Meeting, PartyRef
from invitegw.gateway.bootstrap import build_dispatcher, build_gateway, build_outbound
from invitegw.gateway.config import CalendarSettings, Settings, SmtpSettings
from invitegw.gateway.outbound.feed import BASELINE_CURSOR
from invitegw.gateway.storage import Store, open_store, set_cursor, upgrade
from invitegw.mailbox.transport.netutil import pick_free_port

WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")
CONTACTS = 500
COLLEAGUES = 4


# -- the sink --------------------------------------------------------------------------------


@contextmanager
def sink_process() -> Iterator[int]:
    """aiosmtpd with its discarding handler, in a process of its own; yields its port."""
    port = pick_free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    probe.recv(100)  # the 220 greeting: the server is up
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the aiosmtpd sink did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


# -- the CRM, seeded once per size ------------------------------------------------------------


def mark_baseline_taken(store: Store) -> None:
    """Record the gateway's first start as past: the meetings made next are new, and sent.

    Without it the first pass adopts every meeting already in the CRM and sends nothing
    (the baseline, ``bench/first_start.py``).
    """
    now = dt.datetime.now(dt.UTC)
    with store.session() as session:
        set_cursor(session, BASELINE_CURSOR, f"taken {now.isoformat()}", now=now)


def add_guests(crm: SqlCrmAdmin, count: int) -> list[int]:
    """``count`` external contacts (every fifth reads Polish), in forty companies; their ids."""
    return [
        crm.add_party(
            EntityType.CONTACT,
            [f"guest{n}@example.org"],
            name=f"Guest Number {n}",
            language="pl" if n % 5 == 0 else None,
            account=f"Company {n % 40}",
        )
        for n in range(count)
    ]


def seed(path: Path, meetings: int, attendees: int, *, baseline_taken: bool = True) -> None:
    """A database at the newest schema with ``meetings`` new meetings in the built-in CRM.

    ``baseline_taken``: the gateway's first start happened before the meetings were made
    (so they are new and sent); else its first pass adopts them (``bench/first_start.py``).
    """
    now = dt.datetime.now(dt.UTC)
    with open_store(f"sqlite:///{path}") as store:
        upgrade(store)
        if baseline_taken:
            mark_baseline_taken(store)
        with store.session() as session:
            crm = SqlCrmAdmin(session)
            organizer = crm.add_party(
                EntityType.USER, ["olga@example.com"], name="Olga Organizer", language="en"
            )
            users = [
                crm.add_party(EntityType.USER, [f"colleague{n}@example.com"], name=f"Colleague {n}")
                for n in range(COLLEAGUES)
            ]
            contacts = add_guests(crm, CONTACTS)
        first = (now + dt.timedelta(days=7)).astimezone(WARSAW).replace(minute=0, second=0)
        for number in range(meetings):
            with store.session() as session:
                crm = SqlCrmAdmin(session)
                # Colleagues only in bigger meetings: one or two attendees are external.
                colleagues = min(COLLEAGUES, attendees // 10)
                guests = [
                    PartyRef(EntityType.CONTACT, str(contacts[(number * 7 + k) % CONTACTS]))
                    for k in range(attendees - colleagues)
                ]
                staff = [PartyRef(EntityType.USER, str(u)) for u in users[:colleagues]]
                start = first + dt.timedelta(hours=number % 9, days=number // 9)
                crm.create_meeting(
                    MeetingDraft(
                        title=f"Customer workshop {number}",
                        start=start,
                        end=start + dt.timedelta(hours=1),
                        organizer=PartyRef(EntityType.USER, str(organizer)),
                        attendees=[*staff, *guests],
                        time_zone="Europe/Warsaw",
                        location="Conference room 2, Warsaw office",
                        description="Agenda: introductions, requirements, next steps.",
                        rrule="FREQ=WEEKLY;COUNT=10",
                    )
                )


def meetings_of(path: Path) -> list[Meeting]:
    """The seeded meetings as CRM snapshots (what the minimal pipeline builds from)."""
    with open_store(f"sqlite:///{path}") as store, store.session() as session:
        batch = SqlCrm(session).changed_meetings(None, limit=100_000)
        return [c.meeting for c in batch.changes if c.meeting is not None]


# -- invitegw ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One timed run: messages, seconds and CPU seconds (and the two phases of ours)."""

    messages: int
    seconds: float
    plan_seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_rate(self) -> float:
        """Messages per CPU second of this process (the sink runs in its own)."""
        return self.messages / self.cpu_seconds


def run_invitegw(template: Path, port: int, folder: Path, *, ops: bool = False) -> Run:
    """Copy the seeded database and run the gateway end to end on it (timed).

    ``ops``: with metrics kept and JSON log lines written (``bench/opsmode.py``).
    """
    database = folder / "gateway.sqlite3"
    shutil.copyfile(template, database)
    settings = Settings(
        data_dir=folder,
        smtp=SmtpSettings(host="127.0.0.1", port=port),
        calendars=(sales_calendar(),),
    )
    settings = _with_database(settings, database)
    if ops:
        settings = with_metrics(settings)
    gateway = build_gateway(settings)
    try:
        with json_logs(folder / "log.txt", json=ops):
            began, cpu = time.perf_counter(), time.process_time()
            report = build_outbound(gateway).poll()
            planned = time.perf_counter()
            sent = build_dispatcher(gateway).flush()
            ended, cpu = time.perf_counter(), time.process_time() - cpu
    finally:
        gateway.close()
    if sent.sent != report.messages:
        raise RuntimeError(f"queued {report.messages}, sent {sent.sent}: {sent}")
    return Run(sent.sent, ended - began, planned - began, cpu)


def sales_calendar(**extra: Any) -> CalendarSettings:
    """The benches' one calendar ("sales", Europe/Warsaw), with ``extra`` settings."""
    return CalendarSettings(
        name="sales",
        address="sales@example.com",
        display_name="Example Sales",
        time_zone="Europe/Warsaw",
        **extra,
    )


def _with_database(settings: Settings, path: Path) -> Settings:
    import dataclasses

    database = dataclasses.replace(settings.database, url=f"sqlite:///{path}")
    return dataclasses.replace(settings, database=database)


# -- the minimal pipeline ----------------------------------------------------------------------


class Minimal:
    """icalendar + email + smtplib, the straightforward way (time zone built once)."""

    def __init__(self, meetings: list[Meeting]) -> None:
        self.meetings = meetings
        first = min(m.start for m in meetings).date()  # type: ignore[union-attr]
        self.timezone = icalendar.Timezone.from_tzinfo(
            WARSAW,
            first_date=first - dt.timedelta(days=366),
            last_date=first + dt.timedelta(days=731),
        )
        self.built: list[tuple[str, bytes]] = []

    def message(self, meeting: Meeting, to: tuple[str, str], token: str, now: dt.datetime) -> bytes:
        organizer_address = f"sales+{token}@example.com"
        calendar = icalendar.Calendar()
        calendar.add("prodid", "-//minimal//EN")
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "REQUEST")
        calendar.add_component(self.timezone)
        event = icalendar.Event()
        event.add("uid", f"meeting-{meeting.id}@example.com")
        event.add("dtstamp", now)
        event.add("sequence", 0)
        event.add("dtstart", meeting.start)
        event.add("dtend", meeting.end)
        event.add("rrule", icalendar.vRecur.from_ical(meeting.rrule or ""))
        event.add("summary", meeting.title)
        event.add("location", meeting.location)
        event.add("description", meeting.description)
        event.add("status", "CONFIRMED")
        organizer = icalendar.vCalAddress(f"mailto:{organizer_address}")
        organizer.params["CN"] = meeting.organizer.name
        organizer.params["SENT-BY"] = "mailto:sales@example.com"
        event.add("organizer", organizer)
        people = [(meeting.organizer.name, meeting.organizer.emails[0], "CHAIR")] + [
            (p.name, p.invite_emails[0], "REQ-PARTICIPANT") for p in meeting.attendees
        ]
        for name, address, role in people:
            attendee = icalendar.vCalAddress(f"mailto:{address}")
            attendee.params.update(
                {
                    "CUTYPE": "INDIVIDUAL",
                    "ROLE": role,
                    "PARTSTAT": "NEEDS-ACTION",
                    "RSVP": "TRUE",
                    "CN": name,
                }
            )
            event.add("attendee", attendee, encode=False)
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", dt.timedelta(minutes=-15))
        alarm.add("description", meeting.title)
        event.add_component(alarm)
        calendar.add_component(event)
        data = calendar.to_ical()

        when = f"{meeting.start:%A %d %B %Y, %H:%M} ({meeting.time_zone})"
        text = (
            f"{meeting.organizer.name} invites you to a meeting.\n\n{meeting.title}\n\n"
            f"When: {when}\nWhere: {meeting.location}\n\n{meeting.description}\n"
        )
        html = (
            f"<html><body><p>{meeting.organizer.name} invites you to a meeting.</p>"
            f"<h1>{meeting.title}</h1><p>When: {when}<br>Where: {meeting.location}</p>"
            f"<p>{meeting.description}</p></body></html>"
        )
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = f"{meeting.organizer.name} via Example Sales <sales@example.com>"
        msg["To"] = f"{to[0]} <{to[1]}>"
        msg["Reply-To"] = organizer_address
        msg["Subject"] = f"Invitation: {meeting.title}"
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = make_msgid(domain="example.com")
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        msg.add_alternative(
            data.decode(), subtype="calendar", cte="base64", params={"method": "REQUEST"}
        )
        msg.add_attachment(data, maintype="application", subtype="ics", filename="invite.ics")
        return msg.as_bytes(policy=policy.SMTP)

    def run(self, port: int) -> Run:
        now = dt.datetime.now(dt.UTC)
        built: list[tuple[str, bytes]] = []
        count = 0
        began, cpu = time.perf_counter(), time.process_time()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for meeting in self.meetings:
                people = [(meeting.organizer.name, meeting.organizer.emails[0])] + [
                    (p.name, p.invite_emails[0]) for p in meeting.attendees
                ]
                for index, person in enumerate(people):
                    raw = self.message(meeting, person, f"t{meeting.id}x{index}", now)
                    smtp.sendmail("sales@example.com", [person[1]], raw)
                    built.append((person[1], raw))
                    count += 1
        ended, cpu = time.perf_counter(), time.process_time() - cpu
        self.built = built
        return Run(count, ended - began, cpu_seconds=cpu)


def run_bare(messages: list[tuple[str, bytes]], port: int) -> Run:
    """smtplib sending already built messages over one connection."""
    began = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for recipient, raw in messages:
            smtp.sendmail("sales@example.com", [recipient], raw)
    return Run(len(messages), time.perf_counter() - began)


# -- memory ------------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident set size since it started (VmHWM).

    ``getrusage`` is no use here: Linux carries ``ru_maxrss`` over fork and exec, so a child
    of a big parent reports the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(template: Path, port: int) -> None:
    """In a child process: run the pipeline once, print its peak RSS (JSON)."""
    with tempfile.TemporaryDirectory() as folder:
        run = run_invitegw(template, port, Path(folder))
    print(json.dumps({"messages": run.messages, "peak_mib": peak_rss_mib()}))


def peak_memory(template: Path, port: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(template), "--port", str(port)],
        capture_output=True,
        check=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- meeting sizes side by side ---------------------------------------------------------------


def compare_sizes(root: Path, port: int, sizes: list[int], messages: int, rounds: int) -> bool:
    """Per meeting size: invitegw against the minimal pipeline, rounds alternating.

    About ``messages`` messages per size (meetings of ``size`` attendees plus the
    organizer's copy). Prints per-size rates, wall and CPU (this process; the sink runs in
    its own), the ratios and a PASS/FAIL line for each (target: invitegw >= minimal).
    """
    print(
        f"{'attendees':>9}  {'meetings':>8}  {'invitegw/s':>10}  {'minimal/s':>9}  "
        f"{'ratio':>5}  {'invitegw CPU':>12}  {'minimal CPU':>11}  {'ratio':>5}"
    )
    passed = True
    for size in sizes:
        meetings = max(4, messages // (size + 1))
        template = _seeded(root / f"size{size}.sqlite3", meetings, size)
        minimal = Minimal(meetings_of(template))
        ours: list[Run] = []
        plain: list[Run] = []
        for number in range(rounds):
            work = root / f"size{size}-{number}"
            work.mkdir()
            ours.append(run_invitegw(template, port, work))
            plain.append(minimal.run(port))
            minimal.built.clear()
        wall = (statistics.median(r.rate for r in ours), statistics.median(r.rate for r in plain))
        cpu = (
            statistics.median(r.cpu_seconds * 1000 / r.messages for r in ours),
            statistics.median(r.cpu_seconds * 1000 / r.messages for r in plain),
        )
        print(
            f"{size:>9}  {meetings:>8}  {wall[0]:>10.0f}  {wall[1]:>9.0f}  "
            f"{wall[0] / wall[1]:>5.2f}  {cpu[0]:>9.2f} ms  {cpu[1]:>8.2f} ms  "
            f"{cpu[1] / cpu[0]:>5.2f}",
            flush=True,
        )
        for label, ratio in (("CPU", cpu[1] / cpu[0]), ("wall", wall[0] / wall[1])):
            verdict = "PASS" if ratio >= 1.0 else "FAIL"
            passed = passed and ratio >= 1.0
            print(
                f"  {verdict}: {size} attendee(s), {label}: invitegw / minimal {ratio:.2f} >= 1.0"
            )
    return passed


# -- main --------------------------------------------------------------------------------------


def _timed(label: str, action: Callable[[], Path]) -> Path:
    began = time.perf_counter()
    result = action()
    print(f"  {label} ({time.perf_counter() - began:.1f} s)", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--meetings", type=int, default=200)
    parser.add_argument("--attendees", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--ops", action="store_true", help="also each round with metrics and JSON logs on"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak memory runs")
    parser.add_argument(
        "--sizes",
        help="compare per meeting size instead, e.g. 1,10,100 (attendees per meeting)",
    )
    parser.add_argument(
        "--messages", type=int, default=1500, help="with --sizes: messages per size (about)"
    )
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.port)
        return 0

    if args.sizes:
        sizes = [int(size) for size in args.sizes.split(",")]
        print(
            f"outbound benchmark by meeting size: {sizes} attendees, about {args.messages} "
            f"messages each, {args.rounds} alternating rounds (medians), aiosmtpd sink in its "
            "own process; CPU is this process's, per message"
        )
        with tempfile.TemporaryDirectory() as folder, sink_process() as port:
            compare_sizes(Path(folder), port, sizes, args.messages, args.rounds)
        return 0
    per_meeting = args.attendees + 1
    print(
        f"outbound benchmark: {args.meetings} meetings x {args.attendees} attendees "
        f"(+ the organizer's copy = {args.meetings * per_meeting} messages), "
        f"{args.rounds} alternating rounds, aiosmtpd sink in its own process"
    )
    with tempfile.TemporaryDirectory() as folder, sink_process() as port:
        root = Path(folder)
        print("setup:")
        big = _timed(
            f"seeded {args.meetings} meetings",
            lambda: _seeded(root / "big.sqlite3", args.meetings, args.attendees),
        )
        small = _timed(
            f"seeded {args.meetings // 4} meetings",
            lambda: _seeded(root / "small.sqlite3", args.meetings // 4, args.attendees),
        )
        minimal = Minimal(meetings_of(big))
        ours: list[Run] = []
        plain: list[Run] = []
        bare: list[Run] = []
        observed: list[Run] = []
        print(
            f"{'round':>5}  {'invitegw/s':>10}  {'(plan s)':>8}  {'minimal/s':>9}  {'bare/s':>8}"
            + (f"  {'ops on/s':>8}" if args.ops else "")
        )
        for number in range(1, args.rounds + 1):
            work = root / f"round{number}"
            work.mkdir()
            ours.append(run_invitegw(big, port, work))
            plain.append(minimal.run(port))
            bare.append(run_bare(minimal.built, port))
            if args.ops:
                (root / f"ops{number}").mkdir()
                observed.append(run_invitegw(big, port, root / f"ops{number}", ops=True))
            print(
                f"{number:>5}  {ours[-1].rate:>10.0f}  {ours[-1].plan_seconds:>8.1f}  "
                f"{plain[-1].rate:>9.0f}  {bare[-1].rate:>8.0f}"
                + (f"  {observed[-1].rate:>8.0f}" if args.ops else ""),
                flush=True,
            )
        best = (max(r.rate for r in ours), max(r.rate for r in plain), max(r.rate for r in bare))
        median = (
            statistics.median(r.rate for r in ours),
            statistics.median(r.rate for r in plain),
            statistics.median(r.rate for r in bare),
        )
        print(f"{'best':>5}  {best[0]:>10.0f}  {'':>8}  {best[1]:>9.0f}  {best[2]:>8.0f}")
        print(f"{'med.':>5}  {median[0]:>10.0f}  {'':>8}  {median[1]:>9.0f}  {median[2]:>8.0f}")
        print(f"ratio invitegw / minimal pipeline: {median[0] / median[1]:.2f} (target >= 0.6)")
        print(f"ratio invitegw / bare smtplib:     {median[0] / median[2]:.2f}")
        if observed:
            on = statistics.median(r.rate for r in observed)
            print(
                f"ratio invitegw / minimal with metrics and JSON logs on: {on / median[1]:.2f}; "
                f"on / off: {on / median[0]:.3f}"
            )
        minimal.built.clear()
        if args.no_memory:
            return 0
        low = peak_memory(small, port)
        high = peak_memory(big, port)
        print(
            f"peak memory of a process running the pipeline: {args.meetings // 4} meetings "
            f"({low['messages']:.0f} messages) {low['peak_mib']:.0f} MiB, {args.meetings} "
            f"meetings ({high['messages']:.0f} messages) {high['peak_mib']:.0f} MiB"
        )
    return 0


def _seeded(path: Path, meetings: int, attendees: int) -> Path:
    seed(path, meetings, attendees)
    return path


if __name__ == "__main__":
    sys.exit(main())
