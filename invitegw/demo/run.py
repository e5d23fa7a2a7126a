"""``invitegw demo``: the gateway both ways on the embedded setup, told step by step.

No configuration is read and no real mail leaves the machine: a fresh SQLite database in
a data folder of its own, the built-in CRM seeded with an organizer, a colleague and two
external contacts (one reads Polish), and an SMTP sink on a free loopback port. Then the
organizer creates a weekly meeting in Europe/Warsaw, moves it, removes an attendee,
cancels one occurrence and cancels the meeting; after each step the gateway runs exactly
as ``invitegw serve --once`` does, and the demo prints who got what (METHOD, SEQUENCE,
RECURRENCE-ID, language) and saves every message as an ``.eml`` file. Inbound
(:mod:`~invitegw.demo.inbound`): a contact accepts the invitation in her mail
client and her REPLY is recorded; a contact's own invitation, forwarded by the organizer,
becomes a CRM task that his update reschedules and his cancellation cancels.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import functools
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from rich.console import Console
from rich.table import Table

from invitegw.crm_adapter.builtin.admin import MeetingDraft, SqlCrmAdmin
from invitegw.demo.inbound import (
    GATEWAY_ADDRESS,
    InboundStep,
    external_invitation,
    forwarded,
    hand_over,
    reply_to,
)
from invitegw.domain.records import EntityType, LogTarget
from invitegw.errors import GatewayError
from invitegw.gateway.bootstrap import Gateway, build_gateway, build_outbound, build_scheduler
from invitegw.gateway.config import CalendarSettings, CrmSettings, Settings, SmtpSettings
from invitegw.gateway.local_sink import LocalSink, SinkMessage
from invitegw.ics import parse_calendar

__all__ = ["DEMO_ZONE", "DemoResult", "StepMessage", "demo_settings", "first_monday", "run_demo"]

DEMO_ZONE = zoneinfo.ZoneInfo("Europe/Warsaw")
ORGANIZER = "olga@example.com"


@dataclass(frozen=True, slots=True)
class StepMessage:
    """One message a step produced, as the demo reports it."""

    step: int
    recipient: str
    language: str
    method: str
    sequence: int
    recurrence_id: str
    subject: str
    path: Path


@dataclass(frozen=True, slots=True)
class DemoResult:
    """Where the demo put things and what it sent."""

    output: Path
    database: Path
    messages: tuple[StepMessage, ...]
    inbound: tuple[InboundStep, ...] = ()


def demo_settings(data_dir: Path, smtp_port: int) -> Settings:
    """The embedded setup the demo runs on (nothing read from files or the environment).

    Parameters:
        data_dir: the folder of the demo's SQLite database.
        smtp_port: the demo sink's port on 127.0.0.1.

    Returns:
        The settings.
    """
    return Settings(
        data_dir=data_dir,
        smtp=SmtpSettings(host="127.0.0.1", port=smtp_port),
        calendars=(
            CalendarSettings(
                name="sales",
                address="sales@example.com",
                display_name="Example Sales",
                language="en",
                time_zone="Europe/Warsaw",
                alarm_minutes=15,
            ),
        ),
        crm=CrmSettings(meeting_url="https://crm.example.com/meetings/{id}"),
    )


def first_monday(today: dt.date) -> dt.date:
    """The first Monday at least three days after ``today`` (well clear of "the past")."""
    ahead = (7 - today.weekday()) % 7 or 7
    return today + dt.timedelta(days=ahead + (7 if ahead < 3 else 0))


def _seed(crm: SqlCrmAdmin) -> None:
    crm.add_party(EntityType.USER, [ORGANIZER], name="Olga Organizer", time_zone="Europe/Warsaw")
    crm.add_party(EntityType.USER, ["carl@example.com"], name="Carl Colleague")
    crm.add_party(EntityType.CONTACT, ["gina@example.org"], name="Gina Guest", account="Acme")
    crm.add_party(
        EntityType.CONTACT,
        ["pawel@example.org"],
        name="Paweł Nowak",
        language="pl",
        time_zone="Europe/Warsaw",
        account="Nowak i Syn",
    )


def _fresh_folder(path: Path) -> None:
    """Empty the demo's own data folder (only the files the demo writes there)."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("invitegw.sqlite3", "invitegw.sqlite3-wal", "invitegw.sqlite3-shm"):
        (path / name).unlink(missing_ok=True)


