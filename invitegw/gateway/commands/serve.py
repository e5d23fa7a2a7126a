"""``invitegw serve [--once] [--json]``: run the gateway's jobs and services.

``serve`` runs until SIGTERM or SIGINT, then stops gracefully: no new job runs start, the
message being sent is finished and the rest of its batch handed back, services stop (the
IMAP watchers finish the message in flight and release their mailbox leases; the SMTP
listener closes). Once everything has started it prints ``invitegw serving as WORKER``
on stderr: the line to wait for. ``serve --once`` runs every job once, in order (poll
the CRM, reminders, drain each ``[[mailboxes]]`` once and the listener's spool, flush the
outbox), prints one line per job saying what it did (``--json``: one JSON object per job
per line, see :mod:`~invitegw.gateway.commands.serve_output`), says on stderr how many
messages are still waiting to be sent and why, and exits: 0 when every job succeeded, 1
otherwise (so cron reports a CRM or IMAP outage). Logging is at INFO unless
``-v``/``-vv`` asks for more.

**The embedded setup's SMTP sink.** With no configuration file (the built-in defaults
and the environment only) and the relay on a loopback address without TLS or login (by
default 127.0.0.1:8025), ``serve`` starts a local SMTP sink on that address for as long as
it runs: what the gateway sends is saved as ``.eml`` files in ``<data_dir>/mail/`` and
never leaves the machine; stderr says so. When the port is taken, mail goes to whatever
listens there. With a configuration file the relay is always the one configured.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from invitegw.gateway.commands.common import Subparsers, config_file, settings_for

if TYPE_CHECKING:
    from invitegw.gateway.config import Settings
    from invitegw.gateway.local_sink import LocalSink
    from invitegw.gateway.scheduler import GatewayScheduler

__all__ = ["register"]

logger = logging.getLogger(__name__)


def register(subparsers: Subparsers) -> None:
    """Add ``serve``."""
    parser = subparsers.add_parser(
        "serve",
        help="run the gateway (CRM poll, reminders, outbox, IMAP watchers, SMTP listener)",
    )
    parser.add_argument(
        "--once", action="store_true", help="run every job once and exit (for cron and tests)"
    )
    parser.add_argument(
        "--json", action="store_true", help="with --once: one JSON object per job per line"
    )
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long services may take to stop (default: 30)",
    )
    parser.set_defaults(func=_serve)


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _embedded_sink(args: argparse.Namespace, settings: Settings) -> LocalSink | None:
    """The local SMTP sink of the embedded setup, or None (see the module docstring)."""
    from invitegw.gateway.config import TlsMode
    from invitegw.gateway.local_sink import LocalSink, is_loopback, port_in_use

    smtp = settings.smtp
    if config_file(args) is not None or not is_loopback(smtp.host):
        return None
    if smtp.username is not None or smtp.tls is not TlsMode.NONE:
        return None
    where = f"{smtp.host}:{smtp.port}"
    if port_in_use(smtp.host, smtp.port):
        print(
            f"invitegw: {where} is in use: mail goes to whatever listens there",
            file=sys.stderr,
        )
        return None
    folder = settings.data_dir / "mail"
    print(
        f"invitegw: no configuration file: mail goes to a local SMTP sink on {where} and is "
        f"saved in {_shown(folder)}{os.sep} (nothing leaves this machine; configure [smtp] in "
        "invitegw.toml to send for real)",
        file=sys.stderr,
    )
    return LocalSink(host=smtp.host, port=smtp.port, folder=folder, keep=False)


def _serve(args: argparse.Namespace) -> int:
    from invitegw.gateway.logs import configure_logging

    settings = settings_for(args)
    # [logging] for this run only: the previous handlers and levels come back after.
    restore_logging = configure_logging(settings.logging, verbosity=args.verbose)
    try:
        return _serve_with(args, settings)
    finally:
        restore_logging()


def _serve_with(args: argparse.Namespace, settings: Settings) -> int:
    from invitegw.gateway.bootstrap import build_gateway, build_scheduler

    sink = _embedded_sink(args, settings)
    with sink if sink is not None else contextlib.nullcontext():
        gateway = build_gateway(settings)
        try:
            scheduler = build_scheduler(gateway)
            if args.once:
                return _once(scheduler, as_json=args.json)
            return _until_stopped(scheduler, args.stop_timeout)
        finally:
            gateway.close()


def _once(scheduler: GatewayScheduler, *, as_json: bool) -> int:
    from invitegw.gateway.commands.output import json_line
    from invitegw.gateway.commands.serve_output import (
        job_line,
        job_record,
        waiting_messages,
        waiting_note,
    )
    from invitegw.gateway.commands.terminal import for_terminal
    from invitegw.gateway.operations import record_once, write_once

    monitor = record_once(scheduler)  # each job's run recorded in this worker's heartbeat
    outcomes = scheduler.run_once()
    write_once(monitor)
    gateway = scheduler.runtime.gateway
    waiting = waiting_messages(gateway)
    for outcome in outcomes:
        if as_json:
            sys.stdout.write(json_line(job_record(outcome, waiting)))
        else:
            sys.stdout.write(for_terminal(job_line(outcome, waiting)) + "\n")
    sys.stdout.flush()
    smtp = gateway.settings.smtp
    note = waiting_note(waiting, f"{smtp.host}:{smtp.port}")
    if note is not None:
        print(for_terminal(note), file=sys.stderr)
    return 0 if all(o.ok for o in outcomes) else 1


def _until_stopped(scheduler: GatewayScheduler, stop_timeout: float) -> int:
    from invitegw.gateway.operations import attach_operations

    runtime = scheduler.runtime
    # Heartbeat, HTTP endpoints, systemd notify and watchdog, job tracking.
    ops = attach_operations(scheduler)

    def stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("%s received: stopping", signal.Signals(signum).name)
        runtime.stop.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()
        ops.ready()
        print(
            f"invitegw serving as {runtime.gateway.worker}; stop with Ctrl-C",
            file=sys.stderr,
            flush=True,
        )
        # Wait in short slices: Python runs a signal handler only when the main thread
        # runs Python code, and a signal the kernel hands to another thread (the SMTP
        # sink's or listener's event loop) does not wake a main thread blocked in a lock
        # without a timeout, so SIGTERM could go unnoticed.
        while not scheduler.wait(0.5):
            pass
    finally:
        ops.stopping()
        scheduler.shutdown(timeout=stop_timeout)
        ops.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.info("stopped")
    return 0
