"""``invitegw serve [--once]``: run the gateway's jobs and services.

``serve`` runs until SIGTERM or SIGINT, then stops gracefully: no new job runs start, the
message being sent is finished and the rest of its batch handed back, services stop (the
IMAP watchers finish the message in flight and release their mailbox leases; the SMTP
listener closes). ``serve --once`` runs every job once, in order (poll the CRM,
reminders, drain each ``[[mailboxes]]`` once and the listener's spool, flush the outbox),
prints what each did and exits: 0 when every job succeeded, 1 otherwise (so cron reports
a CRM, IMAP or relay outage). Logging is at INFO unless ``-v``/``-vv`` asks for more.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from invitegw.gateway.bootstrap import build_gateway
from invitegw.gateway.commands.common import settings_for
from invitegw.gateway.commands.terminal import for_terminal
from invitegw.gateway.config import Settings
from invitegw.gateway.scheduler import GatewayScheduler, Runtime

__all__ = ["register"]

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve``."""
    parser = subparsers.add_parser(
        "serve",
        help="run the gateway (CRM poll, reminders, outbox, IMAP watchers, SMTP listener)",
    )
    parser.add_argument(
        "--once", action="store_true", help="run every job once and exit (for cron and tests)"
    )
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long services may take to stop (default: 30)",
    )
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from invitegw.gateway.logs import configure_logging

    settings = settings_for(args)
    restore_logging = configure_logging(settings.logging, verbosity=args.verbose)
    try:
        return _run(args, settings)
    finally:
        restore_logging()


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from invitegw.gateway.operations import attach_operations, record_once, write_once

    gateway = build_gateway(settings)
    runtime = Runtime(gateway)
    try:
        scheduler = GatewayScheduler(runtime)
        if args.once:
            monitor = record_once(scheduler)
            outcomes = scheduler.run_once()
            write_once(monitor)
            for outcome in outcomes:
                status = "ok" if outcome.ok else f"FAILED: {outcome.error}"
                print(f"{outcome.name}: {for_terminal(outcome.result if outcome.ok else status)}")
            return 0 if all(o.ok for o in outcomes) else 1

        def stop(signum: int, _frame: FrameType | None) -> None:
            logger.info("%s received: stopping", signal.Signals(signum).name)
            runtime.stop.set()

        ops = attach_operations(scheduler)
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            scheduler.start()
            ops.ready()
            print(f"invitegw serving as {gateway.worker}; stop with Ctrl-C", file=sys.stderr)
            scheduler.wait()
        finally:
            ops.stopping()
            scheduler.shutdown(timeout=args.stop_timeout)
            ops.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("stopped")
        return 0
    finally:
        gateway.close()