def _report(step: int, received: list[SinkMessage], output: Path) -> list[StepMessage]:
    found = []
    for index, message in enumerate(received, start=1):
        parsed = email.message_from_bytes(message.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        method, sequence, rid = "-", 0, ""
        for part in parsed.walk():
            if part.get_content_type() == "text/calendar":
                data = part.get_payload(decode=True)
                assert isinstance(data, bytes)
                event = parse_calendar(data).events[0]
                method, sequence = parse_calendar(data).method.value, event.sequence
                if isinstance(event.recurrence_id, dt.datetime):
                    rid = f"{event.recurrence_id.astimezone(DEMO_ZONE):%Y-%m-%d %H:%M}"
                elif event.recurrence_id is not None:
                    rid = event.recurrence_id.isoformat()
                break
        recipient = message.rcpt_tos[0]
        safe = re.sub(r"[^A-Za-z0-9@._-]", "_", recipient)
        path = output / f"{step}-{index:02d}-{method.lower()}-{safe}.eml"
        path.write_bytes(message.raw)
        found.append(
            StepMessage(
                step=step,
                recipient=recipient,
                language=str(parsed.get("Content-Language", "")),
                method=method,
                sequence=sequence,
                recurrence_id=rid,
                subject=str(parsed.get("Subject", "")),
                path=path,
            )
        )
    return found


def _table(title: str, messages: list[StepMessage]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    # Addresses and times never break (a narrow terminal shortens the subject instead,
    # wrapping it between words).
    table.add_column(
        "To", no_wrap=True, min_width=max((len(m.recipient) for m in messages), default=2)
    )
    table.add_column("Lang", no_wrap=True)
    table.add_column("METHOD", no_wrap=True)
    table.add_column("SEQ", no_wrap=True)
    table.add_column("RECURRENCE-ID\n(Warsaw)", no_wrap=True, min_width=16)
    table.add_column("Subject", ratio=1, overflow="fold")
    for m in messages:
        table.add_row(
            m.recipient, m.language, m.method, str(m.sequence), m.recurrence_id or "-", m.subject
        )
    return table


def run_demo(
    output_root: Path,
    data_dir: Path,
    *,
    console: Console | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> DemoResult:
    """Run the demo (see the module docstring).

    Parameters:
        output_root: a new timestamped folder is made in it for the ``.eml`` files.
        data_dir: the demo's own data folder (its database is recreated each run).
        console: where the account goes (default: the terminal).
        now: the clock (default: the system clock).

    Returns:
        Where things are and what was sent.

    Raises:
        GatewayError: a step failed (the message says which).
    """
    out = console or Console()
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    # The folder is named in the machine's own time (what its user's clock shows); the
    # meetings are planned in Warsaw.
    stamp = clock().astimezone()
    output = output_root / stamp.strftime("%Y%m%d-%H%M%S")
    suffix = 1
    while output.exists():
        suffix += 1
        output = output_root / f"{stamp:%Y%m%d-%H%M%S}-{suffix}"
    output.mkdir(parents=True)
    _fresh_folder(data_dir)
    monday = first_monday(clock().astimezone(DEMO_ZONE).date())
    start = dt.datetime.combine(monday, dt.time(10), tzinfo=DEMO_ZONE)
    third = monday + dt.timedelta(weeks=2)
    sent: list[StepMessage] = []
    with LocalSink() as sink:
        settings = demo_settings(data_dir, sink.port)
        with out.status("Preparing the embedded setup (database, built-in CRM)..."):
            gateway = build_gateway(settings, clock=clock)
        try:
            # The first start's baseline, on an empty CRM: the demo's meeting is new.
            build_outbound(gateway).ensure_baseline()
            with gateway.store.session() as session:
                _seed(SqlCrmAdmin(session, clock=clock))
            out.print(
                f"[bold]invitegw demo[/bold]: database {settings.database_url.split('///')[-1]}, "
                f"SMTP sink on 127.0.0.1:{sink.port}, messages saved in {output}"
            )
            out.print(
                "CRM: organizer Olga Organizer <olga@example.com>, colleague Carl Colleague "
                "<carl@example.com>, contacts Gina Guest <gina@example.org> and Paweł Nowak "
                "<pawel@example.org> (Polish)\n"
            )
            meeting_id = ""

            def create(crm: SqlCrmAdmin) -> None:
                nonlocal meeting_id
                meeting_id = str(
                    crm.create_meeting(
                        MeetingDraft(
                            title="Project kick-off",
                            start=start,
                            end=start + dt.timedelta(hours=1),
                            organizer=ORGANIZER,
                            attendees=["carl@example.com", "gina@example.org", "pawel@example.org"],
                            time_zone="Europe/Warsaw",
                            location="Room 4, Warsaw office",
                            description="Scope, plan and the first milestones.",
                            rrule="FREQ=WEEKLY;COUNT=6",
                        )
                    )
                )

            steps: list[tuple[str, Callable[[SqlCrmAdmin], object]]] = [
                (
                    f"Olga creates 'Project kick-off': Mondays 10:00-11:00 Europe/Warsaw, six "
                    f"times from {monday:%A %d %B %Y}, with Carl, Gina and Paweł",
                    create,
                ),
                (
                    "Olga moves the whole series to 11:00",
                    lambda crm: crm.update_meeting(
                        meeting_id,
                        start=start + dt.timedelta(hours=1),
                        end=start + dt.timedelta(hours=2),
                    ),
                ),
                (
                    "Olga removes Gina",
                    lambda crm: crm.remove_attendee(meeting_id, "gina@example.org"),
                ),
                (
                    f"Olga cancels the occurrence of {third:%A %d %B}",
                    lambda crm: crm.cancel_occurrence(meeting_id, third),
                ),
                ("Olga cancels the meeting", lambda crm: crm.cancel_meeting(meeting_id)),
            ]
            inbound: list[InboundStep] = []
            for number, (text, change) in enumerate(steps, start=1):
                sent += _step(number, text, change, gateway, sink, output, out)
                if number == 1:
                    [to_gina] = [m for m in sent if m.recipient == "gina@example.org"]
                    reply = reply_to(
                        to_gina.path.read_bytes(), "gina@example.org", "Gina Guest", clock()
                    )
                    inbound.append(
                        _inbound_step(
                            "1a",
                            "Gina clicks Accept in her mail client; her reply comes back",
                            reply,
                            gateway,
                            out,
                            mail_from="gina@example.org",
                        )
                    )
            inbound += _forwarded_invitation(gateway, monday, clock, out)
            _summary(gateway, meeting_id, output, out)
        finally:
            gateway.close()
    return DemoResult(
        output=output,
        database=data_dir / "invitegw.sqlite3",
        messages=tuple(sent),
        inbound=tuple(inbound),
    )


def _inbound_step(
    step: str, text: str, raw: bytes, gateway: Gateway, out: Console, *, mail_from: str
) -> InboundStep:
    rcpt = extract_recipient(raw)
    result = hand_over(gateway, raw, mail_from=mail_from, rcpt_to=rcpt)
    table = Table(title=f"Step {step}. {text}", title_justify="left")
    for column in ("Method", "Outcome", "Task"):
        table.add_column(column, no_wrap=True)
    table.add_column("What the gateway did", ratio=1, overflow="fold")
    for event in result.events:
        table.add_row(
            event.method or "-", event.outcome.value, event.task_id or "-", event.reason or "-"
        )
    out.print(table)
    out.print()
    return InboundStep(step=step, text=text, result=result)


def extract_recipient(raw: bytes) -> str:
    """The To address of a message the demo built (its envelope recipient)."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return str(parsed["To"]).rsplit("<", 1)[-1].rstrip(">")


def _forwarded_invitation(
    gateway: Gateway, monday: dt.date, clock: Callable[[], dt.datetime], out: Console
) -> list[InboundStep]:
    visit = dt.datetime.combine(monday + dt.timedelta(days=3), dt.time(14), tzinfo=DEMO_ZONE)
    invitation = functools.partial(
        external_invitation,
        "pawel@example.org",
        "Paweł Nowak",
        ORGANIZER,
        uid="040000008200E00074C5B7101A82E008-demo-visit",
        summary="Factory visit",
    )
    steps = [
        (
            "6",
            "Paweł invites Olga to a factory visit from Outlook; Olga forwards it to "
            f"{GATEWAY_ADDRESS}",
            invitation(sequence=0, start=visit, now=clock()),
        ),
        (
            "7",
            "Paweł moves the visit to 15:00; Olga forwards the update",
            invitation(sequence=1, start=visit + dt.timedelta(hours=1), now=clock()),
        ),
        (
            "8",
            "Paweł cancels the visit; Olga forwards the cancellation",
            invitation(
                sequence=2,
                start=visit + dt.timedelta(hours=1),
                now=clock(),
                cancel=True,
            ),
        ),
    ]
    return [
        _inbound_step(
            step,
            text,
            forwarded(raw, ORGANIZER, "Olga Organizer", clock()),
            gateway,
            out,
            mail_from=ORGANIZER,
        )
        for step, text, raw in steps
    ]


def _step(
    number: int,
    text: str,
    change: Callable[[SqlCrmAdmin], object],
    gateway: Gateway,
    sink: LocalSink,
    output: Path,
    out: Console,
) -> list[StepMessage]:
    before = len(sink.messages)
    with gateway.store.session() as session:
        change(SqlCrmAdmin(session, clock=gateway.clock))
    with out.status(f"Step {number}: the gateway runs (poll the CRM, build, send)..."):
        outcomes = build_scheduler(gateway).run_once()
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise GatewayError(f"step {number}: {failed[0].name} failed: {failed[0].error}")
    received = sink.messages[before:]
    messages = _report(number, received, output)
    out.print(_table(f"Step {number}. {text}", messages))
    out.print()
    return messages


def _summary(gateway: Gateway, meeting_id: str, output: Path, out: Console) -> None:
    with gateway.store.session() as session:
        admin = SqlCrmAdmin(session)
        logs = [
            e
            for _i, e in admin.list_logs()
            if e.target is LogTarget.MEETING and e.target_id == meeting_id
        ]
        tasks = admin.list_tasks()
    listing = Table(title="Tasks in the CRM", title_justify="left")
    for column in ("Task", "Title", "Start (Warsaw)", "Status", "Owner", "Linked to"):
        listing.add_column(column, no_wrap=column in ("Task", "Start (Warsaw)", "Status"))
    for task, owner, party in tasks:
        start = (
            f"{task.start.astimezone(DEMO_ZONE):%Y-%m-%d %H:%M}"
            if isinstance(task.start, dt.datetime)
            else task.start.isoformat()
        )
        listing.add_row(
            task.id,
            task.title,
            start,
            task.status.value,
            owner.name,
            f"{party.name} ({party.type.value})" if party else "-",
        )
    out.print(listing)
    out.print()
    table = Table(title="The meeting's integration log in the CRM", title_justify="left")
    table.add_column("Level")
    table.add_column("Message", ratio=1, overflow="fold")
    for entry in logs:
        table.add_row(entry.level.value, entry.message)
    out.print(table)
    count = len(list(output.glob("*.eml")))
    out.print(
        f"\n{count} messages saved in [bold]{output}[/bold] as <step>-<n>-<method>-<to>.eml: "
        "open any of them in a mail client. `invitegw demo` again starts afresh."
    )
