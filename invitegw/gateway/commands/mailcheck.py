"""``invitegw mailbox check [NAME]`` and ``invitegw smtp check``: try the mail accounts.

``mailbox check`` connects to each ``[[mailboxes]]`` entry (or the one named) as the
watcher will: TLS, login (password or OAuth 2.0), folder list, IDLE/MOVE/UIDPLUS, the
watched, processed and quarantine folders, and how many messages wait. Missing processed
or quarantine folders are created after a question (``--yes`` answers it; without a
terminal, and with ``--json``, nothing is created unless ``--yes``).

``smtp check`` greets the ``[smtp]`` relay: EHLO, STARTTLS, AUTH and the size limit; it
sends nothing.

Both print a line per step (control characters in server replies and folder names
escaped), or with ``--json`` one JSON object per mailbox (per relay) on a line of its own;
every failure is one line naming the setting to change. Exit code 0 when everything
works, 1 otherwise. Nothing secret is printed: tokens and passwords never leave the login
objects.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from invitegw.errors import ConfigError
from invitegw.gateway.commands.common import Subparsers, settings_for
from invitegw.gateway.commands.output import json_line

if TYPE_CHECKING:
    from invitegw.gateway.config import MailboxSettings, Settings
    from invitegw.mailbox.transport.imap_probe import ImapProbe, ProbeStep
    from invitegw.mailbox.transport.smtp_probe import SmtpProbe

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    """Add ``mailbox check`` and ``smtp check``."""
    mailbox = subparsers.add_parser("mailbox", help="the IMAP mailboxes the gateway watches")
    mailbox_commands = mailbox.add_subparsers(dest="mailbox_command", metavar="COMMAND")
    mailbox_commands.required = True
    check = mailbox_commands.add_parser(
        "check", help="connect, log in and look at the folders (creates missing ones if asked)"
    )
    check.add_argument("name", nargs="?", help="only this mailbox (default: every one)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.add_argument(
        "--yes", action="store_true", help="create missing processed/quarantine folders"
    )
    check.set_defaults(func=_mailbox_check)
    smtp = subparsers.add_parser("smtp", help="the outbound SMTP relay")
    smtp_commands = smtp.add_subparsers(dest="smtp_command", metavar="COMMAND")
    smtp_commands.required = True
    smtp_check = smtp_commands.add_parser(
        "check", help="EHLO, STARTTLS, AUTH and the size limit (sends nothing)"
    )
    smtp_check.add_argument("--json", action="store_true", help="print JSON")
    smtp_check.set_defaults(func=_smtp_check)


# -- mailbox check ---------------------------------------------------------------------------


def _selected(settings: Settings, name: str | None) -> list[MailboxSettings]:
    if not settings.mailboxes:
        raise ConfigError("mailboxes: none configured (add a [[mailboxes]] table)")
    if name is None:
        return list(settings.mailboxes)
    for mailbox in settings.mailboxes:
        if mailbox.name == name:
            return [mailbox]
    known = ", ".join(m.name for m in settings.mailboxes)
    raise ConfigError(f"mailboxes: no mailbox named {name!r} (configured: {known})")


def _asker(mailbox: str, args: argparse.Namespace) -> Any:
    def create(missing: list[str]) -> bool:
        if args.yes:
            return True
        if args.json or not sys.stdin.isatty():
            return False
        answer = input(
            f"mailbox {mailbox}: create the missing folder(s) {', '.join(missing)}? [y/N] "
        )
        return answer.strip().lower() in {"y", "yes"}

    return create


def _check_one(settings: Settings, mailbox: MailboxSettings, args: argparse.Namespace) -> ImapProbe:
    from invitegw.gateway.app.mailboxes import check_mailbox

    return check_mailbox(settings, mailbox, create=_asker(mailbox.name, args))


def _mailbox_check(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    probes = [_check_one(settings, m, args) for m in _selected(settings, args.name)]
    if args.json:  # one object per mailbox per line (JSON Lines, as every --json)
        for probe in probes:
            sys.stdout.write(json_line(_probe_json(probe)))
    else:
        with _safe_stdout():
            for index, probe in enumerate(probes):
                if index:
                    print()
                _print_mailbox(probe)
    return 0 if all(p.ok for p in probes) else 1


def _safe_stdout() -> contextlib.AbstractContextManager[object]:
    """Standard output escaping control characters (folder names, server replies)."""
    from invitegw.gateway.commands.terminal import terminal_stream

    return contextlib.redirect_stdout(terminal_stream(sys.stdout))


def _probe_json(probe: ImapProbe) -> dict[str, Any]:
    return {
        "name": probe.mailbox,
        "ok": probe.ok,
        "error": probe.error,
        "steps": [asdict(s) for s in probe.steps],
        "folders": probe.folders,
        "capabilities": probe.capabilities,
        "created": probe.created,
        "missing": probe.missing,
        "waiting": probe.waiting,
        "notes": probe.notes,
    }


def _print_steps(steps: list[ProbeStep], notes: list[str]) -> None:
    for step in steps:
        print(f"  {'ok  ' if step.ok else 'FAIL'}  {step.name:<16} {step.detail}")
    for note in notes:
        print(f"  note  {note}")


def _failed_step(steps: list[ProbeStep]) -> str:
    failed = [s.name for s in steps if not s.ok]
    return failed[-1] if failed else "unknown step"


def _print_mailbox(probe: ImapProbe) -> None:
    print(f"mailbox {probe.mailbox}")
    _print_steps(probe.steps, probe.notes)
    if probe.folders:
        shown = ", ".join(probe.folders[:20])
        more = f" (+{len(probe.folders) - 20} more)" if len(probe.folders) > 20 else ""
        print(f"        folders: {shown}{more}")
    if probe.missing:
        print("        run again with --yes to create the missing folders")
    if probe.ok:
        print(f"mailbox {probe.mailbox}: OK ({probe.seconds:.1f} s)")
    else:
        print(f"mailbox {probe.mailbox}: FAILED ({_failed_step(probe.steps)})")


# -- smtp check ------------------------------------------------------------------------------


def _smtp_check(args: argparse.Namespace) -> int:
    from invitegw.gateway.bootstrap import smtp_relay_config
    from invitegw.gateway.mailauth import smtp_login
    from invitegw.mailbox.transport.oauth.health import AuthHealth
    from invitegw.mailbox.transport.smtp_probe import SmtpProbe, probe_relay

    settings = settings_for(args)
    smtp = settings.smtp
    config = smtp_relay_config(settings)
    try:
        login = smtp_login(smtp, health=AuthHealth())
        if smtp.username and login is None:
            raise ConfigError(
                "smtp.password: not set (give INVITEGW_SMTP__PASSWORD in the environment, "
                "or *_FILE)"
            )
    except ConfigError as exc:
        probe = SmtpProbe().fail("settings", str(exc))
    else:
        probe = probe_relay(config, login)
    if args.json:
        sys.stdout.write(json_line(_smtp_json(probe)))
    else:
        with _safe_stdout():
            print(f"smtp relay {smtp.host}:{smtp.port}")
            _print_steps(probe.steps, [])
            if probe.extensions:
                print(f"        extensions: {', '.join(probe.extensions)}")
            if probe.ok:
                print(f"smtp relay: OK ({probe.seconds:.1f} s, nothing sent)")
            else:
                print(f"smtp relay: FAILED ({_failed_step(probe.steps)}; nothing sent)")
    return 0 if probe.ok else 1


def _smtp_json(probe: SmtpProbe) -> dict[str, Any]:
    return {
        "ok": probe.ok,
        "error": probe.error,
        "steps": [asdict(s) for s in probe.steps],
        "extensions": probe.extensions,
        "auth_mechanisms": probe.auth_mechanisms,
        "size_limit": probe.size_limit,
    }
