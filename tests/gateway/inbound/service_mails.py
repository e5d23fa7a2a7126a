"""Invitation emails of realistic shapes, built here (no corpus files), for e2e and the bench.

- :func:`outlook_invitation`: Exchange/Outlook: multipart/alternative (text, HTML,
  ``text/calendar; method=REQUEST``, base64), a Windows zone name, ``X-MICROSOFT-*``.
- :func:`google_invitation`: Google Calendar: multipart/mixed holding multipart/alternative
  (text, HTML, inline calendar) plus the same calendar as ``invite.ics``.
- :func:`forward_as_attachment`: a staff member's "FW:" with the original as
  ``message/rfc822`` (Outlook's "forward as attachment").
- :func:`two_ics`: two separate ``.ics`` attachments in one message.
- :func:`cancel`, :func:`reply`, :func:`malformed`: the other inbound cases.

Every builder returns CRLF bytes; ``uid``/``sequence`` make reschedules and duplicates.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import random

_counter = itertools.count(1)


def _mid(domain: str) -> str:
    return f"<inv-{next(_counter)}-{random.getrandbits(40):x}@{domain}>"


def _b64(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _local(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


WINDOWS_CET = (
    "BEGIN:VTIMEZONE\n"
    "TZID:Central European Standard Time\n"
    "BEGIN:STANDARD\nDTSTART:16010101T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\nEND:STANDARD\n"
    "BEGIN:DAYLIGHT\nDTSTART:16010101T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\nEND:DAYLIGHT\n"
    "END:VTIMEZONE\n"
)
WARSAW_TZ = (
    "BEGIN:VTIMEZONE\nTZID:Europe/Warsaw\nX-LIC-LOCATION:Europe/Warsaw\n"
    "BEGIN:DAYLIGHT\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nTZNAME:CEST\n"
    "DTSTART:19700329T020000\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\nEND:DAYLIGHT\n"
    "BEGIN:STANDARD\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nTZNAME:CET\n"
    "DTSTART:19701025T030000\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\nEND:STANDARD\n"
    "END:VTIMEZONE\n"
)

# Naive on purpose: the local time written with the event's TZID.
DEFAULT_START = dt.datetime(2026, 9, 14, 10, 0)  # noqa: DTZ001


def calendar(
    *,
    uid: str,
    organizer: str,
    attendees: tuple[str, ...],
    summary: str = "Quarterly review",
    method: str = "REQUEST",
    sequence: int = 0,
    start: dt.datetime = DEFAULT_START,
    minutes: int = 60,
    dtstamp: dt.datetime | None = None,
    style: str = "outlook",
    location: str = "Room 4",
    partstat: str = "NEEDS-ACTION",
) -> bytes:
    """One VCALENDAR with one VEVENT, in Outlook's or Google's manner.

    Parameters:
        uid: the event's UID.
        organizer: the organizer's address.
        attendees: the attendees' addresses.
        summary: SUMMARY.
        method: METHOD (REQUEST, CANCEL, REPLY).
        sequence: SEQUENCE.
        start: local start time (in the zone of the style).
        minutes: duration.
        dtstamp: DTSTAMP (default: now).
        style: ``outlook`` (Windows zone name) or ``google`` (Olson zone).
        location: LOCATION.
        partstat: the attendees' PARTSTAT (a REPLY's answer).

    Returns:
        The calendar, CRLF.
    """
    stamp = _stamp(dtstamp or dt.datetime.now(dt.UTC))
    end = start + dt.timedelta(minutes=minutes)
    if style == "outlook":
        tz, tzid = WINDOWS_CET, "Central European Standard Time"
        prodid = "Microsoft Exchange Server 2010"
    else:
        tz, tzid = WARSAW_TZ, "Europe/Warsaw"
        prodid = "-//Google Inc//Google Calendar 70.9054//EN"
    lines = [
        "BEGIN:VCALENDAR",
        f"METHOD:{method}",
        f"PRODID:{prodid}",
        "VERSION:2.0",
        tz.rstrip("\n"),
        "BEGIN:VEVENT",
        f"ORGANIZER;CN=Organizer:mailto:{organizer}",
    ]
    for address in attendees:
        rsvp = "" if method == "REPLY" else ";RSVP=TRUE"
        lines.append(
            f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat}{rsvp};CN={address}:\n"
            f" mailto:{address}"
        )
    lines += [
        f"DESCRIPTION;LANGUAGE=en-US:Agenda for {summary}.\\n\\nSee you there.",
        f"UID:{uid}",
        f"SUMMARY;LANGUAGE=en-US:{summary}",
        f"DTSTART;TZID={tzid}:{_local(start)}",
        f"DTEND;TZID={tzid}:{_local(end)}",
        "CLASS:PUBLIC",
        "PRIORITY:5",
        f"DTSTAMP:{stamp}",
        "TRANSP:OPAQUE",
        "STATUS:CANCELLED" if method == "CANCEL" else "STATUS:CONFIRMED",
        f"SEQUENCE:{sequence}",
        f"LOCATION;LANGUAGE=en-US:{location}",
    ]
    if style == "outlook":
        lines += [
            "X-MICROSOFT-CDO-APPT-SEQUENCE:" + str(sequence),
            "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE",
            "X-MICROSOFT-CDO-IMPORTANCE:1",
            "X-MICROSOFT-DISALLOW-COUNTER:FALSE",
        ]
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return _crlf("\n".join(lines))


def outlook_invitation(
    *,
    sender: str,
    to: str,
    uid: str | None = None,
    attendees: tuple[str, ...] | None = None,
    summary: str = "Quarterly review",
    method: str = "REQUEST",
    sequence: int = 0,
    start: dt.datetime = DEFAULT_START,
    message_id: str | None = None,
) -> bytes:
    """An invitation as Exchange sends it (see the module docstring)."""
    uid = uid or f"040000008200E00074C5B7101A82E00800000000{random.getrandbits(64):016X}"
    ics = calendar(
        uid=uid,
        organizer=sender,
        attendees=attendees or (to,),
        summary=summary,
        method=method,
        sequence=sequence,
        start=start,
        style="outlook",
    )
    boundary = f"_000_{random.getrandbits(48):012x}_"
    verb = "Canceled" if method == "CANCEL" else ""
    head = (
        f"From: Organizer <{sender}>\n"
        f"To: <{to}>\n"
        f"Subject: {verb + ': ' if verb else ''}{summary}\n"
        "Thread-Topic: " + summary + "\n"
        "Date: Mon, 07 Sep 2026 09:00:00 +0000\n"
        f"Message-ID: {message_id or _mid('exchange.example.org')}\n"
        "Accept-Language: en-US\nContent-Language: en-US\n"
        "X-MS-Has-Attach:\nX-MS-TNEF-Correlator:\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
    )
    html = (
        f'<html><head><meta http-equiv=3D"Content-Type" content=3D"text/html; '
        f'charset=3Dutf-8"></head><body><p>{summary}</p><p>Please join.</p></body></html>'
    )
    body = (
        f'--{boundary}\nContent-Type: text/plain; charset="utf-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n\n"
        f"{summary}\nPlease join.\n\n"
        f'--{boundary}\nContent-Type: text/html; charset="utf-8"\n'
        f"Content-Transfer-Encoding: quoted-printable\n\n{html}\n\n"
        f'--{boundary}\nContent-Type: text/calendar; charset="utf-8"; method={method}\n'
        "Content-Transfer-Encoding: base64\n\n"
    )
    return _crlf(head + body) + _b64(ics).encode() + _crlf(f"\n\n--{boundary}--\n")


def google_invitation(
    *,
    sender: str,
    to: str,
    uid: str | None = None,
    summary: str = "Design sync",
    sequence: int = 0,
    start: dt.datetime = DEFAULT_START,
    message_id: str | None = None,
) -> bytes:
    """An invitation as Google Calendar sends it (see the module docstring)."""
    uid = uid or f"{random.getrandbits(100):026x}@google.com"
    ics = calendar(
        uid=uid,
        organizer=sender,
        attendees=(sender, to),
        summary=summary,
        sequence=sequence,
        start=start,
        style="google",
    )
    mixed = f"000000000000{random.getrandbits(40):010x}m"
    alt = f"000000000000{random.getrandbits(40):010x}a"
    head = (
        f"From: Organizer <{sender}>\n"
        f"To: {to}\n"
        f"Subject: Invitation: {summary} @ Mon Sep 14, 2026 10am - 11am (CEST) ({to})\n"
        "Date: Mon, 07 Sep 2026 09:00:00 +0000\n"
        f"Message-ID: {message_id or _mid('google.com')}\n"
        f"Reply-To: Organizer <{sender}>\n"
        "Sender: Google Calendar <calendar-notification@google.com>\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="{mixed}"\n\n'
        f"--{mixed}\n"
        f'Content-Type: multipart/alternative; boundary="{alt}"\n\n'
        f'--{alt}\nContent-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes\n\n'
        f"You have been invited to the following event.\n\n{summary}\n\n"
        f'--{alt}\nContent-Type: text/html; charset="UTF-8"\n\n'
        f"<p>You have been invited to the following event.</p><h3>{summary}</h3>\n\n"
        f'--{alt}\nContent-Type: text/calendar; charset="UTF-8"; method=REQUEST\n'
        "Content-Transfer-Encoding: 7bit\n\n"
    )
    tail = (
        f"\n--{alt}--\n\n--{mixed}\n"
        'Content-Type: application/ics; name="invite.ics"\n'
        'Content-Disposition: attachment; filename="invite.ics"\n'
        "Content-Transfer-Encoding: base64\n\n"
    )
    return _crlf(head) + ics + _crlf(tail) + _b64(ics).encode() + _crlf(f"\n\n--{mixed}--\n")


def forward_as_attachment(original: bytes, *, forwarder: str, to: str, subject: str) -> bytes:
    """A staff member's "FW:" carrying ``original`` as ``message/rfc822``."""
    boundary = f"_004_{random.getrandbits(48):012x}_"
    head = (
        f"From: Staff <{forwarder}>\n"
        f"To: <{to}>\n"
        f"Subject: FW: {subject}\n"
        "Date: Tue, 08 Sep 2026 08:00:00 +0000\n"
        f"Message-ID: {_mid('example.com')}\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
        f'--{boundary}\nContent-Type: text/plain; charset="us-ascii"\n\n'
        "Please file this one.\n\n"
        f"--{boundary}\nContent-Type: message/rfc822\n"
        f'Content-Disposition: attachment; filename="{subject}.eml"\n\n'
    )
    return _crlf(head) + original + _crlf(f"\n--{boundary}--\n")


def two_ics(*, sender: str, to: str, uids: tuple[str, str], summaries: tuple[str, str]) -> bytes:
    """Two ``.ics`` attachments (two meetings) in one message."""
    boundary = f"two_{random.getrandbits(40):010x}"
    parts = [
        f"From: Organizer <{sender}>\nTo: <{to}>\nSubject: Two meetings\n"
        "Date: Mon, 07 Sep 2026 09:00:00 +0000\n"
        f"Message-ID: {_mid('example.org')}\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
        f"--{boundary}\nContent-Type: text/plain\n\nTwo meetings attached.\n"
    ]
    out = _crlf(parts[0])
    for n, (uid, summary) in enumerate(zip(uids, summaries, strict=True)):
        ics = calendar(
            uid=uid,
            organizer=sender,
            attendees=(to,),
            summary=summary,
            start=DEFAULT_START + dt.timedelta(days=n),
        )
        out += (
            _crlf(
                f'\n--{boundary}\nContent-Type: text/calendar; method=REQUEST; name="m{n}.ics"\n'
                f'Content-Disposition: attachment; filename="m{n}.ics"\n'
                "Content-Transfer-Encoding: base64\n\n"
            )
            + _b64(ics).encode()
        )
    return out + _crlf(f"\n--{boundary}--\n")


def simple_calendar_mail(*, sender: str, to: str, ics: bytes, method: str, subject: str) -> bytes:
    """A message whose single body is a ``text/calendar`` part (what iMIP clients send)."""
    head = (
        f"From: <{sender}>\nTo: <{to}>\nSubject: {subject}\n"
        "Date: Mon, 07 Sep 2026 09:00:00 +0000\n"
        f"Message-ID: {_mid(sender.rpartition('@')[2])}\nMIME-Version: 1.0\n"
        f'Content-Type: text/calendar; charset="utf-8"; method={method}\n\n'
    )
    return _crlf(head) + ics


def malformed(*, sender: str, to: str) -> bytes:
    """A ``text/calendar`` part that is not iCalendar (no END, a broken DTSTART)."""
    ics = _crlf(
        "BEGIN:VCALENDAR\nMETHOD:REQUEST\nVERSION:2.0\nBEGIN:VEVENT\nUID:broken-1@example.org\n"
        "DTSTART:2026-13-45T99:99\nSUMMARY:Broken\n"
    )
    return simple_calendar_mail(
        sender=sender, to=to, ics=ics, method="REQUEST", subject="Broken invitation"
    )
